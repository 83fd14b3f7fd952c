"""ringmq.Client: the bridge's HTTP API (docs/protocol.md section 10).

Standard library only (http.client). One keep-alive connection per thread,
so a Client may be shared by threads (ringmq_sync does). Every request has a
bounded time-out; a 503 or a failed connection is retried `retries` times
with exponential back-off (0.2 s, 0.4 s, 0.8 s, ... at most 5 s). A request
that timed out after it was sent is retried only when it is idempotent (all
routes here except notify)."""
import http.client
import json
import socket
import threading
import time
import urllib.parse

from . import errors

USER_AGENT = "ringmq-python/0.1"


def _id(value, what):
    s = str(value)
    if not s or len(s) > 64 or not all(c.isalnum() and c.isascii() or c in "_-" for c in s):
        raise ValueError(f"{what} {value!r} breaks the id rule (1-64 of A-Z a-z 0-9 _ -)")
    return s


class Client:
    def __init__(self, url, api_key=None, timeout=5, retries=3, backoff=0.2, max_backoff=5.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"ringmq URL must be http(s)://host[:port], got {url!r}")
        self.url = url.rstrip("/")
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.prefix = u.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._local = threading.local()

    # ------------------------------------------------------------ server API (X-Api-Key)
    def put_conversation(self, conversation_id, members):
        """Creates the conversation or replaces its members. Returns the
        answer ({"conversation_id", "members"}) plus "created": True on 201."""
        cid = _id(conversation_id, "conversation id")
        body = {"members": [m if isinstance(m, int) and not isinstance(m, bool) else str(m) for m in members]}
        status, data = self._call("PUT", f"/api/conversations/{cid}/", body, api=True)
        data["created"] = status == 201
        return data

    def delete_conversation(self, conversation_id, missing_ok=False):
        """Deletes it (every chat socket of it closes 4403). NotFound when
        there is none, unless missing_ok."""
        cid = _id(conversation_id, "conversation id")
        try:
            self._call("DELETE", f"/api/conversations/{cid}/", None, api=True)
        except errors.NotFound:
            if not missing_ok:
                raise
            return False
        return True

    def notify(self, user_id, payload):
        """notification.created {payload} to every device of the user."""
        if not isinstance(payload, dict):
            raise TypeError("payload must be a dict")
        _, data = self._call("POST", "/api/notifications/", {"user_id": str(user_id), "payload": payload},
                             api=True, idempotent=False)
        return data

    def disconnect(self, user_id):
        """Revokes the user: every socket closes 4401 "revoked" and tokens
        issued up to this second are refused from now on."""
        uid = _id(user_id, "user id")
        _, data = self._call("POST", f"/api/users/{uid}/disconnect/", {}, api=True)
        return data

    # ------------------------------------------------------------ user routes (Bearer token)
    def calls(self, token, limit=None, before=None):
        """One page of the user's history: {"calls": [...], "next_before"}."""
        q = {}
        if limit is not None:
            q["limit"] = str(limit)
        if before is not None:
            q["before"] = before
        path = "/calls/" + ("?" + urllib.parse.urlencode(q) if q else "")
        return self._call("GET", path, None, token=token)[1]

    def call(self, token, call_id):
        return self._call("GET", f"/calls/{urllib.parse.quote(str(call_id), safe='')}/", None, token=token)[1]

    def ice_servers(self, token):
        """{"ice_servers": [...], "ttl"}: pass ice_servers to RTCPeerConnection."""
        return self._call("GET", "/calls/ice-servers/", None, token=token)[1]

    def initiate(self, token, receiver_id, conversation_id, call_type="video"):
        body = {"receiver_id": str(receiver_id), "conversation_id": str(conversation_id), "call_type": call_type}
        return self._call("POST", "/calls/initiate/", body, token=token, idempotent=False)[1]

    def healthz(self):
        return self._call("GET", "/healthz", None)[1]

    # ------------------------------------------------------------ transport
    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _once(self, method, path, raw, headers):
        conn = self._conn()
        try:
            conn.request(method, self.prefix + path, body=raw, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            conn.close()
            self._local.conn = None
            raise
        if resp.getheader("Connection", "").lower() == "close":
            conn.close()
            self._local.conn = None
        return resp.status, resp.getheader("Retry-After"), data

    def _call(self, method, path, body, api=False, token=None, idempotent=True):
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        raw = None
        if body is not None:
            raw = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        if api:
            if not self.api_key:
                raise errors.Unauthorized("no API key given to ringmq.Client", status=None)
            headers["X-Api-Key"] = self.api_key
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        attempt = 0
        while True:
            try:
                status, retry_after, data = self._once(method, path, raw, headers)
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine) as e:
                # refused before sending, or a kept-alive connection the server had closed
                if attempt >= self.retries:
                    raise errors.ConnectionFailed(f"{method} {path}: {e}", code="unavailable") from e
            except (socket.timeout, TimeoutError, OSError) as e:
                if attempt >= self.retries or (not idempotent and isinstance(e, (socket.timeout, TimeoutError))):
                    raise errors.ConnectionFailed(f"{method} {path}: {e}", code="unavailable") from e
            else:
                try:
                    parsed = json.loads(data) if data else {}
                except ValueError:
                    parsed = {}
                if 200 <= status < 300:
                    return status, parsed if isinstance(parsed, dict) else {"data": parsed}
                err = errors.from_response(status, parsed)
                if isinstance(err, errors.RateLimited) and retry_after and retry_after.isdigit():
                    err.retry_after = int(retry_after)
                if status != 503 or attempt >= self.retries:
                    raise err
            time.sleep(min(self.max_backoff, self.backoff * (2 ** attempt)))
            attempt += 1
