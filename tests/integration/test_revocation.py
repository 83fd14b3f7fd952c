"""Revocation (PROTOCOL.md "Production contract" -> "Revocation and per-user
limits", first rule) on a real stack with two bridges and a phone:

- POST /api/users/<id>/disconnect/ (API key) answers 202 {"user_id",
  "disconnected": true}; 401 without the key, 405 for another method;
- within 2 s every socket of that user on both bridges is closed 4401
  "revoked" and its MQTT connection is disconnected, while another user's
  sockets and phone stay;
- from then on the user's tokens with iat not later than the request's
  second, and those without iat, are refused on every path: WebSocket
  (4401), HTTP (401), MQTT CONNECT, auth.refresh (error unauthorized); a
  token with a later iat works everywhere;
- all of this holds again after every part (broker, rules, bridge) was
  restarted; a bridge started after the revocation knows it too.
"""
import time

import pytest
import websocket

from conftest import _make_stack
from phone import Phone, User
from ringmq_client import Closed, Http, Ws, unique, wait_until

CUT_WITHIN_S = 2.0   # the contract: everywhere within 2 s


@pytest.fixture
def rstack(request):
    """A stack of its own (the test restarts every part of it)."""
    return _make_stack(request, name="revocation stack")


def token_at(stack, user, iat):
    """A token of user (a phone.User) issued at iat (None: no iat claim)."""
    extra = {} if iat is None else {"iat": iat}
    return stack.token(user.id, name=user.name, extra=extra)


def notify(stack, port, token, name):
    w = Ws(f"ws://127.0.0.1:{port}/ws/notifications/?token={token}", name=name)
    stack._sockets.append(w)
    return w


def chat(stack, port, cid, token, name):
    w = Ws(f"ws://127.0.0.1:{port}/ws/chat/{cid}/?token={token}", name=name)
    stack._sockets.append(w)
    return w


def opened(w):
    w.ack = w.expect("connection.ack")
    return w


def closed_with(w, code, reason=None, within=CUT_WITHIN_S + 1):
    """w is closed with code (and reason) within `within` s, no frame before."""
    try:
        w._recv_frame(within)
    except Closed as c:
        assert c.code == code, f"{w.name}: closed {c.code} {c.reason!r}, expected {code}"
        if reason is not None:
            assert c.reason == reason, f"{w.name}: reason {c.reason!r}, expected {reason!r}"
        return c
    except websocket.WebSocketTimeoutException:
        raise AssertionError(f"{w.name}: not closed within {within}s") from None
    raise AssertionError(f"{w.name}: a frame instead of the close {code}")


def refused_everywhere(stack, ports, user, token):
    """token of user is refused on every path of every bridge and by the broker."""
    for port in ports:
        closed_with(notify(stack, port, token, f"revoked-notify@{port}"), 4401, within=5)
        res = Http(f"http://127.0.0.1:{port}").request("GET", "/calls/", token=token)
        assert res.status == 401, f"GET /calls/ on {port} with a revoked token: {res}"
    rc, _ = Phone(stack, user, token=token, subscribe=False, connect=False).try_connect(token)
    assert rc != 0, "the broker took a revoked token"


def works_everywhere(stack, ports, user, token, cid):
    for port in ports:
        w = opened(notify(stack, port, token, f"fresh-notify@{port}"))
        w.send_json({"type": "ping"})
        w.expect("pong")
        opened(chat(stack, port, cid, token, f"fresh-chat@{port}"))
        res = Http(f"http://127.0.0.1:{port}").request("GET", "/calls/", token=token)
        assert res.status == 200, f"GET /calls/ on {port} with a fresh token: {res}"
    p = Phone(stack, user, token=token)
    p.close()


def next_second():
    """Sleeps into the next whole unix second; returns it."""
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.01)
    return int(time.time())


def test_disconnect_needs_the_api_key_and_post(stack):
    uid = unique("nokey")
    res = stack.http.disconnect_user(uid, api_key="wrong")
    assert res.status == 401, res
    assert res.body["error"] == "unauthorized"
    res = stack.http.request("GET", f"/api/users/{uid}/disconnect/")
    assert res.status == 405, res
    res = stack.http.disconnect_user(uid, path_tail="/disconnect")   # no trailing slash: the same route
    assert res.status == 202, res
    assert res.body == {"user_id": uid, "disconnected": True}
    res = stack.http.disconnect_user("not%20an%20id")
    assert res.status == 404, res


