"""Replica elections: a master stops, its replica is elected by the other masters' votes and
takes its slots, the cluster returns to ok, and the old master comes back as a replica of the
winner — with Tern on both sides and across kinds (a redis-server replica elected by Tern
masters, a Tern replica elected by redis-server masters)."""
import os
import signal

import pytest

from cluster_support import (cluster_info, create_replicated, nodes_lines, replica_of, start_node, stop_all,
                             wait_converged, wait_for, wait_roles_known)

ARGS = ["--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"]


@pytest.mark.parametrize("masters,replicas", [("tern", "tern"), ("tern", "redis"), ("redis", "tern")])
def test_replica_is_elected_and_old_master_rejoins(masters, replicas):
    ms = [start_node(masters, ARGS) for _ in range(3)]
    rs = [start_node(replicas, ARGS) for _ in range(3)]
    nodes = ms + rs
    try:
        create_replicated(ms, rs)
        victim = ms[0]
        vid = victim.myid()
        heir = replica_of(rs, vid)
        slots = nodes_lines(ms[1].cmd("CLUSTER", "NODES"))[vid][8:]
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            def promoted():
                line = nodes_lines(ms[1].cmd("CLUSTER", "NODES"))[heir.myid()]
                return "master" in line[2].split(",") and line[8:] == slots
            wait_for(promoted, 20, "the replica's election")
            assert heir.cmd("ROLE")[0] == "master"
            for n in nodes[1:]:
                wait_for(lambda: cluster_info(n)["cluster_state"] == "ok", 10, "cluster_state:ok")
            epochs = [int(nodes_lines(n.cmd("CLUSTER", "NODES"))[heir.myid()][6]) for n in nodes[1:]]
            assert len(set(epochs)) == 1 and epochs[0] > 3
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        wait_for(lambda: nodes_lines(victim.cmd("CLUSTER", "NODES"))[vid][3] == heir.myid(), 20,
                 "the old master to follow the winner")
        wait_for(lambda: victim.cmd("INFO", "replication")["master_link_status"] == "up", 20, "old master replicating")
    finally:
        stop_all(nodes)


@pytest.mark.parametrize("masters,replicas", [("tern", "tern"), ("tern", "redis"), ("redis", "tern")])
def test_manual_failover_modes(masters, replicas):
    ms = [start_node(masters, ARGS) for _ in range(3)]
    rs = [start_node(replicas, ARGS) for _ in range(3)]
    nodes = ms + rs
    try:
        create_replicated(ms, rs)
        for n in (ms[0], rs[0]):
            with pytest.raises(Exception, match="syntax error"):
                n.cmd("CLUSTER", "FAILOVER", "SOON")
        with pytest.raises(Exception, match="You should send CLUSTER FAILOVER to a replica"):
            ms[0].cmd("CLUSTER", "FAILOVER")

        def master_of(r):
            return nodes_lines(r.cmd("CLUSTER", "NODES"))[r.myid()][3]

        # Default, then FORCE, then TAKEOVER, each time from the current replica of shard 0.
        replica = next(r for r in rs if master_of(r) == ms[0].myid())
        master = ms[0]
        for mode in ([], ["FORCE"], ["TAKEOVER"]):
            wait_for(lambda: replica.cmd("INFO", "replication")["master_link_status"] == "up", 20, "link before failover")
            assert replica.cmd("CLUSTER", "FAILOVER", *mode) == "OK"
            wait_for(lambda: replica.cmd("ROLE")[0] == "master" and master_of(master) == replica.myid(), 20,
                     "CLUSTER FAILOVER %s" % " ".join(mode))
            wait_converged(nodes)
            # Votes go only to a node every master knows as a replica: wait until the old
            # master's new role has reached everybody before the next round.
            wait_roles_known(nodes)
            master, replica = replica, master
    finally:
        stop_all(nodes)
