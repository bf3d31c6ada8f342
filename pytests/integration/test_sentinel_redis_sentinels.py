"""Tern servers monitored by real redis-sentinel 7.0 (spec: replication-and-sentinel.md §8.12).

- What a sentinel sends to a monitored server (the bytes captured from redis-sentinel 7.0.15:
  CLIENT SETNAME, PING, INFO, SUBSCRIBE/PUBLISH on __sentinel__:hello, SCRIPT KILL, the
  MULTI / SLAVEOF / CONFIG REWRITE / CLIENT KILL TYPE normal|pubsub / EXEC transaction, AUTH,
  renamed commands) replayed to Tern and to redis-server in the same state: same replies.
- A live redis-sentinel's traffic, recorded through a proxy during a forced failover, gets the
  same replies from Tern servers as from redis-server ones.
- 3 redis-sentinels + Tern master + 2 Tern replicas: SIGKILL of the master under a write load
  through redis-py's Sentinel client, promotion, the other replica follows, the old master
  comes back as a replica (its config file rewritten), acknowledged writes lost counted (and
  none lost when each write waited for a replica: min-replicas-to-write 1 + WAIT 1).
- A partition (the master alone in a network namespace, or SIGSTOP without one): the minority
  master refuses writes with -NOREPLICAS, the majority fails over, the healed old master
  becomes a replica and loses what it accepted alone.
The same scenarios run with redis-server data servers (to check the tests themselves) and
are ready for Tern's own sentinels (`sentinel_kind="tern"`, skipped until that mode exists).
"""
import os
import re
import time

import pytest
import redis

from conftest import free_port
from resp_wire import Conn, encode
from replication_support import wait_for
from sentinel_interop_support import (
    MASTER_NAME, DirectWriter, NetnsIsland, RecordingProxy, SentinelProcess, SentinelReader, SentinelWriter,
    Topology, lost_writes, netns_usable, parse_replies, parse_requests, pause, resume,
    start_data_server, tern_sentinel_available,
)

# What redis-sentinel 7.0.15 sent, byte for byte (captured through a proxy; spec §8.2, §8.7).
SETNAME_CMD = b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$21\r\nsentinel-6b179632-cmd\r\n"
SETNAME_PUBSUB = b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$24\r\nsentinel-6b179632-pubsub\r\n"
PING = b"*1\r\n$4\r\nPING\r\n"
INFO = b"*1\r\n$4\r\nINFO\r\n"
SUBSCRIBE_HELLO = b"*2\r\n$9\r\nSUBSCRIBE\r\n$18\r\n__sentinel__:hello\r\n"
SCRIPT_KILL = b"*2\r\n$6\r\nSCRIPT\r\n$4\r\nKILL\r\n"


def failover_transaction(slaveof_args):
    return b"".join([
        b"*1\r\n$5\r\nMULTI\r\n",
        encode("SLAVEOF", *slaveof_args),
        b"*2\r\n$6\r\nCONFIG\r\n$7\r\nREWRITE\r\n",
        b"*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$4\r\nTYPE\r\n$6\r\nnormal\r\n",
        b"*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$4\r\nTYPE\r\n$6\r\npubsub\r\n",
        b"*1\r\n$4\r\nEXEC\r\n",
    ])


def hello_payload(master_port):
    return "127.0.0.1,26379,6b17963249c5f999ca285ccbd8a8aa4a8ea5195e,0,%s,127.0.0.1,%d,0" % (
        MASTER_NAME, master_port)


# The INFO lines a sentinel parses (spec §8.4), by role.
INFO_MASTER_FIELDS = {"run_id", "role", "connected_slaves", "slave0"}
INFO_REPLICA_FIELDS = {"run_id", "role", "master_host", "master_port", "master_link_status",
                       "slave_priority", "slave_repl_offset", "replica_announced"}


def info_fields(raw_info_reply):
    """The key:value lines of an INFO reply (raw RESP bulk) as a dict."""
    text = parse_replies(raw_info_reply)[0].decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line and not line.startswith("#"))


