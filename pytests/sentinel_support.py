"""Sentinel test fixtures: a replicated topology (Tern or redis-server instances) watched by
Tern sentinels, real redis-sentinels or a mix, all on free loopback ports in temp dirs.
Everything started here is stopped by Topology.stop()."""
import os
import shutil
import threading
import time

import pytest
import redis
import redis.sentinel

from conftest import ServerProcess, free_port, start_redis, start_tern, tern_binary
from replication_support import wait_for, wait_synced

MASTER_NAME = "mym"


def sentinel_config(master_port, quorum=2, down_after=1000, failover_timeout=6000, extra=""):
    return (
        "sentinel monitor %s 127.0.0.1 %d %d\n"
        "sentinel down-after-milliseconds %s %d\n"
        "sentinel failover-timeout %s %d\n%s"
        % (MASTER_NAME, master_port, quorum, MASTER_NAME, down_after, MASTER_NAME, failover_timeout, extra)
    )


def start_sentinel(kind, master_port, **kw):
    """A sentinel ("tern" or "redis") monitoring 127.0.0.1:master_port as MASTER_NAME."""
    text = sentinel_config(master_port, **kw)
    if kind == "tern":
        return ServerProcess(tern_binary(), ["--sentinel"], config_text=text)
    exe = shutil.which("redis-sentinel")
    if not exe:
        pytest.skip("redis-sentinel not installed")
    return ServerProcess(exe, [], config_text=text)


def start_data_server(kind, args=(), port=None):
    if kind == "tern":
        if port is None:
            return start_tern(args)
        return ServerProcess(tern_binary(), ["--enable-debug-command", "yes", *args], port=port)
    exe = shutil.which("redis-server")
    if port is None:
        return start_redis(args)
    return ServerProcess(exe, ["--save", "", "--appendonly", "no", *args], port=port)


def server_password(args):
    """The value of --requirepass in a server's arguments, if any."""
    args = list(args)
    return args[args.index("--requirepass") + 1] if "--requirepass" in args else None


def config_path(server):
    return os.path.join(server.dir, "test.conf")


def sentinel_lines(server):
    """The `sentinel ...` lines of a sentinel's config file, split into words."""
    with open(config_path(server)) as f:
        return [l.split() for l in f.read().splitlines() if l.startswith("sentinel ")]


class Topology:
    """A master, its replicas and the sentinels watching them."""

    def __init__(self, server_kind="tern", sentinel_kinds=("tern", "tern", "tern"), replicas=2,
                 master_args=(), quorum=2, down_after=1000, failover_timeout=6000, server_args=(),
                 sentinel_extra="", password=None):
        self.server_kind = server_kind
        # Every data server gets server_args; the master (and a restarted one) master_args too.
        self.master_args = list(server_args) + list(master_args)
        self.password = password
        self.servers = []
        self.sentinels = []
        try:
            self.master = start_data_server(server_kind, self.master_args)
            self.servers.append(self.master)
            for _ in range(replicas):
                r = start_data_server(server_kind, list(server_args) + ["--replicaof", "127.0.0.1", str(self.master.port)])
                self.servers.append(r)
            m = self.master.client(password=server_password(server_args))
            wait_synced(m, *[r.client(password=server_password(server_args)) for r in self.servers[1:]])
            m.close()
            for kind in sentinel_kinds:
                self.sentinels.append(start_sentinel(kind, self.master.port, quorum=quorum, down_after=down_after,
                                                     failover_timeout=failover_timeout, extra=sentinel_extra))
        except BaseException:
            self.stop()
            raise

    def by_port(self, port):
        return next(s for s in self.servers if s.port == port)

    def sentinel_client(self, s):
        return redis.Redis(host="127.0.0.1", port=s.port, decode_responses=True, password=self.password)

    def master_entry(self, s):
        return as_map(self.sentinel_client(s).execute_command("SENTINEL", "MASTER", MASTER_NAME))

    def wait_discovery(self, timeout=30.0):
        """Until every sentinel knows every replica and every other sentinel."""
        want_replicas = len(self.servers) - 1
        want_sentinels = len(self.sentinels) - 1

        def done():
            for s in self.sentinels:
                e = self.master_entry(s)
                if int(e["num-slaves"]) != want_replicas or int(e["num-other-sentinels"]) != want_sentinels:
                    return False
            return True
        wait_for(done, timeout, "sentinels to discover replicas and each other")

    def master_addr(self, s):
        return tuple(self.sentinel_client(s).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME))

    def wait_switch(self, old_port, timeout=40.0):
        """Until every sentinel names a master other than old_port; returns its port."""
        def done():
            return all(int(self.master_addr(s)[1]) != old_port for s in self.sentinels)
        wait_for(done, timeout, "every sentinel to switch to a new master")
        ports = {int(self.master_addr(s)[1]) for s in self.sentinels}
        assert len(ports) == 1, "sentinels disagree on the new master: %s" % ports
        return ports.pop()

    def kill(self, server):
        server.proc.kill()
        server.proc.wait()

    def restart(self, server):
        """Starts a server again on the port of a killed one (no replicaof)."""
        self.servers.remove(server)
        server.stop()
        again = start_data_server(self.server_kind, self.master_args, port=server.port)
        self.servers.append(again)
        return again

    def stop(self):
        for s in self.sentinels + self.servers:
            try:
                s.stop()
            except Exception:
                pass


