"""Beyond the happy path: busy and glare, a rules restart with a ringing
call, 503 when rules is gone, origin checks and socket limits; then faults
and floods (issue 6): the broker and rules restarted under load, two
bridges, a slow reader among 100 clients, a flood, SIGTERM, and a check that
every bound of the bridge has a name."""
import json
import os
import re
import signal
import time

import pytest
import websocket

from conftest import MOSQUITTO, _make_stack
from ringmq_client import REPO, Closed, Ws, expect_quiet, port_open, unique, wait_until
from test_core import ANSWER_SDP, CANDIDATE, OFFER_SDP, assert_status, check_end, initiate, parties
from test_ws_protocol import RawWs, start_extra_bridge, stop_extra_bridge


def test_glare_answers_409_busy_with_the_ringing_call(stack):
    (a, b), conv = parties(stack)
    first = initiate(stack, a, b, conv)
    res = stack.http.initiate(b.token, a.id, conv)
    assert res.status == 409, res
    assert res.body["error"] == "busy"
    assert res.body.get("call_id") == first["call_id"], "glare: the 409 names the ringing call"


def test_busy_while_in_an_accepted_call(stack):
    (a, b, c), conv = parties(stack, 3)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_n.expect("call.answer", skip=("call.accepted",))
    for caller, receiver in ((c, a), (c, b), (a, c)):
        res = stack.http.initiate(caller.token, receiver.id, conv)
        assert res.status == 409 and res.body["error"] == "busy", (caller.id, receiver.id, res)
    a_n.send_json({"type": "call.end", "call_id": cid})
    b_n.expect("call.end", skip=("call.accepted",))
    assert initiate(stack, c, a, conv)["status"] == "ringing"      # free again


def test_ringing_call_survives_a_rules_restart(fresh_stack):
    st = fresh_stack
    (a, b), conv = parties(st)
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    assert st.rules.stop() == 0, "rules exits 0 on SIGTERM"
    st.procs.remove(st.rules)
    st._start_rules(())
    wait_until(st._healthy, 10, what="healthz 200 after the rules restart")
    # The call is still there and still ringing; signaling goes on.
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    b_n.expect("call.offer", timeout=8)
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_n.expect("call.answer", skip=("call.accepted",))
    assert_status(st, a, cid, "accepted")


def test_503_when_rules_is_down(fresh_stack):
    st = fresh_stack
    (a, b), conv = parties(st)
    st.rules.stop()
    res = st.http.initiate(a.token, b.id, conv)
    assert res.status == 503 and res.body["error"] == "unavailable", res
    wait_until(lambda: st.http.request("GET", "/healthz").status == 503, 10, what="healthz 503 without rules")


def test_upgrade_from_a_foreign_origin_is_refused(stack):
    (a,), _ = parties(stack, 1)
    url = f"{stack.ws_base}/ws/notifications/?token={a.token}"
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        Ws(url, origin="http://evil.invalid")
    assert e.value.status_code == 403
    own = Ws(url, origin=stack.base_url, name="notify[own origin]")
    own.expect("connection.ack")
    own.close()


def test_oversized_frame_closes_1009(stack):
    (a,), _ = parties(stack, 1)
    w = stack.connect_notify(a.id)
    w.send_text('{"type":"ping","pad":"' + "x" * (64 * 1024 + 10) + '"}')
    assert w.expect_close() == 1009


def test_binary_frame_closes_1003(stack):
    (a,), _ = parties(stack, 1)
    w = stack.connect_notify(a.id)
    w.ws.send_binary(b'{"type":"ping"}')
    assert w.expect_close() == 1003


# ---------------------------------------------------------------------------
# Faults, floods and limits (issue 6): broker and rules restarts, two
# bridges, a slow reader among 100 clients, a flooding client, SIGTERM.

RECONNECT_WAIT = 10.0   # broker back -> bridge and rules subscribed again (back-off is at most 5 s)