def read_n(conn, n):
    return [conn.read_node().raw for _ in range(n)]


def sentinel_session(kind):
    """Plays a sentinel's conversation with a master and its replica; returns the replies
    (ports replaced by <M>/<R>), the INFO fields seen and the rewritten config files."""
    m = start_data_server(kind)
    r = start_data_server(kind, ["--replicaof", "127.0.0.1", str(m.port)])
    out, infos = [], {}

    def record(label, replies):
        for raw in replies:
            out.append((label, raw.replace(b"%d" % m.port, b"<M>").replace(b"%d" % r.port, b"<R>")))
    try:
        wait_for(lambda: r.client().info("replication").get("master_link_status") == "up", 30, "link up")
        m.client().set("k", "v")
        wait_for(lambda: r.client().get("k") == b"v", 10, "replicated")

        # Links as a sentinel opens them: pubsub on the replica, cmd on both.
        r_pubsub = Conn(r.port)
        r_pubsub.send_raw(SETNAME_PUBSUB + SUBSCRIBE_HELLO)
        record("replica pubsub link", read_n(r_pubsub, 2))
        m_cmd, r_cmd = Conn(m.port), Conn(r.port)
        for name, conn in (("master", m_cmd), ("replica", r_cmd)):
            conn.send_raw(SETNAME_CMD + PING + INFO)
            setname, pong, info = read_n(conn, 3)
            record(name + " cmd link", [setname, pong])
            infos[name] = info_fields(info)

        # Hellos published on the master reach the replica's subscribers (PUBLISH is
        # propagated); SCRIPT KILL with nothing running.
        m_cmd.send_raw(encode("PUBLISH", "__sentinel__:hello", hello_payload(m.port)) + SCRIPT_KILL)
        record("master publish, script kill", read_n(m_cmd, 2))
        record("hello through replication", [r_pubsub.read_node().raw])

        # Promotion: the transaction on the replica, with a normal and a pubsub client around.
        bystander, listener = Conn(r.port), Conn(r.port)
        listener.cmd("SUBSCRIBE", "elsewhere")
        r_cmd.send_raw(failover_transaction(["NO", "ONE"]))
        record("promotion transaction", read_n(r_cmd, 6))
        record("caller survives", [r_cmd.cmd("PING")])
        assert bystander.peer_closed() and listener.peer_closed() and r_pubsub.peer_closed()
        r_cmd.send_raw(INFO)
        infos["promoted"] = info_fields(r_cmd.read_node().raw)

        # Re-pointing the old master at the promoted replica.
        m_cmd.send_raw(failover_transaction(["127.0.0.1", str(r.port)]))
        record("repointing transaction", read_n(m_cmd, 6))
        wait_for(lambda: m.client().info("replication").get("master_link_status") == "up", 30, "old master follows")
        m_cmd.send_raw(INFO)
        infos["demoted"] = info_fields(m_cmd.read_node().raw)
        r_cmd.send_raw(INFO)
        infos["new master"] = info_fields(r_cmd.read_node().raw)
        files = {"promoted": r.config_file(), "demoted": m.config_file()}
        for c in (r_pubsub, m_cmd, r_cmd, bystander, listener):
            c.close()
        return out, infos, files, (m.port, r.port)
    finally:
        r.stop()
        m.stop()


def replicaof_lines(conf):
    return [l for l in conf.splitlines() if l.startswith(("replicaof", "slaveof"))]


