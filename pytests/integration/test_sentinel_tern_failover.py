"""Tern's own sentinels (tern-server --sentinel) running an automatic failover: three Tern
sentinels watch a master and two replicas (Tern servers, then real redis-servers), the master
is killed under write load from redis-py's Sentinel client, a replica is promoted, the other
follows it, and the old master, restarted, is turned into a replica. Acknowledged writes lost
in the switch and the failover time are printed (run with -s to see them)."""
import time

import pytest

from replication_support import wait_for
from sentinel_support import MASTER_NAME, Topology, WriteLoad, as_map, role


def failover_under_load(topo, password=None, sentinel_password=None):
    load = None
    try:
        topo.wait_discovery()
        load = WriteLoad([s.port for s in topo.sentinels], password=password, sentinel_password=sentinel_password)
        load.start()
        wait_for(lambda: len(load.acked) >= 200 and load.reads_ok >= 20, 20, "writes and reads before the kill")
        old = topo.master
        old_port = old.port
        killed_at = time.time()
        topo.kill(old)
        new_port = topo.wait_switch(old_port)
        switched_at = time.time()
        new_master = topo.by_port(new_port)
        assert role(new_master, password)[0] == "master"
        other = next(s for s in topo.servers if s.port not in (old_port, new_port))
        wait_for(lambda: role(other, password)[:3] == ["slave", "127.0.0.1", new_port], 30,
                 "the other replica to follow")
        # The Sentinel client keeps writing (to the new master) and reading (from a replica).
        acked_before = len(load.acked)
        reads_before = load.reads_ok
        wait_for(lambda: len(load.acked) >= acked_before + 200 and load.reads_ok >= reads_before + 20, 30,
                 "writes and reads through the switch")
        # The old master comes back empty and is converted into a replica of the new one.
        again = topo.restart(old)
        wait_for(lambda: role(again, password)[:2] == ["slave", "127.0.0.1"] and role(again, password)[2] == new_port,
                 60, "the restarted old master to become a replica")
        load.stop()
        m = new_master.client(decode_responses=True, password=password)
        keys = [k for k, _ in load.acked]
        present = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            present.update(k for k, v in zip(chunk, m.mget(chunk)) if v is not None)
        lost = [k for k, at in load.acked if k not in present]
        lost_after_switch = [k for k, at in load.acked if k not in present and at >= switched_at]
        first_write = min(at for _, at in load.acked if at >= killed_at)
        print("\n[%s servers] acked writes %d, lost %d, write errors %d, kill -> first acked write %.2f s, "
              "kill -> every sentinel switched %.2f s" % (topo.server_kind, len(keys), len(lost), load.write_errors,
                                                          first_write - killed_at, switched_at - killed_at))
        # Writes acknowledged by the new master survive (only the old master's last
        # unreplicated writes can be lost).
        assert lost_after_switch == []
        # Every sentinel agrees and lists the old master among the replicas.
        for s in topo.sentinels:
            c = topo.sentinel_client(s)
            assert int(topo.master_addr(s)[1]) == new_port
            ports = {int(as_map(r)["port"]) for r in c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)}
            assert old_port in ports
            assert int(as_map(c.execute_command("SENTINEL", "MASTER", MASTER_NAME))["config-epoch"]) >= 1
    except BaseException:
        # What the sentinels saw, for the failure report.
        for s in topo.sentinels:
            print("--- sentinel %d" % s.port)
            print("\n".join(l for l in s.output().splitlines() if "saved on disk" not in l)[-4000:])
        raise
    finally:
        if load:
            load.stop()
        topo.stop()


