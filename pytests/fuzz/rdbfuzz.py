#!/usr/bin/env python3
"""RDB and RESTORE payload fuzzer: mutated DUMP payloads (bit flips, truncations, inserted
bytes, huge values in every length field, wrong type bytes, mutated headers of the packed
blobs inside: listpack, intset, ziplist, zipmap, quicklist nodes) are RESTOREd with
sanitize-dump-payload yes and no, always with a correct CRC recomputed after the mutation so
the parser, not the checksum, is exercised; mutated dump.rdb files (valid CRC) are loaded by
DEBUG RELOAD, at startup, and checked by `tern-server --check-rdb`.

For every case: the server must answer within the watchdog timeout and stay alive; RESTORE
answers +OK or one of Redis's errors ("ERR Bad data format", "ERR DUMP payload version or
checksum are wrong"); a refused RESTORE ... REPLACE leaves the old value untouched; a
restored value must read back fully (TYPE, the whole contents, OBJECT ENCODING, DEBUG
DIGEST-VALUE, DUMP); a startup load either starts or exits 1, never dies of a signal; the
checker exits 0 or 1.

    python3 pytests/fuzz/rdbfuzz.py                      # starts Tern, the CI size
    python3 pytests/fuzz/rdbfuzz.py --iterations 200000 --seed 7
    RDBFUZZ_ITERATIONS=200000 pytest pytests/fuzz/test_rdbfuzz.py

`--iterations` is the number of RESTORE cases; file cases scale with it (1 in 8 reloads,
1 in 100 startups, 1 in 15 checker runs). Only loopback.
"""
import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
import shutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # pytests/
from conftest import start_tern, tern_binary, free_port  # noqa: E402

import redis  # noqa: E402

WATCHDOG = 20.0   # seconds a single case may take (debug builds on a loaded 2-core box)

# ---------------------------------------------------------------- RDB helpers


from side_by_side import value_contents  # noqa: E402
from rdb_bytes import crc64, seal, rdb_len, rdb_str, ziplist  # noqa: E402,F401


def zipmap(pairs):
    out = bytes([len(pairs)])
    for k, v in pairs:
        out += bytes([len(k)]) + k + bytes([len(v)]) + b"\x00" + v
    return out + b"\xff"


LEGACY = [
    bytes([1]) + rdb_len(3) + rdb_str(b"a") + rdb_str(b"12") + rdb_str(b"c" * 30),
    bytes([2]) + rdb_len(3) + rdb_str(b"1") + rdb_str(b"2") + rdb_str(b"3"),
    bytes([3]) + rdb_len(3) + rdb_str(b"a") + b"\x011" + rdb_str(b"b") + b"\x032.5" + rdb_str(b"c") + b"\xfe",
    bytes([4]) + rdb_len(2) + rdb_str(b"f") + rdb_str(b"v") + rdb_str(b"g") + rdb_str(b"7"),
    bytes([5]) + rdb_len(2) + rdb_str(b"a") + struct.pack("<d", 1.5) + rdb_str(b"b") + struct.pack("<d", -3.0),
    bytes([9]) + rdb_str(zipmap([(b"foo", b"bar"), (b"n", b"12")])),
    bytes([10]) + rdb_str(ziplist([b"a", 5, -300, 70000, 1 << 40, b"x" * 70])),
    bytes([11]) + rdb_str(struct.pack("<II", 2, 3) + struct.pack("<hhh", -1, 5, 9)),
    bytes([11]) + rdb_str(struct.pack("<II", 8, 2) + struct.pack("<qq", -(1 << 40), 1 << 41)),
    bytes([12]) + rdb_str(ziplist([b"a", 1, b"b", b"2.5", b"c", b"inf"])),
    bytes([13]) + rdb_str(ziplist([b"f", b"v", b"num", 99])),
    bytes([14]) + rdb_len(2) + rdb_str(ziplist([b"a", b"b"])) + rdb_str(ziplist([3, b"d"])),
]

INTERESTING32 = [0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 10, 11]
HUGE_LENGTHS = [b"\x80\xff\xff\xff\xff", b"\x80\x7f\xff\xff\xff", b"\x81\xff\xff\xff\xff\xff\xff\xff\xff",
                b"\x81\x7f\xff\xff\xff\xff\xff\xff\xff", b"\x81\x00\x00\x00\x01\x00\x00\x00\x00", b"\xbf\xff",
                b"\x3f", b"\x00", b"\xc3\x81\xff\xff\xff\xff\xff\xff\xff\xff\x05", b"\xc3\x05\x80\x7f\xff\xff\xff",
                b"\xc0", b"\xc1", b"\xc2", b"\xc4", b"\xff", b"\x82"]


