"""COMMAND family: COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP — side by side
with a real redis-server. Tern registers only the commands it implements, so checks on a
particular command are skipped while Tern does not know it."""
import pytest

from resp_wire import ValueConn


class TaggedConn(ValueConn):
    """Maps as ("map", [(k, v), ...]) and sets as ("set", [...]): comparisons keep order."""
    map = staticmethod(lambda pairs: ("map", pairs))
    set = staticmethod(lambda items: ("set", items))


def pair(tern_server, redis_server, protocol=2):
    return TaggedConn(tern_server.port, protocol), TaggedConn(redis_server.port, protocol)


def tern_knows(conn, name):
    _, v = conn.cmd("COMMAND", "INFO", name)
    return v[0] is not None


def strip_prose(v):
    """Drops summary and history (prose) from a parsed COMMAND DOCS value."""
    if isinstance(v, tuple) and v[0] == "map":
        return ("map", [(k, strip_prose(x)) for k, x in v[1] if k not in (b"summary", b"history")])
    if isinstance(v, list):
        return [strip_prose(x) for x in v]
    return v


def docs_as_dict(v, protocol):
    """COMMAND DOCS reply -> {name: value} for either protocol."""
    if protocol == 3:
        return dict(v[1])
    return dict(zip(v[0::2], v[1::2]))


def resp2_docs_strip(v):
    """RESP2 docs are flat arrays of key/value pairs: drop summary/history pairs."""
    if isinstance(v, list) and len(v) % 2 == 0 and all(isinstance(k, bytes) for k in v[0::2]) and \
            any(k in (b"since", b"name", b"group") for k in v[0::2]):
        out = []
        for k, x in zip(v[0::2], v[1::2]):
            if k in (b"summary", b"history"):
                continue
            out += [k, resp2_docs_strip(x)]
        return out
    if isinstance(v, list):
        return [resp2_docs_strip(x) for x in v]
    return v


LEAF_COMMANDS = ["get", "set", "ping", "echo", "info", "time", "lastsave", "select", "hello", "reset",
                 "monitor", "shutdown", "client|list", "client|kill", "slowlog|get", "latency|latest",
                 "command|info", "command|getkeys", "del", "flushall"]


@pytest.mark.parametrize("protocol", [2, 3])
def test_command_info_matches_redis(tern_server, redis_server, protocol):
    t, o = pair(tern_server, redis_server, protocol)
    for name in LEAF_COMMANDS:
        if not tern_knows(t, name):
            continue
        rt, _ = t.cmd("COMMAND", "INFO", name)
        ro, _ = o.cmd("COMMAND", "INFO", name)
        assert rt == ro, name
    # Several names at once, an unknown one, and upper case.
    rt, vt = t.cmd("COMMAND", "INFO", "GET", "no-such-command", "Client|List")
    ro, vo = o.cmd("COMMAND", "INFO", "GET", "no-such-command", "Client|List")
    assert rt == ro
    assert vt[1] is None


@pytest.mark.parametrize("protocol", [2, 3])
def test_command_docs_match_redis_except_prose(tern_server, redis_server, protocol):
    t, o = pair(tern_server, redis_server, protocol)
    for name in LEAF_COMMANDS:
        if not tern_knows(t, name):
            continue
        _, vt = t.cmd("COMMAND", "DOCS", name)
        _, vo = o.cmd("COMMAND", "DOCS", name)
        dt, do = docs_as_dict(vt, protocol), docs_as_dict(vo, protocol)
        assert list(dt) == list(do) == [name.encode()]
        if protocol == 3:
            assert strip_prose(dt[name.encode()]) == strip_prose(do[name.encode()]), name
            tern_summary = dict(dt[name.encode()][1])[b"summary"]
            redis_summary = dict(do[name.encode()][1])[b"summary"]
        else:
            assert resp2_docs_strip(dt[name.encode()]) == resp2_docs_strip(do[name.encode()]), name
            flat = dt[name.encode()]
            tern_summary = dict(zip(flat[0::2], flat[1::2]))[b"summary"]
            flat = do[name.encode()]
            redis_summary = dict(zip(flat[0::2], flat[1::2]))[b"summary"]
        assert tern_summary and tern_summary != redis_summary, name
    # Unknown names are left out; no names at all gives every command.
    _, vt = t.cmd("COMMAND", "DOCS", "no-such-command")
    _, vo = o.cmd("COMMAND", "DOCS", "no-such-command")
    assert vt == vo


def test_command_docs_summary_key_is_bulk(tern_server):
    t = TaggedConn(tern_server.port, 3)
    raw, _ = t.cmd("COMMAND", "DOCS", "get")
    assert raw.startswith(b"%1\r\n$3\r\nget\r\n%")
    assert b"$7\r\nsummary\r\n$" in raw


def test_every_registered_command_has_a_summary(tern_server):
    t = TaggedConn(tern_server.port, 3)
    _, names = t.cmd("COMMAND", "LIST")
    _, docs = t.cmd("COMMAND", "DOCS", *names)
    d = dict(docs[1])
    for n in names:
        top, _, sub = n.partition(b"|")
        entry = dict(d[top][1])
        if sub:
            entry = dict(dict(entry[b"subcommands"][1])[n][1])
        assert entry.get(b"summary"), n


def test_command_count_equals_registered(tern_server):
    t = TaggedConn(tern_server.port)
    _, names = t.cmd("COMMAND", "LIST")
    top = [n for n in names if b"|" not in n]
    assert len(set(top)) == len(top)
    assert t.cmd("COMMAND", "COUNT")[1] == str(len(top))
    assert len(t.cmd("COMMAND")[1]) == len(top)
    assert len(t.cmd("COMMAND", "INFO")[1]) == len(top)
    _, docs = t.cmd("COMMAND", "DOCS")
    assert len(docs) == 2 * len(top)


