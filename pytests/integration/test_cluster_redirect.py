"""Redirections (MOVED, ASK, ASKING, TRYAGAIN, CROSSSLOT, CLUSTERDOWN), READONLY and
MULTI/EXEC routing, compared byte for byte with a real redis-server: both load the same
three-master view from nodes.conf (this node owns 0-5460 with slot 100 migrating to B
and slot 6000 importing from B; B and C own the rest), so every reply must be identical."""
import binascii

import pytest

from cluster_support import cluster_info, cluster_port, start_node, wait_for
from resp_wire import Conn

A = "a" * 39 + "1"
B = "b" * 39 + "2"
C = "c" * 39 + "3"
R = "e" * 39 + "5"


def slot_of(key):
    k = key.encode()
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return binascii.crc_hqx(k, 0) & 0x3FFF


def tag_for(slot):
    """A hash tag whose keys all live in `slot`."""
    n = 0
    while True:
        t = "t%d" % n
        if slot_of(t) == slot:
            return t
        n += 1


def conf_for(port, others):
    pb, pc, pr = others
    return "\n".join([
        "%s 127.0.0.1:%d@%d myself,master - 0 0 1 connected 0-5460 [100->-%s] [6000-<-%s]" % (A, port, port + 10000, B, B),
        "%s 127.0.0.1:%d@%d master - 0 0 2 connected 5461-10922" % (B, pb, pb + 10000),
        "%s 127.0.0.1:%d@%d master - 0 0 3 connected 10923-16383" % (C, pc, pc + 10000),
        "%s 127.0.0.1:%d@%d slave %s 0 0 3 connected" % (R, pr, pr + 10000, C),
        "vars currentEpoch 3 lastVoteEpoch 0",
        "",
    ])


@pytest.fixture(scope="module")
def pair():
    others = (cluster_port(), cluster_port(), cluster_port())
    pt, pr = cluster_port(), cluster_port()
    args = ["--cluster-node-timeout", "60000"]
    t = start_node("tern", args, port=pt, nodes_conf=conf_for(pt, others))
    r = start_node("redis", args, port=pr, nodes_conf=conf_for(pr, others))
    for n in (t, r):
        wait_for(lambda: cluster_info(n)["cluster_state"] == "ok", what="cluster_state:ok")
    yield t, r
    t.stop()
    r.stop()


def run_both(pair, script, resp=2):
    """Runs the same commands on one connection per node; replies must be identical."""
    t, r = pair
    ct, cr = Conn(t.port, resp=resp), Conn(r.port, resp=resp)
    try:
        for cmd in script:
            got, want = ct.cmd(*cmd), cr.cmd(*cmd)
            assert got == want, "%r (RESP%d):\n tern:  %r\n redis: %r" % (cmd, resp, got, want)
    finally:
        ct.close()
        cr.close()


MINE, MINE2, THEIRS, MIGR, IMP = tag_for(5), tag_for(4000), tag_for(7000), tag_for(100), tag_for(6000)


def test_moved_crossslot_and_keyless_commands(pair):
    script = [
        ("SET", "{%s}a" % MINE, "1"), ("GET", "{%s}a" % MINE), ("GET", "{%s}a" % THEIRS),
        ("SET", "{%s}a" % THEIRS, "1"), ("MGET", "{%s}a" % MINE, "{%s}b" % MINE),
        ("MGET", "{%s}a" % MINE, "{%s}a" % MINE2), ("MGET", "{%s}a" % THEIRS, "{%s}b" % THEIRS),
        ("MSET", "{%s}a" % MINE, "1", "{%s}a" % THEIRS, "2"),
        ("DEL", "{%s}a" % MINE, "{%s}a" % MINE), ("GET", "foo"), ("GET", ""),
        ("PING",), ("DBSIZE",), ("ECHO", "x"),
        ("SPUBLISH", "{%s}ch" % THEIRS, "m"), ("SPUBLISH", "{%s}ch" % MINE, "m"),
        ("PUBLISH", "{%s}ch" % THEIRS, "m"),
        ("READONLY",), ("GET", "{%s}a" % THEIRS), ("READWRITE",),
        ("LMPOP", "2", "{%s}s" % THEIRS, "{%s}t" % THEIRS, "LEFT"), ("ZUNIONSTORE", "{%s}d" % MINE, "1", "{%s}s" % THEIRS),
        ("GET", "{%s}a" % MINE, "extra"),
        ("DEL", "{%s}a" % MINE),
    ]
    run_both(pair, script, 2)
    run_both(pair, script, 3)


def test_migrating_slot_ask_and_tryagain(pair):
    t, r = pair
    for n in (t, r):
        # Put a key into slot 100 while it is stable, then open the migration again.
        n.cmd("CLUSTER", "SETSLOT", "100", "STABLE")
        n.cmd("SET", "{%s}here" % MIGR, "v")
        n.cmd("CLUSTER", "SETSLOT", "100", "MIGRATING", B)
    run_both(pair, [
        ("GET", "{%s}here" % MIGR), ("GET", "{%s}gone" % MIGR), ("SET", "{%s}gone" % MIGR, "1"),
        ("MGET", "{%s}here" % MIGR, "{%s}gone" % MIGR), ("MGET", "{%s}gone" % MIGR, "{%s}gone2" % MIGR),
        ("EXISTS", "{%s}here" % MIGR, "{%s}here" % MIGR),
        ("ASKING",), ("GET", "{%s}gone" % MIGR),
    ])


