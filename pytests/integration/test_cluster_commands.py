"""CLUSTER subcommands on a node's own view, compared byte for byte (RESP2 and RESP3) with
a real redis-server started with cluster-enabled: a fresh single node driven through the
slot, epoch and node commands, and a node loaded from a hand-written multi-node
nodes.conf (masters, a replica, a failed node with a hostname, open slots)."""
import pytest

from cluster_support import cluster_info, cluster_port, nodes_lines, start_node, wait_for
from resp_wire import Conn


@pytest.fixture(scope="module")
def pair():
    t = start_node("tern")
    r = start_node("redis")
    yield t, r
    t.stop()
    r.stop()


def normalizer(node):
    """Replaces what legitimately differs between the two nodes (its id, its ports) by
    placeholders of the same length, so RESP length prefixes still match."""
    myid = node.myid().encode()
    port = str(node.port).encode()
    bus = str(node.port + 10000).encode()
    assert len(port) == 5 and len(bus) == 5

    def norm(b):
        return b.replace(myid, b"I" * 40).replace(bus, b"BBBBB").replace(port, b"PPPPP")
    return norm


def compare(t, r, commands, resp=2):
    """Sends each command to both nodes on one connection each; replies must be equal."""
    ct, cr = Conn(t.port, resp=resp), Conn(r.port, resp=resp)
    try:
        for cmd in commands:
            nt, nr = normalizer(t), normalizer(r)
            expanded_t = [a.replace("$ME", t.myid()) if isinstance(a, str) else a for a in cmd]
            expanded_r = [a.replace("$ME", r.myid()) if isinstance(a, str) else a for a in cmd]
            got = nt(ct.cmd(*expanded_t))
            want = nr(cr.cmd(*expanded_r))
            assert got == want, "%r (RESP%d):\n tern:  %r\n redis: %r" % (cmd, resp, got, want)
    finally:
        ct.close()
        cr.close()


UNKNOWN = "0123456789abcdef0123456789abcdef01234567"

