"""Beyond the happy path: busy and glare, a rules restart with a ringing
call, 503 when rules is gone, origin checks and socket limits."""
import os

import pytest
import websocket

from ringmq_client import Ws, wait_until
from test_core import ANSWER_SDP, OFFER_SDP, assert_status, check_end, initiate, parties


def test_glare_answers_409_busy_with_the_ringing_call(stack):
    (a, b), conv = parties(stack)
    first = initiate(stack, a, b, conv)
    res = stack.http.initiate(b.token, a.id, conv)
    assert res.status == 409, res
    assert res.body["error"] == "busy"
    assert res.body.get("call_id") == first["call_id"], "glare: the 409 names the ringing call"


def test_busy_while_in_an_accepted_call(stack):
    (a, b, c), conv = parties(stack, 3)
    a_n, b_n = stack.connect_notify(a.id), stack.connect_notify(b.id)
    cid = initiate(stack, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_n.expect("call.answer", skip=("call.accepted",))
    for caller, receiver in ((c, a), (c, b), (a, c)):
        res = stack.http.initiate(caller.token, receiver.id, conv)
        assert res.status == 409 and res.body["error"] == "busy", (caller.id, receiver.id, res)
    a_n.send_json({"type": "call.end", "call_id": cid})
    b_n.expect("call.end", skip=("call.accepted",))
    assert initiate(stack, c, a, conv)["status"] == "ringing"      # free again


def test_ringing_call_survives_a_rules_restart(fresh_stack):
    st = fresh_stack
    (a, b), conv = parties(st)
    a_n, b_n = st.connect_notify(a.id), st.connect_notify(b.id)
    cid = initiate(st, a, b, conv)["call_id"]
    b_n.expect("call.incoming")
    assert st.rules.stop() == 0, "rules exits 0 on SIGTERM"
    st.procs.remove(st.rules)
    st._start_rules(())
    wait_until(st._healthy, 10, what="healthz 200 after the rules restart")
    # The call is still there and still ringing; signaling goes on.
    a_n.send_json({"type": "call.offer", "call_id": cid, "offer": OFFER_SDP})
    b_n.expect("call.offer", timeout=8)
    b_n.send_json({"type": "call.answer", "call_id": cid, "answer": ANSWER_SDP})
    a_n.expect("call.answer", skip=("call.accepted",))
    assert_status(st, a, cid, "accepted")


def test_503_when_rules_is_down(fresh_stack):
    st = fresh_stack
    (a, b), conv = parties(st)
    st.rules.stop()
    res = st.http.initiate(a.token, b.id, conv)
    assert res.status == 503 and res.body["error"] == "unavailable", res
    wait_until(lambda: st.http.request("GET", "/healthz").status == 503, 10, what="healthz 503 without rules")


def test_upgrade_from_a_foreign_origin_is_refused(stack):
    (a,), _ = parties(stack, 1)
    url = f"{stack.ws_base}/ws/notifications/?token={a.token}"
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        Ws(url, origin="http://evil.invalid")
    assert e.value.status_code == 403
    own = Ws(url, origin=stack.base_url, name="notify[own origin]")
    own.expect("connection.ack")
    own.close()


def test_oversized_frame_closes_1009(stack):
    (a,), _ = parties(stack, 1)
    w = stack.connect_notify(a.id)
    w.send_text('{"type":"ping","pad":"' + "x" * (64 * 1024 + 10) + '"}')
    assert w.expect_close() == 1009


def test_binary_frame_closes_1003(stack):
    (a,), _ = parties(stack, 1)
    w = stack.connect_notify(a.id)
    w.ws.send_binary(b'{"type":"ping"}')
    assert w.expect_close() == 1003
