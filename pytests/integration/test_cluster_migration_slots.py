"""Side effects of a slot leaving a node (Redis 7.0): clients blocked on keys of that slot
get the redirection a new command would get (clusterRedirectBlockedClientIfNeeded: -MOVED,
-CLUSTERDOWN Hash slot not served), shard-channel subscribers of it get a sunsubscribe push
(removeChannelsInSlot), and a master that turns replica because it lost its last slot answers
its blocked clients -UNBLOCKED and closes them; an emptied master follows the new owner
unless cluster-allow-replica-migration is no. Exact bytes, RESP2 and RESP3, the same on
redis-server and Tern."""
import pytest

from cluster_support import (cluster_info, nodes_lines, start_node, stop_all, wait_converged,
                             wait_for)
from resp_wire import Conn

ARGS = ["--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"]


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_in(slot, prefix):
    for i in range(200000):
        k = "%s%d" % (prefix, i)
        if crc16(k.encode()) % 16384 == slot:
            return k
    raise AssertionError("no key for slot %d" % slot)


def sunsub(resp, channel, left):
    head = b">3\r\n" if resp == 3 else b"*3\r\n"
    return head + b"$12\r\nsunsubscribe\r\n$%d\r\n%s\r\n:%d\r\n" % (len(channel), channel.encode(), left)


def master_of(viewer, node_id):
    return nodes_lines(viewer.cmd("CLUSTER", "NODES"))[node_id][3]


