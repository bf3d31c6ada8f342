"""BZPOPMIN / BZPOPMAX / BZMPOP park the client and are woken by ZADD, side by side with Redis."""
import threading
import time

import pytest


def _blocked_pop(server, cmd):
    """Runs a blocking command on its own connection; returns (thread, result holder)."""
    out = {}
    c = server.client()

    def run():
        out["reply"] = c.execute_command(*cmd)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _wait_blocked(client, n=1):
    deadline = time.time() + 10
    while time.time() < deadline:
        if client.info("clients")["blocked_clients"] >= n:
            return
        time.sleep(0.02)
    raise AssertionError("client never blocked")


@pytest.mark.parametrize("cmd,push", [
    (["BZPOPMIN", "z1", "z2", "0"], ["ZADD", "z2", "2", "b", "1", "a"]),
    (["BZPOPMAX", "z1", "0"], ["ZADD", "z1", "2", "b", "1", "a"]),
    (["BZMPOP", "0", "2", "z1", "z2", "MIN", "COUNT", "2"], ["ZADD", "z2", "3", "c", "1", "a", "2", "b"]),
])
def test_blocked_zset_pop_is_woken(tern_server, redis_server, cmd, push):
    replies = []
    for server in (tern_server, redis_server):
        ctl = server.client()
        ctl.flushall()
        t, out = _blocked_pop(server, cmd)
        _wait_blocked(ctl)
        ctl.execute_command(*push)
        t.join(10)
        assert not t.is_alive()
        replies.append((out["reply"], ctl.execute_command("ZRANGE", push[1], "0", "-1", "WITHSCORES")))
    assert replies[0] == replies[1]


def test_blocked_zset_pop_times_out(r, oracle):
    assert r.execute_command("BZPOPMIN", "nokey", "0.05") == oracle.execute_command("BZPOPMIN", "nokey", "0.05")


def test_bzpop_inside_multi_does_not_block(r, oracle):
    for c in (r, oracle):
        p = c.pipeline(transaction=True)
        p.execute_command("BZPOPMIN", "empty", "0")
        assert p.execute() == [None]
