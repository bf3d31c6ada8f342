"""A small raw RESP2/RESP3 client for differential testing.

Replies are parsed into `Node`s that keep the exact bytes the server sent (`raw`), so
replies can be compared byte for byte and, where a command is nondeterministic, by
properties of the parsed value.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time


class Node:
    """One RESP value. `tag` is the type byte ('+', '-', ':', '$', '*', '%', '~', '>',
    '_', ',', '#', '(', '=', '!', '|'); `val` is bytes / int / list of Node / None;
    for maps `val` is the flat [k1, v1, k2, v2, ...] list."""
    __slots__ = ("tag", "val", "raw")

    def __init__(self, tag, val, raw):
        self.tag = tag
        self.val = val
        self.raw = raw

    def is_error(self):
        return self.tag in ("-", "!")

    def is_null(self):
        return self.tag == "_" or (self.tag in ("$", "*") and self.val is None)

    def is_agg(self):
        return self.tag in ("*", "%", "~", ">") and self.val is not None

    def text(self):
        if isinstance(self.val, bytes):
            return self.val
        return None

    def __repr__(self):
        return short(self.raw)


def short(b, limit=300):
    if isinstance(b, str):
        return b
    r = repr(bytes(b))
    if len(r) > limit:
        r = r[:limit] + "...(%d bytes)" % len(b)
    return r


def encode(argv):
    """RESP multibulk encoding of a list of bytes/str/int arguments."""
    out = [b"*%d\r\n" % len(argv)]
    for a in argv:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class ProtocolError(Exception):
    pass


class Closed(Exception):
    pass


class NeedMore(Exception):
    pass


def parse_at(buf, pos):
    """Parses one value at buf[pos:]; returns (Node, newpos) or raises NeedMore."""
    start = pos
    if pos >= len(buf):
        raise NeedMore()
    tag = chr(buf[pos])
    eol = buf.find(b"\r\n", pos + 1)
    if eol < 0:
        raise NeedMore()
    line = bytes(buf[pos + 1:eol])
    pos = eol + 2
    if tag in "+-(,#_":
        val = line
        if tag == "#":
            val = line == b"t"
        elif tag == "_":
            val = None
        return Node(tag, val, bytes(buf[start:pos])), pos
    if tag == ":":
        return Node(tag, int(line), bytes(buf[start:pos])), pos
    if tag in "$=!":
        n = int(line)
        if n < 0:
            return Node(tag, None, bytes(buf[start:pos])), pos
        if len(buf) < pos + n + 2:
            raise NeedMore()
        val = bytes(buf[pos:pos + n])
        pos += n + 2
        return Node(tag, val, bytes(buf[start:pos])), pos
    if tag in "*%~>|":
        n = int(line)
        if n < 0:
            return Node(tag, None, bytes(buf[start:pos])), pos
        count = n * 2 if tag in "%|" else n
        items = []
        for _ in range(count):
            item, pos = parse_at(buf, pos)
            items.append(item)
        node = Node(tag, items, bytes(buf[start:pos]))
        if tag == "|":
            # An attribute precedes the real reply; keep both bytes, return the reply.
            inner, pos = parse_at(buf, pos)
            node = Node(inner.tag, inner.val, bytes(buf[start:pos]))
        return node, pos
    raise ProtocolError("bad type byte %r at %d in %s" % (tag, start, short(bytes(buf[start:start + 80]))))


class Conn:
    """A blocking RESP connection with an input buffer."""

    def __init__(self, port, host="127.0.0.1", timeout=30.0):
        self.port = port
        self.host = host
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def send_cmd(self, argv):
        self.sock.sendall(encode(argv))

    def _fill(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)
        if not chunk:
            self.closed = True
            raise Closed()
        if self.pos > 65536 and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def read(self, timeout=None):
        """Reads one reply (raises Closed on EOF, socket.timeout on timeout)."""
        while True:
            try:
                node, newpos = parse_at(self.buf, self.pos)
                self.pos = newpos
                return node
            except NeedMore:
                self._fill(timeout)

    def pending(self):
        return len(self.buf) - self.pos

    def call(self, *argv):
        self.send_cmd(argv)
        return self.read()

    def read_until_closed(self, timeout=2.0):
        """Returns all remaining bytes until the peer closes (or goes quiet)."""
        out = bytes(self.buf[self.pos:])
        self.pos = len(self.buf)
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.closed = True
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        self.sock.settimeout(self.timeout)
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True


# ---------------------------------------------------------------------------
# Starting servers (standalone, without pytest).

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tern_binary():
    b = os.environ.get("TERN_BIN")
    if b:
        return b
    found = [os.path.join(ROOT, ".build", cfg, "tern-server") for cfg in ("release", "debug")]
    found = [p for p in found if os.path.exists(p)]
    if not found:
        raise RuntimeError("tern-server not built: run swift build first")
    return max(found, key=os.path.getmtime)


class Server:
    """A server process on a free loopback port in its own temp dir."""

    def __init__(self, argv0, args=(), name="server"):
        self.name = name
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tern-%s-" % name)
        argv = [argv0, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        argv += list(args)
        self.logpath = os.path.join(self.dir, "server.log")
        self.log = open(self.logpath, "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s: %s" % (name, self.proc.returncode, self.output()[-2000:]))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("%s did not start on port %d" % (name, self.port))
                time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_tern(extra=()):
    return Server(tern_binary(), ["--enable-debug-command", "yes", *extra], "tern")


def start_redis(extra=(), exe=None):
    exe = exe or shutil.which("redis-server")
    if not exe:
        raise RuntimeError("redis-server not installed")
    return Server(exe, ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes", *extra], "redis")
