"""The append only file side by side with redis-server 7.0.15: the multi-part layout
(manifest text, file names, incr bytes for the same commands), loading in both directions
with equal DEBUG DIGEST, the pre-7.0 single-file upgrade, torn tails and corrupt middles,
BGREWRITEAOF under writes, CONFIG SET appendonly at runtime, INFO aof_* fields, AOF write
errors (a full disk made with RLIMIT_FSIZE: MISCONF and recovery, or exit with always), and
crash safety with appendfsync always (SIGKILL at random moments)."""
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import free_port, raw_command, start_redis, start_tern, tern_binary
from redis.backoff import NoBackoff
from redis.retry import Retry

AOFDIR = "appendonlydir"


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="tern-aof-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start_in(kind, directory, *args):
    base = ["--dir", directory, "--save", "", "--appendonly", "yes", *args]
    if kind == "tern":
        return start_tern(base)
    return start_redis(base)


def log_of(directory):
    with open(os.path.join(directory, "server.log"), errors="replace") as f:
        return f.read()


def start_logged(kind, directory, *args):
    return start_in(kind, directory, "--logfile", os.path.join(directory, "server.log"), *args)


def run_expecting_failure(kind, directory, *args, timeout=20):
    """Starts a server that must refuse to start; returns (exit code, its log)."""
    exe = tern_binary() if kind == "tern" else shutil.which("redis-server")
    logf = os.path.join(directory, "fail.log")
    if os.path.exists(logf):
        os.unlink(logf)
    p = subprocess.run([exe, "--port", str(free_port()), "--bind", "127.0.0.1", "--dir", directory,
                        "--save", "", "--appendonly", "yes", "--logfile", logf, *args],
                       cwd=directory, timeout=timeout, capture_output=True)
    with open(logf, errors="replace") as f:
        return p.returncode, f.read()


def aof_files(directory):
    return sorted(os.listdir(os.path.join(directory, AOFDIR)))


def read(directory, name):
    with open(os.path.join(directory, AOFDIR, name), "rb") as f:
        return f.read()


def manifest(directory):
    return read(directory, "appendonly.aof.manifest").decode()


def wait_rewrite(c, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = c.info("persistence")
        if info["aof_rewrite_in_progress"] == 0 and info["aof_rewrite_scheduled"] == 0:
            return info
        time.sleep(0.05)
    raise AssertionError("rewrite did not finish")


def normalize_times(b):
    """Absolute ms times near now (SET EX -> PXAT, EXPIRE -> PEXPIREAT) become T."""
    now = int(time.time() * 1000)

    def sub(m):
        v = int(m.group(1))
        return b"$13\r\nT\r\n" if abs(v - now) < 3_600_000_000 else m.group(0)
    return re.sub(rb"\$13\r\n(\d{13})\r\n", sub, b)


def populate(c):
    p = c.pipeline(transaction=False)
    p.set("s:int", 12345)
    p.set("s:big", "x" * 500)
    p.set("s:rand", os.urandom(200))
    p.set("s:ttl", "v", px=3_600_000)
    p.rpush("l:small", *[str(i) for i in range(10)])
    p.rpush("l:large", *[("e%d" % i) * 10 for i in range(300)])
    p.sadd("set:int", *range(20))
    p.sadd("set:str", *["m%d" % i for i in range(130)])
    p.hset("h:small", mapping={"f%d" % i: "v%d" % i for i in range(10)})
    p.hset("h:large", mapping={"f%d" % i: "v%d" % i for i in range(200)})
    p.zadd("z:small", {"a%d" % i: i * 1.5 for i in range(10)})
    p.zadd("z:large", {"b%d" % i: i / 3 for i in range(200)})
    p.zadd("z:inf", {"p": float("inf"), "n": float("-inf")})
    p.expire("h:large", 5000)
    p.execute()
    c.execute_command("SELECT", 2)
    c.set("db2:key", "two")
    c.rpush("db2:list", "a", "b")
    c.execute_command("SELECT", 0)


def more_writes(c):
    c.set("after", "1", ex=1000)
    c.incr("counter")
    c.lpush("l:small", "new")
    c.hdel("h:small", "f1")
    c.zincrby("z:small", 2.5, "a3")
    c.execute_command("SELECT", 3)
    c.set("db3", "x")
    c.execute_command("SELECT", 0)


def shutdown_nosave(s):
    try:
        s.client(retry=Retry(NoBackoff(), 0)).execute_command("SHUTDOWN", "NOSAVE")
    except redis.ConnectionError:
        pass
    s.proc.wait(10)


def digest(c):
    # DEBUG answers during a load (it has the loading flag) with the digest of what is loaded
    # so far: wait for the end of a startup load first (redis-server under load was caught).
    deadline = time.time() + 60
    while c.info("persistence")["loading"] == 1:
        assert time.time() < deadline
        time.sleep(0.02)
    return c.execute_command("DEBUG", "DIGEST")


# --- layout, bytes ---------------------------------------------------------------------

SEQUENCE = [
    ("SET", "a", "1"),
    ("SET", "b", "2", "EX", "100"),
    ("EXPIRE", "a", "1000"),
    ("SELECT", "3"),
    ("RPUSH", "l", "x", "y", "z"),
    ("MULTI",), ("INCR", "n"), ("SADD", "s", "m"), ("EXEC",),
    ("SELECT", "0"),
    ("HSET", "h", "f", "v"),
    ("DEL", "a"),
    ("GETEX", "b", "PX", "5000"),
]


def run_sequence(port):
    c = redis.Redis(host="127.0.0.1", port=port, single_connection_client=True)
    for cmd in SEQUENCE:
        c.execute_command(*cmd)
    c.close()


def test_layout_and_incr_bytes_match_redis(workdir):
    dirs = {}
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        os.mkdir(d)
        s = start_logged(kind, d)
        try:
            run_sequence(s.port)
            dirs[kind] = d
        finally:
            shutdown_nosave(s)
            s.stop()
    t, r = dirs["tern"], dirs["redis"]
    assert aof_files(t) == aof_files(r) == ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof",
                                             "appendonly.aof.manifest"]
    assert manifest(t) == manifest(r) == \
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    assert normalize_times(read(t, "appendonly.aof.1.incr.aof")) == normalize_times(read(r, "appendonly.aof.1.incr.aof"))
    for kind, d in dirs.items():
        assert "Creating AOF base file appendonly.aof.1.base.rdb on server start" in log_of(d), kind
        assert "Creating AOF incr file appendonly.aof.1.incr.aof on server start" in log_of(d), kind


