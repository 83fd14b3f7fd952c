"""ringmq.Client against a tiny stdlib HTTP server on loopback that answers
what each test scripts and records every request."""
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import ringmq  # noqa: E402


class Stub:
    def __init__(self):
        self.script = []       # (status, body dict or None, headers) answered in order; the last repeats
        self.requests = []
        self.delay = 0.0
        stub = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                stub.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers), "body": json.loads(raw) if raw else None})
                if stub.delay:
                    time.sleep(stub.delay)
                status, body, headers = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    s = Stub()
    yield s
    s.close()


def client(stub, **kw):
    kw.setdefault("backoff", 0.01)
    return ringmq.Client(stub.url, "the-key", **kw)


def test_put_conversation_sends_the_key_and_members(stub):
    stub.script = [(201, {"conversation_id": "c1", "members": ["alice", "7"]}, None),
                   (200, {"conversation_id": "c1", "members": ["alice"]}, None)]
    c = client(stub)
    assert c.put_conversation("c1", ["alice", 7]) == {"conversation_id": "c1", "members": ["alice", "7"],
                                                       "created": True}
    assert c.put_conversation("c1", ["alice"])["created"] is False
    r = stub.requests[0]
    assert (r["method"], r["path"], r["headers"]["X-Api-Key"]) == ("PUT", "/api/conversations/c1/", "the-key")
    assert r["body"] == {"members": ["alice", 7]}


def test_other_routes_paths_and_auth(stub):
    stub.script = [(200, {"calls": [], "next_before": None}, None)]
    c = client(stub)
    c.calls("tok", limit=5, before="x y")
    c.ice_servers("tok")
    stub.script = [(202, {"user_id": "bob", "disconnected": True}, None)]
    assert c.disconnect("bob")["disconnected"] is True
    stub.script = [(202, {"user_id": "bob", "queued": True}, None)]
    assert c.notify("bob", {"kind": "like"})["queued"] is True
    stub.script = [(204, None, None)]
    assert c.delete_conversation("c1") is True
    got = [(r["method"], r["path"]) for r in stub.requests]
    assert got == [("GET", "/calls/?limit=5&before=x+y"), ("GET", "/calls/ice-servers/"),
                   ("POST", "/api/users/bob/disconnect/"), ("POST", "/api/notifications/"),
                   ("DELETE", "/api/conversations/c1/")]
    assert stub.requests[0]["headers"]["Authorization"] == "Bearer tok"
    assert "X-Api-Key" not in stub.requests[0]["headers"]
    assert stub.requests[3]["body"] == {"user_id": "bob", "payload": {"kind": "like"}}


@pytest.mark.parametrize("status,code,cls", [
    (400, "bad_request", ringmq.BadRequest), (401, "unauthorized", ringmq.Unauthorized),
    (403, "forbidden", ringmq.Forbidden), (404, "not_found", ringmq.NotFound),
    (405, "method_not_allowed", ringmq.MethodNotAllowed), (409, "busy", ringmq.Busy),
    (413, "too_large", ringmq.TooLarge), (429, "rate_limited", ringmq.RateLimited)])
def test_errors_carry_code_and_status_and_are_not_retried(stub, status, code, cls):
    stub.script = [(status, {"error": code, "message": "nope", "call_id": "abc"}, {"Retry-After": "4"})]
    with pytest.raises(cls) as ei:
        client(stub).put_conversation("c1", [])
    e = ei.value
    assert isinstance(e, ringmq.Error)
    assert (e.status, e.code, e.message) == (status, code, "nope")
    assert len(stub.requests) == 1
    if cls is ringmq.Busy:
        assert e.call_id == "abc"
    if cls is ringmq.RateLimited:
        assert e.retry_after == 4


def test_unknown_code_keeps_the_code(stub):
    stub.script = [(418, {"error": "teapot", "message": "short and stout"}, None)]
    with pytest.raises(ringmq.Error) as ei:
        client(stub).notify("u1", {})
    assert (ei.value.status, ei.value.code) == (418, "teapot")


def test_503_is_retried_with_backoff_then_succeeds(stub):
    stub.script = [(503, {"error": "unavailable", "message": "rules"}, None)] * 2 + \
                  [(200, {"conversation_id": "c1", "members": []}, None)]
    t0 = time.monotonic()
    assert client(stub, retries=3, backoff=0.1).put_conversation("c1", [])["created"] is False
    took = time.monotonic() - t0
    assert len(stub.requests) == 3
    assert took >= 0.1 + 0.2 - 0.02, took          # 0.1 s then 0.2 s of back-off


def test_503_after_all_retries_raises_unavailable(stub):
    stub.script = [(503, {"error": "unavailable", "message": "rules did not answer"}, None)]
    with pytest.raises(ringmq.Unavailable) as ei:
        client(stub, retries=2).disconnect("u1")
    assert ei.value.status == 503 and ei.value.code == "unavailable"
    assert len(stub.requests) == 3


def test_connection_refused_is_retried_then_raises():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                         # nothing listens there now
    c = ringmq.Client(f"http://127.0.0.1:{port}", "k", retries=2, backoff=0.05)
    t0 = time.monotonic()
    with pytest.raises(ringmq.ConnectionFailed) as ei:
        c.put_conversation("c1", [])
    assert isinstance(ei.value, ringmq.Unavailable) and ei.value.status is None
    assert time.monotonic() - t0 >= 0.05 + 0.1 - 0.02


def test_connection_refused_then_server_comes_up():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    # a raw listener that appears on that port after the first attempts
    srv = {}

    def serve():
        time.sleep(0.15)
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(1)
        srv["s"] = ls
        conn, _ = ls.accept()
        conn.recv(65536)
        body = b'{"conversation_id": "c1", "members": []}'
        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        conn.close()
        ls.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    c = ringmq.Client(f"http://127.0.0.1:{port}", "k", retries=5, backoff=0.1)
    assert c.put_conversation("c1", [])["created"] is True
    t.join(2)


def test_timeout_is_bounded_and_not_retried_for_notify(stub):
    stub.script = [(202, {"queued": True}, None)]
    stub.delay = 1.0
    c = client(stub, timeout=0.2, retries=3)
    t0 = time.monotonic()
    with pytest.raises(ringmq.ConnectionFailed):
        c.notify("u1", {"a": 1})
    assert time.monotonic() - t0 < 0.9
    assert len(stub.requests) == 1                    # a POST that may have happened is not repeated


def test_timeout_is_retried_for_idempotent_put(stub):
    stub.script = [(200, {"conversation_id": "c1", "members": []}, None)]
    stub.delay = 0.5
    c = client(stub, timeout=0.1, retries=2)
    with pytest.raises(ringmq.ConnectionFailed):
        c.put_conversation("c1", [])
    time.sleep(0.6)
    assert len(stub.requests) == 3


def test_bad_ids_are_refused_before_sending(stub):
    stub.script = [(200, {}, None)]
    c = client(stub)
    for bad in ("", "a/b", "x" * 65, "é"):
        with pytest.raises(ValueError):
            c.put_conversation(bad, [])
    assert stub.requests == []
