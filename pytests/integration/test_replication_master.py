"""Tern as a replication master, with real redis-server 7.0 replicas and a fake replica that
records the stream byte for byte (compared with what redis-server sends for the same
commands)."""
import os
import re
import socket
import subprocess
import time

import pytest
import redis

from conftest import free_port, start_redis, start_tern, raw_command
from replication_support import (digest, info, populate, wait_for, wait_link_up, wait_synced,
                                 write_load)
from side_by_side import raw_both


SYNC_MODES = {
    "disk": ["--repl-diskless-sync", "no"],
    "diskless": ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"],
}


@pytest.fixture(params=sorted(SYNC_MODES))
def pair(request):
    """A Tern master (disk-backed or diskless full sync) with a redis-server replica."""
    m = start_tern(["--repl-ping-replica-period", "1", *SYNC_MODES[request.param]])
    m.sync_mode = request.param
    rep = start_redis(["--replicaof", "127.0.0.1", str(m.port)])
    yield m, rep
    rep.stop()
    m.stop()


def test_redis_replica_full_sync_then_stream(pair):
    m, rep = pair
    mc, rc = m.client(), rep.client()
    wait_link_up(rc)
    # A fresh full sync with data of every type.
    populate(mc)
    write_load(mc, 400, seed=3)
    wait_synced(mc, rc)
    assert digest(mc) == digest(rc)
    assert rc.dbsize() == mc.dbsize()
    # Now a resync that carries the data in the RDB: restart the replica's sync.
    rc.execute_command("REPLICAOF", "NO", "ONE")
    rc.flushall()
    rc.execute_command("REPLICAOF", "127.0.0.1", m.port)
    wait_link_up(rc)
    write_load(mc, 300, seed=4)
    wait_synced(mc, rc)
    assert digest(mc) == digest(rc)
    i = info(mc)
    assert i["connected_slaves"] == 1
    s = i["slave0"]
    assert s["ip"] == "127.0.0.1" and s["port"] == rep.port and s["state"] == "online"
    assert i["repl_backlog_active"] == 1
    assert i["repl_backlog_histlen"] == i["master_repl_offset"] - i["repl_backlog_first_byte_offset"] + 1
    out = m.output()
    assert "Synchronization with replica 127.0.0.1:%d succeeded" % rep.port in out
    if m.sync_mode == "disk":
        assert "Starting BGSAVE for SYNC with target: disk" in out
        assert "MASTER <-> REPLICA sync: receiving" in rep.output()
    else:
        assert "Starting BGSAVE for SYNC with target: replicas sockets" in out
        assert "Streamed RDB transfer with replica 127.0.0.1:%d succeeded (socket)" % rep.port in out
        assert "MASTER <-> REPLICA sync: receiving streamed RDB from master" in rep.output()
    assert mc.info("stats")["sync_full"] >= 1


def test_diskless_delay_gathers_replicas():
    """Replicas arriving within repl-diskless-sync-delay share one snapshot; with
    repl-diskless-sync-max-replicas reached it starts at once."""
    # A delay far beyond the waits below: only max-replicas can start the sync in time.
    m = start_tern(["--repl-diskless-sync-delay", "300", "--repl-diskless-sync-max-replicas", "2"])
    reps = []
    try:
        populate(m.client())
        for _ in range(2):
            reps.append(start_redis(["--replicaof", "127.0.0.1", str(m.port)]))
        for rp in reps:
            wait_link_up(rp.client())
        assert m.output().count("Starting BGSAVE for SYNC with target: replicas sockets") == 1
        for rp in reps:
            wait_synced(m.client(), rp.client())
            assert digest(rp.client()) == digest(m.client())
        assert "Delay next BGSAVE for diskless SYNC" in m.output()
    finally:
        for s in reps + [m]:
            s.stop()


