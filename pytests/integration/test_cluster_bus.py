"""The cluster bus: `redis-cli --cluster create` of Tern masters gives a clean cluster; a
mixed cluster of Tern and redis-server 7.0 nodes agrees (the bus interoperates), and the
views of a Tern and a Redis node of it match field by field; gossip, PFAIL/FAIL, PUBLISH,
hostnames and epoch collisions work across both kinds; a restart keeps id and epochs."""
import os
import signal
import time

import pytest
import redis
from redis.cluster import RedisCluster

from cluster_support import (cluster_check, cluster_create, cluster_info, nodes_lines, start_node,
                             stop_all, wait_converged, wait_for)

FAST = ["--cluster-node-timeout", "2000"]


def view(node):
    """CLUSTER NODES as {id: (address, flags without myself, master, epoch, link, slots)}."""
    out = {}
    for f in nodes_lines(node.cmd("CLUSTER", "NODES")).values():
        flags = ",".join(x for x in f[2].split(",") if x != "myself")
        out[f[0]] = (f[1], flags, f[3], f[6], f[7], tuple(f[8:]))
    return out


@pytest.fixture(scope="module")
def terns():
    nodes = [start_node("tern", FAST) for _ in range(3)]
    yield nodes
    stop_all(nodes)


def test_three_tern_masters_make_a_clean_cluster(terns):
    out = cluster_create(terns)
    assert "[OK] All 16384 slots covered." in out
    wait_converged(terns)
    code, text = cluster_check(terns[1])
    assert code == 0, text
    assert "[OK] All nodes agree about slots configuration." in text
    assert "[OK] All 16384 slots covered." in text
    views = [view(n) for n in terns]
    assert views[0] == views[1] == views[2]
    epochs = sorted(int(cluster_info(n)["cluster_my_epoch"]) for n in terns)
    assert epochs == [1, 2, 3]
    rc = RedisCluster(host="127.0.0.1", port=terns[0].port, decode_responses=True)
    try:
        for i in range(200):
            rc.set("key:%d" % i, i)
        assert all(rc.get("key:%d" % i) == str(i) for i in range(200))
        # Every node holds only keys of its own slots.
        for n in terns:
            mine = {tuple(map(int, s.split("-"))) if "-" in s else (int(s), int(s))
                    for s in nodes_lines(n.cmd("CLUSTER", "NODES"))[n.myid()][8:]}
            for k in n.client().keys("*"):
                slot = n.cmd("CLUSTER", "KEYSLOT", k)
                assert any(a <= slot <= b for a, b in mine)
    finally:
        rc.close()


def test_restart_from_nodes_conf_keeps_identity_and_rejoins(terns):
    n = terns[2]
    before = nodes_lines(n.cmd("CLUSTER", "NODES"))[n.myid()]
    myid, epoch = n.myid(), cluster_info(n)["cluster_current_epoch"]
    n.restart()
    assert n.myid() == myid
    assert cluster_info(n)["cluster_current_epoch"] == epoch
    wait_converged(terns)
    after = nodes_lines(n.cmd("CLUSTER", "NODES"))[myid]
    assert after[6] == before[6] and after[8:] == before[8:]
    assert view(terns[0]) == view(n)


def test_pfail_then_fail_and_recovery_among_tern_nodes(terns):
    victim, watchers = terns[1], [terns[0], terns[2]]
    vid = victim.myid()
    os.kill(victim.proc.pid, signal.SIGSTOP)
    try:
        for w in watchers:
            wait_for(lambda: "fail" in view(w)[vid][1].split(","), 20, "FAIL flag")
            wait_for(lambda: cluster_info(w)["cluster_state"] == "fail", 10, "cluster_state:fail")
    finally:
        os.kill(victim.proc.pid, signal.SIGCONT)
    # A master that still owns its slots gets its FAIL cleared after 2 x node timeout.
    wait_converged(terns, timeout=30)


@pytest.fixture(scope="module")
def mixed():
    terns = [start_node("tern", FAST + ["--cluster-announce-hostname", "tern-%d.example" % i]) for i in range(3)]
    reds = [start_node("redis", FAST + ["--cluster-announce-hostname", "redis-%d.example" % i]) for i in range(3)]
    nodes = [terns[0], reds[0], terns[1], reds[1], terns[2], reds[2]]
    cluster_create(nodes)
    wait_converged(nodes)
    yield terns, reds, nodes
    stop_all(nodes)


