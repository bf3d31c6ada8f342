"""EXPIRE family, TTL family, PERSIST and active expiry, side by side with redis-server."""
import itertools
import time

import pytest

from conftest import raw_command
from side_by_side import call, both

FAR = 4102444800000  # 2100-01-01 in ms: far future, deterministic


def setup_both(r, oracle, *cmds):
    for c in (r, oracle):
        for cmd in cmds:
            c.execute_command(*cmd)


# ---------------------------------------------------------------- option parsing

@pytest.mark.parametrize("cmd", ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
def test_option_combinations_match_redis(r, oracle, cmd):
    setup_both(r, oracle, ("SET", "k", "v"))
    opts = ["NX", "XX", "GT", "LT", "nx", "Gt", "FOO"]
    for n in range(0, 4):
        for combo in itertools.permutations(opts, n):
            # Reset the TTL state each time so outcomes are comparable.
            setup_both(r, oracle, ("PEXPIREAT", "k", str(FAR)))
            value = str(FAR + 1000) if cmd.endswith("AT") else "100000"
            both(r, oracle, cmd, "k", value, *combo)
            both(r, oracle, "PEXPIRETIME", "k") if cmd == "PEXPIREAT" else None
    # Errors come before the key lookup and before the value is parsed.
    both(r, oracle, cmd, "nokey", "x", "NX", "XX")
    both(r, oracle, cmd, "nokey", "x", "BAD")
    both(r, oracle, cmd, "nokey", "x")
    both(r, oracle, cmd, "nokey", "10", "NX")


def test_conditional_semantics(r, oracle):
    setup_both(r, oracle, ("SET", "k", "v"))
    seq = [
        ("PEXPIREAT", "k", str(FAR), "XX"),      # no TTL: XX fails
        ("PEXPIREAT", "k", str(FAR), "GT"),      # no TTL = infinite: GT fails
        ("PEXPIREAT", "k", str(FAR), "LT"),      # LT passes
        ("PEXPIREAT", "k", str(FAR), "NX"),      # has TTL: NX fails
        ("PEXPIREAT", "k", str(FAR - 5), "GT"),
        ("PEXPIREAT", "k", str(FAR + 5), "GT"),
        ("PEXPIREAT", "k", str(FAR + 5), "GT"),  # equal is not greater
        ("PEXPIREAT", "k", str(FAR + 9), "LT"),
        ("PEXPIREAT", "k", str(FAR + 5), "LT"),  # equal is not less
        ("PEXPIREAT", "k", str(FAR + 1), "XX", "LT"),
        ("PEXPIREAT", "k", str(FAR + 2), "XX", "GT"),
        ("PEXPIRETIME", "k"),
        ("EXPIRETIME", "k"),
        ("PERSIST", "k"),
        ("PERSIST", "k"),
        ("PEXPIRETIME", "k"),
        ("PEXPIREAT", "k", "1", "GT"),           # no TTL: GT fails even into the past
        ("EXISTS", "k"),
        ("PEXPIREAT", "k", "1", "LT"),           # past time with LT deletes
        ("EXISTS", "k"),
    ]
    for cmd in seq:
        both(r, oracle, *cmd)


# ---------------------------------------------------------------- overflow and bounds

OVERFLOW_CASES = [
    ("EXPIRE", "9223372036854775807"), ("EXPIRE", "9223372036854775"), ("EXPIRE", "9223372036854776"),
    ("EXPIRE", "9223372036854000"), ("EXPIRE", "-9223372036854775808"), ("EXPIRE", "-9223372036854775"),
    ("EXPIRE", "-9223372036854776"),
    ("PEXPIRE", "9223372036854775807"), ("PEXPIRE", "9223372036854775000"), ("PEXPIRE", "-9223372036854775808"),
    ("EXPIREAT", "9223372036854775807"), ("EXPIREAT", "9223372036854775"), ("EXPIREAT", "9223372036854776"),
    ("EXPIREAT", "-9223372036854775808"), ("PEXPIREAT", "9223372036854775807"),
    ("PEXPIREAT", "-9223372036854775808"), ("EXPIRE", "9223372036854775808"), ("EXPIRE", "1.5"),
    ("EXPIRE", " 1"), ("EXPIRE", ""),
]


@pytest.mark.parametrize("cmd,value", OVERFLOW_CASES)
def test_overflow_errors(r, oracle, cmd, value):
    setup_both(r, oracle, ("SET", "k", "v"))
    both(r, oracle, cmd, "k", value)
    both(r, oracle, "EXISTS", "k")
    both(r, oracle, "PEXPIRETIME", "k")
    both(r, oracle, cmd, "nokey", value)


def test_error_texts_raw(tern_server, redis_server):
    payload = b"".join(b"*3\r\n$%d\r\n%s\r\n$1\r\nk\r\n$%d\r\n%s\r\n" % (len(c), c, len(v), v)
                       for c, v in [(b"EXPIRE", b"9223372036854775807"), (b"PEXPIRE", b"9223372036854775807"),
                                    (b"EXPIREAT", b"9223372036854775807"), (b"EXPIRE", b"x")])
    payload = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n" + payload
    assert raw_command(tern_server.port, payload, 0.3) == raw_command(redis_server.port, payload, 0.3)


# ---------------------------------------------------------------- TTL family

def test_ttl_family(r, oracle):
    setup_both(r, oracle, ("SET", "p", "v"), ("SET", "t", "v"), ("PEXPIREAT", "t", str(FAR + 499)),
               ("SET", "u", "v"), ("PEXPIREAT", "u", str(FAR + 500)))
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]:
        for k in ["p", "nokey"]:
            both(r, oracle, cmd, k)
    # Absolute forms are deterministic; EXPIRETIME rounds like TTL ((ms+500)/1000).
    both(r, oracle, "EXPIRETIME", "t")
    both(r, oracle, "EXPIRETIME", "u")
    both(r, oracle, "PEXPIRETIME", "t")
    ttl = r.ttl("t")
    assert abs(ttl - oracle.ttl("t")) <= 1


