#!/usr/bin/python3
"""bench/summarize.py OUTDIR: reads the JSON results bench/run wrote into
OUTDIR (<system>-<scenario>.json), prints the side-by-side table with
ratios and the issue 7 targets, and writes it as Markdown to
OUTDIR/table.md. Standard library only."""
import json
import os
import sys

SYSTEMS = [("mosquitto", "raw mosquitto (floor)"), ("ringmq", "ringmq"), ("channels", "Django Channels")]


def load(outdir):
    res = {}
    for name in os.listdir(outdir):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(outdir, name), encoding="utf-8") as f:
                res[name[:-5]] = json.load(f)
        except (OSError, ValueError) as e:
            print(f"summarize: skipping {name}: {e}", file=sys.stderr)
    return res


def get(res, system, key, *path):
    d = res.get(f"{system}-{key}")
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def fmt(v, unit="", digits=0):
    if v is None:
        return "n/a"
    if isinstance(v, float) and digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def ms(us):
    return None if us is None else us / 1000.0


def lat_cell(res, system, key):
    r = res.get(f"{system}-{key}")
    if not r:
        return "n/a"
    lat = r.get("latency", {})
    lost = r.get("lost", 0)
    if not r.get("sent"):
        return f"did not start ({r.get('failed_sockets', 0)} sockets failed or timed out)"
    if overloaded(r):
        return (f"overloaded: {r.get('received', 0):,} of {r.get('sent', 0):,} arrived "
                f"within {DRAIN_S} s of the end (p99 > {DRAIN_S} s)")
    cell = f"{ms(lat['p50_us']):.2f} / {ms(lat['p99_us']):.2f} / {ms(lat['p999_us']):.2f}"
    if lost:
        cell += f" (lost {lost})"
    return cell


DRAIN_S = 3  # ringmq-loadgen waits this long after the last send


def overloaded(r):
    """More than 1% of the measured frames had not arrived DRAIN_S seconds
    after sending stopped: the system did not sustain the rate, and its p99
    is at least DRAIN_S seconds."""
    return r.get("sent", 0) > 0 and r.get("lost", 0) > 0.01 * r.get("sent", 0)


def p99_of(res, system, key):
    r = res.get(f"{system}-{key}")
    if not r:
        return None
    if overloaded(r):
        return DRAIN_S * 1e6
    return (r.get("latency") or {}).get("p99_us")


def cpu_cell(res, system, key):
    cpu = get(res, system, key, "cpu_pct") or {}
    return ", ".join(f"{k} {v:.0f}%" for k, v in cpu.items()) or "n/a"


