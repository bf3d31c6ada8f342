"""DEBUG, side by side with a real redis-server wherever the output is deterministic."""
import re
import time

import pytest
import redis

from conftest import start_redis, start_tern
from side_by_side import call, both, raw_both, supported

FAR = 4102444800000


# ---------------------------------------------------------------- access control

def test_refused_unless_enabled():
    t = start_tern(["--enable-debug-command", "no"])
    o = start_redis(["--enable-debug-command", "no"])
    try:
        raw_both(t.port, o.port, ["DEBUG", "HELP"], ["DEBUG", "SLEEP", "0"], ["DEBUG"], ["debug", "digest"])
    finally:
        t.stop()
        o.stop()


def test_refused_before_auth_and_before_multi_queueing():
    """Redis refuses a protected command right after the arity check: before NOAUTH, and at
    queue time inside MULTI (so EXEC aborts), not when EXEC runs it."""
    t = start_tern(["--enable-debug-command", "no", "--requirepass", "pw"])
    o = start_redis(["--enable-debug-command", "no", "--requirepass", "pw"])
    try:
        raw_both(t.port, o.port, ["DEBUG", "SLEEP", "0"], ["DEBUG"], ["AUTH", "pw"], ["MULTI"],
                 ["DEBUG", "SLEEP", "0"], ["SET", "a", "1"], ["EXEC"], ["GET", "a"])
    finally:
        t.stop()
        o.stop()


def test_local_mode_allows_loopback():
    t = start_tern(["--enable-debug-command", "local"])
    o = start_redis(["--enable-debug-command", "local"])
    try:
        raw_both(t.port, o.port, ["DEBUG", "DIGEST"], ["DEBUG", "PROTOCOL", "integer"])
    finally:
        t.stop()
        o.stop()


# ---------------------------------------------------------------- fixed texts

def test_help_is_identical(tern_server, redis_server):
    raw_both(tern_server.port, redis_server.port, ["DEBUG", "HELP"])


SUBCOMMAND_ERRORS = [
    ["DEBUG", "nosuch"], ["DEBUG", "Object"], ["DEBUG", "OBJECT", "a", "b"], ["DEBUG", "help", "x"],
    ["DEBUG", "digest", "x"], ["DEBUG", "sleep"], ["DEBUG", "protocol"], ["DEBUG", "protocol", "foo"],
    ["DEBUG", "populate"], ["DEBUG", "populate", "1", "a", "1", "1"], ["DEBUG", "populate", "-1"],
    ["DEBUG", "populate", "abc"], ["DEBUG", "populate", "1", "x", "-5"], ["DEBUG", "populate", "1", "x", "y"],
    ["DEBUG", "set-active-expire"], ["DEBUG", "error"], ["DEBUG", "error", "a", "b"], ["DEBUG", "log"],
    ["DEBUG", "object", "nokey"], ["DEBUG", "sdslen", "nokey"], ["DEBUG", "htstats", "x"],
    ["DEBUG", "htstats", "99"], ["DEBUG", "htstats", "-1"], ["DEBUG", "htstats", "0", "full"],
    ["DEBUG", "htstats-key", "nokey"], ["DEBUG", "listpack", "nokey"], ["DEBUG", "quicklist", "nokey"],
    ["DEBUG", "quicklist", "a", "1", "2"], ["DEBUG", "structsize", "x"], ["DEBUG", "change-repl-id", "x"],
    ["DEBUG", "stringmatch-test", "x"], ["DEBUG", "stringmatch-len"], ["DEBUG", "jmap"],
    ["DEBUG", "replybuffer", "foo"], ["DEBUG", "replybuffer", "peak-reset-time", "x"],
    ["DEBUG", "drop-cluster-packet-filter", "x"], ["DEBUG", "restart", "abc"],
    ["DEBUG", "crash-and-recover", "abc"], ["DEBUG", "client-eviction", "x"], ["DEBUG", "reload", "foo"],
    ["DEBUG", "clusterlink", "kill", "to"], ["DEBUG", "mallctl", "a", "b", "c"],
]


def test_subcommand_errors(tern_server, redis_server):
    for cmd in SUBCOMMAND_ERRORS:
        raw_both(tern_server.port, redis_server.port, cmd, timeout=0.15)


