"""Webhooks from ringmq-rules to the application's backend (README.md "Your
backend"), end to end: the real mosquitto, ringmq-rules and ringmq-bridge,
and a real HTTP receiver (http.server in a thread of this test, on a free
loopback port) that records every attempt and answers what the test says.

Shown here: call.ringing, call.accepted and call.ended for each way a call
ends (hangup, declined, cancelled, missed, the longest call), with bodies
that match GET /calls/<id>/ and validate against schemas/webhook/, and a
valid signature over each attempt's own timestamp; retries with back-off
while the receiver answers 500, in order per call, the same id and body on
every attempt; an event that survives SIGKILL of rules between the state
change and its delivery; and a receiver that accepts connections but never
answers leaving routing and ring time-outs as fast as with a prompt one
(measured against a baseline in the same test). Also the example receiver
(examples/webhook_receiver.py) against the real stack."""
import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import _make_stack
from ringmq_client import REPO, schemas, wait_until
from test_core import ANSWER_SDP, OFFER_SDP, initiate, parties
from test_lifecycle import answer

RING_MS = 1500        # ring time-out of the stacks here
MAX_CALL_MS = 3000    # --max-call-ms of the end-ways stack
EVENT_WAIT = 10.0     # seconds an event may take to arrive when the receiver answers
HANG_TIMEOUT_S = 5    # rules gives up an attempt after this (the contract's 5 s)
SAMPLES = 10          # calls measured per phase of the latency test


class Receiver:
    """The application's backend: records every POST (wall time, headers,
    raw body, the status answered) and answers .status; while .hang is set
    it reads the request and never answers (until close())."""

    def __init__(self):
        self.attempts = []
        self.status = 200
        self.hang = False
        self.hung = 0              # requests held unanswered so far
        self.lock = threading.Lock()
        self.released = threading.Event()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with rec.lock:
                    hang, status = rec.hang, rec.status
                    if hang:
                        rec.hung += 1
                if hang:
                    rec.released.wait()
                    return
                with rec.lock:
                    rec.attempts.append({"at": time.time(), "headers": dict(self.headers), "raw": raw,
                                         "status": status, "path": self.path})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ringmq"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.attempts)

    def of_call(self, call_id):
        return [a for a in self.snapshot() if json.loads(a["raw"])["call"]["call_id"] == call_id]

    def delivered(self, call_id):
        """Events of the call answered 2xx, first delivery of each id, in arrival order."""
        seen, out = set(), []
        for a in self.of_call(call_id):
            ev = json.loads(a["raw"])
            if 200 <= a["status"] < 300 and ev["id"] not in seen:
                seen.add(ev["id"])
                out.append(ev)
        return out

    def wait_delivered(self, call_id, types, timeout=EVENT_WAIT):
        wait_until(lambda: len(self.delivered(call_id)) >= len(types), timeout,
                   what=f"{types} of call {call_id} (got {[e['type'] for e in self.delivered(call_id)]})")
        got = self.delivered(call_id)
        assert [e["type"] for e in got] == list(types), got
        return got


