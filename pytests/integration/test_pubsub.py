"""Pub/Sub: subscriber message streams byte for byte against redis-server (RESP2 and RESP3),
subscribed-context restrictions, PUBSUB introspection, glob patterns, cleanup on
disconnect, and slow subscribers bounded by client-output-buffer-limit."""
import os
import socket
import time

import pytest
import redis

from conftest import start_tern
from resp_wire import Transcript, command_exists, encode, run_script, split_values


def flushall(*ports):
    for port in ports:
        c = Transcript(port)
        c.cmd("FLUSHALL")
        c.close()


def same_script(tern_server, redis_server, conns, steps, needs=()):
    for n in needs:
        if not command_exists(tern_server.port, n):
            pytest.skip("%s not implemented in this build" % n)
    flushall(tern_server.port, redis_server.port)
    got = run_script(tern_server.port, conns, steps)
    want = run_script(redis_server.port, conns, steps)
    got.pop("_ids")
    want.pop("_ids")
    assert got == want
    return got


BINARY = b"bin\r\n\x00\xff*3\r\n"


def test_message_streams(tern_server, redis_server):
    steps = [
        ("s2", ["SUBSCRIBE", "news", "sports", "news"]),
        ("s2", ["PSUBSCRIBE", "n?ws"]),
        ("s2", ["SSUBSCRIBE", "shard1", "shard2"]),
        ("s3", ["SUBSCRIBE", "news"]),
        ("s3", ["PSUBSCRIBE", "s*"]),
        ("p", ["PUBLISH", "news", "hello"]),
        ("p", ["PUBLISH", "sports", "goal"]),
        ("p", ["PUBLISH", "nows", "pattern only"]),
        ("p", ["PUBLISH", "nobody", "x"]),
        ("p", ["PUBLISH", "news", ""]),
        ("p", ["PUBLISH", "news", BINARY]),
        ("p", ["PUBLISH", BINARY, "x"]),
        ("p", ["SPUBLISH", "shard1", "sharded"]),
        ("p", ["SPUBLISH", "news", "no shard subscribers"]),
        ("p", ["SPUBLISH", "nobody", "x"]),
        ("s3", ["GET", "k"]),
        ("s3", ["PING"]),
        ("s3", ["PING", "hi"]),
        ("s2", ["PING"]),
        ("s2", ["PING", "hi"]),
        ("s2", ["UNSUBSCRIBE", "news", "never"]),
        ("p", ["PUBLISH", "news", "after unsubscribe"]),
        ("s2", ["PUNSUBSCRIBE", "n?ws", "n?ws"]),
        ("s2", ["SUNSUBSCRIBE", "shard1"]),
        ("p", ["PUBLISH", "news", "last"]),
        ("p", ["SPUBLISH", "shard2", "s2"]),
        ("s3", ["UNSUBSCRIBE", "news"]),
        ("s3", ["PUNSUBSCRIBE", "s*"]),
        ("s3", ["UNSUBSCRIBE"]),
        ("s3", ["GET", "k"]),
        ("s2", ["UNSUBSCRIBE", "sports"]),
        ("s2", ["GET", "k"]),
        ("s2", ["SUNSUBSCRIBE", "shard2"]),
        ("s2", ["GET", "k"]),
    ]
    same_script(tern_server, redis_server, {"s2": 2, "s3": 3, "p": 2}, steps)


def test_self_publish_and_resp3_publisher(tern_server, redis_server):
    steps = [
        ("a", ["SUBSCRIBE", "me"]),
        ("a", ["PUBLISH", "me", "to myself"]),
        ("a", ["PSUBSCRIBE", "m*"]),
        ("a", ["PUBLISH", "me", "twice"], 3),
        ("b", ["SUBSCRIBE", "me"]),
        ("b", ["PUBLISH", "me", "resp2 subscribed: refused"]),
        ("c", ["PUBLISH", "me", "from c"]),
        ("a", ["UNSUBSCRIBE"]),
        ("a", ["PUNSUBSCRIBE"]),
        ("a", ["PUBLISH", "me", "gone"]),
    ]
    same_script(tern_server, redis_server, {"a": 3, "b": 2, "c": 2}, steps)


