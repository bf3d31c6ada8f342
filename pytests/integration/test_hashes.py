"""Hash commands, side by side with a real redis-server (RESP2 and RESP3, exact bytes)."""
import random

import pytest

from raw_pair import pair  # noqa: F401  (a fixture)
from resp_wire import canon, parse


def test_basic_small_hash(pair):
    s = pair.same
    s("HSET", "h", "a", "1", "b", "2", "c", "hello")
    s("HSET", "h", "a", "10", "d", "4")
    s("HGETALL", "h")
    s("HKEYS", "h")
    s("HVALS", "h")
    s("HLEN", "h")
    s("HGET", "h", "a")
    s("HGET", "h", "zz")
    s("HGET", "nokey", "a")
    s("HMGET", "h", "a", "zz", "c")
    s("HMGET", "nokey", "a", "b")
    s("HEXISTS", "h", "a")
    s("HEXISTS", "h", "zz")
    s("HSTRLEN", "h", "c")
    s("HSTRLEN", "h", "a")
    s("HSTRLEN", "h", "zz")
    s("HSETNX", "h", "a", "x")
    s("HSETNX", "h", "e", "5")
    s("HMSET", "h", "f", "6", "g", "7")
    s("HDEL", "h", "a", "zz", "b")
    s("HGETALL", "h")
    s("HDEL", "h", "c", "d", "e", "f", "g")
    s("DEL", "h")
    s("HGETALL", "nokey")
    s("HKEYS", "nokey")
    s("HLEN", "nokey")
    s("HDEL", "nokey", "a")


def test_integer_like_values_round_trip(pair):
    s = pair.same
    vals = ["0", "-0", "01", "127", "128", "-1", "-128", "9223372036854775807",
            "-9223372036854775808", "9223372036854775808", "1.5", "", " 1", "+1", "1e3"]
    args = []
    for i, v in enumerate(vals):
        args += [v, v]  # field and value equal: exercises the integer element form both ways
    s("HSET", "h", *args)
    s("HGETALL", "h")
    for v in vals:
        s("HGET", "h", v)
        s("HSTRLEN", "h", v)
        s("HEXISTS", "h", v)


def test_errors(pair):
    s = pair.same
    s("SET", "str", "x")
    for cmd in (["HSET", "str", "a", "1"], ["HGET", "str", "a"], ["HMGET", "str", "a"], ["HDEL", "str", "a"],
                ["HLEN", "str"], ["HKEYS", "str"], ["HVALS", "str"], ["HGETALL", "str"], ["HEXISTS", "str", "a"],
                ["HSTRLEN", "str", "a"], ["HINCRBY", "str", "a", "1"], ["HINCRBYFLOAT", "str", "a", "1"],
                ["HSETNX", "str", "a", "1"], ["HRANDFIELD", "str"], ["HRANDFIELD", "str", "3"], ["HSCAN", "str", "0"],
                ["HMSET", "str", "a", "1"]):
        s(*cmd)
    s("HSET", "h", "a")
    s("HSET", "h", "a", "1", "b")
    s("HMSET", "h", "a", "1", "b")
    s("HSET", "h")
    s("HGET", "h")
    s("HINCRBY", "h", "a", "x")
    s("HINCRBY", "h", "a", "1.5")
    s("HSET", "h", "s", "abc", "big", "9223372036854775807", "neg", "-9223372036854775808", "sp", " 1")
    s("HINCRBY", "h", "s", "1")
    s("HINCRBY", "h", "sp", "1")
    s("HINCRBY", "h", "big", "1")
    s("HINCRBY", "h", "neg", "-1")
    s("HINCRBY", "h", "big", "-1")
    s("HINCRBYFLOAT", "h", "s", "1")
    s("HINCRBYFLOAT", "h", "sp", "1")
    for bad in ("nan", "inf", "-inf", "infinity", "1e5000", "1e-5000", "", " 1", "abc", "1x"):
        s("HINCRBYFLOAT", "h", "f", bad)
    s("DEL", "nk")
    s("HINCRBYFLOAT", "nk", "f", "inf")
    s("HINCRBY", "nk", "f", "x")
    s("DEL", "nk")