def test_timestamp_annotations(workdir):
    s = start_logged("tern", workdir, "--aof-timestamp-enabled", "yes")
    try:
        c = s.client()
        before = int(time.time())
        c.set("k", "v")
        data = read(workdir, "appendonly.aof.1.incr.aof")
        m = re.match(rb"#TS:(\d+)\r\n\*2\r\n\$6\r\nSELECT\r\n", data)
        assert m and before <= int(m.group(1)) <= int(time.time())
        c.execute_command("DEBUG", "LOADAOF")
        assert c.get("k") == b"v"
    finally:
        s.stop()


# --- loading in both directions ---------------------------------------------------------

@pytest.mark.parametrize("preamble", ["yes", "no"])
@pytest.mark.parametrize("direction", ["redis->tern", "tern->redis"])
def test_aof_dir_loads_in_the_other_server(workdir, preamble, direction):
    src_kind, dst_kind = direction.split("->")
    src = os.path.join(workdir, "src")
    dst = os.path.join(workdir, "dst")
    os.mkdir(src)
    os.mkdir(dst)
    s = start_logged(src_kind, src, "--aof-use-rdb-preamble", preamble, "--appendfsync", "always")
    try:
        c = s.client()
        populate(c)
        c.execute_command("BGREWRITEAOF")
        wait_rewrite(c)
        more_writes(c)
        want = digest(c)
        shutdown_nosave(s)
    finally:
        s.stop()
    names = aof_files(src)
    assert ("appendonly.aof.2.base.%s" % ("rdb" if preamble == "yes" else "aof")) in names
    if preamble == "no":
        assert not read(src, names[0]).startswith(b"REDIS")
    shutil.copytree(os.path.join(src, AOFDIR), os.path.join(dst, AOFDIR))
    d = start_logged(dst_kind, dst)
    try:
        assert digest(d.client()) == want
        text = log_of(dst)
        assert "DB loaded from base file appendonly.aof.2.base." in text
        assert "DB loaded from incr file appendonly.aof.2.incr.aof" in text
        assert "DB loaded from append only file" in text
    finally:
        d.stop()


