"""Issue 13: a real Prometheus (Debian's `prometheus`, scripts/deps.sh)
scrapes a bridge's two pages, as the README's scrape config says: job
ringmq-bridge at /metrics and job ringmq-rules at /metrics/rules (rules'
own counters, asked of rules through the bridge). The test makes a call
on a stack of its own (its counters start at zero) and reads, through
Prometheus's HTTP API (/api/v1/query), the values that call caused: a
bridge counter (two notification sockets) and rules' counters (one call
created, one ended cancelled).

Prometheus runs with its own config file, data dir and listener on a free
loopback port in a temp dir, scraping every second, and is stopped by PID."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import pytest

from ringmq_client import free_port, port_open, stop_process, wait_until
from test_core import ring_and_cancel

PROMETHEUS = os.environ.get("RINGMQ_PROMETHEUS") or shutil.which("prometheus") or "/usr/bin/prometheus"
START_WAIT = 20   # seconds Prometheus may take to be ready
SEEN_WAIT = 10    # seconds a scraped value may take to show (scrape interval 1 s)
STOP_WAIT = 5

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ringmq-bridge
    static_configs:
      - targets: ["127.0.0.1:{port}"]
  - job_name: ringmq-rules
    metrics_path: /metrics/rules
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


class Prometheus:
    def __init__(self, bridge_port):
        self.dir = tempfile.mkdtemp(prefix="ringmq-prom-")
        self.port = free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(CONFIG.format(port=bridge_port))
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen([PROMETHEUS, "--config.file", conf,
                                   "--storage.tsdb.path", os.path.join(self.dir, "data"),
                                   "--web.listen-address", f"127.0.0.1:{self.port}"],
                                  stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir)
        self.base = f"http://127.0.0.1:{self.port}"

    def ready(self):
        assert self.p.poll() is None, f"prometheus exited ({self.p.returncode}):\n{self.tail()}"
        if not port_open("127.0.0.1", self.port):
            return False
        try:
            with urllib.request.urlopen(self.base + "/-/ready", timeout=1) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def query(self, expr):
        """The instant query's result: {labels-as-json: value}."""
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1]) for s in body["data"]["result"]}

    def value(self, expr):
        """The one value of expr, or None while Prometheus has none."""
        res = self.query(expr)
        assert len(res) <= 1, res
        return next(iter(res.values())) if res else None

    def tail(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop(self):
        stop_process(self.p, STOP_WAIT)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def prometheus(fresh_stack):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail(f"Prometheus is not installed ({PROMETHEUS}): apt-get install prometheus (scripts/deps.sh)")
    prom = Prometheus(fresh_stack.http_port)
    try:
        wait_until(prom.ready, START_WAIT, interval=0.2, what="prometheus /-/ready")
        yield prom
    except BaseException:
        print(prom.tail())
        raise
    finally:
        prom.stop()


def test_prometheus_scrapes_the_bridge_and_rules_and_sees_a_call(fresh_stack, prometheus):
    st, prom = fresh_stack, prometheus
    for job in ("ringmq-bridge", "ringmq-rules"):
        wait_until(lambda: prom.value(f'up{{job="{job}"}}') == 1, SEEN_WAIT, interval=0.2,
                   what=f"prometheus: target {job} up")
    assert prom.value('ringmq_rules_calls_total{event="created"}') == 0

    ring_and_cancel(st)   # two notification sockets, one call created and cancelled

    def seen(expr, want):
        wait_until(lambda: prom.value(expr) == want, SEEN_WAIT, interval=0.2,
                   what=f"prometheus: {expr} == {want} (now {prom.value(expr)})")
    seen('ringmq_sockets_total{job="ringmq-bridge",kind="notifications"}', 2)
    seen('ringmq_rules_calls_total{job="ringmq-rules",event="created"}', 1)
    seen('ringmq_rules_calls_ended_total{job="ringmq-rules",reason="cancelled"}', 1)
    seen('ringmq_rules_frames_routed_total{job="ringmq-rules",type="call.end"}', 1)
    assert prom.value('ringmq_rules_calls_total{event="accepted"}') == 0
