"""Configuration: redis.conf grammar, startup errors, CONFIG GET/SET/RESETSTAT/REWRITE,
AUTH/requirepass, protected mode. Most checks run the same thing against a real
redis-server 7.0 and compare."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import ServerProcess, free_port, raw_command, tern_binary, wait_port
from resp_wire import encode, encode_all

REDIS = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(REDIS is None, reason="redis-server not installed")
STOCK_CONF = "/etc/redis/redis.conf"


def both(args=(), config_text=None):
    """A Tern and a Redis started the same way (each in its own temp dir)."""
    t = ServerProcess(tern_binary(), list(args), config_text)
    r = ServerProcess(REDIS, list(args), config_text)
    return t, r


def cget(c, name):
    """One CONFIG GET value as text, whatever the client's decoding."""
    for k, v in c.config_get(name).items():
        k = k.decode() if isinstance(k, bytes) else k
        if k.lower() == name.lower():
            return v.decode() if isinstance(v, bytes) else v
    return None


def stop(*servers):
    for s in servers:
        s.stop()


def run_startup(binary, argv, conf=None, stdin=b"", files=None):
    """Runs a server expected to stop at startup; returns (exit code, stdout, stderr)."""
    d = tempfile.mkdtemp(prefix="tern-cfg-")
    try:
        for name, text in (files or {}).items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        args = [binary]
        if conf is not None:
            with open(os.path.join(d, "t.conf"), "w") as f:
                f.write(conf)
            args.append("t.conf")
        args += list(argv)
        p = subprocess.run(args, cwd=d, input=stdin, capture_output=True, timeout=20)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def strip_log_prefix(text):
    """Log lines carry pid and time: keep the message after the level mark."""
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 5)
        out.append(parts[5] if len(parts) == 6 and ":" in parts[0] else line)
    return out


# ---------------------------------------------------------------------------
# CONFIG GET


@needs_redis
def test_config_get_all_names_and_defaults_equal_redis():
    t, r = both()
    try:
        tc, rc = t.client(decode_responses=True), r.client(decode_responses=True)
        tv, rv = tc.config_get("*"), rc.config_get("*")
        assert set(tv) == set(rv)
        assert len(tv) == len(rv) > 180
        for k in rv:
            if k in ("port", "dir"):
                continue
            assert tv[k] == rv[k], k
        assert tv["dir"] == t.dir and tv["port"] == str(t.port)
        # Hidden directives answer exact names only.
        for name in ("key-load-delay", "rdb-key-save-delay", "loading-process-events-interval-bytes",
                     "watchdog-period", "use-exit-on-panic", "lua-enable-deprecated-api"):
            assert tc.config_get(name) == rc.config_get(name)
            assert name not in tv
        assert tc.config_get("key-load*") == {}
    finally:
        stop(t, r)


def test_config_get_patterns(r, oracle):
    for pats in (["max*"], ["MAXMEMORY", "maxmemory"], ["maxmemory", "maxmemor[y]"], ["SLAVEOF"],
                 ["*ziplist*"], ["hash-max-*", "zset*", "nomatch"], ["h?"], ["[hz]z"], ["*-max-listpack-*"],
                 [""], ["*-port", "tls*"], ["[Z-a]axmemory"], ["[\\M]axmemory"], ["[\\m]axmemory"],
                 ["[A-N]AXMEMORY"], ["*a*a*a*a*a*a*a*a*x"], ["m*-*-*-*s"]):
        assert r.config_get(*pats) == oracle.config_get(*pats), pats


def test_config_get_raw_replies(tern_server, redis_server):
    for cmd in (b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$7\r\nSLAVEOF\r\n",
                b"*4\r\n$6\r\nconfig\r\n$3\r\nget\r\n$9\r\nMAXMEMORY\r\n$9\r\nmaxmemory\r\n",
                b"*3\r\n$6\r\nconfig\r\n$3\r\nget\r\n$7\r\nnothing\r\n",
                b"*2\r\n$6\r\nconfig\r\n$3\r\nget\r\n",
                b"*2\r\n$6\r\nconfig\r\n$4\r\nhelp\r\n",
                b"*2\r\n$6\r\nconfig\r\n$3\r\nfoo\r\n"):
        assert raw_command(tern_server.port, cmd, 0.3) == raw_command(redis_server.port, cmd, 0.3), cmd


