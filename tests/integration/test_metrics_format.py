"""GET /metrics (the bridge's) and GET /metrics/rules (rules' own, asked
of rules through the bridge) are Prometheus text a standard stack reads:
every family has # HELP and # TYPE, and prometheus-client's own parser
(Debian's python3-prometheus-client) takes the whole page, with the types
named. (The values moving with traffic: test_lifecycle.py; a real
Prometheus scraping both: test_prometheus.py.)"""
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from test_core import parties, ring_and_cancel


def page(st, path="/metrics"):
    with urllib.request.urlopen(st.base_url + path, timeout=5) as r:
        assert r.status == 200
        assert r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4")
        return r.read().decode()


def parsed(text):
    """The families of text, once every one has # HELP and # TYPE."""
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    helps = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    assert names and names == helps, (names ^ helps)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for f in families.values():
        assert f.documentation, f"{f.name} has no HELP text"
    return families


def test_every_family_has_help_and_type_and_parses(stack):
    (a, b), conv = parties(stack)
    w = stack.connect_notify(a.id)
    w.send_json({"type": "ping"})
    w.expect("pong")
    families = parsed(page(stack))
    # prometheus-client drops a counter's _total from the family name
    want = {
        "ringmq_sockets_open": "gauge", "ringmq_sockets": "counter", "ringmq_frames_in": "counter",
        "ringmq_frames_out": "counter", "ringmq_published": "counter", "ringmq_errors": "counter",
        "ringmq_closes": "counter", "ringmq_http_requests": "counter", "ringmq_rules_request_seconds": "histogram",
        "ringmq_broker_up": "gauge", "ringmq_broker_reconnects": "counter",
    }
    assert {n: families[n].type for n in want if n in families} == want, sorted(families)
    pings = [s for s in families["ringmq_frames_in"].samples if s.labels.get("type") == "ping"]
    assert pings and pings[0].value >= 1, pings


def test_rules_metrics_every_family_has_help_and_type_and_parses(stack):
    a_n, b_n, cid = ring_and_cancel(stack)
    a_n.send_json({"type": "call.end", "call_id": cid})      # after the end: refused by rules
    assert a_n.expect("error")["code"] == "invalid_state"
    families = parsed(page(stack, "/metrics/rules"))
    assert all(n.startswith("ringmq_rules_") for n in families), sorted(families)
    want = {
        "ringmq_rules_calls": "counter", "ringmq_rules_calls_ended": "counter",
        "ringmq_rules_frames_routed": "counter", "ringmq_rules_frames_refused": "counter",
        "ringmq_rules_store_write_seconds": "histogram", "ringmq_rules_store_failures": "counter",
        "ringmq_rules_store_healthy": "gauge",
    }
    assert {n: families[n].type for n in want if n in families} == want, sorted(families)

    def sample(family, **labels):
        found = [s.value for s in families[family].samples
                 if s.labels == labels and not s.name.endswith("_created")]
        assert len(found) == 1, (family, labels, families[family].samples)
        return found[0]
    assert sample("ringmq_rules_calls", event="created") >= 1
    assert sample("ringmq_rules_calls_ended", reason="cancelled") >= 1
    assert sample("ringmq_rules_frames_routed", type="call.end") >= 1
    assert sample("ringmq_rules_frames_refused", code="invalid_state") >= 1
    writes = [s for s in families["ringmq_rules_store_write_seconds"].samples if s.name.endswith("_count")]
    assert writes and writes[0].value >= 2, writes   # the call's insert and its update at least
