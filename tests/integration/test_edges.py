"""The edges of the contract: socket refusals (4401, 4403), survivable bad
frames (error + the socket stays open), ping/pong, and the HTTP API's
status codes, against the real binaries."""
import json
import time
import uuid

import urllib.error
import urllib.request

import pytest

from ringmq_client import mint_token, unique
from test_core import ANSWER_SDP, OFFER_SDP, initiate, parties


# ----------------------------------------------------------- socket refusals

def bad_tokens(stack, uid):
    now = int(time.time())
    return {
        "garbage": "not-a-jwt",
        "empty": "",
        "wrong secret": mint_token("some-other-secret", sub=uid, name="x"),
        "expired": mint_token(stack.jwt_secret, sub=uid, name="x", exp=now - 60),
        "no exp": mint_token(stack.jwt_secret, sub=uid, name="x", exp=False),
        "alg none": mint_token(stack.jwt_secret, sub=uid, name="x", alg="none"),
        "alg HS512 header": mint_token(stack.jwt_secret, sub=uid, name="x", header={"alg": "HS512", "typ": "JWT"}),
        "no user id": mint_token(stack.jwt_secret, name="x"),
        "user id breaks the id rule": mint_token(stack.jwt_secret, sub="a b/c", name="x"),
        "tampered payload": (lambda t: t.split(".")[0] + "." +
                             mint_token(stack.jwt_secret, sub="admin").split(".")[1] + "." + t.split(".")[2])(
            mint_token(stack.jwt_secret, sub=uid)),
    }


@pytest.mark.parametrize("endpoint", ["notifications", "chat"])
def test_bad_tokens_close_4401(stack, endpoint):
    (a, b), conv = parties(stack)
    for why, tok in bad_tokens(stack, a.id).items():
        if endpoint == "notifications":
            w = stack.ws_notify(token=tok, name=f"notify[{why}]")
        else:
            w = stack.ws_chat(conv, token=tok, name=f"chat[{why}]")
        assert w.expect_close() == 4401, why


def test_no_token_closes_4401(stack):
    from ringmq_client import Ws
    w = Ws(f"{stack.ws_base}/ws/notifications/", name="notify[no token]")
    assert w.expect_close() == 4401


def test_non_member_chat_socket_closes_4403(stack):
    (a, b), conv = parties(stack)
    outsider = unique("out")
    w = stack.ws_chat(conv, outsider, name="chat[outsider]")
    assert w.expect_close() == 4403
    w = stack.ws_chat(unique("noconv"), a.id, name="chat[unknown conversation]")
    assert w.expect_close() == 4403


def test_members_replaced_take_effect_for_new_chat_sockets(stack):
    (a, b), conv = parties(stack)
    res = stack.http.put_conversation(conv, [a.id])
    assert res.status == 200, res
    assert sorted(res.body["members"]) == [a.id]
    assert stack.ws_chat(conv, b.id).expect_close() == 4403
    stack.connect_chat(conv, a.id)


# --------------------------------------------------------- survivable frames

@pytest.mark.parametrize("kind", ["notify", "chat"])
def test_bad_frames_get_error_and_the_socket_stays_open(stack, kind):
    (a, b), conv = parties(stack)
    w = stack.connect_notify(a.id) if kind == "notify" else stack.connect_chat(conv, a.id)
    peer = stack.connect_notify(b.id)
    listener = stack.connect_chat(conv, b.id)
    cases = [
        ("not json at all", "bad_json", None),
        ("{\"type\": \"call.offer\",", "bad_json", None),
        (json.dumps([1, 2]), "bad_frame", None),
        # A top-level scalar is valid JSON, just not a frame (issue 10, bug 1).
        ('"call.offer"', "bad_frame", None),
        ("17", "bad_frame", None),
        ("null", "bad_frame", None),
        ("true", "bad_frame", None),
        (" 2.5 ", "bad_frame", None),
        (json.dumps({"no_type": 1}), "bad_frame", None),
        (json.dumps({"type": ""}), "bad_frame", None),
        (json.dumps({"type": 5}), "bad_frame", None),
        (json.dumps({"type": "call.offer", "call_id": str(uuid.uuid4())}), "bad_frame", "call.offer"),
        (json.dumps({"type": "call.answer", "answer": ANSWER_SDP}), "bad_frame", "call.answer"),
        (json.dumps({"type": "call.offer", "call_id": str(uuid.uuid4()), "offer": OFFER_SDP,
                     "call_type": "hologram"}), "bad_frame", "call.offer"),
        (json.dumps({"type": "call.incoming", "call_id": str(uuid.uuid4())}), "unknown_type", "call.incoming"),
        (json.dumps({"type": "connection.ack"}), "unknown_type", "connection.ack"),
        (json.dumps({"type": "call.bogus", "call_id": str(uuid.uuid4())}), "unknown_type", "call.bogus"),
    ]
    if kind == "notify":
        cases.append((json.dumps({"type": "chat.message", "text": "hi"}), "unknown_type", "chat.message"))
    for text, code, ref in cases:
        w.send_text(text)
        err = w.expect("error")
        assert err["code"] == code, (text, err)
        if ref:
            assert err.get("ref") == ref, (text, err)
        assert w.is_open()
    # still usable
    w.send_json({"type": "ping"})
    w.expect("pong")
    peer.expect_nothing(0.3)
    listener.expect_nothing(0.3)   # nothing refused reached the room


