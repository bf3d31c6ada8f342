"""BGREWRITEAOF's base taken by the stepped snapshot walk (no pause): writes of every type
landing mid-walk, slowed with rdb-key-save-delay, and the restart reproducing the dataset."""
import os
import random
import shutil
import tempfile
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import raw_command, start_tern

AOFDIR = "appendonlydir"
KEYS = 1500


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-aofwalk-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start(directory, *args):
    return start_tern(["--dir", directory, "--save", "", "--appendonly", "yes",
                       "--logfile", os.path.join(directory, "server.log"), *args])


def populate(c):
    p = c.pipeline(transaction=False)
    for i in range(KEYS):
        k = i % 6
        if k == 0:
            p.set("s%d" % i, i)
        elif k == 1:
            p.rpush("l%d" % i, *[str(j) for j in range(5 + i % 200)])
        elif k == 2:
            p.sadd("set%d" % i, *[("m%d" % j) if i % 4 else j for j in range(3 + i % 150)])
        elif k == 3:
            p.hset("h%d" % i, mapping={"f%d" % j: "v%d" % j for j in range(2 + i % 140)})
        elif k == 4:
            p.zadd("z%d" % i, {"e%d" % j: j / 7 for j in range(2 + i % 140)})
        else:
            p.set("t%d" % i, "x" * (i % 90), px=3_600_000 + i)
    p.execute()
    c.execute_command("SELECT", 4)
    c.rpush("db4:list", "a", "b", "c")
    c.set("db4:str", "four")
    c.execute_command("SELECT", 0)


def one_write(c, rnd):
    """A non-idempotent write of some type to a key that exists before the rewrite (or a new
    one): replaying the incr file on a base that already held it would change the digest."""
    i = rnd.randrange(KEYS + 200)
    k = i % 6
    op = rnd.randrange(3)
    if k == 0:
        [lambda: c.incrby("n%d" % (i % 50), 2), lambda: c.append("s%d" % i, "z"), lambda: c.delete("s%d" % i)][op]()
    elif k == 1:
        [lambda: c.rpush("l%d" % i, "n"), lambda: c.lpop("l%d" % i), lambda: c.lpush("l%d" % i, "f")][op]()
    elif k == 2:
        [lambda: c.sadd("set%d" % i, "new%d" % rnd.randrange(9)), lambda: c.spop("set%d" % i),
         lambda: c.srem("set%d" % i, "m1")][op]()
    elif k == 3:
        [lambda: c.hincrby("h%d" % i, "cnt", 3), lambda: c.hdel("h%d" % i, "f0"),
         lambda: c.hset("h%d" % i, "g", i)][op]()
    elif k == 4:
        [lambda: c.zincrby("z%d" % i, 1.5, "e1"), lambda: c.zpopmin("z%d" % i),
         lambda: c.zadd("z%d" % i, {"q": 2})][op]()
    else:
        [lambda: c.expire("t%d" % i, 7000), lambda: c.persist("t%d" % i), lambda: c.setrange("t%d" % i, 3, "ab")][op]()