def test_hincrby_and_float(pair):
    s = pair.same
    s("HINCRBY", "h", "n", "5")
    s("HINCRBY", "h", "n", "-12")
    s("HINCRBY", "h", "n", "9223372036854775807")
    s("HGET", "h", "n")
    cases = [("10.5", "0.1"), ("3", "1.5e5"), ("0", "1e20"), ("0", "1e-20"), ("5", "-5"),
             ("1", "-1.0000000000000001"), ("0.1", "0.2"), ("0", "0x1p3"), ("1", "+1.5"),
             ("1e308", "1e308"), ("1.1", "1e10"), ("inf", "1"), ("1e-5000", "1"), ("1e5000", "1"),
             ("nan", "1"), ("0x10", "1"), ("-0", "0"), ("7", "1e-4940")]
    for i, (old, inc) in enumerate(cases):
        f = "f%d" % i
        s("HSET", "h", f, old)
        s("HINCRBYFLOAT", "h", f, inc)
        s("HGET", "h", f)
    s("HINCRBYFLOAT", "h", "new", "2.5")
    s("OBJECT", "ENCODING", "h")  # the 309-digit value converted it
    a, b = pair.both("HGETALL", "h")
    assert canon(parse(a)) == canon(parse(b))


def test_hincrbyfloat_propagates_as_hset(tern_server, r):
    # Without replication in this tree, MONITOR-free check: the stored text is the reply.
    assert r.hincrbyfloat("h", "f", 1.1) == pytest.approx(1.1)
    assert r.hget("h", "f") == b"1.1"


def test_encoding_thresholds(pair):
    s = pair.same
    s("HSET", "h", "a", "x" * 64)
    s("OBJECT", "ENCODING", "h")
    s("HSET", "h", "b", "x" * 65)
    s("OBJECT", "ENCODING", "h")
    s("HSET", "h2", "f" * 65, "1")
    s("OBJECT", "ENCODING", "h2")
    # 512 entries stay listpack, the 513th converts
    args = []
    for i in range(512):
        args += ["f%d" % i, str(i)]
    s("HSET", "h3", *args)
    s("OBJECT", "ENCODING", "h3")
    s("HGETALL", "h3")
    s("HSET", "h3", "f0", "new")
    s("OBJECT", "ENCODING", "h3")
    s("HSETNX", "h3", "extra", "1")
    s("OBJECT", "ENCODING", "h3")
    # deletions never convert back
    for i in range(500):
        pair.both("HDEL", "h3", "f%d" % i)
    s("OBJECT", "ENCODING", "h3")
    s("HLEN", "h3")
    # HINCRBY / HINCRBYFLOAT check the field and the new value length
    s("HINCRBY", "h4", "f" * 65, "1")
    s("OBJECT", "ENCODING", "h4")
    s("HSETNX", "h5", "f", "x" * 65)
    s("OBJECT", "ENCODING", "h5")
    s("HSETNX", "h6", "f" * 65, "x")
    s("OBJECT", "ENCODING", "h6")


def test_config_thresholds(pair, r):
    try:
        r.config_set("hash-max-listpack-value", 3)
    except Exception:
        pytest.skip("CONFIG SET not available in this tree")
    s = pair.same
    try:
        s("CONFIG", "SET", "hash-max-listpack-value", "3")
        s("CONFIG", "SET", "hash-max-listpack-entries", "4")
        s("HINCRBY", "h", "a", "999")
        s("OBJECT", "ENCODING", "h")
        s("HINCRBY", "h", "a", "1")
        s("OBJECT", "ENCODING", "h")
        s("HINCRBYFLOAT", "h2", "b", "1.55")
        s("OBJECT", "ENCODING", "h2")
        s("HSET", "h3", "a", "1", "b", "2", "c", "3", "d", "4")
        s("OBJECT", "ENCODING", "h3")
        s("HSET", "h3", "e", "5")
        s("OBJECT", "ENCODING", "h3")
        s("CONFIG", "SET", "hash-max-listpack-entries", "0")
        s("HSET", "h4", "a", "1")
        s("OBJECT", "ENCODING", "h4")
    finally:
        pair.both("CONFIG", "SET", "hash-max-listpack-value", "64")
        pair.both("CONFIG", "SET", "hash-max-listpack-entries", "512")


def test_big_hash_unordered(pair):
    args = []
    for i in range(2000):
        args += ["field:%d" % i, "value:%d" % (i * 7)]
    pair.same("HSET", "big", *args)
    pair.same("OBJECT", "ENCODING", "big")
    for cmd in (("HGETALL", "big"), ("HKEYS", "big"), ("HVALS", "big")):
        a, b = pair.both(*cmd)
        assert canon(parse(a)) == canon(parse(b))
    # HKEYS and HVALS walk in the same order as HGETALL
    keys = parse(pair.t.cmd("HKEYS", "big"))
    vals = parse(pair.t.cmd("HVALS", "big"))
    flat = parse(pair.t.cmd("HGETALL", "big"))
    if pair.proto == 2:
        assert flat[0::2] == keys and flat[1::2] == vals
    for i in range(0, 2000, 37):
        pair.same("HGET", "big", "field:%d" % i)
        pair.same("HSTRLEN", "big", "field:%d" % i)
        pair.same("HINCRBY", "big", "n%d" % i, str(i))
    for i in range(0, 2000, 3):
        pair.same("HDEL", "big", "field:%d" % i)
    pair.same("HLEN", "big")
    a, b = pair.both("HGETALL", "big")
    assert canon(parse(a)) == canon(parse(b))


