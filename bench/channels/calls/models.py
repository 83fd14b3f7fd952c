import uuid

from django.db import models


class Conversation(models.Model):
    id = models.CharField(primary_key=True, max_length=64)


class Member(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="members")
    user_id = models.CharField(max_length=64, db_index=True)

    class Meta:
        unique_together = [("conversation", "user_id")]


class Call(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    caller_id = models.CharField(max_length=64)
    caller_username = models.CharField(max_length=128)
    receiver_id = models.CharField(max_length=64)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    call_type = models.CharField(max_length=8)
    status = models.CharField(max_length=16, default="ringing")
    created_at = models.DateTimeField(auto_now_add=True)
