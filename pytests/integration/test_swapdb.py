"""SWAPDB side by side with redis-server: WATCHed keys in both databases (present, absent,
logically expired), clients blocked on keys of either database, client tracking (SWAPDB
sends no invalidation in 7.0), and the O(1) swap on a large database."""
import itertools

import pytest

from resp_wire import Transcript, run_script

# How a key k stands in one database before the swap. "stale": written with a 20 ms TTL
# and left logically expired (active expiry is off during the test).
STATES = {
    "absent": [],
    "live": [["SET", "k", "v"]],
    "stale": [["SET", "k", "v", "PX", "20"]],
}


def _setup_steps(state0, state1):
    steps = [("o", ["DEBUG", "SET-ACTIVE-EXPIRE", "0"])]
    for db, state in ((0, state0), (1, state1)):
        steps.append(("o", ["SELECT", str(db)]))
        steps += [("o", s) for s in STATES[state]]
    steps.append(("o", ["SELECT", "0"]))
    steps.append(("sleep", 0.06))
    return steps


def _exec_steps(name):
    return [(name, ["MULTI"]), (name, ["PING"]), (name, ["EXEC"])]


def _run(tern_server, redis_server, conns, steps):
    results = []
    for port in (tern_server.port, redis_server.port):
        c = Transcript(port)
        c.cmd("FLUSHALL")
        c.close()
        try:
            out = run_script(port, conns, steps)
        finally:
            c = Transcript(port)
            c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            c.close()
        out.pop("_ids")
        results.append(out)
    assert results[0] == results[1], "tern %r\nredis %r" % tuple(results)
    return results[0]


@pytest.mark.parametrize("state0,state1", list(itertools.product(STATES, STATES)),
                         ids=["%s-%s" % p for p in itertools.product(STATES, STATES)])
def test_watch_across_swapdb(tern_server, redis_server, state0, state1):
    """Client a watches k in db 0, client b watches k in db 1, SWAPDB 0 1, both EXEC: a key
    that appears or disappears is touched; stale replaced by nothing or by stale is not."""
    steps = _setup_steps(state0, state1)
    steps += [("a", ["WATCH", "k"]), ("b", ["SELECT", "1"]), ("b", ["WATCH", "k"]),
              ("c", ["SELECT", "2"]), ("c", ["WATCH", "k"]),
              ("o", ["SWAPDB", "0", "1"])]
    steps += _exec_steps("a") + _exec_steps("b") + _exec_steps("c")
    _run(tern_server, redis_server, {"a": 2, "b": 2, "c": 2, "o": 2}, steps)


@pytest.mark.parametrize("state0,state1", [("live", "absent"), ("stale", "absent"), ("absent", "stale"),
                                           ("stale", "live"), ("live", "stale")])
def test_watch_across_swapdb_twice(tern_server, redis_server, state0, state1):
    """Swapping back restores the data, but the first swap already decided."""
    steps = _setup_steps(state0, state1)
    steps += [("a", ["WATCH", "k"]), ("o", ["SWAPDB", "0", "1"]), ("o", ["SWAPDB", "1", "0"])]
    steps += _exec_steps("a")
    _run(tern_server, redis_server, {"a": 2, "o": 2}, steps)


def test_watch_then_key_set_after_swap(tern_server, redis_server):
    """A stale key swapped away (no touch) and then written in the watcher's db: touched."""
    steps = _setup_steps("stale", "absent")
    steps += [("a", ["WATCH", "k"]), ("o", ["SWAPDB", "0", "1"]), ("o", ["SET", "k", "new"])]
    steps += _exec_steps("a")
    _run(tern_server, redis_server, {"a": 2, "o": 2}, steps)


def test_swapdb_same_db_and_errors(tern_server, redis_server):
    steps = _setup_steps("live", "absent")
    steps += [("a", ["WATCH", "k"]), ("o", ["SWAPDB", "0", "0"]), ("o", ["SWAPDB", "0", "99"]),
              ("o", ["SWAPDB", "x", "1"]), ("o", ["SWAPDB", "1", "x"])]
    steps += _exec_steps("a")
    _run(tern_server, redis_server, {"a": 2, "o": 2}, steps)


def test_swapdb_serves_blocked_clients(tern_server, redis_server):
    """Clients blocked on keys of either database are served when the swap brings a list."""
    steps = [("o", ["SELECT", "1"]), ("o", ["RPUSH", "k", "a", "b"]), ("o", ["SET", "s", "str"]),
             ("o", ["SELECT", "0"]), ("o", ["RPUSH", "j", "x"]),
             ("a", ["BLPOP", "k", "0"], 0), ("b", ["SELECT", "1"]), ("b", ["BLPOP", "j", "0"], 0),
             ("c", ["BLPOP", "s", "0"], 0), ("d", ["SELECT", "1"]), ("d", ["BLPOP", "k", "0"], 0),
             ("o", ["SWAPDB", "0", "1"]), ("sleep", 0.1),
             ("o", ["LRANGE", "k", "0", "-1"]), ("o", ["SELECT", "1"]), ("o", ["EXISTS", "j"]),
             ("o", ["CLIENT", "UNBLOCK", "{id:d}"]), ("o", ["CLIENT", "UNBLOCK", "{id:c}"])]
    _run(tern_server, redis_server, {"a": 2, "b": 2, "c": 2, "d": 2, "o": 2}, steps)


def test_swapdb_sends_no_tracking_invalidation(tern_server, redis_server):
    steps = [("o", ["SET", "k", "1"]), ("t", ["CLIENT", "TRACKING", "ON"]), ("t", ["GET", "k"]),
             ("o", ["SWAPDB", "0", "1"]), ("t", ["PING"]), ("o", ["SWAPDB", "0", "1"]),
             ("o", ["SET", "k", "2"]), ("t", ["PING"])]
    _run(tern_server, redis_server, {"t": 3, "o": 2}, steps)


def test_swapdb_keeps_counts_and_ttls(r, oracle):
    results = []
    for c in (r, oracle):
        c.flushall()
        for i in range(50):
            c.set("a%d" % i, i)
        for i in range(10):
            c.set("v%d" % i, i, ex=1000)
        c.execute_command("SELECT", "0")
        c.execute_command("SWAPDB", "0", "3")
        info = c.info("keyspace")
        c.execute_command("SWAPDB", "0", "3")
        results.append((sorted(info), info.get("db3", {}).get("keys"), info.get("db3", {}).get("expires"),
                        c.dbsize(), c.ttl("v1") > 900))
    assert results[0] == results[1]
    assert results[0][1] == 60 and results[0][2] == 10


def test_swapdb_of_a_big_db_touches_watched_keys(r):
    """SWAPDB of a 200k-key db into a db where the WATCHed keys were missing: they appear,
    so the transaction aborts. (That
    the swap moves tables rather than keys is checked structurally by the unit test
    DispatchAndKeyspaceTests.testSwapDatabasesIsConstantTimeAndTouchesOnlyChanges; timing
    does not belong in pass/fail tests.)"""
    r.execute_command("DEBUG", "POPULATE", "200000")
    w = Transcript(r.connection_pool.connection_kwargs["port"])
    w.cmd("SELECT", "1")
    w.cmd("WATCH", "key:1", "key:2", "nothere")
    try:
        for _ in range(20):
            r.execute_command("SWAPDB", "0", "1")
        w.cmd("MULTI")
        assert w.cmd("EXEC") == b"*-1\r\n"
    finally:
        w.close()
