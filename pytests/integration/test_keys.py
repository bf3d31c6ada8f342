"""Generic keyspace commands, side by side with a real redis-server."""
import random
import time

import pytest

from side_by_side import call, both, raw_both, supported


# ---------------------------------------------------------------- errors and arity

ERROR_CASES = [
    ("SWAPDB", "x", "1"), ("SWAPDB", "0", "x"), ("SWAPDB", "0", "16"), ("SWAPDB", "-1", "0"),
    ("SWAPDB", "0", "99999999999"), ("SWAPDB", "0"),
    ("MOVE", "a", "0"), ("MOVE", "a", "16"), ("MOVE", "a", "x"), ("MOVE", "a", "-1"),
    ("MOVE", "a", "4294967296"), ("MOVE", "nokey", "1"), ("MOVE", "a"),
    ("COPY", "a", "b", "DB", "x"), ("COPY", "a", "b", "DB", "16"), ("COPY", "a", "a"),
    ("COPY", "a", "a", "DB", "0"), ("COPY", "a", "b", "foo"), ("COPY", "a", "b", "DB"),
    ("COPY", "nokey", "b"), ("COPY", "a", "b", "REPLACE", "REPLACE", "DB", "0", "DB", "16"),
    ("RENAME", "nokey", "b"), ("RENAME", "nokey", "nokey"), ("RENAMENX", "nokey", "b"),
    ("RENAME", "a"), ("RENAMENX", "a", "b", "c"),
    ("SCAN", "x"), ("SCAN", " 1"), ("SCAN", "1 "), ("SCAN", "+"), ("SCAN", "-"), ("SCAN", "0x10"),
    ("SCAN", "18446744073709551616"), ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "-1"),
    ("SCAN", "0", "COUNT", "x"), ("SCAN", "0", "MATCH"), ("SCAN", "0", "foo", "bar"),
    ("SCAN", "0", "TYPE"), ("SCAN",),
    ("FLUSHALL", "x"), ("FLUSHALL", "sync", "async"), ("FLUSHDB", "async", "x"), ("FLUSHDB", "lazy"),
    ("DEL",), ("UNLINK",), ("EXISTS",), ("TOUCH",), ("TYPE",), ("TYPE", "a", "b"), ("KEYS",),
    ("RANDOMKEY", "x"), ("DBSIZE", "x"),
    ("OBJECT",), ("OBJECT", "foo"), ("OBJECT", "encoding"), ("OBJECT", "encoding", "a", "b"),
    ("OBJECT", "help", "x"), ("OBJECT", "freq", "a"), ("OBJECT", "refcount", "nokey"),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_error_replies_match(tern_server, redis_server, proto):
    r = tern_server.client(protocol=proto)
    o = redis_server.client(protocol=proto)
    for c in (r, o):
        c.flushall()
        c.set("a", "1")
    for case in ERROR_CASES:
        both(r, o, *case)


def test_error_replies_raw(tern_server, redis_server):
    raw_both(tern_server, redis_server, ["FLUSHALL"], ["SET", "a", "1"], ["SCAN", "abc"],
             ["SWAPDB", "0", "x"], ["MOVE", "a", "0"], ["COPY", "a", "a"], ["RENAME", "zz", "a"],
             ["OBJECT", "nosuch"], ["OBJECT", "freq", "a"], ["OBJECT", "encoding", "zz"])


# ---------------------------------------------------------------- DEL / UNLINK / EXISTS / TYPE / TOUCH

def test_del_unlink_exists_touch(r, oracle):
    for c in (r, oracle):
        for k, v in (("a", "1"), ("b", "2"), ("c", "3")):
            c.set(k, v)
    both(r, oracle, "EXISTS", "a", "a", "a", "nokey", "b")
    both(r, oracle, "TOUCH", "a", "a", "nokey")
    both(r, oracle, "DEL", "a", "a", "nokey")
    both(r, oracle, "UNLINK", "b", "b", "c", "nokey")
    both(r, oracle, "EXISTS", "a", "b", "c")
    both(r, oracle, "DBSIZE")


def test_type_of_each_kind(r, oracle):
    both(r, oracle, "SET", "s", "v")
    both(r, oracle, "TYPE", "s")
    both(r, oracle, "TYPE", "missing")
    creators = [("RPUSH", "l", "a"), ("SADD", "st", "a"), ("ZADD", "z", "1", "a"),
                ("HSET", "h", "f", "v"), ("XADD", "x", "1-1", "f", "v")]
    for cmd in creators:
        if supported(r, *cmd):
            oracle.execute_command(*cmd)
            both(r, oracle, "TYPE", cmd[1])


