"""String commands, side by side with the real redis-server: every reply is compared
byte for byte in RESP2 and RESP3 (raw sockets), including error texts."""
import random

from raw_pair import pair  # noqa: F401  (a fixture)
from resp_wire import Conn


# ---------------------------------------------------------------------------
# GET / SET and its options


def test_get_set_basic(pair):
    pair.run([
        ("GET", "k"), ("SET", "k", "v"), ("GET", "k"), ("SET", "k", ""), ("GET", "k"),
        ("SET", "k", "x" * 100), ("GET", "k"), ("SET", b"bin\x00\xff", b"\x00\r\n\xff"), ("GET", b"bin\x00\xff"),
        ("SET", "k"), ("GET",), ("GET", "a", "b"),
    ])


def test_set_options_and_errors(pair):
    pair.run([
        ("SET", "k", "v", "NX"), ("SET", "k", "v2", "NX"), ("GET", "k"),
        ("SET", "k", "v3", "XX"), ("SET", "nokey", "v", "XX"), ("GET", "nokey"),
        ("SET", "k", "v", "NX", "XX"), ("SET", "k", "v", "XX", "NX"), ("SET", "k", "v", "nx", "nx"),
        ("SET", "k", "v", "EX"), ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "EX", "-1"),
        ("SET", "k", "v", "EX", "abc"), ("SET", "k", "v", "PX", "0"), ("SET", "k", "v", "EXAT", "0"),
        ("SET", "k", "v", "PXAT", "-5"), ("SET", "k", "v", "EX", "9223372036854775807"),
        ("SET", "k", "v", "EX", "9223372036854775"), ("SET", "k", "v", "PX", "9223372036854775807"),
        ("SET", "k", "v", "EX", "10", "PX", "10"), ("SET", "k", "v", "EX", "10", "KEEPTTL"),
        ("SET", "k", "v", "KEEPTTL", "EX", "10"), ("SET", "k", "v", "EX", "10", "EX", "20"), ("TTL", "k"),
        ("SET", "k", "v", "PX", "10000", "PX", "20000"), ("SET", "k", "v", "EXAT", "1", "PXAT", "1"),
        ("SET", "k", "v", "PERSIST"), ("SET", "k", "v", "foo"), ("SET", "k", "v", "GET", "GET"),
        ("SET", "k", "v", b"nx\x00junk"), ("GET", "k"), ("SET", "k", "v", b"ex\x00", "100"), ("TTL", "k"),
        ("SET", "k", "v", "ex", "abc", "foo"), ("SET", "k", "v", "foo", "ex", "abc"),
    ])


def test_set_get_option(pair):
    pair.run([
        ("SET", "k", "v", "GET"), ("SET", "k", "v2", "GET"), ("GET", "k"),
        ("SET", "k", "v3", "NX", "GET"), ("GET", "k"), ("SET", "missing", "x", "XX", "GET"), ("GET", "missing"),
        ("SET", "m2", "x", "NX", "GET"), ("GET", "m2"),
        ("SET", "k", "v4", "GET", "EX", "100"), ("TTL", "k"), ("SET", "k", "v5", "GET", "KEEPTTL"), ("TTL", "k"),
        ("SET", "k", "v6", "GET"), ("TTL", "k"),
    ])


def test_set_ttl_handling(pair):
    pair.run([
        ("SET", "k", "v", "EX", "100"), ("TTL", "k"), ("SET", "k", "v"), ("TTL", "k"),
        ("SET", "k", "v", "PX", "100000"), ("TTL", "k"), ("SET", "k", "other", "KEEPTTL"), ("TTL", "k"),
        ("GET", "k"), ("SET", "k", "v", "EXAT", "4102444800"), ("TTL", "k"),
        ("SET", "k", "v", "PXAT", "1"), ("GET", "k"), ("EXISTS", "k"),
        ("SET", "k", "v", "EXAT", "1"), ("GET", "k"),
    ])


def test_encodings(pair):
    cases = ["123", "-5", "0", "0123", "+5", " 1", "1.5", "-0", "9223372036854775807",
             "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
             "x" * 44, "x" * 45, "", "12345678901234567890", "a"]
    for i, v in enumerate(cases):
        k = "k%d" % i
        pair("SET", k, v)
        pair("OBJECT", "ENCODING", k)
        pair("GET", k)


