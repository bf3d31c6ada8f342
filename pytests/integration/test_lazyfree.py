"""Lazy freeing: each lazyfree-* path sends the same values to the background as redis-server
does, seen through INFO's lazyfreed_objects (compared as deltas, side by side), and the data
the commands leave behind is the same."""
import time

import pytest

from conftest import start_redis, start_tern


@pytest.fixture(scope="module")
def pair():
    t = start_tern()
    o = start_redis()
    yield t.client(), o.client()
    t.stop()
    o.stop()


def settle(c):
    """Waits until the background thread has freed what was queued."""
    for _ in range(200):
        if c.info("memory")["lazyfree_pending_objects"] == 0:
            return
        time.sleep(0.01)
    raise AssertionError("lazyfree_pending_objects never reached 0")


def freed(c):
    settle(c)
    return c.info("memory")["lazyfreed_objects"]


BIG_SET = ["member:%d" % i for i in range(1000)]        # hashtable: effort 1000
SMALL_SET = ["m%d" % i for i in range(10)]             # listpack-free small set: effort 10


def big_values(c):
    c.sadd("bigset", *BIG_SET)
    c.sadd("smallset", *SMALL_SET)
    c.hset("bighash", mapping={"f%d" % i: "v" * 70 for i in range(600)})
    c.zadd("bigzset", {"z%d" % i: i for i in range(300)})
    c.rpush("biglist", *["x" * 100 for _ in range(20000)])   # many quicklist nodes
    c.rpush("shortlist", *["e%d" % i for i in range(10000)])  # 10,000 elements but few nodes: freed in place
    c.set("str", "s" * 1000)


def run_both(pair, config, steps):
    """Runs `steps(c)` on both servers with `config` set; returns the lazyfreed deltas."""
    deltas = []
    for c in pair:
        c.config_set("lazyfree-lazy-user-del", "no")
        c.config_set("lazyfree-lazy-user-flush", "no")
        c.config_set("lazyfree-lazy-server-del", "no")
        c.config_set("lazyfree-lazy-expire", "no")
        c.flushall()
        for k, v in config.items():
            c.config_set(k, v)
        big_values(c)
        before = freed(c)
        steps(c)
        deltas.append(freed(c) - before)
        for k in ("bigset", "bighash", "bigzset", "biglist", "shortlist", "str", "dst"):
            assert c.exists(k) in (0, 1)
    t, o = pair
    assert sorted(t.keys()) == sorted(o.keys())
    return deltas


def test_unlink(pair):
    def steps(c):
        c.unlink("bigset", "smallset", "str", "biglist", "shortlist", "bighash", "bigzset")
    a, b = run_both(pair, {}, steps)
    assert a == b and b > 0


def test_del_plain_is_synchronous(pair):
    a, b = run_both(pair, {}, lambda c: c.delete("bigset", "bighash", "bigzset", "biglist"))
    assert a == b == 0


def test_lazy_user_del(pair):
    a, b = run_both(pair, {"lazyfree-lazy-user-del": "yes"},
                    lambda c: c.delete("bigset", "bighash", "bigzset", "biglist", "shortlist", "str"))
    assert a == b and b > 0


@pytest.mark.parametrize("how", ["flushall-async", "flushdb-async", "user-flush"])
def test_flush(pair, how):
    cfg = {"lazyfree-lazy-user-flush": "yes"} if how == "user-flush" else {}
    def steps(c):
        if how == "flushall-async":
            c.flushall(asynchronous=True)
        elif how == "flushdb-async":
            c.flushdb(asynchronous=True)
        else:
            c.flushall()
    a, b = run_both(pair, cfg, steps)
    assert a == b and b > 0


def test_flush_sync_overrides_user_flush(pair):
    a, b = run_both(pair, {"lazyfree-lazy-user-flush": "yes"}, lambda c: c.execute_command("FLUSHALL", "SYNC"))
    assert a == b == 0


def test_lazy_expire(pair):
    def steps(c):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        try:
            c.pexpire("bigset", 1)
            c.expire("bighash", -1)          # in the past: deleted by EXPIRE itself
            time.sleep(0.02)
            assert c.exists("bigset") == 0   # lazy expiry on access
        finally:
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    a, b = run_both(pair, {"lazyfree-lazy-expire": "yes"}, steps)
    assert a == b == 2


def test_expire_without_lazy_expire(pair):
    def steps(c):
        c.expire("bighash", -1)
    a, b = run_both(pair, {}, steps)
    assert a == b == 0


def test_lazy_server_del(pair):
    def steps(c):
        c.set("bigset", "now a string")                  # overwrite of a big value
        c.rename("str", "bighash")                       # RENAME over a big destination
        c.sadd("dst", *BIG_SET)
        c.sinterstore("dst", "smallset", "nosuchkey")    # empty result deletes the destination
        c.sort("smallset", alpha=True, store="bigzset")  # SORT STORE replaces it
        c.rpush("tmp", "a")
        c.execute_command("MOVE", "tmp", "1")
    a, b = run_both(pair, {"lazyfree-lazy-server-del": "yes"}, steps)
    assert a == b and b >= 4


def test_server_del_off_is_synchronous(pair):
    def steps(c):
        c.set("bigset", "now a string")
        c.rename("str", "bighash")
    a, b = run_both(pair, {}, steps)
    assert a == b == 0


def test_resetstat_clears_lazyfreed(pair):
    for c in pair:
        c.sadd("s", *BIG_SET)
        c.unlink("s")
        assert freed(c) > 0
        c.config_resetstat()
        assert c.info("memory")["lazyfreed_objects"] == 0
