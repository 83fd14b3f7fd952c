"""WebSocket protocol abuse in the spirit of Autobahn|Testsuite (which cannot
be installed here), with raw frames framed by hand over a plain socket:
fragmentation, control frames, reserved bits, opcodes, UTF-8, close codes,
ping/pong, masking; then the handshake: slow and silent clients, oversized
headers, origins. After every abuse the bridge still serves a normal client.

The expected codes are RFC 6455's and PROTOCOL.md's. Where libwebsockets 4.1
(Debian 12) does otherwise and no bridge setting changes it, the comment at
the test says so and the test asserts what it actually does.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

import pytest

from conftest import BRIDGE
from ringmq_client import Http, Ws, free_port, unique, wait_until

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
WAIT = 5.0               # seconds any answer may take on loopback
HANDSHAKE_TIMEOUT_S = 2  # --handshake-timeout-s of this module's second bridge
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Eof(Exception):
    """The server closed the TCP connection."""


class RawWs:
    """A WebSocket client that frames every byte itself, so it can send what
    no library would and see exactly what the server sends (close frames
    with any code included). Every wait is bounded."""

    def __init__(self, port, path, origin=None, extra_headers=b"", rcvbuf=None, timeout=WAIT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16))
        req = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port +
               b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
               b"\r\nSec-WebSocket-Version: 13\r\n")
        if origin:
            req += b"Origin: " + origin.encode() + b"\r\n"
        self.sock.sendall(req + extra_headers + b"\r\n")
        self.buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        self.status = int(self.head.split(" ", 2)[1])
        if self.status == 101:
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
            assert f"sec-websocket-accept: {accept.lower()}" in self.head.lower(), self.head

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no data in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            raise Eof("connection reset") from None
        if not data:
            raise Eof("connection closed")
        self.buf += data

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        bit = 0x80 if mask else 0
        if n < 126:
            head += bytes([bit | n])
        elif n < 65536:
            head += bytes([bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([bit | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            head += key
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + payload)

    def send_close(self, code=None, reason=b"", raw=None):
        body = raw if raw is not None else (b"" if code is None else struct.pack("!H", code) + reason)
        self.send_frame(OP_CLOSE, body)

    def recv_frame(self, timeout=WAIT):
        """(fin, rsv, opcode, payload) of the next frame; raises Eof or socket.timeout."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 2:
            self._fill(deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "a server frame must not be masked"
        n, off = b1 & 0x7F, 2
        if n >= 126:
            off = 4 if n == 126 else 10
            while len(self.buf) < off:
                self._fill(deadline)
            n = struct.unpack("!H" if off == 4 else "!Q", self.buf[2:off])[0]
        while len(self.buf) < off + n:
            self._fill(deadline)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload

    def frames_until_close(self, timeout=WAIT):
        """Reads until the server's close frame or EOF: (frames before it,
        close payload or None when the TCP connection ended without one)."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            try:
                f = self.recv_frame(max(0.01, deadline - time.monotonic()))
            except Eof:
                return frames, None
            if f[2] == OP_CLOSE:
                return frames, f[3]
            frames.append(f)

    def close_code(self, timeout=WAIT):
        """The code of the server's close frame (None: no close frame, just
        the end of TCP), answered with a close as a client does. Data frames
        before it are ignored."""
        _, payload = self.frames_until_close(timeout)
        if payload is None:
            return None
        try:
            self.send_close(raw=payload[:2])
        except OSError:
            pass
        return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else payload

    def ended(self, timeout=WAIT):
        """True once the server has ended the TCP connection (EOF or reset)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf = b""
        except Eof:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def text(f):
    return f[3].decode("utf-8")


