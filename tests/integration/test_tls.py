"""Issue 13, TLS: the services' broker links over TLS, and nginx terminating
TLS in front of the bridge.

A test CA and its certificates are made with openssl in a temp dir (the
server's with subjectAltName IP:127.0.0.1 and DNS:localhost). The real
mosquitto gets three TLS listeners besides the repo's plain one (through
Stack's broker_conf_extra): one plain TLS, one that requires a client
certificate of the CA, one whose certificate names another host. Bridge
and rules of the module's stack connect to the first with --mqtt-tls and
the test CA (their later --mqtt-port wins over the Stack's own), and:

- a whole call (the seed's second scenario) runs over those links, and
  bursts of small chat frames go bridge -> broker -> rules -> broker ->
  bridge without one going missing (what TLS holds decrypted must be read
  without waiting for a readable event that would never come);
- bridges with a CA that did not sign the broker's certificate, or against
  the listener whose certificate names another host, keep /healthz at 503
  and log why; a bridge with a client certificate gets through the
  listener that requires one, and one without does not;
- a phone (paho) on the TLS listener answers a web call; both links come
  back after a broker restart;
- bad settings stop both programs at start (exit 2), naming the flag.

Then Debian's nginx, run in the foreground from a temp dir with the server
block of README.md ("TLS") as it stands there (only the listen address,
certificate paths and the bridge's port replaced), terminates TLS for the
bridge: the seed's three scenarios of test_core.py run through it over
https:// and wss://, with an SSL context trusting the test CA alone."""
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import websocket

import test_core
from conftest import BRIDGE, RULES, Proc, _make_stack
from phone import Phone
from ringmq_client import REPO, Ws, free_port, port_open, stop_process, unique, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
START_WAIT = 15.0        # seconds a part may take to come up
FAIL_WAIT = 10.0         # seconds within which a failing link must have said why (a few back-off steps)
SMALL_BATCH = 200        # chat frames per burst of the no-stall test ...
SMALL_BATCHES = 15       # ... and bursts


# ------------------------------------------------------------------ the PKI

def _openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def _ca(d, name):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=ringmq test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)


def _leaf(d, name, ca, san, usage):
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n" + (f"subjectAltName={san}\n" if san else ""))
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def pki():
    """ca (signs everything below), other_ca (signs nothing we use), the
    server's certificate (127.0.0.1, localhost), one naming another host,
    a client certificate. Readable by mosquitto's user (test keys)."""
    d = tempfile.mkdtemp(prefix="ringmq-tls-")
    os.chmod(d, 0o755)
    _ca(d, "ca")
    _ca(d, "other_ca")
    _leaf(d, "server", "ca", "IP:127.0.0.1,DNS:localhost", "serverAuth")
    _leaf(d, "elsewhere", "ca", "DNS:elsewhere.invalid", "serverAuth")
    _leaf(d, "client", "ca", None, "clientAuth")
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    yield {name: os.path.join(d, name) for name in os.listdir(d)} | {"dir": d}
    shutil.rmtree(d, ignore_errors=True)


def _listener(port, pki, cert, extra=()):
    return [f"listener {port} 127.0.0.1", f"certfile {pki[cert + '.pem']}", f"keyfile {pki[cert + '.key']}",
            *extra]


def link_args(port, cafile, *more):
    return ["--mqtt-port", str(port), "--mqtt-tls", "--mqtt-cafile", cafile, *more]


@pytest.fixture(scope="module")
def tls(request, pki):
    """The stack whose bridge and rules use the TLS listener; .ports names
    the three TLS listeners."""
    ports = {"tls": free_port(), "client_cert": free_port(), "elsewhere": free_port()}
    conf = (_listener(ports["tls"], pki, "server")
            + _listener(ports["client_cert"], pki, "server",
                        [f"cafile {pki['ca.pem']}", "require_certificate true"])
            + _listener(ports["elsewhere"], pki, "elsewhere"))
    link = link_args(ports["tls"], pki["ca.pem"])
    st = _make_stack(request, name="tls stack", broker_conf_extra=conf, rules_args=link,
                     bridge_args=link + ["--rate", "100000", "--burst", "100000"])
    st.ports = ports
    wait_until(lambda: all(port_open("127.0.0.1", p) for p in ports.values()), START_WAIT,
               what="the broker's TLS listeners")
    return st


