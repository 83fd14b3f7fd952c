"""Fixtures of the browser end-to-end tests.

Starts the real service on free loopback ports (mosquitto, ringmq-rules,
ringmq-bridge serving web/) and real Chromium instances driven by Debian's
python3-selenium + chromium-driver, each with its own fresh profile and a fake
camera and microphone. run.sh runs all this inside a network namespace that
has only loopback.

Binaries come from $RINGMQ_BUILD (default: build-web, else build) or one by
one from $RINGMQ_BRIDGE_BIN / $RINGMQ_RULES_BIN / $MOSQUITTO_BIN.
$RINGMQ_BROWSER_URL points the tests at a service already running on
loopback instead (its JWT secret in $RINGMQ_JWT_SECRET, API key in
$RINGMQ_API_KEY); the tests that need their own ring time-out then skip.
Every wait is bounded.
"""
import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS = os.path.join(REPO, "tests", "artifacts")
WEB_ROOT = os.path.join(REPO, "web")

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

START_WAIT = 15.0        # seconds for a process to come up
LONG_RING_MS = 60000     # ring time-out of the main stack: longer than any test waits
SHORT_RING_MS = 3000     # ring time-out of the stack of the missed-call test
DEMO_USERS = {"alice": "Alice", "bob": "Bob", "carol": "Carol"}
CONVERSATION = "demo"


# ----------------------------------------------------------------- helpers

def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=START_WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        with contextlib.closing(socket.socket()) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_token(secret, user, name, ttl=3600):
    """An HS256 user token, as the application's backend would mint it."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": user, "name": name,
                              "exp": int(time.time()) + ttl}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def http(method, url, body=None, headers=None, timeout=5.0):
    """(status, parsed JSON or None). Never raises on an HTTP error status."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def build_dir():
    if os.environ.get("RINGMQ_BUILD"):
        return os.environ["RINGMQ_BUILD"]
    for d in ("build-web", "build"):
        if os.path.exists(os.path.join(REPO, d, "bridge", "edge", "ringmq-bridge")):
            return os.path.join(REPO, d)
    return os.path.join(REPO, "build")


def binary(env, rel):
    path = os.environ.get(env) or os.path.join(build_dir(), rel)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first (cmake -S . -B build && make -C build), "
                    f"or set ${env}")
    return path


# ----------------------------------------------------------------- the service

