"""The webhook endpoint: POST only, the signature and the age checked over
the exact body (ringmq.webhooks.verify), each event id handled once (kept in
Django's cache for DEDUP_SECONDS), then the signal of its type."""
import logging

from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ringmq import webhooks

from . import conf, signals

log = logging.getLogger("ringmq.contrib.django")


@csrf_exempt
def webhook(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        event = webhooks.verify(conf.get("WEBHOOK_SECRET"), request.headers, request.body,
                                tolerance=conf.get("WEBHOOK_TOLERANCE"))
    except webhooks.InvalidSignature as e:
        log.warning("ringmq webhook refused: %s", e)
        return JsonResponse({"error": "invalid_signature", "message": str(e)}, status=401)
    key = "ringmq:webhook:%s" % event.get("id")
    if event.get("id") and cache.get(key):
        return HttpResponse(status=204)          # a repeat of an event already handled
    signals.webhook_received.send(sender=None, event=event, call=event["call"])
    sig = signals.BY_TYPE.get(event["type"])
    if sig is not None:
        sig.send(sender=None, event=event, call=event["call"])
    if event.get("id"):
        cache.set(key, 1, conf.get("DEDUP_SECONDS"))
    return HttpResponse(status=204)
