"""Fixtures for sentinel tests and bench/sentinel: a master with replicas (Tern or redis-server,
each with a config file so CONFIG REWRITE works) watched by sentinels (Debian's redis-sentinel,
or later Tern's own `tern-server CONF --sentinel`), a recording TCP proxy, redis-py Sentinel
writers and readers that count what was acknowledged, and a network-namespace partition."""
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from conftest import ServerProcess, free_port, tern_binary, wait_port
from replication_support import wait_for

MASTER_NAME = "mym"


# ---------------------------------------------------------------------------------------------
# Servers and sentinels

def server_binary(kind):
    if kind == "tern":
        return tern_binary()
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError("redis-server not installed")
    return exe


def start_data_server(kind, args=(), bind="127.0.0.1", port=None, netns=None):
    """A Tern or redis-server started from a config file in its own dir (the sentinel's
    failover transaction runs CONFIG REWRITE, which needs one). No snapshots: a SIGKILLed
    master comes back empty, as the tests expect."""
    conf = "save \"\"\nappendonly no\n"
    # protected-mode off: a partition test reaches servers on non-loopback addresses.
    extra = ["--enable-debug-command", "yes", "--protected-mode", "no", *args]
    return DataServer(server_binary(kind), extra, conf, bind=bind, port=port, netns=netns)


class DataServer(ServerProcess):
    """ServerProcess that binds where asked (a namespace address too), can run inside a
    network namespace, and restarts in place after a SIGKILL with the same argv."""

    def __init__(self, binary, args, config_text, bind="127.0.0.1", port=None, netns=None):
        self.name = os.path.basename(binary)
        self.host = bind.split()[0]
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="tern-sentinel-test-")
        self.conf_path = os.path.join(self.dir, "server.conf")
        with open(self.conf_path, "w") as f:
            f.write(config_text)
        argv = [binary, self.conf_path, "--port", str(self.port), "--bind", *bind.split(),
                "--dir", self.dir, *args]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        self.argv = argv
        self.log = open(os.path.join(self.dir, "stdout.log"), "w+")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        wait_port(self.port, self.proc, host=self.host)

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def kill(self):
        """SIGKILL: no shutdown, no save, replicas and sentinels see the connection reset."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def config_file(self):
        with open(self.conf_path) as f:
            return f.read()


def sentinel_argv(kind, conf_path):
    """The command line of one sentinel. `tern` is the hook for Tern's own sentinel mode
    (`tern-server CONF --sentinel`); callers skip it while that mode does not exist."""
    if kind == "redis":
        exe = shutil.which("redis-sentinel")
        if not exe:
            raise RuntimeError("redis-sentinel not installed")
        return [exe, conf_path]
    if kind == "tern":
        return [tern_binary(), conf_path, "--sentinel"]
    raise ValueError(kind)


@functools.lru_cache(maxsize=None)
def tern_sentinel_available():
    """True once `tern-server --sentinel` starts a sentinel (answers SENTINEL MYID)."""
    d = tempfile.mkdtemp(prefix="tern-sentinel-probe-")
    port = free_port()
    conf = os.path.join(d, "sentinel.conf")
    with open(conf, "w") as f:
        f.write("port %d\nbind 127.0.0.1\n" % port)
    try:
        proc = subprocess.Popen(sentinel_argv("tern", conf), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=d)
    except (OSError, RuntimeError):
        shutil.rmtree(d, ignore_errors=True)
        return False
    try:
        wait_port(port, proc, 5)
        return len(redis.Redis(port=port, socket_timeout=2).execute_command("SENTINEL", "MYID")) == 40
    except Exception:
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


class SentinelProcess(ServerProcess):
    """One sentinel with its own writable config file (sentinels rewrite it); stop() and
    output() are ServerProcess's."""

    def __init__(self, kind, master_host, master_port, quorum, down_after_ms, failover_timeout_ms,
                 extra_lines=()):
        self.kind = kind
        self.name = "sentinel"
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tern-sentinel-")
        self.conf_path = os.path.join(self.dir, "sentinel.conf")
        lines = [
            "port %d" % self.port,
            "bind 127.0.0.1",
            "dir %s" % self.dir,
            "sentinel monitor %s %s %d %d" % (MASTER_NAME, master_host, master_port, quorum),
            "sentinel down-after-milliseconds %s %d" % (MASTER_NAME, down_after_ms),
            "sentinel failover-timeout %s %d" % (MASTER_NAME, failover_timeout_ms),
            "sentinel parallel-syncs %s 1" % MASTER_NAME,
            *extra_lines,
        ]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(self.dir, "sentinel.log"), "w+")
        self.proc = subprocess.Popen(sentinel_argv(kind, self.conf_path), stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        wait_port(self.port, self.proc)

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)

    def command(self, *args):
        # Plain execute_command: redis-py's SENTINEL reply callbacks differ between versions.
        with self.client() as c:
            return c.execute_command(*args)

    def master_state(self):
        flat = self.command("SENTINEL", "MASTER", MASTER_NAME)
        return dict(zip(flat[0::2], flat[1::2]))

    def master_addr(self):
        host, port = self.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        return host, int(port)



