#!/usr/bin/env python3
"""Protocol fuzzer: many concurrent connections send random and mutated RESP input
(truncations, bit flips, huge counts, random bytes, inline garbage) to one server for a
bounded time. A control client sends PING throughout and must always get +PONG; at the
end the server process must be alive and answer a fresh connection.

    python3 pytests/fuzz/protofuzz.py                         # starts Tern, 50 conns x 5 s
    python3 pytests/fuzz/protofuzz.py --seconds 60 --connections 100 --seed 7
    python3 pytests/fuzz/protofuzz.py --port 6379             # a running server

Only loopback. Commands that would stop or stall the server on purpose (SHUTDOWN,
DEBUG, CLIENT PAUSE/KILL, REPLICAOF, MIGRATE, CONFIG SET ...) are never in the corpus.
"""
import argparse
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # pytests/
from conftest import start_tern  # noqa: E402
from resp_wire import encode  # noqa: E402

CORPUS = [
    [b"PING"], [b"PING", b"hello"], [b"ECHO", b"x"], [b"SET", b"k", b"v"], [b"GET", b"k"], [b"DEL", b"k", b"j"],
    [b"SET", b"k", b"v", b"EX", b"100"], [b"SET", b"n", b"10"], [b"INCR", b"n"], [b"MGET", b"k", b"n", b"x"],
    [b"HELLO", b"3"], [b"HELLO", b"2"], [b"SELECT", b"1"], [b"SELECT", b"0"], [b"DBSIZE"], [b"EXISTS", b"k"],
    [b"LPUSH", b"l", b"a", b"b"], [b"LRANGE", b"l", b"0", b"-1"], [b"HSET", b"h", b"f", b"v"], [b"HGETALL", b"h"],
    [b"SADD", b"s", b"1", b"2"], [b"SMEMBERS", b"s"], [b"ZADD", b"z", b"1", b"a"], [b"ZRANGE", b"z", b"0", b"-1"],
    [b"MULTI"], [b"EXEC"], [b"DISCARD"], [b"SUBSCRIBE", b"c"], [b"UNSUBSCRIBE"], [b"PUBLISH", b"c", b"m"],
    [b"EXPIRE", b"k", b"100"], [b"TTL", b"k"], [b"TYPE", b"k"], [b"APPEND", b"k", b"zz"], [b"SETRANGE", b"k", b"5", b"x"],
    [b"GETRANGE", b"k", b"0", b"-1"], [b"SETBIT", b"b", b"100", b"1"], [b"BITCOUNT", b"b"], [b"KEYS", b"*"],
    [b"SCAN", b"0"], [b"FLUSHDB"], [b"INFO"], [b"CLIENT", b"SETNAME", b"fz"], [b"RESET"], [b"QUIT"],
    [b"BLPOP", b"nolist", b"0.01"], [b"NOSUCHCOMMAND", b"a"], [b"GET"], [b"SET", b"k"],
]
HUGE = [b"2147483647", b"2147483648", b"9223372036854775807", b"99999999999999999999", b"-2147483648",
        b"536870913", b"1048577", b"1048576", b"-1", b"0", b"", b"abc", b"1e3", b"0x10"]


