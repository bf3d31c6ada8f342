"""Blocking list commands with several connections: each scenario runs against Tern and
against a real redis-server and the transcripts (raw reply bytes) must be identical."""
import time

import pytest

from resp_wire import Conn


def settle():
    # Lets the server read a command sent on another connection before we go on.
    time.sleep(0.05)


def run_both(tern_server, redis_server, scenario, resp):
    outs = []
    for srv in (tern_server, redis_server):
        flush = Conn(srv.port)
        flush.cmd("FLUSHALL")
        flush.close()
        outs.append(scenario(srv.port, resp))
    assert outs[0] == outs[1], "tern %r\nredis %r" % (outs[0], outs[1])
    return outs[0]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def resp(request):
    return request.param


def test_basic_wakeup(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b = Conn(port, resp), Conn(port, resp)
        a.send("BLPOP", "k", 0)
        settle()
        assert a.quiet(0.05)
        out = [b.cmd("RPUSH", "k", "x", "y"), a.read(), b.cmd("LRANGE", "k", 0, -1)]
        a.send("BRPOP", "k2", "k", 0)
        out.append(a.read())
        out.append(b.cmd("LLEN", "k"))
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_fifo_order_and_multiple_keys(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b, c, d = (Conn(port, resp) for _ in range(4))
        a.send("BLPOP", "k1", "k2", 0)
        settle()
        c.send("BRPOP", "k2", 0)
        settle()
        d.send("BLPOP", "k2", "k1", 0)
        settle()
        out = [b.cmd("RPUSH", "k2", "p", "q")]
        out += [a.read(), c.read()]
        assert d.quiet()
        out.append(b.cmd("LPUSH", "k1", "z"))
        out.append(d.read())
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_blmove_chain_serves_in_signal_order(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b, c = Conn(port, resp), Conn(port, resp), Conn(port, resp)
        a.send("BLMOVE", "src", "mid", "RIGHT", "LEFT", 0)
        settle()
        c.send("BLPOP", "mid", 0)
        settle()
        out = [b.cmd("RPUSH", "src", "v1", "v2"), a.read(), c.read()]
        out += [b.cmd("LRANGE", "src", 0, -1), b.cmd("LRANGE", "mid", 0, -1)]
        a.send("BRPOPLPUSH", "s2", "d2", 0)
        settle()
        out += [b.cmd("RPUSH", "s2", "w"), a.read(), b.cmd("LRANGE", "d2", 0, -1)]
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_blmpop_served_with_count(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b = Conn(port, resp), Conn(port, resp)
        a.send("BLMPOP", 0, 2, "x", "y", "RIGHT", "COUNT", 2)
        settle()
        out = [b.cmd("RPUSH", "y", "1", "2", "3"), a.read()]
        a.send("BLMPOP", 0, 1, "x", "LEFT", "COUNT", 10)
        settle()
        out += [b.cmd("RPUSH", "x", "only"), a.read(), b.cmd("LLEN", "x")]
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_pipelined_input_waits_for_unblock(tern_server, redis_server, resp):
    def sc(port, resp):
        x, y = Conn(port, resp), Conn(port, resp)
        y.pipeline(("BLPOP", "k", 0), ("LPOP", "k"), ("RPUSH", "after", "1"))
        settle()
        x.pipeline(("RPUSH", "k", "a"), ("RPUSH", "k", "b"))
        out = [x.read(), x.read(), y.read(), y.read(), y.read()]
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_timeouts(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b = Conn(port, resp), Conn(port, resp)
        out = []
        for cmd in (("BLPOP", "e", 0.05), ("BRPOP", "e", "f", "0.02"), ("BLMOVE", "e", "d", "LEFT", "RIGHT", 0.03),
                    ("BRPOPLPUSH", "e", "d", 0.01), ("BLMPOP", 0.02, 1, "e", "LEFT")):
            out.append(a.cmd(*cmd))
        # Several clients with different timeouts all come back; the key stays usable.
        cs = [Conn(port, resp) for _ in range(3)]
        for i, c in enumerate(cs):
            c.send("BLPOP", "t", 0.05 * (3 - i))
            settle()
        out += [c.read() for c in cs]
        out.append(b.cmd("RPUSH", "t", "v"))
        out.append(b.cmd("LLEN", "t"))
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_disconnected_client_is_not_served(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b, c = Conn(port, resp), Conn(port, resp), Conn(port, resp)
        a.send("BLPOP", "k", 0)
        settle()
        c.send("BLPOP", "k", 0)
        settle()
        a.close()
        settle()
        out = [b.cmd("RPUSH", "k", "1", "2"), c.read(), b.cmd("LRANGE", "k", 0, -1)]
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_client_unblock(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b = Conn(port, resp), Conn(port, resp)
        r = a.cmd("HELLO", str(resp))
        ident = int(r.split(b"id\r\n:")[1].split(b"\r\n")[0])
        out = [b.cmd("CLIENT", "UNBLOCK", ident)]
        a.send("BLPOP", "k", 0)
        settle()
        out.append(b.cmd("CLIENT", "UNBLOCK", ident))
        out.append(a.read())
        a.send("BRPOPLPUSH", "k", "d", 0)
        settle()
        out.append(b.cmd("CLIENT", "UNBLOCK", ident, "TIMEOUT"))
        out.append(a.read())
        a.send("BLMOVE", "k", "d", "LEFT", "LEFT", 0)
        settle()
        out.append(b.cmd("CLIENT", "UNBLOCK", ident, "ERROR"))
        out.append(a.read())
        out += [b.cmd("CLIENT", "UNBLOCK", ident, "FOO"), b.cmd("CLIENT", "UNBLOCK", "abc"),
                b.cmd("CLIENT", "UNBLOCK", ident, "TIMEOUT", "x"), b.cmd("CLIENT", "UNBLOCK", 999999)]
        out.append(a.cmd("RPUSH", "k", "still-works"))
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_wrong_type_while_blocked_and_dst_wrongtype(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b = Conn(port, resp), Conn(port, resp)
        a.send("BLPOP", "k", 0)
        settle()
        out = [b.cmd("SET", "k", "string")]
        assert a.quiet()
        out.append(b.cmd("DEL", "k"))
        out.append(b.cmd("RPUSH", "k", "v"))
        out.append(a.read())
        out.append(b.cmd("SET", "dst", "str"))
        a.send("BLMOVE", "src", "dst", "LEFT", "LEFT", 0)
        settle()
        out.append(b.cmd("RPUSH", "src", "x"))
        out.append(a.read())
        out.append(b.cmd("LLEN", "src"))
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_sort_store_wakes_blocked_client(tern_server, redis_server, resp):
    def sc(port, resp):
        a, b = Conn(port, resp), Conn(port, resp)
        a.send("BLPOP", "dst", 0)
        settle()
        out = [b.cmd("RPUSH", "src", "3", "1", "2"), b.cmd("SORT", "src", "STORE", "dst"), a.read(),
               b.cmd("LRANGE", "dst", 0, -1)]
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_push_inside_multi_serves_after_exec(tern_server, redis_server, resp):
    probe = Conn(tern_server.port)
    if b"unknown command" in probe.cmd("MULTI"):
        pytest.skip("MULTI not available in this build")
    probe.close()

    def sc(port, resp):
        a, b = Conn(port, resp), Conn(port, resp)
        a.send("BLPOP", "k", 0)
        settle()
        out = [b.cmd("MULTI"), b.cmd("RPUSH", "k", "1"), b.cmd("RPUSH", "k", "2"), b.cmd("LPOP", "k"), b.cmd("EXEC")]
        out += [a.read(), b.cmd("LRANGE", "k", 0, -1)]
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_many_blocked_clients_fairness(tern_server, redis_server, resp):
    def sc(port, resp):
        b = Conn(port, resp)
        cs = [Conn(port, resp) for _ in range(30)]
        for i, c in enumerate(cs):
            c.send("BLPOP", "q%d" % (i % 3), "shared", 0)
            time.sleep(0.02)  # blocking order across connections must be the sending order
        settle()
        cs[7].close()
        cs[8].close()
        settle()
        out = [b.cmd("RPUSH", "shared", *[str(i) for i in range(20)])]
        live = [c for i, c in enumerate(cs) if i not in (7, 8)]
        out += [c.read() for c in live[:20]]
        out.append(b.cmd("RPUSH", "q0", "a", "b", "c", "d", "e", "f", "g", "h"))
        for c in live[20:]:
            if not c.quiet(0.1):
                out.append(c.read())
        return out
    run_both(tern_server, redis_server, sc, resp)


def test_tiny_timeouts_round_up_not_forever(r, oracle):
    """0.001 s must be 1 ms (Redis rounds up with ceill), never 0 = block forever.
    Found by the differential test: BLPOP k 0.001 hung on Tern."""
    for t in ("0.001", "0.0001", "0.0009999"):
        for c in (r, oracle):
            assert c.execute_command("BLPOP", "nokey", t) is None
            assert c.execute_command("BZPOPMIN", "nokey", t) is None
