"""Live sockets end with their token, and a user's sockets are bounded
(PROTOCOL.md "Production contract" -> "Live connections end with their
token", and the per-user limit of "Revocation and per-user limits"):

- a socket is closed 4401 "token expired" within 2 s of its token's exp
  (plus the leeway), never before;
- auth.refresh with a valid token of the same user answers auth.refreshed
  with the new exp and the socket lives on; a bad token gets error
  unauthorized, another user's error forbidden, and either way the socket
  still ends at the old exp;
- auth.refresh never leaves the bridge: not to the room, not to rules;
- a user's sockets beyond --max-sockets-per-user are accepted and closed
  4429 "too many connections"; other users are not affected, and are
  answered as fast while one user keeps trying (compared with their own
  round trips just before).

The frames of a refresh are read here and checked against their own
schemas (client/auth.refresh.json, server/auth.refreshed.json)."""
import json
import queue
import statistics
import threading
import time

import paho.mqtt.client as paho
import pytest
import websocket
from paho.mqtt.client import MQTTv5 as V5

from conftest import _make_stack
from ringmq_client import DEFAULT_WAIT, Closed, mint_token, schemas, unique, wait_until

S = schemas()
CLOSE_SLACK = 2.0   # the contract: closed within 2 s of exp (plus the leeway)


@pytest.fixture(scope="module")
def limit_stack(request):
    return _make_stack(request, name="per-user limit stack", bridge_args=["--max-sockets-per-user", "3"])


@pytest.fixture(scope="module")
def lenient_stack(request):
    """A leeway of 2 s, and tokens without exp accepted."""
    return _make_stack(request, name="leeway stack", bridge_args=["--jwt-leeway-s", "2", "--no-require-exp"])


# ------------------------------------------------------------------ helpers

def recv(w, timeout=DEFAULT_WAIT):
    """The next frame of w, checked against its schema (auth.refreshed has
    its own; the rest as every test checks them)."""
    try:
        op, data = w._recv_frame(timeout)
    except websocket.WebSocketTimeoutException:
        raise AssertionError(f"{w.name}: no frame within {timeout}s; received so far: "
                             f"{[f.get('type') for f in w.received]}") from None
    assert op == websocket.ABNF.OPCODE_TEXT, f"{w.name}: opcode {op}"
    frame = json.loads(data.decode("utf-8"))
    w.received.append(frame)
    if frame.get("type") == "auth.refreshed":
        S.check("server/auth.refreshed.json", frame, f"{w.name}: received frame")
    else:
        S.check_server_frame(frame, f"{w.name}: received frame")
    return frame


def refresh(w, token):
    frame = {"type": "auth.refresh", "token": token}
    S.check("client/auth.refresh.json", frame)
    w.send_json(frame)
    return recv(w)


def send_refresh(w, token):
    w.send_json({"type": "auth.refresh", "token": token})
    return w


def opened(w):
    w.ack = w.expect("connection.ack")
    assert "auth.refresh" in w.ack["features"]
    return w


def alive(w):
    """The socket still answers."""
    w.send_json({"type": "ping"})
    assert recv(w)["type"] == "pong"


def closed_at(w, exp, leeway=0):
    """Waits for w's close (it must come within CLOSE_SLACK of exp + leeway,
    and not before) and checks it is 4401 "token expired"."""
    deadline = exp + leeway + CLOSE_SLACK + 1.0
    try:
        op, data = w._recv_frame(max(0.1, deadline - time.time()))
    except Closed as c:
        at = time.time()
        assert (c.code, c.reason) == (4401, "token expired"), f"{w.name}: closed {c.code} {c.reason!r}"
        assert at >= exp + leeway, f"{w.name}: closed {exp + leeway - at:.2f} s before exp + leeway"
        assert at - (exp + leeway) <= CLOSE_SLACK, f"{w.name}: closed {at - exp - leeway:.2f} s after exp + leeway"
        return at
    except websocket.WebSocketTimeoutException:
        raise AssertionError(f"{w.name}: still open {time.time() - exp - leeway:.2f} s after exp + leeway") from None
    raise AssertionError(f"{w.name}: expected the close, got {data[:300]!r}")


def short_token(st, user, left=4):
    """A token of user with `left` s to live (whole seconds: exp is an integer)."""
    exp = int(time.time()) + left
    return st.token(user, exp=exp), exp


def expect_refused(w, code):
    f = recv(w)
    assert f["type"] == "error" and f["code"] == code and f.get("ref") == "auth.refresh", f
    return f


