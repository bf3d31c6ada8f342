"""Shared fixtures: start the built tern-server (and, for differential checks, a real
redis-server) on free loopback ports, and hand out redis-py clients."""
import os
import socket
import subprocess
import tempfile
import time
import shutil

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Test files whose outcome depends on timing between processes (failure detection, failover,
# replication transfers, sentinels, cluster elections) or that load both CPUs (valgrind):
# ./run-tests runs them one at a time after the rest has run on two workers (pytest-xdist).
SERIAL_FILE_PREFIXES = ("test_sentinel_", "test_replication_", "test_acl_sentinel", "test_failover",
                        "test_cluster_", "test_leakcheck", "test_leaks", "test_readme_replication",
                        "test_shutdown", "test_bench_compare")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if os.path.basename(str(item.fspath)).startswith(SERIAL_FILE_PREFIXES):
            item.add_marker(pytest.mark.serial)


def tern_binary():
    b = os.environ.get("TERN_BIN")
    if b:
        return b
    # The most recently built of debug/release.
    found = [os.path.join(ROOT, ".build", cfg, "tern-server") for cfg in ("release", "debug")]
    found = [p for p in found if os.path.exists(p)]
    if not found:
        raise RuntimeError("tern-server not built: run swift build first")
    return max(found, key=os.path.getmtime)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=20.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start on %s:%d" % (host, port))


class ServerProcess:
    """A server started on a free port in its own temp dir; stopped by stop()."""

    def __init__(self, binary, args=(), config_text=None, port=None):
        self.name = os.path.basename(binary)
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="tern-test-")
        argv = [binary]
        if config_text is not None:
            path = os.path.join(self.dir, "test.conf")
            with open(path, "w") as f:
                f.write(config_text)
            argv.append(path)
        argv += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        argv += list(args)
        self.log = open(os.path.join(self.dir, "stdout.log"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        wait_port(self.port, self.proc)

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def output(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_tern(args=(), config_text=None):
    return ServerProcess(tern_binary(), ["--enable-debug-command", "yes", *args], config_text)


def start_redis(args=()):
    exe = shutil.which("redis-server")
    if not exe:
        pytest.skip("redis-server not installed")
    return ServerProcess(exe, ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes", *args])


@pytest.fixture(scope="module")
def tern_server():
    s = start_tern()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def redis_server():
    s = start_redis()
    yield s
    s.stop()


@pytest.fixture
def r(tern_server):
    """A redis-py client on a flushed Tern (RESP2, bytes replies)."""
    c = tern_server.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def oracle(redis_server):
    """A redis-py client on a flushed real redis-server, for side-by-side checks."""
    c = redis_server.client()
    c.flushall()
    yield c
    c.close()


def raw_command(port, payload, read_timeout=2.0):
    """Sends raw bytes and returns everything the server answers until it goes quiet or closes."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(read_timeout)
    s.sendall(payload)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out
