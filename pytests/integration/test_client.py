"""CLIENT subcommands, RESET and MONITOR, side by side with a real redis-server."""
import re

import pytest

from conftest import raw_command
from resp_wire import ValueConn


def fields(line):
    return [kv.split("=", 1)[0] for kv in line.strip().split(" ")]


def as_dict(line):
    return dict(kv.split("=", 1) for kv in line.strip().split(" "))


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def tern_knows(conn, name):
    return conn.val("COMMAND", "INFO", name)[0] is not None


# --- CLIENT LIST / INFO -------------------------------------------------------------

def test_client_list_fields_identical_to_redis(tern_server, redis_server):
    t, o = ValueConn(tern_server.port), ValueConn(redis_server.port)
    lt, lo = text(t.val("CLIENT", "LIST")), text(o.val("CLIENT", "LIST"))
    assert lt.endswith("\n") and lo.endswith("\n")
    ft = fields(lt.splitlines()[0])
    assert ft == fields(lo.splitlines()[0])
    assert ft == ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub",
                  "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem",
                  "tot-mem", "events", "cmd", "user", "redir", "resp"]
    it, io = text(t.val("CLIENT", "INFO")), text(o.val("CLIENT", "INFO"))
    assert fields(it) == fields(io)
    assert it.endswith("\n") and it.count("\n") == 1


def test_client_info_values(tern_server):
    t = ValueConn(tern_server.port)
    t.val("CLIENT", "SETNAME", "probe")
    t.val("SELECT", "3")
    d = as_dict(text(t.val("CLIENT", "INFO")))
    assert d["id"] == t.val("CLIENT", "ID")
    assert d["name"] == "probe"
    assert d["db"] == "3"
    assert d["flags"] == "N"
    assert d["cmd"] == "client|info"
    assert d["user"] == "default"
    assert d["resp"] == "2"
    assert d["multi"] == "-1"
    assert d["addr"] == "%s:%d" % t.sock.getsockname()
    assert d["laddr"] == "127.0.0.1:%d" % tern_server.port
    # Another connection sees this one in CLIENT LIST with its last command.
    o = ValueConn(tern_server.port)
    lines = [as_dict(x) for x in text(o.val("CLIENT", "LIST")).splitlines()]
    mine = [x for x in lines if x["id"] == d["id"]][0]
    assert mine["name"] == "probe" and mine["cmd"] == "client|id" and mine["db"] == "3"


def test_client_list_resp3_is_verbatim(tern_server, redis_server):
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port, 3)
        raw, _ = c.cmd("CLIENT", "INFO")
        assert raw.startswith(b"=") and raw[raw.index(b"\r\n") + 2:].startswith(b"txt:id=")
        raw, _ = c.cmd("CLIENT", "LIST", "ID", "999999")
        assert raw == b"=4\r\ntxt:\r\n"


def test_client_list_filters(tern_server):
    a, b = ValueConn(tern_server.port), ValueConn(tern_server.port)
    ida, idb = a.val("CLIENT", "ID"), b.val("CLIENT", "ID")
    out = text(a.val("CLIENT", "LIST", "ID", idb, ida, "999999"))
    assert [as_dict(x)["id"] for x in out.splitlines()] == [idb, ida]
    normal = text(a.val("CLIENT", "LIST", "TYPE", "normal"))
    ids = {as_dict(x)["id"] for x in normal.splitlines()}
    assert {ida, idb} <= ids
    for kind in ("master", "replica", "slave", "pubsub"):
        assert a.val("CLIENT", "LIST", "TYPE", kind) == b""