def end_part(st, proc, sig):
    """Ends one part of st with sig (SIGKILL: no goodbye at all); its exit code."""
    proc.p.send_signal(sig)
    try:
        proc.p.wait(5)
    except Exception:
        proc.p.kill()
        proc.p.wait(5)
    proc.log.close()
    st.procs.remove(proc)
    return proc.p.returncode


def start_broker_again(st):
    st.broker = st._spawn("mosquitto-again", [MOSQUITTO, "-c", st.conf_path])
    st.procs.insert(0, st.procs.pop())   # stopped last at teardown, as the first one
    wait_until(lambda: port_open("127.0.0.1", st.mqtt_port), 10, what="mosquitto listening again")


def healthz(st, base=None):
    # Longer than the bridge's own wait for rules (--request-timeout-ms,
    # 2 s): a rules not yet back makes it answer 503, not time out.
    return (base or st.http).request("GET", "/healthz", timeout=5).status


def ice(call_id, tag):
    return {"type": "call.ice_candidate", "call_id": call_id, "candidate": dict(CANDIDATE, candidate=tag)}


def drain(ws, within=0.5):
    """Every frame ws receives until it stays quiet for `within` seconds."""
    out = []
    while True:
        try:
            out.append(ws.recv_json(within))
        except AssertionError:
            return out


def metric(base_http, name):
    res = base_http.request("GET", "/metrics")
    m = re.search(r"^" + re.escape(name) + r" (\d+)$", res.raw.decode(), re.M)
    return int(m.group(1)) if m else 0


def connect_call(st, a, b, a_n, b_n, cid):
    """Offer, answer, call.accepted: the call connects."""
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    assert b_n.expect("call.offer", timeout=8)["call_id"] == cid
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    assert a_n.expect("call.answer", skip=("call.accepted",))["call_id"] == cid
    assert b_n.expect("call.accepted")["call_id"] == cid
    assert_status(st, a, cid, "accepted")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["broker-stopped", "broker-killed"])