SINGLE_NODE = [
    ("CLUSTER", "MYID"),
    ("CLUSTER", "KEYSLOT", "123456789"), ("CLUSTER", "KEYSLOT", "foo{}{bar}"),
    ("CLUSTER", "KEYSLOT", "foo{{bar}}zap"), ("CLUSTER", "KEYSLOT", ""),
    ("CLUSTER", "HELP"), ("CLUSTER",), ("CLUSTER", "NOPE"), ("CLUSTER", "INFO", "x"),
    ("CLUSTER", "NODES"), ("CLUSTER", "SLOTS"), ("CLUSTER", "SHARDS"), ("CLUSTER", "LINKS"),
    ("CLUSTER", "ADDSLOTS", "1", "2", "3", "5000"),
    ("CLUSTER", "ADDSLOTS", "3"), ("CLUSTER", "ADDSLOTS", "7", "8", "7"),
    ("CLUSTER", "ADDSLOTS", "16384"), ("CLUSTER", "ADDSLOTS", "-1"), ("CLUSTER", "ADDSLOTS", "abc"),
    ("CLUSTER", "ADDSLOTS", "9", "abc"),
    ("CLUSTER", "ADDSLOTSRANGE", "10", "20", "30", "40"),
    ("CLUSTER", "ADDSLOTSRANGE", "200", "100"), ("CLUSTER", "ADDSLOTSRANGE", "1", "2", "3"),
    ("CLUSTER", "ADDSLOTSRANGE", "50", "60", "55", "70"), ("CLUSTER", "ADDSLOTSRANGE", "1"),
    ("CLUSTER", "DELSLOTS", "5000"), ("CLUSTER", "DELSLOTS", "5000"),
    ("CLUSTER", "DELSLOTSRANGE", "10", "12"), ("CLUSTER", "DELSLOTSRANGE", "10", "12"),
    ("CLUSTER", "NODES"), ("CLUSTER", "SLOTS"), ("CLUSTER", "SHARDS"),
    ("CLUSTER", "SETSLOT", "1", "MIGRATING", UNKNOWN), ("CLUSTER", "SETSLOT", "1", "MIGRATING", "short"),
    ("CLUSTER", "SETSLOT", "1", "MIGRATING", "$ME"), ("CLUSTER", "SETSLOT", "100", "MIGRATING", "$ME"),
    ("CLUSTER", "SETSLOT", "2", "IMPORTING", "$ME"), ("CLUSTER", "SETSLOT", "100", "IMPORTING", "$ME"),
    ("CLUSTER", "SETSLOT", "101", "IMPORTING", UNKNOWN),
    ("CLUSTER", "NODES"),
    ("CLUSTER", "SETSLOT", "1", "STABLE"), ("CLUSTER", "SETSLOT", "1", "FOO"),
    ("CLUSTER", "SETSLOT", "1", "STABLE", "x"), ("CLUSTER", "SETSLOT", "99999", "STABLE"),
    ("CLUSTER", "SETSLOT", "1", "NODE", UNKNOWN), ("CLUSTER", "SETSLOT", "1", "NODE"),
    ("CLUSTER", "SETSLOT", "100", "NODE", "$ME"),
    ("CLUSTER", "NODES"), ("CLUSTER", "INFO"),
    ("CLUSTER", "BUMPEPOCH"),
    ("CLUSTER", "SET-CONFIG-EPOCH", "5"), ("CLUSTER", "SET-CONFIG-EPOCH", "-1"),
    ("CLUSTER", "SET-CONFIG-EPOCH", "abc"),
    ("CLUSTER", "COUNT-FAILURE-REPORTS", "$ME"), ("CLUSTER", "COUNT-FAILURE-REPORTS", UNKNOWN),
    ("CLUSTER", "REPLICAS", "$ME"), ("CLUSTER", "SLAVES", UNKNOWN),
    ("CLUSTER", "REPLICATE", "$ME"), ("CLUSTER", "REPLICATE", UNKNOWN),
    ("CLUSTER", "FORGET", "$ME"), ("CLUSTER", "FORGET", UNKNOWN),
    ("CLUSTER", "MEET", "127.0.0.1", "abc"), ("CLUSTER", "MEET", "127.0.0.1", "1", "abc"),
    ("CLUSTER", "MEET", "localhost", "7000"), ("CLUSTER", "MEET", "1.2.3.4", "0"),
    ("CLUSTER", "MEET", "1.2.3.4", "70000"), ("CLUSTER", "MEET", "1.2.3.4", "7000", "0"),
    ("CLUSTER", "MEET", "127.0.0.1", "1", "2", "3"),
    ("CLUSTER", "COUNTKEYSINSLOT", "1"), ("CLUSTER", "COUNTKEYSINSLOT", "16384"),
    ("CLUSTER", "COUNTKEYSINSLOT", "x"), ("CLUSTER", "GETKEYSINSLOT", "1", "10"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "-1"), ("CLUSTER", "GETKEYSINSLOT", "-1", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "1", "x"),
    ("CLUSTER", "SAVECONFIG"), ("CLUSTER", "FLUSHSLOTS"), ("CLUSTER", "NODES"),
    ("CLUSTER", "RESET", "nope"), ("CLUSTER", "RESET", "SOFT", "x"), ("CLUSTER", "RESET", "SOFT"),
    ("CLUSTER", "NODES"), ("CLUSTER", "BUMPEPOCH"), ("CLUSTER", "BUMPEPOCH"),
    ("SELECT", "1"), ("SELECT", "0"), ("SELECT", "x"),
    ("READONLY",), ("READWRITE",), ("ASKING",), ("READONLY", "x"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_single_node_commands_match_redis(pair, resp):
    t, r = pair
    for n in (t, r):
        n.cmd("CLUSTER", "RESET", "HARD")
    compare(t, r, SINGLE_NODE, resp)


def test_nodes_conf_matches_redis_after_the_same_commands(pair):
    t, r = pair
    for n in (t, r):
        n.cmd("CLUSTER", "RESET", "HARD")
        n.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "99", "200", "300")
        n.cmd("CLUSTER", "SETSLOT", "5", "MIGRATING", n.myid())
        n.cmd("CLUSTER", "SETSLOT", "150", "IMPORTING", n.myid())
        n.cmd("CLUSTER", "SET-CONFIG-EPOCH", "7")
        n.cmd("CLUSTER", "SAVECONFIG")
    assert normalizer(t)(t.nodes_conf().encode()) == normalizer(r)(r.nodes_conf().encode())


def test_info_and_state_once_every_slot_is_served(pair):
    t, r = pair
    for n in (t, r):
        n.cmd("CLUSTER", "RESET", "HARD")
        n.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    for n in (t, r):
        wait_for(lambda: cluster_info(n)["cluster_state"] == "ok", what="cluster_state:ok")
    compare(t, r, [("CLUSTER", "INFO"), ("CLUSTER", "SLOTS"), ("CLUSTER", "SHARDS")], 2)
    compare(t, r, [("CLUSTER", "INFO"), ("CLUSTER", "SHARDS")], 3)
    # Losing a slot under full coverage takes the state to fail at once.
    for n in (t, r):
        n.cmd("CLUSTER", "DELSLOTS", "77")
        wait_for(lambda: cluster_info(n)["cluster_state"] == "fail", what="cluster_state:fail")
    compare(t, r, [("CLUSTER", "INFO")], 2)
    for n in (t, r):
        n.cmd("CLUSTER", "RESET", "HARD")


def test_info_server_and_cluster_sections(pair):
    t, r = pair
    for n in (t, r):
        assert n.cmd("INFO", "server")["redis_mode"] == "cluster"
        assert n.cmd("INFO", "cluster") == {"cluster_enabled": 1}
    compare(t, r, [("INFO", "cluster")])


def test_reset_hard_gives_a_new_identity_and_zero_epochs(pair):
    t, _ = pair
    t.cmd("CLUSTER", "RESET", "HARD")
    t.cmd("CLUSTER", "SET-CONFIG-EPOCH", "3")
    before = t.myid()
    assert t.cmd("CLUSTER", "RESET", "HARD") == "OK"
    after = t.myid()
    assert after != before and len(after) == 40
    assert cluster_info(t)["cluster_current_epoch"] == "0"
    conf = t.nodes_conf()
    assert conf.startswith(after + " ") and conf.endswith("vars currentEpoch 0 lastVoteEpoch 0\n")


# A multi-node view, loaded from nodes.conf by both servers: the same ids everywhere, so
# replies compare directly (ping/pong times aside, which are the load time).

A = "a" * 39 + "1"
B = "b" * 39 + "2"
C = "c" * 39 + "3"
D = "d" * 39 + "4"


def conf_for(port, others):
    pb, pc, pd = others
    return "\n".join([
        "%s 127.0.0.1:%d@%d myself,master - 0 0 1 connected 0-5460 [100->-%s] [6000-<-%s]" % (A, port, port + 10000, B, B),
        "%s 127.0.0.1:%d@%d master - 0 1700000000000 2 connected 5461-10922" % (B, pb, pb + 10000),
        "%s 127.0.0.1:%d@%d slave %s 0 1700000000000 2 connected" % (C, pc, pc + 10000, B),
        "%s 127.0.0.1:%d@%d,host-d.example master,fail - 1700000000000 0 3 disconnected 10923-16383" % (D, pd, pd + 10000),
        "vars currentEpoch 5 lastVoteEpoch 4",
        "",
    ])


def masked(text, port):
    """NODES text with ping/pong times masked and this node's ports replaced."""
    out = set()
    for f in nodes_lines(text).values():
        f[4] = f[5] = "T"
        out.add(" ".join(f).replace(":%d@%d" % (port, port + 10000), ":P@B"))
    return out


@pytest.fixture(scope="module")
def loaded():
    others = (cluster_port(), cluster_port(), cluster_port())
    pt, pr = cluster_port(), cluster_port()
    t = start_node("tern", port=pt, nodes_conf=conf_for(pt, others))
    r = start_node("redis", port=pr, nodes_conf=conf_for(pr, others))
    yield t, r
    t.stop()
    r.stop()


def test_loaded_view_matches_redis(loaded):
    t, r = loaded
    assert t.myid() == A
    assert masked(t.cmd("CLUSTER", "NODES"), t.port) == masked(r.cmd("CLUSTER", "NODES"), r.port)
    for n in (t, r):
        wait_for(lambda: cluster_info(n)["cluster_size"] == "3", what="cluster_size:3")
    ti, ri = cluster_info(t), cluster_info(r)
    for k in ("cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_slots_pfail",
              "cluster_slots_fail", "cluster_known_nodes", "cluster_size", "cluster_current_epoch",
              "cluster_my_epoch"):
        assert ti[k] == ri[k], k
    for resp in (2, 3):
        compare(t, r, [("CLUSTER", "SLOTS"), ("CLUSTER", "COUNT-FAILURE-REPORTS", D),
                       ("CLUSTER", "REPLICAS", C), ("CLUSTER", "SETSLOT", "1", "MIGRATING", C),
                       ("CLUSTER", "SETSLOT", "1", "IMPORTING", C), ("CLUSTER", "SET-CONFIG-EPOCH", "1"),
                       ("CLUSTER", "REPLICATE", C), ("CLUSTER", "BUMPEPOCH")], resp)
    # SHARDS is in node-table order on Redis: compare the shards as a set.
    ts = sorted(repr(s).replace(str(t.port), "P") for s in t.client().execute_command("CLUSTER", "SHARDS"))
    rs = sorted(repr(s).replace(str(r.port), "P") for s in r.client().execute_command("CLUSTER", "SHARDS"))
    assert ts == rs
    rep_t = t.cmd("CLUSTER", "REPLICAS", B)
    rep_r = r.cmd("CLUSTER", "REPLICAS", B)
    assert [masked(x, 0) for x in rep_t] == [masked(x, 0) for x in rep_r]


def test_forget_and_setslot_node_on_the_loaded_view(loaded):
    t, r = loaded
    for n in (t, r):
        assert n.cmd("CLUSTER", "FORGET", B) == "OK"
        assert n.cmd("CLUSTER", "SETSLOT", "6000", "NODE", A) == "OK"
        assert n.cmd("CLUSTER", "SETSLOT", "20", "NODE", D) == "OK"
    assert masked(t.cmd("CLUSTER", "NODES"), t.port) == masked(r.cmd("CLUSTER", "NODES"), r.port)
    for n in (t, r):
        n.cmd("CLUSTER", "SAVECONFIG")
    assert conf_parts(t.nodes_conf(), t.port) == conf_parts(r.nodes_conf(), r.port)


def conf_parts(text, port):
    """nodes.conf as (masked node lines, vars line)."""
    lines = text.strip("\n").split("\n")
    return masked("\n".join(lines[:-1]), port), lines[-1]