def start_extra_bridge(stack, extra=(), name="ringmq-bridge-2"):
    """Another bridge process on stack's broker, on a free port. Returns an
    object with .proc, .port, .ws_base, .base_url, .http; stop it with
    stop_extra_bridge() (the stack's teardown would too)."""
    b = type("ExtraBridge", (), {})()
    b.port = free_port()
    argv = [BRIDGE, "--listen", "127.0.0.1", "--port", str(b.port),
            "--mqtt-host", "127.0.0.1", "--mqtt-port", str(stack.mqtt_port),
            "--jwt-secret-file", os.path.join(stack.dir, "jwt_secret"),
            "--api-key-file", os.path.join(stack.dir, "api_key"),
            "--service-secret-file", os.path.join(stack.dir, "service_secret"),
            "--log-level", "debug", *extra]
    b.proc = stack._spawn(name, argv)
    b.base_url = f"http://127.0.0.1:{b.port}"
    b.ws_base = f"ws://127.0.0.1:{b.port}"
    b.http = Http(b.base_url, api_key=stack.api_key)

    def healthy():
        assert b.proc.alive(), f"{name} exited: {b.proc.tail()}"
        try:
            return b.http.request("GET", "/healthz", timeout=1).status == 200
        except OSError:
            return False
    wait_until(healthy, 15, what=f"{name}: /healthz 200")
    return b


def stop_extra_bridge(stack, b):
    code = b.proc.stop()
    if b.proc in stack.procs:
        stack.procs.remove(b.proc)
    return code


# ------------------------------------------------------------------ helpers

@pytest.fixture
def raw(stack):
    """Opens notification sockets framed by hand, each past its ack."""
    opened = []

    def open_one(user=None, **kw):
        user = user or unique("raw")
        w = RawWs(stack.http_port, f"/ws/notifications/?token={stack.token(user)}", **kw)
        assert w.status == 101, w.head
        ack = w.recv_frame()
        assert ack[2] == OP_TEXT and json.loads(text(ack))["type"] == "connection.ack", ack
        opened.append(w)
        return w
    yield open_one
    for w in opened:
        w.close()


def assert_serves(stack, base=None):
    """A normal client still gets its ack and a pong."""
    user = unique("after")
    url = f"{base or stack.ws_base}/ws/notifications/?token={stack.token(user)}"
    w = Ws(url, name=f"notify[{user}] after the abuse")
    try:
        w.expect("connection.ack")
        w.send_json({"type": "ping"})
        w.expect("pong")
    finally:
        w.close()


def pong_json(f):
    return f[2] == OP_TEXT and json.loads(text(f)) == {"type": "pong"}


# ------------------------------------------------------------ fragmentation

def test_message_in_many_fragments_with_control_frames_between(stack, raw):
    w = raw()
    msg = b'{"type":"ping"}'
    pings = []
    for i, byte in enumerate(msg):
        last = i == len(msg) - 1
        w.send_frame(OP_TEXT if i == 0 else OP_CONT, bytes([byte]), fin=last)
        if not last and i % 3 == 0:
            # Each ping is answered while the message is still open. (Sent
            # back to back without waiting, lws 4.1 answers the first and
            # drops the others while that pong is pending: RFC 6455 5.5.3
            # lets an endpoint answer only some of them.)
            pings.append(b"between-%d" % i)
            w.send_frame(OP_PING, pings[-1])
            f = w.recv_frame()
            assert (f[2], f[3]) == (OP_PONG, pings[-1]), f
    assert pong_json(w.recv_frame())
    assert len(pings) == 5
    assert_serves(stack)


def test_large_message_in_fragments_is_reassembled(stack, raw):
    w = raw()
    msg = ('{"type":"ping","pad":"' + "x" * 40000 + '"}').encode()
    cuts = [0, 7, 20000, 20001, 39000, len(msg)]
    for i in range(len(cuts) - 1):
        w.send_frame(OP_TEXT if i == 0 else OP_CONT, msg[cuts[i]:cuts[i + 1]], fin=i == len(cuts) - 2)
    assert pong_json(w.recv_frame())
    w.send_frame(OP_TEXT, b'{"type":"ping"}')          # and the next message is whole again
    assert pong_json(w.recv_frame())


def test_fragments_adding_up_over_the_frame_limit_close_1009(stack, raw):
    w = raw()
    w.send_frame(OP_TEXT, b'{"type":"ping","pad":"', fin=False)
    for _ in range(3):
        w.send_frame(OP_CONT, b"x" * 30000, fin=False)
    assert w.close_code() == 1009
    assert_serves(stack)


# ------------------------------------------------------ protocol violations

