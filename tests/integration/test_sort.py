"""SORT / SORT_RO side by side with a real redis-server (raw replies, RESP2 and RESP3)."""
import random
import socket

import pytest


class Raw:
    """Minimal RESP client returning each reply's raw bytes (exact shape comparisons)."""

    def __init__(self, port, resp=2):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(10)
        self.buf = b""
        if resp == 3:
            self.cmd("HELLO", "3")

    def close(self):
        self.s.close()

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            if isinstance(a, int):
                a = str(a)
            if isinstance(a, str):
                a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def _parse(self, pos):
        while pos >= len(self.buf):
            self._fill()
        t = self.buf[pos:pos + 1]
        e = self._line(pos)
        head = self.buf[pos + 1:e]
        pos = e + 2
        if t in b"$=!":
            n = int(head)
            if n < 0:
                return pos
            while len(self.buf) < pos + n + 2:
                self._fill()
            return pos + n + 2
        if t in b"*~>":
            n = int(head)
            for _ in range(max(n, 0)):
                pos = self._parse(pos)
            return pos
        if t in b"%|":
            for _ in range(2 * int(head)):
                pos = self._parse(pos)
            return pos
        return pos

    def read(self):
        end = self._parse(0)
        r, self.buf = self.buf[:end], self.buf[end:]
        return r

    def cmd(self, *args):
        self.send(*args)
        return self.read()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, tern_server, redis_server):
    t = Raw(tern_server.port, request.param)
    o = Raw(redis_server.port, request.param)
    t.cmd("FLUSHALL")
    o.cmd("FLUSHALL")
    yield t, o
    t.close()
    o.close()


def same(pair, *args):
    t, o = pair
    a, b = t.cmd(*args), o.cmd(*args)
    assert a == b, "%r: tern %r redis %r" % (args, a, b)
    return a


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, tern_server, redis_server):
    t = Raw(tern_server.port, request.param)
    o = Raw(redis_server.port, request.param)
    t.cmd("FLUSHALL")
    o.cmd("FLUSHALL")
    yield t, o
    t.close()
    o.close()


def same(pair, *args):
    t, o = pair
    a, b = t.cmd(*args), o.cmd(*args)
    assert a == b, "%r: tern %r redis %r" % (args, a, b)
    return a


def have(pair, cmd):
    t, _ = pair
    return b"unknown command" not in t.cmd(*cmd)


def test_sort_numeric_alpha_desc_limit(pair):
    same(pair, "RPUSH", "l", "3", "1", "2", "10", "-5", "2.5", "1e2", "0x10", "-0", "7")
    for opts in ((), ("DESC",), ("ASC",), ("LIMIT", 0, 3), ("LIMIT", 2, 100), ("LIMIT", -1, 2), ("LIMIT", 5, -1),
                 ("LIMIT", 100, 5), ("LIMIT", 1, 0), ("DESC", "LIMIT", 1, 3), ("ALPHA",), ("ALPHA", "DESC"),
                 ("ALPHA", "LIMIT", 2, 2), ("LIMIT", 0, "9223372036854775807"),
                 ("LIMIT", "x", 1), ("LIMIT", 1), ("FOO",), ("STORE",), ("BY",), ("GET",)):
        same(pair, "SORT", "l", *opts)
        same(pair, "SORT_RO", "l", *opts)
    same(pair, "SORT_RO", "l", "STORE", "x")
    same(pair, "RPUSH", "bad", "1", "abc", "2")
    same(pair, "SORT", "bad")
    same(pair, "SORT", "bad", "ALPHA")
    same(pair, "SORT", "bad", "STORE", "dst")
    same(pair, "LRANGE", "dst", 0, -1)
    # Values whose strtod sets ERANGE are checked last (test_sort_erange): Redis never
    # clears errno before strtod, so after one of them its later numeric SORTs depend on it.
    for v in ("", " 5", "5 ", "inf", "-inf", "nan", "0x1p3", "abc"):
        same(pair, "DEL", "one")
        same(pair, "RPUSH", "one", v, "3")
        same(pair, "SORT", "one")
    same(pair, "SORT", "missing")
    same(pair, "SORT", "missing", "STORE", "dst")
    same(pair, "LLEN", "dst")
    same(pair, "SET", "str", "x")
    same(pair, "SORT", "str")