def test_partial_resync_after_link_cut(pair):
    m, rep = pair
    mc, rc = m.client(), rep.client()
    wait_link_up(rc)
    populate(mc)
    wait_synced(mc, rc)
    full_before = mc.info("stats")["sync_full"]
    for round_ in range(3):
        write_load(mc, 100, seed=10 + round_)
        mc.client_kill_filter(_type="slave")
        write_load(mc, 100, seed=20 + round_)
        wait_link_up(rc)
        wait_synced(mc, rc)
    st = mc.info("stats")
    assert st["sync_partial_ok"] >= 3
    assert st["sync_full"] == full_before
    assert "Partial resynchronization request from 127.0.0.1:%d accepted" % rep.port in m.output()
    assert "Successful partial resynchronization with master." in rep.output()
    assert digest(mc) == digest(rc)


def test_replica_restart_continues_partially(pair):
    m, rep = pair
    mc, rc = m.client(), rep.client()
    wait_link_up(rc)
    populate(mc)
    write_load(mc, 200, seed=5)
    wait_synced(mc, rc)
    # The replica saves its RDB (with repl-id/offset) and restarts from it.
    d = rep.dir
    try:
        rc.execute_command("SHUTDOWN", "SAVE")
    except redis.ConnectionError:
        pass
    rep.proc.wait(10)
    write_load(mc, 100, seed=6)
    port = rep.port
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                             "--save", "", "--enable-debug-command", "yes",
                             "--replicaof", "127.0.0.1", str(m.port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rc2 = redis.Redis(port=port)
        wait_link_up(rc2)
        wait_synced(mc, rc2)
        assert mc.info("stats")["sync_partial_ok"] >= 1
        assert digest(mc) == digest(rc2)
    finally:
        proc.terminate()
        proc.wait(10)


def test_wait(pair):
    m, rep = pair
    mc, rc = m.client(), rep.client()
    wait_link_up(rc)
    wait_synced(mc, rc)
    mc.set("w", 1)
    assert mc.execute_command("WAIT", 1, 5000) == 1
    t = time.time()
    assert mc.execute_command("WAIT", 2, 300) == 1      # times out with the count it has
    assert time.time() - t >= 0.25
    p = mc.pipeline(transaction=True)
    p.set("w", 2)
    p.execute_command("WAIT", 5, 0)                      # inside MULTI: answers at once
    assert p.execute()[1] in (0, 1)
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        mc.execute_command("WAIT", 1, -1)
    # WAIT on a replica is refused with Redis's text (the Redis replica answers here).
    with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica instances"):
        rc.execute_command("WAIT", 1, 10)


def test_role_and_info_shape_match_redis_master():
    """INFO replication and ROLE of a Tern master and of a redis-server master, each with
    one redis-server replica: same fields in the same order, same values where they do
    not depend on ids or timing."""
    tm = start_tern(["--repl-ping-replica-period", "3600"])
    rm = start_redis(["--repl-ping-replica-period", "3600", "--repl-diskless-sync-delay", "0"])
    reps = []
    try:
        for m in (tm, rm):
            reps.append(start_redis(["--replicaof", "127.0.0.1", str(m.port), "--repl-ping-replica-period", "3600"]))
        for m, rp in zip((tm, rm), reps):
            mc = m.client()
            wait_link_up(rp.client())
            mc.set("k", "v")
            mc.rpush("l", 1, 2, 3)
        lines = {}
        for m, rp in zip((tm, rm), reps):
            wait_synced(m.client(), rp.client())
            wait_for(lambda: info(m.client())["slave0"]["offset"] == info(m.client())["master_repl_offset"],
                     what="ack")
            raw = raw_command(m.port, b"INFO replication\r\n").decode(errors="replace")
            lines[m] = [l.split(":", 1)[0] for l in raw.splitlines() if l and not l.startswith(("#", "$"))]
        assert lines[tm] == lines[rm]
        ti, ri = info(tm.client()), info(rm.client())
        for f in ("role", "connected_slaves", "master_failover_state", "master_replid2", "second_repl_offset",
                  "repl_backlog_active", "repl_backlog_size", "repl_backlog_first_byte_offset"):
            assert ti[f] == ri[f], f
        # Same commands, same stream: the offsets agree byte for byte.
        assert ti["master_repl_offset"] == ri["master_repl_offset"]
        assert ti["slave0"]["state"] == ri["slave0"]["state"] == "online"
        tr = tm.client().execute_command("ROLE")
        rr = rm.client().execute_command("ROLE")
        assert tr[0] == rr[0] == b"master" and tr[1] == rr[1]
        assert [x[0] for x in tr[2]] == [x[0] for x in rr[2]]
        assert [x[2] for x in tr[2]] == [x[2] for x in rr[2]]
    finally:
        for s in reps + [tm, rm]:
            s.stop()


# --- the stream, byte for byte --------------------------------------------------------

class FakeReplica:
    """Does the replica handshake over a raw socket and records what follows the RDB."""

    def __init__(self, port, listening_port=1234):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        for cmd in (b"PING", b"REPLCONF listening-port %d" % listening_port, b"REPLCONF capa eof capa psync2"):
            self.s.sendall(cmd + b"\r\n")
            assert self.line().startswith(b"+")
        self.s.sendall(b"PSYNC ? -1\r\n")
        first = self.line()
        while first == b"":
            first = self.line()
        assert first.startswith(b"+FULLRESYNC "), first
        self.offset = int(first.split()[2])
        head = self.line()
        while head == b"":
            head = self.line()
        if head.startswith(b"$EOF:"):
            mark = head[5:]
            while mark not in self.buf:
                self.fill()
            self.rdb, self.buf = self.buf.split(mark, 1)
        else:
            n = int(head[1:])
            while len(self.buf) < n:
                self.fill()
            self.rdb, self.buf = self.buf[:n], self.buf[n:]
        assert self.rdb.startswith(b"REDIS0010")
        self.s.sendall(b"REPLCONF ACK %d\r\n" % self.offset)

    def fill(self):
        # A diskless master streams only after an ACK that follows the end of its save:
        # ACK once a second while waiting, as real replicas do.
        self.s.settimeout(1)
        for _ in range(30):
            try:
                d = self.s.recv(65536)
                break
            except socket.timeout:
                if hasattr(self, "rdb"):
                    self.s.sendall(b"REPLCONF ACK %d\r\n" % self.offset)
        else:
            raise AssertionError("nothing received for 30 s")
        assert d, "connection closed"
        self.buf += d

    def line(self):
        while b"\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\n", 1)
        return l.rstrip(b"\r")

    def read(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self):
        self.s.close()