def test_unsubscribe_without_subscriptions(tern_server, redis_server):
    steps = [("a", ["UNSUBSCRIBE"]), ("a", ["PUNSUBSCRIBE"]), ("a", ["SUNSUBSCRIBE"]),
             ("a", ["UNSUBSCRIBE", "x", "y"]), ("a", ["PUNSUBSCRIBE", "p"]), ("a", ["SUNSUBSCRIBE", "s"]),
             ("a", ["GET", "k"])]
    same_script(tern_server, redis_server, {"a": 2}, steps)
    same_script(tern_server, redis_server, {"a": 3}, steps)


def test_subscribed_context_restrictions_resp2(tern_server, redis_server):
    steps = [("a", ["SUBSCRIBE", "c"]), ("a", ["GET", "k"]), ("a", ["SET", "k", "v"]),
             ("a", ["MULTI"]), ("a", ["EXEC"]), ("a", ["CLIENT", "TRACKINGINFO"]),
             ("a", ["PUBSUB", "NUMSUB", "c"]), ("a", ["PUBLISH", "c", "x"]), ("a", ["ECHO", "x"]),
             ("a", ["NOSUCH"]), ("a", ["GET"]), ("a", ["PING"]), ("a", ["PSUBSCRIBE", "x"]),
             ("a", ["UNSUBSCRIBE", "c"]), ("a", ["GET", "k"]), ("a", ["PUNSUBSCRIBE"]), ("a", ["GET", "k"]),
             ("a", ["SSUBSCRIBE", "s"]), ("a", ["GET", "k"]), ("a", ["QUIT"])]
    out = same_script(tern_server, redis_server, {"a": 2}, steps)
    assert b"Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET" in out["a"]
    # RESP3 connections may run anything while subscribed.
    same_script(tern_server, redis_server, {"a": 3}, steps)


def test_reset_leaves_subscribed_context(tern_server, redis_server):
    steps = [("a", ["SUBSCRIBE", "c"]), ("a", ["RESET"]), ("a", ["GET", "k"]),
             ("p", ["PUBLISH", "c", "x"]), ("p", ["PUBSUB", "NUMSUB", "c"])]
    same_script(tern_server, redis_server, {"a": 2, "p": 2}, steps, needs=("reset",))


def test_pubsub_introspection(tern_server, redis_server):
    results = []
    for port in (tern_server.port, redis_server.port):
        flushall(port)
        a, b, p = Transcript(port), Transcript(port, 3), Transcript(port)
        a.cmd("SUBSCRIBE", "c1", "c2", "x", n=3)
        a.cmd("PSUBSCRIBE", "c*", "h?llo", n=2)
        a.cmd("SSUBSCRIBE", "s1", "s2", n=2)
        b.cmd("SUBSCRIBE", "c1", n=1)
        b.cmd("PSUBSCRIBE", "c*", "zz", n=2)
        b.cmd("SSUBSCRIBE", "s1", n=1)
        r2 = redis.Redis(port=port)
        r3 = redis.Redis(port=port, protocol=3)
        res = []
        for cl in (r2, r3):
            res.append(sorted(cl.execute_command("PUBSUB", "CHANNELS")))
            res.append(sorted(cl.execute_command("PUBSUB", "CHANNELS", "c*")))
            res.append(sorted(cl.execute_command("PUBSUB", "SHARDCHANNELS")))
            res.append(sorted(cl.execute_command("PUBSUB", "SHARDCHANNELS", "*2")))
            res.append(cl.execute_command("PUBSUB", "NUMPAT"))
        res.append(p.cmd("PUBSUB", "NUMSUB"))
        res.append(p.cmd("PUBSUB", "NUMSUB", "c1", "c2", "nope", "s1"))
        res.append(p.cmd("PUBSUB", "SHARDNUMSUB", "s1", "s2", "c1"))
        res.append(p.cmd("PUBSUB", "SHARDNUMSUB"))
        res.append(p.cmd("PUBSUB", "HELP"))
        res.append(p.cmd("PUBSUB", "channels", "a", "b"))
        res.append(p.cmd("PUBSUB", "NUMPAT", "x"))
        res.append(p.cmd("PUBSUB"))
        res.append(p.cmd("PUBSUB", "nosuch"))
        res.append(p.cmd("PUBLISH", "c1", "m"))
        res.append(p.cmd("SPUBLISH", "s1", "m"))
        p3 = Transcript(port, 3)
        res.append(p3.cmd("PUBSUB", "NUMSUB", "c1"))
        a.close()
        b.close()
        time.sleep(0.1)
        res.append(p.cmd("PUBSUB", "NUMSUB", "c1", "c2"))
        res.append(p.cmd("PUBSUB", "NUMPAT"))
        res.append(p.cmd("PUBSUB", "CHANNELS"))
        res.append(p.cmd("PUBSUB", "SHARDCHANNELS"))
        p.close()
        p3.close()
        r2.close()
        r3.close()
        results.append(res)
    assert results[0] == results[1]


