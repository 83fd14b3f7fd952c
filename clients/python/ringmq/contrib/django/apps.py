from django.apps import AppConfig


class RingmqConfig(AppConfig):
    name = "ringmq.contrib.django"
    label = "ringmq"
    verbose_name = "ringmq"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from . import sync
        sync.connect()