@pytest.mark.parametrize("server_kind", ["tern", "redis"])
def test_failover_under_write_load(server_kind):
    failover_under_load(Topology(server_kind=server_kind, sentinel_kinds=("tern", "tern", "tern"),
                                 master_args=["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]))


def test_failover_with_passwords():
    """Servers with requirepass (auth-pass in sentinel.conf) and sentinels with requirepass
    (they authenticate to each other with it); clients of the sentinels must AUTH."""
    topo = Topology(server_kind="tern", sentinel_kinds=("tern", "tern", "tern"),
                    server_args=["--requirepass", "datapw", "--masterauth", "datapw"],
                    sentinel_extra="sentinel auth-pass mym datapw\nrequirepass sentpw\n", password="sentpw")
    import redis
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=topo.sentinels[0].port).execute_command("SENTINEL", "MASTERS")
    failover_under_load(topo, password="datapw", sentinel_password="sentpw")


def test_manual_failover_tilt_and_simulated_crash():
    """SENTINEL FAILOVER needs no quorum or election; SENTINEL SIMULATE-FAILURE
    crash-after-election makes the next elected sentinel exit with 99; a sentinel stopped
    for more than 2 s enters TILT."""
    import os
    import signal
    from conftest import ServerProcess, tern_binary
    from sentinel_support import RawConnection, sentinel_config
    topo = Topology(server_kind="tern", sentinel_kinds=(), replicas=1)
    try:
        s = ServerProcess(tern_binary(), ["--sentinel"], config_text=sentinel_config(topo.master.port, quorum=2))
        topo.sentinels.append(s)
        c = topo.sentinel_client(s)
        wait_for(lambda: as_map(c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)[0])["master-link-status"] == "ok"
                 if c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME) else False, 20, "the replica")
        raw = RawConnection(s.port)
        old, new = topo.master.port, topo.servers[1].port
        assert raw.call("SENTINEL", "FAILOVER", MASTER_NAME) == b"+OK\r\n"
        assert raw.call("SENTINEL", "FAILOVER", MASTER_NAME) == b"-INPROG Failover already in progress\r\n"
        assert topo.wait_switch(old) == new
        wait_for(lambda: role(topo.by_port(old))[:3] == ["slave", "127.0.0.1", new], 30, "the old master to follow")
        assert int(as_map(c.execute_command("SENTINEL", "MASTER", MASTER_NAME))["config-epoch"]) == 1
        # TILT after the process was stopped for 3 s (for 2 s instead of 30, SENTINEL DEBUG).
        assert raw.call("SENTINEL", "DEBUG", "tilt-period", "2000") == b"+OK\r\n"
        os.kill(s.proc.pid, signal.SIGSTOP)
        time.sleep(3)
        os.kill(s.proc.pid, signal.SIGCONT)
        wait_for(lambda: "-tilt #tilt mode exited" in s.output(), 10, "TILT to end")
        assert "+tilt #tilt mode entered" in s.output()
        # Crash right after winning the (forced) election.
        wait_for(lambda: as_map(c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)[0])["master-link-status"] == "ok",
                 30, "the new replica's link")
        assert raw.call("SENTINEL", "SIMULATE-FAILURE", "CRASH-AFTER-ELECTION") == b"+OK\r\n"
        assert "sentinel_simulate_failure_flags:1" in raw.call("INFO", "sentinel").decode()
        assert raw.call("SENTINEL", "FAILOVER", MASTER_NAME) == b"+OK\r\n"
        assert s.proc.wait(10) == 99
        raw.close()
    finally:
        topo.stop()


def test_replica_priority_zero_is_never_promoted():
    """Two replicas, the one with the larger offset or smaller run id has replica-priority 0:
    the other is promoted (Redis's selection: priority 0 excluded, then priority, offset, id)."""
    from conftest import ServerProcess, tern_binary
    from replication_support import wait_synced
    from sentinel_support import start_data_server, sentinel_config
    topo = Topology(server_kind="tern", sentinel_kinds=(), replicas=1)
    try:
        excluded = start_data_server("tern", ["--replicaof", "127.0.0.1", str(topo.master.port),
                                              "--replica-priority", "0"])
        topo.servers.append(excluded)
        wait_synced(topo.master.client(), *[r.client() for r in topo.servers[1:]])
        s = ServerProcess(tern_binary(), ["--sentinel"], config_text=sentinel_config(topo.master.port, quorum=1))
        topo.sentinels.append(s)
        topo.wait_discovery()
        c = topo.sentinel_client(s)
        wait_for(lambda: all(as_map(e)["master-link-status"] == "ok"
                             for e in c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)), 20, "replica links")
        prio = {int(as_map(e)["port"]): as_map(e)["slave-priority"]
                for e in c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)}
        assert prio[excluded.port] == "0"
        old = topo.master.port
        topo.kill(topo.master)
        assert topo.wait_switch(old) == topo.servers[1].port
        wait_for(lambda: role(excluded)[:3] == ["slave", "127.0.0.1", topo.servers[1].port], 30,
                 "the priority-0 replica to follow the promoted one")
    finally:
        topo.stop()