ABUSES = {
    # RFC 6455 5.5: control frames are not fragmented.
    "fragmented ping": (lambda w: w.send_frame(OP_PING, b"x", fin=False), 1002),
    # 5.2: RSV bits without a negotiated extension.
    "rsv1": (lambda w: w.send_frame(OP_TEXT, b'{"type":"ping"}', rsv=4), 1002),
    "rsv2": (lambda w: w.send_frame(OP_TEXT, b'{"type":"ping"}', rsv=2), 1002),
    "rsv3": (lambda w: w.send_frame(OP_TEXT, b'{"type":"ping"}', rsv=1), 1002),
    "rsv on a ping": (lambda w: w.send_frame(OP_PING, b"x", rsv=4), 1002),
    # 5.2: reserved opcodes, data (3-7) and control (B-F).
    **{f"opcode {op:#x}": ((lambda op: lambda w: w.send_frame(op, b"x"))(op), 1002) for op in (3, 7, 0xB, 0xF)},
    # 5.4: a continuation with nothing to continue; a new message inside one.
    "continuation first": (lambda w: w.send_frame(OP_CONT, b"x"), 1002),
    "text inside a fragmented text": (
        lambda w: (w.send_frame(OP_TEXT, b'{"type":', fin=False), w.send_frame(OP_TEXT, b'"ping"}')), 1002),
    # 8.1: invalid UTF-8 in a text message (LWS_SERVER_OPTION_VALIDATE_UTF8).
    "invalid utf-8": (lambda w: w.send_frame(OP_TEXT, b'{"type":"ping","x":"\xff\xfe"}'), 1007),
    "utf-8 cut between fragments then invalid": (
        lambda w: (w.send_frame(OP_TEXT, b'{"type":"ping","x":"\xce', fin=False),
                   w.send_frame(OP_CONT, b'\xff"}')), 1007),
    "overlong utf-8": (lambda w: w.send_frame(OP_TEXT, b'{"type":"ping","x":"\xc0\xaf"}'), 1007),
    "utf-16 surrogate in utf-8": (lambda w: w.send_frame(OP_TEXT, b'{"type":"ping","x":"\xed\xa0\x80"}'), 1007),
    # 5.5.1: a close body of one byte (the bridge answers it, lws would echo it).
    "close with a 1-byte body": (lambda w: w.send_close(raw=b"\x03"), 1002),
    # 7.4: codes a peer must not send are answered 1002 (lws maps them).
    **{f"close code {c}": ((lambda c: lambda w: w.send_close(c))(c), 1002)
       for c in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999)},
    # lws 4.1 takes 1012-1014 (registered with IANA after RFC 6455) from a
    # client for invalid too.
    "close code 1013": (lambda w: w.send_close(1013), 1002),
    # PROTOCOL.md: binary frames are refused.
    "binary": (lambda w: w.send_frame(OP_BINARY, b'{"type":"ping"}'), 1003),
}


@pytest.mark.parametrize("name", list(ABUSES))
def test_protocol_violation_closes_with_the_rfc_code(stack, raw, name):
    send, code = ABUSES[name]
    w = raw()
    send(w)
    assert w.close_code() == code, name
    # (lws then waits up to 5 s for the close handshake before it ends TCP.)
    assert_serves(stack)


def test_control_frame_over_125_bytes_fails_the_connection(stack, raw):
    # RFC 6455 5.5: control frames carry at most 125 bytes; the endpoint
    # "fails the WebSocket connection" (7.1.7: a close frame MAY be sent).
    # libwebsockets 4.1 drops the TCP connection at the length byte without
    # a close frame ("Control frame with xtended length is illegal"), before
    # any callback of ours runs: no bridge setting gives a 1002 here.
    w = raw()
    w.send_frame(OP_PING, b"x" * 126)
    frames, close = w.frames_until_close()
    assert close is None and frames == [], (frames, close)
    assert_serves(stack)


def test_close_with_invalid_utf8_reason_fails_the_connection(stack, raw):
    # RFC 6455 8.1 would have 1007; libwebsockets 4.1 checks the reason of a
    # close frame before our callback and just drops the TCP connection.
    w = raw()
    w.send_close(1000, b"\xff\xfe")
    frames, close = w.frames_until_close()
    assert close is None, close
    assert_serves(stack)


