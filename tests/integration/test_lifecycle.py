"""Issue 3, the full call lifecycle, end to end against the real mosquitto,
ringmq-rules and ringmq-bridge: hang-ups, ring time-outs across a rules
restart (exactly one call.end), glare, ICE in every direction and phase,
several devices per user, history paging, /metrics, /healthz with the
broker stopped, receiver_online, and the calls rules ends by itself
(a participant whose presence is gone for --presence-grace-ms, a call
longer than --max-call-ms).

What test_core/test_edges/test_robustness already show is not repeated:
decline, cancel, a missed call, busy 409, the glare 409, the caller's
answer (forbidden), a second answer from the same socket, the detail
endpoint's 404s and notification.created (see the report of issue 3).

Every frame received here has already been validated against schemas/ by
the Ws helper; the asserts below check the values."""
import time
import urllib.request

import pytest

from conftest import _make_stack
from ringmq_client import expect_quiet, unique, wait_until
from test_core import (ANSWER_SDP, CANDIDATE, OFFER_SDP, STAMP, Party, assert_status, check_answer, check_end,
                       initiate, parties)

RING_MS = 2000       # ring time-out of the restart stack
GRACE_MS = 1500      # --presence-grace-ms of the watch stack
MAX_CALL_MS = 2500   # --max-call-ms of the max-call stack
WATCH_ARGS = ("--presence-grace-ms", str(GRACE_MS), "--max-call-ms", "0")
SETTLE_S = 2.0       # rules waits this long after (re)connecting before ending calls for lost presence


# ------------------------------------------------------------------ helpers

def answer(st, caller_socks, receiver_sock, cid):
    """The receiver's socket answers; every socket in caller_socks gets the
    answer and call.accepted, receiver_sock its call.accepted."""
    receiver_sock.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    for w in caller_socks:
        w.expect("call.answer", skip=("call.accepted",))
        if not any(f["type"] == "call.accepted" for f in w.skipped):
            w.expect("call.accepted")
        w.skipped.clear()
    acc = receiver_sock.expect("call.accepted")
    assert acc["device_id"] == receiver_sock.ack["device_id"]


def restart_rules(st, args=()):
    assert st.rules.stop() == 0, "rules exits 0 on SIGTERM"
    st.procs.remove(st.rules)
    st._start_rules(args)
    wait_until(st._healthy, 10, what="healthz 200 after the rules restart")


def metrics(st):
    """/metrics as {'name{labels}': value}."""
    with urllib.request.urlopen(st.base_url + "/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers.get("Content-Type", "").startswith("text/plain")
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def db_row(st, call_id, cols):
    rows = st.db_rows(f"SELECT {cols} FROM calls WHERE id = ?", (call_id,))
    return rows[0] if rows else None


@pytest.fixture
def ring_stack(request):
    """A stack of the test's own whose calls go missed after RING_MS."""
    return _make_stack(request, ring_timeout_ms=RING_MS, name="ring stack")


@pytest.fixture(scope="module")
def watch_stack(request):
    """A stack whose rules ends an accepted call after GRACE_MS without a
    participant's presence (and never for its length)."""
    return _make_stack(request, rules_args=WATCH_ARGS, name="presence-watch stack")


@pytest.fixture(scope="module")
def max_call_stack(request):
    return _make_stack(request, rules_args=("--max-call-ms", str(MAX_CALL_MS)), name="max-call stack")


# ------------------------------------------------------------------ hang-ups

@pytest.mark.parametrize("ender", ["caller", "receiver"])
def test_hangup_after_answer_by_either_side_frees_both(stack, ender):
    (a, b, c), conv = parties(stack, 3)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    answer(stack, [a_n], b_n, cid)
    assert_status(stack, a, cid, "accepted")
    by, sock = (a, a_n) if ender == "caller" else (b, b_n)
    sock.send_json({"type": "call.end", "call_id": cid, "reason": "cancelled"})   # the client's reason is ignored
    for w in (a_n, b_n):
        end = w.expect("call.end")
        check_end(end, cid, "hangup", by.id)
        assert STAMP <= set(end) and end["from_device"] == sock.ack["device_id"]
    expect_quiet(a_n, b_n)
    assert_status(stack, b, cid, "ended", "hangup", by.id)
    # Both are free again: each can be called, by each other and by others.
    assert initiate(stack, c, a, conv)["status"] == "ringing"
    assert initiate(stack, b, a, conv)["status"] == "ringing"


# ------------------------------------------------- ring time-out and restarts

def test_ring_time_out_across_rules_restarts_ends_once(ring_stack):
    """A call ringing while rules restarts still goes missed, once; a call
    whose deadline passed while rules was down goes missed once rules is
    back, once; a later restart ends nothing again."""
    st = ring_stack
    (a, b), conv = parties(st)
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)

    # 1. Restarted well inside the ring window.
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    t0 = time.monotonic()
    restart_rules(st)
    assert time.monotonic() - t0 < RING_MS / 1000, "the restart took longer than the ring time"
    check_end(b_n.expect("call.end", timeout=RING_MS / 1000 + 3), cid, "missed", None)
    check_end(a_n.expect("call.end", timeout=2), cid, "missed", None)
    expect_quiet(a_n, b_n, within=1.0)                      # no second call.end
    assert_status(st, a, cid, "missed", "missed")

    # 2. Down past the deadline: nothing ends it while rules is away...
    cid2 = initiate(st, b, a, conv)["call_id"]
    a_n.expect("call.incoming")
    assert st.rules.stop() == 0
    st.procs.remove(st.rules)
    expect_quiet(a_n, b_n, within=RING_MS / 1000 + 0.5)
    # ... and the restarted rules ends it as missed, once.
    st._start_rules(())
    check_end(a_n.expect("call.end", timeout=10), cid2, "missed", None)
    check_end(b_n.expect("call.end", timeout=2), cid2, "missed", None)
    expect_quiet(a_n, b_n, within=1.0)
    assert_status(st, b, cid2, "missed", "missed")

    # 3. Another restart: both calls are over, nothing is sent again.
    restart_rules(st)
    expect_quiet(a_n, b_n, within=1.0)
    for cid_ in (cid, cid2):
        assert_status(st, a, cid_, "missed", "missed")


