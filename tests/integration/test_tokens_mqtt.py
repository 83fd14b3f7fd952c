"""PROTOCOL.md "Production contract" -> "Tokens, strictly", at the broker
and at the bridge: the auth plugin of a real stack (conftest.Stack, the
repo's mosquitto.conf plus plugin_opt_* lines) checks phones' MQTT CONNECT
tokens, and the bridge (--jwt-public-key-file, --jwt-audience, ...) its
WebSockets' and HTTP requests' tokens, both with bridge/common/jwt.c's one
check (the bridge's side and its rotation: test_tokens_ws.py).

- RS256 and ES256 tokens (keys made here by the `openssl` command, tokens
  signed with PyJWT) are accepted next to the stack's HS256 secret;
- a Django REST framework SimpleJWT refresh token is refused and its access
  token accepted (minted by SimpleJWT itself, SIGNING_KEY = the stack's
  secret);
- nbf and iat in the future are refused; aud and iss are checked when
  configured and ignored otherwise; a leeway widens exp, nbf and iat;
- a kid names one key: an unknown kid is refused, a kid of another
  algorithm's key too, and so is an HS256 token "signed" with a public key;
- rotation: old and new keys both valid; the old key's file rewritten and
  SIGHUP -> old refused, new accepted, a client connected before the SIGHUP
  still connected and still publishing, offline persistent sessions neither
  "online" nor dropped (mosquitto re-runs every client's login on SIGHUP);
  a key file broken on SIGHUP leaves the whole old set in force, logged with
  the file's name.

Every refusal is also found in the broker's log with the check's reason, so
a token refused for the wrong reason fails the test.
"""
import hashlib
import hmac
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import _make_stack
from ringmq_client import unique, wait_until

import paho.mqtt.client as paho  # noqa: E402  (scripts/deps.sh installs it: a missing one fails, never skips)
import jwt as pyjwt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

WAIT = 5.0                   # seconds a CONNACK, SUBACK, message or log line may take
AUDIENCE = "ringmq-test"
ISSUER = "https://auth.ringmq.test"
LEEWAY_S = 30                # the rotation stack's plugin_opt_jwt_leeway_s
NOT_AUTHORIZED = 0x87

# Django 3.2 under Python 3.11 (SimpleJWT's import) warns about cgi and locale.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:django")


# ------------------------------------------------------------------ keys

class Keys:
    """Key pairs made with the openssl command: <dir>/pub/<kid>.pem is the
    public key the plugin reads, <dir>/priv/<kid>.key signs. The dir is
    world-readable (mosquitto drops root for its own user), priv/ is not."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ringmq-keys-")
        os.chmod(self.dir, 0o755)
        os.makedirs(self.pub_dir, mode=0o755)
        os.makedirs(os.path.join(self.dir, "priv"), mode=0o700)
        self.private = {}

    @property
    def pub_dir(self):
        return os.path.join(self.dir, "pub")

    def pub(self, kid):
        return os.path.join(self.pub_dir, kid + ".pem")

    def make(self, name, kind):
        """A new key pair `name` (kind rsa or ec); returns its private PEM."""
        key = os.path.join(self.dir, "priv", name + ".key")
        algo = (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa"
                else ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        subprocess.run(["openssl", "genpkey", *algo, "-out", key], check=True, capture_output=True)
        with open(key) as f:
            self.private[name] = f.read()
        return self.private[name]

    def publish(self, name, kid):
        """Writes key `name`'s public half to pub/<kid>.pem (replacing it)."""
        key = os.path.join(self.dir, "priv", name + ".key")
        tmp = self.pub(kid) + ".tmp"
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", tmp], check=True, capture_output=True)
        os.chmod(tmp, 0o644)
        # Rewrite the file the plugin names in place (same inode), as an
        # operator's editor or config tool may.
        with open(tmp, "rb") as src, open(self.pub(kid), "wb") as dst:
            dst.write(src.read())
        os.unlink(tmp)
        os.chmod(self.pub(kid), 0o644)

    def pem_text(self, kid):
        with open(self.pub(kid), "rb") as f:
            return f.read()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def claims_for(user, ttl=600, aud=AUDIENCE, iss=ISSUER, **extra):
    now = int(time.time())
    c = {"sub": user, "name": user + " (token)", "exp": now + ttl, "iat": now}
    if aud is not None:
        c["aud"] = aud
    if iss is not None:
        c["iss"] = iss
    for k, v in extra.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def signed(keys, name, alg, claims, kid=None):
    headers = {"kid": kid} if kid is not None else None
    return pyjwt.encode(claims, keys.private[name], algorithm=alg, headers=headers)


