"""Leak check by rounds: one server runs the same mixed workload several times (every type,
expiry, eviction, big values, blocked clients, pub/sub, tracking, transactions, connection
churn), each round ending with FLUSHALL and MEMORY PURGE. The first round grows what is
allocated once (command statistics, client pools, table arrays); after it, used_memory
and RSS must come back to the same level every round. A leak of even a few bytes per
command shows up as steady growth across rounds."""
import random
import socket
import threading
import time

import pytest
import redis

from conftest import start_tern

ROUNDS = 4


def workload(srv, rnd, scale=1.0):
    """One round; `scale` shrinks the counts (tools/leakcheck runs it under valgrind)."""
    def n(x):
        return max(1, int(x * scale))
    r = srv.client()
    rng = random.Random(rnd)
    p = r.pipeline(transaction=False)
    # Every type, small and big encodings.
    for i in range(n(3000)):
        p.set("s:%d" % i, "v" * rng.randint(1, 300))
        p.set("n:%d" % i, i)
        if i % 500 == 499:
            p.execute()
    p.execute()
    for i in range(n(50)):
        p.rpush("l:%d" % i, *["e%d" % j for j in range(rng.randint(1, 400))])
        p.sadd("is:%d" % i, *range(rng.randint(1, 600)))
        p.sadd("ss:%d" % i, *["m%d" % j for j in range(rng.randint(1, 600))])
        p.hset("h:%d" % i, mapping={"f%d" % j: "x" * rng.randint(1, 90) for j in range(rng.randint(1, 300))})
        p.zadd("z:%d" % i, {"z%d" % j: rng.random() for j in range(rng.randint(1, 300))})
    p.execute()
    # Mutations that convert, shrink, pop and overwrite.
    for i in range(n(50)):
        p.lpop("l:%d" % i, 50)
        p.spop("ss:%d" % i, 20)
        p.hdel("h:%d" % i, *["f%d" % j for j in range(0, 300, 3)])
        p.zremrangebyrank("z:%d" % i, 0, 10)
        p.append("s:%d" % i, "tail" * 100)
        p.incrbyfloat("n:%d" % i, 1.5)
        p.setrange("s:%d" % (i + 100), 500, "r")
    p.sunionstore("dst:set", *["ss:%d" % i for i in range(10)])
    p.zunionstore("dst:z", ["z:%d" % i for i in range(10)])
    p.execute()
    # A big value, deleted synchronously and lazily.
    p.rpush("big:list", *range(n(100000)))
    p.sadd("big:set", *range(50000, 50000 + n(70000)))
    p.execute()
    r.unlink("big:list")
    r.delete("big:set")
    # Expiry: keys that expire while we work, found by active and lazy expiry.
    for i in range(n(2000)):
        p.set("ttl:%d" % i, "t" * 20, px=rng.randint(1, 200))
    p.execute()
    time.sleep(0.3)
    for i in range(0, n(2000), 7):
        p.get("ttl:%d" % i)
    p.execute()
    # Transactions and WATCH.
    for i in range(n(100)):
        with r.pipeline() as tx:
            tx.watch("s:%d" % i)
            tx.multi()
            tx.incr("counter")
            tx.set("s:%d" % i, "w")
            tx.execute()
    # Blocked clients: some served, some timing out.
    def blocker(key):
        c = srv.client()
        c.blpop([key], timeout=0.2)
        c.close()
    threads = [threading.Thread(target=blocker, args=("bq:%d" % i,)) for i in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    for i in range(0, 20, 2):
        r.rpush("bq:%d" % i, "x")
    for t in threads:
        t.join()
    # Pub/sub and tracking.
    subs = []
    for i in range(10):
        ps = srv.client().pubsub()
        ps.subscribe("chan:%d" % i)
        ps.psubscribe("pat:%d:*" % i)
        subs.append(ps)
    for i in range(n(200)):
        r.publish("chan:%d" % (i % 10), "message %d" % i)
        r.publish("pat:%d:x" % (i % 10), "m")
    for ps in subs:
        while ps.get_message(timeout=0.01):
            pass
        ps.close()
    tr = srv.client(protocol=3)
    tr.execute_command("CLIENT", "TRACKING", "ON")
    for i in range(100):
        tr.get("s:%d" % i)
    r.mset({"s:%d" % i: "changed" for i in range(100)})
    tr.close()
    # Connection churn, including clients that vanish mid-command.
    for i in range(n(100)):
        c = srv.client()
        c.ping()
        c.close()
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n" + b"x" * 40)
        s.close()
    # Eviction: fill past a maxmemory limit, then lift it.
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory", used + n(2 * 1024 * 1024))
    for i in range(n(8000)):
        p.set("ev:%d" % i, "e" * 500)
        if i % 500 == 499:
            p.execute()
    p.execute()
    r.config_set("maxmemory", 0)
    r.config_set("maxmemory-policy", "noeviction")
    r.flushall()
    r.execute_command("MEMORY", "PURGE")
    time.sleep(0.3)  # clients' buffers are resized by the cron; closed clients are gone
    r.execute_command("MEMORY", "PURGE")
    info = r.info("memory")
    r.close()
    return info["used_memory"], info["used_memory_rss"]


def test_memory_returns_to_baseline_across_rounds():
    srv = start_tern(["--hz", "50"])
    try:
        results = [workload(srv, rnd) for rnd in range(ROUNDS)]
        first_used, first_rss = results[0]
        for rnd, (used, rss) in enumerate(results[1:], 1):
            # A few hundred KB of slack: jemalloc's caches and the stats' 16-entry rings.
            assert used - first_used < 512 * 1024, "round %d: used_memory %d -> %d (%s)" % (rnd, first_used, used, results)
            assert rss - first_rss < 8 * 1024 * 1024, "round %d: RSS %d -> %d (%s)" % (rnd, first_rss, rss, results)
        assert srv.client().dbsize() == 0
    finally:
        srv.stop()
