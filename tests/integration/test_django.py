"""The example Django project (examples/django/) with ringmq.contrib.django
against the real ringmq stack (mosquitto + rules + bridge of conftest).

Django runs in this process: its WSGI application behind Django's own
threaded server (what runserver uses) on a free loopback port, with a real
SQLite file; the test drives the ORM directly, so the app's signal receivers
(membership sync after commit) run as in production. Rules posts its
webhooks to the project's view (path("ringmq/", include(...))). Tokens come
from the project's SimpleJWT endpoint, signed with the stack's JWT secret.

Shown: membership changes in Django reach ringmq (chat socket allowed,
then closed 4403 after a removal; nothing before the transaction commits);
a SimpleJWT access token opens ringmq sockets and initiates a call; the
call's three webhooks arrive verified and fire the signals once each (a
forged one and a replay fire nothing); Django's logout disconnects the
user's sockets (4401 revoked); ringmq_sync back-fills 10,000 conversations
with a progress line and a second run changes nothing in rules' store."""
import io
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import _make_stack
from ringmq_client import REPO, free_port, wait_until
from test_core import ANSWER_SDP, OFFER_SDP

django = pytest.importorskip("django")
pytest.importorskip("rest_framework_simplejwt")

EXAMPLE = os.path.join(REPO, "examples", "django")
PACKAGE = os.path.join(REPO, "clients", "python")
SYNC_N = int(os.environ.get("RINGMQ_DJANGO_SYNC_N", "10000"))
ENV_KEYS = ("RINGMQ_URL", "RINGMQ_API_KEY", "RINGMQ_WEBHOOK_SECRET", "RINGMQ_JWT_SECRET", "DJANGO_DB",
            "DJANGO_SETTINGS_MODULE")
REFLECT_S = 1.0       # a membership change must be visible in ringmq within this


class Env:
    pass


@pytest.fixture(scope="module")
def dj(request):
    e = Env()
    e.dir = tempfile.mkdtemp(prefix="ringmq-django-")
    e.webhook_secret = secrets.token_hex(32)
    secret_file = os.path.join(e.dir, "webhook_secret")
    with open(secret_file, "w") as f:
        f.write(e.webhook_secret + "\n")
    os.chmod(secret_file, 0o600)
    e.port = free_port()
    e.url = f"http://127.0.0.1:{e.port}"
    e.stack = _make_stack(request, name="django stack", ring_timeout_ms=3000, rules_args=(
        "--webhook-url", f"{e.url}/ringmq/webhook/", "--webhook-secret-file", secret_file))
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.update({"RINGMQ_URL": e.stack.base_url, "RINGMQ_API_KEY": e.stack.api_key,
                       "RINGMQ_WEBHOOK_SECRET": e.webhook_secret, "RINGMQ_JWT_SECRET": e.stack.jwt_secret,
                       "DJANGO_DB": os.path.join(e.dir, "db.sqlite3"),
                       "DJANGO_SETTINGS_MODULE": "exampleproject.settings"})
    for p in (PACKAGE, EXAMPLE):
        if p not in sys.path:
            sys.path.insert(0, p)
    django.setup()
    # settings are read: put the environment back, so the services other
    # tests start later do not inherit e.g. $RINGMQ_WEBHOOK_SECRET (rules reads it)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application
    call_command("migrate", verbosity=0)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *a):
            pass

    e.server = ThreadedWSGIServer(("127.0.0.1", e.port), Quiet, allow_reuse_address=True)
    e.server.set_app(get_wsgi_application())
    threading.Thread(target=e.server.serve_forever, daemon=True).start()

    from django.contrib.auth import get_user_model
    User = get_user_model()
    e.users = {n: User.objects.create_user(n, password="pw-" + n) for n in ("alice", "bob", "carol", "dave")}
    yield e
    e.server.shutdown()
    e.server.server_close()
    shutil.rmtree(e.dir, ignore_errors=True)


def post(url, body=None, headers=None, raw=None):
    data = raw if raw is not None else json.dumps(body or {}).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def access_token(dj, name):
    """From the project's SimpleJWT endpoint, as a frontend logs in."""
    status, raw = post(f"{dj.url}/api/token/", {"username": name, "password": "pw-" + name})
    assert status == 200, raw
    return json.loads(raw)["access"]


def uid(dj, name):
    return str(dj.users[name].pk)


