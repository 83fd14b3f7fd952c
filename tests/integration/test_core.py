"""Issue 2, the core signaling path, end to end against the real mosquitto,
ringmq-rules and ringmq-bridge: connection.ack, the seed's three tests at
protocol level (with the seed's field sets), call.end and the stored
status, identity stamping, and refusing frames from outsiders.

Every frame received here has already been validated against schemas/ by
the Ws helper; the asserts below check the values."""
import uuid

import pytest

from ringmq_client import expect_quiet, unique, wait_until

# The seed's field sets (seed/000_5f699cfbcab30740.txt, the consumer's handlers).
SEED_INCOMING = {"type", "call_id", "caller_id", "caller_username", "call_type", "conversation_id"}
SEED_OFFER = {"type", "call_id", "caller_id", "caller_username", "call_type", "offer", "conversation_id"}
SEED_ANSWER = {"type", "call_id", "answer", "receiver_id"}
STAMP = {"sender_id", "sender_username", "from_device", "msg_id"}

OFFER_SDP = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
ANSWER_SDP = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0}


class Party:
    def __init__(self, stack, uid):
        self.stack = stack
        self.id = uid
        self.name = uid + "_name"
        self.token = stack.token(uid, name=self.name)


def parties(stack, n=2, prefix="u"):
    ps = [Party(stack, unique(f"{prefix}{i}")) for i in range(n)]
    conv = stack.conversation([p.id for p in ps])
    return ps, conv


def db_call(stack, call_id):
    rows = stack.db_rows("SELECT status, end_reason, ended_by FROM calls WHERE id = ?", (call_id,))
    return rows[0] if rows else None


def assert_status(stack, party, call_id, status, reason=None, ended_by=None):
    """GET /calls/<id>/ (as a participant) and the rules' SQLite file agree on the status."""
    res = stack.http.call(party.token, call_id)
    assert res.status == 200, res
    assert res.body["call_id"] == call_id
    assert res.body["status"] == status, res.body
    assert res.body["end_reason"] == reason, res.body
    if status in ("ringing",):
        assert res.body["answered_at"] is None and res.body["ended_at"] is None
    if status == "accepted":
        assert res.body["answered_at"] is not None and res.body["ended_at"] is None
    if status in ("ended", "declined", "cancelled", "missed"):
        assert res.body["ended_at"] is not None
    row = wait_until(lambda: (lambda r: r if r and r[0] == status else None)(db_call(stack, call_id)), 3,
                     what=f"SQLite status {status} of {call_id} (now {db_call(stack, call_id)})")
    assert row[1] == reason, row
    if ended_by is not None or status in ("ended", "declined", "cancelled"):
        assert row[2] == ended_by, row


def initiate(stack, caller, receiver, conv, call_type="video"):
    res = stack.http.initiate(caller.token, receiver.id, conv, call_type)
    assert res.status == 201, res
    b = res.body
    assert (b["status"], b["caller_id"], b["receiver_id"], b["call_type"], b["conversation_id"]) == \
        ("ringing", caller.id, receiver.id, call_type, conv)
    return b


def check_incoming(frame, call, caller, conv, call_type="video"):
    assert SEED_INCOMING <= set(frame)
    assert frame["call_id"] == call["call_id"]
    assert frame["caller_id"] == caller.id
    assert frame["caller_username"] == caller.name
    assert frame["call_type"] == call_type
    assert frame["conversation_id"] == conv


def check_offer(frame, call_id, caller, conv, sender, device, call_type="video", offer=OFFER_SDP):
    assert SEED_OFFER <= set(frame) and STAMP <= set(frame)
    assert frame["call_id"] == call_id
    assert frame["caller_id"] == caller.id            # the call's caller, whoever sent it
    assert frame["caller_username"] == caller.name
    assert frame["call_type"] == call_type
    assert frame["offer"] == offer
    assert frame["conversation_id"] == conv
    assert frame["sender_id"] == sender.id
    assert frame["sender_username"] == sender.name
    assert frame["from_device"] == device


