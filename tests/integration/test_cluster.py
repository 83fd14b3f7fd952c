"""Issue 16: ringmq on a clustered broker without our mosquitto plugin.

A real 2-node ejabberd 23.01 cluster on loopback (scripts/cluster: nodes
ringmq1@127.0.0.1 and ringmq2@127.0.0.1 with their own config, spool and
logs in a temp dir, mod_mqtt listeners on free ports, logins checked by
ringmq-ejabberd-auth, per-user topic rules with %u), and on it:

  node 1: ringmq-rules and bridge A   (--mqtt-host node1,node2)
  node 2: bridge B and the phones     (--mqtt-host node2,node1)

all with --broker-acl topics. The seed's three scenarios run as they are
(test_core's functions) with the first party (alice) on bridge A and the
second (bob) on bridge B; a phone rings, answers through its outbox and
hangs up; the ACL refusals that hold without our plugin; then node 1 stops
during an accepted call and bridge A and rules move to node 2.

Skipped, with the reason, when ejabberd is not installed (apt-get install
ejabberd; scripts/test installs it). Teardown stops our processes by PID and
the nodes with scripts/cluster stop (ejabberdctl stop, then the node's PID).
"""
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

import conftest
import test_core
from conftest import BRIDGE, BUILD_DIR, RULES, Proc
from ringmq_client import REPO, Http, free_port, unique, wait_until

EJABBERDCTL = shutil.which("ejabberdctl") or (os.path.exists("/usr/sbin/ejabberdctl") and "/usr/sbin/ejabberdctl")
pytestmark = pytest.mark.skipif(
    not EJABBERDCTL or os.geteuid() != 0,
    reason="the cluster tests need ejabberd (apt-get install ejabberd) and root (ejabberdctl drops to its user)")

from phone import Phone, User  # noqa: E402  (imports paho, skips without it)

CLUSTER = os.path.join(REPO, "scripts", "cluster")
RING_TIMEOUT_MS = 8000     # short, for the ringing call across the failover
CLUSTER_START_WAIT = 240   # two nodes, a join: ejabberdctl started polls every 2 s
FAILOVER_S = 10            # issue 16: bridge A and rules on node 2 within this


