"""POST /calls/initiate/ as the seed writes it; PUT /api/conversations/<id>/
so the load generator registers members the same way as with ringmq."""
import hmac
import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .auth import user_from_request
from .models import Call, Conversation, Member


def _error(status, code, message):
    return JsonResponse({"error": code, "message": message}, status=status)


@csrf_exempt
def initiate(request):
    if request.method != "POST":
        return _error(405, "bad_request", "POST only")
    user = user_from_request(request)
    if not user.is_authenticated:
        return _error(401, "unauthorized", "bad token")
    try:
        body = json.loads(request.body)
        receiver_id = str(body["receiver_id"])
        conversation_id = str(body["conversation_id"])
        call_type = body.get("call_type", "voice")
    except (ValueError, KeyError, TypeError):
        return _error(400, "bad_request", "receiver_id and conversation_id required")
    members = set(Member.objects.filter(conversation_id=conversation_id).values_list("user_id", flat=True))
    if not members:
        return _error(404, "not_found", "no such conversation")
    if user.id not in members or receiver_id not in members:
        return _error(403, "forbidden", "not a member")

    call = Call.objects.create(
        caller_id=user.id,
        caller_username=user.username,
        receiver_id=receiver_id,
        call_type=call_type,
        conversation_id=conversation_id,
    )
    channel_layer = get_channel_layer()
    async_to_sync(channel_layer.group_send)(
        f"user_{receiver_id}_notifications",
        {
            "type": "call.incoming",
            "call_id": str(call.id),
            "caller_id": str(user.id),
            "caller_username": user.username,
            "call_type": call_type,
            "conversation_id": str(conversation_id),
            "offer": None,
        },
    )
    return JsonResponse({
        "call_id": str(call.id),
        "status": "ringing",
        "caller_id": user.id,
        "receiver_id": receiver_id,
        "call_type": call_type,
        "conversation_id": conversation_id,
        "created_at": call.created_at.isoformat(),
    }, status=201)


@csrf_exempt
def conversation(request, conversation_id):
    key = request.headers.get("X-Api-Key", "")
    if not settings.API_KEY or not hmac.compare_digest(key, settings.API_KEY):
        return _error(401, "unauthorized", "bad API key")
    if request.method != "PUT":
        return _error(405, "bad_request", "PUT only")
    try:
        members = [str(m) for m in json.loads(request.body)["members"]]
    except (ValueError, KeyError, TypeError):
        return _error(400, "bad_request", "members required")
    with transaction.atomic():
        conv, created = Conversation.objects.get_or_create(id=conversation_id)
        Member.objects.filter(conversation=conv).delete()
        Member.objects.bulk_create([Member(conversation=conv, user_id=m) for m in members])
    return JsonResponse({"conversation_id": conversation_id, "members": members}, status=201 if created else 200)


def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")
