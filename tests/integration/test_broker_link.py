"""The broker link (issue 10): its back-off, and a connect that never blocks.

The real ringmq-bridge and ringmq-rules, debug logs, against:

- a closed loopback port (nothing listens, no broker at all): every attempt
  is refused at once. Each failure is logged with the delay picked for it
  ("retrying in N ms"); the k-th delay must be 100 ms doubling to 5 s,
  +-25 %, and the time actually waited until the next attempt must be that
  same delay.
- a broker that goes away (the fresh_stack fixture): that failure is seen
  on the socket, in the loop's descriptor callbacks, not in the attempt;
  the retry must still come after the delay logged for it.
- a loopback port that drops SYNs (no broker): a listener with backlog 0
  that never accepts, whose accept queue a few connects have filled; Linux
  then drops every further SYN without an answer, as a firewalled broker
  host does. The bridge must keep answering HTTP (/healthz, a static file)
  while it connects, and both must give an attempt up after their connect
  time-out and try again.

Times come from the services' own log stamps (millisecond precision).
"""
import datetime
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import BRIDGE, RULES, Proc
from ringmq_client import free_port, port_open, wait_until

RETRY_MIN_MS = 100       # the intended back-off: 100 ms doubling ...
RETRY_MAX_MS = 5000      # ... to 5 s ...
RETRY_JITTER = 0.25      # ... +- 25 % (README: broker restart)
BACKOFF_WATCH_S = 10.5   # how long the logs against a closed port are read
MIN_FAILURES = 7         # failures 10 s must hold: the 7th delay is the first at the cap
WAIT_EARLY_MS = 3        # waited less than logged: millisecond stamps and deadlines
WAIT_LATE_MS = 50        # waited more than logged: timer slack on a busy machine
LOST_WATCH_S = 1.0       # logs read this long after the broker stopped (first retry <= 125 ms)

QUEUE_FILLERS = 3        # connects that fill the accept queue of the SYN-dropping listener
PROBE_S = 1.5            # a blocking connect to it must still be hanging after this
HTTP_WATCH_S = 11.0      # HTTP is checked this long: the first attempt's time-out and the next one
HTTP_EVERY_S = 0.5
HTTP_WAIT_S = 1.0        # the most an answer may take while the bridge connects
GIVE_UP_S = 8.0          # an attempt without CONNACK given up (MQTT_CONNECT_TIMEOUT_MS 5 s + 1 s tick + slack)
START_WAIT = 10.0
STATIC_FILE = "probe.html"

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \S+ \w+ (.*)$")
RETRY = re.compile(r"retrying in (\d+) ms")
ATTEMPT = re.compile(r"connecting to broker ")


class Parts:
    """ringmq-bridge and ringmq-rules, debug logs, pointed at mqtt_port, with
    the secret files the bridge needs (as the Stack fixture makes them)."""

    def __init__(self, mqtt_port):
        for path in (BRIDGE, RULES):
            if not os.access(path, os.X_OK):
                pytest.fail(f"{path} is not built (set RINGMQ_BUILD_DIR or build first)")
        self.dir = tempfile.mkdtemp(prefix="ringmq-link-")
        for fname in ("jwt_secret", "api_key", "service_secret"):
            path = os.path.join(self.dir, fname)
            with open(path, "w") as f:
                f.write(os.urandom(24).hex() + "\n")
            os.chmod(path, 0o600)
        self.http_port = free_port()
        web = os.path.join(self.dir, "web")   # a static file of our own for --web-root
        os.mkdir(web)
        with open(os.path.join(web, STATIC_FILE), "w") as f:
            f.write("served without the broker\n")
        secret = os.path.join(self.dir, "service_secret")
        self.rules = Proc("ringmq-rules", [
            RULES, "--mqtt-host", "127.0.0.1", "--mqtt-port", str(mqtt_port), "--service-secret-file", secret,
            "--db", os.path.join(self.dir, "ringmq.db"), "--log-level", "debug"],
            os.path.join(self.dir, "ringmq-rules.log"), cwd=self.dir)
        self.bridge = Proc("ringmq-bridge", [
            BRIDGE, "--listen", "127.0.0.1", "--port", str(self.http_port),
            "--mqtt-host", "127.0.0.1", "--mqtt-port", str(mqtt_port),
            "--jwt-secret-file", os.path.join(self.dir, "jwt_secret"),
            "--api-key-file", os.path.join(self.dir, "api_key"),
            "--service-secret-file", secret, "--web-root", web, "--log-level", "debug"],
            os.path.join(self.dir, "ringmq-bridge.log"), cwd=self.dir)
        self.procs = (self.rules, self.bridge)

    def stop(self, keep):
        for p in self.procs:
            p.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self):
        return "\n".join(f"----- {p.name} ({self.dir}) -----\n{p.tail()}" for p in self.procs)


