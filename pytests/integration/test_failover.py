"""FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | ABORT: errors side by side with
redis-server, and the coordinated switch under a write load with no acknowledged write lost
(Tern master and replicas; a Tern master handing over to a redis-server replica and back)."""
import contextlib
import threading
import time

import pytest
import redis

from conftest import start_redis, start_tern
from replication_support import digest, info, wait_for, wait_link_up, wait_synced
from side_by_side import raw_both


def test_failover_errors_match_redis():
    tm, rm = start_tern(), start_redis()
    try:
        for cmds in [
            [("FAILOVER", "ABORT")],
            [("FAILOVER",)],
            [("FAILOVER", "TIMEOUT", "0")],
            [("FAILOVER", "TIMEOUT", "-5")],
            [("FAILOVER", "TIMEOUT", "abc")],
            [("FAILOVER", "TO", "127.0.0.1")],
            [("FAILOVER", "TO", "127.0.0.1", "x")],
            [("FAILOVER", "TO", "127.0.0.1", "1", "TO", "127.0.0.1", "2")],
            [("FAILOVER", "FORCE")],
            [("FAILOVER", "FORCE", "FORCE")],
            [("FAILOVER", "ABORT", "x")],
            [("FAILOVER", "bogus")],
        ]:
            raw_both(tm, rm, *cmds)
    finally:
        tm.stop()
        rm.stop()


def test_failover_errors_with_replicas_match_redis():
    outs = {}
    for name, start in (("tern", start_tern), ("redis", start_redis)):
        m = start(["--repl-diskless-sync-delay", "0"])
        rep = start_redis(["--replicaof", "127.0.0.1", str(m.port)])
        try:
            wait_link_up(rep.client())
            c = m.client()
            got = []
            for args in [("FAILOVER", "FORCE", "TIMEOUT", "100"), ("FAILOVER", "TO", "127.0.0.1", "1"),
                         ("FAILOVER", "TO", "127.0.0.1", str(rep.port), "FORCE")]:
                try:
                    got.append(c.execute_command(*args))
                except redis.ResponseError as e:
                    got.append(("error", str(e)))
            got.append(rep.client().execute_command("ROLE")[0])
            try:
                rep.client().execute_command("FAILOVER")
            except redis.ResponseError as e:
                got.append(str(e))
            outs[name] = got
        finally:
            rep.stop()
            m.stop()
    assert outs["tern"] == outs["redis"]


class Writer:
    """Writes increasing values to one key per round; records what was acknowledged."""

    def __init__(self, port):
        self.port = port
        self.acked = []
        self.errors = []
        self.stop_flag = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        c = redis.Redis(port=self.port, socket_timeout=15)
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            try:
                c.set("fw:%d" % i, i)
                self.acked.append(i)
            except redis.ResponseError as e:
                self.errors.append(str(e))   # -READONLY once the switch is done
                time.sleep(0.01)
            except (redis.ConnectionError, redis.TimeoutError) as e:
                self.errors.append(repr(e))
                time.sleep(0.01)
                c = redis.Redis(port=self.port, socket_timeout=15)

    def stop(self):
        self.stop_flag.set()
        self.t.join(30)


@pytest.mark.parametrize("target_kind", ["tern", "redis"])
def test_failover_under_load_loses_no_acknowledged_write(target_kind):
    start_target = start_tern if target_kind == "tern" else start_redis
    m = start_tern(["--repl-diskless-sync-delay", "0"])
    t = start_target(["--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", str(m.port)])
    other = start_tern(["--replicaof", "127.0.0.1", str(m.port)])
    w = None
    try:
        mc, tc, oc = m.client(), t.client(), other.client()
        wait_link_up(tc)
        wait_link_up(oc)
        w = Writer(m.port)
        wait_for(lambda: len(w.acked) > 200, 30, "writes flowing")
        assert mc.execute_command("FAILOVER", "TO", "127.0.0.1", t.port, "TIMEOUT", 10000) in (True, b"OK")
        wait_for(lambda: info(tc)["role"] == "master" and info(mc).get("master_link_status") == "up", 30,
                 "the switch")
        assert info(mc)["master_failover_state"] == "no-failover"
        wait_for(lambda: any("read only replica" in e for e in w.errors), 30, "writers refused by the old master")
        w.stop()
        # Every acknowledged write is on the new master.
        got = tc.mget(["fw:%d" % i for i in w.acked])
        missing = [i for i, v in zip(w.acked, got) if v is None]
        assert missing == [], "acknowledged writes lost: %d" % len(missing)
        # The old master follows the new one with a partial resync, the other replica via the old master.
        assert "Successful partial resynchronization with master." in m.output()
        tc.set("after", "switch")
        wait_synced(tc, mc)
        wait_for(lambda: info(oc).get("master_link_status") == "up", 30, "the other replica")
        wait_synced(mc, oc)
        assert digest(tc) == digest(mc) == digest(oc)
    finally:
        if w:
            w.stop()
        for s in (other, t, m):
            s.stop()