def test_sentinel_conversation_answered_as_redis():
    tern, tern_infos, tern_files, (tm, tr) = sentinel_session("tern")
    real, real_infos, real_files, (rm, rr) = sentinel_session("redis")
    assert [l for l, _ in tern] == [l for l, _ in real]
    for (label, t), (_, o) in zip(tern, real):
        assert t == o, label
    # The transactions' replies, spelled out: CONFIG REWRITE works (there is a config file),
    # CLIENT KILL spares the caller and drops the bystander / the two subscribers.
    assert dict(tern)["promotion transaction"] == b"*4\r\n+OK\r\n+OK\r\n:1\r\n:2\r\n"

    for infos, m_port, r_port in ((tern_infos, tm, tr), (real_infos, rm, rr)):
        assert INFO_MASTER_FIELDS <= set(infos["master"])
        assert re.fullmatch(r"ip=127\.0\.0\.1,port=%d,state=online,offset=\d+,lag=\d+" % r_port,
                            infos["master"]["slave0"])
        assert INFO_REPLICA_FIELDS <= set(infos["replica"])
        assert infos["replica"]["master_port"] == str(m_port)
        assert infos["replica"]["master_link_status"] == "up"
        assert infos["promoted"]["role"] == "master" and "master_host" not in infos["promoted"]
        assert infos["demoted"]["role"] == "slave" and infos["demoted"]["master_port"] == str(r_port)
        assert infos["new master"]["slave0"].startswith("ip=127.0.0.1,port=%d," % m_port)
    for key in ("replica", "demoted"):
        for f in ("slave_priority", "replica_announced", "master_link_status"):
            assert tern_infos[key][f] == real_infos[key][f], (key, f)
    # CONFIG REWRITE in the transaction: the promoted server's file loses replicaof, the old
    # master's file gains it, as redis-server writes them.
    assert replicaof_lines(tern_files["promoted"]) == replicaof_lines(real_files["promoted"]) == []
    assert replicaof_lines(tern_files["demoted"]) == ["replicaof 127.0.0.1 %d" % tr]
    assert replicaof_lines(real_files["demoted"]) == ["replicaof 127.0.0.1 %d" % rr]


def auth_and_renames(kind):
    """AUTH in both forms (sentinel sends `AUTH pass`, or `AUTH user pass` with auth-user),
    and renamed commands as a sentinel with rename-command sends them."""
    s = start_data_server(kind, ["--requirepass", "pw", "--rename-command", "CONFIG", "CFG-X",
                                 "--rename-command", "SLAVEOF", "SLV-X"])
    try:
        c = Conn(s.port)
        replies = [c.cmd("PING"), c.cmd("AUTH", "wrong"), c.cmd("AUTH", "pw"), c.cmd("AUTH", "default", "pw"),
                   c.cmd("AUTH", "nobody", "pw"), c.cmd("CONFIG", "REWRITE"), c.cmd("SLAVEOF", "NO", "ONE")]
        c.send_raw(b"".join([
            b"*1\r\n$5\r\nMULTI\r\n", encode("SLV-X", "NO", "ONE"), encode("CFG-X", "REWRITE"),
            encode("CLIENT", "KILL", "TYPE", "normal"), encode("CLIENT", "KILL", "TYPE", "pubsub"),
            b"*1\r\n$4\r\nEXEC\r\n"]))
        replies += read_n(c, 6)
        c.close()
        return replies
    finally:
        s.stop()


def test_auth_and_renamed_commands_answered_as_redis():
    tern, real = auth_and_renames("tern"), auth_and_renames("redis")
    assert tern == real
    assert tern[-1] == b"*4\r\n+OK\r\n+OK\r\n:0\r\n:0\r\n"


def accepted_write(client, key, value):
    """SET, or False while the server refuses it (NOREPLICAS)."""
    try:
        return client.set(key, value)
    except redis.ResponseError:
        return False