def read_len(b, i):
    """(value, encoded, next index) of the RDB length at b[i], or None past the end."""
    if i >= len(b):
        return None
    t = b[i] >> 6
    if t == 0:
        return b[i] & 0x3F, False, i + 1
    if t == 1:
        if i + 1 >= len(b):
            return None
        return ((b[i] & 0x3F) << 8) | b[i + 1], False, i + 2
    if t == 3:
        return b[i] & 0x3F, True, i + 1
    if b[i] == 0x80 and i + 5 <= len(b):
        return struct.unpack(">I", bytes(b[i + 1:i + 5]))[0], False, i + 5
    if b[i] == 0x81 and i + 9 <= len(b):
        return struct.unpack(">Q", bytes(b[i + 1:i + 9]))[0], False, i + 9
    return None


def blob_offsets(body):
    """Start offsets of the packed blobs (raw RDB strings) in a payload body: the value of a
    single-blob type, or each quicklist node."""
    t = body[0]
    out = []
    if t in (9, 10, 11, 12, 13, 16, 17):
        r = read_len(body, 1)
        if r and not r[1]:
            out.append(r[2])
    elif t in (14, 18):
        r = read_len(body, 1)
        if not r:
            return out
        i = r[2]
        for _ in range(min(r[0], 64)):
            if t == 18:
                c = read_len(body, i)
                if not c:
                    break
                i = c[2]
            s = read_len(body, i)
            if not s or s[1]:
                break
            out.append(s[2])
            i = s[2] + s[0]
    return out


def mutate(rng, body):
    """One to three mutations of a payload body (type byte + value)."""
    b = bytearray(body)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if not b:
            b = bytearray(rng.randbytes(rng.randint(1, 8)))
        kind = rng.randrange(10)
        if kind == 0:                                   # bit flips
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
        elif kind == 1:                                 # interesting byte
            b[rng.randrange(len(b))] = rng.choice((0, 1, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xC3, 0xFE, 0xFF))
        elif kind == 2:                                 # truncation
            b = b[:rng.randrange(len(b))]
        elif kind == 3:                                 # inserted / deleted bytes
            i = rng.randrange(len(b) + 1)
            if rng.random() < 0.5:
                b[i:i] = rng.randbytes(rng.randint(1, 8))
            else:
                del b[i:i + rng.randint(1, 8)]
        elif kind == 4:                                 # wrong type byte
            b[0] = rng.choice(list(range(0, 25)) + [0xF5, 0xF8, 0xFA, 0xFF])
        elif kind == 5:                                 # huge length anywhere
            i = rng.randrange(len(b))
            b[i:i + rng.randint(1, 2)] = rng.choice(HUGE_LENGTHS)
        elif kind in (6, 7, 8):                         # packed blob header fields
            offs = blob_offsets(b)
            if not offs:
                i = rng.randrange(len(b))
                b[i] ^= 0xFF
                continue
            o = rng.choice(offs)
            # listpack: total(4) count(2); intset: encoding(4) length(4);
            # ziplist: zlbytes(4) zltail(4) zllen(2); zipmap: count(1); then entry headers.
            field = rng.choice((0, 0, 4, 4, 8, 6, rng.randrange(0, 24)))
            v = rng.choice(INTERESTING32 + [rng.randrange(1 << 32)])
            if rng.random() < 0.4:
                v = (struct.unpack_from("<I", bytes(b), o + field)[0] + rng.choice((-2, -1, 1, 2, 8))) & 0xFFFFFFFF \
                    if o + field + 4 <= len(b) else v
            width = rng.choice((1, 2, 4, 4))
            chunk = struct.pack("<I", v)[:width]
            if o + field + width <= len(b):
                b[o + field:o + field + width] = chunk
        else:                                           # splice of its own bytes
            i, j = rng.randrange(len(b)), rng.randrange(len(b))
            n = rng.randint(1, 16)
            b[i:i + n] = b[j:j + n]
    return bytes(b)


# ---------------------------------------------------------------- the fuzzer


class Failure(Exception):
    pass