def test_mixed_cluster_is_clean_and_views_match(mixed):
    terns, reds, nodes = mixed
    for entry in (terns[0], reds[0]):
        code, text = cluster_check(entry)
        assert code == 0 and "[OK] All nodes agree about slots configuration." in text, text
    # Wait for every hostname to have travelled through PINGs, then compare views.
    wait_for(lambda: all(view(n) == view(nodes[0]) for n in nodes), 15, "identical views")
    for n in terns + reds:
        addr = view(reds[2])[n.myid()][0]
        assert addr.endswith(",%s-%d.example" % (n.kind, (terns + reds).index(n) % 3)), addr
    for a, b in ((terns[0], reds[0]), (reds[1], terns[2])):
        assert a.cmd("CLUSTER", "SLOTS") == b.cmd("CLUSTER", "SLOTS")
        assert a.client(protocol=3).execute_command("CLUSTER", "SLOTS") == b.client(protocol=3).execute_command("CLUSTER", "SLOTS")

        def shards(n):
            out = []
            for s in n.client(protocol=3).execute_command("CLUSTER", "SHARDS"):
                members = [{k: v for k, v in m.items() if k not in ("replication-offset",)} for m in s["nodes"]]
                out.append(repr((s["slots"], members)))
            return sorted(out)
        assert shards(a) == shards(b)
    ti, ri = cluster_info(terns[1]), cluster_info(reds[1])
    for k in ("cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_known_nodes",
              "cluster_size", "cluster_current_epoch"):
        assert ti[k] == ri[k], k


def test_publish_crosses_the_bus_both_ways(mixed):
    terns, reds, _ = mixed
    for src, dst in ((terns[0], reds[2]), (reds[1], terns[2])):
        sub = dst.client().pubsub()
        sub.subscribe("news")
        assert sub.get_message(timeout=2)["type"] == "subscribe"
        assert src.cmd("PUBLISH", "news", "from-%s" % src.kind) == 0
        msg = sub.get_message(timeout=5)
        assert msg and msg["data"] == "from-%s" % src.kind
        sub.close()


def test_failure_detected_across_kinds(mixed):
    terns, reds, nodes = mixed
    for victim in (terns[2], reds[0]):
        others = [n for n in nodes if n is not victim]
        vid = victim.myid()
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            for w in others:
                wait_for(lambda: "fail" in view(w)[vid][1].split(","), 20,
                         "%s:%d to see the FAIL" % (w.kind, w.port))
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        wait_converged(nodes, timeout=30)


def test_epoch_collisions_resolve_between_tern_and_redis():
    nodes = [start_node("tern", FAST), start_node("redis", FAST), start_node("tern", FAST)]
    try:
        for i, n in enumerate(nodes):
            n.cmd("CLUSTER", "ADDSLOTSRANGE", str(i * 5462), str(min(16383, i * 5462 + 5461)))
        for n in nodes[1:]:
            n.cmd("CLUSTER", "MEET", "127.0.0.1", str(nodes[0].port))

        def distinct():
            epochs = {n.myid(): int(cluster_info(n)["cluster_my_epoch"]) for n in nodes}
            views = [view(n) for n in nodes]
            return len(set(epochs.values())) == 3 and all(
                i in v and int(v[i][3]) == e for v in views for i, e in epochs.items())
        wait_for(distinct, 30, "distinct config epochs everywhere")
        wait_converged(nodes)
        # The node with the largest id never moved.
        top = max(nodes, key=lambda n: n.myid())
        assert cluster_info(top)["cluster_my_epoch"] == "0"
    finally:
        stop_all(nodes)


def test_forget_blacklists_and_meet_errors_on_bus():
    a, b = start_node("tern", FAST), start_node("tern", FAST)
    try:
        a.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        a.cmd("CLUSTER", "MEET", "127.0.0.1", str(b.port))
        wait_converged([a, b])
        assert a.cmd("CLUSTER", "FORGET", b.myid()) == "OK"
        assert b.myid() not in view(a)
        # For a minute gossip from b cannot bring it back.
        time.sleep(1.5)
        assert b.myid() not in view(a)
        assert cluster_info(a)["cluster_known_nodes"] == "1"
        with pytest.raises(redis.ResponseError, match="Unknown node"):
            a.cmd("CLUSTER", "FORGET", b.myid())
    finally:
        stop_all([a, b])


def test_cluster_replicas_follow_their_masters():
    nodes = [start_node("tern", FAST + ["--repl-diskless-sync-delay", "0"]) for _ in range(6)]
    try:
        cluster_create(nodes, replicas=1)
        wait_converged(nodes)
        replicas = [n for n in nodes if n.cmd("ROLE")[0] == "slave"]
        assert len(replicas) == 3
        for r in replicas:
            wait_for(lambda: r.cmd("INFO", "replication")["master_link_status"] == "up", 20, "replication link")
        code, text = cluster_check(nodes[0])
        assert code == 0 and "[OK] All nodes agree about slots configuration." in text, text
        # Once the replicas' offsets are known, CLUSTER SLOTS lists one per master.
        wait_for(lambda: all(len(entry) == 4 for entry in nodes[0].cmd("CLUSTER", "SLOTS")), 20, "replicas in SLOTS")
        for r in replicas:
            master_id = nodes_lines(r.cmd("CLUSTER", "NODES"))[r.myid()][3]
            assert master_id in {n.myid() for n in nodes if n not in replicas}
            assert r.cmd("CLUSTER", "REPLICAS", master_id)[0].startswith(r.myid() + " ")
    finally:
        stop_all(nodes)