# ------------------------------------------------------------------- glare

def test_glare_loser_answers_the_ringing_call_instead(stack):
    """B's initiate while A's call to B rings answers 409 with A's call_id;
    B answers that call and the two are in one call, never two."""
    (a, b), conv = parties(stack)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    first = initiate(stack, a, b, conv)
    cid = first["call_id"]
    b_n.expect("call.incoming")
    for caller, receiver in ((b, a), (a, b)):               # glare, and A calling again
        res = stack.http.initiate(caller.token, receiver.id, conv)
        assert res.status == 409 and res.body["error"] == "busy", res
        assert res.body["call_id"] == cid
    expect_quiet(a_n, b_n)                                  # no second call rang anyone
    answer(stack, [a_n], b_n, res.body["call_id"])
    calls = stack.http.calls(a.token).body["calls"]
    assert [c["call_id"] for c in calls] == [cid] and calls[0]["status"] == "accepted"
    res = stack.http.initiate(b.token, a.id, conv)
    assert res.status == 409 and res.body["error"] == "busy"   # now busy: in an accepted call
    a_n.send_json({"type": "call.end", "call_id": cid})
    for w in (a_n, b_n):
        check_end(w.expect("call.end"), cid, "hangup", a.id)


# --------------------------------------------------------------------- ICE

def test_ice_both_ways_before_and_after_the_answer(stack):
    (a, b, c), conv = parties(stack, 3)        # c: in the conversation, not in the call
    a_n, b_n, c_n = (stack.connect_notify(p.id) for p in (a, b, c))
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")

    def ice(sender, sock, receiver_sock, cand):
        sock.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": cand})
        f = receiver_sock.expect("call.ice_candidate")
        assert f["candidate"] == cand and f["call_id"] == cid
        assert (f["sender_id"], f["sender_username"], f["from_device"]) == \
            (sender.id, sender.name, sock.ack["device_id"])
        return f

    # Trickle ICE starts before the answer, in both directions; nothing
    # goes back to the sender.
    ice(a, a_n, b_n, CANDIDATE)
    ice(b, b_n, a_n, dict(CANDIDATE, candidate="candidate:2 1 udp 1 127.0.0.1 40002 typ host"))
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    b_n.expect("call.offer")
    ice(a, a_n, b_n, "candidate:3 1 udp 1 127.0.0.1 40003 typ host")      # a string candidate
    expect_quiet(a_n, b_n, c_n)
    answer(stack, [a_n], b_n, cid)
    ice(a, a_n, b_n, CANDIDATE)
    ice(b, b_n, a_n, CANDIDATE)
    ice(b, b_n, a_n, None)                                                # end of candidates
    # An outsider's candidate is refused and reaches no one.
    c_n.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    err = c_n.expect("error")
    assert err["code"] == "not_found" and err["call_id"] == cid and err["ref"] == "call.ice_candidate"
    expect_quiet(a_n, b_n, c_n)
    # After the end: invalid_state, to the sender only.
    b_n.send_json({"type": "call.end", "call_id": cid})
    a_n.expect("call.end")
    b_n.expect("call.end")
    a_n.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    err = a_n.expect("error")
    assert err["code"] == "invalid_state" and err["call_id"] == cid
    expect_quiet(b_n, a_n)