def as_map(reply):
    """A RESP2 field/value list (SENTINEL MASTER ...) as a dict."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[0::2], reply[1::2]))


def role(server, password=None):
    c = server.client(decode_responses=True, password=password)
    try:
        return c.execute_command("ROLE")
    finally:
        c.close()


class WriteLoad:
    """Writes numbered keys through redis-py's Sentinel client (master_for) and reads through
    slave_for, from threads, remembering which writes were acknowledged and when."""

    def __init__(self, sentinel_ports, password=None, sentinel_password=None):
        self.sentinel = redis.sentinel.Sentinel([("127.0.0.1", p) for p in sentinel_ports], socket_timeout=0.5,
                                                sentinel_kwargs={"password": sentinel_password})
        self.master = self.sentinel.master_for(MASTER_NAME, socket_timeout=0.5, decode_responses=True,
                                               password=password)
        self.replica = self.sentinel.slave_for(MASTER_NAME, socket_timeout=0.5, decode_responses=True,
                                               password=password)
        self.acked = []          # (key, ack time)
        self.write_errors = 0
        self.reads_ok = 0
        self.read_errors = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.write_loop, daemon=True),
                        threading.Thread(target=self.read_loop, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()

    def write_loop(self):
        i = 0
        while not self.stopping.is_set():
            i += 1
            key = "load:%d" % i
            try:
                self.master.set(key, i)
                self.acked.append((key, time.time()))
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, redis.ReadOnlyError):
                self.write_errors += 1
                time.sleep(0.05)
            time.sleep(0.002)

    def read_loop(self):
        while not self.stopping.is_set():
            try:
                self.replica.get("load:1")
                self.reads_ok += 1
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                self.read_errors += 1
                time.sleep(0.05)
            time.sleep(0.01)

    def acked_since(self, t):
        return sum(1 for _, at in self.acked if at >= t)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(5)


class RawConnection:
    """One connection that sends a command and returns its reply's exact bytes."""

    def __init__(self, port):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def read(self):
        line = self.file.readline()
        t = line[:1]
        if t in (b"$", b"="):
            n = int(line[1:-2])
            return line if n < 0 else line + self.file.read(n + 2)
        if t in (b"*", b"~", b">", b"%"):
            n = int(line[1:-2])
            if t == b"%":
                n *= 2
            return line + b"".join(self.read() for _ in range(max(n, 0)))
        return line

    def close(self):
        self.sock.close()
