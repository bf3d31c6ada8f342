"""ACL in sentinel setups: a real redis-sentinel logging in to Tern servers with
auth-user/auth-pass as a user holding only the permissions Redis's documentation lists for
sentinels, and failing the master over; Tern sentinels protected by ACL users (no open
default user) that reach each other with sentinel-user/sentinel-pass and fail over; the
ACL command answered by a sentinel, side by side with redis-sentinel."""
import shutil

import pytest
import redis

from conftest import ServerProcess, start_tern, tern_binary
from replication_support import wait_for
from resp_wire import Conn
from sentinel_support import MASTER_NAME, Topology, as_map, sentinel_config
from test_acl import canon_rules

# The sentinel user of Redis's ACL documentation ("Configuring Sentinel instances with
# ACL"), plus a replication user and an administrator; the default user is off, so every
# connection has to log in.
SERVER_USERS = (
    "user default off\n"
    "user repl on >rpw ~* +psync +replconf +ping\n"
    "user admin on >apw ~* &* +@all\n"
    "user sentinel-user on >spw allchannels +multi +slaveof +ping +exec +subscribe +config|rewrite"
    " +role +publish +info +client|setname +client|kill +script|kill\n"
    "masteruser repl\nmasterauth rpw\n"
)


def admin(port):
    return redis.Redis(host="127.0.0.1", port=port, username="admin", password="apw", decode_responses=True)


def acl_log_users(port):
    c = admin(port)
    try:
        return [dict(zip(e[0::2], e[1::2])) if isinstance(e, list) else e for e in c.execute_command("ACL", "LOG")]
    finally:
        c.close()


def test_redis_sentinel_with_auth_user_fails_over_tern():
    exe = shutil.which("redis-sentinel")
    if not exe:
        pytest.skip("redis-sentinel not installed")
    master = start_tern(config_text=SERVER_USERS)
    replica = sentinel = None
    try:
        replica = start_tern(config_text=SERVER_USERS + "replicaof 127.0.0.1 %d\n" % master.port)
        m, r = admin(master.port), admin(replica.port)
        m.set("k", "v")
        wait_for(lambda: r.get("k") == "v", 20, "the replica to sync")
        text = sentinel_config(master.port, quorum=1, extra="sentinel auth-user %s sentinel-user\n"
                                                              "sentinel auth-pass %s spw\n" % (MASTER_NAME, MASTER_NAME))
        sentinel = ServerProcess(exe, [], config_text=text)
        s = redis.Redis(host="127.0.0.1", port=sentinel.port, decode_responses=True)

        def discovered():
            e = as_map(s.execute_command("SENTINEL", "MASTER", MASTER_NAME))
            return int(e["num-slaves"]) == 1 and e["flags"] == "master"
        wait_for(discovered, 30, "the sentinel to see the master and its replica")
        wait_for(lambda: any(as_map(x)["flags"] == "slave" for x in s.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)),
                 30, "the replica to be reachable")
        assert s.execute_command("SENTINEL", "FAILOVER", MASTER_NAME) in ("OK", b"OK", True)
        wait_for(lambda: int(s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)[1]) == replica.port,
                 30, "the sentinel to switch to the replica")
        wait_for(lambda: r.execute_command("ROLE")[0] == "master", 20, "the replica to be promoted")
        wait_for(lambda: m.execute_command("ROLE")[:3] == ["slave", "127.0.0.1", replica.port], 30,
                 "the old master to follow the new one")
        # The sentinel's connections run as sentinel-user on both servers, and nothing it
        # sent was refused.
        for port in (master.port, replica.port):
            c = admin(port)
            assert "user=sentinel-user" in c.execute_command("CLIENT", "LIST")
            denied = [e for e in acl_log_users(port) if e.get("username") == "sentinel-user"]
            assert denied == [], denied
            c.close()
        # The rewritten config files keep the users (CONFIG REWRITE from the sentinel).
        with open(master.dir + "/test.conf") as f:
            text = f.read()
        assert "user sentinel-user on #" in text and "replicaof 127.0.0.1 %d" % replica.port in text
    finally:
        for x in (sentinel, replica, master):
            if x:
                x.stop()


SENTINEL_USERS = ("user default off\n"
                  "user sent on >spw allchannels +@all\n"
                  "sentinel sentinel-user sent\nsentinel sentinel-pass spw\n")


class ACLTopology(Topology):
    """Sentinels whose clients log in as `sent`."""

    def sentinel_client(self, s):
        return redis.Redis(host="127.0.0.1", port=s.port, username="sent", password="spw", decode_responses=True)


def test_tern_sentinels_with_acl_users_fail_over():
    topo = ACLTopology(server_kind="tern", sentinel_kinds=("tern", "tern", "tern"), replicas=1, quorum=2,
                       sentinel_extra=SENTINEL_USERS)
    try:
        topo.wait_discovery()
        s0 = topo.sentinels[0]
        plain = Conn(s0.port)
        assert plain.cmd("PING") == b"-NOAUTH Authentication required.\r\n"
        assert plain.cmd("AUTH", "sent", "spw") == b"+OK\r\n"
        assert plain.cmd("ACL", "WHOAMI") == b"$4\r\nsent\r\n"
        plain.close()
        old_port = topo.master.port
        topo.kill(topo.master)
        new_port = topo.wait_switch(old_port)
        assert new_port == topo.servers[1].port
        # Peers logged in with sentinel-user/sentinel-pass: no failed AUTH anywhere.
        for s in topo.sentinels:
            c = topo.sentinel_client(s)
            assert c.execute_command("ACL", "LOG") == []
            c.close()
    finally:
        topo.stop()


SENTINEL_ACL_SCRIPT = [
    ["ACL", "SETUSER", "watcher", "on", ">pw", "+ping", "+info", "&chan"],
    ["ACL", "SETUSER", "bad", "+get"],
    ["ACL", "GETUSER", "watcher"],
    ["ACL", "USERS"],
    ["ACL", "WHOAMI"],
    ["ACL", "DRYRUN", "watcher", "ping"],
    ["ACL", "DRYRUN", "watcher", "role"],
    ["ACL", "DRYRUN", "watcher", "publish", "other", "m"],
    ["ACL", "DELUSER", "watcher"],
    ["ACL", "GENPASS", "0"],
    ["ACL", "LOAD"],
]


def test_sentinel_answers_acl_like_redis_sentinel():
    exe = shutil.which("redis-sentinel")
    if not exe:
        pytest.skip("redis-sentinel not installed")
    t = ServerProcess(tern_binary(), ["--sentinel"], config_text="sentinel resolve-hostnames no\n")
    r = ServerProcess(exe, [], config_text="sentinel resolve-hostnames no\n")
    try:
        for proto in (2, 3):
            a, b = Conn(t.port, proto), Conn(r.port, proto)
            for cmd in SENTINEL_ACL_SCRIPT:
                x, y = canon_rules(a.cmd(*cmd)), canon_rules(b.cmd(*cmd))
                assert x == y, "%r (RESP%d):\n tern:  %r\n redis: %r" % (cmd, proto, x, y)
            a.close()
            b.close()
    finally:
        t.stop()
        r.stop()