ERROR_CASES = [
    ["CLIENT", "ID", "x"], ["CLIENT", "SETNAME"], ["CLIENT", "SETNAME", "a", "b"], ["CLIENT", "SETNAME", "a b"],
    ["CLIENT", "SETNAME", "\xe9"], ["CLIENT", "SETNAME", "a\nb"], ["CLIENT", "GETNAME", "x"],
    ["CLIENT", "LIST", "TYPE", "foo"], ["CLIENT", "LIST", "ID"], ["CLIENT", "LIST", "ID", "abc"],
    ["CLIENT", "LIST", "ID", "1", "abc"], ["CLIENT", "LIST", "TYPE", "normal", "ID", "5"], ["CLIENT", "LIST", "foo"],
    ["CLIENT", "LIST", "TYPE"], ["CLIENT", "LIST", "ID", "5", "TYPE", "normal"], ["CLIENT", "INFO", "x"],
    ["CLIENT", "KILL"], ["CLIENT", "KILL", "1.2.3.4:5"], ["CLIENT", "KILL", "ID"], ["CLIENT", "KILL", "ID", "abc"],
    ["CLIENT", "KILL", "ID", "0"], ["CLIENT", "KILL", "ID", "-5"], ["CLIENT", "KILL", "ID", "1.5"],
    ["CLIENT", "KILL", "ID", "999999"], ["CLIENT", "KILL", "TYPE", "foo"], ["CLIENT", "KILL", "foo", "bar"],
    ["CLIENT", "KILL", "SKIPME", "maybe"], ["CLIENT", "KILL", "USER", "nouser"], ["CLIENT", "KILL", "ID", "1", "SKIPME"],
    ["CLIENT", "KILL", "MAXAGE", "10"], ["CLIENT", "KILL", "ADDR", "1.1.1.1:1", "ID", "999999"],
    ["CLIENT", "KILL", "LADDR", "1:1"], ["CLIENT", "KILL", "TYPE", "master"], ["CLIENT", "KILL", "TYPE", "pubsub"],
    ["CLIENT", "KILL", "TYPE", "slave"], ["CLIENT", "KILL", "ID", "999999", "ID", "999998"],
    ["CLIENT", "REPLY"], ["CLIENT", "REPLY", "foo"], ["CLIENT", "REPLY", "on", "off"],
    ["CLIENT", "PAUSE"], ["CLIENT", "PAUSE", "abc"], ["CLIENT", "PAUSE", "-1"], ["CLIENT", "PAUSE", "10", "foo"],
    ["CLIENT", "PAUSE", "10", "write", "extra"], ["CLIENT", "PAUSE", "99999999999999999999"],
    ["CLIENT", "UNPAUSE", "x"], ["CLIENT", "NO-EVICT"], ["CLIENT", "NO-EVICT", "maybe"], ["CLIENT", "NO-EVICT", "on", "x"],
    ["CLIENT", "SETINFO", "lib-name", "x"], ["CLIENT", "NO-TOUCH", "on"], ["CLIENT", "FOO"], ["CLIENT"],
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_client_errors_identical(tern_server, redis_server, protocol):
    t, o = ValueConn(tern_server.port, protocol), ValueConn(redis_server.port, protocol)
    for argv in ERROR_CASES:
        rt, ro = t.cmd(*argv)[0], o.cmd(*argv)[0]
        assert rt == ro, argv


def test_client_setname_getname(tern_server, redis_server):
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port)
        assert c.cmd("CLIENT", "GETNAME")[0] == b"$-1\r\n"
        assert c.val("CLIENT", "SETNAME", "my-conn") == "OK"
        assert c.val("CLIENT", "GETNAME") == b"my-conn"
        assert c.val("CLIENT", "SETNAME", "") == "OK"
        assert c.cmd("CLIENT", "GETNAME")[0] == b"$-1\r\n"
        c3 = ValueConn(port, 3)
        assert c3.cmd("CLIENT", "GETNAME")[0] == b"_\r\n"


def test_client_id_is_integer_and_unique(tern_server):
    a, b = ValueConn(tern_server.port), ValueConn(tern_server.port)
    ra, _ = a.cmd("CLIENT", "ID")
    assert re.match(rb"^:\d+\r\n$", ra)
    assert a.val("CLIENT", "ID") != b.val("CLIENT", "ID")


# --- CLIENT KILL --------------------------------------------------------------------

