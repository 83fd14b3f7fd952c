"""Issue 13, one config file for the three parts (bridge/common/config.h):
a stack (conftest.Stack(config=...)) whose bridge (--config), rules
(--config) and broker plugin (plugin_opt_config_file) read one file.

- SIGHUP to all three after the file changed: a lower max-sockets-per-user
  refuses the next socket (4429), a lower initiate-burst answers a caller's
  second call 429, a new ring-timeout-ms makes the next call
  go missed that much sooner, a lower outbox burst limits a phone that is
  already connected, and a rotated key (the key file rewritten) is the one
  tokens are checked with, by the bridge and by the broker; no WebSocket and
  no MQTT connection is dropped; the logs name each change (old → new) and
  a changed key that is not live as needing a restart (not applied);
- a broken file on SIGHUP is refused by each part with the line number in
  its log, and the old settings stay (shown by what the bridge and rules
  still do);
- flags win over the file (--max-frame given to the bridge, a smaller one
  in the file);
- --log-format json (from the file, a shared key): every line of the
  bridge's and rules' logs is one JSON object with ts, level and msg, and a
  socket's open and close lines carry its user_id and device_id;
- --check-config: exit 0 for a good file; 2 with file:line for a bad value,
  an unknown key, a key of the wrong place; a part skips another part's
  section; the broker refuses to start with a broken [plugin] section and
  says the line.
"""
import json
import os
import re
import secrets
import signal
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import BRIDGE, MOSQUITTO, RULES, _make_stack, rewrite_mosquitto_conf, BUILD_DIR
from ringmq_client import DEFAULT_WAIT, REPO, Closed, free_port, mint_token, unique, wait_until
from test_phone_limits import Phone, User

RELOAD_WAIT = 10.0   # seconds the three parts get to log a reload
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

GOOD = """\
# one file for bridge, rules and the broker plugin
log-format = json
jwt-leeway-s = 0

[bridge]
max-sockets-per-user = {sockets}
initiate-burst = {initiates}
request-timeout-ms = {timeout}
max-frame = 256
[rules]
ring-timeout-ms = {ring}
[plugin]
outbox-rate = {rate}
outbox-burst = {burst}
"""


def good(sockets=3, initiates=5, timeout=2000, ring=45000, rate=50, burst=100):
    return GOOD.format(sockets=sockets, initiates=initiates, timeout=timeout, ring=ring, rate=rate, burst=burst)


@pytest.fixture(scope="module")
def cfg_stack(request):
    return _make_stack(request, name="config stack", config=good(), bridge_args=["--max-frame", "8192"])


# ------------------------------------------------------------------ helpers

