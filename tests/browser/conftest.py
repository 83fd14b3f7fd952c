"""Fixtures of the browser end-to-end tests.

Starts the real service on free loopback ports (mosquitto with the repo's
mosquitto.conf, ringmq-rules, ringmq-bridge serving web/) through the
integration tests' harness (tests/integration/conftest.py, binaries from
$RINGMQ_BUILD_DIR, default build/), and real Chromium instances driven by
Debian's python3-selenium + chromium-driver, each with its own fresh profile
and a fake camera and microphone. run.sh runs all this inside a network
namespace that has only loopback.

The TURN test's service (turn_stack) also runs a real coturn on loopback
(tests/integration/coturn.py) whose secret the bridge shares.

$RINGMQ_BROWSER_URL points the tests at a service already running on
loopback instead (its JWT secret in $RINGMQ_JWT_SECRET, API key in
$RINGMQ_API_KEY); the tests that need their own ring time-out then skip.
Every wait is bounded.
"""
import base64
import contextlib
import importlib.util
import hashlib
import hmac
import json
import os
import sys
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
INTEGRATION = os.path.join(REPO, "tests", "integration")

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

LONG_RING_MS = 45000     # ring time-out of the main stack (the default): longer than any test rings
SHORT_RING_MS = 3000     # ring time-out of the stack of the missed-call test
DEMO_USERS = {"alice": "Alice", "bob": "Bob", "carol": "Carol"}
CONVERSATION = "demo"


# ----------------------------------------------------------------- helpers

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


_harness = []


def _integration_harness():
    """tests/integration/conftest.py as a plain module (its Stack starts the
    repo's mosquitto.conf, rules and bridge on free ports, as the
    integration tests do); loaded under another name so it registers no
    fixtures here."""
    if _harness:
        return _harness[0]
    sys.path.insert(0, INTEGRATION)
    spec = importlib.util.spec_from_file_location(
        "ringmq_integration_harness", os.path.join(INTEGRATION, "conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _harness.append(mod)
    return mod


class RealService:
    """The real service for the browsers: the integration harness's Stack
    (mosquitto + ringmq-rules + ringmq-bridge serving web/) with the demo
    conversation between alice, bob and carol."""

    def __init__(self, ring_timeout_ms, bridge_args=()):
        harness = _integration_harness()
        self.ring_timeout_ms = ring_timeout_ms
        # The demo users call each other in every test, faster than a person
        # would: the per-caller initiate limit (10 a minute) is raised here.
        self.stack = harness.Stack(ring_timeout_ms=ring_timeout_ms,
                                   name=f"browser stack (ring {ring_timeout_ms} ms)",
                                   bridge_args=["--initiate-per-minute", "600", "--initiate-burst", "100",
                                                *bridge_args])
        self.url = self.stack.base_url

    def start(self):
        res = self.stack.http.put_conversation(CONVERSATION, list(DEMO_USERS))
        assert res.status in (200, 201), f"PUT conversation: {res}"
        return self

    def token(self, user):
        return self.stack.token(user, name=DEMO_USERS.get(user, user))

    def login_url(self, user, route="#/feed"):
        return f"{self.url}/?token={self.token(user)}{route}"

    def tail_logs(self):
        return self.stack.logs()

    def stop(self):
        self.stack.stop()


class TurnService(RealService):
    """RealService whose bridge hands out credentials of a real coturn on
    loopback (tests/integration/coturn.py: the TURN REST API, loopback peers
    allowed, its own temp dir), started first and stopped last."""

    def __init__(self):
        _integration_harness()   # tests/integration on sys.path
        import coturn
        if not coturn.installed():
            pytest.fail(f"coturn is not installed ({coturn.TURNSERVER}): apt-get install coturn (scripts/deps.sh)")
        self.turn = coturn.Coturn()
        try:
            super().__init__(LONG_RING_MS, bridge_args=self.turn.bridge_args())
        except BaseException:
            self.turn.stop()
            raise

    def tail_logs(self):
        return super().tail_logs() + "\n----- turnserver -----\n" + self.turn.tail()

    def stop(self):
        super().stop()
        self.turn.stop()


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
            status, body = http("PUT", f"{self.url}/api/conversations/{CONVERSATION}/",
                                {"members": list(DEMO_USERS)}, {"X-Api-Key": self.api_key})
            assert status in (200, 201), f"PUT conversation: {status} {body}"
        return self

    def token(self, user):
        return make_token(self.secret, user, DEMO_USERS.get(user, user))

    login_url = RealService.login_url

    def tail_logs(self):
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
        s = External(os.environ["RINGMQ_BROWSER_URL"]) if ring_timeout_ms is None else RealService(ring_timeout_ms)
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
def turn_stack():
    """The service with a TURN server of its own (TurnService)."""
    if os.environ.get("RINGMQ_BROWSER_URL"):
        pytest.skip("needs its own TURN server; not with RINGMQ_BROWSER_URL")
    if "turn" not in _stacks:
        _stacks["turn"] = TurnService().start()
    return _stacks["turn"]


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

    def server_errors(self):
        """The error frames the service sent this page."""
        try:
            return self.js("return window.ringmq ? window.ringmq.errors : []")
        except Exception as e:  # noqa: BLE001 - a dead page
            return [f"<{e.__class__.__name__}>"]

    def dump(self):
        """The page's state, last frames and errors, as JSON text."""
        try:
            return json.dumps(self.js(
                "var r = window.ringmq || {}; return {state: r.state, states: r.states, "
                "status: (document.getElementById('call-status') || {}).textContent, "
                "endReason: r.endReason, callId: r.callId, deviceId: r.deviceId, "
                "pc: r.pc ? [r.pc.signalingState, r.pc.iceConnectionState, r.pc.connectionState] : null, "
                "media: !!r.localStream, errors: r.errors, frames: r.frames};"), indent=1)
        except Exception as e:  # noqa: BLE001
            return f"<{e.__class__.__name__}: {e}>"

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
            f.write("\n".join(b.console()) + "\n\nwindow.ringmq:\n" + b.dump() + "\n")
        b.quit()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _service_logs_on_failure(request):
    """A failing test gets the service's logs in tests/artifacts/ (their
    tails, lines cut at 300 characters, in its report)."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.failed:
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    for key, s in _stacks.items():
        path = os.path.join(ARTIFACTS, f"{request.node.name}-service-{key}.log")
        logs = s.tail_logs()
        with open(path, "w") as f:
            f.write(logs)
        tail = [line[:300] for line in logs.splitlines()[-30:]]
        print(f"service logs: {path}\n" + "\n".join(tail))