class Topology:
    """A master, replicas following it, and sentinels watching the master. `announce` is the
    address replicas announce (and sentinels therefore use) when it is not 127.0.0.1."""

    def __init__(self, server_kind="tern", sentinel_kind="redis", replicas=2, sentinels=3, quorum=2,
                 down_after_ms=1000, failover_timeout_ms=6000, server_args=(), sentinel_lines=(),
                 master_bind="127.0.0.1", master_netns=None, replica_bind="127.0.0.1",
                 replica_announce_ip=None):
        self.server_kind = server_kind
        self.down_after_ms = down_after_ms
        self.servers = []
        self.sentinels = []
        try:
            self.master = start_data_server(server_kind, server_args, bind=master_bind, netns=master_netns)
            self.servers.append(self.master)
            replica_args = list(server_args) + ["--replicaof", self.master.host, str(self.master.port)]
            if replica_announce_ip:
                replica_args += ["--replica-announce-ip", replica_announce_ip]
            for _ in range(replicas):
                self.servers.append(start_data_server(server_kind, replica_args, bind=replica_bind))
            for r in self.replicas:
                wait_for(lambda: r.client().info("replication").get("master_link_status") == "up", 30,
                         "replica link up")
            if self.master.host != "127.0.0.1":
                # A sentinel advertises the local address of its link to the master; with the
                # master on another address that would be one the sentinels do not listen on.
                sentinel_lines = ["sentinel announce-ip 127.0.0.1", *sentinel_lines]
            for _ in range(sentinels):
                self.sentinels.append(SentinelProcess(sentinel_kind, self.master.host, self.master.port,
                                                      quorum, down_after_ms, failover_timeout_ms,
                                                      sentinel_lines))
            self.wait_discovered(replicas, sentinels - 1)
        except BaseException:
            self.stop()
            raise

    @property
    def replicas(self):
        return [s for s in self.servers if s is not self.master]

    def wait_discovered(self, replicas, other_sentinels, timeout=40):
        def done():
            for s in self.sentinels:
                st = s.master_state()
                if int(st["num-slaves"]) < replicas or int(st["num-other-sentinels"]) < other_sentinels:
                    return False
            return True
        wait_for(done, timeout, "sentinels to discover the replicas and each other")

    def server_at(self, host, port):
        for s in self.servers:
            if s.port == port:
                return s
        raise KeyError((host, port))

    def sentinel_addrs(self):
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def redis_py_sentinel(self, **kw):
        kw.setdefault("socket_timeout", 0.5)
        return Sentinel(self.sentinel_addrs(), **kw)

    def agreed_master(self):
        """The master address every sentinel reports, or None while they disagree."""
        addrs = set()
        for s in self.sentinels:
            try:
                addrs.add(s.master_addr())
            except (redis.ConnectionError, redis.TimeoutError):
                return None
        return addrs.pop() if len(addrs) == 1 else None

    def wait_switched(self, old_port, timeout):
        """Until every sentinel names a master other than old_port; returns that server."""
        found = {}

        def done():
            a = self.agreed_master()
            if a and a[1] != old_port:
                found["addr"] = a
                return True
            return False
        wait_for(done, timeout, "every sentinel to switch the master away from port %d" % old_port)
        return self.server_at(*found["addr"])

    def wait_converged(self, timeout, servers=None):
        """Until the sentinels agree on a master that reports role:master and every other of
        `servers` (default: all) replicates from it with its link up; returns that master.
        (On a loaded machine a freshly promoted master can miss down-after-milliseconds and be
        failed over again: the tests follow wherever the sentinels settle.)"""
        found = {}

        def done():
            addr = self.agreed_master()
            if not addr:
                return False
            master = self.server_at(*addr)
            if master.client().info("replication")["role"] != "master":
                return False
            for s in servers or self.servers:
                if s is not master:
                    i = s.client().info("replication")
                    if i.get("master_port") != master.port or i.get("master_link_status") != "up":
                        return False
            found["master"] = master
            return True
        wait_for(done, timeout, "the sentinels, the master and its replicas to agree")
        return found["master"]

    def logs(self, tail=4000):
        """The end of every sentinel's and server's log (printed when a test fails)."""
        out = []
        for s in self.sentinels + self.servers:
            out.append("---- %s %d\n%s" % (s.name, s.port, s.output()[-tail:]))
        return "\n".join(out)

    def stop(self):
        for s in self.sentinels:
            s.stop()
        for s in self.servers:
            s.stop()