def hs256(secret, claims, kid=None):
    return pyjwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid} if kid else None)


def hs256_raw(key_bytes, claims, header):
    """HS256 by hand: PyJWT refuses a PEM as an HMAC key, an attacker does not."""
    def b64(raw):
        import base64
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signing + "." + b64(hmac.new(key_bytes, signing.encode(), hashlib.sha256).digest())


# ------------------------------------------------------------------ MQTT

class Phone:
    """A paho v5 client logged in as user (client id <user>:<device>);
    persistent: a session that outlives the connection (expiry 300 s)."""

    def __init__(self, stack, user, token, device=None, persistent=False):
        self.user = user
        self.c = paho.Client(client_id=f"{user}:{device or unique('dev')}", protocol=paho.MQTTv5)
        self.c.username_pw_set(user, token)
        self.connack, self.subacks, self.messages = queue.Queue(), queue.Queue(), queue.Queue()
        self.disconnects = queue.Queue()
        self.session_present = None
        self.c.on_connect = lambda cl, u, flags, rc, props=None: (
            setattr(self, "session_present", flags.get("session present")),
            self.connack.put(rc if isinstance(rc, int) else rc.value))
        self.c.on_subscribe = lambda cl, u, mid, codes, props=None: self.subacks.put(
            [x if isinstance(x, int) else x.value for x in codes])
        self.c.on_message = lambda cl, u, m: self.messages.put(m)
        self.c.on_disconnect = lambda cl, u, rc, props=None: self.disconnects.put(rc)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300 if persistent else 0
        self.c.connect("127.0.0.1", stack.mqtt_port, keepalive=30, clean_start=not persistent, properties=props)
        self.c.loop_start()
        try:
            self.rc = self.connack.get(timeout=WAIT)
        except queue.Empty:
            self.rc = None

    def subscribe_own(self):
        """The SUBACK code of users/<user>/notifications (1 = granted QoS 1)."""
        rc, _ = self.c.subscribe(f"users/{self.user}/notifications", 1)
        assert rc == paho.MQTT_ERR_SUCCESS
        return self.subacks.get(timeout=WAIT)[0]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Log:
    """The stack's mosquitto log, read from where the last look ended."""

    def __init__(self, stack):
        self.path = os.path.join(stack.dir, "mosquitto.log")
        self.mark()

    def mark(self):
        self.pos = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def new_text(self):
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            return f.read().decode("utf-8", "replace")

    def wait_for(self, text, what=None):
        return wait_until(lambda: text in self.new_text(), WAIT, what=what or f"{text!r} in mosquitto's log")


def accepted(stack, token, user=None):
    """Logs in with token; asserts the login works (CONNACK 0, own
    notifications subscribable)."""
    user = user or pyjwt.decode(token, options={"verify_signature": False})["sub"]
    p = Phone(stack, user, token)
    try:
        assert p.rc == 0, f"CONNACK {p.rc} for a token that must be accepted; log:\n{Log(stack).new_text()[-2000:]}"
        assert p.subscribe_own() == 1
    finally:
        p.close()


def refused(stack, token, reason, user=None):
    """Logs in with token; asserts CONNACK 0x87 and the plugin's reason in the log."""
    claims = pyjwt.decode(token, options={"verify_signature": False})
    user = user or claims.get("sub") or str(claims.get("user_id"))
    log = Log(stack)
    p = Phone(stack, user, token)
    p.close()
    assert p.rc == NOT_AUTHORIZED, f"CONNACK {p.rc} for a token that must be refused ({reason})"
    log.wait_for(f'refused login of "{user}"')
    text = log.new_text()
    line = next(x for x in text.splitlines() if f'refused login of "{user}"' in x)
    assert line.endswith(reason), f"refused for another reason: {line}"


def reload_broker(stack):
    """SIGHUP to mosquitto; returns the plugin's log line about it."""
    log = Log(stack)
    stack.broker.p.send_signal(signal.SIGHUP)
    wait_until(lambda: "ringmq_auth: reload" in log.new_text(), WAIT, what="the plugin's reload line")
    return next(x for x in log.new_text().splitlines() if "ringmq_auth: reload" in x)


# ------------------------------------------------------------------ stacks

