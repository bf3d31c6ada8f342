"""Raw RESP connections for byte-exact, multi-connection transcripts (pub/sub message
streams, MULTI/EXEC reply shapes, tracking invalidations), run identically against Tern
and redis-server and compared."""
import re
import select
import socket
import time


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def value_end(buf, pos):
    """End offset of the complete RESP2/RESP3 value starting at pos, or None if incomplete."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    t = buf[pos:pos + 1]
    line = buf[pos + 1:nl]
    if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return nl + 2
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return nl + 2
        end = nl + 2 + n + 2
        return end if len(buf) >= end else None
    if t in (b"*", b">", b"~", b"%", b"|"):
        n = int(line)
        if n < 0:
            return nl + 2
        if t in (b"%", b"|"):
            n *= 2
        p = nl + 2
        for _ in range(n):
            p = value_end(buf, p)
            if p is None:
                return None
        return value_end(buf, p) if t == b"|" else p
    raise ValueError("bad RESP at %r" % buf[pos:pos + 32])


def split_values(buf):
    """Splits a byte stream into complete top-level values (trailing partial data dropped)."""
    out, p = [], 0
    while p < len(buf):
        q = value_end(buf, p)
        if q is None:
            break
        out.append(buf[p:q])
        p = q
    return out


class RawConn:
    def __init__(self, port, resp=2, name=None):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = b""      # everything received (the transcript)
        self.pending = b""     # received but not yet matched to a command
        self.name = name
        # HELLO sets the protocol and tells the client id (used by "{id:name}" arguments).
        self.sock.sendall(encode("HELLO", str(resp)))
        hello = self.read_values(1)[0]
        m = re.search(rb"\$2\r\nid\r\n:(\d+)\r\n", hello)
        self.id = int(m.group(1)) if m else None
        self.stream = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.stream += chunk
        self.pending += chunk
        return True

    def read_values(self, n, timeout=5.0):
        """Reads until n complete top-level values are pending; returns and consumes them."""
        deadline = time.time() + timeout
        while True:
            vals = split_values(self.pending)
            if len(vals) >= n:
                used = sum(len(v) for v in vals[:n])
                self.pending = self.pending[used:]
                return vals[:n]
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("waiting for %d values, have %r" % (n, self.pending[:200]))
            self._recv(left)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def cmd(self, *args, n=1):
        """Sends one command and returns the n values that follow (pushes count)."""
        self.send(*args)
        return b"".join(self.read_values(n))

    def drain(self, quiet=0.05):
        """Reads whatever arrives until the connection stays quiet for `quiet` seconds."""
        got = b""
        try:
            while True:
                before = len(self.stream)
                if not self._recv(quiet):
                    break
                got += self.stream[before:]
        except ConnectionError:
            pass
        vals = split_values(self.pending)
        used = sum(len(v) for v in vals)
        self.pending = self.pending[used:]
        return got


def subscription_replies(args):
    """Number of replies a (P|S)(UN)SUBSCRIBE with explicit names produces."""
    return max(1, len(args) - 1)


def run_script(port, conns, steps, settle=0.02):
    """Runs a multi-connection script and returns {conn name: full byte stream}.

    conns: {name: resp version}. steps: (name, [args...]) or (name, [args...], n) where n
    is how many values to wait for (default 1, or one per name for subscribe commands);
    ("sleep", seconds) pauses; ("close", name) closes a connection. An argument
    "{id:name}" is replaced by that connection's client id. After each step every
    connection is drained briefly so cross-connection effects (messages, invalidations)
    land before the next step."""
    cs = {k: RawConn(port, v, k) for k, v in conns.items()}
    closed = {}
    try:
        for st in steps:
            if st[0] == "sleep":
                time.sleep(st[1])
                continue
            if st[0] == "close":
                c = cs.pop(st[1])
                c.drain(0.02)
                c.close()
                closed[st[1]] = c
                time.sleep(0.05)
                continue
            name = st[0]
            args = []
            for a in st[1]:
                if isinstance(a, str) and a.startswith("{id:") and a.endswith("}"):
                    ref = a[4:-1]
                    a = str((cs.get(ref) or closed[ref]).id)
                args.append(a)
            if len(st) > 2:
                n = st[2]
            elif str(args[0]).lower() in ("subscribe", "psubscribe", "ssubscribe") or (
                    str(args[0]).lower() in ("unsubscribe", "punsubscribe", "sunsubscribe") and len(args) > 1):
                n = subscription_replies(args)
            else:
                n = 1
            c = cs[name]
            c.send(*args)
            if n:
                c.read_values(n)
            for other in cs.values():
                other.drain(settle)
        for c in cs.values():
            c.drain(0.1)
        out = {k: c.stream for k, c in closed.items()}
        out.update({k: c.stream for k, c in cs.items()})
        out["_ids"] = {k: c.id for k, c in list(cs.items()) + list(closed.items())}
        return out
    finally:
        for c in cs.values():
            c.close()


def command_exists(port, name):
    """True if the server at `port` knows command `name` ("debug" or "client|tracking").

    Uses COMMAND INFO; on a build without COMMAND it probes with a bogus argument (an
    "unknown command" error means missing)."""
    c = RawConn(port)
    try:
        reply = c.cmd("COMMAND", "INFO", name)
        if not reply.startswith(b"-"):
            return reply.startswith(b"*1\r\n*")
        top = name.split("|")[0]
        reply = c.cmd(top, "__tern_probe__")
        return b"unknown command" not in reply
    finally:
        c.close()