@pytest.mark.parametrize("kind", ["tern", "redis"])
def test_promoted_master_counts_a_resyncing_replica_at_once(kind):
    """After a failover with min-replicas-to-write 1, the promoted master accepts writes as
    soon as the other replica has partially resynced with it (its ACK time is set when it
    goes online, not at the next replication cron)."""
    args = ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]
    m = start_data_server(kind, args)
    servers = [m]
    try:
        a = start_data_server(kind, args + ["--replicaof", "127.0.0.1", str(m.port)])
        b = start_data_server(kind, args + ["--replicaof", "127.0.0.1", str(m.port)])
        servers += [a, b]
        for r in (a, b):
            wait_for(lambda: r.client().info("replication").get("master_link_status") == "up", 30, "link up")
        # redis-server counts its good replicas in the replication cron (once a second), so
        # right after the links come up it may still refuse: wait for the first write.
        mc = m.client()
        wait_for(lambda: accepted_write(mc, "x", 1), 5, "the master to accept a write")
        wait_for(lambda: a.client().get("x") == b.client().get("x") == b"1", 10, "replicated")
        m.kill()
        ac = a.client()
        ac.execute_command("SLAVEOF", "NO", "ONE")
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            ac.set("y", 1)
        partial_before = ac.info("stats")["sync_partial_ok"]
        b.client().execute_command("SLAVEOF", "127.0.0.1", str(a.port))
        wait_for(lambda: b.client().info("replication").get("master_link_status") == "up", 30, "b follows a")
        if kind == "redis":
            # The reference on a loaded machine can take a moment longer (CI saw NOREPLICAS
            # once while other work ran): the claim under test is Tern's "at once".
            wait_for(lambda: accepted_write(ac, "y", 2), 5, "the promoted redis-server to accept the write")
        assert ac.set("y", 2)
        assert ac.info("stats")["sync_partial_ok"] == partial_before + 1
    finally:
        for s in servers:
            s.stop()


# ---------------------------------------------------------------------------------------------
# A live redis-sentinel, recorded

def normalize_command(args):
    s = " ".join(a.decode("latin1") for a in args)
    s = re.sub(r"[0-9a-f]{40}", "<id>", s)
    s = re.sub(r"\b\d{4,5}\b", "<port>", s)
    s = re.sub(r"sentinel-[0-9a-f]{8}", "sentinel-<id>", s)
    return re.sub(r"^(PUBLISH __sentinel__:hello) .*", r"\1 <payload>", s)


def normalize_reply(cmd, reply):
    if cmd == "INFO":
        return "<info>"
    if cmd.startswith("PUBLISH"):
        return "<count>" if isinstance(reply, int) else reply
    if cmd == "EXEC" and isinstance(reply, list):
        # CLIENT KILL counts depend on which of the test's own clients happen to be connected.
        return repr(["<n>" if isinstance(x, int) else x for x in reply])
    return re.sub(r"\b\d{4,5}\b", "<port>", repr(reply))


# requirepass on the servers and commands renamed on them, as a sentinel configured with
# auth-pass and rename-command talks to them.
SECURED_SERVER_ARGS = ["--requirepass", "pw", "--masterauth", "pw", "--rename-command", "CONFIG", "CFG-X",
                       "--rename-command", "SLAVEOF", "SLV-X", "--rename-command", "CLIENT", "CLI-X"]
SECURED_SENTINEL_LINES = ["sentinel auth-pass %s pw" % MASTER_NAME,
                          "sentinel rename-command %s CONFIG CFG-X" % MASTER_NAME,
                          "sentinel rename-command %s SLAVEOF SLV-X" % MASTER_NAME,
                          "sentinel rename-command %s CLIENT CLI-X" % MASTER_NAME]