def test_ice_before_the_answer_reaches_every_device_of_the_receiver(stack):
    """Candidates sent before the answer are delivered to every device of
    the receiver that is connected, the tab that answers later included."""
    (a, b), conv = parties(stack)
    a_n = stack.connect_notify(a.id)
    b1, b2 = stack.connect_notify(b.id, name="notify[b tab 1]"), stack.connect_notify(b.id, name="notify[b tab 2]")
    cid = initiate(stack, a, b, conv)["call_id"]
    for w in (b1, b2):
        w.expect("call.incoming")
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    a_n.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    for w in (b1, b2):             # both tabs hold the offer and the candidate until one accepts
        w.expect("call.offer")
        assert w.expect("call.ice_candidate")["candidate"] == CANDIDATE
    answer(stack, [a_n], b2, cid)
    b1.expect("call.accepted")


# ------------------------------------------------------------ multi-device

def test_every_device_of_both_parties_rings_and_learns_who_answered(stack):
    (a, b), conv = parties(stack)
    a1, a2 = stack.connect_notify(a.id, name="notify[a phone]"), stack.connect_notify(a.id, name="notify[a tab]")
    b1, b2 = stack.connect_notify(b.id, name="notify[b tab 1]"), stack.connect_notify(b.id, name="notify[b tab 2]")
    cid = initiate(stack, a, b, conv)["call_id"]
    for w in (b1, b2):
        assert w.expect("call.incoming")["call_id"] == cid
    expect_quiet(a1, a2)                                     # the caller's devices do not ring
    a2.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    o1, o2 = b1.expect("call.offer"), b2.expect("call.offer")
    assert o1["msg_id"] == o2["msg_id"] and o1["from_device"] == a2.ack["device_id"]

    b2.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    answering = b2.ack["device_id"]
    for w in (a1, a2):
        check_answer(w.expect("call.answer"), cid, b, answering)
    for w in (a1, a2, b1, b2):
        acc = w.expect("call.accepted")
        assert acc["call_id"] == cid and acc["device_id"] == answering
    expect_quiet(a1, a2, b1, b2)

    # The other tab answering too: invalid_state, to that tab only.
    b1.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    err = b1.expect("error")
    assert err["code"] == "invalid_state" and err["call_id"] == cid and err["ref"] == "call.answer"
    expect_quiet(a1, a2, b2, b1)
    assert_status(stack, a, cid, "accepted")

    a1.send_json({"type": "call.end", "call_id": cid})
    for w in (a1, a2, b1, b2):
        check_end(w.expect("call.end"), cid, "hangup", a.id)


# ----------------------------------------------------------------- history

def test_history_newest_first_paged_to_the_end(stack):
    (a, *others), conv = parties(stack, 6)
    made = [initiate(stack, a, o, conv)["call_id"] for o in others[:3]]
    made += [initiate(stack, o, a, conv)["call_id"] for o in others[3:]]      # as receiver too
    full = stack.http.calls(a.token, "?limit=100").body
    ids = [c["call_id"] for c in full["calls"]]
    assert sorted(ids) == sorted(made) and full["next_before"] is None
    keys = [(c["created_at"], c["call_id"]) for c in full["calls"]]
    assert keys == sorted(keys, reverse=True), "newest first"
    # Every call made later sorts no later than those made before it.
    pos = {cid: i for i, cid in enumerate(ids)}
    for older, newer in zip(made, made[1:]):
        created = {c["call_id"]: c["created_at"] for c in full["calls"]}
        if created[newer] > created[older]:
            assert pos[newer] < pos[older]
    assert stack.http.calls(a.token).body["calls"] == full["calls"]         # default limit 20 covers 5

    # Pages of 2 follow next_before until it is null: the same calls, once each.
    seen, cursor, pages = [], None, 0
    while True:
        res = stack.http.calls(a.token, "?limit=2" + (f"&before={cursor}" if cursor else ""))
        assert res.status == 200, res
        page = res.body
        assert 1 <= len(page["calls"]) <= 2
        seen += [c["call_id"] for c in page["calls"]]
        cursor = page["next_before"]
        pages += 1
        if cursor is None:
            break
        assert pages < 10
    assert seen == ids and pages == 3
    # The other side sees only its own call.
    only = stack.http.calls(others[0].token).body
    assert [c["call_id"] for c in only["calls"]] == [made[0]] and only["next_before"] is None
    assert only["calls"][0]["caller_id"] == a.id and only["calls"][0]["receiver_id"] == others[0].id


