"""Client-side caching: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO. Invalidation
streams (RESP3 push, RESP2 redirect over __redis__:invalidate, BCAST, OPTIN/OPTOUT, NOLOOP,
flushes, MULTI, expiry) compared byte for byte with redis-server; every error text;
tracking-table-max-keys."""
import re
import time

import pytest

from conftest import start_tern
from resp_wire import Transcript, command_exists, run_script, split_values


def normalize(stream, ids):
    """Replaces client ids (which differ between servers) after `redirect` and
    `tracking-redir-broken` with the connection's name."""
    names = {v: k for k, v in ids.items()}

    def sub(m):
        i = int(m.group(2))
        return m.group(1) + (b":<%s>\r\n" % names[i].encode() if i in names else m.group(0)[len(m.group(1)):])
    return re.sub(rb"((?:\$8\r\nredirect|\$21\r\ntracking-redir-broken)\r\n):(\d+)\r\n", sub, stream)


def compare(tern_server, redis_server, conns, steps, needs=()):
    for n in needs:
        if not command_exists(tern_server.port, n):
            pytest.skip("%s not implemented in this build" % n)
    outs = []
    for port in (tern_server.port, redis_server.port):
        c = Transcript(port)
        c.cmd("FLUSHALL")
        c.close()
        out = run_script(port, conns, steps)
        ids = out.pop("_ids")
        outs.append({k: normalize(v, ids) for k, v in out.items()})
    assert outs[0] == outs[1]
    return outs[0]


def test_default_mode_invalidations(tern_server, redis_server):
    steps = [
        ("t", ["CLIENT", "TRACKING", "ON"]),
        ("t", ["GET", "k"]), ("t", ["GET", "k2"]), ("t", ["GET", "k3"]),
        ("o", ["SET", "k", "1"]),                 # other client: push to t
        ("o", ["SET", "k", "2"]),                 # k no longer tracked: nothing
        ("t", ["SET", "k2", "x"]),                # own write: push after the reply
        ("t", ["GET", "k"]), ("t", ["GET", "k2"]),
        ("o", ["DEL", "k", "k2", "nokey"]),
        ("o", ["SELECT", "9"]), ("t", ["GET", "k"]), ("o", ["SET", "k", "db9"]),   # databases not distinguished
        ("t", ["GET", "k"]), ("o", ["FLUSHALL"]),     # flush: null invalidation
        ("t", ["GET", "k"]), ("t", ["FLUSHDB"]),      # own flush: after the reply
        ("t", ["GET", "k"]), ("t", ["GET", "e"]),
        ("t", ["MULTI"]), ("t", ["SET", "k", "1"]), ("t", ["GET", "k"]), ("t", ["SET", "k", "2"]),
        ("t", ["GET", "k"]), ("t", ["EXEC"]),
        # TTLs long enough that the GET right after the SET finds the key on a loaded machine.
        ("o", ["SET", "e", "v", "PX", "250"]), ("t", ["GET", "e"]), ("sleep", 0.7),   # active expiry
        ("t", ["SET", "lz", "v", "PX", "200"]), ("t", ["GET", "lz"]), ("sleep", 0.25),
        ("o", ["GET", "lz"]),                                                      # lazy expiry
        ("t", ["CLIENT", "TRACKING", "OFF"]), ("t", ["GET", "x"]), ("o", ["SET", "x", "1"]),
        ("t", ["GET", "k3"]), ("o", ["SET", "k3", "1"]),
    ]
    compare(tern_server, redis_server, {"t": 3, "o": 3}, steps)


def test_resp2_tracking_without_redirect_gets_nothing(tern_server, redis_server):
    steps = [("t", ["CLIENT", "TRACKING", "ON"]), ("t", ["GET", "k"]), ("o", ["SET", "k", "1"]),
             ("t", ["GET", "k"]), ("t", ["SET", "k", "2"]), ("t", ["FLUSHALL"]), ("t", ["PING"])]
    compare(tern_server, redis_server, {"t": 2, "o": 2}, steps)


def test_noloop(tern_server, redis_server):
    steps = [("t", ["CLIENT", "TRACKING", "ON", "NOLOOP"]), ("t", ["GET", "a"]), ("t", ["GET", "b"]),
             ("t", ["SET", "a", "1"]), ("o", ["SET", "b", "1"]), ("t", ["GET", "a"]), ("t", ["FLUSHALL"]),
             ("t", ["CLIENT", "TRACKINGINFO"])]
    compare(tern_server, redis_server, {"t": 3, "o": 3}, steps)


