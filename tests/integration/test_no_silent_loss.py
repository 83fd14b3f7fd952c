"""Issue 18: a frame the bridge accepted is delivered, in order, or its
sender gets an error frame; never silence. The real generator
(bench/loadgen.c, ringmq-loadgen) keeps many numbered offers in flight
across many pairs against the real stack (the repo's mosquitto.conf, its
queue limits included) and accounts for every one: delivered, answered with
an error frame, or silent (neither), and out of order or twice per pair.

Before the fix (bridge and rules asked the broker for libmosquitto's default
Receive Maximum of 20, and mosquitto drops what passes that window plus
max_queued_messages), this load lost frames silently. The figures are read
from the generator's JSON, never from timings: the drain waits for the last
frame with a generous bound and ends as soon as everything arrived."""
import json
import os
import subprocess

import pytest

from conftest import BUILD_DIR, _make_stack

LOADGEN = os.environ.get("RINGMQ_LOADGEN") or os.path.join(BUILD_DIR, "bench", "ringmq-loadgen")
PAIRS = 1000         # caller/receiver pairs, each a chat socket and a notification socket
WINDOW = 5           # numbered offers in flight per pair: 5,000 in all, 10,000 copies toward the bridge
OFFER_BYTES = 4096   # a real SDP's size
RUN_S = 4            # seconds of sending
DRAIN_S = 60         # bound on the wait for the last frames (ends when all arrived)
RUN_BOUND_S = 180    # the whole generator run


OPEN_ARGS = ["--rate", "1000000", "--burst", "1000000", "--send-queue", str(16 << 20),
             "--initiate-per-minute", "60000", "--initiate-burst", "10000"]


@pytest.fixture(scope="module")
def open_stack(request):
    """The per-socket and per-caller limits out of the way (they would answer
    rate_limited: said so, but not the load this test needs)."""
    return _make_stack(request, name="no-silent-loss stack", bridge_args=OPEN_ARGS)


@pytest.fixture(scope="module")
def admission_stack(request):
    """The same, with the bridge's admission bound at one unacknowledged
    publish: most frames of a burst are refused."""
    return _make_stack(request, name="admission stack", bridge_args=OPEN_ARGS + ["--max-unacked", "1"])


def run_generator(stack, tmp_path):
    """The generator's accounting of one run against stack, and its output."""
    if not os.access(LOADGEN, os.X_OK):
        pytest.fail(f"{LOADGEN} is not built (bench/ is part of the build)")
    out = tmp_path / "loss.json"
    argv = [LOADGEN, "throughput", "--port", str(stack.http_port),
            "--jwt-secret-file", os.path.join(stack.dir, "jwt_secret"),
            "--api-key-file", os.path.join(stack.dir, "api_key"),
            "--pairs", str(PAIRS), "--window", str(WINDOW), "--offer-bytes", str(OFFER_BYTES),
            "--duration", str(RUN_S), "--warmup", "0.5", "--drain", str(DRAIN_S),
            "--concurrency", "100", "--connect-timeout", "30", "--out", str(out)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_BOUND_S)
    report = f"{run.stdout}\n{run.stderr[-2000:]}"
    assert out.exists(), f"the generator wrote no result (exit {run.returncode}):\n{report}"
    res = json.loads(out.read_text())
    assert res["failed_sockets"] == 0 and res["closed_early"] == 0, report
    return res["accounting"], report


def check_accounted(acc, report):
    assert acc["sent"] > PAIRS * WINDOW, report
    assert acc["silent"] == 0, f"{acc['silent']} frames neither delivered nor refused:\n{report}"
    assert acc["reordered"] == 0, f"{acc['reordered']} frames out of order within their pair:\n{report}"
    assert acc["duplicates"] == 0, report
    # every error frame is a refusal the sender can act on (retry later)
    assert set(acc["error_codes"]) <= {"unavailable"}, report
    assert acc["delivered"] + acc["errors"] == acc["sent"], report


def test_every_frame_in_flight_is_delivered_in_order_or_refused(open_stack, tmp_path):
    acc, report = run_generator(open_stack, tmp_path)
    check_accounted(acc, report)


def test_past_the_admission_bound_frames_are_refused_unavailable(admission_stack, tmp_path):
    acc, report = run_generator(admission_stack, tmp_path)
    check_accounted(acc, report)
    assert acc["error_codes"].get("unavailable", 0) > 0, f"nothing refused at --max-unacked 1:\n{report}"
    assert acc["delivered"] > 0, report
