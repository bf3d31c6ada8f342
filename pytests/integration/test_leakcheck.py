"""The short leak check: tools/leakcheck runs the leak workload at a small scale with the
server under valgrind and fails on any definite or indirect loss the workload causes."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import tern_binary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed")
def test_short_leakcheck_is_clean():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "leakcheck"), "--bin", tern_binary(),
                          "--scale", "0.05", "--rounds", "2"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "no leaks" in out.stdout
