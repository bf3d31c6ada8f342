"""redis-cli's cluster tooling against Tern nodes while redis-py's RedisCluster client writes and
reads continuously: create, check, add-node (master and replica), reshard of 1,000 slots,
rebalance, del-node; then a master killed under load. Afterwards every acknowledged key holds its
last acknowledged value and the client saw no error other than the redirections it followed."""
import os
import signal
import time

from cluster_load import ClusterLoad, check_clean, cli
from cluster_support import (cluster_create, cluster_info, nodes_lines, start_node, stop_all,
                             wait_converged, wait_for, wait_roles_known)

ARGS = ["--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"]


def addr(n):
    return "127.0.0.1:%d" % n.port


def slot_count(node, nid):
    count = 0
    for s in nodes_lines(node.cmd("CLUSTER", "NODES"))[nid][8:]:
        if s.startswith("["):
            continue
        a, _, b = s.partition("-")
        count += int(b or a) - int(a) + 1
    return count


def test_tooling_under_load():
    nodes = [start_node("tern", ARGS) for _ in range(6)]
    extra = []
    load = None
    try:
        cluster_create(nodes, replicas=1)
        wait_converged(nodes)
        check_clean(nodes[0])
        load = ClusterLoad(nodes[0]).start()
        load.wait_writes(500)

        # A new master, then a replica of it.
        m = start_node("tern", ARGS)
        extra.append(m)
        cli("add-node", addr(m), addr(nodes[0]))
        wait_converged(nodes + extra)
        mid = m.myid()
        r = start_node("tern", ARGS)
        extra.append(r)
        cli("add-node", addr(r), addr(nodes[0]), "--cluster-slave", "--cluster-master-id", mid)
        wait_converged(nodes + extra)
        wait_for(lambda: r.cmd("INFO", "replication")["master_link_status"] == "up", 20, "new replica linked")
        check_clean(nodes[0])
        load.refresh_topology()
        load.wait_writes(200)

        cli("reshard", addr(nodes[0]), "--cluster-from", "all", "--cluster-to", mid,
            "--cluster-slots", 1000, "--cluster-yes")
        wait_converged(nodes + extra)
        assert slot_count(nodes[0], mid) == 1000
        check_clean(nodes[0])
        load.wait_writes(200)

        out = cli("rebalance", addr(nodes[0]))
        assert "Moving" in out, out
        wait_converged(nodes + extra)
        assert 16384 // 4 - 200 <= slot_count(nodes[0], mid) <= 16384 // 4 + 200
        check_clean(nodes[0])
        load.wait_writes(200)

        # Empty the new master (weight 0), then remove it: its replica is moved to another master.
        cli("rebalance", addr(nodes[0]), "--cluster-weight", "%s=0" % mid)
        wait_converged(nodes + extra)
        assert slot_count(nodes[0], mid) == 0
        load.wait_writes(200)
        cli("del-node", addr(nodes[0]), mid)
        extra.remove(m)
        m.stop()
        wait_converged(nodes + extra)
        assert mid not in nodes_lines(nodes[0].cmd("CLUSTER", "NODES"))
        check_clean(nodes[0])
        load.wait_writes(200)
        load.stop()

        lost = load.verify()
        print("writes %d reads %d redirections followed %r" % (load.writes, load.reads, load.redirects.counts))
        assert load.errors == [], load.errors[:5]
        assert load.stale_reads == [], load.stale_reads[:5]
        assert lost == [], lost[:5]
        # The reshards moved slots with keys in them while they were written.
        assert load.redirects.counts["MOVED"] + load.redirects.counts["ASK"] > 0
    finally:
        if load is not None:
            load.stop()
            load.close()
        stop_all(nodes + extra)


def test_master_killed_under_load():
    nodes = [start_node("tern", ARGS) for _ in range(6)]
    load = None
    try:
        cluster_create(nodes, replicas=1)
        wait_converged(nodes)
        for r in nodes[3:]:
            wait_for(lambda: r.cmd("INFO", "replication")["master_link_status"] == "up", 20, "replication link")
        wait_roles_known(nodes)
        victim = nodes[0]
        vid = victim.myid()
        heir = next(r for r in nodes[3:] if nodes_lines(r.cmd("CLUSTER", "NODES"))[r.myid()][3] == vid)
        load = ClusterLoad(nodes[1]).start()
        load.wait_writes(1000)

        killed_at = time.time()
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait()

        def promoted():
            return "master" in nodes_lines(nodes[1].cmd("CLUSTER", "NODES"))[heir.myid()][2].split(",")
        # Within cluster-node-timeout (2 s) plus a few seconds: FAIL needs a majority's
        # reports, then the replica waits 0.5-1 s and collects votes.
        wait_for(promoted, 2.0 + 6, "the replica's election", interval=0.05)
        elected_after = time.time() - killed_at
        for n in nodes[1:]:
            wait_for(lambda: cluster_info(n)["cluster_state"] == "ok", 10, "cluster_state:ok")
        ok_at = time.time()
        load.wait_writes(500)
        load.stop()

        lost = load.verify(reader=None)
        print("elected after %.2fs; writes %d; errors %d (all between the kill and +%.2fs); lost %d: %r"
              % (elected_after, load.writes, len(load.errors), ok_at - killed_at, len(lost), lost[:20]))
        print("redirections followed %r" % load.redirects.counts)
        # Asynchronous replication: only writes acknowledged just before the kill may be lost.
        assert all(killed_at - 1.0 <= at <= killed_at for _, _, at, _ in lost), lost
        # Errors only while the slots had no reachable master; stale reads only of lost writes.
        assert all(killed_at <= t <= ok_at + 2.0 for t, _, _ in load.errors), load.errors
        lost_keys = {k for k, _, _, _ in lost}
        assert all(k in lost_keys for _, k, _, _ in load.stale_reads), load.stale_reads

        # The old master restarts from its nodes.conf with the same id and its epoch, and
        # follows the winner.
        saved = victim.nodes_conf()
        saved_current = int(saved.split("currentEpoch ")[1].split()[0])
        saved_own = next(l.split(" ") for l in saved.splitlines() if l.startswith(vid))
        victim.restart()
        assert victim.myid() == vid
        assert int(cluster_info(victim)["cluster_current_epoch"]) >= saved_current
        wait_for(lambda: nodes_lines(victim.cmd("CLUSTER", "NODES"))[vid][3] == heir.myid(), 20,
                 "the old master to follow the winner")
        line = nodes_lines(victim.cmd("CLUSTER", "NODES"))[vid]
        assert "slave" in line[2].split(",")
        # Like Redis, a replica's line shows its master's config epoch.
        assert int(line[6]) == int(nodes_lines(victim.cmd("CLUSTER", "NODES"))[heir.myid()][6]) > int(saved_own[6])
        assert int(cluster_info(victim)["cluster_current_epoch"]) == int(cluster_info(heir)["cluster_current_epoch"])
        wait_for(lambda: victim.cmd("INFO", "replication")["master_link_status"] == "up", 20, "old master replicating")
        wait_converged(nodes)
    finally:
        if load is not None:
            load.stop()
            load.close()
        stop_all(nodes)