def test_expiretime_rounding_does_not_overflow(r, oracle):
    """Found by the differential test: PEXPIREAT k 9223372036854775807 then EXPIRETIME k
    gave a negative number on Tern (the +500 rounding overflowed); Redis 9223372036854776."""
    for at in ("9223372036854775807", "9223372036854775300", "9223372036854775499"):
        setup_both(r, oracle, ("SET", "k", "v"), ("PEXPIREAT", "k", at))
        both(r, oracle, "EXPIRETIME", "k")
        both(r, oracle, "PEXPIRETIME", "k")
        assert call(r, "TTL", "k") > 0


def test_relative_expire_sets_absolute_time(r):
    r.set("k", "v")
    before = int(time.time() * 1000)
    assert r.expire("k", 100) is True
    after = int(time.time() * 1000)
    at = r.pexpiretime("k")
    assert before + 100000 - 5 <= at <= after + 100000 + 5
    assert r.pexpire("k", 5000) is True
    assert 0 < r.pttl("k") <= 5000
    assert r.ttl("k") in (5, 4)


def test_past_time_deletes(r, oracle):
    for cmd, val in [("EXPIRE", "0"), ("EXPIRE", "-10"), ("PEXPIRE", "0"), ("EXPIREAT", "1"),
                     ("PEXPIREAT", "0"), ("PEXPIREAT", "-5")]:
        setup_both(r, oracle, ("SET", "k", "v"))
        both(r, oracle, cmd, "k", val)
        both(r, oracle, "EXISTS", "k")


def test_persist(r, oracle):
    setup_both(r, oracle, ("SET", "k", "v"), ("SET", "p", "v"), ("PEXPIREAT", "k", str(FAR)))
    for cmd in [("PERSIST", "k"), ("PERSIST", "k"), ("TTL", "k"), ("PERSIST", "p"), ("PERSIST", "nokey")]:
        both(r, oracle, *cmd)


def test_set_overwrite_clears_ttl_and_keepttl(r, oracle):
    setup_both(r, oracle, ("SET", "k", "v"), ("PEXPIREAT", "k", str(FAR)), ("SET", "k", "w"))
    both(r, oracle, "TTL", "k")
    setup_both(r, oracle, ("PEXPIREAT", "k", str(FAR)), ("SET", "k", "x", "KEEPTTL"))
    both(r, oracle, "PEXPIRETIME", "k")


# ---------------------------------------------------------------- lazy expiry

def test_lazy_expiry_on_access(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("k", "v", px=20)
        r.set("k2", "v", px=20)
        time.sleep(0.1)
        assert r.dbsize() == 2                    # nothing deleted in the background
        assert r.get("k") is None
        assert r.dbsize() == 1
        assert r.ttl("k2") == -2
        assert r.dbsize() == 0
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_expire_on_expired_key_reports_missing(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("k", "v", px=5)
        time.sleep(0.05)
        assert r.expire("k", 100) is False
        assert r.persist("k") is False
        assert r.exists("k") == 0
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---------------------------------------------------------------- active expiry at scale

def test_active_expiry_at_scale(tern_server):
    """200k keys with 100-300 ms TTLs disappear without being touched, and the
    server keeps answering meanwhile."""
    r = tern_server.client()
    r.flushall()
    n = 200_000
    batch = 5000
    for start in range(0, n, batch):
        pipe = r.pipeline(transaction=False)
        for i in range(start, start + batch):
            pipe.set("vol:%d" % i, "x", px=100 + (i % 201))
        pipe.execute()
    r.set("persistent", "1")
    pinger = tern_server.client()
    deadline = time.time() + 120
    pings = 0
    while time.time() < deadline:
        assert pinger.ping()
        pings += 1
        if r.dbsize() == 1:
            break
        time.sleep(0.05)
    assert r.dbsize() == 1, "active expiry did not reclaim the keys (dbsize %d)" % r.dbsize()
    assert r.get("persistent") == b"1"
    assert pings > 0


def test_active_expiry_with_ttls_near_int64_max(r):
    """Found by the differential test: the active expire cycle summed the sampled TTLs with a
    trapping add; two keys at PEXPIREAT 9223372036854775807 crashed the server."""
    for i in range(20):
        r.set("far%d" % i, "v")
        r.pexpireat("far%d" % i, 9223372036854775807)
    deadline = time.time() + 10
    while time.time() < deadline:   # until a cycle has sampled them (avg_ttl is set)
        info = r.info("keyspace")["db0"]
        if info["avg_ttl"] != 0:
            break
        time.sleep(0.05)
    assert r.ping()
    assert r.dbsize() == 20
    assert info["avg_ttl"] != 0


def test_active_expiry_disabled_and_reenabled(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for i in range(100):
        r.set("k%d" % i, "v", px=10)
    time.sleep(0.5)
    assert r.dbsize() == 100
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    deadline = time.time() + 30
    while r.dbsize() > 0 and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0
