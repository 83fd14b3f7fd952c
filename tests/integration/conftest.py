"""Integration fixtures: the real mosquitto, ringmq-rules and ringmq-bridge
on free loopback ports, each stack in its own temp state dir.

- The broker runs the repo's mosquitto.conf, rewritten line by line: the
  listener's port, paths under run/ (moved into the state dir) and paths
  under build/ (moved to $RINGMQ_BUILD_DIR). Nothing else changes, except
  that Stack(broker_conf_extra=[lines]) appends lines (rewritten the same
  way, except that their `listener` lines keep their ports) at its end,
  e.g. more plugin_opt_* for the auth plugin, or a test's own listeners.
- Stack(config=text) writes text ("{dir}" = the state dir) to
  <state dir>/ringmq.conf and hands it to all three: --config to rules and
  the bridge, plugin_opt_config_file to the broker's plugin; without it,
  the file named by $RINGMQ_CONFIG_FILE, if set (test_install.py: the
  installed example).
- Binaries come from $RINGMQ_BUILD_DIR (default <repo>/build), each
  overridable by a path in $RINGMQ_BRIDGE, $RINGMQ_RULES, $RINGMQ_TOKEN_BIN
  ($RINGMQ_TOKEN is a user's JWT, examples/mobile_client.py), and the
  broker's plugin line by $RINGMQ_PLUGIN (test_install.py: the installed
  copies).
- Secrets are files in the state dir (mode 600), as scripts/run makes them;
  the two the broker's auth plugin reads (jwt_secret, service_secret) are
  group-readable by mosquitto's user. mosquitto.conf's plugin line
  (build/...) and plugin_opt_*_secret_file lines (run/...) reach the build
  dir and those files through the rewrite; rules and bridge log in with
  --service-secret-file (no anonymous clients).
- The rules' store: an SQLite file in the state dir, or with
  RINGMQ_STORE=postgres a fresh database per stack on one throwaway
  PostgreSQL of the session (pgserver.py: initdb into a temp dir, a free
  loopback port, stopped at the session's end); Stack(db=...) names one
  (a path or a postgresql:// conninfo). Stack.db_rows() reads either.
- Every start waits for its condition with a bound; teardown sends SIGTERM,
  then SIGKILL after a bounded wait. A failing test gets the logs' tails.
"""
import copy
import os
import pwd
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from pgserver import PgServer
from ringmq_client import REPO, Http, Ws, free_port, mint_token, port_open, stop_process, unique

BUILD_DIR = os.path.abspath(os.environ.get("RINGMQ_BUILD_DIR", os.path.join(REPO, "build")))
MOSQUITTO = os.environ.get("RINGMQ_MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
BRIDGE = os.environ.get("RINGMQ_BRIDGE") or os.path.join(BUILD_DIR, "bridge", "edge", "ringmq-bridge")
RULES = os.environ.get("RINGMQ_RULES") or os.path.join(BUILD_DIR, "bridge", "rules", "ringmq-rules")
TOKEN = os.environ.get("RINGMQ_TOKEN_BIN") or os.path.join(BUILD_DIR, "bridge", "common", "ringmq-token")
PLUGIN = os.environ.get("RINGMQ_PLUGIN")   # None: mosquitto.conf's plugin line (build/...)

START_WAIT = 15.0   # seconds a part may take to come up
STOP_WAIT = 5.0     # seconds a part may take to exit after SIGTERM
LOG_TAIL = 120      # lines of each log shown for a failing test

STORE = os.environ.get("RINGMQ_STORE", "sqlite")   # sqlite | postgres: where the stacks' rules keep state

_active_stacks = []
_pg = []   # the session's PgServer, once one is needed


def pg_server():
    """The session's PostgreSQL (started on first use, stopped at the end)."""
    if not _pg:
        _pg.append(PgServer())
    return _pg[0]


def pytest_sessionfinish(session, exitstatus):
    while _pg:
        _pg.pop().stop()


def rewrite_mosquitto_conf(text, port, state_dir, build_dir):
    """The repo's mosquitto.conf with the three substitutions above
    (port None: listener lines keep theirs)."""
    out = []
    for line in text.splitlines():
        if port is not None and re.match(r"^\s*listener\s+\d+", line):
            line = re.sub(r"^(\s*listener\s+)\d+", lambda m: m.group(1) + str(port), line)
        if not line.lstrip().startswith("#"):
            line = re.sub(r"(?<![\w/.])run/", state_dir.rstrip("/") + "/", line)
            line = re.sub(r"(?<![\w/.])build/", build_dir.rstrip("/") + "/", line)
            if PLUGIN and re.match(r"^\s*plugin\s", line):
                line = "plugin " + PLUGIN
        out.append(line)
    return "\n".join(out) + "\n"


class Proc:
    def __init__(self, name, argv, log_path, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  cwd=cwd)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        stop_process(self.p, STOP_WAIT)
        self.log.close()
        return self.p.returncode

    def tail(self, n=LOG_TAIL):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])


