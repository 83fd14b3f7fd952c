"""Issue 13, the install rules (packaging/CMakeLists.txt): `cmake --install
$RINGMQ_BUILD_DIR --prefix /usr` into a DESTDIR, then

- every file is where Debian wants it (plugin next to where Debian's
  mosquitto keeps its own, units under lib/systemd/system, ...), with no
  template variable left over;
- `systemd-analyze verify` passes on the units, warnings included (on
  copies whose ExecStart points at the DESTDIR binaries: verify needs them
  to exist, and `--root=` wants a whole OS tree), their exposure
  (`systemd-analyze security --offline=yes`) stays low, and every flag they
  pass is one the installed binary's --help lists;
- Debian's own /etc/mosquitto/mosquitto.conf with the installed conf.d
  snippet loads the installed plugin and listens;
- the installed example config (share/ringmq/etc/ringmq.conf, for
  /etc/ringmq/) passes --check-config of the installed bridge and rules
  (its /etc/ringmq/ paths moved to a temp dir), and the units run both
  with --config /etc/ringmq/ringmq.conf; the snippet's plugin reads it;
- the seed scenarios (test_core.py -k seed) pass against the installed
  bridge, rules and plugin, all three reading the installed example config
  (paths moved into each stack's dir): a pytest subprocess with
  $RINGMQ_BRIDGE, $RINGMQ_RULES, $RINGMQ_TOKEN_BIN, $RINGMQ_PLUGIN pointing
  into the DESTDIR, $RINGMQ_CONFIG_FILE at the example and
  $RINGMQ_BUILD_DIR at a directory that does not exist, so nothing can
  come from the build tree.

None of it needs systemd running (PID 1) or touches the real /usr or /etc.
"""
import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

import pytest

from conftest import BUILD_DIR, MOSQUITTO
from ringmq_client import REPO, free_port, port_open

PREFIX = "/usr"
HERE = os.path.dirname(os.path.abspath(__file__))


def multiarch():
    """Debian's multiarch libdir name, from where its mosquitto package put
    its own plugin (mosquitto_dynamic_security.so), else Python's idea."""
    try:
        out = subprocess.run(["dpkg", "-L", "mosquitto"], capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            m = re.match(r"^/usr/lib/([^/]+-linux-[^/]+)/[^/]+\.so$", line)
            if m:
                return m.group(1)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"


ARCH = multiarch()
PLUGIN = f"{PREFIX}/lib/{ARCH}/mosquitto/ringmq_auth.so"
UNITS = ("ringmq-bridge.service", "ringmq-rules.service")
BINARIES = ("ringmq-bridge", "ringmq-rules", "ringmq-token", "ringmq-ejabberd-auth")
SNIPPET = f"{PREFIX}/share/ringmq/mosquitto/ringmq.conf"
EXAMPLE = f"{PREFIX}/share/ringmq/etc/ringmq.conf"
CONFIG = "/etc/ringmq/ringmq.conf"


def _files_under(top):
    return sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)


def expected_files():
    exp = [f"{PREFIX}/bin/{b}" for b in BINARIES] + [PLUGIN]
    exp += [f"{PREFIX}/lib/systemd/system/{u}" for u in UNITS]
    exp += [SNIPPET, f"{PREFIX}/share/ringmq/etc/README.md", EXAMPLE]
    exp += [f"{PREFIX}/share/ringmq/schemas/{f}" for f in _files_under(os.path.join(REPO, "schemas"))]
    exp += [f"{PREFIX}/share/ringmq/web/{f}" for f in _files_under(os.path.join(REPO, "web"))]
    doc = f"{PREFIX}/share/doc/ringmq"
    exp += [f"{doc}/README.md", f"{doc}/schemas/INTERNAL.md", f"{doc}/bridge/plugin/README.md"]
    exp += [f"{doc}/docs/{os.path.basename(f)}" for f in glob.glob(os.path.join(REPO, "docs", "*.md"))]
    return sorted(exp)