# ---------------------------------------------------------------------------------------------
# Clients through redis-py's Sentinel support

class SentinelWriter:
    """Writes SET w:<n> <n> through master_for in a thread. `acked` holds every n the master
    answered OK to (with `wait_replicas`, only those WAIT also confirmed), `ack_times` when
    each was sent and answered, `failures` the refusals and connection errors by kind."""

    def __init__(self, sentinel, wait_replicas=0, prefix="w"):
        # No retries inside redis-py: each write is one attempt, so "refused" means refused
        # (a retry could re-send a write whose first attempt was applied but not answered).
        self.master = sentinel.master_for(MASTER_NAME, socket_timeout=0.5, socket_connect_timeout=0.5,
                                          retry=Retry(NoBackoff(), 0))
        self.wait_replicas = wait_replicas
        self.prefix = prefix
        self.acked = []
        self.ack_times = []
        self.failures = {}
        self.sent = 0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            self.sent = n
            sent_at = time.time()
            try:
                self.master.set("%s:%d" % (self.prefix, n), n)
                if self.wait_replicas and self.master.execute_command("WAIT", self.wait_replicas, 1000) < self.wait_replicas:
                    self.failure("wait-timeout")
                    continue
                with self.lock:
                    self.acked.append(n)
                    self.ack_times.append((sent_at, time.time()))
            except redis.ResponseError as e:
                self.failure(str(e).split(" ")[0])
                time.sleep(0.01)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
                self.failure(type(e).__name__)
                time.sleep(0.01)

    def failure(self, kind):
        with self.lock:
            self.failures[kind] = self.failures.get(kind, 0) + 1

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def first_ok_after(self, t):
        """When the first write sent after t was acknowledged (after a kill at t, that is a
        write the new master took), or None."""
        with self.lock:
            for sent_at, acked_at in self.ack_times:
                if sent_at > t:
                    return acked_at
        return None

    def stop(self):
        self.stop_flag.set()
        self.t.join(30)


class SentinelReader:
    """Reads the writer's keys through slave_for in a thread; counts reads answered."""

    def __init__(self, sentinel, writer):
        self.replica = sentinel.slave_for(MASTER_NAME, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.writer = writer
        self.ok = 0
        self.errors = 0
        self.stop_flag = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_flag.is_set():
            with self.writer.lock:
                n = self.writer.acked[-1] if self.writer.acked else 1
            try:
                self.replica.get("%s:%d" % (self.writer.prefix, n))
                self.ok += 1
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError):
                self.errors += 1
                time.sleep(0.01)
            time.sleep(0.002)

    def stop(self):
        self.stop_flag.set()
        self.t.join(30)