def test_ping_pong_on_both_sockets_never_relayed(stack):
    (a, b), conv = parties(stack)
    a_n, a_c, b_c = stack.connect_notify(a.id), stack.connect_chat(conv, a.id), stack.connect_chat(conv, b.id)
    a_n.send_json({"type": "ping"})
    a_n.expect("pong")
    a_c.send_json({"type": "ping"})
    a_c.expect("pong")
    b_c.expect_nothing()


def test_notification_created_reaches_every_socket_of_the_user(stack):
    (a, b), _ = parties(stack)
    w1, w2, other = stack.connect_notify(a.id), stack.connect_notify(a.id), stack.connect_notify(b.id)
    payload = {"kind": "like", "post": 17, "nested": {"x": [1, "two"]}}
    res = stack.http.notify(a.id, payload)
    assert res.status == 202, res
    for w in (w1, w2):
        assert w.expect("notification.created")["payload"] == payload
    other.expect_nothing()


# ------------------------------------------------------------------- HTTP

def test_initiate_http_errors(stack):
    (a, b), conv = parties(stack)
    (c,), other_conv = parties(stack, 1)
    h = stack.http
    body = {"receiver_id": b.id, "call_type": "video", "conversation_id": conv}

    def post(token=None, **over):
        return h.request("POST", "/calls/initiate/", dict(body, **over), token=token)

    assert post().status == 401
    assert post(token="nonsense").status == 401
    assert post(token=mint_token("wrong", sub=a.id)).status == 401
    assert post(token=mint_token(stack.jwt_secret, sub=a.id, exp=int(time.time()) - 10)).status == 401
    assert post(a.token, receiver_id=c.id).status == 403           # receiver not a member
    assert post(c.token).status == 403                              # caller not a member
    assert post(a.token, conversation_id=unique("none")).status == 404
    assert post(a.token, receiver_id=a.id).status == 400            # calling oneself
    assert post(a.token, call_type="hologram").status == 400
    assert post(a.token, receiver_id="bad id!").status in (400, 404)
    res = h.request("POST", "/calls/initiate/", raw_body=b"{not json", token=a.token)
    assert res.status == 400 and res.body["error"] == "bad_request"
    res = h.request("POST", "/calls/initiate/", {"call_type": "video"}, token=a.token)
    assert res.status == 400
    for res, code in ((post(), "unauthorized"), (post(c.token), "forbidden")):
        assert res.body["error"] == code


def test_initiate_with_integer_ids(stack):
    n1, n2 = (str(uuid.uuid4().int % 10**9 + 1) for _ in range(2))
    a_tok = mint_token(stack.jwt_secret, sub=n1, name="n1")
    res = stack.http.put_conversation(unique("c"), [int(n1), int(n2)])
    assert res.status == 201 and res.body["members"] and all(isinstance(m, str) for m in res.body["members"])
    conv = res.body["conversation_id"]
    res = stack.http.request("POST", "/calls/initiate/",
                             {"receiver_id": int(n2), "call_type": "voice", "conversation_id": conv}, token=a_tok)
    assert res.status == 201, res
    assert res.body["receiver_id"] == n2 and res.body["caller_id"] == n1


def test_call_reads(stack):
    (a, b), conv = parties(stack)
    (c,), _ = parties(stack, 1)
    call = initiate(stack, a, b, conv)
    cid = call["call_id"]
    assert stack.http.call(a.token, cid).body["status"] == "ringing"
    assert stack.http.call(b.token, cid).status == 200
    assert stack.http.call(c.token, cid).status == 404
    assert stack.http.call(a.token, str(uuid.uuid4())).status == 404
    assert stack.http.call(a.token, "not-a-uuid").status == 404
    assert stack.http.request("GET", f"/calls/{cid}/").status == 401
    res = stack.http.calls(a.token)
    assert res.status == 200 and res.body["calls"][0]["call_id"] == cid