def test_failover_abort_and_timeout():
    m = start_tern(["--repl-diskless-sync-delay", "0"])
    r = start_tern(["--replicaof", "127.0.0.1", str(m.port)])
    import os
    import signal
    try:
        mc = m.client()
        wait_link_up(r.client())
        os.kill(r.proc.pid, signal.SIGSTOP)      # never catches up
        mc.set("k", "v")
        assert mc.execute_command("FAILOVER", "TIMEOUT", 500) in (True, b"OK")
        assert info(mc)["master_failover_state"] == "waiting-for-sync"
        wait_for(lambda: info(mc)["master_failover_state"] == "no-failover", 10, "timeout")
        assert "FAILOVER to any replica aborted: Replica never caught up before timeout" in m.output()
        assert mc.set("k2", "v2")                  # writes resumed
        assert mc.execute_command("FAILOVER") in (True, b"OK")
        with pytest.raises(redis.ResponseError, match="FAILOVER already in progress"):
            mc.execute_command("FAILOVER")
        with pytest.raises(redis.ResponseError, match="REPLICAOF not allowed while failing over"):
            mc.execute_command("REPLICAOF", "127.0.0.1", "1")
        assert mc.execute_command("FAILOVER", "ABORT") in (True, b"OK")
        assert "FAILOVER to any replica aborted: Failover manually aborted" in m.output()
        assert info(mc)["role"] == "master"
        os.kill(r.proc.pid, signal.SIGCONT)
    finally:
        for s in (r, m):
            s.stop()


def attach_silent_replica(port):
    """A replica that syncs and then never acknowledges: FAILOVER keeps waiting for it."""
    import socket
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n")
    assert s.recv(100) == b"+OK\r\n"
    # PSYNC only after REPLCONF's reply (pending output refuses it).
    s.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    return s


def write_is_held(port, key):
    """Sends SET on a raw connection: True when no reply comes within half a second (the
    write is postponed by a pause); the socket is returned to read the late reply."""
    import socket
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.5)
    s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(key), key.encode()))
    try:
        s.recv(100)
        return False, s
    except socket.timeout:
        return True, s


@contextlib.contextmanager
def master_failing_over(start):
    """A master whose FAILOVER waits for sync (its silent replica never acknowledges the
    write made before it); stopped after."""
    m = start(["--repl-diskless-sync-delay", "0"])
    rep = attach_silent_replica(m.port)
    try:
        c = m.client()
        wait_for(lambda: info(c)["connected_slaves"] == 1, 20, "replica attached")
        c.set("before", 1)
        assert c.execute_command("FAILOVER", "TIMEOUT", "60000") == b"OK"
        yield m, c
    finally:
        rep.close()
        m.stop()


def test_client_unpause_does_not_end_failover_pause_like_redis():
    """Pause purposes: CLIENT PAUSE during a FAILOVER and CLIENT UNPAUSE end only the
    client's pause; writes stay held until the failover ends (aborted here)."""
    results = {}
    for name, start in (("tern", start_tern), ("redis", start_redis)):
        with master_failing_over(start) as (m, c):
            got = [info(c)["master_failover_state"]]
            got.append(c.execute_command("CLIENT", "PAUSE", "100000", "WRITE"))
            got.append(c.execute_command("CLIENT", "UNPAUSE"))
            held, s = write_is_held(m.port, "during")
            got.append(held)
            # Reads go on (both pauses hold writes only).
            reader = m.client(socket_timeout=5)
            got.append(reader.get("during"))
            got.append(c.execute_command("FAILOVER", "ABORT"))
            s.settimeout(5)
            got.append(s.recv(100))
            s.close()
            got.append(c.get("during"))
            results[name] = got
    assert results["tern"] == results["redis"]
    assert results["tern"][3] is True and results["tern"][-2] == b"+OK\r\n"


def test_failover_ending_keeps_client_pause_like_redis():
    """The other way round: a CLIENT PAUSE WRITE outlives the failover's pause."""
    results = {}
    for name, start in (("tern", start_tern), ("redis", start_redis)):
        with master_failing_over(start) as (m, c):
            got = [info(c)["master_failover_state"],
                   c.execute_command("CLIENT", "PAUSE", "100000", "WRITE"),
                   c.execute_command("FAILOVER", "ABORT")]
            held, s = write_is_held(m.port, "after-abort")
            got.append(held)
            got.append(c.execute_command("CLIENT", "UNPAUSE"))
            s.settimeout(5)
            got.append(s.recv(100))
            s.close()
            results[name] = got
    assert results["tern"] == results["redis"]
    assert results["tern"][3] is True
