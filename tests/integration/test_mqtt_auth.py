"""The broker auth plugin (bridge/plugin, ringmq_auth.so) against the real
mosquitto: logins, every bypass form of issue 4, property rewriting, wills,
presence and a persistent session. Self-contained: its own broker on a free
loopback port with a temp config that loads the plugin and temp secret files.

Run:  /usr/bin/python3 -m pytest -q tests/integration/test_mqtt_auth.py
The plugin comes from $RINGMQ_AUTH_PLUGIN, else the build the other
integration tests use: $RINGMQ_BUILD_DIR (default <repo>/build)/bridge/plugin.

Two clients are used: paho (python3-paho-mqtt 1.6) for subscriptions and
properties, and a few lines of raw MQTT below for what paho 1.6 does not
show (the CONNACK of a refused login as sent, the v5 PUBACK reason code).
"""
import base64
import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

paho = pytest.importorskip("paho.mqtt.client")
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MOSQUITTO = os.environ.get("RINGMQ_MOSQUITTO", "/usr/sbin/mosquitto")
WAIT = 5.0        # seconds any expected packet may take
QUIET = 1.0       # seconds a subscriber must stay silent to pass "nothing leaks"
V5, V311 = paho.MQTTv5, paho.MQTTv311
PROTOCOLS = [pytest.param(V5, id="v5"), pytest.param(V311, id="v311")]


def plugin_path():
    p = os.environ.get("RINGMQ_AUTH_PLUGIN")
    if p:
        return p
    build = os.environ.get("RINGMQ_BUILD_DIR") or os.path.join(REPO, "build")
    p = os.path.join(build, "bridge", "plugin", "ringmq_auth.so")
    return p if os.path.exists(p) else None


# ---------------------------------------------------------------- tokens

def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def token(secret, claims, alg="HS256", sign_with=None):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signing = head + "." + body
    if alg == "none":
        return signing + "."
    key = (sign_with or secret).encode()
    return signing + "." + b64url(hmac.new(key, signing.encode(), hashlib.sha256).digest())


def unique(prefix):
    return prefix + "-" + secrets.token_hex(4)


# ---------------------------------------------------------------- the broker

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, plugin, tmp):
        self.jwt_secret = secrets.token_hex(32)
        self.service_secret = secrets.token_hex(24)
        self.dir = tmp
        for name, value in (("jwt_secret", self.jwt_secret), ("service_secret", self.service_secret)):
            path = os.path.join(tmp, name)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(value + "\n")
        self.plugin = plugin
        self.log_path = os.path.join(tmp, "mosquitto.log")
        self.proc = None

    def start(self):
        for _ in range(5):  # another process may take the free port first
            self.port = free_port()
            conf = os.path.join(self.dir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write("\n".join([
                    "per_listener_settings false",
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous false",
                    f"plugin {self.plugin}",
                    f"plugin_opt_jwt_secret_file {self.dir}/jwt_secret",
                    f"plugin_opt_service_secret_file {self.dir}/service_secret",
                    "persistence false",
                    "log_dest stderr",
                    "log_type all",
                    "user " + ("root" if os.getuid() == 0 else os.environ.get("USER", "nobody")),
                    ""]))
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                    return
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("mosquitto did not start:\n" + self.tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        if self.proc:
            self.log.close()

    def tail(self, n=60):
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])

    def user_token(self, user, name=None, ttl=600, **extra):
        claims = {"sub": user, "name": name or user + " (token)", "exp": int(time.time()) + ttl}
        claims.update(extra)
        return token(self.jwt_secret, claims)


@pytest.fixture(scope="module")
def broker():
    plugin = plugin_path()
    # The plugin is part of every build: a missing one is a failure, not a skip.
    assert plugin, "ringmq_auth.so not built (cmake --build; or set RINGMQ_AUTH_PLUGIN)"
    if not os.path.exists(MOSQUITTO):
        pytest.skip("no mosquitto at " + MOSQUITTO)
    tmp = tempfile.mkdtemp(prefix="ringmq-auth-")
    b = Broker(plugin, tmp)
    b.start()
    yield b
    b.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def broker_log_on_failure(request, broker):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("---- mosquitto log ----\n" + broker.tail())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ---------------------------------------------------------------- paho client