def test_conversations_api(stack):
    h = stack.http
    cid = unique("conv")
    a, b = unique("a"), unique("b")
    assert h.put_conversation(cid, [a, b], api_key="").status == 401
    assert h.put_conversation(cid, [a, b], api_key="wrong-key").status == 401
    assert h.delete_conversation(cid, api_key="wrong-key").status == 401
    res = h.put_conversation(cid, [a, b])
    assert res.status == 201, res
    assert res.body["conversation_id"] == cid and sorted(res.body["members"]) == sorted([a, b])
    res = h.put_conversation(cid, [a, b, "c"])
    assert res.status == 200, res
    assert sorted(res.body["members"]) == sorted([a, b, "c"])
    assert h.request("PUT", f"/api/conversations/{cid}/", {"members": "nope"}, api_key=stack.api_key).status == 400
    assert h.request("PUT", f"/api/conversations/{cid}/", {"members": ["bad id!"]},
                     api_key=stack.api_key).status == 400
    assert h.request("PUT", "/api/conversations/bad%20id/", {"members": [a]}, api_key=stack.api_key).status == 404
    res = h.delete_conversation(cid)
    assert res.status == 204 and not res.raw, res
    assert h.delete_conversation(cid).status == 404
    # gone: a former member's chat socket is refused
    assert stack.ws_chat(cid, a).expect_close() == 4403


def test_notifications_api_errors(stack):
    h = stack.http
    assert h.notify("someone", {"x": 1}, api_key="wrong").status == 401
    assert h.request("POST", "/api/notifications/", {"user_id": "u", "payload": [1]},
                     api_key=stack.api_key).status == 400
    assert h.request("POST", "/api/notifications/", {"payload": {}}, api_key=stack.api_key).status == 400


def test_healthz(stack):
    assert stack.http.request("GET", "/healthz").status == 200


def test_receiver_online_and_history_pages(stack):
    (a, b), conv = parties(stack)
    first = initiate(stack, a, b, conv)                       # b holds no socket
    assert first["receiver_online"] is False
    b_n = stack.connect_notify(b.id)
    ids = [first["call_id"]]
    for _ in range(2):
        # end the ringing call so the next one is not refused as glare/busy
        a_n = stack.connect_notify(a.id)
        a_n.send_json({"type": "call.end", "call_id": ids[-1]})
        a_n.expect("call.end")
        a_n.close()
        nxt = initiate(stack, a, b, conv)
        assert nxt["receiver_online"] is True
        ids.append(nxt["call_id"])
    h = stack.http
    page1 = h.calls(a.token, "?limit=2")
    assert page1.status == 200 and [c["call_id"] for c in page1.body["calls"]] == ids[::-1][:2]
    assert page1.body["next_before"]
    page2 = h.calls(a.token, "?limit=2&before=" + page1.body["next_before"])
    assert page2.status == 200 and [c["call_id"] for c in page2.body["calls"]] == [ids[0]]
    assert page2.body["next_before"] is None
    assert [c["call_id"] for c in h.calls(b.token).body["calls"]] == ids[::-1]
    assert len(h.calls(a.token, "?limit=1000").body["calls"]) == 3
    assert h.calls(a.token, "?limit=abc").status == 400
    assert h.calls(a.token, "?before=not-a-cursor").status == 400
    assert h.request("GET", "/calls/").status == 401


def test_rate_limit_answers_rate_limited(stack):
    (a,), _ = parties(stack, 1)
    w = stack.connect_notify(a.id)
    n = 160                                                   # above the burst of 100
    for _ in range(n):
        w.send_json({"type": "ping"})
    got = [w.recv_json()["type"] for _ in range(n)]
    assert got.count("pong") >= 100 - 5, got.count("pong")
    assert "error" in got and all(f["code"] == "rate_limited" for f in w.received if f["type"] == "error")
    assert w.is_open()


def test_malformed_percent_escapes_are_refused_before_routing(stack):
    """libwebsockets 4.1 decodes the URL while parsing headers and refuses a
    malformed %-escape itself with 403 (HTML body) before the bridge sees the
    request; no setting changes that (README, "Robustness and limits"). The
    refusal is a clear status, never a hang, and the service goes on."""
    (a,), _ = parties(stack, 1)
    for path in ("/calls/?before=%zz", "/calls/%zz/"):
        req = urllib.request.Request(stack.base_url + path, headers={"Authorization": "Bearer " + a.token})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 403
    assert stack.http.calls(a.token).status == 200


def test_body_limit_cors_and_unknown_routes(stack):
    (a,), _ = parties(stack, 1)
    h = stack.http
    big = b'{"receiver_id": "x", "pad": "' + b"a" * (64 * 1024 + 100) + b'"}'
    res = h.request("POST", "/calls/initiate/", raw_body=big, token=a.token)
    assert res.status == 413 and res.body["error"] == "too_large"
    res = h.request("OPTIONS", "/calls/initiate/", headers={
        "Origin": stack.base_url, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-api-key"})
    assert res.status in (200, 204)
    assert res.headers["Access-Control-Allow-Origin"] == stack.base_url
    allowed = res.headers["Access-Control-Allow-Headers"].lower()
    assert all(x in allowed for x in ("authorization", "content-type", "x-api-key"))
    res = h.request("OPTIONS", "/calls/initiate/", headers={"Origin": "http://evil.invalid",
                                                              "Access-Control-Request-Method": "POST"})
    assert res.headers.get("Access-Control-Allow-Origin") in (None, "")
    assert h.request("GET", "/no/such/route/", token=a.token).status == 404
    assert h.request("DELETE", "/calls/initiate/", token=a.token).status == 405