def ratio(a, b, invert=False):
    if not a or not b:
        return "n/a"
    r = b / a if invert else a / b
    return f"{r:,.1f}x"


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    res = load(outdir)
    rows = []
    hdr = ["scenario"] + [label for _, label in SYSTEMS] + ["ringmq vs floor", "ringmq vs Channels"]
    rows.append(hdr)

    def p99(system, key):
        return p99_of(res, system, key)

    def lower(system, key):
        r = res.get(f"{system}-{key}")
        return ">= " if r and overloaded(r) else ""

    def lat_ratio(a, b, invert):
        ra, rb = res.get(f"{a}-{key}"), res.get(f"{b}-{key}")
        if ra and rb and overloaded(ra) and overloaded(rb):
            return "n/a (both overloaded)"
        if ra and overloaded(ra):
            return ("<= " if invert else ">= ") + ratio(p99(a, key), p99(b, key), invert)
        if rb and overloaded(rb):
            return (">= " if invert else "<= ") + ratio(p99(a, key), p99(b, key), invert)
        return ratio(p99(a, key), p99(b, key), invert)

    for key, title in (("latency100", "1. routed offer p50/p99/p99.9 (ms) at 100/s"),
                       ("latency1k", "1. routed offer p50/p99/p99.9 (ms) at 1k/s"),
                       ("latency10k", "1. routed offer p50/p99/p99.9 (ms) at 10k/s")):
        rows.append([title] + [lat_cell(res, s, key) for s, _ in SYSTEMS]
                    + [lat_ratio("ringmq", "mosquitto", False) + " p99",
                       lat_ratio("ringmq", "channels", True) + " better p99"])
    tput = {s: get(res, s, "throughput", "frames_per_s") for s, _ in SYSTEMS}
    rows.append(["2. saturated routed frames/s"] + [fmt(tput[s]) for s, _ in SYSTEMS]
                + [ratio(tput["ringmq"], tput["mosquitto"]) if tput["ringmq"] and tput["mosquitto"] else "n/a",
                   ratio(tput["ringmq"], tput["channels"])])
    rows.append(["2. CPU during saturation"] + [cpu_cell(res, s, "throughput") for s, _ in SYSTEMS] + ["", ""])

    def idle_cell(system):
        r = res.get(f"{system}-idle")
        if not r:
            return "n/a"
        parts = [f"{r.get('acked', 0):,} held"]
        for proc, v in (r.get("rss") or {}).items():
            if proc.startswith("loadgen"):
                continue
            parts.append(f"{proc} {v['bytes_per_socket'] / 1024:.1f} KiB")
        return "; ".join(parts)

    rows.append(["3. idle sockets, RSS per socket"] + [idle_cell(s) for s, _ in SYSTEMS] + ["", ""])

    def storm_cell(system):
        r = res.get(f"{system}-storm")
        if not r:
            return "n/a"
        return f"{r.get('connects_per_s', 0):,.0f}/s, p99 {ms(r['connect_to_ack']['p99_us']):.1f} ms"

    cps = {s: get(res, s, "storm", "connects_per_s") for s, _ in SYSTEMS}
    rows.append(["4. connect storm (to ack)"] + [storm_cell(s) for s, _ in SYSTEMS]
                + [ratio(cps["ringmq"], cps["mosquitto"]), ratio(cps["ringmq"], cps["channels"])])

    def init_cell(system):
        r = res.get(f"{system}-initiate")
        if not r:
            return "n/a"
        lat = r["initiate_to_incoming"]
        if not lat.get("n"):
            return "no call.incoming"
        return f"{ms(lat['p50_us']):.2f} / {ms(lat['p99_us']):.2f}"

    ip99 = {s: get(res, s, "initiate", "initiate_to_incoming", "p99_us") for s, _ in SYSTEMS}
    rows.append(["5. initiate -> call.incoming p50/p99 (ms)"] + [init_cell(s) for s, _ in SYSTEMS]
                + ["", ratio(ip99["ringmq"], ip99["channels"], invert=True) + " better p99"])

    # targets
    t = []

    def target(name, ok, detail):
        t.append((name, "met" if ok else ("missed" if ok is not None else "not measured"), detail))

    r1 = p99("ringmq", "latency1k")
    c1 = p99("channels", "latency1k")
    target("routed offer p99 <= 1 ms at 1k/s", None if r1 is None else r1 <= 1000, f"{fmt(ms(r1), ' ms', 2)}")
    target("... and >= 20x better than Channels", None if not (r1 and c1) else c1 / r1 >= 20,
           (lower("channels", "latency1k") + ratio(r1, c1, invert=True)) if r1 and c1 else "n/a")
    r100, c100 = p99("ringmq", "latency100"), p99("channels", "latency100")
    if r100 and c100:
        t.append(("(same at 100/s, a rate Channels sustains)", "met" if c100 / r100 >= 20 else "missed",
                  lower("channels", "latency100") + ratio(r100, c100, invert=True)))
    target("throughput >= 40% of raw mosquitto", None if not (tput["ringmq"] and tput["mosquitto"]) else
           tput["ringmq"] / tput["mosquitto"] >= 0.4,
           f"{100 * tput['ringmq'] / tput['mosquitto']:.0f}%" if tput["ringmq"] and tput["mosquitto"] else "n/a")
    target("throughput >= 50x Channels", None if not (tput["ringmq"] and tput["channels"]) else
           tput["ringmq"] / tput["channels"] >= 50, ratio(tput["ringmq"], tput["channels"]))
    idle = res.get("ringmq-idle")
    if idle:
        per = (idle.get("rss") or {}).get("bridge", {}).get("bytes_per_socket")
        target("one bridge holds ~19k idle sockets at <= 4 KB RSS each",
               idle.get("acked", 0) >= 18500 and per is not None and per <= 4096,
               f"{idle.get('acked', 0):,} sockets, {fmt(per, ' B')} per socket")
    else:
        target("one bridge holds ~19k idle sockets at <= 4 KB RSS each", None, "n/a")
    st = res.get("ringmq-storm")
    if st:
        p = ms(st["connect_to_ack"]["p99_us"])
        target(">= 5k connects/s with connection.ack p99 <= 50 ms",
               st.get("connects_per_s", 0) >= 5000 and p <= 50, f"{st.get('connects_per_s', 0):,.0f}/s, p99 {p:.1f} ms")
    else:
        target(">= 5k connects/s with connection.ack p99 <= 50 ms", None, "n/a")
    target("initiate -> call.incoming p99 <= 2 ms", None if ip99["ringmq"] is None else ip99["ringmq"] <= 2000,
           fmt(ms(ip99["ringmq"]), " ms", 2))

    md = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    md += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    md += ["", "| issue 7 target | result | measured |", "|---|---|---|"]
    md += [f"| {a} | {b} | {c} |" for a, b, c in t]
    text = "\n".join(md) + "\n"
    with open(os.path.join(outdir, "table.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
