"""MIGRATE (and RESTORE-ASKING) side by side: every scenario runs from a Tern source and from a
redis-server source against the same target (a Tern or a redis-server, with and without a
password), and the replies, the target's keys and the source's keys must be equal. This covers
Tern -> Tern, Tern -> Redis, Redis -> Tern (and Redis -> Redis as the reference)."""
import socket
import threading

import pytest

from conftest import start_redis, start_tern
from propagation_stream import END_CHANNEL, Conn, ReplicaStream
from side_by_side import call, value_contents


@pytest.fixture(scope="module")
def servers():
    started = {
        "tern_src": start_tern(),
        "redis_src": start_redis(),
        "tern_dst": start_tern(),
        "redis_dst": start_redis(),
        "tern_auth": start_tern(["--requirepass", "pw"]),
        "redis_auth": start_redis(["--requirepass", "pw"]),
    }
    yield started
    for s in started.values():
        s.stop()


SOURCES = ("tern_src", "redis_src")


def clients(servers):
    return {name: s.client(password="pw" if name.endswith("auth") else None) for name, s in servers.items()}


def fill(c):
    """One key of every type and encoding, some with a TTL."""
    c.set("int", 12345)
    c.set("str", "hello")
    c.set("big", "x" * 3000, px=500000)
    c.rpush("list", *range(200))
    c.sadd("iset", 1, 2, 3)
    c.sadd("set", *["m%d" % i for i in range(300)])
    c.zadd("zs", {"a": 1, "b": 2.5})
    c.zadd("zbig", {"m%d" % i: i for i in range(300)})
    c.hset("h", mapping={"f": "v", "g": 1})
    c.hset("hbig", mapping={"f%d" % i: "v" * 70 for i in range(10)})
    c.set("ttl", "v", ex=1000)


ALL_KEYS = ["int", "str", "big", "list", "iset", "set", "zs", "zbig", "h", "hbig", "ttl"]