STREAM_COMMANDS = [
    ("SET", "a", "1"), ("SET", "b", "v", "EX", "100"), ("INCRBYFLOAT", "f", "1.5"), ("SELECT", "5"),
    ("RPUSH", "l", "x", "y"), ("LPOP", "l"), ("SADD", "s", "1", "2", "3"), ("SELECT", "0"),
    ("GETDEL", "a"), ("HSET", "h", "f", "1"), ("HINCRBYFLOAT", "h", "f", "0.5"), ("GET", "b"),
    ("MULTI",), ("INCR", "c"), ("SET", "d", "1", "PX", "5000"), ("EXEC",), ("DEL", "nothing"),
    ("EXPIRE", "b", "50"), ("FLUSHDB",), ("SET", "e", "2"),
    ("publish", "ch", "hello"), ("SELECT", "2"), ("SPUBLISH", "sch", "m"), ("SELECT", "0"),
    ("MULTI",), ("PUBLISH", "ch", "x"), ("SET", "f", "1"), ("EXEC",),
]


def test_stream_bytes_equal_redis():
    tm = start_tern(["--repl-ping-replica-period", "3600"])
    rm = start_redis(["--repl-ping-replica-period", "3600", "--repl-diskless-sync-delay", "0"])
    try:
        streams = []
        for m in (tm, rm):
            fr = FakeReplica(m.port)
            start = info(m.client())["master_repl_offset"]
            raw_command(m.port, b"".join(
                b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x.encode()) for x in c)
                for c in STREAM_COMMANDS))
            wait_for(lambda: info(m.client())["master_repl_offset"] > start, what="stream")
            time.sleep(0.2)
            end = info(m.client())["master_repl_offset"]
            streams.append(fr.read(end - fr.offset))
            fr.close()
        # Absolute times (PXAT/PEXPIREAT) differ by when each server ran them.
        import re
        norm = [re.sub(rb"\$13\r\n\d{13}\r\n", b"$13\r\n<ms>\r\n", s) for s in streams]
        assert norm[0] == norm[1], "tern %r\nredis %r" % (norm[0], norm[1])
    finally:
        tm.stop()
        rm.stop()