def test_config_get_resp3(tern_server, redis_server):
    t = tern_server.client(protocol=3, decode_responses=True)
    o = redis_server.client(protocol=3, decode_responses=True)
    assert t.config_get("maxmemory*") == o.config_get("maxmemory*")
    assert t.execute_command("CONFIG", "GET", "hz", "timeout") == o.execute_command("CONFIG", "GET", "hz", "timeout")


# ---------------------------------------------------------------------------
# CONFIG SET

SET_PROBES = ["abc", "-9223372036854775809", "-9223372036854775808", "9223372036854775807", "-1", "0", "1k",
              "1.5", "yes", "NO", "", "1gb", "18446744073709551616", "10%", "101%", "AKE", "normal 1 2 3",
              "replica 1mb 2kb 0 pubsub 1 1 1", "0 200 800", "0  1 2", "50 99", "now force", "save nosave",
              "3600 1 300 10", "1 0", "0 1", "LOCAL", "Always", "relative", "{title} x", "a_b", "a/b", "-5",
              "500", "1000", "007", "5 ", "Kx$"]
SKIP_SET = {"port", "bind", "dir", "dbfilename", "maxclients", "tls-port", "tls-cluster", "tls-replication",
            "requirepass", "appendonly", "save", "enable-debug-command"}


def test_config_set_every_directive_like_redis(r, oracle):
    """Every directive, many values: same accept/reject, same error text, same value read back."""
    names = sorted(oracle.config_get("*"))
    assert sorted(r.config_get("*")) == names
    for k in names:
        if k in SKIP_SET:
            continue
        before_t, before_o = r.config_get(k)[k], oracle.config_get(k)[k]
        for v in SET_PROBES:
            got = []
            for c in (r, oracle):
                try:
                    c.config_set(k, v)
                    got.append(("ok", c.config_get(k)[k]))
                except redis.ResponseError as e:
                    got.append(("err", str(e)))
            assert got[0] == got[1], (k, v)
        for c, before in ((r, before_t), (oracle, before_o)):
            try:
                c.config_set(k, before)
            except redis.ResponseError:
                pass


def errors_of(c, *args):
    try:
        return c.execute_command(*args)
    except redis.ResponseError as e:
        return "ERR:" + str(e)


def test_config_set_errors_and_atomicity(r, oracle):
    r.config_set("save", "")
    cases = [
        ("CONFIG", "SET", "foo", "bar"),
        ("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"),
        ("CONFIG", "SET", "maxmemory", "1", "MAXMEMORY", "2"),
        ("CONFIG", "SET", "maxmemory", "1mb", "foo", "1"),
        ("CONFIG", "SET", "maxmemory", "1mb", "hz", "x"),
        ("CONFIG", "SET", "databases", "4"),
        ("CONFIG", "SET", "daemonize", "no", "foo", "x"),
        ("CONFIG", "SET", "foo", "x", "daemonize", "no"),
        ("CONFIG", "SET", "dir", "/tmp"),
        ("CONFIG", "SET", "dbfilename", "x.rdb"),
        ("CONFIG", "SET", "replicaof", "no one"),
        ("CONFIG", "SET", "slave-read-only", "no", "replica-read-only", "yes"),
        ("CONFIG", "SET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "1", "hz"),
        ("CONFIG", "SET", "hz", "20", "timeout", "5", "maxmemory-policy", "allkeys-lru"),
        ("CONFIG", "SET", "save", "100"),
        ("CONFIG", "SET", "save", "100 10 200 20"),
        ("CONFIG", "SET", "save", ""),
    ]
    for args in cases:
        assert errors_of(r, *args) == errors_of(oracle, *args), args
        for name in ("maxmemory", "hz", "timeout", "maxmemory-policy", "replica-read-only", "save"):
            assert r.config_get(name) == oracle.config_get(name), (args, name)
    for c in (r, oracle):
        c.config_set("hz", 10)
        c.config_set("timeout", 0)
        c.config_set("maxmemory", 0)
        c.config_set("maxmemory-policy", "noeviction")
        c.config_set("save", "")


@needs_redis
def test_protected_configs_local():
    t, r = both(["--enable-protected-configs", "local"])
    try:
        for s in (t, r):
            s.c = s.client(decode_responses=True)
        for args in (("dir", "/nonexistent/x"), ("dbfilename", "a/b"), ("dbfilename", "x.rdb")):
            assert errors_of(t.c, "CONFIG", "SET", *args) == errors_of(r.c, "CONFIG", "SET", *args), args
        for s in (t, r):
            assert s.c.config_set("dir", s.dir)
            assert cget(s.c, "dir") == s.dir
    finally:
        stop(t, r)


def test_config_set_hz_clamps(r, oracle):
    for v in ("0", "501", "100000", "7"):
        r.config_set("hz", v)
        oracle.config_set("hz", v)
        assert r.config_get("hz") == oracle.config_get("hz")
    r.config_set("hz", 10)
    oracle.config_set("hz", 10)


def test_config_set_bind_failure_keeps_listening(r, oracle, tern_server):
    for v in ("1.1.1.1", "127.0.0.1 127.0.0.1"):
        assert errors_of(r, "CONFIG", "SET", "bind", v) == errors_of(oracle, "CONFIG", "SET", "bind", v)
    assert cget(r, "bind") == "127.0.0.1"
    c = tern_server.client()
    assert c.ping()
    c.close()


def test_config_set_port_rebinds():
    s = ServerProcess(tern_binary(), [])
    try:
        c = s.client()
        new = free_port()
        assert c.config_set("port", new)
        wait_port(new, s.proc)
        n = redis.Redis(port=new)
        assert cget(n, "port") == str(new)
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=s.port, socket_connect_timeout=1).ping()
        # Back to the first port, then a busy port is refused and nothing changes.
        assert n.config_set("port", s.port)
        wait_port(s.port, s.proc)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        b = redis.Redis(port=s.port)
        with pytest.raises(redis.ResponseError, match="Unable to listen on this port"):
            b.config_set("port", busy.getsockname()[1])
        busy.close()
        assert b.ping()
        assert cget(b, "port") == str(s.port)
    finally:
        s.stop()