class Client:
    """A paho client with its callbacks turned into queues."""

    def __init__(self, broker, client_id, username, password, protocol=V5, clean=True, will=None,
                 session_expiry=0):
        self.protocol = protocol
        kw = {"protocol": protocol}
        if protocol != V5:
            kw["clean_session"] = clean
        self.c = paho.Client(client_id=client_id, **kw)
        self.c.username_pw_set(username, password)
        self.messages = queue.Queue()
        self.connack = queue.Queue()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        if will:
            self.c.will_set(*will)
        props = None
        if protocol == V5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry
        self.c.connect("127.0.0.1", broker.port, keepalive=30,
                       **({"clean_start": clean, "properties": props} if protocol == V5 else {}))
        self.c.loop_start()
        rc = self.connack.get(timeout=WAIT)
        if rc != 0:
            self.close()
            raise ConnectionRefusedError(rc)

    def _on_connect(self, c, u, flags, rc, props=None):
        self.connack.put(rc if isinstance(rc, int) else rc.value)

    def subscribe(self, topic, qos=1):
        """The SUBACK's code: the granted QoS, or >= 0x80 when refused.
        One subscription at a time, so the callback needs no mid."""
        box = queue.Queue()
        self.c.on_subscribe = lambda c, u, mid, codes, props=None: box.put(
            [x if isinstance(x, int) else x.value for x in codes])
        rc, _ = self.c.subscribe(topic, qos)
        assert rc == paho.MQTT_ERR_SUCCESS
        return box.get(timeout=WAIT)[0]

    def publish(self, topic, payload, qos=1, props=None, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=props)
        info.wait_for_publish(WAIT)

    def expect(self, timeout=WAIT):
        return self.messages.get(timeout=timeout)

    def expect_nothing(self, quiet=QUIET):
        try:
            m = self.messages.get(timeout=quiet)
        except queue.Empty:
            return
        raise AssertionError(f"leak: {m.topic} {m.payload!r}")

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def user_client(broker, user, protocol=V5, device="phone", **kw):
    return Client(broker, f"{user}:{device}", user, broker.user_token(user), protocol, **kw)


def service(broker, name="rules", **kw):
    return Client(broker, unique("svc-" + name), "svc:" + name, broker.service_secret, **kw)


# ---------------------------------------------------------------- raw MQTT

def varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


