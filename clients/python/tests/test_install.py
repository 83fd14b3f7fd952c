"""pip install of clients/python into a fresh venv, offline."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)


def test_offline_pip_install_into_a_fresh_venv():
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    probe = subprocess.run([py, "-c", "import venv, ensurepip"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("python3-venv (venv/ensurepip) is not installed for " + py)
    tmp = tempfile.mkdtemp(prefix="ringmq-venv-")
    try:
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PYTHONPATH", None)
        r = subprocess.run([py, "-m", "venv", "--system-site-packages", tmp], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        pip = os.path.join(tmp, "bin", "pip")
        if not os.path.exists(pip):
            pytest.skip("the venv has no pip (ensurepip missing)")
        # a copy, so no build/ or egg-info lands in the repo
        src = os.path.join(tmp, "src")
        shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"))
        r = subprocess.run([pip, "install", "--no-index", "--no-build-isolation", src], capture_output=True,
                           text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        code = ("import ringmq, ringmq.webhooks, ringmq.tokens, ringmq.contrib.django, sys; "
                "assert ringmq.__file__.startswith(sys.prefix), ringmq.__file__; "
                "print(ringmq.__version__, ringmq.__file__)")
        r = subprocess.run([os.path.join(tmp, "bin", "python"), "-c", code], capture_output=True, text=True,
                           env=env, cwd=tmp)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("0.1.0 ")
        listed = subprocess.run([pip, "show", "-f", "ringmq"], capture_output=True, text=True, env=env).stdout
        assert "ringmq_sync.py" in listed, listed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