def build_corpus(c, rng):
    """DUMP payload bodies of every type and encoding Tern writes, plus legacy payloads."""
    c.flushall()
    c.config_set("list-max-listpack-size", -2)
    c.set("s:int", 12345)
    c.set("s:raw", b"hello world")
    c.set("s:lzf", b"abcabcabc" * 40)
    c.rpush("l:small", b"a", 1, -5, 70000, b"x" * 40)
    c.rpush("l:big", *[b"e%d" % i for i in range(300)])
    c.rpush("l:plain", b"p" * 9000, b"q")
    c.sadd("set:int", *range(10))
    c.sadd("set:neg", -(1 << 40), 5, 300000)
    c.sadd("set:ht", b"a", b"b", b"c")
    c.hset("h:lp", mapping={b"f1": b"v1", b"f2": 2, b"f3": b"x" * 30})
    c.hset("h:ht", mapping={b"f%d" % i: b"v%d" % i for i in range(600)})
    c.zadd("z:lp", {b"a": 1, b"b": 2.5, b"c": -3})
    c.zadd("z:sk", {b"m%d" % i: i * 1.5 for i in range(200)})
    c.config_set("list-compress-depth", 1)
    c.rpush("l:lzf", *[b"compressible-element-%d-" % (i % 3) * 3 for i in range(400)])
    c.config_set("list-compress-depth", 0)
    bodies = []
    for k in c.keys("*"):
        p = c.dump(k)
        bodies.append(p[:-10])
    bodies += LEGACY
    c.flushall()
    return bodies


def contents(c, key):
    """Reads the whole value back (every read must succeed on a restored key)."""
    v = value_contents(c, key)
    if isinstance(v, bytes) and c.type(key) not in (b"string",):
        raise Failure("restored key has type %r" % v)
    return v


RESTORE_ERRORS = (b"Bad data format", b"DUMP payload version or checksum are wrong")


