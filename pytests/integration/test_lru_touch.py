"""Which commands touch a key's LRU clock (OBJECT IDLETIME), side by side with a real
redis-server. Redis 7.0 touches on lookupKeyRead/lookupKeyWrite but not with LOOKUP_NOTOUCH
(TYPE, EXISTS, TTL, OBJECT ...), and integers 0..9999 stored by SET & co are one shared
object per value whose idle time is shared by every key holding it (found by the
differential test: OBJECT IDLETIME gave 0 on Tern, 3 on Redis).

Not timing-sensitive: every case is set up, then ONE pause of 2.1 s, then every action
runs and every idle time is read right away. A key nobody touched after the pause reads
>= 2 s idle; a touched one reads 0 or 1 (a clock second may tick in between). Only that
classification is compared, never exact seconds.
"""
import time

import pytest
import redis

# (name, setup commands, action commands, keys to classify as (db, key)).
# Keys are prefixed with the case index; integer values 7000 + 10*i are unique per case (INCR moves a value by one) so the
# shared-integer cases do not interfere with each other.
CASES = [
    ("get", [["SET", "k", "v"]], [["GET", "k"]], [(0, "k")]),
    ("type", [["SET", "k", "v"]], [["TYPE", "k"]], [(0, "k")]),
    ("exists", [["SET", "k", "v"]], [["EXISTS", "k"]], [(0, "k")]),
    ("touch", [["SET", "k", "v"]], [["TOUCH", "k"]], [(0, "k")]),
    ("ttl", [["SET", "k", "v", "EX", "100"]], [["TTL", "k"], ["PTTL", "k"], ["EXPIRETIME", "k"],
                                                ["PEXPIRETIME", "k"]], [(0, "k")]),
    ("object", [["SET", "k", "v"]], [["OBJECT", "ENCODING", "k"], ["OBJECT", "REFCOUNT", "k"],
                                     ["OBJECT", "IDLETIME", "k"]], [(0, "k")]),
    ("strlen", [["SET", "k", "v"]], [["STRLEN", "k"]], [(0, "k")]),
    ("debug_object", [["SET", "k", "v"]], [["DEBUG", "OBJECT", "k"]], [(0, "k")]),
    ("debug_digest_value", [["SET", "k", "v"]], [["DEBUG", "DIGEST-VALUE", "k"]], [(0, "k")]),
    ("keys_scan_randomkey", [["SET", "k", "v"]], [["KEYS", "*"], ["SCAN", "0", "TYPE", "string"],
                                                  ["RANDOMKEY"]], [(0, "k")]),
    ("expire", [["SET", "k", "v"]], [["EXPIRE", "k", "100"]], [(0, "k")]),
    ("expire_nx_fails", [["SET", "k", "v", "EX", "100"]], [["EXPIRE", "k", "200", "NX"]], [(0, "k")]),
    ("persist", [["SET", "k", "v", "EX", "100"]], [["PERSIST", "k"]], [(0, "k")]),
    ("persist_no_ttl", [["SET", "k", "v"]], [["PERSIST", "k"]], [(0, "k")]),
    ("move", [["SET", "k", "v"]], [["MOVE", "k", "1"]], [(1, "k")]),
    ("move_dst_exists", [["SET", "k", "v"], ["SELECT", "1"], ["SET", "k", "w"], ["SELECT", "0"]],
     [["MOVE", "k", "1"]], [(0, "k"), (1, "k")]),
    ("copy", [["SET", "k", "v"]], [["COPY", "k", "k2"]], [(0, "k"), (0, "k2")]),
    ("copy_dst_exists", [["SET", "k", "v"], ["SET", "k2", "w"]], [["COPY", "k", "k2"]],
     [(0, "k"), (0, "k2")]),
    ("copy_db_dst_exists", [["SET", "k", "v"], ["SELECT", "1"], ["SET", "k2", "w"], ["SELECT", "0"]],
     [["COPY", "k", "k2", "DB", "1"]], [(0, "k"), (1, "k2")]),
    ("rename", [["SET", "k", "v"]], [["RENAME", "k", "k2"]], [(0, "k2")]),
    ("renamenx_dst_exists", [["SET", "k", "v"], ["SET", "k2", "w"]], [["RENAMENX", "k", "k2"]],
     [(0, "k"), (0, "k2")]),
    ("setnx_exists", [["SET", "k", "v"]], [["SETNX", "k", "z"]], [(0, "k")]),
    ("set_nx_exists", [["SET", "k", "v"]], [["SET", "k", "z", "NX"]], [(0, "k")]),
    ("msetnx_exists", [["SET", "k", "v"]], [["MSETNX", "k2", "a", "k", "b"]], [(0, "k")]),
    ("getex", [["SET", "k", "v"]], [["GETEX", "k"]], [(0, "k")]),
    ("sort_by_get", [["RPUSH", "l", "1", "2"], ["SET", "w_1", "1.5"], ["SET", "w_2", "0.5"],
                     ["SET", "g_1", "x"], ["SET", "g_2", "y"]],
     [["SORT", "l", "BY", "w_*", "GET", "g_*"]], [(0, "l"), (0, "w_1"), (0, "w_2"), (0, "g_1")]),
    ("sort_ro", [["RPUSH", "l", "1", "2"]], [["SORT_RO", "l"]], [(0, "l")]),
    ("sort_store_dst_exists", [["RPUSH", "l", "1", "2"], ["SET", "d", "x"]],
     [["SORT", "l", "BY", "nosort", "STORE", "d"]], [(0, "l"), (0, "d")]),
    ("smove", [["SADD", "s", "a", "b"], ["SADD", "s2", "c"]], [["SMOVE", "s", "s2", "a"]],
     [(0, "s"), (0, "s2")]),
    ("sinterstore_src", [["SADD", "s", "a", "b"], ["SADD", "s2", "a"]], [["SINTERSTORE", "d", "s", "s2"]],
     [(0, "s"), (0, "s2")]),
    ("lmove", [["RPUSH", "l", "a", "b"], ["RPUSH", "l2", "c"]], [["LMOVE", "l", "l2", "LEFT", "RIGHT"]],
     [(0, "l"), (0, "l2")]),
    ("lpushx", [["RPUSH", "l", "a"]], [["LPUSHX", "l", "b"]], [(0, "l")]),
    ("hset", [["HSET", "h", "f", "v"]], [["HSET", "h", "g", "w"]], [(0, "h")]),
    ("zscore", [["ZADD", "z", "1", "a"]], [["ZSCORE", "z", "a"]], [(0, "z")]),
    ("incr_unshared", [["SET", "k", "123456"]], [["INCR", "k"]], [(0, "k")]),
    ("append", [["SET", "k", "v"]], [["APPEND", "k", "w"]], [(0, "k")]),
    ("setrange_empty", [["SET", "k", "v"]], [["SETRANGE", "k", "0", ""]], [(0, "k")]),
    ("lcs", [["SET", "k", "abc"], ["SET", "k2", "abd"]], [["LCS", "k", "k2"]], [(0, "k"), (0, "k2")]),
    ("bitop", [["SET", "k", "abc"]], [["BITOP", "NOT", "d", "k"]], [(0, "k")]),
    ("bitfield_ro", [["SET", "k", "abc"]], [["BITFIELD_RO", "k", "GET", "u8", "0"]], [(0, "k")]),
    ("pfcount", [["PFADD", "p", "a"]], [["PFCOUNT", "p"]], [(0, "p")]),
    ("watch", [["SET", "k", "v"]], [["WATCH", "k"], ["UNWATCH"]], [(0, "k")]),
    ("swapdb", [["SET", "k", "v"]], [["SWAPDB", "0", "2"], ["SWAPDB", "0", "2"]], [(0, "k")]),
    ("memory_usage", [["SET", "k", "v"]], [["MEMORY", "USAGE", "k"]], [(0, "k")]),
    ("dump", [["SET", "k", "v"]], [["DUMP", "k"]], [(0, "k")]),
    # Shared integers: reading one key holding 7001 touches every key holding 7001 ...
    ("shared_read_other", [["SET", "k", "%d"], ["SET", "k2", "%d"]], [["GET", "k2"]], [(0, "k")]),
    # ... and a key newly set to a shared integer inherits its (old) idle time.
    ("shared_new_key", [["SET", "k", "%d"]], [["SET", "k2", "%d"]], [(0, "k2")]),
    ("shared_incr", [["SET", "k", "%d"], ["SET", "k2", "%d"]], [["INCR", "k2"], ["DECR", "k2"]],
     [(0, "k")]),
    ("shared_mset", [["SET", "k", "%d"]], [["MSET", "k2", "%d"]], [(0, "k2")]),
    # COPY duplicates the value: a private (unshared) integer object with a fresh clock.
    ("shared_copy", [["SET", "k", "%d"], ["SET", "k3", "%d"]], [["COPY", "k", "k2"], ["GET", "k3"]],
     [(0, "k2")]),
    ("not_shared_10000", [["SET", "k", "10000"], ["SET", "k2", "10000"]], [["GET", "k2"]], [(0, "k")]),
]