def test_psync_partial_from_fake_replica_offsets():
    """The acceptance rule (spec 4.2) on a master whose backlog holds [first, last]."""
    m = start_tern(["--repl-ping-replica-period", "3600"])
    try:
        fr = FakeReplica(m.port)
        mc = m.client()
        mc.set("x", "1")
        i = info(mc)
        replid, off = i["master_replid"], i["master_repl_offset"]
        fr.close()

        def psync(rid, o):
            s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
            s.sendall(b"PSYNC %s %d\r\n" % (rid.encode(), o))
            data = b""
            while b"\r\n" not in data.lstrip(b"\n"):
                data += s.recv(4096)
            time.sleep(0.1)
            s.settimeout(0.3)
            try:
                data += s.recv(65536)
            except socket.timeout:
                pass
            s.close()
            return data.lstrip(b"\n")
        got = psync(replid, off + 1)
        assert got == b"+CONTINUE\r\n"                       # no capa psync2: bare
        got = psync(replid, off - 27)                          # SET x 1 is 27 bytes
        assert got.startswith(b"+CONTINUE\r\n") and got.endswith(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n")
        assert psync(replid, off + 2).startswith(b"+FULLRESYNC")
        assert psync("0" * 40, off).startswith(b"+FULLRESYNC")
        assert psync(replid, 0).startswith(b"+FULLRESYNC")
    finally:
        m.stop()


def test_replconf_and_sync_errors_match_redis(tern_server, redis_server):
    raw_both(tern_server, redis_server, ("REPLCONF", "listening-port"))
    raw_both(tern_server, redis_server, ("REPLCONF", "listening-port", "abc"))
    raw_both(tern_server, redis_server, ("REPLCONF", "bogus", "1"))
    raw_both(tern_server, redis_server, ("REPLCONF", "ip-address", "x" * 300))
    raw_both(tern_server, redis_server, ("REPLCONF", "rdb-only", "2"))
    raw_both(tern_server, redis_server, ("REPLCONF", "rdb-filter-only", "keys"))
    raw_both(tern_server, redis_server, ("REPLCONF", "ip-address", "10.0.0.1", "listening-port", "1234",
                                         "capa", "eof", "capa", "foo"))
    raw_both(tern_server, redis_server, ("REPLCONF", "ACK", "100"), ("PING",))
    raw_both(tern_server, redis_server, ("REPLCONF", "GETACK", "*"), ("PING",))
    raw_both(tern_server, redis_server, ("PSYNC", "?"))
    raw_both(tern_server, redis_server, ("PSYNC", "?", "abc"))
    raw_both(tern_server, redis_server, ("PSYNC", "?", "-1", "FAILOVER"))
    raw_both(tern_server, redis_server, ("SYNC", "x"))
    raw_both(tern_server, redis_server, ("WAIT", "1"))
    raw_both(tern_server, redis_server, ("WAIT", "x", "1"))
    raw_both(tern_server, redis_server, ("WAIT", "0", "0"))
    raw_both(tern_server, redis_server, ("MULTI",), ("PSYNC", "?", "-1"), ("EXEC",))
    raw_both(tern_server, redis_server, ("ROLE", "x"))


def test_noreplicas_matches_redis(tern_server, redis_server):
    for s in (tern_server, redis_server):
        s.client().config_set("min-replicas-to-write", 1)
    try:
        raw_both(tern_server, redis_server, ("SET", "k", "v"), ("GET", "k"), ("MULTI",), ("SET", "k", "1"), ("EXEC",),
                 ("MULTI",), ("GET", "k"), ("EXEC",))
        assert tern_server.client().info("replication")["min_slaves_good_slaves"] == 0
    finally:
        for s in (tern_server, redis_server):
            s.client().config_set("min-replicas-to-write", 0)


def test_redis_cli_rdb_against_tern(tmp_path):
    m = start_tern()
    try:
        populate(m.client())
        out = tmp_path / "dump.rdb"
        subprocess.run(["redis-cli", "-p", str(m.port), "--rdb", str(out)], check=True, timeout=60,
                       capture_output=True)
        chk = subprocess.run(["redis-check-rdb", str(out)], capture_output=True, text=True, timeout=60)
        assert chk.returncode == 0, chk.stdout
        assert "RDB looks OK" in chk.stdout
        # The connection was an rdb-only replica: gone afterwards, the master still a master alone.
        wait_for(lambda: info(m.client())["connected_slaves"] == 0, what="rdb-only replica gone")
    finally:
        m.stop()


# --- SHUTDOWN waits for lagging replicas (shutdown-timeout) ---------------------------

def _shutdown_scenario(start_master, stop_replica, abort):
    """A master with one redis-server replica; the replica is SIGSTOPped after a write so
    it lags; SHUTDOWN then waits. Returns (reply of SHUTDOWN, master log, master alive)."""
    import signal
    import threading
    m = start_master(["--shutdown-timeout", "2", "--repl-diskless-sync-delay", "0"])
    rep = start_redis(["--replicaof", "127.0.0.1", str(m.port)])
    try:
        wait_link_up(rep.client())
        mc = m.client()
        mc.set("k", "v")
        wait_synced(mc, rep.client())
        if stop_replica:
            os.kill(rep.proc.pid, signal.SIGSTOP)
            mc.set("k2", "v2")
        result = {}

        def run():
            try:
                result["reply"] = m.client(socket_timeout=10).execute_command("SHUTDOWN")
            except redis.ConnectionError:
                result["reply"] = "closed"
            except redis.ResponseError as e:
                result["reply"] = ("error", str(e))
        t = threading.Thread(target=run)
        t.start()
        if abort:
            wait_for(lambda: "Waiting for replicas before shutting down." in m.output(), 10, "the wait")
            assert mc.execute_command("SHUTDOWN", "ABORT") in (True, b"OK")
        t.join(15)
        if stop_replica:
            os.kill(rep.proc.pid, signal.SIGCONT)
        m.proc.wait(10) if not abort else None
        return result.get("reply"), m.output(), m.alive()
    finally:
        rep.stop()
        m.stop()


@pytest.mark.parametrize("stop_replica,abort", [(False, False), (True, False), (True, True)])
def test_shutdown_waits_for_replicas_like_redis(stop_replica, abort):
    got = {}
    for name, start in (("tern", start_tern), ("redis", lambda a: start_redis(a))):
        got[name] = _shutdown_scenario(start, stop_replica, abort)
    t, r = got["tern"], got["redis"]
    assert t[0] == r[0]
    assert t[2] == r[2]
    for line in ("Waiting for replicas before shutting down.", "Lagging replica", "Shutdown manually aborted."):
        assert (line in t[1]) == (line in r[1]), line
    if not abort:
        assert "Waiting for replicas before shutting down." in t[1]


def test_replica_output_buffer_limit_disconnects_a_stalled_replica():
    """client-output-buffer-limit replica: a replica that stops reading is dropped once its
    pending stream passes the hard limit, as redis-server drops it (same log line)."""
    import signal
    outs = {}
    for name, start in (("tern", start_tern), ("redis", start_redis)):
        m = start(["--client-output-buffer-limit", "replica 256kb 0 0", "--repl-diskless-sync-delay", "0"])
        rep = start_redis(["--replicaof", "127.0.0.1", str(m.port)])
        try:
            wait_link_up(rep.client())
            mc = m.client()
            os.kill(rep.proc.pid, signal.SIGSTOP)
            for i in range(200):
                mc.set("big%d" % i, "x" * 50_000)
            wait_for(lambda: info(mc)["connected_slaves"] == 0, 20, "the stalled replica dropped")
            os.kill(rep.proc.pid, signal.SIGCONT)
            outs[name] = m.output()
        finally:
            rep.stop()
            m.stop()
    for o in outs.values():
        assert "scheduled to be closed ASAP for overcoming of output buffer limits" in o


def test_publish_reaches_replicas_not_the_aof():
    """PUBLISH goes to the replication stream only: with a replica attached the AOF's incr
    file holds the same bytes as redis-server's (MULTI/EXEC wrapping included)."""
    files = []
    for start in (start_tern, start_redis):
        m = start(["--appendonly", "yes", "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600"])
        try:
            fr = FakeReplica(m.port)
            mc = m.client()
            mc.publish("ch", "alone")
            p = mc.pipeline(transaction=True)
            p.publish("ch", "x")
            p.set("k", "v")
            p.execute()
            mc.set("j", "w")
            wait_for(lambda: info(mc)["master_repl_offset"] > fr.offset, what="stream")
            d = os.path.join(m.dir, "appendonlydir")
            incr = [f for f in os.listdir(d) if f.endswith(".incr.aof")]
            assert len(incr) == 1
            wait_for(lambda: b"$1\r\nj\r\n" in open(os.path.join(d, incr[0]), "rb").read(), what="aof write")
            files.append(open(os.path.join(d, incr[0]), "rb").read())
            fr.close()
        finally:
            m.stop()
    assert b"PUBLISH" not in files[0].upper()
    assert files[0] == files[1]


def test_rdb_del_sync_files_like_redis():
    """rdb-del-sync-files on persistence-less servers: the master's sync file and the
    replica's received file are removed, with Redis's log lines; kept when off."""
    for start in (start_tern, start_redis):
        m = start(["--save", "", "--repl-diskless-sync", "no", "--rdb-del-sync-files", "yes"])
        rep = start(["--save", "", "--rdb-del-sync-files", "yes", "--replicaof", "127.0.0.1", str(m.port)])
        try:
            m.client().set("k", "v")
            wait_link_up(rep.client())
            wait_for(lambda: "Removing the RDB file used to feed replicas in a persistence-less instance" in m.output(),
                     20, "master removal")
            assert not os.path.exists(os.path.join(m.dir, "dump.rdb"))
            assert "Removing the RDB file obtained from the master. This replica has persistence disabled" in rep.output()
            assert not os.path.exists(os.path.join(rep.dir, "dump.rdb"))
        finally:
            rep.stop()
            m.stop()


def _cli_replica_log(port, writer):
    """What `redis-cli --replica` prints while `writer()` runs some writes."""
    p = subprocess.Popen(["redis-cli", "-p", str(port), "--replica"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any("Logging commands from master" in l for l in lines):
            lines.append(p.stdout.readline())
        writer()
        while len([l for l in lines if l.startswith('"')]) < 3:
            lines.append(p.stdout.readline())
        return lines
    finally:
        p.kill()
        p.wait()


def test_redis_cli_replica_and_functions_rdb_like_redis(tmp_path):
    """redis-cli --replica (REPLCONF rdb-filter-only "": an RDB without keys, then the
    stream) and --functions-rdb against Tern and redis-server: the same output."""
    outs = []
    for start in (start_tern, start_redis):
        m = start(["--repl-diskless-sync-delay", "0"])
        try:
            c = m.client()
            populate(c)

            def writes():
                c.set("a", "1")
                c.rpush("l", "x")
                c.execute_command("SELECT", 4)
                c.incr("n")
            log = _cli_replica_log(m.port, writes)
            # The byte count of the (key-less) RDB differs with the AUX values.
            outs.append([re.sub(r"after \d+ bytes", "after N bytes", l) for l in log])
            f = tmp_path / ("f%d.rdb" % len(outs))
            subprocess.run(["redis-cli", "-p", str(m.port), "--functions-rdb", str(f)], check=True, timeout=60,
                           capture_output=True)
            chk = subprocess.run(["redis-check-rdb", str(f)], capture_output=True, text=True, timeout=60)
            assert chk.returncode == 0 and "[info] 0 keys read" in chk.stdout, chk.stdout
        finally:
            m.stop()
    assert outs[0] == outs[1]


def test_repl_traffic_counted_apart_like_redis():
    """INFO stats total_net_repl_output_bytes (master) and total_net_repl_input_bytes
    (replica) count the replication traffic, not total_net_*: the same relations hold on a
    redis-server pair (exact figures differ with the RDB's bytes)."""
    for start in (start_tern, start_redis):
        m = start(["--repl-diskless-sync-delay", "0"])
        rep = start(["--replicaof", "127.0.0.1", str(m.port)])
        try:
            mc, rc = m.client(), rep.client()
            wait_link_up(rc)
            wait_synced(mc, rc)
            for i in range(200):
                mc.set("k%d" % i, "v" * 100)
            wait_synced(mc, rc)
            off = info(mc)["master_repl_offset"]
            ms, rs = mc.info("stats"), rc.info("stats")
            assert ms["total_net_repl_output_bytes"] >= off
            assert rs["total_net_repl_input_bytes"] >= off
            assert ms["total_net_repl_input_bytes"] == 0
            assert rs["total_net_repl_output_bytes"] == 0
        finally:
            rep.stop()
            m.stop()


def test_replica_newlines_keep_it_alive_past_repl_timeout():
    """An online replica that sends no ACK is dropped after repl-timeout; one that sends
    empty lines (a replica loading a big RDB does) is kept — on both servers."""
    for start in (start_tern, start_redis):
        m = start(["--repl-timeout", "2", "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600"])
        try:
            quiet = FakeReplica(m.port, listening_port=1111)
            talker = FakeReplica(m.port, listening_port=2222)
            # Both are online once the master saw an ACK after the transfer.
            wait_for(lambda: all(info(m.client()).get("slave%d" % i, {}).get("state") == "online" for i in (0, 1)),
                     10, "online")
            deadline = time.time() + 5
            while time.time() < deadline:
                talker.s.sendall(b"\n")
                time.sleep(0.3)
            ports = {info(m.client())["slave%d" % i]["port"] for i in range(info(m.client())["connected_slaves"])}
            assert ports == {2222}
            assert "Disconnecting timedout replica (streaming sync): 127.0.0.1:1111" in m.output()
            quiet.close()
            talker.close()
        finally:
            m.stop()


@pytest.mark.parametrize("kind", ["tern", "redis"])
def test_replicas_get_a_write_before_its_reply(kind):
    """A master hands the stream to its online replicas' sockets before the reply of the
    write goes out (Redis queues replicas ahead of clients for the same loop iteration): a
    client that saw +OK never holds a write that a SIGKILL of the master could still take
    away from the replicas. Checked on loopback, where a write(2) lands in the peer's
    receive queue at once: after each +OK, the fake replica already has the SET."""
    # Disk sync: the stream starts right after the RDB (a diskless master waits for an ACK
    # sent after it noticed the end of the transfer, and this fake replica ACKs only once).
    args = ["--repl-diskless-sync", "no", "--repl-ping-replica-period", "3600"]
    m = start_tern(args) if kind == "tern" else start_redis(args)
    try:
        fr = FakeReplica(m.port)
        c = socket.create_connection(("127.0.0.1", m.port), timeout=5)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        missing = []
        for i in range(300):
            key = b"order:%d" % i
            c.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(key), key))
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += c.recv(64)
            assert reply == b"+OK\r\n"
            fr.s.setblocking(False)
            try:
                while True:
                    fr.buf += fr.s.recv(65536)
            except (BlockingIOError, socket.timeout):
                pass
            finally:
                fr.s.setblocking(True)
            if b"\r\n%s\r\n" % key not in fr.buf:
                missing.append(i)
        assert missing == []
        c.close()
    finally:
        m.stop()