def test_simple_ok_subcommands(tern_server, redis_server):
    for cmd in [["DEBUG", "set-active-expire", "1"], ["DEBUG", "set-active-expire", "x"],
                ["DEBUG", "log", "hello from the tests"], ["DEBUG", "leak", "x"], ["DEBUG", "sleep", "0"],
                ["DEBUG", "sleep", "abc"], ["DEBUG", "sleep", "-1"], ["DEBUG", "sleep", "inf"],
                ["DEBUG", "change-repl-id"], ["DEBUG", "set-skip-checksum-validation", "0"],
                ["DEBUG", "aof-flush-sleep", "0"], ["DEBUG", "pause-cron", "0"],
                ["DEBUG", "replybuffer", "resizing", "1"], ["DEBUG", "replybuffer", "peak-reset-time", "never"],
                ["DEBUG", "replybuffer", "peak-reset-time", "reset"], ["DEBUG", "drop-cluster-packet-filter", "-1"],
                ["DEBUG", "client-eviction"],
                ["DEBUG", "clusterlink", "kill", "to", "abc"], ["DEBUG", "set-active-expire", "1"]]:
        raw_both(tern_server.port, redis_server.port, cmd, timeout=0.15)


def test_stringmatch_test(r, oracle):
    both(r, oracle, "DEBUG", "STRINGMATCH-TEST")   # redis-server needs a few seconds for its fuzzer


def test_error_subcommand_raw(tern_server, redis_server):
    for msg in ["hello", "ERR_x", "-foo bar", "a\r\nb", "", "WRONGTYPE custom"]:
        raw_both(tern_server.port, redis_server.port, ["DEBUG", "ERROR", msg], timeout=0.15)


@pytest.mark.parametrize("proto", [2, 3])
def test_protocol_types(tern_server, redis_server, proto):
    types = ["string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
             "push", "verbatim", "true", "false", "TRUE", "nosuch"]
    cmds = [["HELLO", str(proto)]] + [["DEBUG", "PROTOCOL", t] for t in types]
    raw_both(tern_server.port, redis_server.port, *cmds)


def test_quicklist_packed_threshold(tern_server, redis_server):
    for v in ["0", "10", "-1", "5000000000", "4294967296", "4294967295", "4293918720", "4293918721",
              "abc", "1k", "1kb", "1gb", "3GB", "4gb", "1x", "", "0"]:
        raw_both(tern_server.port, redis_server.port, ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", v], timeout=0.15)


# ---------------------------------------------------------------- POPULATE

def test_populate_naming_and_sizes(r, oracle):
    for c in (r, oracle):
        c.set("key:1", "existing")
    both(r, oracle, "DEBUG", "POPULATE", "5")
    both(r, oracle, "MGET", "key:0", "key:1", "key:4", "key:5") if supported(r, "MGET", "x") else None
    for k in ["key:0", "key:1", "key:4", "key:5"]:
        both(r, oracle, "GET", k)
    both(r, oracle, "DEBUG", "POPULATE", "3", "pre", "10")
    both(r, oracle, "GET", "pre:0")
    both(r, oracle, "GET", "pre:2")
    both(r, oracle, "DEBUG", "POPULATE", "2", "short", "3")
    both(r, oracle, "GET", "short:1")
    both(r, oracle, "DEBUG", "POPULATE", "1", "zero", "0")
    both(r, oracle, "GET", "zero:0")
    both(r, oracle, "DEBUG", "POPULATE", "0")
    long_prefix = "p" * 200
    both(r, oracle, "DEBUG", "POPULATE", "2", long_prefix)
    assert sorted(r.keys("pp*")) == sorted(oracle.keys("pp*"))      # cut to 127 bytes: one key
    both(r, oracle, "DEBUG", "POPULATE", "2", b"nul\x00tail")
    assert sorted(r.keys("nul*")) == sorted(oracle.keys("nul*"))
    both(r, oracle, "DBSIZE")
    both(r, oracle, "OBJECT", "ENCODING", "key:0")
    both(r, oracle, "OBJECT", "ENCODING", "pre:0")
    both(r, oracle, "DEBUG", "POPULATE", "1", "big", "100")
    both(r, oracle, "OBJECT", "ENCODING", "big:0")
    both(r, oracle, "DEBUG", "DIGEST")


def test_populate_large_count(r):
    assert r.execute_command("DEBUG", "POPULATE", "200000") == b"OK"
    assert r.dbsize() == 200000
    assert r.get("key:199999") == b"value:199999"


def test_populate_absurd_sizes_refused(r):
    # redis-server crashes on these; Tern refuses them.
    with pytest.raises(redis.ResponseError):
        r.execute_command("DEBUG", "POPULATE", "9223372036854775807")
    with pytest.raises(redis.ResponseError):
        r.execute_command("DEBUG", "POPULATE", "1", "p", "100000000000")
    assert r.ping()


# ---------------------------------------------------------------- DIGEST

def test_digest_strings_match_redis(tern_server, redis_server):
    pairs = []
    for srv in (tern_server, redis_server):
        c = srv.client()
        c.flushall()
        pairs.append(c)
    r, o = pairs
    both(r, o, "DEBUG", "DIGEST")
    for c in (r, o):
        c.set("greeting", "hello")
        c.set("int", "12345")
        c.set("neg", "-7")
        c.set("bin", b"\x00\xff\r\n")
        c.set("", "empty key")
        c.set("emptyval", "")
        c.set("big", "x" * 10000)
        c.set("ttl", "v")
        c.pexpireat("ttl", FAR)
        c5 = (tern_server if c is r else redis_server).client(db=5)
        c5.set("in5", "five")
        c5.pexpireat("in5", FAR)
    both(r, o, "DEBUG", "DIGEST")
    both(r, o, "DEBUG", "DIGEST-VALUE", "greeting", "int", "neg", "bin", "", "emptyval", "big", "ttl", "nokey")
    both(r, o, "DEBUG", "DIGEST-VALUE")
    # The worked example of the spec.
    for c in (r, o):
        c.flushall()
        c.set("greeting", "hello")
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "greeting") == [b"36b23a1456b2dce2c3ed252c456761301dba8060"]
    for c in (r, o):
        c.pexpireat("greeting", FAR)
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "greeting") == [b"d037c4eb8a8b36b602fbced4000daeab0714c1e3"]
    both(r, o, "DEBUG", "DIGEST")


