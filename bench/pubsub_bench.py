#!/usr/bin/env python3
"""Pub/sub and transaction throughput, Tern side by side with redis-server.

  * PUBLISH to 1 and to 50 subscribers: redis-benchmark drives PUBLISH (C client,
    pipelined); the subscribers are plain sockets in one reader process that counts the
    delivered bytes (so delivery is measured, not only the publish calls).
  * MULTI + 10 x SET + EXEC: a small pipelined client (prebuilt request bytes, replies
    counted by their fixed size) over several connections.

Prints ops/s for both servers and the ratio tern/redis. Standalone: starts both servers
on free loopback ports and stops them. Not a test: it never fails on timing.

  python3 bench/pubsub_bench.py [--tern PATH] [--seconds N] [--rounds N] [--quick]
"""
import argparse
import multiprocessing
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited: %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start on %d" % port)


class Server:
    def __init__(self, argv, name):
        self.name = name
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tern-bench-")
        self.proc = subprocess.Popen(argv + ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        wait_port(self.port, self.proc)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def command(port, *args):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(enc(*args))
    data = s.recv(65536)
    s.close()
    return data


# --- publish ------------------------------------------------------------------------------

def subscriber_process(port, n, channel, ready, stop, result):
    """Subscribes n sockets and counts received bytes until stop is set."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(enc("SUBSCRIBE", channel))
        got = b""
        while not got.endswith(b":1\r\n"):
            got += s.recv(4096)
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    ready.set()
    buf = bytearray(1 << 20)
    total = 0
    while not stop.is_set():
        for key, _ in sel.select(0.05):
            try:
                k = key.fileobj.recv_into(buf)
            except BlockingIOError:
                continue
            if k == 0:
                sel.unregister(key.fileobj)
            total += k
    result.value = total
    for s in socks:
        s.close()


def run_redis_benchmark(port, requests, clients, pipeline, args):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", str(clients),
                          "-P", str(pipeline), "-q", "--csv"] + list(args),
                         capture_output=True, text=True, timeout=600).stdout
    # CSV: "test","rps",...
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) > 1:
            try:
                return float(parts[1])
            except ValueError:
                continue
    raise RuntimeError("redis-benchmark output: %r" % out)


def bench_publish(port, subscribers, requests):
    channel = "bench"
    payload = "x" * 32
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    result = ctx.Value("q", 0)
    p = ctx.Process(target=subscriber_process, args=(port, subscribers, channel, ready, stop, result))
    p.start()
    ready.wait(30)
    rps = run_redis_benchmark(port, requests, 20, 16, ["PUBLISH", channel, payload])
    time.sleep(0.3)
    numsub = command(port, "PUBSUB", "NUMSUB", channel)
    stop.set()
    p.join(10)
    msg = len(enc("message", channel, payload))  # same size as the array reply
    delivered = result.value / msg
    expected = requests * subscribers
    ok = numsub.endswith(b":%d\r\n" % subscribers)
    return rps, delivered / expected if expected else 0, ok


# --- MULTI / EXEC --------------------------------------------------------------------------

TX_REPLY = len(b"+OK\r\n") + 10 * len(b"+QUEUED\r\n") + len(b"*10\r\n") + 10 * len(b"+OK\r\n")


def tx_worker(port, conns, batch, seconds, out):
    req = b"".join([enc("MULTI")] + [enc("SET", "key:%d" % i, "value:%d" % i) for i in range(10)] + [enc("EXEC")])
    chunk = req * batch
    want = TX_REPLY * batch
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
    sel = selectors.DefaultSelector()
    pending = {}
    for s in socks:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(chunk)
        s.setblocking(False)
        pending[s] = want
        sel.register(s, selectors.EVENT_READ)
    done = 0
    end = time.time() + seconds
    buf = bytearray(1 << 20)
    while time.time() < end:
        for key, _ in sel.select(0.1):
            s = key.fileobj
            try:
                k = s.recv_into(buf)
            except BlockingIOError:
                continue
            pending[s] -= k
            if pending[s] <= 0:
                done += batch
                s.setblocking(True)
                s.sendall(chunk)
                s.setblocking(False)
                pending[s] += want
    out.value = done
    for s in socks:
        s.close()


def bench_multi(port, seconds, procs=2, conns=4, batch=16):
    ctx = multiprocessing.get_context("fork")
    outs = [ctx.Value("q", 0) for _ in range(procs)]
    ps = [ctx.Process(target=tx_worker, args=(port, conns, batch, seconds, o)) for o in outs]
    start = time.time()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    elapsed = time.time() - start
    return sum(o.value for o in outs) / max(elapsed, seconds)


# --- main ----------------------------------------------------------------------------------

def tern_binary(explicit):
    if explicit:
        return explicit
    for cfg in ("release", "debug"):
        p = os.path.join(ROOT, ".build", cfg, "tern-server")
        if os.path.exists(p):
            if cfg == "debug":
                print("warning: using a debug build; run `swift build -c release` for real numbers")
            return p
    sys.exit("tern-server not built")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tern")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        sys.exit("redis-server and redis-benchmark are needed")
    n1 = 200000 if a.quick else 1000000
    n50 = 20000 if a.quick else 100000
    seconds = 2 if a.quick else a.seconds
    servers = [("tern", [tern_binary(a.tern)]),
               ("redis", ["redis-server", "--save", "", "--appendonly", "no"])]
    # The machine is shared: both servers run side by side and each figure is measured on
    # one then the other right away, over several rounds; the median is reported.
    runs = {"tern": [], "redis": []}
    for _ in range(a.rounds):
        live = [(name, Server(argv, name)) for name, argv in servers]
        try:
            res = {name: [] for name, _ in live}
            for fn in (lambda port: bench_publish(port, 1, n1),
                       lambda port: bench_publish(port, 50, n50),
                       lambda port: bench_multi(port, seconds)):
                for name, srv in live:
                    res[name].append(fn(srv.port))
            for name in res:
                runs[name].append(tuple(res[name]))
        finally:
            for _, srv in live:
                srv.stop()

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2]

    print("%-34s %14s %14s %8s  (median of %d rounds)" % ("benchmark", "tern ops/s", "redis ops/s", "ratio", a.rounds))
    labels = ["PUBLISH -> 1 subscriber", "PUBLISH -> 50 subscribers", "MULTI + 10 SET + EXEC"]
    for i, label in enumerate(labels):
        if i < 2:
            t = median([r[i][0] for r in runs["tern"]])
            r = median([r[i][0] for r in runs["redis"]])
            delivered_t = min(r[i][1] for r in runs["tern"])
            delivered_r = min(r[i][1] for r in runs["redis"])
            dropped = not all(r[i][2] for r in runs["tern"] + runs["redis"])
            notes = " (delivered %.0f%% / %.0f%%%s)" % (100 * delivered_t, 100 * delivered_r,
                                                       ", a subscriber was dropped" if dropped else "")
        else:
            t = median([r[i] for r in runs["tern"]])
            r = median([r[i] for r in runs["redis"]])
            notes = ""
        print("%-34s %14.0f %14.0f %8.2f%s" % (label, t, r, t / r if r else 0, notes))


if __name__ == "__main__":
    main()
