"""Set commands, side by side with a real redis-server (RESP2 and RESP3, exact bytes)."""
import random

import pytest

from raw_pair import pair  # noqa: F401  (a fixture)
from resp_wire import canon, parse


def same_unordered(pair, *args):
    a, b = pair.both(*args)
    assert canon(parse(a)) == canon(parse(b)), (args, a[:300], b[:300])
    return a


def test_intset_basics(pair):
    s = pair.same
    s("SADD", "s", "5", "3", "-1", "3", "1000000", "-9223372036854775808", "9223372036854775807")
    s("OBJECT", "ENCODING", "s")
    s("SMEMBERS", "s")
    s("SCARD", "s")
    s("SISMEMBER", "s", "3")
    s("SISMEMBER", "s", "4")
    s("SISMEMBER", "s", "03")
    s("SISMEMBER", "s", "abc")
    s("SMISMEMBER", "s", "3", "4", "-1", "x")
    s("SMISMEMBER", "nokey", "3", "4")
    s("SREM", "s", "3", "4", "x")
    s("SMEMBERS", "s")
    s("SSCAN", "s", "0")
    s("SSCAN", "s", "0", "MATCH", "-*")
    s("SRANDMEMBER", "s", "100")   # whole set, sorted
    s("SADD", "s", "01")
    s("OBJECT", "ENCODING", "s")
    same_unordered(pair, "SMEMBERS", "s")
    s("SREM", "s", "5", "-1", "1000000", "-9223372036854775808", "9223372036854775807", "01")
    s("DEL", "s")
    s("SADD", "t", "a", "1")
    s("OBJECT", "ENCODING", "t")
    s("SADD", "u", "0", "-0")
    s("OBJECT", "ENCODING", "u")
    s("SCARD", "u")


def test_intset_widths_and_order(pair):
    s = pair.same
    vals = [0, 1, -1, 127, 128, 255, 256, -129, 65535, 65536, -65537, 2**31, -2**31 - 1, 2**40, -2**40,
            2**63 - 1, -2**63, 1000, 1001, 999]
    rnd = random.Random(7)
    order = vals[:]
    rnd.shuffle(order)
    for v in order:
        s("SADD", "s", str(v))
        s("SMEMBERS", "s")
    for v in order[:10]:
        s("SREM", "s", str(v))
        s("SMEMBERS", "s")
        s("SISMEMBER", "s", str(v))
    s("OBJECT", "ENCODING", "s")


def test_thresholds(pair):
    s = pair.same
    s("SADD", "s", *[str(i) for i in range(512)])
    s("OBJECT", "ENCODING", "s")
    s("SADD", "s", "512")
    s("OBJECT", "ENCODING", "s")
    for i in range(500):
        pair.both("SREM", "s", str(i))
    s("OBJECT", "ENCODING", "s")
    s("SCARD", "s")
    # store destinations start as intset
    s("SADD", "a", "1", "2", "x")
    s("SADD", "b", "1", "2", "y")
    s("SINTERSTORE", "d", "a", "b")
    s("OBJECT", "ENCODING", "d")
    s("SMEMBERS", "d")
    s("SUNIONSTORE", "d2", "a", "b")
    s("OBJECT", "ENCODING", "d2")
    s("SDIFFSTORE", "d3", "a", "b")
    s("OBJECT", "ENCODING", "d3")
    s("SMEMBERS", "d3")
    s("SMOVE", "a", "newkey", "x")
    s("OBJECT", "ENCODING", "newkey")
    s("SMOVE", "a", "newkey2", "1")
    s("OBJECT", "ENCODING", "newkey2")
    # SPOP leaving <= 1/5: rebuilt set, back to intset
    s("SADD", "big", *[str(i) for i in range(600)])
    s("OBJECT", "ENCODING", "big")
    pair.both("SPOP", "big", "550")
    s("OBJECT", "ENCODING", "big")
    s("SCARD", "big")
    s("SADD", "big2", *[str(i) for i in range(600)])
    pair.both("SPOP", "big2", "100")
    s("OBJECT", "ENCODING", "big2")
    s("SCARD", "big2")