def open_chat_within(dj, conv_pk, token, user, limit):
    """Opens a chat socket until one is accepted; the seconds it took."""
    t0 = time.monotonic()
    while True:
        ws = dj.stack.ws_chat(str(conv_pk), token=token, name=f"chat[{user}@{conv_pk}]")
        try:
            ws.ack = ws.expect("connection.ack", timeout=2)
            return ws, time.monotonic() - t0
        except AssertionError:
            ws.close()
            if time.monotonic() - t0 > limit:
                raise
            time.sleep(0.05)


def test_django_membership_sync_after_commit(dj):
    from django.db import transaction
    from chat.models import Conversation
    alice, bob, carol = (dj.users[n] for n in ("alice", "bob", "carol"))
    tok = {n: access_token(dj, n) for n in ("alice", "bob", "carol")}

    conv = Conversation.objects.create(title="membership")
    t_add = time.monotonic()
    conv.participants.add(alice, bob)
    a_ws, a_took = open_chat_within(dj, conv.pk, tok["alice"], "alice", REFLECT_S)
    b_ws, _ = open_chat_within(dj, conv.pk, tok["bob"], "bob", REFLECT_S)
    print(f"\ncreate + add reflected in ringmq after {time.monotonic() - t_add:.3f}s")
    assert a_ws.ack["conversation_id"] == str(conv.pk)

    # carol is not a member: refused
    c_ws = dj.stack.ws_chat(str(conv.pk), token=tok["carol"])
    assert c_ws.expect_close() == 4403

    # a removal inside a transaction: nothing reaches ringmq before the commit
    with transaction.atomic():
        conv.participants.remove(bob)
        b_ws.expect_nothing(within=0.5)
        t_commit = time.monotonic()
    code = b_ws.expect_close(timeout=3)
    took = time.monotonic() - t_commit
    print(f"removal: bob's open chat socket closed {code} {took:.3f}s after the commit")
    assert code == 4403
    assert took < 2.0      # the contract's bound for closing open sockets
    again = dj.stack.ws_chat(str(conv.pk), token=tok["bob"])
    assert again.expect_close() == 4403 and time.monotonic() - t_commit < REFLECT_S + 0.5
    a_ws.expect_nothing(within=0.2)

    # a rolled-back change is never sent
    try:
        with transaction.atomic():
            conv.participants.add(carol)
            raise RuntimeError("rollback")
    except RuntimeError:
        pass
    time.sleep(0.3)
    assert dj.stack.ws_chat(str(conv.pk), token=tok["carol"]).expect_close() == 4403

    # the reverse side of the M2M (user.conversations) syncs too
    carol.conversations.add(conv)
    c_ws, took = open_chat_within(dj, conv.pk, tok["carol"], "carol", REFLECT_S)
    print(f"reverse add reflected after {took:.3f}s")

    # a reverse clear() (carol leaves every conversation) and a forward clear()
    other = Conversation.objects.create(title="other")
    other.participants.add(carol)
    o_ws, _ = open_chat_within(dj, other.pk, tok["carol"], "carol", REFLECT_S)
    carol.conversations.clear()
    assert c_ws.expect_close(timeout=3) == 4403
    assert o_ws.expect_close(timeout=3) == 4403
    carol.conversations.add(conv)
    c_ws, _ = open_chat_within(dj, conv.pk, tok["carol"], "carol", REFLECT_S)
    other.participants.add(alice)
    o_ws, _ = open_chat_within(dj, other.pk, tok["alice"], "alice", REFLECT_S)
    other.participants.clear()
    assert o_ws.expect_close(timeout=3) == 4403

    # deleting the conversation closes every chat socket of it
    t_del = time.monotonic()
    conv.delete()
    assert a_ws.expect_close(timeout=3) == 4403
    assert c_ws.expect_close(timeout=3) == 4403
    print(f"delete: chat sockets closed 4403 after {time.monotonic() - t_del:.3f}s")