def test_command_reply_lists_only_registered_subcommands(tern_server):
    t = TaggedConn(tern_server.port)
    infos = {i[0]: i for i in t.cmd("COMMAND")[1]}
    info = infos[b"client"]
    subs = sorted(s[0] for s in info[9])
    listed = sorted(n for n in t.cmd("COMMAND", "LIST")[1] if n.startswith(b"client|"))
    assert subs == listed
    assert b"client|list" in subs
    assert b"client|setinfo" not in subs


@pytest.mark.parametrize("args", [
    [], ["foo"], ["filterby"], ["filterby", "foo", "bar"], ["filterby", "pattern"],
    ["filterby", "pattern", "cl*", "x"], ["filterby", "aclcat", "nonexist"], ["filterby", "module", "foo"],
    ["FILTERBY", "PATTERN", "CLIENT|L*"], ["filterby", "pattern", "c?ient|[a-j]*"],
    # nocase glob: ranges are swapped before lowering ([Z-a] is empty), escapes in classes
    # keep their case.
    ["filterby", "pattern", "[Z-a]et"], ["filterby", "pattern", "[\\G]et"], ["filterby", "pattern", "[\\g]et"],
    ["filterby", "pattern", "[A-H]E?"], ["filterby", "pattern", "\\GET"],
])
def test_command_list_filters(tern_server, redis_server, args):
    t, o = pair(tern_server, redis_server)
    _, vt = t.cmd("COMMAND", "LIST", *args)
    _, vo = o.cmd("COMMAND", "LIST", *args)
    if isinstance(vo, tuple) or isinstance(vt, tuple):
        assert vt == vo
        return
    # Tern knows a subset of the commands: what it lists must be what Redis lists,
    # restricted to the commands Tern registers.
    known = set(t.cmd("COMMAND", "LIST")[1])
    assert sorted(vt) == sorted(x for x in vo if x in known)


def test_command_list_aclcat(tern_server, redis_server):
    t, o = pair(tern_server, redis_server)
    known = set(t.cmd("COMMAND", "LIST")[1])
    every = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
             "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
             "connection", "transaction", "scripting"]
    for cat in every + ["ADMIN", "SortedSet", "@read", "nosuch", ""]:
        _, vt = t.cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", cat)
        _, vo = o.cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", cat)
        assert sorted(vt) == sorted(x for x in vo if x in known), cat


GETKEYS_CASES = [
    "get a", "set a b", "set a b get", "del a b c", "mset a 1 b", "mget a b c", "rename a b",
    "lmove a b left right", "blpop a b 0", "zunionstore d 2 a b weights 1 2", "zunionstore d 5 a b",
    "zunionstore d 1.0 a", "eval s 0", "eval s 2 a b c", "eval s 3 a", "lmpop 1 a left", "lmpop 0 a left",
    "xread streams a b 1", "xread count 1 streams a", "georadius k 1 2 3 m store s storedist t",
    "sort k store x store y", "sort k get store by", "sort_ro k by x", "migrate h p k 0 5",
    "migrate h p '' 0 5 keys a b", "migrate h p k 0 5 keys a", "bitfield k get u8 0",
    "bitfield k incrby u8 0 1", "object encoding k", "memory usage k", "ping x", "config get x",
    "client list", "ssubscribe ch", "set a", "get a b", "object encoding", "foo a", "client x",
    "echo x", "flushall", "dbsize",
]


def split(case):
    return [b"" if w == "''" else w.encode() for w in case.split()]


@pytest.mark.parametrize("sub", ["GETKEYS", "GETKEYSANDFLAGS"])
@pytest.mark.parametrize("protocol", [2, 3])
def test_getkeys_matches_redis(tern_server, redis_server, sub, protocol):
    t, o = pair(tern_server, redis_server, protocol)
    for case in GETKEYS_CASES:
        argv = split(case)
        name = argv[0].decode()
        if name not in ("foo", "client") and not tern_knows(t, name):
            continue
        rt, _ = t.cmd("COMMAND", sub, *argv)
        ro, _ = o.cmd("COMMAND", sub, *argv)
        assert rt == ro, case


def test_getkeys_arity_errors(tern_server, redis_server):
    t, o = pair(tern_server, redis_server)
    for argv in [["COMMAND", "GETKEYS"], ["COMMAND", "GETKEYS", "get"], ["COMMAND", "GETKEYSANDFLAGS", "ping"]]:
        assert t.cmd(*argv)[0] == o.cmd(*argv)[0]


def test_command_subcommand_errors(tern_server, redis_server):
    t, o = pair(tern_server, redis_server)
    for argv in [["COMMAND", "COUNT", "x"], ["COMMAND", "NOPE"], ["COMMAND", "HELP", "x"]]:
        assert t.cmd(*argv)[0] == o.cmd(*argv)[0], argv


def test_command_help_shape(tern_server):
    lines = TaggedConn(tern_server.port).cmd("COMMAND", "HELP")[1]
    # Status lines, framed as Redis frames HELP replies.
    assert lines[0] == "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert all(isinstance(x, str) for x in lines)
    text = "\n".join(lines)
    for word in ["COUNT", "GETKEYS", "GETKEYSANDFLAGS", "INFO", "LIST", "DOCS", "HELP"]:
        assert word in text
