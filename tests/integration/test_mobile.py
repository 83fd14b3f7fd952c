"""Issue 4, mobile apps over MQTT, end to end: a phone (paho, MQTT v5 and
v3.1.1) talks to the real mosquitto with the ringmq_auth.so plugin loaded
from the repo's mosquitto.conf, while a web user talks to ringmq-bridge
(WebSocket + HTTP) and ringmq-rules routes between them.

- a web caller rings a phone; the phone answers and hangs up via its
  outbox; the web caller sits on a chat page (chat socket + its global
  notification socket), as the web app does;
- a user's phone and web tab ring together; the one that answers stops
  the other (call.accepted);
- receiver_online counts a connected MQTT session, not a disconnected
  persistent one;
- ring while briefly offline: a persistent session (QoS 1) back inside the
  ring window gets call.incoming, one back later does not (the broker drops
  it at its v5 message expiry, which rules sets to the ring time);
- a broker restart keeps a phone's persistent session (persistence on);
- examples/mobile_client.py does a whole call against the real stack.

The stack's broker itself admits only tokens and services (the repo's
mosquitto.conf, no anonymous access); the plugin's own broker tests
(test_mqtt_auth.py) try every bypass form.

Every frame a phone receives is validated against schemas/ (the harness's
validator), as the WebSocket helper does for the web side.
"""
import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

from conftest import TOKEN
from ringmq_client import REPO, DEFAULT_WAIT, QUIET_WAIT, expect_quiet, mint_token, schemas, unique, wait_until

paho = pytest.importorskip("paho.mqtt.client")
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

V5, V311 = paho.MQTTv5, paho.MQTTv311
PROTOCOLS = [pytest.param(V5, id="v5"), pytest.param(V311, id="v311")]

OFFER_SDP = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
ANSWER_SDP = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0}
STAMP = {"sender_id", "sender_username", "from_device", "msg_id"}

RING_MS = 3000            # ring time-out (and call.incoming's message expiry) of the short-ring stack
SESSION_EXPIRY_S = 300    # a phone's persistent v5 session outlives any test


# ------------------------------------------------------------------ parties

class User:
    def __init__(self, stack, prefix):
        self.stack = stack
        self.id = unique(prefix)
        self.name = self.id + " (token name)"
        self.token = stack.token(self.id, name=self.name)


def pair(stack):
    a, b = User(stack, "web"), User(stack, "mob")
    return a, b, stack.conversation([a.id, b.id])


def web_notify(stack, user):
    """The web user's global notification socket, logged in with its token, past connection.ack."""
    ws = stack.ws_notify(user.id, token=user.token)
    ws.ack = ws.expect("connection.ack")
    return ws


def web_chat(stack, conv, user):
    ws = stack.ws_chat(conv, user.id, token=user.token)
    ws.ack = ws.expect("connection.ack")
    return ws