class RDBFuzzer:
    def __init__(self, seed, iterations, log):
        self.seed = seed
        self.iterations = iterations
        self.log = log
        self.rng = random.Random(seed)
        self.counts = {"restore_ok": 0, "restore_err": 0, "reload_ok": 0, "reload_err": 0,
                       "start_ok": 0, "start_err": 0, "check_ok": 0, "check_err": 0}

    def client(self, port):
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=WATCHDOG)

    def alive(self, c, what):
        try:
            if c.ping() is not True:
                raise Failure("PING after %s did not answer PONG" % what)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise Failure("server gone or hung after %s: %s" % (what, e))

    # ---- RESTORE

    def restore_case(self, c, bodies, sanitize, i):
        rng = self.rng
        body = mutate(rng, rng.choice(bodies))
        payload = seal(body, version=rng.choice((10, 10, 10, 9)))
        c.set("fz:old", b"keep-me")
        try:
            c.execute_command("RESTORE", "fz:old", 0, payload, "REPLACE")
            ok = True
        except redis.ResponseError as e:
            msg = str(e).encode()
            if not any(m in msg for m in RESTORE_ERRORS):
                raise Failure("RESTORE answered an unexpected error %r (sanitize %s, payload %s)"
                              % (msg, sanitize, payload.hex()))
            ok = False
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise Failure("RESTORE crashed or hung the server (sanitize %s): %s; payload %s"
                          % (sanitize, e, payload.hex()))
        try:
            if ok:
                self.counts["restore_ok"] += 1
                contents(c, "fz:old")
                c.object("encoding", "fz:old")
                c.execute_command("DEBUG", "DIGEST-VALUE", "fz:old")
                again = c.dump("fz:old")
                c.execute_command("RESTORE", "fz:copy", 0, again, "REPLACE")
                if contents(c, "fz:copy") != contents(c, "fz:old"):
                    raise Failure("DUMP of a restored value does not restore equal (payload %s)" % payload.hex())
                c.delete("fz:old", "fz:copy")
            else:
                self.counts["restore_err"] += 1
                if c.get("fz:old") != b"keep-me":
                    raise Failure("a refused RESTORE REPLACE changed the old key (payload %s)" % payload.hex())
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise Failure("reading a restored value crashed or hung the server (sanitize %s): %s; payload %s"
                          % (sanitize, e, payload.hex()))

    # ---- files

    def base_file(self, c, workdir):
        c.flushall()
        pipe = c.pipeline(transaction=False)
        pipe.set("str", b"v" * 10)
        pipe.set("num", 42)
        pipe.set("exp", b"x", px=10_000_000)
        pipe.rpush("list", *[b"e%d" % i for i in range(20)])
        pipe.sadd("iset", 1, 2, 3)
        pipe.sadd("sset", b"a", b"b")
        pipe.hset("hash", mapping={b"a": b"1", b"b": b"2"})
        pipe.zadd("zset", {b"a": 1, b"b": 2})
        pipe.execute()
        c.select(2)
        c.set("db2", b"other")
        c.select(0)
        c.save()
        with open(os.path.join(workdir, "dump.rdb"), "rb") as f:
            return f.read()

    @staticmethod
    def mutate_file(rng, image):
        body = image[:-8]
        head, rest = body[:9], body[9:]
        if rng.random() < 0.1:
            head = bytearray(head)
            head[rng.randrange(9)] ^= 1 << rng.randrange(8)
            head = bytes(head)
        rest = mutate(rng, rest) if rest else rest
        body = head + rest
        if rng.random() < 0.15:
            return body[:rng.randrange(len(body) + 1)]          # truncated, no checksum
        return body + struct.pack("<Q", crc64(body))

    def reload_case(self, c, workdir, image):
        data = self.mutate_file(self.rng, image)
        with open(os.path.join(workdir, "dump.rdb"), "wb") as f:
            f.write(data)
        try:
            c.execute_command("DEBUG", "RELOAD", "NOSAVE")
            self.counts["reload_ok"] += 1
            for k in c.keys("*"):
                contents(c, k)
        except redis.ResponseError as e:
            if b"Error trying to load the RDB dump" not in str(e).encode():
                raise Failure("DEBUG RELOAD answered %r (file %s)" % (e, data.hex()))
            self.counts["reload_err"] += 1
            if c.dbsize() != 0:
                raise Failure("a failed DEBUG RELOAD left %d keys (file %s)" % (c.dbsize(), data.hex()))
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise Failure("DEBUG RELOAD crashed or hung the server: %s; file %s" % (e, data.hex()))

    def startup_case(self, image):
        data = self.mutate_file(self.rng, image)
        d = tempfile.mkdtemp(prefix="tern-rdbfuzz-")
        try:
            with open(os.path.join(d, "dump.rdb"), "wb") as f:
                f.write(data)
            port = free_port()
            p = subprocess.Popen([tern_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                                  "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
            deadline = time.time() + WATCHDOG
            started = False
            while time.time() < deadline and p.poll() is None:
                try:
                    c = self.client(port)
                    c.ping()
                    info = c.info("persistence")
                    if info.get("loading") == 0:
                        for k in c.keys("*"):
                            contents(c, k)
                        started = True
                        break
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                time.sleep(0.02)
            if started:
                self.counts["start_ok"] += 1
                p.terminate()
                p.wait(WATCHDOG)
            else:
                try:
                    rc = p.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    raise Failure("startup load hung (file %s)" % data.hex())
                if rc != 1:
                    raise Failure("startup load exited with %s (file %s)" % (rc, data.hex()))
                self.counts["start_err"] += 1
                with open(os.path.join(d, "dump.rdb"), "rb") as f:
                    if f.read() != data:
                        raise Failure("a refused dump.rdb was changed")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def check_case(self, image):
        data = self.mutate_file(self.rng, image)
        with tempfile.NamedTemporaryFile(suffix=".rdb", delete=False) as f:
            f.write(data)
        try:
            p = subprocess.run([tern_binary(), "--check-rdb", f.name], capture_output=True, timeout=WATCHDOG)
        except subprocess.TimeoutExpired:
            raise Failure("--check-rdb hung (file %s)" % data.hex())
        finally:
            os.unlink(f.name)
        if p.returncode not in (0, 1):
            raise Failure("--check-rdb exited with %s (file %s)" % (p.returncode, data.hex()))
        out = p.stdout.decode(errors="replace")
        if p.returncode == 0 and "RDB looks OK" not in out or p.returncode == 1 and "RDB ERROR DETECTED" not in out:
            raise Failure("--check-rdb report does not match its exit code: %s" % out)
        self.counts["check_ok" if p.returncode == 0 else "check_err"] += 1

    # ---- run

    def run(self, server):
        c = self.client(server.port)
        bodies = build_corpus(c, self.rng)
        image = self.base_file(c, server.dir)
        n = self.iterations
        for i in range(n):
            sanitize = "yes" if i % 2 == 0 else "no"
            c.config_set("sanitize-dump-payload", sanitize)
            self.restore_case(c, bodies, sanitize, i)
            if i % 8 == 0:
                self.reload_case(c, server.dir, image)
            if i % 15 == 0:
                self.check_case(image)
            if i % 100 == 50 or i == 1:
                self.startup_case(image)
        self.alive(c, "the run")


def main(argv=None, log=print):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--iterations", type=int, default=1500)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    server = start_tern(["--save", ""])
    f = RDBFuzzer(seed, args.iterations, log)
    try:
        log("rdbfuzz: seed=%d iterations=%d port=%d" % (seed, args.iterations, server.port))
        try:
            f.run(server)
        except Failure as e:
            tail = server.output()[-3000:] if not server.alive() else ""
            log("rdbfuzz: FAILED (seed %d): %s\n%s" % (seed, e, tail))
            return 1
        log("rdbfuzz: OK (seed %d): %s" % (seed, " ".join("%s=%d" % kv for kv in sorted(f.counts.items()))))
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
