"""POST /calls/initiate/ is limited per caller (PROTOCOL.md "Production
contract" -> "Revocation and per-user limits"): by default 10 a minute with
bursts of 5, a token bucket: 5 held, one more every 6 s. Beyond, 429
rate_limited with Retry-After, the whole seconds until the next initiate
would be accepted; another caller on the same bridge is not affected and is
answered as fast as before the abuse (compared with its own latency before,
in this test)."""
import time

from test_core import parties


def initiate(st, caller, receiver, conv):
    return st.http.initiate(caller.token, receiver.id, conv)


def timed_call_and_cancel(st, caller, receiver, conv):
    """caller rings receiver and cancels: (status, seconds the initiate took)."""
    w = st.connect_notify(caller.id)
    try:
        t0 = time.monotonic()
        res = initiate(st, caller, receiver, conv)
        took = time.monotonic() - t0
        if res.status == 201:
            w.send_json({"type": "call.end", "call_id": res.body["call_id"]})
            w.expect("call.end")
        return res.status, took
    finally:
        w.close()


def test_burst_then_429_with_retry_after_and_others_served(fresh_stack):
    st = fresh_stack
    (a, b, c, d), conv = parties(st, 4)
    before = [timed_call_and_cancel(st, c, d, conv) for _ in range(2)]
    assert [s for s, _ in before] == [201, 201], before
    # a's burst: the first rings, the next four are busy (409) and count too
    statuses = [initiate(st, a, b, conv).status for _ in range(5)]
    assert statuses == [201, 409, 409, 409, 409], statuses
    refused = initiate(st, a, b, conv)
    assert refused.status == 429, refused
    assert refused.body["error"] == "rate_limited", refused.body
    assert 1 <= int(refused.headers["Retry-After"]) <= 6, dict(refused.headers)
    # c (2 of its 5 used) is not limited, nor slower than before
    status, after = timed_call_and_cancel(st, c, d, conv)
    assert status == 201
    assert after <= max(t for _, t in before) + 0.1, (before, after)


def test_the_bucket_refills_one_every_six_seconds(fresh_stack):
    st = fresh_stack
    (a, b), conv = parties(st, 2)
    assert [initiate(st, a, b, conv).status for _ in range(5)] == [201, 409, 409, 409, 409]
    refused = initiate(st, a, b, conv)
    assert refused.status == 429
    wait = int(refused.headers["Retry-After"])
    time.sleep(wait + 0.3)
    assert initiate(st, a, b, conv).status == 409   # taken again: busy, not limited
    assert initiate(st, a, b, conv).status == 429   # and only the one