CHANNELS = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h[llo", "a*b", "*", "[", "]", "\\", "a\\",
            "ab", "a-", "a]", "^", "a^b", "-", "abc", "ABC", "a", "", "\x00z", "h\\llo", "]]", "a[b",
            b"\xff", b"\x80", "A", "b", "a" * 1100]
PATTERNS = ["*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h[b-a]llo", "h\\[llo", "*[",
            "[", "[^", "[a-", "[]]", "\\", "a\\", "a\\\\", "\\*", "**a", "*a*b*", "h[a-]llo", "[a-]", "a[",
            "?", "??", "*?", "[\\]]", "[\\", "a[^b", "[^]", "abc*", "ABC", "[A-Z]*", "[!a]*", "\\a\\b",
            "h*l*o", "*llo*", "a*", "*]", "[]", "[]]]", "[-]", "[a-c]b?", "\x00*", "h[\\^]llo",
            # ranges compare signed chars: [a-\xff] is \xff..'a'; recursion through stars
            # stops at 1000 levels.
            b"[a-\xff]", b"[\x80-b]", b"[^a-\xff]", "a*" * 1001, "a*" * 1002]


def test_glob_patterns_match_like_redis(tern_server, redis_server):
    """PUBSUB CHANNELS <pattern> over awkward channel names and patterns (Redis's stringmatch)."""
    results = []
    for port in (tern_server.port, redis_server.port):
        flushall(port)
        s = Transcript(port)
        s.cmd("SUBSCRIBE", *CHANNELS, n=len(CHANNELS))
        cl = redis.Redis(port=port)
        res = {p: sorted(cl.execute_command("PUBSUB", "CHANNELS", p)) for p in PATTERNS}
        s.close()
        cl.close()
        results.append(res)
    for p in PATTERNS:
        assert results[0][p] == results[1][p], p


def test_pattern_delivery_matches_like_redis(tern_server, redis_server):
    """PSUBSCRIBE deliveries agree with the glob matcher (one pattern per subscriber)."""
    results = []
    for port in (tern_server.port, redis_server.port):
        flushall(port)
        subs = []
        for p in PATTERNS[:24] + PATTERNS[-5:]:
            s = Transcript(port)
            s.cmd("PSUBSCRIBE", p)
            subs.append(s)
        pub = Transcript(port)
        counts = [pub.cmd("PUBLISH", ch, "m") for ch in CHANNELS]
        streams = [s.drain(0.1) for s in subs]
        for s in subs + [pub]:
            s.close()
        results.append((counts, streams))
    assert results[0] == results[1]


def test_subscriptions_dropped_on_disconnect(r, tern_server):
    s = tern_server.client()
    ps = s.pubsub()
    ps.subscribe("gone")
    ps.psubscribe("go*")
    ps.execute_command("SSUBSCRIBE", "sgone")
    time.sleep(0.1)
    assert r.pubsub_numsub("gone") == [(b"gone", 1)]
    assert r.pubsub_numpat() == 1
    ps.close()
    s.close()
    deadline = time.time() + 5
    while time.time() < deadline and r.pubsub_numpat() != 0:
        time.sleep(0.05)
    assert r.pubsub_numsub("gone") == [(b"gone", 0)]
    assert r.pubsub_numpat() == 0
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "sgone") == [b"sgone", 0]
    assert r.publish("gone", "x") == 0


