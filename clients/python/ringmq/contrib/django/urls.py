"""path("ringmq/", include("ringmq.contrib.django.urls")): the webhook is
then POST /ringmq/webhook/ (give that URL to ringmq-rules --webhook-url)."""
from django.urls import path

from . import views

app_name = "ringmq"
urlpatterns = [
    path("webhook/", views.webhook, name="webhook"),
]