def state(c, keys):
    """Comparable contents of `keys` (TTLs rounded to seconds)."""
    out = {}
    for k in keys:
        if c.exists(k):
            ttl = c.pttl(k)
            out[k] = (value_contents(c, k), c.type(k), -1 if ttl < 0 else (ttl + 999) // 1000)
    return out


def run_both(servers, target, steps, keys=ALL_KEYS, setup_target=None, target_db=0):
    """Runs `steps(src_client, target_port)` from each source against `target` (flushed and
    prepared before each run) and returns {source: (replies, source state, target state)}."""
    cs = clients(servers)
    port = servers[target].port
    results = {}
    for src in SOURCES:
        cs[src].flushall()
        cs[target].flushall()
        fill(cs[src])
        if setup_target:
            setup_target(cs[target])
        replies = steps(cs[src], port)
        tgt = servers[target].client(password="pw" if target.endswith("auth") else None, db=target_db)
        results[src] = (replies, state(cs[src], keys), state(tgt, keys))
        tgt.close()
    for c in cs.values():
        c.close()
    a, b = results["tern_src"], results["redis_src"]
    assert a[0] == b[0], "replies: tern %r != redis %r" % (a[0], b[0])
    assert a[1] == b[1], "source state differs"
    assert a[2] == b[2], "target state differs"
    return a


TARGETS = ("tern_dst", "redis_dst")


@pytest.mark.parametrize("target", TARGETS)
def test_every_type_one_by_one(servers, target):
    def steps(c, port):
        return [call(c, "MIGRATE", "127.0.0.1", port, k, 0, 5000) for k in ALL_KEYS]
    replies, src, dst = run_both(servers, target, steps)
    assert replies == [b"OK"] * len(ALL_KEYS)
    assert src == {}
    assert set(dst) == set(ALL_KEYS) and dst["ttl"][2] in (999, 1000) and dst["int"][2] == -1


@pytest.mark.parametrize("target", TARGETS)
def test_keys_batch_db_copy_and_nokey(servers, target):
    def steps(c, port):
        return [
            call(c, "MIGRATE", "127.0.0.1", port, "", 3, 5000, "COPY", "KEYS", "list", "missing", "h", "ttl"),
            call(c, "MIGRATE", "127.0.0.1", port, "", 3, 5000, "KEYS", "nope1", "nope2"),
            call(c, "MIGRATE", "127.0.0.1", port, "nope", 3, 5000),
            # Same db again (the cached connection skips SELECT), then another db.
            call(c, "MIGRATE", "127.0.0.1", port, "", 3, 5000, "KEYS", "set", "zs"),
            call(c, "MIGRATE", "127.0.0.1", port, "str", 0, 5000),
        ]
    replies, src, dst = run_both(servers, target, steps, target_db=3)
    assert replies == [b"OK", b"NOKEY", b"NOKEY", b"OK", b"OK"]
    assert "list" in src and "h" in src and "set" not in src and "str" not in src
    assert set(dst) == {"list", "h", "ttl", "set", "zs"}


@pytest.mark.parametrize("target", TARGETS)
def test_busykey_and_replace(servers, target):
    def setup(t):
        t.set("str", "old")
        t.set("int", "old")

    def steps(c, port):
        return [
            call(c, "MIGRATE", "127.0.0.1", port, "str", 0, 5000),
            call(c, "MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", "h", "int", "zs"),
            call(c, "MIGRATE", "127.0.0.1", port, "str", 0, 5000, "REPLACE"),
            # A key named twice: the second RESTORE meets the first's key.
            call(c, "MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", "list", "list"),
            call(c, "MIGRATE", "127.0.0.1", port, "", 0, 5000, "REPLACE", "KEYS", "iset", "iset"),
            # The target refuses the SELECT: the RESTOREs still run there, in the db the
            # connection had (0), but the source keeps the keys (Redis reports the SELECT error).
            call(c, "MIGRATE", "127.0.0.1", port, "", -5, 5000, "KEYS", "set", "zbig"),
            call(c, "MIGRATE", "127.0.0.1", port, "set", 0, 5000),
        ]
    replies, src, dst = run_both(servers, target, steps, setup_target=setup)
    assert replies[3][0] == "error" and replies[4] == b"OK" and "list" not in src and "iset" in dst
    assert replies[5] == ("error", "Target instance replied with error: ERR DB index is out of range")
    assert replies[6][1].endswith("BUSYKEY Target key name already exists.")
    assert "zbig" in src and "zbig" in dst and "set" in dst
    assert replies[0] == ("error", "Target instance replied with error: BUSYKEY Target key name already exists.")
    # The keys acknowledged before and after the refused one moved; the refused one stayed.
    assert "int" in src and "h" not in src and "zs" not in src
    assert replies[2] == b"OK" and dst["str"][0] == b"hello"


@pytest.mark.parametrize("target", ("tern_auth", "redis_auth"))
def test_auth_and_auth2(servers, target):
    def steps(c, port):
        return [
            call(c, "MIGRATE", "127.0.0.1", port, "str", 0, 5000),
            call(c, "MIGRATE", "127.0.0.1", port, "str", 0, 5000, "AUTH", "wrong"),
            call(c, "MIGRATE", "127.0.0.1", port, "str", 0, 5000, "AUTH2", "default", "wrong"),
            call(c, "MIGRATE", "127.0.0.1", port, "str", 0, 5000, "AUTH", "pw"),
            call(c, "MIGRATE", "127.0.0.1", port, "int", 0, 5000, "AUTH2", "default", "pw"),
        ]
    replies, src, dst = run_both(servers, target, steps)
    assert replies[0][1].startswith("Target instance replied with error: NOAUTH")
    assert replies[1][1].startswith("Target instance replied with error: WRONGPASS")
    assert replies[3:] == [b"OK", b"OK"] and set(dst) == {"str", "int"}


def test_argument_errors(servers):
    cs = clients(servers)
    port = servers["tern_dst"].port
    cases = [
        ("MIGRATE", "127.0.0.1", port, "k", 0, 5000, "KEYS", "a"),
        ("MIGRATE", "127.0.0.1", port, "", "x", 5000, "KEYS", "a"),
        ("MIGRATE", "127.0.0.1", port, "", 0, "1.5", "KEYS", "a"),
        ("MIGRATE", "127.0.0.1", port, "str", 0, 5000, "FOO"),
        ("MIGRATE", "127.0.0.1", port, "str", 0, 5000, "AUTH"),
        ("MIGRATE", "127.0.0.1", port, "str", 0, 5000, "AUTH2", "u"),
        ("MIGRATE", "127.0.0.1", port, "str", 0),
        ("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS"),
    ]
    for args in cases:
        assert call(cs["tern_src"], *args) == call(cs["redis_src"], *args), args
    for c in cs.values():
        c.close()


def silent_listener():
    """A target that accepts connections and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    held = []
    stop = threading.Event()

    def run():
        s.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(s.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=run, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join()
        for h in held:
            h.close()
        s.close()
    return s.getsockname()[1], close


def test_unreachable_and_silent_targets(servers):
    cs = clients(servers)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    port, stop = silent_listener()
    try:
        for src in SOURCES:
            cs[src].flushall()
            fill(cs[src])
        refused = "IOERR error or timeout writing to target instance"
        silent = "IOERR error or timeout reading to target instance"
        connecting = "IOERR error or timeout connecting to the client"
        for args, text in [(("MIGRATE", "127.0.0.1", dead_port, "str", 0, 300), refused),
                           (("MIGRATE", "127.0.0.1", "abc", "str", 0, 300), refused),
                           (("MIGRATE", "127.0.0.1", "-1", "str", 0, 300), connecting),
                           (("MIGRATE", "no.such.host.invalid", "1", "str", 0, 300), connecting),
                           (("MIGRATE", "127.0.0.1", port, "str", 0, 300), silent),
                           (("MIGRATE", "127.0.0.1", port, "", 0, 300, "KEYS", "int", "h"), silent)]:
            a = call(cs["tern_src"], *args)
            b = call(cs["redis_src"], *args)
            assert a == b == ("error", text), (args, a, b)
        for src in SOURCES:
            assert cs[src].exists("str", "int", "h") == 3
    finally:
        stop()
        for c in cs.values():
            c.close()


def replication_stream(server, body):
    """What `body(client)` propagates to a replica of `server`."""
    a = Conn(server.port)
    a.call("FLUSHALL")
    fill(server.client())
    replica = ReplicaStream(server.port)
    try:
        body(a)
        a.call("PUBLISH", END_CHANNEL, "x")
        return replica.read_until_marker()
    finally:
        replica.close()
        a.close()


def test_propagated_as_del(servers):
    """MIGRATE propagates DEL of the keys the target acknowledged; COPY propagates nothing."""
    cs = clients(servers)
    cs["redis_dst"].flushall()
    streams = []
    for src in SOURCES:
        cs["redis_dst"].flushall()
        cs["redis_dst"].set("zs", "busy")
        port = servers["redis_dst"].port

        def body(a):
            a.call("MIGRATE", "127.0.0.1", str(port), "", "0", "5000", "KEYS", "str", "zs", "missing", "h")
            a.call("MIGRATE", "127.0.0.1", str(port), "", "0", "5000", "COPY", "KEYS", "list")
        streams.append(replication_stream(servers[src], body))
    for c in cs.values():
        c.close()
    assert streams[0] == streams[1]
    assert b"DEL\r\n$3\r\nstr\r\n$1\r\nh\r\n" in streams[0]


def test_restore_asking_is_restore(servers):
    cs = clients(servers)
    for src in SOURCES:
        cs[src].flushall()
    cs["redis_src"].set("k", "v")
    payload = cs["redis_src"].dump("k")
    for args in [("RESTORE-ASKING", "k2", 0, payload), ("RESTORE-ASKING", "k2", 0, payload),
                 ("RESTORE-ASKING", "k2", 0, payload, "REPLACE"), ("RESTORE-ASKING", "k3", 0, b"bad")]:
        assert call(cs["tern_src"], *args) == call(cs["redis_src"], *args), args
    assert cs["tern_src"].get("k2") == b"v"
    for c in cs.values():
        c.close()


def test_keyspace_events_on_source(servers):
    """The source raises `del` for each key the target acknowledged (and nothing for COPY)."""
    cs = clients(servers)
    port = servers["redis_dst"].port
    seen = {}
    for src in SOURCES:
        cs["redis_dst"].flushall()
        c = cs[src]
        c.flushall()
        fill(c)
        c.config_set("notify-keyspace-events", "KEA")
        p = c.pubsub()
        p.psubscribe("__keyevent@0__:*")
        p.get_message(timeout=1)
        c.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", "str", "missing", "h")
        c.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "COPY", "KEYS", "list")
        c.publish("__keyevent@0__:end", "x")
        events = []
        while True:
            m = p.get_message(timeout=2)
            if m is None or m["channel"] == b"__keyevent@0__:end":
                break
            events.append((m["channel"], m["data"]))
        p.close()
        c.config_set("notify-keyspace-events", "")
        seen[src] = events
    for c in cs.values():
        c.close()
    assert seen["tern_src"] == seen["redis_src"]
    assert seen["tern_src"] == [(b"__keyevent@0__:del", b"str"), (b"__keyevent@0__:del", b"h")]