class Hooked:
    """A receiver, a secret, and a stack whose rules posts to the receiver."""

    def __init__(self, request, name, **kw):
        self.receiver = Receiver()
        request.addfinalizer(self.receiver.close)
        self.dir = tempfile.mkdtemp(prefix="ringmq-hooks-")
        request.addfinalizer(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.secret = secrets.token_hex(32)
        self.secret_file = os.path.join(self.dir, "webhook_secret")
        with open(self.secret_file, "w") as f:
            f.write(self.secret + "\n")
        os.chmod(self.secret_file, 0o600)
        self.rules_args = ("--webhook-url", self.receiver.url, "--webhook-secret-file", self.secret_file) + \
            tuple(kw.pop("rules_args", ()))
        self.st = _make_stack(request, rules_args=self.rules_args, name=name, **kw)


def check_attempt(h, attempt, expect_type=None):
    """One attempt as the contract says: headers, signature over its own
    timestamp, a body valid against schemas/webhook/. Returns the event."""
    hd = {k.lower(): v for k, v in attempt["headers"].items()}
    raw = attempt["raw"]
    ev = json.loads(raw)
    assert attempt["path"] == "/hooks/ringmq"
    assert hd["content-type"] == "application/json"
    assert hd["x-ringmq-event-id"] == ev["id"]
    ts = hd["x-ringmq-timestamp"]
    assert ts.isdigit() and abs(int(ts) - attempt["at"]) <= 2, (ts, attempt["at"])   # this attempt's time
    want = hmac.new(h.secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert hd["x-ringmq-signature"] == "v1=" + want
    schemas().check(f"webhook/{ev['type']}.json", ev, f"webhook {ev['type']} body")
    if expect_type:
        assert ev["type"] == expect_type
    return ev


def ms(iso):
    return round(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def check_call_events(h, party, call_id, types, initiate_body, accepted_record=None):
    """The delivered events of call_id are exactly types, each attempt
    checked; ringing carries the initiate answer, accepted the record of
    that moment, ended the final record of GET /calls/<id>/ plus duration_ms.
    Returns the events."""
    evs = h.receiver.wait_delivered(call_id, types)
    for a in h.receiver.of_call(call_id):
        check_attempt(h, a)
    ringing = evs[0]
    assert ringing["call"] == initiate_body, "call.ringing carries the initiate answer's record"
    assert ringing["created_at"] == initiate_body["created_at"]
    final = h.st.http.call(party.token, call_id).body
    if "call.accepted" in types:
        acc = evs[types.index("call.accepted")]
        if accepted_record is not None:
            assert acc["call"] == accepted_record
        assert acc["created_at"] == final["answered_at"]
    ended = evs[-1]
    assert ended["type"] == "call.ended"
    call = dict(ended["call"])
    duration = call.pop("duration_ms")
    assert call == final, "call.ended carries GET /calls/<id>/ as it is now"
    assert ended["created_at"] == final["ended_at"]
    if final["answered_at"]:
        assert duration == ms(final["ended_at"]) - ms(final["answered_at"])
    else:
        assert duration is None
    assert len({e["id"] for e in evs}) == len(evs)
    return evs


# ------------------------------------------------------------- the schemas

CID = "0b6f1d2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
EID = "7d3c2b1a-0f9e-4d8c-b7a6-958473625140"
T = "2026-11-24T23:20:00.123Z"
RECORD = {"call_id": CID, "caller_id": "a", "caller_username": "A", "receiver_id": "b", "call_type": "video",
          "conversation_id": "c", "status": "ringing", "created_at": T, "answered_at": None, "ended_at": None,
          "end_reason": None, "ended_by": None}


def event(type_, **call):
    return {"id": EID, "type": type_, "created_at": T, "call": dict(RECORD, **call)}


def test_webhook_schemas_take_good_bodies_and_refuse_bad_ones():
    S = schemas()
    good = [
        event("call.ringing", receiver_online=False),
        event("call.accepted", status="accepted", answered_at=T),
        event("call.ended", status="ended", answered_at=T, ended_at=T, end_reason="hangup", ended_by="a",
              duration_ms=1200),
        event("call.ended", status="ended", answered_at=T, ended_at=T, end_reason="hangup", ended_by=None,
              duration_ms=3000),
        event("call.ended", status="declined", ended_at=T, end_reason="declined", ended_by="b", duration_ms=None),
        event("call.ended", status="cancelled", ended_at=T, end_reason="cancelled", ended_by="a",
              duration_ms=None),
        event("call.ended", status="missed", ended_at=T, end_reason="missed", duration_ms=None),
    ]
    for ev in good:
        S.check(f"webhook/{ev['type']}.json", ev)
        S.check("webhook/event.json", ev)
    bad = [
        (event("call.ringing"), "receiver_online missing"),
        (dict(event("call.ringing", receiver_online=True), id="x"), "id not a UUID"),
        (event("call.accepted", status="accepted"), "accepted without answered_at"),
        (event("call.ended", status="ended", answered_at=T, ended_at=T, end_reason="hangup", ended_by="a"),
         "duration_ms missing"),
        (event("call.ended", status="ended", answered_at=T, ended_at=T, end_reason="hangup", ended_by="a",
               duration_ms=None), "a hung-up call has a duration"),
        (event("call.ended", status="missed", ended_at=T, end_reason="missed", ended_by="b", duration_ms=None),
         "nobody ends a missed call"),
        (event("call.ended", status="declined", ended_at=T, end_reason="cancelled", ended_by="b",
               duration_ms=None), "status and end_reason agree"),
        (event("call.ended", status="cancelled", ended_at=None, end_reason="cancelled", ended_by="a",
               duration_ms=None), "ended_at missing"),
    ]
    for ev, why in bad:
        assert S.errors(f"webhook/{ev['type']}.json", ev), f"should not validate: {why}"
    assert S.errors("webhook/event.json", dict(event("call.ringing"), type="call.offer"))


# ------------------------------------------------------- each way to end

@pytest.fixture(scope="module")
def hooked(request):
    return Hooked(request, "webhook stack", ring_timeout_ms=RING_MS, rules_args=("--max-call-ms", str(MAX_CALL_MS)))


@pytest.mark.parametrize("how", ["hangup", "declined", "cancelled", "missed", "max_call"])
def test_events_for_each_way_a_call_ends(hooked, how):
    st = hooked.st
    (a, b), conv = parties(st)
    a_n = st.connect_notify(a.id)
    b_n = st.connect_notify(b.id) if how != "missed" else None   # a missed call rings an offline receiver
    init = initiate(st, a, b, conv)
    cid = init["call_id"]
    assert init["receiver_online"] is (b_n is not None)
    accepted_record = None
    if how in ("hangup", "max_call"):
        b_n.expect("call.incoming")
        answer(st, [a_n], b_n, cid)
        accepted_record = st.http.call(a.token, cid).body
    if how == "hangup":
        b_n.send_json({"type": "call.end", "call_id": cid})
    elif how == "declined":
        b_n.expect("call.incoming")
        b_n.send_json({"type": "call.end", "call_id": cid})
    elif how == "cancelled":
        a_n.send_json({"type": "call.end", "call_id": cid})
    end = a_n.expect("call.end", timeout=MAX_CALL_MS / 1000 + 5, skip=("call.answer", "call.accepted"))
    want = {"hangup": ("hangup", b.id), "declined": ("declined", b.id), "cancelled": ("cancelled", a.id),
            "missed": ("missed", None), "max_call": ("hangup", None)}[how]
    assert (end["reason"], end["ended_by"]) == want
    types = ["call.ringing", "call.accepted", "call.ended"] if accepted_record else ["call.ringing", "call.ended"]
    evs = check_call_events(hooked, a, cid, types, init, accepted_record)
    ended = evs[-1]["call"]
    assert (ended["end_reason"], ended["ended_by"]) == want
    assert ended["status"] == {"hangup": "ended", "max_call": "ended"}.get(how, how)
    if how == "max_call":
        assert ended["duration_ms"] >= MAX_CALL_MS
    time.sleep(0.3)
    assert len(hooked.receiver.of_call(cid)) == len(types), "each event delivered once to a receiver that answers"


# ------------------------------------------------------ retries, in order

def test_retries_with_back_off_until_the_receiver_recovers(request):
    h = Hooked(request, "webhook retry stack")
    st, rec = h.st, h.receiver
    rec.status = 500
    calls = []
    for _ in range(2):
        (a, b), conv = parties(st)
        a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
        init = initiate(st, a, b, conv)
        b_n.expect("call.incoming")
        answer(st, [a_n], b_n, init["call_id"])
        a_n.send_json({"type": "call.end", "call_id": init["call_id"]})
        b_n.expect("call.end")
        calls.append((a, init))
    first = calls[0][1]["call_id"]
    wait_until(lambda: len(rec.of_call(first)) >= 3, 10, what="three attempts of the first event")
    rec.status = 200
    for a, init in calls:
        evs = check_call_events(h, a, init["call_id"], ["call.ringing", "call.accepted", "call.ended"], init)
        tries = rec.of_call(init["call_id"])
        # Every attempt of an event carries the same bytes; the next event
        # of the call is tried only after the one before was delivered.
        by_id = {}
        for t in tries:
            by_id.setdefault(json.loads(t["raw"])["id"], []).append(t)
        assert list(by_id) == [e["id"] for e in evs], "events tried in order"
        for ev in evs:
            assert len({t["raw"] for t in by_id[ev["id"]]}) == 1, "the body is the same on every attempt"
        delivered_at = [next(t["at"] for t in by_id[e["id"]] if t["status"] == 200) for e in evs]
        for prev, nxt in zip(evs, evs[1:]):
            assert min(t["at"] for t in by_id[nxt["id"]]) >= delivered_at[evs.index(prev)]
    # Back-off: the waits between the first event's failed attempts grow, and
    # each attempt is signed with its own (later) time.
    failed = [t for t in rec.of_call(first) if t["status"] == 500]
    assert len(failed) >= 3
    gaps = [b["at"] - a["at"] for a, b in zip(failed, failed[1:])]
    assert gaps[1] > gaps[0] * 1.4, gaps
    stamps = [int(t["headers"]["X-Ringmq-Timestamp"]) for t in rec.of_call(first)]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]
    # rules' metrics count what happened: 6 events queued and delivered, the
    # failed attempts, an empty outbox.
    def rules_metric(name):
        with urllib.request.urlopen(st.base_url + "/metrics/rules", timeout=5) as r:
            text = r.read().decode()
        return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))
    wait_until(lambda: rules_metric('ringmq_rules_webhook_events_total{result="delivered"}') >= 6, 10,
               what="6 deliveries counted")
    assert rules_metric('ringmq_rules_webhook_events_total{result="queued"}') == 6
    assert rules_metric("ringmq_rules_webhook_attempts_failed_total") >= len(failed)
    assert rules_metric("ringmq_rules_webhook_queue_depth") == 0


