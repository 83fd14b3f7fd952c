"""manage.py ringmq_sync: PUT every conversation's members to ringmq.

Reads the conversations in batches by primary key (one query for the
batch's members through the M2M table), sends the PUTs on a few threads
(--workers) and prints a progress line per batch. PUT replaces the whole
member list, so a second run changes nothing (it reports all as updated,
none created). Conversations ringmq knows but the database no longer has
are not found this way (ringmq has no list route): delete them with
--delete ID ..."""
import time
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand, CommandError

from ringmq import Error

from ... import conf


class Command(BaseCommand):
    help = "Back-fill ringmq with every conversation's members (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--workers", type=int, default=8)
        parser.add_argument("--delete", nargs="*", default=[], metavar="ID",
                            help="also DELETE these conversation ids from ringmq")

    def handle(self, *args, batch_size=500, workers=8, delete=(), **opts):
        model = conf.conversation_model()
        field = conf.members_field()
        through = field.remote_field.through
        src = through._meta.get_field(field.m2m_field_name()).attname
        dst = through._meta.get_field(field.m2m_reverse_field_name()).attname
        client = conf.client()
        total = model._default_manager.count()
        done = created = updated = failed = 0
        t0 = time.monotonic()

        def put(item):
            pk, members = item
            try:
                return "created" if client.put_conversation(pk, members)["created"] else "updated"
            except (Error, ValueError) as e:
                self.stderr.write(f"ringmq_sync: conversation {pk}: {e}")
                return "failed"

        last = None
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            while True:
                qs = model._default_manager.order_by("pk")
                if last is not None:
                    qs = qs.filter(pk__gt=last)
                pks = list(qs.values_list("pk", flat=True)[:batch_size])
                if not pks:
                    break
                last = pks[-1]
                members = {pk: [] for pk in pks}
                for c, u in through._default_manager.filter(**{src + "__in": pks}).values_list(src, dst):
                    members[c].append(str(u))
                for r in pool.map(put, members.items()):
                    if r == "created":
                        created += 1
                    elif r == "updated":
                        updated += 1
                    else:
                        failed += 1
                done += len(pks)
                self.stdout.write(f"ringmq_sync: {done}/{total} conversations (created {created}, updated "
                                  f"{updated}, failed {failed}) {time.monotonic() - t0:.1f}s")
                self.stdout.flush()
        deleted = 0
        for cid in delete:
            try:
                deleted += bool(client.delete_conversation(cid, missing_ok=True))
            except Error as e:
                failed += 1
                self.stderr.write(f"ringmq_sync: delete {cid}: {e}")
        elapsed = time.monotonic() - t0
        self.stdout.write(f"ringmq_sync: done: {done} conversations, created {created}, updated {updated}, "
                          f"deleted {deleted}, failed {failed} in {elapsed:.1f}s")
        if failed:
            raise CommandError(f"{failed} conversation(s) failed")