@pytest.fixture(scope="module")
def destdir():
    if not shutil.which("cmake"):
        pytest.fail("cmake not found (scripts/deps.sh BUILD_PKGS)")
    if not os.path.exists(os.path.join(BUILD_DIR, "cmake_install.cmake")):
        pytest.fail(f"{BUILD_DIR} is not a configured build (set RINGMQ_BUILD_DIR)")
    root = tempfile.mkdtemp(prefix="ringmq-install-")
    os.chmod(root, 0o755)   # mosquitto, root dropped to its own user, loads the plugin from here
    r = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", PREFIX],
                       env=dict(os.environ, DESTDIR=root), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"cmake --install failed:\n{r.stdout}\n{r.stderr}"
    yield root
    shutil.rmtree(root, ignore_errors=True)


def at(root, path):
    return root + path


def test_every_file_is_where_it_belongs(destdir):
    installed = sorted("/" + f for f in _files_under(destdir))
    expected = expected_files()
    missing = sorted(set(expected) - set(installed))
    extra = sorted(set(installed) - set(expected))
    assert not missing, f"not installed: {missing}"
    assert not extra, f"installed but not expected here: {extra}"
    for b in BINARIES:
        assert os.access(at(destdir, f"{PREFIX}/bin/{b}"), os.X_OK), b
    generated = [f"{PREFIX}/lib/systemd/system/{u}" for u in UNITS] + [SNIPPET, EXAMPLE,
                                                                       f"{PREFIX}/share/ringmq/etc/README.md"]
    for f in generated:   # from packaging/*.in
        with open(at(destdir, f)) as fh:
            text = fh.read()
        assert not re.search(r"@[A-Z_]+@|\$\{[A-Z_]+\}", text), f"{f}: a template variable is left"
        assert destdir not in text and BUILD_DIR not in text, f"{f}: names a build or DESTDIR path"


def test_plugin_is_next_to_debians_mosquitto_plugins(destdir):
    with open(at(destdir, SNIPPET)) as f:
        plugin_lines = [line.split(None, 1)[1].strip() for line in f if re.match(r"^plugin\s", line)]
    assert plugin_lines == [PLUGIN]
    # the module itself: an ELF shared object exporting mosquitto's entry points
    r = subprocess.run(["nm", "-D", "--defined-only", at(destdir, PLUGIN)], capture_output=True, text=True)
    if r.returncode == 0:
        for sym in ("mosquitto_plugin_version", "mosquitto_plugin_init", "mosquitto_plugin_cleanup"):
            assert sym in r.stdout, sym


def _unit(destdir, name):
    with open(at(destdir, f"{PREFIX}/lib/systemd/system/{name}")) as f:
        return f.read()


def _exec_start_argv(text):
    m = re.search(r"^ExecStart=((?:.*\\\n)*.*)$", text, re.M)
    assert m, "no ExecStart="
    return m.group(1).replace("\\\n", " ").split()