# ------------------------------------------------------- rules SIGKILLed

def kill_rules(st):
    st.rules.p.send_signal(signal.SIGKILL)
    st.rules.p.wait(5)
    st.rules.log.close()
    st.procs.remove(st.rules)


def outbox_rows(st):
    return st.db_rows("SELECT event_id FROM webhook_outbox ORDER BY seq")


def test_events_survive_sigkill_of_rules_between_change_and_delivery(request):
    h = Hooked(request, "webhook kill stack")
    st, rec = h.st, h.receiver
    rec.status = 500
    (a, b), conv = parties(st)
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    init = initiate(st, a, b, conv)
    cid = init["call_id"]
    b_n.expect("call.incoming")
    wait_until(lambda: rec.of_call(cid), 5, what="a first (refused) attempt of call.ringing")
    ringing_id = json.loads(rec.of_call(cid)[0]["raw"])["id"]
    answer(st, [a_n], b_n, cid)          # the answer is stored and routed: its event waits behind ringing
    kill_rules(st)
    assert len(outbox_rows(st)) == 2, "both events were in the store when rules died"
    rec.status = 200
    st._start_rules(h.rules_args)
    wait_until(st._healthy, 10, what="healthz 200 after the restart")
    b_n.send_json({"type": "call.end", "call_id": cid})
    a_n.expect("call.end", timeout=10)
    evs = check_call_events(h, a, cid, ["call.ringing", "call.accepted", "call.ended"], init)
    assert evs[0]["id"] == ringing_id, "the retry after the restart keeps the event's id"
    wait_until(lambda: not outbox_rows(st), 5, what="the outbox to empty")