def recorded_failover(kind, secured):
    """A master and a replica behind recording proxies (the replica announces its proxy's
    port), one redis-sentinel, SENTINEL FAILOVER; until the old master follows the promoted
    replica. Returns {normalized command: {normalized replies}} over the sentinel's links."""
    servers, proxies, sentinel = [], [], None
    server_args = SECURED_SERVER_ARGS if secured else []
    client_kw = {"password": "pw"} if secured else {}
    try:
        m = start_data_server(kind, server_args)
        servers.append(m)
        m_proxy = RecordingProxy("127.0.0.1", m.port)
        r_port = free_port()
        r_proxy = RecordingProxy("127.0.0.1", r_port)
        proxies += [m_proxy, r_proxy]
        r = start_data_server(kind, [*server_args, "--replicaof", "127.0.0.1", str(m.port),
                                     "--replica-announce-port", str(r_proxy.port)], port=r_port)
        servers.append(r)
        wait_for(lambda: r.client(**client_kw).info("replication").get("master_link_status") == "up", 30, "link up")
        sentinel = SentinelProcess("redis", "127.0.0.1", m_proxy.port, 1, 1000, 4000,
                                   SECURED_SENTINEL_LINES if secured else ())
        wait_for(lambda: int(sentinel.master_state()["num-slaves"]) == 1, 30, "replica discovered")
        m.client(**client_kw).set("k", "v")
        wait_for(lambda: forced_failover(sentinel), 30, "SENTINEL FAILOVER accepted")
        wait_for(lambda: sentinel.master_addr() == ("127.0.0.1", r_proxy.port), 30, "switch")
        # The old master is converted (+convert-to-slave) once it has been seen as a master
        # for a while after the switch.
        wait_for(lambda: m.client(**client_kw).info("replication").get("master_port") == r_proxy.port
                 and m.client(**client_kw).info("replication").get("master_link_status") == "up", 60,
                 "old master converted to a replica")
        table = {}
        for p in proxies:
            for c2s, s2c in p.streams().values():
                requests = parse_requests(c2s)
                if not any(len(a) == 3 and a[1] == b"SETNAME" and a[2].startswith(b"sentinel-")
                           for a in requests[:2]):
                    continue  # replication links, our own clients
                for args, reply in zip(requests, parse_replies(s2c)):
                    cmd = normalize_command(args)
                    table.setdefault(cmd, set()).add(normalize_reply(cmd, reply))
        return table
    finally:
        if sentinel:
            sentinel.stop()
        for p in proxies:
            p.close()
        for s in servers:
            s.stop()


def forced_failover(sentinel):
    """SENTINEL FAILOVER; False while the sentinel has no usable replica yet (its first INFO
    from the replica not in)."""
    try:
        return sentinel.command("SENTINEL", "FAILOVER", MASTER_NAME) == "OK"
    except redis.ResponseError as e:
        if str(e).startswith("NOGOODSLAVE"):
            return False
        raise


@pytest.mark.parametrize("secured", [False, True], ids=["plain", "auth-pass+rename-command"])
def test_live_sentinel_traffic_answered_as_redis(secured):
    tern, real = recorded_failover("tern", secured), recorded_failover("redis", secured)
    assert tern == real
    # What the sentinel sent includes the promotion and re-pointing transactions (with the
    # renamed commands when configured), and nothing was refused.
    slaveof, config = ("SLV-X", "CFG-X") if secured else ("SLAVEOF", "CONFIG")
    assert slaveof + " NO ONE" in tern and slaveof + " 127.0.0.1 <port>" in tern
    assert config + " REWRITE" in tern and tern["EXEC"]
    if secured:
        assert tern["AUTH pw"] == {"'OK'"}
    assert not [cmd for cmd, replies in tern.items() if any("('err'" in r for r in replies)]


# ---------------------------------------------------------------------------------------------
# Failover under load

def sentinel_kinds():
    return ["redis", pytest.param("tern", marks=pytest.mark.skipif(
        not tern_sentinel_available(), reason="tern-server --sentinel not available yet"))]


