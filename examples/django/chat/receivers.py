"""The project's side of ringmq's webhooks: keep a CallLog per call."""
from django.dispatch import receiver

from ringmq.contrib.django.signals import call_accepted, call_ended, call_ringing

from .models import CallLog, Conversation


def _save(call):
    conv = Conversation.objects.filter(pk=call["conversation_id"]).first() \
        if str(call.get("conversation_id", "")).isdigit() else None
    CallLog.objects.update_or_create(call_id=call["call_id"], defaults={
        "conversation": conv, "caller_id": call["caller_id"], "receiver_id": call["receiver_id"],
        "status": call["status"], "duration_ms": call.get("duration_ms")})


@receiver(call_ringing)
def on_ringing(sender, call, **kw):
    _save(call)


@receiver(call_accepted)
def on_accepted(sender, call, **kw):
    _save(call)


@receiver(call_ended)
def on_ended(sender, call, **kw):
    _save(call)