def test_digest_changes_with_data(r):
    empty = r.execute_command("DEBUG", "DIGEST")
    assert empty == b"0" * 40
    r.set("a", "1")
    d1 = r.execute_command("DEBUG", "DIGEST")
    r.set("a", "2")
    d2 = r.execute_command("DEBUG", "DIGEST")
    r.set("a", "1")
    assert d1 != d2 and r.execute_command("DEBUG", "DIGEST") == d1
    r.pexpireat("a", FAR)
    assert r.execute_command("DEBUG", "DIGEST") != d1


def test_digest_value_ignores_expiry_state(r, oracle):
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        c.set("k", "v", px=1)
    time.sleep(0.05)
    both(r, oracle, "DEBUG", "DIGEST-VALUE", "k")   # looked up without expiring
    both(r, oracle, "DBSIZE")
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# Every collection type (and encoding) must digest exactly like redis-server; these run
# as soon as the corresponding commands exist in Tern.
COLLECTIONS = {
    "list": [("RPUSH", "k", "a", "b", "c", "12", "-3")],
    "list-big": [("RPUSH", "k", *["e%d" % i for i in range(600)])],
    "intset": [("SADD", "k", "1", "2", "3", "-100", "99999999999")],
    "set": [("SADD", "k", "a", "b", "c", "1")],
    "set-big": [("SADD", "k", *["m%d" % i for i in range(700)])],
    "zset-listpack": [("ZADD", "k", "1", "one", "2.5", "two", "0.1", "tenth", "-0", "negzero", "inf", "top")],
    "zset-skiplist": [("ZADD", "k", *sum([[str(i / 3), "m%d" % i] for i in range(200)], [])),
                      ("ZADD", "k", "-0", "negzero", "-inf", "bottom")],
    "hash-listpack": [("HSET", "k", "f1", "v1", "f2", "12", "f3", "")],
    "hash-table": [("HSET", "k", *sum([["f%d" % i, "v%d" % i] for i in range(600)], []))],
    "stream": [("XADD", "k", "1-1", "a", "1", "b", "2"), ("XADD", "k", "2-5", "a", "3"),
               ("XADD", "k", "3-0", "c", "4"), ("XDEL", "k", "2-5")],
}


