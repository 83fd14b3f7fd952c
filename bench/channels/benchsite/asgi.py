"""ASGI entry point: HTTP through Django, WebSockets through Channels."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from calls.auth import JWTAuthMiddleware  # noqa: E402
from calls.consumers import ChatConsumer, NotificationConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": JWTAuthMiddleware(
            URLRouter(
                [
                    path("ws/notifications/", NotificationConsumer.as_asgi()),
                    path("ws/chat/<str:conversation_id>/", ChatConsumer.as_asgi()),
                ]
            )
        ),
    }
)
