"""Tern sentinels next to a real redis-sentinel (7.0) watching the same Tern master and
replicas: they discover each other through hello messages, their SENTINEL replies, INFO and
rewritten config files are compared field by field with the real sentinel's (ids and times
aside), and after the master is killed all three agree on the promoted replica."""
import time
import pytest

from replication_support import wait_for
from sentinel_support import (MASTER_NAME, RawConnection, Topology, as_map, role, sentinel_lines)

# Fields whose values are times, counters of in-flight commands or offsets.
VOLATILE = {"link-pending-commands", "last-ping-sent", "last-ok-ping-reply", "last-ping-reply", "info-refresh",
            "role-reported-time", "last-hello-message", "slave-repl-offset", "master-link-down-time"}


@pytest.fixture(scope="module")
def topo():
    t = Topology(server_kind="tern", sentinel_kinds=("tern", "tern", "redis"))
    try:
        t.wait_discovery()
        yield t
    finally:
        t.stop()


def tern_and_redis(topo):
    return topo.sentinels[0], topo.sentinels[2]


def stable(entry):
    return {k: v for k, v in as_map(entry).items() if k not in VOLATILE}


def test_sentinels_discover_each_other(topo):
    ids = {topo.sentinel_client(s).execute_command("SENTINEL", "MYID"): s.port for s in topo.sentinels}
    for s in topo.sentinels:
        others = [as_map(e) for e in topo.sentinel_client(s).execute_command("SENTINEL", "SENTINELS", MASTER_NAME)]
        seen = {e["runid"]: int(e["port"]) for e in others}
        assert seen == {i: p for i, p in ids.items() if p != s.port}


def test_master_and_replica_entries_match_redis_sentinel(topo):
    tern, real = tern_and_redis(topo)
    tc, rc = topo.sentinel_client(tern), topo.sentinel_client(real)
    # A sentinel just discovered through a hello gets its link at the next timer run.
    wait_for(lambda: all("disconnected" not in as_map(e)["flags"]
                         for c in (tc, rc) for e in c.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)),
             10, "links to the other sentinels")
    # Field order and stable values of the master entry.
    tm, rm = tc.execute_command("SENTINEL", "MASTER", MASTER_NAME), rc.execute_command("SENTINEL", "MASTER", MASTER_NAME)
    assert tm[0::2] == rm[0::2]
    assert stable(tm) == stable(rm)
    assert stable(tc.execute_command("SENTINEL", "MASTERS")[0]) == stable(rm)
    # Replicas, by name (both list the same instances with the same run ids).
    wait_for(lambda: all(as_map(e)["master-link-status"] == "ok"
                         for c in (tc, rc) for e in c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)),
             20, "replica entries to show the link up")
    tr = sorted(tc.execute_command("SENTINEL", "REPLICAS", MASTER_NAME), key=lambda e: as_map(e)["name"])
    rr = sorted(rc.execute_command("SENTINEL", "REPLICAS", MASTER_NAME), key=lambda e: as_map(e)["name"])
    assert [e[0::2] for e in tr] == [e[0::2] for e in rr]
    assert [stable(e) for e in tr] == [stable(e) for e in rr]
    assert tc.execute_command("SENTINEL", "SLAVES", MASTER_NAME)[0][0::2] == rr[0][0::2]
    # Sentinel entries: same fields, same stable values apart from who they are.
    ts = [stable(e) for e in tc.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)]
    rs = [stable(e) for e in rc.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)]
    assert tc.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)[0][0::2] == \
        rc.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)[0][0::2]
    strip = lambda e: {k: v for k, v in e.items() if k not in ("name", "runid", "port")}
    assert [strip(e) for e in ts] == [strip(e) for e in rs]


def test_info_matches_redis_sentinel(topo):
    tern, real = tern_and_redis(topo)
    t, r = RawConnection(tern.port), RawConnection(real.port)
    ti, ri = t.call("INFO").decode(), r.call("INFO").decode()
    headers = lambda text: [l for l in text.split("\r\n") if l.startswith("#")]
    assert headers(ti) == headers(ri) == ["# Server", "# Clients", "# Stats", "# CPU", "# Sentinel"]
    section = lambda text: text.split("# Sentinel\r\n")[1].split("\r\n")
    assert section(ti) == section(ri)
    assert "redis_mode:sentinel" in ti
    for arg in ("sentinel", "server", "everything", "keyspace"):
        assert headers(t.call("INFO", arg).decode()) == headers(r.call("INFO", arg).decode()), arg
    t.close()
    r.close()


