"""Errors of the ringmq HTTP API (docs/protocol.md 10.1) as exceptions.

Every one is a ringmq.Error with .status (the HTTP status, None when no
answer came), .code (the body's "error" code, e.g. "busy"), .message and
.body (the parsed error body, {} when there was none)."""


class Error(Exception):
    status = None
    code = None

    def __init__(self, message="", status=None, code=None, body=None):
        super().__init__(message or code or "ringmq error")
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.body = body or {}

    def __str__(self):
        return f"{self.status} {self.code}: {self.message}" if self.status else f"{self.code}: {self.message}"


class BadRequest(Error):
    status, code = 400, "bad_request"


class Unauthorized(Error):
    status, code = 401, "unauthorized"


class Forbidden(Error):
    status, code = 403, "forbidden"


class NotFound(Error):
    status, code = 404, "not_found"


class MethodNotAllowed(Error):
    status, code = 405, "method_not_allowed"


class Busy(Error):
    """409 busy; .call_id is the ringing call of a glare (else None)."""
    status, code = 409, "busy"

    @property
    def call_id(self):
        return self.body.get("call_id")


class TooLarge(Error):
    status, code = 413, "too_large"


class RateLimited(Error):
    """429 rate_limited; .retry_after in seconds (None when not given)."""
    status, code = 429, "rate_limited"
    retry_after = None


class Unavailable(Error):
    """503 unavailable (after the retries)."""
    status, code = 503, "unavailable"


class ConnectionFailed(Unavailable):
    """No answer at all (refused, reset, time-out) after the retries; .status is None."""
    status = None


BY_CODE = {c.code: c for c in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Busy, TooLarge,
                               RateLimited, Unavailable)}
BY_STATUS = {c.status: c for c in BY_CODE.values()}


def from_response(status, body):
    """The exception for an error answer (body: the parsed JSON, or {})."""
    code = body.get("error") if isinstance(body, dict) else None
    cls = BY_CODE.get(code) or BY_STATUS.get(status) or Error
    message = body.get("message", "") if isinstance(body, dict) else ""
    return cls(message, status=status, code=code or cls.code or "http_%d" % status,
               body=body if isinstance(body, dict) else {})