def test_proto_max_bulk_len_applies(r, oracle, tern_server, redis_server):
    payload = b"*2\r\n$4\r\nECHO\r\n$2000000\r\n"
    for c in (r, oracle):
        c.config_set("proto-max-bulk-len", "1mb")
    try:
        assert raw_command(tern_server.port, payload, 0.5) == raw_command(redis_server.port, payload, 0.5)
    finally:
        for c in (r, oracle):
            c.config_set("proto-max-bulk-len", "512mb")


def test_notify_keyspace_events_bits(r):
    r.config_set("notify-keyspace-events", "KEA")
    assert cget(r, "notify-keyspace-events") == "AKE"
    r.config_set("notify-keyspace-events", "")


def test_config_help_and_resetstat(r, oracle):
    assert r.execute_command("CONFIG", "HELP") == oracle.execute_command("CONFIG", "HELP")
    r.set("a", 1)
    assert r.config_resetstat() is True
    assert errors_of(r, "CONFIG", "RESETSTAT", "x") == errors_of(oracle, "CONFIG", "RESETSTAT", "x")
    assert errors_of(r, "CONFIG", "REWRITE") == errors_of(oracle, "CONFIG", "REWRITE")


def test_timeout_closes_idle_clients():
    s = ServerProcess(tern_binary(), ["--timeout", "1", "--hz", "50"])
    try:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.settimeout(15)
        assert sock.recv(10) == b""  # closed by the server while idle
        sock.close()
        c = s.client()
        assert c.ping()
    finally:
        s.stop()


# ---------------------------------------------------------------------------
# AUTH / requirepass / protected mode


@needs_redis
def test_requirepass_and_auth_like_redis():
    t, r = both(["--requirepass", "s3cret"])
    try:
        script = [("PING",), ("AUTH", "wrong"), ("PING",), ("AUTH", "default", "wrong"), ("AUTH", "bob", "s3cret"),
                  ("AUTH", "a", "b", "c"), ("AUTH",), ("GET", "k"), ("AUTH", "s3cret"), ("PING",),
                  ("AUTH", "default", "s3cret"), ("AUTH", "wrong"), ("PING",), ("CONFIG", "GET", "requirepass")]
        payload = encode_all(script)
        got = [raw_command(s.port, payload, 0.5) for s in (t, r)]
        assert got[0] == got[1]
        assert got[0].startswith(b"-NOAUTH Authentication required.\r\n-WRONGPASS")
        # Big unauthenticated requests are refused like Redis does.
        big = b"*20\r\n" + b"$1\r\na\r\n" * 20
        assert raw_command(t.port, big, 0.5) == raw_command(r.port, big, 0.5)
        # Removing the password: new connections need no AUTH, and AUTH <pass> errors.
        payload = encode("AUTH", "s3cret") + encode("CONFIG", "SET", "requirepass", "") + encode("PING")
        assert raw_command(t.port, payload, 0.5) == raw_command(r.port, payload, 0.5)
        payload = encode("PING") + encode("AUTH", "x") + encode("AUTH", "default", "any") + encode("AUTH", "other", "any")
        got = [raw_command(s.port, payload, 0.5) for s in (t, r)]
        assert got[0] == got[1]
        assert got[0].startswith(b"+PONG\r\n-ERR AUTH <password> called without any password")
    finally:
        stop(t, r)