class ClusterStack(conftest.StackClient):
    """Duck-types conftest.Stack for test_core's helpers: .token(),
    .conversation(), .connect_notify(), .connect_chat(), .http, .db; a
    user's sockets go to bridge A when the user's id starts with "u0"
    (test_core's first party) or "alice", else to bridge B."""

    def __init__(self):
        self.name = "ejabberd cluster"
        self.dir = tempfile.mkdtemp(prefix="ringmq-cluster-")
        os.chmod(self.dir, 0o755)
        self.procs = []
        self._sockets = []
        conftest.make_secrets(self)
        self.node_ports = [free_port(), free_port()]
        self.mqtt_port = self.node_ports[1]          # phones: node 2
        self.db = os.path.join(self.dir, "ringmq.db")
        self.started_nodes = False
        try:
            self._cluster("start", "--ports", ",".join(map(str, self.node_ports)),
                          "--jwt-secret-file", os.path.join(self.dir, "jwt_secret"),
                          "--service-secret-file", os.path.join(self.dir, "service_secret"),
                          "--build-dir", BUILD_DIR, timeout=CLUSTER_START_WAIT)
            self.started_nodes = True
            n1, n2 = (f"127.0.0.1:{p}" for p in self.node_ports)
            self.rules = self._spawn("ringmq-rules", [
                RULES, "--mqtt-host", f"{n1},{n2}", "--mqtt-username", "svc-rules", "--broker-acl", "topics",
                "--service-secret-file", os.path.join(self.dir, "service_secret"),
                "--db", self.db, "--client-id", "ringmq-rules", "--ring-timeout-ms", str(RING_TIMEOUT_MS),
                "--log-level", "debug"])
            self.port_a, self.port_b = free_port(), free_port()
            self.bridge_a = self._bridge("ringmq-bridge-A", self.port_a, f"{n1},{n2}")
            self.bridge_b = self._bridge("ringmq-bridge-B", self.port_b, f"{n2},{n1}")
            for port, p in ((self.port_a, self.bridge_a), (self.port_b, self.bridge_b)):
                wait_until(lambda: self._healthy(port) or (not p.alive() and "exited"), conftest.START_WAIT,
                           what=f"{p.name}'s /healthz")
                assert p.alive(), f"{p.name} exited"
        except BaseException:
            print(self.logs())
            self.stop()
            raise
        self.http = Http(f"http://127.0.0.1:{self.port_a}", api_key=self.api_key)

    # -- parts
    def _cluster(self, *args, timeout=120):
        r = subprocess.run([CLUSTER, args[0], "--dir", self.dir] + list(args[1:]), capture_output=True, text=True,
                           timeout=timeout)
        with open(os.path.join(self.dir, "cluster.log"), "a") as f:
            f.write(f"$ scripts/cluster {' '.join(args)}\n{r.stdout}{r.stderr}")
        assert r.returncode == 0, f"scripts/cluster {args[0]}: {r.returncode}\n{r.stdout}{r.stderr}"
        return r.stdout

    def _bridge(self, name, port, hosts):
        return self._spawn(name, [
            BRIDGE, "--listen", "127.0.0.1", "--port", str(port), "--mqtt-host", hosts,
            "--mqtt-username", "svc-bridge", "--broker-acl", "topics",
            "--jwt-secret-file", os.path.join(self.dir, "jwt_secret"),
            "--api-key-file", os.path.join(self.dir, "api_key"),
            "--service-secret-file", os.path.join(self.dir, "service_secret"), "--log-level", "debug"])

    def _spawn(self, name, argv):
        p = Proc(name, argv, os.path.join(self.dir, name + ".log"), cwd=self.dir)
        self.procs.append(p)
        return p

    def _healthy(self, port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop_node(self, n):
        self._cluster("stop", "--node", str(n))

    def stop(self):
        for s in self._sockets:
            s.close()
        codes = {p.name: p.stop() for p in reversed(self.procs)}
        try:
            self._cluster("stop")
        except Exception as e:   # noqa: BLE001 - teardown reports, never hides the test's failure
            print(f"scripts/cluster stop: {e}")
        return codes

    SANITIZER_MARKS = conftest.Stack.SANITIZER_MARKS
    sanitizer_reports = conftest.Stack.sanitizer_reports

    def logs(self):
        parts = [f"----- {p.name} ({' '.join(p.argv)}) -----\n{p.tail()}" for p in self.procs]
        for n in (1, 2):
            path = os.path.join(self.dir, f"node{n}", "logs", "ejabberd.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    parts.append(f"----- ejabberd node {n} -----\n" + "".join(f.readlines()[-40:]))
        return "\n".join(parts)

    def log_of(self, p):
        with open(p.log_path, errors="replace") as f:
            return f.read()

    # -- what test_core's helpers call: conftest.StackClient's, with sockets
    # on bridge A or B by user
    ws_opts = {}

    def port_of(self, user):
        return self.port_a if str(user).startswith(("u0", "alice")) else self.port_b

    def ws_base_for(self, user):
        return f"ws://127.0.0.1:{self.port_of(user)}"

    def ws_label(self, user):
        return f"{user}@{'A' if self.port_of(user) == self.port_a else 'B'}"


def _make_cluster(request):
    return conftest.own_stack(request, ClusterStack())


@pytest.fixture(scope="module")
def cluster(request):
    return _make_cluster(request)


class Watcher:
    """A service login (svc-rules, its own client id) on node 1 subscribed
    to the topics given: what reaches them."""

    def __init__(self, st, filters):
        import paho.mqtt.client as paho
        self.got = []
        self.c = paho.Client(client_id="watch-" + secrets.token_hex(4), protocol=paho.MQTTv5)
        self.c.username_pw_set("svc-rules", st.service_secret)
        self.c.on_message = lambda cl, u, m: self.got.append((m.topic, m.payload))
        subacks = []
        self.c.on_subscribe = lambda cl, u, mid, codes, props=None: subacks.append(codes)
        self.c.connect("127.0.0.1", st.node_ports[0])
        self.c.loop_start()
        for f in filters:
            self.c.subscribe(f, qos=1)
        wait_until(lambda: len(subacks) == len(filters), 10, what="the watcher's SUBACKs")

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def phone_send(phone, frame):
    frame = dict(frame, device_id=phone.device)
    info = phone.publish(frame)
    info.wait_for_publish(5)


def online_phone(st, user):
    """A phone on node 2, subscribed, whose first ping made it present
    (--broker-acl topics: an outbox frame renews the user's lease)."""
    phone = Phone(st, user)
    phone_send(phone, {"type": "ping"})
    pong = phone.expect("pong")
    assert pong["device_id"] == phone.device, pong
    return phone


# ------------------------------------------------------- the seed on two bridges

def test_seed_1_on_two_bridges_and_two_nodes(cluster):
    test_core.test_seed_1_caller_on_chat_receiver_on_notifications_only(cluster)


def test_seed_2_on_two_bridges_and_two_nodes(cluster):
    test_core.test_seed_2_both_on_notification_sockets_only(cluster)


def test_seed_3_on_two_bridges_and_two_nodes(cluster):
    test_core.test_seed_3_both_on_chat_sockets(cluster)


def test_a_phone_on_node_2_rings_answers_and_hangs_up(cluster):
    """alice on bridge A (node 1) calls bob's phone (node 2): the phone
    rings, answers through its outbox with forged identity (properties and
    JSON fields, which must not survive), and hangs up."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    alice = User(cluster, "alice")
    bob = User(cluster, "bob")
    conv = cluster.conversation([alice.id, bob.id])
    a_notify = cluster.ws_notify(alice.id, token=alice.token)
    a_notify.ack = a_notify.expect("connection.ack")
    phone = online_phone(cluster, bob)

    res = cluster.http.initiate(alice.token, bob.id, conv, "video")
    assert res.status == 201, res
    call = res.body
    cid = call["call_id"]
    assert call["receiver_online"] is True, "the phone's lease counts it present"
    inc = phone.expect("call.incoming")
    assert (inc["call_id"], inc["caller_id"], inc["caller_username"]) == (cid, alice.id, alice.name), inc

    a_notify.send_json({"type": "call.offer", "call_id": cid, "offer": test_core.OFFER_SDP, "call_type": "video"})
    offer = phone.expect("call.offer")
    assert (offer["sender_id"], offer["sender_username"], offer["from_device"]) == \
        (alice.id, alice.name, a_notify.ack["device_id"]), offer

    # Forged: user properties (no plugin strips them here) and JSON fields.
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("sender_id", alice.id), ("sender_username", "forged"), ("from_device", "forged")]
    props.ResponseTopic = "svc/bridges/b-0000000000000000/replies"
    frame = {"type": "call.answer", "call_id": cid, "answer": test_core.ANSWER_SDP, "device_id": phone.device,
             "sender_id": alice.id, "sender_username": "forged", "receiver_id": alice.id}
    phone.c.publish(phone.outbox, json.dumps(frame), qos=1, properties=props).wait_for_publish(5)
    answer = a_notify.expect("call.answer", skip=("call.accepted",))
    assert (answer["call_id"], answer["receiver_id"]) == (cid, bob.id), answer
    # Without the plugin, the name a phone's frames carry is its id (docs/scaling.md).
    assert (answer["sender_id"], answer["sender_username"], answer["from_device"]) == \
        (bob.id, bob.id, phone.device), answer
    acc = phone.expect("call.accepted")
    assert acc["device_id"] == phone.device, acc

    phone_send(phone, {"type": "call.ice_candidate", "call_id": cid, "candidate": test_core.CANDIDATE})
    ice = a_notify.expect("call.ice_candidate", skip=("call.accepted",))
    assert (ice["sender_id"], ice["from_device"]) == (bob.id, phone.device), ice

    phone_send(phone, {"type": "call.end", "call_id": cid, "reason": "hangup"})
    test_core.check_end(a_notify.expect("call.end", skip=("call.accepted",)), cid, "hangup", bob.id)
    test_core.check_end(phone.expect("call.end"), cid, "hangup", bob.id)
    test_core.assert_status(cluster, alice, cid, "ended", "hangup", bob.id)
    phone.close()


# ------------------------------------------------------------- topic rules

REFUSED = 0x80   # SUBACK codes >= this are failures


def suback(phone, topic):
    rc, _ = phone.c.subscribe(topic, qos=1)
    assert rc == 0
    codes = phone.subacks.get(timeout=5)
    return codes[0]


def test_acl_refusals_without_the_plugin(cluster):
    """What test_mqtt_auth.py refuses that the broker's own rules can hold:
    another user's topics, wildcards, $SYS, $share, service topics; and the
    publishes a user may not make reach no one."""
    bob = User(cluster, "bob")
    carol = User(cluster, "carol")
    phone = Phone(cluster, bob)
    own = f"users/{bob.id}"
    for topic in (f"users/{carol.id}/notifications", f"users/{carol.id}/outbox", f"{own}/outbox", f"{own}/#",
                  f"{own}/+", "users/+/notifications", "users/#", "#", "+/#", "$SYS/#", "$SYS/broker/uptime",
                  "chats/#", "chats/c1/messages", "svc/#",
                  "svc/rules/requests", "svc/bridges/+/replies", "svc/presence/mqtt"):
        assert suback(phone, topic) >= REFUSED, f"{bob.id} may subscribe to {topic}"
    # No shared subscriptions in ejabberd: refused with a failure SUBACK or
    # by ending the connection (0x9E); either way nothing is delivered.
    sharer = Phone(cluster, bob, subscribe=False)
    sharer.c.subscribe(f"$share/g/{own}/notifications", qos=1)
    wait_until(lambda: sharer.gone.is_set() or (not sharer.subacks.empty() and sharer.subacks.queue[0][0] >= REFUSED),
               5, what="$share refused")
    sharer.close()

    watch = Watcher(cluster, ["users/+/outbox", "users/+/notifications", "chats/#", "svc/#"])
    try:
        for topic in (f"users/{carol.id}/outbox", f"users/{carol.id}/notifications", f"{own}/notifications",
                      "chats/c1/in", "chats/c1/messages", "svc/rules/requests", "svc/presence/mqtt",
                      "svc/in/users/" + bob.id, "svc/bridges/b-0000000000000000/replies",
                      "svc/revocations/" + carol.id):
            phone.c.publish(topic, json.dumps({"type": "ping", "device_id": phone.device}), qos=1)
        # ... and one it may: the watcher sees it, so it would have seen the others.
        phone_send(phone, {"type": "ping"})
        wait_until(lambda: any(t == f"{own}/outbox" for t, _ in watch.got), 5, what="the allowed publish")
        time.sleep(0.3)
        leaked = [t for t, _ in watch.got if t not in (f"{own}/outbox", f"{own}/notifications")]
        assert not leaked, f"refused publishes reached a service: {leaked}"
        mine = [p for t, p in watch.got if t == f"{own}/notifications"]
        assert all(json.loads(p).get("type") == "pong" for p in mine), mine   # rules' pong only
    finally:
        watch.close()
        phone.close()


def test_upper_case_ids_are_refused_on_a_case_folding_broker(cluster):
    """ejabberd lower-cases user names (its %u matches users/BOB/... for
    bob): a token for "Bob" is refused at the broker and by the bridge, and
    a frame bob publishes to users/BOB/outbox is dropped by rules."""
    import paho.mqtt.client as paho
    upper = "Bob" + unique("x")[1:]
    tok = cluster.token(upper)
    ws = cluster.ws_notify(upper, token=tok)
    assert ws.expect_close() == 4401
    c = paho.Client(client_id=f"{upper}:d1", protocol=paho.MQTTv5)
    c.username_pw_set(upper, tok)
    codes = []
    c.on_connect = lambda cl, u, f, rc, props=None: codes.append(rc.value if hasattr(rc, "value") else rc)
    c.connect("127.0.0.1", cluster.mqtt_port)
    c.loop_start()
    wait_until(lambda: codes, 10, what="a CONNACK")
    c.loop_stop()
    assert codes[0] != 0, "the broker took a token whose id has upper case"

    bob = User(cluster, "bob")
    phone = Phone(cluster, bob)
    phone.c.publish(f"users/{bob.id.upper()}/outbox", json.dumps({"type": "ping", "device_id": phone.device}), qos=1)
    assert phone.drain(1.0) == [], "a frame on users/<BOB>/outbox was answered"
    assert "a user id with upper case on a case-folding broker: dropped" in cluster.log_of(cluster.rules)
    phone.close()


# ---------------------------------------------------------------- failover

def test_node_1_stops_during_an_accepted_call(cluster):
    """alice (bridge A) and bob (bridge B) in an accepted call, carol (A)
    ringing dave (B); node 1, which holds bridge A and rules, stops: both
    reconnect to node 2 within FAILOVER_S, ICE sent meanwhile is delivered
    or answered unavailable, alice can still hang up, and the ringing call's
    time-out fires once. Last in this module: node 1 stays down."""
    alice = test_core.Party(cluster, unique("u0alice"))
    bob = test_core.Party(cluster, unique("u1bob"))
    conv = cluster.conversation([alice.id, bob.id])
    a = cluster.connect_notify(alice.id)
    b = cluster.connect_notify(bob.id)
    call = test_core.initiate(cluster, alice, bob, conv)
    cid = call["call_id"]
    b.expect("call.incoming")
    b.send_json({"type": "call.answer", "call_id": cid, "answer": test_core.ANSWER_SDP})
    a.expect("call.answer", skip=("call.accepted",))
    b.expect("call.accepted")
    test_core.assert_status(cluster, alice, cid, "accepted")
    carol = test_core.Party(cluster, unique("u0carol"))
    dave = test_core.Party(cluster, unique("u1dave"))
    conv2 = cluster.conversation([carol.id, dave.id])
    c = cluster.connect_notify(carol.id)
    d = cluster.connect_notify(dave.id)
    ringing = test_core.initiate(cluster, carol, dave, conv2)
    incoming_msg_id = d.expect("call.incoming")["msg_id"]

    node2 = f"broker 127.0.0.1:{cluster.node_ports[1]} connected"
    before = {p.name: cluster.log_of(p).count(node2) for p in (cluster.rules, cluster.bridge_a)}
    t0 = time.monotonic()
    cluster.stop_node(1)
    a.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": test_core.CANDIDATE})
    for p in (cluster.rules, cluster.bridge_a):
        wait_until(lambda: cluster.log_of(p).count(node2) > before[p.name], FAILOVER_S - (time.monotonic() - t0),
                   what=f"{p.name} on node 2")
    moved_s = time.monotonic() - t0
    assert moved_s < FAILOVER_S, moved_s

    # The candidate sent during the outage: delivered to bob, or refused to alice.
    got = None
    deadline = time.monotonic() + 5
    while got is None and time.monotonic() < deadline:
        try:
            got = ("delivered", b.expect("call.ice_candidate", timeout=0.2))
        except AssertionError:
            try:
                err = a.expect("error", timeout=0.2, skip=("call.accepted",))
                assert err["code"] == "unavailable", err
                got = ("refused", err)
            except AssertionError:
                pass
    assert got is not None, "the candidate sent while node 1 stopped was neither delivered nor refused"

    # The call can still be hung up (bridge A -> node 2 -> rules -> bridge B).
    wait_until(lambda: cluster._healthy(cluster.port_a), 5, what="bridge A's /healthz")
    a.send_json({"type": "call.end", "call_id": cid, "reason": "hangup"})
    test_core.check_end(b.expect("call.end", skip=("call.ice_candidate",)), cid, "hangup", alice.id)
    test_core.check_end(a.expect("call.end", skip=("call.accepted", "error")), cid, "hangup", alice.id)
    test_core.assert_status(cluster, bob, cid, "ended", "hangup", alice.id)

    # The ringing call: missed once, when its time-out comes (not before, not twice).
    rid = ringing["call_id"]
    for ws in (c, d):
        ws.skipped = []
        test_core.check_end(ws.expect("call.end", timeout=RING_TIMEOUT_MS / 1000 + 5, skip=("call.incoming",)),
                            rid, "missed", None)
        # Delivery is at least once: a copy the broker hands again across
        # the node's loss is the same frame (same msg_id), never a new ring.
        assert all(f["msg_id"] == incoming_msg_id for f in ws.skipped), ws.skipped
    test_core.assert_status(cluster, carol, rid, "missed", "missed")
    for ws in (c, d):
        ws.expect_nothing(1.0)
