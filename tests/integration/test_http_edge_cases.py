"""HTTP requests at the edges of HTTP/1.1 (issue 10), over raw sockets, so
every byte is the test's own and every answer is seen as sent.

- Time (bug 5): a request's headers and body must arrive within
  --handshake-timeout-s of its start, whatever trickles in; a body sent a
  byte at a time is answered 408 and closed at that deadline.
- Framing (bug 6, RFC 9112 6.3 and 5.1): two Content-Length headers (even
  equal ones: the bridge refuses any repeat, as it refuses a list), a list, a
  sign, Content-Length with Transfer-Encoding, whitespace before a colon:
  400; a transfer coding: 501, or 411 for chunked alone (the bridge reads no
  chunked body). Always the JSON error body and Connection: close, and the
  bytes after the head (a smuggled request) are never answered.
- %00 (bug 7): libwebsockets 4.1 drops the connection without a word for a
  %00 in a query and cuts the path at a %00 after '/'; the bridge answers
  400 (query) or 404 (path) like any bad cursor or id.
- Pipelining, found on the way: a request with a body that libwebsockets had
  read ahead (behind another, in one segment) hung the whole bridge; it is
  refused 503 and the connection closed.
After each abuse the bridge still serves a normal client.
"""
import json
import select
import socket
import time

import pytest

from conftest import _make_stack
from ringmq_client import unique

TIMEOUT_S = 2      # --handshake-timeout-s of this module's bridge
WAIT = 5.0         # seconds any answer may take on loopback
SLACK = 1.0        # what the deadline may be late by on a busy machine


@pytest.fixture(scope="module")
def edge(request):
    return _make_stack(request, bridge_args=["--handshake-timeout-s", str(TIMEOUT_S)], name="http-edge stack")


@pytest.fixture(scope="module")
def edge_pipelined(request):
    """A stack of its own for pipelined requests: they hung the whole bridge
    before the fix, and must not take the other tests down with it."""
    return _make_stack(request, bridge_args=["--handshake-timeout-s", str(TIMEOUT_S)], name="http-pipelining stack")


class Reply:
    """What the server sent on one connection, and how it ended."""

    def __init__(self, raw, ended, took):
        self.raw, self.ended, self.took = raw, ended, took   # ended: "eof", "reset" or "open"
        self.answers = []
        rest = raw
        while rest.startswith(b"HTTP/1."):
            head, sep, rest = rest.partition(b"\r\n\r\n")
            if not sep:
                break
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            body, rest = rest[:n], rest[n:]
            self.answers.append((int(lines[0].split()[1]), headers, body))
        self.leftover = rest

    @property
    def status(self):
        return self.answers[0][0] if self.answers else None

    def __repr__(self):
        return f"<{self.ended} after {self.took:.2f}s: {self.raw[:400]!r}>"


def exchange(port, *parts, pause=0.0, wait=WAIT):
    """Sends parts (pause seconds apart), then reads until the server ends
    the connection or wait passes."""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    raw, ended = b"", "open"
    try:
        for i, part in enumerate(parts):
            if i and pause:
                time.sleep(pause)
            s.sendall(part)
        s.settimeout(wait)
        while True:
            data = s.recv(65536)
            if not data:
                ended = "eof"
                break
            raw += data
    except socket.timeout:
        pass
    except (ConnectionResetError, BrokenPipeError):
        ended = "reset"
    finally:
        s.close()
    return Reply(raw, ended, time.monotonic() - t0)


def assert_refused(reply, status, code="bad_request"):
    """One JSON error answer with Connection: close, then the end."""
    assert reply.status == status, reply
    st, headers, body = reply.answers[0]
    assert headers.get("content-type") == "application/json", reply
    assert headers.get("connection", "").lower() == "close", reply
    err = json.loads(body)
    assert err["error"] == code and isinstance(err["message"], str) and err["message"], reply
    assert len(reply.answers) == 1 and not reply.leftover, f"more than one answer: {reply}"
    assert reply.ended in ("eof", "reset"), f"not closed after the refusal: {reply}"


def assert_serves(edge):
    res = edge.http.request("GET", "/healthz", timeout=WAIT)
    assert res.status == 200, res
    user = unique("served")
    res = edge.http.calls(edge.token(user))
    assert res.status == 200 and res.body["calls"] == [], res