# ---------------------------------------------------------------------------
# SETNX / SETEX / PSETEX / GETSET / GETDEL / GETEX


def test_setnx_setex_psetex(pair):
    pair.run([
        ("SETNX", "k", "v"), ("SETNX", "k", "w"), ("GET", "k"), ("SETNX", "k"),
        ("SETEX", "e", "100", "v"), ("TTL", "e"), ("GET", "e"), ("SETEX", "e", "0", "v"),
        ("SETEX", "e", "-1", "v"), ("SETEX", "e", "x", "v"), ("SETEX", "e", "9223372036854775807", "v"),
        ("PSETEX", "p", "100000", "v"), ("TTL", "p"), ("PSETEX", "p", "0", "v"), ("PSETEX", "p", "x", "v"),
        ("SETEX", "e", "100"), ("OBJECT", "ENCODING", "e"), ("SETEX", "n", "100", "42"),
        ("OBJECT", "ENCODING", "n"),
    ])


def test_getset_getdel(pair):
    pair.run([
        ("GETSET", "k", "v"), ("GETSET", "k", "w"), ("GET", "k"),
        ("SET", "t", "v", "EX", "100"), ("GETSET", "t", "x"), ("TTL", "t"),
        ("GETSET", "n", "12"), ("OBJECT", "ENCODING", "n"),
        ("GETDEL", "k"), ("GETDEL", "k"), ("EXISTS", "k"), ("GETDEL", "missing"),
    ])


def test_getex(pair):
    pair.run([
        ("GETEX", "missing"), ("GETEX", "missing", "EX", "0"), ("GETEX", "missing", "foo"),
        ("SET", "k", "v"), ("GETEX", "k"), ("TTL", "k"), ("GETEX", "k", "EX", "100"), ("TTL", "k"),
        ("GETEX", "k", "PERSIST"), ("TTL", "k"), ("GETEX", "k", "PERSIST"),
        ("GETEX", "k", "PX", "50000"), ("TTL", "k"), ("GETEX", "k", "EXAT", "4102444800"), ("TTL", "k"),
        ("GETEX", "k", "PXAT", "4102444800000"), ("TTL", "k"),
        ("GETEX", "k", "EX", "0"), ("GETEX", "k", "EX", "-1"), ("GETEX", "k", "EX", "x"),
        ("GETEX", "k", "KEEPTTL"), ("GETEX", "k", "NX"), ("GETEX", "k", "GET"), ("GETEX", "k", "EX"),
        ("GETEX", "k", "EX", "10", "PX", "10"), ("GETEX", "k", "PERSIST", "EX", "10"),
        ("GETEX", "k", "EX", "10", "PERSIST"), ("GETEX", "k", "EX", "10", "EX", "20"), ("TTL", "k"),
        ("GETEX", "k", "EX", "9223372036854775807"),
        ("GETEX", "k", "EXAT", "1"), ("EXISTS", "k"), ("GETEX", "k"),
        ("SET", "k", "v"), ("GETEX", "k", "PXAT", "1"), ("EXISTS", "k"),
    ])


# ---------------------------------------------------------------------------
# MGET / MSET / MSETNX


def test_mget_mset_msetnx(pair):
    pair.run([
        ("MSET", "a", "1", "b", "2", "c", "xyz"), ("MGET", "a", "b", "c", "d"),
        ("MSET", "a"), ("MSET", "a", "1", "b"), ("MSETNX", "a", "1", "b"),
        ("MSETNX", "x", "1", "a", "2"), ("MGET", "x", "a"), ("MSETNX", "x", "1", "y", "2"), ("MGET", "x", "y"),
        ("MSET", "a", "1", "a", "2"), ("GET", "a"), ("MSETNX", "q", "1", "q", "2"), ("GET", "q"),
        ("SET", "t", "v", "EX", "100"), ("MSET", "t", "w"), ("TTL", "t"),
        ("MSET", "i", "100", "s", "abc"), ("OBJECT", "ENCODING", "i"), ("OBJECT", "ENCODING", "s"),
        ("MGET", "nokey"),
    ])


# ---------------------------------------------------------------------------
# APPEND / STRLEN / GETRANGE / SUBSTR / SETRANGE


