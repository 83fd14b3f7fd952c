"""Client-side helpers of the integration tests: tokens, HTTP, WebSocket,
and the schema check every received frame and body goes through.

Standard library plus Debian's python3-websocket (websocket-client) and
python3-jsonschema. Every wait here is bounded; nothing sleeps blindly.
"""
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import jsonschema
import websocket
import websocket._abnf

# websocket-client 1.2.3 (Debian 12) takes the IANA-registered close codes
# 1012-1014 for invalid and raises instead of returning the close frame;
# the bridge closes slow readers and unready sockets with 1013 (try again
# later). Later releases accept them; so do we.
if 1013 not in websocket._abnf.VALID_CLOSE_STATUS:
    websocket._abnf.VALID_CLOSE_STATUS += (1012, 1013, 1014)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMA_DIR = os.path.join(REPO, "schemas")

# Server frame types that have a schema of their own; any other type a
# socket receives is a room relay copy (schemas/server/relay.json).
SERVER_TYPES = (
    "connection.ack", "call.incoming", "call.offer", "call.answer", "call.ice_candidate",
    "call.accepted", "call.end", "notification.created", "pong", "error", "auth.refreshed",
)

DEFAULT_WAIT = 5.0   # seconds a frame or an answer may take on loopback
QUIET_WAIT = 0.8     # how long "nothing arrives" is watched for


# --------------------------------------------------------------- schemas

class Schemas:
    """All of schemas/, loaded once; refs resolve from memory only."""

    def __init__(self, root=SCHEMA_DIR):
        self.by_path = {}
        store = {}
        for dirpath, _, files in os.walk(root):
            for name in files:
                if not name.endswith(".json"):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, encoding="utf-8") as f:
                    schema = json.load(f)
                self.by_path[rel] = schema
                store[schema["$id"]] = schema
        self.store = store

    def validator(self, rel):
        schema = self.by_path[rel]
        resolver = jsonschema.RefResolver(schema["$id"], schema, store=self.store)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)

    def errors(self, rel, instance):
        """Validation error messages (empty when instance is valid)."""
        v = self.validator(rel)
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))]

    def check(self, rel, instance, what=""):
        errs = self.errors(rel, instance)
        if errs:
            raise AssertionError(
                f"{what or 'instance'} does not validate against schemas/{rel}:\n  "
                + "\n  ".join(errs) + f"\n  instance: {json.dumps(instance)[:2000]}")
        return instance

    @staticmethod
    def server_schema_for(frame):
        t = frame.get("type") if isinstance(frame, dict) else None
        if t in SERVER_TYPES:
            return f"server/{t}.json"
        return "server/relay.json"

    def check_server_frame(self, frame, what="frame"):
        if not isinstance(frame, dict):
            raise AssertionError(f"{what} is not a JSON object: {frame!r}")
        return self.check(self.server_schema_for(frame), frame, what)


_SCHEMAS = None


def schemas():
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = Schemas()
    return _SCHEMAS


# ---------------------------------------------------------------- tokens

def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def mint_token(secret, sub=None, name=None, exp=None, ttl=3600, alg="HS256", extra=None, header=None):
    """An HS256 JWT. exp=None means now + ttl; pass exp=False for no exp."""
    claims = {}
    if sub is not None:
        claims["sub"] = sub
    if name is not None:
        claims["name"] = name
    if exp is None:
        claims["exp"] = int(time.time()) + ttl
    elif exp is not False:
        claims["exp"] = exp
    claims.update(extra or {})
    head = header or {"alg": alg, "typ": "JWT"}
    signing = _b64url(json.dumps(head, separators=(",", ":")).encode()) + "." + \
        _b64url(json.dumps(claims, separators=(",", ":")).encode())
    key = secret.encode() if isinstance(secret, str) else secret
    if head.get("alg") == "none":
        return signing + "."
    sig = hmac.new(key, signing.encode("ascii"), hashlib.sha256).digest()
    return signing + "." + _b64url(sig)