def test_client_kill_by_id_and_addr(tern_server):
    k = ValueConn(tern_server.port)
    v1, v2 = ValueConn(tern_server.port), ValueConn(tern_server.port)
    assert k.val("CLIENT", "KILL", "ID", v1.val("CLIENT", "ID")) == "1"
    assert v1.peer_closed()
    addr = "%s:%d" % v2.sock.getsockname()
    assert k.val("CLIENT", "KILL", addr) == "OK"
    assert v2.peer_closed()
    assert k.val("PING") == "PONG"


def test_client_kill_filters_combine(tern_server):
    k = ValueConn(tern_server.port)
    v = ValueConn(tern_server.port)
    vid = v.val("CLIENT", "ID")
    addr = "%s:%d" % v.sock.getsockname()
    # Both filters must match.
    assert k.val("CLIENT", "KILL", "ID", vid, "ADDR", "1.2.3.4:5") == "0"
    assert k.val("CLIENT", "KILL", "ID", vid, "TYPE", "pubsub") == "0"
    assert k.val("CLIENT", "KILL", "ID", vid, "USER", "default", "ADDR", addr,
                 "LADDR", "127.0.0.1:%d" % tern_server.port, "TYPE", "normal") == "1"
    assert v.peer_closed()


def test_client_kill_self(tern_server):
    k = ValueConn(tern_server.port)
    kid = k.val("CLIENT", "ID")
    # SKIPME yes (the default) spares the caller.
    assert k.val("CLIENT", "KILL", "ID", kid) == "0"
    assert k.val("CLIENT", "KILL", "ID", kid, "SKIPME", "no") == "1"
    assert k.peer_closed()
    me = ValueConn(tern_server.port)
    assert me.val("CLIENT", "KILL", "%s:%d" % me.sock.getsockname()) == "OK"
    assert me.peer_closed()


# --- CLIENT REPLY -------------------------------------------------------------------

REPLY_SEQUENCES = [
    b"CLIENT REPLY OFF\r\nRESET\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n",
    b"CLIENT REPLY SKIP\r\nRESET\r\nPING\r\n",
    b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING 1\r\nPING 2\r\n",
    b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING 1\r\nPING 2\r\n",
    b"CLIENT REPLY SKIP\r\nCLIENT REPLY OFF\r\nPING 1\r\nPING 2\r\nCLIENT REPLY ON\r\n",
    b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING 1\r\n",
    b"CLIENT REPLY OFF\r\nFOO\r\nCLIENT REPLY ON\r\nFOO\r\n",
    b"CLIENT REPLY SKIP\r\nFOO\r\nFOO\r\n",
    b"CLIENT REPLY SKIP\r\nGET\r\nECHO x\r\n",
    b"CLIENT REPLY OFF\r\nSET k v\r\nCLIENT REPLY ON\r\nGET k\r\n",
    b"CLIENT REPLY OFF\r\nQUIT\r\n",
    b"CLIENT REPLY ON\r\nPING\r\n",
]


@pytest.mark.parametrize("payload", REPLY_SEQUENCES)
def test_client_reply_modes_identical(tern_server, redis_server, payload):
    assert raw_command(tern_server.port, payload, 0.3) == raw_command(redis_server.port, payload, 0.3)


# --- CLIENT PAUSE -------------------------------------------------------------------

def test_client_pause_write_holds_writes_until_unpause(tern_server):
    ctl = ValueConn(tern_server.port)
    w = ValueConn(tern_server.port)
    try:
        assert ctl.val("CLIENT", "PAUSE", "100000", "WRITE") == "OK"
        assert w.val("GET", "paused-key") is None          # reads still run
        w.send("SET", "paused-key", "v")
        assert w.quiet(0.3)
    finally:
        assert ctl.val("CLIENT", "UNPAUSE") == "OK"
    assert w.read()[1] == "OK"
    assert w.val("GET", "paused-key") == b"v"


def test_client_pause_all_holds_every_command(tern_server):
    # PAUSE ALL also holds CLIENT UNPAUSE from other clients: let it run out.
    ctl = ValueConn(tern_server.port)
    w = ValueConn(tern_server.port)
    assert ctl.val("CLIENT", "PAUSE", "700") == "OK"
    w.send("PING")
    assert w.quiet(0.2)
    assert w.read()[1] == "PONG"
    assert ctl.val("PING") == "PONG"