def check_answer(frame, call_id, receiver, device):
    assert SEED_ANSWER <= set(frame) and STAMP <= set(frame)
    assert frame["call_id"] == call_id
    assert frame["answer"] == ANSWER_SDP
    assert frame["receiver_id"] == receiver.id
    assert frame["sender_id"] == receiver.id
    assert frame["sender_username"] == receiver.name
    assert frame["from_device"] == device


def check_end(frame, call_id, reason, ended_by):
    assert frame["call_id"] == call_id
    assert frame["reason"] == reason
    assert frame["ended_by"] == ended_by


# ------------------------------------------------------------ connection.ack

def test_connection_ack_on_notification_socket(stack):
    (a,), _ = parties(stack, 1)
    w1 = stack.connect_notify(a.id)
    w2 = stack.connect_notify(a.id)
    for w in (w1, w2):
        assert w.ack["user_id"] == a.id
        assert isinstance(w.ack["features"], list)
        assert w.ack["device_id"]
    assert w1.ack["device_id"] != w2.ack["device_id"], "each connection has its own device_id"
    w1.expect_nothing(0.3)


def test_connection_ack_on_chat_socket(stack):
    (a, b), conv = parties(stack)
    c = stack.connect_chat(conv, a.id)
    assert c.ack["user_id"] == a.id and c.ack["device_id"] and isinstance(c.ack["features"], list)


def test_user_id_claim_of_simplejwt_and_integer_ids(stack):
    """A token with user_id (SimpleJWT) instead of sub works; ids given as
    integers are answered as strings."""
    uid = str(uuid.uuid4().int % 10**12)
    tok = stack.token(None, name="numeric", extra={"user_id": int(uid)}) if False else None
    from ringmq_client import mint_token
    tok = mint_token(stack.jwt_secret, name="numeric", extra={"user_id": int(uid)})
    w = stack.ws_notify(token=tok, name="notify[simplejwt]")
    ack = w.expect("connection.ack")
    assert ack["user_id"] == uid


# ----------------------------------------------------------- the seed's tests

def test_seed_1_caller_on_chat_receiver_on_notifications_only(stack):
    """Seed Test 1: A on the chat page, B elsewhere (notification socket only)."""
    (a, b), conv = parties(stack)
    a_notify = stack.connect_notify(a.id)
    a_chat = stack.connect_chat(conv, a.id)
    b_notify = stack.connect_notify(b.id)

    call = initiate(stack, a, b, conv)
    assert call["receiver_online"] is True
    cid = call["call_id"]
    check_incoming(b_notify.expect("call.incoming"), call, a, conv)

    # A's WebRTC hook sends the offer through the chat socket.
    a_chat.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP, "call_type": "video"})
    offer = b_notify.expect("call.offer")
    check_offer(offer, cid, a, conv, sender=a, device=a_chat.ack["device_id"])
    room = a_chat.expect("call.offer")                  # the room copy, the sender's own socket included
    check_offer(room, cid, a, conv, sender=a, device=a_chat.ack["device_id"])
    assert room["msg_id"] == offer["msg_id"]
    a_notify.expect_nothing(0.3)                        # an offer goes to the counterpart, not back

    # B accepts on the notification socket.
    b_notify.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    answer = a_notify.expect("call.answer", skip=("call.accepted",))
    check_answer(answer, cid, b, b_notify.ack["device_id"])
    acc = b_notify.expect("call.accepted")
    assert acc["call_id"] == cid and acc["device_id"] == b_notify.ack["device_id"]
    if not any(f["type"] == "call.accepted" for f in a_notify.skipped):
        acc_a = a_notify.expect("call.accepted")
        assert acc_a["device_id"] == b_notify.ack["device_id"]
    a_chat.expect_nothing(0.3)                          # no room copy of a notification-socket frame
    assert_status(stack, a, cid, "accepted")

    # A hangs up from the chat page.
    a_chat.send_json({"type": "call.end", "call_id": cid, "reason": "hangup"})
    check_end(b_notify.expect("call.end"), cid, "hangup", a.id)
    check_end(a_notify.expect("call.end"), cid, "hangup", a.id)
    check_end(a_chat.expect("call.end"), cid, "hangup", a.id)   # room copy, reason the service's
    assert_status(stack, b, cid, "ended", "hangup", a.id)


