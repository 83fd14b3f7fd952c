"""Settings of the Channels comparison app (bench/channels). Everything that
differs per run comes from the environment that bench/run sets."""
import os


def _read(path_var):
    path = os.environ.get(path_var)
    if not path:
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "benchsite.urls"
ASGI_APPLICATION = "benchsite.asgi.application"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "channels",
    "calls",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", "/tmp/bench-channels.db"),
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [("127.0.0.1", int(os.environ.get("BENCH_REDIS_PORT", "6379")))],
            "capacity": 10000,
        },
    }
}
JWT_SECRET = _read("BENCH_JWT_SECRET_FILE")
API_KEY = _read("BENCH_API_KEY_FILE")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
