"""The closes the bridge starts follow RFC 6455 7.1.1 (issue 10, bug 2):
the bridge sends its Close, keeps reading (and dropping) what the client
still sends until the client's Close, and only then ends TCP, with a FIN.

Closing TCP with unread input makes the kernel answer with a reset, and a
client that is still writing then loses everything in flight: the pongs and
errors it was owed and the Close frame itself (it sees 1006). These tests
write while the bridge closes, with raw frames, and check that every write
is taken, every frame owed arrives, then the Close with its code, and then
a clean end of the connection.
"""
import json
import os
import socket
import struct
import time

import pytest

from test_ws_protocol import OP_CLOSE, OP_TEXT, RawWs, assert_serves
from ringmq_client import unique

RUNS = 10
WAIT = 5.0
PING = '{"type":"ping"}'


def masked(payload, opcode=OP_TEXT):
    """One masked client frame (any length)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def open_raw(stack, user):
    w = RawWs(stack.http_port, f"/ws/notifications/?token={stack.token(user)}")
    assert w.status == 101, w.head
    ack = w.recv_frame()
    assert json.loads(ack[3])["type"] == "connection.ack", ack
    return w


def write_all(w, chunks, gap_s):
    """Writes every chunk, gap_s apart; a write the bridge refused (reset,
    broken pipe) fails the test: the bridge closed TCP under the client."""
    for i, chunk in enumerate(chunks):
        try:
            w.sock.sendall(chunk)
        except OSError as ex:
            pytest.fail(f"write {i + 1} of {len(chunks)} failed: {ex!r} (the bridge ended TCP while the client wrote)")
        time.sleep(gap_s)


def frames_then_close(w):
    """(the text frames' parsed JSON, close code) up to the bridge's Close;
    fails when TCP ended (EOF or reset) without one."""
    frames, payload = w.frames_until_close(WAIT)
    assert payload is not None, f"no Close frame after {len(frames)} frames (the connection just ended)"
    assert len(payload) >= 2, payload
    return [json.loads(f[3]) for f in frames if f[2] == OP_TEXT], struct.unpack("!H", payload[:2])[0]


def answer_close_and_expect_fin(w, code):
    """Answers the bridge's Close as a client does; the bridge then ends TCP
    cleanly (EOF, not a reset) and promptly (not after its close wait)."""
    w.sock.sendall(masked(struct.pack("!H", code), OP_CLOSE))
    t0 = time.monotonic()
    w.sock.settimeout(WAIT)
    rest = b""
    while True:
        try:
            data = w.sock.recv(65536)
        except ConnectionResetError:
            pytest.fail("the bridge reset the connection after the close handshake")
        if not data:
            break
        rest += data
    assert rest == b"", f"bytes after the bridge's Close: {rest[:60]!r}"
    assert time.monotonic() - t0 < 2.0, "the bridge did not end TCP promptly after the client's Close"


@pytest.mark.parametrize("run", range(RUNS))
def test_a_ping_flood_gets_every_pong_and_error_then_1008(stack, run):
    """300 pings in 20 writes 1 ms apart: the bucket's burst of pongs, then
    rate_limited errors until the refusal limit, then Close 1008; every
    write is taken and nothing owed is lost."""
    w = open_raw(stack, unique("flood"))
    try:
        batch = b"".join(masked(PING) for _ in range(15))
        write_all(w, [batch] * 20, 0.001)
        frames, code = frames_then_close(w)
        assert code == 1008, (code, frames[-3:])
        kinds = [f["type"] if f["type"] != "error" else "error:" + f["code"] for f in frames]
        pongs = kinds.count("pong")
        errors = kinds.count("error:rate_limited")
        # The default bucket (burst 100) and refusal limit (100 in 10 s): 100
        # pongs, then the 101st refusal closes.
        assert (pongs, errors, len(kinds)) == (100, 101, 201), (pongs, errors, len(kinds), kinds[:3], kinds[-3:])
        assert kinds[:100] == ["pong"] * 100, kinds[:105]
        answer_close_and_expect_fin(w, 1008)
    finally:
        w.close()


@pytest.mark.parametrize("run", range(RUNS))
def test_an_oversized_frame_then_more_frames_gets_its_pong_then_1009(stack, run):
    """A ping, a frame over --max-frame, then pings in small writes: the
    pong for the first, then Close 1009; the frames after the big one are
    read and dropped, and the connection ends with a FIN."""
    w = open_raw(stack, unique("big"))
    try:
        big = masked('{"type":"ping","pad":"' + "x" * (64 * 1024 + 10) + '"}')
        chunks = [masked(PING)] + [big[i:i + 8192] for i in range(0, len(big), 8192)]
        chunks += [b"".join(masked(PING) for _ in range(10))] * 10
        write_all(w, chunks, 0.001)
        frames, code = frames_then_close(w)
        assert code == 1009, (code, frames)
        assert frames == [{"type": "pong"}], frames
        answer_close_and_expect_fin(w, 1009)
    finally:
        w.close()


def test_a_binary_frame_then_more_frames_closes_1003_cleanly(stack):
    w = open_raw(stack, unique("bin"))
    try:
        write_all(w, [masked(b'{"type":"ping"}', 0x2)] + [masked(PING)] * 20, 0.001)
        frames, code = frames_then_close(w)
        assert (code, frames) == (1003, []), (code, frames)
        answer_close_and_expect_fin(w, 1003)
    finally:
        w.close()


def test_a_bad_token_closes_4401_cleanly_while_the_client_writes(stack):
    w = RawWs(stack.http_port, "/ws/notifications/?token=not-a-token")
    try:
        assert w.status == 101, w.head
        write_all(w, [masked(PING)] * 20, 0.001)
        frames, code = frames_then_close(w)
        assert (code, frames) == (4401, []), (code, frames)
        answer_close_and_expect_fin(w, 4401)
    finally:
        w.close()


def test_a_client_that_never_answers_the_close_is_dropped_after_the_close_wait(stack):
    """The wait for the client's Close is bounded (EDGE_CLOSE_WAIT_S, 5 s)."""
    w = open_raw(stack, unique("mute"))
    try:
        write_all(w, [masked(b"x", 0x2)], 0)
        frames, code = frames_then_close(w)
        assert code == 1003
        t0 = time.monotonic()
        assert w.ended(timeout=10), "the bridge kept a closing socket past its close wait"
        assert time.monotonic() - t0 < 8
    finally:
        w.close()
    assert_serves(stack)