@pytest.fixture(scope="module")
def keys():
    k = Keys()
    for name, kind in (("rsa", "rsa"), ("ec", "ec"), ("old", "rsa"), ("new", "ec"), ("next", "rsa"),
                       ("stranger", "rsa")):
        k.make(name, kind)
    for name in ("rsa", "ec", "old", "new"):
        k.publish(name, name)
    yield k
    k.cleanup()


@pytest.fixture(scope="module")
def strict_stack(request, keys):
    """HS256 (the stack's run/jwt_secret, kid "jwt_secret"), RS256 rsa.pem,
    ES256 ec.pem; audience and issuer configured; no leeway."""
    return _make_stack(request, name="strict-token stack", broker_conf_extra=[
        f"plugin_opt_jwt_public_key_file {keys.pub('rsa')}, {keys.pub('ec')}",
        f"plugin_opt_jwt_audience {AUDIENCE}",
        f"plugin_opt_jwt_issuer {ISSUER}",
    ], bridge_args=[
        "--jwt-public-key-file", keys.pub("rsa"), "--jwt-public-key-file", keys.pub("ec"),
        "--jwt-audience", AUDIENCE, "--jwt-issuer", ISSUER,
    ])


@pytest.fixture
def rotation_stack(request, keys):
    """RS256 old.pem and ES256 new.pem (plus the HS256 secret); leeway 30 s;
    no audience or issuer."""
    return _make_stack(request, name="rotation stack", broker_conf_extra=[
        f"plugin_opt_jwt_public_key_file {keys.pub('old')},{keys.pub('new')}",
        f"plugin_opt_jwt_leeway_s {LEEWAY_S}",
    ])


# ------------------------------------------------------------------ tests

def test_plugin_lists_its_keys(strict_stack):
    text = open(os.path.join(strict_stack.dir, "mosquitto.log"), encoding="utf-8", errors="replace").read()
    assert ("ringmq_auth: ready (keys: HS256 jwt_secret, RS256 rsa, ES256 ec; exp required, leeway 0 s, "
            f"audience {AUDIENCE}, issuer {ISSUER}") in text


def test_rs256_and_es256_accepted(strict_stack, keys):
    st = strict_stack
    accepted(st, signed(keys, "rsa", "RS256", claims_for(unique("rs"))))
    accepted(st, signed(keys, "rsa", "RS256", claims_for(unique("rs")), kid="rsa"))
    accepted(st, signed(keys, "ec", "ES256", claims_for(unique("es"))))
    accepted(st, signed(keys, "ec", "ES256", claims_for(unique("es")), kid="ec"))
    # and the stack's HS256 secret, kid-less or by its file's name
    accepted(st, hs256(st.jwt_secret, claims_for(unique("hs"))))
    accepted(st, hs256(st.jwt_secret, claims_for(unique("hs")), kid="jwt_secret"))


def test_signatures_of_other_keys_refused(strict_stack, keys):
    st = strict_stack
    refused(st, signed(keys, "stranger", "RS256", claims_for(unique("rs"))), "bad signature")
    refused(st, signed(keys, "stranger", "RS256", claims_for(unique("rs")), kid="rsa"), "bad signature")
    refused(st, signed(keys, "new", "ES256", claims_for(unique("es"))), "bad signature")
    refused(st, hs256("not the secret", claims_for(unique("hs"))), "bad signature")


def test_kid_names_one_key(strict_stack, keys):
    st = strict_stack
    refused(st, signed(keys, "rsa", "RS256", claims_for(unique("kid")), kid="rsa-2027"), "unknown key id (kid)")
    refused(st, signed(keys, "rsa", "RS256", claims_for(unique("kid")), kid="rsa.pem"), "unknown key id (kid)")
    # a key verifies its own algorithm only, whatever the token claims
    refused(st, signed(keys, "rsa", "RS256", claims_for(unique("kid")), kid="ec"),
            "no key for the token's algorithm")
    refused(st, hs256(st.jwt_secret, claims_for(unique("kid")), kid="rsa"), "no key for the token's algorithm")
    # HS256 "signed" with the RSA public key's PEM as the secret
    pem = keys.pem_text("rsa")
    refused(st, hs256_raw(pem, claims_for(unique("conf")), {"alg": "HS256", "typ": "JWT"}), "bad signature")
    refused(st, hs256_raw(pem, claims_for(unique("conf")), {"alg": "HS256", "kid": "rsa"}),
            "no key for the token's algorithm")
    refused(st, hs256_raw(b"", claims_for(unique("none")), {"alg": "none"}).rsplit(".", 1)[0] + ".",
            "algorithm not allowed (HS256, RS256, ES256 only)")


