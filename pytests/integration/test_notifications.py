"""Keyspace notifications: the notification stream a pattern subscriber receives for a
scripted set of commands, compared byte for byte with redis-server, for every class flag
of notify-keyspace-events; CONFIG GET formatting of the flags; expired/evicted events."""
import time

import pytest
import redis

from conftest import start_tern
from resp_wire import Transcript, command_exists, run_script

_dedicated = {}


@pytest.fixture(scope="module", autouse=True)
def _stop_dedicated():
    yield
    for srv in _dedicated.values():
        srv.stop()
    _dedicated.clear()


def tern_port_with_flags(tern_server, flags):
    """A Tern port whose notify-keyspace-events is `flags`: CONFIG SET when the build has
    it, otherwise a server started with --notify-keyspace-events."""
    c = Transcript(tern_server.port)
    try:
        reply = c.cmd("CONFIG", "SET", "notify-keyspace-events", flags)
    finally:
        c.close()
    if reply == b"+OK\r\n":
        return tern_server.port
    assert b"unknown command" in reply, reply
    if flags not in _dedicated:
        _dedicated[flags] = start_tern(["--notify-keyspace-events", flags])
    return _dedicated[flags].port


def redis_flags(redis_server, flags):
    c = Transcript(redis_server.port)
    assert c.cmd("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
    c.close()


_known = {}


def available(port, name):
    key = (port, name.lower())
    if key not in _known:
        _known[key] = command_exists(port, name)
    return _known[key]


def compare_streams(tern_server, redis_server, flags, steps, needs=(), resp=2):
    """Runs `steps` on both servers with a pattern subscriber on every keyspace channel and
    compares what the subscriber (and the writer) received. Steps whose command this build
    lacks are left out on both sides; the test skips when none is left."""
    steps = [st for st in steps if st[0] == "sleep" or available(tern_server.port, st[0])]
    if needs and not any(st[0] != "sleep" and st[0].lower() in needs for st in steps):
        pytest.skip("none of %s implemented in this build" % (needs,))
    tport = tern_port_with_flags(tern_server, flags)
    redis_flags(redis_server, flags)
    try:
        streams = []
        for port in (tport, redis_server.port):
            c = Transcript(port)
            c.cmd("FLUSHALL")
            c.close()
            script = [("s", ["PSUBSCRIBE", "__key*__:*"])] + [
                st if st[0] == "sleep" else ("w", st) for st in steps]
            streams.append(run_script(port, {"s": resp, "w": 2}, script))
        assert streams[0]["s"] == streams[1]["s"]
        assert streams[0]["w"] == streams[1]["w"]
        return streams[0]["s"]
    finally:
        redis_flags(redis_server, "")
        if tport == tern_server.port:
            c = Transcript(tport)
            c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
            c.close()


# A script touching every class the core commands can produce.
BASIC = [
    ["SET", "k", "v"],
    ["SET", "k", "v2", "EX", "100"],
    ["SET", "n", "1", "NX"],
    ["SET", "n", "2", "NX"],
    ["SET", "n", "3", "XX", "GET"],
    ["GET", "missing"],
    ["GET", "k"],
    ["DEL", "k", "n", "missing"],
    ["SELECT", "5"],
    ["SET", "in5", "x"],
    ["DEL", "in5"],
    ["SELECT", "0"],
    ["SET", "bin\r\n\x00", "v"],
    ["SET", "exp", "v", "PX", "30"],
    ("sleep", 0.35),
    ["GET", "exp"],
    ["SET", "lazy", "v", "PX", "20"],
    ("sleep", 0.03),
    ["GET", "lazy"],
]

FLAGS = ["KEA", "KA", "EA", "K$", "E$", "Kg", "Eg", "KEx", "KEe", "KEm", "KEn", "KEAm", "KEAn",
         "KEl", "KEs", "KEh", "KEz", "KEt", "KEd", "K", "E", "A", "", "Kgx$", "E$m"]


@pytest.mark.parametrize("flags", FLAGS)
def test_basic_stream_per_flag(tern_server, redis_server, flags):
    compare_streams(tern_server, redis_server, flags, BASIC)


def test_stream_resp3_subscriber(tern_server, redis_server):
    out = compare_streams(tern_server, redis_server, "KEA", BASIC[:8], resp=3)
    assert out.count(b">4\r\n$8\r\npmessage") >= 4


def test_keyspace_and_keyevent_channels(tern_server):
    """Exact channel names and payloads, checked without the oracle."""
    port = tern_port_with_flags(tern_server, "KEA")
    try:
        r = redis.Redis(port=port)
        r.flushall()
        ps = r.pubsub()
        ps.psubscribe("__key*__:*")
        ps.get_message(timeout=1)
        r.set("foo", "bar")
        r.execute_command("SELECT", "0")
        msgs = [ps.get_message(timeout=1) for _ in range(2)]
        assert [(m["channel"], m["data"]) for m in msgs] == [
            (b"__keyspace@0__:foo", b"set"), (b"__keyevent@0__:set", b"foo")]
        ps.close()
        r.close()
    finally:
        c = Transcript(tern_server.port)
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()


# Families other helpers implement: each script runs when the commands exist.
FAMILIES = [
    ("strings", [["SET", "s", "1"], ["INCR", "s"], ["INCRBY", "s", "5"], ["DECR", "s"], ["INCRBYFLOAT", "s", "1.5"],
                 ["APPEND", "s", "x"], ["SETRANGE", "s", "0", "y"], ["GETDEL", "s"], ["MSET", "a", "1", "b", "2"],
                 ["MSETNX", "c", "1"], ["SETEX", "e", "10", "v"], ["PSETEX", "e", "1000", "v"], ["GETEX", "e", "PERSIST"],
                 ["GETEX", "e", "EX", "50"], ["GETSET", "e", "n"], ["SETNX", "z", "1"]],
     ("incr", "incrby", "decr", "incrbyfloat", "append", "setrange", "getdel", "mset", "msetnx", "setex",
      "psetex", "getex", "getset", "setnx")),
    ("keys", [["SET", "a", "1"], ["EXPIRE", "a", "100"], ["PEXPIRE", "a", "100000"], ["PERSIST", "a"],
              ["EXPIREAT", "a", "99999999999"], ["RENAME", "a", "b"], ["RENAMENX", "b", "c"], ["COPY", "c", "d"],
              ["MOVE", "d", "3"], ["UNLINK", "c"], ["SET", "x", "1"], ["EXPIRE", "x", "0"], ["SET", "y", "1"],
              ["PEXPIREAT", "y", "1"], ["SET", "t", "1"], ["TOUCH", "t"], ["SWAPDB", "0", "1"]],
     ("expire", "pexpire", "persist", "expireat", "rename", "renamenx", "copy", "move", "unlink", "pexpireat",
      "touch", "swapdb")),
    ("lists", [["LPUSH", "l", "a", "b"], ["RPUSH", "l", "c"], ["LPUSHX", "l", "d"], ["RPUSHX", "l", "e"],
               ["LINSERT", "l", "BEFORE", "a", "z"], ["LSET", "l", "0", "q"], ["LREM", "l", "1", "q"],
               ["LTRIM", "l", "0", "2"], ["LPOP", "l"], ["RPOP", "l"], ["RPUSH", "m", "1", "2"],
               ["LMOVE", "m", "n", "LEFT", "RIGHT"], ["RPOPLPUSH", "m", "n"], ["LPOP", "n", "5"],
               ["LPUSH", "p", "x"], ["LMPOP", "1", "p", "LEFT"], ["BLPOP", "missing", "0.01"]],
     ("lpush", "rpush", "lpushx", "rpushx", "linsert", "lset", "lrem", "ltrim", "lpop", "rpop", "lmove",
      "rpoplpush", "lmpop", "blpop")),
    ("sets", [["SADD", "s", "a", "b", "c"], ["SREM", "s", "a"], ["SADD", "s2", "m", "n"], ["SREM", "s2", "m"], ["SPOP", "s2"], ["SADD", "t", "x", "b", "c"],
              ["SMOVE", "t", "u", "x"], ["SINTERSTORE", "d", "s", "t"], ["SUNIONSTORE", "d", "s", "t"],
              ["SDIFFSTORE", "d", "s", "t"], ["SINTERSTORE", "d", "nope", "t"], ["SREM", "u", "x"]],
     ("sadd", "srem", "spop", "smove", "sinterstore", "sunionstore", "sdiffstore")),
    ("hashes", [["HSET", "h", "a", "1", "b", "2"], ["HSETNX", "h", "c", "3"], ["HINCRBY", "h", "a", "2"],
                ["HINCRBYFLOAT", "h", "a", "0.5"], ["HDEL", "h", "a", "zz"], ["HMSET", "h", "x", "y"],
                ["HDEL", "h", "b", "c", "x"]],
     ("hset", "hsetnx", "hincrby", "hincrbyfloat", "hdel", "hmset")),
    ("zsets", [["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZINCRBY", "z", "5", "a"], ["ZREM", "z", "a"],
               ["ZADD", "z", "INCR", "1", "b"], ["ZREMRANGEBYSCORE", "z", "0", "1"], ["ZREMRANGEBYRANK", "z", "0", "0"],
               ["ZADD", "w", "1", "x", "2", "y"], ["ZREMRANGEBYLEX", "w", "-", "+"], ["ZADD", "v", "1", "x", "2", "y"],
               ["ZPOPMIN", "v"], ["ZPOPMAX", "v"], ["ZADD", "u", "1", "x"], ["ZUNIONSTORE", "o", "1", "u"],
               ["ZINTERSTORE", "o", "2", "u", "nope"], ["ZADD", "q", "1", "x"], ["ZMPOP", "1", "q", "MIN"],
               ["ZADD", "r", "1", "x"], ["ZRANGESTORE", "o2", "r", "0", "-1"], ["ZDIFFSTORE", "o3", "1", "r"]],
     ("zadd", "zincrby", "zrem", "zremrangebyscore", "zremrangebyrank", "zremrangebylex", "zpopmin", "zpopmax",
      "zunionstore", "zinterstore", "zmpop", "zrangestore", "zdiffstore")),
    ("streams", [["XADD", "x", "1-1", "f", "v"], ["XADD", "x", "2-1", "f", "v"], ["XDEL", "x", "1-1"],
                 ["XTRIM", "x", "MAXLEN", "0"], ["XGROUP", "CREATE", "x", "g", "0"],
                 ["XGROUP", "CREATECONSUMER", "x", "g", "c"], ["XADD", "x", "3-1", "f", "v"],
                 ["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "x", ">"], ["XGROUP", "SETID", "x", "g", "0"],
                 ["XGROUP", "DELCONSUMER", "x", "g", "c"], ["XGROUP", "DESTROY", "x", "g"],
                 ["XSETID", "x", "9-9"]],
     ("xadd", "xdel", "xtrim", "xgroup", "xreadgroup", "xsetid")),
    ("generic-misc", [["SET", "k", "v"], ["SORT", "nope", "STORE", "dst"], ["RPUSH", "l", "3", "1", "2"],
                      ["SORT", "l", "STORE", "dst"],
                      ["PFADD", "hll", "a"], ["SETBIT", "b", "7", "1"], ["BITOP", "NOT", "b2", "b"],
                      ["GEOADD", "g", "13.361389", "38.115556", "p"], ["FLUSHDB"]],
     ("sort", "pfadd", "setbit", "bitop", "geoadd")),
]


@pytest.mark.parametrize("flags", ["KEA", "KEAmn"])
@pytest.mark.parametrize("steps,needs", [(s, n) for _, s, n in FAMILIES], ids=[i for i, _, _ in FAMILIES])
def test_family_event_names(tern_server, redis_server, flags, steps, needs):
    compare_streams(tern_server, redis_server, flags, steps, needs)


def test_config_get_formats_flags_like_redis(tern_server, redis_server):
    if not command_exists(tern_server.port, "config"):
        pytest.skip("CONFIG not implemented in this build")
    t = Transcript(tern_server.port)
    o = Transcript(redis_server.port)
    try:
        for f in ["KEA", "KEAn", "Kn", "g$", "A", "Em", "EAm", "KEg$lshzxetd", "KEg$lshzxe", "x", "AKEmnd",
                  "", "Ktd", "Kdn", "K$lshzxetdn", "Kmdtexzhsl$gnE", "z?", "KEA!", "a"]:
            assert t.cmd("CONFIG", "SET", "notify-keyspace-events", f) == \
                o.cmd("CONFIG", "SET", "notify-keyspace-events", f), f
            assert t.cmd("CONFIG", "GET", "notify-keyspace-events") == \
                o.cmd("CONFIG", "GET", "notify-keyspace-events"), f
    finally:
        t.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        o.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        t.close()
        o.close()


def test_evicted_events(tern_server, redis_server):
    """With maxmemory and allkeys-random, eviction emits `evicted` (counts compared)."""
    pytest.skip("maxmemory eviction is not implemented yet (memory-limits issue)")
    if not command_exists(tern_server.port, "config"):
        pytest.skip("CONFIG not implemented in this build")
    counts = []
    for port in (tern_server.port, redis_server.port):
        c = redis.Redis(port=port)
        c.flushall()
        c.config_set("notify-keyspace-events", "Ee")
        ps = c.pubsub()
        ps.subscribe("__keyevent@0__:evicted")
        ps.get_message(timeout=1)
        try:
            used = c.info("memory")["used_memory"]
            c.config_set("maxmemory-policy", "allkeys-random")
            c.config_set("maxmemory", used + 200000)
            for i in range(2000):
                try:
                    c.set("key:%d" % i, "x" * 1000)
                except redis.ResponseError:
                    break
            n = 0
            while ps.get_message(timeout=0.2) is not None:
                n += 1
            counts.append(n > 0)
        finally:
            c.config_set("maxmemory", 0)
            c.config_set("maxmemory-policy", "noeviction")
            c.config_set("notify-keyspace-events", "")
            ps.close()
            c.close()
    assert counts == [True, True]
