from django.contrib.auth import logout
from rest_framework.decorators import api_view
from rest_framework.response import Response

from .models import CallLog, Conversation


@api_view(["POST"])
def logout_view(request):
    """Django's logout (user_logged_out: ringmq disconnects the user's sockets)."""
    logout(request._request)
    return Response(status=204)


@api_view(["GET"])
def conversations(request):
    """The user's conversations and their missed calls."""
    convs = Conversation.objects.filter(participants=request.user).order_by("pk")
    missed = CallLog.objects.filter(receiver_id=str(request.user.pk), status="missed").count()
    return Response({"conversations": [{"id": str(c.pk), "title": c.title,
                                        "participants": [str(u) for u in c.participants.values_list("pk", flat=True)]}
                                       for c in convs],
                     "missed_calls": missed})