def test_sort_by_and_get_patterns(pair):
    same(pair, "RPUSH", "ids", "1", "2", "3", "4", "5")
    for i, w in zip(range(1, 6), ("50", "20", "40", "10", "30")):
        same(pair, "SET", "w_%d" % i, w)
        same(pair, "SET", "name_%d" % i, "n%d" % (6 - i))
    same(pair, "SET", "w_5", "abc")
    for opts in (("BY", "w_*"), ("BY", "w_*", "DESC"), ("BY", "w_*", "ALPHA"), ("BY", "name_*", "ALPHA"),
                 ("BY", "name_*", "ALPHA", "DESC", "LIMIT", 1, 2), ("BY", "nosort"), ("BY", "nosort", "DESC"),
                 ("BY", "nosort", "LIMIT", 1, 2), ("BY", "nosort", "DESC", "LIMIT", 1, 3),
                 ("GET", "name_*"), ("GET", "#", "GET", "name_*", "GET", "missing_*"), ("GET", "nostar"),
                 ("BY", "missing_*"), ("BY", "missing_*", "ALPHA"), ("BY", "name_*", "ALPHA", "GET", "w_*"),
                 ("GET", "w_*->field"), ("GET", "w_*->"), ("BY", "nosort", "GET", "#", "GET", "name_*"),
                 ("BY", "name_*", "BY", "nosort", "ALPHA")):
        same(pair, "SORT", "ids", *opts)
    same(pair, "SORT", "ids", "BY", "name_*", "ALPHA", "GET", "#", "GET", "name_*", "STORE", "out")
    same(pair, "LRANGE", "out", 0, -1)
    same(pair, "SORT", "ids", "BY", "nosort", "GET", "missing_*", "STORE", "out")
    same(pair, "LRANGE", "out", 0, -1)
    same(pair, "SORT", "ids", "LIMIT", 10, 10, "STORE", "out")
    same(pair, "LLEN", "out")


def test_sort_store_overwrites(pair):
    same(pair, "RPUSH", "l", "b", "a", "c")
    same(pair, "SET", "dst", "string")
    same(pair, "SORT", "l", "ALPHA", "STORE", "dst")
    same(pair, "LRANGE", "dst", 0, -1)
    same(pair, "SORT", "l", "ALPHA", "DESC", "STORE", "l")
    same(pair, "LRANGE", "l", 0, -1)


def test_sort_sets_zsets_hashes(pair):
    if not have(pair, ("SADD", "probe", "1")):
        pytest.skip("sets not in this build")
    same(pair, "SADD", "s", "5", "3", "9", "1")
    same(pair, "SORT", "s")
    same(pair, "SORT", "s", "DESC", "LIMIT", 1, 2)
    same(pair, "SORT", "s", "BY", "nosort", "STORE", "d")
    same(pair, "LRANGE", "d", 0, -1)
    if have(pair, ("ZADD", "zprobe", "1", "a")):
        same(pair, "ZADD", "z", "3", "c", "1", "a", "2", "b")
        same(pair, "SORT", "z", "ALPHA")
        same(pair, "SORT", "z", "BY", "nosort")
        same(pair, "SORT", "z", "BY", "nosort", "DESC", "LIMIT", 1, 1)
    if have(pair, ("HSET", "hprobe", "f", "v")):
        for k, v in (("5", "x"), ("3", "z"), ("9", "y"), ("1", "w")):
            same(pair, "HSET", "h_" + k, "f", v)
        same(pair, "SORT", "s", "BY", "h_*->f", "ALPHA", "GET", "h_*->f", "GET", "h_*->nofield")


def test_sort_random_lists(pair):
    rng = random.Random(7)
    for round in range(30):
        same(pair, "DEL", "l")
        vals = [str(rng.randint(-50, 50)) if rng.random() < 0.7 else "%.2f" % rng.uniform(-9, 9)
                for _ in range(rng.randint(0, 60))]
        if vals:
            same(pair, "RPUSH", "l", *vals)
        same(pair, "SORT", "l")
        same(pair, "SORT", "l", "DESC", "LIMIT", rng.randint(-2, 10), rng.randint(-2, 20))
        same(pair, "SORT", "l", "ALPHA")
        same(pair, "SORT", "l", "STORE", "d")
        same(pair, "LRANGE", "d", 0, -1)


def test_sort_erange_last(pair):
    for v in ("1e400", "1e-400", "-1e400"):
        same(pair, "DEL", "one")
        same(pair, "RPUSH", "one", v, "3")
        same(pair, "SORT", "one")