@pytest.fixture
def parts(request):
    """Starts Parts(mqtt_port); stops them after the test (logs kept when it failed)."""
    started = []

    def start(mqtt_port):
        p = Parts(mqtt_port)
        started.append(p)
        return p

    yield start
    failed = getattr(request.session, "_ringmq_failed", False) or os.environ.get("RINGMQ_KEEP_LOGS")
    for p in started:
        p.stop(keep=failed)


def events(proc):
    """(seconds, message) of every stamped line of proc's log."""
    out = []
    with open(proc.log_path, "rb") as f:
        for line in f.read().decode("utf-8", "replace").splitlines():
            m = STAMP.match(line)
            if m:
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
                out.append((t.replace(tzinfo=datetime.timezone.utc).timestamp(), m.group(2)))
    return out


def backoff_problems(proc):
    """What is wrong with proc's back-off: the logged delays against 100 ms
    doubling to 5 s (+-25 %), and the time waited after each failure (until
    the next one: an attempt on a closed port fails at once) against the
    delay logged for it."""
    ev = events(proc)
    failures = [(t, int(m.group(1))) for t, msg in ev if (m := RETRY.search(msg))]
    attempts = [t for t, msg in ev if ATTEMPT.search(msg)]
    problems = []
    if len(failures) < MIN_FAILURES:
        problems.append(f"{len(failures)} failures logged in {BACKOFF_WATCH_S} s, want at least {MIN_FAILURES}")
    for k, (t, logged) in enumerate(failures):
        step = min(RETRY_MIN_MS * 2 ** k, RETRY_MAX_MS)
        lo, hi = int(step * (1 - RETRY_JITTER)), int(step * (1 + RETRY_JITTER) + 0.999)
        if not lo <= logged <= hi:
            problems.append(f"failure {k}: logged delay {logged} ms, want {lo}..{hi} (step {step} ms)")
        if k + 1 < len(failures):
            waited = round((failures[k + 1][0] - t) * 1000)
            if not logged - WAIT_EARLY_MS <= waited <= logged + WAIT_LATE_MS:
                problems.append(f"failure {k}: logged {logged} ms but the next attempt came {waited} ms later")
    if len(attempts) < len(failures):
        problems.append(f"{len(failures)} failures but {len(attempts)} attempts logged ('connecting to broker')")
    return [f"{proc.name}: {p}" for p in problems]


def test_backoff_against_a_closed_port(parts):
    port = free_port()   # nothing listens there: every attempt is refused
    p = parts(port)
    time.sleep(BACKOFF_WATCH_S)
    for proc in p.procs:
        assert proc.alive(), f"{proc.name} exited\n{p.logs()}"
    problems = backoff_problems(p.bridge) + backoff_problems(p.rules)
    assert not problems, "\n".join(problems) + "\n" + p.logs()


def test_retry_after_a_lost_connection_waits_the_logged_delay(fresh_stack):
    """The failures after a broker stops are seen on the socket, in the
    loop's descriptor callbacks (the lost connection, then refusals), not in
    a timer: the retry must come after the logged delay all the same."""
    st = fresh_stack
    st.stop_broker()
    time.sleep(LOST_WATCH_S)
    problems = []
    for proc in (st.bridge, st.rules):
        ev = events(proc)
        lost = [i for i, (t, msg) in enumerate(ev) if "connection lost" in msg and RETRY.search(msg)]
        if not lost:
            problems.append(f"{proc.name}: no 'connection lost ...; retrying in N ms' line")
            continue
        t, msg = ev[lost[0]]
        logged = int(RETRY.search(msg).group(1))
        nxt = [u for u, m in ev[lost[0] + 1:] if ATTEMPT.search(m)]
        waited = round((nxt[0] - t) * 1000) if nxt else None
        if waited is None or not logged - WAIT_EARLY_MS <= waited <= logged + WAIT_LATE_MS:
            problems.append(f"{proc.name}: connection lost, logged {logged} ms, next attempt after {waited} ms")
    assert not problems, "\n".join(problems)


