#!/usr/bin/env python3
"""Memory of hashes, sets and sorted sets: Tern against redis-server, measured in the same run.

Each scenario starts a fresh tern-server and a fresh redis-server, loads the same data
through pipelines, and reports the growth of each process's resident memory (VmRSS) plus
Redis's own used_memory growth. Ratios below 1.0 mean Tern is leaner. Not a test: it
never fails on numbers.

    python3 bench/collections_memory.py [--tern PATH]
"""
import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(argv, port):
    d = tempfile.mkdtemp(prefix="tern-bench-")
    proc = subprocess.Popen(argv + ["--port", str(port), "--bind", "127.0.0.1", "--dir", d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, d
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start: %r" % argv)


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def heap(pid):
    """Tern's malloc'd bytes in use (mallinfo2 via the tern_malloc_allocated shim), read
    with gdb so the server needs no INFO/DEBUG support; None when gdb is unavailable."""
    if not shutil.which("gdb"):
        return None
    out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "print (unsigned long)tern_malloc_allocated()"],
                         capture_output=True, text=True, timeout=120).stdout
    for line in out.splitlines():
        if line.startswith("$1 = "):
            return int(line.split("=")[1])
    return None


def load(client, commands):
    pipe = client.pipeline(transaction=False)
    for i, cmd in enumerate(commands):
        pipe.execute_command(*cmd)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def scenario_hash_small(rnd):
    for i in range(1000):
        args = []
        for j in range(100):
            args += ["field:%d" % j, "value:%d" % rnd.randrange(100000)]
        yield ["HSET", "hash:%d" % i] + args


def scenario_hash_big(rnd):
    for i in range(100):
        for j0 in range(0, 10000, 500):
            args = []
            for j in range(j0, j0 + 500):
                args += ["field:%d" % j, "value:%d" % rnd.randrange(100000)]
            yield ["HSET", "bighash:%d" % i] + args


def scenario_set_small_ints(rnd):
    for i in range(1000):
        yield ["SADD", "set:%d" % i] + [str(j) for j in range(100)]


def scenario_set_random_ints(rnd):
    for i in range(1000):
        yield ["SADD", "set:%d" % i] + [str(rnd.randrange(10 ** 9)) for _ in range(100)]


def scenario_zset_int_scores(rnd):
    for i in range(1000):
        args = []
        for j in range(100):
            args += [str(rnd.randrange(1000)), "member:%d" % j]
        yield ["ZADD", "zset:%d" % i] + args


def scenario_zset_float_scores(rnd):
    for i in range(1000):
        args = []
        for j in range(100):
            args += [repr(rnd.random() * 1000), "member:%d" % j]
        yield ["ZADD", "zset:%d" % i] + args


def scenario_zset_big(rnd):
    for i in range(10):
        for j0 in range(0, 100000, 1000):
            args = []
            for j in range(j0, j0 + 1000):
                args += [repr(rnd.random() * 1000), "member:%d" % j]
            yield ["ZADD", "bigzset:%d" % i] + args


def scenario_set_big_strings(rnd):
    for i in range(100):
        for j0 in range(0, 10000, 1000):
            yield ["SADD", "bigset:%d" % i] + ["member:%d" % j for j in range(j0, j0 + 1000)]


SCENARIOS = [
    ("1,000 hashes x 100 small fields", scenario_hash_small, True),
    ("100 hashes x 10,000 fields", scenario_hash_big, True),
    ("1,000 sets x 100 integers 0..99", scenario_set_small_ints, True),
    ("1,000 sets x 100 random integers < 1e9", scenario_set_random_ints, True),
    ("1,000 zsets x 100 members (int scores)", scenario_zset_int_scores, True),
    ("1,000 zsets x 100 members (float scores)", scenario_zset_float_scores, False),
    ("10 zsets x 100,000 members", scenario_zset_big, False),
    ("100 sets x 10,000 strings", scenario_set_big_strings, False),
]


def run(tern_bin, only_targets):
    redis_bin = shutil.which("redis-server")
    print("%-42s %11s %11s %11s %11s %8s %8s" % ("scenario", "tern heap+", "redis used+", "tern RSS+", "redis RSS+",
                                                 "heap/used", "RSS/RSS"))
    for name, gen, target in SCENARIOS:
        if only_targets and not target:
            continue
        tp, rp = free_port(), free_port()
        tproc, td = start([tern_bin], tp)
        rproc, rd = start([redis_bin, "--save", "", "--appendonly", "no"], rp)
        try:
            tc = redis.Redis(port=tp)
            rc = redis.Redis(port=rp)
            # Warm-up: the same traffic once, then FLUSHALL, so that connection buffers and
            # allocator caches exist before the baseline is taken on both servers.
            for c in (tc, rc):
                load(c, gen(random.Random(2)))
                c.flushall()
            time.sleep(0.3)
            t0, r0 = rss(tproc.pid), rss(rproc.pid)
            h0 = heap(tproc.pid)
            u0 = rc.info("memory")["used_memory"]
            load(tc, gen(random.Random(1)))
            load(rc, gen(random.Random(1)))
            time.sleep(0.3)
            t1, r1 = rss(tproc.pid), rss(rproc.pid)
            h1 = heap(tproc.pid)
            u1 = rc.info("memory")["used_memory"]
            dt, dr, du = t1 - t0, r1 - r0, u1 - u0
            dh = (h1 - h0) if h0 is not None and h1 is not None else 0
            print("%-42s %11d %11d %11d %11d %8.3f %8.3f" % (name, dh, du, dt, dr, dh / max(du, 1), dt / max(dr, 1)))
            sys.stdout.flush()
        finally:
            for p in (tproc, rproc):
                p.terminate()
                p.wait()
            shutil.rmtree(td, ignore_errors=True)
            shutil.rmtree(rd, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tern", default=os.path.join(ROOT, ".build", "release", "tern-server"))
    ap.add_argument("--targets", action="store_true", help="only the four target scenarios")
    a = ap.parse_args()
    run(a.tern, a.targets)