def failover_under_load(server_kind, sentinel_kind, min_replicas):
    args = ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"] if min_replicas else []
    topo = Topology(server_kind, sentinel_kind, server_args=args, down_after_ms=1000, failover_timeout_ms=6000)
    writer = reader = None
    try:
        sentinel = topo.redis_py_sentinel()
        writer = SentinelWriter(sentinel, wait_replicas=1 if min_replicas else 0)
        reader = SentinelReader(sentinel, writer)
        wait_for(lambda: writer.acked_count() >= 200 and reader.ok >= 50, 60, "load running")
        old = topo.master
        old.kill()
        killed_at = time.time()
        acked_at_kill = writer.acked_count()
        assert topo.wait_switched(old.port, topo.down_after_ms / 1000 + 20) in topo.replicas
        wait_for(lambda: writer.first_ok_after(killed_at) is not None, 30, "writes through the new master")
        # One replica promoted, the other following it.
        new = topo.wait_converged(40, servers=topo.replicas)

        # The old master restarts empty, as a master; the sentinels turn it into a replica
        # of the new master (+convert-to-slave) and CONFIG REWRITE records that in its file.
        old.start()
        new = topo.wait_converged(60)
        assert new is not old
        assert "replicaof %s %d" % (new.host, new.port) in old.config_file().splitlines()
        # The rewritten file is one the server starts from: restarted, it is a replica of the
        # new master before any sentinel speaks to it.
        old.proc.terminate()
        old.proc.wait(20)
        old.start()
        assert old.client().info("replication").get("master_port") == new.port
        new = topo.wait_converged(60)
        reads_before = reader.ok
        wait_for(lambda: writer.acked_count() >= acked_at_kill + 200 and reader.ok > reads_before + 20, 60,
                 "writes and reads continuing after the switch")
        writer.stop()
        reader.stop()
        acked = list(writer.acked)
        lost = lost_writes(new.client(), writer.prefix, acked)
        wait_for(lambda: new.client().info("replication")["master_repl_offset"]
                 == old.client().info("replication")["slave_repl_offset"], 30, "old master synced")
        assert lost_writes(old.client(), writer.prefix, acked) == lost
        print("\n%s servers, %s sentinels, min-replicas %s: %d writes acknowledged, %d lost, "
              "failover (kill -> first write) %.2f s, failures %s" % (
                  server_kind, sentinel_kind, min_replicas, len(acked), len(lost),
                  writer.first_ok_after(killed_at) - killed_at, writer.failures))
        return lost
    except BaseException:
        print(topo.logs())
        raise
    finally:
        for x in (writer, reader):
            if x:
                x.stop()
        topo.stop()


# The all-Redis pairing only checks the harness itself (and the SIGSTOP partition repeats the
# network-namespace one where namespaces work): a minute each, so they run only with
# TERN_SENTINEL_SELF_CHECK=1, keeping the whole suite near its 30-minute budget.
SELF_CHECK = bool(os.environ.get("TERN_SENTINEL_SELF_CHECK"))


def skip_unless_self_check(server_kind, sentinel_kind):
    if server_kind == "redis" and sentinel_kind == "redis" and not SELF_CHECK:
        pytest.skip("harness self-check (redis servers + redis sentinels): TERN_SENTINEL_SELF_CHECK=1")


@pytest.mark.parametrize("sentinel_kind", sentinel_kinds())
@pytest.mark.parametrize("server_kind", ["tern", "redis"])
def test_failover_under_load(server_kind, sentinel_kind):
    skip_unless_self_check(server_kind, sentinel_kind)
    # Asynchronous replication: writes acknowledged in the instant before the kill may be
    # lost; the number is printed (pytest -s), not asserted.
    failover_under_load(server_kind, sentinel_kind, min_replicas=False)


@pytest.mark.parametrize("sentinel_kind", sentinel_kinds())
@pytest.mark.parametrize("server_kind", ["tern", "redis"])
def test_failover_under_load_min_replicas(server_kind, sentinel_kind):
    skip_unless_self_check(server_kind, sentinel_kind)
    # Every write is confirmed by WAIT 1 (and min-replicas-to-write 1 refuses writes without
    # a replica): the most advanced replica is promoted, so nothing acknowledged is lost.
    assert failover_under_load(server_kind, sentinel_kind, min_replicas=True) == []


# ---------------------------------------------------------------------------------------------
# Partition: the master alone on the minority side

def isolations():
    return [pytest.param("netns", marks=pytest.mark.skipif(not netns_usable(), reason="needs root and ip netns")),
            "sigstop"]