def test_unmasked_client_frame_is_taken(stack, raw):
    # RFC 6455 5.1: a server MUST close on an unmasked client frame (1002).
    # libwebsockets 4.1 records the mask bit but never checks it on the
    # server side, has no option to, and hides the bit from callbacks: the
    # frame is taken like a masked one. Browsers always mask (masking
    # protects proxies from script-made frames), so only a hand-made client
    # can do this, and it gets nothing it could not get by masking.
    w = raw()
    w.send_frame(OP_TEXT, b'{"type":"ping"}', mask=False)
    assert pong_json(w.recv_frame())
    assert_serves(stack)


# ---------------------------------------------------------- close, ping/pong

@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1008, 1009, 1011, 3000, 4000, 4999])
def test_close_code_is_echoed(stack, raw, code):
    w = raw()
    w.send_close(code, b"bye")
    assert w.close_code() == code
    assert w.ended()


def test_empty_close_is_answered_with_an_empty_close(stack, raw):
    w = raw()
    w.send_close()
    frames, close = w.frames_until_close()
    assert close == b"", close
    assert w.ended()


@pytest.mark.parametrize("size", [0, 1, 125])
def test_ping_is_answered_with_a_pong_of_the_same_payload(stack, raw, size):
    w = raw()
    payload = os.urandom(size)
    w.send_frame(OP_PING, payload)
    f = w.recv_frame()
    assert (f[0], f[2], f[3]) == (True, OP_PONG, payload)
    w.send_frame(OP_TEXT, b'{"type":"ping"}')        # and the socket goes on
    assert pong_json(w.recv_frame())


def test_unsolicited_pong_is_ignored(stack, raw):
    w = raw()
    w.send_frame(OP_PONG, b"unasked")
    w.send_frame(OP_TEXT, b'{"type":"ping"}')
    assert pong_json(w.recv_frame())


# ---------------------------------------------------------------- handshake

@pytest.fixture(scope="module")
def quick_bridge(stack):
    """A second bridge on the main stack whose handshake time-out is short."""
    b = start_extra_bridge(stack, ["--handshake-timeout-s", str(HANDSHAKE_TIMEOUT_S)], name="ringmq-bridge-quick")
    yield b
    stop_extra_bridge(stack, b)


def dropped_after(sock, bound):
    """Seconds until the server ended sock (fails beyond bound)."""
    t0 = time.monotonic()
    sock.settimeout(bound)
    try:
        while True:
            data = sock.recv(4096)
            assert not data.startswith(b"HTTP/1.1 101"), data
            if not data:
                break
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError(f"still open after {bound}s") from None
    return time.monotonic() - t0


