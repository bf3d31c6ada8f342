"""Differential test in CI: a seeded random command stream (20,000 commands by default)
to Tern and to a real redis-server, replies compared byte for byte (RESP2 and RESP3).

Environment: DIFFTEST_SEED (default fixed; 'random' for a fresh one), DIFFTEST_COMMANDS,
DIFFTEST_FAMILIES (default: every family Tern fully registers). The full tool with more
options is pytests/differential/difftest.py.
"""
import os
import random
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "differential"))
import difftest  # noqa: E402

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed")


def seed():
    s = os.environ.get("DIFFTEST_SEED", "20251125")
    return random.randrange(1 << 31) if s == "random" else int(s)


def run(args):
    lines = []
    rc = difftest.main(args, log=lines.append)
    out = "\n".join(lines)
    print(out)
    return rc, out


def test_differential_tern_vs_redis():
    n = os.environ.get("DIFFTEST_COMMANDS", "20000")
    fams = os.environ.get("DIFFTEST_FAMILIES", "auto")
    rc, out = run(["--seed", str(seed()), "--commands", n, "--families", fams])
    assert rc == 0, out[-20000:]


def test_generators_are_deterministic_against_redis_itself():
    """Redis vs Redis over every family: whatever differs here is nondeterminism the
    harness does not handle (it would make the Tern run flaky)."""
    rc, out = run(["--self-check", "--families", "all", "--seed", str(seed()), "--commands", "6000"])
    assert rc == 0, out[-20000:]
