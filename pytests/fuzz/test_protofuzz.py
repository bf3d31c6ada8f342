"""Protocol fuzz in CI: 50 connections x 5 s of random/mutated RESP against Tern; the
server must keep answering a control client and still work afterwards.
PROTOFUZZ_SEED / PROTOFUZZ_SECONDS / PROTOFUZZ_CONNECTIONS override the defaults."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protofuzz  # noqa: E402


def test_protocol_fuzz_server_survives():
    lines = []
    args = ["--seconds", os.environ.get("PROTOFUZZ_SECONDS", "5"),
            "--connections", os.environ.get("PROTOFUZZ_CONNECTIONS", "50")]
    if os.environ.get("PROTOFUZZ_SEED"):
        args += ["--seed", os.environ["PROTOFUZZ_SEED"]]
    rc = protofuzz.main(args, log=lines.append)
    out = "\n".join(lines)
    print(out)
    assert rc == 0, out
