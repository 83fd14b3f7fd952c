"""Issue 13: health that tells the truth. GET /livez (the bridge's loop
answers), GET /readyz and GET /healthz (broker link up, rules answering and
its store writable) against the real parts, with rules' SQLite on a small
tmpfs of the test's own that the test fills to the last byte: /healthz and
/readyz go 503 "store": "failing" while /livez stays 200, and all comes
back (calls included) once the filler is gone. And /readyz is 503 while the
broker is stopped.

The tmpfs needs mount(2) (root, and a container that allows it); without
it the disk test is skipped, saying why. It is unmounted in teardown."""
import errno
import os
import subprocess
import tempfile

import pytest

from conftest import _make_stack
from ringmq_client import wait_until
from test_core import ring_and_cancel

TMPFS_SIZE = "4m"
FILL_CHUNK = 64 * 1024
WAIT = 10   # seconds any change of health may take (rules probes at most once a second)


def get(st, path):
    return st.http.request("GET", path)


@pytest.fixture
def tmpfs_dir():
    d = tempfile.mkdtemp(prefix="ringmq-health-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(d)
        pytest.skip(f"cannot mount a tmpfs for rules' database here (needs root and mount permission): "
                    f"{r.stderr.strip() or r.returncode}")
    yield d
    subprocess.run(["umount", "-l", d], check=False)
    os.rmdir(d)


@pytest.fixture
def disk_stack(request, tmpfs_dir):
    return _make_stack(request, rules_args=("--db", os.path.join(tmpfs_dir, "ringmq.db")), name="tmpfs stack")


def fill(path):
    """Writes path until the file system is full; the bytes written."""
    n = 0
    chunk = b"\0" * FILL_CHUNK
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                break
        while True:   # the last partial page
            try:
                if not f.write(b"\0" * 512):
                    break
                n += 512
            except OSError:
                break
    return n


def a_call_works(st):
    for w in ring_and_cancel(st)[:2]:
        w.close()


def test_a_full_disk_makes_readyz_and_healthz_503_and_livez_stays_200(disk_stack, tmpfs_dir):
    st = disk_stack
    for path in ("/livez", "/readyz", "/healthz"):
        res = get(st, path)
        assert res.status == 200, (path, res)
    body = get(st, "/healthz").body
    assert {k: body[k] for k in ("status", "broker", "rules", "store")} == \
        {"status": "ok", "broker": "up", "rules": "up", "store": "ok"}, body
    assert body["rules_instance"].endswith(f"/{st.rules.p.pid}") and body["store_kind"] == "sqlite", body
    a_call_works(st)

    filler = os.path.join(tmpfs_dir, "filler")
    assert fill(filler) > 0
    res = wait_until(lambda: (lambda r: r if r.status == 503 else None)(get(st, "/healthz")), WAIT,
                     what="/healthz 503 with the store's disk full")
    assert res.body["status"] == "unavailable" and res.body["store"] == "failing", res.body
    assert res.body["broker"] == "up" and res.body["rules"] == "up", res.body
    res = get(st, "/readyz")
    assert res.status == 503 and res.body["store"] == "failing", res
    res = get(st, "/livez")
    assert res.status == 200 and res.body == {"status": "ok"}, res
    rules_text = st.http.request("GET", "/metrics/rules").raw.decode()
    assert "ringmq_rules_store_healthy 0\n" in rules_text, rules_text

    os.unlink(filler)
    wait_until(lambda: get(st, "/readyz").status == 200, WAIT, what="/readyz 200 once the disk has room")
    res = get(st, "/healthz")
    assert res.status == 200 and res.body["store"] == "ok", res
    assert get(st, "/livez").status == 200
    a_call_works(st)


def test_readyz_503_while_the_broker_is_stopped_and_livez_200(fresh_stack):
    st = fresh_stack
    assert get(st, "/readyz").status == 200
    st.stop_broker()
    res = wait_until(lambda: (lambda r: r if r.status == 503 else None)(get(st, "/readyz")), WAIT,
                     what="/readyz 503 without the broker")
    assert res.body["broker"] == "down" and res.body["status"] == "unavailable", res.body
    assert get(st, "/livez").status == 200
    st.start_broker()
    wait_until(lambda: get(st, "/readyz").status == 200, 2 * WAIT, what="/readyz 200 with the broker back")
    assert get(st, "/livez").status == 200