class Phone:
    """A mobile app: paho logged in with the user's JWT (client id
    <uid>:<device>), subscribed QoS 1 to users/<uid>/notifications,
    publishing to users/<uid>/outbox. Every message received is parsed and
    schema-checked before a test sees it."""

    def __init__(self, stack, user, protocol=V5, device=None, persistent=False, subscribe=True):
        self.stack, self.user, self.protocol, self.persistent = stack, user, protocol, persistent
        self.device = device or unique("dev")
        self.name = f"phone[{user.id}:{self.device}, {'v5' if protocol == V5 else 'v3.1.1'}]"
        self.notifications = f"users/{user.id}/notifications"
        self.outbox = f"users/{user.id}/outbox"
        self.received = []
        self.c = None
        self.connect()
        if subscribe:
            self.subscribe()

    # -- connection
    def connect(self):
        """Connects (again); returns the CONNACK's session-present flag."""
        kw = {"protocol": self.protocol}
        if self.protocol != V5:
            kw["clean_session"] = not self.persistent
        c = paho.Client(client_id=f"{self.user.id}:{self.device}", **kw)
        c.username_pw_set(self.user.id, self.user.token)
        self.messages, self.connack, self.subacks, self.pubacks = (queue.Queue() for _ in range(4))
        c.on_connect = lambda cl, u, flags, rc, props=None: self.connack.put(
            (rc if isinstance(rc, int) else rc.value, flags.get("session present", 0)))
        c.on_message = lambda cl, u, m: self.messages.put(m)
        c.on_subscribe = lambda cl, u, mid, codes, props=None: self.subacks.put(
            [x if isinstance(x, int) else x.value for x in codes])
        c.on_publish = lambda cl, u, mid: self.pubacks.put(mid)
        if self.protocol == V5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S if self.persistent else 0
            c.connect("127.0.0.1", self.stack.mqtt_port, keepalive=30, clean_start=not self.persistent,
                      properties=props)
        else:
            c.connect("127.0.0.1", self.stack.mqtt_port, keepalive=30)
        c.loop_start()
        self.c = c
        try:
            rc, present = self.connack.get(timeout=DEFAULT_WAIT)
        except queue.Empty:
            raise AssertionError(f"{self.name}: no CONNACK within {DEFAULT_WAIT}s") from None
        assert rc == 0, f"{self.name}: login refused ({rc}); see the mosquitto log"
        return bool(present)

    def subscribe(self):
        rc, _ = self.c.subscribe(self.notifications, qos=1)
        assert rc == paho.MQTT_ERR_SUCCESS
        codes = self.subacks.get(timeout=DEFAULT_WAIT)
        assert codes == [1], f"{self.name}: SUBACK {codes} for {self.notifications}"

    def disconnect(self):
        """A clean DISCONNECT (a persistent session stays on the broker)."""
        if self.c is not None:
            self.c.disconnect()
            self.c.loop_stop()
            self.c = None

    # -- sending
    def send(self, frame):
        """Publishes frame + device_id to the outbox, QoS 1, and waits for the PUBACK."""
        info = self.c.publish(self.outbox, json.dumps(dict(frame, device_id=self.device)), qos=1)
        assert info.rc == paho.MQTT_ERR_SUCCESS
        deadline = time.monotonic() + DEFAULT_WAIT
        while True:
            try:
                if self.pubacks.get(timeout=max(0.01, deadline - time.monotonic())) == info.mid:
                    return
            except queue.Empty:
                raise AssertionError(f"{self.name}: no PUBACK within {DEFAULT_WAIT}s") from None

    # -- receiving
    def recv(self, timeout=DEFAULT_WAIT):
        """The next notification as (frame, message), the frame schema-checked."""
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name}: nothing within {timeout}s; received so far: "
                                 f"{[f.get('type') for f in self.received]}") from None
        assert m.topic == self.notifications, f"{self.name}: message on {m.topic}"
        try:
            frame = json.loads(m.payload.decode("utf-8"))
        except ValueError:
            raise AssertionError(f"{self.name}: payload is not JSON: {m.payload[:300]!r}") from None
        self.received.append(frame)
        schemas().check_server_frame(frame, f"{self.name}: received frame")
        return frame, m

    def expect(self, type_, timeout=DEFAULT_WAIT, skip=()):
        """The next frame must be of type_ (types in skip are passed over). Returns the frame; the
        paho message is kept as .last."""
        deadline = time.monotonic() + timeout
        while True:
            frame, m = self.recv(max(0.05, deadline - time.monotonic()))
            if frame.get("type") == type_:
                self.last = m
                return frame
            if frame.get("type") not in skip:
                raise AssertionError(f"{self.name}: expected {type_!r}, got {json.dumps(frame)[:1000]}")

    def expect_nothing(self, within=QUIET_WAIT):
        try:
            m = self.messages.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError(f"{self.name}: expected nothing, got {m.topic} {m.payload[:1000]!r}")


def message_expiry(m):
    """The v5 Message Expiry Interval the broker forwarded with m (None if none)."""
    props = getattr(m, "properties", None)
    return getattr(props, "MessageExpiryInterval", None) if props is not None else None