@pytest.mark.parametrize("sentinel_kind", sentinel_kinds())
@pytest.mark.parametrize("server_kind", ["tern", "redis"])
@pytest.mark.parametrize("isolation", isolations())
def test_partitioned_master_stops_writes_and_rejoins_as_replica(isolation, server_kind, sentinel_kind):
    """The master is cut off (its namespace's link down, or SIGSTOP) while a client on its side
    keeps writing to it directly: with min-replicas-to-write 1 / min-replicas-max-lag 2 it
    refuses writes (-NOREPLICAS) once its replicas' ACKs are too old; the sentinels fail over
    to a replica; after healing the old master becomes a replica of the new one and what it
    accepted alone is gone, as in Redis."""
    skip_unless_self_check(server_kind, sentinel_kind)
    if isolation == "sigstop" and netns_usable() and not SELF_CHECK:
        pytest.skip("covered by the network-namespace variant here: TERN_SENTINEL_SELF_CHECK=1")
    args = ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "2"]
    island = NetnsIsland() if isolation == "netns" else None
    topo = minority = majority = None
    try:
        if island:
            topo = Topology(server_kind, sentinel_kind, server_args=args, master_bind=island.ns_ip,
                            master_netns=island.name, replica_bind="127.0.0.1 " + island.host_ip,
                            replica_announce_ip=island.host_ip)
        else:
            topo = Topology(server_kind, sentinel_kind, server_args=args)
        old = topo.master
        minority = DirectWriter(old.host, old.port, netns=island.name if island else None)
        majority = SentinelWriter(topo.redis_py_sentinel(), prefix="maj")
        wait_for(lambda: sum(1 for r in minority.results() if r[0]) >= 100 and majority.acked_count() >= 100,
                 60, "both writers running")

        cut_at = time.time()
        if island:
            island.cut()
        else:
            pause(old)
        topo.wait_switched(old.port, topo.down_after_ms / 1000 + 20)
        wait_for(lambda: majority.first_ok_after(cut_at) is not None, 30, "majority writes on the new master")
        if island:
            # The minority side, still running, turns its writer away once the replicas'
            # ACKs are older than min-replicas-max-lag.
            wait_for(lambda: any(not ok and kind == "NOREPLICAS" and t > cut_at
                                 for ok, kind, _, t in minority.results()), 30, "-NOREPLICAS on the minority side")
            island.heal()
        else:
            resume(old)
            # Resumed, it finds its replicas gone (they follow the new master): writes are
            # refused until the sentinels turn it into a replica.
            wait_for(lambda: any(not ok and kind in ("NOREPLICAS", "READONLY") and t > cut_at
                                 for ok, kind, _, t in minority.results()), 30, "refusals after resuming")
        new = topo.wait_converged(60)
        assert new is not old
        results = minority.stop()
        majority.stop()
        # (The majority's writer may meet -NOREPLICAS too, in the moment between the promotion
        # and the other replica following the new master.)

        nc, oc = new.client(), old.client()
        wait_for(lambda: nc.info("replication")["master_repl_offset"] == oc.info("replication")["slave_repl_offset"],
                 30, "old master synced")
        # Writes the minority acknowledged after the cut (the min-replicas-max-lag window) were
        # never replicated: gone from the new master and from the old one after it rejoined.
        # (A margin of 0.5 s keeps writes executed just before the cut out of the count.)
        alone = [n for ok, _, n, t in results if ok and t > cut_at + 0.5]
        assert lost_writes(nc, "p", alone) == alone
        assert lost_writes(oc, "p", alone) == alone
        refused = [n for ok, kind, n, t in results if not ok and kind == "NOREPLICAS"]
        assert refused
        assert lost_writes(nc, "p", refused) == refused
        # The majority's writes are all on both servers, except those acknowledged by the
        # old master in the instant before the cut and not yet replicated (counted).
        acked = list(majority.acked)
        lost = lost_writes(nc, majority.prefix, acked)
        assert lost_writes(oc, majority.prefix, acked) == lost
        sent_at = {n: sent for n, (sent, _) in zip(acked, majority.ack_times)}
        assert all(sent_at[n] < cut_at for n in lost), "a write acknowledged by the new master was lost"
        print("\n%s %s servers, %s sentinels: minority accepted %d writes alone after the cut (all gone), "
              "refused %d with NOREPLICAS; majority acknowledged %d, lost %d, failures %s" % (
                  isolation, server_kind, sentinel_kind, len(alone), len(refused), len(acked), len(lost),
                  majority.failures))
    except BaseException:
        if topo:
            print(topo.logs())
        raise
    finally:
        if minority:
            minority.stop()
        if majority:
            majority.stop()
        if topo:
            topo.stop()
        if island:
            island.remove()