def test_type_is_simple_string(tern_server, redis_server):
    raw_both(tern_server, redis_server, ["FLUSHALL"], ["SET", "k", "v"], ["TYPE", "k"], ["TYPE", "nokey"])


def test_big_unlink_and_flush_async(r):
    r.execute_command("DEBUG", "POPULATE", "50000", "big", "100")
    assert r.dbsize() == 50000
    assert r.execute_command("FLUSHDB", "ASYNC")
    assert r.dbsize() == 0
    r.execute_command("DEBUG", "POPULATE", "20000")
    r.execute_command("SELECT", "3")
    r.execute_command("DEBUG", "POPULATE", "20000")
    r.execute_command("SELECT", "0")
    assert r.execute_command("FLUSHALL", "ASYNC")
    assert r.dbsize() == 0
    assert r.ping()
    if supported(r, "SADD", "probe", "x"):
        r.sadd("bigset", *["m%d" % i for i in range(5000)])
        assert r.unlink("bigset") == 1
        assert r.exists("bigset") == 0
    # The server is healthy after background frees.
    r.set("after", "1")
    assert r.get("after") == b"1"


def test_flush_modes_with_lazyfree_config(r, oracle):
    for c in (r, oracle):
        c.set("a", "1")
    both(r, oracle, "FLUSHDB", "SYNC")
    both(r, oracle, "DBSIZE")
    for c in (r, oracle):
        c.set("a", "1")
    both(r, oracle, "FLUSHALL")
    both(r, oracle, "DBSIZE")


# ---------------------------------------------------------------- RENAME / RENAMENX

def test_rename_semantics(r, oracle):
    for c in (r, oracle):
        c.set("a", "hello")
        c.set("b", "world")
        c.pexpireat("a", 4102444800000)
    both(r, oracle, "RENAME", "a", "a")
    both(r, oracle, "RENAMENX", "a", "a")
    both(r, oracle, "RENAMENX", "a", "b")
    both(r, oracle, "RENAME", "a", "c")
    both(r, oracle, "PEXPIRETIME", "c")          # TTL travels with the value
    both(r, oracle, "GET", "c")
    both(r, oracle, "EXISTS", "a")
    both(r, oracle, "RENAME", "c", "b")          # overwrite drops b's old value and TTL state
    both(r, oracle, "GET", "b")
    both(r, oracle, "PEXPIRETIME", "b")
    both(r, oracle, "RENAMENX", "b", "d")
    both(r, oracle, "PEXPIRETIME", "d")
    both(r, oracle, "KEYS", "*")


def test_rename_onto_expired_and_from_expired(r, oracle):
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        c.set("gone", "x", px=1)
        c.set("live", "y")
    time.sleep(0.05)
    both(r, oracle, "RENAME", "gone", "z")        # expired source: no such key
    both(r, oracle, "RENAMENX", "live", "gone")   # expired destination counts as missing
    both(r, oracle, "GET", "gone")
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_rename_binary_and_long_keys(r, oracle):
    k1 = b"\x00bin\xffkey"
    k2 = b"x" * 5000
    for c in (r, oracle):
        c.set(k1, b"\x00\x01" * 100)
    both(r, oracle, "RENAME", k1, k2)
    both(r, oracle, "GET", k2)
    both(r, oracle, "RENAME", k2, b"")
    both(r, oracle, "GET", b"")


# ---------------------------------------------------------------- KEYS and glob

