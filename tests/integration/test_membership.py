"""The room follows membership (issue 11; PROTOCOL.md "Authorization" of chat
sockets, kept after the socket opened): when a conversation's members are
replaced (PUT) or it is deleted, every open chat socket of a user who is no
longer a member is closed 4403 within 2 s, on every bridge, and nothing such
a user sends after the change reaches the room (rules refuses it: error
forbidden). Members who stay, and everyone's notification sockets, are
untouched."""
import json
import time

import pytest
import websocket

from ringmq_client import DEFAULT_WAIT, Closed, Ws, expect_quiet, unique

paho = pytest.importorskip("paho.mqtt.client")
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

CLOSE_WITHIN_S = 2.0


def closed_4403(w, within=CLOSE_WITHIN_S + 1):
    """w is closed 4403 within `within` s; the frames before it are returned."""
    deadline = time.monotonic() + within
    frames = []
    while True:
        try:
            op, data = w._recv_frame(max(0.05, deadline - time.monotonic()))
        except Closed as c:
            assert c.code == 4403, f"{w.name}: closed {c.code} {c.reason!r}"
            assert c.reason == "not a member of this conversation", c.reason
            return frames
        except websocket.WebSocketTimeoutException:
            raise AssertionError(f"{w.name}: not closed 4403 within {within}s; got {frames}") from None
        frames.append(data)


def chat_on(stack, port, cid, user):
    w = Ws(f"ws://127.0.0.1:{port}/ws/chat/{cid}/?token={stack.token(user)}", name=f"chat[{user}@{port}]")
    stack._sockets.append(w)
    w.ack = w.expect("connection.ack")
    return w


@pytest.fixture(scope="module")
def second_bridge(stack):
    return stack.add_bridge()


def test_a_removed_member_is_closed_on_every_bridge_and_cannot_talk_meanwhile(stack, second_bridge):
    a, b, c = unique("stay"), unique("stay"), unique("removed")
    cid = stack.conversation([a, b, c])
    wa = chat_on(stack, stack.http_port, cid, a)
    wb = chat_on(stack, second_bridge, cid, b)
    wc1 = chat_on(stack, stack.http_port, cid, c)
    wc2 = chat_on(stack, second_bridge, cid, c)
    c_notify = stack.connect_notify(c)
    # The room works for everyone before the change.
    wc1.send_json({"type": "chat.message", "text": "before"})
    for w in (wa, wb, wc2):
        assert w.expect("chat.message")["text"] == "before"
    wc1.expect("chat.message")

    t0 = time.monotonic()
    res = stack.http.put_conversation(cid, [a, b])
    assert res.status == 200, res
    # Sent after the change, before the close reaches the socket.
    wc1.send_json({"type": "chat.message", "text": "after"})
    frames = closed_4403(wc1) + closed_4403(wc2)
    took = time.monotonic() - t0
    assert took <= CLOSE_WITHIN_S + 0.5, f"closed after {took:.2f} s"
    assert not any(b'"after"' in f and b"chat.message" in f for f in frames), frames
    # Nothing of c's reached the room; a and b still talk.
    expect_quiet(wa, wb)
    wa.send_json({"type": "chat.message", "text": "still here"})
    assert wb.expect("chat.message")["text"] == "still here"
    assert wa.expect("chat.message")["text"] == "still here"
    # c's notification socket is not a chat socket: it stays.
    c_notify.send_json({"type": "ping"})
    c_notify.expect("pong")
    # And c cannot come back in.
    w = Ws(f"{stack.ws_base}/ws/chat/{cid}/?token={stack.token(c)}", name="back")
    assert w.expect_close() == 4403


def test_a_deleted_conversation_closes_every_chat_socket(stack, second_bridge):
    a, b = unique("del"), unique("del")
    cid = stack.conversation([a, b])
    other = stack.conversation([a, b])
    socks = [chat_on(stack, stack.http_port, cid, a), chat_on(stack, second_bridge, cid, b)]
    kept = chat_on(stack, stack.http_port, other, a)
    assert stack.http.delete_conversation(cid).status == 204
    for w in socks:
        closed_4403(w)
    # Another conversation of the same users is untouched.
    kept.send_json({"type": "chat.message", "text": "x"})
    assert kept.expect("chat.message")["text"] == "x"


def test_a_put_that_keeps_everyone_closes_no_one(stack):
    a, b = unique("keep"), unique("keep")
    cid = stack.conversation([a, b])
    wa, wb = chat_on(stack, stack.http_port, cid, a), chat_on(stack, stack.http_port, cid, b)
    assert stack.http.put_conversation(cid, [b, a, unique("new")]).status == 200
    expect_quiet(wa, wb)
    wa.send_json({"type": "chat.message", "text": "y"})
    assert wb.expect("chat.message")["text"] == "y"


def test_rules_refuses_a_removed_members_frame_that_a_bridge_still_sent(stack):
    """The bridge closes the socket, but a frame it had already published
    (a bridge slower to hear of the change) must not reach the room either:
    a frame on chats/<cid>/in stamped as a removed member gets error
    forbidden on the reply topic and no room copy; one of a member is
    relayed. The frames are published here as a bridge would (svc:bridge)."""
    a, c = unique("member"), unique("gone")
    cid = stack.conversation([a, c])
    wa = chat_on(stack, stack.http_port, cid, a)
    assert stack.http.put_conversation(cid, [a]).status == 200

    got = []
    bridge = paho.Client(client_id="b-" + "0" * 16, protocol=paho.MQTTv5)
    bridge.username_pw_set("svc:bridge", stack.service_secret)
    bridge.on_message = lambda cl, u, m: got.append(m)
    bridge.connect("127.0.0.1", stack.mqtt_port)
    bridge.loop_start()
    try:
        replies = "svc/bridges/b-" + "0" * 16 + "/replies"
        bridge.subscribe(replies, qos=1)
        time.sleep(0.3)

        def publish(sender, text):
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("sender_id", sender), ("sender_username", sender), ("from_device", "d-test")]
            props.ResponseTopic = replies
            props.CorrelationData = b"d:d-test"
            bridge.publish(f"chats/{cid}/in", f'{{"type": "chat.message", "text": "{text}"}}', qos=1,
                           properties=props).wait_for_publish(DEFAULT_WAIT)

        publish(c, "from the removed one")
        publish(a, "from a member")
        assert wa.expect("chat.message")["text"] == "from a member"
        expect_quiet(wa)
        deadline = time.monotonic() + DEFAULT_WAIT
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got, "no error for the removed member's frame"
        err = json.loads(got[0].payload)
        assert err["type"] == "error" and err["code"] == "forbidden", err
    finally:
        bridge.loop_stop()
        bridge.disconnect()
