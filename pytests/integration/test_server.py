"""INFO, TIME, LASTSAVE, SLOWLOG, LATENCY, SHUTDOWN, PING/ECHO — side by side with a real
redis-server where replies are deterministic, shape and format checks elsewhere."""
import os
import shutil
import socket
import subprocess
import re
import time

import pytest
import tempfile
import redis

from conftest import raw_command, start_tern, start_redis, tern_binary
from resp_wire import ValueConn


def pair(tern_server, redis_server, protocol=2):
    return ValueConn(tern_server.port, protocol), ValueConn(redis_server.port, protocol)


def sections(text):
    """INFO text -> [(section title, [(field, value)])]."""
    if isinstance(text, bytes):
        text = text.decode()
    if text.startswith("txt:"):
        text = text[4:]
    out = []
    for block in text.split("\r\n\r\n"):
        lines = [x for x in block.split("\r\n") if x]
        if not lines:
            continue
        assert lines[0].startswith("# "), lines[0]
        out.append((lines[0][2:], [tuple(x.split(":", 1)) for x in lines[1:]]))
    return out


def info_dict(conn, *section):
    return dict(kv for _, kvs in sections(conn.val("INFO", *section)) for kv in kvs)


def configurable(conn, name, value):
    """CONFIG SET when Tern has CONFIG; otherwise the test that needs it is skipped."""
    r = conn.val("CONFIG", "SET", name, value)
    if isinstance(r, tuple):
        pytest.skip("CONFIG SET %s not available: %s" % (name, r[1]))


# --- INFO ---------------------------------------------------------------------------

# Sections whose field *names* depend on what ran (per command/error) or on data.
DYNAMIC = {"Commandstats", "Errorstats", "Latencystats", "Keyspace"}


@pytest.mark.parametrize("args", [[], ["default"], ["all"], ["everything"], ["server", "clients"],
                                  ["CPU", "memory"], ["stats", "persistence", "replication", "cluster", "modules"]])
def test_info_sections_and_field_names_match_redis(tern_server, redis_server, args):
    t, o = pair(tern_server, redis_server)
    for c in (t, o):
        c.val("PING")
        c.val("GET", "nokey")
    st, so = sections(t.val("INFO", *args)), sections(o.val("INFO", *args))
    assert [s for s, _ in st] == [s for s, _ in so]
    for (name, ft), (_, fo) in zip(st, so):
        if name in DYNAMIC:
            continue
        assert [k for k, _ in ft] == [k for k, _ in fo], name


def test_info_framing(tern_server, redis_server):
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port)
        text = c.val("INFO").decode()
        assert text.startswith("# Server\r\n") and text.endswith("\r\n")
        assert "\r\n\r\n# Clients\r\n" in text
        assert "\n" not in text.replace("\r\n", "")
        raw, _ = ValueConn(port, 3).cmd("INFO", "server")
        assert raw.startswith(b"=") and b"\r\ntxt:# Server\r\n" in raw
    # Unknown sections give an empty string; known ones keep their fixed order.
    t, o = pair(tern_server, redis_server)
    assert t.cmd("INFO", "nonexistent")[0] == o.cmd("INFO", "nonexistent")[0] == b"$0\r\n\r\n"
    assert [s for s, _ in sections(t.val("INFO", "cpu", "server", "nope"))] == ["Server", "CPU"]


def test_info_server_values(tern_server):
    t = ValueConn(tern_server.port)
    d = info_dict(t, "server")
    assert d["redis_version"] == "7.0.15"
    assert d["redis_mode"] == "standalone"
    assert d["tcp_port"] == str(tern_server.port)
    assert d["process_id"] == str(tern_server.proc.pid)
    assert re.fullmatch(r"[0-9a-f]{40}", d["run_id"])
    assert d["executable"] == os.path.abspath(tern_binary()) or d["executable"].endswith("tern-server")
    assert d["config_file"] == ""
    assert d["arch_bits"] == "64"
    assert int(d["uptime_in_seconds"]) >= 0 and d["uptime_in_days"] == "0"
    assert d["hz"] == d["configured_hz"] == "10"
    assert abs(int(d["server_time_usec"]) / 1e6 - time.time()) < 60
    assert d["run_id"] == info_dict(t, "server")["run_id"]