def test_keys_basic(r, oracle):
    keys = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h[llo", "h*llo", "", "a\\b", "foo:bar", "FOO"]
    for c in (r, oracle):
        for k in keys:
            c.set(k, "1")
    for pat in ["*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h\\[llo", "h\\*llo",
                "", "**", "a\\\\b", "a\\b", "*:*", "[F]OO", "[f]oo", "h[", "h[^", "[]]", "\\"]:
        a = sorted(r.keys(pat))
        b = sorted(oracle.keys(pat))
        assert a == b, pat


def test_keys_skips_expired_without_deleting(r, oracle):
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        c.set("live", "1")
        c.set("dead", "1", px=1)
    time.sleep(0.05)
    assert sorted(r.keys("*")) == sorted(oracle.keys("*")) == [b"live"]
    both(r, oracle, "DBSIZE")                        # still counted: KEYS does not delete
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


GLOB_ALPHABET = ["a", "b", "A", "*", "?", "[", "]", "^", "-", "\\", "!", "\xff", "z"]


def test_glob_fuzz_against_redis(r, oracle):
    rnd = random.Random(1234)
    keys = set()
    for _ in range(300):
        keys.add("".join(rnd.choice("abAz-]\\^[*?") for _ in range(rnd.randint(1, 6))))
    pipe_r, pipe_o = r.pipeline(transaction=False), oracle.pipeline(transaction=False)
    for k in keys:
        pipe_r.set(k, "1")
        pipe_o.set(k, "1")
    pipe_r.execute()
    pipe_o.execute()
    for _ in range(400):
        pat = "".join(rnd.choice(GLOB_ALPHABET) for _ in range(rnd.randint(0, 7))).encode("latin-1")
        a = sorted(r.keys(pat))
        b = sorted(oracle.keys(pat))
        assert a == b, pat


def test_glob_signed_ranges_and_binary(r, oracle):
    keys = [b"\xff", b"\x80", b"A", b"a", b"b", b"\x00", b"-", b"]"]
    for c in (r, oracle):
        for k in keys:
            c.set(k, "1")
    for pat in [b"[a-\xff]", b"[\x80-b]", b"[^\x00]", b"[\\\x00]", b"?", b"[a-]", b"[]-a]", b"\x00"]:
        assert sorted(r.keys(pat)) == sorted(oracle.keys(pat)), pat


def test_glob_nesting_limit(r, oracle):
    key = "a" * 1100
    for c in (r, oracle):
        c.set(key, "1")
    for n, tail in [(1001, ""), (1002, ""), (1001, "?"), (999, "a")]:
        pat = "a*" * n + tail
        assert r.keys(pat) == oracle.keys(pat), (n, tail)


def test_glob_pathological_pattern_is_fast(r):
    r.set("a" * 3000, "1")
    t = time.time()
    assert r.keys("*a" * 60 + "b") == []
    assert r.ping()


# ---------------------------------------------------------------- SCAN

def full_scan(c, **kw):
    cursor = 0
    seen = []
    while True:
        cursor, keys = c.scan(cursor, **kw)
        seen += keys
        if cursor == 0:
            return seen


def test_scan_full_iteration(r):
    r.execute_command("DEBUG", "POPULATE", "3000")
    seen = full_scan(r)
    assert len(seen) == 3000 and len(set(seen)) == 3000
    seen = full_scan(r, count=1000)
    assert set(seen) == {b"key:%d" % i for i in range(3000)}
    seen = full_scan(r, match="key:1*")
    assert set(seen) == {k for k in (b"key:%d" % i for i in range(3000)) if k.startswith(b"key:1")}


def test_scan_match_type_filters_match_redis(r, oracle):
    for c in (r, oracle):
        for i in range(200):
            c.set("s%d" % i, "v")
        if supported(r, "RPUSH", "l1", "x"):
            c.rpush("l1", "x")
            c.rpush("l2", "x")
    for kw in [dict(match="s1*"), dict(_type="string"), dict(_type="STRING"), dict(_type="list"),
               dict(_type="nosuchtype"), dict(match="l*", _type="list"), dict(match="*", count=5)]:
        assert sorted(full_scan(r, **kw)) == sorted(full_scan(oracle, **kw)), kw


def test_scan_reply_shape(tern_server, redis_server):
    raw_both(tern_server, redis_server, ["FLUSHALL"], ["SET", "only", "1"], ["SCAN", "0"],
             ["SCAN", "0", "MATCH", "x*"], ["SCAN", "0", "TYPE", "hash"], ["SCAN", "0", "COUNT", "100"])
    r3 = tern_server.client(protocol=3)
    o3 = redis_server.client(protocol=3)
    assert r3.execute_command("SCAN", "0") == o3.execute_command("SCAN", "0")


def test_scan_cursor_parsing(r, oracle):
    r.set("k", "1")
    oracle.set("k", "1")
    for cur in ["-1", "+0", "", "18446744073709551615", "-18446744073709551615", "00", "0\x00junk"]:
        a = call(r, "SCAN", cur)
        b = call(oracle, "SCAN", cur)
        # Both must parse or both refuse; the cursor that comes back depends on the table.
        assert (isinstance(a, tuple) and a[0] == "error") == (isinstance(b, tuple) and b[0] == "error"), cur
        if isinstance(a, tuple) and a[0] == "error":
            assert a == b


def test_scan_filters_expired_and_deletes_them(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for i in range(50):
            r.set("e%d" % i, "1", px=1)
            r.set("p%d" % i, "1")
        time.sleep(0.05)
        assert r.dbsize() == 100
        seen = full_scan(r)
        assert sorted(seen) == sorted(b"p%d" % i for i in range(50))
        assert r.dbsize() == 50                       # SCAN deleted what it found expired
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_scan_guarantee_while_growing_and_shrinking(r):
    """Every key present for the whole scan is returned at least once, across resizes."""
    stable = [b"stable:%d" % i for i in range(2000)]
    pipe = r.pipeline(transaction=False)
    for k in stable:
        pipe.set(k, "1")
    pipe.execute()
    seen = set()
    cursor, step, extra = 0, 0, 0
    while True:
        cursor, keys = r.scan(cursor, count=20)
        seen.update(keys)
        step += 1
        pipe = r.pipeline(transaction=False)
        if extra < 20000:
            for _ in range(200):
                pipe.set(b"grow:%d" % extra, "1")
                extra += 1
        elif step % 2 == 0:
            # Now delete the growth keys again so the table shrinks mid-scan.
            for i in range(extra - 400, extra):
                pipe.delete(b"grow:%d" % i)
            extra -= 400
            if extra <= 0:
                extra = 10 ** 9
        pipe.execute()
        if cursor == 0:
            break
    assert set(stable) <= seen


def test_scan_count_bounds_work_per_call(r):
    r.execute_command("DEBUG", "POPULATE", "1000")
    cursor, keys = r.scan(0, count=10)
    assert 0 < len(keys) < 100
    cursor, keys = r.scan(0, count=100000)
    assert cursor == 0 and len(keys) == 1000
    cursor, keys = r.scan(0, count=9223372036854775807)
    assert cursor == 0 and len(keys) == 1000
    # A pattern matching nothing still terminates within count*10 buckets per call.
    cursor, keys = r.scan(0, match="nomatch*", count=1)
    assert keys == []


# ---------------------------------------------------------------- RANDOMKEY

def test_randomkey(r, oracle):
    both(r, oracle, "RANDOMKEY")
    r.set("only", "1")
    assert r.randomkey() == b"only"
    for k in ("a", "b", "c"):
        r.set(k, "1")
    got = {r.randomkey() for _ in range(200)}
    assert got == {b"a", b"b", b"c", b"only"}


def test_randomkey_skips_and_deletes_expired(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for i in range(20):
            r.set("x%d" % i, "1", px=1)
        time.sleep(0.05)
        assert r.dbsize() == 20
        assert r.randomkey() is None                   # every key was expired: all deleted
        assert r.dbsize() == 0
        for i in range(20):
            r.set("x%d" % i, "1", px=1)
        r.set("alive", "1")
        time.sleep(0.05)
        assert r.randomkey() == b"alive"
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---------------------------------------------------------------- SWAPDB / MOVE / COPY

def test_swapdb(tern_server, redis_server):
    clients = []
    for srv in (tern_server, redis_server):
        c0 = srv.client(db=0)
        c1 = srv.client(db=1)
        c0.flushall()
        c0.set("a", "zero")
        c0.pexpireat("a", 4102444800000)
        c1.set("b", "one")
        clients.append((c0, c1))
    (r0, r1), (o0, o1) = clients
    both(r0, o0, "SWAPDB", "0", "1")
    both(r0, o0, "GET", "b")          # a client selected on db 0 now sees db 1's data
    both(r1, o1, "GET", "a")
    both(r1, o1, "PEXPIRETIME", "a")
    both(r0, o0, "DBSIZE")
    both(r0, o0, "SWAPDB", "1", "1")
    both(r0, o0, "SWAPDB", "1", "0")
    both(r0, o0, "GET", "a")


def test_move(tern_server, redis_server):
    pairs = []
    for srv in (tern_server, redis_server):
        c0, c2 = srv.client(db=0), srv.client(db=2)
        c0.flushall()
        c0.set("k", "v")
        c0.pexpireat("k", 4102444800000)
        c0.set("dup", "0")
        c2.set("dup", "2")
        pairs.append((c0, c2))
    (r0, r2), (o0, o2) = pairs
    both(r0, o0, "MOVE", "k", "2")
    both(r0, o0, "EXISTS", "k")
    both(r2, o2, "GET", "k")
    both(r2, o2, "PEXPIRETIME", "k")
    both(r0, o0, "MOVE", "dup", "2")   # exists in target: 0, source kept
    both(r0, o0, "GET", "dup")
    both(r2, o2, "GET", "dup")
    both(r0, o0, "MOVE", "nokey", "2")


def test_copy(tern_server, redis_server):
    pairs = []
    for srv in (tern_server, redis_server):
        c0, c3 = srv.client(db=0), srv.client(db=3)
        c0.flushall()
        c0.set("src", "value")
        c0.pexpireat("src", 4102444800000)
        c0.set("other", "x")
        c3.set("taken", "t")
        pairs.append((c0, c3))
    (r0, r3), (o0, o3) = pairs
    both(r0, o0, "COPY", "src", "dst")
    both(r0, o0, "GET", "dst")
    both(r0, o0, "PEXPIRETIME", "dst")
    both(r0, o0, "COPY", "src", "other")
    both(r0, o0, "COPY", "src", "other", "REPLACE")
    both(r0, o0, "GET", "other")
    both(r0, o0, "COPY", "src", "src", "DB", "3")
    both(r3, o3, "GET", "src")
    both(r0, o0, "COPY", "src", "taken", "DB", "3")
    both(r0, o0, "COPY", "src", "taken", "DB", "3", "REPLACE")
    both(r3, o3, "GET", "taken")
    both(r3, o3, "PEXPIRETIME", "taken")
    both(r0, o0, "COPY", "nokey", "x")
    both(r0, o0, "SET", "n", "123")
    both(r0, o0, "COPY", "n", "n2")
    both(r0, o0, "OBJECT", "ENCODING", "n2")


COLLECTION_BUILDERS = [
    [("RPUSH", "c", "a", "b", "c")],
    [("SADD", "c", "1", "2", "3")],
    [("SADD", "c", "x", "y")],
    [("ZADD", "c", "1", "a", "2.5", "b")],
    [("HSET", "c", "f1", "v1", "f2", "v2")],
    [("XADD", "c", "1-1", "f", "v"), ("XADD", "c", "2-1", "g", "w")],
]


@pytest.mark.parametrize("builder", COLLECTION_BUILDERS, ids=lambda b: b[0][0])
def test_copy_collections_are_deep(r, oracle, builder):
    if not supported(r, *builder[0]):
        pytest.skip("%s not implemented in this build" % builder[0][0])
    for cmd in builder[1:]:
        r.execute_command(*cmd)
    for cmd in builder:
        oracle.execute_command(*cmd)
    both(r, oracle, "COPY", "c", "d")
    both(r, oracle, "OBJECT", "ENCODING", "d")
    both(r, oracle, "DEBUG", "DIGEST-VALUE", "c", "d")
    # Mutating the copy leaves the original alone.
    mutate = {"RPUSH": ("RPUSH", "d", "zz"), "SADD": ("SADD", "d", "zz"), "ZADD": ("ZADD", "d", "9", "zz"),
              "HSET": ("HSET", "d", "zz", "1"), "XADD": ("XADD", "d", "9-9", "zz", "1")}[builder[0][0]]
    both(r, oracle, *mutate)
    both(r, oracle, "DEBUG", "DIGEST-VALUE", "c", "d")


# ---------------------------------------------------------------- OBJECT

def test_object_subcommands(r, oracle):
    for c in (r, oracle):
        c.set("int", "123")
        c.set("bigint", "123456")
        c.set("neg", "-1")
        c.set("emb", "hello")
        c.set("raw", "x" * 45)
        c.set("e44", "x" * 44)
        c.set("notint", "0123")
    for k in ["int", "bigint", "neg", "emb", "raw", "e44", "notint", "nokey"]:
        both(r, oracle, "OBJECT", "ENCODING", k)
        both(r, oracle, "OBJECT", "REFCOUNT", k)
    both(r, oracle, "OBJECT", "FREQ", "int")
    both(r, oracle, "OBJECT", "HELP")
    assert r.object("idletime", "emb") in (0, 1)
    both(r, oracle, "OBJECT", "IDLETIME", "nokey")


def test_object_help_raw(tern_server, redis_server):
    raw_both(tern_server, redis_server, ["OBJECT", "HELP"])


def test_object_with_lfu_policy(tern_server, redis_server):
    r = tern_server.client()
    o = redis_server.client()
    try:
        for c in (r, o):
            c.flushall()
            if not supported(c, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"):
                pytest.skip("CONFIG SET not implemented yet")
            c.set("k", "v")
        both(r, o, "OBJECT", "IDLETIME", "k")
        both(r, o, "OBJECT", "FREQ", "k")
    finally:
        for c in (r, o):
            call(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_lfu_counter_survives_overwrite(tern_server, redis_server):
    """Under an LFU policy Redis's dbSetValue keeps the old access counter when a key is
    overwritten (SET over a string, a STORE command over a collection). lfu-log-factor 0
    makes every access count, so the counters are exact on both servers."""
    r = tern_server.client()
    o = redis_server.client()
    try:
        for c in (r, o):
            c.flushall()
            c.config_set("maxmemory-policy", "allkeys-lfu")
            c.config_set("lfu-log-factor", "0")
            c.set("k", "v")
            c.sadd("s1", "a", "b")
            c.sadd("dst", "x")
            for _ in range(10):
                c.get("k")
                c.scard("dst")
            c.set("k", "another value")
            c.sunionstore("dst", ["s1"])
        both(r, o, "OBJECT", "FREQ", "k")
        both(r, o, "OBJECT", "FREQ", "dst")
        assert r.object("freq", "k") > 5
    finally:
        for c in (r, o):
            call(c, "CONFIG", "SET", "maxmemory-policy", "noeviction")
            call(c, "CONFIG", "SET", "lfu-log-factor", "10")


# ---------------------------------------------------------------- stats and notifications

def test_keyspace_hit_miss_accounting(r, oracle):
    if not supported(r, "CONFIG", "RESETSTAT"):
        pytest.skip("CONFIG RESETSTAT not implemented yet")
    for c in (r, oracle):
        c.set("a", "1")
        c.config_resetstat()
        for cmd in [("OBJECT", "ENCODING", "a"), ("OBJECT", "ENCODING", "b"), ("EXISTS", "a", "b"),
                    ("TYPE", "a"), ("TYPE", "b"), ("TTL", "a"), ("TTL", "b"), ("SCAN", "0", "TYPE", "string"),
                    ("TOUCH", "a", "b"), ("COPY", "a", "c"), ("MOVE", "a", "3"), ("RANDOMKEY",), ("KEYS", "*")]:
            c.execute_command(*cmd)
    a = r.info("stats")
    b = oracle.info("stats")
    assert (a["keyspace_hits"], a["keyspace_misses"]) == (b["keyspace_hits"], b["keyspace_misses"])


def collect_events(client_factory, actions):
    """Subscribes to every keyspace event, runs actions, returns the events seen."""
    sub = client_factory()
    ps = sub.pubsub()
    ps.psubscribe("__keyevent@*__:*")
    ps.get_message(timeout=1)
    actions()
    events = []
    deadline = time.time() + 2
    while time.time() < deadline:
        m = ps.get_message(timeout=0.2)
        if m is None:
            if events:
                break
            continue
        if m["type"] == "pmessage":
            events.append((m["channel"], m["data"]))
    ps.close()
    return events


def test_keyspace_events_match_redis(tern_server, redis_server):
    r, o = tern_server.client(), redis_server.client()
    if not supported(r, "CONFIG", "SET", "notify-keyspace-events", "KEA") or not supported(r, "PUBSUB", "NUMPAT"):
        pytest.skip("keyspace notifications not wired in this build")
    try:
        def actions_for(c):
            def run():
                c.flushall()
                c.set("a", "1")
                c.expire("a", 100)
                c.persist("a")
                c.rename("a", "b")
                c.copy("b", "c")
                c.move("c", 1)
                c.expire("b", -1)
                c.set("d", "1")
                c.unlink("d")
            return run
        o.config_set("notify-keyspace-events", "KEA")
        ea = collect_events(tern_server.client, actions_for(r))
        eb = collect_events(redis_server.client, actions_for(o))
        assert ea == eb
    finally:
        for c in (r, o):
            call(c, "CONFIG", "SET", "notify-keyspace-events", "")