# ---------------------------------------- a hung receiver delays nothing

def measure_call(st, a, b, a_n, b_n, conv):
    """initiate -> call.incoming, and call.offer -> call.answer back at the
    caller (through the receiver's device), in seconds; then hangs up."""
    t0 = time.monotonic()
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    t1 = time.monotonic()
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    b_n.expect("call.offer")
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_n.expect("call.answer", skip=("call.accepted",))
    t2 = time.monotonic()
    b_n.expect("call.accepted")
    a_n.send_json({"type": "call.end", "call_id": cid})
    for w in (a_n, b_n):
        w.expect("call.end", skip=("call.accepted",))
    a_n.skipped.clear()
    return t1 - t0, t2 - t1


def measure_missed(st, a, b, a_n, b_n, conv):
    """initiate -> call.end missed at the receiver, in seconds."""
    t0 = time.monotonic()
    initiate(st, a, b, conv)
    b_n.expect("call.incoming")
    assert b_n.expect("call.end", timeout=RING_MS / 1000 + 5)["reason"] == "missed"
    took = time.monotonic() - t0
    a_n.expect("call.end")
    return took


def test_a_receiver_that_never_answers_delays_no_routing(request):
    h = Hooked(request, "webhook hung stack", ring_timeout_ms=RING_MS,
               bridge_args=("--initiate-per-minute", "6000", "--initiate-burst", str(4 * SAMPLES)))
    st, rec = h.st, h.receiver
    (a, b), conv = parties(st)
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    phases = {}
    for phase in ("baseline", "hung"):
        rec.hang = phase == "hung"
        samples = [measure_call(st, a, b, a_n, b_n, conv) for _ in range(SAMPLES)]
        missed = measure_missed(st, a, b, a_n, b_n, conv)
        phases[phase] = ([s[0] for s in samples], [s[1] for s in samples], missed)
        if phase == "baseline":
            wait_until(lambda: not outbox_rows(st), EVENT_WAIT, what="the baseline's events delivered")
    assert rec.hung >= 1, "the receiver held requests unanswered while the hung phase was measured"
    assert outbox_rows(st), "the hung phase's events wait in the outbox"
    (base_inc, base_ans, base_missed), (hung_inc, hung_ans, hung_missed) = phases["baseline"], phases["hung"]
    report = {k: (round(statistics.median(v[0]) * 1000, 2), round(statistics.median(v[1]) * 1000, 2),
                  round(v[2] * 1000)) for k, v in phases.items()}
    print(f"median initiate->incoming ms, offer->answer ms, initiate->missed ms: {report}")
    assert statistics.median(hung_inc) <= 3 * statistics.median(base_inc), report
    assert statistics.median(hung_ans) <= 3 * statistics.median(base_ans), report
    assert hung_missed <= 1.5 * base_missed, report
    # Released, the receiver answers again: attempts that timed out are
    # retried and every event arrives.
    rec.status, rec.hang = 200, False
    rec.released.set()
    wait_until(lambda: not outbox_rows(st), 4 * HANG_TIMEOUT_S + 10, interval=0.2,
               what="every event of the hung phase delivered after the receiver recovered")