def test_config_threshold(pair, r):
    try:
        r.config_set("set-max-intset-entries", 4)
    except Exception:
        pytest.skip("CONFIG SET not available in this tree")
    try:
        pair.same("CONFIG", "SET", "set-max-intset-entries", "4")
        pair.same("SADD", "s", "1", "2", "3", "4")
        pair.same("OBJECT", "ENCODING", "s")
        pair.same("SADD", "s", "5")
        pair.same("OBJECT", "ENCODING", "s")
    finally:
        pair.both("CONFIG", "SET", "set-max-intset-entries", "512")


def test_errors(pair):
    s = pair.same
    s("SET", "str", "x")
    for cmd in (["SADD", "str", "a"], ["SREM", "str", "a"], ["SCARD", "str"], ["SISMEMBER", "str", "a"],
                ["SMISMEMBER", "str", "a"], ["SMEMBERS", "str"], ["SPOP", "str"], ["SPOP", "str", "2"],
                ["SRANDMEMBER", "str"], ["SRANDMEMBER", "str", "2"], ["SMOVE", "str", "x", "a"],
                ["SINTER", "str"], ["SUNION", "str"], ["SDIFF", "str"], ["SINTERSTORE", "d", "str"],
                ["SUNIONSTORE", "d", "str"], ["SDIFFSTORE", "d", "str"], ["SSCAN", "str", "0"],
                ["SINTERCARD", "1", "str"], ["SINTER", "nokey", "str"], ["SUNION", "nokey", "str"],
                ["SDIFF", "nokey", "str"]):
        s(*cmd)
    s("SADD", "s", "1", "2")
    s("SMOVE", "s", "str", "1")
    s("SMOVE", "nokey", "str", "1")
    s("SPOP", "s", "-1")
    s("SPOP", "s", "x")
    s("SPOP", "s", "1", "2")
    s("SRANDMEMBER", "s", "x")
    s("SRANDMEMBER", "s", "1", "2")
    s("SRANDMEMBER", "s", "-9223372036854775808")
    s("SINTERCARD", "0", "s")
    s("SINTERCARD", "x", "s")
    s("SINTERCARD", "-1", "s")
    s("SINTERCARD", "3", "s")
    s("SINTERCARD", "1", "s", "LIMIT")
    s("SINTERCARD", "1", "s", "LIMIT", "-1")
    s("SINTERCARD", "1", "s", "LIMIT", "x")
    s("SINTERCARD", "1", "s", "FOO", "1")
    s("SADD", "s")
    s("SSCAN", "s", "x")
    s("SSCAN", "s", "0", "COUNT", "0")
    s("SSCAN", "s", "0", "TYPE", "set")


def test_algebra_small(pair):
    s = pair.same
    s("SADD", "a", "1", "2", "3", "4", "5")
    s("SADD", "b", "4", "5", "6")
    s("SADD", "c", "5", "7")
    s("SADD", "x", "5", "q", "r")
    s("SINTER", "a", "b")
    s("SINTER", "a", "b", "c")
    s("SINTER", "a", "nokey")
    s("SINTER", "a")
    s("SUNION", "a", "b", "c")
    s("SUNION", "a", "nokey")
    s("SUNION", "nokey")
    s("SDIFF", "a", "b", "c")
    s("SDIFF", "a", "a")
    s("SDIFF", "nokey", "a")
    s("SDIFF", "a", "nokey")
    s("SINTERCARD", "2", "a", "b")
    s("SINTERCARD", "3", "a", "b", "c")
    s("SINTERCARD", "2", "a", "nokey")
    s("SINTERCARD", "1", "a", "LIMIT", "2")
    s("SINTERCARD", "1", "a", "LIMIT", "0")
    s("SINTERCARD", "1", "a", "limit", "100")
    s("SINTER", "a", "x")
    same_unordered(pair, "SUNION", "a", "x")
    s("SDIFF", "a", "x")
    same_unordered(pair, "SDIFF", "x", "a")
    s("SINTERSTORE", "d", "a", "b")
    s("SMEMBERS", "d")
    s("SINTERSTORE", "d", "a", "nokey")
    s("DEL", "d")
    s("SET", "str", "v")
    s("SUNIONSTORE", "str", "a", "b")
    s("OBJECT", "ENCODING", "str")
    s("SMEMBERS", "str")
    s("SDIFFSTORE", "str", "a", "a")
    s("DEL", "str")
    s("SDIFFSTORE", "a", "a", "b")
    s("SMEMBERS", "a")
    s("SUNIONSTORE", "u", "nokey")
    s("DEL", "u")