@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_digest_collections_match_redis(r, oracle, name):
    cmds = COLLECTIONS[name]
    if not supported(r, *cmds[0]):
        pytest.skip("%s not implemented in this build" % cmds[0][0])
    for cmd in cmds[1:]:
        call(r, *cmd)
    for cmd in cmds:
        call(oracle, *cmd)
    both(r, oracle, "DEBUG", "DIGEST-VALUE", "k")
    both(r, oracle, "DEBUG", "DIGEST")
    for c in (r, oracle):
        c.pexpireat("k", FAR)
        c.set("s", "string too")
    both(r, oracle, "DEBUG", "DIGEST-VALUE", "k", "s")
    both(r, oracle, "DEBUG", "DIGEST")


# ---------------------------------------------------------------- OBJECT / SDSLEN / HTSTATS

OBJECT_LINE = re.compile(rb"^Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) serializedlength:(\d+) "
                         rb"lru:(\d+) lru_seconds_idle:(\d+)(.*)$")


def test_debug_object_format(r, oracle):
    for c in (r, oracle):
        c.set("s", "bar")
        c.set("n", "123")
        c.set("bign", "1234567890123")
        c.set("raw", "abcdefghij" * 2)
        c.pexpireat("s", FAR)
    for k in ["s", "n", "bign", "raw"]:
        a = OBJECT_LINE.match(r.execute_command("DEBUG", "OBJECT", k))
        b = OBJECT_LINE.match(oracle.execute_command("DEBUG", "OBJECT", k))
        assert a and b, k
        # refcount, encoding and serialized length agree (short strings: no compression).
        assert a.group(1, 2, 3) == b.group(1, 2, 3), k
        # Idle seconds like Redis's: "n" holds the shared integer 123, idle since its
        # server started (both servers of this module started together) or last touched.
        assert abs(int(a.group(5)) - int(b.group(5))) <= 2, k
    both(r, oracle, "DEBUG", "OBJECT", "nokey")


def test_debug_object_sees_expired_keys(r, oracle):
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        c.set("k", "v", px=1)
    time.sleep(0.05)
    a = r.execute_command("DEBUG", "OBJECT", "k")
    assert OBJECT_LINE.match(a)
    assert OBJECT_LINE.match(oracle.execute_command("DEBUG", "OBJECT", "k"))
    for c in (r, oracle):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_sdslen_and_encoding_probes(r, oracle):
    for c in (r, oracle):
        c.set("n", "5")
        c.set("s", "abc")
    both(r, oracle, "DEBUG", "SDSLEN", "n")
    assert r.execute_command("DEBUG", "SDSLEN", "s").startswith(b"key_sds_len:1, ")
    both(r, oracle, "DEBUG", "LISTPACK", "s")
    both(r, oracle, "DEBUG", "QUICKLIST", "s")
    both(r, oracle, "DEBUG", "HTSTATS-KEY", "s")


def test_htstats_shape(r):
    r.execute_command("DEBUG", "POPULATE", "100")
    text = r.execute_command("DEBUG", "HTSTATS", "0")
    # Tern's key table holds up to 2 keys per bucket (Redis: 1, so 128 there): docs/MEMORY.md.
    assert text.startswith(b"[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: 64\n")
    assert b" number of elements: 100\n" in text and b"[Expires HT]\n" in text
    assert r.execute_command("DEBUG", "HTSTATS", "1") == (
        b"[Dictionary HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
        b"[Expires HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n")


def test_htstats_empty_matches_redis(tern_server, redis_server):
    raw_both(tern_server.port, redis_server.port, ["FLUSHALL"], ["DEBUG", "HTSTATS", "9"])


# ---------------------------------------------------------------- SLEEP / SET-ACTIVE-EXPIRE

def test_sleep_blocks_the_server(tern_server):
    a = tern_server.client()
    b = tern_server.client()
    import threading
    done = []
    t = threading.Thread(target=lambda: done.append(a.execute_command("DEBUG", "SLEEP", "0.3")))
    t.start()
    time.sleep(0.05)
    assert b.ping()        # answered once the sleep is over
    t.join()
    assert done == [b"OK"]


def test_set_active_expire(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for i in range(50):
            r.set("t%d" % i, "v", px=5)
        time.sleep(0.4)
        assert r.dbsize() == 50
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    deadline = time.time() + 20
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0


def test_pause_cron_stops_active_expiry(r):
    r.execute_command("DEBUG", "PAUSE-CRON", "1")
    try:
        for i in range(20):
            r.set("t%d" % i, "v", px=5)
        time.sleep(0.4)
        assert r.dbsize() == 20
    finally:
        r.execute_command("DEBUG", "PAUSE-CRON", "0")
    deadline = time.time() + 20
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0