def test_client_no_evict_flag(tern_server, redis_server):
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port)
        assert c.val("CLIENT", "NO-EVICT", "on") == "OK"
        assert as_dict(text(c.val("CLIENT", "INFO")))["flags"] == "e"
        assert c.val("CLIENT", "NO-EVICT", "OFF") == "OK"
        assert as_dict(text(c.val("CLIENT", "INFO")))["flags"] == "N"


def test_client_help_shape(tern_server):
    lines = ValueConn(tern_server.port).val("CLIENT", "HELP")
    assert lines[0] == "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    body = "\n".join(lines)
    for word in ["KILL", "LIST", "PAUSE", "REPLY", "SETNAME", "GETNAME", "NO-EVICT", "UNPAUSE", "HELP"]:
        assert word in body


# --- RESET --------------------------------------------------------------------------

def test_reset_restores_connection_state(tern_server, redis_server):
    results = []
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port)
        c.val("CLIENT", "SETNAME", "zz")
        c.val("SELECT", "2")
        c.val("CLIENT", "NO-EVICT", "on")
        c.val("HELLO", "3")
        raw, _ = c.cmd("RESET")
        info = as_dict(text(c.val("CLIENT", "INFO")))
        results.append((raw, c.cmd("CLIENT", "GETNAME")[0], info["db"], info["resp"], info["name"], info["flags"]))
    assert results[0] == results[1]
    assert results[0][0] == b"+RESET\r\n"


def test_reset_ends_monitor(tern_server):
    c = ValueConn(tern_server.port)
    assert c.val("MONITOR") == "OK"
    assert c.val("RESET") == "RESET"
    assert as_dict(text(c.val("CLIENT", "INFO")))["flags"] == "N"


# --- MONITOR ------------------------------------------------------------------------

LINE = re.compile(r"^\d+\.\d{6} \[(\d+) ([^\]]+)\] (.*)$")


def monitor_lines(port, commands):
    m = ValueConn(port)
    assert m.val("MONITOR") == "OK"
    d = ValueConn(port)
    daddr = "%s:%d" % d.sock.getsockname()
    for argv in commands:
        d.cmd(*argv)
    d.cmd("ECHO", "end-marker")
    out = []
    while True:
        raw, v = m.read()
        assert raw.startswith(b"+")
        mt = LINE.match(v)
        assert mt, v
        assert mt.group(2) == daddr
        out.append("[%s] %s" % (mt.group(1), mt.group(3)))
        if "end-marker" in v:
            return out


def test_monitor_format_matches_redis(tern_server, redis_server):
    probe = ValueConn(tern_server.port)
    cmds = [["SET", b"k\x00\"\\\n\t\x7f\xff \xc3\xa9", "v v"], ["GET", "k"], ["SELECT", "3"], ["PING"],
            ["ECHO", "a\r\nb"], ["CLIENT", "SETNAME", "watched"], ["HELLO", "2", "AUTH", "default", "secret"],
            ["CLIENT", "LIST"], ["NOSUCHCOMMAND", "x"], ["GET"], ["SELECT", "0"], ["DEL", "k"],
            ["COMMAND", "COUNT"], ["INFO", "server"]]
    cmds = [c for c in cmds if c[0] == "NOSUCHCOMMAND" or probe.val("COMMAND", "INFO", c[0])[0] is not None]
    assert monitor_lines(tern_server.port, cmds) == monitor_lines(redis_server.port, cmds)


def test_monitor_sees_its_own_commands_and_is_kept_from_keyspace(tern_server, redis_server):
    for port in (tern_server.port, redis_server.port):
        m = ValueConn(port)
        assert m.val("MONITOR") == "OK"
        assert m.val("PING") == "PONG"
        assert LINE.match(m.read()[1]).group(3) == '"PING"'
        assert m.cmd("GET", "a")[0] == b"-ERR Replica can't interact with the keyspace\r\n"
        m.send("MONITOR")           # already monitoring: no reply at all
        assert m.val("ECHO", "x") == b"x"
        assert LINE.match(m.read()[1]).group(3) == '"ECHO" "x"'