def test_smove(pair):
    s = pair.same
    s("SADD", "a", "1", "2", "x")
    s("SADD", "b", "3")
    s("SMOVE", "a", "b", "1")
    s("SMOVE", "a", "b", "1")
    s("SMOVE", "a", "b", "nope")
    s("SMEMBERS", "b")
    s("SMOVE", "a", "a", "2")
    s("SMOVE", "a", "a", "9")
    s("SMOVE", "a", "b", "x")
    s("OBJECT", "ENCODING", "b")
    s("SMOVE", "a", "b", "2")
    s("DEL", "a")
    s("SCARD", "b")
    s("SADD", "c", "3")
    s("SMOVE", "b", "c", "3")
    s("SCARD", "c")


def test_spop_srandmember(pair):
    s = pair.same
    t = pair.t
    s("SPOP", "nokey")
    s("SPOP", "nokey", "3")
    s("SRANDMEMBER", "nokey")
    s("SRANDMEMBER", "nokey", "3")
    s("SADD", "s", "1", "2", "3")
    s("SPOP", "s", "0")
    s("SRANDMEMBER", "s", "0")
    s("SRANDMEMBER", "s", "3")
    s("SRANDMEMBER", "s", "10")
    s("SPOP", "s", "10")       # whole intset, sorted; key deleted
    s("DEL", "s")
    s("SADD", "s", "1", "2", "3")
    assert parse(t.cmd("SPOP", "s")) in (b"1", b"2", b"3")
    assert parse(t.cmd("SCARD", "s")) == 2
    v = parse(t.cmd("SRANDMEMBER", "s", "-10"))
    assert len(v) == 10
    pair.both("DEL", "s")
    for members in ([str(i) for i in range(300)], ["m%d" % i for i in range(300)], [str(i) for i in range(2000)]):
        pair.both("DEL", "s")
        pair.same("SADD", "s", *members)
        ms = set(m.encode() for m in members)
        for cnt in (1, 5, 80, 150, 299, 300, 1000):
            v = parse(t.cmd("SRANDMEMBER", "s", str(cnt)))
            assert len(v) == min(cnt, len(members)) and len(set(v)) == len(v) and set(v) <= ms
        v = parse(t.cmd("SRANDMEMBER", "s", "-500"))
        assert len(v) == 500 and set(v) <= ms
        left = set(ms)
        for cnt in (3, 50, 10):
            v = parse(t.cmd("SPOP", "s", str(cnt)))
            if pair.proto == 3:
                v = v[1]
            assert len(v) == cnt and len(set(v)) == cnt and set(v) <= left
            left -= set(v)
        members_now = parse(t.cmd("SMEMBERS", "s"))
        if pair.proto == 3:
            members_now = members_now[1]
        assert set(members_now) == left
        # the few-survivors path
        v = parse(t.cmd("SPOP", "s", str(len(left) - 3)))
        if pair.proto == 3:
            v = v[1]
        assert len(set(v)) == len(left) - 3
        assert parse(t.cmd("SCARD", "s")) == 3