class Watch:
    """A service login subscribed to topics: what the bridge publishes for
    rules (chats/<id>/in, users/<id>/outbox)."""

    def __init__(self, st, topics):
        self.msgs = queue.Queue()
        ready = queue.Queue()
        c = paho.Client(client_id=unique("svc-lifetime-watch"), protocol=V5)
        c.username_pw_set("svc:rules", st.service_secret)
        c.on_connect = lambda cl, u, flags, rc, props=None: cl.subscribe([(t, 1) for t in topics])
        c.on_subscribe = lambda cl, u, mid, codes, props=None: ready.put([x.value for x in codes])
        c.on_message = lambda cl, u, m: self.msgs.put((m.topic, m.payload))
        c.connect("127.0.0.1", st.mqtt_port, keepalive=30)
        c.loop_start()
        self.c = c
        assert ready.get(timeout=DEFAULT_WAIT) == [1] * len(topics)

    def until(self, pred, timeout=DEFAULT_WAIT):
        """Every message up to and including the first for which pred holds."""
        seen, deadline = [], time.monotonic() + timeout
        while True:
            try:
                topic, payload = self.msgs.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"not published within {timeout}s; saw {seen}") from None
            seen.append((topic, payload))
            if pred(topic, payload):
                return seen

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


# ------------------------------------------------------------------ expiry

def test_socket_closed_when_its_token_expires(stack):
    user = unique("exp")
    tok, exp = short_token(stack, user, 4)
    n = opened(stack.ws_notify(token=tok, name="notify[expiring]"))
    c = opened(stack.ws_chat(stack.conversation([user]), token=tok, name="chat[expiring]"))
    alive(n)
    closed_at(n, exp)
    closed_at(c, exp)


def test_refreshed_socket_lives_past_the_old_exp(stack):
    user = unique("refresh")
    tok, exp = short_token(stack, user, 3)
    n = opened(stack.ws_notify(token=tok, name="notify[refreshed]"))
    c = opened(stack.ws_chat(stack.conversation([user]), token=tok, name="chat[refreshed]"))
    new_exp = int(time.time()) + 3600
    for w in (n, c):
        f = refresh(w, stack.token(user, exp=new_exp))
        assert f == {"type": "auth.refreshed", "exp": new_exp}
    time.sleep(max(0, exp + CLOSE_SLACK + 0.5 - time.time()))
    for w in (n, c):
        alive(w)


def test_refresh_to_a_shorter_token_moves_the_end(stack):
    user = unique("shorter")
    n = opened(stack.ws_notify(user))
    tok, exp = short_token(stack, user, 3)
    assert refresh(n, tok) == {"type": "auth.refreshed", "exp": exp}
    closed_at(n, exp)


def test_bad_token_is_unauthorized_and_keeps_the_old_expiry(stack):
    user = unique("badref")
    tok, exp = short_token(stack, user, 4)
    n = opened(stack.ws_notify(token=tok, name="notify[bad refresh]"))
    for bad in ("not.a.jwt", mint_token("another secret", sub=user, ttl=3600),
                stack.token(user, exp=int(time.time()) - 5)):
        expect_refused(send_refresh(n, bad), "unauthorized")
    n.send_json({"type": "auth.refresh", "token": 7})
    f = recv(n)
    assert f["type"] == "error" and f["code"] == "bad_frame", f
    alive(n)
    closed_at(n, exp)


def test_another_users_token_is_forbidden_and_keeps_the_old_expiry(stack):
    user, other = unique("mine"), unique("theirs")
    tok, exp = short_token(stack, user, 4)
    n = opened(stack.ws_notify(token=tok, name="notify[forbidden refresh]"))
    expect_refused(send_refresh(n, stack.token(other, ttl=3600)), "forbidden")
    alive(n)
    closed_at(n, exp)