class Fuzzer:
    def __init__(self, port, seed, seconds, connections):
        self.port = port
        self.seed = seed
        self.deadline = time.time() + seconds
        self.connections = connections
        self.sent = 0
        self.reconnects = 0
        self.lock = threading.Lock()
        self.control_failures = []
        self.control_pings = 0
        self.stop = False

    # -- payload builders
    def valid(self, rng):
        return encode(*rng.choice(CORPUS))

    def inline(self, rng):
        argv = rng.choice(CORPUS)
        parts = []
        for a in argv:
            r = rng.random()
            if r < 0.1:
                parts.append(b'"' + a + b'\\x41\\n"')
            elif r < 0.15:
                parts.append(b"'" + a)          # unbalanced quote
            elif r < 0.2:
                parts.append(b'"' + a + b'"x')  # quote followed by garbage
            else:
                parts.append(a)
        return b" ".join(parts) + rng.choice([b"\r\n", b"\n", b"\r\n\r\n", b""])

    def huge_counts(self, rng):
        r = rng.random()
        if r < 0.3:
            return b"*" + rng.choice(HUGE) + b"\r\n"
        if r < 0.6:
            return b"*2\r\n$4\r\nECHO\r\n$" + rng.choice(HUGE) + b"\r\n" + os.urandom(rng.randint(0, 64))
        if r < 0.8:
            return b"*" + b"9" * rng.randint(10, 70000)   # over-long count line
        return b"$" + rng.choice(HUGE) + b"\r\n"

    def random_bytes(self, rng):
        return os.urandom(rng.randint(1, 2048))

    def mutate(self, rng, data):
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            if not data:
                break
            op = rng.random()
            i = rng.randrange(len(data))
            if op < 0.3:
                data[i] ^= 1 << rng.randrange(8)                 # bit flip
            elif op < 0.5:
                del data[i:]                                     # truncation
            elif op < 0.65:
                data[i:i] = rng.choice([b"\r\n", b"*", b"$", b"\x00", b"-1", b"\r", b"\n", b'"'])
            elif op < 0.8:
                data[i] = rng.randrange(256)
            else:
                j = rng.randrange(len(data))
                data[i:i] = data[j:j + rng.randint(1, 32)]       # duplication
        return bytes(data)

    def payload(self, rng):
        r = rng.random()
        if r < 0.25:
            base = b"".join(self.valid(rng) for _ in range(rng.randint(1, 20)))
            return self.mutate(rng, base) if rng.random() < 0.8 else base
        if r < 0.45:
            return self.mutate(rng, self.inline(rng)) if rng.random() < 0.5 else self.inline(rng)
        if r < 0.6:
            return self.huge_counts(rng)
        if r < 0.75:
            return self.random_bytes(rng)
        if r < 0.9:
            # A valid pipeline with garbage in the middle.
            return self.valid(rng) * rng.randint(1, 50) + self.random_bytes(rng)[:64] + self.valid(rng)
        return self.valid(rng)[:rng.randint(0, 10)]              # bare prefix, then silence

    # -- workers
    def worker(self, idx):
        rng = random.Random(self.seed * 1000 + idx)
        sock = None
        while time.time() < self.deadline and not self.stop:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                    sock.setblocking(False)
                data = self.payload(rng)
                try:
                    self._send(sock, data)
                except (BlockingIOError, InterruptedError):
                    pass
                with self.lock:
                    self.sent += 1
                # Drain whatever came back; a closed socket means a protocol error.
                end = time.time() + rng.choice([0, 0, 0.002, 0.01])
                while True:
                    try:
                        chunk = sock.recv(1 << 16)
                        if not chunk:
                            raise ConnectionResetError()
                    except (BlockingIOError, InterruptedError):
                        if time.time() >= end:
                            break
                        time.sleep(0.001)
                if rng.random() < 0.05:
                    raise ConnectionResetError()   # also hang up on purpose, mid-command
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, socket.timeout, OSError):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass
                sock = None
                with self.lock:
                    self.reconnects += 1
        if sock is not None:
            sock.close()

    def _send(self, sock, data):
        # Non-blocking send: a server that stops reading must not stall the fuzzer.
        view = memoryview(data)
        end = time.time() + 0.5
        while view and time.time() < end:
            try:
                n = sock.send(view)
                view = view[n:]
            except (BlockingIOError, InterruptedError):
                time.sleep(0.001)

    def control(self):
        """A well-behaved client: PING must be answered within 5 s throughout."""
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError as e:
            self.control_failures.append("control connect failed: %r" % e)
            return
        while time.time() < self.deadline and not self.stop:
            try:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                got = b""
                while len(got) < 7:
                    chunk = s.recv(7 - len(got))
                    if not chunk:
                        raise ConnectionResetError("closed")
                    got += chunk
                if got != b"+PONG\r\n":
                    self.control_failures.append("control got %r" % got)
                    return
                self.control_pings += 1
            except (OSError, socket.timeout) as e:
                self.control_failures.append("control PING failed at %.1fs before the end: %r"
                                             % (self.deadline - time.time(), e))
                return
            time.sleep(0.05)
        s.close()

    def run(self):
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(self.connections)]
        threads.append(threading.Thread(target=self.control, daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.1, self.deadline - time.time() + 10))
        self.stop = True


def check_alive(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$8\r\nfz:after\r\n$2\r\nok\r\n*2\r\n$3\r\nGET\r\n$8\r\nfz:after\r\n")
    want = b"+PONG\r\n+OK\r\n$2\r\nok\r\n"
    got = b""
    while len(got) < len(want):
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    s.close()
    return got == want, got


def main(argv=None, log=print):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--port", type=int, help="fuzz a running server instead of starting Tern")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    server = None
    if args.port:
        port = args.port
    else:
        server = start_tern()
        port = server.port
    try:
        log("protofuzz: seed=%d connections=%d seconds=%g port=%d" % (seed, args.connections, args.seconds, port))
        f = Fuzzer(port, seed, args.seconds, args.connections)
        f.run()
        log("protofuzz: %d payloads sent, %d reconnects, %d control PINGs answered"
            % (f.sent, f.reconnects, f.control_pings))
        problems = list(f.control_failures)
        if server is not None and not server.alive():
            problems.append("server process died (exit %s): %s" % (server.proc.returncode, server.output()[-3000:]))
        else:
            ok, got = check_alive(port)
            if not ok:
                problems.append("fresh connection after fuzzing got %r" % got)
        if f.control_pings == 0:
            problems.append("the control client never got an answer")
        if problems:
            log("protofuzz: FAILED (seed %d)\n  %s" % (seed, "\n  ".join(problems)))
            return 1
        log("protofuzz: OK (seed %d): server alive and answering" % seed)
        return 0
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
