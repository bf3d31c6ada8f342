"""SORT / SORT_RO side by side with a real redis-server (raw replies, RESP2 and RESP3)."""
import random
import socket

import pytest

from raw_pair import pair, same  # noqa: F401  (pair is a fixture)


def have(pair, cmd):
    t, _ = pair
    return b"unknown command" not in t.cmd(*cmd)


def test_sort_numeric_alpha_desc_limit(pair):
    same(pair, "RPUSH", "l", "3", "1", "2", "10", "-5", "2.5", "1e2", "0x10", "-0", "7")
    for opts in ((), ("DESC",), ("ASC",), ("LIMIT", 0, 3), ("LIMIT", 2, 100), ("LIMIT", -1, 2), ("LIMIT", 5, -1),
                 ("LIMIT", 100, 5), ("LIMIT", 1, 0), ("DESC", "LIMIT", 1, 3), ("ALPHA",), ("ALPHA", "DESC"),
                 ("ALPHA", "LIMIT", 2, 2), ("LIMIT", 0, "9223372036854775807"),
                 ("LIMIT", "x", 1), ("LIMIT", 1), ("FOO",), ("STORE",), ("BY",), ("GET",)):
        same(pair, "SORT", "l", *opts)
        same(pair, "SORT_RO", "l", *opts)
    same(pair, "SORT_RO", "l", "STORE", "x")
    same(pair, "RPUSH", "bad", "1", "abc", "2")
    same(pair, "SORT", "bad")
    same(pair, "SORT", "bad", "ALPHA")
    same(pair, "SORT", "bad", "STORE", "dst")
    same(pair, "LRANGE", "dst", 0, -1)
    # Values whose strtod sets ERANGE are checked last (test_sort_erange): Redis never
    # clears errno before strtod, so after one of them its later numeric SORTs depend on it.
    for v in ("", " 5", "5 ", "inf", "-inf", "nan", "0x1p3", "abc"):
        same(pair, "DEL", "one")
        same(pair, "RPUSH", "one", v, "3")
        same(pair, "SORT", "one")
    same(pair, "SORT", "missing")
    same(pair, "SORT", "missing", "STORE", "dst")
    same(pair, "LLEN", "dst")
    same(pair, "SET", "str", "x")
    same(pair, "SORT", "str")


def test_sort_by_and_get_patterns(pair):
    same(pair, "RPUSH", "ids", "1", "2", "3", "4", "5")
    for i, w in zip(range(1, 6), ("50", "20", "40", "10", "30")):
        same(pair, "SET", "w_%d" % i, w)
        same(pair, "SET", "name_%d" % i, "n%d" % (6 - i))
    same(pair, "SET", "w_5", "abc")
    for opts in (("BY", "w_*"), ("BY", "w_*", "DESC"), ("BY", "w_*", "ALPHA"), ("BY", "name_*", "ALPHA"),
                 ("BY", "name_*", "ALPHA", "DESC", "LIMIT", 1, 2), ("BY", "nosort"), ("BY", "nosort", "DESC"),
                 ("BY", "nosort", "LIMIT", 1, 2), ("BY", "nosort", "DESC", "LIMIT", 1, 3),
                 ("GET", "name_*"), ("GET", "#", "GET", "name_*", "GET", "missing_*"), ("GET", "nostar"),
                 ("BY", "missing_*"), ("BY", "missing_*", "ALPHA"), ("BY", "name_*", "ALPHA", "GET", "w_*"),
                 ("GET", "w_*->field"), ("GET", "w_*->"), ("BY", "nosort", "GET", "#", "GET", "name_*"),
                 ("BY", "name_*", "BY", "nosort", "ALPHA")):
        same(pair, "SORT", "ids", *opts)
    same(pair, "SORT", "ids", "BY", "name_*", "ALPHA", "GET", "#", "GET", "name_*", "STORE", "out")
    same(pair, "LRANGE", "out", 0, -1)
    same(pair, "SORT", "ids", "BY", "nosort", "GET", "missing_*", "STORE", "out")
    same(pair, "LRANGE", "out", 0, -1)
    same(pair, "SORT", "ids", "LIMIT", 10, 10, "STORE", "out")
    same(pair, "LLEN", "out")


def test_sort_store_overwrites(pair):
    same(pair, "RPUSH", "l", "b", "a", "c")
    same(pair, "SET", "dst", "string")
    same(pair, "SORT", "l", "ALPHA", "STORE", "dst")
    same(pair, "LRANGE", "dst", 0, -1)
    same(pair, "SORT", "l", "ALPHA", "DESC", "STORE", "l")
    same(pair, "LRANGE", "l", 0, -1)


def test_sort_sets_zsets_hashes(pair):
    if not have(pair, ("SADD", "probe", "1")):
        pytest.skip("sets not in this build")
    same(pair, "SADD", "s", "5", "3", "9", "1")
    same(pair, "SORT", "s")
    same(pair, "SORT", "s", "DESC", "LIMIT", 1, 2)
    same(pair, "SORT", "s", "BY", "nosort", "STORE", "d")
    same(pair, "LRANGE", "d", 0, -1)
    if have(pair, ("ZADD", "zprobe", "1", "a")):
        same(pair, "ZADD", "z", "3", "c", "1", "a", "2", "b")
        same(pair, "SORT", "z", "ALPHA")
        same(pair, "SORT", "z", "BY", "nosort")
        same(pair, "SORT", "z", "BY", "nosort", "DESC", "LIMIT", 1, 1)
    if have(pair, ("HSET", "hprobe", "f", "v")):
        for k, v in (("5", "x"), ("3", "z"), ("9", "y"), ("1", "w")):
            same(pair, "HSET", "h_" + k, "f", v)
        same(pair, "SORT", "s", "BY", "h_*->f", "ALPHA", "GET", "h_*->f", "GET", "h_*->nofield")