# Replies compared byte for byte (errors, fixed texts, shapes).
SAME_BYTES = [
    ("SENTINEL", "MASTER", "nosuch"), ("SENTINEL", "REPLICAS", "nosuch"), ("SENTINEL", "SENTINELS", "nosuch"),
    ("SENTINEL", "CKQUORUM", MASTER_NAME), ("SENTINEL", "CKQUORUM", "nosuch"),
    ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME), ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"),
    ("SENTINEL", "FOO"), ("SENTINEL", "MASTERS", "x"), ("SENTINEL", "MASTER"), ("SENTINEL",),
    ("SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "2"), ("SENTINEL", "MONITOR", "x", "127.0.0.1", "80", "0"),
    ("SENTINEL", "MONITOR", "x", "127.0.0.1", "80", "a"), ("SENTINEL", "MONITOR", "x", "localhost", "80", "1"),
    ("SENTINEL", "MONITOR", "x", "127.0.0.1", "70000", "1"), ("SENTINEL", "MONITOR", MASTER_NAME, "127.0.0.1", "80", "1"),
    ("SENTINEL", "SET", MASTER_NAME, "foo", "bar"), ("SENTINEL", "SET", MASTER_NAME, "quorum", "0"),
    ("SENTINEL", "SET", MASTER_NAME, "down-after-milliseconds", "abc"),
    ("SENTINEL", "SET", MASTER_NAME, "notification-script", "/bin/true"), ("SENTINEL", "SET", "nosuch", "quorum", "1"),
    ("SENTINEL", "SET", MASTER_NAME, "quorum"),
    ("SENTINEL", "CONFIG", "GET", "*"), ("SENTINEL", "CONFIG", "GET", "announce*"), ("SENTINEL", "CONFIG", "GET", "nothing"),
    ("SENTINEL", "CONFIG", "SET", "foo", "bar"), ("SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"),
    ("SENTINEL", "CONFIG", "FOO"), ("SENTINEL", "CONFIG", "GET"),
    ("SENTINEL", "DEBUG"), ("SENTINEL", "DEBUG", "foo", "1"), ("SENTINEL", "DEBUG", "info-period", "abc"),
    ("SENTINEL", "DEBUG", "info-period", "10000"),
    ("SENTINEL", "SIMULATE-FAILURE", "HELP"), ("SENTINEL", "SIMULATE-FAILURE", "foo"), ("SENTINEL", "HELP"),
    ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"),
    ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "abc", "0", "*"),
    ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "x", "*"),
    ("SENTINEL", "INFO-CACHE", "nosuch"), ("SENTINEL", "INFO-CACHE"), ("SENTINEL", "PENDING-SCRIPTS"),
    ("SENTINEL", "REMOVE", "nosuch"), ("SENTINEL", "FAILOVER", "nosuch"), ("SENTINEL", "RESET", "nosuch*"),
    ("GET", "foo"), ("SET", "a", "b"), ("CONFIG", "GET", "port"), ("PUBLISH", "foo", "bar"), ("PING",), ("ROLE",),
    ("FLUSHALL",), ("EVAL", "return 1", "0"), ("INFO", "a", "b"),
]


def test_replies_match_redis_sentinel(topo):
    tern, real = tern_and_redis(topo)
    t, r = RawConnection(tern.port), RawConnection(real.port)
    try:
        for cmd in SAME_BYTES:
            assert t.call(*cmd) == r.call(*cmd), cmd
        # HELLO: same map apart from the client id.
        th, rh = t.call("HELLO", "3"), r.call("HELLO", "3")
        assert th.split(b"id\r\n")[0] == rh.split(b"id\r\n")[0]
        assert th.split(b"mode\r\n")[1] == rh.split(b"mode\r\n")[1]
        # RESP3 shapes (maps, nulls) after HELLO 3.
        for cmd in [("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"), ("SENTINEL", "DEBUG"),
                    ("SENTINEL", "CONFIG", "GET", "*"), ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"),
                    ("SENTINEL", "SIMULATE-FAILURE", "HELP"), ("SENTINEL", "CKQUORUM", MASTER_NAME), ("ROLE",),
                    ("SENTINEL", "MASTER", "nosuch"), ("SENTINEL", "PENDING-SCRIPTS")]:
            assert t.call(*cmd) == r.call(*cmd), cmd
        tm, rm = t.call("SENTINEL", "MASTER", MASTER_NAME), r.call("SENTINEL", "MASTER", MASTER_NAME)
        assert tm[:1] == rm[:1] == b"%" and tm.split(b"\r\n")[0] == rm.split(b"\r\n")[0]
        # The same command table (ACL included).
        names = lambda c: sorted(n for n in c.call("COMMAND", "LIST").split(b"\r\n") if n[:1] not in (b"*", b"$"))
        assert names(r) == names(t)
        # INFO-CACHE: the master's cached INFO and one entry per replica.
        tc = t.call("SENTINEL", "INFO-CACHE", MASTER_NAME)
        assert tc.startswith(b"*2\r\n$3\r\nmym\r\n*3\r\n*2\r\n:")
        assert b"# Replication\r\nrole:master\r\n" in tc
    finally:
        t.close()
        r.close()