def build(kind):
    """Three masters: A 0-16379 and 16383, B 16380-16381, C 16382; epochs 1, 2, 3."""
    ms = [start_node(kind, ARGS) for _ in range(3)]
    ms[0].cmd("CLUSTER", "ADDSLOTSRANGE", 0, 16379)
    ms[0].cmd("CLUSTER", "ADDSLOTS", 16383)
    ms[1].cmd("CLUSTER", "ADDSLOTSRANGE", 16380, 16381)
    ms[2].cmd("CLUSTER", "ADDSLOTS", 16382)
    for i, n in enumerate(ms):
        n.cmd("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
    for n in ms[1:]:
        ms[0].cmd("CLUSTER", "MEET", "127.0.0.1", n.port)
    wait_converged(ms)
    return ms


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_blocked_and_shard_subscribers_follow_a_slot_move(kind):
    ms = build(kind)
    conns = []
    try:
        a = ms[0]
        moved, dropped, kept = 100, 200, 300
        k_moved, k_dropped, k_kept = key_in(moved, "m"), key_in(dropped, "d"), key_in(kept, "k")
        ch_moved, ch_kept = key_in(moved, "chm"), key_in(kept, "chk")
        subs, blocked = {}, {}
        for resp in (2, 3):
            s = Conn(a.port, resp=resp)
            conns.append(s)
            # One slot per SSUBSCRIBE (two slots would be CROSSSLOT).
            for ch in (ch_moved, ch_kept):
                s.send("SSUBSCRIBE", ch)
                s.read()
            subs[resp] = s
            for key, cmd in ((k_moved, ("BLPOP", k_moved, 0)), (k_dropped, ("BZPOPMIN", k_dropped, 0)),
                             (k_kept, ("BLMOVE", k_kept, k_kept, "LEFT", "RIGHT", 0))):
                c = Conn(a.port, resp=resp)
                conns.append(c)
                c.send(*cmd)
                blocked[(resp, key)] = c
        wait_for(lambda: a.cmd("INFO", "clients")["blocked_clients"] == 6, 10, "six blocked clients")
        for c in blocked.values():
            assert c.quiet(0.05)

        # The slot goes to B (SETSLOT NODE on A itself), another slot is deleted.
        b = ms[1]
        assert a.cmd("CLUSTER", "SETSLOT", moved, "NODE", b.myid()) == "OK"
        assert a.cmd("CLUSTER", "DELSLOTS", dropped) == "OK"
        for resp in (2, 3):
            assert subs[resp].read(timeout=5) == sunsub(resp, ch_moved, 1)
            assert blocked[(resp, k_moved)].read(timeout=5) == b"-MOVED %d 127.0.0.1:%d\r\n" % (moved, b.port)
            assert blocked[(resp, k_dropped)].read(timeout=5) == b"-CLUSTERDOWN Hash slot not served\r\n"
            # The same connections go on: the next command is redirected too.
            assert blocked[(resp, k_moved)].cmd("LPUSH", k_moved, "x") == b"-MOVED %d 127.0.0.1:%d\r\n" % (moved, b.port)
        for resp in (2, 3):
            assert blocked[(resp, k_kept)].quiet(0.3)
            assert subs[resp].quiet(0.05)
        info = a.cmd("INFO", "clients")
        assert info["blocked_clients"] == 2
        assert a.cmd("PUBSUB", "SHARDNUMSUB", ch_moved, ch_kept) == [ch_moved, 0, ch_kept, 2]
        # Still served here: a push wakes the blocked client of the kept slot.
        a.cmd("RPUSH", k_kept, "v")
        got = [blocked[(r, k_kept)].read(timeout=5) for r in (2, 3)]
        assert sorted(got) == sorted([b"$1\r\nv\r\n", b"$1\r\nv\r\n"])
        # The subscriber still receives its other shard channel.
        assert a.cmd("SPUBLISH", ch_kept, "hi") == 2
        assert subs[2].read(timeout=5) == b"*3\r\n$8\r\nsmessage\r\n$%d\r\n%s\r\n$2\r\nhi\r\n" % (len(ch_kept), ch_kept.encode())
    finally:
        for c in conns:
            c.close()
        stop_all(ms)


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_cluster_down_unblocks_with_clusterdown(kind):
    ms = build(kind)
    conns = []
    try:
        a = ms[0]
        a.cmd("CONFIG", "SET", "cluster-require-full-coverage", "yes")
        k = key_in(5, "z")
        c = Conn(a.port, resp=2)
        conns.append(c)
        c.send("BLPOP", k, 0)
        wait_for(lambda: a.cmd("INFO", "clients")["blocked_clients"] == 1, 10, "blocked")
        # A slot nobody serves: with full coverage required the whole cluster is down.
        assert a.cmd("CLUSTER", "DELSLOTS", 16383) == "OK"
        assert c.read(timeout=5) == b"-CLUSTERDOWN The cluster is down\r\n"
        assert cluster_info(a)["cluster_state"] == "fail"
    finally:
        for c in conns:
            c.close()
        stop_all(ms)


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_master_turning_replica_unblocks_and_unsubscribes(kind):
    ms = build(kind)
    conns = []
    try:
        a, b = ms[0], ms[1]
        k = key_in(16380, "u")
        ch = key_in(16381, "uc")
        blocked = Conn(b.port, resp=2)
        sub = Conn(b.port, resp=3)
        conns += [blocked, sub]
        sub.send("SSUBSCRIBE", ch)
        sub.read()
        blocked.send("BLPOP", k, 0)
        wait_for(lambda: b.cmd("INFO", "clients")["blocked_clients"] == 1, 10, "blocked")
        # A takes both of B's slots at a newer epoch; B learns it from the bus and follows A.
        # The blocked client's slot goes last: while B still serves a slot it is a master, and
        # a client blocked on the slot that left first would get -MOVED from the cron.
        for s in (16381, 16380):
            assert a.cmd("CLUSTER", "SETSLOT", s, "IMPORTING", b.myid()) == "OK"
            assert a.cmd("CLUSTER", "SETSLOT", s, "NODE", a.myid()) == "OK"
        assert blocked.read(timeout=10) == (b"-UNBLOCKED force unblock from blocking operation, "
                                            b"instance state changed (master -> replica?)\r\n")
        assert blocked.peer_closed(5)
        assert sub.read(timeout=5) == sunsub(3, ch, 0)
        wait_for(lambda: nodes_lines(b.cmd("CLUSTER", "NODES"))[b.myid()][3] == a.myid(), 10, "B follows A")
    finally:
        for c in conns:
            c.close()
        stop_all(ms)


def pubsubshard_when_down_replies(kind):
    """The replies of one scenario: a one-node cluster serving only the channel's slot
    (cluster_state:fail), shard pub/sub with cluster-allow-pubsubshard-when-down yes then no."""
    n = start_node(kind, ["--cluster-node-timeout", "2000"])
    conns = []
    try:
        ch = key_in(1234, "down")
        n.cmd("CLUSTER", "ADDSLOTS", 1234)
        wait_for(lambda: cluster_info(n)["cluster_slots_assigned"] == "1", 5, "the slot")
        assert cluster_info(n)["cluster_state"] == "fail"
        out = []
        for resp in (2, 3):
            sub, pub = Conn(n.port, resp=resp), Conn(n.port, resp=resp)
            conns += [sub, pub]
            n.cmd("CONFIG", "SET", "cluster-allow-pubsubshard-when-down", "yes")
            out.append(sub.cmd("SSUBSCRIBE", ch))
            out.append(pub.cmd("SPUBLISH", ch, "m1"))
            out.append(sub.read(timeout=5))
            n.cmd("CONFIG", "SET", "cluster-allow-pubsubshard-when-down", "no")
            out.append(pub.cmd("SPUBLISH", ch, "m2"))
            out.append(pub.cmd("SSUBSCRIBE", ch))
            out.append(sub.cmd("SUNSUBSCRIBE", ch))
            # A plain read is refused while down either way (reads-when-down is no).
            out.append(pub.cmd("GET", ch))
        return out
    finally:
        for c in conns:
            c.close()
        n.stop()


def test_allow_pubsubshard_when_down_matches_redis():
    redis_out = pubsubshard_when_down_replies("redis")
    assert redis_out[3] == b"-CLUSTERDOWN The cluster is down\r\n"
    assert redis_out[1] == b":1\r\n"
    assert pubsubshard_when_down_replies("tern") == redis_out


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_master_emptied_by_a_slot_move_becomes_replica(kind):
    """Redis 7.0's clusterUpdateSlotsConfigWith: a master that learns from the bus that all
    its slots now belong to another master (at a newer epoch) follows that master when
    cluster-allow-replica-migration is yes, and stays an empty master when it is no."""
    ms = [start_node(kind, ["--cluster-node-timeout", "2000"]) for _ in range(3)]
    try:
        ms[0].cmd("CLUSTER", "ADDSLOTSRANGE", 0, 16379)
        ms[1].cmd("CLUSTER", "ADDSLOTSRANGE", 16380, 16381)
        ms[2].cmd("CLUSTER", "ADDSLOTSRANGE", 16382, 16383)
        for i, n in enumerate(ms):
            n.cmd("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
        for n in ms[1:]:
            ms[0].cmd("CLUSTER", "MEET", "127.0.0.1", n.port)
        wait_converged(ms)
        ms[2].cmd("CONFIG", "SET", "cluster-allow-replica-migration", "no")
        a = ms[0].myid()
        # The target alone takes the slots (IMPORTING then NODE bumps its epoch, as at the
        # end of a resharding); the sources learn it from the bus.
        for src, slots in ((ms[1], (16380, 16381)), (ms[2], (16382, 16383))):
            for s in slots:
                assert ms[0].cmd("CLUSTER", "SETSLOT", s, "IMPORTING", src.myid()) == "OK"
                assert ms[0].cmd("CLUSTER", "SETSLOT", s, "NODE", a) == "OK"
        wait_for(lambda: master_of(ms[1], ms[1].myid()) == a, 15, "the emptied master to follow")
        assert "Configuration change detected. Reconfiguring myself as a replica of %s" % a in ms[1].output()
        wait_for(lambda: ms[1].cmd("ROLE")[0] == "slave", 10, "replica role")
        wait_for(lambda: nodes_lines(ms[2].cmd("CLUSTER", "NODES"))[a][8:] == ["0-16383"], 10,
                 "the last source to see the move")
        f = nodes_lines(ms[2].cmd("CLUSTER", "NODES"))[ms[2].myid()]
        assert "master" in f[2].split(",") and f[3] == "-" and f[8:] == []
        assert "Reconfiguring myself" not in ms[2].output()
    finally:
        stop_all(ms)