@pytest.fixture
def phones(stack):
    made = []

    def make(*a, **kw):
        p = Phone(*a, **kw)
        made.append(p)
        return p
    yield make
    for p in made:
        p.disconnect()


@pytest.fixture(scope="module")
def ring_stack(request):
    """A stack of this module's own with a 3 s ring (and call.incoming expiry)."""
    from conftest import _make_stack
    return _make_stack(request, ring_timeout_ms=RING_MS, name=f"mobile stack (ring {RING_MS} ms)")


# ------------------------------------------------------------------ checks

def initiate(stack, caller, receiver, conv, call_type="video"):
    res = stack.http.initiate(caller.token, receiver.id, conv, call_type)
    assert res.status == 201, res
    return res.body


def check_incoming(f, call, caller, conv):
    assert (f["call_id"], f["caller_id"], f["caller_username"], f["call_type"], f["conversation_id"]) == \
        (call["call_id"], caller.id, caller.name, call["call_type"], conv), f
    assert f["receiver_id"] == call["receiver_id"]


def check_stamp(f, sender, device):
    assert STAMP <= set(f), f
    assert (f["sender_id"], f["sender_username"], f["from_device"]) == (sender.id, sender.name, device), f


def check_end(f, call_id, reason, ended_by):
    assert (f["call_id"], f["reason"], f["ended_by"]) == (call_id, reason, ended_by), f


def status(stack, user, call_id):
    res = stack.http.call(user.token, call_id)
    assert res.status == 200, res
    return res.body


# ------------------------------------------------- the stack's own broker

def connack_code(stack, client_id, username, password, protocol=V5):
    """The CONNACK code the stack's broker (repo mosquitto.conf) answers a login with."""
    box = queue.Queue()
    kw = {"protocol": protocol} if protocol == V5 else {"protocol": protocol, "clean_session": True}
    c = paho.Client(client_id=client_id, **kw)
    if username is not None:
        c.username_pw_set(username, password)
    c.on_connect = lambda cl, u, flags, rc, props=None: box.put(rc if isinstance(rc, int) else rc.value)
    c.connect("127.0.0.1", stack.mqtt_port, keepalive=30)
    c.loop_start()
    try:
        return box.get(timeout=DEFAULT_WAIT)
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_stacks_broker_admits_only_tokens_and_services(stack, phones, protocol):
    """The repo's mosquitto.conf loads the plugin with no anonymous access:
    anonymous, a bad signature, an expired token, alg none, a client id
    without <user id>: and another user's topic are refused."""
    u = User(stack, "mob")
    refused = 0x87 if protocol == V5 else 5
    forged = mint_token("not the secret", sub=u.id, name=u.name)
    expired = stack.token(u.id, exp=int(time.time()) - 60)
    none = mint_token(stack.jwt_secret, sub=u.id, name=u.name, alg="none")
    for what, cid, user, pw in (("anonymous", f"{u.id}:p", None, None),
                                ("bad signature", f"{u.id}:p", u.id, forged),
                                ("expired", f"{u.id}:p", u.id, expired),
                                ("alg none", f"{u.id}:p", u.id, none),
                                ("client id without the user", "p", u.id, u.token),
                                ("service with a wrong secret", "x", "svc:rules", "nope")):
        code = connack_code(stack, cid, user, pw, protocol)
        assert code in (refused, 0x86 if protocol == V5 else 4), f"{what}: CONNACK {code}"
    assert connack_code(stack, f"{u.id}:p", u.id, u.token, protocol) == 0

    other = User(stack, "other")
    phone = phones(stack, u, protocol, subscribe=False)
    rc, _ = phone.c.subscribe(f"users/{other.id}/notifications", qos=1)
    assert phone.subacks.get(timeout=DEFAULT_WAIT)[0] >= 0x80, "another user's topic"