def test_a_revoked_user_is_cut_off_everywhere_and_stays_out_across_restarts(rstack):
    st = rstack
    port_b = st.add_bridge()
    ports = [st.http_port, port_b]
    u, other = User(st, "banned"), User(st, "bystander")
    cid = st.conversation([u.id, other.id])

    old = token_at(st, u, int(time.time()) - 60)
    socks = [opened(notify(st, st.http_port, old, "u-notify@A")), opened(notify(st, port_b, old, "u-notify@B")),
             opened(chat(st, st.http_port, cid, old, "u-chat@A")), opened(chat(st, port_b, cid, old, "u-chat@B"))]
    phone = Phone(st, u, token=old)
    other_socks = [opened(notify(st, port, other.token, f"other-notify@{port}")) for port in ports]
    other_chat = opened(chat(st, port_b, cid, other.token, "other-chat@B"))
    other_phone = Phone(st, other)

    t0 = time.monotonic()
    res = st.http.disconnect_user(u.id)
    revoked_at = int(time.time())
    assert res.status == 202, res
    assert res.body == {"user_id": u.id, "disconnected": True}
    for w in socks:
        closed_with(w, 4401, "revoked")
    assert phone.gone.wait(CUT_WITHIN_S + 1), "the phone was not disconnected"
    took = time.monotonic() - t0
    assert took <= CUT_WITHIN_S + 0.5, f"cut off after {took:.2f} s"

    # Nobody else noticed: their sockets and phone still talk.
    for w in other_socks + [other_chat]:
        w.send_json({"type": "ping"})
        w.expect("pong")
    other_phone.publish({"type": "ping", "device_id": other_phone.device})
    other_phone.expect("pong")
    other_phone.close()

    # The old token, one issued in the revocation's second and one without
    # iat are refused everywhere.
    for tok in (old, token_at(st, u, revoked_at), token_at(st, u, None)):
        refused_everywhere(st, ports, u, tok)
    # A socket that refreshes to a revoked token is told so and keeps its own.
    w = opened(notify(st, st.http_port, other.token, "other-refresh"))
    w.send_json({"type": "auth.refresh", "token": st.token(other.id, extra={"iat": revoked_at})})
    w.expect("auth.refreshed")   # another user's rule does not touch it
    fresh_s = next_second()
    fresh = token_at(st, u, fresh_s)
    works_everywhere(st, ports, u, fresh, cid)

    # auth.refresh to a revoked token: error unauthorized, the socket lives.
    keep = opened(notify(st, st.http_port, fresh, "u-fresh"))
    keep.send_json({"type": "auth.refresh", "token": old})
    assert keep.expect("error")["code"] == "unauthorized"

    # Every part restarts: the rule is still in force everywhere, and a
    # bridge started only now knows it too.
    st.restart_all()
    port_c = st.add_bridge()
    for tok in (old, token_at(st, u, revoked_at), token_at(st, u, None)):
        refused_everywhere(st, [st.http_port, port_c], u, tok)
    works_everywhere(st, [st.http_port, port_c], u, fresh, cid)

    # rules publishes every rule again when it reconnects: a socket and a
    # phone on a token issued after the rule are not cut by it.
    keep = opened(notify(st, port_c, fresh, "u-fresh-kept"))
    kept_phone = Phone(st, u, token=fresh)
    assert st.rules.stop() == 0
    st.procs.remove(st.rules)
    st._start_rules(st.rules_args)
    wait_until(st._healthy, 10, what="healthz 200 after the rules restart")
    time.sleep(CUT_WITHIN_S)
    keep.send_json({"type": "ping"})
    keep.expect("pong")
    assert not kept_phone.gone.is_set(), "a phone on a fresh token was cut by the republished rule"
    kept_phone.close()


def test_a_second_revocation_moves_the_rule_later_and_only_later(stack):
    u = User(stack, "twice")
    first_s = int(time.time())
    assert stack.http.disconnect_user(u.id).status == 202
    between = token_at(stack, u, next_second())
    w = opened(notify(stack, stack.http_port, between, "between"))
    next_second()
    assert stack.http.disconnect_user(u.id).status == 202
    closed_with(w, 4401, "revoked")
    refused_everywhere(stack, [stack.http_port], u, between)
    assert first_s < int(time.time())
    # Another user's rule is theirs alone.
    other = User(stack, "untouched")
    opened(notify(stack, stack.http_port, other.token, "untouched"))
