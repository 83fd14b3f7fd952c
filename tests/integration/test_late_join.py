"""Joining while a call rings (issue 12): a device of the receiver that
comes online while a call rings gets that call's call.incoming, the
caller's latest call.offer and the caller's ICE candidates so far, each
with the msg_id of its first copy; a call no longer ringing is never
replayed.

- a notification socket opened during the ring, after the caller sent an
  offer and two candidates, gets exactly those four frames after its
  connection.ack, in that order, with the msg_ids a socket open from the
  start got; live frames follow the replay;
- a socket opened after the call was answered, cancelled or missed gets
  nothing replayed;
- a phone (clean session) that subscribes during the ring gets the
  replay; the receiver's web sockets do not get the phone's copies; a
  persistent session resumed without a SUBSCRIBE gets what its queue held
  and no replay;
- with rules down, a new socket gets no replay and stays, and the live
  frames it held back go out; more than half of --send-queue of them go
  out at once, in order, and the socket stays.

"Nothing was replayed" is checked without waiting on a clock: after the
connection.ack the test has the bridge publish a notification.created for
the user; a socket's live frames wait behind its replay, so the next frame
being that notification means no replay frame came.
"""
import threading
import time

import pytest

from conftest import _make_stack
from phone import Phone, User
from ringmq_client import DEFAULT_WAIT, expect_quiet, unique

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATES = [
    {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
    {"candidate": "candidate:2 1 udp 2122194687 127.0.0.1 40001 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
]
LATE_JOIN_S = 1.0   # how long after the initiate the late socket opens


def pair(stack):
    """A caller and a receiver in a conversation of their own."""
    a, b = User(stack, "lj-a"), User(stack, "lj-b")
    return a, b, stack.conversation([a.id, b.id])


def ringing_call(stack, a, b, cid, caller_ws, receiver_ws, ice=True):
    """a calls b, then sends an offer (and two candidates) on caller_ws;
    returns (call_id, the frames receiver_ws got: incoming, offer, ice...)."""
    res = stack.http.initiate(a.token, b.id, cid)
    assert res.status == 201, res
    call_id = res.body["call_id"]
    got = [receiver_ws.expect("call.incoming")]
    caller_ws.send_json({"type": "call.offer", "call_id": call_id, "offer": OFFER})
    got.append(receiver_ws.expect("call.offer"))
    for c in CANDIDATES if ice else ():
        caller_ws.send_json({"type": "call.ice_candidate", "call_id": call_id, "candidate": c})
        got.append(receiver_ws.expect("call.ice_candidate"))
    return call_id, got


def barrier(stack, user, *devices):
    """A notification.created for user, to mark "everything before this":
    it must be the next frame of each device; returns its mark."""
    mark = unique("mark")
    assert stack.http.notify(user.id, {"mark": mark}).status == 202
    for d in devices:
        f = d.expect("notification.created")
        assert f["payload"] == {"mark": mark}
    return mark


def notify_socket(stack, user, name):
    ws = stack.ws_notify(token=user.token, name=name)
    ws.ack = ws.expect("connection.ack")
    assert "ringing.replay" in ws.ack["features"]
    return ws


def test_socket_opened_while_ringing_gets_incoming_offer_candidates(stack):
    a, b, cid = pair(stack)
    caller = notify_socket(stack, a, "caller")
    early = notify_socket(stack, b, "receiver from the start")
    started = time.monotonic()
    call_id, first = ringing_call(stack, a, b, cid, caller, early)
    assert first[0]["msg_id"], "call.incoming carries a msg_id"
    time.sleep(max(0.0, LATE_JOIN_S - (time.monotonic() - started)))

    late = notify_socket(stack, b, "receiver opened late")
    replay = [late.recv_json() for _ in first]
    assert [f["type"] for f in replay] == ["call.incoming", "call.offer", "call.ice_candidate",
                                           "call.ice_candidate"]
    assert [f["msg_id"] for f in replay] == [f["msg_id"] for f in first]
    assert replay == first, "replayed exactly as first published"
    assert replay[2]["candidate"] == CANDIDATES[0] and replay[3]["candidate"] == CANDIDATES[1]
    # Nothing else came before a live frame; the early socket saw no replay.
    barrier(stack, b, late, early)

    # Live frames of the call follow, on both.
    caller.send_json({"type": "call.ice_candidate", "call_id": call_id, "candidate": None})
    for ws in (late, early):
        assert ws.expect("call.ice_candidate")["candidate"] is None
    late.send_json({"type": "call.answer", "call_id": call_id, "answer": {"type": "answer", "sdp": "v=0"}})
    assert caller.expect("call.answer")["call_id"] == call_id
    assert early.expect("call.accepted")["device_id"] == late.ack["device_id"]
    assert caller.expect("call.accepted")["call_id"] == call_id
    caller.send_json({"type": "call.end", "call_id": call_id})
    for ws in (caller, late, early):
        ws.expect("call.end", skip=("call.accepted",))


def test_a_call_starting_as_the_socket_opens_rings_it_once(stack):
    """The live call.incoming can reach a socket while its replay is being
    asked (the call started as the socket's subscription became active):
    the bridge holds it, the replay holds the same frame, and the socket
    gets it once. The initiate is fired from a thread at varying moments
    around the socket's opening, so some runs land in that window."""
    copies = []
    for k in range(60):
        a, b, cid = pair(stack)
        fire = threading.Timer(0.001 * (k % 10), lambda: stack.http.initiate(a.token, b.id, cid))
        fire.start()
        ws = notify_socket(stack, b, "receiver opening")
        fire.join()
        assert stack.http.notify(b.id, {"mark": unique("after")}).status == 202   # after every copy
        got = []
        while True:
            f = ws.recv_json()
            if f["type"] == "notification.created":
                break
            got.append(f)
        copies.append(sum(1 for f in got if f["type"] == "call.incoming"))
        ws.close()
    assert max(copies) == 1, copies


@pytest.mark.parametrize("how", ["answered", "cancelled"])
def test_no_replay_once_the_call_stopped_ringing(stack, how):
    a, b, cid = pair(stack)
    caller = notify_socket(stack, a, "caller")
    early = notify_socket(stack, b, "receiver")
    call_id, _ = ringing_call(stack, a, b, cid, caller, early)
    if how == "answered":
        early.send_json({"type": "call.answer", "call_id": call_id, "answer": {"type": "answer", "sdp": "v=0"}})
        early.expect("call.accepted")
    else:
        caller.send_json({"type": "call.end", "call_id": call_id})
        assert early.expect("call.end")["reason"] == "cancelled"
    late = notify_socket(stack, b, "receiver opened after the ring")
    barrier(stack, b, late)


def test_no_replay_after_a_missed_call(short_ring_stack):
    stack = short_ring_stack
    a, b, cid = pair(stack)
    caller = notify_socket(stack, a, "caller")
    early = notify_socket(stack, b, "receiver")
    ringing_call(stack, a, b, cid, caller, early)
    assert early.expect("call.end", timeout=DEFAULT_WAIT + 2)["reason"] == "missed"
    late = notify_socket(stack, b, "receiver opened after the miss")
    barrier(stack, b, late)


def test_a_phone_that_subscribes_while_ringing_gets_the_call(stack):
    a, b, cid = pair(stack)
    caller = notify_socket(stack, a, "caller")
    web = notify_socket(stack, b, "receiver's web socket")
    call_id, first = ringing_call(stack, a, b, cid, caller, web, ice=False)

    phone = Phone(stack, b)   # clean session: connects, subscribes (SUBACK checked), then the replay
    incoming = phone.expect("call.incoming")
    assert incoming["call_id"] == call_id and incoming["msg_id"] == first[0]["msg_id"]
    offer = phone.expect("call.offer")
    assert offer["msg_id"] == first[1]["msg_id"] and offer["offer"] == OFFER
    # The web socket gets none of the phone's copies: its next frame is the mark.
    mark = barrier(stack, b, web)
    assert phone.expect("notification.created")["payload"] == {"mark": mark}

    # The phone can take the call from there.
    phone.publish({"type": "call.answer", "call_id": call_id, "answer": {"type": "answer", "sdp": "v=0"},
                   "device_id": phone.device})
    assert caller.expect("call.answer")["from_device"] == phone.device
    assert web.expect("call.accepted")["device_id"] == phone.device
    phone.close()


def test_a_resumed_session_without_subscribe_gets_its_queue_only(stack):
    a, b, cid = pair(stack)
    caller = notify_socket(stack, a, "caller")
    phone = Phone(stack, b, persistent=True)
    phone.close()
    web = notify_socket(stack, b, "receiver's web socket")
    call_id, first = ringing_call(stack, a, b, cid, caller, web, ice=False)

    again = Phone(stack, b, device=phone.device, persistent=True, subscribe=False, connect=False)
    assert again.connect(b.token), "the session is still there"
    mark = barrier(stack, b, web)
    got = []
    while not got or got[-1].get("type") != "notification.created":
        got.append(again.recv())
    assert [f["type"] for f in got] == ["call.incoming", "call.offer", "notification.created"]
    assert [f.get("msg_id") for f in got[:2]] == [f["msg_id"] for f in first]
    assert got[-1]["payload"] == {"mark": mark}
    # Subscribing again is a SUBSCRIBE: then the replay comes (duplicates, same msg_ids).
    again.subscribe()
    assert again.expect("call.incoming")["msg_id"] == first[0]["msg_id"]
    assert again.expect("call.offer")["msg_id"] == first[1]["msg_id"]
    again.close()


def test_rules_down_no_replay_the_socket_stays(fresh_stack):
    stack = fresh_stack
    b = User(stack, "lj-down")
    stack.rules.stop()
    ws = notify_socket(stack, b, "socket while rules is down")
    barrier(stack, b, ws)   # held behind the question, released when it times out
    with open(stack.bridge.log_path, encoding="utf-8", errors="replace") as f:
        assert "no replay of ringing calls (rules answered 503)" in f.read()
    ws.send_json({"type": "ping"})
    assert ws.expect("pong") == {"type": "pong"}
    expect_quiet(ws)


SMALL_QUEUE = 4096   # --send-queue of the stack below


@pytest.fixture
def small_queue_stack(request):
    return _make_stack(request, bridge_args=["--send-queue", str(SMALL_QUEUE)], name="small send-queue stack")


def test_rules_down_held_frames_beyond_the_send_queue_go_out(small_queue_stack):
    stack = small_queue_stack
    b = User(stack, "lj-full")
    stack.rules.stop()
    ws = notify_socket(stack, b, "socket while rules is down")
    filler = "x" * (SMALL_QUEUE // 6)
    marks = []
    for _ in range(4):   # together more than the hold's half of the queue, less than the queue
        m = unique("n")
        assert stack.http.notify(b.id, {"mark": m, "filler": filler}).status == 202
        marks.append(m)
    got = [ws.expect("notification.created")["payload"]["mark"] for _ in marks]
    assert got == marks
    with open(stack.bridge.log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    assert "arrived while the replay was asked: sent before it" in log
    assert ws.is_open()