def test_info_clients_stats_and_keyspace(tern_server):
    t = ValueConn(tern_server.port)
    t.val("FLUSHALL")
    others = [ValueConn(tern_server.port) for _ in range(3)]
    for c in others:
        c.val("PING")                     # the server has accepted them
    before = info_dict(t, "stats")
    assert int(info_dict(t, "clients")["connected_clients"]) >= 4
    t.val("SET", "hit", "1")
    t.val("GET", "hit")
    t.val("GET", "hit")
    t.val("GET", "miss")
    after = info_dict(t, "stats")
    assert int(after["keyspace_hits"]) - int(before["keyspace_hits"]) == 2
    assert int(after["keyspace_misses"]) - int(before["keyspace_misses"]) == 1
    # INFO stats itself, INFO clients, SET, 3 GETs: 6 commands in between.
    assert int(after["total_commands_processed"]) - int(before["total_commands_processed"]) == 6
    fresh = ValueConn(tern_server.port)
    fresh.val("PING")
    assert int(info_dict(t, "stats")["total_connections_received"]) - int(after["total_connections_received"]) == 1
    assert re.fullmatch(r"\d+", after["instantaneous_ops_per_sec"])
    assert re.fullmatch(r"\d+\.\d\d", after["instantaneous_input_kbps"])
    t.val("SET", "other", "x")
    t.val("SELECT", "3")
    t.val("SET", "k3", "v")
    t.val("SELECT", "0")
    ks = info_dict(t, "keyspace")
    assert ks == {"db0": "keys=2,expires=0,avg_ttl=0", "db3": "keys=1,expires=0,avg_ttl=0"}
    for c in others:
        c.close()


def test_info_keyspace_expires_like_redis(tern_server, redis_server):
    t, o = pair(tern_server, redis_server)
    for c in (t, o):
        c.val("FLUSHALL")
        c.val("SET", "a", "1", "EX", "1000")
        c.val("SET", "b", "1")
    kt, ko = info_dict(t, "keyspace"), info_dict(o, "keyspace")
    assert kt.keys() == ko.keys() == {"db0"}
    strip = lambda s: re.sub(r",avg_ttl=\d+", "", s)
    assert strip(kt["db0"]) == strip(ko["db0"]) == "keys=2,expires=1"


def test_info_commandstats_and_errorstats(tern_server, redis_server):
    t, o = pair(tern_server, redis_server)
    for c in (t, o):
        c.val("CONFIG", "RESETSTAT")
    bt = info_dict(t, "commandstats", "errorstats")
    for c in (t, o):
        for _ in range(3):
            c.val("PING")
        c.cmd("GET")                      # rejected: wrong arity
        c.cmd("SELECT", "99")             # failed: runs and errors
        c.cmd("NOSUCHCOMMAND")
    at, ao = info_dict(t, "commandstats", "errorstats"), info_dict(o, "commandstats", "errorstats")
    pattern = r"calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=\d+,failed_calls=\d+"
    for d in (at, ao):
        for k in ("cmdstat_ping", "cmdstat_get", "cmdstat_select"):
            assert re.fullmatch(pattern, d[k]), d[k]

    def num(d, key, field):
        if key not in d:
            return 0
        return int(dict(x.split("=") for x in d[key].split(","))[field])

    assert num(at, "cmdstat_ping", "calls") - num(bt, "cmdstat_ping", "calls") == 3
    assert num(at, "cmdstat_get", "rejected_calls") - num(bt, "cmdstat_get", "rejected_calls") == 1
    assert num(at, "cmdstat_select", "failed_calls") - num(bt, "cmdstat_select", "failed_calls") == 1
    assert num(at, "errorstat_ERR", "count") - num(bt, "errorstat_ERR", "count") == 3


