"""Bitmap commands side by side with the real redis-server (byte-exact, RESP2 and RESP3)."""
import random

from raw_pair import pair  # noqa: F401  (a fixture)


def test_setbit_getbit(pair):
    pair.run([
        ("SETBIT", "b", "7", "1"), ("GET", "b"), ("GETBIT", "b", "7"), ("GETBIT", "b", "6"),
        ("GETBIT", "b", "100"), ("GETBIT", "missing", "0"), ("SETBIT", "b", "7", "0"), ("SETBIT", "b", "7", "0"),
        ("GET", "b"), ("SETBIT", "b", "100", "1"), ("STRLEN", "b"), ("GET", "b"), ("OBJECT", "ENCODING", "b"),
        ("SETBIT", "b", "-1", "1"), ("SETBIT", "b", "x", "1"), ("SETBIT", "b", "1", "2"), ("SETBIT", "b", "1", "-1"),
        ("SETBIT", "b", "1", "x"), ("SETBIT", "b", "#1", "1"), ("GETBIT", "b", "#1"), ("GETBIT", "b", "-1"),
        ("SETBIT", "b", "4294967295", "x"), ("SETBIT", "b", "4294967296", "1"), ("GETBIT", "b", "4294967296"),
        ("GETBIT", "b", "4294967295"), ("GETBIT", "b", "9223372036854775807"),
        ("SET", "i", "12"), ("GETBIT", "i", "2"), ("GETBIT", "i", "3"), ("SETBIT", "i", "0", "0"),
        ("OBJECT", "ENCODING", "i"), ("SET", "t", "a", "EX", "100"), ("SETBIT", "t", "100", "1"), ("TTL", "t"),
        ("SETBIT", "z", "0", "0"), ("GET", "z"), ("OBJECT", "ENCODING", "z"),
    ])


def test_bitcount(pair):
    pair("SET", "s", "foobar")
    pair("SET", "i", "-12345")
    pair("SET", "empty", "")
    vals = ["0", "1", "2", "-1", "-2", "5", "6", "7", "-7", "8", "15", "47", "48", "100", "-100",
            "9223372036854775807", "-9223372036854775808"]
    for key in ("s", "i", "empty", "missing"):
        pair("BITCOUNT", key)
        for a in vals:
            for b in vals:
                pair("BITCOUNT", key, a, b)
                pair("BITCOUNT", key, a, b, "BIT")
        pair("BITCOUNT", key, "1", "1", "byte")
    pair.run([
        ("BITCOUNT", "s", "0"), ("BITCOUNT", "s", "0", "1", "bits"), ("BITCOUNT", "s", "x", "1"),
        ("BITCOUNT", "s", "0", "x"), ("BITCOUNT", "s", "0", "1", "BIT", "x"), ("BITCOUNT", "missing", "0"),
        ("BITCOUNT", "missing", "x", "1"), ("BITCOUNT", "missing", "0", "1", "foo"),
        ("BITCOUNT", "s", "0", "1", b"bit\x00x"),
    ])


def test_bitpos(pair):
    pair.run([
        ("SET", "a", b"\xff\xf0\x00"), ("SET", "b", b"\x00\x0f\xff"), ("SET", "ones", b"\xff\xff\xff"),
        ("SET", "zeros", b"\x00\x00\x00"), ("SET", "empty", ""), ("SET", "i", "123"),
    ])
    vals = ["0", "1", "2", "-1", "-2", "-3", "3", "7", "8", "9", "15", "16", "23", "24", "100", "-100"]
    for key in ("a", "b", "ones", "zeros", "empty", "i", "missing"):
        for bit in ("0", "1"):
            pair("BITPOS", key, bit)
            for s in vals:
                pair("BITPOS", key, bit, s)
                for e in vals:
                    pair("BITPOS", key, bit, s, e)
                    pair("BITPOS", key, bit, s, e, "BIT")
    pair.run([
        ("BITPOS", "a", "2"), ("BITPOS", "a", "-1"), ("BITPOS", "a", "x"), ("BITPOS", "missing", "2"),
        ("BITPOS", "missing", "1", "x"), ("BITPOS", "a", "1", "x"), ("BITPOS", "a", "1", "0", "x"),
        ("BITPOS", "a", "1", "0", "1", "foo"), ("BITPOS", "a", "1", "0", "x", "foo"),
        ("BITPOS", "a", "1", "x", "1", "bit"), ("BITPOS", "a", "1", "0", "1", "bit", "x"),
        ("BITPOS", "a", "1", "0", "1", "BYTE"),
    ])