# ------------------------------------------- web caller, mobile receiver

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_web_caller_rings_a_phone_which_answers_and_the_caller_hangs_up(stack, phones, protocol):
    """initiate -> call.incoming -> call.offer -> answer via the outbox ->
    call.answer at the caller -> ICE both ways -> call.end to both."""
    a, b, conv = pair(stack)
    a_notify = web_notify(stack, a)
    phone = phones(stack, b, protocol)

    call = initiate(stack, a, b, conv)
    cid = call["call_id"]
    assert call["receiver_online"] is True, "a connected MQTT session counts as online"
    check_incoming(phone.expect("call.incoming"), call, a, conv)
    if protocol == V5:
        exp = message_expiry(phone.last)
        assert exp in (44, 45), f"call.incoming's message expiry (the 45 s ring time): {exp}"

    a_notify.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP, "call_type": "video"})
    offer = phone.expect("call.offer")
    assert (offer["call_id"], offer["offer"], offer["caller_id"], offer["caller_username"], offer["call_type"],
            offer["conversation_id"]) == (cid, OFFER_SDP, a.id, a.name, "video", conv)
    check_stamp(offer, a, a_notify.ack["device_id"])

    a_notify.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    ice = phone.expect("call.ice_candidate")
    assert (ice["call_id"], ice["candidate"], ice["sender_id"]) == (cid, CANDIDATE, a.id)

    # The phone answers through its outbox, with forged identity fields that must not survive.
    phone.send({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP,
                "sender_id": a.id, "sender_username": "forged", "receiver_id": a.id})
    answer = a_notify.expect("call.answer", skip=("call.accepted",))
    assert (answer["call_id"], answer["answer"], answer["receiver_id"]) == (cid, ANSWER_SDP, b.id)
    check_stamp(answer, b, phone.device)          # sender_username: the name in the phone's token
    acc = phone.expect("call.accepted")
    assert (acc["call_id"], acc["device_id"]) == (cid, phone.device), acc
    if not a_notify.skipped:
        assert a_notify.expect("call.accepted")["device_id"] == phone.device
    assert status(stack, a, cid)["status"] == "accepted"

    phone.send({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    ice = a_notify.expect("call.ice_candidate")
    assert (ice["candidate"], ice["sender_id"], ice["sender_username"], ice["from_device"]) == \
        (CANDIDATE, b.id, b.name, phone.device)

    a_notify.send_json({"type": "call.end", "call_id": cid})
    check_end(phone.expect("call.end"), cid, "hangup", a.id)
    check_end(a_notify.expect("call.end"), cid, "hangup", a.id)
    body = status(stack, b, cid)
    assert (body["status"], body["end_reason"]) == ("ended", "hangup")
    expect_quiet(a_notify)
    phone.expect_nothing(0.1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_phone_answers_while_the_web_caller_sits_on_a_chat_page_then_hangs_up(stack, phones, protocol):
    """The web caller is on the chat page (chat socket + the page's global
    notification socket) and sends its offer on the chat socket; the phone
    answers and later hangs up via its outbox."""
    a, b, conv = pair(stack)
    a_notify = web_notify(stack, a)
    a_chat = web_chat(stack, conv, a)
    phone = phones(stack, b, protocol)

    call = initiate(stack, a, b, conv, call_type="voice")
    cid = call["call_id"]
    check_incoming(phone.expect("call.incoming"), call, a, conv)

    a_chat.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    offer = phone.expect("call.offer")
    assert (offer["call_type"], offer["offer"]) == ("voice", OFFER_SDP)
    check_stamp(offer, a, a_chat.ack["device_id"])
    room = a_chat.expect("call.offer")                 # the room copy on the chat page
    assert room["msg_id"] == offer["msg_id"]

    phone.send({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    answer = a_notify.expect("call.answer", skip=("call.accepted",))
    check_stamp(answer, b, phone.device)
    assert answer["receiver_id"] == b.id
    phone.expect("call.accepted")
    a_chat.expect_nothing(0.3)                          # routed frames reach notification sockets only

    phone.send({"type": "call.end", "call_id": cid, "reason": "declined"})   # a client's reason is ignored
    check_end(a_notify.expect("call.end", skip=("call.accepted",)), cid, "hangup", b.id)
    check_end(phone.expect("call.end"), cid, "hangup", b.id)
    body = status(stack, a, cid)
    assert (body["status"], body["end_reason"]) == ("ended", "hangup")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_phone_declines_a_ringing_call(stack, phones, protocol):
    a, b, conv = pair(stack)
    a_notify = web_notify(stack, a)
    phone = phones(stack, b, protocol)
    cid = initiate(stack, a, b, conv)["call_id"]
    phone.expect("call.incoming")
    phone.send({"type": "call.end", "call_id": cid})
    check_end(a_notify.expect("call.end"), cid, "declined", b.id)
    check_end(phone.expect("call.end"), cid, "declined", b.id)
    assert status(stack, a, cid)["status"] == "declined"


def test_phone_and_web_tab_ring_together_and_the_phone_answers(stack, phones):
    """The receiver's web tab and phone both ring; the phone answers: the
    tab gets call.accepted naming the phone's device (it stops ringing)."""
    a, b, conv = pair(stack)
    a_notify = web_notify(stack, a)
    b_tab = web_notify(stack, b)
    phone = phones(stack, b)
    call = initiate(stack, a, b, conv)
    cid = call["call_id"]
    check_incoming(phone.expect("call.incoming"), call, a, conv)
    check_incoming(b_tab.expect("call.incoming"), call, a, conv)

    phone.send({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_notify.expect("call.answer", skip=("call.accepted",))
    assert b_tab.expect("call.accepted")["device_id"] == phone.device
    assert phone.expect("call.accepted")["device_id"] == phone.device

    # A second answer, from the tab, is refused; nobody else hears of it.
    b_tab.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    assert b_tab.expect("error")["code"] == "invalid_state"
    phone.expect_nothing(0.3)


def test_a_phones_refused_frame_gets_an_error_with_its_device_id(stack, phones):
    """Rules answers a device's refused frame on the user's notification
    topic, with the refused frame's device_id (other devices ignore it);
    the counterpart hears nothing."""
    a, b, conv = pair(stack)
    a_notify = web_notify(stack, a)
    phone = phones(stack, b)
    cid = initiate(stack, a, b, conv)["call_id"]
    phone.expect("call.incoming")
    phone.send({"type": "call.offer", "call_id": "not-a-uuid", "offer": OFFER_SDP})
    err = phone.expect("error")
    assert (err["code"], err["device_id"]) == ("not_found", phone.device), err
    phone.send({"type": "call.answer", "call_id": cid})          # no answer field
    err = phone.expect("error")
    assert (err["code"], err["device_id"]) == ("bad_frame", phone.device), err
    expect_quiet(a_notify)


# ------------------------------------------------------------- presence

class PresenceWatch:
    """A service login (svc:rules, the stack's service secret, a client id
    of its own) subscribed to svc/presence/mqtt, where the plugin announces
    a user's first connection and last disconnection. Rules gets the same
    message at the same time, ahead of any later request, so once the watch
    has seen it, the next initiate sees the new presence."""

    def __init__(self, stack):
        self.events = queue.Queue()
        c = paho.Client(client_id=unique("svc-presence-watch"), protocol=V5)
        c.username_pw_set("svc:rules", stack.service_secret)
        ready = queue.Queue()
        c.on_connect = lambda cl, u, flags, rc, props=None: cl.subscribe("svc/presence/mqtt", qos=1)
        c.on_subscribe = lambda cl, u, mid, codes, props=None: ready.put([x.value for x in codes])
        c.on_message = lambda cl, u, m: self.events.put(json.loads(m.payload))
        c.connect("127.0.0.1", stack.mqtt_port, keepalive=30)
        c.loop_start()
        self.c = c
        assert ready.get(timeout=DEFAULT_WAIT) == [1]

    def wait(self, user_id, online, timeout=DEFAULT_WAIT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no presence {user_id} online={online} within {timeout}s") from None
            if ev.get("user_id") == user_id and ev.get("online") is online:
                return

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def presence(request):
    watches = []

    def make(stack):
        w = PresenceWatch(stack)
        watches.append(w)
        return w
    yield make
    for w in watches:
        w.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_receiver_online_follows_the_mqtt_session_not_the_persistent_one(stack, phones, presence, protocol):
    a, b, conv = pair(stack)
    a_notify = web_notify(stack, a)
    watch = presence(stack)

    def online():
        """receiver_online of a fresh call, which the caller cancels at once."""
        body = initiate(stack, a, b, conv)
        a_notify.send_json({"type": "call.end", "call_id": body["call_id"]})
        check_end(a_notify.expect("call.end"), body["call_id"], "cancelled", a.id)
        return body["receiver_online"]

    assert online() is False, "nobody connected yet"
    phone = phones(stack, b, protocol, persistent=True)
    assert online() is True, "only an MQTT session, and it counts"
    phone.disconnect()
    watch.wait(b.id, False)
    assert online() is False, "a disconnected persistent session does not count"
    phone.connect()
    watch.wait(b.id, True)
    assert online() is True


# ------------------------------------------------ ring while briefly offline

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_phone_back_inside_the_ring_window_still_rings(ring_stack, phones, presence, protocol):
    st = ring_stack
    a, b, conv = pair(st)
    a_notify = web_notify(st, a)
    watch = presence(st)
    phone = phones(st, b, protocol, persistent=True)
    phone.disconnect()
    watch.wait(b.id, False)

    call = initiate(st, a, b, conv)
    assert call["receiver_online"] is False
    cid = call["call_id"]
    a_notify.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})   # the caller does not wait
    time.sleep(RING_MS / 1000 / 3)                     # away for a third of the ring window

    assert phone.connect() is True, "the broker kept the phone's session"   # no SUBSCRIBE again
    incoming = phone.expect("call.incoming", timeout=RING_MS / 1000)
    check_incoming(incoming, call, a, conv)
    if protocol == V5:
        exp = message_expiry(phone.last)
        assert exp is not None and 0 < exp < RING_MS / 1000, f"remaining message expiry: {exp}"
    assert phone.expect("call.offer")["offer"] == OFFER_SDP   # queued too, expiring with the ring
    if protocol == V5:
        exp = message_expiry(phone.last)
        assert exp is not None and 0 < exp < RING_MS / 1000, f"the offer's remaining message expiry: {exp}"

    # Still ringing: the phone can answer.
    phone.send({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    check_stamp(a_notify.expect("call.answer", skip=("call.accepted",)), b, phone.device)
    phone.send({"type": "call.end", "call_id": cid})
    check_end(phone.expect("call.end", skip=("call.accepted",)), cid, "hangup", b.id)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_phone_back_after_the_ring_window_does_not_ring(ring_stack, phones, presence, protocol):
    st = ring_stack
    a, b, conv = pair(st)
    a_notify = web_notify(st, a)
    watch = presence(st)
    phone = phones(st, b, protocol, persistent=True)
    phone.disconnect()
    watch.wait(b.id, False)

    t0 = time.monotonic()
    call = initiate(st, a, b, conv)
    assert call["receiver_online"] is False
    cid = call["call_id"]
    # The caller's offer and ICE while it rings expire with the ring, as call.incoming does.
    a_notify.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    a_notify.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    wait_until(lambda: status(st, a, cid)["status"] == "missed", RING_MS / 1000 + 3,
               what="the call to go missed")
    # mosquitto keeps expiry times in whole seconds and drops a message once
    # now > publish + expiry: up to 1 s after the ring window closes.
    time.sleep(max(0.0, t0 + RING_MS / 1000 + 1.3 - time.monotonic()))

    assert phone.connect() is True, "the broker kept the phone's session"
    # The queued call.incoming, offer and ICE have expired on the broker: the phone only learns the
    # call was missed.
    end = phone.expect("call.end")
    check_end(end, cid, "missed", None)
    phone.expect_nothing()
    assert all(f["type"] != "call.incoming" for f in phone.received), phone.received


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_broker_restart_keeps_the_phones_session(fresh_stack, phones, protocol):
    """mosquitto.conf keeps persistence on: after a broker restart the phone's
    session (and its subscription) is still there, so it rings without
    subscribing again."""
    st = fresh_stack
    a, b, conv = pair(st)
    phone = phones(st, b, protocol, persistent=True)
    phone.disconnect()
    st.stop_broker()
    st.start_broker()
    wait_until(st._healthy, 10, what="GET /healthz 200 once bridge and rules are back on the broker")

    assert phone.connect() is True, "the session survived the restart"
    call = initiate(st, a, b, conv)
    check_incoming(phone.expect("call.incoming"), call, a, conv)


# ------------------------------------------------------------- the example

class Example:
    """examples/mobile_client.py as a process, its output lines read as they come."""

    def __init__(self, stack, user, device, *args, token=None):
        env = dict(os.environ)
        if token is not None:
            env["RINGMQ_TOKEN"] = token
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "examples", "mobile_client.py"), "--user", user.id, "--device",
             device, "--port", str(stack.mqtt_port)] + list(args),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=lambda: [self.lines.put(line.rstrip("\n")) for line in self.proc.stdout],
                         daemon=True).start()

    def wait_line(self, text, timeout=DEFAULT_WAIT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"example printed no {text!r} within {timeout}s: {self.seen}") from None
            self.seen.append(line)
            if text in line:
                return line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(DEFAULT_WAIT)


def test_examples_mobile_client_rings_answers_and_hangs_up(stack):
    """examples/mobile_client.py, as the README runs it, against the real
    stack: it logs in, rings, answers the offer, prints ICE and hangs up
    after --hangup-after; SIGTERM then stops it cleanly."""
    a, b, conv = pair(stack)
    a_notify = web_notify(stack, a)
    device = unique("example")
    ex = Example(stack, b, device, "--hangup-after", "0.5", token=b.token)
    try:
        ex.wait_line("listening on users/")
        call = initiate(stack, a, b, conv)
        cid = call["call_id"]
        assert call["receiver_online"] is True
        ex.wait_line("RING RING")
        a_notify.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
        answer = a_notify.expect("call.answer", skip=("call.accepted",))
        check_stamp(answer, b, device)
        a_notify.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
        ex.wait_line("ICE candidate from " + a.id)
        check_end(a_notify.expect("call.end", skip=("call.accepted",)), cid, "hangup", b.id)
        ex.wait_line("call ended: hangup")
        ex.proc.terminate()
        assert ex.proc.wait(DEFAULT_WAIT) == 0
    finally:
        ex.stop()


def test_examples_mobile_client_refreshes_its_token_before_the_broker_cuts_it(stack):
    """With --token-command, the example fetches a fresh token before its
    token's exp and reconnects with it: the broker, which disconnects a
    connection at its token's exp, never has to, and the client is still
    served after the first tokens' ends (a notification posted then
    arrives)."""
    _, b, _ = pair(stack)
    cmd = f"{TOKEN} --user {b.id} --ttl 4 --secret-file {os.path.join(stack.dir, 'jwt_secret')}"
    ex = Example(stack, b, unique("refresher"), "--token-command", cmd, "--refresh-margin", "2")
    try:
        ex.wait_line("listening on users/")
        t0 = time.monotonic()
        for _ in range(3):   # past two whole token lifetimes
            ex.wait_line("token refreshed", timeout=6)
            ex.wait_line("listening on users/")
        assert time.monotonic() - t0 >= 4.0
        assert stack.http.notify(b.id, {"after": "refreshes"}).status == 202
        ex.wait_line('notification: {"after": "refreshes"}')
        kicked = [line for line in open(stack.broker.log_path, errors="replace") if b.id in line and
                  "token expired" in line]
        assert not kicked, kicked
        ex.proc.terminate()
        assert ex.proc.wait(DEFAULT_WAIT) == 0
    finally:
        ex.stop()