def test_seed_2_both_on_notification_sockets_only(stack):
    """Seed Test 2: both users on pages without a chat socket."""
    (a, b), conv = parties(stack)
    a_n = stack.connect_notify(a.id)
    b_n = stack.connect_notify(b.id)
    b_n2 = stack.connect_notify(b.id, name="notify[b, second tab]")

    call = initiate(stack, a, b, conv, call_type="voice")
    cid = call["call_id"]
    check_incoming(b_n.expect("call.incoming"), call, a, conv, "voice")
    check_incoming(b_n2.expect("call.incoming"), call, a, conv, "voice")

    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP, "call_type": "voice"})
    o1 = b_n.expect("call.offer")
    o2 = b_n2.expect("call.offer")
    check_offer(o1, cid, a, conv, a, a_n.ack["device_id"], "voice")
    assert o1["msg_id"] == o2["msg_id"]

    # Trickle ICE both ways before the answer.
    a_n.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    ice = b_n.expect("call.ice_candidate")
    assert ice["candidate"] == CANDIDATE and ice["sender_id"] == a.id and ice["call_id"] == cid
    b_n2.expect("call.ice_candidate")

    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    ans = a_n.expect("call.answer", skip=("call.accepted",))
    check_answer(ans, cid, b, b_n.ack["device_id"])
    # every device of both parties learns who answered; the second tab stops ringing
    for w in (b_n, b_n2):
        acc = w.expect("call.accepted")
        assert acc["device_id"] == b_n.ack["device_id"]
    if not a_n.skipped:
        a_n.expect("call.accepted")

    b_n.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": None})
    ice = a_n.expect("call.ice_candidate")
    assert ice["sender_id"] == b.id and ice["candidate"] is None

    b_n.send_json({"type": "call.end", "call_id": cid})
    check_end(a_n.expect("call.end"), cid, "hangup", b.id)
    check_end(b_n.expect("call.end"), cid, "hangup", b.id)
    check_end(b_n2.expect("call.end"), cid, "hangup", b.id)
    assert_status(stack, a, cid, "ended", "hangup", b.id)


def test_seed_3_both_on_chat_sockets(stack):
    """Seed Test 3: both on the chat page (as before), with the global
    sockets open too (the frontend always has one)."""
    (a, b), conv = parties(stack)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    a_c, b_c = stack.connect_chat(conv, a.id), stack.connect_chat(conv, b.id)

    # Room relay works as before: every socket of the room, the sender's
    # included, gets the copy, stamped, with one msg_id.
    a_c.send_json({"type": "chat.message", "text": "hello", "sender_id": "spoofed"})
    m1, m2 = a_c.expect("chat.message"), b_c.expect("chat.message")
    for m in (m1, m2):
        assert m["text"] == "hello"
        assert (m["sender_id"], m["sender_username"], m["from_device"]) == (a.id, a.name, a_c.ack["device_id"])
    assert m1["msg_id"] == m2["msg_id"]
    a_n.expect_nothing(0.2)
    b_n.expect_nothing(0.2)    # chat frames stay in the room

    call = initiate(stack, a, b, conv)
    cid = call["call_id"]
    check_incoming(b_n.expect("call.incoming"), call, a, conv)

    a_c.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP, "call_type": "video"})
    room_a, room_b, routed = a_c.expect("call.offer"), b_c.expect("call.offer"), b_n.expect("call.offer")
    for f in (room_a, room_b, routed):
        check_offer(f, cid, a, conv, a, a_c.ack["device_id"])
    assert room_a["msg_id"] == room_b["msg_id"] == routed["msg_id"]

    b_c.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    room_a, room_b = a_c.expect("call.answer"), b_c.expect("call.answer")
    routed = a_n.expect("call.answer", skip=("call.accepted",))
    for f in (room_a, room_b, routed):
        check_answer(f, cid, b, b_c.ack["device_id"])
    assert room_a["msg_id"] == room_b["msg_id"] == routed["msg_id"]
    b_n.expect("call.accepted")

    a_c.send_json({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE})
    assert b_n.expect("call.ice_candidate")["sender_id"] == a.id
    b_c.expect("call.ice_candidate")
    a_c.expect("call.ice_candidate")

    b_c.send_json({"type": "call.end", "call_id": cid, "reason": "declined"})   # a client's reason is ignored
    for w in (a_n, b_n, a_c, b_c):
        check_end(w.expect("call.end", skip=("call.accepted",)), cid, "hangup", b.id)
    assert_status(stack, a, cid, "ended", "hangup", b.id)


