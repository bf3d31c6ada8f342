"""The RESP wire for every test: command encoding, reply framing and parsing, and raw
connections that keep the exact bytes a server sent, so Tern and redis-server can be
compared byte for byte (RESP2 and RESP3).

pytest puts pytests/ on sys.path (pytest.ini: pythonpath = tests), so integration tests
`import resp_wire`; the standalone differential and fuzz scripts add pytests/ themselves.
"""
import select
import socket
import time


def encode(*args):
    """RESP multibulk for one command: bytes-like as is, str as UTF-8, anything else
    (int, float) as its str()."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif not isinstance(a, (bytes, bytearray, memoryview)):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def encode_all(cmds):
    """Several commands back to back (a pipeline): each an argument list."""
    return b"".join(encode(*c) for c in cmds)


# ---------------------------------------------------------------------------
# Parsing

class Node:
    """One RESP value. `tag` is the type byte ('+', '-', ':', '$', '*', '%', '~', '>',
    '_', ',', '#', '(', '=', '!'); `val` is bytes / int / bool / list of Node / None;
    for maps `val` is the flat [k1, v1, k2, v2, ...] list. `raw` is the exact bytes
    (an attribute `|` that preceded the value included)."""
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

    def line(self):
        """The header line without type byte and CRLF (a simple value's text)."""
        return self.raw[1:self.raw.index(b"\r\n")]

    def __repr__(self):
        return short(self.raw)


def short(b, limit=300):
    if isinstance(b, str):
        return b
    r = repr(bytes(b))
    if len(r) > limit:
        r = r[:limit] + "...(%d bytes)" % len(b)
    return r


class ProtocolError(ValueError):
    pass


class Closed(ConnectionError):
    """The server closed the connection."""


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


def reply_end(buf, pos=0):
    """End offset of the complete value starting at pos, or None while incomplete."""
    try:
        return parse_at(buf, pos)[1]
    except NeedMore:
        return None


def split_values(buf):
    """Splits a byte stream into complete top-level values (trailing partial data dropped)."""
    out, p = [], 0
    while p < len(buf):
        q = reply_end(buf, p)
        if q is None:
            break
        out.append(bytes(buf[p:q]))
        p = q
    return out


def parse(buf):
    """The first reply in buf in typed form (see `typed`)."""
    return typed(parse_at(buf, 0)[0])


def value(node, map=dict, set=list):
    """Plain form of a reply: simple strings, integers, doubles, big numbers and booleans
    as their text (str), errors as ("err", text), bulk and verbatim strings as bytes,
    nulls as None, arrays and pushes as lists; maps as map([(k, v), ...]), sets as
    set([...])."""
    t = node.tag
    if t == "_" or node.val is None:
        return None
    if t in "-!":
        return ("err", node.val.decode())
    if t in "+:,#(":
        return node.line().decode()
    if t in "$=":
        return node.val
    items = [value(x, map, set) for x in node.val]
    if t == "%":
        return map(list(zip(items[0::2], items[1::2])))
    if t == "~":
        return set(items)
    return items


def typed(node):
    """Typed form of a reply: simple strings and bulk as bytes, integers int, booleans
    bool, errors ("ERR", text), doubles ("DBL", text), sets ("SET", [...]), maps the flat
    [k1, v1, ...] list, nulls None."""
    t = node.tag
    if t == "_" or node.val is None:
        return None
    if t == "-":
        return ("ERR", node.val)
    if t == ",":
        return ("DBL", node.val)
    if t in "+:#$=":
        return node.val
    if t in "*~>%":
        out = [typed(x) for x in node.val]
        return ("SET", out) if t == "~" else out
    raise ValueError(t)


def canon(v):
    """Order-insensitive form of a typed reply (for hashtable-encoded collections)."""
    if isinstance(v, list):
        return ("L", tuple(sorted((canon(x) for x in v), key=repr)))
    if isinstance(v, tuple) and v and v[0] == "SET":
        return ("S", tuple(sorted((canon(x) for x in v[1]), key=repr)))
    return v


# ---------------------------------------------------------------------------
# Connections

class Conn:
    """A blocking RESP connection with an input buffer. `read()` / `cmd()` answer with
    `reply(node)`: the exact bytes here; subclasses choose another form."""

    def __init__(self, port, resp=2, host="127.0.0.1", timeout=10.0):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.eof = False
        if resp == 3:
            self.send("HELLO", "3")
            self.read_node()

    @staticmethod
    def reply(node):
        return node.raw

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def send_raw(self, data):
        self.sock.sendall(data)

    def pipeline(self, *cmds):
        self.sock.sendall(encode_all(cmds))

    def received(self, chunk):
        """Called with every chunk read from the socket."""

    def _fill(self, timeout=None):
        """Reads one chunk (socket.timeout when none arrives in time, Closed on EOF)."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            raise Closed()
        if self.pos > 65536 and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk
        self.received(chunk)

    def read_node(self, timeout=None):
        """Reads one reply as a Node (Closed on EOF, socket.timeout on timeout)."""
        while True:
            try:
                node, self.pos = parse_at(self.buf, self.pos)
                return node
            except NeedMore:
                self._fill(timeout)

    def read(self, timeout=None):
        return self.reply(self.read_node(timeout))

    def cmd(self, *args):
        self.send(*args)
        return self.read()

    def call(self, *args):
        """Sends one command and returns its reply as a Node."""
        self.send(*args)
        return self.read_node()

    def unread(self):
        """Bytes received and not consumed yet."""
        return bytes(self.buf[self.pos:])

    def quiet(self, wait=0.15):
        """True when nothing more arrives within `wait` seconds (a blocked client)."""
        if self.pos < len(self.buf):
            return False
        try:
            self._fill(wait)
        except socket.timeout:
            return True
        return False

    def peer_closed(self, timeout=2.0):
        """True when the server closes this connection without sending anything more."""
        if self.pos < len(self.buf):
            return False
        try:
            self._fill(timeout)
        except Closed:
            return True
        except (socket.timeout, ConnectionResetError):
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.eof = True


class NodeConn(Conn):
    """Replies as Nodes (the differential test looks at types and values)."""

    def __init__(self, port, timeout=30.0):
        super().__init__(port, timeout=timeout)

    @staticmethod
    def reply(node):
        return node


class ValueConn(Conn):
    """Replies as (raw bytes, plain value): see `value()`."""
    map = dict
    set = list

    def __init__(self, port, protocol=2, timeout=5.0):
        super().__init__(port, protocol, timeout=timeout)

    def reply(self, node):
        return node.raw, value(node, self.map, self.set)

    def val(self, *args):
        return self.cmd(*args)[1]


class Transcript(Conn):
    """A connection that records every byte it receives (`stream`) for multi-connection
    transcripts (pub/sub message streams, MULTI/EXEC shapes, tracking invalidations).
    It always says HELLO (which also tells the client id, `id`)."""

    def __init__(self, port, resp=2, name=None):
        super().__init__(port, timeout=None)
        self.name = name
        self.stream = b""
        self.send("HELLO", str(resp))
        hello = self.read_node(5.0)
        fields = hello.val if hello.is_agg() else []
        self.id = None
        for k, v in zip(fields[0::2], fields[1::2]):
            if k.val == b"id" and v.tag == ":":
                self.id = v.val
        self.stream = b""

    def received(self, chunk):
        self.stream += chunk

    @property
    def pending(self):
        """Bytes received but not yet matched to a command."""
        return self.unread()

    def _wait(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        self._fill()
        return True

    def read_values(self, n, timeout=5.0):
        """Reads until n complete top-level values are pending; returns and consumes them."""
        deadline = time.time() + timeout
        out = []
        while len(out) < n:
            end = reply_end(self.buf, self.pos)
            if end is not None:
                out.append(bytes(self.buf[self.pos:end]))
                self.pos = end
                continue
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("waiting for %d values, have %r" % (n - len(out), self.unread()[:200]))
            self._wait(left)
        return out

    def cmd(self, *args, n=1):
        """Sends one command and returns the n values that follow (pushes count)."""
        self.send(*args)
        return b"".join(self.read_values(n))

    def drain(self, quiet=0.05):
        """Reads whatever arrives until the connection stays quiet for `quiet` seconds;
        returns those bytes and consumes every complete value pending."""
        before = len(self.stream)
        try:
            while self._wait(quiet):
                pass
        except ConnectionError:
            pass
        got = self.stream[before:]
        self.pos += sum(len(v) for v in split_values(self.unread()))
        return got


class Pair:
    """The same commands on Tern and on Redis over raw connections: `same` (or calling
    the pair) asserts identical reply bytes; `t, o = pair` unpacks the connections."""

    def __init__(self, tern_port, redis_port, proto=2):
        self.t = Conn(tern_port, proto)
        self.r = Conn(redis_port, proto)
        self.proto = proto

    def __iter__(self):
        return iter((self.t, self.r))

    def both(self, *args):
        return self.t.cmd(*args), self.r.cmd(*args)

    def same(self, *args):
        a, b = self.both(*args)
        assert a == b, "%r (RESP%d):\n tern:  %r\n redis: %r" % (args, self.proto, a[:400], b[:400])
        return a

    __call__ = same

    def run(self, script):
        for c in script:
            self.same(*c)

    def close(self):
        self.t.close()
        self.r.close()


# ---------------------------------------------------------------------------
# Multi-connection transcripts

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
    cs = {k: Transcript(port, v, k) for k, v in conns.items()}
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
    c = Transcript(port)
    try:
        reply = c.cmd("COMMAND", "INFO", name)
        if not reply.startswith(b"-"):
            return reply.startswith(b"*1\r\n*")
        top = name.split("|")[0]
        reply = c.cmd(top, "__tern_probe__")
        return b"unknown command" not in reply
    finally:
        c.close()
