"""Runs the README's read/write splitting example against a master and two replicas
started here (the example's ports are rewritten to the test's)."""
import os
import re

from conftest import ROOT, start_tern
from replication_support import wait_link_up


def readme_block():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("## Replication"):text.index("## Supported commands")]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_read_write_splitting():
    code = readme_block()
    m = start_tern()
    reps = []
    try:
        for _ in range(2):
            reps.append(start_tern(["--replicaof", "127.0.0.1", str(m.port)]))
        for r in reps:
            wait_link_up(r.client())
        ports = {"6379": m.port, "6380": reps[0].port, "6381": reps[1].port}
        code = re.sub(r"port=(\d+)", lambda x: "port=%d" % ports[x.group(1)], code)
        exec(compile(code, "README.md", "exec"), {})
        # Reads really went to the replicas.
        for r in reps:
            assert r.client().info("commandstats").get("cmdstat_get", {}).get("calls", 0) >= 1
    finally:
        for s in reps + [m]:
            s.stop()