def simplejwt_tokens(secret, user, audience=AUDIENCE, issuer=ISSUER):
    """(refresh, access) as SimpleJWT mints them, SIGNING_KEY = secret. Django
    may be configured already (test_django.py runs a project in this
    process): SimpleJWT then makes the claims as always (token_type, exp,
    iat, jti, user_id) and its own TokenBackend signs them with this
    stack's key, audience and issuer."""
    pytest.importorskip("rest_framework_simplejwt")
    import django
    from django.conf import settings
    from django.test.utils import override_settings
    jwt = {"ALGORITHM": "HS256", "SIGNING_KEY": secret, "AUDIENCE": audience, "ISSUER": issuer,
           "USER_ID_CLAIM": "user_id"}
    if not settings.configured:
        settings.configure(SECRET_KEY="ringmq-tests", USE_TZ=True,
                           INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"], SIMPLE_JWT=jwt)
        django.setup()
    from rest_framework_simplejwt.backends import TokenBackend
    from rest_framework_simplejwt.tokens import RefreshToken
    backend = TokenBackend("HS256", secret, audience=audience, issuer=issuer)
    with override_settings(SIMPLE_JWT=jwt):
        refresh = RefreshToken()
        refresh["user_id"] = user
        return backend.encode(refresh.payload), backend.encode(refresh.access_token.payload)


def test_simplejwt_refresh_refused_access_accepted(strict_stack):
    st = strict_stack
    user = unique("sjwt")
    refresh, access = simplejwt_tokens(st.jwt_secret, user)
    assert pyjwt.decode(refresh, options={"verify_signature": False})["token_type"] == "refresh"
    assert pyjwt.decode(access, options={"verify_signature": False})["token_type"] == "access"
    refused(st, refresh, "not an access token (token_type)", user=user)
    accepted(st, access, user=user)


def test_nbf_and_iat_in_the_future_refused(strict_stack, keys):
    st = strict_stack
    now = int(time.time())
    refused(st, signed(keys, "rsa", "RS256", claims_for(unique("nbf"), nbf=now + 120)), "token not yet valid (nbf)")
    refused(st, hs256(st.jwt_secret, claims_for(unique("nbf"), nbf=now + 5)), "token not yet valid (nbf)")
    refused(st, signed(keys, "ec", "ES256", claims_for(unique("iat"), iat=now + 120)),
            "token issued in the future (iat)")
    refused(st, hs256(st.jwt_secret, claims_for(unique("iat"), iat=now + 5)), "token issued in the future (iat)")
    accepted(st, signed(keys, "rsa", "RS256", claims_for(unique("nbf"), nbf=now - 5, iat=now - 5)))
    refused(st, hs256(st.jwt_secret, claims_for(unique("exp"), exp=now - 1)), "token expired")


def test_audience_and_issuer_when_configured(strict_stack, keys):
    st = strict_stack
    refused(st, signed(keys, "rsa", "RS256", claims_for(unique("aud"), aud=None)), "token not for this audience (aud)")
    refused(st, signed(keys, "rsa", "RS256", claims_for(unique("aud"), aud="other")),
            "token not for this audience (aud)")
    refused(st, signed(keys, "ec", "ES256", claims_for(unique("aud"), aud=["web", "api"])),
            "token not for this audience (aud)")
    accepted(st, signed(keys, "ec", "ES256", claims_for(unique("aud"), aud=["web", AUDIENCE])))
    refused(st, hs256(st.jwt_secret, claims_for(unique("iss"), iss=None)), "token from another issuer (iss)")
    refused(st, hs256(st.jwt_secret, claims_for(unique("iss"), iss=ISSUER + "/")), "token from another issuer (iss)")


def test_leeway_and_unconfigured_aud_iss(rotation_stack, keys):
    st = rotation_stack
    now = int(time.time())
    # leeway 30 s on exp, nbf and iat alike
    accepted(st, signed(keys, "old", "RS256", claims_for(unique("lee"), exp=now - 10, aud=None, iss=None)))
    accepted(st, signed(keys, "old", "RS256", claims_for(unique("lee"), nbf=now + 10, aud=None, iss=None)))
    accepted(st, signed(keys, "new", "ES256", claims_for(unique("lee"), iat=now + 10, aud=None, iss=None)))
    refused(st, signed(keys, "old", "RS256", claims_for(unique("lee"), exp=now - 60, aud=None, iss=None)),
            "token expired")
    refused(st, signed(keys, "old", "RS256", claims_for(unique("lee"), nbf=now + 120, aud=None, iss=None)),
            "token not yet valid (nbf)")
    refused(st, signed(keys, "new", "ES256", claims_for(unique("lee"), iat=now + 120, aud=None, iss=None)),
            "token issued in the future (iat)")
    # no audience or issuer configured: whatever the token says is ignored
    accepted(st, signed(keys, "old", "RS256", claims_for(unique("any"), aud="somebody-else", iss="anyone")))
    accepted(st, hs256(st.jwt_secret, claims_for(unique("any"), aud=None, iss=None)))


def test_rotation_on_sighup(rotation_stack, keys):
    st = rotation_stack
    plain = dict(aud=None, iss=None)
    # 1. old (RS256 old.pem) and new (ES256 new.pem) both valid
    accepted(st, signed(keys, "old", "RS256", claims_for(unique("rot"), **plain)))
    accepted(st, signed(keys, "old", "RS256", claims_for(unique("rot"), **plain), kid="old"))
    accepted(st, signed(keys, "new", "ES256", claims_for(unique("rot"), **plain), kid="new"))

    # A service watching presence and the outbox of a phone logged in with
    # an old-key token; two offline persistent sessions, one of an old-key
    # token, one of a new-key token.
    user = unique("live")
    watcher = paho.Client(client_id=unique("svc-rules-watch"), protocol=paho.MQTTv5)
    watcher.username_pw_set("svc:rules", st.service_secret)
    outbox, presence = queue.Queue(), queue.Queue()
    got_connack = queue.Queue()
    watcher.on_connect = lambda cl, u, flags, rc, props=None: got_connack.put(rc if isinstance(rc, int) else rc.value)
    watcher.on_message = lambda cl, u, m: (presence if m.topic == "svc/presence/mqtt" else outbox).put(m)
    watcher.connect("127.0.0.1", st.mqtt_port, keepalive=30)
    watcher.loop_start()
    phone = None
    try:
        assert got_connack.get(timeout=WAIT) == 0
        subacks = queue.Queue()
        watcher.on_subscribe = lambda cl, u, mid, codes, props=None: subacks.put(codes)
        for topic in (f"users/{user}/outbox", "svc/presence/mqtt"):
            watcher.subscribe(topic, 1)
            subacks.get(timeout=WAIT)
        phone = Phone(st, user, signed(keys, "old", "RS256", claims_for(user, **plain)))
        assert phone.rc == 0 and phone.subscribe_own() == 1
        away = {}
        for name, key, alg in (("away-old", "old", "RS256"), ("away-new", "new", "ES256")):
            uid = unique(name)
            away[name] = (uid, unique("dev"))
            p = Phone(st, uid, signed(keys, key, alg, claims_for(uid, **plain)), device=away[name][1],
                      persistent=True)
            assert p.rc == 0 and p.subscribe_own() == 1
            p.close()
        wait_until(lambda: sum(1 for x in list(presence.queue) if b'"online":false' in x.payload) >= 2, WAIT,
                   what="both away sessions offline")
        while not presence.empty():
            presence.get()

        # 2. the old key's file now holds another key ("next"); SIGHUP
        keys.publish("next", "old")
        log = Log(st)
        line = reload_broker(st)
        assert "reloaded (keys: HS256 jwt_secret, RS256 old, ES256 new;" in line, line

        # 3. old refused (with or without its kid), new accepted, next under kid "old" too
        refused(st, signed(keys, "old", "RS256", claims_for(unique("rot"), **plain)), "bad signature")
        refused(st, signed(keys, "old", "RS256", claims_for(unique("rot"), **plain), kid="old"), "bad signature")
        accepted(st, signed(keys, "new", "ES256", claims_for(unique("rot"), **plain)))
        accepted(st, signed(keys, "next", "RS256", claims_for(unique("rot"), **plain), kid="old"))

        # 4. the phone of before is still connected, and still a live login:
        #    its outbox publish goes through with the plugin's sender_id.
        assert phone.disconnects.empty(), "the SIGHUP dropped a connection"
        assert phone.c.is_connected()
        assert phone.subscribe_own() == 1
        info = phone.c.publish(f"users/{user}/outbox", json.dumps({"type": "ping"}), qos=1)
        info.wait_for_publish(WAIT)
        m = outbox.get(timeout=WAIT)
        assert dict(m.properties.UserProperty).get("sender_id") == user

        # 5. the offline sessions were neither made online nor "disconnected"
        #    by the reload, and are still there for their phones
        time.sleep(0.5)
        for uid, dev in away.values():
            changes = [x.payload for x in list(presence.queue) if uid.encode() in x.payload]
            assert changes == [], f"the reload changed the presence of an offline session: {changes}"
            assert f"Client {uid}:{dev} disconnected" not in log.new_text()
        uid, dev = away["away-old"]
        p = Phone(st, uid, signed(keys, "next", "RS256", claims_for(uid, **plain), kid="old"), device=dev,
                  persistent=True)
        assert p.rc == 0 and p.session_present == 1
        p.close()

        # 6. a key file that cannot be parsed on SIGHUP: the whole old set stays
        with open(keys.pub("new"), "w") as f:
            f.write("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n")
        line = reload_broker(st)
        assert "reload failed" in line, line
        log = open(os.path.join(st.dir, "mosquitto.log"), encoding="utf-8", errors="replace").read()
        assert f"JWT keys: {keys.pub('new')}: not a PEM public key" in log
        accepted(st, signed(keys, "new", "ES256", claims_for(unique("rot"), **plain)))
        accepted(st, signed(keys, "next", "RS256", claims_for(unique("rot"), **plain)))
        refused(st, signed(keys, "old", "RS256", claims_for(unique("rot"), **plain)), "bad signature")
        # a key file gone: the same
        os.unlink(keys.pub("new"))
        assert "reload failed" in reload_broker(st)
        accepted(st, signed(keys, "new", "ES256", claims_for(unique("rot"), **plain), kid="new"))
        assert phone.disconnects.empty() and phone.c.is_connected()
    finally:
        watcher.disconnect()
        watcher.loop_stop()
        if phone:
            phone.close()
        keys.publish("old", "old")   # as the fixture made them, for any later test
        keys.publish("new", "new")


# ------------------------------------------------ the same rules at the bridge

def ws_accepted(st, token):
    """A notification socket with token gets its connection.ack, and the
    calls history answers 200."""
    w = st.ws_notify(token=token, name="notify[strict]")
    try:
        ack = w.expect("connection.ack")
        assert ack["user_id"] == pyjwt.decode(token, options={"verify_signature": False}).get("sub", ack["user_id"])
    finally:
        w.close()
    res = st.http.calls(token)
    assert res.status == 200, res


def ws_refused(st, token):
    """The socket is closed 4401 and the HTTP API answers 401."""
    assert st.ws_notify(token=token, name="notify[refused]").expect_close() == 4401
    res = st.http.calls(token)
    assert res.status == 401, res


def test_bridge_takes_rs256_es256_and_hs256(strict_stack, keys):
    st = strict_stack
    ws_accepted(st, signed(keys, "rsa", "RS256", claims_for(unique("brs"))))
    ws_accepted(st, signed(keys, "ec", "ES256", claims_for(unique("bes")), kid="ec"))
    ws_accepted(st, hs256(st.jwt_secret, claims_for(unique("bhs"))))
    ws_refused(st, signed(keys, "stranger", "RS256", claims_for(unique("brs"))))
    ws_refused(st, signed(keys, "rsa", "RS256", claims_for(unique("bkid")), kid="rsa-2027"))
    ws_refused(st, signed(keys, "rsa", "RS256", claims_for(unique("bkid")), kid="ec"))


def test_bridge_refuses_a_simplejwt_refresh_token(strict_stack):
    st = strict_stack
    user = unique("bsjwt")
    refresh, access = simplejwt_tokens(st.jwt_secret, user)
    ws_refused(st, refresh)
    w = st.ws_notify(token=access, name="notify[access]")
    assert w.expect("connection.ack")["user_id"] == user
    w.close()
    assert st.http.calls(access).status == 200


def test_bridge_checks_nbf_iat_aud_iss(strict_stack, keys):
    st = strict_stack
    now = int(time.time())
    ws_refused(st, signed(keys, "rsa", "RS256", claims_for(unique("bnbf"), nbf=now + 120)))
    ws_refused(st, signed(keys, "rsa", "RS256", claims_for(unique("biat"), iat=now + 120)))
    ws_refused(st, signed(keys, "rsa", "RS256", claims_for(unique("baud"), aud="another-app")))
    ws_refused(st, signed(keys, "rsa", "RS256", claims_for(unique("baud"), aud=None)))
    ws_refused(st, signed(keys, "rsa", "RS256", claims_for(unique("biss"), iss="https://elsewhere")))
    ws_accepted(st, signed(keys, "rsa", "RS256", claims_for(unique("baud"), aud=["x", AUDIENCE])))