def test_config_file_matches_redis_sentinel_after_discovery(topo):
    tern, real = tern_and_redis(topo)
    compare_config_files(topo, tern, real)


def compare_config_files(topo, tern, real):
    tl, rl = sentinel_lines(tern), sentinel_lines(real)
    # The same directives in the same order.
    assert [l[1] for l in tl] == [l[1] for l in rl]
    by = lambda lines, d: sorted(l[2:] for l in lines if l[1] == d)
    for d in ("monitor", "down-after-milliseconds", "failover-timeout", "config-epoch", "current-epoch", "known-replica"):
        assert by(tl, d) == by(rl, d), d
    assert len(by(tl, "myid")[0][0]) == 40
    # Each lists the other sentinels: together with itself, the same set.
    ids = {topo.sentinel_client(s).execute_command("SENTINEL", "MYID"): s.port for s in topo.sentinels}
    for s, lines in ((tern, tl), (real, rl)):
        known = {(l[5], int(l[4])) for l in lines if l[1] == "known-sentinel"}
        assert known == {(i, p) for i, p in ids.items() if p != s.port}


def test_mixed_sentinels_fail_over_together(topo):
    tern, real = tern_and_redis(topo)
    # Events as clients of the sentinels see them (PSUBSCRIBE *).
    subs = []
    for s in (tern, real):
        p = topo.sentinel_client(s).pubsub()
        p.psubscribe("*")
        subs.append(p)
    old = topo.master
    topo.kill(old)
    new_port = topo.wait_switch(old.port)
    assert role(topo.by_port(new_port))[0] == "master"
    other = next(s for s in topo.servers if s.port not in (old.port, new_port))
    wait_for(lambda: role(other)[:3] == ["slave", "127.0.0.1", new_port], 30, "the other replica to follow")
    # The rewritten files after the failover: new master address, epochs, replicas (old
    # master included) as redis-sentinel writes them.
    def settled():
        lines = [sentinel_lines(s) for s in topo.sentinels]
        return all(any(l[1] == "known-replica" and l[4] == str(old.port) for l in ls) for ls in lines) and \
            len({tuple(l) for ls in lines for l in ls if l[1] in ("config-epoch", "current-epoch")}) == 2
    wait_for(settled, 20, "config files to record the failover")
    compare_config_files(topo, tern, real)
    # The leader publishes +switch-master only when its failover ends (every other replica
    # reported its link up to the new master), which can come after the files settle: read
    # each subscriber until its +switch-master arrives, then what is left.
    events = []
    for p in subs:
        got = []
        deadline = time.time() + 30
        while time.time() < deadline:
            switched = any(c == "+switch-master" for c, _ in got)
            m = p.get_message(timeout=0.5)
            if m is None:
                if switched:
                    break
                continue
            if m["type"] == "pmessage":
                got.append((m["channel"], m["data"]))
        p.close()
        events.append(got)
    pick = lambda got, ch: sorted(d for c, d in got if c == ch)
    assert pick(events[0], "+switch-master") == pick(events[1], "+switch-master") == \
        ["%s 127.0.0.1 %d 127.0.0.1 %d" % (MASTER_NAME, old.port, new_port)]
    assert "master %s 127.0.0.1 %d" % (MASTER_NAME, old.port) in pick(events[0], "+sdown")
    assert [d for d in pick(events[0], "+sdown") if d.startswith("master")] == \
        [d for d in pick(events[1], "+sdown") if d.startswith("master")]
    # The replicas re-added under the new master, the old master among them.
    assert pick(events[0], "+slave") == pick(events[1], "+slave")
    assert "slave 127.0.0.1:%d 127.0.0.1 %d @ %s 127.0.0.1 %d" % (old.port, old.port, MASTER_NAME, new_port) in \
        pick(events[0], "+slave")
    tl = sentinel_lines(tern)
    assert ["sentinel", "monitor", MASTER_NAME, "127.0.0.1", str(new_port), "2"] in tl
