"""A Tern master, a Tern replica and a Tern sub-replica chained behind it, under a steady
write load of every type while links are cut (CLIENT KILL TYPE master, a replica restart, a
master restart): every cut ends in a partial resync, and once the load stops the three
digests are equal. Also the mirror topologies with redis-server on either side."""
import os
import subprocess
import threading

import pytest
import redis

from conftest import start_redis, start_tern, tern_binary
from replication_support import digest, info, populate, wait_for, wait_link_up, wait_synced, write_load


class Load:
    """write_load in a background thread until stopped; counts the writes acknowledged."""

    def __init__(self, port):
        self.port = port
        self.stop_flag = threading.Event()
        self.rounds = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        c = redis.Redis(port=self.port, socket_timeout=10)
        while not self.stop_flag.is_set():
            try:
                write_load(c, 50, seed=self.rounds, prefix="load")
                self.rounds += 1
            except (redis.ConnectionError, redis.TimeoutError):
                c = redis.Redis(port=self.port, socket_timeout=10)

    def stop(self):
        self.stop_flag.set()
        self.t.join(30)


def restart_in_place(server, extra=()):
    """SHUTDOWN (saving: the RDB keeps the replication id and offset) and start the same
    binary again on the same port and directory."""
    try:
        server.client().execute_command("SHUTDOWN", "SAVE")
    except redis.ConnectionError:
        pass
    server.proc.wait(20)
    argv = [server.proc.args[0]] + list(server.proc.args[1:]) + list(extra)
    server.proc = subprocess.Popen(argv, stdout=server.log, stderr=subprocess.STDOUT, cwd=server.dir)
    wait_for(lambda: server.client().ping(), 30, "restart")


def partial_ok(s):
    return s.client().info("stats")["sync_partial_ok"]


def test_chain_under_load_with_cuts_and_restarts():
    m = start_tern(["--repl-diskless-sync-delay", "0", "--save", ""])
    a = start_tern(["--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", str(m.port)])
    b = start_tern(["--replicaof", "127.0.0.1", str(a.port)])
    load = None
    try:
        mc, ac, bc = m.client(), a.client(), b.client()
        populate(mc)
        wait_link_up(ac)
        wait_link_up(bc)
        load = Load(m.port)
        wait_for(lambda: load.rounds >= 2, 60, "load running")

        # 1. The master link of the first replica is cut.
        before = partial_ok(m)
        ac.client_kill_filter(_type="master")
        wait_link_up(ac)
        wait_for(lambda: partial_ok(m) > before, 30, "partial resync after CLIENT KILL TYPE master")
        assert "Successful partial resynchronization with master." in a.output()

        # 2. The chained replica restarts from its own RDB.
        before = partial_ok(a)
        restart_in_place(b)
        wait_link_up(b.client())
        wait_for(lambda: partial_ok(a) > before, 30, "partial resync after a replica restart")

        # 3. The master restarts (it saves its RDB with the replication id and offset).
        load.stop()
        load = None
        wait_synced(mc, ac)
        restart_in_place(m)
        wait_link_up(ac)
        load = Load(m.port)
        wait_for(lambda: load.rounds >= 2, 60, "load after the master restart")
        # A new process: its counters start at zero.
        wait_for(lambda: partial_ok(m) >= 1, 30, "partial resync after a master restart")
        load.stop()
        load = None

        wait_synced(mc, ac)
        wait_synced(ac, bc)
        assert mc.info("stats")["sync_full"] == 0      # the restarted master: partial only
        assert ac.info("stats")["sync_full"] == 1      # the chain's first sync only
        d = digest(mc)
        assert digest(ac) == d
        assert digest(bc) == d
    finally:
        if load:
            load.stop()
        for s in (b, a, m):
            s.stop()


@pytest.mark.parametrize("master_kind", ["tern", "redis"])
@pytest.mark.parametrize("diskless", [False, True])
def test_interop_under_load(master_kind, diskless):
    """A replica of the other kind, full sync (disk or diskless) then a cut and a partial
    resync, all under load; digests equal."""
    args = ["--repl-diskless-sync", "yes" if diskless else "no", "--repl-diskless-sync-delay", "0"]
    if master_kind == "tern":
        m = start_tern(args)
        make_replica = lambda: start_redis(["--replicaof", "127.0.0.1", str(m.port)])
    else:
        m = start_redis(args)
        make_replica = lambda: start_tern(["--replicaof", "127.0.0.1", str(m.port)])
    populate(m.client())
    load = Load(m.port)
    r = None
    try:
        wait_for(lambda: load.rounds >= 1, 60, "load running")
        r = make_replica()
        rc = r.client()
        wait_link_up(rc)
        wait_for(lambda: load.rounds >= 3, 60, "load after the sync")
        before = partial_ok(m)
        rc.client_kill_filter(_type="master")
        wait_link_up(rc)
        wait_for(lambda: partial_ok(m) > before, 30, "partial resync")
        load.stop()
        wait_synced(m.client(), rc)
        assert digest(rc) == digest(m.client())
    finally:
        load.stop()
        for s in ([r] if r else []) + [m]:
            s.stop()
