"""Issue 17, hot standby: two ringmq-rules on one store and one broker, same
client id. Exactly one holds the store's lock (PostgreSQL: an advisory
lock; SQLite: a flock on the file's side file, one host) and is connected;
the other waits. When the active one is SIGKILLed while calls
ring (or its database connection is ended by pg_terminate_backend), the
standby takes the lock within 5 s, connects with the same client id, gets
the frames the broker queued meanwhile and routes each once, in order; the
ringing calls end missed, once, at their deadlines (kept in the store)."""
import os
import signal
import time
import urllib.request

import pytest

from conftest import _make_stack, pg_server
from ringmq_client import expect_quiet, wait_until
from test_core import CANDIDATE, assert_status, check_end, initiate, parties

RING_MS = 8000        # long enough for the switch to happen while the calls ring
TAKEOVER_S = 5.0      # the bound: the standby is active within this
CALLS = 3
FRAMES = 3            # ICE candidates each caller sends during the switch


def log_of(st, name):
    try:
        with open(os.path.join(st.dir, name + ".log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def active(st, name):
    return "active: this ringmq-rules holds the store's lock" in log_of(st, name)


def standby(st, name):
    return "standby: another ringmq-rules holds the store's lock" in log_of(st, name)


@pytest.fixture(params=["postgres", "sqlite"])
def pair(request, tmp_path):
    """A stack on a fresh store (PostgreSQL database or SQLite file), its
    rules active, and a second rules waiting as the standby."""
    db = pg_server().new_database() if request.param == "postgres" else str(tmp_path / "ringmq.db")
    st = _make_stack(request, ring_timeout_ms=RING_MS, name=f"standby stack ({request.param})", db=db)
    wait_until(lambda: active(st, "ringmq-rules"), 5, what="the first rules to be active")
    other = st.add_rules("ringmq-rules-b")
    wait_until(lambda: standby(st, "ringmq-rules-b"), 5, what="the second rules to wait as the standby")
    assert not active(st, "ringmq-rules-b")
    return st, other


def ringing_calls(st):
    """CALLS calls ringing, each between two fresh users with their sockets:
    [(caller, caller_sock, receiver, receiver_sock, call_id)]."""
    out = []
    for _ in range(CALLS):
        (a, b), conv = parties(st)
        a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
        cid = initiate(st, a, b, conv)["call_id"]
        b_n.expect("call.incoming")
        out.append((a, a_n, b, b_n, cid))
    return out


def send_candidates(calls):
    for _, a_n, _, _, cid in calls:
        for k in range(FRAMES):
            a_n.send_json({"type": "call.ice_candidate", "call_id": cid,
                           "candidate": dict(CANDIDATE, candidate=f"candidate:{k} 1 udp 1 127.0.0.1 {41000 + k} typ host")})


def expect_candidates_once_in_order(calls):
    for _, _, _, b_n, cid in calls:
        got = [b_n.expect("call.ice_candidate", timeout=TAKEOVER_S + 2) for _ in range(FRAMES)]
        assert [f["call_id"] for f in got] == [cid] * FRAMES
        assert [f["candidate"]["candidate"].split()[0] for f in got] == [f"candidate:{k}" for k in range(FRAMES)]
        assert len({f["msg_id"] for f in got}) == FRAMES


def drain(ws, quiet):
    """The frames ws receives until it has been quiet for `quiet` seconds."""
    got = []
    while True:
        try:
            got.append(ws.recv_json(quiet))
        except AssertionError as e:
            if f"{ws.name}: no frame within" not in str(e):
                raise
            return got


def expect_missed_once(st, calls):
    for a, a_n, b, b_n, cid in calls:
        check_end(b_n.expect("call.end", timeout=RING_MS / 1000 + 3), cid, "missed", None)
        check_end(a_n.expect("call.end", timeout=2), cid, "missed", None)
    expect_quiet(*[s for c in calls for s in (c[1], c[3])], within=1.0)   # no second call.end, no repeat
    for a, _, _, _, cid in calls:
        assert_status(st, a, cid, "missed", "missed")
    for c in calls:
        assert st.db_rows("SELECT status, end_reason FROM calls WHERE id = ?", (c[4],)) == [("missed", "missed")]


def health(st):
    """/healthz's body (200 or 503)."""
    return st.http.request("GET", "/healthz").body


def test_sigkill_of_the_active_rules_while_calls_ring(pair):
    st, other = pair
    calls = ringing_calls(st)
    before = health(st)
    assert before["rules_instance"].endswith(f"/{st.rules.p.pid}"), before
    assert before["store_kind"] == ("postgresql" if st.db.startswith("postgresql://") else "sqlite"), before
    st.rules.p.send_signal(signal.SIGKILL)
    st.rules.p.wait(5)
    t0 = time.monotonic()
    st.procs.remove(st.rules)
    send_candidates(calls)                      # nobody routes these until the standby is active
    wait_until(lambda: active(st, "ringmq-rules-b"), TAKEOVER_S, what="the standby to take the lock")
    took = time.monotonic() - t0
    assert took < TAKEOVER_S, took
    expect_candidates_once_in_order(calls)
    expect_missed_once(st, calls)
    # /healthz and rules' metrics name the new active one.
    wait_until(lambda: health(st).get("rules_instance", "").endswith(f"/{other.p.pid}"), 5,
               what="/healthz to name the standby, now active")
    with urllib.request.urlopen(st.base_url + "/metrics/rules", timeout=5) as r:
        assert f'ringmq_rules_active{{instance="{health(st)["rules_instance"]}"}} 1' in r.read().decode()
    # The killed one, started again, is the standby now.
    again = st.add_rules("ringmq-rules-a2")
    wait_until(lambda: standby(st, "ringmq-rules-a2"), 5, what="the restarted rules to wait as the standby")
    assert again.alive() and not active(st, "ringmq-rules-a2")
    print(f"standby active {took:.2f} s after the SIGKILL")


def test_database_connection_cut_stops_the_active_rules(pair):
    st, other = pair
    if not st.db.startswith("postgresql://"):
        pytest.skip("no connection to cut: SQLite is a file")
    calls = ringing_calls(st)
    # The active rules' session is the one holding the advisory lock.
    ended = pg_server().psql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                             " AND granted AND database = (SELECT oid FROM pg_database WHERE datname = '"
                             + st.db.rsplit("/", 1)[1] + "')")
    assert ended.split() == ["t"], ended
    send_candidates(calls)   # while it notices: each is routed once (by either rules) or answered unavailable
    t0 = time.monotonic()
    assert st.rules.p.wait(5) == 3, "the rules that lost its database exits 3 at once"
    st.procs.remove(st.rules)
    assert "lost the database: stopping at once" in log_of(st, "ringmq-rules")
    wait_until(lambda: active(st, "ringmq-rules-b"), TAKEOVER_S, what="the standby to take the lock")
    took = time.monotonic() - t0
    routed_total = 0
    for _, a_n, _, b_n, cid in calls:
        routed = [f for f in drain(b_n, 1.5)]
        refused = [f for f in drain(a_n, 0.2)]
        assert all(f["type"] == "call.ice_candidate" and f["call_id"] == cid for f in routed), routed
        assert all(f["type"] == "error" and f["code"] == "unavailable" and f["ref"] == "call.ice_candidate"
                   for f in refused), refused
        names = [f["candidate"]["candidate"].split()[0] for f in routed]
        assert names == sorted(set(names)), names                  # once each, in order
        assert len({f["msg_id"] for f in routed}) == len(routed)
        assert len(routed) + len(refused) == FRAMES, (routed, refused)   # none silently lost
        routed_total += len(routed)
    send_candidates(calls)   # after the switch: all routed, once, in order
    expect_candidates_once_in_order(calls)
    expect_missed_once(st, calls)
    print(f"standby active {took:.2f} s after the old one exited; {routed_total}/{CALLS * FRAMES} frames"
          " sent during the cut were routed, the rest answered unavailable")