def test_redis_py_pubsub_resp2_and_resp3(tern_server):
    for proto in (2, 3):
        c = tern_server.client(protocol=proto)
        ps = c.pubsub()
        ps.subscribe("rp")
        ps.psubscribe("r*")
        assert ps.get_message(timeout=1)["type"] == "subscribe"
        assert ps.get_message(timeout=1)["type"] == "psubscribe"
        pubc = tern_server.client(protocol=proto)
        assert pubc.publish("rp", "hello") == 2
        m1 = ps.get_message(timeout=1)
        m2 = ps.get_message(timeout=1)
        assert (m1["type"], m1["channel"], m1["data"]) == ("message", b"rp", b"hello")
        assert (m2["type"], m2["pattern"], m2["channel"], m2["data"]) == ("pmessage", b"r*", b"rp", b"hello")
        ps.close()
        pubc.close()
        c.close()


def test_many_subscriptions_unsubscribe_all(tern_server):
    """20k channels and patterns on one client: subscribe, publish, unsubscribe-all stay fast."""
    n = 20000
    c = Transcript(tern_server.port)
    names = ["chan:%d" % i for i in range(n)]
    start = time.time()
    c.send(*(["SUBSCRIBE"] + names))
    c.read_values(n, timeout=60)
    c.send(*(["PSUBSCRIBE"] + ["pat:%d:*" % i for i in range(2000)]))
    c.read_values(2000, timeout=60)
    p = Transcript(tern_server.port)
    assert p.cmd("PUBLISH", "chan:123", "x") == b":1\r\n"
    assert p.cmd("PUBLISH", "pat:7:x", "x") == b":1\r\n"
    c.send("UNSUBSCRIBE")
    vals = c.read_values(n + 2, timeout=60)
    assert vals[-1] == b"*3\r\n$11\r\nunsubscribe\r\n$10\r\nchan:19999\r\n:2000\r\n"
    c.send("PUNSUBSCRIBE")
    vals = c.read_values(2000, timeout=60)
    assert vals[-1].endswith(b":0\r\n")
    assert time.time() - start < 30
    assert p.cmd("PUBSUB", "NUMSUB", "chan:1") == b"*2\r\n$6\r\nchan:1\r\n:0\r\n"
    c.close()
    p.close()


# --- slow subscribers and client-output-buffer-limit ---------------------------------------

def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def stalled_subscriber(port, channel):
    """A subscriber with a tiny receive buffer that never reads after subscribing."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(encode("SUBSCRIBE", channel))
    got = b""
    while not got.endswith(b":1\r\n"):
        got += s.recv(4096)
    return s


def publish_many(pub, channel, payload, count, batch=64):
    """Publishes `count` messages pipelined in batches; returns the receiver counts."""
    out = []
    cmd = encode("PUBLISH", channel, payload)
    sent = 0
    while sent < count:
        k = min(batch, count - sent)
        pub.sock.sendall(cmd * k)
        for v in pub.read_values(k, timeout=30):
            out.append(int(v[1:-2]))
        sent += k
    return out


def test_stalled_subscriber_is_dropped_and_memory_bounded():
    """Default pubsub limit (32mb hard): a subscriber that stops reading while 200 MB are
    published is disconnected, and the server's RSS never grows by anything near 200 MB."""
    srv = start_tern()
    try:
        pid = srv.proc.pid
        sub = stalled_subscriber(srv.port, "flood")
        pub = Transcript(srv.port)
        payload = b"x" * 65536
        base = rss_bytes(pid)
        peak = base
        receivers = []
        for _ in range(50):                       # 50 x 64 x 64 KiB = 200 MiB
            receivers += publish_many(pub, "flood", payload, 64)
            peak = max(peak, rss_bytes(pid))
        assert receivers[0] == 1
        assert receivers[-1] == 0, "stalled subscriber was never disconnected"
        assert pub.cmd("PUBSUB", "NUMSUB", "flood") == b"*2\r\n$5\r\nflood\r\n:0\r\n"
        # Hard limit 32 MiB plus allocator slack; without the limit this is > 200 MiB.
        assert peak - base < 96 * 1024 * 1024, (base, peak)
        # The subscriber's socket is closed by the server (EOF after the buffered data).
        sub.settimeout(5)
        total = 0
        while True:
            chunk = sub.recv(1 << 20)
            if not chunk:
                break
            total += len(chunk)
        assert total < 64 * 1024 * 1024
        # The server keeps serving.
        assert pub.cmd("PING") == b"+PONG\r\n"
        assert b"overcoming of output buffer limits" in srv.output().encode()
        sub.close()
        pub.close()
    finally:
        srv.stop()