@pytest.fixture(scope="module")
def prolific_stack(request):
    """A bridge whose per-caller initiate limit (10 a minute by default,
    test_initiate_limit.py) lets one caller start 101 calls at once."""
    return _make_stack(request, name="prolific-caller stack",
                       bridge_args=["--initiate-per-minute", "60000", "--initiate-burst", "1000"])


def test_history_limit_is_capped_at_100_and_bad_queries_are_400(prolific_stack):
    stack = prolific_stack
    n = 101
    (a,), _ = parties(stack, 1)
    receivers = [unique("r") for _ in range(n)]
    conv = stack.conversation([a.id] + receivers)
    for r in receivers:
        res = stack.http.initiate(a.token, r, conv, "voice")
        assert res.status == 201, res
    page = stack.http.calls(a.token, "?limit=1000").body
    assert len(page["calls"]) == 100 and page["next_before"]
    rest = stack.http.calls(a.token, "?limit=100&before=" + page["next_before"]).body
    assert len(rest["calls"]) == 1 and rest["next_before"] is None
    assert {c["receiver_id"] for c in page["calls"] + rest["calls"]} == set(receivers)
    assert len(stack.http.calls(a.token).body["calls"]) == 20                      # the default
    for query in ("?limit=0", "?limit=-1", "?limit=abc", "?limit=1.5", "?limit=", "?before=nonsense",
                  "?before=123_not-a-uuid", "?before=x_" + page["calls"][0]["call_id"]):
        res = stack.http.calls(a.token, query)
        assert res.status == 400 and res.body["error"] == "bad_request", (query, res)
    assert stack.http.request("GET", "/calls/").status == 401


# ------------------------------------------------------------- operability

def test_metrics_counters_move(stack):
    (a, b, c), conv = parties(stack, 3)
    before = metrics(stack)
    a_n, b_n, c_n = (stack.connect_notify(p.id) for p in (a, b, c))
    a_c = stack.connect_chat(conv, a.id)
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    b_n.expect("call.offer")
    a_n.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    b_n.expect("call.ice_candidate")
    a_n.send_text("not json")
    assert a_n.expect("error")["code"] == "bad_json"
    c_n.send_json({"type": "call.end", "call_id": cid})          # an outsider: rules refuses
    assert c_n.expect("error")["code"] == "not_found"
    a_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    assert a_n.expect("error")["code"] == "forbidden"
    a_n.send_json({"type": "ping"})
    a_n.expect("pong")
    stack.http.calls(a.token)

    def moved():
        after = metrics(stack)
        d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        return d if all((
            after['ringmq_sockets_open{kind="notifications"}'] >= 3,
            after['ringmq_sockets_open{kind="chat"}'] >= 1,
            d['ringmq_sockets_total{kind="notifications"}'] >= 3,
            d['ringmq_sockets_total{kind="chat"}'] >= 1,
            d['ringmq_frames_in_total{type="call.offer"}'] >= 1,
            d['ringmq_frames_in_total{type="call.ice_candidate"}'] >= 1,
            d['ringmq_frames_in_total{type="call.end"}'] >= 1,
            d['ringmq_frames_in_total{type="call.answer"}'] >= 1,
            d['ringmq_frames_in_total{type="ping"}'] >= 1,
            d['ringmq_errors_total{code="bad_json"}'] >= 1,
            d["ringmq_frames_out_total"] >= 8,
            d["ringmq_published_total"] >= 4,
            d["ringmq_rules_request_seconds_count"] >= 3,   # member (chat socket), initiate, calls.list
            d['ringmq_rules_request_seconds_bucket{le="+Inf"}'] == d["ringmq_rules_request_seconds_count"],
            d['ringmq_http_requests_total{class="2xx"}'] >= 2,
            after["ringmq_broker_up"] == 1,
        )) else None
    wait_until(moved, 3, what=f"/metrics to move (last: {metrics(stack)})")
    # Closed sockets leave the gauge.
    open_before = metrics(stack)['ringmq_sockets_open{kind="chat"}']
    a_c.close()
    wait_until(lambda: metrics(stack)['ringmq_sockets_open{kind="chat"}'] == open_before - 1, 3,
               what="the chat gauge to drop")


