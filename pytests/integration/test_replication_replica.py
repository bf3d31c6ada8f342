"""The replica side of replication: a Tern replica follows a real redis-server 7.0 master and a
Tern master (full sync, the stream, partial resync after a cut link or a restart, PSYNC2
history after a promotion, chains), and reports INFO/ROLE/CLIENT LIST as a redis-server replica
does in the same situation. Every server is started here on free loopback ports; waits poll
the servers' own state (link status, offsets), never fixed sleeps."""
import os
import random
import socket
import tempfile
import threading
import time

import pytest
import redis

from conftest import ServerProcess, free_port, start_redis, start_tern, tern_binary


def wait_until(fn, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def info_repl(c):
    return c.info("replication")


def link_up(c):
    return info_repl(c).get("master_link_status") == "up"


def wait_link_up(c, timeout=30.0):
    wait_until(lambda: link_up(c), timeout, "master_link_status:up")


def wait_caught_up(master, *replicas, timeout=30.0):
    """Every replica applied everything the master produced (offsets equal)."""
    def done():
        want = info_repl(master)["master_repl_offset"]
        for r in replicas:
            i = info_repl(r)
            if i.get("master_link_status") != "up" or i.get("slave_repl_offset") != want:
                return False
        # The master may have emitted a PING meanwhile: check it did not move.
        return info_repl(master)["master_repl_offset"] == want
    wait_until(done, timeout, "replicas caught up")


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def log_of(server):
    return server.output()


def wait_log(server, text, timeout=30.0, count=1):
    wait_until(lambda: log_of(server).count(text) >= count, timeout, "log line %r" % text)


def load_every_type(c, seed, rounds=300, dbs=(0, 1, 3)):
    """A deterministic write load touching every type Tern has, in several dbs, with TTLs,
    transactions, rewritten commands (SET EX, INCRBYFLOAT, SPOP, LMOVE ...) and encodings
    that convert (small to big collections)."""
    rnd = random.Random(seed)
    p = c.pipeline(transaction=False)
    for i in range(rounds):
        db = rnd.choice(dbs)
        p.execute_command("SELECT", db)
        k = rnd.randrange(40)
        op = rnd.randrange(16)
        if op == 0:
            p.set("s%d" % k, "v%d" % rnd.randrange(1000))
        elif op == 1:
            p.set("t%d" % k, "x" * rnd.randrange(1, 80), ex=1000 + rnd.randrange(1000))
        elif op == 2:
            p.incrbyfloat("f%d" % k, rnd.random())
        elif op == 3:
            p.append("s%d" % k, "app")
        elif op == 4:
            p.rpush("l%d" % k, *["e%d" % rnd.randrange(100) for _ in range(rnd.randrange(1, 20))])
        elif op == 5:
            p.lmove("l%d" % k, "l%d" % rnd.randrange(40), "LEFT", "RIGHT")
        elif op == 6:
            p.hset("h%d" % k, mapping={"f%d" % rnd.randrange(200): "v" * rnd.randrange(1, 90) for _ in range(rnd.randrange(1, 10))})
        elif op == 7:
            p.hincrbyfloat("h%d" % k, "n", 1.5)
        elif op == 8:
            p.sadd("set%d" % k, *[rnd.randrange(1000) for _ in range(rnd.randrange(1, 30))])
        elif op == 9:
            p.sadd("ss%d" % k, *["m%d" % rnd.randrange(300) for _ in range(rnd.randrange(1, 30))])
        elif op == 10:
            p.spop("ss%d" % k, rnd.randrange(1, 3))
        elif op == 11:
            p.zadd("z%d" % k, {"m%d" % rnd.randrange(300): rnd.random() * 100 for _ in range(rnd.randrange(1, 30))})
        elif op == 12:
            p.zincrby("z%d" % k, 2.5, "m1")
        elif op == 13:
            p.expire("h%d" % k, 500 + rnd.randrange(500))
        elif op == 14:
            p.execute_command("MULTI")
            p.execute_command("INCR", "ctr")
            p.execute_command("LPUSH", "ml", i)
            p.execute_command("HSET", "mh", "last", i)
            p.execute_command("EXEC")
        else:
            p.delete("s%d" % rnd.randrange(40))
    # The pooled connection goes back to db 0.
    p.execute_command("SELECT", 0)
    p.execute()


def seed_data(c):
    """Data of every type and encoding, with and without TTLs, before a full sync."""
    c.set("str", "hello")
    c.set("int", 12345)
    c.set("ttl", "v", px=900000)
    c.rpush("smalllist", *range(5))
    c.rpush("biglist", *["x" * 100] * 300)
    c.hset("smallhash", mapping={"a": 1, "b": 2})
    c.hset("bighash", mapping={"f%d" % i: "v" * 100 for i in range(300)})
    c.sadd("intset", *range(10))
    c.sadd("bigset", *["m%d" % i for i in range(300)])
    c.zadd("smallz", {"a": 1, "b": 2})
    c.zadd("bigz", {"m%d" % i: i for i in range(300)})
    c.expire("bighash", 100000)
    c2 = redis.Redis(host="127.0.0.1", port=c.connection_pool.connection_kwargs["port"], db=2)
    c2.set("indb2", "yes")
    c2.close()


def stop_saving(server, client):
    """SHUTDOWN SAVE (the RDB keeps the replication history), then the process is gone."""
    try:
        client.shutdown(save=True)
    except redis.ConnectionError:
        pass
    server.proc.wait(10)
    server.stop()


def tern_replica_of(port, *args, config_text=None):
    return start_tern(["--replicaof", "127.0.0.1", str(port), *args], config_text=config_text)


@pytest.fixture
def cleanup():
    servers = []
    yield servers
    for s in servers:
        s.stop()


# --- Tern replica of a real redis-server master ------------------------------------------

@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_full_sync_and_stream_from_redis_master(cleanup, diskless):
    m = start_redis(["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"])
    cleanup.append(m)
    mc = m.client()
    seed_data(mc)
    t = tern_replica_of(m.port)
    cleanup.append(t)
    tc = t.client()
    wait_link_up(tc)
    wait_caught_up(mc, tc)
    assert digest(tc) == digest(mc)
    assert tc.ttl("ttl") > 0
    out = log_of(t)
    for line in ("Connecting to MASTER 127.0.0.1:%d" % m.port, "MASTER <-> REPLICA sync started",
                 "Master replied to PING, replication can continue...",
                 "Partial resynchronization not possible (no cached master)",
                 "Full resync from master: ", "MASTER <-> REPLICA sync: Flushing old data",
                 "MASTER <-> REPLICA sync: Loading DB in memory",
                 "MASTER <-> REPLICA sync: Finished with success"):
        assert line in out, line
    if diskless == "yes":
        assert "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk" in out
    else:
        assert "MASTER <-> REPLICA sync: receiving " in out and " bytes from master to disk" in out
    # The stream: every type, several dbs, transactions.
    load_every_type(mc, seed=1)
    wait_caught_up(mc, tc)
    assert digest(tc) == digest(mc)
    for db in (0, 1, 3):
        a = redis.Redis(port=m.port, db=db)
        b = redis.Redis(port=t.port, db=db)
        assert a.dbsize() == b.dbsize()
        a.close()
        b.close()
    # The replica's own history is its master's.
    im, it = info_repl(mc), info_repl(tc)
    assert it["master_replid"] == im["master_replid"]
    assert it["master_repl_offset"] == im["master_repl_offset"]


@pytest.mark.parametrize("how", ["kill-master-on-replica", "kill-replica-on-master"])
def test_cut_link_partial_resync(cleanup, how):
    m = start_redis(["--repl-diskless-sync-delay", "0"])
    cleanup.append(m)
    mc = m.client()
    seed_data(mc)
    t = tern_replica_of(m.port)
    cleanup.append(t)
    tc = t.client()
    wait_link_up(tc)
    load_every_type(mc, seed=2, rounds=100)
    wait_caught_up(mc, tc)
    before = mc.info("stats")["sync_partial_ok"]
    if how == "kill-master-on-replica":
        assert tc.client_kill_filter(_type="master") == 1
    else:
        assert mc.client_kill_filter(_type="slave") == 1
    load_every_type(mc, seed=3, rounds=100)
    wait_log(t, "Successful partial resynchronization with master.")
    wait_log(t, "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
    wait_link_up(tc)
    wait_caught_up(mc, tc)
    assert mc.info("stats")["sync_partial_ok"] == before + 1
    assert mc.info("stats")["sync_full"] == 1
    assert digest(tc) == digest(mc)
    assert "Connection with master lost." in log_of(t)
    assert "Caching the disconnected master state." in log_of(t)


def test_replica_restart_resyncs_partially_from_its_rdb(cleanup, tmp_path):
    m = start_redis(["--repl-diskless-sync-delay", "0"])
    cleanup.append(m)
    mc = m.client()
    seed_data(mc)
    data = str(tmp_path)
    t = tern_replica_of(m.port, "--dir", data)
    tc = t.client()
    wait_link_up(tc)
    load_every_type(mc, seed=4, rounds=100)
    wait_caught_up(mc, tc)
    stop_saving(t, tc)
    load_every_type(mc, seed=5, rounds=100)
    t2 = tern_replica_of(m.port, "--dir", data)
    cleanup.append(t2)
    tc2 = t2.client()
    wait_link_up(tc2)
    wait_caught_up(mc, tc2)
    out = log_of(t2)
    assert "Trying a partial resynchronization (request " in out
    assert "Successful partial resynchronization with master." in out
    assert "Full resync from master" not in out
    assert mc.info("stats")["sync_full"] == 1
    assert mc.info("stats")["sync_partial_ok"] == 1
    assert digest(tc2) == digest(mc)


def test_promoted_replica_keeps_history_for_the_other(cleanup):
    """REPLICAOF NO ONE shifts the ids; a sibling re-pointed to it continues with +CONTINUE."""
    m = start_redis(["--repl-diskless-sync-delay", "0"])
    cleanup.append(m)
    mc = m.client()
    seed_data(mc)
    a = tern_replica_of(m.port)
    b = tern_replica_of(m.port)
    cleanup += [a, b]
    ac, bc = a.client(), b.client()
    wait_link_up(ac)
    wait_link_up(bc)
    load_every_type(mc, seed=6, rounds=100)
    wait_caught_up(mc, ac, bc)
    old = info_repl(bc)
    assert bc.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    ib = info_repl(bc)
    assert ib["role"] == "master"
    assert ib["master_replid2"] == old["master_replid"]
    assert ib["second_repl_offset"] == old["master_repl_offset"] + 1
    assert ib["master_replid"] != old["master_replid"]
    assert "MASTER MODE enabled (user request from 'id=" in log_of(b)
    # The data stays, and B takes writes.
    assert digest(bc) == digest(ac)
    assert ac.execute_command("REPLICAOF", "127.0.0.1", b.port) == b"OK"
    wait_log(a, "Successful partial resynchronization with master.")
    wait_link_up(ac)
    wait_log(a, "Master replication ID changed to %s" % ib["master_replid"])
    load_every_type(bc, seed=7, rounds=100)
    wait_caught_up(bc, ac)
    assert digest(ac) == digest(bc)
    ia = info_repl(ac)
    assert ia["master_replid"] == ib["master_replid"]
    assert ia["master_replid2"] == old["master_replid"]
    assert bc.info("stats")["sync_full"] == 0


# --- Tern master, Tern replicas, chains -----------------------------------------------------

def test_tern_chain_master_replica_subreplica(cleanup):
    m = start_tern()
    cleanup.append(m)
    mc = m.client()
    seed_data(mc)
    r1 = tern_replica_of(m.port)
    cleanup.append(r1)
    c1 = r1.client()
    wait_link_up(c1)
    r2 = tern_replica_of(r1.port)
    cleanup.append(r2)
    c2 = r2.client()
    wait_link_up(c2)
    load_every_type(mc, seed=8)
    wait_caught_up(mc, c1, c2)
    d = digest(mc)
    assert digest(c1) == d and digest(c2) == d
    # The middle replica relays exactly what it applied: same ids and offsets all along.
    i0, i1, i2 = info_repl(mc), info_repl(c1), info_repl(c2)
    assert i0["master_replid"] == i1["master_replid"] == i2["master_replid"]
    assert i0["master_repl_offset"] == i1["master_repl_offset"] == i2["master_repl_offset"]
    assert i1["connected_slaves"] == 1
    # Cut the middle link: the chain resumes partially from the middle's backlog.
    assert c2.client_kill_filter(_type="master") == 1
    load_every_type(mc, seed=9, rounds=100)
    wait_log(r2, "Successful partial resynchronization with master.")
    wait_caught_up(mc, c1, c2)
    d = digest(mc)
    assert digest(c1) == d and digest(c2) == d


def test_tern_master_restart_replica_continues(cleanup, tmp_path):
    port = free_port()
    data = str(tmp_path)
    m = ServerProcess(tern_binary(), ["--enable-debug-command", "yes", "--dir", data], port=port)
    mc = m.client()
    seed_data(mc)
    r = tern_replica_of(port)
    cleanup.append(r)
    rc = r.client()
    wait_link_up(rc)
    load_every_type(mc, seed=10, rounds=100)
    wait_caught_up(mc, rc)
    old = info_repl(mc)
    stop_saving(m, mc)
    # SHUTDOWN sent a last GETACK the replica applied: its offset is where the master stopped.
    stopped_at = info_repl(rc)["slave_repl_offset"]
    assert stopped_at >= old["master_repl_offset"]
    m2 = ServerProcess(tern_binary(), ["--enable-debug-command", "yes", "--dir", data], port=port)
    cleanup.append(m2)
    mc2 = m2.client()
    i = info_repl(mc2)
    assert i["master_replid2"] == old["master_replid"]
    assert i["second_repl_offset"] == stopped_at + 1
    wait_log(r, "Successful partial resynchronization with master.", count=1)
    wait_link_up(rc)
    load_every_type(mc2, seed=11, rounds=100)
    wait_caught_up(mc2, rc)
    assert digest(rc) == digest(mc2)
    assert mc2.info("stats")["sync_full"] == 0


# --- behaviour toward clients, INFO, ROLE, CLIENT, compared with redis-server ---------------

@pytest.fixture
def pair_of_replicas(cleanup):
    """A redis master with a Tern replica and a redis replica, both caught up."""
    # No keepalive PING during the comparisons (offsets would move between two INFOs).
    m = start_redis(["--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "60"])
    cleanup.append(m)
    mc = m.client()
    mc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    seed_data(mc)
    t = tern_replica_of(m.port)
    rr = start_redis(["--replicaof", "127.0.0.1", str(m.port)])
    cleanup += [t, rr]
    tc, rc = t.client(), rr.client()
    wait_link_up(tc)
    wait_link_up(rc)
    wait_caught_up(mc, tc, rc)
    return m, mc, t, tc, rr, rc


def test_replica_refuses_writes_like_redis(pair_of_replicas):
    m, mc, t, tc, rr, rc = pair_of_replicas
    for c in (tc, rc):
        with pytest.raises(redis.ResponseError) as e:
            c.set("x", 1)
        assert str(e.value) == "You can't write against a read only replica."
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("WAIT", 1, 0)
        assert str(e.value).startswith("WAIT cannot be used with replica instances.")
        assert c.get("str") == b"hello"


def test_expired_keys_hidden_but_counted(pair_of_replicas):
    m, mc, t, tc, rr, rc = pair_of_replicas
    # The master does not expire (active expiry off, nobody touches the key): the key stays
    # on the replicas, logically expired.
    mc.set("gone", "v", px=50)
    wait_caught_up(mc, tc, rc)
    # Reading it on the master would delete it there: wait on the replicas, which never do.
    wait_until(lambda: tc.get("gone") is None and rc.get("gone") is None, 10, "logical expiry")
    for c in (tc, rc):
        assert c.get("gone") is None
        assert c.exists("gone") == 0
        assert c.ttl("gone") == -2
        assert b"gone" not in c.keys("*")
    assert tc.dbsize() == rc.dbsize()
    assert tc.dbsize() == mc.dbsize()


REPLICA_FIELDS = ["role", "master_host", "master_port", "master_link_status", "master_last_io_seconds_ago",
                  "master_sync_in_progress", "slave_read_repl_offset", "slave_repl_offset", "slave_priority",
                  "slave_read_only", "replica_announced", "connected_slaves", "master_failover_state",
                  "master_replid", "master_replid2", "master_repl_offset", "second_repl_offset",
                  "repl_backlog_active", "repl_backlog_size", "repl_backlog_first_byte_offset",
                  "repl_backlog_histlen"]


def raw_info(c):
    conn = c.connection_pool.get_connection()
    try:
        conn.send_command("INFO", "replication")
        return conn.read_response().decode()
    finally:
        c.connection_pool.release(conn)


def info_lines(c):
    text = raw_info(c)
    return [l.split(":", 1) for l in text.split("\r\n") if l and not l.startswith("#")]


def test_info_role_client_list_like_redis(pair_of_replicas):
    m, mc, t, tc, rr, rc = pair_of_replicas
    load_every_type(mc, seed=12, rounds=50)
    wait_caught_up(mc, tc, rc)
    lt, lr = info_lines(tc), info_lines(rc)
    assert [k for k, _ in lt] == [k for k, _ in lr] == REPLICA_FIELDS
    dt, dr = dict(lt), dict(lr)
    for k in REPLICA_FIELDS:
        if k in ("master_last_io_seconds_ago", "repl_backlog_first_byte_offset", "repl_backlog_histlen"):
            continue
        assert dt[k] == dr[k], k
    # ROLE: ["slave", host, port, "connected", applied offset].
    assert tc.execute_command("ROLE") == rc.execute_command("ROLE")
    assert tc.execute_command("ROLE")[3] == b"connected"
    assert tc.execute_command("ROLE")[4] == info_repl(mc)["master_repl_offset"]
    # The master client: flags=M, addr = the master's address.
    for c in (tc, rc):
        masters = [x for x in c.client_list() if "M" in x["flags"]]
        assert len(masters) == 1
        assert masters[0]["addr"] == "127.0.0.1:%d" % m.port
        assert masters[0]["flags"] == "M"
        assert len(c.client_list(_type="master")) == 1


def test_info_and_role_while_master_unreachable(cleanup):
    dead = free_port()
    t = tern_replica_of(dead)
    rr = start_redis(["--replicaof", "127.0.0.1", str(dead)])
    cleanup += [t, rr]
    tc, rc = t.client(), rr.client()
    wait_log(t, "Error condition on socket for SYNC: Connection refused")
    lt, lr = info_lines(tc), info_lines(rc)
    assert [k for k, _ in lt] == [k for k, _ in lr]
    dt, dr = dict(lt), dict(lr)
    for k in ("role", "master_host", "master_port", "master_link_status", "master_last_io_seconds_ago",
              "master_sync_in_progress", "slave_read_repl_offset", "slave_repl_offset",
              "master_link_down_since_seconds", "slave_priority", "slave_read_only", "connected_slaves",
              "master_replid2", "master_repl_offset", "second_repl_offset", "repl_backlog_active"):
        assert dt[k] == dr[k], k
    role = tc.execute_command("ROLE")
    assert role[:3] == [b"slave", b"127.0.0.1", dead]
    assert role[3] in (b"connect", b"connecting")
    assert role[4] == -1
    # Serving stale data by default; MASTERDOWN when told not to.
    assert tc.get("nothing") is None
    tc.config_set("replica-serve-stale-data", "no")
    with pytest.raises(redis.ResponseError) as e:
        tc.get("nothing")
    assert str(e.value) == "Link with MASTER is down and replica-serve-stale-data is set to 'no'."


def test_replicaof_replies_like_redis(cleanup):
    t = start_tern()
    rr = start_redis()
    cleanup += [t, rr]
    other = start_redis()
    cleanup.append(other)
    for c in (t.client(), rr.client()):
        for bad in ("abc", "70000", "-1"):
            with pytest.raises(redis.ResponseError) as e:
                c.execute_command("REPLICAOF", "127.0.0.1", bad)
            assert str(e.value) == "Invalid master port"
        assert c.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert c.execute_command("SLAVEOF", "127.0.0.1", other.port) in (True, b"OK")
        assert c.execute_command("REPLICAOF", "127.0.0.1", other.port) == b"OK Already connected to specified master"
        wait_link_up(c)
        assert c.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        assert info_repl(c)["role"] == "master"
        c.set("writable", 1)


def test_replicaof_at_startup_and_config_rewrite(cleanup):
    m = start_tern()
    cleanup.append(m)
    m.client().set("k", "v")
    t = start_tern(config_text="replicaof 127.0.0.1 %d\n" % m.port)
    cleanup.append(t)
    tc = t.client()
    wait_link_up(tc)
    assert tc.get("k") == b"v"
    assert tc.config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % m.port}
    conf = os.path.join(t.dir, "test.conf")
    other = start_tern()
    cleanup.append(other)
    tc.execute_command("REPLICAOF", "127.0.0.1", other.port)
    tc.config_rewrite()
    text = open(conf).read()
    assert "replicaof 127.0.0.1 %d" % other.port in text
    assert "replicaof 127.0.0.1 %d\n" % m.port not in text
    tc.execute_command("REPLICAOF", "NO", "ONE")
    tc.config_rewrite()
    assert "replicaof" not in open(conf).read()


def test_masterauth(cleanup):
    m = start_redis(["--requirepass", "secret", "--repl-diskless-sync-delay", "0"])
    cleanup.append(m)
    mc = m.client(password="secret")
    mc.set("k", "v")
    t = tern_replica_of(m.port, "--masterauth", "secret")
    cleanup.append(t)
    tc = t.client()
    wait_link_up(tc)
    assert tc.get("k") == b"v"
    bad = tern_replica_of(m.port, "--masterauth", "wrong")
    cleanup.append(bad)
    wait_log(bad, "Unable to AUTH to MASTER: -WRONGPASS")
    assert not link_up(bad.client())


# --- a scripted master: ACK offsets, MULTI, GETACK, SYNC fallback, transfer fields ----------

EMPTY_RDB = b"REDIS0010\xff" + b"\x00" * 8


class FakeMaster:
    """Accepts one replica connection and lets the test drive it."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.srv.settimeout(20)
        self.port = self.srv.getsockname()[1]
        self.conn = None
        self.buf = b""

    def accept(self):
        self.conn, _ = self.srv.accept()
        self.conn.settimeout(20)

    def read_command(self):
        """One RESP multibulk (or inline line) from the replica, as a list of bytes."""
        while True:
            if self.buf.startswith(b"*"):
                parts = self._try_multibulk()
                if parts is not None:
                    return parts
            elif b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                return line.split()
            chunk = self.conn.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def _try_multibulk(self):
        b = self.buf
        if b"\r\n" not in b:
            return None
        head, rest = b.split(b"\r\n", 1)
        n = int(head[1:])
        out = []
        for _ in range(n):
            if b"\r\n" not in rest:
                return None
            lenline, rest = rest.split(b"\r\n", 1)
            ln = int(lenline[1:])
            if len(rest) < ln + 2:
                return None
            out.append(rest[:ln])
            rest = rest[ln + 2:]
        self.buf = rest
        return out

    def send(self, data):
        self.conn.sendall(data)

    def handshake(self, psync_reply):
        """Answers PING/REPLCONF and returns the PSYNC the replica sent."""
        assert self.read_command() == [b"PING"]
        self.send(b"+PONG\r\n")
        cmds = []
        while True:
            c = self.read_command()
            cmds.append(c)
            if c[0].upper() == b"PSYNC":
                break
            self.send(b"+OK\r\n")
        self.send(psync_reply)
        return cmds

    def close(self):
        if self.conn:
            self.conn.close()
        self.srv.close()


def cmd(*words):
    out = b"*%d\r\n" % len(words)
    for w in words:
        w = w if isinstance(w, bytes) else str(w).encode()
        out += b"$%d\r\n%s\r\n" % (len(w), w)
    return out


def wait_ack(fm, want, stale):
    """Reads ACKs until `want`; anything else before it must be one of `stale`."""
    while True:
        c = fm.read_command()
        assert c[:2] == [b"REPLCONF", b"ACK"], c
        v = int(c[2])
        if v == want:
            return
        assert v in stale, (v, want)


def test_ack_offsets_multi_and_getack_with_scripted_master(cleanup):
    fm = FakeMaster()
    t = tern_replica_of(fm.port, "--replica-announce-ip", "10.1.2.3", "--masterauth", "pw", "--masteruser", "u")
    cleanup.append(t)
    try:
        fm.accept()
        replid = "a" * 40
        cmds = fm.handshake(b"+FULLRESYNC %s 100\r\n" % replid.encode())
        assert cmds[0] == [b"AUTH", b"u", b"pw"]
        assert cmds[1] == [b"REPLCONF", b"listening-port", str(t.port).encode()]
        assert cmds[2] == [b"REPLCONF", b"ip-address", b"10.1.2.3"]
        assert cmds[3] == [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]
        assert cmds[4] == [b"PSYNC", b"?", b"-1"]
        fm.send(b"\n\n")  # keepalives before the payload
        fm.send(b"$%d\r\n" % len(EMPTY_RDB) + EMPTY_RDB)
        tc = t.client()
        wait_link_up(tc)
        getack = cmd("REPLCONF", "GETACK", "*")
        fm.send(cmd("SELECT", "0") + cmd("SET", "k1", "v1") + getack)
        # Periodic ACKs (once a second) may come in between: they never run ahead.
        wait_ack(fm, 152, stale={100})
        # Inside MULTI nothing counts until EXEC; the GETACK runs at EXEC and answers 189.
        fm.send(cmd("MULTI") + cmd("SET", "k2", "v2") + getack)
        wait_until(lambda: info_repl(tc)["slave_read_repl_offset"] == 189 + 15 + 29 + 37, 10, "read offset")
        assert info_repl(tc)["slave_repl_offset"] == 189
        assert tc.get("k2") is None
        fm.send(cmd("EXEC"))
        wait_ack(fm, 189, stale={152})
        wait_until(lambda: tc.get("k2") == b"v2", 10, "EXEC applied")
        fm.send(cmd("PING") + b"\n" + getack)
        wait_ack(fm, 298, stale={189})
        # The next periodic ACK counts the newline and the GETACK.
        wait_ack(fm, 336, stale={298})
        assert tc.get("k2") == b"v2"
        assert tc.execute_command("ROLE")[4] == 336
        i = info_repl(tc)
        assert i["master_replid"] == replid and i["master_repl_offset"] == 336
        assert i["repl_backlog_first_byte_offset"] == 101
    finally:
        fm.close()


def test_sync_fallback_and_transfer_fields_with_scripted_master(cleanup):
    fm = FakeMaster()
    t = tern_replica_of(fm.port)
    cleanup.append(t)
    try:
        fm.accept()
        fm.handshake(b"-ERR unknown command 'PSYNC'\r\n")
        assert fm.read_command() == [b"SYNC"]
        tc = t.client()
        wait_until(lambda: info_repl(tc)["master_sync_in_progress"] == 1, 10, "sync in progress")
        i = info_repl(tc)
        assert i["master_sync_total_bytes"] == -1
        assert i["master_sync_read_bytes"] == 0
        assert i["master_sync_left_bytes"] == -1
        assert raw_info(tc).count("master_sync_perc:-0.00") == 1
        assert tc.execute_command("ROLE")[3] == b"sync"
        fm.send(b"$%d\r\n" % len(EMPTY_RDB) + EMPTY_RDB[:5])
        wait_until(lambda: info_repl(tc)["master_sync_read_bytes"] == 5, 10, "partial transfer")
        i = info_repl(tc)
        assert i["master_sync_total_bytes"] == len(EMPTY_RDB)
        assert i["master_sync_left_bytes"] == len(EMPTY_RDB) - 5
        fm.send(EMPTY_RDB[5:] + cmd("SELECT", "0") + cmd("SET", "a", "1"))
        wait_until(lambda: tc.get("a") == b"1", 10, "stream after SYNC")
        assert link_up(tc)
        assert "Retrying with SYNC..." in log_of(t)
    finally:
        fm.close()


def test_master_error_during_transfer_is_retried(cleanup):
    fm = FakeMaster()
    t = tern_replica_of(fm.port)
    cleanup.append(t)
    try:
        fm.accept()
        fm.handshake(b"+FULLRESYNC %s 0\r\n" % (b"b" * 40))
        fm.send(b"-ERR something failed\r\n")
        wait_log(t, "MASTER aborted replication with an error: ERR something failed")
        fm.conn.close()
        # The cron reconnects.
        fm.accept()
        cmds = fm.handshake(b"-LOADING loading\r\n")
        assert cmds[-1] == [b"PSYNC", b"?", b"-1"]
        wait_log(t, "Master is currently unable to PSYNC but should be in the future: -LOADING loading")
        # No temp file left behind.
        assert not [f for f in os.listdir(t.dir) if f.startswith("temp-")]
    finally:
        fm.close()


def test_command_the_replica_cannot_run_is_logged(cleanup):
    m = start_redis(["--repl-diskless-sync-delay", "0"])
    cleanup.append(m)
    mc = m.client()
    t = tern_replica_of(m.port)
    cleanup.append(t)
    tc = t.client()
    wait_link_up(tc)
    mc.xadd("stream", {"f": "v"})
    mc.set("after", 1)
    wait_caught_up(mc, tc)
    assert tc.get("after") == b"1"
    assert ("== CRITICAL == This replica is sending an error to its master: 'ERR unknown command 'XADD'"
            in log_of(t))
    assert link_up(tc)


def test_link_cut_under_write_load(cleanup):
    """Cuts while the master takes writes: commands split across reads and cut links are
    resumed from the applied offset, never applied twice or lost. The backlog is large and the
    writer paced, so a slow (debug) replica can always continue partially."""
    m = start_redis(["--repl-diskless-sync-delay", "0", "--repl-backlog-size", "256mb"])
    cleanup.append(m)
    mc = m.client()
    seed_data(mc)
    t = tern_replica_of(m.port)
    cleanup.append(t)
    tc = t.client()
    wait_link_up(tc)
    stop = threading.Event()
    errors = []

    def writer():
        c = m.client()
        seed = 100
        try:
            while not stop.is_set():
                load_every_type(c, seed=seed, rounds=50)
                seed += 1
                time.sleep(0.005)
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            c.close()

    th = threading.Thread(target=writer)
    th.start()
    try:
        for i in range(3):
            off = info_repl(mc)["master_repl_offset"]
            wait_until(lambda: info_repl(mc)["master_repl_offset"] > off + 20000, 30, "writes flowing")
            wait_link_up(tc)
            assert tc.client_kill_filter(_type="master") == 1
            wait_log(t, "Successful partial resynchronization with master.", count=i + 1)
    finally:
        stop.set()
        th.join(30)
    assert not errors
    wait_caught_up(mc, tc)
    assert digest(tc) == digest(mc)
    assert mc.info("stats")["sync_full"] == 1
    assert mc.info("stats")["sync_partial_ok"] == 3


def restart_capture(binary, lazy, tmp):
    """A master with keys under a short TTL in dbs 0 and 3 saves, stops, restarts after the
    TTLs passed and gets a PSYNC for where it stopped: returns what follows +CONTINUE."""
    port = free_port()
    os.makedirs(tmp, exist_ok=True)
    extra = ["--dir", tmp, "--save", "", "--lazyfree-lazy-expire", lazy]
    if "tern" in os.path.basename(binary):
        extra += ["--enable-debug-command", "yes"]
    m = ServerProcess(binary, extra, port=port)
    try:
        fake = socket.create_connection(("127.0.0.1", port))
        fake.sendall(cmd("REPLCONF", "capa", "eof", "capa", "psync2"))
        assert fake.recv(100) == b"+OK\r\n"
        fake.sendall(cmd("PSYNC", "?", "-1"))   # a backlog: the RDB keeps the history
        mc = m.client()
        wait_until(lambda: mc.info("replication")["connected_slaves"] == 1, 10, "replica")
        mc.set("k1", "v", px=1000)
        mc.set("keep", "v")
        c3 = m.client(db=3)
        c3.set("k3", "v", px=1000)
        c3.set("k4", "v", px=1000)
        i = info_repl(mc)
        replid, off = i["master_replid"], i["master_repl_offset"]
        mc.execute_command("SAVE")
        fake.close()
        m.proc.kill()
        m.proc.wait()
        m.log.close()
        time.sleep(1.2)   # past the TTLs (the keys must be expired when the file loads)
        m2 = ServerProcess(binary, extra, port=port)
        try:
            m2c = m2.client()
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(5)
            s.sendall(cmd("REPLCONF", "capa", "eof", "capa", "psync2"))
            assert s.recv(100) == b"+OK\r\n"
            s.sendall(cmd("PSYNC", replid, off + 1))
            want = info_repl(m2c)["master_repl_offset"] - off
            out = b""
            head = b"+CONTINUE %s\r\n" % info_repl(m2c)["master_replid"].encode()
            while len(out) < len(head) + want:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            s.close()
            assert out.startswith(head)
            return out[len(head):], m2c.info("persistence")["rdb_last_load_keys_expired"], m2c.dbsize()
        finally:
            m2.stop()
    finally:
        m.stop()


@pytest.mark.parametrize("lazy", ["no", "yes"])
def test_restarted_master_feeds_dels_for_expired_keys_like_redis(tmp_path, lazy):
    """A master restarting from its RDB skips keys whose TTL passed and puts DEL (UNLINK with
    lazyfree-lazy-expire) for each in the backlog, so a partial resync deletes them too."""
    ours = restart_capture(tern_binary(), lazy, str(tmp_path / "tern"))
    theirs = restart_capture("/usr/bin/redis-server", lazy, str(tmp_path / "redis"))
    verb = b"UNLINK" if lazy == "yes" else b"DEL"
    assert ours[1:] == theirs[1:] == (3, 1)
    # Same commands; the order of keys within a db follows each server's RDB order.
    assert ours[0].startswith(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$%d\r\n%s\r\n$2\r\nk1\r\n" % (len(verb), verb))
    assert len(ours[0]) == len(theirs[0])
    assert sorted(ours[0].split(b"*2\r\n")) == sorted(theirs[0].split(b"*2\r\n"))


def test_replica_loses_keys_expired_while_its_master_was_down(cleanup, tmp_path):
    """A Tern replica (and a redis-server replica) of a Tern master: a key with a TTL, the
    master restarts after the TTL passed, the replicas continue partially and the key is
    gone from their keyspace (not only hidden)."""
    port = free_port()
    data = str(tmp_path)
    args = ["--enable-debug-command", "yes", "--dir", data, "--save", ""]
    m = ServerProcess(tern_binary(), args, port=port)
    mc = m.client()
    mc.set("long", "v")
    t = tern_replica_of(port)
    rr = start_redis(["--replicaof", "127.0.0.1", str(port)])
    cleanup += [t, rr]
    tc, rc = t.client(), rr.client()
    wait_caught_up(mc, tc, rc)
    expires_at = time.time() + 3
    mc.set("short", "v", px=3000)
    wait_caught_up(mc, tc, rc)
    assert tc.dbsize() == rc.dbsize() == 2
    stop_saving(m, mc)
    # The TTL passes while the master is down.
    time.sleep(max(0.0, expires_at - time.time()) + 0.2)
    m2 = ServerProcess(tern_binary(), args, port=port)
    cleanup.append(m2)
    mc2 = m2.client()
    wait_log(t, "Successful partial resynchronization with master.", count=1)
    wait_caught_up(mc2, tc, rc)
    # A replica never expires keys itself: without the master's DEL they would still count.
    assert tc.dbsize() == rc.dbsize() == 1
    assert mc2.info("stats")["sync_full"] == 0
    assert tc.get("long") == b"v"
