"""tern-server --sentinel: sentinel.conf grammar and its errors, the rewritten file after
SENTINEL MONITOR/SET/REMOVE/CONFIG SET (side by side with redis-sentinel), a restart from
the rewritten file, the tern-sentinel name, and notification / client-reconfig scripts."""
import os
import shutil
import stat
import subprocess
import tempfile

import pytest
import redis

from conftest import ServerProcess, free_port, tern_binary
from replication_support import wait_for
from sentinel_support import (MASTER_NAME, RawConnection, Topology, as_map, config_path, role, sentinel_config,
                              sentinel_lines, start_data_server, start_sentinel)

BAD_CONFIGS = [
    "sentinel monitor mym 127.0.0.1 6379 0",
    "sentinel monitor mym 127.0.0.1 99999 2",
    "sentinel monitor mym localhost 6379 2",
    "sentinel down-after-milliseconds nosuch 100",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel down-after-milliseconds mym -5",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel failover-timeout mym 0",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel notification-script mym /nonexistent",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel client-reconfig-script mym /nonexistent",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel master-reboot-down-after-period mym -1",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel known-replica mym 127.0.0.1 70000",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel known-sentinel mym 127.0.0.1 70000 " + "a" * 40,
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel known-replica mym 127.0.0.1",
    "sentinel monitor mym 127.0.0.1 6379 2\nsentinel monitor mym 127.0.0.1 6380 2",
    "sentinel foo bar",
    "sentinel myid abc",
    "sentinel resolve-hostnames maybe",
    "sentinel announce-hostnames maybe",
    "sentinel deny-scripts-reconfig maybe",
]


def fatal_report(argv, text):
    d = tempfile.mkdtemp(prefix="tern-test-")
    try:
        path = os.path.join(d, "s.conf")
        with open(path, "w") as f:
            f.write("port %d\n%s\n" % (free_port(), text))
        p = subprocess.run([argv[0], path] + argv[1:], capture_output=True, text=True, timeout=10, cwd=d)
        assert p.returncode == 1, (argv, text, p.stdout, p.stderr)
        return p.stderr[p.stderr.index("*** FATAL"):]
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("text", BAD_CONFIGS)
def test_config_errors_match_redis_sentinel(text):
    if not shutil.which("redis-sentinel"):
        pytest.skip("redis-sentinel not installed")
    assert fatal_report([tern_binary(), "--sentinel"], text) == fatal_report(["redis-sentinel"], text)