def make_secrets(st):
    """Fresh jwt_secret, api_key and service_secret for st (its attributes of
    those names), each also in a file of st.dir (mode 600), as scripts/run
    makes them."""
    st.jwt_secret = secrets.token_hex(32)
    st.api_key = secrets.token_hex(24)
    st.service_secret = secrets.token_hex(24)
    for fname in ("jwt_secret", "api_key", "service_secret"):
        path = os.path.join(st.dir, fname)
        with open(path, "w") as f:
            f.write(getattr(st, fname) + "\n")
        os.chmod(path, 0o600)


class StackClient:
    """What tests ask of a stack: tokens, conversations, sockets and rows of
    rules' store. The class using it has jwt_secret, http, db, _sockets,
    ws_opts (extra Ws arguments) and ws_base_for(user) (where that user's
    sockets go)."""

    def token(self, user, name=None, **kw):
        return mint_token(self.jwt_secret, sub=user, name=name if name is not None else user + "_name", **kw)

    def conversation(self, members, conversation_id=None):
        cid = conversation_id or unique("conv")
        res = self.http.put_conversation(cid, members)
        assert res.status == 201, f"PUT conversation: {res}"
        return cid

    def ws_label(self, user):
        return str(user)

    def db_rows(self, sql, params=()):
        """The rows of a read-only query on the rules' store ("?" marks a
        parameter), SQLite file or PostgreSQL alike."""
        if self.db.startswith(("postgresql://", "postgres://")):
            import psycopg2
            con = psycopg2.connect(self.db)
            try:
                with con.cursor() as cur:
                    cur.execute(sql.replace("?", "%s"), params)
                    return cur.fetchall()
            finally:
                con.close()
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=2)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    # -- parts

    def ws_notify(self, user=None, token=None, name=None, **kw):
        tok = token if token is not None else self.token(user)
        ws = Ws(f"{self.ws_base_for(user)}/ws/notifications/?token={tok}",
                name=name or f"notify[{self.ws_label(user)}]", **self.ws_opts, **kw)
        self._sockets.append(ws)
        return ws

    def ws_chat(self, conversation_id, user=None, token=None, name=None, **kw):
        tok = token if token is not None else self.token(user)
        ws = Ws(f"{self.ws_base_for(user)}/ws/chat/{conversation_id}/?token={tok}",
                name=name or f"chat[{self.ws_label(user)}@{conversation_id}]", **self.ws_opts, **kw)
        self._sockets.append(ws)
        return ws

    def connect_notify(self, user, name=None):
        """A notification socket past its connection.ack (returned as .ack)."""
        ws = self.ws_notify(user, name=name)
        ws.ack = ws.expect("connection.ack")
        return ws

    def connect_chat(self, conversation_id, user, name=None):
        ws = self.ws_chat(conversation_id, user, name=name)
        ws.ack = ws.expect("connection.ack")
        return ws


