"""Checking ringmq's webhooks (docs/protocol.md 12.2).

    event = ringmq.webhooks.verify(secret, request.headers, request.body)

The signature is "v1=" + hex HMAC-SHA256 of "<X-Ringmq-Timestamp>.<body>"
keyed with the secret, over the exact bytes received; a timestamp further
than `tolerance` seconds from now (either way) is refused as a replay."""
import hashlib
import hmac
import json
import time

SIGNATURE = "X-Ringmq-Signature"
TIMESTAMP = "X-Ringmq-Timestamp"
EVENT_ID = "X-Ringmq-Event-Id"
EVENT_TYPES = ("call.ringing", "call.accepted", "call.ended")


class InvalidSignature(ValueError):
    """The request is not a genuine, fresh ringmq webhook."""


def _header(headers, name):
    """A header from a dict (any case), an email.message / Django
    HttpHeaders, or a WSGI environ / Django request.META."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    for key in (name, name.lower(), "HTTP_" + name.upper().replace("-", "_")):
        v = getter(key) if getter else None
        if v is not None:
            return v
    try:
        for k, v in headers.items():
            if k.lower() == name.lower():
                return v
    except AttributeError:
        pass
    return None


def sign(secret, timestamp, body):
    """The X-Ringmq-Signature value for a body sent at timestamp (for tests)."""
    key = secret.encode() if isinstance(secret, str) else secret
    raw = body.encode() if isinstance(body, str) else body
    return "v1=" + hmac.new(key, str(int(timestamp)).encode() + b"." + raw, hashlib.sha256).hexdigest()


def verify(secret, headers, body, tolerance=300, now=None):
    """The parsed event (a dict) when the signature and the timestamp hold;
    InvalidSignature otherwise."""
    if not secret:
        raise InvalidSignature("no webhook secret configured")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    ts = _header(headers, TIMESTAMP)
    sig = _header(headers, SIGNATURE)
    if not ts or not sig:
        raise InvalidSignature("missing X-Ringmq-Timestamp or X-Ringmq-Signature")
    ts = ts.strip()
    if not ts.isdigit() or len(ts) > 12:
        raise InvalidSignature("bad X-Ringmq-Timestamp")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance (a replay?)")
    want = sign(secret, ts, raw)
    if not any(hmac.compare_digest(want, part.strip()) for part in sig.split(",")):
        raise InvalidSignature("signature mismatch")
    try:
        event = json.loads(raw)
    except ValueError as e:
        raise InvalidSignature("body is not JSON") from e
    if not isinstance(event, dict) or not isinstance(event.get("call"), dict) or "type" not in event:
        raise InvalidSignature("body is not a ringmq event")
    return event
