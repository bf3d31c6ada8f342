"""MULTI / EXEC / DISCARD / WATCH / UNWATCH: byte-exact transcripts side by side with
redis-server (RESP2 and RESP3), WATCH invalidation by other clients, databases, flushes,
SWAPDB and expiry, and redis-py's transaction API."""
import threading

import pytest
import redis

from resp_wire import Transcript, command_exists, run_script

SUBSCRIBED_ERR = ("Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                  "RESET are allowed in this context")


def same_transcript(tern_server, redis_server, conns, steps, needs=()):
    for n in needs:
        if not command_exists(tern_server.port, n):
            pytest.skip("%s not implemented in this build" % n)
    for port in (tern_server.port, redis_server.port):
        c = Transcript(port)
        c.cmd("FLUSHALL")
        c.close()
    got = run_script(tern_server.port, conns, steps)
    want = run_script(redis_server.port, conns, steps)
    got.pop("_ids")
    want.pop("_ids")
    assert got == want
    return got


# (id, steps, needs): one client "a", run in RESP2 and RESP3.
SINGLE = [
    ("basic", [["MULTI"], ["SET", "k", "1"], ["GET", "k"], ["GET", "missing"], ["EXEC"], ["GET", "k"]], ()),
    ("empty", [["MULTI"], ["EXEC"]], ()),
    ("nested", [["MULTI"], ["MULTI"], ["SET", "a", "1"], ["EXEC"]], ()),
    ("watch-inside", [["MULTI"], ["WATCH", "a"], ["SET", "a", "1"], ["EXEC"]], ()),
    ("unknown-command", [["MULTI"], ["FOO", "x", "y"], ["SET", "a", "1"], ["EXEC"], ["GET", "a"]], ()),
    ("arity", [["MULTI"], ["GET"], ["SET", "a", "1"], ["EXEC"], ["GET", "a"]], ()),
    ("exec-without", [["EXEC"], ["DISCARD"]], ()),
    ("discard", [["MULTI"], ["SET", "a", "1"], ["DISCARD"], ["GET", "a"], ["EXEC"]], ()),
    ("exec-arity", [["EXEC", "x"], ["MULTI"], ["SET", "a", "1"], ["EXEC", "x"], ["EXEC"], ["GET", "a"]], ()),
    ("multi-arity", [["MULTI", "x"], ["MULTI"], ["MULTI", "x"], ["EXEC"]], ()),
    ("discard-arity", [["MULTI"], ["DISCARD", "x"], ["EXEC"]], ()),
    ("watch-arity", [["WATCH"], ["UNWATCH", "x"], ["UNWATCH"]], ()),
    ("runtime-error-no-rollback", [["SET", "s", "v"], ["MULTI"], ["SET", "a", "1"], ["LPUSH", "s", "x"],
                                   ["GET", "a"], ["EXEC"], ["GET", "a"]], ("lpush",)),
    ("wrongtype-get", [["MULTI"], ["SET", "a", "1"], ["GET", "a", "b"], ["EXEC"]], ()),
    ("select-inside", [["MULTI"], ["SELECT", "2"], ["SET", "a", "1"], ["EXEC"], ["GET", "a"],
                       ["SELECT", "0"], ["GET", "a"]], ()),
    ("select-bad", [["MULTI"], ["SELECT", "99"], ["SET", "a", "1"], ["EXEC"]], ()),
    ("no-multi-command", [["MULTI"], ["SAVE"], ["EXEC"]], ("save",)),
    ("subscribe-inside", [["MULTI"], ["SUBSCRIBE", "ch"], ["PING"], ["EXEC"], ["PING"], ["UNSUBSCRIBE"]], ()),
    ("subscribed-exec", [["SUBSCRIBE", "ch"], ["MULTI"], ["EXEC"], ["UNSUBSCRIBE"], ["EXEC"]], ()),
    ("unknown-subcommand", [["MULTI"], ["PUBSUB", "NOPE"], ["EXEC"]], ()),
    ("queued-ping-echo", [["MULTI"], ["PING"], ["PING", "x"], ["ECHO", "hi"], ["EXEC"]], ()),
    ("unwatch-in-multi", [["WATCH", "k"], ["MULTI"], ["UNWATCH"], ["EXEC"]], ()),
    ("exec-twice", [["MULTI"], ["EXEC"], ["EXEC"]], ()),
]


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("steps,needs", [(s, n) for _, s, n in SINGLE], ids=[i for i, _, _ in SINGLE])
def test_single_client_transcripts(tern_server, redis_server, resp, steps, needs):
    same_transcript(tern_server, redis_server, {"a": resp}, [("a", s) for s in steps], needs)


# WATCH: client "a" watches, client "o" acts, then "a" runs MULTI/PING/EXEC.
EXPIRED = [["SET", "k", "1", "PX", "20"], ("sleep", 0.06)]
WATCH_CASES = [
    ("untouched", [], [], ()),
    ("set-by-other", [], [["SET", "k", "2"]], ()),
    ("same-value", [["SET", "k", "1"]], [["SET", "k", "1"]], ()),
    ("del-missing", [], [["DEL", "k"]], ()),
    ("del-existing", [["SET", "k", "1"]], [["DEL", "k"]], ()),
    ("read-only", [["SET", "k", "1"]], [["GET", "k"]], ()),
    ("other-key", [["SET", "k", "1"]], [["SET", "j", "1"]], ()),
    ("other-db", [["SET", "k", "1"]], [["SELECT", "1"], ["SET", "k", "2"]], ()),
    ("flushall-missing", [], [["FLUSHALL"]], ()),
    ("flushall-existing", [["SET", "k", "1"]], [["FLUSHALL"]], ()),
    ("flushdb-existing", [["SET", "k", "1"]], [["FLUSHDB"]], ()),
    ("flushdb-other-db", [["SET", "k", "1"]], [["SELECT", "1"], ["FLUSHDB"]], ()),
    ("swapdb-existing", [["SET", "k", "1"]], [["SWAPDB", "0", "1"]], ("swapdb",)),
    ("swapdb-missing", [], [["SWAPDB", "0", "1"]], ("swapdb",)),
    ("swapdb-brings-key", [["SELECT", "1"], ["SET", "k", "1"], ["SELECT", "0"]], [["SWAPDB", "0", "1"]], ("swapdb",)),
    ("expires-after-watch", [["SET", "k", "1", "PX", "60"]], [("sleep", 0.15)], ()),
    ("expired-before-watch", EXPIRED, [], ()),
    ("expired-before-watch-get", EXPIRED, [["GET", "k"]], ()),
    ("expired-before-watch-set", EXPIRED, [["SET", "k", "2"]], ()),
    ("expired-before-watch-get-set", EXPIRED, [["GET", "k"], ["SET", "k", "2"]], ()),
    ("expired-before-watch-flushall", EXPIRED, [["FLUSHALL"]], ()),
    ("expired-before-watch-swapdb", EXPIRED, [["SWAPDB", "0", "1"]], ("swapdb",)),
    ("expired-before-watch-del", EXPIRED, [["DEL", "k"]], ()),
]


def _watch_steps(setup, other, watch=("WATCH", "k")):
    steps = []
    for s in setup:
        steps.append(s if s[0] == "sleep" else ("a", s))
    steps.append(("a", list(watch)))
    for s in other:
        steps.append(s if s[0] == "sleep" else ("o", s))
    steps += [("a", ["MULTI"]), ("a", ["PING"]), ("a", ["EXEC"])]
    return steps


@pytest.mark.parametrize("setup,other,needs", [(s, o, n) for _, s, o, n in WATCH_CASES],
                         ids=[i for i, _, _, _ in WATCH_CASES])
def test_watch_transcripts(tern_server, redis_server, setup, other, needs):
    same_transcript(tern_server, redis_server, {"a": 2, "o": 2}, _watch_steps(setup, other), needs)


def test_watch_own_write_and_unwatch(tern_server, redis_server):
    steps = [("a", ["WATCH", "k", "j"]), ("a", ["SET", "k", "x"]), ("a", ["MULTI"]), ("a", ["EXEC"]),
             ("a", ["WATCH", "k"]), ("o", ["SET", "k", "y"]), ("a", ["UNWATCH"]), ("a", ["MULTI"]),
             ("a", ["SET", "j", "1"]), ("a", ["EXEC"]),
             ("a", ["WATCH", "k"]), ("o", ["SET", "k", "z"]), ("a", ["WATCH", "j"]), ("a", ["MULTI"]),
             ("a", ["EXEC"]), ("a", ["MULTI"]), ("a", ["EXEC"])]
    same_transcript(tern_server, redis_server, {"a": 2, "o": 3}, steps)


def test_exec_resp3_shapes(tern_server, redis_server):
    steps = [("a", ["WATCH", "k"]), ("o", ["SET", "k", "1"]), ("a", ["MULTI"]), ("a", ["GET", "k"]),
             ("a", ["EXEC"]), ("a", ["MULTI"]), ("a", ["FOO"]), ("a", ["EXEC"]),
             ("a", ["MULTI"]), ("a", ["GET", "k"]), ("a", ["SET", "k", "2", "GET"]), ("a", ["EXEC"])]
    same_transcript(tern_server, redis_server, {"a": 3, "o": 3}, steps)


def test_watch_dirty_from_other_client_redis_py(r, tern_server):
    other = tern_server.client()
    r.set("balance", 10)
    with r.pipeline() as p:
        p.watch("balance")
        assert int(p.get("balance")) == 10
        other.set("balance", 99)
        p.multi()
        p.set("balance", 11)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("balance") == b"99"
    # The optimistic-lock retry loop of redis-py succeeds once nobody interferes.
    def incr(pipe):
        v = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", v + 1)
    assert r.transaction(incr, "balance") == [True]
    assert r.get("balance") == b"100"
    other.close()


def test_exec_is_atomic_against_other_clients(r, tern_server):
    """A transaction's writes are never interleaved with another client's commands."""
    n = 200
    stop = threading.Event()
    seen_torn = []

    # The reader uses MULTI/EXEC too, so the pair is read atomically.
    def tx_reader():
        c = tern_server.client()
        while not stop.is_set():
            p = c.pipeline(transaction=True)
            p.get("x")
            p.get("y")
            a, b = p.execute()
            if a != b:
                seen_torn.append((a, b))
        c.close()

    t = threading.Thread(target=tx_reader)
    t.start()
    try:
        for i in range(n):
            p = r.pipeline(transaction=True)
            p.set("x", i)
            p.set("y", i)
            p.execute()
    finally:
        stop.set()
        t.join()
    assert not seen_torn


def test_queued_args_are_copied(r, tern_server):
    """Queued commands keep their arguments even though the input buffer is reused."""
    c = Transcript(tern_server.port)
    try:
        assert c.cmd("MULTI") == b"+OK\r\n"
        big = "v" * 70000
        for i in range(50):
            assert c.cmd("SET", "key%d" % i, big + str(i)) == b"+QUEUED\r\n"
        c.send("EXEC")
        reply = b"".join(c.read_values(1))
        assert reply == b"*50\r\n" + b"+OK\r\n" * 50
    finally:
        c.close()
    for i in (0, 17, 49):
        assert r.get("key%d" % i) == ("v" * 70000 + str(i)).encode()


def test_disconnect_inside_multi_discards(r, tern_server):
    c = Transcript(tern_server.port)
    c.cmd("WATCH", "k")
    c.cmd("MULTI")
    c.cmd("SET", "k", "never")
    c.close()
    # The next client is unaffected; the queued SET never ran.
    assert r.get("k") is None
    r.set("k", "1")
    with r.pipeline() as p:
        p.watch("k")
        p.multi()
        p.set("k", "2")
        assert p.execute() == [True]


def test_errorstats_count_execabort(tern_server, redis_server):
    """EXECABORT and queue-time errors are counted like Redis (if INFO errorstats exists)."""
    if not command_exists(tern_server.port, "info"):
        pytest.skip("INFO not implemented in this build")
    for port in (tern_server.port, redis_server.port):
        c = Transcript(port)
        c.cmd("CONFIG", "RESETSTAT")
        c.cmd("MULTI")
        c.cmd("NOPE")
        c.cmd("EXEC")
        c.close()
    t = redis.Redis(port=tern_server.port).info("errorstats")
    o = redis.Redis(port=redis_server.port).info("errorstats")
    assert t == o
