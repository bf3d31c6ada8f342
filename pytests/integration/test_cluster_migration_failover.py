"""cluster-replica-no-failover (Redis 7.0): the replica shows and gossips the nofailover flag,
does not start an election when its master fails, yet still obeys CLUSTER FAILOVER FORCE.
The same cluster of redis-server nodes and of Tern nodes."""
import os
import signal
import time

import pytest

from cluster_support import create_replicated, nodes_lines, replica_of, start_node, stop_all, wait_for

ARGS = ["--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"]


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_replica_no_failover(kind):
    ms = [start_node(kind, ARGS) for _ in range(3)]
    rs = [start_node(kind, ARGS) for _ in range(3)]
    nodes = ms + rs
    stopped = None
    try:
        create_replicated(ms, rs)
        victim = ms[0]
        vid = victim.myid()
        heir = replica_of(rs, vid)
        hid = heir.myid()
        assert heir.cmd("CONFIG", "SET", "cluster-replica-no-failover", "yes") == "OK"
        wait_for(lambda: nodes_lines(heir.cmd("CLUSTER", "NODES"))[hid][2] == "myself,slave,nofailover", 5,
                 "the flag on myself")
        for n in nodes:
            if n is not heir:
                wait_for(lambda: nodes_lines(n.cmd("CLUSTER", "NODES"))[hid][2] == "slave,nofailover", 10,
                         "the flag gossiped")
        assert "nofailover" in heir.nodes_conf()

        os.kill(victim.proc.pid, signal.SIGSTOP)
        stopped = victim
        wait_for(lambda: "fail" in nodes_lines(ms[1].cmd("CLUSTER", "NODES"))[vid][2].split(","), 15,
                 "the master's FAIL")
        wait_for(lambda: "fail" in nodes_lines(heir.cmd("CLUSTER", "NODES"))[vid][2].split(","), 10,
                 "the replica to see the FAIL")
        # An election would be over in well under 3 s (500-999 ms delay, rank 0).
        time.sleep(3)
        assert heir.cmd("ROLE")[0] == "slave"
        assert "Starting a failover election" not in heir.output()
        assert nodes_lines(ms[1].cmd("CLUSTER", "NODES"))[hid][2] == "slave,nofailover"

        # A manual failover is still allowed.
        assert heir.cmd("CLUSTER", "FAILOVER", "FORCE") == "OK"
        wait_for(lambda: heir.cmd("ROLE")[0] == "master", 15, "the forced failover")
        wait_for(lambda: "master" in nodes_lines(ms[1].cmd("CLUSTER", "NODES"))[hid][2].split(","), 10,
                 "the new master known")
        assert nodes_lines(heir.cmd("CLUSTER", "NODES"))[hid][2] == "myself,master,nofailover"
        assert heir.cmd("CONFIG", "SET", "cluster-replica-no-failover", "no") == "OK"
        wait_for(lambda: nodes_lines(heir.cmd("CLUSTER", "NODES"))[hid][2] == "myself,master", 5,
                 "the flag cleared")
    finally:
        if stopped is not None:
            os.kill(stopped.proc.pid, signal.SIGCONT)
        stop_all(nodes)


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_replica_validity_factor(kind):
    """cluster-replica-validity-factor: a replica whose replication link has been down longer
    than repl-ping-replica-period + node timeout x factor (node timeout subtracted from the
    age first) does not run for election and says why after node timeout + 5 s; with the
    factor set to 0 it runs at once."""
    ms = [start_node(kind, ARGS) for _ in range(3)]
    rs = [start_node(kind, ARGS) for _ in range(3)]
    nodes = ms + rs
    stopped = None
    try:
        create_replicated(ms, rs)
        victim = ms[0]
        vid = victim.myid()
        heir = replica_of(rs, vid)
        heir.cmd("CONFIG", "SET", "cluster-replica-validity-factor", "1")
        heir.cmd("CONFIG", "SET", "repl-ping-replica-period", "1")
        # The replication link breaks (the master now wants a password the replica lacks);
        # the bus is untouched.
        victim.cmd("CONFIG", "SET", "requirepass", "secret")
        c = victim.client(password="secret")
        c.execute_command("CLIENT", "KILL", "TYPE", "replica")
        c.close()
        wait_for(lambda: heir.cmd("INFO", "replication")["master_link_status"] == "down", 10, "link down")
        # Allowed age: 1000 + 2000 ms after subtracting the node timeout, so more than 5 s.
        time.sleep(5.5)
        os.kill(victim.proc.pid, signal.SIGSTOP)
        stopped = victim
        wait_for(lambda: "fail" in nodes_lines(heir.cmd("CLUSTER", "NODES"))[vid][2].split(","), 15,
                 "the replica to see the FAIL")
        wait_for(lambda: "Currently unable to failover: Disconnected from master for longer than allowed. "
                         "Please check the 'cluster-replica-validity-factor' configuration option." in heir.output(),
                 15, "the data-age log")
        assert heir.cmd("ROLE")[0] == "slave"
        assert "Starting a failover election" not in heir.output()
        heir.cmd("CONFIG", "SET", "cluster-replica-validity-factor", "0")
        wait_for(lambda: heir.cmd("ROLE")[0] == "master", 15, "the election once the check is off")
    finally:
        if stopped is not None:
            os.kill(stopped.proc.pid, signal.SIGCONT)
        stop_all(nodes)