def test_broker_restart_during_a_ringing_call(fresh_stack, sig):
    st = fresh_stack
    (a, b), conv = parties(st)
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    a_c, b_c = st.connect_chat(conv, a.id), st.connect_chat(conv, b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")

    # A burst of candidates, the broker gone right behind it. Stopped
    # (SIGTERM) it saves its sessions; killed it loses what it held in
    # memory, so the burst is let through first.
    burst = [f"pre-{i}" for i in range(30)]
    for tag in burst:
        a_n.send_json(ice(cid, tag))
    if sig == signal.SIGKILL:
        got = [b_n.expect("call.ice_candidate")["candidate"]["candidate"] for _ in burst]
        assert got == burst
    end_part(st, st.broker, sig)
    wait_until(lambda: healthz(st) == 503, 5, what="healthz 503 while the broker is down")

    # During the outage: every frame is answered `unavailable` (no silent
    # drop), the sockets stay open, what needs no broker still works.
    outage = [f"out-{i}" for i in range(5)]
    for tag in outage:
        a_n.send_json(ice(cid, tag))
    a_c.send_json({"type": "chat.message", "text": "during the outage"})
    err = a_c.expect("error")
    assert err["code"] == "unavailable" and err["ref"] == "chat.message", err
    b_n.send_json({"type": "ping"})
    b_n.expect("pong", skip=("call.ice_candidate",))   # (candidates of the burst may still come in)
    assert initiate_status(st, b, a, conv) == 503
    # A chat socket cannot ask rules about membership: 1013, try again later.
    assert st.ws_chat(conv, b.id).expect_close() == 1013
    # A notification socket waits (up to 5 s) for its subscription.
    late = st.ws_notify(b.id, name="notify opened during the outage")

    start_broker_again(st)
    late.expect("connection.ack", timeout=5)
    wait_until(lambda: healthz(st) == 200, RECONNECT_WAIT, what="healthz 200 after the broker restart")
    for w in (a_n, b_n, a_c, b_c):
        assert w.is_open(), f"{w.name} was closed by the outage"

    errors = [f for f in drain(a_n) if f["type"] == "error"]
    assert all(e["code"] == "unavailable" and e.get("call_id") == cid for e in errors), errors
    refused_in_burst = len(errors) - len(outage)
    assert refused_in_burst >= 0, errors
    if sig == signal.SIGTERM:
        # No QoS 1 frame lost: every candidate of the burst is routed (late
        # or not) unless it was answered `unavailable`; none of the outage.
        # At least once, not exactly once: what was in flight when the
        # broker stopped may come twice (the same msg_id when only the
        # delivery to the bridge was repeated, a new one when rules got the
        # frame again).
        want = len(burst) - refused_in_burst
        got = [f for f in b_n.skipped]
        deadline = time.monotonic() + RECONNECT_WAIT
        while len({f["candidate"]["candidate"] for f in got}) < want and time.monotonic() < deadline:
            got.append(b_n.expect("call.ice_candidate", timeout=deadline - time.monotonic()))
        tags = [f["candidate"]["candidate"] for f in got]
        assert set(tags) <= set(burst) and len(set(tags)) == want, tags
        # A repeat of a burst candidate may still be in flight (at least
        # once, as above); nothing else may come.
        late = drain(b_n)
        assert all(f["type"] == "call.ice_candidate" and f["candidate"]["candidate"] in tags for f in late), late
    expect_quiet(b_n, b_c)

    # The subscriptions are back: the call connects, the room relays.
    connect_call(st, a, b, a_n, b_n, cid)
    a_c.send_json({"type": "chat.message", "text": "after"})
    assert b_c.expect("chat.message")["text"] == "after"


def initiate_status(st, caller, receiver, conv):
    return st.http.initiate(caller.token, receiver.id, conv).status


def test_rules_killed_while_frames_are_sent(request):
    ring_ms = 2000
    st = _make_stack(request, ring_timeout_ms=ring_ms, name="rules-kill stack")
    (a, b), conv = parties(st)
    (c, d), conv2 = parties(st)
    a_n, b_n, c_n, d_n = (st.connect_notify(p.id) for p in (a, b, c, d))
    a_c, b_c = st.connect_chat(conv, a.id), st.connect_chat(conv, b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    got = {a_n.recv_json()["type"], a_n.recv_json()["type"]}
    assert got == {"call.answer", "call.accepted"}, got
    b_n.expect("call.accepted")
    ringing = initiate(st, c, d, conv2)["call_id"]
    rang_at = time.monotonic()
    d_n.expect("call.incoming")

    assert end_part(st, st.rules, signal.SIGKILL) == -signal.SIGKILL
    tags = [f"while-down-{i}" for i in range(20)]
    for i, tag in enumerate(tags):
        a_n.send_json(ice(cid, tag))
        a_c.send_json({"type": "chat.message", "text": tag})
    # Nothing is refused: the broker holds them for rules' session.
    expect_quiet(a_n, b_n, c_n)
    time.sleep(max(0.0, ring_ms / 1000 + 0.3 - (time.monotonic() - rang_at)))   # the ring time-out passes
    st._start_rules(())

    got = [b_n.expect("call.ice_candidate", timeout=10)["candidate"]["candidate"] for _ in tags]
    assert got == tags, "every candidate routed, in order, after the restart"
    for w in (a_c, b_c):
        assert [w.expect("chat.message")["text"] for _ in tags] == tags
    # The ringing call's time-out came back from SQLite: missed, once.
    for w in (c_n, d_n):
        end = w.expect("call.end", timeout=5)
        check_end(end, ringing, "missed", None)
    expect_quiet(c_n, d_n)
    assert_status(st, a, cid, "accepted")


def test_a_call_between_two_bridges(stack):
    b2 = start_extra_bridge(stack, name="ringmq-bridge-second")
    try:
        (a, b), conv = parties(stack)
        a_n = stack.connect_notify(a.id)
        b_n = Ws(f"{b2.ws_base}/ws/notifications/?token={b.token}", name=f"notify[{b.id}]@bridge2")
        b_n.expect("connection.ack")
        a_c = stack.connect_chat(conv, a.id)
        b_c = Ws(f"{b2.ws_base}/ws/chat/{conv}/?token={b.token}", name=f"chat[{b.id}]@bridge2")
        b_c.expect("connection.ack")

        call = initiate(stack, a, b, conv)
        assert call["receiver_online"] is True, "rules knows b is online on the other bridge"
        cid = call["call_id"]
        assert b_n.expect("call.incoming")["caller_id"] == a.id
        connect_call(stack, a, b, a_n, b_n, cid)
        a_n.expect("call.accepted")
        b_n.send_json(ice(cid, "from-bridge-2"))
        assert a_n.expect("call.ice_candidate")["sender_id"] == b.id
        b_c.send_json({"type": "chat.message", "text": "across"})
        assert a_c.expect("chat.message")["sender_id"] == b.id
        b_n.send_json({"type": "call.end", "call_id": cid})
        check_end(a_n.expect("call.end"), cid, "hangup", b.id)
        b_n.close()
        b_c.close()
    finally:
        assert stop_extra_bridge(stack, b2) == 0


def test_a_slow_reader_is_closed_while_100_others_are_served(stack):
    queue = 64 * 1024
    b2 = start_extra_bridge(stack, ["--send-queue", str(queue)], name="ringmq-bridge-small-queue")
    others = []
    try:
        slow_user = unique("slow")
        slow = RawWs(b2.port, f"/ws/notifications/?token={stack.token(slow_user)}", rcvbuf=4096)
        assert slow.status == 101
        assert json.loads(slow.recv_frame()[3])["type"] == "connection.ack"
        for i in range(100):
            u = unique(f"fast{i}")
            w = Ws(f"{b2.ws_base}/ws/notifications/?token={stack.token(u)}", name=f"notify[{u}]")
            w.user = u
            others.append(w)
        for w in others:
            w.expect("connection.ack")

        # The slow one stops reading; 60 KB frames pile up for it while each
        # of the others gets a small one in between.
        big = {"blob": "x" * 60000}
        t0 = time.monotonic()
        for i, w in enumerate(others):
            assert stack.http.notify(slow_user, big).status == 202
            assert stack.http.notify(w.user, {"n": i}).status == 202
        for i, w in enumerate(others):
            f = w.expect("notification.created", timeout=max(0.5, t0 + 10 - time.monotonic()))
            assert f["payload"] == {"n": i}
        served_in = time.monotonic() - t0
        assert served_in < 10, f"100 clients served in {served_in:.1f}s"
        wait_until(lambda: metric(b2.http, 'ringmq_closes_total{reason="slow_reader"}') >= 1, 5,
                   what="the slow reader closed")
        # Reading again, it finds what had reached its socket, then 1013.
        frames, close = slow.frames_until_close(timeout=10)
        assert close is not None, "the slow reader got no close frame"
        assert int.from_bytes(close[:2], "big") == 1013, close
        assert sum(len(f[3]) for f in frames) < 100 * 60000, "the backlog was dropped, not sent"
        slow.close()
        # The others are still open and served.
        for w in others[:5]:
            w.send_json({"type": "ping"})
            w.expect("pong")
    finally:
        for w in others:
            w.close()
        stop_extra_bridge(stack, b2)


def test_a_flood_is_rate_limited_while_others_are_served(stack):
    # A bridge whose bucket refills slowly (2/s, bursts of 100), so the
    # counts below do not depend on how fast this machine is.
    rate = 2
    b2 = start_extra_bridge(stack, ["--rate", str(rate), "--burst", "100"], name="ringmq-bridge-slow-rate")
    try:
        flood_and_check(stack, b2, rate)
    finally:
        stop_extra_bridge(stack, b2)


def flood_and_check(stack, b2, rate):
    (f_user, a, b), conv = parties(stack, 3)
    flooder = Ws(f"{b2.ws_base}/ws/notifications/?token={f_user.token}", name="flooder")
    a_c = Ws(f"{b2.ws_base}/ws/chat/{conv}/?token={a.token}", name="chat[a]")
    b_c = Ws(f"{b2.ws_base}/ws/chat/{conv}/?token={b.token}", name="chat[b]")
    for w in (flooder, a_c, b_c):
        w.expect("connection.ack")
    sent, kinds, code = [], [], None
    t0 = time.monotonic()
    # Pings in batches as fast as the socket takes them, the flooder
    # reading what it got in between; another user's chat messages go on
    # meanwhile. A batch never goes past the 101st refusal: a client that
    # sends on after the close frame may have its connection reset and lose
    # the close frame it had not read yet.
    for batch in range(20):
        for i in range(min(60, 101 - kinds.count("error:rate_limited"))):
            flooder.ws.send('{"type":"ping"}')
            if i % 15 == 0:
                sent.append(f"m{batch}-{i}")
                a_c.send_json({"type": "chat.message", "text": sent[-1]})
        try:
            while True:
                f = flooder.recv_json(0.2)
                kinds.append(f["type"] + ":" + f.get("code", ""))
        except AssertionError:
            continue      # quiet: next batch
        except Closed as c:
            code = c.code
            break
    assert code == 1008, (code, kinds[-3:])
    pongs, limited = kinds.count("pong:"), kinds.count("error:rate_limited")
    assert pongs + limited == len(kinds), set(kinds)
    assert 100 <= pongs <= 100 + rate * (time.monotonic() - t0) + 1, pongs   # the burst, then the refill
    assert limited == 101 and kinds.index("error:rate_limited") >= 100, limited
    # The others' frames all arrived, in order, while the flood went on.
    assert [b_c.expect("chat.message")["text"] for _ in sent] == sent
    expect_quiet(b_c)


def test_sigterm_closes_sockets_1001_and_exits_0(stack):
    b3 = start_extra_bridge(stack, name="ringmq-bridge-sigterm")
    (a, b), conv = parties(stack)
    socks = [Ws(f"{b3.ws_base}/ws/notifications/?token={p.token}", name=f"notify[{p.id}]") for p in (a, b, a)]
    socks.append(Ws(f"{b3.ws_base}/ws/chat/{conv}/?token={a.token}", name="chat"))
    for w in socks:
        w.expect("connection.ack")
    t0 = time.monotonic()
    b3.proc.p.send_signal(signal.SIGTERM)
    for w in socks:
        assert w.expect_close(timeout=3) == 1001, w.name
    assert b3.proc.p.wait(5) == 0
    assert time.monotonic() - t0 < 3, "SIGTERM to exit"
    assert stop_extra_bridge(stack, b3) == 0


def test_every_bound_is_a_named_constant_or_a_setting():
    """No bare numbers where the bridge sets a limit or a wait: libwebsockets
    context fields, retry/idle policy, timers, time-outs, the broker link."""
    patterns = [
        r"\binfo\.\w+\s*=\s*\(?\s*\d",                          # lws context/vhost limits
        r"\.secs_since_valid_\w+\s*=\s*\d",                     # ws ping / hang-up
        r"\.keepalive_s\s*=\s*\d",                              # MQTT keep-alive
        r"lws_set_timeout\([^;]*,\s*\d+\s*\)",                  # lws time-outs
        r"lws_sul_schedule\([^;]*,\s*\(?\s*[2-9]\d*\s*\*",       # timers of n * unit
        r"\{\s*\"ringmq\"\s*,[^}]*,\s*\d{3,}\s*,",              # protocol rx buffer
    ]
    files = [os.path.join(REPO, "bridge", "edge", f) for f in os.listdir(os.path.join(REPO, "bridge", "edge"))
             if f.endswith((".c", ".h"))] + [os.path.join(REPO, "bridge", "common", "mqtt.c")]
    bare = []
    for path in files:
        with open(path) as f:
            src = f.read()
        for pat in patterns:
            for m in re.finditer(pat, src):
                line = src.count("\n", 0, m.start()) + 1
                bare.append(f"{os.path.relpath(path, REPO)}:{line}: {m.group(0)}")
    assert not bare, "bounds written as bare numbers (name them in edge.h or make them settings):\n" + "\n".join(bare)