def test_info_latencystats_format(tern_server, redis_server):
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port)
        c.val("PING")
        d = info_dict(c, "latencystats")
        assert re.fullmatch(r"p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}", d["latency_percentiles_usec_ping"])
        assert "latency_percentiles_usec_ping" not in info_dict(c)      # not a default section
        assert "latency_percentiles_usec_ping" in info_dict(c, "everything")


def test_info_other_sections_values(tern_server):
    t = ValueConn(tern_server.port)
    rep = info_dict(t, "replication")
    assert rep["role"] == "master" and rep["connected_slaves"] == "0"
    assert re.fullmatch(r"[0-9a-f]{40}", rep["master_replid"])
    assert rep["master_replid2"] == "0" * 40
    mem = info_dict(t, "memory")
    assert int(mem["used_memory"]) > 0 and int(mem["used_memory_rss"]) > 0
    assert re.fullmatch(r"\d+(\.\d\d[KMGTP])?B?", mem["used_memory_human"])
    assert int(mem["used_memory_peak"]) >= int(mem["used_memory"]) // 2
    assert mem["maxmemory_policy"] == "noeviction"
    per = info_dict(t, "persistence")
    assert per["loading"] == "0" and per["rdb_last_bgsave_status"] == "ok" and per["aof_enabled"] == "0"
    cpu = info_dict(t, "cpu")
    assert all(re.fullmatch(r"\d+\.\d{6}", v) for v in cpu.values())
    assert info_dict(t, "cluster") == {"cluster_enabled": "0"}


# --- TIME / LASTSAVE / PING / ECHO ------------------------------------------------------

def test_time_and_lastsave(tern_server):
    for proto in (2, 3):
        t = ValueConn(tern_server.port, proto)
        raw, v = t.cmd("TIME")
        assert re.fullmatch(rb"\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n", raw)
        assert abs(int(v[0]) - time.time()) < 60 and 0 <= int(v[1]) < 1_000_000
        raw, v = t.cmd("LASTSAVE")
        assert raw.startswith(b":") and int(v) <= int(time.time()) + 1


@pytest.mark.parametrize("payload", [
    b"PING\r\n", b"PING hello\r\n", b"PING a b\r\n", b"ECHO\r\n", b"ECHO x\r\n", b"ECHO a b\r\n",
    b"HELLO 3\r\nPING\r\nPING x\r\nECHO y\r\n", b"TIME x\r\n", b"LASTSAVE x\r\n", b"INFO a b c\r\n",
])
def test_ping_echo_and_arity_identical(tern_server, redis_server, payload):
    if payload.startswith(b"HELLO"):
        # HELLO's reply carries the connection id: compare what follows it.
        rt = raw_command(tern_server.port, payload, 0.3)
        ro = raw_command(redis_server.port, payload, 0.3)
        assert rt[rt.index(b"*0\r\n") + 4:] == ro[ro.index(b"*0\r\n") + 4:]
        return
    rt = raw_command(tern_server.port, payload, 0.3)
    ro = raw_command(redis_server.port, payload, 0.3)
    if payload.startswith(b"INFO"):
        assert rt == ro == b"$0\r\n\r\n"
        return
    assert rt == ro


# --- SLOWLOG ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["GET", "abc"], ["GET", "-2"], ["GET", "1.5"], ["GET", "99999999999999999999"],
                                  ["GET", "1", "2"], ["LEN", "x"], ["RESET", "x"], [], ["FOO"], ["GET", "0"]])
def test_slowlog_errors_identical(tern_server, redis_server, args):
    t, o = pair(tern_server, redis_server)
    assert t.cmd("SLOWLOG", *args)[0] == o.cmd("SLOWLOG", *args)[0]