class Stack:
    """mosquitto + ringmq-rules + ringmq-bridge on free loopback ports."""

    def __init__(self, ring_timeout_ms):
        self.ring_timeout_ms = ring_timeout_ms
        self.dir = tempfile.mkdtemp(prefix="ringmq-browser-")
        self.procs = []
        self.logs = []
        self.secret = "browser-test-jwt-secret-" + os.urandom(8).hex()
        self.api_key = "browser-test-api-key-" + os.urandom(8).hex()

    def _file(self, name, content):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o600)
        return path

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, name + ".log"), "wb")
        self.logs.append((name, log.name))
        env = {k: v for k, v in os.environ.items()
               if k not in ("RINGMQ_JWT_SECRET", "RINGMQ_API_KEY", "RINGMQ_SERVICE_SECRET")}
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append((name, p))
        return p

    def start(self):
        mosquitto = os.environ.get("MOSQUITTO_BIN") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        bridge = binary("RINGMQ_BRIDGE_BIN", "bridge/edge/ringmq-bridge")
        rules = binary("RINGMQ_RULES_BIN", "bridge/rules/ringmq-rules")
        self.mqtt_port = free_port()
        conf = self._file("mosquitto.conf",
                          f"listener {self.mqtt_port} 127.0.0.1\n"
                          "allow_anonymous true\npersistence false\n"
                          "log_dest stdout\n")
        p = self._spawn("mosquitto", [mosquitto, "-c", conf])
        wait_port(self.mqtt_port, p, "mosquitto")

        jwt_file = self._file("jwt.secret", self.secret)
        key_file = self._file("api.key", self.api_key)
        self._spawn("rules", [rules, "--mqtt-port", str(self.mqtt_port),
                              "--db", os.path.join(self.dir, "ringmq.db"),
                              "--ring-timeout-ms", str(self.ring_timeout_ms),
                              "--client-id", "ringmq-rules-" + os.urandom(4).hex(),
                              "--log-level", "debug"])
        self.port = free_port()
        p = self._spawn("bridge", [bridge, "--listen", "127.0.0.1", "--port", str(self.port),
                                   "--mqtt-port", str(self.mqtt_port),
                                   "--jwt-secret-file", jwt_file, "--api-key-file", key_file,
                                   "--web-root", WEB_ROOT, "--log-level", "debug"])
        wait_port(self.port, p, "ringmq-bridge")
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_healthy()
        self.setup_conversation()
        return self

    def wait_healthy(self, timeout=START_WAIT):
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                status, _ = http("GET", self.url + "/healthz", timeout=2.0)
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"/healthz did not answer 200 within {timeout}s (last: {status})\n"
                           + self.tail_logs())

    def setup_conversation(self):
        status, body = http("PUT", f"{self.url}/api/conversations/{CONVERSATION}/",
                            {"members": list(DEMO_USERS)}, {"X-Api-Key": self.api_key})
        assert status in (200, 201), f"PUT conversation: {status} {body}"

    def token(self, user):
        return make_token(self.secret, user, DEMO_USERS.get(user, user))

    def login_url(self, user, route="#/feed"):
        return f"{self.url}/?token={self.token(user)}{route}"

    def tail_logs(self, n=40):
        out = []
        for name, path in self.logs:
            with contextlib.suppress(OSError), open(path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()[-n:]
            out.append(f"--- {name} ({path})\n" + "\n".join(lines))
        return "\n".join(out)

    def stop(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


class External:
    """A service already running at $RINGMQ_BROWSER_URL (loopback only)."""

    ring_timeout_ms = None

    def __init__(self, url):
        assert url.startswith("http://127.0.0.1:"), "RINGMQ_BROWSER_URL must be loopback"
        self.url = url.rstrip("/")
        self.secret = os.environ["RINGMQ_JWT_SECRET"]
        self.api_key = os.environ.get("RINGMQ_API_KEY")

    def start(self):
        if self.api_key:
            Stack.setup_conversation(self)
        return self

    token = Stack.token
    login_url = Stack.login_url

    def tail_logs(self, n=40):
        return "(external service: no logs)"

    def stop(self):
        pass


_stacks = {}


def _get_stack(ring_timeout_ms):
    if os.environ.get("RINGMQ_BROWSER_URL"):
        if ring_timeout_ms != LONG_RING_MS:
            pytest.skip("needs its own ring time-out; not with RINGMQ_BROWSER_URL")
        ring_timeout_ms = None
    if ring_timeout_ms not in _stacks:
        s = External(os.environ["RINGMQ_BROWSER_URL"]) if ring_timeout_ms is None else Stack(ring_timeout_ms)
        _stacks[ring_timeout_ms] = s
        s.start()
    return _stacks[ring_timeout_ms]


@pytest.fixture(scope="session", autouse=True)
def _stop_stacks():
    yield
    for s in _stacks.values():
        s.stop()


@pytest.fixture
def stack():
    """The service with a long ring time-out (shared by the tests)."""
    return _get_stack(LONG_RING_MS)


@pytest.fixture
def short_ring_stack():
    """A second service whose calls go `missed` after SHORT_RING_MS."""
    return _get_stack(SHORT_RING_MS)


# ----------------------------------------------------------------- browsers

class Browser:
    """One Chromium instance logged in as one demo user."""

    def __init__(self, name, tmp):
        self.name = name
        self.profile = tempfile.mkdtemp(prefix=f"chromium-{name}-", dir=tmp)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for f in CHROME_FLAGS:
            opts.add_argument(f)
        opts.add_argument(f"--user-data-dir={self.profile}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=CHROMEDRIVER,
                          log_path=os.path.join(tmp, f"chromedriver-{name}.log"))
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_window_size(1280, 800)
        self.driver.set_script_timeout(10)
        self.driver.set_page_load_timeout(15)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, cond, timeout=15, what="condition"):
        """Wait for cond(self) to be truthy; its value."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            lambda _d: cond(self), message=f"{self.name}: {what} within {timeout}s "
                                           f"(state {self.state()!r}, status {self.status()!r})")

    def state(self):
        try:
            return self.js("return window.ringmq ? window.ringmq.state : null")
        except Exception as e:  # noqa: BLE001 - for messages only
            return f"<{e.__class__.__name__}>"

    def status(self):
        try:
            return self.js("var e = document.getElementById('call-status'); return e ? e.textContent : null")
        except Exception as e:  # noqa: BLE001
            return f"<{e.__class__.__name__}>"

    def ring(self, expr):
        return self.js("return window.ringmq." + expr)

    def click(self, element_id):
        self.driver.find_element("id", element_id).click()

    def displayed(self, element_id):
        return self.driver.find_element("id", element_id).is_displayed()

    def page(self):
        return self.js("return document.body.dataset.page")

    def open(self, url, page):
        self.driver.get(url)
        self.wait(lambda b: b.page() == page, what=f"page {page}")
        self.wait(lambda b: b.js("return document.getElementById('notif-status').dataset.state") == "open",
                  what="notification socket open")

    def go(self, route, page):
        self.js("location.hash = arguments[0]", route)
        self.wait(lambda b: b.page() == page, what=f"page {page}")

    def inbound_bytes(self):
        return self.driver.execute_async_script(
            "var cb = arguments[arguments.length - 1];"
            "window.ringmq.inboundBytes().then(cb, function () { cb(-1); });")

    def screenshot(self, test, label):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, f"{test}-{label}-{self.name}.png")
        with contextlib.suppress(Exception):
            self.driver.save_screenshot(path)
        return path

    def console(self):
        with contextlib.suppress(Exception):
            return [f"{e.get('level')} {e.get('message')}" for e in self.driver.get_log("browser")]
        return []

    def quit(self):
        with contextlib.suppress(Exception):
            self.driver.quit()


@pytest.fixture
def browsers(request, tmp_path):
    """browsers(n) -> n fresh Chromium instances named A, B, C; screenshots and
    console logs of each are saved to tests/artifacts/ when the test ends."""
    made = []

    def make(n=2):
        for i in range(n):
            made.append(Browser("ABCDEFG"[len(made)], str(tmp_path)))
        return made[-n:]

    yield make
    test = request.node.name
    os.makedirs(ARTIFACTS, exist_ok=True)
    for b in made:
        b.screenshot(test, "end")
        with open(os.path.join(ARTIFACTS, f"{test}-console-{b.name}.log"), "w") as f:
            f.write("\n".join(b.console()))
        b.quit()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _service_logs_on_failure(request):
    """Print the service's recent logs into a failing test's report."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for s in _stacks.values():
            print(s.tail_logs())