def log_text(proc):
    with open(proc.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def messages(proc, since=0):
    """The msg of each JSON line of proc's log from byte offset since."""
    out = []
    for line in log_text(proc)[since:].splitlines():
        try:
            out.append(json.loads(line)["msg"])
        except (ValueError, KeyError, TypeError):
            out.append(line)   # the broker's own lines are text
    return out


def reload(st, text, expect):
    """Writes the config file, sends SIGHUP to broker, rules and bridge and
    waits until each part's log (from before the signal) has a line
    matching each of its patterns: expect = {proc: [regex, ...]}."""
    offsets = {p: len(log_text(p)) for p in (st.broker, st.rules, st.bridge)}
    st.write_config(text)
    for p in (st.broker, st.rules, st.bridge):
        p.p.send_signal(signal.SIGHUP)

    def seen():
        for p, pats in expect.items():
            lines = messages(p, offsets[p])
            if not all(any(re.search(pat, m) for m in lines) for pat in pats):
                return False
        return True
    wait_until(seen, RELOAD_WAIT, what=f"the reload logged: {expect}")
    return offsets


def opened(w):
    w.ack = w.expect("connection.ack")
    return w


def alive(w):
    w.send_json({"type": "ping"})
    assert w.expect("pong")["type"] == "pong"


def refused_socket(st, user, token=None):
    """A new notification socket of user: its close code (None: it opened)."""
    w = st.ws_notify(user, token=token)
    try:
        w.expect("connection.ack")
        return None
    except Closed as c:
        return c.code
    except AssertionError:
        return w.closed.code if w.closed else None


def rings_out(st, caller, receiver, within):
    """A call from caller to receiver, not answered: seconds from the
    initiate until the receiver's call.end (reason missed)."""
    cid = st.conversation([caller, receiver])
    ws = opened(st.ws_notify(receiver))
    t0 = time.monotonic()
    res = st.http.initiate(st.token(caller), receiver, cid)
    assert res.status == 201, res
    ws.expect("call.incoming")
    end = ws.expect("call.end", timeout=within)
    assert end["reason"] == "missed", end
    ws.close()
    return time.monotonic() - t0


def rotate_key(st):
    """A new secret in the jwt_secret file both the bridge and the broker
    read; the stack mints with it from now on. Returns the old secret."""
    old, st.jwt_secret = st.jwt_secret, secrets.token_hex(32)
    path = os.path.join(st.dir, "jwt_secret")
    with open(path, "w") as f:   # keeps the file's owner and mode
        f.write(st.jwt_secret + "\n")
    return old


# ------------------------------------------------------------------ tests

def test_flags_win_over_the_file(cfg_stack):
    st = cfg_stack
    w = opened(st.ws_notify(unique("big")))
    w.send_json({"type": "ping", "pad": "x" * 1000})   # over the file's 256, under the flag's 8192
    frame = w.recv_json()
    assert frame["type"] in ("pong", "error"), frame
    alive(w)


def test_sighup_applies_live_settings_and_drops_nothing(cfg_stack):
    st = cfg_stack
    a = unique("cfg")
    mine = [opened(st.ws_notify(a)), opened(st.ws_notify(a))]
    phone = Phone(st, User(st, "cfgphone"))
    old_secret = rotate_key(st)
    reload(st, good(sockets=2, initiates=1, timeout=3000, ring=1500, rate=1, burst=1), {
        st.bridge: [r"^SIGHUP: max-sockets-per-user: 3 → 2$", r"^SIGHUP: initiate-burst: 5 → 1$",
                    r"^SIGHUP: request-timeout-ms: 2000 → 3000: needs a restart, not applied$",
                    r"reloaded: 2 change\(s\) applied, 1 need a restart"],
        st.rules: [r"^SIGHUP: ring-timeout-ms: 45000 → 1500$", r"reloaded: 1 change\(s\) applied, 0 need"],
        st.broker: [r"ringmq_auth: SIGHUP: outbox-rate: 50 → 1$", r"ringmq_auth: SIGHUP: outbox-burst: 100 → 1$",
                    r"ringmq_auth: reloaded", r"ringmq_auth: SIGHUP: 2 change\(s\) applied, 0 need a restart"],
    })
    # nothing dropped: both sockets (opened with the old key) and the phone
    for w in mine:
        alive(w)
    assert not phone.gone.is_set()
    # the lower limit: a's third socket is refused now
    assert refused_socket(st, a) == 4429
    # the rotated key: old tokens refused, new ones taken (bridge and broker)
    assert refused_socket(st, unique("old"), token=mint_token(old_secret, sub=unique("old"))) == 4401
    assert refused_socket(st, unique("new")) is None
    with pytest.raises(AssertionError, match="login refused"):
        u = User(st, "oldphone")
        Phone(st, u, token=mint_token(old_secret, sub=u.id))
    fresh_phone = Phone(st, User(st, "newphone"))
    # the phone connected before the reload is held to the new burst of 1
    for _ in range(3):
        phone.publish({"type": "ping", "device_id": phone.device})
    err = phone.expect("error", timeout=DEFAULT_WAIT, skip=("pong",))
    assert err["code"] == "rate_limited" and err["device_id"] == phone.device, err
    assert not phone.gone.is_set()
    # the new ring time-out: a call goes missed within seconds, not 45
    rings_out(st, unique("caller"), unique("callee"), within=DEFAULT_WAIT)
    # the new initiate burst: a caller's second call at once is 429 (5 passed before)
    caller, r1, r2 = unique("burst"), unique("r"), unique("r")
    assert st.http.initiate(st.token(caller), r1, st.conversation([caller, r1])).status == 201
    res = st.http.initiate(st.token(caller), r2, st.conversation([caller, r2]))
    assert res.status == 429 and res.body["error"] == "rate_limited", res
    for w in mine:
        alive(w)
    phone.close()
    fresh_phone.close()


def test_broken_file_on_sighup_is_refused_and_the_old_settings_stay(cfg_stack):
    st = cfg_stack
    reload(st, good(sockets=2, ring=1500, rate=50, burst=100), {
        st.bridge: [r"reloaded"], st.rules: [r"reloaded"], st.broker: [r"ringmq_auth: reloaded"]})
    lines = good(sockets=1, ring=45000).splitlines()
    lines.insert(2, "this line has no equals sign")   # line 3
    reload(st, "\n".join(lines) + "\n", {
        st.bridge: [r"^SIGHUP: .*ringmq\.conf:3: expected \"key = value\".*refused, the old settings stay$"],
        st.rules: [r"^SIGHUP: .*ringmq\.conf:3: expected \"key = value\".*refused, the old settings stay$"],
        st.broker: [r"ringmq_auth: .*ringmq\.conf:3: expected \"key = value\"", r"ringmq_auth: reload failed"],
    })
    # the bridge still allows 2 sockets a user (the broken file said 1)
    b = unique("keep")
    kept = [opened(st.ws_notify(b)), opened(st.ws_notify(b))]
    assert refused_socket(st, b) == 4429
    # rules still rings for 1.5 s (the broken file said 45 s)
    rings_out(st, unique("caller"), unique("callee"), within=DEFAULT_WAIT)
    for w in kept:
        alive(w)


def test_json_logs(cfg_stack):
    st = cfg_stack
    u = unique("jsonlog")
    w = opened(st.ws_notify(u))
    device = w.ack["device_id"]
    w.close()

    def closed_logged():
        return any(re.search(rf"^socket {device} closed", m) for m in messages(st.bridge))
    wait_until(closed_logged, DEFAULT_WAIT, what="the socket's close logged")
    for proc in (st.bridge, st.rules):
        lines = log_text(proc).splitlines()
        assert lines, proc.name
        for line in lines:
            obj = json.loads(line)   # every line is one JSON object
            assert isinstance(obj, dict), line
            assert TS.match(obj["ts"]), line
            assert obj["level"] in ("error", "warn", "info", "debug"), line
            assert isinstance(obj["msg"], str) and obj["msg"], line
    events = [json.loads(line) for line in log_text(st.bridge).splitlines()]
    mine = [e for e in events if e.get("device_id") == device]
    assert [e["msg"].split(":")[0] for e in mine] == [f"socket {device} open", f"socket {device} closed"], mine
    assert all(e["user_id"] == u for e in mine), mine

    # A call's lines in rules' log carry its call_id (and who).
    a, b = unique("jsonA"), unique("jsonB")
    conv = st.conversation([a, b])
    res = st.http.initiate(st.token(a), b, conv)
    assert res.status == 201, res
    call_id = res.body["call_id"]
    wn = opened(st.ws_notify(a))
    wn.send_json({"type": "call.end", "call_id": call_id})
    wn.expect("call.end")

    def call_lines():
        return [json.loads(line) for line in log_text(st.rules).splitlines()
                if json.loads(line).get("call_id") == call_id]
    wait_until(lambda: len(call_lines()) >= 2, DEFAULT_WAIT, what="the call's ringing and end logged with call_id")
    lines = call_lines()
    assert "ringing" in lines[0]["msg"] and lines[0]["user_id"] == a, lines
    assert any("ended cancelled" in e["msg"] and e.get("user_id") == a for e in lines), lines


# ------------------------------------------------------------------ --check-config

def check(binary, path):
    env = dict(os.environ)
    env.pop("RINGMQ_JWT_SECRET", None)
    return subprocess.run([binary, "--config", str(path), "--check-config"], capture_output=True, text=True,
                          timeout=10, env=env)


def test_check_config(tmp_path):
    key = tmp_path / "jwt_secret"
    key.write_text(secrets.token_hex(32) + "\n")
    base = f"jwt-secret-file = {key}\nlog-level = info\n[bridge]\nmax-frame = 4096\n[rules]\nmax-call-ms = 0\n"
    path = tmp_path / "ringmq.conf"
    path.write_text(base)
    for binary, name in ((BRIDGE, "ringmq-bridge"), (RULES, "ringmq-rules")):
        r = check(binary, path)
        assert r.returncode == 0 and r.stdout.strip() == f"{name}: {path}: ok", r

    cases = [   # (text, bridge's rc, rules' rc, the message both or the failing one give)
        (base + "ring-timeout-ms = 0\n", 0, 2, f"{path}:7: ring-timeout-ms takes a whole number from 1 to"),
        (base.replace("max-frame = 4096", "max-frame = 12"), 2, 0, f"{path}:4: max-frame takes a whole number"),
        (base.replace("[bridge]", "[bridge]\nno-such-key = 1"), 2, 0, f"{path}:4: unknown key no-such-key in [bridge]"),
        ("max-frame = 4096\n" + base, 2, 2, f"{path}:1: max-frame is not a shared key"),
        (base + "[turn]\n", 2, 2, f"{path}:7: unknown section [turn]"),
        (base.replace("log-level = info", "log-level = loud"), 2, 2, f"{path}:2: log-level takes error, warn"),
        (base.replace("[bridge]", "[bridge]\nmax-frame = 2048"), 2, 0, f"{path}:5: max-frame given twice"),
    ]
    for text, rc_bridge, rc_rules, msg in cases:
        path.write_text(text)
        for binary, want in ((BRIDGE, rc_bridge), (RULES, rc_rules)):
            r = check(binary, path)
            assert r.returncode == want, (text, binary, r)
            if want:
                assert msg in r.stderr, (text, binary, r.stderr)
    # a key file that does not read: the bridge's check reads it too
    path.write_text(base.replace(str(key), str(tmp_path / "missing")))
    r = check(BRIDGE, path)
    assert r.returncode == 2 and "missing" in r.stderr, r


@pytest.fixture
def broker_dir():
    """A temp dir the broker's own user reaches (it drops root)."""
    d = tempfile.mkdtemp(prefix="ringmq-cfg-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_the_broker_refuses_a_broken_plugin_section(broker_dir):
    from pathlib import Path
    tmp_path = Path(broker_dir)
    conf_file = tmp_path / "ringmq.conf"
    conf_file.write_text("log-format = json\n[plugin]\nouttbox-rate = 5\n")
    os.chmod(conf_file, 0o644)
    for f in ("jwt_secret", "service_secret"):
        p = tmp_path / f
        p.write_text(secrets.token_hex(16) + "\n")
        os.chmod(p, 0o644)
    with open(os.path.join(REPO, "mosquitto.conf")) as f:
        text = f.read() + f"plugin_opt_config_file {conf_file}\n"
    conf = rewrite_mosquitto_conf(text, free_port(), str(tmp_path), BUILD_DIR)
    conf = re.sub(r"^persistence true$", "persistence false", conf, flags=re.M)
    (tmp_path / "mosquitto.conf").write_text(conf)
    r = subprocess.run([MOSQUITTO, "-c", str(tmp_path / "mosquitto.conf")], capture_output=True, text=True,
                       timeout=20, cwd=tmp_path)
    assert r.returncode != 0, r
    assert f"{conf_file}:3: unknown key outtbox-rate in [plugin]" in r.stdout + r.stderr, r