def in_progress(c):
    return c.info("persistence")["aof_rewrite_in_progress"] == 1


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_slow_rewrite_under_writes_of_every_type(workdir, preamble):
    s = start(workdir, "--aof-use-rdb-preamble", preamble, "--rdb-key-save-delay", "3000")
    try:
        c = s.client()
        populate(c)
        rnd = random.Random(7)
        assert raw_command(s.port, b"BGREWRITEAOF\r\n") == b"+Background append only file rewriting started\r\n"
        # Writes while the base is being walked, in several dbs, each a non-idempotent change.
        for n in range(400):
            if n == 200:
                c.execute_command("SELECT", 4)
                c.rpush("db4:list", "mid")
                c.execute_command("SELECT", 9)
                c.set("db9:new", "nine")
                c.execute_command("SELECT", 0)
            one_write(c, rnd)
        # Every write above landed while the walk ran (the delay makes it last seconds).
        assert in_progress(c)
        want = c.execute_command("DEBUG", "DIGEST")
        pongs = 0
        deadline = time.time() + 120
        while in_progress(c) and time.time() < deadline:
            assert c.ping()
            pongs += 1
        assert not in_progress(c)
        info = c.info("persistence")
        assert info["aof_rewrites"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
        # The engine kept answering during the walk (a whole-base pause would answer none).
        assert pongs > 10
        assert c.execute_command("DEBUG", "DIGEST") == want
        names = sorted(os.listdir(os.path.join(workdir, AOFDIR)))
        assert names == ["appendonly.aof.2.base.%s" % ("rdb" if preamble == "yes" else "aof"),
                         "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    finally:
        s.stop()
    s2 = start(workdir, "--aof-use-rdb-preamble", preamble)
    try:
        c2 = s2.client()
        deadline = time.time() + 60
        while c2.info("persistence")["loading"] == 1:
            assert time.time() < deadline
            time.sleep(0.02)
        assert c2.execute_command("DEBUG", "DIGEST") == want
        # DEBUG LOADAOF reads the same files back to the same dataset.
        assert c2.execute_command("DEBUG", "LOADAOF") in (b"OK", "OK", True)
        assert c2.execute_command("DEBUG", "DIGEST") == want
    finally:
        s2.stop()


def test_bgsave_refused_while_rewrite_walks(workdir):
    s = start(workdir, "--rdb-key-save-delay", "3000")
    try:
        c = s.client()
        populate(c)
        c.bgrewriteaof()
        assert in_progress(c)
        assert raw_command(s.port, b"BGSAVE\r\n").startswith(b"-ERR An AOF log rewriting in progress")
        assert raw_command(s.port, b"BGSAVE SCHEDULE\r\n") == b"+Background saving scheduled\r\n"
        c.config_set("rdb-key-save-delay", 0)
        deadline = time.time() + 60
        while time.time() < deadline:
            info = c.info("persistence")
            if info["aof_rewrite_in_progress"] == 0 and info["rdb_bgsave_in_progress"] == 0 \
                    and info["rdb_saves"] == 1:
                break
            time.sleep(0.05)
        assert info["aof_rewrites"] == 1 and info["rdb_saves"] == 1
        assert info["rdb_last_bgsave_status"] == "ok"
    finally:
        s.stop()


# --- the startup AOF load in slices -----------------------------------------------------

from conftest import start_redis  # noqa: E402


def make_redis_aof_dir(directory, preamble):
    """A multi-part AOF written by redis-server: a base (RDB preamble or AOF format) and an
    incr file, both holding every type. Returns redis's digest and the files' total size."""
    r = start_redis(["--dir", directory, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble,
                     "--auto-aof-rewrite-percentage", "0"])
    try:
        c = r.client()
        populate(c)
        p = c.pipeline(transaction=False)
        for i in range(20000):
            p.set("bulk:%d" % i, "v" * (i % 50))
        p.execute()
        c.bgrewriteaof()
        deadline = time.time() + 60
        while c.info("persistence")["aof_rewrite_in_progress"] or c.info("persistence")["aof_rewrite_scheduled"]:
            assert time.time() < deadline
            time.sleep(0.05)
        rnd = random.Random(3)
        p = c.pipeline(transaction=False)
        for i in range(20000):
            p.rpush("inc:l%d" % (i % 300), i)
            p.hset("inc:h%d" % (i % 200), "f%d" % i, i)
            p.incr("inc:n%d" % (i % 100))
        p.execute()
        for _ in range(300):
            one_write(c, rnd)
        want = c.execute_command("DEBUG", "DIGEST")
        try:
            c.execute_command("SHUTDOWN", "NOSAVE")
        except Exception:  # noqa
            pass
        r.proc.wait(10)
    finally:
        r.stop()
    names = sorted(os.listdir(os.path.join(directory, AOFDIR)))
    assert [n for n in names if ".base." in n] and [n for n in names if ".incr." in n]
    total = sum(os.path.getsize(os.path.join(directory, AOFDIR, n)) for n in names if "manifest" not in n)
    return want, total


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_startup_aof_load_answers_loading_then_data(workdir, preamble):
    want, total = make_redis_aof_dir(workdir, preamble)
    s = start(workdir, "--loading-process-events-interval-bytes", "1024",
              "--auto-aof-rewrite-percentage", "0")
    try:
        c = s.client(retry=Retry(NoBackoff(), 0))
        replies, infos = [], []
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                replies.append(c.get("bulk:5"))
            except redis.BusyLoadingError as e:
                replies.append(str(e))
            info = c.info("persistence")
            infos.append(info)
            if info["loading"] == 0:
                break
        assert replies[0].startswith("Redis is loading the dataset in memory")
        assert c.get("bulk:5") == b"vvvvv"
        during = [i for i in infos if i["loading"] == 1]
        assert during and all(i["loading_total_bytes"] == total for i in during)
        loaded = [i["loading_loaded_bytes"] for i in during]
        assert loaded == sorted(loaded) and loaded[-1] <= total and len(set(loaded)) > 1
        assert c.execute_command("DEBUG", "DIGEST") == want
        assert c.info("persistence")["aof_current_size"] == total
        # DEBUG LOADAOF (in one piece) reads the same files to the same dataset.
        c.execute_command("DEBUG", "LOADAOF")
        assert c.execute_command("DEBUG", "DIGEST") == want
    finally:
        s.stop()