def test_slowlog_basic_replies(tern_server):
    t = ValueConn(tern_server.port)
    assert t.val("SLOWLOG", "RESET") == "OK"
    assert t.cmd("SLOWLOG", "LEN")[0] == b":0\r\n"
    assert t.cmd("SLOWLOG", "GET")[0] == b"*0\r\n"
    lines = t.val("SLOWLOG", "HELP")
    assert lines[0] == "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"


def slowlog_entries(port, name):
    c = ValueConn(port)
    configurable(c, "slowlog-log-slower-than", "0")
    try:
        c.val("SLOWLOG", "RESET")
        c.val("CLIENT", "SETNAME", name)
        c.val("SET", "k", "x" * 200)
        c.val("DEL", "a", *[str(i) for i in range(40)])
        c.val("ECHO", "done")
        entries = c.val("SLOWLOG", "GET", "3")
        total = c.val("SLOWLOG", "GET", "-1")
        length = c.val("SLOWLOG", "LEN")
    finally:
        c.val("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    return c, entries, total, length


def test_slowlog_entries_like_redis(tern_server, redis_server):
    ct, et, tt, lt = slowlog_entries(tern_server.port, "slow-t")
    co, eo, to, lo = slowlog_entries(redis_server.port, "slow-o")
    assert lt == lo and len(tt) == len(to)
    for e in (et, eo):
        assert [len(x) for x in e] == [6, 6, 6]
        assert e[0][0] > e[1][0] > e[2][0]                  # newest first, increasing ids
        assert all(isinstance(x[2], str) for x in e)
    # Arguments (shortened the same way), client name.
    assert [x[3] for x in et] == [x[3] for x in eo]
    assert et[1][3][-1] == b"... (11 more arguments)"
    assert et[2][3][2] == b"x" * 128 + b"... (72 more bytes)"
    assert [x[5] for x in et] == [b"slow-t"] * 3 and [x[5] for x in eo] == [b"slow-o"] * 3
    assert et[0][4] == ("%s:%d" % ct.sock.getsockname()).encode()


def test_slowlog_max_len(tern_server):
    c = ValueConn(tern_server.port)
    configurable(c, "slowlog-log-slower-than", "0")
    try:
        c.val("CONFIG", "SET", "slowlog-max-len", "5")
        for i in range(20):
            c.val("PING")
        assert c.val("SLOWLOG", "LEN") == "5"
        assert len(c.val("SLOWLOG", "GET", "-1")) == 5
    finally:
        c.val("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        c.val("CONFIG", "SET", "slowlog-max-len", "128")


# --- LATENCY ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["FOO"], ["HISTORY"], ["HISTORY", "a", "b"], ["LATEST", "x"], ["DOCTOR", "x"],
                                  ["GRAPH"], ["GRAPH", "no-such-event"], ["HISTORY", "no-such-event"],
                                  ["RESET", "no-such-event", "other"], ["HISTOGRAM", "no-such-command"]])
def test_latency_replies_identical(tern_server, redis_server, args):
    for proto in (2, 3):
        t, o = pair(tern_server, redis_server, proto)
        assert t.cmd("LATENCY", *args)[0] == o.cmd("LATENCY", *args)[0], args


def test_latency_latest_and_reset_when_idle(tern_server):
    t = ValueConn(tern_server.port)
    t.val("LATENCY", "RESET")
    assert t.cmd("LATENCY", "LATEST")[0] == b"*0\r\n"
    raw, v = ValueConn(tern_server.port, 3).cmd("LATENCY", "DOCTOR")
    assert raw.startswith(b"=") and v.startswith(b"txt:")


