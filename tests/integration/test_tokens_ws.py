"""The bridge's key files are read again on SIGHUP (PROTOCOL.md
"Production contract" -> "Tokens, strictly"): a rotation with an old and a
new key both valid, then the old key's file rewritten with another key and
SIGHUP: the old key is refused, the new ones taken, and the socket opened
with the old key before the SIGHUP stays open. A key file that cannot be
parsed on SIGHUP leaves the whole old set in force, and the log says which
file. (The broker's side of the same rules: test_tokens_mqtt.py.)"""
import os
import signal
import time

import jwt as pyjwt
import pytest

from conftest import _make_stack
from ringmq_client import unique, wait_until
from test_tokens_mqtt import Keys, claims_for, signed

WAIT = 5.0


@pytest.fixture(scope="module")
def keys():
    k = Keys()
    for name, kind in (("old", "rsa"), ("new", "ec"), ("next", "rsa")):
        k.make(name, kind)
    for name in ("old", "new"):
        k.publish(name, name)
    yield k
    k.cleanup()


@pytest.fixture(scope="module")
def rot(request, keys):
    return _make_stack(request, name="bridge rotation stack", bridge_args=[
        "--jwt-public-key-file", keys.pub("old"), "--jwt-public-key-file", keys.pub("new"),
        "--jwt-leeway-s", "30",
    ])


def token(keys, name, alg, kid=None):
    return signed(keys, name, alg, claims_for(unique("rot"), aud=None, iss=None), kid=kid)


def opens(st, tok):
    w = st.ws_notify(token=tok, name="notify[rotation]")
    try:
        return w.expect("connection.ack")["type"] == "connection.ack"
    finally:
        w.close()


def refused(st, tok):
    return st.ws_notify(token=tok, name="notify[rotation, refused]").expect_close() == 4401


def bridge_log(st):
    with open(st.bridge.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def sighup_bridge(st, want):
    before = bridge_log(st).count(want)
    st.bridge.p.send_signal(signal.SIGHUP)
    wait_until(lambda: bridge_log(st).count(want) > before, WAIT, what=f"{want!r} in the bridge's log")


def test_leeway_widens_iat(rot, keys):
    now = int(time.time())
    assert opens(rot, signed(keys, "old", "RS256", claims_for(unique("lw"), aud=None, iss=None, iat=now + 20)))
    assert refused(rot, signed(keys, "old", "RS256", claims_for(unique("lw"), aud=None, iss=None, iat=now + 90)))


def test_rotation_on_sighup_drops_no_socket(rot, keys):
    st = rot
    # 1. old (RS256 old.pem) and new (ES256 new.pem) both valid
    assert opens(st, token(keys, "old", "RS256"))
    assert opens(st, token(keys, "old", "RS256", kid="old"))
    assert opens(st, token(keys, "new", "ES256", kid="new"))
    live_tok = token(keys, "old", "RS256")
    live = st.ws_notify(token=live_tok, name="notify[opened before the rotation]")
    live.expect("connection.ack")

    # 2. the old key's file now holds another key ("next"); SIGHUP
    keys.publish("next", "old")
    sighup_bridge(st, "SIGHUP: key files reloaded")
    line = [x for x in bridge_log(st).splitlines() if "SIGHUP: key files reloaded" in x][-1]
    assert "RS256 old" in line and "ES256 new" in line, line

    # 3. the old key refused, the new ones accepted
    assert refused(st, token(keys, "old", "RS256"))
    assert refused(st, token(keys, "old", "RS256", kid="old"))
    assert opens(st, token(keys, "new", "ES256"))
    assert opens(st, token(keys, "next", "RS256", kid="old"))

    # 4. the socket of before is still open and served
    assert live.is_open()
    live.send_json({"type": "ping"})
    assert live.expect("pong")["type"] == "pong"

    # 5. a key file broken on SIGHUP: the whole old set stays, the log names it
    with open(keys.pub("new"), "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n")
    sighup_bridge(st, "key files not reloaded")
    line = [x for x in bridge_log(st).splitlines() if "key files not reloaded" in x][-1]
    assert keys.pub("new") in line, line
    assert opens(st, token(keys, "new", "ES256"))
    assert opens(st, token(keys, "next", "RS256"))
    assert live.is_open()
    live.close()
    assert pyjwt.decode(live_tok, options={"verify_signature": False})["sub"].startswith("rot")
