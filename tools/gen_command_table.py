#!/usr/bin/env python3
"""Prints (or writes into README.md) the table of commands Tern supports, grouped like
Redis's command groups, with the Redis 7.0 commands not implemented yet.

    python3 tools/gen_command_table.py             # starts the built Tern and a redis-server
    python3 tools/gen_command_table.py --update    # rewrites the block in README.md
    python3 tools/gen_command_table.py --port 6379 # ask a running Tern

Tern's registered commands come from its COMMAND LIST, or, when it has none, from one
harmless probe per command (see pytests/differential/difftest.py). Groups come from the
real redis-server's COMMAND DOCS.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "pytests", "differential"))
sys.path.insert(0, os.path.join(ROOT, "pytests"))
from conftest import start_redis, start_tern  # noqa: E402
from resp_wire import NodeConn  # noqa: E402
import difftest  # noqa: E402

BEGIN, END = "<!-- command-table:begin -->", "<!-- command-table:end -->"
GROUP_ORDER = ["connection", "string", "bitmap", "generic", "list", "hash", "set", "sorted-set", "hyperloglog",
               "geo", "stream", "pubsub", "transactions", "scripting", "server", "cluster", "sentinel"]


def redis_catalog(conn):
    """{name: group} for every command and subcommand of the real redis-server."""
    out = {}
    docs = conn.call(b"COMMAND", b"DOCS")
    xs = docs.val
    for i in range(0, len(xs), 2):
        name = xs[i].val.decode().lower()
        fields = xs[i + 1].val
        d = {fields[j].val: fields[j + 1] for j in range(0, len(fields), 2)}
        group = d[b"group"].val.decode()
        out[name] = group
        sub = d.get(b"subcommands")
        if sub is not None and sub.val:
            for j in range(0, len(sub.val), 2):
                out[sub.val[j].val.decode().lower()] = group
    return out


def build_table(supported, catalog):
    by_group = {}
    for name, group in catalog.items():
        by_group.setdefault(group, ([], []))[0 if name in supported else 1].append(name)
    lines = ["| group | supported by Tern | not yet |", "|---|---|---|"]
    total = sum(1 for n in catalog if n in supported)
    groups = sorted(by_group, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 99, g))
    for g in groups:
        yes, no = (sorted(x) for x in by_group[g])
        fmt = lambda xs: " ".join("`%s`" % x.upper().replace("|", " ") for x in xs) or "-"
        lines.append("| %s | %s | %s |" % (g, fmt(yes), fmt(no)))
    head = "Tern registers %d of the %d Redis 7.0 commands and subcommands." % (total, len(catalog))
    return head + "\n\n" + "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, help="a running Tern")
    ap.add_argument("--update", action="store_true", help="rewrite the table in README.md")
    args = ap.parse_args()
    servers = []
    try:
        servers.append(start_redis())
        rc = NodeConn(servers[-1].port)
        catalog = redis_catalog(rc)
        arities = difftest.command_arities(rc, list(catalog))
        rc.close()
        if args.port:
            port = args.port
        else:
            servers.append(start_tern())
            port = servers[-1].port
        supported = difftest.registered_commands(port, list(catalog), arities, log=lambda *a: None)
        table = build_table(supported, catalog)
    finally:
        for s in servers:
            s.stop()
    if args.update:
        path = os.path.join(ROOT, "README.md")
        text = open(path).read()
        new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: BEGIN + "\n" + table + END, text,
                     flags=re.S)
        open(path, "w").write(new)
        print("README.md updated")
    else:
        print(table)


if __name__ == "__main__":
    main()
