"""The demo's users and conversation (scripts/run --django):

    printf 'alice PASSWORD\\nbob PASSWORD\\n' | manage.py ringmq_demo --title demo

creates each user of stdin (one "username password" a line) or sets the
password of an existing one, and makes sure a conversation with that title
has exactly these users as participants. Its members are then PUT to ringmq
(the membership sync does that after the commit; this command also PUTs once
more itself and fails when ringmq refuses, so the demo does not start
half-wired). Prints one "name pk" line per user and "conversation pk"."""
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ringmq.contrib.django import conf, sync

from chat.models import Conversation


class Command(BaseCommand):
    help = "Create the demo users (username password lines on stdin) and their conversation."

    def add_arguments(self, parser):
        parser.add_argument("--title", default="demo", help="the conversation's title (default demo)")

    def handle(self, *args, title, **opts):
        pairs = [ln.split(None, 1) for ln in sys.stdin.read().splitlines() if ln.strip()]
        if not pairs or any(len(p) != 2 for p in pairs):
            raise CommandError("stdin: one 'username password' a line")
        User = get_user_model()
        with transaction.atomic():
            users = []
            for name, password in pairs:
                user, _ = User.objects.get_or_create(username=name)
                user.set_password(password.strip())
                user.save()
                users.append(user)
            conv = Conversation.objects.filter(title=title).order_by("pk").first() \
                or Conversation.objects.create(title=title)
            conv.participants.set(users)
        try:
            conf.client().put_conversation(conv.pk, sync.member_ids(conv))
        except Exception as e:  # noqa: BLE001 - said and exit non-zero
            raise CommandError(f"ringmq at {conf.get('URL')} refused conversation {conv.pk}: {e}")
        for user in users:
            self.stdout.write(f"{user.get_username()} {user.pk}")
        self.stdout.write(f"conversation {conv.pk}")
