"""Replica migration (Redis 7.0's clusterHandleSlaveMigration): master A has two replicas,
master B one; B's replica dies, B is orphaned, and A's replica with the smaller id moves to B
CLUSTER_SLAVE_MIGRATION_DELAY (5 s) after the move became allowed. Before that the move is
held back by cluster-migration-barrier 2 (A would keep only one replica) or by
cluster-allow-replica-migration no; lifting it with CONFIG SET starts the delay. The same
scenario runs on redis-server nodes (the oracle), Tern nodes and Tern replicas in a cluster of
redis-server masters."""
import time

import pytest

from cluster_support import (cluster_create, cluster_info, nodes_lines, start_node, stop_all,
                             wait_converged, wait_for, wait_roles_known)

ARGS = ["--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"]


def master_of(viewer, node_id):
    return nodes_lines(viewer.cmd("CLUSTER", "NODES"))[node_id][3]


@pytest.mark.parametrize("masters,replicas,knob", [
    ("redis", "redis", "barrier"), ("tern", "tern", "barrier"), ("redis", "tern", "allow")])
def test_replica_migrates_to_orphaned_master(masters, replicas, knob):
    ms = [start_node(masters, ARGS) for _ in range(3)]
    rs = [start_node(replicas, ARGS) for _ in range(3)]
    nodes = ms + rs
    try:
        cluster_create(ms)
        for r in rs:
            ms[0].cmd("CLUSTER", "MEET", "127.0.0.1", r.port)
        wait_converged(nodes)
        a, b = ms[0].myid(), ms[1].myid()
        for r, m in ((rs[0], a), (rs[1], a), (rs[2], b)):
            assert r.cmd("CLUSTER", "REPLICATE", m) == "OK"
        for r in rs:
            wait_for(lambda: r.cmd("INFO", "replication")["master_link_status"] == "up", 20, "replication link")
        wait_roles_known(nodes)
        movers = rs[:2]
        expected = min(movers, key=lambda r: r.myid())
        stays = next(r for r in movers if r is not expected)
        for r in movers:
            if knob == "barrier":
                r.cmd("CONFIG", "SET", "cluster-migration-barrier", "2")
            else:
                r.cmd("CONFIG", "SET", "cluster-allow-replica-migration", "no")

        dead = rs[2].myid()
        rs[2].stop()
        live = ms + movers
        for n in live:
            wait_for(lambda: "fail" in nodes_lines(n.cmd("CLUSTER", "NODES"))[dead][2].split(","), 15,
                     "the replica's FAIL")
            wait_for(lambda: cluster_info(n)["cluster_state"] == "ok", 10, "cluster_state:ok")
        # Orphaned for longer than the migration delay, but the knob holds both replicas back.
        time.sleep(5.5)
        assert [master_of(r, r.myid()) for r in movers] == [a, a]

        for r in movers:
            if knob == "barrier":
                r.cmd("CONFIG", "SET", "cluster-migration-barrier", "1")
            else:
                r.cmd("CONFIG", "SET", "cluster-allow-replica-migration", "yes")
        lifted = time.time()
        wait_for(lambda: master_of(expected, expected.myid()) == b, 15, "the smallest id to migrate")
        # The delay runs from the moment the move became possible (the knob check comes first).
        assert time.time() - lifted > 4.5
        assert "Migrating to orphaned master %s" % b in expected.output()
        for n in live:
            wait_for(lambda: master_of(n, expected.myid()) == b, 10, "everybody to see the move")
        wait_for(lambda: expected.cmd("INFO", "replication")["master_port"] == ms[1].port, 10, "new master")
        wait_for(lambda: expected.cmd("INFO", "replication")["master_link_status"] == "up", 20, "replicating B")
        # A keeps one replica: with the default barrier of 1 nobody else may leave it.
        assert master_of(stays, stays.myid()) == a
        assert "Migrating to orphaned master" not in stays.output()
        info = cluster_info(expected)
        assert info["cluster_state"] == "ok"
    finally:
        stop_all(nodes)
