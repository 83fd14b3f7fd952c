from django.conf import settings
from django.db import models


class Conversation(models.Model):
    title = models.CharField(max_length=200, blank=True)
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="conversations")
    created_at = models.DateTimeField(auto_now_add=True)


class CallLog(models.Model):
    """What the webhooks told us (chat/receivers.py): a missed-call list."""
    call_id = models.CharField(max_length=36, unique=True)
    conversation = models.ForeignKey(Conversation, null=True, on_delete=models.SET_NULL)
    caller_id = models.CharField(max_length=64)
    receiver_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    duration_ms = models.IntegerField(null=True)
    updated_at = models.DateTimeField(auto_now=True)