def test_old_single_file_upgrade(workdir):
    cmds = (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n"
            b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n")
    dirs = {}
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        os.mkdir(d)
        with open(os.path.join(d, "appendonly.aof"), "wb") as f:
            f.write(cmds)
        s = start_logged(kind, d)
        try:
            c = s.client()
            assert c.get("k") == b"v" and c.lrange("l", 0, -1) == [b"a"]
            dirs[kind] = (digest(c), aof_files(d), manifest(d), os.path.exists(os.path.join(d, "appendonly.aof")))
            assert "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)." in log_of(d)
            assert "DB loaded from base file appendonly.aof:" in log_of(d)
        finally:
            s.stop()
    assert dirs["tern"] == dirs["redis"]
    assert dirs["tern"][2] == "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"


# --- damaged files ----------------------------------------------------------------------

def make_aof(workdir, kind="tern"):
    """An AOF dir with a few keys; returns the incr file path and the digest."""
    s = start_logged(kind, workdir, "--appendfsync", "always")
    try:
        c = s.client()
        c.set("a", "1")
        c.rpush("l", "x", "y")
        want = digest(c)
    finally:
        s.stop()
    return os.path.join(workdir, AOFDIR, "appendonly.aof.1.incr.aof"), want


TORN = b"*3\r\n$3\r\nset\r\n$1\r\nz\r\n$3\r\nab"


def test_torn_tail_loaded_with_aof_load_truncated_yes(workdir):
    incr, want = make_aof(workdir)
    good = os.path.getsize(incr)
    with open(incr, "ab") as f:
        f.write(TORN)
    os.unlink(os.path.join(workdir, "server.log"))
    s = start_logged("tern", workdir)
    try:
        assert digest(s.client()) == want
        text = log_of(workdir)
        assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!" in text
        assert "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset %d !!!" % good in text
        assert "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled" in text
    finally:
        s.stop()
    assert os.path.getsize(incr) == good


def test_torn_tail_redis_agrees(workdir):
    """The same torn file in redis-server: loaded, trimmed at the same offset."""
    incr, want = make_aof(workdir, "redis")
    good = os.path.getsize(incr)
    with open(incr, "ab") as f:
        f.write(TORN)
    s = start_logged("redis", workdir)
    try:
        assert digest(s.client()) == want
        assert "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset %d !!!" % good in log_of(workdir)
    finally:
        s.stop()


def test_unfinished_multi_is_a_torn_tail(workdir):
    incr, want = make_aof(workdir)
    good = os.path.getsize(incr)
    with open(incr, "ab") as f:
        f.write(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nq\r\n$1\r\n1\r\n")
    s = start_logged("tern", workdir)
    try:
        c = s.client()
        assert c.get("q") is None and digest(c) == want
        assert "Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof" in log_of(workdir)
    finally:
        s.stop()
    assert os.path.getsize(incr) == good


def test_tail_torn_inside_multi_is_cut_at_multi(workdir):
    """A write torn inside a transaction: the cut goes back to MULTI, so later appends do
    not end up inside an open transaction (found by the SIGKILL test)."""
    incr, want = make_aof(workdir)
    good = os.path.getsize(incr)
    with open(incr, "ab") as f:
        f.write(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nq\r\n$1\r\n1\r\n*2\r\n$4\r\nin")
    s = start_logged("tern", workdir)
    try:
        c = s.client()
        assert digest(c) == want
        c.set("after", "1")
    finally:
        s.stop()
    assert open(incr, "rb").read()[good:].startswith(b"*2\r\n$6\r\nSELECT")
    s = start_logged("tern", workdir)
    try:
        assert s.client().get("after") == b"1"
    finally:
        s.stop()


def test_torn_tail_refused_with_aof_load_truncated_no(workdir):
    incr, _ = make_aof(workdir)
    with open(incr, "ab") as f:
        f.write(TORN)
    before = open(incr, "rb").read()
    results = {}
    for kind in ("tern", "redis"):
        rc, text = run_expecting_failure(kind, workdir, "--aof-load-truncated", "no")
        results[kind] = rc
        assert ("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. You can: 1) Make a backup "
                "of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the "
                "'aof-load-truncated' configuration option to yes and restart the server.") in text, kind
    assert results["tern"] == results["redis"] == 1
    assert open(incr, "rb").read() == before


def test_corrupt_middle_refused_and_kept(workdir):
    incr, _ = make_aof(workdir)
    data = open(incr, "rb").read()
    bad = data[:23] + b"xx" + data[23:]
    with open(incr, "wb") as f:
        f.write(bad)
    for kind in ("tern", "redis"):
        rc, text = run_expecting_failure(kind, workdir)
        assert rc == 1, kind
        assert ("Bad file format reading the append only file appendonly.aof.1.incr.aof: make a backup of your AOF "
                "file, then use ./redis-check-aof --fix <filename.manifest>") in text, kind
    assert open(incr, "rb").read() == bad
    assert aof_files(workdir) == ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]


# --- rewrite ----------------------------------------------------------------------------

@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_bgrewriteaof_while_writes_continue(workdir, preamble):
    s = start_logged("tern", workdir, "--aof-use-rdb-preamble", preamble)
    stop = threading.Event()
    errors = []

    def writer():
        try:
            w = s.client()
            i = 0
            while not stop.is_set() and i < 200000:
                w.set("w%d" % (i % 5000), i)
                w.rpush("wl", i)
                i += 1
        except Exception as e:  # noqa
            errors.append(e)
    try:
        c = s.client()
        populate(c)
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.3)
        assert raw_command(s.port, b"BGREWRITEAOF\r\n") == b"+Background append only file rewriting started\r\n"
        info = wait_rewrite(c)
        time.sleep(0.3)
        stop.set()
        t.join(30)
        assert not errors
        assert info["aof_rewrites"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
        want = digest(c)
        names = aof_files(workdir)
        assert names == ["appendonly.aof.2.base.%s" % ("rdb" if preamble == "yes" else "aof"),
                         "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
        text = log_of(workdir)
        for line in ("Creating AOF incr file appendonly.aof.2.incr.aof on background rewrite",
                     "Background append only file rewriting started by pid",
                     "Background AOF rewrite terminated with success",
                     "Removing the history file appendonly.aof.1.incr.aof in the background",
                     "Background AOF rewrite finished successfully"):
            assert line in text
    finally:
        stop.set()
        s.stop()
    s2 = start_logged("tern", workdir)
    try:
        assert digest(s2.client()) == want
    finally:
        s2.stop()


def test_config_set_appendonly_at_runtime(workdir):
    dirs = {}
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        os.mkdir(d)
        s = start_logged(kind, d, "--appendonly", "no")
        try:
            c = s.client()
            populate(c)
            assert c.info("persistence")["aof_enabled"] == 0
            assert c.config_set("appendonly", "yes")
            wait_rewrite(c)
            c.set("later", "1")
            assert c.info("persistence")["aof_enabled"] == 1
            want = digest(c)
            text = log_of(d)
            assert "Creating AOF incr file temp-appendonly.aof.incr on background rewrite" in text
            assert "Successfully renamed the temporary AOF incr file temp-appendonly.aof.incr into appendonly.aof.1.incr.aof" in text
            dirs[kind] = (aof_files(d), manifest(d))
            assert c.config_set("appendonly", "no")
            c.set("not-logged", "1")
            shutdown_nosave(s)
        finally:
            s.stop()
        s = start_logged(kind, d)
        try:
            assert digest(s.client()) == want
        finally:
            s.stop()
    assert dirs["tern"] == dirs["redis"]


def test_bgrewriteaof_with_aof_off_writes_base_and_manifest(workdir):
    got = {}
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        os.mkdir(d)
        s = start_logged(kind, d, "--appendonly", "no")
        try:
            c = s.client()
            c.set("k", "v")
            for _ in range(2):
                assert raw_command(s.port, b"BGREWRITEAOF\r\n") == b"+Background append only file rewriting started\r\n"
                info = wait_rewrite(c)
            got[kind] = (aof_files(d), manifest(d), info["aof_rewrites"], info["aof_enabled"])
        finally:
            s.stop()
    assert got["tern"] == got["redis"]
    assert got["tern"][0] == ["appendonly.aof.2.base.rdb", "appendonly.aof.manifest"]


def test_auto_rewrite_on_growth(workdir):
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        os.mkdir(d)
        s = start_logged(kind, d, "--auto-aof-rewrite-min-size", "4096", "--auto-aof-rewrite-percentage", "100")
        try:
            c = s.client()
            for i in range(100):
                c.set("k%d" % i, "v" * 100)
            deadline = time.time() + 20
            while c.info("persistence")["aof_rewrites"] < 1 and time.time() < deadline:
                time.sleep(0.05)
            info = wait_rewrite(c)
            assert info["aof_rewrites"] >= 1, kind
            assert "Starting automatic rewriting of AOF on" in log_of(d), kind
            assert info["aof_base_size"] == info["aof_current_size"] or info["aof_current_size"] > info["aof_base_size"]
        finally:
            s.stop()


def test_bgrewriteaof_scheduled_while_bgsave_runs(workdir):
    """BGSAVE's file writing is in the background: a BGREWRITEAOF right after it is scheduled
    (or started, when the save already finished); either way exactly one rewrite happens."""
    s = start_logged("tern", workdir)
    try:
        c = s.client()
        c.execute_command("DEBUG", "POPULATE", 30000, "key", 100)
        c.execute_command("BGSAVE")
        reply = raw_command(s.port, b"BGREWRITEAOF\r\nINFO persistence\r\n", read_timeout=1.0)
        assert reply.startswith(b"+Background append only file rewriting s")
        if reply.startswith(b"+Background append only file rewriting scheduled"):
            assert b"aof_rewrite_scheduled:1" in reply
        info = wait_rewrite(c, timeout=60)
        assert info["aof_rewrites"] == 1 and info["aof_rewrite_scheduled"] == 0
        want = digest(c)
    finally:
        s.stop()
    s = start_logged("tern", workdir)
    try:
        assert digest(s.client()) == want
    finally:
        s.stop()


# --- INFO -------------------------------------------------------------------------------

def test_info_aof_fields_match_redis(workdir):
    got = {}
    for kind in ("tern", "redis"):
        for mode in ("yes", "no"):
            d = os.path.join(workdir, kind + mode)
            os.mkdir(d)
            s = start_logged(kind, d, "--appendonly", mode)
            try:
                c = s.client()
                c.set("a", "1")
                c.set("b", "x" * 10, ex=100)
                # Under load Redis may postpone its write while a background fsync runs
                # (aof_buffer_length > 0, aof_pending_bio_fsync 1): compare settled states.
                deadline = time.time() + 10
                while True:
                    info = c.info("persistence")
                    if info.get("aof_buffer_length", 0) == 0 and info.get("aof_pending_bio_fsync", 0) == 0:
                        break
                    assert time.time() < deadline, info
                    time.sleep(0.05)
                fields = {k: v for k, v in info.items() if k.startswith("aof_") or k.startswith("module_fork")}
                if mode == "yes":
                    c.execute_command("BGREWRITEAOF")
                    after = wait_rewrite(c)
                    fields["rewrites_after"] = after["aof_rewrites"]
                    fields["base_is_current_after"] = after["aof_base_size"] == after["aof_current_size"]
                    fields.pop("aof_last_cow_size")
                got[(kind, mode)] = fields
            finally:
                s.stop()
    for mode in ("yes", "no"):
        assert got[("tern", mode)] == got[("redis", mode)], mode


# --- write errors -----------------------------------------------------------------------
# A full disk without root: the file size limit (RLIMIT_FSIZE) of the running server is
# lowered with prlimit(2), so write(2) on the AOF stops at the limit (a short write, then
# EFBIG); SIGXFSZ is ignored from the start (an ignored signal survives exec), as a
# filesystem's ENOSPC would not kill either. Raising the limit again is "disk space freed".

class LimitedServer:
    """A server whose AOF writes can be made to fail; logs to server.log in its dir."""

    def __init__(self, kind, directory, *args):
        exe = tern_binary() if kind == "tern" else shutil.which("redis-server")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
             "--appendonly", "yes", "--logfile", os.path.join(directory, "server.log"), *args],
            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
        deadline = time.time() + 20
        while True:
            try:
                if redis.Redis(host="127.0.0.1", port=self.port).ping():
                    break
            except redis.ConnectionError:
                assert self.proc.poll() is None and time.time() < deadline, "server did not start"
                time.sleep(0.05)
        self.client = redis.Redis(host="127.0.0.1", port=self.port, single_connection_client=True,
                                  retry=Retry(NoBackoff(), 0))

    def limit_file_size(self, nbytes):
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (nbytes, resource.RLIM_INFINITY))

    def unlimit(self):
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def write_until_refused(c, limit_room):
    """SETs of ~1 KB until one is refused; returns (acknowledged keys, the refusal)."""
    acked = []
    for i in range(limit_room // 1000 + 20):
        try:
            c.set("k%d" % i, "%04d" % i + "x" * 996)
        except redis.ResponseError as e:
            return acked, str(e)
        acked.append("k%d" % i)
    raise AssertionError("no write was refused")


def aof_error_lines(log):
    return [re.sub(r"^\d+:M [^#*]*", "", line) for line in log.splitlines()
            if "AOF write error" in line or "writing to the AOF file" in line]


def test_aof_write_error_refuses_writes_until_it_clears_like_redis(workdir):
    """appendfsync everysec: the write that fills the disk is acknowledged (its bytes stay in
    the buffer), later writes and PING get -MISCONF with Redis's text while reads still work;
    once writing works again the buffer reaches the file, writes are accepted, and a restart
    has every acknowledged write. Same replies, INFO, log lines and file bytes as Redis."""
    seen = {}
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        os.mkdir(d)
        s = LimitedServer(kind, d, "--appendfsync", "everysec")
        try:
            c = s.client
            c.set("before", "1")
            room = 10_000
            s.limit_file_size(len(read(d, "appendonly.aof.1.incr.aof")) + room)
            acked, refusal = write_until_refused(c, room)
            info = c.info("persistence")
            got = {"acked": len(acked), "refusal": refusal,
                   "write_status": info["aof_last_write_status"],
                   "bgrewrite_status": info["aof_last_bgrewrite_status"]}
            with pytest.raises(redis.ResponseError) as ping:
                c.ping()
            got["ping"] = str(ping.value)
            got["read"] = c.get(acked[0])[:4]
            with pytest.raises(redis.ResponseError):
                c.set("refused", "1")
            s.unlimit()
            deadline = time.time() + 10
            while c.info("persistence")["aof_last_write_status"] != "ok":
                assert time.time() < deadline, kind + ": the AOF error did not clear"
                time.sleep(0.05)
            c.set("after", "1")
            got["bgrewrite_status_after"] = c.info("persistence")["aof_last_bgrewrite_status"]
            s.stop()
            got["log"] = aof_error_lines(log_of(d))
            got["incr"] = read(d, "appendonly.aof.1.incr.aof")
            r = start_in(kind, d)
            try:
                rc = r.client()
                got["restored"] = [k for k in ["before", *acked, "refused", "after"] if rc.exists(k)]
            finally:
                r.stop()
        finally:
            s.stop()
        seen[kind] = got
    t = seen["tern"]
    assert t["refusal"] == "MISCONF Errors writing to the AOF file: No space left on device"
    assert t["ping"] == t["refusal"] and t["write_status"] == "err" and t["bgrewrite_status"] == "ok"
    assert t["read"] == b"0000"
    assert t["restored"] == ["before", *["k%d" % i for i in range(t["acked"])], "after"]
    assert t["log"][0].startswith("# Short write while writing to the AOF file: (nwritten=")
    assert t["log"][-1] == "# AOF write error looks solved, Redis can write again."
    assert t == seen["redis"]


def test_aof_write_error_with_appendfsync_always_exits_like_redis(workdir):
    """appendfsync always cannot keep an unwritten acknowledgement: the server exits at the
    first failed write, with Redis's log lines; the file is cut back to whole commands and
    loads with every acknowledged write."""
    seen = {}
    for kind in ("tern", "redis"):
        d = os.path.join(workdir, kind)
        os.mkdir(d)
        s = LimitedServer(kind, d, "--appendfsync", "always")
        try:
            s.client.set("before", "1")
            s.limit_file_size(len(read(d, "appendonly.aof.1.incr.aof")) + 10_000)
            acked = []
            with pytest.raises(redis.ConnectionError):
                for i in range(100):
                    s.client.set("k%d" % i, "x" * 1000)
                    acked.append("k%d" % i)
            code = s.proc.wait(20)
            got = {"code": code, "acked": len(acked), "log": aof_error_lines(log_of(d)),
                   "incr": read(d, "appendonly.aof.1.incr.aof")}
            assert "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..." \
                in log_of(d), kind
            r = start_in(kind, d)
            try:
                got["restored"] = sum(r.client().exists(k) for k in ["before", *acked])
            finally:
                r.stop()
        finally:
            s.stop()
        seen[kind] = got
    t = seen["tern"]
    assert t["code"] == 1 and t["restored"] == t["acked"] + 1
    assert t == seen["redis"]


# --- crash safety -----------------------------------------------------------------------

def test_appendfsync_always_survives_sigkill(workdir):
    """A writer records each acknowledged write; the server is SIGKILLed at random moments
    and restarted; every acknowledged write must be there afterwards."""
    rng = random.Random(11)
    acked = {}
    maybe = {}
    deadline = time.time() + 60
    kills = 0
    seq = 0

    def check(c):
        for k, v in acked.items():
            got = c.get(k)
            assert got == v or (k in maybe and got == maybe[k]), (kills, k, got, v)
            acked[k] = got
    while kills < 20 and time.time() < deadline:
        s = start_in("tern", workdir, "--appendfsync", "always")
        c = s.client(retry=Retry(NoBackoff(), 0))
        check(c)
        maybe = {}
        killer = threading.Timer(rng.uniform(0.05, 0.4), lambda p=s.proc: p.send_signal(signal.SIGKILL))
        killer.start()
        try:
            while True:
                seq += 1
                k = "k%d" % (seq % 500)
                v = str(seq).encode()
                if seq % 7 == 0:
                    n = int(acked.get("n", b"0"))
                    maybe = {k: v, "n": str(n + 1).encode()}
                    p = c.pipeline(transaction=True)
                    p.set(k, v)
                    p.incr("n")
                    res = p.execute()
                    acked[k] = v
                    acked["n"] = str(res[1]).encode()
                else:
                    maybe = {k: v}
                    c.set(k, v)
                    acked[k] = v
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        killer.join()
        s.proc.wait(10)
        s.stop()
        kills += 1
    assert kills >= 20
    s = start_in("tern", workdir)
    try:
        check(s.client())
    finally:
        s.stop()


# --- check-aof --------------------------------------------------------------------------

def check_aof(kind, *args, stdin=b""):
    if kind == "tern":
        argv = [tern_binary(), "--check-aof", *args]
    else:
        exe = shutil.which("redis-check-aof")
        if not exe:
            pytest.skip("redis-check-aof not installed")
        argv = [exe, *args]
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=30)
    # redis-check-aof also lists each RDB AUX field and SELECTDB with its offset; Tern does not.
    lines = [ln for ln in p.stdout.decode().splitlines()
             if not re.match(r"\[offset \d+\] (AUX FIELD|Selecting DB)", ln)]
    return p.returncode, lines


def two_copies(workdir, damage):
    """The same Redis-made AOF dir twice (for Tern's and Redis's checker), damaged alike."""
    src = os.path.join(workdir, "src")
    os.mkdir(src)
    make_aof(src, "redis")
    out = []
    for name in ("a", "b"):
        d = os.path.join(workdir, name)
        shutil.copytree(os.path.join(src, AOFDIR), d)
        with open(os.path.join(d, "appendonly.aof.1.incr.aof"), "ab") as f:
            f.write(damage)
        out.append(d)
    return out


def checked(kind, d, *args, stdin=b""):
    rc, lines = check_aof(kind, *args[:-1], os.path.join(d, args[-1]), stdin=stdin)
    return rc, [ln.replace(d, "D") for ln in lines]


@pytest.mark.parametrize("damage", [b"", TORN, b"xx*1\r\n$4\r\nPING\r\n", b"*1\r\n$5\r\nMULTI\r\n"])
@pytest.mark.parametrize("target", ["appendonly.aof.manifest", "appendonly.aof.1.incr.aof"])
def test_check_aof_matches_redis_check_aof(workdir, damage, target):
    a, b = two_copies(workdir, damage)
    t = checked("tern", a, target)
    assert t == checked("redis", b, target)
    assert t[0] == (0 if damage == b"" else 1)


@pytest.mark.parametrize("answer", [b"y\n", b"n\n"])
def test_check_aof_fix_trims_like_redis(workdir, answer):
    a, b = two_copies(workdir, TORN)
    before = open(os.path.join(a, "appendonly.aof.1.incr.aof"), "rb").read()
    t = checked("tern", a, "--fix", "appendonly.aof.manifest", stdin=answer)
    assert t == checked("redis", b, "--fix", "appendonly.aof.manifest", stdin=answer)
    after = open(os.path.join(a, "appendonly.aof.1.incr.aof"), "rb").read()
    assert after == open(os.path.join(b, "appendonly.aof.1.incr.aof"), "rb").read()
    if answer == b"y\n":
        assert t[0] == 0 and after == before[:-len(TORN)]
    else:
        assert t[0] == 1 and after == before


def test_check_aof_truncate_to_timestamp(workdir):
    d = os.path.join(workdir, "src")
    os.mkdir(d)
    s = start_logged("tern", d, "--aof-timestamp-enabled", "yes", "--aof-use-rdb-preamble", "no")
    try:
        c = s.client()
        c.set("a", "1")
        time.sleep(1.1)
        cut = int(time.time()) - 1
        c.set("b", "2")
    finally:
        s.stop()
    copies = []
    for name in ("t", "r"):
        x = os.path.join(workdir, name)
        shutil.copytree(os.path.join(d, AOFDIR), x)
        copies.append(x)
    t = check_aof("tern", "--truncate-to-timestamp", str(cut), os.path.join(copies[0], "appendonly.aof.manifest"))
    r = check_aof("redis", "--truncate-to-timestamp", str(cut), os.path.join(copies[1], "appendonly.aof.manifest"))
    assert t == r
    assert open(os.path.join(copies[0], "appendonly.aof.1.incr.aof"), "rb").read() == \
        open(os.path.join(copies[1], "appendonly.aof.1.incr.aof"), "rb").read()
    assert b"$1\r\nb\r\n" not in open(os.path.join(copies[0], "appendonly.aof.1.incr.aof"), "rb").read()


def test_check_aof_runs_as_tern_check_aof(workdir):
    """argv[0] dispatch: the binary run under the name tern-check-aof is the checker."""
    a, _ = two_copies(workdir, b"")
    link = os.path.join(workdir, "tern-check-aof")
    os.symlink(tern_binary(), link)
    p = subprocess.run([link, os.path.join(a, "appendonly.aof.manifest")], capture_output=True, timeout=30)
    assert p.returncode == 0
    assert p.stdout.decode().splitlines()[-1] == "All AOF files and manifest are valid"
    p = subprocess.run([link], capture_output=True, timeout=30)
    assert p.returncode == 1
    assert p.stdout.decode().startswith("Usage: tern-check-aof [--fix|--truncate-to-timestamp $timestamp]")


def wait_for(check, what, timeout=15):
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, what
        time.sleep(0.05)


def test_failed_background_fsync_refuses_writes_until_an_fsync_succeeds(workdir, monkeypatch):
    """appendfsync everysec: a background fsync that fails (the test fault hook makes the
    disk answer EIO) turns writes and PING into Redis's -MISCONF with the fsync's errno,
    aof_last_write_status:err and one "Fail to fsync the AOF file" line; reads still work.
    Once the disk works again an fsync succeeds and writes are accepted; a restart has every
    acknowledged write."""
    fault = os.path.join(workdir, "fsync-fault")
    monkeypatch.setenv("TERN_DEBUG_AOF_FSYNC_FAULT", fault)
    s = start_logged("tern", workdir, "--appendfsync", "everysec")
    try:
        c = s.client(retry=Retry(NoBackoff(), 0))
        c.set("before", "1")
        with open(fault, "w") as f:
            f.write("errno 5\n")
        acked = []

        def refused():
            try:
                c.set("k%d" % len(acked), "v")
                acked.append("k%d" % len(acked))
                return False
            except redis.ResponseError as e:
                assert str(e) == "MISCONF Errors writing to the AOF file: Input/output error"
                return True
        wait_for(refused, "a failed fsync did not refuse writes")
        assert c.info("persistence")["aof_last_write_status"] == "err"
        with pytest.raises(redis.ResponseError, match="^MISCONF Errors writing to the AOF file"):
            c.ping()
        assert c.get("before") == b"1"
        time.sleep(1.5)   # a retried fsync that fails again is not logged again
        assert log_of(workdir).count("Fail to fsync the AOF file: Input/output error") == 1
        os.unlink(fault)

        def accepted():
            try:
                c.set("after", "1")
                return True
            except redis.ResponseError:
                return False
        wait_for(accepted, "writes stayed refused after the disk recovered")
        assert c.info("persistence")["aof_last_write_status"] == "ok"
    finally:
        s.stop()
    monkeypatch.delenv("TERN_DEBUG_AOF_FSYNC_FAULT")
    r = start_in("tern", workdir)
    try:
        rc = r.client()
        assert [k for k in ["before", *acked, "after"] if not rc.exists(k)] == []
    finally:
        r.stop()


def test_everysec_write_waits_for_a_slow_fsync_up_to_two_seconds(workdir, monkeypatch):
    """appendfsync everysec with a background fsync still running: Redis postpones writing
    the AOF buffer (a write(2) to a file being fsynced can block) for up to 2 s, then writes
    anyway, counts aof_delayed_fsync and logs its notice. Replies are not held meanwhile."""
    fault = os.path.join(workdir, "fsync-fault")
    monkeypatch.setenv("TERN_DEBUG_AOF_FSYNC_FAULT", fault)
    with open(fault, "w") as f:
        f.write("delay 4000\n")
    s = start_logged("tern", workdir, "--appendfsync", "everysec")
    try:
        c = s.client()
        c.set("first", "1")
        wait_for(lambda: c.info("persistence")["aof_pending_bio_fsync"] == 1, "no background fsync started")
        c.set("second", "2")   # acknowledged while the fsync runs
        incr = os.path.join(workdir, "appendonlydir", "appendonly.aof.1.incr.aof")
        assert b"second" not in open(incr, "rb").read()
        assert c.info("persistence")["aof_buffer_length"] > 0
        wait_for(lambda: b"second" in open(incr, "rb").read(), "the postponed write never happened")
        info = c.info("persistence")
        assert info["aof_delayed_fsync"] == 1
        assert "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without " \
               "waiting for fsync to complete, this may slow down Redis." in log_of(workdir)
    finally:
        os.unlink(fault)
        s.stop()