def unique(prefix):
    """A fresh id under the id rule, so tests sharing one service never meet."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------ HTTP

class HttpResult:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.body = json.loads(raw) if raw else None
        except ValueError:
            self.body = None

    def __repr__(self):
        return f"<HTTP {self.status} {self.raw[:300]!r}>"


class Http:
    """urllib against the bridge. Error bodies are checked against
    schemas/http/error.json on the way in."""

    def __init__(self, base_url, api_key=None, ssl_context=None):
        self.base = base_url.rstrip("/")
        self.api_key = api_key
        self.ssl_context = ssl_context   # for an https:// base (a TLS front such as nginx)

    def request(self, method, path, body=None, token=None, api_key=None, raw_body=None, headers=None,
                timeout=DEFAULT_WAIT):
        data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if api_key:
            req.add_header("X-Api-Key", api_key)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context) as r:
                res = HttpResult(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            res = HttpResult(e.code, e.headers, e.read())
        route = path.split("?")[0].rstrip("/")
        if route in ("/healthz", "/readyz", "/livez"):
            schemas().check(f"http{route}.response.json", res.body, f"GET {route} -> {res.status} body")
        elif res.status >= 400:
            schemas().check("http/error.json", res.body, f"{method} {path} -> {res.status} body")
        return res

    # The API, with the success bodies checked against schemas/http/.
    def initiate(self, token, receiver_id, conversation_id, call_type="video"):
        body = {"receiver_id": receiver_id, "call_type": call_type, "conversation_id": conversation_id}
        schemas().check("http/initiate.request.json", body, "initiate request")
        res = self.request("POST", "/calls/initiate/", body, token=token)
        if res.status == 201:
            schemas().check("http/initiate.response.json", res.body, "initiate 201 body")
        return res

    def call(self, token, call_id):
        res = self.request("GET", f"/calls/{call_id}/", token=token)
        if res.status == 200:
            schemas().check("http/call.response.json", res.body, "GET /calls/<id>/ body")
        return res

    def calls(self, token, query=""):
        res = self.request("GET", "/calls/" + query, token=token)
        if res.status == 200:
            schemas().check("http/calls.list.response.json", res.body, "GET /calls/ body")
        return res

    def put_conversation(self, conversation_id, members, api_key=None):
        body = {"members": members}
        res = self.request("PUT", f"/api/conversations/{conversation_id}/", body,
                           api_key=api_key if api_key is not None else self.api_key)
        if res.status in (200, 201):
            schemas().check("http/conversation.put.response.json", res.body, "PUT conversation body")
        return res

    def delete_conversation(self, conversation_id, api_key=None):
        return self.request("DELETE", f"/api/conversations/{conversation_id}/",
                            api_key=api_key if api_key is not None else self.api_key)

    def disconnect_user(self, user_id, api_key=None, path_tail="/disconnect/"):
        res = self.request("POST", f"/api/users/{user_id}{path_tail}",
                           api_key=api_key if api_key is not None else self.api_key)
        if res.status == 202:
            schemas().check("http/disconnect.response.json", res.body, "POST disconnect body")
        return res

    def notify(self, user_id, payload, api_key=None):
        body = {"user_id": user_id, "payload": payload}
        res = self.request("POST", "/api/notifications/", body,
                           api_key=api_key if api_key is not None else self.api_key)
        if res.status == 202 and res.raw:
            schemas().check("http/notification.response.json", res.body, "POST notification body")
        return res


# ------------------------------------------------------------- WebSocket

class Closed(Exception):
    """The server closed the socket; .code is the close status (None if none)."""

    def __init__(self, code, reason=""):
        super().__init__(f"socket closed with code {code} {reason!r}")
        self.code = code
        self.reason = reason


class Ws:
    """One WebSocket to the bridge. Every text frame received is parsed and
    validated against schemas/ before a test sees it: a frame that does
    not validate fails the test."""

    def __init__(self, url, name="ws", origin=None, timeout=DEFAULT_WAIT, ssl_context=None):
        self.name = name
        self.url = url
        self.received = []       # every frame, in order, for failure messages
        self.closed = None       # Closed once the server closed
        self.skipped = []        # frames expect() passed over
        opts = {"timeout": timeout}
        if origin is None:
            opts["suppress_origin"] = True   # a non-browser client: no Origin header
        else:
            opts["origin"] = origin
        if ssl_context is not None:
            opts["sslopt"] = {"context": ssl_context}   # a wss:// url: the front's CA and name checked
        self.ws = websocket.create_connection(url, **opts)

    # -- sending
    def send_json(self, obj):
        self.ws.send(json.dumps(obj))

    def send_text(self, text):
        self.ws.send(text)

    # -- receiving
    def _recv_frame(self, timeout):
        """The next data frame as (opcode, payload); raises Closed, or
        websocket.WebSocketTimeoutException after timeout seconds."""
        if self.closed:
            raise self.closed
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise websocket.WebSocketTimeoutException(f"{self.name}: nothing within {timeout}s")
            self.ws.settimeout(left)
            try:
                op, frame = self.ws.recv_data_frame(True)
            except websocket.WebSocketConnectionClosedException:
                self.closed = Closed(None, "connection dropped without a close frame")
                raise self.closed
            except (ConnectionResetError, BrokenPipeError) as e:
                self.closed = Closed(None, str(e))
                raise self.closed
            if op == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data or b""
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                self.closed = Closed(code, data[2:].decode("utf-8", "replace"))
                try:
                    self.ws.close(timeout=0.2)
                except Exception:
                    pass
                raise self.closed
            if op in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
                continue   # websocket-client answers pings itself
            return op, frame.data

    def recv_json(self, timeout=DEFAULT_WAIT):
        """Next frame, parsed and schema-checked."""
        try:
            op, data = self._recv_frame(timeout)
        except websocket.WebSocketTimeoutException:
            raise AssertionError(f"{self.name}: no frame within {timeout}s; received so far: "
                                 f"{[f.get('type') for f in self.received]}") from None
        if op != websocket.ABNF.OPCODE_TEXT:
            raise AssertionError(f"{self.name}: got a non-text frame (opcode {op})")
        try:
            frame = json.loads(data.decode("utf-8"))
        except ValueError:
            raise AssertionError(f"{self.name}: frame is not JSON: {data[:300]!r}") from None
        self.received.append(frame)
        schemas().check_server_frame(frame, f"{self.name}: received frame")
        return frame

    def expect(self, type_, timeout=DEFAULT_WAIT, skip=()):
        """The next frame must be of type_ (frames whose type is in skip are
        passed over and kept in .skipped). Returns it."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.05, deadline - time.monotonic())
            frame = self.recv_json(left)
            if frame.get("type") == type_:
                return frame
            if frame.get("type") in skip:
                self.skipped.append(frame)
                continue
            raise AssertionError(f"{self.name}: expected {type_!r}, got {json.dumps(frame)[:1000]}")

    def expect_nothing(self, within=QUIET_WAIT):
        """No frame may arrive within `within` seconds."""
        try:
            op, data = self._recv_frame(within)
        except websocket.WebSocketTimeoutException:
            return
        except Closed as c:
            raise AssertionError(f"{self.name}: closed ({c.code}) while it should have stayed quiet") from None
        raise AssertionError(f"{self.name}: expected nothing, got {data[:1000]!r}")

    def expect_close(self, timeout=DEFAULT_WAIT):
        """The server must close the socket within timeout; returns the code.
        Frames before the close fail the test."""
        try:
            op, data = self._recv_frame(timeout)
        except Closed as c:
            return c.code
        except websocket.WebSocketTimeoutException:
            raise AssertionError(f"{self.name}: not closed within {timeout}s") from None
        raise AssertionError(f"{self.name}: expected a close, got a frame {data[:500]!r}")

    def is_open(self):
        return self.closed is None and self.ws.connected

    def close(self):
        try:
            self.ws.close(timeout=0.5)
        except Exception:
            pass


def expect_quiet(*sockets, within=QUIET_WAIT):
    """None of the sockets receives anything within `within` seconds: the
    first is watched for the whole time, the others are read right after
    (anything sent to them meanwhile is already there)."""
    for i, w in enumerate(sockets):
        w.expect_nothing(within if i == 0 else 0.05)


def port_open(host, port, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_process(p, wait):
    """SIGTERM to the subprocess.Popen p, SIGKILL when it has not exited
    within wait seconds; its exit code."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(wait)
    return p.returncode


def wait_until(cond, timeout, interval=0.05, what="condition"):
    """Polls cond() until it is truthy (returns its value) or fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
