"""SADD with many integer members builds the intset in one step: replies, contents, encoding
and DUMP payload equal redis-server's, including duplicates, members already present, wide
values, and the conversions at set-max-intset-entries and at a non-integer member."""
import random

import pytest

from side_by_side import both


CASES = [
    [1, 2, 3],
    [3, 1, 2, 3, 1],                       # duplicates inside one SADD
    [-5, 0, 5, -(2 ** 63), 2 ** 63 - 1],   # full 64-bit range
    [10, 20, "x", 30],                     # non-integer in the middle: hashtable
    ["007", 7, " 8", "8"],                 # not canonical integers: hashtable
    list(range(600)),                      # past set-max-intset-entries (512): hashtable
]


@pytest.mark.parametrize("members", CASES, ids=range(len(CASES)))
def test_sadd_batch_matches_redis(r, oracle, members):
    both(r, oracle, "SADD", "s", *members)
    both(r, oracle, "SADD", "s", *members)           # all present now
    both(r, oracle, "SADD", "s", 1000, 999, 1000)
    assert sorted(r.smembers("s")) == sorted(oracle.smembers("s"))
    both(r, oracle, "OBJECT", "ENCODING", "s")
    both(r, oracle, "SCARD", "s")
    if r.object("encoding", "s") == b"intset":
        both(r, oracle, "DUMP", "s")


def test_sadd_batches_grow_to_the_limit(r, oracle):
    rnd = random.Random(7)
    for c in (r, oracle):
        c.config_set("set-max-intset-entries", 100)
    try:
        for _ in range(30):
            batch = [rnd.randrange(-1000, 1000) for _ in range(rnd.randint(2, 12))]
            both(r, oracle, "SADD", "grow", *batch)
            both(r, oracle, "OBJECT", "ENCODING", "grow")
        assert sorted(r.smembers("grow")) == sorted(oracle.smembers("grow"))
    finally:
        for c in (r, oracle):
            c.config_set("set-max-intset-entries", 512)