def post_head(edge, length_headers, path="/api/notifications/"):
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {edge.api_key}\r\n"
            f"Content-Type: application/json\r\n").encode() + length_headers + b"\r\n"


NOTIFY = json.dumps({"user_id": "edge-user", "payload": {"n": 1}}).encode()
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


# ----------------------------------------------------------------- bug 5

def test_dripping_bodies_are_cut_at_the_deadline_and_others_are_served(edge):
    """40 connections without credentials each announce a 100-byte body and
    send a byte every 0.5 s: each byte used to restart the clock, so they
    were kept forever. Each must end (408) by its request's deadline."""
    n, drip_every = 40, 0.5
    head = (b"POST /api/notifications/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    conns = {}
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", edge.http_port))
        s.sendall(head + b"{")
        s.setblocking(False)
        conns[s] = {"t0": time.monotonic(), "raw": b"", "ended": None}
    give_up = time.monotonic() + TIMEOUT_S + SLACK + 1
    next_drip = time.monotonic() + drip_every
    served_midway = False
    try:
        while time.monotonic() < give_up and any(c["ended"] is None for c in conns.values()):
            now = time.monotonic()
            if now >= next_drip:
                next_drip += drip_every
                for s, c in conns.items():
                    if c["ended"] is None:
                        try:
                            s.send(b" ")
                        except OSError:
                            pass   # closed under us: its end is read below
            if not served_midway and now - min(c["t0"] for c in conns.values()) > TIMEOUT_S / 2:
                assert_serves(edge)   # a normal client while the drips go on
                served_midway = True
            open_ = [s for s, c in conns.items() if c["ended"] is None]
            readable, _, _ = select.select(open_, [], [], 0.05)
            for s in readable:
                c = conns[s]
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    data = b""
                if data:
                    c["raw"] += data
                else:
                    c["ended"] = time.monotonic() - c["t0"]
    finally:
        for s in conns:
            s.close()
    still_open = sum(1 for c in conns.values() if c["ended"] is None)
    assert not still_open, f"{still_open} of {n} dripping connections still open after {TIMEOUT_S + SLACK + 1}s"
    for c in conns.values():
        assert c["ended"] <= TIMEOUT_S + SLACK, f"closed after {c['ended']:.2f}s: {c['raw'][:200]!r}"
        reply = Reply(c["raw"], "eof", c["ended"])
        assert_refused(reply, 408)
    assert_serves(edge)


def test_the_deadline_counts_from_the_connection_not_from_the_headers(edge):
    """Headers trickle in for 1.5 s, then the body a byte at a time: the
    whole request had TIMEOUT_S from the connection's start."""
    head = post_head(edge, b"Content-Length: 50\r\n")
    pieces = [head[i:i + len(head) // 5 + 1] for i in range(0, len(head), len(head) // 5 + 1)]
    s = socket.create_connection(("127.0.0.1", edge.http_port))
    t0 = time.monotonic()
    raw, ended = b"", None
    try:
        for p in pieces:
            s.sendall(p)
            time.sleep(1.5 / len(pieces))
        s.settimeout(0.25)
        while time.monotonic() - t0 < TIMEOUT_S + 2 * SLACK + 1:
            try:
                s.send(b" ")
            except OSError:
                pass
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                ended = time.monotonic() - t0
                break
            raw += data
    finally:
        s.close()
    assert ended is not None, f"still open {TIMEOUT_S + 2 * SLACK + 1}s after it connected: {raw[:200]!r}"
    # From the end of the headers it would have been 1.5 s + TIMEOUT_S.
    assert ended <= TIMEOUT_S + SLACK * 0.9, f"closed {ended:.2f}s after it connected"
    assert_refused(Reply(raw, "eof", ended), 408)


def test_a_body_in_time_is_taken(edge):
    head = post_head(edge, b"Content-Length: %d\r\n" % len(NOTIFY))
    reply = exchange(edge.http_port, head, NOTIFY[:10], NOTIFY[10:], pause=0.4, wait=1.0)
    assert reply.status == 202, reply
    assert reply.ended == "open", f"a good request's connection was closed: {reply}"


# ----------------------------------------------------------------- bug 6

FRAMING = [
    ("two Content-Length that differ", b"Content-Length: 5\r\nContent-Length: 7\r\n", b"hello12", 400),
    ("the same Content-Length twice", b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello", 400),
    ("a list", b"Content-Length: 5, 5\r\n", b"hello", 400),
    ("a sign", b"Content-Length: +5\r\n", b"hello", 400),
    ("not a number", b"Content-Length: 5x\r\n", b"hello", 400),
    ("empty", b"Content-Length:\r\n", b"", 400),
    ("with Transfer-Encoding", b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n", 400),
    ("Transfer-Encoding then Content-Length", b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
     b"0\r\n\r\n", 400),
    ("space before the colon", b"Content-Length : 5\r\n", b"hello", 400),
    ("tab before the colon", b"Content-Length\t: 5\r\n", b"hello", 400),
    ("Transfer-Encoding with a space before the colon", b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n", 400),
    ("another header with a space before the colon", b"X-Trace : 1\r\nContent-Length: 5\r\n", b"hello", 400),
    ("an unknown transfer coding", b"Transfer-Encoding: gzip\r\n", b"hello", 501),
    ("a coding before chunked", b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n", 501),
    ("chunked twice", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n", 501),
    ("chunked (no chunked body is read)", b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", 411),
]


@pytest.mark.parametrize("name,headers,body,status", FRAMING, ids=[f[0] for f in FRAMING])
def test_ambiguous_framing_is_refused_and_closed(edge, name, headers, body, status):
    # What follows the head is a request of its own if a proxy framed the
    # body otherwise: it must never be answered.
    reply = exchange(edge.http_port, post_head(edge, headers) + body + SMUGGLED)
    assert_refused(reply, status)


PIPELINED = [f for f in FRAMING if f[0] in ("two Content-Length that differ", "space before the colon",
                                           "Transfer-Encoding with a space before the colon")]


@pytest.mark.parametrize("name,headers,body,status", PIPELINED, ids=[f[0] for f in PIPELINED])
def test_ambiguous_framing_behind_a_pipelined_request_is_refused(edge_pipelined, name, headers, body, status):
    edge = edge_pipelined
    # libwebsockets reads the second request along with the first, before
    # the bridge could look at it on the socket: it is checked on what
    # libwebsockets parsed.
    reply = exchange(edge.http_port, SMUGGLED + post_head(edge, headers) + body + SMUGGLED)
    assert [a[0] for a in reply.answers] == [200, status], reply
    assert reply.answers[1][1].get("connection", "").lower() == "close", reply
    assert not reply.leftover and reply.ended in ("eof", "reset"), reply


def test_a_folded_header_or_one_without_a_colon_is_refused(edge):
    for bad in (b"X-Trace: 1\r\n  folded\r\n", b"X-Trace\r\n"):
        reply = exchange(edge.http_port, post_head(edge, bad + b"Content-Length: 5\r\n") + b"hello" + SMUGGLED)
        assert_refused(reply, 400)


def test_a_well_formed_post_works_and_keeps_the_connection(edge):
    good = post_head(edge, b"Content-Length: %d\r\n" % len(NOTIFY)) + NOTIFY
    reply = exchange(edge.http_port, good, good, pause=0.2, wait=1.0)
    assert [a[0] for a in reply.answers] == [202, 202], reply
    assert reply.ended == "open", reply
    assert all(a[1].get("connection", "").lower() != "close" for a in reply.answers), reply


def test_a_post_without_length_is_answered_and_closed(edge):
    # libwebsockets 4.1 would take all that follows as its body.
    reply = exchange(edge.http_port, post_head(edge, b"") + SMUGGLED)
    assert reply.status == 400, reply
    assert reply.answers[0][1].get("connection", "").lower() == "close", reply
    assert len(reply.answers) == 1 and reply.ended in ("eof", "reset"), reply


def test_a_get_with_a_body_reads_it_and_goes_on(edge):
    reply = exchange(edge.http_port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello",
                     SMUGGLED, pause=0.3, wait=1.0)
    assert [a[0] for a in reply.answers] == [200, 200], reply


def test_pipelined_requests_without_a_body_are_answered_in_order(edge_pipelined):
    edge = edge_pipelined
    reply = exchange(edge.http_port, SMUGGLED * 3 + get(edge, "/calls/?before=%00", edge.token(unique("p"))),
                     wait=1.0)
    # The %00 one was read ahead with the others: libwebsockets drops it.
    assert [a[0] for a in reply.answers] == [200, 200, 200], reply
    reply = exchange(edge.http_port, SMUGGLED * 3, wait=1.0)
    assert [a[0] for a in reply.answers] == [200, 200, 200], reply
    assert reply.ended == "open", reply


def test_a_body_pipelined_behind_a_request_neither_hangs_nor_is_misread(edge_pipelined):
    edge = edge_pipelined
    # libwebsockets 4.1 reads the body of a request it had read ahead from
    # the request's own head, then calls the body's completion forever:
    # the whole bridge hung. Such a request is refused (503, try again).
    good = post_head(edge, b"Content-Length: %d\r\n" % len(NOTIFY)) + NOTIFY
    reply = exchange(edge.http_port, SMUGGLED + good + SMUGGLED, wait=2.0)
    assert [a[0] for a in reply.answers] == [200, 503], reply
    assert reply.answers[1][1].get("connection", "").lower() == "close", reply
    assert json.loads(reply.answers[1][2])["error"] == "unavailable", reply
    assert reply.ended in ("eof", "reset"), reply
    # Pipelined right behind a body read from the socket: that one is
    # answered; the next one is too, or the connection ends after the first.
    reply = exchange(edge.http_port, good + SMUGGLED, wait=1.0)
    statuses = [a[0] for a in reply.answers]
    assert statuses == [202, 200] or (statuses == [202] and reply.ended != "open"), reply
    assert_serves(edge)


def test_an_upgrade_with_ambiguous_framing_is_refused(edge):
    tok = edge.token(unique("upg"))
    head = (f"GET /ws/notifications/?token={tok} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\n").encode()
    for extra, status in ((b"Content-Length: 5, 5\r\n", 400), (b"Content-Length: 5\r\n", 400),
                          (b"Transfer-Encoding: chunked\r\n", 400), (b"Transfer-Encoding: gzip\r\n", 501)):
        reply = exchange(edge.http_port, head + extra + b"\r\nhello")
        assert_refused(reply, status)
    reply = exchange(edge.http_port, head + b"\r\n", wait=1.0)
    assert reply.raw.startswith(b"HTTP/1.1 101"), reply


# ----------------------------------------------------------------- bug 7

def get(edge, target, token=None):
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()


@pytest.mark.parametrize("target,status", [
    ("/calls/?before=%00", 400),
    ("/calls/?limit=5&before=abc%00def", 400),
    ("/calls/%00", 404),
    ("/calls/%00abc/", 404),
    ("/calls/abc%00/", 404),
    ("/%00", 404),
    ("/ws/notifications/?token=%00", 400),
])
def test_a_nul_escape_is_answered(edge, target, status):
    t0 = time.monotonic()
    reply = exchange(edge.http_port, get(edge, target, edge.token(unique("nul"))), wait=2.0)
    assert_refused(reply, status, "bad_request" if status == 400 else "not_found")
    assert time.monotonic() - t0 < 2.0, reply


def test_a_nul_escape_split_over_segments_or_after_a_request_is_answered(edge):
    tok = edge.token(unique("nul"))
    req = get(edge, "/calls/?before=%00", tok)
    reply = exchange(edge.http_port, req[:16], req[16:22], req[22:], pause=0.2, wait=2.0)
    assert_refused(reply, 400)
    # The second request of a kept connection, sent after the first's
    # answer, whole or in pieces.
    reply = exchange(edge.http_port, get(edge, "/healthz"), req, pause=0.3, wait=2.0)
    assert [a[0] for a in reply.answers] == [200, 400], reply
    assert reply.ended in ("eof", "reset"), reply
    reply = exchange(edge.http_port, get(edge, "/healthz"), req[:16], req[16:22], req[22:], pause=0.3, wait=2.0)
    assert [a[0] for a in reply.answers] == [200, 400], reply
    assert reply.ended in ("eof", "reset"), reply


def test_the_bridge_serves_after_nul_escapes(edge):
    tok = edge.token(unique("nul"))
    for _ in range(20):
        exchange(edge.http_port, get(edge, "/calls/?before=%00", tok), wait=2.0)
    assert_serves(edge)
    res = edge.http.calls(tok, "?limit=5")
    assert res.status == 200, res
