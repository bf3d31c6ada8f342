"""Replays a propagation scenario on a live redis-server and returns the replication stream
it produced, as a replica reads it (raw SYNC: the RDB payload is skipped).

Shared by tools/record_propagation_fixtures.py (which writes Tests/Fixtures/propagation.json)
and pytests/integration/test_propagation_stream.py (which checks that the committed fixture
still equals what redis-server sends). The Swift unit tests replay the same scenarios on the
engine and compare with the same fixture.

Scenario format (JSON):
  {"name": ..., "setup": [[cmd...], ...],        # on client "a", before the replica attaches
   "steps": [{"c": "a", "cmd": [...]},           # send and read the reply
             {"c": "b", "cmd": [...], "blocks": true},   # send; the reply comes later
             {"sleep_ms": 20}],
   "mask": {"SREM": [2]},                        # args replaced by '?' (same length) before comparing
   "stream": "..."}                              # the masked RESP bytes (latin-1 text)
Every scenario starts from FLUSHALL, DEBUG SET-ACTIVE-EXPIRE 0 (only lazy expiry acts) and
lazyfree-lazy-expire no.
"""
import socket
import time

END_CHANNEL = b"__propagation_fixture_end__"


def parse_frames(b):
    """Splits a RESP multibulk stream into frames: [(raw bytes, [args])]."""
    out = []
    i = 0
    while i < len(b):
        if b[i:i + 1] != b"*":
            raise ValueError("not a multibulk frame at %d: %r" % (i, b[i:i + 40]))
        j = b.index(b"\r\n", i)
        n = int(b[i + 1:j])
        k = j + 2
        args = []
        for _ in range(n):
            if b[k:k + 1] != b"$":
                raise ValueError("not a bulk at %d: %r" % (k, b[k:k + 40]))
            e = b.index(b"\r\n", k)
            ln = int(b[k + 1:e])
            if e + 2 + ln + 2 > len(b):
                raise ValueError("truncated bulk at %d" % k)
            args.append(b[e + 2:e + 2 + ln])
            k = e + 2 + ln + 2
        out.append((b[i:k], args))
        i = k
    return out


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def mask_stream(b, mask):
    """Replaces the masked arguments (by command name, case-insensitive) with '?' bytes of the
    same length, so random members and wall-clock deadlines compare equal."""
    if not mask:
        return b
    rules = {k.upper().encode(): v for k, v in mask.items()}
    out = b""
    for _, args in parse_frames(b):
        idx = rules.get(args[0].upper())
        if idx:
            args = [b"?" * len(a) if i in idx else a for i, a in enumerate(args)]
        out += encode(args)
    return out


class Conn:
    """A raw RESP connection (replies are read and discarded; only the stream matters)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(5)
        self.buf = b""

    def send(self, args):
        self.s.sendall(encode([a.encode() if isinstance(a, str) else a for a in args]))

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def read_reply(self):
        line = self._line()
        t = line[:1]
        if t in (b"+", b"-", b":"):
            return line
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            n = int(line[1:])
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        raise ValueError("unexpected reply %r" % line)

    def call(self, *args):
        self.send(args)
        return self.read_reply()

    def close(self):
        self.s.close()


class ReplicaStream:
    """Attaches as a replica with SYNC and collects the command stream after the RDB."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(10)
        self.s.sendall(b"SYNC\r\n")
        buf = b""
        while True:
            while not buf:
                buf += self._recv()
            if buf[:1] == b"\n":  # keepalive newlines while the RDB is produced
                buf = buf[1:]
                continue
            break
        while b"\r\n" not in buf:
            buf += self._recv()
        i = buf.index(b"\r\n")
        head, buf = buf[:i], buf[i + 2:]
        if not head.startswith(b"$"):
            raise ValueError("unexpected SYNC reply %r" % head)
        if head.startswith(b"$EOF:"):  # diskless: payload ends with the same 40-byte mark
            mark = head[5:]
            while mark not in buf:
                buf += self._recv()
            buf = buf[buf.index(mark) + len(mark):]
        else:
            n = int(head[1:])
            while len(buf) < n:
                buf += self._recv()
            buf = buf[n:]
        self.buf = buf

    def _recv(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("replication link closed")
        return d

    def read_until_marker(self):
        """Reads up to the end marker (a PUBLISH on END_CHANNEL) and returns the frames before
        it, without the replication PINGs and without a SELECT the marker itself caused."""
        deadline = time.time() + 10
        while True:
            frames = self._complete_frames()
            for n, (_, args) in enumerate(frames):
                if args[:2] == [b"PUBLISH", END_CHANNEL]:
                    kept = [f for f in frames[:n] if f[1] != [b"PING"]]
                    if kept and kept[-1][1][0] == b"SELECT":
                        kept.pop()
                    return b"".join(raw for raw, _ in kept)
            if time.time() > deadline:
                raise TimeoutError("no end marker in the replication stream")
            self.buf += self._recv()

    def _complete_frames(self):
        # Parse only whole frames; a partial one at the end waits for more bytes.
        b = self.buf
        end = len(b)
        while end > 0:
            try:
                return parse_frames(b[:end])
            except (ValueError, IndexError):
                end = b.rfind(b"*", 0, end)
        return []

    def close(self):
        self.s.close()


def wait_blocked(conn, n):
    """Waits until the server reports `n` blocked clients (INFO is not propagated)."""
    deadline = time.time() + 5
    while time.time() < deadline:
        info = conn.call("INFO", "clients")
        for line in info.split(b"\r\n"):
            if line.startswith(b"blocked_clients:") and int(line.split(b":")[1]) >= n:
                return
        time.sleep(0.01)
    raise TimeoutError("client did not block")


def run_on_redis(port, scenario):
    """Replays `scenario` on the redis-server at `port`; returns the masked stream bytes."""
    a = Conn(port)
    a.call("FLUSHALL")
    a.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    a.call("CONFIG", "SET", "lazyfree-lazy-expire", "no")
    for cmd in scenario.get("setup", []):
        a.call(*cmd)
    conns = {"a": a}
    replica = ReplicaStream(port)
    try:
        blocked = []
        for step in scenario["steps"]:
            if "sleep_ms" in step:
                time.sleep(step["sleep_ms"] / 1000.0)
                continue
            name = step.get("c", "a")
            if name not in conns:
                conns[name] = Conn(port)
            conn = conns[name]
            if step.get("blocks"):
                conn.send(step["cmd"])
                blocked.append(conn)
                wait_blocked(a, len(blocked))
            else:
                conn.call(*step["cmd"])
        for conn in blocked:
            conn.read_reply()
        marker = Conn(port)
        marker.call("PUBLISH", END_CHANNEL, "x")
        marker.close()
        return mask_stream(replica.read_until_marker(), scenario.get("mask"))
    finally:
        replica.close()
        for conn in conns.values():
            conn.close()
