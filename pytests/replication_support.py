"""Helpers for replication tests: a dataset of every type, a write load of every type,
and waits on INFO replication (never fixed sleeps)."""
import os
import random
import time

import redis


def populate(c):
    """Every type in every encoding, small and large, with and without TTLs, in 3 dbs."""
    p = c.pipeline(transaction=False)
    p.set("s:int", 12345)
    p.set("s:big", "x" * 500)
    p.set("s:rand", os.urandom(300))
    p.set("s:ttl", "v", px=3_600_000)
    p.rpush("l:small", *[str(i) for i in range(10)])
    p.rpush("l:large", *[("e%d" % i) * 10 for i in range(3000)])
    p.sadd("set:int", *range(20))
    p.sadd("set:str", *["m%d" % i for i in range(300)])
    p.hset("h:small", mapping={"f%d" % i: "v%d" % i for i in range(10)})
    p.hset("h:large", mapping={"f%d" % i: "v%d" % i for i in range(1000)})
    p.zadd("z:small", {"a%d" % i: i * 1.5 for i in range(10)})
    p.zadd("z:large", {"b%d" % i: i / 3 for i in range(500)})
    p.expire("h:large", 5000)
    p.execute()
    c.execute_command("SELECT", 2)
    c.set("db2:key", "two")
    c.rpush("db2:list", "a", "b")
    c.execute_command("SELECT", 9)
    c.set("db9:key", "nine", ex=10000)
    c.execute_command("SELECT", 0)


def write_load(c, n, seed=1, prefix="w"):
    """n writes of every type, including the ones propagated as rewrites (SET EX -> PXAT,
    INCRBYFLOAT -> SET KEEPTTL, SPOP -> SREM, EXPIRE -> PEXPIREAT), transactions and db
    changes. Deterministic for a seed."""
    rnd = random.Random(seed)
    for i in range(n):
        k = "%s:%d" % (prefix, rnd.randrange(50))
        op = rnd.randrange(16)
        try:
            if op == 0:
                c.set(k + ":s", "v%d" % i)
            elif op == 1:
                c.set(k + ":ex", i, ex=1000)
            elif op == 2:
                c.incrbyfloat(k + ":f", 1.5)
            elif op == 3:
                c.rpush(k + ":l", i, i + 1)
            elif op == 4:
                c.lpop(k + ":l")
            elif op == 5:
                c.sadd(k + ":set", *range(i % 7, i % 7 + 5))
            elif op == 6:
                c.spop(k + ":set")
            elif op == 7:
                c.hset(k + ":h", "f%d" % (i % 9), i)
            elif op == 8:
                c.hincrbyfloat(k + ":h", "fl", 0.25)
            elif op == 9:
                c.zadd(k + ":z", {"m%d" % (i % 11): i / 7})
            elif op == 10:
                c.zpopmin(k + ":z")
            elif op == 11:
                c.expire(k + ":s", 500)
            elif op == 12:
                p = c.pipeline(transaction=True)
                p.incr(k + ":cnt")
                p.append(k + ":app", "x")
                p.execute()
            elif op == 13:
                c.delete(k + ":s")
            elif op == 14:
                c.execute_command("SELECT", 3)
                c.set(k + ":db3", i)
                c.execute_command("SELECT", 0)
            else:
                c.getex(k + ":s", px=200000)
        except redis.ResponseError:
            pass


def info(c):
    return c.info("replication")


def wait_for(cond, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except (redis.ConnectionError, redis.BusyLoadingError):
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def wait_link_up(replica, timeout=30.0):
    wait_for(lambda: info(replica).get("master_link_status") == "up", timeout, "master_link_status:up")


def wait_synced(master, *replicas, timeout=30.0):
    """Until every replica applied everything the master produced."""
    def done():
        off = info(master)["master_repl_offset"]
        return all(info(r).get("master_link_status") == "up" and info(r)["slave_repl_offset"] == off
                   for r in replicas)
    wait_for(done, timeout, "replicas to reach the master's offset")


def digest(c):
    wait_for(lambda: c.info("persistence")["loading"] == 0, 60, "loading:0")
    return c.execute_command("DEBUG", "DIGEST")