def test_units_content(destdir):
    for name, binary in (("ringmq-bridge.service", "ringmq-bridge"), ("ringmq-rules.service", "ringmq-rules")):
        text = _unit(destdir, name)
        argv = _exec_start_argv(text)
        assert argv[0] == f"{PREFIX}/bin/{binary}"
        for key in ("DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
                    "PrivateTmp=yes", "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                    "LoadCredential=service_secret:/etc/ringmq/service_secret"):
            assert re.search(rf"^{re.escape(key)}$", text, re.M), f"{name}: no {key}"
        assert not re.search(r"^User=root", text, re.M)
        # every flag the unit passes is one the installed binary knows
        r = subprocess.run([at(destdir, argv[0]), "--help"], capture_output=True, text=True, timeout=10)
        helptext = r.stdout + r.stderr
        for flag in (a for a in argv[1:] if a.startswith("--")):
            assert re.search(rf"^\s+{re.escape(flag)}\b", helptext, re.M), f"{name}: {flag} not in --help"
        assert "--service-secret-file" in argv and "%d/service_secret" in argv
        assert argv[argv.index("--config") + 1] == CONFIG, name
        assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", text, re.M), name
        assert "EnvironmentFile" not in text, name   # one place for settings: the config file
    bridge = _unit(destdir, "ringmq-bridge.service")
    assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", bridge, re.M)
    argv = _exec_start_argv(bridge)
    for flag, value in (("--jwt-secret-file", "%d/jwt_secret"), ("--api-key-file", "%d/api_key"),
                        ("--web-root", f"{PREFIX}/share/ringmq/web")):
        assert argv[argv.index(flag) + 1] == value
    for cred in ("jwt_secret", "api_key"):
        assert f"LoadCredential={cred}:/etc/ringmq/{cred}\n" in bridge
    rules = _unit(destdir, "ringmq-rules.service")
    assert re.search(r"^StateDirectory=ringmq$", rules, re.M)
    argv = _exec_start_argv(rules)
    assert argv[argv.index("--db") + 1] == "%S/ringmq/ringmq.db"


def test_systemd_analyze_verify_and_security(destdir, tmp_path):
    sa = shutil.which("systemd-analyze")
    if not sa:
        pytest.fail("systemd-analyze not found: install Debian's systemd (scripts/deps.sh TEST_PKGS)")
    # verify checks that ExecStart's binary exists: point the copies at the DESTDIR's
    copies = []
    for name in UNITS:
        text = _unit(destdir, name).replace(f"={PREFIX}/bin/", f"={destdir}{PREFIX}/bin/")
        path = tmp_path / name
        path.write_text(text)
        copies.append(str(path))
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice", LC_ALL="C.UTF-8")
    r = subprocess.run([sa, "verify", *copies], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and not out, f"systemd-analyze verify (rc {r.returncode}):\n{out}"
    # exposure: 1.4 today ("OK"); 2.0 or more means a hardening line went
    r = subprocess.run([sa, "security", "--offline=yes", "--threshold=20", *copies],
                       capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 0, f"systemd-analyze security above 2.0:\n{r.stdout[-3000:]}\n{r.stderr}"


def example_config(destdir, etc):
    """The installed example config, its /etc/ringmq/ paths moved to etc
    and its share/ paths into the DESTDIR."""
    with open(at(destdir, EXAMPLE)) as f:
        text = f.read()
    return text.replace("/etc/ringmq/", etc.rstrip("/") + "/").replace(f" {PREFIX}/share/", f" {destdir}{PREFIX}/share/")


def test_installed_example_config_checks(destdir, tmp_path):
    for fname in ("jwt_secret", "service_secret", "api_key"):
        (tmp_path / fname).write_text(secrets.token_hex(32) + "\n")
    conf = tmp_path / "ringmq.conf"
    conf.write_text(example_config(destdir, str(tmp_path)))
    for binary in ("ringmq-bridge", "ringmq-rules"):
        r = subprocess.run([at(destdir, f"{PREFIX}/bin/{binary}"), "--config", str(conf), "--check-config"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.strip() == f"{binary}: {conf}: ok", r
    # and a broken copy is refused with its line
    lines = conf.read_text().splitlines()
    bad = next(i for i, line in enumerate(lines) if line.startswith("port = "))
    lines[bad] = "port = eighty"
    conf.write_text("\n".join(lines) + "\n")
    r = subprocess.run([at(destdir, f"{PREFIX}/bin/ringmq-bridge"), "--config", str(conf), "--check-config"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and f"{conf}:{bad + 1}: port takes a whole number" in r.stderr, r


def test_debian_mosquitto_conf_with_the_snippet_loads_the_plugin(destdir, tmp_path):
    debian_conf = "/etc/mosquitto/mosquitto.conf"
    if not os.path.exists(debian_conf):
        pytest.fail(f"{debian_conf} missing (Debian's mosquitto package)")
    work = tempfile.mkdtemp(prefix="ringmq-snippet-")
    proc = None
    try:
        os.chmod(work, 0o755)
        persist = os.path.join(work, "persist")
        confd = os.path.join(work, "conf.d")
        os.makedirs(persist)
        os.makedirs(confd)
        gid = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("mosquitto")
                os.chown(persist, pw.pw_uid, pw.pw_gid)
                gid = pw.pw_gid
            except KeyError:
                pass
        for fname in ("jwt_secret", "service_secret"):
            p = os.path.join(work, fname)
            with open(p, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            if gid is not None:
                os.chown(p, 0, gid)
            os.chmod(p, 0o640 if gid is not None else 0o600)
        # Debian's file as shipped, its machine-wide paths moved into `work`
        with open(debian_conf) as f:
            main = f.read()
        subst = {r"^pid_file\s.*$": f"pid_file {persist}/mosquitto.pid",
                 r"^persistence_location\s.*$": f"persistence_location {persist}/",
                 r"^log_dest\s.*$": "log_dest stderr",
                 r"^include_dir\s.*$": f"include_dir {confd}"}
        for pat, rep in subst.items():
            main = re.sub(pat, rep, main, flags=re.M)
        assert f"include_dir {confd}" in main, "Debian's mosquitto.conf has no include_dir"
        main_path = os.path.join(work, "mosquitto.conf")
        with open(main_path, "w") as f:
            f.write(main)
        # the installed snippet: the port free, the plugin and the secrets moved
        port = free_port()
        with open(at(destdir, SNIPPET)) as f:
            snippet = f.read()
        snippet = re.sub(r"^listener 1883 127\.0\.0\.1$", f"listener {port} 127.0.0.1", snippet, flags=re.M)
        snippet = re.sub(r"^plugin /", f"plugin {destdir}/", snippet, flags=re.M)
        snippet = snippet.replace(" /etc/ringmq/", f" {work}/")
        assert f"listener {port} 127.0.0.1" in snippet
        with open(os.path.join(confd, "ringmq.conf"), "w") as f:
            f.write(snippet)
        # the plugin's settings: the installed example config, moved into `work`
        assert f"plugin_opt_config_file {work}/ringmq.conf" in snippet
        with open(os.path.join(work, "ringmq.conf"), "w") as f:
            f.write(example_config(destdir, work))
        os.chmod(os.path.join(work, "ringmq.conf"), 0o644)
        log_path = os.path.join(work, "mosquitto.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([MOSQUITTO, "-c", main_path], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=work)
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        with open(log_path, errors="replace") as f:
            log_text = f.read()
        assert proc.poll() is None and port_open("127.0.0.1", port), f"mosquitto did not come up:\n{log_text}"
        assert f"Loading plugin: {destdir}{PLUGIN}" in log_text, log_text
        assert "ringmq_auth: ready" in log_text, log_text
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(work, ignore_errors=True)


def test_seed_scenarios_against_the_installed_binaries_and_plugin(destdir, tmp_path):
    config = tmp_path / "ringmq.conf"
    config.write_text(example_config(destdir, "{dir}"))   # conftest.Stack puts its state dir there
    env = dict(os.environ,
               RINGMQ_CONFIG_FILE=str(config),
               RINGMQ_BUILD_DIR=os.path.join(destdir, "no-build-tree"),   # nothing from a build dir
               RINGMQ_BRIDGE=at(destdir, f"{PREFIX}/bin/ringmq-bridge"),
               RINGMQ_RULES=at(destdir, f"{PREFIX}/bin/ringmq-rules"),
               RINGMQ_TOKEN_BIN=at(destdir, f"{PREFIX}/bin/ringmq-token"),
               RINGMQ_PLUGIN=at(destdir, PLUGIN))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-k", "seed", os.path.join(HERE, "test_core.py")],
                       env=env, cwd=HERE, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"seed tests on the installed files failed:\n{out[-8000:]}"
    m = re.search(r"^(\d+) passed", out, re.M)
    assert m and int(m.group(1)) == 3, f"expected the 3 seed tests to pass:\n{out[-3000:]}"
    assert not re.search(r"\b(failed|error|skipped)\b", out.splitlines()[-1]), out[-3000:]