def test_noauth_raw(tern_server, redis_server):
    tc, rc = tern_server.client(), redis_server.client()
    try:
        for c in (tc, rc):
            c.config_set("requirepass", "pw")
        payload = b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$4\r\nPING\r\n"
        assert raw_command(tern_server.port, payload, 0.3) == raw_command(redis_server.port, payload, 0.3)
    finally:
        for c in (tc, rc):
            c.execute_command("AUTH", "pw")
            c.config_set("requirepass", "")


def non_loopback_ip():
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))
        ip = s.getsockname()[0]
        s.close()
        return None if ip.startswith("127.") else ip
    except OSError:
        return None


@needs_redis
def test_protected_mode_denies_non_loopback():
    ip = non_loopback_ip()
    if not ip:
        pytest.skip("no non-loopback address")
    t, r = both(["--bind", "*"])
    try:
        got = []
        for s in (t, r):
            sock = socket.create_connection((ip, s.port))
            sock.settimeout(3)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            got.append(data)
            sock.close()
        assert got[0] == got[1]
        assert got[0].startswith(b"-DENIED Redis is running in protected mode")
        # With protected mode off, the same address is served.
        t.client().config_set("protected-mode", "no")
        assert redis.Redis(host=ip, port=t.port).ping()
    finally:
        stop(t, r)


# ---------------------------------------------------------------------------
# startup: config files, includes, units, quoting, command line


@needs_redis
@pytest.mark.skipif(not os.path.exists(STOCK_CONF), reason="no stock redis.conf")
def test_stock_redis_conf_loads_unchanged():
    text = open(STOCK_CONF).read()
    # The stock file daemonizes and writes to /var: override that on the command line.
    args = ["--daemonize", "no", "--pidfile", "", "--logfile", ""]
    t, r = both(args, text)
    try:
        tv = t.client(decode_responses=True).config_get("*")
        rv = r.client(decode_responses=True).config_get("*")
        assert set(tv) == set(rv)
        for k in rv:
            if k not in ("port", "dir"):
                assert tv[k] == rv[k], k
        assert tv["bind"] == "127.0.0.1"
    finally:
        stop(t, r)


@pytest.mark.skipif(not os.path.exists(STOCK_CONF), reason="no stock redis.conf")
def test_upstream_style_conf_loads():
    """The upstream default file differs from Debian's in a few lines."""
    text = open(STOCK_CONF).read()
    text = text.replace("daemonize yes", "daemonize no")
    text = text.replace("pidfile /run/redis/redis-server.pid", "pidfile redis_test.pid")
    text = text.replace("logfile /var/log/redis/redis-server.log", 'logfile ""')
    text = text.replace("dir /var/lib/redis", "dir ./")
    s = ServerProcess(tern_binary(), [], text)
    try:
        c = s.client(decode_responses=True)
        assert c.ping()
        assert c.config_get("pidfile")["pidfile"] == "redis_test.pid"
        assert os.path.exists(os.path.join(s.dir, "redis_test.pid"))
        assert c.config_get("dir")["dir"] == s.dir
    finally:
        s.stop()


UNITS_CONF = """
# units, quoting, case
MAXMEMORY 1GB
hash-max-ziplist-value 1kb
stream-node-max-bytes 8K
client-query-buffer-limit 2Mb
auto-aof-rewrite-min-size 3g
requirepass "pa ss\\"word\\x21"
masterauth 'it\\'s'
notify-keyspace-events "Ex"
save 900 1
save 300 10
  hz   20
slave-read-only no
client-output-buffer-limit replica 1mb 512kb 30
oom-score-adj-values -100 0 100
latency-tracking-info-percentiles 50 99.99
shutdown-on-sigterm nosave now
maxmemory-clients 5%
lua-time-limit 1000
"""