def test_metrics_count_the_errors_rules_decides(stack):
    (a, b, c), conv = parties(stack, 3)
    a_n, b_n, c_n = (stack.connect_notify(p.id) for p in (a, b, c))
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    before = metrics(stack)
    c_n.send_json({"type": "call.end", "call_id": cid})          # an outsider
    assert c_n.expect("error")["code"] == "not_found"
    a_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})   # the caller answering
    assert a_n.expect("error")["code"] == "forbidden"
    a_n.send_json({"type": "call.end", "call_id": cid})
    b_n.expect("call.end")
    a_n.expect("call.end")
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})   # after the end
    assert b_n.expect("error")["code"] == "invalid_state"
    after = metrics(stack)
    for code in ("not_found", "forbidden", "invalid_state"):
        key = f'ringmq_errors_total{{code="{code}"}}'
        assert after[key] - before[key] >= 1, (code, before[key], after[key])


def test_healthz_503_with_the_broker_stopped_and_200_after_it_returns(fresh_stack):
    st = fresh_stack
    (a, b), conv = parties(st)
    assert st.http.request("GET", "/healthz").status == 200
    st.stop_broker()
    wait_until(lambda: st.http.request("GET", "/healthz").status == 503, 10, what="healthz 503 without the broker")
    res = st.http.initiate(a.token, b.id, conv)
    assert res.status == 503 and res.body["error"] == "unavailable", res
    assert metrics(st)["ringmq_broker_up"] == 0
    st.start_broker()
    wait_until(lambda: st.http.request("GET", "/healthz").status == 200, 20, what="healthz 200 after the broker is back")
    # And the service works again, end to end.
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    assert b_n.expect("call.incoming")["call_id"] == cid
    a_n.send_json({"type": "call.end", "call_id": cid})
    check_end(b_n.expect("call.end"), cid, "cancelled", a.id)


# ---------------------------------------------------------------- presence

def test_receiver_online_follows_the_notification_sockets(stack):
    (b, c1, c2, c3, c4), conv = parties(stack, 5)
    c_socks = {c.id: stack.connect_notify(c.id) for c in (c1, c2, c3, c4)}

    def online(caller):
        call = initiate(stack, caller, b, conv)
        c_socks[caller.id].send_json({"type": "call.end", "call_id": call["call_id"]})   # cancel: leave no glare
        c_socks[caller.id].expect("call.end")
        return call["receiver_online"]

    assert online(c1) is False                                   # nothing open
    chat = stack.connect_chat(conv, b.id)
    assert online(c2) is False                                   # a chat socket is not a device
    b_n = stack.connect_notify(b.id)
    assert online(c3) is True
    b_n.close()
    chat.close()
    wait_until(lambda: online(c4) is False, 5, what="receiver_online false once b's socket closed")


def _accepted_call(st, a, b, conv):
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    answer(st, [a_n], b_n, cid)
    return cid, a_n, b_n


