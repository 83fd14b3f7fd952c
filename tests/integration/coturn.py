"""Debian's coturn (`turnserver`, package coturn) for the tests, and its
own client tools (`turnutils_uclient`, `turnutils_peer`).

Coturn() starts a TURN server on a free loopback port (UDP and TCP) with
the TURN REST API (use-auth-secret + static-auth-secret, a fresh random
secret also written to a file for the bridge's --turn-secret-file), relays
on 127.0.0.1, no TLS, no CLI, its config, log, pid and SQLite files in its
own temp dir. Loopback peers are allowed (coturn refuses them by default):
every peer of a test is on 127.0.0.1. stop() sends SIGTERM to its PID,
then SIGKILL after a bounded wait. Every wait is bounded.
"""
import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

from ringmq_client import port_open, stop_process

TURNSERVER = os.environ.get("RINGMQ_TURNSERVER") or shutil.which("turnserver") or "/usr/bin/turnserver"
UCLIENT = shutil.which("turnutils_uclient") or "/usr/bin/turnutils_uclient"
PEER = shutil.which("turnutils_peer") or "/usr/bin/turnutils_peer"

START_WAIT = 10.0    # seconds coturn may take to listen
STOP_WAIT = 5.0      # seconds it may take to exit after SIGTERM
CLIENT_WAIT = 30.0   # seconds one turnutils_uclient run may take
REALM = "ringmq.test"


def installed():
    return all(os.access(p, os.X_OK) for p in (TURNSERVER, UCLIENT, PEER))


def free_udp_tcp_port():
    """A loopback port free for both UDP and TCP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free UDP+TCP loopback port")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        return u.getsockname()[1]


def udp_bound(port):
    """Whether some socket of this network namespace is bound to UDP port."""
    want = f":{port:04X}"
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(want) for line in list(f)[1:])


def rest_credential(secret, username):
    """The TURN REST API password of username: base64(HMAC-SHA1(secret, username))."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class Coturn:
    def __init__(self, name="coturn"):
        self.dir = tempfile.mkdtemp(prefix="ringmq-turn-")
        os.chmod(self.dir, 0o755)   # turnserver may drop root: it must reach its dir
        self.secret = secrets.token_hex(24)
        self.secret_file = os.path.join(self.dir, "turn_secret")
        with open(self.secret_file, "w") as f:
            f.write(self.secret + "\n")
        os.chmod(self.secret_file, 0o600)
        self.port = free_udp_tcp_port()
        self.log_path = os.path.join(self.dir, "turnserver.log")
        self.conf_path = os.path.join(self.dir, "turnserver.conf")
        lines = [
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            f"listening-port={self.port}",
            "use-auth-secret",
            f"static-auth-secret={self.secret}",
            f"realm={REALM}",
            "fingerprint",
            "no-tls",
            "no-dtls",
            "no-cli",
            "no-rfc5780",
            "allow-loopback-peers",
            "no-multicast-peers",
            f"userdb={os.path.join(self.dir, 'turndb')}",
            f"log-file={self.log_path}",
            "simple-log",
            f"pidfile={os.path.join(self.dir, 'turnserver.pid')}",
            "verbose",
        ]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.conf_path, 0o600)
        self.uri = f"turn:127.0.0.1:{self.port}"
        self.stun_uri = f"stun:127.0.0.1:{self.port}"
        self._out = open(os.path.join(self.dir, "stdout.log"), "wb")
        self.p = subprocess.Popen([TURNSERVER, "-c", self.conf_path], stdout=self._out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + START_WAIT
        while not port_open("127.0.0.1", self.port):
            if self.p.poll() is not None:
                raise RuntimeError(f"turnserver exited ({self.p.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"turnserver did not listen within {START_WAIT}s:\n{self.tail()}")
            time.sleep(0.05)

    def bridge_args(self, ttl_s=None):
        """The bridge's settings for this server (TURN and STUN on its port)."""
        args = ["--turn-uri", self.uri, "--stun-uri", self.stun_uri, "--turn-secret-file", self.secret_file]
        return args + (["--turn-ttl-s", str(ttl_s)] if ttl_s is not None else [])

    def allocate(self, username, credential, messages=3):
        """turnutils_uclient logs in with username/credential, allocates a UDP
        relay and sends `messages` packets through it to a turnutils_peer on
        loopback, which echoes them back. (ok, packets received, output):
        ok when the client exited 0 and got the echoes."""
        peer_port = free_udp_port()
        peer = subprocess.Popen([PEER, "-L", "127.0.0.1", "-p", str(peer_port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + START_WAIT
            while not udp_bound(peer_port) and peer.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            r = subprocess.run([UCLIENT, "-p", str(self.port), "-u", username, "-w", credential,
                                "-n", str(messages), "-e", "127.0.0.1", "-r", str(peer_port), "127.0.0.1"],
                               capture_output=True, timeout=CLIENT_WAIT)
        finally:
            stop_process(peer, STOP_WAIT)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        got = [int(n) for n in re.findall(r"start_mclient: tot_send_msgs=\d+, tot_recv_msgs=(\d+)", out)]
        received = got[-1] if got else 0
        return r.returncode == 0 and received > 0, received, out

    def tail(self, n=60):
        text = ""
        for path in (self.log_path, os.path.join(self.dir, "stdout.log")):
            try:
                with open(path, "rb") as f:
                    text += f"--- {path}\n" + "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:]) + "\n"
            except OSError:
                pass
        return text

    def stop(self, keep=False):
        stop_process(self.p, STOP_WAIT)
        self._out.close()
        if not keep and not os.environ.get("RINGMQ_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)