class Raw:
    """Just enough MQTT to see CONNACK and PUBACK codes as the broker sends them."""

    def __init__(self, broker, client_id, username, password, v5=True):
        self.v5 = v5
        self.s = socket.create_connection(("127.0.0.1", broker.port), WAIT)
        self.s.settimeout(WAIT)
        flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
        var = utf8("MQTT") + bytes([5 if v5 else 4, flags]) + struct.pack("!H", 30)
        if v5:
            var += varint(0)
        body = var + utf8(client_id)
        if username is not None:
            body += utf8(username)
        if password is not None:
            body += utf8(password)
        self.send(0x10, body)

    def send(self, first, body):
        self.s.sendall(bytes([first]) + varint(len(body)) + body)

    def recv(self):
        """(packet type byte, body), or None when the broker closed."""
        head = self.s.recv(1)
        if not head:
            return None
        n, shift = 0, 0
        while True:
            b = self.s.recv(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        body = b""
        while len(body) < n:
            chunk = self.s.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return head[0], body

    def connack(self):
        pkt = self.recv()
        assert pkt and pkt[0] == 0x20, pkt
        return pkt[1][1]

    def publish_qos1(self, topic, payload, mid=1):
        body = utf8(topic) + struct.pack("!H", mid) + (varint(0) if self.v5 else b"") + payload
        self.send(0x32, body)
        pkt = self.recv()
        assert pkt and pkt[0] == 0x40, pkt
        return pkt[1][2] if len(pkt[1]) > 2 else 0  # v5 reason code, 0 when omitted

    def ping(self):
        self.send(0xC0, b"")
        pkt = self.recv()
        return pkt is not None and pkt[0] == 0xD0

    def close(self):
        self.s.close()


NOT_AUTHORIZED_V5 = 0x87
BAD_CREDENTIALS_V5 = 0x86
NOT_AUTHORIZED_V311 = 5


# ---------------------------------------------------------------- logins

def bad_logins(b):
    """(name, username, password, client id) that must be refused at CONNECT."""
    now = int(time.time())
    alice = {"sub": "alice", "name": "Alice", "exp": now + 600}
    good = token(b.jwt_secret, alice)
    head, body, sig = good.split(".")
    forged_body = b64url(json.dumps({"sub": "bob", "exp": now + 600}).encode())
    return [
        ("wrong secret", "alice", token(b.jwt_secret, alice, sign_with="not-the-secret"), "alice:p"),
        ("expired", "alice", token(b.jwt_secret, dict(alice, exp=now - 5)), "alice:p"),
        ("no exp", "alice", token(b.jwt_secret, {"sub": "alice"}), "alice:p"),
        ("alg none", "alice", token(b.jwt_secret, alice, alg="none"), "alice:p"),
        ("alg HS512 label", "alice", token(b.jwt_secret, alice, alg="HS512"), "alice:p"),
        ("bad signature", "alice", head + "." + body + "." + sig[:-2] + ("AA" if sig[-2:] != "AA" else "BA"),
         "alice:p"),
        ("payload swapped", "bob", head + "." + forged_body + "." + sig, "bob:p"),
        ("no user id", "alice", token(b.jwt_secret, {"name": "x", "exp": now + 600}), "alice:p"),
        ("garbage", "alice", "not.a.jwt", "alice:p"),
        ("empty password", "alice", "", "alice:p"),
        ("no password", "alice", None, "alice:p"),
        ("username is not sub", "bob", good, "bob:p"),
        ("client id of another user", "alice", good, "bob:phone"),
        ("client id without device", "alice", good, "alice"),
        ("client id of a service", "alice", good, "ringmq-rules"),
        ("username +", "+", token(b.jwt_secret, dict(alice, sub="+")), "+:p"),
        ("username #", "#", token(b.jwt_secret, dict(alice, sub="#")), "#:p"),
        ("username with /", "a/b", token(b.jwt_secret, dict(alice, sub="a/b")), "a/b:p"),
        ("no username", None, good, "alice:p"),
        ("service, wrong secret", "svc:rules", "nope", "svc-x"),
        ("service, user token", "svc:bridge", good, "svc-y"),
        ("service, no password", "svc:rules", None, "svc-z"),
        ("unknown service", "svc:admin", b.service_secret, "svc-w"),
    ]


@pytest.mark.parametrize("v5", [True, False], ids=["v5", "v311"])
def test_bad_logins_refused_at_connect(broker, v5):
    for name, user, pw, cid in bad_logins(broker):
        if not v5 and user is None and pw is not None:
            continue  # MQTT 3.1.1 forbids a password without a username
        raw = Raw(broker, cid, user, pw, v5=v5)
        try:
            code = raw.connack()
            assert code in ((NOT_AUTHORIZED_V5, BAD_CREDENTIALS_V5) if v5 else (NOT_AUTHORIZED_V311, 4)), \
                f"{name}: CONNACK {code:#x}"
            assert raw.recv() is None, f"{name}: connection left open"
        finally:
            raw.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_good_logins(broker, protocol):
    user_client(broker, unique("u"), protocol).close()
    uid = unique("dj")  # SimpleJWT: the id in user_id, no sub
    c = Client(broker, uid + ":p", uid, token(broker.jwt_secret, {"user_id": uid, "exp": int(time.time()) + 60}),
               protocol)
    c.close()
    service(broker, "rules", protocol=protocol).close()
    service(broker, "bridge", protocol=protocol).close()


# ---------------------------------------------------------------- bypasses

BYPASS_FILTERS = [
    "#", "+", "+/#", "+/+/+", "users/#", "users/+/notifications", "users/+/+", "users/+/#",
    "users/{other}/notifications", "users/{other}/#", "users/{other}/+", "users/{me}/#",
    "users/{me}/+", "users/{me}/outbox", "$share/g/users/{other}/notifications",
    "$share/g/users/{me}/notifications", "$share/g/#", "$SYS/#", "$SYS/broker/uptime", "chats/#",
    "chats/+/messages", "svc/#", "svc/presence/#", "svc/rules/requests",
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bypass_subscriptions_refused_and_nothing_leaks(broker, protocol):
    me, other = unique("eve"), unique("victim")
    bridge = service(broker, "bridge")
    rules = service(broker, "rules")
    eve = user_client(broker, me, protocol)
    try:
        for f in BYPASS_FILTERS:
            code = eve.subscribe(f.format(me=me, other=other))
            assert code >= 0x80, f"{f}: SUBACK {code:#x}"
        # Everything a service may put out, aimed at the victim and the rooms.
        bridge.publish(f"users/{other}/notifications", b'{"type": "call.incoming"}')
        bridge.publish(f"users/{other}/outbox", b'{"type": "call.answer"}')
        bridge.publish("chats/c1/in", b'{"type": "chat.message"}')
        bridge.publish("svc/rules/requests", b'{"op": "ping"}')
        rules.publish("chats/c1/messages", b'{"type": "chat.message"}')
        rules.publish(f"users/{other}/notifications", b'{"type": "call.end"}')
        rules.publish(f"users/{me}/notifications/x", b'{"type": "deeper"}')
        eve.expect_nothing()
        # The connection is up and its own topic works.
        assert eve.subscribe(f"users/{me}/notifications") == 1
        rules.publish(f"users/{me}/notifications", b'{"type": "mine"}')
        m = eve.expect()
        assert (m.topic, m.payload) == (f"users/{me}/notifications", b'{"type": "mine"}')
        eve.expect_nothing()
    finally:
        eve.close()
        rules.close()
        bridge.close()


@pytest.mark.parametrize("v5", [True, False], ids=["v5", "v311"])
def test_publishes_to_others_dropped_and_connection_stays(broker, v5):
    me, other = unique("eve"), unique("victim")
    rules = service(broker, "rules")
    bridge = service(broker, "bridge")
    for f in ("users/+/outbox", "chats/+/in", "svc/rules/requests", "svc/presence/#"):
        assert rules.subscribe(f) == 1
    for f in ("users/+/notifications", "chats/+/messages", "svc/rules/hello"):
        assert bridge.subscribe(f) == 1
    raw = Raw(broker, me + ":p", me, broker.user_token(me), v5=v5)
    try:
        assert raw.connack() == 0
        assert presence_events(rules) == {"user_id": me, "online": True}  # the plugin's, expected
        for topic in (f"users/{other}/outbox", f"users/{other}/notifications", f"users/{me}/notifications",
                      f"users/{me}/outbox/x", "chats/c1/in", "chats/c1/messages", "svc/rules/requests",
                      "svc/presence/mqtt", "svc/rules/hello", "svc/bridges/b-0123456789abcdef/replies",
                      "$SYS/broker/x"):
            code = raw.publish_qos1(topic, b'{"type": "call.end", "call_id": "x"}')
            if v5:
                assert code == NOT_AUTHORIZED_V5, f"{topic}: PUBACK {code:#x}"
        rules.expect_nothing()
        bridge.expect_nothing()
        assert raw.ping(), "connection dropped"
        # Still allowed: the own outbox.
        assert raw.publish_qos1(f"users/{me}/outbox", b'{"type": "ping"}') == 0
        m = rules.expect()
        assert m.topic == f"users/{me}/outbox"
    finally:
        raw.close()
        rules.close()
        bridge.close()


def test_retained_outbox_publish_refused(broker):
    me = unique("eve")
    rules = service(broker, "rules")
    assert rules.subscribe(f"users/{me}/outbox") == 1
    eve = user_client(broker, me)
    try:
        eve.publish(f"users/{me}/outbox", b'{"type": "call.end"}', retain=True)
        rules.expect_nothing()
        late = service(broker, "rules")
        assert late.subscribe(f"users/{me}/outbox") == 1
        late.expect_nothing()
        late.close()
    finally:
        eve.close()
        rules.close()


# ---------------------------------------------------------------- properties

def user_props(m):
    props = getattr(m, "properties", None)
    return list(getattr(props, "UserProperty", []) or [])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_forged_properties_replaced(broker, protocol):
    me = unique("mob")
    rules = service(broker, "rules")
    assert rules.subscribe("users/+/outbox") == 1
    c = Client(broker, me + ":phone", me, broker.user_token(me, name="Ada Lovelace"), protocol)
    try:
        props = None
        if protocol == V5:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("sender_username", "The CEO"), ("sender_id", "ceo"), ("from_device", "x"),
                                  ("sender_username", "again")]
            props.ResponseTopic = "users/ceo/notifications"
            props.CorrelationData = b"d:x"
        frame = b'{"type": "call.end", "call_id": "00000000-0000-4000-8000-000000000000", "device_id": "phone"}'
        c.publish(f"users/{me}/outbox", frame, props=props)
        m = rules.expect()
        assert m.topic == f"users/{me}/outbox" and m.payload == frame
        assert sorted(user_props(m)) == [("sender_id", me), ("sender_username", "Ada Lovelace")]
        assert not getattr(m.properties, "ResponseTopic", None)
        assert not getattr(m.properties, "CorrelationData", None)
    finally:
        c.close()
        rules.close()


def test_bridge_properties_untouched(broker):
    rules = service(broker, "rules")
    assert rules.subscribe("users/+/outbox") == 1
    bridge = service(broker, "bridge")
    try:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("sender_id", "u1"), ("sender_username", "U One"), ("from_device", "d1")]
        props.ResponseTopic = "svc/bridges/b-0123456789abcdef/replies"
        bridge.publish("users/u1/outbox", b"{}", props=props)
        m = rules.expect()
        assert sorted(user_props(m)) == [("from_device", "d1"), ("sender_id", "u1"), ("sender_username", "U One")]
        assert m.properties.ResponseTopic == "svc/bridges/b-0123456789abcdef/replies"
    finally:
        bridge.close()
        rules.close()