def test_algebra_big(pair):
    rnd = random.Random(99)
    for k, n in (("a", 3000), ("b", 2000), ("c", 700)):
        members = [str(rnd.randrange(5000)) for _ in range(n)] + ["s%d" % rnd.randrange(3000) for _ in range(n // 3)]
        pair.same("SADD", k, *members)
    pair.same("SADD", "ints", *[str(i) for i in range(0, 5000, 7)])
    for cmd in (("SINTER", "a", "b"), ("SINTER", "a", "b", "c"), ("SUNION", "a", "b", "c"), ("SDIFF", "a", "b"),
                ("SDIFF", "a", "b", "c"), ("SINTER", "ints", "a"), ("SDIFF", "ints", "a"), ("SMEMBERS", "a")):
        same_unordered(pair, *cmd)
    for cmd in (("SINTERSTORE", "d", "a", "b"), ("SUNIONSTORE", "d", "a", "b", "c"), ("SDIFFSTORE", "d", "a", "c"),
                ("SINTERSTORE", "d", "ints", "c"), ("SINTERCARD", "2", "a", "b"), ("SINTERCARD", "2", "a", "b", "LIMIT", "10")):
        pair.same(*cmd)
        pair.same("SCARD", "d")
        pair.same("OBJECT", "ENCODING", "d")
        same_unordered(pair, "SMEMBERS", "d")


def test_sscan_full(pair):
    t = pair.t
    pair.both("SADD", "s", *["m%d" % i for i in range(5000)])
    cursor, got, calls = b"0", set(), 0
    while True:
        v = parse(t.cmd("SSCAN", "s", cursor, "COUNT", "100"))
        cursor = v[0]
        got.update(v[1])
        calls += 1
        if calls == 3:
            for i in range(0, 5000, 2):
                t.cmd("SREM", "s", "m%d" % i)
        if cursor == b"0":
            break
    assert {b"m%d" % i for i in range(1, 5000, 2)} <= got
    cursor, got = b"0", set()
    while True:
        v = parse(t.cmd("SSCAN", "s", cursor, "MATCH", "m1?"))
        cursor = v[0]
        got.update(v[1])
        if cursor == b"0":
            break
    assert got == {b"m11", b"m13", b"m15", b"m17", b"m19"}


def full_scan(client, args):
    cursor, got = b"0", set()
    while True:
        v = parse(client.cmd(args[0], args[1], cursor, *args[3:]))
        cursor = v[0]
        got.update(v[1])
        if cursor == b"0":
            return got


def test_random_ops_side_by_side(pair):
    rnd = random.Random(4321 + pair.proto)
    keys = ["s1", "s2", "s3"]
    members = [str(i) for i in range(-5, 25)] + ["a", "b", "c", "007", ""]
    for _ in range(2000):
        k = rnd.choice(keys)
        op = rnd.randrange(12)
        if op <= 2:
            args = ["SADD", k] + [rnd.choice(members) for _ in range(rnd.randint(1, 4))]
        elif op == 3:
            args = ["SREM", k] + [rnd.choice(members) for _ in range(rnd.randint(1, 3))]
        elif op == 4:
            args = ["SISMEMBER", k, rnd.choice(members)]
        elif op == 5:
            args = ["SMISMEMBER", k] + rnd.sample(members, 3)
        elif op == 6:
            args = ["SCARD", k]
        elif op == 7:
            args = ["SMOVE", k, rnd.choice(keys), rnd.choice(members)]
        elif op == 8:
            args = [rnd.choice(["SINTER", "SUNION", "SDIFF"])] + rnd.sample(keys, rnd.randint(1, 3))
        elif op == 9:
            args = [rnd.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), rnd.choice(keys)] + rnd.sample(keys, 2)
        elif op == 10:
            args = ["SMEMBERS", k]
        else:
            args = ["SSCAN", k, "0", "MATCH", rnd.choice(["1*", "*", "?", "[a-c]"])]
        encs = [parse(pair.r.cmd("OBJECT", "ENCODING", x)) for x in keys]
        if args[0] == "SSCAN" and encs[keys.index(k)] == b"hashtable":
            assert full_scan(pair.t, args) == full_scan(pair.r, args)
            continue
        a, b = pair.both(*args)
        if args[0] in ("SINTER", "SUNION", "SDIFF", "SMEMBERS") and b"hashtable" in encs:
            assert canon(parse(a)) == canon(parse(b)), args
        else:
            assert a == b, (args, a, b)
        for x in keys:
            assert pair.t.cmd("OBJECT", "ENCODING", x) == pair.r.cmd("OBJECT", "ENCODING", x), (args, x)
