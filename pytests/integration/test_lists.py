"""List commands: side-by-side with a real redis-server, byte for byte, RESP2 and RESP3."""
import random
import socket

import pytest

from raw_pair import pair, same  # noqa: F401  (pair is a fixture)


def test_push_pop_basics(pair):
    same(pair, "RPUSH", "l", "a", "b", "c", "1", "2", "-3", "300", "70000", "9999999999")
    same(pair, "LPUSH", "l", "x", "0", "-0", "007", "+5", "1.5", "")
    same(pair, "LRANGE", "l", 0, -1)
    same(pair, "LLEN", "l")
    same(pair, "LPOP", "l")
    same(pair, "RPOP", "l")
    same(pair, "LPOP", "l", 0)
    same(pair, "LPOP", "l", 3)
    same(pair, "RPOP", "l", 3)
    same(pair, "RPOP", "l", 100)
    same(pair, "LLEN", "l")
    same(pair, "LPOP", "l")
    same(pair, "LPOP", "l", 0)
    same(pair, "LPOP", "l", 2)
    same(pair, "RPOP", "l", 2)
    same(pair, "LPUSHX", "l", "a")
    same(pair, "RPUSHX", "l", "a", "b")
    same(pair, "RPUSH", "l", "q")
    same(pair, "LPUSHX", "l", "a", "b")
    same(pair, "RPUSHX", "l", "c")
    same(pair, "LRANGE", "l", 0, -1)


def test_errors_and_wrong_types(pair):
    same(pair, "SET", "s", "v")
    for cmd in (
        ("LPUSH", "s", "a"), ("RPUSHX", "s", "a"), ("LPOP", "s"), ("RPOP", "s", 2), ("LLEN", "s"),
        ("LRANGE", "s", 0, 1), ("LINDEX", "s", 0), ("LSET", "s", 0, "x"), ("LINSERT", "s", "BEFORE", "a", "b"),
        ("LREM", "s", 0, "a"), ("LTRIM", "s", 0, 1), ("LPOS", "s", "a"), ("LMOVE", "s", "d", "LEFT", "RIGHT"),
        ("RPOPLPUSH", "s", "d"), ("LMPOP", 1, "s", "LEFT"), ("LPOP", "s", 0),
        ("LPOP", "l", -1), ("LPOP", "l", "abc"), ("LPOP", "s", -1), ("LPOP", "l", 1, 2), ("RPOP",),
        ("LINDEX", "missing", "abc"), ("LINDEX", "s", "abc"), ("LRANGE", "missing", "a", 1), ("LRANGE", "s", 0, "x"),
        ("LSET", "missing", 0, "x"), ("LSET", "s", "x", "x"), ("LINSERT", "missing", "middle", "a", "b"),
        ("LINSERT", "missing", "BEFORE", "a", "b"), ("LREM", "missing", "x", "a"), ("LREM", "missing", 1, "a"),
        ("LTRIM", "missing", 0, "x"), ("LTRIM", "missing", 0, 1),
        ("LMOVE", "missing", "d", "LEFT", "UP"), ("LMOVE", "missing", "d", "left", "right"),
        ("RPOPLPUSH", "missing", "d"),
    ):
        same(pair, *cmd)
    same(pair, "RPUSH", "l", "a", "b")
    for cmd in (
        ("LSET", "l", 5, "x"), ("LSET", "l", -3, "x"), ("LSET", "l", -2, "y"), ("LINDEX", "l", 9),
        ("LINDEX", "l", -9), ("LINDEX", "l", -1), ("LMOVE", "l", "s", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "s"),
        ("LRANGE", "l", 0, -1),
    ):
        same(pair, *cmd)


def test_lpos(pair):
    same(pair, "RPUSH", "l", "a", "b", "c", "1", "b", "c", "1", "b", "1", "01")
    for opts in (
        (), ("RANK", 1), ("RANK", 2), ("RANK", -1), ("RANK", -3), ("RANK", 9), ("RANK", -9),
        ("COUNT", 0), ("COUNT", 2), ("COUNT", 0, "RANK", -1), ("COUNT", 1, "RANK", 2),
        ("MAXLEN", 2), ("MAXLEN", 5, "COUNT", 0), ("RANK", -1, "MAXLEN", 3, "COUNT", 0),
        ("RANK", 0), ("RANK", "x"), ("COUNT", -1), ("COUNT", "x"), ("MAXLEN", -1), ("MAXLEN", "y"),
        ("RANK",), ("FOO", 1), ("RANK", "-9223372036854775808"), ("RANK", "9223372036854775807"),
        ("COUNT", 0, "RANK", "-9223372036854775807"),
    ):
        for ele in ("b", "1", "01", "zz"):
            same(pair, "LPOS", "l", ele, *opts)
    same(pair, "LPOS", "missing", "a")
    same(pair, "LPOS", "missing", "a", "COUNT", 0)
    same(pair, "LPOS", "missing", "a", "RANK", 0)