def test_append_strlen(pair):
    pair.run([
        ("APPEND", "k", "hello"), ("APPEND", "k", " world"), ("GET", "k"), ("STRLEN", "k"),
        ("OBJECT", "ENCODING", "k"), ("STRLEN", "missing"), ("APPEND", "n", "12"), ("OBJECT", "ENCODING", "n"),
        ("APPEND", "n", "3"), ("OBJECT", "ENCODING", "n"), ("GET", "n"), ("SET", "m", "5"), ("APPEND", "m", ""),
        ("OBJECT", "ENCODING", "m"), ("STRLEN", "m"), ("SET", "t", "v", "EX", "100"), ("APPEND", "t", "x"),
        ("TTL", "t"), ("APPEND", "e", ""), ("EXISTS", "e"), ("GET", "e"), ("SET", "i", "12345"),
        ("STRLEN", "i"),
    ])
    for i in range(50):
        pair("APPEND", "grow", "x" * i)
    pair("STRLEN", "grow")
    pair("GET", "grow")


def test_getrange_substr(pair):
    pair("SET", "s", "Hello World")
    pair("SET", "i", "1234567")
    pair("SET", "empty", "")
    vals = ["0", "1", "-1", "-5", "5", "10", "11", "100", "-100", "-11", "-12",
            "9223372036854775807", "-9223372036854775808"]
    for key in ("s", "i", "empty", "missing"):
        for a in vals:
            for b in vals:
                pair("GETRANGE", key, a, b)
    pair.run([
        ("GETRANGE", "s", "x", "1"), ("GETRANGE", "s", "0", "x"), ("GETRANGE", "s", "0"),
        ("GETRANGE", "missing", "x", "1"), ("SUBSTR", "s", "0", "4"), ("SUBSTR", "s", "-3", "-1"),
        ("SUBSTR", "s", "a", "b"),
    ])


def test_setrange(pair):
    pair.run([
        ("SETRANGE", "k", "0", "hello"), ("GET", "k"), ("OBJECT", "ENCODING", "k"),
        ("SETRANGE", "k", "6", "world"), ("GET", "k"), ("SETRANGE", "k", "1", "EL"), ("GET", "k"),
        ("SETRANGE", "k", "-1", "x"), ("SETRANGE", "k", "x", "x"), ("SETRANGE", "k", "100", ""),
        ("STRLEN", "k"), ("SETRANGE", "new", "5", ""), ("EXISTS", "new"), ("SETRANGE", "new", "3", "ab"),
        ("GET", "new"), ("SETRANGE", "n", "0", "1"), ("OBJECT", "ENCODING", "n"),
        ("SET", "i", "1234"), ("SETRANGE", "i", "1", "9"), ("GET", "i"), ("OBJECT", "ENCODING", "i"),
        ("SETRANGE", "k", "536870912", "x"), ("SETRANGE", "k", "536870911", "xy"),
        ("SETRANGE", "k2", "536870912", ""), ("SETRANGE", "k2", "536870912", "x"),
        ("SETRANGE", "k", "9223372036854775807", "x"), ("SET", "t", "v", "EX", "100"),
        ("SETRANGE", "t", "3", "x"), ("TTL", "t"), ("GET", "t"), ("SETRANGE", "t", "3", ""),
    ])


# ---------------------------------------------------------------------------
# INCR family