def prefixed(i, argv, value):
    """Prefixes key arguments with the case index (c<i>:) and fills in the case's integer."""
    out = []
    for a in argv:
        if a == "%d":
            out.append(str(value))
        else:
            out.append(a)
    return out


KEYNAMES = {"k", "k2", "k3", "l", "l2", "s", "s2", "d", "h", "z", "p", "w_1", "w_2", "g_1", "g_2"}
PATTERNS = {"w_*", "g_*"}


def rename_keys(i, argv):
    p = "c%d:" % i
    return [p + a if a in KEYNAMES or a in PATTERNS else a for a in argv]


def run_cases(client):
    """Runs every case on one server; returns {case name: [idle classification per key]}
    plus a map of command errors (a command missing on the server)."""
    client.execute_command("FLUSHALL")
    skipped = {}

    def run(i, name, argvs):
        for argv in argvs:
            try:
                client.execute_command(*rename_keys(i, prefixed(i, argv, 7000 + 10 * i)))
            except redis.ResponseError as e:  # an unknown command: the case is skipped, not failed
                if "unknown command" not in str(e):
                    raise
                skipped[name] = str(e)
        client.execute_command("SELECT", "0")

    for i, (name, setup, _action, _checks) in enumerate(CASES):
        run(i, name, setup)
    time.sleep(2.1)
    for i, (name, _setup, action, _checks) in enumerate(CASES):
        run(i, name, action)
    out = {}
    for i, (name, _setup, _action, checks) in enumerate(CASES):
        res = []
        for db, key in checks:
            client.execute_command("SELECT", str(db))
            idle = client.execute_command("OBJECT", "IDLETIME", "c%d:%s" % (i, key))
            res.append(None if idle is None else ("touched" if idle <= 1 else "idle"))
        client.execute_command("SELECT", "0")
        out[name] = res
    return out, skipped


@pytest.fixture(scope="module")
def results(tern_server, redis_server):
    t = tern_server.client(single_connection_client=True)
    o = redis_server.client(single_connection_client=True)
    try:
        return run_cases(t), run_cases(o)
    finally:
        t.close()
        o.close()


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_lru_touch_matches_redis(results, name):
    (tern, tern_skipped), (redis, _) = results
    if name in tern_skipped:
        pytest.skip("not in Tern: %s" % tern_skipped[name])
    assert tern[name] == redis[name], "idle classification of %r differs" % (
        [c for c in CASES if c[0] == name][0][3],)


def test_copy_of_shared_integer_is_private(r, oracle):
    for c in (r, oracle):
        c.set("a", "5")
        c.copy("a", "b")
        c.set("big", "10000")
    for c in (r, oracle):
        assert c.object("refcount", "a") == 2147483647
        assert c.object("refcount", "b") == 1
        assert c.object("refcount", "big") == 1
        # INCR of the private copy makes a new (shared) integer again.
        c.incr("b")
        assert c.object("refcount", "b") == 2147483647