def lost_writes(client, prefix, acked):
    """The acknowledged numbers whose key is missing on this server."""
    lost = []
    for i in range(0, len(acked), 1000):
        chunk = acked[i:i + 1000]
        values = client.mget(["%s:%d" % (prefix, n) for n in chunk])
        lost += [n for n, v in zip(chunk, values) if v is None]
    return lost


# ---------------------------------------------------------------------------------------------
# A recording TCP proxy (to capture what a sentinel sends and what the server answers)

class RecordingProxy:
    """Listens on a free loopback port and forwards each connection to target; records
    (connection number, direction 'c2s'/'s2c', bytes) in arrival order."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.records = []
        self.lock = threading.Lock()
        self.conns = 0
        self.closed = False
        self.open_socks = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target, timeout=2)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += 1
                cid = self.conns
                self.open_socks += [c, s]
            threading.Thread(target=self.pump, args=(cid, "c2s", c, s), daemon=True).start()
            threading.Thread(target=self.pump, args=(cid, "s2c", s, c), daemon=True).start()

    def pump(self, cid, direction, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    self.records.append((cid, direction, data))
                dst.sendall(data)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def streams(self):
        """{connection: (bytes client->server, bytes server->client)}."""
        out = {}
        with self.lock:
            for cid, d, data in self.records:
                c2s, s2c = out.get(cid, (b"", b""))
                out[cid] = (c2s + data, s2c) if d == "c2s" else (c2s, s2c + data)
        return out

    def close(self):
        self.closed = True
        self.sock.close()
        with self.lock:
            for s in self.open_socks:
                try:
                    s.close()
                except OSError:
                    pass


def parse_requests(buf):
    """RESP multibulk requests in buf -> list of argument lists (bytes)."""
    out = []
    i = 0
    while i < len(buf):
        if buf[i:i + 1] != b"*":
            j = buf.find(b"\r\n", i)
            if j < 0:
                break
            if j > i:
                out.append(buf[i:j].split())
            i = j + 2
            continue
        j = buf.find(b"\r\n", i)
        n = int(buf[i + 1:j])
        i = j + 2
        args = []
        for _ in range(n):
            j = buf.find(b"\r\n", i)
            ln = int(buf[i + 1:j])
            args.append(buf[j + 2:j + 2 + ln])
            i = j + 2 + ln + 2
        out.append(args)
    return out


def parse_replies(buf):
    """RESP2 replies in buf -> list of Python values (errors as ('err', text))."""
    out = []
    pos = [0]

    def one():
        i = pos[0]
        j = buf.find(b"\r\n", i)
        if j < 0:
            raise IndexError
        t, line = buf[i:i + 1], buf[i + 1:j]
        pos[0] = j + 2
        if t == b"+":
            return line.decode()
        if t == b"-":
            return ("err", line.decode())
        if t == b":":
            return int(line)
        if t == b"$":
            n = int(line)
            if n < 0:
                return None
            v = buf[pos[0]:pos[0] + n]
            pos[0] += n + 2
            return v
        if t == b"*":
            n = int(line)
            return None if n < 0 else [one() for _ in range(n)]
        raise ValueError("bad reply type %r" % t)
    while pos[0] < len(buf):
        try:
            out.append(one())
        except IndexError:
            break
    return out


# ---------------------------------------------------------------------------------------------
# Network partition: a server alone in its own network namespace

@functools.lru_cache(maxsize=None)
def netns_usable():
    """Root and `ip netns` able to create a namespace with a veth pair."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    try:
        ns = NetnsIsland()
    except (OSError, subprocess.CalledProcessError):
        return False
    ns.remove()
    return True


