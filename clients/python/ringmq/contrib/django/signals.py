"""Signals the webhook view sends, one per ringmq event (docs/protocol.md 12):

    from ringmq.contrib.django.signals import call_ended

    @receiver(call_ended)
    def on_end(sender, event, call, **kw):
        if call["status"] == "missed": ...

sender is None; event is the whole verified body ({"id", "type",
"created_at", "call"}), call is event["call"]. A receiver that raises makes
the view answer 500, so ringmq delivers the event again later.
webhook_received is sent for every verified event, known type or not."""
from django.dispatch import Signal

call_ringing = Signal()
call_accepted = Signal()
call_ended = Signal()
webhook_received = Signal()

BY_TYPE = {"call.ringing": call_ringing, "call.accepted": call_accepted, "call.ended": call_ended}