# ----------------------------------------------------- the example receiver

def test_example_receiver_verifies_and_prints(request):
    """examples/webhook_receiver.py as the backend: it accepts ringmq's
    signed events (and prints them) and refuses a forged one."""
    tmp = tempfile.mkdtemp(prefix="ringmq-example-")
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    secret_file = os.path.join(tmp, "webhook_secret")
    with open(secret_file, "w") as f:
        f.write(secrets.token_hex(16) + "\n")
    ex = subprocess.Popen([sys.executable, os.path.join(REPO, "examples", "webhook_receiver.py"), "--port", "0",
                           "--secret-file", secret_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stop():
        ex.kill()
        ex.wait(5)
    request.addfinalizer(stop)
    out = queue.Queue()
    threading.Thread(target=lambda: [out.put(line) for line in ex.stdout], daemon=True).start()

    def line():
        try:
            return out.get(timeout=EVENT_WAIT)
        except queue.Empty:
            raise AssertionError(f"the example printed nothing within {EVENT_WAIT}s") from None
    first = line()
    assert first.startswith("listening on http://127.0.0.1:"), first
    url = first.split()[-1]
    st = _make_stack(request, ring_timeout_ms=RING_MS, name="example receiver stack",
                     rules_args=("--webhook-url", url, "--webhook-secret-file", secret_file))
    (a, b), conv = parties(st)
    init = initiate(st, a, b, conv)   # b is offline: the example says to push
    lines = [line() for _ in range(4)]
    assert "call.ringing call " + init["call_id"] in lines[0] and "push" in lines[0], lines
    assert json.loads(lines[1])["call"] == init
    assert "call.ended call " + init["call_id"] in lines[2] and "missed" in lines[2], lines
    schemas().check("webhook/call.ended.json", json.loads(lines[3]))
    # A forged request is refused 401.
    req = urllib.request.Request(url, data=b'{"id":"x"}', method="POST", headers={
        "X-Ringmq-Timestamp": str(int(time.time())), "X-Ringmq-Signature": "v1=" + "0" * 64})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 401
    assert subprocess.run([sys.executable, os.path.join(REPO, "examples", "webhook_receiver.py"), "--help"],
                          capture_output=True, text=True).returncode == 0