def test_optin_optout_caching(tern_server, redis_server):
    steps = [
        ("i", ["CLIENT", "TRACKING", "ON", "OPTIN"]),
        ("i", ["GET", "a1"]),                                   # not cached
        ("i", ["CLIENT", "CACHING", "YES"]), ("i", ["GET", "a2"]), ("i", ["GET", "a3"]),   # only a2
        ("i", ["CLIENT", "CACHING", "YES"]), ("i", ["CLIENT", "TRACKINGINFO"]),  # CLIENT keeps it
        ("i", ["GET", "a3"]),
        ("i", ["CLIENT", "CACHING", "YES"]), ("i", ["PING"]), ("i", ["GET", "a1"]),   # PING ends it
        ("i", ["CLIENT", "CACHING", "YES"]), ("i", ["MULTI"]), ("i", ["GET", "m1"]), ("i", ["GET", "m2"]),
        ("i", ["EXEC"]), ("i", ["GET", "m3"]),                  # whole transaction cached, not after
        ("o", ["SET", "a1", "1"]), ("o", ["SET", "a2", "1"]), ("o", ["SET", "a3", "1"]),
        ("o", ["SET", "m1", "1"]), ("o", ["SET", "m2", "1"]), ("o", ["SET", "m3", "1"]),
        ("u", ["CLIENT", "TRACKING", "ON", "OPTOUT"]),
        ("u", ["GET", "b1"]), ("u", ["CLIENT", "CACHING", "NO"]), ("u", ["GET", "b2"]), ("u", ["GET", "b3"]),
        ("u", ["CLIENT", "TRACKINGINFO"]),
        ("o", ["SET", "b1", "1"]), ("o", ["SET", "b2", "1"]), ("o", ["SET", "b3", "1"]),
        ("i", ["CLIENT", "TRACKINGINFO"]),
    ]
    compare(tern_server, redis_server, {"i": 3, "u": 3, "o": 2}, steps)


def test_bcast_prefixes(tern_server, redis_server):
    steps = [
        ("b", ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj", "NOLOOP"]),
        ("a", ["CLIENT", "TRACKING", "ON", "BCAST"]),
        ("b", ["CLIENT", "TRACKINGINFO"]), ("a", ["CLIENT", "TRACKINGINFO"]),
        ("b", ["SET", "user:1", "x"]),                       # NOLOOP: b not told, a is
        ("o", ["SET", "user:2", "a"]), ("o", ["SET", "objb", "b"]), ("o", ["SET", "zzz", "c"]),
        ("o", ["MULTI"]), ("o", ["SET", "user:9", "1"]), ("o", ["SET", "obj9", "1"]), ("o", ["SET", "user:0", "1"]),
        ("o", ["DEL", "user:9"]), ("o", ["SET", "obj:1", "1"]), ("o", ["EXEC"]),   # one batch: keys sorted
        ("o", ["FLUSHALL"]),
        ("b", ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "c", "PREFIX", "a"]),
        ("b", ["CLIENT", "TRACKINGINFO"]),
        ("o", ["SET", "abc", "1"]), ("o", ["SET", "cde", "1"]),
        ("b", ["CLIENT", "TRACKING", "OFF"]), ("o", ["SET", "user:5", "1"]),
        ("b", ["CLIENT", "TRACKINGINFO"]),
    ]
    compare(tern_server, redis_server, {"b": 3, "a": 3, "o": 2}, steps)


def test_redirect_to_resp2_subscriber(tern_server, redis_server):
    steps = [
        ("r", ["SUBSCRIBE", "__redis__:invalidate"]),
        ("d", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:r}"]),
        ("d", ["CLIENT", "TRACKINGINFO"]), ("d", ["GET", "x"]), ("d", ["GET", "y"]),
        ("d", ["SET", "x", "1"]), ("o", ["SET", "y", "1"]),
        ("d", ["GET", "x"]), ("d", ["FLUSHDB"]),            # null spelled in d's protocol (RESP2)
        ("d3", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:r}"]), ("d3", ["GET", "z"]),
        ("o", ["FLUSHALL"]),                                 # d3 is RESP3: "_" in a RESP2 message
        ("n", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:p}"]), ("n", ["GET", "w"]),
        ("o", ["SET", "w", "1"]),                            # target RESP2, not subscribed: dropped
        ("q", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:p3}"]), ("q", ["GET", "v"]),
        ("o", ["SET", "v", "1"]),                            # target RESP3: push to it
        ("s", ["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", "{id:r}", "PREFIX", "pre"]),
        ("o", ["SET", "pre1", "1"]), ("o", ["SET", "pre2", "1"]),
    ]
    compare(tern_server, redis_server, {"r": 2, "d": 2, "d3": 3, "o": 2, "n": 2, "p": 2, "q": 2,
                                        "p3": 3, "s": 2}, steps)


