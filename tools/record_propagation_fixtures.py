#!/usr/bin/env python3
"""Records what redis-server 7.0 sends to a replica for each propagation scenario and writes
Tests/Fixtures/propagation.json, the expected streams the Swift unit tests
(PropagationStreamTests) assert against. pytests/integration/test_propagation_stream.py
re-runs the scenarios on redis-server and fails if the committed fixture drifted.

Usage: tools/record_propagation_fixtures.py [path-to-redis-server]
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "pytests"))
from conftest import free_port  # noqa: E402
from propagation_stream import run_on_redis  # noqa: E402

FIXTURE = os.path.join(ROOT, "Tests", "Fixtures", "propagation.json")

EXPIRED_K = [["SET", "k", "v", "PX", "1"]]
EXPIRED_AB = [["SET", "a", "v", "PX", "1"], ["SET", "b", "v", "PX", "1"]]
WAIT_EXPIRY = {"sleep_ms": 20}
RESTORE_PAYLOAD = '\x00\x06v11553\n\x008"O#7k.$'
INTSET_10_59 = [["SADD", "s"] + [str(i) for i in range(10, 60)]]


def step(cmd, c="a", **kw):
    d = {"c": c, "cmd": cmd}
    d.update(kw)
    return d


SCENARIOS = [
    # Rewrites a command makes of itself.
    {"name": "set_ex", "steps": [step(["SET", "k", "v", "EX", "100"])], "mask": {"SET": [4]}},
    {"name": "incrbyfloat", "setup": [["SET", "f", "10.5"]], "steps": [step(["INCRBYFLOAT", "f", "0.1"])]},
    {"name": "spop_count", "setup": INTSET_10_59, "steps": [step(["SPOP", "s", "3"])], "mask": {"SREM": [2]}},
    {"name": "spop_count_most", "setup": INTSET_10_59, "steps": [step(["SPOP", "s", "45"])], "mask": {"SREM": [2]}},
    {"name": "spop_count_all", "setup": INTSET_10_59, "steps": [step(["SPOP", "s", "50"])]},
    {"name": "select_12", "steps": [step(["SELECT", "12"]), step(["SET", "k", "v"])]},
    # Lazy expiry: the DEL goes before the effect of the command that found the key.
    {"name": "lazy_expired_get", "setup": EXPIRED_K, "steps": [WAIT_EXPIRY, step(["GET", "k"])]},
    {"name": "lazy_expired_unlink", "setup": EXPIRED_K + [["CONFIG", "SET", "lazyfree-lazy-expire", "yes"]],
     "steps": [WAIT_EXPIRY, step(["GET", "k"])]},
    {"name": "set_on_expired_key", "setup": EXPIRED_K, "steps": [WAIT_EXPIRY, step(["SET", "k", "v2"])]},
    {"name": "del_expired_and_live", "setup": EXPIRED_AB + [["SET", "c", "1"]],
     "steps": [WAIT_EXPIRY, step(["DEL", "a", "c"])]},
    {"name": "mget_two_expired", "setup": EXPIRED_AB, "steps": [WAIT_EXPIRY, step(["MGET", "a", "b"])]},
    # Touches arbitrary keys: expire DELs are not wrapped.
    {"name": "scan_expired", "setup": EXPIRED_AB, "steps": [WAIT_EXPIRY, step(["SCAN", "0"])], "mask": {"DEL": [1]}},
    {"name": "randomkey_expired", "setup": EXPIRED_AB, "steps": [WAIT_EXPIRY, step(["RANDOMKEY"])],
     "mask": {"DEL": [1]}},
    # Transactions.
    {"name": "exec_no_write", "steps": [step(["MULTI"]), step(["GET", "a"]), step(["EXEC"])]},
    {"name": "exec_one_write", "steps": [step(["MULTI"]), step(["SET", "a", "1"]), step(["GET", "a"]), step(["EXEC"])]},
    {"name": "exec_two_writes", "steps": [step(["MULTI"]), step(["SET", "a", "1"]), step(["SET", "b", "2"]), step(["EXEC"])]},
    {"name": "exec_select", "steps": [step(["SELECT", "3"]), step(["MULTI"]), step(["SET", "a", "1"]),
                                      step(["SELECT", "2"]), step(["SET", "b", "2"]), step(["EXEC"])]},
    {"name": "multi_expired_read", "setup": EXPIRED_K,
     "steps": [WAIT_EXPIRY, step(["MULTI"]), step(["GET", "k"]), step(["EXEC"])]},
    {"name": "multi_expired_read_and_write", "setup": EXPIRED_K,
     "steps": [WAIT_EXPIRY, step(["MULTI"]), step(["GET", "k"]), step(["SET", "x", "1"]), step(["EXEC"])]},
    {"name": "multi_scan_and_write", "setup": EXPIRED_AB,
     "steps": [WAIT_EXPIRY, step(["MULTI"]), step(["SCAN", "0"]), step(["SET", "x", "1"]), step(["EXEC"])],
     "mask": {"DEL": [1]}},
    # Other rewrites (checked against redis-server like the rest).
    {"name": "set_get", "setup": [["SET", "k", "old"]], "steps": [step(["SET", "k", "v", "GET"])]},
    {"name": "set_exat", "steps": [step(["SET", "k", "v", "EXAT", "4102444800"])]},
    {"name": "setex", "steps": [step(["SETEX", "k", "100", "v"])], "mask": {"SET": [4]}},
    {"name": "getex_persist", "setup": [["SET", "k", "v", "EX", "100"]], "steps": [step(["GETEX", "k", "PERSIST"])]},
    {"name": "getdel", "setup": [["SET", "k", "v"]], "steps": [step(["GETDEL", "k"])]},
    {"name": "getset", "setup": [["SET", "k", "v"]], "steps": [step(["GETSET", "k", "w"])]},
    {"name": "expire_relative", "setup": [["SET", "k", "v"]], "steps": [step(["EXPIRE", "k", "100"])],
     "mask": {"PEXPIREAT": [2]}},
    {"name": "expire_past", "setup": [["SET", "k", "v"]], "steps": [step(["EXPIRE", "k", "-1"])]},
    {"name": "hincrbyfloat", "steps": [step(["HINCRBYFLOAT", "h", "f", "1.5"])]},
    {"name": "lpop_count", "setup": [["RPUSH", "l", "a", "b", "c"]], "steps": [step(["LPOP", "l", "2"])]},
    {"name": "lmove", "setup": [["RPUSH", "l", "a", "b"]], "steps": [step(["LMOVE", "l", "m", "LEFT", "RIGHT"])]},
    {"name": "rpoplpush", "setup": [["RPUSH", "l", "a", "b"]], "steps": [step(["RPOPLPUSH", "l", "m"])]},
    {"name": "lmpop", "setup": [["RPUSH", "l", "a", "b"]], "steps": [step(["LMPOP", "1", "l", "RIGHT", "COUNT", "5"])]},
    {"name": "zpopmin", "setup": [["ZADD", "z", "1", "a", "2", "b"]], "steps": [step(["ZPOPMIN", "z"])]},
    {"name": "zmpop", "setup": [["ZADD", "z", "1", "a", "2", "b"]], "steps": [step(["ZMPOP", "1", "z", "MIN", "COUNT", "5"])]},
    {"name": "blpop_immediate", "setup": [["RPUSH", "l", "a"]], "steps": [step(["BLPOP", "l", "0"])]},
    {"name": "blmove_immediate", "setup": [["RPUSH", "l", "a"]], "steps": [step(["BLMOVE", "l", "m", "RIGHT", "LEFT", "0"])]},
    {"name": "bzpopmax_immediate", "setup": [["ZADD", "z", "1", "a"]], "steps": [step(["BZPOPMAX", "z", "0"])]},
    {"name": "spop_single", "setup": INTSET_10_59, "steps": [step(["SPOP", "s"])], "mask": {"SREM": [2]}},
    {"name": "incr_and_noop", "steps": [step(["INCR", "n"]), step(["DEL", "nope"]), step(["EXPIRE", "nope", "1"])]},
    {"name": "flushall", "setup": [["SET", "k", "v"]], "steps": [step(["FLUSHALL"])]},
    # Nothing to remove, no change counted, and still propagated (forceCommandPropagation).
    {"name": "flush_empty", "steps": [step(["FLUSHDB"]), step(["FLUSHALL"]), step(["SELECT", "5"]), step(["FLUSHDB", "ASYNC"])]},
    {"name": "move_and_swapdb", "setup": [["SET", "k", "v"]], "steps": [step(["MOVE", "k", "1"]), step(["SWAPDB", "0", "1"])]},
    # Blocked clients served by another client's write: a unit of their own, after it.
    {"name": "blmove_served_by_lpush",
     "steps": [step(["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"], c="b", blocks=True),
               step(["LPUSH", "src", "a", "b"])]},
    {"name": "blmove_served_dst_expired", "setup": [["SET", "dst", "x", "PX", "1"]],
     "steps": [WAIT_EXPIRY, step(["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"], c="b", blocks=True),
               step(["LPUSH", "src", "a"])]},
    {"name": "blpop_two_served_by_rpush",
     "steps": [step(["BLPOP", "src", "0"], c="b", blocks=True), step(["BLPOP", "src", "0"], c="c", blocks=True),
               step(["RPUSH", "src", "a", "b", "c"])]},
    {"name": "blpop_served_by_exec",
     "steps": [step(["BLPOP", "src", "0"], c="b", blocks=True), step(["MULTI"]), step(["RPUSH", "src", "a"]),
               step(["SET", "x", "1"]), step(["EXEC"])]},
    {"name": "blmpop_served",
     "steps": [step(["BLMPOP", "0", "1", "src", "LEFT", "COUNT", "5"], c="b", blocks=True),
               step(["RPUSH", "src", "a", "b", "c"])]},
    {"name": "bzpopmin_served",
     "steps": [step(["BZPOPMIN", "z", "0"], c="b", blocks=True), step(["ZADD", "z", "1", "a", "2", "b"])]},
    {"name": "bzmpop_served",
     "steps": [step(["BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"], c="b", blocks=True),
               step(["ZADD", "z", "1", "a", "2", "b"])]},
    # RESTORE: a relative TTL goes out absolute with ABSTTL; an already expired TTL with
    # REPLACE deletes the old key and propagates DEL. The payload (DUMP of the string
    # "v11553") was picked so that every byte is ASCII: scenario arguments are text.
    {"name": "restore_relative_ttl", "steps": [step(["RESTORE", "k", "100000", RESTORE_PAYLOAD])],
     "mask": {"RESTORE": [2]}},
    {"name": "restore_absttl_idletime", "steps": [step(["RESTORE", "k", "4102444800000", RESTORE_PAYLOAD,
                                                        "ABSTTL", "IDLETIME", "10"])]},
    {"name": "restore_no_ttl_replace", "setup": [["SET", "k", "v"]],
     "steps": [step(["RESTORE", "k", "0", RESTORE_PAYLOAD, "REPLACE"])]},
    {"name": "restore_replace_expired", "setup": [["SET", "k", "v"]],
     "steps": [step(["RESTORE", "k", "1", RESTORE_PAYLOAD, "ABSTTL", "REPLACE"])]},
    {"name": "restore_expired_new_key", "steps": [step(["RESTORE", "k", "1", RESTORE_PAYLOAD, "ABSTTL"]),
                                                  step(["SET", "x", "1"])]},
]


def start_redis(exe):
    port = free_port()
    d = tempfile.mkdtemp(prefix="tern-prop-")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0", "--dir", d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port, d
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def version(exe):
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else shutil.which("redis-server")
    proc, port, d = start_redis(exe)
    try:
        out = []
        for sc in SCENARIOS:
            stream = run_on_redis(port, sc)
            rec = dict(sc)
            rec["stream"] = stream.decode("latin-1")
            out.append(rec)
            print("%-30s %5d bytes" % (sc["name"], len(stream)))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)
    doc = {
        "recorded_from": version(exe),
        "note": "Written by tools/record_propagation_fixtures.py: each stream is what the server sent "
                "to a SYNC replica (PINGs removed), with the 'mask' arguments replaced by '?' bytes.",
        "scenarios": out,
    }
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