def test_incr_decr(pair):
    pair.run([
        ("INCR", "c"), ("INCR", "c"), ("GET", "c"), ("OBJECT", "ENCODING", "c"), ("DECR", "c"), ("DECR", "c"),
        ("DECR", "c"), ("INCRBY", "c", "100"), ("DECRBY", "c", "50"), ("INCRBY", "c", "-1000"),
        ("DECRBY", "c", "-7"), ("INCRBY", "c", "x"), ("INCRBY", "c", "1.5"), ("INCRBY", "c", ""),
        ("INCRBY", "c", "+1"), ("INCRBY", "c", "01"),
        ("SET", "s", "abc"), ("INCR", "s"), ("SET", "s", " 1"), ("INCR", "s"), ("SET", "s", "1 "), ("INCR", "s"),
        ("SET", "s", "01"), ("INCR", "s"), ("SET", "s", "+1"), ("INCR", "s"), ("SET", "s", "-0"), ("INCR", "s"),
        ("SET", "s", "1.0"), ("INCR", "s"), ("SET", "s", ""), ("INCR", "s"),
        ("SET", "big", "9223372036854775807"), ("INCR", "big"), ("INCRBY", "big", "0"), ("DECR", "big"),
        ("GET", "big"), ("SET", "big", "9223372036854775806"), ("INCR", "big"), ("INCR", "big"),
        ("SET", "small", "-9223372036854775808"), ("DECR", "small"), ("INCRBY", "small", "-1"),
        ("DECRBY", "small", "1"), ("SET", "z", "0"), ("DECRBY", "z", "-9223372036854775808"),
        ("DECRBY", "z", "9223372036854775807"), ("DECR", "z"), ("DECR", "z"), ("GET", "z"),
        ("INCRBY", "z", "9223372036854775807"), ("INCRBY", "z", "9223372036854775807"),
        ("INCRBY", "c", "9223372036854775808"), ("SET", "n", "99"), ("INCR", "n"), ("GET", "n"),
        ("INCR", "n"), ("DECR", "n"), ("DECR", "n"), ("GET", "n"), ("SET", "m", "-1"), ("INCR", "m"),
        ("INCR", "m"), ("DECR", "m"), ("DECR", "m"), ("DECRBY", "m", "9"), ("GET", "m"),
        ("SET", "e", "5"), ("APPEND", "e", "0"), ("OBJECT", "ENCODING", "e"), ("INCR", "e"),
        ("OBJECT", "ENCODING", "e"), ("SET", "t", "5", "EX", "100"), ("INCR", "t"), ("TTL", "t"),
    ])


def test_incr_random_against_oracle(pair):
    rnd = random.Random(7)
    for i in range(300):
        key = "k%d" % rnd.randrange(5)
        op = rnd.randrange(4)
        n = rnd.choice([1, 9, 10, 99, 100, 12345, 2 ** 31, 2 ** 62, -1, -10, -(2 ** 40)])
        if op == 0:
            pair("INCR", key)
        elif op == 1:
            pair("DECR", key)
        elif op == 2:
            pair("INCRBY", key, str(n))
        else:
            pair("DECRBY", key, str(n))
        pair("GET", key)


INCRBYFLOAT_TABLE = [
    ("10.5", "0.1", b"10.6"),
    ("3", "1.5e5", b"150003"),
    ("0", "1e20", b"100000000000000000000"),
    ("0", "1e-20", b"0"),
    ("5", "-5", b"0"),
    ("1", "-1.0000000000000001", b"-0.0000000000000001"),
    ("0.1", "0.2", b"0.3"),
    ("0", "0x1p3", b"8"),
    ("1", "+1.5", b"2.5"),
]


def test_incrbyfloat_spec_table(tern_server, r):
    c = Conn(tern_server.port)
    for old, incr, want in INCRBYFLOAT_TABLE:
        c.cmd("SET", "f", old)
        assert c.cmd("INCRBYFLOAT", "f", incr) == b"$%d\r\n%s\r\n" % (len(want), want), (old, incr)
    c.cmd("SET", "f", "1e308")
    got = c.cmd("INCRBYFLOAT", "f", "1e308")
    assert got.startswith(b"$309\r\n19999999999999999999337175931")
    c.close()


