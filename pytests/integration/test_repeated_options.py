"""Options given twice (or in conflicting pairs), side by side with redis-server: some
commands take the last one, some refuse the second with a syntax error, some refuse the
pair. The same dataset is loaded on both servers first; replies are compared as bytes."""
import pytest

from raw_pair import pair  # noqa: F401  (a fixture)

SETUP = [
    ("RPUSH", "l", "a", "b", "c", "a", "b", "a"),
    ("RPUSH", "l2", "x", "y"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"),
    ("ZADD", "z2", "1", "a", "5", "e"),
    ("SADD", "s", "1", "2", "3"),
    ("SADD", "s2", "2", "3", "4"),
    ("HSET", "h", "f1", "v1", "f2", "v2"),
    ("SET", "str", "hello world"),
    ("SET", "str2", "hello there"),
    ("SET", "n", "10"),
]

CALLS = [
    ("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"),
    ("ZMPOP", "1", "nokey", "MAX", "COUNT", "1", "COUNT", "2"),
    ("ZMPOP", "1", "z", "MIN", "COUNT", "1", "MAX"),
    ("BZMPOP", "0.01", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"),
    ("LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2"),
    ("LMPOP", "1", "nokey", "LEFT", "COUNT", "1", "COUNT", "2"),
    ("BLMPOP", "0.01", "1", "l", "RIGHT", "COUNT", "2", "COUNT", "1"),
    ("SORT", "l", "ALPHA", "LIMIT", "0", "1", "LIMIT", "1", "2"),
    ("SORT", "l", "ALPHA", "ALPHA", "DESC", "ASC"),
    ("SORT", "l", "BY", "nosort", "BY", "x*", "ALPHA"),
    ("SORT", "l", "ALPHA", "STORE", "d1", "STORE", "d2"),
    ("SORT", "l", "ALPHA", "GET", "#", "GET", "#"),
    ("SORT_RO", "l", "ALPHA", "LIMIT", "0", "1", "LIMIT", "0", "2"),
    ("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1", "LIMIT", "0", "2"),
    ("ZRANGE", "z", "0", "10", "BYSCORE", "LIMIT", "0", "1", "LIMIT", "1", "2"),
    ("ZRANGE", "z", "0", "10", "BYSCORE", "BYSCORE"),
    ("ZRANGE", "z", "0", "10", "BYSCORE", "BYLEX"),
    ("ZRANGE", "z", "-1", "0", "REV", "REV"),
    ("ZRANGE", "z", "0", "-1", "WITHSCORES", "WITHSCORES"),
    ("ZRANGEBYSCORE", "z", "0", "10", "LIMIT", "0", "1", "LIMIT", "1", "1"),
    ("ZRANGEBYSCORE", "z", "0", "10", "WITHSCORES", "WITHSCORES"),
    ("ZREVRANGEBYSCORE", "z", "10", "0", "LIMIT", "0", "1", "LIMIT", "1", "1"),
    ("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "0", "1", "LIMIT", "1", "1"),
    ("ZRANGESTORE", "d3", "z", "0", "10", "BYSCORE", "LIMIT", "0", "1", "LIMIT", "1", "1"),
    ("ZADD", "z", "NX", "NX", "5", "e"),
    ("ZADD", "z", "NX", "XX", "5", "e"),
    ("ZADD", "z", "GT", "LT", "5", "e"),
    ("ZADD", "z", "CH", "CH", "6", "a"),
    ("ZADD", "z", "INCR", "INCR", "1", "a"),
    ("ZUNIONSTORE", "d4", "2", "z", "z2", "WEIGHTS", "1", "2", "WEIGHTS", "3", "4"),
    ("ZUNIONSTORE", "d4", "2", "z", "z2", "AGGREGATE", "MIN", "AGGREGATE", "MAX"),
    ("ZUNION", "2", "z", "z2", "WITHSCORES", "WITHSCORES"),
    ("ZINTERCARD", "2", "z", "z2", "LIMIT", "1", "LIMIT", "0"),
    ("SINTERCARD", "2", "s", "s2", "LIMIT", "1", "LIMIT", "0"),
    ("SET", "k", "v", "EX", "10", "EX", "20"),
    ("SET", "k", "v", "EX", "10", "PX", "20"),
    ("SET", "k", "v", "NX", "NX"),
    ("SET", "k", "v", "NX", "XX"),
    ("SET", "k", "v", "GET", "GET"),
    ("SET", "k", "v", "KEEPTTL", "KEEPTTL"),
    ("SET", "k", "v", "KEEPTTL", "EX", "10"),
    ("GETEX", "str", "EX", "10", "EX", "20"),
    ("GETEX", "str", "PERSIST", "PERSIST"),
    ("GETEX", "str", "EX", "10", "PERSIST"),
    ("SCAN", "0", "COUNT", "1", "COUNT", "100", "MATCH", "str"),
    ("SCAN", "0", "MATCH", "zz*", "MATCH", "n", "COUNT", "100"),
    ("SCAN", "0", "TYPE", "list", "TYPE", "hash", "COUNT", "100"),
    ("HSCAN", "h", "0", "COUNT", "1", "COUNT", "2"),
    ("HSCAN", "h", "0", "MATCH", "x*", "MATCH", "f1"),
    ("SSCAN", "s", "0", "MATCH", "x*", "MATCH", "1"),
    ("ZSCAN", "z", "0", "MATCH", "x*", "MATCH", "a", "COUNT", "5", "COUNT", "6"),
    ("LPOS", "l", "a", "RANK", "1", "RANK", "2"),
    ("LPOS", "l", "a", "COUNT", "1", "COUNT", "0"),
    ("LPOS", "l", "a", "MAXLEN", "1", "MAXLEN", "0"),
    ("LPOS", "l", "a", "RANK", "-1", "COUNT", "2", "MAXLEN", "3", "RANK", "2"),
    ("EXPIRE", "n", "100", "NX", "NX"),
    ("EXPIRE", "n", "100", "NX", "XX"),
    ("EXPIRE", "n", "100", "GT", "LT"),
    ("EXPIRE", "n", "100", "XX", "GT", "XX"),
    ("PEXPIRE", "n", "100000", "GT", "GT"),
    ("COPY", "str", "cp", "REPLACE", "REPLACE"),
    ("COPY", "str", "cp", "DB", "1", "DB", "2"),
    ("LCS", "str", "str2", "LEN", "LEN"),
    ("LCS", "str", "str2", "IDX", "MINMATCHLEN", "2", "MINMATCHLEN", "3"),
    ("LCS", "str", "str2", "IDX", "WITHMATCHLEN", "WITHMATCHLEN"),
    ("LCS", "str", "str2", "LEN", "IDX"),
    ("BITCOUNT", "str", "0", "1", "BYTE", "BIT"),
    ("BITPOS", "str", "1", "0", "1", "BIT", "BYTE"),
    ("BITFIELD", "n", "OVERFLOW", "SAT", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300"),
    ("ZRANDMEMBER", "z", "2", "WITHSCORES", "WITHSCORES"),
    ("HRANDFIELD", "h", "2", "WITHVALUES", "WITHVALUES"),
    ("LMOVE", "l2", "l2", "LEFT", "LEFT", "LEFT"),
    ("FLUSHDB", "ASYNC", "SYNC"),
]


@pytest.mark.parametrize("call", CALLS, ids=[" ".join(c) for c in CALLS])
def test_repeated_option_like_redis(pair, call):
    for cmd in SETUP:
        pair.same(*cmd)
    pair.same(*call)
    # What the call left behind must agree too.
    for key in ("l", "z", "k", "d1", "d2", "d3", "d4", "cp", "str"):
        pair.same("TYPE", key)
    pair.same("DBSIZE")