# ---------------------------------------------------------- ends and states

def test_receiver_declines_a_ringing_call(stack):
    (a, b), conv = parties(stack)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    b_n.send_json({"type": "call.end", "call_id": cid, "reason": "hangup"})
    check_end(a_n.expect("call.end"), cid, "declined", b.id)
    check_end(b_n.expect("call.end"), cid, "declined", b.id)
    assert_status(stack, a, cid, "declined", "declined", b.id)
    # Nothing after the end.
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    err = b_n.expect("error")
    assert err["code"] == "invalid_state" and err.get("call_id") == cid
    a_n.expect_nothing()


def test_caller_cancels_a_ringing_call(stack):
    (a, b), conv = parties(stack)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    cid = initiate(stack, a, b, conv, "voice")["call_id"]
    b_n.expect("call.incoming")
    a_n.send_json({"type": "call.end", "call_id": cid})
    check_end(b_n.expect("call.end"), cid, "cancelled", a.id)
    check_end(a_n.expect("call.end"), cid, "cancelled", a.id)
    assert_status(stack, b, cid, "cancelled", "cancelled", a.id)


def test_out_of_role_and_out_of_state_frames(stack):
    (a, b), conv = parties(stack)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    # The caller answering its own call: forbidden, reaches no one.
    a_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    err = a_n.expect("error")
    assert err["code"] == "forbidden" and err.get("call_id") == cid and err.get("ref") == "call.answer"
    b_n.expect_nothing()
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_n.expect("call.answer", skip=("call.accepted",))
    b_n.expect("call.accepted")
    # A second answer: invalid_state.
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    err = b_n.expect("error")
    assert err["code"] == "invalid_state" and err.get("call_id") == cid
    # Renegotiation offer by the receiver: routed, call fields stay the call's.
    b_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP, "call_type": "voice",
                   "caller_id": b.id})
    o = a_n.expect("call.offer", skip=("call.accepted",))
    check_offer(o, cid, a, conv, sender=b, device=b_n.ack["device_id"], call_type="video")
    a_n.send_json({"type": "call.end", "call_id": cid})
    b_n.expect("call.end")
    assert_status(stack, a, cid, "ended", "hangup", a.id)


def test_ringing_call_is_missed_after_the_time_out(short_ring_stack):
    st = short_ring_stack
    (a, b), conv = parties(st)
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    check_end(b_n.expect("call.end", timeout=6), cid, "missed", None)
    check_end(a_n.expect("call.end", timeout=3), cid, "missed", None)
    assert_status(st, a, cid, "missed", "missed")
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    assert a_n.expect("error")["code"] == "invalid_state"


# ------------------------------------------------------- identity and outsiders

