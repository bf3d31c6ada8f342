"""A mixed cluster: 3 Tern and 3 redis-server 7.0 nodes joined by `redis-cli --cluster create`,
Tern and Redis masters each with a replica of the other kind; `redis-cli --cluster reshard`
moves slots holding keys from a Tern master to a Redis master and back, under RedisCluster
load, and a manual failover promotes a Tern replica of a Redis master and a Redis replica of a
Tern master."""
from redis.crc import key_slot

from cluster_load import ClusterLoad, check_clean, cli
from cluster_support import (cluster_create, nodes_lines, start_node, stop_all, wait_converged,
                             wait_for, wait_roles_known)

ARGS = ["--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"]


def addr(n):
    return "127.0.0.1:%d" % n.port


def master_of(n):
    return nodes_lines(n.cmd("CLUSTER", "NODES"))[n.myid()][3]


def owned_slots(node):
    out = []
    for s in nodes_lines(node.cmd("CLUSTER", "NODES"))[node.myid()][8:]:
        if not s.startswith("["):
            a, _, b = s.partition("-")
            out.extend(range(int(a), int(b or a) + 1))
    return out


def keys_in_slots_of(node):
    """Keys a master holds, counted slot by slot (COUNTKEYSINSLOT over the slots it owns),
    checked against DBSIZE: no key sits outside the node's slots."""
    c = node.client()
    try:
        p = c.pipeline(transaction=False)
        for slot in owned_slots(node):
            p.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)
        total = sum(p.execute())
        assert total == c.dbsize()
        return total
    finally:
        c.close()


def tag_in(lo, hi):
    """A hash tag whose slot is in [lo, hi]."""
    return next("{t%d}" % i for i in range(100000) if lo <= key_slot(b"t%d" % i) <= hi)


def write_typed(c, tag):
    """One key of each type Tern has (streams are not there yet), and one with a TTL, under `tag`: MIGRATE carries them as DUMP
    payloads, so a move between kinds checks both sides' serialization."""
    c.hset(tag + "h", mapping={"f%d" % i: "v%d" % i for i in range(200)})
    c.rpush(tag + "l", *["e%d" % i for i in range(300)])
    c.sadd(tag + "s", *range(100))
    c.zadd(tag + "z", {"m%d" % i: i / 3 for i in range(150)})
    c.set(tag + "ttl", "v", ex=1000)
    return snapshot(c, tag)


def snapshot(c, tag):
    return (c.hgetall(tag + "h"), c.lrange(tag + "l", 0, -1), c.smembers(tag + "s"),
            c.zrange(tag + "z", 0, -1, withscores=True),
            c.get(tag + "ttl"), 0 < c.ttl(tag + "ttl") <= 1000)


def test_mixed_cluster_reshard_and_failover():
    t = [start_node("tern", ARGS) for _ in range(3)]
    r = [start_node("redis", ARGS) for _ in range(3)]
    # redis-cli takes the first three as masters (one host: order kept): Tern, Redis, Tern.
    nodes = [t[0], r[0], t[1], r[1], t[2], r[2]]
    load = None
    try:
        cluster_create(nodes, replicas=1)
        wait_converged(nodes)
        # Each Tern master gets a Redis replica and the Redis master a Tern one.
        wanted = {r[1]: t[0], r[2]: t[1], t[2]: r[0]}
        for rep, mas in wanted.items():
            if master_of(rep) != mas.myid():
                assert rep.cmd("CLUSTER", "REPLICATE", mas.myid()) == "OK"
        for rep, mas in wanted.items():
            wait_for(lambda: master_of(rep) == mas.myid() and
                     rep.cmd("INFO", "replication")["master_link_status"] == "up", 20, "replica shape")
        wait_converged(nodes)
        wait_roles_known(nodes)
        check_clean(t[0])

        load = ClusterLoad(t[0]).start()
        # redis-cli moves a source's lowest slots first: slots 0-299 go Tern -> Redis -> Tern,
        # 5461-5760 (the Redis master's own) Redis -> Tern.
        typed = {}
        for lo, hi in ((0, 299), (5461, 5760)):
            tag = tag_in(lo, hi)
            typed[tag] = write_typed(load.client, tag)
        load.wait_writes(2500)  # every key written at least once
        tid, rid = t[0].myid(), r[0].myid()
        before_t, before_r = keys_in_slots_of(t[0]), keys_in_slots_of(r[0])
        assert before_t + before_r + keys_in_slots_of(t[1]) == load.nkeys + 5 * len(typed)
        assert before_t > 0 and before_r > 0

        # Tern -> Redis, then Redis -> Tern, 300 slots each way, keys and all.
        cli("reshard", addr(t[0]), "--cluster-from", tid, "--cluster-to", rid,
            "--cluster-slots", 300, "--cluster-yes")
        wait_converged(nodes)
        check_clean(r[0])
        mid_t, mid_r = keys_in_slots_of(t[0]), keys_in_slots_of(r[0])
        assert mid_t < before_t and mid_r > before_r and mid_t + mid_r == before_t + before_r
        for tag, want in typed.items():
            assert snapshot(load.client, tag) == want
        load.wait_writes(200)
        cli("reshard", addr(r[0]), "--cluster-from", rid, "--cluster-to", tid,
            "--cluster-slots", 600, "--cluster-yes")
        wait_converged(nodes)
        check_clean(t[0])
        after_t, after_r = keys_in_slots_of(t[0]), keys_in_slots_of(r[0])
        assert after_t > mid_t and after_r < mid_r and after_t + after_r == before_t + before_r
        for tag, want in typed.items():
            assert snapshot(load.client, tag) == want
            assert key_slot(tag.encode()) in owned_slots(t[0])
        load.wait_writes(200)

        # Manual failovers across kinds: the Redis replica of the Tern master, the Tern replica
        # of the Redis master.
        for rep, mas in ((r[1], t[0]), (t[2], r[0])):
            assert rep.cmd("CLUSTER", "FAILOVER") == "OK"
            wait_for(lambda: rep.cmd("ROLE")[0] == "master" and master_of(mas) == rep.myid(), 20,
                     "failover to %s" % rep.kind)
            wait_for(lambda: mas.cmd("INFO", "replication")["master_link_status"] == "up", 20,
                     "old master replicating")
            wait_converged(nodes)
            wait_roles_known(nodes)
            load.wait_writes(200)
        check_clean(t[1])
        load.stop()

        lost = load.verify()
        print("writes %d reads %d redirections followed %r" % (load.writes, load.reads, load.redirects.counts))
        assert load.stale_reads == [], load.stale_reads[:5]
        assert lost == [], lost[:5]
        # A coordinated manual failover loses nothing, but the client may meet the paused master
        # or a connection closed by the role change; a reshard must not cause any error.
        assert all("MOVED" not in e and "ASK" not in e for _, _, e in load.errors), load.errors
        print("client errors during the failovers: %r" % load.errors)
        # The keys that moved are all readable from their new owners.
        assert keys_in_slots_of(r[1]) + keys_in_slots_of(t[2]) + keys_in_slots_of(t[1]) == load.nkeys + 5 * len(typed)
    finally:
        if load is not None:
            load.stop()
            load.close()
        stop_all(nodes)