def test_latency_histogram_shape_like_redis(tern_server, redis_server):
    t, o = pair(tern_server, redis_server, 3)
    for c in (t, o):
        c.val("CONFIG", "RESETSTAT")
        for _ in range(5):
            c.val("ECHO", "x")
    ht, ho = t.val("LATENCY", "HISTOGRAM", "echo", "client"), o.val("LATENCY", "HISTOGRAM", "echo", "client")
    assert b"echo" in ht and b"echo" in ho
    for h in (ht, ho):
        e = h[b"echo"]
        assert list(e) == [b"calls", b"histogram_usec"]
        buckets = e[b"histogram_usec"]
        counts = [int(v) for v in buckets.values()]
        assert counts == sorted(counts) and counts[-1] == int(e[b"calls"])
        assert all(int(k) in (1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816)
                   for k in buckets)
    # A container name stands for its subcommands.
    assert all(k.startswith(b"client|") for k in ht if k != b"echo")
    assert b"client|id" not in ht or True


def test_latency_monitor_records_events(tern_server):
    c = ValueConn(tern_server.port)
    configurable(c, "latency-monitor-threshold", "1")
    if c.val("COMMAND", "INFO", "debug")[0] is None:
        c.val("CONFIG", "SET", "latency-monitor-threshold", "0")
        pytest.skip("DEBUG not available")
    try:
        c.val("LATENCY", "RESET")
        c.val("DEBUG", "SLEEP", "0.02")
        latest = c.val("LATENCY", "LATEST")
        assert latest[0][0] == b"command" and int(latest[0][2]) >= 20 and int(latest[0][3]) >= 20
        hist = c.val("LATENCY", "HISTORY", "command")
        assert len(hist) == 1 and int(hist[0][1]) >= 20
        assert c.val("LATENCY", "GRAPH", "command").startswith(b"command - high")
        assert c.val("LATENCY", "RESET", "command") == "1"
    finally:
        c.val("CONFIG", "SET", "latency-monitor-threshold", "0")


# --- SHUTDOWN -----------------------------------------------------------------------

@pytest.mark.parametrize("args", [["foo"], ["abort", "nosave"], ["save", "nosave"], ["abort"], ["abort", "abort"],
                                  ["now", "now", "foo"], ["ABORT", "FORCE"]])
def test_shutdown_errors_identical(tern_server, redis_server, args):
    t, o = pair(tern_server, redis_server)
    assert t.cmd("SHUTDOWN", *args)[0] == o.cmd("SHUTDOWN", *args)[0]


@pytest.mark.parametrize("args", [[], ["NOSAVE"], ["SAVE", "NOW", "FORCE"]])
def test_shutdown_stops_the_server(args):
    s = start_tern()
    try:
        c = ValueConn(s.port)
        assert c.val("PING") == "PONG"
        c.send("SHUTDOWN", *args)
        assert c.peer_closed(5)                # no reply: the connection just closes
        assert s.proc.wait(10) == 0
    finally:
        s.stop()


def keepalive_timer(port):
    """The kernel's timer column for the server side of an established connection on port."""
    out = subprocess.run(["ss", "-tno", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True).stdout
    return [line.split("timer:")[1] for line in out.splitlines() if "timer:" in line]


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_tcp_keepalive_is_applied_to_client_sockets():
    """tcp-keepalive N turns on TCP keepalive probes after N idle seconds, as Redis does."""
    for start in (start_tern, start_redis):
        s = start(["--tcp-keepalive", "7"])
        try:
            sock = socket.create_connection(("127.0.0.1", s.port))
            sock.sendall(b"PING\r\n")
            assert sock.recv(100) == b"+PONG\r\n"
            timers = keepalive_timer(s.port)
            assert timers and timers[0].startswith("(keepalive,"), (start.__name__, timers)
            sock.close()
        finally:
            s.stop()
    s = start_tern(["--tcp-keepalive", "0"])
    try:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"PING\r\n")
        sock.recv(100)
        assert not any(t.startswith("(keepalive,") for t in keepalive_timer(s.port))
        sock.close()
    finally:
        s.stop()