def _log(proc):
    with open(proc.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def _healthz(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


# ------------------------------------------------------------ broker links

def test_bridge_and_rules_run_a_whole_call_over_tls(tls):
    """Both links are up on the TLS listener (their logs say so), and the
    seed's second scenario runs end to end."""
    for proc in (tls.bridge, tls.rules):
        text = _log(proc)
        assert "over TLS" in text, f"{proc.name} does not say it links over TLS"
        assert f"broker 127.0.0.1:{tls.ports['tls']} connected" in text, f"{proc.name} not connected to the TLS port"
    test_core.test_seed_2_both_on_notification_sockets_only(tls)


def test_many_small_frames_over_tls_none_stalls(tls):
    """SMALL_BATCHES bursts of SMALL_BATCH chat frames sent back to back
    reach the other member's chat socket, every one, in order, each burst
    before the next is sent: a frame crosses four TLS reads (rules' and the
    bridge's), and one left in TLS's buffer at the end of a burst, with no
    readable event to come, would stay missing. (A burst stays well within
    the broker's queue for a session, max_queued_messages: beyond that
    mosquitto drops frames by design, with or without TLS.)"""
    (a, b), conv = test_core.parties(tls)
    a_c, b_c = tls.connect_chat(conv, a.id), tls.connect_chat(conv, b.id)
    for burst in range(SMALL_BATCHES):
        sent = [f"{burst}.{i}" for i in range(SMALL_BATCH)]
        for text in sent:
            a_c.send_json({"type": "chat.message", "text": text})
        got = []
        while len(got) < len(sent):
            try:
                got.append(b_c.expect("chat.message", timeout=10)["text"])
            except AssertionError:
                raise AssertionError(f"burst {burst}: {len(got)} of {len(sent)} frames arrived, the last "
                                     f"{got[-3:]}") from None
        assert got == sent


def test_a_phone_on_the_tls_listener_answers_a_web_call(tls, pki):
    """The broker's TLS listener serves phones too (same plugin, same
    rules): a phone there rings, answers, and the web caller gets the
    answer."""
    (a, b), conv = test_core.parties(tls)
    a_n = tls.connect_notify(a.id)
    phone = Phone(tls, b, port=tls.ports["tls"], cafile=pki["ca.pem"])
    try:
        call = test_core.initiate(tls, a, b, conv)
        test_core.check_incoming(phone.expect("call.incoming"), call, a, conv)
        phone.publish({"type": "call.answer", "call_id": call["call_id"], "answer": test_core.ANSWER_SDP,
                       "device_id": phone.device})
        test_core.check_answer(a_n.expect("call.answer", skip=("call.accepted",)), call["call_id"], b, phone.device)
        test_core.assert_status(tls, a, call["call_id"], "accepted")
    finally:
        phone.close()


def _failing_bridge(tls, link):
    """A bridge on tls's broker with link alone for its broker link (not
    the stack's own arguments), not waited for; its port and process."""
    port = free_port()
    return port, tls._spawn(f"ringmq-bridge-{port}", tls._bridge_argv(port) + link)


def _lines_with(proc, text):
    return [line for line in _log(proc).splitlines() if text in line]


def _says(proc, text, times=1):
    """Waits until proc's log holds text on `times` lines; those lines."""
    wait_until(lambda: len(_lines_with(proc, text)) >= times or not proc.alive(), FAIL_WAIT,
               what=f"{proc.name} to log {text!r} {times} times")
    assert proc.alive(), f"{proc.name} exited:\n{proc.tail()}"
    return _lines_with(proc, text)


def _stop(tls, proc):
    """Stops a bridge of the test's own; its log must hold no sanitizer
    report (the stack's teardown no longer sees it)."""
    proc.stop()
    tls.procs.remove(proc)
    reports = [line for line in _log(proc).splitlines() if any(m in line for m in tls.SANITIZER_MARKS)]
    assert not reports, "\n".join(reports[:40])


@pytest.mark.parametrize("port_key,cafile,reason", [
    ("tls", "other_ca.pem", "certificate verify failed (unable to get local issuer certificate)"),
    ("tls", None, "certificate verify failed (unable to get local issuer certificate)"),
    ("elsewhere", "ca.pem", "host name verification failed"),
], ids=["unknown_ca", "system_store", "another_host_name"])
def test_a_failed_handshake_keeps_healthz_503_and_says_why(tls, pki, port_key, cafile, reason):
    """Each attempt fails, is logged with the reason and retried with the
    back-off; /healthz stays 503 all along, nothing ever connects. Without
    --mqtt-cafile the system store is what the broker's certificate must
    chain to (the test CA is not in it)."""
    link = link_args(tls.ports[port_key], pki[cafile]) if cafile else \
        ["--mqtt-port", str(tls.ports[port_key]), "--mqtt-tls"]
    port, proc = _failing_bridge(tls, link)
    try:
        lines = _says(proc, reason, times=2)
        for line in lines:
            assert f"broker 127.0.0.1:{tls.ports[port_key]} connect failed (TLS: " in line, line
            assert "retrying in" in line, line
        assert _healthz(port) == 503
        assert not re.search(r"broker \S+ connected", _log(proc))
    finally:
        _stop(tls, proc)


def test_client_certificate_required_by_the_broker(tls, pki):
    """The listener that requires a certificate of the CA: a bridge that
    gives one comes up (200), one that gives none stays 503."""
    cert = ["--mqtt-certfile", pki["client.pem"], "--mqtt-keyfile", pki["client.key"]]
    port = tls.add_bridge(link_args(tls.ports["client_cert"], pki["ca.pem"], *cert))
    assert _healthz(port) == 200
    assert f"broker 127.0.0.1:{tls.ports['client_cert']} connected" in _log(tls.procs[-1])
    _stop(tls, tls.procs[-1])
    port, proc = _failing_bridge(tls, link_args(tls.ports["client_cert"], pki["ca.pem"]))
    try:
        # Mostly "(TLS: ...tlsv13 alert certificate required)"; when the
        # broker's reset comes before its alert is read, only "Protocol error".
        for line in _says(proc, "retrying in", times=2):
            assert "connect failed" in line, line
        assert _healthz(port) == 503
        assert not re.search(r"broker \S+ connected", _log(proc))
    finally:
        _stop(tls, proc)


def test_both_links_come_back_after_a_broker_restart(tls):
    """A new handshake each: /healthz goes 503 while the broker is away,
    200 once both links are back on the TLS port, and a call runs."""
    assert tls.stop_broker() == 0
    wait_until(lambda: _healthz(tls.http_port) == 503, START_WAIT, what="/healthz 503 while the broker is away")
    tls.start_broker()
    wait_until(lambda: _healthz(tls.http_port) == 200, START_WAIT, what="/healthz 200 with the broker back")
    for proc in (tls.bridge, tls.rules):
        assert len(_lines_with(proc, f"broker 127.0.0.1:{tls.ports['tls']} connected")) >= 2, proc.tail()
    test_core.test_seed_1_caller_on_chat_receiver_on_notifications_only(tls)


@pytest.mark.parametrize("prog", [BRIDGE, RULES], ids=["bridge", "rules"])
@pytest.mark.parametrize("args,says", [
    (["--mqtt-cafile", "{ca.pem}"], "need --mqtt-tls"),
    (["--mqtt-tls", "--mqtt-certfile", "{client.pem}"], "give both or neither"),
    (["--mqtt-tls", "--mqtt-cafile", "{dir}/missing.pem"], "--mqtt-cafile {dir}/missing.pem: No such file"),
    (["--mqtt-tls", "--mqtt-cafile", "{client.ext}"], "--mqtt-cafile {client.ext}: no CA certificate read"),
    (["--mqtt-tls", "--mqtt-capath", "{dir}/missing"], "--mqtt-capath {dir}/missing: No such file"),
    (["--mqtt-tls", "--mqtt-certfile", "{client.pem}", "--mqtt-keyfile", "{server.key}"],
     "is not the key of --mqtt-certfile"),
])
def test_settings_that_cannot_work_stop_the_start(pki, prog, args, says):
    def fill(s):
        return re.sub(r"\{([^}]+)\}", lambda m: pki[m.group(1)], s)
    env = dict(os.environ, RINGMQ_JWT_SECRET="x" * 32)   # the bridge's one other must-have
    r = subprocess.run([prog, *map(fill, args)], capture_output=True, text=True, timeout=START_WAIT, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert fill(says) in r.stderr, r.stderr


# ------------------------------------------------------------------- nginx

README_MARK = "<!-- tests/integration/test_tls.py runs this block"
# What the test replaces in README's block: each must be there exactly once.
README_PLACES = ("listen 443 ssl;", "/etc/ringmq/tls/fullchain.pem", "/etc/ringmq/tls/privkey.pem",
                 "http://127.0.0.1:8080;")


def readme_nginx_block():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    assert README_MARK in text, "README.md lost its nginx block's mark"
    m = re.search(r"```nginx\n(.*?)```", text[text.index(README_MARK):], re.S)
    assert m, "no ```nginx block after the mark in README.md"
    return m.group(1)


def ping_interval_default():
    with open(os.path.join(REPO, "bridge", "edge", "edge.h")) as f:
        return int(re.search(r"#define EDGE_WS_PING_S (\d+)", f.read()).group(1))


def test_readme_block_reads_longer_than_the_bridge_pings():
    block = readme_nginx_block()
    for place in README_PLACES:
        assert block.count(place) == 1, f"README's nginx block: {place!r} should be there once"
    read = int(re.search(r"proxy_read_timeout (\d+)s;", block).group(1))
    assert read > ping_interval_default(), "proxy_read_timeout must stay above the bridge's ping interval"
    for line in ("proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;",
                 "proxy_set_header Connection $connection_upgrade;"):
        assert line in block


class Nginx:
    """nginx in the foreground with its own prefix, config, logs and pid
    file in d, stopped by PID."""

    def __init__(self, d, server_block):
        self.dir = d
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chmod(os.path.join(d, sub), 0o777)   # the workers run as nobody when we are root
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(f"""worker_processes 1;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{server_block}
}}
""")
        argv = [NGINX, "-p", d, "-c", self.conf, "-e", f"{d}/error.log", "-g", f"daemon off; pid {d}/nginx.pid;"]
        self.proc = Proc("nginx", argv, os.path.join(d, "nginx.out"))

    def tail(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return "(no error.log)"

    def stop(self):
        return stop_process(self.proc.p, 5)


@pytest.fixture(scope="module")
def front(tls, pki):
    """tls seen through nginx (README's block) at https://localhost:<port>,
    with an SSL context that trusts the test CA alone."""
    if not os.access(NGINX, os.X_OK):
        pytest.fail("nginx is not installed (scripts/deps.sh TEST_PKGS: apt-get install nginx)")
    port = free_port()
    block = readme_nginx_block()
    for old, new in zip(README_PLACES, (f"listen 127.0.0.1:{port} ssl;", pki["server.pem"], pki["server.key"],
                                        f"http://127.0.0.1:{tls.http_port};")):
        block = block.replace(old, new)
    d = tempfile.mkdtemp(prefix="ringmq-nginx-")
    os.chmod(d, 0o755)
    nginx = Nginx(d, block)
    try:
        deadline = time.monotonic() + START_WAIT
        while not port_open("127.0.0.1", port):
            assert nginx.proc.alive(), f"nginx exited ({nginx.proc.p.returncode}):\n{nginx.tail()}"
            assert time.monotonic() < deadline, f"nginx not listening after {START_WAIT}s:\n{nginx.tail()}"
            time.sleep(0.05)
        ctx = ssl.create_default_context(cafile=pki["ca.pem"])
        view = tls.via(f"https://localhost:{port}", ctx)
        view.nginx = nginx
        yield view
    except BaseException:
        print(nginx.tail())
        raise
    finally:
        nginx.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("scenario", [
    test_core.test_seed_1_caller_on_chat_receiver_on_notifications_only,
    test_core.test_seed_2_both_on_notification_sockets_only,
    test_core.test_seed_3_both_on_chat_sockets,
], ids=["seed_1", "seed_2", "seed_3"])
def test_seed_scenarios_through_nginx(front, scenario):
    """Each scenario's sockets and HTTP calls went through nginx: its
    access log has the initiate (201) and, once the sockets are closed
    (nginx logs a request when it ends), their upgrades (101)."""
    log = os.path.join(front.nginx.dir, "access.log")
    before = os.path.getsize(log)
    scenario(front)
    for ws in front._sockets:
        ws.close()

    def new_lines():
        with open(log) as f:
            f.seek(before)
            return f.read().splitlines()
    wait_until(lambda: any('GET /ws/notifications/' in line and '" 101 ' in line for line in new_lines()),
               START_WAIT, what="nginx to log the sockets' upgrades (101)")
    assert any('POST /calls/initiate/ HTTP/1.1" 201 ' in line for line in new_lines()), new_lines()


def test_nginx_passes_the_page_origin_and_refuses_others(front):
    """A page served through nginx opens its socket without --allow-origin
    (Host keeps the port); another origin gets 403 at the upgrade."""
    user = unique("o")
    ws = Ws(f"{front.ws_base}/ws/notifications/?token={front.token(user)}", name="same-origin",
            origin=front.base_url, ssl_context=front.ws_opts["ssl_context"])
    try:
        assert ws.expect("connection.ack")["user_id"] == user
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        Ws(f"{front.ws_base}/ws/notifications/?token={front.token(user)}", name="other-origin",
           origin="https://app.example.com", ssl_context=front.ws_opts["ssl_context"])
    assert e.value.status_code == 403


def test_nginx_refuses_a_client_that_does_not_trust_its_certificate(front):
    """The front's certificate is the test CA's: a client with only the
    system store refuses it (the test is not trusting any certificate)."""
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(front.base_url + "/healthz", timeout=5, context=ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in str(e.value)
    assert front.http.request("GET", "/healthz").status == 200