def test_soft_limit_disconnects_after_soft_seconds(redis_server):
    """pubsub 0 1mb 1: over the soft limit for more than a second -> dropped (as Redis)."""
    srv = start_tern(["--client-output-buffer-limit", "pubsub 0 1mb 1"])
    o = redis.Redis(port=redis_server.port)
    o.config_set("client-output-buffer-limit", "pubsub 0 1mb 1")
    try:
        outcomes = []
        for port in (srv.port, redis_server.port):
            sub = stalled_subscriber(port, "soft")
            pub = Transcript(port)
            payload = b"y" * 65536
            first = publish_many(pub, "soft", payload, 160)     # 10 MiB: past kernel buffers
            time.sleep(2.5)      # Redis counts whole seconds of its clock
            publish_many(pub, "soft", payload, 4)
            time.sleep(0.2)
            after = publish_many(pub, "soft", b"z", 1)
            outcomes.append((first[0], after[-1], pub.cmd("PUBSUB", "NUMSUB", "soft")))
            sub.close()
            pub.close()
        assert outcomes[0] == outcomes[1] == (1, 0, b"*2\r\n$4\r\nsoft\r\n:0\r\n")
    finally:
        o.config_set("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        o.close()
        srv.stop()


def test_reading_subscriber_under_flood_is_kept():
    """A subscriber that keeps reading is not dropped by the same flood."""
    srv = start_tern()
    try:
        sub = Transcript(srv.port)
        sub.cmd("SUBSCRIBE", "ok")
        pub = Transcript(srv.port)
        payload = b"x" * 16384
        got = 0
        for _ in range(40):
            rec = publish_many(pub, "ok", payload, 64)
            assert rec[-1] == 1
            got += len(sub.drain(0.01))
        assert pub.cmd("PUBSUB", "NUMSUB", "ok") == b"*2\r\n$2\r\nok\r\n:1\r\n"
        sub.close()
        pub.close()
    finally:
        srv.stop()


@pytest.mark.parametrize("mode", ["OFF", "SKIP"])
def test_client_reply_off_keeps_resp3_pushes(tern_server, redis_server, mode):
    """Under CLIENT REPLY OFF/SKIP, subscribe/unsubscribe confirmations are push messages
    (in RESP2 too) and still arrive, as do published messages; errors and other replies do
    not. Same bytes as redis-server. (UNSUBSCRIBE without names lists channels in hash order
    on Redis, so the test holds one channel of each kind when it uses it.)"""
    from side_by_side import raw_both
    for proto in ("2", "3"):
        raw_both(tern_server, redis_server,
                 ("HELLO", proto), ("CLIENT", "REPLY", mode), ("SUBSCRIBE", "ch1", "ch2"),
                 ("PSUBSCRIBE", "p*"), ("SSUBSCRIBE", "sh"), ("PUBLISH", "ch1", "self"),
                 ("UNSUBSCRIBE", "ch2"), ("UNSUBSCRIBE",), ("PUNSUBSCRIBE", "p*"), ("SUNSUBSCRIBE",),
                 ("UNSUBSCRIBE",),
                 ("CLIENT", "REPLY", "ON"), ("PING",))
