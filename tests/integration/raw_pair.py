"""Raw RESP side-by-side helpers shared by the list and SORT tests: a minimal client that
returns each reply's raw bytes, a `pair` fixture (Tern + redis-server, RESP2 and RESP3)
and `same()` which asserts identical replies."""
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