def test_importing_slot_needs_asking(pair):
    run_both(pair, [
        ("GET", "{%s}k" % IMP), ("ASKING",), ("GET", "{%s}k" % IMP), ("GET", "{%s}k" % IMP),
        ("ASKING",), ("SET", "{%s}k" % IMP, "v"), ("ASKING",), ("PING",), ("GET", "{%s}k" % IMP),
        ("ASKING",), ("MGET", "{%s}k" % IMP, "{%s}other" % IMP),
        ("ASKING",), ("MGET", "{%s}k" % IMP, "{%s}k" % IMP),
        ("ASKING",), ("DEL", "{%s}k" % IMP),
    ])


def test_transactions_are_routed_as_a_whole(pair):
    run_both(pair, [
        ("MULTI",), ("SET", "{%s}a" % MINE, "1"), ("GET", "{%s}a" % THEIRS), ("EXEC",),
        ("MULTI",), ("SET", "{%s}a" % MINE, "1"), ("SET", "{%s}a" % MINE2, "1"), ("EXEC",),
        ("MULTI",), ("SET", "{%s}a" % MINE, "1"), ("GET", "{%s}a" % MINE), ("EXEC",),
        ("MULTI",), ("ASKING",), ("SET", "{%s}x" % IMP, "1"), ("GET", "{%s}x" % IMP), ("EXEC",),
        ("GET", "{%s}x" % IMP),
        ("EXEC",), ("DEL", "{%s}a" % MINE),
    ])


def test_cluster_down_and_reads_when_down(pair):
    t, r = pair
    script_down = [("GET", "{%s}a" % MINE), ("SET", "{%s}a" % MINE, "1"), ("PING",), ("GET", "{%s}a" % THEIRS)]
    try:
        for n in (t, r):
            n.cmd("CLUSTER", "DELSLOTS", "5")
        # An unassigned slot answers before the state is even looked at.
        run_both(pair, [("GET", "{%s}a" % MINE)])
        for n in (t, r):
            wait_for(lambda: cluster_info(n)["cluster_state"] == "fail", what="cluster_state:fail")
        run_both(pair, script_down + [("GET", "{%s}a" % MINE2)])
        for n in (t, r):
            n.cmd("CONFIG", "SET", "cluster-allow-reads-when-down", "yes")
        run_both(pair, script_down + [("GET", "{%s}a" % MINE2), ("SET", "{%s}a" % MINE2, "1"),
                                      ("SPUBLISH", "{%s}c" % MINE2, "m")])
        for n in (t, r):
            n.cmd("CONFIG", "SET", "cluster-require-full-coverage", "no")
            wait_for(lambda: cluster_info(n)["cluster_state"] == "ok", what="cluster_state:ok")
        run_both(pair, script_down + [("SET", "{%s}a" % MINE2, "1"), ("DEL", "{%s}a" % MINE2)])
    finally:
        for n in (t, r):
            n.cmd("CONFIG", "SET", "cluster-allow-reads-when-down", "no")
            n.cmd("CONFIG", "SET", "cluster-require-full-coverage", "yes")
            n.cmd("CLUSTER", "ADDSLOTS", "5")


def test_errorstats_count_redirections(pair):
    t, r = pair
    for n in (t, r):
        n.cmd("CONFIG", "RESETSTAT")
        c = n.client()
        for _ in range(2):
            try:
                c.execute_command("GET", "{%s}a" % THEIRS)
            except Exception:
                pass
        c.close()
    stats = [n.cmd("INFO", "errorstats") for n in (t, r)]
    assert stats[0] == stats[1] and stats[0]["errorstat_MOVED"] == {"count": 2}


def test_commands_refused_in_cluster_mode(pair):
    run_both(pair, [
        ("MOVE", "{%s}a" % MINE, "1"), ("SET", "{%s}a" % MINE, "v"), ("MOVE", "{%s}a" % MINE, "1"),
        ("COPY", "{%s}a" % MINE, "{%s}b" % MINE, "DB", "1"), ("COPY", "{%s}a" % MINE, "{%s}b" % MINE, "DB", "0"),
        ("COPY", "{%s}a" % MINE, "{%s}c" % MINE, "DB", "99"), ("COPY", "{%s}a" % MINE, "{%s}d" % MINE, "FOO"),
        ("SWAPDB", "0", "1"), ("REPLICAOF", "NO", "ONE"), ("REPLICAOF", "127.0.0.1", "1"), ("FAILOVER",),
        ("SELECT", "1"), ("DEL", "{%s}a" % MINE, "{%s}b" % MINE),
    ])