@pytest.mark.parametrize("long_path", [False, True])
def test_unixsocket_listener(tmp_path, long_path):
    """unixsocket / unixsocketperm: clients connect through the socket file (flag U, addr
    and laddr are the path), the file gets the permissions, and SHUTDOWN removes it. A long
    path shows cut to 77 bytes, as Redis's 78-byte address buffer cuts it."""
    seen = {}
    for start in (start_tern, start_redis):
        # pytest's tmp_path alone can pass 77 bytes: a short base under /tmp.
        d = os.path.join(tempfile.mkdtemp(prefix="tern-us-"), "d" * 60 if long_path else "")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "%s.sock" % start.__name__)
        s = start(["--unixsocket", path, "--unixsocketperm", "700", "--enable-debug-command", "local"])
        try:
            assert os.stat(path).st_mode & 0o777 == 0o700
            c = redis.Redis(unix_socket_path=path)
            assert c.ping()
            me = c.client_list()[0]
            shown = (path + ":0")[:77]
            assert (me["addr"], me["laddr"], me["flags"]) == (shown, shown, "U")
            assert long_path == (shown != path + ":0")
            # A unix socket client is local: DEBUG with enable-debug-command local.
            assert c.execute_command("DEBUG", "SLEEP", "0") in (b"OK", "OK", True)
            seen[start.__name__] = c.config_get("unixsocket*")
            try:
                c.shutdown(nosave=True)
            except redis.ConnectionError:
                pass
            s.proc.wait(timeout=10)
            assert not os.path.exists(path)
        finally:
            s.stop()
    tern, red = seen["start_tern"], seen["start_redis"]
    assert tern["unixsocketperm"] == red["unixsocketperm"] == "700"


def test_info_latencystats_settings_like_redis(tern_server, redis_server):
    """latency-tracking-info-percentiles picks the percentiles and their labels (p0 is the
    bottom of its slot), latency-tracking no empties the section; values are real."""
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port)
        try:
            c.val("CONFIG", "SET", "latency-tracking-info-percentiles", "0 12.5 99.99 100 0.0000001")
            c.val("CONFIG", "RESETSTAT")
            for _ in range(5):
                c.val("SET", "k", "v")
            d = info_dict(c, "latencystats")
            m = re.fullmatch(r"p0=([\d.]+),p12\.5=([\d.]+),p99\.99=([\d.]+),p100=([\d.]+),p0=([\d.]+)",
                             d["latency_percentiles_usec_set"])
            assert m, d["latency_percentiles_usec_set"]
            p0, p12, p9999, p100, p0b = map(float, m.groups())
            assert 0 < p0 <= p12 <= p9999 <= p100 < 100000
            assert p0b >= p0
            c.val("DEBUG", "SLEEP", "0.05")
            slept = float(info_dict(c, "latencystats")["latency_percentiles_usec_debug"].split(",")[3].split("=")[1])
            assert 45000 <= slept <= 500000, slept
            c.val("CONFIG", "SET", "latency-tracking", "no")
            assert info_dict(c, "latencystats") == {}
            c.val("SET", "k", "v")
            c.val("CONFIG", "SET", "latency-tracking", "yes")
            d = info_dict(c, "latencystats")
            assert "latency_percentiles_usec_set" in d
        finally:
            c.val("CONFIG", "SET", "latency-tracking", "yes")
            c.val("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")


def test_info_latencystats_blocking_commands_like_redis(tern_server, redis_server):
    """A served BLPOP gets its own latency sample (at unblock); one that times out gets none."""
    import threading
    for port in (tern_server.port, redis_server.port):
        c = ValueConn(port)
        c.val("CONFIG", "RESETSTAT")
        c.val("DEL", "bl")
        c.val("BLPOP", "nolist", "0.05")
        assert "latency_percentiles_usec_blpop" not in info_dict(c, "latencystats")
        other = ValueConn(port)
        t = threading.Timer(0.2, lambda: other.val("RPUSH", "bl", "x"))
        t.start()
        c.val("BLPOP", "bl", "5")
        t.join()
        assert "latency_percentiles_usec_blpop" in info_dict(c, "latencystats")
        assert "calls=2," in info_dict(c, "commandstats")["cmdstat_blpop"]