def test_spoofed_identity_fields_are_overwritten(stack):
    (a, b), conv = parties(stack)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    a_c = stack.connect_chat(conv, a.id)
    cid = initiate(stack, a, b, conv, "video")["call_id"]
    b_n.expect("call.incoming")
    spoof = {"caller_id": "mallory", "caller_username": "Mallory", "receiver_id": "mallory",
             "sender_id": "mallory", "sender_username": "Mallory", "from_device": "evil", "msg_id": "x"}
    a_c.send_json(dict({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP, "call_type": "voice",
                        "conversation_id": "elsewhere"}, **spoof))
    for f in (b_n.expect("call.offer"), a_c.expect("call.offer")):
        check_offer(f, cid, a, conv, a, a_c.ack["device_id"], call_type="video")
        assert f["msg_id"] != "x"
        assert f.get("receiver_id", b.id) == b.id
    b_n.send_json(dict({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP}, **spoof))
    check_answer(a_n.expect("call.answer", skip=("call.accepted",)), cid, b, b_n.ack["device_id"])
    b_n.send_json(dict({"type": "call.ice_candidate", "call_id": cid, "candidate": CANDIDATE}, **spoof))
    ice = a_n.expect("call.ice_candidate", skip=("call.accepted",))
    assert (ice["sender_id"], ice["sender_username"], ice["from_device"]) == (b.id, b.name, b_n.ack["device_id"])
    b_n.send_json(dict({"type": "call.end", "call_id": cid, "ended_by": "mallory"}, **spoof))
    check_end(a_n.expect("call.end", skip=("call.accepted",)), cid, "hangup", b.id)


def test_chat_relay_is_stamped_with_the_real_sender(stack):
    (a, b), conv = parties(stack)
    a_c, b_c = stack.connect_chat(conv, a.id), stack.connect_chat(conv, b.id)
    b_c.send_json({"type": "chat.typing", "sender_id": a.id, "sender_username": "A!", "from_device": "x"})
    for w in (a_c, b_c):
        f = w.expect("chat.typing")
        assert (f["sender_id"], f["sender_username"], f["from_device"]) == (b.id, b.name, b_c.ack["device_id"])


@pytest.mark.parametrize("frame_type", ["call.offer", "call.answer", "call.ice_candidate", "call.end"])
def test_non_participant_gets_not_found_and_nobody_gets_the_frame(stack, frame_type):
    (a, b, c), conv = parties(stack, 3)      # c is in the conversation but not in the call
    a_n, b_n, c_n = (stack.connect_notify(p.id) for p in (a, b, c))
    a_c, c_c = stack.connect_chat(conv, a.id), stack.connect_chat(conv, c.id)
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    body = {"call.offer": {"offer": OFFER_SDP}, "call.answer": {"answer": ANSWER_SDP},
            "call.ice_candidate": {"candidate": CANDIDATE}, "call.end": {}}[frame_type]
    frame = dict({"type": frame_type, "call_id": cid, "caller_id": a.id, "sender_id": b.id}, **body)
    c_n.send_json(frame)                      # from c's notification socket
    err = c_n.expect("error")
    assert err["code"] == "not_found" and err.get("call_id") == cid and err.get("ref") == frame_type
    c_c.send_json(frame)                      # and from c's chat socket in the call's own room
    err = c_c.expect("error")
    assert err["code"] == "not_found" and err.get("call_id") == cid
    expect_quiet(a_n, b_n, a_c, c_n)
    assert_status(stack, a, cid, "ringing")
    # The outsider cannot see the call over HTTP either.
    assert stack.http.call(c.token, cid).status == 404


def test_unknown_call_id_is_not_found(stack):
    (a,), _ = parties(stack, 1)
    w = stack.connect_notify(a.id)
    missing = str(uuid.uuid4())
    w.send_json({"type": "call.answer", "call_id": missing, "answer": ANSWER_SDP})
    err = w.expect("error")
    assert err["code"] == "not_found" and err.get("call_id") == missing
    w.send_json({"type": "call.end", "call_id": "not-a-uuid"})
    err = w.expect("error")
    assert err["code"] == "not_found"


def ring_and_cancel(stack):
    """Two fresh users on notification sockets: the first calls the second,
    it rings, the caller cancels, both see call.end (cancelled). Returns
    (caller's socket, receiver's socket, call_id)."""
    (a, b), conv = parties(stack)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    res = stack.http.initiate(a.token, b.id, conv)
    assert res.status == 201, res
    cid = res.body["call_id"]
    assert b_n.expect("call.incoming")["call_id"] == cid
    a_n.send_json({"type": "call.end", "call_id": cid})
    for w in (b_n, a_n):
        end = w.expect("call.end")
        assert end["call_id"] == cid and end["reason"] == "cancelled", end
    return a_n, b_n, cid
