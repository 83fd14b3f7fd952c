from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from . import receivers  # noqa: F401  (the ringmq signal receivers)
