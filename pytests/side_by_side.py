"""Helpers for tests that run the same commands on Tern and on a real redis-server."""
import re

import redis

from conftest import raw_command
from resp_wire import encode_all


def call(c, *args):
    """Runs a command; errors come back as ('error', text) so replies can be compared."""
    try:
        return c.execute_command(*args)
    except redis.ResponseError as e:
        return ("error", str(e))


def both(r, oracle, *args):
    """The same command on both clients; the replies (or errors) must be equal."""
    a = call(r, *args)
    b = call(oracle, *args)
    assert a == b, "%r: tern %r != redis %r" % (args, a, b)
    return a


def supported(c, *args):
    """False when the server does not implement the command (yet)."""
    try:
        c.execute_command(*args)
        return True
    except redis.ResponseError as e:
        return "unknown command" not in str(e)


def raw_both(tern, oracle, *cmds, timeout=0.3):
    """Sends the same raw RESP commands to both servers (ports or server objects) and
    compares the reply bytes; HELLO's client ids legitimately differ and are dropped."""
    payload = encode_all(cmds)
    port = lambda s: getattr(s, "port", s)
    scrub = lambda b: re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"", b)
    a = scrub(raw_command(port(tern), payload, timeout))
    b = scrub(raw_command(port(oracle), payload, timeout))
    assert a == b, "%r:\ntern  %r\nredis %r" % (cmds, a, b)
    return a


def value_contents(c, key):
    """A key's whole value read back as comparable Python data (sets and hashes sorted);
    the type name for a type without a reader here."""
    t = c.type(key)
    if t == b"string":
        return c.get(key)
    if t == b"list":
        return c.lrange(key, 0, -1)
    if t == b"set":
        return sorted(c.smembers(key))
    if t == b"hash":
        return sorted(c.hgetall(key).items())
    if t == b"zset":
        return c.zrange(key, 0, -1, withscores=True)
    return t