def test_hrandfield(pair):
    s = pair.same
    s("HSET", "h", "a", "1", "b", "2", "c", "3")
    s("HRANDFIELD", "nokey")
    s("HRANDFIELD", "nokey", "5")
    s("HRANDFIELD", "nokey", "-5", "WITHVALUES")
    s("HRANDFIELD", "h", "0")
    s("HRANDFIELD", "h", "0", "WITHVALUES")
    s("HRANDFIELD", "h", "10")               # whole hash, listpack order
    s("HRANDFIELD", "h", "3", "WITHVALUES")
    s("HRANDFIELD", "h", "1", "withvalues", "x")
    s("HRANDFIELD", "h", "1", "foo")
    s("HRANDFIELD", "h", "x")
    s("HRANDFIELD", "h", "-9223372036854775808")
    s("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES")
    s("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES")
    t = pair.t
    one = parse(t.cmd("HRANDFIELD", "h"))
    assert one in (b"a", b"b", b"c")
    v = parse(t.cmd("HRANDFIELD", "h", "-7"))
    assert len(v) == 7 and set(v) <= {b"a", b"b", b"c"}
    v = parse(t.cmd("HRANDFIELD", "h", "2"))
    assert len(v) == 2 and len(set(v)) == 2 and set(v) <= {b"a", b"b", b"c"}
    v = parse(t.cmd("HRANDFIELD", "h", "-5", "WITHVALUES"))
    pairs = v if pair.proto == 3 else [v[i:i + 2] for i in range(0, len(v), 2)]
    assert len(pairs) == 5
    for f, val in pairs:
        assert {b"a": b"1", b"b": b"2", b"c": b"3"}[f] == val
    # hashtable encoding, all the count cases
    args = []
    for i in range(1000):
        args += ["f%d" % i, "v%d" % i]
    pair.both("HSET", "big", *args)
    for cnt in (1, 10, 400, 999, 1000, 5000):
        v = parse(t.cmd("HRANDFIELD", "big", str(cnt), "WITHVALUES"))
        pairs = v if pair.proto == 3 else [v[i:i + 2] for i in range(0, len(v), 2)]
        assert len(pairs) == min(cnt, 1000)
        assert len({f for f, _ in pairs}) == len(pairs)
        for f, val in pairs:
            assert val == b"v" + f[1:]
    v = parse(t.cmd("HRANDFIELD", "big", "-3000"))
    assert len(v) == 3000


def test_hscan(pair):
    s = pair.same
    s("HSET", "h", "a1", "1", "b1", "2", "a2", "3")
    s("HSCAN", "h", "0")
    s("HSCAN", "h", "0", "MATCH", "a*")
    s("HSCAN", "h", "0", "COUNT", "1")
    s("HSCAN", "h", "0", "MATCH", "*", "COUNT", "100")
    s("HSCAN", "h", "0", "COUNT", "0")
    s("HSCAN", "h", "0", "COUNT", "-1")
    s("HSCAN", "h", "0", "COUNT", "x")
    s("HSCAN", "h", "0", "MATCH")
    s("HSCAN", "h", "0", "TYPE", "string")
    s("HSCAN", "h", "0", "NOVALUES")
    for cur in ("x", " 0", "-1", "+5", "05", "", "18446744073709551615", "18446744073709551616", "-", "+", "1e3"):
        s("HSCAN", "h", cur)
    s("HSCAN", "nokey", "0")
    s("HSCAN", "nokey", "0", "COUNT", "0")