@needs_redis
def test_units_and_quoting_like_redis():
    t, r = both([], UNITS_CONF)
    try:
        tv = t.client(decode_responses=True, password='pa ss"word!').config_get("*")
        rv = r.client(decode_responses=True, password='pa ss"word!').config_get("*")
        for k in rv:
            if k not in ("port", "dir"):
                assert tv[k] == rv[k], k
        assert tv["maxmemory"] == str(1 << 30)
        assert tv["masterauth"] == "it's"
        assert tv["save"] == "900 1 300 10"
    finally:
        stop(t, r)


INCLUDE_FILES = {
    "inc/a.conf": "hz 15\n",
    "inc/b.conf": "maxmemory 5mb\ninclude inc/nested.conf\n",
    "inc/nested.conf": "timeout 7\n",
}


def test_include_relative_to_cwd_and_glob():
    d = tempfile.mkdtemp(prefix="tern-inc-")
    try:
        for name, text in INCLUDE_FILES.items():
            os.makedirs(os.path.join(d, "inc"), exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        conf = os.path.join(d, "main.conf")
        with open(conf, "w") as f:
            f.write("include inc/*.conf\nhz 25\n")
        port = free_port()
        log = open(os.path.join(d, "out.log"), "w")
        p = subprocess.Popen([tern_binary(), conf, "--port", str(port), "--bind", "127.0.0.1"],
                             cwd=d, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, p)
            c = redis.Redis(port=port, decode_responses=True)
            assert c.config_get("hz") == {"hz": "25"}
            assert c.config_get("maxmemory") == {"maxmemory": str(5 << 20)}
            assert c.config_get("timeout") == {"timeout": "7"}
        finally:
            p.terminate()
            p.wait(10)
            log.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


BAD_CONFIGS = [
    "foo bar", "port abc", "port 70000", "port 1 2", "maxmemory 1zb", 'save "a', "port 'a", 'port "a"b',
    "include a b", "include", "rename-command", "rename-command nosuch foo", "rename-command get set",
    "user", "user alice on badrule", "user alice on >p badrule2 ~*", "sentinel monitor x 127.0.0.1 6379 2",
    "Port abc", "dbfilename a/b", "appendfilename a/b", "appenddirname a/b", "databases 0", "save 900",
    "save 0 1", "save 900 1 300", 'save "" 1', "slaveof 127.0.0.1", "slaveof 127.0.0.1 abc",
    "replicaof 127.0.0.1 70000", "requirepass a b", "notify-keyspace-events q",
    "client-output-buffer-limit master 1 2 3", "client-output-buffer-limit normal 1 2",
    "client-output-buffer-limit normal 0 0 -1", "oom-score-adj-values 1 2", "oom-score-adj-values 1 2 x",
    "hz -1", "maxclients 0", "maxmemory-clients 200%", "port abc # comment", "port\tabc",
    "latency-tracking-info-percentiles 200", "latency-tracking-info-percentiles x",
    "proc-title-template {foo}", "cluster-announce-hostname a_b", "activedefrag yes",
    "unixsocketperm 800", "unixsocketperm -1", "enable-debug-command yes yes", "port 0x10",
    "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "hash-max-zipmap-entries 5", "vm-enabled no",
    "shutdown-on-sigint save nosave", "shutdown-on-sigint later", "loglevel foo", "maxmemory-policy foo",
    "list-max-ziplist-entries 5 6", "dir /nonexistent/dir", "logfile /nonexistent/dir/x.log",
    "\n\n   # comment\n\nhz 10\nport 1 2", "port 1\r\nhz x\r\n", "include /nonexistent/x.conf",
    "include inc/bad.conf", "hz 5\ninclude inc/bad.conf\nhz 6",
    # Accepted by Redis (the server then stops on --port 0: "not listening anywhere").
    "save ", "save", 'save ""', "client-output-buffer-limit", 'client-output-buffer-limit ""',
    'latency-tracking-info-percentiles ""', 'unixsocketperm ""', 'appendfilename ""',
]


@needs_redis
@pytest.mark.parametrize("conf", BAD_CONFIGS)
def test_bad_config_lines_match_redis(conf):
    files = {"inc/bad.conf": "# bad\nport abc\n"}
    tr = run_startup(tern_binary(), ["--port", "0"], conf, files=files)
    rr = run_startup(REDIS, ["--port", "0"], conf, files=files)
    assert tr[0] == rr[0] == 1
    assert tr[2] == rr[2]
    if "FATAL" not in rr[2]:
        # "can't open config file" is a log line on stdout.
        assert strip_log_prefix(tr[1])[-1] == strip_log_prefix(rr[1])[-1]


def redis_directive_names():
    """Every directive CONFIG GET * shows on the real server."""
    r = ServerProcess(REDIS, [])
    try:
        return sorted(r.client(decode_responses=True).config_get("*"))
    finally:
        r.stop()


@needs_redis
def test_every_directive_without_value_or_empty_matches_redis():
    """Each directive given no value in a file (`name`) and an empty one as an argument
    (`--name ""`): the same accept/reject and error text as redis-server. An accepted line
    ends in "Configured to not listen anywhere" on both (`--port 0`), so nothing keeps running."""
    from concurrent.futures import ThreadPoolExecutor
    cases = []
    for name in redis_directive_names():
        if name in ("port", "unixsocket", "bind"):
            continue    # these decide whether the server listens at all: covered by BAD_CONFIGS
        cases.append((name, ["--port", "0"], name + "\n"))
        cases.append((name, ["--" + name, "", "--port", "0"], None))

    def run(case):
        name, argv, conf = case
        t = run_startup(tern_binary(), argv, conf)
        r = run_startup(REDIS, argv, conf)
        return case, (t[0], t[2]), (r[0], r[2])

    with ThreadPoolExecutor(max_workers=3) as pool:
        diffs = [(c, t, r) for c, t, r in pool.map(run, cases) if t != r]
    assert not diffs, "\n".join("%r: tern %r redis %r" % d for d in diffs[:20])


BAD_ARGS = [
    ["--port", "abc"], ["--port", "70000"], ["--maxmemory", "1 zb"], ["--save", "--port", "abc"],
    ["--port", "--foo", "x"], ["--port", "7", "8"], ["--port"], ["--foo"], ["--save", "--foo"],
    ["--bind", "1.2.3.4", "-::1", "--port", "abc"], ["-x"], ["--port 1 2"], ["--hz", "0", "--port", "a b"],
]


@needs_redis
@pytest.mark.parametrize("argv", BAD_ARGS)
def test_bad_command_line_matches_redis(argv):
    tr = run_startup(tern_binary(), argv)
    rr = run_startup(REDIS, argv)
    assert tr[0] == rr[0] == 1
    assert tr[2] == rr[2]


@needs_redis
@pytest.mark.parametrize("argv,conf", [
    (["t.conf", "extra", "--port", "1"], "hz 5\n"),
    (["t.conf", "--port", "abc"], "port 7000\n"),
    (["t.conf", "-", "--port", "abc"], "port 7000\n"),
    (["--port", "abc", "t.conf"], "port 7000\n"),
])
def test_command_line_with_file_matches_redis(argv, conf):
    # argv starts with the file name itself here, so pass the file via `files`.
    files = {"t.conf": conf}
    tr = run_startup(tern_binary(), argv, files=files)
    rr = run_startup(REDIS, argv, files=files)
    assert tr[0] == rr[0] == 1
    assert tr[2] == rr[2]


@needs_redis
@pytest.mark.parametrize("argv,stdin", [
    (["-", "--port", "abc"], b"hz 5\n"),
    (["--port", "abc", "-"], b"hz 5"),
    (["-"], b"hz x"),
])
def test_stdin_config_matches_redis(argv, stdin):
    tr = run_startup(tern_binary(), argv, stdin=stdin)
    rr = run_startup(REDIS, argv, stdin=stdin)
    assert tr[0] == rr[0] == 1
    assert tr[2] == rr[2]
    assert strip_log_prefix(tr[1]) == strip_log_prefix(rr[1]) == ["# Reading config from stdin"]


def test_stdin_config_is_applied():
    port = free_port()
    d = tempfile.mkdtemp(prefix="tern-stdin-")
    p = subprocess.Popen([tern_binary(), "-", "--port", str(port), "--bind", "127.0.0.1"], cwd=d,
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.stdin.write(b"maxmemory 2mb\nhz 33\n")
        p.stdin.close()
        wait_port(port, p)
        c = redis.Redis(port=port, decode_responses=True)
        assert c.config_get("maxmemory") == {"maxmemory": str(2 << 20)}
        assert c.config_get("hz") == {"hz": "33"}
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def test_version_and_help():
    rc, out, err = run_startup(tern_binary(), ["-v"])
    assert rc == 0 and "v=7.0.15" in out
    rc, out, err = run_startup(tern_binary(), ["--version"])
    assert rc == 0 and "v=7.0.15" in out
    rc, out, err = run_startup(tern_binary(), ["-h"])
    assert rc == 1 and err.startswith("Usage:")
    rc, out, err = run_startup(tern_binary(), ["--help"])
    assert rc == 1 and err.startswith("Usage:")


def test_unsupported_directives_are_noticed():
    s = ServerProcess(tern_binary(), ["--io-threads", "4", "--loadmodule", "/x/y.so"])
    try:
        out = s.output()
        assert "'io-threads'" in out and "not supported" in out
        assert "loadmodule /x/y.so" in out
        assert cget(s.client(), "io-threads") == "4"
    finally:
        s.stop()


def test_rename_command():
    s = ServerProcess(tern_binary(), [], 'rename-command get mycustomget\nrename-command del ""\n')
    try:
        c = s.client()
        c.set("k", "v")
        assert c.execute_command("MYCUSTOMGET", "k") == b"v"
        with pytest.raises(redis.ResponseError, match="(?i)unknown command 'get'"):
            c.get("k")
        with pytest.raises(redis.ResponseError, match="(?i)unknown command 'del'"):
            c.delete("k")
    finally:
        s.stop()


def test_databases_directive():
    s = ServerProcess(tern_binary(), ["--databases", "4"])
    try:
        c = s.client()
        assert c.execute_command("SELECT", 3)
        with pytest.raises(redis.ResponseError, match="DB index is out of range"):
            c.execute_command("SELECT", 4)
    finally:
        s.stop()


def test_logfile_loglevel_and_pidfile():
    d = tempfile.mkdtemp(prefix="tern-log-")
    try:
        port = free_port()
        logf, pidf = os.path.join(d, "t.log"), os.path.join(d, "t.pid")
        p = subprocess.Popen([tern_binary(), "--port", str(port), "--bind", "127.0.0.1", "--logfile", logf,
                              "--pidfile", pidf, "--loglevel", "verbose"], cwd=d,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_port(port, p)
            assert open(pidf).read().strip() == str(p.pid)
            deadline = time.time() + 20
            while "Ready to accept connections" not in open(logf).read() and time.time() < deadline:
                time.sleep(0.05)
            assert "Ready to accept connections" in open(logf).read()
            c = redis.Redis(port=port)
            assert cget(c, "loglevel") == "verbose"
            c.config_set("loglevel", "warning")
            assert cget(c, "loglevel") == "warning"
        finally:
            p.terminate()
            p.wait(10)
        assert p.stdout.read() == b""  # everything went to the log file
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_daemonize_writes_pidfile():
    d = tempfile.mkdtemp(prefix="tern-daemon-")
    port = free_port()
    pidf = os.path.join(d, "d.pid")
    try:
        rc = subprocess.run([tern_binary(), "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
                             "--pidfile", pidf, "--logfile", os.path.join(d, "d.log")], cwd=d, timeout=20).returncode
        assert rc == 0
        deadline = time.time() + 20
        while time.time() < deadline and not os.path.exists(pidf):
            time.sleep(0.05)
        pid = int(open(pidf).read())
        try:
            deadline = time.time() + 20
            while True:
                try:
                    assert redis.Redis(port=port).ping()
                    break
                except redis.ConnectionError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            os.kill(pid, 15)
            # Wait for it to go before the directory does: its final save (default save
            # points) would fail in a removed dir, and a failed save keeps it running.
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------
# CONFIG REWRITE

REWRITE_CONF = """# Header comment   
port 6379
hz 20

Hz 25
maxmemory 100mb
slave-read-only no
client-output-buffer-limit normal 1gb 0 0
client-output-buffer-limit pubsub 32mb 8mb 60
notify-keyspace-events ""
pidfile ""
save ""
# trailing comment
rename-command flushdb ""
"""

REWRITE_SETS = [("maxmemory", "2gb"), ("hz", "33"), ("notify-keyspace-events", "KEA"), ("save", "100 1 50 5"),
                ("client-output-buffer-limit", "replica 1gb 64mb 60"), ("masterauth", "m a"),
                ("timeout", "9"), ("replica-read-only", "yes"), ("list-max-listpack-size", "-3"),
                ("maxmemory-clients", "7%"), ("shutdown-on-sigint", "now nosave"), ("stream-node-max-bytes", "8192")]


def split_rewrite(text):
    lines = text.split("\n")
    if "# Generated by CONFIG REWRITE" in lines:
        i = lines.index("# Generated by CONFIG REWRITE")
        return lines[:i], sorted(lines[i + 1:])
    return lines, []


def normalize(lines, s):
    out = []
    for l in lines:
        if l.startswith("port ") or l.startswith("dir ") or l.startswith("bind "):
            continue
        out.append(l)
    return out


@needs_redis
def test_rewrite_matches_redis_and_reloads():
    t, r = both([], REWRITE_CONF)
    try:
        results = []
        for s in (t, r):
            c = s.client(decode_responses=True)
            for k, v in REWRITE_SETS:
                c.config_set(k, v)
            assert c.config_rewrite()
            text = open(os.path.join(s.dir, "test.conf")).read()
            head, tail = split_rewrite(text)
            results.append((normalize(head, s), normalize(tail, s)))
        assert results[0][0] == results[1][0]
        assert results[0][1] == results[1][1]
        # Rewrites are idempotent, and the file loads back (in Tern and in Redis) to
        # the same configuration.
        tc = t.client(decode_responses=True)
        before = tc.config_get("*")
        first = open(os.path.join(t.dir, "test.conf")).read()
        assert tc.config_rewrite()
        second = open(os.path.join(t.dir, "test.conf")).read()
        assert second == first + "\n"  # Redis adds one trailing blank line, then is stable
        assert tc.config_rewrite()
        assert open(os.path.join(t.dir, "test.conf")).read() == second
        for binary in (tern_binary(), REDIS):
            again = ServerProcess(binary, [], first.replace("port %d\n" % t.port, ""))
            try:
                after = again.client(decode_responses=True).config_get("*")
                for k in before:
                    if k not in ("port", "dir"):
                        assert after[k] == before[k], (binary, k)
            finally:
                again.stop()
    finally:
        stop(t, r)


@needs_redis
@pytest.mark.skipif(not os.path.exists(STOCK_CONF), reason="no stock redis.conf")
def test_rewrite_stock_conf_matches_redis():
    args = ["--daemonize", "no", "--pidfile", "", "--logfile", ""]
    t, r = both(args, open(STOCK_CONF).read())
    try:
        results = []
        for s in (t, r):
            c = s.client(decode_responses=True)
            c.config_set("maxmemory", "1gb", "appendfsync", "always", "tcp-keepalive", "60")
            assert c.config_rewrite()
            head, tail = split_rewrite(open(os.path.join(s.dir, "test.conf")).read())
            results.append((normalize(head, s), normalize(tail, s)))
        assert results[0] == results[1]
    finally:
        stop(t, r)


@needs_redis
@pytest.mark.parametrize("text", ["", "hz 12\n", "hz 12", "# only a comment\n\n\n", "save 1 1\nsave 2 2\nsave 3 3\n"])
def test_rewrite_small_files_like_redis(text):
    t, r = both([], text)
    try:
        results = []
        for s in (t, r):
            c = s.client(decode_responses=True)
            c.config_set("maxmemory", "3mb", "save", "10 1")
            assert c.config_rewrite()
            head, tail = split_rewrite(open(os.path.join(s.dir, "test.conf")).read())
            results.append((normalize(head, s), normalize(tail, s)))
        assert results[0] == results[1]
    finally:
        stop(t, r)


@needs_redis
def test_rewrite_of_missing_file_recreates_it():
    t, r = both([], "hz 12\n")
    try:
        results = []
        for s in (t, r):
            os.unlink(os.path.join(s.dir, "test.conf"))
            c = s.client(decode_responses=True)
            c.config_set("maxmemory", "3mb")
            assert c.config_rewrite()
            head, tail = split_rewrite(open(os.path.join(s.dir, "test.conf")).read())
            results.append((normalize(head, s), normalize(tail, s)))
        assert results[0] == results[1]
    finally:
        stop(t, r)