def test_sentinel_needs_a_config_file():
    p = subprocess.run([tern_binary(), "--sentinel", "--port", str(free_port())], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 1
    assert "Sentinel needs config file on disk to save state. Exiting..." in p.stdout + p.stderr


def test_tern_sentinel_name_and_restart_from_rewritten_file():
    topo = Topology(server_kind="tern", sentinel_kinds=(), replicas=1)
    d = tempfile.mkdtemp(prefix="tern-test-")
    link = os.path.join(d, "tern-sentinel")
    os.symlink(tern_binary(), link)
    s = None
    try:
        s = ServerProcess(link, [], config_text=sentinel_config(topo.master.port, quorum=1))
        topo.sentinels.append(s)
        c = topo.sentinel_client(s)
        assert "redis_mode:sentinel" in RawConnection(s.port).call("INFO", "server").decode()
        wait_for(lambda: int(as_map(c.execute_command("SENTINEL", "MASTER", MASTER_NAME))["num-slaves"]) == 1, 20,
                 "the replica to be discovered")
        myid = c.execute_command("SENTINEL", "MYID")
        with open(config_path(s)) as f:
            # The temp dir goes away with the process; the restarted one gets its own.
            saved = "\n".join(l for l in f.read().splitlines() if not l.startswith("dir "))
        assert ["sentinel", "known-replica", MASTER_NAME, "127.0.0.1", str(topo.servers[1].port)] in sentinel_lines(s)
        try:
            c.execute_command("SHUTDOWN")
        except redis.ConnectionError:
            pass
        s.proc.wait(10)
        topo.sentinels.remove(s)
        s.stop()
        # Restarted from its own file: same id, the replica known before any INFO.
        s = ServerProcess(link, [], config_text=saved)
        topo.sentinels.append(s)
        c = topo.sentinel_client(s)
        assert c.execute_command("SENTINEL", "MYID") == myid
        replicas = [as_map(e) for e in c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)]
        assert [int(e["port"]) for e in replicas] == [topo.servers[1].port]
    finally:
        topo.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_rewrite_after_commands_matches_redis_sentinel():
    """The same SENTINEL MONITOR/SET/REMOVE/CONFIG SET on a Tern sentinel and a redis-sentinel
    leave the same sentinel lines in their files."""
    topo = Topology(server_kind="tern", sentinel_kinds=("tern", "redis"), replicas=1)
    try:
        topo.wait_discovery()
        other = start_data_server("tern")
        topo.servers.append(other)
        commands = [
            ("SENTINEL", "MONITOR", "other", "127.0.0.1", str(other.port), "1"),
            ("SENTINEL", "SET", "other", "down-after-milliseconds", "5000", "quorum", "2"),
            ("SENTINEL", "SET", "other", "failover-timeout", "9000", "parallel-syncs", "3"),
            ("SENTINEL", "SET", "other", "auth-pass", "secret", "auth-user", "someone"),
            ("SENTINEL", "SET", "other", "rename-command", "CONFIG", "MYCONFIG"),
            ("SENTINEL", "SET", "other", "master-reboot-down-after-period", "1234"),
            ("SENTINEL", "SET", MASTER_NAME, "parallel-syncs", "2"),
            ("SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"),
            ("SENTINEL", "CONFIG", "SET", "announce-hostnames", "yes"),
            ("SENTINEL", "CONFIG", "SET", "sentinel-user", "u"),
            ("SENTINEL", "CONFIG", "SET", "sentinel-pass", "p"),
        ]
        conns = [RawConnection(s.port) for s in topo.sentinels]
        for cmd in commands:
            replies = [c.call(*cmd) for c in conns]
            assert replies[0] == replies[1] == b"+OK\r\n", (cmd, replies)
        lines = [sentinel_lines(s) for s in topo.sentinels]
        # Redis lists masters in its dict's (randomly seeded) hash order: compare as sets.
        strip = lambda ls: sorted(l for l in ls if l[1] not in ("myid", "known-sentinel"))
        assert strip(lines[0]) == strip(lines[1])
        assert ["sentinel", "rename-command", "other", "CONFIG", "MYCONFIG"] in lines[0]
        for cmd in [("SENTINEL", "REMOVE", "other"), ("SENTINEL", "CONFIG", "SET", "sentinel-pass", ""),
                    ("SENTINEL", "CONFIG", "SET", "sentinel-user", "")]:
            assert conns[0].call(*cmd) == conns[1].call(*cmd) == b"+OK\r\n"
        lines = [sentinel_lines(s) for s in topo.sentinels]
        assert strip(lines[0]) == strip(lines[1])
        assert not any("other" in l for l in lines[0])
        # CONFIG GET after the changes.
        assert conns[0].call("SENTINEL", "CONFIG", "GET", "*") == conns[1].call("SENTINEL", "CONFIG", "GET", "*")
        # A vote request at a newer epoch: the epoch is adopted, the vote recorded (and
        # written), and a second candidate at that epoch gets the same answer.
        first, second = "f" * 40, "e" * 40
        port = str(topo.master.port)
        for c in conns:
            want = b"*3\r\n:0\r\n$40\r\n" + first.encode() + b"\r\n:7\r\n"
            assert c.call("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", port, "7", first) == want
            assert c.call("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", port, "7", second) == want
            assert c.call("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", port, "7", "*") == b"*3\r\n:0\r\n$1\r\n*\r\n:0\r\n"
        lines = [sentinel_lines(s) for s in topo.sentinels]
        assert strip(lines[0]) == strip(lines[1])
        assert ["sentinel", "leader-epoch", MASTER_NAME, "7"] in lines[0]
        assert ["sentinel", "current-epoch", "7"] in lines[0]
        for c in conns:
            c.close()
    finally:
        topo.stop()