def test_linsert_lrem_ltrim_lset(pair):
    same(pair, "RPUSH", "l", *[str(i % 7) for i in range(60)])
    same(pair, "LINSERT", "l", "BEFORE", "3", "x")
    same(pair, "LINSERT", "l", "after", "6", "y")
    same(pair, "LINSERT", "l", "AFTER", "nope", "y")
    same(pair, "LREM", "l", 2, "5")
    same(pair, "LREM", "l", -3, "4")
    same(pair, "LREM", "l", 0, "2")
    same(pair, "LREM", "l", "-9223372036854775808", "1")
    same(pair, "LSET", "l", 3, "hello")
    same(pair, "LSET", "l", -1, "12345678901")
    same(pair, "LRANGE", "l", 0, -1)
    for s, e in ((2, -3), (-100, 100), (5, 2), (0, 0), (-1, -1), ("-9223372036854775808", "9223372036854775807")):
        same(pair, "LRANGE", "l", s, e)
    same(pair, "LTRIM", "l", 2, -3)
    same(pair, "LRANGE", "l", 0, -1)
    same(pair, "LTRIM", "l", 5, 2)
    same(pair, "LLEN", "l")
    same(pair, "RPUSH", "l", "a", "a", "a")
    same(pair, "LREM", "l", 0, "a")
    same(pair, "LLEN", "l")