# ---------------------------------------------------------------- wills

def kill_socket(client):
    """Drops the TCP connection without DISCONNECT, so the will fires."""
    sock = client.c.socket()
    client.c.loop_stop()
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_user_wills_never_sent(broker, protocol):
    me, other = unique("w"), unique("victim")
    rules = service(broker, "rules")
    bridge = service(broker, "bridge")
    assert rules.subscribe("users/+/outbox") == 1
    assert bridge.subscribe(f"users/{other}/notifications") == 1
    for topic in (f"users/{me}/outbox", f"users/{other}/notifications"):
        c = user_client(broker, me, protocol, will=(topic, b'{"type": "call.end"}', 1))
        kill_socket(c)
    # A session takeover sends the old connection's will too (it is not
    # persistent): the newer login has superseded it, so it is refused.
    old = user_client(broker, me, protocol, will=(f"users/{me}/outbox", b'{"type": "call.end"}', 1))
    old.c.loop_stop()
    new = user_client(broker, me, protocol)
    rules.expect_nothing()
    new.close()
    bridge.expect_nothing()
    rules.close()
    bridge.close()


def test_service_will_delivered(broker):
    rules = service(broker, "rules")
    assert rules.subscribe("svc/presence/#") == 1
    topic = "svc/presence/b-00112233445566aa"
    bridge = service(broker, "bridge", will=(topic, b'{"snapshot": []}', 1))
    kill_socket(bridge)
    m = rules.expect()
    assert (m.topic, m.payload) == (topic, b'{"snapshot": []}')
    rules.close()


