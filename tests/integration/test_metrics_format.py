"""GET /metrics is Prometheus text a standard stack reads: every family has
# HELP and # TYPE, and prometheus-client's own parser (Debian's
python3-prometheus-client) takes the whole page, with the types named.
(The values moving with traffic: test_lifecycle.py.)"""
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from test_core import parties


def page(st):
    with urllib.request.urlopen(st.base_url + "/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers.get("Content-Type", "").startswith("text/plain")
        return r.read().decode()


def test_every_family_has_help_and_type_and_parses(stack):
    (a, b), conv = parties(stack)
    w = stack.connect_notify(a.id)
    w.send_json({"type": "ping"})
    w.expect("pong")
    text = page(stack)
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    helps = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    assert names and names == helps, (names ^ helps)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # prometheus-client drops a counter's _total from the family name
    want = {
        "ringmq_sockets_open": "gauge", "ringmq_sockets": "counter", "ringmq_frames_in": "counter",
        "ringmq_frames_out": "counter", "ringmq_published": "counter", "ringmq_errors": "counter",
        "ringmq_closes": "counter", "ringmq_http_requests": "counter", "ringmq_rules_request_seconds": "histogram",
        "ringmq_broker_up": "gauge", "ringmq_broker_reconnects": "counter",
    }
    assert {n: families[n].type for n in want if n in families} == want, sorted(families)
    for f in families.values():
        assert f.documentation, f"{f.name} has no HELP text"
    pings = [s for s in families["ringmq_frames_in"].samples if s.labels.get("type") == "ping"]
    assert pings and pings[0].value >= 1, pings
