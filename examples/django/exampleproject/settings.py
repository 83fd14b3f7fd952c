"""The example project: a chat app wired to ringmq. Everything secret comes
from the environment:

  RINGMQ_URL             the bridge, e.g. http://127.0.0.1:8080
  RINGMQ_API_KEY         the bridge's --api-key-file contents
  RINGMQ_WEBHOOK_SECRET  rules' --webhook-secret-file contents
  RINGMQ_JWT_SECRET      the bridge's --jwt-secret-file contents: SimpleJWT
                         signs its access tokens with it (HS256)
  DJANGO_DB              the SQLite file (default ./db.sqlite3)
  DJANGO_CORS_ORIGINS    origins whose pages may call the API (the demo page
                         on the bridge, e.g. http://127.0.0.1:8080; cors.py)
  DJANGO_ACCESS_TOKEN_SECONDS  SimpleJWT's access token lifetime (900)
"""
import os
from datetime import timedelta

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "chat",
    "ringmq.contrib.django",
]
MIDDLEWARE = [
    "exampleproject.cors.CorsMiddleware",   # first: it answers preflights itself
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "exampleproject.urls"
WSGI_APPLICATION = "exampleproject.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("DJANGO_DB", os.path.join(BASE_DIR, "db.sqlite3"))}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
TEMPLATES = []

REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
                  "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]}
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": os.environ.get("RINGMQ_JWT_SECRET", SECRET_KEY),
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=int(os.environ.get("DJANGO_ACCESS_TOKEN_SECONDS", "900"))),
    # ringmq reads SimpleJWT's defaults as they are (user_id, token_type "access");
    # this serializer adds the user's name (ringmq's caller_username)
    "TOKEN_OBTAIN_SERIALIZER": "ringmq.contrib.django.simplejwt.TokenObtainPairSerializer",
}

RINGMQ = {
    "URL": os.environ.get("RINGMQ_URL", "http://127.0.0.1:8080"),
    "API_KEY": os.environ.get("RINGMQ_API_KEY"),
    "WEBHOOK_SECRET": os.environ.get("RINGMQ_WEBHOOK_SECRET"),
    "CONVERSATION_MODEL": "chat.Conversation",
    "MEMBERS_FIELD": "participants",
    "DISCONNECT_ON_LOGOUT": True,
}

LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "loggers": {"ringmq": {"handlers": ["console"], "level": "INFO"}}}