def test_silent_partial_and_dripping_clients_are_dropped(stack, quick_bridge):
    bound = HANDSHAKE_TIMEOUT_S + 2
    silent = socket.create_connection(("127.0.0.1", quick_bridge.port))
    partial = socket.create_connection(("127.0.0.1", quick_bridge.port))
    partial.sendall(b"GET /ws/notifications/?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    drip = socket.create_connection(("127.0.0.1", quick_bridge.port))
    t0 = time.monotonic()
    # One header byte every 0.2 s: it never finishes, it keeps the socket busy.
    line = b"GET /ws/notifications/ HTTP/1.1\r\nX-Slow: " + b"a" * 200
    dripped_until = None
    for b in line:
        try:
            drip.send(bytes([b]))
        except OSError:
            dripped_until = time.monotonic() - t0
            break
        if time.monotonic() - t0 > bound:
            break
        time.sleep(0.2)
    for name, s in (("silent", silent), ("partial", partial)):
        took = time.monotonic() - t0 + dropped_after(s, max(0.1, bound - (time.monotonic() - t0)))
        assert took <= bound, f"{name}: dropped after {took:.1f}s"
        s.close()
    if dripped_until is None:
        dropped_after(drip, 1.0)
    drip.close()
    assert_serves(stack, quick_bridge.ws_base)


def test_the_handshake_time_out_leaves_open_sockets_alone(stack, quick_bridge):
    user = unique("longlived")
    w = Ws(f"{quick_bridge.ws_base}/ws/notifications/?token={stack.token(user)}", name="longlived")
    w.expect("connection.ack")
    time.sleep(HANDSHAKE_TIMEOUT_S + 0.5)
    w.send_json({"type": "ping"})
    w.expect("pong")
    w.close()


# ---------------------------------------------------------------- liveness

PING_S, IDLE_S = 1, 3  # --ping-interval-s / --idle-timeout-s of the liveness bridge


@pytest.fixture(scope="module")
def lively_bridge(stack):
    """A second bridge that pings after 1 s of silence and drops after 3 s."""
    b = start_extra_bridge(stack, ["--ping-interval-s", str(PING_S), "--idle-timeout-s", str(IDLE_S)],
                           name="ringmq-bridge-lively")
    yield b
    stop_extra_bridge(stack, b)


def test_a_silent_peer_is_pinged_then_dropped_and_a_live_one_stays(stack, lively_bridge):
    # The dead peer: reads what comes (to see the pings) but never answers.
    dead = RawWs(lively_bridge.port, f"/ws/notifications/?token={stack.token(unique('dead'))}")
    ack = dead.recv_frame()
    assert ack[2] == OP_TEXT and json.loads(text(ack))["type"] == "connection.ack"
    # The live peer answers every ping with a pong of the same payload.
    live = RawWs(lively_bridge.port, f"/ws/notifications/?token={stack.token(unique('live'))}")
    live.recv_frame()
    t0 = time.monotonic()
    pings = 0
    dead_ended_at = None
    while time.monotonic() - t0 < IDLE_S + 3:
        try:
            f = live.recv_frame(timeout=0.2)
            if f[2] == OP_PING:
                pings += 1
                live.send_frame(OP_PONG, f[3])
        except socket.timeout:
            pass
        if dead_ended_at is None:
            try:
                f = dead.recv_frame(timeout=0.05)
                assert f[2] in (OP_PING, OP_CLOSE), f
                if f[2] == OP_CLOSE:
                    dead_ended_at = time.monotonic() - t0
            except socket.timeout:
                pass
            except Eof:
                dead_ended_at = time.monotonic() - t0
    assert dead_ended_at is not None, "a peer that never answers pings was not dropped"
    assert IDLE_S - 1 <= dead_ended_at <= IDLE_S + 2, dead_ended_at
    assert pings >= 2, "the live peer was not pinged while silent"
    live.send_frame(OP_TEXT, json.dumps({"type": "ping"}))
    assert pong_json(live.recv_frame())   # pongs kept it alive past the idle time-out
    live.close()


def test_oversized_handshake_headers_are_refused(stack):
    # 8 KiB of request headers at most (lws max_http_header_data). lws 4.1
    # answers no status line when the table overflows ("Ran out of header
    # data space"): it ends the connection. Either way there is no socket.
    user = unique("bighead")
    for extra in (b"X-Big: " + b"a" * 9000 + b"\r\n",
                  b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(100))):
        try:
            w = RawWs(stack.http_port, f"/ws/notifications/?token={stack.token(user)}", extra_headers=extra)
        except Eof:
            continue
        assert w.status in (400, 431), w.head
    # Just under the limit is fine.
    w = RawWs(stack.http_port, f"/ws/notifications/?token={stack.token(user)}",
              extra_headers=b"X-Fits: " + b"c" * 6000 + b"\r\n")
    assert w.status == 101, w.head
    w.close()
    assert_serves(stack)


@pytest.mark.parametrize("path", ["/ws/notifications/", "/ws/chat/{conv}/"])
def test_foreign_origin_gets_403_before_the_socket_opens(stack, path):
    a = unique("origin")
    conv = stack.conversation([a, unique("other")])
    url = path.format(conv=conv) + f"?token={stack.token(a)}"
    w = RawWs(stack.http_port, url, origin="http://evil.invalid")
    assert w.status == 403, w.head
    assert "upgrade: websocket" not in w.head.lower()
    w.close()
    ok = RawWs(stack.http_port, url, origin=stack.base_url)
    assert ok.status == 101, ok.head
    assert json.loads(text(ok.recv_frame()))["type"] == "connection.ack"
    ok.close()
