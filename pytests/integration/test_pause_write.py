"""CLIENT PAUSE WRITE, side by side with redis-server 7.0: writes and may_replicate commands
(PUBLISH, SPUBLISH; EVAL, FCALL and PFCOUNT where Tern has them) are held until CLIENT
UNPAUSE or the end of the pause, inside MULTI too; EXEC is held when its queue holds such
a command; reads are served. Each scenario records which replies came while paused and
which after the release, and both servers must agree byte for byte."""
import socket

import pytest

from resp_wire import Conn


def available(conn, wait):
    """Replies that arrive within `wait` seconds (raw bytes each)."""
    out = []
    while True:
        try:
            out.append(conn.read(timeout=wait))
        except socket.timeout:
            return out


def scenario(port, before, during, release):
    """`before` runs unpaused; CLIENT PAUSE WRITE; `during` is pipelined; then the pause is
    released (CLIENT UNPAUSE, or its 600 ms timeout). Returns (replies before, replies
    served while paused, replies after the release)."""
    ctl, w = Conn(port), Conn(port)
    try:
        first = [w.cmd(*c) for c in before]
        assert ctl.cmd("CLIENT", "PAUSE", "100000" if release == "unpause" else "600", "WRITE") == b"+OK\r\n"
        w.pipeline(*during)
        served = available(w, 0.3)
        if release == "unpause":
            assert ctl.cmd("CLIENT", "UNPAUSE") == b"+OK\r\n"
        rest = [w.read(timeout=5) for _ in range(len(during) - len(served))]
        return first, served, rest
    finally:
        ctl.cmd("CLIENT", "UNPAUSE")
        ctl.close()
        w.close()


def knows(port, name):
    c = Conn(port)
    try:
        return c.cmd("COMMAND", "INFO", name) not in (b"*1\r\n*-1\r\n", b"*1\r\n$-1\r\n")
    finally:
        c.close()


SCENARIOS = {
    "read served": ([], [("GET", "x")]),
    "publish held": ([], [("PUBLISH", "ch", "m")]),
    "spublish held": ([], [("SPUBLISH", "ch", "m")]),
    "write held": ([], [("SET", "x", "1")]),
    "read then write then read": ([], [("GET", "x"), ("SET", "x", "1"), ("GET", "x")]),
    "write queued in MULTI held": ([("MULTI",)], [("GET", "x"), ("SET", "x", "1"), ("EXEC",)]),
    "publish queued in MULTI held": ([("MULTI",)], [("PUBLISH", "ch", "m"), ("EXEC",)]),
    "EXEC with a write held": ([("MULTI",), ("GET", "x"), ("SET", "x", "2")], [("EXEC",)]),
    "EXEC with a publish held": ([("MULTI",), ("PUBLISH", "ch", "m")], [("EXEC",)]),
    "EXEC with reads only served": ([("MULTI",), ("GET", "x"), ("TTL", "x")], [("EXEC",)]),
    "EXEC of an aborted transaction served": ([("MULTI",), ("SET", "x", "1"), ("SET", "x")], [("EXEC",)]),
    "EXEC after a queued write then an unknown command": ([("MULTI",), ("NOSUCH",), ("SET", "x", "1")], [("EXEC",)]),
    "EXEC after WATCH saw a change served": ([("WATCH", "x"), ("SET", "x", "1"), ("MULTI",), ("SET", "x", "2")], [("EXEC",)]),
    "DISCARD served": ([("MULTI",), ("SET", "x", "1")], [("DISCARD",), ("GET", "x")]),
    "EVAL held": ([], [("EVAL", "return 1", "0")]),
    "PFCOUNT held": ([], [("PFCOUNT", "h")]),
    "FCALL held": ([], [("FCALL", "f", "0")]),
}


@pytest.mark.parametrize("release", ["unpause", "timeout"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_pause_write_matches_redis(tern_server, redis_server, name, release):
    before, during = SCENARIOS[name]
    for cmd in before + during:
        if not knows(tern_server.port, cmd[0]) and cmd[0] != "NOSUCH":
            pytest.skip("Tern does not implement %s yet" % cmd[0])
    Conn(tern_server.port).cmd("FLUSHALL")
    Conn(redis_server.port).cmd("FLUSHALL")
    got = scenario(tern_server.port, before, during, release)
    want = scenario(redis_server.port, before, during, release)
    assert got == want, "%s:\ntern  %r\nredis %r" % (name, got, want)


def test_pause_write_scenarios_hold_what_they_say(redis_server):
    """The oracle itself: the scenarios above do show holding (so agreement means something)."""
    _, served, rest = scenario(redis_server.port, [], [("GET", "x"), ("PUBLISH", "ch", "m")], "unpause")
    assert served == [b"$-1\r\n"] and rest == [b":0\r\n"]
    _, served, rest = scenario(redis_server.port, [("MULTI",), ("SET", "x", "1")], [("EXEC",)], "timeout")
    assert served == [] and rest == [b"*1\r\n+OK\r\n"]


def test_monitor_client_refuses_may_replicate_commands(tern_server, redis_server):
    """A MONITOR connection counts as a replica: writes, reads and may_replicate commands
    are refused (so it cannot slip past CLIENT PAUSE WRITE)."""
    for cmd in [("PUBLISH", "ch", "m"), ("SPUBLISH", "ch", "m"), ("SCAN", "0"), ("GET", "x"), ("PING",)]:
        replies = []
        for port in (tern_server.port, redis_server.port):
            c = Conn(port)
            try:
                assert c.cmd("MONITOR") == b"+OK\r\n"
                replies.append(c.cmd(*cmd))
            finally:
                c.close()
        assert replies[0] == replies[1], cmd
