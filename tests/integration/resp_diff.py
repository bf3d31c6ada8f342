"""Raw RESP clients for side-by-side checks of Tern against a real redis-server:
the same command goes to both and the exact reply bytes are compared (RESP2 or RESP3)."""
import socket


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def reply_end(buf, pos):
    """End offset of the RESP reply starting at pos, or None if incomplete."""
    if pos >= len(buf):
        return None
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    t = buf[pos:pos + 1]
    line = buf[pos + 1:nl]
    after = nl + 2
    if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return after
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return after
        end = after + n + 2
        return end if end <= len(buf) else None
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return after
        if t in (b"%", b"|"):
            n *= 2
        p = after
        for _ in range(n):
            p = reply_end(buf, p)
            if p is None:
                return None
        if t == b"|":  # attribute precedes the real reply
            return reply_end(buf, p)
        return p
    raise ValueError("bad RESP type %r at %d: %r" % (t, pos, buf[pos:pos + 40]))


class RawClient:
    def __init__(self, port, proto=2):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(10)
        self.buf = b""
        if proto == 3:
            self.cmd("HELLO", "3")

    def cmd(self, *args):
        self.sock.sendall(encode(args))
        while True:
            end = reply_end(self.buf, 0)
            if end is not None:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def close(self):
        self.sock.close()


class Pair:
    """The same command on Tern and on Redis; `same` asserts identical reply bytes."""

    def __init__(self, tern_port, redis_port, proto=2):
        self.t = RawClient(tern_port, proto)
        self.r = RawClient(redis_port, proto)
        self.proto = proto

    def both(self, *args):
        return self.t.cmd(*args), self.r.cmd(*args)

    def same(self, *args):
        a, b = self.both(*args)
        assert a == b, "%r (RESP%d):\n tern:  %r\n redis: %r" % (args, self.proto, a[:400], b[:400])
        return a

    def close(self):
        self.t.close()
        self.r.close()


def parse(buf):
    """Parses one RESP reply into Python values (maps -> list of pairs, sets -> list)."""
    v, _ = _parse(buf, 0)
    return v


def _parse(buf, pos):
    nl = buf.find(b"\r\n", pos)
    t = buf[pos:pos + 1]
    line = buf[pos + 1:nl]
    after = nl + 2
    if t == b"+":
        return line, after
    if t == b"-":
        return ("ERR", line), after
    if t == b":":
        return int(line), after
    if t == b"_":
        return None, after
    if t == b",":
        return ("DBL", line), after
    if t == b"#":
        return line == b"t", after
    if t in (b"$", b"="):
        n = int(line)
        if n < 0:
            return None, after
        return buf[after:after + n], after + n + 2
    if t in (b"*", b"~", b">", b"%"):
        n = int(line)
        if n < 0:
            return None, after
        if t == b"%":
            n *= 2
        out = []
        p = after
        for _ in range(n):
            v, p = _parse(buf, p)
            out.append(v)
        return (out if t != b"~" else ("SET", out)), p
    raise ValueError(t)


def canon(v):
    """Order-insensitive form of a parsed reply (for hashtable-encoded collections)."""
    if isinstance(v, list):
        return ("L", tuple(sorted((canon(x) for x in v), key=repr)))
    if isinstance(v, tuple) and v and v[0] == "SET":
        return ("S", tuple(sorted((canon(x) for x in v[1]), key=repr)))
    return v