def test_hscan_full_iteration(pair):
    args = []
    for i in range(3000):
        args += ["k%d" % i, str(i)]
    pair.both("HSET", "big", *args)
    t = pair.t
    cursor = b"0"
    seen = {}
    calls = 0
    deleted = set()
    while True:
        v = parse(t.cmd("HSCAN", "big", cursor, "COUNT", "50"))
        cursor = v[0]
        items = v[1]
        for i in range(0, len(items), 2):
            seen[items[i]] = items[i + 1]
        calls += 1
        if calls == 5:  # mutate mid-scan: deletions must not hide survivors
            for i in range(0, 3000, 2):
                t.cmd("HDEL", "big", "k%d" % i)
                deleted.add(b"k%d" % i)
        if cursor == b"0":
            break
        assert calls < 10000
    survivors = {b"k%d" % i for i in range(1, 3000, 2)}
    assert survivors <= set(seen)
    for k in survivors:
        assert seen[k] == k[1:]
    # MATCH filters on fields
    cursor, got = b"0", set()
    while True:
        v = parse(t.cmd("HSCAN", "big", cursor, "MATCH", "k1*"))
        cursor = v[0]
        got.update(v[1][0::2])
        if cursor == b"0":
            break
    assert got == {k for k in survivors if k.startswith(b"k1")}


def full_scan(client, args):
    """Runs a SCAN-family command to completion; returns the set of returned items."""
    cursor, got = b"0", set()
    while True:
        v = parse(client.cmd(args[0], args[1], cursor, *args[3:]))
        cursor = v[0]
        items = v[1]
        got.update(zip(items[0::2], items[1::2]))
        if cursor == b"0":
            return got


def test_random_ops_side_by_side(pair):
    rnd = random.Random(1234 + pair.proto)
    keys = ["h1", "h2", "h3"]
    fields = ["f%d" % i for i in range(12)] + ["1", "-2", "300", ""]
    values = ["v", "", "12", "-7", "3.5", "x" * 70, "9223372036854775807", "0"]
    for _ in range(1500):
        k = rnd.choice(keys)
        op = rnd.randrange(12)
        f = rnd.choice(fields)
        if op == 0:
            args = ["HSET", k]
            for _ in range(rnd.randint(1, 4)):
                args += [rnd.choice(fields), rnd.choice(values)]
        elif op == 1:
            args = ["HDEL", k] + rnd.sample(fields, rnd.randint(1, 3))
        elif op == 2:
            args = ["HGET", k, f]
        elif op == 3:
            args = ["HINCRBY", k, f, str(rnd.randint(-100, 100))]
        elif op == 4:
            args = ["HINCRBYFLOAT", k, f, rnd.choice(["1.5", "-0.25", "1e3", "3"])]
        elif op == 5:
            args = ["HSETNX", k, f, rnd.choice(values)]
        elif op == 6:
            args = ["HMGET", k] + rnd.sample(fields, 3)
        elif op == 7:
            args = ["HLEN", k]
        elif op == 8:
            args = ["HSTRLEN", k, f]
        elif op == 9:
            args = ["HEXISTS", k, f]
        elif op == 10:
            args = [rnd.choice(["HGETALL", "HKEYS", "HVALS"]), k]
        else:
            args = ["HSCAN", k, "0", "MATCH", rnd.choice(["f1*", "*", "?", "[0-9]*"])]
        enc = parse(pair.r.cmd("OBJECT", "ENCODING", k))
        if enc == b"hashtable" and args[0] == "HSCAN":
            assert full_scan(pair.t, args) == full_scan(pair.r, args)
            continue
        a, b = pair.both(*args)
        if enc == b"hashtable" and args[0] in ("HGETALL", "HKEYS", "HVALS"):
            assert canon(parse(a)) == canon(parse(b)), args
        else:
            assert a == b, (args, a, b)
        assert pair.t.cmd("OBJECT", "ENCODING", k) == pair.r.cmd("OBJECT", "ENCODING", k), args


def test_hscan_match_patterns(pair):
    fields = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h[llo", "h]llo", "h-llo", "a*b", "a?b", "a\\b",
              "", "H", "abc", "ab", "a", "b", "-", "^", "x\x00y", "\xff", "\\", "[", "]", "foo.bar", "foo", "ba", "zz"]
    args = []
    for f in fields:
        args += [f, "1"]
    pair.same("HSET", "h", *args)
    pats = ["*", "**", "", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h[b-a]llo", "h\\[llo", "h[\\]]llo",
            "h[]]llo", "[a-]", "[-a]", "[^]", "a[", "a[b", "a\\*b", "a\\", "\\", "*o", "*l*o", "?", "??", "*?*", "[a-c]*",
            "[!a]*", "[^a-c]*", "x*y", "*\xff", "[\x00-\x7f]", "foo*.bar", "a*a*a*b", "H*", "h*", "[]", "[^", "[a-b-c]",
            "*[", "\\*", "[\\]"]
    for p in pats:
        pair.same("HSCAN", "h", "0", "MATCH", p)