def test_broken_redirect(tern_server, redis_server):
    steps = [
        ("x", ["PING"]), ("y", ["PING"]),
        ("t", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:x}"]), ("t", ["GET", "k"]),
        ("t2", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:y}"]), ("t2", ["GET", "k"]),
        ("close", "x"), ("close", "y"),
        ("o", ["SET", "k", "1"]),                 # t (RESP3) is told the redirect broke; t2 (RESP2) not
        ("t", ["CLIENT", "TRACKINGINFO"]), ("t2", ["CLIENT", "TRACKINGINFO"]),
        ("t", ["GET", "k"]), ("o", ["FLUSHALL"]),
        ("t", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:x}"]),    # gone: error
        ("t", ["CLIENT", "TRACKING", "ON"]), ("t", ["CLIENT", "TRACKINGINFO"]),
    ]
    compare(tern_server, redis_server, {"x": 2, "y": 2, "t": 3, "t2": 2, "o": 2}, steps)


def test_switch_redirect_and_getredir(tern_server, redis_server):
    steps = [("x", ["PING"]), ("y", ["PING"]),
             ("t", ["CLIENT", "GETREDIR"]), ("t", ["CLIENT", "TRACKING", "ON"]), ("t", ["CLIENT", "GETREDIR"]),
             ("t", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:x}"]),
             ("t", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:y}"]), ("t", ["CLIENT", "TRACKINGINFO"]),
             ("t", ["CLIENT", "TRACKING", "ON", "REDIRECT", "{id:x}", "REDIRECT", "{id:y}"]),
             ("t", ["CLIENT", "TRACKING", "OFF"]), ("t", ["CLIENT", "GETREDIR"])]
    out = compare(tern_server, redis_server, {"x": 2, "y": 2, "t": 3}, steps)
    assert b"A client can only redirect to a single other client" in out["t"]


ERROR_CASES = [
    [["CLIENT", "TRACKING", "ON", "PREFIX", "a"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "OPTOUT"]],
    [["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"]],
    [["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"]],
    [["CLIENT", "TRACKING", "ON", "REDIRECT", "0"]],
    [["CLIENT", "TRACKING", "ON", "REDIRECT", "-5"]],
    [["CLIENT", "TRACKING", "ON", "REDIRECT", "x"]],
    [["CLIENT", "TRACKING", "ON", "REDIRECT", "99999999999999999999"]],
    [["CLIENT", "TRACKING", "ON", "REDIRECT"]],
    [["CLIENT", "TRACKING", "ON", "PREFIX"]],
    [["CLIENT", "TRACKING", "ON", "FOO"]],
    [["CLIENT", "TRACKING", "MAYBE"]],
    [["CLIENT", "TRACKING", "OFF", "FOO"]],
    [["CLIENT", "TRACKING", "OFF", "BCAST", "PREFIX", "x"]],
    [["CLIENT", "TRACKING", "on", "optin", "optout", "bcast"]],
    [["CLIENT", "TRACKING", "on", "prefix", "x", "optin"]],
    [["CLIENT", "TRACKING"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "a"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"], ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"], ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b", "PREFIX", "ab"]],
    [["CLIENT", "TRACKING", "ON", "BCAST"], ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "c"]],
    [["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"], ["CLIENT", "TRACKING", "ON", "BCAST"],
     ["CLIENT", "TRACKINGINFO"]],
    [["CLIENT", "TRACKING", "ON"], ["CLIENT", "TRACKING", "ON", "BCAST"]],
    [["CLIENT", "TRACKING", "ON", "BCAST"], ["CLIENT", "TRACKING", "ON"]],
    [["CLIENT", "TRACKING", "ON", "OPTIN"], ["CLIENT", "TRACKING", "ON", "OPTOUT"]],
    [["CLIENT", "TRACKING", "ON", "OPTOUT"], ["CLIENT", "TRACKING", "ON", "OPTIN"]],
    [["CLIENT", "TRACKING", "ON", "OPTIN"], ["CLIENT", "TRACKING", "ON"], ["CLIENT", "TRACKINGINFO"]],
    [["CLIENT", "TRACKING", "ON", "OPTIN"], ["CLIENT", "CACHING", "YES"], ["CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP"],
     ["CLIENT", "TRACKINGINFO"]],
    [["CLIENT", "CACHING", "YES"]],
    [["CLIENT", "CACHING", "NO"]],
    [["CLIENT", "CACHING"]],
    [["CLIENT", "CACHING", "YES", "NO"]],
    [["CLIENT", "TRACKING", "ON"], ["CLIENT", "CACHING", "YES"], ["CLIENT", "CACHING", "NO"], ["CLIENT", "CACHING", "MAYBE"]],
    [["CLIENT", "TRACKING", "ON", "OPTIN"], ["CLIENT", "CACHING", "NO"], ["CLIENT", "CACHING", "maybe"]],
    [["CLIENT", "TRACKING", "ON", "OPTOUT"], ["CLIENT", "CACHING", "YES"]],
    [["CLIENT", "GETREDIR", "x"]],
    [["CLIENT", "TRACKINGINFO", "x"]],
    [["CLIENT", "TRACKINGINFO"]],
    [["MULTI"], ["CLIENT", "TRACKING", "ON"], ["GET", "k"], ["CLIENT", "TRACKINGINFO"], ["EXEC"]],
]


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("cmds", ERROR_CASES, ids=[" / ".join(" ".join(c) for c in cs)[:80] for cs in ERROR_CASES])
def test_command_replies_and_errors(tern_server, redis_server, resp, cmds):
    compare(tern_server, redis_server, {"c": resp}, [("c", c) for c in cmds])