def test_lmove_rpoplpush(pair):
    same(pair, "RPUSH", "src", "1", "2", "3", "four")
    for a, b in (("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("left", "left"), ("right", "right")):
        same(pair, "LMOVE", "src", "dst", a, b)
    same(pair, "LRANGE", "src", 0, -1)
    same(pair, "LRANGE", "dst", 0, -1)
    same(pair, "RPOPLPUSH", "dst", "dst")
    same(pair, "LMOVE", "dst", "dst", "LEFT", "RIGHT")
    same(pair, "LRANGE", "dst", 0, -1)
    same(pair, "RPUSH", "one", "x")
    same(pair, "RPOPLPUSH", "one", "one")
    same(pair, "LRANGE", "one", 0, -1)
    same(pair, "RPOPLPUSH", "missing", "dst")
    same(pair, "LLEN", "src")


def test_lmpop(pair):
    same(pair, "RPUSH", "b", "1", "2", "3", "4", "5")
    same(pair, "LMPOP", 2, "a", "b", "LEFT")
    same(pair, "LMPOP", 2, "a", "b", "RIGHT", "COUNT", 2)
    same(pair, "LMPOP", 1, "b", "RIGHT", "COUNT", 100)
    same(pair, "LMPOP", 2, "a", "b", "LEFT")
    for cmd in (
        ("LMPOP", 0, "a", "LEFT"), ("LMPOP", -1, "a", "LEFT"), ("LMPOP", "x", "a", "LEFT"), ("LMPOP", 3, "a", "LEFT"),
        ("LMPOP", 1, "a", "MIDDLE"), ("LMPOP", 1, "a", "LEFT", "COUNT"), ("LMPOP", 1, "a", "LEFT", "COUNT", 0),
        ("LMPOP", 1, "a", "LEFT", "COUNT", -1), ("LMPOP", 1, "a", "LEFT", "COUNT", 1, "COUNT", 2),
        ("LMPOP", 1, "a", "LEFT", "FOO"), ("LMPOP", "9223372036854775807", "a", "LEFT"),
        ("BLMPOP", 0, 0, "a", "LEFT"), ("BLMPOP", "x", 1, "a", "LEFT"), ("BLMPOP", -1, 1, "a", "LEFT"),
        ("BLMPOP", 0, 1, "a", "LEFT", "COUNT", 0),
    ):
        same(pair, *cmd)


def test_timeout_argument_errors(pair):
    for t in ("x", "-1", "-0.5", "1e400", "nan", "inf", "-inf", " 1", "1 ", "", "0x10", "1e300",
              "9223372036854775807", "92233720368547758", "-0.0001", "1.5e-400"):
        same(pair, "SET", "s", "v")
        same(pair, "BLPOP", "s", t)
        same(pair, "BRPOP", "s", "s", t)
        same(pair, "BLMOVE", "s", "d", "LEFT", "LEFT", t)
        same(pair, "BRPOPLPUSH", "s", "d", t)
        same(pair, "BLMPOP", t, 1, "s", "LEFT")
    same(pair, "BLMOVE", "s", "d", "UP", "LEFT", "x")


def test_blocking_commands_on_ready_keys(pair):
    same(pair, "RPUSH", "a", "1", "2", "3")
    same(pair, "BLPOP", "missing", "a", 0)
    same(pair, "BRPOP", "a", 0)
    same(pair, "BLMOVE", "a", "b", "RIGHT", "LEFT", 0)
    same(pair, "BRPOPLPUSH", "b", "c", 0)
    same(pair, "BLMPOP", 0, 2, "x", "c", "LEFT", "COUNT", 5)
    for k in ("a", "b", "c"):
        same(pair, "LLEN", k)


def test_multi_blocking_acts_nonblocking(pair):
    for cmd in (("BLPOP", "e", 0), ("BRPOP", "e", "f", 1), ("BLMOVE", "e", "d", "LEFT", "LEFT", 0),
                ("BRPOPLPUSH", "e", "d", 0), ("BLMPOP", 0, 1, "e", "LEFT")):
        t, o = pair
        first = t.cmd("MULTI")
        if b"unknown command" in first:
            pytest.skip("MULTI not available in this build")
        a = [first, t.cmd(*cmd), t.cmd("EXEC")]
        b = [o.cmd("MULTI"), o.cmd(*cmd), o.cmd("EXEC")]
        assert a == b


def test_big_elements_and_many_nodes(pair):
    big = "x" * 10000
    same(pair, "RPUSH", "l", big, "a", big, "b")
    same(pair, "LINDEX", "l", 2)
    same(pair, "LSET", "l", 1, big)
    same(pair, "LINSERT", "l", "BEFORE", "b", big)
    same(pair, "LRANGE", "l", 0, -1)
    for i in range(0, 3000, 500):
        same(pair, "RPUSH", "n", *[str(j) for j in range(i, i + 500)])
        same(pair, "LPUSH", "n", *["v%d" % j for j in range(i, i + 500)])
    same(pair, "LLEN", "n")
    for idx in (0, 1, 2999, 3000, 5999, -1, -3000, -6000, -6001, 6000):
        same(pair, "LINDEX", "n", idx)
    same(pair, "LRANGE", "n", 2990, 3010)
    same(pair, "LRANGE", "n", -20, -1)
    same(pair, "LREM", "n", -2, "v17")
    same(pair, "LINSERT", "n", "AFTER", "1500", "inserted")
    same(pair, "LPOS", "n", "inserted")
    same(pair, "LTRIM", "n", 100, -100)
    same(pair, "LRANGE", "n", 0, -1)
    same(pair, "RPOP", "n", 700)
    same(pair, "LPOP", "n", 700)
    same(pair, "LRANGE", "n", 0, -1)


def random_element(rng):
    k = rng.random()
    if k < 0.35:
        return str(rng.randint(-5, 20))
    if k < 0.5:
        return str(rng.choice([127, 128, -4096, -4097, 4095, 4096, 262143, 262144, -262145, 33554431, 33554432,
                               2147483647, 2147483648, -2147483649, 9223372036854775807, -9223372036854775808]))
    if k < 0.6:
        return rng.choice(["", "007", "-0", "+1", "1.0", "9223372036854775808"])
    if k < 0.9:
        return rng.choice("abcdef") * rng.randint(1, 5)
    return "y" * rng.choice([63, 64, 100, 4095, 4096, 9000])


def test_random_differential(pair):
    rng = random.Random(1234)
    keys = ["k1", "k2", "k3"]
    for step in range(1500):
        k = rng.choice(keys)
        op = rng.randint(0, 16)
        e = random_element(rng)
        i = rng.randint(-40, 40)
        if op <= 3:
            same(pair, rng.choice(["LPUSH", "RPUSH"]), k, *[random_element(rng) for _ in range(rng.randint(1, 20))])
        elif op == 4:
            same(pair, rng.choice(["LPOP", "RPOP"]), k, *([rng.randint(0, 8)] if rng.random() < 0.5 else []))
        elif op == 5:
            same(pair, "LINDEX", k, i)
        elif op == 6:
            same(pair, "LSET", k, i, e)
        elif op == 7:
            same(pair, "LINSERT", k, rng.choice(["BEFORE", "AFTER"]), random_element(rng), e)
        elif op == 8:
            same(pair, "LREM", k, rng.randint(-3, 3), e)
        elif op == 9:
            if rng.random() < 0.2:
                same(pair, "LTRIM", k, rng.randint(-30, 30), rng.randint(-30, 30))
        elif op == 10:
            same(pair, "LRANGE", k, i, rng.randint(-40, 40))
        elif op == 11:
            same(pair, "LPOS", k, e, "RANK", rng.choice([1, 2, -1, -2]), "COUNT", rng.randint(0, 3))
        elif op == 12:
            same(pair, "LMOVE", k, rng.choice(keys), rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]))
        elif op == 13:
            same(pair, "LMPOP", 2, k, rng.choice(keys), rng.choice(["LEFT", "RIGHT"]), "COUNT", rng.randint(1, 4))
        elif op == 14:
            same(pair, "LLEN", k)
        elif op == 15:
            same(pair, "RPOPLPUSH", k, rng.choice(keys))
        else:
            same(pair, "RPUSH", k, *[str(rng.randint(0, 1000000)) for _ in range(rng.randint(50, 200))])
        if step % 100 == 0:
            for kk in keys:
                same(pair, "LRANGE", kk, 0, -1)
    for kk in keys:
        same(pair, "LRANGE", kk, 0, -1)


def test_keyspace_side_effects(r, oracle):
    try:
        r.ttl("nothing")
    except Exception:
        pytest.skip("EXPIRE/TTL not in this build")
    for c in (r, oracle):
        c.rpush("l", "a")
        c.expire("l", 100)
        c.rpush("l", "b")
    assert r.ttl("l") == oracle.ttl("l") == 100
    assert r.type("l") == oracle.type("l") == b"list"