@pytest.mark.parametrize("who_leaves", ["caller", "receiver"])
def test_lost_presence_ends_an_accepted_call_after_the_grace(watch_stack, who_leaves):
    """A participant's last notification socket closes without call.end:
    after --presence-grace-ms rules ends the call, hangup, ended_by that
    participant, to both parties; both are free again."""
    st = watch_stack
    (a, b, c), conv = parties(st, 3)
    cid, a_n, b_n = _accepted_call(st, a, b, conv)
    gone, stays, stays_sock = (a, b, b_n) if who_leaves == "caller" else (b, a, a_n)
    (a_n if gone is a else b_n).close()
    t0 = time.monotonic()
    stays_sock.expect_nothing(GRACE_MS / 1000 * 0.6)               # not before the grace
    end = stays_sock.expect("call.end", timeout=GRACE_MS / 1000 + SETTLE_S + 3)
    assert time.monotonic() - t0 >= GRACE_MS / 1000 * 0.6
    check_end(end, cid, "hangup", gone.id)
    assert end.get("cause") == "presence_lost"
    assert "sender_id" not in end and "from_device" not in end      # service-made: no sender stamp
    stays_sock.expect_nothing(1.0)                                  # once
    assert_status(st, stays, cid, "ended", "hangup", gone.id)
    # Neither is busy any more.
    assert initiate(st, c, gone, conv)["status"] == "ringing"
    assert initiate(st, stays, c, conv)["status"] == "ringing"


def test_a_socket_back_within_the_grace_keeps_the_call(watch_stack):
    st = watch_stack
    (a, b), conv = parties(st)
    cid, a_n, b_n = _accepted_call(st, a, b, conv)
    b_n.close()
    a_n.expect_nothing(GRACE_MS / 1000 / 3)
    b_again = st.connect_notify(b.id, name="notify[b reloaded]")     # a page reload
    expect_quiet(a_n, b_again, within=GRACE_MS / 1000 + 1.0)
    assert_status(st, a, cid, "accepted")
    # A second device keeps the user present when the first one goes.
    b_phone = st.connect_notify(b.id, name="notify[b phone]")
    b_again.close()
    expect_quiet(a_n, b_phone, within=GRACE_MS / 1000 + 0.5)
    assert_status(st, a, cid, "accepted")
    b_phone.send_json({"type": "call.end", "call_id": cid})
    check_end(a_n.expect("call.end"), cid, "hangup", b.id)


def test_absence_survives_a_rules_restart(watch_stack):
    """The start of an absence is stored: a restart of rules neither loses
    nor re-starts it, and the call still ends, once."""
    st = watch_stack
    (a, b), conv = parties(st)
    cid, a_n, b_n = _accepted_call(st, a, b, conv)
    b_n.close()
    wall_close = int(time.time() * 1000)
    row = wait_until(lambda: (lambda r: r if r and r[0] else None)(db_row(st, cid, "receiver_absent_since")), 3,
                     what="the absence of b to be stored")
    since = row[0]
    assert abs(since - wall_close) < 1000
    restart_rules(st, WATCH_ARGS)
    assert db_row(st, cid, "receiver_absent_since")[0] == since, "the absence start is kept"
    check_end(a_n.expect("call.end", timeout=GRACE_MS / 1000 + SETTLE_S + 3), cid, "hangup", b.id)
    a_n.expect_nothing(1.0)
    assert_status(st, a, cid, "ended", "hangup", b.id)


def test_max_call_length_ends_the_call_stored(max_call_stack):
    """--max-call-ms: an accepted call ends after it (hangup, ended_by null),
    and its users are free again. Checked here through the store and HTTP;
    the frames are checked by the next test."""
    st = max_call_stack
    (a, b, c), conv = parties(st, 3)
    # Chat sockets only: they answer and hang up like any socket but get
    # no copy of a service-made call.end (that goes to the users' devices).
    a_c, b_c = st.connect_chat(conv, a.id), st.connect_chat(conv, b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    b_c.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_c.expect("call.answer")
    b_c.expect("call.answer")
    assert_status(st, a, cid, "accepted")
    row = wait_until(lambda: (lambda r: r if r and r[0] == "ended" else None)(
        db_row(st, cid, "status, end_reason, ended_by")), MAX_CALL_MS / 1000 + 3, what="the call to end")
    assert row == ("ended", "hangup", None)
    res = st.http.call(a.token, cid)
    assert (res.body["status"], res.body["end_reason"], res.body["ended_by"]) == ("ended", "hangup", None)
    assert initiate(st, c, a, conv)["status"] == "ringing"


def test_max_call_length_call_end_frames(max_call_stack):
    st = max_call_stack
    (a, b), conv = parties(st)
    cid, a_n, b_n = _accepted_call(st, a, b, conv)
    for w in (a_n, b_n):
        end = w.recv_json(timeout=MAX_CALL_MS / 1000 + 3)   # validated against schemas/ here
        check_end(end, cid, "hangup", None)
        assert end.get("cause") == "max_duration"
    expect_quiet(a_n, b_n)