class Stack(StackClient):
    """mosquitto + ringmq-rules + ringmq-bridge. Use .http, .ws_notify(),
    .ws_chat(), .token(), .conversation()."""

    def __init__(self, ring_timeout_ms=None, bridge_args=(), rules_args=(), name="stack", broker_conf_extra=(),
                 config=None, db=None):
        for path in (BRIDGE, RULES):
            if not os.access(path, os.X_OK):
                pytest.fail(f"{path} is not built (set RINGMQ_BUILD_DIR or build first)")
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="ringmq-it-")
        os.chmod(self.dir, 0o755)   # mosquitto drops root to its own user: it must reach its dir
        self.procs = []
        make_secrets(self)
        self._share_secrets_with_broker()
        self.mqtt_port = free_port()
        self.http_port = free_port()
        if db is None:
            db = pg_server().new_database() if STORE == "postgres" else os.path.join(self.dir, "ringmq.db")
        self.db = db
        self.rules_client_id = "ringmq-rules-" + secrets.token_hex(4)   # kept across restarts
        self.ring_timeout_ms = ring_timeout_ms
        self.broker_conf_extra = list(broker_conf_extra)
        self.rules_args, self.bridge_args = tuple(rules_args), tuple(bridge_args)
        self.config_path = None
        if config is None and os.environ.get("RINGMQ_CONFIG_FILE"):
            with open(os.environ["RINGMQ_CONFIG_FILE"]) as f:
                config = f.read()
        if config is not None:
            self.config_path = os.path.join(self.dir, "ringmq.conf")
            self.write_config(config)
            self.broker_conf_extra.append(f"plugin_opt_config_file {self.config_path}")
        try:
            self._start_broker()
            self._start_rules(rules_args)
            self._start_bridge(bridge_args)
        except BaseException:
            print(self.logs())
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.ws_base = f"ws://127.0.0.1:{self.http_port}"
        self.http = Http(self.base_url, api_key=self.api_key)
        self.ws_opts = {}
        self._sockets = []

    def _share_secrets_with_broker(self):
        """The auth plugin (mosquitto.conf: plugin_opt_*_secret_file run/...)
        reads both secrets after mosquitto, started as root, has dropped to
        its own user: as scripts/run does, make them group-readable by that
        user (mode 640, group mosquitto). Nothing to do when not root."""
        if os.geteuid() != 0:
            return
        try:
            gid = pwd.getpwnam("mosquitto").pw_gid
        except KeyError:
            return
        for fname in ("jwt_secret", "service_secret"):
            path = os.path.join(self.dir, fname)
            os.chown(path, 0, gid)
            os.chmod(path, 0o640)

    def _start_broker(self, fresh=True):
        persist = os.path.join(self.dir, "mosquitto")
        os.makedirs(persist, exist_ok=not fresh)
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("mosquitto")
                os.chown(persist, pw.pw_uid, pw.pw_gid)
            except KeyError:
                pass
        with open(os.path.join(REPO, "mosquitto.conf")) as f:
            conf = rewrite_mosquitto_conf(f.read(), self.mqtt_port, self.dir, BUILD_DIR)
        conf += rewrite_mosquitto_conf("\n".join(self.broker_conf_extra), None, self.dir, BUILD_DIR)
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf_path, "w") as f:
            f.write(conf)
        self.broker = self._spawn("mosquitto", [MOSQUITTO, "-c", self.conf_path])
        self._wait(lambda: port_open("127.0.0.1", self.mqtt_port), self.broker, "mosquitto to listen")

    def _start_rules(self, extra):
        self.rules = self._spawn("ringmq-rules", self._rules_argv(extra))

    def add_rules(self, name, extra=()):
        """Another ringmq-rules with the first one's arguments (same broker,
        store and client id: a hot standby on PostgreSQL); its Proc, logging
        to <state dir>/<name>.log."""
        return self._spawn(name, self._rules_argv(tuple(self.rules_args) + tuple(extra)))

    def _rules_argv(self, extra):
        argv = [RULES, "--mqtt-host", "127.0.0.1", "--mqtt-port", str(self.mqtt_port),
                "--service-secret-file", os.path.join(self.dir, "service_secret"),
                "--db", self.db, "--client-id", self.rules_client_id, "--log-level", "debug"]
        if self.ring_timeout_ms is not None:
            argv += ["--ring-timeout-ms", str(self.ring_timeout_ms)]
        if self.config_path:
            argv += ["--config", self.config_path]
        return argv + list(extra)

    def _bridge_argv(self, port):
        return [BRIDGE, "--listen", "127.0.0.1", "--port", str(port),
                "--mqtt-host", "127.0.0.1", "--mqtt-port", str(self.mqtt_port),
                "--jwt-secret-file", os.path.join(self.dir, "jwt_secret"),
                "--api-key-file", os.path.join(self.dir, "api_key"),
                "--service-secret-file", os.path.join(self.dir, "service_secret"),
                "--web-root", os.path.join(REPO, "web"), "--log-level", "debug"] + \
            (["--config", self.config_path] if self.config_path else [])

    def _start_bridge(self, extra):
        self.bridge = self._spawn("ringmq-bridge", self._bridge_argv(self.http_port) + list(extra))
        self._wait(self._healthy, self.bridge, "GET /healthz to answer 200", also=(self.rules, self.broker))

    def write_config(self, text):
        """(Re)writes the config file of Stack(config=...), readable by the broker's user."""
        with open(self.config_path, "w") as f:
            f.write(text.replace("{dir}", self.dir))
        os.chmod(self.config_path, 0o644)

    def add_bridge(self, extra=()):
        """Another bridge on the same broker (and rules), on a port of its
        own; returns that port once its /healthz answers 200."""
        port = free_port()
        p = self._spawn(f"ringmq-bridge-{port}", self._bridge_argv(port) + list(self.bridge_args) + list(extra))
        self._wait(lambda: self._healthy(port), p, f"GET /healthz on {port} to answer 200", also=(self.rules,))
        return port

    def via(self, base_url, ssl_context=None):
        """This stack seen through a front (a proxy at base_url, http:// or
        https://, in front of the bridge): a copy whose .http and sockets go
        there, with ssl_context checking an https front. Parts, state and
        the sockets to close at the end are shared."""
        front = copy.copy(self)
        front.base_url = base_url.rstrip("/")
        front.ws_base = "ws" + front.base_url[len("http"):]
        front.http = Http(front.base_url, api_key=self.api_key, ssl_context=ssl_context)
        front.ws_opts = {"ssl_context": ssl_context} if ssl_context else {}
        return front

    def restart_all(self):
        """Stops every part (bridges, rules, broker: SIGTERM, by PID) and
        starts broker, rules and the first bridge again, same ports, state
        and arguments. Bridges of add_bridge() stay stopped."""
        for s in self._sockets:
            s.close()
        for p in reversed(self.procs):
            p.stop()
        self.procs = []
        self._start_broker(fresh=False)
        self._start_rules(self.rules_args)
        self._start_bridge(self.bridge_args)

    def _healthy(self, port=None):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port or self.http_port}/healthz", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _spawn(self, name, argv):
        p = Proc(name, argv, os.path.join(self.dir, name + ".log"), cwd=self.dir)
        self.procs.append(p)
        return p

    def _wait(self, cond, proc, what, also=()):
        deadline = time.monotonic() + START_WAIT
        while not cond():
            for p in (proc,) + tuple(also):
                if not p.alive():
                    raise RuntimeError(f"{p.name} exited ({p.p.returncode}) while waiting for {what}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {START_WAIT}s waiting for {what}")
            time.sleep(0.05)

    def stop_broker(self):
        """Stops mosquitto alone (rules and bridge keep running); its exit code."""
        code = self.broker.stop()
        self.procs.remove(self.broker)
        return code

    def start_broker(self):
        """Starts mosquitto again on the same port and conf (after stop_broker)."""
        self.broker = self._spawn("mosquitto-restarted", [MOSQUITTO, "-c", self.conf_path])
        self.procs.insert(0, self.procs.pop())   # stopped last, as at first
        self._wait(lambda: port_open("127.0.0.1", self.mqtt_port), self.broker, "mosquitto to listen again")

    def stop(self):
        for s in getattr(self, "_sockets", []):
            s.close()
        codes = {}
        for p in reversed(self.procs):
            codes[p.name] = p.stop()
        return codes

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")

    def sanitizer_reports(self):
        """Lines of ASan/LSan/UBSan reports in the services' logs (an
        instrumented build's findings must fail the run, not scroll by)."""
        found = []
        for p in self.procs:
            try:
                with open(p.log_path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            found += [f"{p.name}: {line}" for line in text.splitlines()
                      if any(m in line for m in self.SANITIZER_MARKS)]
        return "\n".join(found[:40])

    def logs(self):
        return "\n".join(f"----- {p.name} ({' '.join(p.argv)}) -----\n{p.tail()}" for p in self.procs)

    # -- helpers for tests: StackClient's, and where sockets go
    def ws_base_for(self, user):
        return self.ws_base


def _make_stack(request, **kw):
    # A free port can be taken by someone else between our probe and the
    # start: try a few fresh sets of ports before giving up.
    for attempt in range(3):
        try:
            st = Stack(**kw)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    return own_stack(request, st)


def own_stack(request, st):
    """st's logs shown by a failing test, st stopped when request ends (a
    sanitizer report in its logs fails the run; its state dir is removed
    unless something failed or RINGMQ_KEEP_LOGS is set). Returns st."""
    _active_stacks.append(st)

    def fin():
        _active_stacks.remove(st)
        codes = st.stop()
        reports = st.sanitizer_reports()
        if reports:
            request.session._ringmq_failed = True
            print(f"\n{st.name}: logs kept in {st.dir}")
            pytest.fail(f"{st.name}: sanitizer reports in the services' logs:\n{reports}", pytrace=False)
        if getattr(request.session, "_ringmq_failed", False) or os.environ.get("RINGMQ_KEEP_LOGS"):
            print(f"\n{st.name}: exit codes {codes}; logs kept in {st.dir}")
        else:
            shutil.rmtree(st.dir, ignore_errors=True)
    request.addfinalizer(fin)
    return st


@pytest.fixture(scope="session")
def stack(request):
    """One stack for most tests (default ring time-out); tests use fresh
    user and conversation ids so they never meet."""
    return _make_stack(request, name="main stack")


@pytest.fixture(scope="module")
def short_ring_stack(request):
    """A stack whose calls go missed after 1.5 s."""
    return _make_stack(request, ring_timeout_ms=1500, name="short-ring stack")


@pytest.fixture
def fresh_stack(request):
    """A stack of the test's own (for restarts and the like)."""
    return _make_stack(request, name="fresh stack")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        item.session._ringmq_failed = True
        # The scope of session/module fixtures: mark them so their logs print too.
        for st in _active_stacks:
            rep.sections.append((f"logs of {st.name} ({st.dir})", st.logs()))