def test_sort_converts_listpack_zset_to_skiplist(pair):
    """Found by the differential test: Redis converts a listpack sorted set to skiplist for
    SORT (even SORT_RO, BY nosort, LIMIT 0 0, and when the sort then fails); Tern kept it."""
    if not have(pair, ("ZADD", "zprobe", "1", "a")):
        pytest.skip("zsets not in this build")
    cases = [("SORT", "ALPHA"), ("SORT_RO",), ("SORT", "BY", "nosort"), ("SORT", "LIMIT", 0, 0),
             ("SORT", "STORE", "dst"), ("SORT",)]   # the last one fails: members are not numbers
    for i, (cmd, *opts) in enumerate(cases):
        key = "z%d" % i
        same(pair, "ZADD", key, "1", "a", "2", "b")
        same(pair, "OBJECT", "ENCODING", key)
        same(pair, "ZADD", "errno:reset", "XX", "0", "x")   # see test_sort_erange_last
        same(pair, cmd, key, *opts)
        same(pair, "OBJECT", "ENCODING", key)
        same(pair, "ZRANGE", key, 0, -1, "WITHSCORES")
    # A syntax error leaves it alone.
    same(pair, "ZADD", "zs", "1", "a")
    same(pair, "SORT", "zs", "bogus")
    same(pair, "OBJECT", "ENCODING", "zs")


def test_sort_zset_with_subnormal_score_fails_numeric_sort(pair):
    """Found by the differential test (a Redis quirk Tern reproduces): converting a listpack
    zset for SORT reads a subnormal score (1e-320) back with strtod, which leaves errno =
    ERANGE; the numeric sort then fails for every value it parses as text, while values
    held as integers (int-encoded keys, integer listpack hash values) and missing BY keys
    pass. ALPHA and BY nosort do not parse."""
    if not have(pair, ("ZADD", "zprobe", "1", "a")) or not have(pair, ("HSET", "hprobe", "f", "1")):
        pytest.skip("zsets/hashes not in this build")
    long = "x" * 100
    same(pair, "SET", "wi_1", "5")
    same(pair, "SET", "wi_2", "6")
    same(pair, "SET", "wf_1", "5.5")
    same(pair, "SET", "wf_2", "6")
    same(pair, "HSET", "hi_1", "f", "3")
    same(pair, "HSET", "hi_2", "f", "4")
    same(pair, "HSET", "hf_1", "f", "3.5")
    same(pair, "HSET", "hf_2", "f", "4")
    same(pair, "HSET", "ht_1", "f", "3", "big", long)   # hashtable: values are text
    same(pair, "HSET", "ht_2", "f", "4", "big", long)
    cases = [(), ("ALPHA",), ("BY", "nosort"), ("BY", "wi_*"), ("BY", "wf_*"), ("BY", "nokey_*"),
             ("BY", "hi_*->f"), ("BY", "hf_*->f"), ("BY", "ht_*->f"), ("DESC",), ("GET", "#")]
    for i, opts in enumerate(cases):
        for score in ("1e-320", "-2.2250738585072009e-308", "2.2250738585072014e-308", "1.5"):
            key = "z%d:%s" % (i, score)
            same(pair, "ZADD", key, score, "1", "2", "2")
            same(pair, "ZADD", "errno:reset", "XX", "0", "x")   # see test_sort_erange_last
            same(pair, "SORT", key, *opts)
            same(pair, "ZADD", "errno:reset", "XX", "0", "x")
            same(pair, "SORT", key, *opts)   # already a skiplist: no strtod, no error


def test_sort_limit_count_overflow(pair):
    """Found by the differential test: LIMIT 8 9223372036854775807 (start + count - 1
    overflows) answered nothing on Tern; Redis answers from start to the end."""
    same(pair, "RPUSH", "l", *[str(i) for i in range(1, 15)])
    big = "9223372036854775807"
    for start in ("0", "1", "2", "8", "13", "14", "-5", big):
        for opts in ((), ("DESC",), ("BY", "nosort"), ("BY", "nosort", "DESC"), ("ALPHA",)):
            same(pair, "SORT", "l", "LIMIT", start, big, *opts)
            same(pair, "SORT_RO", "l", "LIMIT", start, "9223372036854775806", *opts)


def test_sort_random_lists(pair):
    rng = random.Random(7)
    for round in range(30):
        same(pair, "DEL", "l")
        vals = [str(rng.randint(-50, 50)) if rng.random() < 0.7 else "%.2f" % rng.uniform(-9, 9)
                for _ in range(rng.randint(0, 60))]
        if vals:
            same(pair, "RPUSH", "l", *vals)
        same(pair, "SORT", "l")
        same(pair, "SORT", "l", "DESC", "LIMIT", rng.randint(-2, 10), rng.randint(-2, 20))
        same(pair, "SORT", "l", "ALPHA")
        same(pair, "SORT", "l", "STORE", "d")
        same(pair, "LRANGE", "d", 0, -1)


def test_sort_erange_last(pair):
    for v in ("1e400", "1e-400", "-1e400"):
        same(pair, "DEL", "one")
        same(pair, "RPUSH", "one", v, "3")
        same(pair, "SORT", "one")
