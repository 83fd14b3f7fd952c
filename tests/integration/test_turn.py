"""GET /calls/ice-servers/ against a real coturn (Debian's turnserver, the
TURN REST API with a shared secret, tests/integration/coturn.py): the
credentials the bridge hands out let coturn's own client allocate a relay
and send packets through it; a credential past its expiry is refused by
coturn; no token is 401; without settings the list is empty; TURN URIs
without a secret stop the bridge at start. Every body is checked against
schemas/http/ice-servers.response.json.
"""
import os
import subprocess
import time

import pytest

import coturn
from conftest import BRIDGE, _make_stack
from ringmq_client import schemas, unique, wait_until

SHORT_TTL_S = 3        # --turn-ttl-s of the stack whose credentials expire during a test
CLOCK_SLACK_S = 5      # the credential's expiry vs now + ttl, read on both sides of the request


@pytest.fixture(scope="module")
def turn(request):
    if not coturn.installed():
        pytest.fail(f"coturn is not installed ({coturn.TURNSERVER}): apt-get install coturn (scripts/deps.sh)")
    server = coturn.Coturn()
    # Logs kept when a test failed, as the stacks' are (conftest.py).
    request.addfinalizer(lambda: server.stop(keep=getattr(request.session, "_ringmq_failed", False)))
    return server


@pytest.fixture(scope="module")
def turn_stack(request, turn):
    return _make_stack(request, bridge_args=turn.bridge_args(), name="turn stack")


@pytest.fixture(scope="module")
def short_ttl_stack(request, turn):
    return _make_stack(request, bridge_args=turn.bridge_args(ttl_s=SHORT_TTL_S), name="short-ttl turn stack")


def ice_servers(st, token):
    res = st.http.request("GET", "/calls/ice-servers/", token=token)
    if res.status == 200:
        schemas().check("http/ice-servers.response.json", res.body, "GET /calls/ice-servers/ body")
    return res


def turn_entry(body):
    entries = [s for s in body["ice_servers"] if "username" in s]
    assert len(entries) == 1, body
    return entries[0]


def test_credentials_work_on_coturn(turn_stack, turn):
    user = unique("u")
    before = int(time.time())
    res = ice_servers(turn_stack, turn_stack.token(user))
    after = int(time.time())
    assert res.status == 200, res
    assert res.headers.get("Cache-Control") == "no-store"
    body = res.body
    assert body["ttl"] == 86400   # the default
    entry = turn_entry(body)
    assert entry["urls"] == [turn.uri]
    assert {"urls": [turn.stun_uri]} in body["ice_servers"]
    expiry, _, who = entry["username"].partition(":")
    assert who == user
    assert before + 86400 - CLOCK_SLACK_S <= int(expiry) <= after + 86400 + CLOCK_SLACK_S
    # The same formula, computed here from coturn's secret.
    assert entry["credential"] == coturn.rest_credential(turn.secret, entry["username"])

    ok, received, out = turn.allocate(entry["username"], entry["credential"])
    assert ok, f"coturn refused the bridge's credential (echoes {received}):\n{out[-2000:]}\n{turn.tail()}"

    # The control: the same username with another credential is refused,
    # so the allocation above shows that coturn checked it.
    ok, _, out = turn.allocate(entry["username"], coturn.rest_credential("not-the-secret", entry["username"]))
    assert not ok, out[-2000:]


def test_a_credential_past_its_expiry_is_refused(short_ttl_stack, turn):
    """A credential from a bridge at --turn-ttl-s 3 works at once and is
    refused once its expiry (in its username) has passed; an old timestamp
    made with the same formula here is refused too."""
    user = unique("u")
    res = ice_servers(short_ttl_stack, short_ttl_stack.token(user))
    assert res.status == 200 and res.body["ttl"] == SHORT_TTL_S, res
    entry = turn_entry(res.body)
    expiry = int(entry["username"].split(":")[0])
    assert expiry <= int(time.time()) + SHORT_TTL_S + 1

    ok, received, out = turn.allocate(entry["username"], entry["credential"])
    assert ok, f"a fresh short credential was refused (echoes {received}):\n{out[-2000:]}"
    # coturn compares the expiry with its own clock, in whole seconds.
    wait_until(lambda: time.time() > expiry + 1, SHORT_TTL_S + CLOCK_SLACK_S, what="the credential's expiry")
    ok, _, out = turn.allocate(entry["username"], entry["credential"])
    assert not ok, "coturn took an expired credential:\n" + out[-2000:]
    assert "Cannot complete Allocation" in out

    old = f"{int(time.time()) - 3600}:{user}"
    ok, _, out = turn.allocate(old, coturn.rest_credential(turn.secret, old))
    assert not ok, "coturn took a credential an hour old:\n" + out[-2000:]


def test_token_required(turn_stack):
    for token in (None, "not-a-jwt", turn_stack.token("u1", ttl=-10)):
        res = ice_servers(turn_stack, token)
        assert res.status == 401, res
        assert res.body["error"] == "unauthorized"
        assert "credential" not in res.raw.decode()
    res = turn_stack.http.request("POST", "/calls/ice-servers/", body={}, token=turn_stack.token("u1"))
    assert res.status == 405, res


def test_unconfigured_bridge_answers_an_empty_list(stack):
    res = ice_servers(stack, stack.token(unique("u")))
    assert res.status == 200, res
    assert res.body["ice_servers"] == []
    assert res.body["ttl"] == 86400


def test_turn_uri_without_secret_refuses_to_start(turn_stack, turn):
    secret_file = os.path.join(turn_stack.dir, "jwt_secret")
    base = [BRIDGE, "--listen", "127.0.0.1", "--port", "0", "--jwt-secret-file", secret_file]
    for extra, words in (
            (["--turn-uri", turn.uri], "--turn-uri needs --turn-secret-file"),
            (["--turn-secret-file", turn.secret_file], "needs at least one --turn-uri"),
            (["--turn-uri", "http://127.0.0.1", "--turn-secret-file", turn.secret_file], "must be turn:"),
            (["--stun-uri", turn.uri], "--stun-uri")):
        r = subprocess.run(base + extra, capture_output=True, timeout=10)
        assert r.returncode == 2, (extra, r)
        assert words in r.stderr.decode(), (extra, r.stderr)
    r = subprocess.run([BRIDGE, "--help"], capture_output=True, timeout=10)
    helptext = r.stdout.decode()
    for flag in ("--turn-uri", "--stun-uri", "--turn-secret-file", "--turn-ttl-s", "refuses to start"):
        assert flag in helptext
