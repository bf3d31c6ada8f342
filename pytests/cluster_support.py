"""Cluster nodes for tests: Tern or redis-server started with cluster-enabled on free
loopback ports whose bus port (port + 10000) is free too, in a directory that survives a
restart (nodes.conf), stopped by stop().

    n = start_node("tern")            # or "redis"
    n.cmd("CLUSTER", "MYID")          # decoded reply (redis-py, RESP2)
    n.restart()                       # same port, same dir, same nodes.conf
    n.stop()
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import tern_binary, wait_port


def _port_free(port):
    for p in (port, port + 10000):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


def cluster_port():
    """A free client port below 55535 whose bus port (port + 10000) is free as well."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p < 55535 and _port_free(p):
            return p
    # Ephemeral ports sit above 32768: fall back to a random low range.
    import random
    for _ in range(500):
        p = random.randint(20000, 30000)
        if _port_free(p):
            return p
    raise RuntimeError("no free port pair for a cluster node")


def binary(kind):
    if kind == "tern":
        return tern_binary()
    exe = shutil.which("redis-server")
    if not exe:
        pytest.skip("redis-server not installed")
    return exe


class ClusterNodeProcess:
    """One cluster node. `args` are extra command-line options; `nodes_conf` is written as
    the node's nodes.conf before the first start."""

    def __init__(self, kind, args=(), nodes_conf=None, port=None, directory=None, wait=True):
        self.kind = kind
        self.port = port or cluster_port()
        self.dir = directory or tempfile.mkdtemp(prefix="tern-cluster-%s-" % kind)
        self.owns_dir = directory is None
        self.args = list(args)
        self.proc = None
        self.log = None
        if nodes_conf is not None:
            with open(os.path.join(self.dir, "nodes.conf"), "w") as f:
                f.write(nodes_conf)
        self.start(wait)

    def argv(self):
        a = [binary(self.kind), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--cluster-enabled", "yes", "--enable-debug-command", "yes"]
        if self.kind == "redis":
            a += ["--save", "", "--appendonly", "no"]
        return a + self.args

    def start(self, wait=True):
        self.log = open(os.path.join(self.dir, "server-%s.log" % int(time.time() * 1000)), "w+")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        if wait:
            wait_port(self.port, self.proc)

    def wait_exit(self, timeout=10):
        """The exit code of a node expected to refuse to start."""
        return self.proc.wait(timeout)

    def client(self, **kw):
        kw.setdefault("socket_timeout", 20)
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, **kw)

    def cmd(self, *args):
        c = self.client()
        try:
            return c.execute_command(*args)
        finally:
            c.close()

    def nodes_conf(self):
        with open(os.path.join(self.dir, "nodes.conf")) as f:
            return f.read()

    def output(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def myid(self):
        return self.cmd("CLUSTER", "MYID")

    def stop(self, remove=True):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
        if remove and self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self):
        self.stop(remove=False)
        self.start()


def start_node(kind, args=(), **kw):
    return ClusterNodeProcess(kind, args, **kw)


def wait_for(cond, timeout=20.0, what="condition", interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def cluster_info(node):
    text = node.cmd("CLUSTER", "INFO")
    return dict(line.split(":", 1) for line in text.strip().split("\r\n"))


def nodes_lines(text):
    """CLUSTER NODES text -> {id: fields}."""
    out = {}
    for line in text.strip("\n").split("\n"):
        f = line.split(" ")
        out[f[0]] = f
    return out


def redis_cli():
    exe = shutil.which("redis-cli")
    if not exe:
        pytest.skip("redis-cli not installed")
    return exe


def cluster_create(nodes, replicas=0, timeout=60):
    """`redis-cli --cluster create` over `nodes` (in that order); returns its output."""
    argv = [redis_cli(), "--cluster", "create"] + ["127.0.0.1:%d" % n.port for n in nodes]
    argv += ["--cluster-replicas", str(replicas), "--cluster-yes"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def cluster_check(node, timeout=30):
    """`redis-cli --cluster check` from `node`: (exit code, output)."""
    out = subprocess.run([redis_cli(), "--cluster", "check", "127.0.0.1:%d" % node.port],
                         capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout + out.stderr


def slot_signature(node):
    """redis-cli's consistency signature of one node's CLUSTER NODES."""
    parts = []
    for f in nodes_lines(node.cmd("CLUSTER", "NODES")).values():
        slots = sorted(s for s in f[8:] if not s.startswith("["))
        if slots:
            parts.append(f[0] + ":" + ",".join(slots))
    return "|".join(sorted(parts))


def wait_converged(nodes, timeout=30.0):
    """Every node knows every other, agrees on slots, and says cluster_state:ok."""
    def done():
        sigs = set()
        for n in nodes:
            info = cluster_info(n)
            if info["cluster_state"] != "ok" or int(info["cluster_known_nodes"]) != len(nodes):
                return False
            lines = nodes_lines(n.cmd("CLUSTER", "NODES"))
            if any("handshake" in f[2] or f[7] != "connected" for f in lines.values()):
                return False
            sigs.add(slot_signature(n))
        return len(sigs) == 1
    wait_for(done, timeout, "the cluster to converge", interval=0.2)


def wait_roles_known(nodes, timeout=20.0):
    """Every node sees every replica as a replica of the master it follows (elections need
    the voters to know the candidate's role)."""
    def done():
        own = {}
        for n in nodes:
            f = nodes_lines(n.cmd("CLUSTER", "NODES"))[n.myid()]
            own[n.myid()] = (f[2].replace("myself,", ""), f[3])
        for n in nodes:
            view = nodes_lines(n.cmd("CLUSTER", "NODES"))
            for nid, (flags, master) in own.items():
                f = view.get(nid)
                if f is None or f[3] != master or ("slave" in flags.split(",")) != ("slave" in f[2].split(",")):
                    return False
        return True
    wait_for(done, timeout, "every role known everywhere", interval=0.2)


def create_replicated(masters, replicas):
    """redis-cli --cluster create of the masters with one replica each, then waits until
    every node agrees, every replica's link is up and every node knows every role."""
    nodes = masters + replicas
    cluster_create(nodes, replicas=1)
    wait_converged(nodes)
    for r in replicas:
        wait_for(lambda: r.cmd("INFO", "replication")["master_link_status"] == "up", 20, "replication link")
    wait_roles_known(nodes)


def replica_of(replicas, master_id):
    """The replica whose own CLUSTER NODES line names `master_id` as its master."""
    return next(r for r in replicas if nodes_lines(r.cmd("CLUSTER", "NODES"))[r.myid()][3] == master_id)


def stop_all(nodes):
    for n in nodes:
        n.stop()
