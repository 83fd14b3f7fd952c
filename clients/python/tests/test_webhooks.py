"""ringmq.webhooks.verify: expected signatures computed here with hmac,
independently of the package."""
import hashlib
import hmac
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ringmq import webhooks  # noqa: E402

SECRET = "3f1c0d9e8b7a6f5e4d3c2b1a09f8e7d6"
BODY = json.dumps({"id": "5b0e9f36-3c49-4f7e-9d55-0c1a9a8e4f21", "type": "call.ended",
                   "created_at": "2026-12-02T01:11:36.368Z",
                   "call": {"call_id": "136da1ef-af6e-4e87-b21b-738044ac6b28", "caller_id": "alice",
                            "receiver_id": "bob", "status": "ended", "duration_ms": 12058}}).encode()


def signed(body=BODY, secret=SECRET, ts=None):
    ts = int(time.time()) if ts is None else ts
    sig = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Ringmq-Timestamp": str(ts), "X-Ringmq-Signature": "v1=" + sig,
            "X-Ringmq-Event-Id": "5b0e9f36-3c49-4f7e-9d55-0c1a9a8e4f21"}


def test_good_signature_returns_the_event():
    ev = webhooks.verify(SECRET, signed(), BODY)
    assert ev["type"] == "call.ended" and ev["call"]["duration_ms"] == 12058


def test_secret_as_bytes_and_headers_in_any_case_or_as_wsgi_environ():
    h = signed()
    lower = {k.lower(): v for k, v in h.items()}
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in h.items()}
    for headers in (lower, environ):
        assert webhooks.verify(SECRET.encode(), headers, BODY)["type"] == "call.ended"


def test_wrong_secret_is_refused():
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify("another-secret", signed(), BODY)


def test_altered_body_is_refused():
    altered = BODY.replace(b'"bob"', b'"eve"')
    assert altered != BODY
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(SECRET, signed(), altered)
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(SECRET, signed(), BODY + b" ")


def test_old_timestamp_is_refused_and_the_tolerance_holds():
    now = 1_800_000_000
    old = signed(ts=now - 301)
    with pytest.raises(webhooks.InvalidSignature, match="tolerance"):
        webhooks.verify(SECRET, old, BODY, now=now)
    assert webhooks.verify(SECRET, signed(ts=now - 300), BODY, now=now)["type"] == "call.ended"
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(SECRET, signed(ts=now + 301), BODY, now=now)      # from the future
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(SECRET, old, BODY, now=now, tolerance=60)


def test_timestamp_is_part_of_the_signature():
    h = signed(ts=1_800_000_000)
    h["X-Ringmq-Timestamp"] = "1800000001"
    with pytest.raises(webhooks.InvalidSignature, match="mismatch"):
        webhooks.verify(SECRET, h, BODY, now=1_800_000_000)


@pytest.mark.parametrize("drop", ["X-Ringmq-Timestamp", "X-Ringmq-Signature"])
def test_missing_headers_are_refused(drop):
    h = signed()
    del h[drop]
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(SECRET, h, BODY)


def test_garbage_timestamp_and_signature_without_prefix():
    h = signed()
    h["X-Ringmq-Timestamp"] = "12a"
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(SECRET, h, BODY)
    h = signed()
    h["X-Ringmq-Signature"] = h["X-Ringmq-Signature"][3:]      # bare hex: not v1=
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(SECRET, h, BODY)


def test_sign_matches_an_independent_hmac():
    ts = 1_800_000_000
    assert webhooks.sign(SECRET, ts, BODY) == signed(ts=ts)["X-Ringmq-Signature"]
