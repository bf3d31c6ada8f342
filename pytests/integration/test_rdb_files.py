"""dump.rdb files side by side with redis-server 7.0: SAVE's layout, loading at startup in
both directions (equal DEBUG DIGEST per dataset and per key), redis-check-rdb on Tern's file,
expired keys skipped, a bad file refused with the offset and left untouched."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import free_port, start_redis, start_tern, tern_binary


def populate(c):
    """Every type in every encoding, small and large, with and without TTLs, in 3 dbs."""
    p = c.pipeline(transaction=False)
    p.set("s:int", 12345)
    p.set("s:neg", -7)
    p.set("s:big", "x" * 500)          # LZF-compressible
    p.set("s:rand", os.urandom(300))
    p.set("s:emb", "hello")
    p.set("s:ttl", "v", px=3_600_000)
    p.rpush("l:small", *[str(i) for i in range(10)])
    p.rpush("l:large", *[("e%d" % i) * 10 for i in range(3000)])
    p.rpush("l:ints", *range(-50, 50))
    p.sadd("set:int", *range(20))
    p.sadd("set:bigint", *range(1000))
    p.sadd("set:str", *["m%d" % i for i in range(30)])
    p.hset("h:small", mapping={"f%d" % i: "v%d" % i for i in range(10)})
    p.hset("h:large", mapping={"f%d" % i: "v%d" % i for i in range(1000)})
    p.hset("h:longval", mapping={"a": "y" * 100})
    p.zadd("z:small", {"a%d" % i: i * 1.5 for i in range(10)})
    p.zadd("z:large", {"b%d" % i: i / 3 for i in range(500)})
    p.zadd("z:inf", {"p": float("inf"), "n": float("-inf")})
    p.expire("h:large", 5000)
    p.pexpireat("z:small", int(time.time() * 1000) + 9_000_000)
    p.execute()
    c.execute_command("SELECT", 2)
    c.set("db2:key", "two")
    c.rpush("db2:list", "a", "b")
    c.execute_command("SELECT", 9)
    c.set("db9:key", "nine", ex=10000)
    c.execute_command("SELECT", 0)


def digests(c):
    out = {"all": c.execute_command("DEBUG", "DIGEST")}
    for db in (0, 2, 9):
        c.execute_command("SELECT", db)
        keys = sorted(c.keys("*"))
        if keys:
            out[db] = list(zip(keys, c.execute_command("DEBUG", "DIGEST-VALUE", *keys)))
            out[(db, "ttl")] = [(k, c.pttl(k) > 0) for k in keys]
    c.execute_command("SELECT", 0)
    return out


def wait_loaded(server):
    """Until the server has finished loading its dump.rdb. redis-server accepts connections
    while it loads and answers DEBUG (a command allowed during loading) from the dataset
    loaded so far: a DEBUG DIGEST sent at once can see half the file. This is what made the
    200,000-key BGSAVE test below flaky (the file was right; Redis was still loading)."""
    c = server.client()
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if c.info("persistence")["loading"] == 0:
                return server
        except redis.exceptions.BusyLoadingError:
            pass
        time.sleep(0.02)
    raise AssertionError("still loading after 30 s")


def start_in(kind, directory, *args):
    """A server whose working dir (and so dump.rdb) is `directory`, its file loaded."""
    if kind == "tern":
        # No save points unless a test sets them: stop()'s SIGTERM would otherwise save.
        return wait_loaded(start_tern(["--dir", directory, "--save", "", *args]))
    return wait_loaded(start_redis(["--dir", directory, *args]))


def wait_bgsave_ok(c, seconds=60):
    """Waits for the background save to end; it must have succeeded."""
    deadline = time.time() + seconds
    while c.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
        time.sleep(0.02)
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-rdb-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("compression", ["yes", "no"])
def test_redis_file_loads_in_tern(workdir, compression):
    rs = start_in("redis", workdir, "--rdbcompression", compression)
    try:
        c = rs.client()
        populate(c)
        assert c.save()
        want = digests(c)
    finally:
        rs.stop()
    t = start_in("tern", workdir)
    try:
        got = digests(t.client())
        assert got == want
        assert "Done loading RDB, keys loaded: 21, keys expired: 0." in t.output()
        info = t.client().info("persistence")
        assert info["rdb_last_load_keys_loaded"] == 21
    finally:
        t.stop()


@pytest.mark.parametrize("checksum", ["yes", "no"])
def test_tern_file_loads_in_redis(workdir, checksum):
    t = start_in("tern", workdir, "--rdbchecksum", checksum)
    try:
        c = t.client()
        populate(c)
        assert c.save()
        want = digests(c)
    finally:
        t.stop()
    path = os.path.join(workdir, "dump.rdb")
    data = open(path, "rb").read()
    assert data.startswith(b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfa\x0aredis-bits\xc0\x40\xfa\x05ctime")
    if checksum == "no":
        assert data[-9:] == b"\xff" + b"\0" * 8
    else:
        chk = shutil.which("redis-check-rdb")
        if chk:
            r = subprocess.run([chk, path], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "\\o/ RDB looks OK! \\o/" in r.stdout
    rs = start_in("redis", workdir)
    try:
        assert digests(rs.client()) == want
    finally:
        rs.stop()
    # And back into Tern from its own file.
    t = start_in("tern", workdir)
    try:
        assert digests(t.client()) == want
    finally:
        t.stop()


def test_save_info_and_lastsave(workdir):
    t = start_in("tern", workdir)
    try:
        c = t.client()
        c.set("a", 1)
        c.set("b", 2)
        before = c.info("persistence")
        assert before["rdb_changes_since_last_save"] == 2
        assert before["rdb_saves"] == 0
        time.sleep(1.1)
        assert c.save()
        after = c.info("persistence")
        assert after["rdb_changes_since_last_save"] == 0
        assert after["rdb_saves"] == 1
        assert after["rdb_last_bgsave_status"] == "ok"
        assert after["rdb_last_save_time"] > before["rdb_last_save_time"]
        assert c.lastsave().timestamp() == after["rdb_last_save_time"]
        assert "DB saved on disk" in t.output()
        assert not [f for f in os.listdir(workdir) if f.startswith("temp-")]
    finally:
        t.stop()


def test_expired_keys_skipped_on_load(workdir):
    t = start_in("tern", workdir)
    try:
        c = t.client()
        c.set("gone", "x", px=300)
        c.set("kept", "y")
        assert c.save()
    finally:
        t.stop()
    time.sleep(0.5)
    t = start_in("tern", workdir)
    try:
        c = t.client()
        assert c.exists("gone") == 0 and c.get("kept") == b"y"
        assert "Done loading RDB, keys loaded: 1, keys expired: 1." in t.output()
        assert "DB loaded from disk: " in t.output()
    finally:
        t.stop()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_bad_file_refused_and_untouched(workdir, damage):
    t = start_in("tern", workdir)
    try:
        c = t.client()
        populate(c)
        assert c.save()
    finally:
        t.stop()
    path = os.path.join(workdir, "dump.rdb")
    data = bytearray(open(path, "rb").read())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x5A
    else:
        data = bytearray(b"NOTREDIS" + bytes(40))
    open(path, "wb").write(data)
    port_dir = tempfile.mkdtemp(prefix="tern-rdb-log-")
    try:
        log = os.path.join(port_dir, "log")
        with open(log, "w") as f:
            p = subprocess.Popen([tern_binary(), "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", workdir],
                                 stdout=f, stderr=subprocess.STDOUT)
            assert p.wait(20) != 0
        text = open(log).read()
        assert "offset" in text, text
        assert open(path, "rb").read() == bytes(data)
        # redis-server refuses the same file too.
        exe = shutil.which("redis-server")
        if exe:
            with open(log, "w") as f:
                p = subprocess.Popen([exe, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", workdir,
                                      "--save", ""], stdout=f, stderr=subprocess.STDOUT)
                assert p.wait(20) != 0
    finally:
        shutil.rmtree(port_dir, ignore_errors=True)


def test_debug_reload_keeps_dataset(workdir):
    t = start_in("tern", workdir)
    try:
        c = t.client()
        populate(c)
        want = digests(c)
        assert c.execute_command("DEBUG", "RELOAD")
        assert digests(c) == want
        assert "DB reloaded by DEBUG RELOAD" in t.output()
        # NOSAVE NOFLUSH MERGE: the file's values replace the ones in memory, others stay.
        c.set("s:emb", "changed")
        c.set("only:memory", 1)
        assert c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE")
        assert c.get("s:emb") == b"hello" and c.get("only:memory") == b"1"
        os.unlink(os.path.join(workdir, "dump.rdb"))
        with pytest.raises(Exception, match="Error trying to load the RDB dump"):
            c.execute_command("DEBUG", "RELOAD", "NOSAVE")
    finally:
        t.stop()


def test_shutdown_and_sigterm_save_when_save_points_set(workdir):
    t = start_in("tern", workdir, "--save", "3600 1")
    c = t.client()
    c.set("k", "v1")
    t.proc.terminate()
    t.proc.wait(10)
    assert "Saving the final RDB snapshot before exiting." in t.output()
    t.stop()
    t = start_in("tern", workdir, "--save", "")
    try:
        c = t.client()
        assert c.get("k") == b"v1"
        c.set("k", "v2")
        # No save points: plain SHUTDOWN does not save, SHUTDOWN SAVE does.
        with pytest.raises(Exception):
            c.execute_command("SHUTDOWN", "NOSAVE")
        t.proc.wait(10)
    finally:
        t.stop()
    t = start_in("tern", workdir, "--save", "")
    try:
        c = t.client()
        assert c.get("k") == b"v1"
        c.set("k", "v3")
        with pytest.raises(Exception):
            c.execute_command("SHUTDOWN", "SAVE")
        t.proc.wait(10)
    finally:
        t.stop()
    t = start_in("tern", workdir)
    try:
        assert t.client().get("k") == b"v3"
    finally:
        t.stop()


def test_save_points_drive_the_cron(workdir):
    t = start_in("tern", workdir, "--save", "1 2")
    try:
        c = t.client()
        c.set("a", 1)
        time.sleep(2.5)
        assert c.info("persistence")["rdb_saves"] == 0   # one change only
        c.set("b", 2)
        deadline = time.time() + 5
        while c.info("persistence")["rdb_saves"] == 0 and time.time() < deadline:
            time.sleep(0.1)
        info = c.info("persistence")
        assert info["rdb_saves"] == 1 and info["rdb_changes_since_last_save"] == 0
        assert "2 changes in 1 seconds. Saving..." in t.output()
        assert os.path.exists(os.path.join(workdir, "dump.rdb"))
    finally:
        t.stop()


def test_misconf_after_failed_background_save(workdir):
    """A save into a removed dir fails; then writes and PING get MISCONF, byte for byte as
    redis-server, until stop-writes-on-bgsave-error is turned off."""
    from conftest import raw_command
    replies = {}
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        gone = os.path.join(d, "gone")
        os.makedirs(gone)
        s = start_in(kind, d, "--save", "1 1", "--enable-protected-configs", "yes")
        try:
            c = s.client()
            c.config_set("dir", gone)
            os.rmdir(gone)
            c.set("x", 1)
            deadline = time.time() + 10
            while c.info("persistence")["rdb_last_bgsave_status"] == "ok" and time.time() < deadline:
                time.sleep(0.1)
            assert c.info("persistence")["rdb_last_bgsave_status"] == "err"
            replies[kind] = raw_command(s.port, b"SET y 1\r\nPING\r\nGET x\r\n", read_timeout=0.5)
            c.config_set("stop-writes-on-bgsave-error", "no")
            assert c.set("y", 2)
            c.config_set("save", "")
        finally:
            s.stop()
    assert replies["tern"] == replies["redis"]
    assert replies["tern"].startswith(b"-MISCONF ")


def test_bgsave_is_point_in_time_under_writes(workdir):
    """BGSAVE walks the key table while a client keeps overwriting, deleting and adding keys
    (strings, in-place collection changes, other dbs, an expiry): the file holds exactly the
    dataset at the BGSAVE moment, in Tern and in redis-server."""
    t = start_in("tern", workdir)
    try:
        c = t.client()
        c.execute_command("DEBUG", "POPULATE", 200000)
        populate(c)
        want = c.execute_command("DEBUG", "DIGEST")
        # The first batch shares BGSAVE's pipeline: it runs before any walk step, so every
        # write meets an unserialized bucket; later batches meet a walk under way (or done).
        i = 0
        p = c.pipeline(transaction=False)
        p.bgsave()
        while True:
            for j in range(i, i + 500):
                p.set("key:%d" % (j * 7 % 200000), "new")
                p.delete("key:%d" % (j * 13 % 200000 + 1))
                p.set("fresh:%d" % j, j)
            p.hset("h:large", "f%d" % i, "changed")
            p.rpush("l:large", "more")
            p.zadd("z:large", {"b1": 1000 + i})
            p.sadd("set:int", 1000 + i)
            p.execute_command("SELECT", 2)
            p.set("db2:key", "changed%d" % i)
            p.execute_command("SELECT", 0)
            p.expire("s:emb", 1)
            replies = p.execute()
            if i == 0:
                assert replies[0]
            i += 500
            if i > 400000 or c.info("persistence")["rdb_bgsave_in_progress"] == 0:
                break
            p = c.pipeline(transaction=False)
        assert c.execute_command("DEBUG", "DIGEST") != want
        deadline = time.time() + 30
        while c.info("persistence")["rdb_bgsave_in_progress"] == 1 and time.time() < deadline:
            time.sleep(0.05)
        info = c.info("persistence")
        assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_saves"] == 1
        assert "Background saving terminated with success" in t.output()
    finally:
        t.stop()
    chk = shutil.which("redis-check-rdb")
    if chk:
        r = subprocess.run([chk, os.path.join(workdir, "dump.rdb")], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    for kind in ("tern", "redis"):
        s = start_in(kind, workdir, "--save", "")
        try:
            assert s.client().execute_command("DEBUG", "DIGEST") == want, kind
        finally:
            s.stop()


def test_bgsave_then_flushall_keeps_the_image(workdir):
    t = start_in("tern", workdir)
    try:
        c = t.client()
        c.execute_command("DEBUG", "POPULATE", 100000)
        want = c.execute_command("DEBUG", "DIGEST")
        p = c.pipeline(transaction=False)
        p.bgsave()
        p.flushall()
        p.set("after", 1)
        p.execute()
        deadline = time.time() + 30
        while c.info("persistence")["rdb_bgsave_in_progress"] == 1 and time.time() < deadline:
            time.sleep(0.05)
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
    finally:
        t.stop()
    s = start_in("tern", workdir, "--save", "")
    try:
        assert s.client().execute_command("DEBUG", "DIGEST") == want
    finally:
        s.stop()


@pytest.mark.parametrize("cmd", [
    ("HSET", "h", "f1", "x"), ("RPUSH", "l", "x"), ("LPOP", "l"), ("ZADD", "z", "9", "m1"),
    ("ZINCRBY", "z", "1", "m2"), ("SADD", "s", "99"), ("SET", "k", "w"), ("APPEND", "k", "zz"),
    ("EXPIRE", "k", "100"), ("INCR", "n"), ("DEL", "h"), ("HDEL", "h", "f2"), ("SET", "new", "1"),
])
def test_bgsave_write_before_walk_keeps_old_value(workdir, cmd):
    """A write in BGSAVE's own pipeline runs before any walk step: its bucket is serialized
    first, so the image still has the value as it was at BGSAVE."""
    t = start_in("tern", workdir)
    try:
        c = t.client()
        c.hset("h", mapping={"f%d" % i: "v" for i in range(1000)})
        c.rpush("l", *range(3000))
        c.zadd("z", {"m%d" % i: i for i in range(500)})
        c.sadd("s", *range(10))
        c.set("k", "v")
        c.set("n", "5")
        want = c.execute_command("DEBUG", "DIGEST")
        p = c.pipeline(transaction=False)
        p.bgsave()
        p.execute_command(*cmd)
        p.execute()
        deadline = time.time() + 20
        while c.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
            time.sleep(0.05)
        assert c.execute_command("DEBUG", "DIGEST") != want
        c.execute_command("DEBUG", "RELOAD", "NOSAVE")
        assert c.execute_command("DEBUG", "DIGEST") == want
    finally:
        t.stop()


# Every write family, each alone in BGSAVE's pipeline (so it meets a bucket the walk has not
# serialized): the image must still hold the value of the BGSAVE instant.
WRITE_KINDS = [
    ("SETRANGE", "k", "1", "zz"), ("SETBIT", "k", "0", "1"), ("INCRBY", "n", "7"),
    ("INCRBYFLOAT", "n", "1.5"), ("DECR", "n"), ("GETSET", "k", "w"), ("GETDEL", "k"),
    ("GETEX", "k", "EX", "100"), ("GETEX", "t", "PERSIST"), ("MSET", "k", "1", "n", "2"),
    ("SET", "k", "w", "KEEPTTL"), ("SETEX", "k", "100", "w"), ("BITFIELD", "k", "INCRBY", "u8", "0", "1"),
    ("PEXPIRE", "k", "100000"), ("PERSIST", "t"), ("EXPIREAT", "t", "4000000000"),
    ("RENAME", "k", "k2"), ("RENAME", "k", "n"), ("MOVE", "k", "3"), ("COPY", "k", "n", "REPLACE"),
    ("COPY", "h", "h2", "DB", "4"), ("UNLINK", "h"), ("RESTORE", "k", "0", None, "REPLACE"),
    ("LPUSH", "l", "x"), ("LSET", "l", "5", "x"), ("LINSERT", "l", "BEFORE", "7", "x"), ("LREM", "l", "0", "7"),
    ("LTRIM", "l", "1", "-2"), ("LMOVE", "l", "l", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "l3"),
    ("LMPOP", "1", "l", "LEFT", "COUNT", "2"), ("BLPOP", "l", "1"), ("BRPOP", "l", "1"),
    ("BLMOVE", "l", "l", "RIGHT", "LEFT", "1"), ("BLMPOP", "1", "1", "l", "RIGHT"),
    ("HSET", "hs", "a", "new"), ("HDEL", "hs", "a"), ("HINCRBY", "hs", "n", "1"),
    ("HINCRBYFLOAT", "hs", "n", "0.5"), ("HSETNX", "hs", "zz", "1"), ("HSET", "h", "f3", "y" * 100),
    ("SADD", "s", "str"), ("SREM", "s", "3"), ("SPOP", "s"), ("SMOVE", "s", "s2", "4"),
    ("SINTERSTORE", "s", "s", "s2"), ("SUNIONSTORE", "s2", "s", "s2"), ("SDIFFSTORE", "s", "s2", "s"),
    ("ZADD", "zs", "INCR", "5", "a"), ("ZREM", "zs", "a"), ("ZINCRBY", "z", "1", "m3"),
    ("ZPOPMIN", "z"), ("ZPOPMAX", "zs", "2"), ("BZPOPMIN", "z", "1"), ("BZMPOP", "1", "1", "zs", "MAX"),
    ("ZREMRANGEBYRANK", "z", "0", "10"), ("ZREMRANGEBYSCORE", "z", "0", "50"),
    ("ZRANGESTORE", "zs", "z", "0", "3"), ("ZUNIONSTORE", "z", "2", "z", "zs"), ("ZMPOP", "1", "z", "MIN"),
    ("SORT", "l", "STORE", "s"),
    ("APPEND", "big", "tail"), ("FLUSHDB",), ("SWAPDB", "0", "1"),
]


def keyspace_state(c):
    """DEBUG DIGEST (which sees only whether a key has a TTL) plus every key's absolute
    expire time, in dbs 0-4."""
    ttls = []
    for db in range(5):
        c.execute_command("SELECT", db)
        for k in sorted(c.keys("*")):
            ttls.append((db, k, c.execute_command("PEXPIRETIME", k)))
    c.execute_command("SELECT", 0)
    return c.execute_command("DEBUG", "DIGEST"), ttls


def test_bgsave_each_write_kind_before_the_walk(workdir):
    t = start_in("tern", workdir, "--rdb-key-save-delay", "100")
    try:
        c = t.client()
        payload = None   # a DUMP of "z" for RESTORE, taken on the first round
        for cmd in WRITE_KINDS:
            c.flushall()
            c.set("k", "value")
            c.set("big", "b" * 300)
            c.set("n", "41")
            c.set("t", "ttl", ex=100000)
            c.hset("h", mapping={"f%d" % i: "v" for i in range(300)})
            c.hset("hs", mapping={"a": "1", "n": "5"})
            c.rpush("l", *range(3000))
            c.zadd("z", {"m%d" % i: i for i in range(300)})
            c.zadd("zs", {"a": 1, "b": 2, "c": 3})
            c.sadd("s", *range(10))
            c.sadd("s2", *range(5, 15))
            c.execute_command("SELECT", 1)
            c.set("one", "1")
            c.execute_command("SELECT", 0)
            if payload is None:
                payload = c.dump("z")
            want = keyspace_state(c)
            args = [payload if a is None else a for a in cmd]
            p = c.pipeline(transaction=False)
            p.bgsave()
            p.execute_command(*args)
            replies = p.execute(raise_on_error=False)
            assert replies[0] in (True, b"Background saving started"), (cmd, replies)
            assert not isinstance(replies[1], Exception), (cmd, replies)
            wait_bgsave_ok(c, 30)
            assert keyspace_state(c) != want, cmd
            c.execute_command("DEBUG", "RELOAD", "NOSAVE")
            assert keyspace_state(c) == want, cmd
    finally:
        t.stop()


def test_bgsave_slow_walk_under_every_kind_of_change(workdir):
    """rdb-key-save-delay slows the walk (paced between client work, as Redis's child sleeps
    per key), so these changes land while it is under way: overwrites, deletes, inserts that
    grow the key table, deletes that shrink it, in-place string and collection changes, keys
    expired lazily and actively, eviction, RENAME/MOVE, other dbs. The file still holds
    exactly the dataset of the BGSAVE instant."""
    t = start_in("tern", workdir, "--rdb-key-save-delay", "20")
    try:
        c = t.client()
        c.execute_command("DEBUG", "POPULATE", 30000)
        populate(c)
        c.execute_command("SELECT", 3)
        c.execute_command("DEBUG", "POPULATE", 3000, "d3")
        c.execute_command("SELECT", 0)
        want = c.execute_command("DEBUG", "DIGEST")
        p = c.pipeline(transaction=False)
        p.bgsave()
        rounds = 0
        while True:
            r = rounds
            for j in range(200):
                n = (r * 200 + j) * 37 % 30000
                p.set("key:%d" % n, "over%d" % j)
                p.delete("key:%d" % ((n + 11) % 30000))
                p.set("fresh:%d:%d" % (r, j), j)        # growth
                p.append("key:%d" % ((n + 23) % 30000), "+tail")
                p.setrange("key:%d" % ((n + 29) % 30000), 2, "RR")
                p.pexpire("key:%d" % ((n + 31) % 30000), 1)   # expires lazily or actively
                p.get("key:%d" % ((n + 31 - 200 * 37) % 30000))
            p.hset("h:large", "f%d" % r, "changed")
            p.hincrby("h:small", "f1x", 1)
            p.rpush("l:large", "more")
            p.lpop("l:small")
            p.zincrby("z:large", 1, "b7")
            p.sadd("set:int", 5000 + r)
            p.srem("set:str", "m%d" % (r % 30))
            p.incr("s:int")
            p.rename("s:big", "s:big2") if r % 2 == 0 else p.rename("s:big2", "s:big")
            p.move("s:rand" if r == 0 else "nothing", 5)
            p.execute_command("SELECT", 3)
            for j in range(100):
                p.delete("d3:%d" % ((r * 100 + j) % 3000))   # db 3 empties: shrinks
            p.execute_command("SELECT", 2)
            p.set("db2:key", "changed%d" % r)
            p.execute_command("SELECT", 0)
            if r == 3:
                # Eviction in the middle of the walk.
                used = c.info("memory")["used_memory"]
                p.config_set("maxmemory-policy", "allkeys-random")
                p.config_set("maxmemory", used - 200_000)
                p.set("evict-trigger", "x")
                p.config_set("maxmemory", 0)
            p.execute()
            rounds += 1
            if rounds > 200 or c.info("persistence")["rdb_bgsave_in_progress"] == 0:
                break
            p = c.pipeline(transaction=False)
        wait_bgsave_ok(c)
        assert c.info("stats")["evicted_keys"] > 0
        assert c.execute_command("DEBUG", "DIGEST") != want
        print("rounds during the walk:", rounds)
    finally:
        t.stop()
    chk = shutil.which("redis-check-rdb")
    if chk:
        r = subprocess.run([chk, os.path.join(workdir, "dump.rdb")], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    for kind in ("tern", "redis"):
        s = start_in(kind, workdir, "--save", "")
        try:
            assert s.client().execute_command("DEBUG", "DIGEST") == want, kind
        finally:
            s.stop()


@pytest.mark.parametrize("compression", ["yes", "no"])
def test_bgsave_compression_and_incremental_fsync(workdir, compression):
    """BGSAVE with rdbcompression yes/no and rdb-save-incremental-fsync (an fsync per 4 MB
    written) loads with the same digest in Tern and redis-server."""
    t = start_in("tern", workdir, "--rdbcompression", compression, "--rdb-save-incremental-fsync", "yes")
    try:
        c = t.client()
        c.execute_command("DEBUG", "POPULATE", 20000, "k", 500)   # ~10 MB: several fsyncs
        populate(c)
        want = c.execute_command("DEBUG", "DIGEST")
        c.bgsave()
        wait_bgsave_ok(c)
    finally:
        t.stop()
    size = os.path.getsize(os.path.join(workdir, "dump.rdb"))
    # DEBUG POPULATE's values ("value:N" padded with zero bytes) compress well.
    assert (size < 5_000_000) == (compression == "yes"), size
    for kind in ("tern", "redis"):
        s = start_in(kind, workdir, "--save", "")
        try:
            assert s.client().execute_command("DEBUG", "DIGEST") == want, kind
        finally:
            s.stop()


@pytest.mark.parametrize("policy", ["allkeys-lfu", "allkeys-lru"])
@pytest.mark.parametrize("walk", ["writer", "engine"])
def test_bgsave_writes_idle_and_freq_under_an_lru_or_lfu_policy(workdir, policy, walk, monkeypatch):
    """Under an LRU/LFU policy each record carries IDLE or FREQ (Redis's opcodes), computed
    the same whether the writer thread walks (clocks taken as the save begins) or the engine
    does (TERN_SNAPSHOT_WALK=engine), and while writes land during the walk. redis-server
    loads the file and reports the same OBJECT FREQ / about the same OBJECT IDLETIME."""
    lfu = policy.endswith("lfu")
    if walk == "engine":
        monkeypatch.setenv("TERN_SNAPSHOT_WALK", "engine")
    t = start_tern(["--dir", workdir, "--save", "", "--maxmemory-policy", policy,
                    "--rdb-key-save-delay", "200"])
    try:
        c = t.client()
        c.set("tmp", "some value, not a shared integer")
        payload = c.dump("tmp")
        c.delete("tmp")
        n = 1500
        want = {}
        p = c.pipeline(transaction=False)
        for i in range(n):
            v = (i * 7) % 250 if lfu else 100 + (i * 37) % 5000
            want["k%d" % i] = v
            p.execute_command("RESTORE", "k%d" % i, 0, payload, "FREQ" if lfu else "IDLETIME", v)
        p.execute()
        assert c.bgsave()
        # Writes during the walk: their records are the new values, with their new fields.
        for i in range(0, n, 50):
            c.set("k%d" % i, "rewritten")
            want.pop("k%d" % i)
        wait_bgsave_ok(c)
    finally:
        t.stop()
    r = start_in("redis", workdir, "--maxmemory-policy", policy)
    try:
        rc = r.client()
        assert rc.dbsize() == n
        for k, v in want.items():
            if lfu:
                assert rc.object("freq", k) == v, k
            else:
                idle = rc.object("idletime", k)
                assert v <= idle <= v + 30, (k, v, idle)
    finally:
        r.stop()


def test_bgsave_leaves_used_memory_and_maxmemory_alone(workdir):
    """A running BGSAVE holds a few MB of chunks, not a reservation the size of the dataset:
    used_memory stays where it was and a maxmemory set just above it evicts nothing (Redis's
    fork child is a separate process: its used_memory does not move either)."""
    m = start_tern(["--dir", workdir, "--save", "", "--rdbcompression", "no"])
    try:
        c = m.client()
        c.execute_command("DEBUG", "POPULATE", "60000", "key", "1000")
        before = c.info("memory")["used_memory"]
        c.config_set("maxmemory", before + 16_000_000)
        c.config_set("maxmemory-policy", "allkeys-lru")
        c.config_set("rdb-key-save-delay", "50")
        c.bgsave()
        time.sleep(1)
        assert c.info("persistence")["rdb_bgsave_in_progress"] == 1
        during = c.info("memory")["used_memory"]
        c.set("one-more", "x")   # an eviction check runs before a write
        assert during - before < 12_000_000, "used_memory went from %d to %d during BGSAVE" % (before, during)
        assert c.info("stats")["evicted_keys"] == 0
        c.config_set("rdb-key-save-delay", "0")
        c.config_set("maxmemory", 0)
        wait_bgsave_ok(c)
        assert c.dbsize() == 60001
    finally:
        m.stop()


def test_huge_resizedb_is_not_trusted(workdir):
    """A RESIZEDB claiming 2^40 keys (a mutated file from the RDB fuzzer asked for 34 GB of
    buckets and the server died allocating them): the table is sized by what the file could
    hold, and the file's one key loads."""
    body = (b"REDIS0010" + b"\xfe\x00" + b"\xfb\x81" + (1 << 40).to_bytes(8, "big") + b"\x00"
            + b"\x00\x01k\x01v" + b"\xff")
    with open(os.path.join(workdir, "dump.rdb"), "wb") as f:
        f.write(body + b"\x00" * 8)   # a zero checksum: not verified
    m = start_tern(["--dir", workdir, "--save", ""])
    try:
        c = m.client()
        assert c.get("k") == b"v"
        assert c.dbsize() == 1
    finally:
        m.stop()