# ---------------------------------------------------------------- presence

def presence_events(rules, timeout=WAIT):
    m = rules.expect(timeout)
    assert m.topic == "svc/presence/mqtt"
    return json.loads(m.payload)


def test_presence_counts_sessions(broker):
    me = unique("p")
    rules = service(broker, "rules")
    assert rules.subscribe("svc/presence/mqtt") == 1
    try:
        a = user_client(broker, me, device="phone")
        assert presence_events(rules) == {"user_id": me, "online": True}
        b = user_client(broker, me, V311, device="tablet")
        a.close()
        rules.expect_nothing()            # 2 -> 1: still online
        # A takeover of the same client id is not an offline step either
        # (b's network thread stops first, so paho does not fight back).
        b.c.loop_stop()
        b2 = user_client(broker, me, V311, device="tablet")
        rules.expect_nothing()
        b2.close()
        assert presence_events(rules) == {"user_id": me, "online": False}

        # Rules' hello is answered with the snapshot of MQTT users.
        c = user_client(broker, me)
        assert presence_events(rules) == {"user_id": me, "online": True}
        rules.publish("svc/rules/hello", b"{}")
        snap = presence_events(rules)
        assert me in snap["snapshot"]
        c.close()
        assert presence_events(rules) == {"user_id": me, "online": False}
    finally:
        rules.close()


def test_bridge_hello_is_not_answered(broker):
    rules = service(broker, "rules")
    assert rules.subscribe("svc/presence/mqtt") == 1
    bridge = service(broker, "bridge")
    try:
        bridge.publish("svc/rules/hello", b"{}")  # refused: only rules says hello
        rules.expect_nothing()
    finally:
        bridge.close()
        rules.close()


# ---------------------------------------------------------------- sessions

def test_offline_persistent_session_still_queues(broker):
    """The read check goes by username, so a phone's queue fills while it is
    away and drains on its return (issue 4, "ring while briefly offline")."""
    me = unique("off")
    c = user_client(broker, me, clean=False, session_expiry=300)
    assert c.subscribe(f"users/{me}/notifications") == 1
    c.close()
    rules = service(broker, "rules")
    rules.publish(f"users/{me}/notifications", b'{"type": "call.incoming"}')
    rules.publish(f"users/{me}/outbox", b"{}")  # refused for rules: never queued for anyone
    rules.close()
    c = user_client(broker, me, clean=False, session_expiry=300)
    try:
        m = c.expect()
        assert (m.topic, m.payload) == (f"users/{me}/notifications", b'{"type": "call.incoming"}')
        c.expect_nothing()
    finally:
        c.close()


def test_other_user_cannot_take_a_session(broker):
    me, other = unique("a"), unique("b")
    victim = user_client(broker, other, clean=False, session_expiry=300)
    try:
        with pytest.raises(ConnectionRefusedError):
            Client(broker, other + ":phone", me, broker.user_token(me), clean=False, session_expiry=300)
        assert victim.c.is_connected()
        assert victim.subscribe(f"users/{other}/notifications") == 1
    finally:
        victim.close()