@pytest.fixture
def syn_dropping_port():
    """A loopback port whose SYNs go unanswered: a listener (backlog 0) that
    never accepts, its accept queue filled first. Checked: a blocking
    connect to it hangs."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(QUEUE_FILLERS):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    probe = socket.socket()
    probe.settimeout(PROBE_S)
    try:
        probe.connect(("127.0.0.1", port))
        hung = False
    except socket.timeout:
        hung = True
    finally:
        probe.close()
    try:
        if not hung:
            pytest.fail("the kernel answered a SYN to a full accept queue: no SYN-dropping port to test against")
        yield port
    finally:
        for c in fillers:
            c.close()
        ls.close()


def timed_get(base, path):
    """(status or error, seconds) of GET path, waiting at most HTTP_WAIT_S."""
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(base + path, timeout=HTTP_WAIT_S) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError as e:
        status = repr(e)
    return status, time.monotonic() - t0


def test_http_answers_while_the_broker_drops_syns(parts, syn_dropping_port):
    p = parts(syn_dropping_port)
    wait_until(lambda: port_open("127.0.0.1", p.http_port), START_WAIT, what="the bridge to listen")
    base = f"http://127.0.0.1:{p.http_port}"
    end = time.monotonic() + HTTP_WATCH_S
    n = 0
    while time.monotonic() < end:
        # /healthz says 503 without a broker: what matters is that it answers.
        for path, want in (("/healthz", (200, 503)), ("/" + STATIC_FILE, (200,))):
            status, took = timed_get(base, path)
            assert status in want and took < HTTP_WAIT_S, (
                f"GET {path} #{n}, {HTTP_WATCH_S - (end - time.monotonic()):.1f} s after start: {status} "
                f"in {took:.2f} s (want {want} within {HTTP_WAIT_S} s)\n{p.logs()}")
        n += 1
        time.sleep(HTTP_EVERY_S)

    # Both gave the first attempt up in bounded time and tried again.
    for proc in p.procs:
        assert proc.alive(), f"{proc.name} exited\n{p.logs()}"
        ev = events(proc)
        attempts = [t for t, msg in ev if ATTEMPT.search(msg)]
        gave_up = [t for t, msg in ev if "no CONNACK" in msg and RETRY.search(msg)]
        assert attempts and gave_up, f"{proc.name}: no attempt given up in {HTTP_WATCH_S} s\n{p.logs()}"
        assert gave_up[0] - attempts[0] <= GIVE_UP_S, (
            f"{proc.name}: the first attempt was given up after {gave_up[0] - attempts[0]:.1f} s\n{p.logs()}")
        assert any(t >= gave_up[0] for t in attempts[1:]), f"{proc.name}: no attempt after the time-out\n{p.logs()}"


def test_a_host_list_skips_a_broker_that_is_down(request):
    """--mqtt-host a,b (issue 16): the first broker of the list is down
    (a closed port), so both programs connect to the second; the stack's
    /healthz (bridge -> rules -> bridge over the broker) answers 200."""
    from conftest import _make_stack
    dead = free_port()
    # Stack puts its own --mqtt-host first; the later one wins.
    st = _make_stack(request, name="host-list stack",
                     rules_args=["--mqtt-host", f"127.0.0.1:{dead}, 127.0.0.1"],
                     bridge_args=["--mqtt-host", f"127.0.0.1:{dead},127.0.0.1"])
    for p in (st.rules, st.bridge):
        with open(p.log_path) as f:
            text = f.read()
        assert f"broker 127.0.0.1:{dead} connect failed" in text, p.tail()
        assert "retrying in" in text and f"at 127.0.0.1:{st.mqtt_port}" in text, p.tail()
        assert f"broker 127.0.0.1:{st.mqtt_port} connected" in text, p.tail()