def test_incrbyfloat(pair):
    pair.run([
        ("INCRBYFLOAT", "f", "1.5"), ("INCRBYFLOAT", "f", "0.1"), ("GET", "f"), ("OBJECT", "ENCODING", "f"),
        ("INCRBYFLOAT", "f", "-1.6"), ("OBJECT", "ENCODING", "f"), ("INCRBYFLOAT", "f", "abc"),
        ("INCRBYFLOAT", "f", ""), ("INCRBYFLOAT", "f", " 1"), ("INCRBYFLOAT", "f", "1 "), ("INCRBYFLOAT", "f", "nan"),
        ("INCRBYFLOAT", "f", "inf"), ("INCRBYFLOAT", "f", "-inf"), ("INCRBYFLOAT", "f", "1e4000"),
        ("INCRBYFLOAT", "f", "1e5000"), ("INCRBYFLOAT", "f", "1e-400"), ("INCRBYFLOAT", "f", "1e-5000"),
        ("INCRBYFLOAT", "f", "0x10"), ("INCRBYFLOAT", "f", ".5"), ("INCRBYFLOAT", "f", "5."),
        ("INCRBYFLOAT", "f", "1e"), ("INCRBYFLOAT", "f", b"1\x002"), ("INCRBYFLOAT", "f", "Infinity"),
        ("SET", "s", "abc"), ("INCRBYFLOAT", "s", "1"), ("SET", "s", " 1"), ("INCRBYFLOAT", "s", "1"),
        ("SET", "s", "inf"), ("INCRBYFLOAT", "s", "1"), ("SET", "s", "1e4000"), ("INCRBYFLOAT", "s", "1"),
        ("SET", "big", "1e4000"), ("INCRBYFLOAT", "big", "-1e4000"), ("GET", "big"),
        ("SET", "x", "1e308"), ("INCRBYFLOAT", "x", "1e308"), ("OBJECT", "ENCODING", "x"),
        ("SET", "y", "1.1"), ("INCRBYFLOAT", "y", "1e10"), ("SET", "t", "1", "EX", "100"),
        ("INCRBYFLOAT", "t", "1"), ("TTL", "t"), ("OBJECT", "ENCODING", "t"),
        ("SET", "i", "12345678901234567"), ("INCRBYFLOAT", "i", "1"), ("INCRBYFLOAT", "i", "0.00001"),
        ("INCRBYFLOAT", "q", "-0.0"), ("GET", "q"), ("INCRBYFLOAT", "q", "1e-30"),
        ("INCRBYFLOAT", "q", "-1e-30"), ("INCRBYFLOAT", "q", "3.0e3"), ("INCRBYFLOAT", "q", "1.7976931348623157e308"),
        ("INCRBYFLOAT", "p", "x" * 6000), ("INCRBYFLOAT", "p", "1" * 5119), ("INCRBYFLOAT", "p", "1" * 5120),
    ])


def test_incrbyfloat_random(pair):
    rnd = random.Random(11)
    for i in range(200):
        v = rnd.choice([
            "%.3f" % rnd.uniform(-1000, 1000), "%de%d" % (rnd.randrange(1, 99), rnd.randrange(-25, 25)),
            str(rnd.randrange(-10 ** 6, 10 ** 6)), "%.17g" % rnd.random(), "0.1", "-0.1", "1e-17",
        ])
        pair("INCRBYFLOAT", "f%d" % rnd.randrange(3), v)


# ---------------------------------------------------------------------------
# LCS


def test_lcs(pair):
    pair.run([
        ("MSET", "key1", "ohmytext", "key2", "mynewtext"),
        ("LCS", "key1", "key2"), ("LCS", "key1", "key2", "LEN"), ("LCS", "key1", "key2", "IDX"),
        ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"), ("LCS", "key1", "key2", "IDX", "WITHMATCHLEN"),
        ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
        ("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-4"), ("LCS", "key1", "key2", "MINMATCHLEN", "x"),
        ("LCS", "key1", "key2", "MINMATCHLEN"), ("LCS", "key1", "key2", "LEN", "IDX"),
        ("LCS", "key1", "key2", "foo"), ("LCS", "key1", "key2", "LEN", "WITHMATCHLEN"),
        ("LCS", "key1", "missing"), ("LCS", "missing", "missing2", "IDX"), ("LCS", "missing", "key2", "LEN"),
        ("LCS", "key1", "key2", "WITHMATCHLEN"), ("LCS", "key1", "key1", "IDX", "WITHMATCHLEN"),
        ("LCS", "key1"),
    ])


def test_lcs_random(pair):
    rnd = random.Random(3)
    for i in range(60):
        a = "".join(rnd.choice("abc") for _ in range(rnd.randrange(0, 25)))
        b = "".join(rnd.choice("abc") for _ in range(rnd.randrange(0, 25)))
        pair("MSET", "a", a, "b", b)
        pair("LCS", "a", "b")
        pair("LCS", "a", "b", "IDX", "WITHMATCHLEN")
        pair("LCS", "a", "b", "IDX", "MINMATCHLEN", str(rnd.randrange(0, 4)))
        pair("LCS", "a", "b", "LEN")