def test_django_simplejwt_token_call_and_webhook_signals(dj):
    from ringmq import Client, webhooks
    from ringmq.contrib.django import signals
    from chat.models import CallLog, Conversation
    conv = Conversation.objects.create(title="call")
    conv.participants.add(dj.users["alice"], dj.users["bob"])
    tok_a, tok_b = access_token(dj, "alice"), access_token(dj, "bob")

    got = {"call.ringing": [], "call.accepted": [], "call.ended": []}
    lock = threading.Lock()

    def counter(kind):
        def rec(sender, event, call, **kw):
            with lock:
                got[kind].append(event)
        return rec
    receivers = {k: counter(k) for k in got}
    for k, sig in (("call.ringing", signals.call_ringing), ("call.accepted", signals.call_accepted),
                   ("call.ended", signals.call_ended)):
        sig.connect(receivers[k], weak=False)
    try:
        a_ws = dj.stack.ws_notify(token=tok_a, name="notify[alice]")
        ack = a_ws.expect("connection.ack")
        assert ack["user_id"] == uid(dj, "alice")           # SimpleJWT's user_id claim
        b_ws = dj.stack.ws_notify(token=tok_b, name="notify[bob]")
        b_ws.ack = b_ws.expect("connection.ack")
        ringmq = Client(dj.stack.base_url, dj.stack.api_key)
        # let the sync's PUT land (it is after commit, and synchronous: already done)
        call = ringmq.initiate(tok_a, uid(dj, "bob"), conv.pk, "video")
        cid = call["call_id"]
        assert call["caller_id"] == uid(dj, "alice") and call["caller_username"] == "alice"
        inc = b_ws.expect("call.incoming")
        assert inc["call_id"] == cid
        a_ws.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
        b_ws.expect("call.offer")
        b_ws.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
        a_ws.expect("call.answer", skip=("call.accepted",))
        b_ws.expect("call.accepted")
        time.sleep(0.2)
        b_ws.send_json({"type": "call.end", "call_id": cid})
        b_ws.expect("call.end", skip=("call.accepted",))

        def mine(kind):
            return [e for e in got[kind] if e["call"]["call_id"] == cid]
        wait_until(lambda: all(mine(k) for k in got), 10, what=f"three signals (got {got})")
        time.sleep(0.3)
        assert [len(mine(k)) for k in got] == [1, 1, 1]
        ended = mine("call.ended")[0]["call"]
        assert ended["status"] == "ended" and ended["ended_by"] == uid(dj, "bob") and ended["duration_ms"] >= 0
        print(f"\nsignals fired: {[(k, len(mine(k))) for k in got]}")
        wait_until(lambda: CallLog.objects.filter(call_id=cid, status="ended").exists(), 5, what="CallLog")

        # the history the package reads agrees
        hist = ringmq.calls(tok_a, limit=5)
        assert hist["calls"][0]["call_id"] == cid and hist["calls"][0]["status"] == "ended"
        assert "ice_servers" in ringmq.ice_servers(tok_a)

        # a forged webhook (wrong secret) and one too old: 401, no signal
        ev = mine("call.ended")[0]
        forged = dict(ev, id="00000000-0000-4000-8000-000000000000")
        raw = json.dumps(forged).encode()
        ts = int(time.time())
        for secret, when in (("not-the-secret", ts), (dj.webhook_secret, ts - 3600)):
            status, _ = post(f"{dj.url}/ringmq/webhook/", raw=raw, headers={
                "X-Ringmq-Timestamp": str(when), "X-Ringmq-Signature": webhooks.sign(secret, when, raw)})
            assert status == 401
        # a replay of a delivered event (validly signed again): answered, ignored
        raw = json.dumps(ev).encode()
        status, _ = post(f"{dj.url}/ringmq/webhook/", raw=raw, headers={
            "X-Ringmq-Timestamp": str(ts), "X-Ringmq-Signature": webhooks.sign(dj.webhook_secret, ts, raw)})
        assert status == 204
        assert [len(mine(k)) for k in got] == [1, 1, 1]
        assert len(got["call.ended"]) == 1
    finally:
        for k, sig in (("call.ringing", signals.call_ringing), ("call.accepted", signals.call_accepted),
                       ("call.ended", signals.call_ended)):
            sig.disconnect(receivers[k])