def test_bitpos_long_strings(pair):
    rnd = random.Random(5)
    for n in (1, 7, 8, 9, 63, 64, 65, 200):
        for fill in (b"\x00", b"\xff"):
            data = bytearray(fill * n)
            pair("SET", "k", bytes(data))
            pair("BITPOS", "k", "0")
            pair("BITPOS", "k", "1")
            pair("BITPOS", "k", "0", "1", "-1", "BIT")
            pair("BITPOS", "k", "1", "3", "-2", "BIT")
            pos = rnd.randrange(n * 8)
            data[pos // 8] ^= 0x80 >> (pos % 8)
            pair("SET", "k", bytes(data))
            for bit in ("0", "1"):
                pair("BITPOS", "k", bit)
                pair("BITPOS", "k", bit, "0", "-1")
                pair("BITPOS", "k", bit, str(pos // 8))
                pair("BITPOS", "k", bit, str(pos), "-1", "BIT")
                pair("BITPOS", "k", bit, str(pos + 1), "-1", "BIT")
                pair("BITPOS", "k", bit, str(max(0, pos - 3)), str(pos), "BIT")


def test_bitpos_bitcount_random(pair):
    rnd = random.Random(9)
    for _ in range(40):
        data = bytes(rnd.choice([0, 255, rnd.randrange(256)]) for _ in range(rnd.randrange(1, 12)))
        pair("SET", "k", data)
        for _ in range(10):
            s = rnd.randrange(-120, 120)
            e = rnd.randrange(-120, 120)
            unit = rnd.choice(["BIT", "BYTE"])
            pair("BITCOUNT", "k", s, e, unit)
            pair("BITPOS", "k", rnd.choice("01"), s, e, unit)
            pair("BITPOS", "k", rnd.choice("01"), s)


def test_bitop(pair):
    pair.run([
        ("SET", "a", b"\xff\x0f\xaa"), ("SET", "b", b"\x0f"), ("SET", "c", "foobar"),
        ("BITOP", "AND", "d", "a", "b"), ("GET", "d"), ("OBJECT", "ENCODING", "d"),
        ("BITOP", "OR", "d", "a", "b", "c"), ("GET", "d"), ("BITOP", "XOR", "d", "a", "b", "c"), ("GET", "d"),
        ("BITOP", "NOT", "d", "a"), ("GET", "d"), ("BITOP", "not", "d", "a", "b"), ("BITOP", "NOT", "d"),
        ("BITOP", "AND", "d", "a", "missing"), ("GET", "d"), ("BITOP", "OR", "d", "missing", "a"), ("GET", "d"),
        ("BITOP", "AND", "d", "missing"), ("EXISTS", "d"), ("SET", "d", "x"), ("BITOP", "OR", "d", "m1", "m2"),
        ("EXISTS", "d"), ("BITOP", "NOT", "d", "missing"), ("BITOP", "FOO", "d", "a"), ("BITOP", "AND", "d"),
        ("BITOP", "ANDX", "d", "a"), ("BITOP", "xor", "a", "a", "b"), ("GET", "a"),
        ("SET", "n", "12"), ("BITOP", "AND", "d", "n", "n"), ("GET", "d"), ("OBJECT", "ENCODING", "d"),
        ("SET", "e", ""), ("BITOP", "OR", "d", "e"), ("EXISTS", "d"), ("SET", "t", "x", "EX", "100"),
        ("BITOP", "OR", "t", "c"), ("TTL", "t"), ("BITOP", b"or\x00zz", "d", "c"), ("GET", "d"),
    ])


def test_bitop_random(pair):
    rnd = random.Random(13)
    for _ in range(40):
        keys = []
        for i in range(rnd.randrange(1, 5)):
            k = "s%d" % i
            keys.append(k)
            if rnd.random() < 0.8:
                pair("SET", k, bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40))))
            else:
                pair("DEL", k)
        op = rnd.choice(["AND", "OR", "XOR", "NOT"])
        if op == "NOT":
            keys = keys[:1]
        pair("BITOP", op, "dest", *keys)
        pair("GET", "dest")