def write_script(d, name, out):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" >> %s\nexit 0\n" % out)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_notification_and_client_reconfig_scripts():
    d = tempfile.mkdtemp(prefix="tern-test-")
    notes, reconf = os.path.join(d, "notes"), os.path.join(d, "reconf")
    notify = write_script(d, "notify.sh", notes)
    reconfig = write_script(d, "reconfig.sh", reconf)
    topo = Topology(server_kind="tern", sentinel_kinds=(), replicas=1)
    try:
        extra = "sentinel notification-script %s %s\nsentinel client-reconfig-script %s %s\n" % (
            MASTER_NAME, notify, MASTER_NAME, reconfig)
        s = ServerProcess(tern_binary(), ["--sentinel"],
                          config_text=sentinel_config(topo.master.port, quorum=1, extra=extra))
        topo.sentinels.append(s)
        c = topo.sentinel_client(s)
        wait_for(lambda: int(as_map(c.execute_command("SENTINEL", "MASTER", MASTER_NAME))["num-slaves"]) == 1, 20,
                 "the replica to be discovered")
        wait_for(lambda: as_map(c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)[0])["master-link-status"] == "ok",
                 20, "the replica's link")
        # Script paths cannot be changed at run time (deny-scripts-reconfig yes).
        assert RawConnection(s.port).call("SENTINEL", "SET", MASTER_NAME, "notification-script", notify).startswith(
            b"-ERR Reconfiguration of scripts path is denied")
        old, new = topo.master.port, topo.servers[1].port
        topo.kill(topo.master)
        assert topo.wait_switch(old) == new
        wait_for(lambda: os.path.exists(reconf), 20, "the client reconfig script to run")
        with open(reconf) as f:
            assert f.read().splitlines() == ["%s leader start 127.0.0.1 %d 127.0.0.1 %d" % (MASTER_NAME, old, new)]
        wait_for(lambda: os.path.exists(notes) and "+switch-master" in open(notes).read(), 20, "notifications")
        with open(notes) as f:
            got = f.read().splitlines()
        assert "+sdown master %s 127.0.0.1 %d" % (MASTER_NAME, old) in got
        assert "+odown master %s 127.0.0.1 %d #quorum 1/1" % (MASTER_NAME, old) in got
        assert "+switch-master %s 127.0.0.1 %d 127.0.0.1 %d" % (MASTER_NAME, old, new) in got
        assert "+promoted-slave slave 127.0.0.1:%d 127.0.0.1 %d @ %s 127.0.0.1 %d" % (new, new, MASTER_NAME, old) in got
        wait_for(lambda: c.execute_command("SENTINEL", "PENDING-SCRIPTS") == [], 20, "the script queue to drain")
    finally:
        topo.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_hostnames_match_redis_sentinel():
    """resolve-hostnames lets `localhost` be monitored (shown and written as its IP);
    announce-hostnames shows and writes the name instead, as redis-sentinel does."""
    if not shutil.which("redis-sentinel"):
        pytest.skip("redis-sentinel not installed")
    topo = Topology(server_kind="tern", sentinel_kinds=(), replicas=0)
    try:
        pairs = []
        for announce in ("no", "yes"):
            text = ("sentinel resolve-hostnames yes\nsentinel announce-hostnames %s\n"
                    "sentinel monitor %s localhost %d 2\nsentinel down-after-milliseconds %s 1000\n"
                    % (announce, MASTER_NAME, topo.master.port, MASTER_NAME))
            pair = [ServerProcess(tern_binary(), ["--sentinel"], config_text=text),
                    ServerProcess(shutil.which("redis-sentinel"), [], config_text=text)]
            topo.sentinels += pair
            pairs.append(pair)
        topo.wait_discovery()
        for tern, real in pairs:
            t, r = RawConnection(tern.port), RawConnection(real.port)
            for cmd in [("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME), ("SENTINEL", "CONFIG", "GET", "*")]:
                assert t.call(*cmd) == r.call(*cmd), cmd
            tm = as_map(topo.sentinel_client(tern).execute_command("SENTINEL", "MASTER", MASTER_NAME))
            rm = as_map(topo.sentinel_client(real).execute_command("SENTINEL", "MASTER", MASTER_NAME))
            assert (tm["ip"], tm["num-other-sentinels"]) == (rm["ip"], rm["num-other-sentinels"])
            tl = [l for l in sentinel_lines(tern) if l[1] == "monitor"]
            rl = [l for l in sentinel_lines(real) if l[1] == "monitor"]
            assert tl == rl
            t.close()
            r.close()
        assert [l for l in sentinel_lines(pairs[1][0]) if l[1] == "monitor"][0][3] == "localhost"
        assert [l for l in sentinel_lines(pairs[0][0]) if l[1] == "monitor"][0][3] == "127.0.0.1"
    finally:
        topo.stop()


def test_links_to_a_sentinel_are_shared_between_masters():
    """Two masters watched by the same sentinels: one link per other sentinel, counted by
    link-refcount, as redis-sentinel shows it."""
    topo = Topology(server_kind="tern", sentinel_kinds=("tern", "redis"), replicas=0)
    try:
        topo.wait_discovery()
        other = start_data_server("tern")
        topo.servers.append(other)
        for s in topo.sentinels:
            assert topo.sentinel_client(s).execute_command("SENTINEL", "MONITOR", "other", "127.0.0.1",
                                                           str(other.port), "2") == "OK"

        def refcounts(s):
            c = topo.sentinel_client(s)
            return [as_map(e)["link-refcount"] for name in (MASTER_NAME, "other")
                    for e in c.execute_command("SENTINEL", "SENTINELS", name)]
        wait_for(lambda: all(refcounts(s) == ["2", "2"] for s in topo.sentinels), 20,
                 "both sentinels to share their link under both masters")
        # Removing one master leaves the link to the other sentinel, now used once.
        for s in topo.sentinels:
            assert topo.sentinel_client(s).execute_command("SENTINEL", "REMOVE", "other") == "OK"
        for s in topo.sentinels:
            e = as_map(topo.sentinel_client(s).execute_command("SENTINEL", "SENTINELS", MASTER_NAME)[0])
            assert e["link-refcount"] == "1" and "disconnected" not in e["flags"]
    finally:
        topo.stop()