def test_refresh_reaches_neither_the_room_nor_rules(stack):
    a, b = unique("ra"), unique("rb")
    cid = stack.conversation([a, b])
    watch = Watch(stack, [f"chats/{cid}/in", f"users/{a}/outbox"])
    try:
        ca = opened(stack.ws_chat(cid, a))
        cb = opened(stack.ws_chat(cid, b))
        na = opened(stack.ws_notify(a))
        secret_tok = stack.token(a, ttl=7200)
        assert refresh(ca, secret_tok)["type"] == "auth.refreshed"
        assert refresh(na, secret_tok)["type"] == "auth.refreshed"
        # A frame after it is relayed (so the watch and the room do hear
        # what the sockets publish), and nothing came before it.
        ca.send_json({"type": "chat.message", "text": "after"})
        seen = watch.until(lambda t, p: b'"after"' in p)
        assert [t for t, _ in seen] == [f"chats/{cid}/in"], seen
        assert all(b"auth.refresh" not in p and secret_tok.encode() not in p for _, p in seen)
        got = recv(cb)
        assert got["type"] == "chat.message" and got["text"] == "after", got
        cb.expect_nothing(0.3)
        assert b"auth" not in b"".join(p for _, p in seen)
    finally:
        watch.close()


# ------------------------------------------------------------------ leeway, no exp

def test_leeway_delays_the_close(lenient_stack):
    st = lenient_stack
    user = unique("leeway")
    tok, exp = short_token(st, user, 3)
    n = opened(st.ws_notify(token=tok, name="notify[leeway]"))
    time.sleep(max(0, exp + 0.7 - time.time()))
    alive(n)   # past exp, within the leeway
    closed_at(n, exp, leeway=2)


def test_a_token_without_exp_has_no_expiry(lenient_stack):
    st = lenient_stack
    user = unique("noexp")
    tok, exp = short_token(st, user, 2)
    n = opened(st.ws_notify(token=tok, name="notify[no exp]"))
    assert refresh(n, st.token(user, exp=False)) == {"type": "auth.refreshed", "exp": None}
    time.sleep(max(0, exp + 2 + CLOSE_SLACK + 0.5 - time.time()))
    alive(n)


# ------------------------------------------------------------------ per-user limit

def test_sockets_per_user_are_bounded(limit_stack):
    st = limit_stack
    a, b = unique("many"), unique("other")
    cid = st.conversation([a, b])
    mine = [opened(st.ws_notify(a, name="notify[a1]")), opened(st.ws_chat(cid, a, name="chat[a2]")),
            opened(st.ws_notify(a, name="notify[a3]"))]
    for kind, w in (("notify", st.ws_notify(a, name="notify[a4]")), ("chat", st.ws_chat(cid, a, name="chat[a4]"))):
        assert w.expect_close() == 4429, kind     # accepted (101), then closed
        assert w.closed.reason == "too many connections", kind
    theirs = [opened(st.ws_notify(b, name=f"notify[b{i}]")) for i in range(2)] + \
        [opened(st.ws_chat(cid, b, name="chat[b3]"))]
    for w in mine + theirs:
        alive(w)

    mine.pop(0).close()

    def reopen():
        w = st.ws_notify(a, name="notify[a again]")
        try:
            return opened(w)
        except Closed as c:
            assert c.code == 4429, c
            return None
    mine.append(wait_until(reopen, 3.0, interval=0.1, what="a socket of a after one closed"))
    alive(mine[-1])
    # Refused sockets did not count, closed ones stopped counting: full again.
    extra = st.ws_chat(cid, a, name="chat[a5]")
    assert extra.expect_close() == 4429
    for w in mine + theirs:
        alive(w)


def test_a_user_over_the_limit_does_not_slow_another_user(limit_stack):
    """A user who keeps opening sockets past the limit gets 4429 each time,
    while another user on the same bridge is answered as fast as before the
    abuse (its ping round trips compared with its own just before)."""
    st = limit_stack
    hog, other = unique("hog"), unique("calm")
    held = [opened(st.ws_notify(hog, name=f"notify[hog{i}]")) for i in range(3)]
    calm = opened(st.ws_notify(other, name="notify[calm]"))

    def round_trips(n=30):
        out = []
        for _ in range(n):
            t0 = time.monotonic()
            calm.send_json({"type": "ping"})
            calm.expect("pong")
            out.append(time.monotonic() - t0)
        return out

    before = round_trips()
    stop, codes = threading.Event(), []

    def hammer():
        while not stop.is_set():
            w = st.ws_notify(hog, name="notify[hog extra]")
            codes.append(w.expect_close())
            w.close()
    t = threading.Thread(target=hammer, daemon=True)
    t.start()
    try:
        time.sleep(0.2)
        during = round_trips()
    finally:
        stop.set()
        t.join(10)
    assert len(codes) >= 10 and set(codes) == {4429}, codes[:20]
    slack = 0.05   # the two clients share this machine's cores with the bridge
    assert statistics.median(during) <= statistics.median(before) + slack, (before, during)
    for w in held + [calm]:
        alive(w)