def test_bitfield_basics(pair):
    pair.run([
        ("BITFIELD", "bf", "SET", "i8", "0", "100"), ("BITFIELD", "bf", "GET", "i8", "0"),
        ("BITFIELD", "bf", "INCRBY", "i8", "0", "100"), ("BITFIELD", "bf", "GET", "u8", "0"), ("GET", "bf"),
        ("OBJECT", "ENCODING", "bf"), ("BITFIELD", "bf"), ("BITFIELD", "missing"), ("EXISTS", "missing"),
        ("BITFIELD", "missing", "GET", "u8", "0"), ("EXISTS", "missing"),
        ("BITFIELD", "bf", "GET", "u8", "#1", "SET", "u8", "#1", "255", "GET", "u8", "#1"), ("GET", "bf"),
        ("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u8", "#1", "10", "OVERFLOW", "FAIL",
         "INCRBY", "u8", "#1", "1", "OVERFLOW", "WRAP", "INCRBY", "u8", "#1", "1"),
        ("BITFIELD", "bf", "SET", "u4", "3", "17", "GET", "u4", "3"),
        ("BITFIELD", "bf", "GET", "i64", "0", "GET", "u63", "1", "GET", "i1", "0", "GET", "u1", "0"),
        ("BITFIELD", "bf", "GET", "u64", "0"), ("BITFIELD", "bf", "GET", "i65", "0"), ("BITFIELD", "bf", "GET", "i0", "0"),
        ("BITFIELD", "bf", "GET", "x8", "0"), ("BITFIELD", "bf", "GET", "", "0"), ("BITFIELD", "bf", "GET", "i", "0"),
        ("BITFIELD", "bf", "GET", "i08", "0"), ("BITFIELD", "bf", "GET", "I8", "0"), ("BITFIELD", "bf", "GET", "U8", "0"),
        ("BITFIELD", "bf", "GET", b"u8\x00zz", "0"), ("BITFIELD", "bf", "GET", "u8", "-1"),
        ("BITFIELD", "bf", "GET", "u8", "#-1"), ("BITFIELD", "bf", "GET", "u8", "x"), ("BITFIELD", "bf", "GET", "u8", "#"),
        ("BITFIELD", "bf", "GET", "u8", "4294967288"), ("BITFIELD", "bf", "GET", "u8", "4294967296"),
        ("BITFIELD", "bf", "GET", "u8", "#536870911"), ("BITFIELD", "bf", "GET", "u8", "#536870912"),
        ("BITFIELD", "bf", "GET", "i64", "#9223372036854775807"),
        ("BITFIELD", "bf", "GET", "u8"), ("BITFIELD", "bf", "SET", "u8", "0"), ("BITFIELD", "bf", "INCRBY", "u8", "0"),
        ("BITFIELD", "bf", "FOO", "u8", "0"), ("BITFIELD", "bf", "OVERFLOW"), ("BITFIELD", "bf", "OVERFLOW", "x"),
        ("BITFIELD", "bf", "SET", "u8", "0", "x"), ("BITFIELD", "bf", "INCRBY", "u8", "0", "1.5"),
        ("BITFIELD", "bf", "GET", "u8", "0", "SET", "u8", "0", "x"), ("GET", "bf"),
        ("BITFIELD", "bf", "OVERFLOW", "FAIL"), ("BITFIELD", "bf", "OVERFLOW", "sat", "GET", "u2", "0"),
        ("BITFIELD", "n", "SET", "u8", "1000", "1"), ("STRLEN", "n"), ("SET", "i", "42"),
        ("BITFIELD", "i", "GET", "u8", "0"), ("OBJECT", "ENCODING", "i"), ("BITFIELD", "i", "SET", "u8", "0", "52"),
        ("GET", "i"), ("OBJECT", "ENCODING", "i"),
        ("BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "u2", "0", "7"), ("EXISTS", "f"), ("GET", "f"),
        ("SET", "t", "x", "EX", "100"), ("BITFIELD", "t", "SET", "u8", "64", "1"), ("TTL", "t"),
    ])


def test_bitfield_ro(pair):
    pair.run([
        ("SET", "k", "hello"), ("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i4", "#3"),
        ("BITFIELD_RO", "k", "SET", "u8", "0", "1"), ("BITFIELD_RO", "k", "INCRBY", "u8", "0", "1"),
        ("BITFIELD_RO", "k", "SET", "u8", "0", "x"), ("BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "u8", "0"),
        ("BITFIELD_RO", "k", "OVERFLOW", "BAD"), ("BITFIELD_RO", "missing", "GET", "u8", "0"),
        ("BITFIELD_RO", "k"), ("BITFIELD_RO", "k", "GET", "u8"), ("GET", "k"),
        ("BITFIELD_RO", "missing", "SET", "u8", "0", "1"), ("EXISTS", "missing"),
    ])


def test_bitfield_overflow_random(pair):
    """Random SET/INCRBY/GET with every width and overflow policy, signed and unsigned."""
    rnd = random.Random(21)
    edge = [0, 1, -1, 2, -2, 127, 128, -128, -129, 255, 256, 2 ** 31, -(2 ** 31), 2 ** 62, -(2 ** 62),
            2 ** 63 - 1, -(2 ** 63)]
    for _ in range(400):
        sign = rnd.choice("iu")
        bits = rnd.choice([1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 33, 62, 63, 64] if sign == "i"
                          else [1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 33, 62, 63])
        off = rnd.choice([0, 1, 5, 7, 8, 13, 64, 100])
        ow = rnd.choice(["WRAP", "SAT", "FAIL"])
        v = rnd.choice(edge + [rnd.randrange(-(2 ** 63), 2 ** 63)])
        op = rnd.choice(["SET", "INCRBY", "INCRBY"])
        pair("BITFIELD", "bf", "OVERFLOW", ow, op, "%s%d" % (sign, bits), off, v,
             "GET", "%s%d" % (sign, bits), off)
        if rnd.random() < 0.1:
            pair("GET", "bf")
    pair("GET", "bf")


def test_bitcount_empty_negative_range_wins_over_bad_unit(r, oracle):
    """Found by the differential test: Redis replies 0 before checking the unit word."""
    for c in (r, oracle):
        c.set("s5", "abc")
    for args in (("-6", "-8", "WORD"), ("1", "2", "WORD"), ("-1", "-2", "BIT")):
        a = b = None
        try:
            a = r.execute_command("BITCOUNT", "s5", *args)
        except Exception as e:
            a = str(e)
        try:
            b = oracle.execute_command("BITCOUNT", "s5", *args)
        except Exception as e:
            b = str(e)
        assert a == b, args
