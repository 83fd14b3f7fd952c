"""The RINGMQ setting, with defaults, and the shared ringmq.Client."""
import threading

from django.conf import settings

DEFAULTS = {
    "URL": "http://127.0.0.1:8080",
    "API_KEY": None,
    "WEBHOOK_SECRET": None,
    "CONVERSATION_MODEL": "chat.Conversation",
    "MEMBERS_FIELD": "participants",
    "DISCONNECT_ON_LOGOUT": True,
    "SYNC": True,               # membership sync from signals
    "TIMEOUT": 5,
    "RETRIES": 3,
    "WEBHOOK_TOLERANCE": 300,
    "DEDUP_SECONDS": 48 * 3600,  # how long a webhook's id is remembered (cache)
}

_lock = threading.Lock()
_client = None
_client_key = None


def get(name):
    return {**DEFAULTS, **getattr(settings, "RINGMQ", {})}[name]


def client():
    """One ringmq.Client for the process (rebuilt when the settings change,
    e.g. under override_settings)."""
    global _client, _client_key
    from ringmq import Client
    key = (get("URL"), get("API_KEY"), get("TIMEOUT"), get("RETRIES"))
    with _lock:
        if _client is None or _client_key != key:
            _client = Client(key[0], key[1], timeout=key[2], retries=key[3])
            _client_key = key
        return _client


def conversation_model():
    from django.apps import apps
    return apps.get_model(get("CONVERSATION_MODEL"))


def members_field():
    return conversation_model()._meta.get_field(get("MEMBERS_FIELD"))