def test_django_logout_disconnects_the_users_sockets(dj):
    from chat.models import Conversation
    conv = Conversation.objects.create(title="logout")
    conv.participants.add(dj.users["dave"], dj.users["carol"])
    tok = access_token(dj, "dave")
    n_ws = dj.stack.ws_notify(token=tok, name="notify[dave]")
    n_ws.expect("connection.ack")
    c_ws, _ = open_chat_within(dj, conv.pk, tok, "dave", REFLECT_S)
    other = dj.stack.ws_notify(token=access_token(dj, "carol"), name="notify[carol]")
    other.expect("connection.ack")

    t0 = time.monotonic()
    status, raw = post(f"{dj.url}/api/logout/", headers={"Authorization": "Bearer " + tok})
    assert status == 204, raw
    for ws in (n_ws, c_ws):
        assert ws.expect_close(timeout=3) == 4401
        assert ws.closed.reason == "revoked"
    print(f"\nlogout: dave's 2 sockets closed 4401 revoked after {time.monotonic() - t0:.3f}s")
    other.expect_nothing(within=0.3)
    # the old token is refused from now on; one issued in a later second works
    assert dj.stack.ws_notify(token=tok).expect_close() == 4401
    time.sleep(1.1)
    fresh = dj.stack.ws_notify(token=access_token(dj, "dave"), name="notify[dave again]")
    fresh.expect("connection.ack")

    # DISCONNECT_ON_LOGOUT off: a logout leaves the sockets alone
    from django.conf import settings
    from django.test import override_settings
    with override_settings(RINGMQ={**settings.RINGMQ, "DISCONNECT_ON_LOGOUT": False}):
        status, raw = post(f"{dj.url}/api/logout/", headers={"Authorization": "Bearer " + access_token(dj, "dave")})
        assert status == 204, raw
        fresh.expect_nothing(within=0.5)


def _rules_rows(dj):
    """rules' own conversations and members (its SQLite file or PostgreSQL)."""
    convs = [tuple(r) for r in dj.stack.db_rows("SELECT id, created_at FROM conversations ORDER BY id")]
    members = [tuple(r) for r in dj.stack.db_rows("SELECT conversation_id, user_id FROM members ORDER BY 1, 2")]
    return convs, members


def test_django_ringmq_sync_backfill_and_idempotent(dj):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from chat.models import Conversation
    User = get_user_model()
    pool = User.objects.bulk_create([User(username=f"bulk{i}") for i in range(100)])
    pool = list(User.objects.filter(username__startswith="bulk").order_by("pk"))
    before = Conversation.objects.count()
    # bulk_create sends no signals: these exist in Django only, as in a project moving to ringmq
    Conversation.objects.bulk_create([Conversation(title=f"bulk {i}") for i in range(SYNC_N)])
    convs = list(Conversation.objects.filter(title__startswith="bulk ").order_by("pk"))
    Through = Conversation.participants.through
    Through.objects.bulk_create([Through(conversation_id=c.pk, user_id=pool[(i + k) % len(pool)].pk)
                                 for i, c in enumerate(convs) for k in (0, 1)])
    probe = convs[len(convs) // 2]
    assert dj.stack.http.put_conversation  # the stack is up
    outs = []
    for run in (1, 2):
        out = io.StringIO()
        t0 = time.monotonic()
        call_command("ringmq_sync", stdout=out)
        took = time.monotonic() - t0
        text = out.getvalue()
        lines = text.strip().splitlines()
        print(f"\nringmq_sync run {run}: {took:.1f}s; {lines[0]!r} ... {lines[-1]!r}")
        outs.append((took, text))
        assert any("/" in ln and "conversations (created" in ln for ln in lines[:-1]), text   # progress lines
        total = before + SYNC_N
        if run == 1:
            assert f"done: {total} conversations, created {SYNC_N}, updated {before}," in lines[-1], text
            rows1 = _rules_rows(dj)
        else:
            assert f"done: {total} conversations, created 0, updated {total}," in lines[-1], text
            assert "failed 0" in lines[-1]
            rows2 = _rules_rows(dj)
        assert took < 120, f"ringmq_sync took {took:.1f}s"
    assert rows1 == rows2, "the second run changed rules' store"
    convs1, members1 = rows1
    assert len([c for c in convs1 if c[0] in {str(c.pk) for c in convs}]) == SYNC_N
    want = {(str(probe.pk), str(u)) for u in probe.participants.values_list("pk", flat=True)}
    assert want <= set(members1) and len(want) == 2
    # and ringmq enforces it: a member of the probe opens its room, another user is refused
    from ringmq import tokens
    member = str(next(iter(want))[1])
    ws, _ = open_chat_within(dj, probe.pk, tokens.mint(dj.stack.jwt_secret, member), member, REFLECT_S)
    assert dj.stack.ws_chat(str(probe.pk), token=tokens.mint(dj.stack.jwt_secret, uid(dj, "alice"))) \
        .expect_close() == 4403