class NetnsIsland:
    """A network namespace joined to the host by a veth pair: the host side has
    10.<a>.<b>.1, the namespace side 10.<a>.<b>.2. `cut()` sets the host end down (a silent
    partition: packets are dropped, connections hang, nothing is reset), `heal()` sets it up."""

    def __init__(self):
        # Interface names are limited to 15 characters.
        tag = "%x%04x" % (os.getpid() % 0xfff, int(time.time() * 1000) % 0xffff)
        self.name = "tsp" + tag
        self.host_if = "tsh" + tag
        self.ns_if = "tsn" + tag
        a, b = (os.getpid() % 200) + 20, int(time.time() * 1000) % 250 + 1
        self.host_ip = "10.%d.%d.1" % (a, b)
        self.ns_ip = "10.%d.%d.2" % (a, b)
        run = lambda *argv: subprocess.run(argv, check=True, capture_output=True)
        run("ip", "netns", "add", self.name)
        try:
            run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            run("ip", "link", "set", self.ns_if, "netns", self.name)
            run("ip", "addr", "add", self.host_ip + "/30", "dev", self.host_if)
            run("ip", "link", "set", self.host_if, "up")
            run("ip", "netns", "exec", self.name, "ip", "addr", "add", self.ns_ip + "/30", "dev", self.ns_if)
            run("ip", "netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
            run("ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        except subprocess.CalledProcessError:
            self.remove()
            raise

    def cut(self):
        # The namespace end goes down: the host end loses its carrier, packets either way are
        # dropped, and the host keeps its own address (replicas announce it) reachable.
        self.in_ns("ip", "link", "set", self.ns_if, "down")

    def heal(self):
        self.in_ns("ip", "link", "set", self.ns_if, "up")

    def in_ns(self, *argv):
        subprocess.run(["ip", "netns", "exec", self.name, *argv], check=True)

    def remove(self):
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def pause(server):
    os.kill(server.proc.pid, signal.SIGSTOP)


def resume(server):
    os.kill(server.proc.pid, signal.SIGCONT)


# A writer as its own process, so it can run inside a namespace (the minority side of a
# partition): SET <prefix>:<n> <n> straight to one server, one line per answer.
DIRECT_WRITER = r"""
import os, sys, time
import redis
host, port, out, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
from redis.backoff import NoBackoff
from redis.retry import Retry
# No retries: a write refused or timed out was sent once (see SentinelWriter).
c = redis.Redis(host=host, port=port, socket_timeout=0.5, socket_connect_timeout=0.5,
                retry=Retry(NoBackoff(), 0))
n = 0
with open(out, "w", buffering=1) as f:
    while not os.path.exists(stop):
        n += 1
        try:
            c.set("p:%d" % n, n)
            f.write("ok %d %.6f\n" % (n, time.time()))
        except redis.ResponseError as e:
            f.write("err %s %d %.6f\n" % (str(e).split(" ")[0], n, time.time()))
            time.sleep(0.01)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            f.write("err %s %d %.6f\n" % (type(e).__name__, n, time.time()))
            time.sleep(0.01)
"""


class DirectWriter:
    """DIRECT_WRITER against host:port in a subprocess (inside `netns` if given)."""

    prefix = "p"

    def __init__(self, host, port, netns=None):
        self.dir = tempfile.mkdtemp(prefix="tern-direct-writer-")
        script = os.path.join(self.dir, "writer.py")
        with open(script, "w") as f:
            f.write(DIRECT_WRITER)
        self.out = os.path.join(self.dir, "results")
        self.stop_file = os.path.join(self.dir, "stop")
        argv = [sys.executable, script, host, str(port), self.out, self.stop_file]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        self.proc = subprocess.Popen(argv)

    def results(self):
        """[(ok: bool, kind, n, time)]"""
        out = []
        try:
            with open(self.out) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            parts = line.split(" ")
            if parts[0] == "ok" and len(parts) == 3:
                out.append((True, "ok", int(parts[1]), float(parts[2])))
            elif parts[0] == "err" and len(parts) == 4:
                out.append((False, parts[1], int(parts[2]), float(parts[3])))
        return out

    def stop(self):
        if self.proc.poll() is None:
            open(self.stop_file, "w").close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        results = self.results()
        shutil.rmtree(self.dir, ignore_errors=True)
        return results
