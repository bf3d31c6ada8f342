"""Client tracking remembers the keys its key finder names, for every read-only command:
ZUNION, ZINTER, ZDIFF, ZINTERCARD and SINTERCARD (key counts), SORT_RO, LCS, MGET ...
Each read is followed by writes to those keys from another client; the invalidation
streams are compared byte for byte with redis-server's."""
from test_tracking import compare


def reads_then_writes(reads, keys):
    steps = [("t", ["CLIENT", "TRACKING", "ON"])]
    steps += [("t", r) for r in reads]
    # One write per key, from another client: each remembered key gives one invalidation.
    steps += [("o", ["DEL", k]) for k in keys]
    steps += [("o", ["ZADD", k, "1", "m"]) for k in keys]
    steps += [("t", ["PING"])]
    return steps


def test_sorted_set_key_count_reads_are_tracked(tern_server, redis_server):
    setup = [("o", ["ZADD", "z1", "1", "a"]), ("o", ["ZADD", "z2", "2", "a", "3", "b"])]
    reads = [["ZUNION", "2", "z1", "z2"], ["ZINTER", "2", "z1", "z2", "WITHSCORES"], ["ZDIFF", "1", "z3"],
             ["ZINTERCARD", "2", "z4", "z5", "LIMIT", "1"]]
    steps = setup + reads_then_writes(reads, ["z1", "z2", "z3", "z4", "z5"])
    out = compare(tern_server, redis_server, {"t": 3, "o": 3}, steps, needs=["zintercard"])
    assert out["t"].count(b"invalidate") == 5


def test_set_intercard_and_other_reads_are_tracked(tern_server, redis_server):
    steps = [("o", ["SADD", "s1", "a"]), ("o", ["SADD", "s2", "a"])]
    steps += [("t", ["CLIENT", "TRACKING", "ON"]), ("t", ["SINTERCARD", "2", "s1", "s2"]),
              ("t", ["SORT_RO", "s1", "ALPHA"]), ("t", ["MGET", "m1", "m2"]), ("t", ["LCS", "l1", "l2"])]
    steps += [("o", ["DEL", k]) for k in ["s1", "s2", "m1", "m2", "l1", "l2"]]
    steps += [("o", ["SET", k, "v"]) for k in ["s1", "s2", "m1", "m2", "l1", "l2"]]
    steps += [("t", ["PING"])]
    out = compare(tern_server, redis_server, {"t": 3, "o": 3}, steps, needs=["sintercard", "lcs"])
    assert out["t"].count(b"invalidate") == 6


def test_bad_key_counts_track_what_the_key_finder_names(tern_server, redis_server):
    # The reads fail, yet Redis remembers what its key finder returns for them: nothing for
    # a zero or too large count, the lenient count's keys for "2x".
    reads = [["ZUNION", "0", "q1"], ["ZINTER", "5", "q2"], ["ZUNION", "2x", "q3", "q4"], ["ZDIFF", "-1", "q5"],
             ["SINTERCARD", "1.0", "q6"]]
    steps = reads_then_writes(reads, ["q1", "q2", "q3", "q4", "q5", "q6"])
    compare(tern_server, redis_server, {"t": 3, "o": 3}, steps, needs=["sintercard"])


def test_writes_with_key_counts_are_not_remembered(tern_server, redis_server):
    reads = [["ZUNIONSTORE", "d", "2", "w1", "w2"], ["ZRANGESTORE", "d2", "w1", "0", "-1"]]
    steps = reads_then_writes(reads, ["w1", "w2", "d", "d2"])
    out = compare(tern_server, redis_server, {"t": 3, "o": 3}, steps)
    assert b"invalidate" not in out["t"]
