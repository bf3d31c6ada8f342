"""RDB/RESTORE fuzz in CI: 2,000 mutated RESTORE payloads (sanitize-dump-payload yes and no,
CRC recomputed), 250 mutated dump.rdb files through DEBUG RELOAD, 134 through --check-rdb and
20 through a startup load; no crash, no hang, Redis's errors, nothing half-built (~20 s).
RDBFUZZ_SEED / RDBFUZZ_ITERATIONS override the defaults (a long run: RDBFUZZ_ITERATIONS=200000)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdbfuzz  # noqa: E402


def test_rdb_fuzz_server_survives():
    lines = []
    args = ["--iterations", os.environ.get("RDBFUZZ_ITERATIONS", "2000"),
            "--seed", os.environ.get("RDBFUZZ_SEED", "20261206")]
    rc = rdbfuzz.main(args, log=lines.append)
    out = "\n".join(lines)
    print(out)
    assert rc == 0, out