def test_tracking_table_max_keys(redis_server):
    """Over tracking-table-max-keys, random keys are invalidated until back under it."""
    srv = start_tern(["--tracking-table-max-keys", "3"])
    o = Transcript(redis_server.port)
    o.cmd("CONFIG", "SET", "tracking-table-max-keys", "3")
    try:
        counts = []
        for port in (srv.port, redis_server.port):
            t = Transcript(port, 3)
            t.cmd("FLUSHALL")
            t.cmd("CLIENT", "TRACKING", "ON")
            for i in range(10):
                t.send("GET", "key:%d" % i)
                time.sleep(0.01)
            t.send("PING")
            time.sleep(0.1)
            t.send("PING")
            vals = split_values(t.drain(0.2) + t.pending)
            pushes = [v for v in vals if v.startswith(b">2\r\n$10\r\ninvalidate")]
            keys = set(re.findall(rb"key:\d", b"".join(pushes)))
            # The keys still tracked are invalidated by writes; evicted ones are not re-sent.
            w = Transcript(port)
            for i in range(10):
                w.cmd("SET", "key:%d" % i, "v")
            w.close()
            later = [v for v in split_values(t.drain(0.2)) if v.startswith(b">2")]
            later_keys = set(re.findall(rb"key:\d", b"".join(later)))
            counts.append((len(pushes), len(keys), len(later_keys), keys.isdisjoint(later_keys)))
            t.close()
        assert counts[0] == counts[1] == (7, 7, 3, True)
    finally:
        o.cmd("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        o.close()
        srv.stop()


def test_disconnect_cleans_tracking_state(tern_server):
    """Closing BCAST/default tracking clients leaves no prefixes and no invalidations behind."""
    t = Transcript(tern_server.port, 3)
    t.cmd("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "gone:")
    u = Transcript(tern_server.port, 3)
    u.cmd("CLIENT", "TRACKING", "ON")
    u.cmd("GET", "gone:1")
    t.close()
    u.close()
    time.sleep(0.1)
    w = Transcript(tern_server.port, 3)
    assert w.cmd("SET", "gone:1", "x") == b"+OK\r\n"
    w.cmd("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "gone")    # no collision with the old client
    assert w.cmd("CLIENT", "TRACKINGINFO") == (
        b"%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n"
        b"$8\r\nprefixes\r\n*1\r\n$4\r\ngone\r\n")
    w.close()


def test_redis_py_client_side_cache_resp3(tern_server):
    """redis-py's RESP3 push handler receives invalidations."""
    import redis
    got = []
    c = tern_server.client(protocol=3)
    c.flushall()
    # redis-py 5.x requires a command name here; 6.x and later take none (and warn on one).
    try:
        conn = c.connection_pool.get_connection()
    except TypeError:
        conn = c.connection_pool.get_connection("PING")
    conn._parser.set_invalidation_push_handler(lambda m: got.append(m))
    conn.send_command("CLIENT", "TRACKING", "ON")
    assert conn.read_response() == b"OK"
    conn.send_command("GET", "cached")
    assert conn.read_response() is None
    other = tern_server.client()
    other.set("cached", "v")
    conn.send_command("PING")
    conn.read_response()
    assert got and got[0][0] in (b"invalidate", "invalidate") and got[0][1] == [b"cached"]
    c.connection_pool.release(conn)
    other.close()
    c.close()
