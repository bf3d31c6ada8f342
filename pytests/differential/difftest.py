#!/usr/bin/env python3
"""Differential test: the same seeded random command stream goes to Tern and to a real
redis-server; replies are compared as raw RESP bytes (RESP2 and RESP3 connections),
nondeterministic replies by properties, TTLs with a tolerance.

    python3 pytests/differential/difftest.py                       # 20,000 commands, random seed
    python3 pytests/differential/difftest.py --seed 42 --commands 1000000
    python3 pytests/differential/difftest.py --seconds 600 --families strings,keys
    python3 pytests/differential/difftest.py --self-check          # redis vs redis: validates the generators
    python3 pytests/differential/difftest.py --list-families       # what the server registers

Families (see generators.FAMILIES) are explicit command lists. By default every family
whose commands are ALL registered by the server under test is enabled. Registration is
read from `COMMAND LIST` when the server answers it with an array; otherwise each command
is probed once with a harmless call (a call with the wrong number of arguments where the
arity allows it, else the bare command on a throwaway connection): a reply of
"ERR unknown command" / "ERR unknown subcommand" means not registered. A family that is
only partly registered is reported and left out unless named with --families, in which
case its missing commands fail the run (nothing is skipped silently).

On a mismatch the run stops and prints the seed, the command number, the last commands
with both replies, and the command line that reproduces it.
"""
import argparse
import collections
import os
import random
import shutil
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))   # pytests/: the shared RESP wire and server starters

import generators as gen  # noqa: E402
import statechecks  # noqa: E402
from conftest import start_redis, start_tern, tern_binary  # noqa: E402
from resp_wire import Closed, Node, NodeConn, encode_all, short  # noqa: E402

SLOT_PROTOCOLS = (2, 3)   # main connections: one RESP2, one RESP3
UNKNOWN_PREFIXES = (b"ERR unknown command", b"ERR unknown subcommand")


class Mismatch(Exception):
    pass


# ---------------------------------------------------------------------------
# Registration discovery

def command_arities(redis_conn, names):
    """Arity of each command/subcommand per the real redis-server (COMMAND INFO)."""
    out = {}
    for name in names:
        n = redis_conn.call(b"COMMAND", b"INFO", name.encode())
        if n.is_agg() and n.val and n.val[0].is_agg():
            out[name] = n.val[0].val[1].val
    return out


# Containers without subcommand entries in COMMAND (DEBUG): probe with a full call.
# Commands whose bare form must never run as a probe (SHUTDOWN) get a syntax-error form.
EXPLICIT_PROBES = {"debug|object": [b"DEBUG", b"OBJECT", b"__probe__"],
                   "debug|digest-value": [b"DEBUG", b"DIGEST-VALUE"],
                   "shutdown": [b"SHUTDOWN", b"bogus-probe"],
                   "failover": [b"FAILOVER", b"bogus-probe"],
                   "monitor": [b"MONITOR", b"bogus-probe"]}


def probe_argv(name, arity):
    if name in EXPLICIT_PROBES:
        return EXPLICIT_PROBES[name]
    toks = [t.encode() for t in name.split("|")]
    if arity is None:
        return toks
    if arity > 0:
        return toks + [b"x"] * (arity + 1 - len(toks))
    need = -arity
    if need - 1 >= len(toks):
        return toks + [b"x"] * (need - 1 - len(toks))
    return toks   # the bare command is valid: only harmless ones are in this position


def registered_commands(port, names, arities, log=print):
    """Set of command names (from `names`) the server at `port` registers."""
    c = NodeConn(port, timeout=10)
    try:
        n = c.call(b"COMMAND", b"LIST")
        if n.is_agg() and n.tag in ("*", "~") and n.val:
            listed = {x.val.decode("latin-1").lower() for x in n.val if isinstance(x.val, bytes)}
            log("registration: from COMMAND LIST (%d names)" % len(listed))
            found = {name for name in names if name in listed}
            # DEBUG-style containers list no subcommands: probe those under a listed parent.
            to_probe = [n for n in names if n not in listed and "|" in n and n.split("|")[0] in listed]
            c.close()
            return found | probe_commands(port, to_probe, arities)
    except (Closed, OSError):
        pass
    c.close()
    log("registration: probing %d commands one by one (no COMMAND LIST)" % len(names))
    return probe_commands(port, names, arities)


def probe_commands(port, names, arities):
    c = NodeConn(port, timeout=10)
    found = set()
    for name in names:
        argv = probe_argv(name, arities.get(name))
        try:
            rep = c.call(*argv)
        except (Closed, OSError):
            c.close()
            c = NodeConn(port, timeout=10)
            found.add(name) if name == "quit" else None
            continue
        if not (rep.is_error() and rep.val.startswith(UNKNOWN_PREFIXES)):
            found.add(name)
        if c.eof or name in ("quit", "reset", "hello", "subscribe", "psubscribe", "ssubscribe"):
            c.close()
            c = NodeConn(port, timeout=10)
    c.close()
    return found


def select_families(requested, registered, log=print):
    """Returns (enabled family names, command names to generate)."""
    status = {}
    for fam, cmds in gen.FAMILIES.items():
        missing = [c for c in cmds if c not in registered]
        status[fam] = missing
    if requested in (None, "", "auto"):
        enabled = [f for f, m in status.items() if not m]
    elif requested == "all":
        enabled = list(gen.FAMILIES)
    else:
        enabled = [f.strip() for f in requested.split(",") if f.strip()]
        bad = [f for f in enabled if f not in gen.FAMILIES]
        if bad:
            raise SystemExit("unknown families %s; known: %s" % (bad, ", ".join(gen.FAMILIES)))
    for fam, missing in status.items():
        total = len(gen.FAMILIES[fam])
        mark = "ENABLED " if fam in enabled else "disabled"
        if not missing:
            log("  %s %-13s all %d commands registered" % (mark, fam, total))
        elif len(missing) == total:
            log("  %s %-13s not registered" % (mark, fam))
        else:
            log("  %s %-13s PARTIAL: %d/%d registered, missing %s" % (mark, fam, total - len(missing), total,
                                                                       " ".join(missing)))
    cmds = []
    for fam in enabled:
        for c in gen.FAMILIES[fam]:
            if c not in cmds:
                cmds.append(c)
    return enabled, cmds


# ---------------------------------------------------------------------------
# Reply helpers

def items(node):
    return node.val if node.is_agg() else []


def texts(node):
    return [x.val for x in items(node)]


def pairs(node):
    """(a, b) pairs from a map, an array of 2-arrays (RESP3 WITHSCORES) or a flat array."""
    xs = items(node)
    if xs and all(x.tag == "*" and x.val is not None and len(x.val) == 2 for x in xs):
        return [(x.val[0].val, x.val[1].val) for x in xs]
    return [(xs[i].val, xs[i + 1].val) for i in range(0, len(xs) - 1, 2)]


def num(b):
    if isinstance(b, (int, float)):
        return float(b)
    return float(b.decode() if isinstance(b, bytes) else b)


def same_shape(t, r):
    if t.tag != r.tag:
        return "reply types differ"
    if t.is_agg() != r.is_agg() or t.is_null() != r.is_null():
        return "reply shapes differ"
    return None


def unordered_equal(t, r, group=1):
    if t.raw == r.raw:
        return None
    s = same_shape(t, r)
    if s:
        return s
    if not t.is_agg():
        return "replies differ"
    a, b = t.val, r.val
    if len(a) != len(b):
        return "element counts differ (%d vs %d)" % (len(a), len(b))
    if t.tag == "%":
        group = 2
    ca = sorted(b"".join(x.raw for x in a[i:i + group]) for i in range(0, len(a), group))
    cb = sorted(b"".join(x.raw for x in b[i:i + group]) for i in range(0, len(b), group))
    return None if ca == cb else "element multisets differ"


# ---------------------------------------------------------------------------

# Redis 7.0's numeric SORT tests `errno == ERANGE` after strtod without clearing errno
# first, so an ERANGE left over from an unrelated earlier command (e.g. ZADD z 1e-320 m: an
# underflow, accepted) makes a valid numeric SORT fail with "ERR One or more scores can't
# be converted into double" on Redis only. That depends on what ran before on the server,
# not on the data: clear errno right before each SORT. ZADD with XX on a missing key parses
# its score with errno reset (string2d) and changes nothing, on both servers.
ERRNO_SENSITIVE = {"sort", "sort_ro"}
ERRNO_RESET = [b"ZADD", b"errno:reset", b"XX", b"0", b"x"]


class Slot:
    """One logical client: a connection to Tern and one to Redis, same protocol."""

    def __init__(self, runner, proto, name):
        self.runner = runner
        self.proto = proto
        self.name = name
        self.t = self.r = None
        self.connect()

    def connect(self):
        for c in (self.t, self.r):
            if c:
                c.close()
        self.t = NodeConn(self.runner.tern_port, timeout=self.runner.timeout)
        self.r = NodeConn(self.runner.redis_port, timeout=self.runner.timeout)
        if self.proto == 3:
            self.setup([b"HELLO", b"3"])

    def setup(self, argv):
        """Runs an uncompared setup command on both sides; both must succeed."""
        for c in (self.t, self.r):
            n = c.call(*argv)
            if n.is_error():
                raise Mismatch("setup command %r failed on %s: %r" % (argv, "tern" if c is self.t else "redis", n))

    def rq(self, *argv):
        """Asks the Redis side (same connection/db) for state needed by a property check.
        The call shows in Redis's commandstats only: the state checks subtract it."""
        n = self.r.call(*argv)
        self.runner.state.note_side_call("r", argv, reply=n)
        return n


class Runner:
    def __init__(self, tern_port, redis_port, seed, families_cmds, arities, registered,
                 context=20, batch=16, timeout=30.0, digest_every=2000, log=print,
                 state_checks=statechecks.ALL_CHECKS):
        self.tern_port = tern_port
        self.redis_port = redis_port
        self.seed = seed
        self.rng = random.Random(seed)
        self.g = gen.G(self.rng)
        self.timeout = timeout
        self.log = log
        self.arities = arities
        self.registered = registered
        self.history = collections.deque(maxlen=context)
        self.count = 0
        self.batch = batch
        self.digest_every = digest_every
        self.stats = collections.Counter()
        self.cmds = [c for c in families_cmds if c in gen.SPECS]
        self.specs = [gen.SPECS[c] for c in self.cmds]
        self.weights = [s.weight for s in self.specs]
        self.cmd_family = {}
        for fam, cs in gen.FAMILIES.items():
            for c in cs:
                self.cmd_family.setdefault(c, fam)
        self.enabled = set(families_cmds)
        self.exact_specs = [s for s in self.specs if s.check == "exact" and not s.barrier
                            and s.name not in ("quit", "reset", "hello", "exec", "discard", "watch")]
        self.scenarios = [sc for sc in SCENARIO_FUNCS if any(req <= self.enabled for req in SCENARIO_REQUIRES[sc])]
        self.state = statechecks.StateChecks(self, ())   # the real one once the servers are prepared
        self.slots = [Slot(self, p, "c%d" % i) for i, p in enumerate(SLOT_PROTOCOLS)]
        self.subs = None
        self.drain_seq = 0
        self.ctl_t = NodeConn(tern_port, timeout=timeout)
        self.ctl_r = NodeConn(redis_port, timeout=timeout)
        self.digest = self.supports_digest()
        self.prepare_dumps()
        self.state = statechecks.StateChecks(self, state_checks)

    # -- setup
    def supports_digest(self):
        n = self.ctl_t.call(b"DEBUG", b"DIGEST")
        return not n.is_error() and isinstance(n.val, bytes) and len(n.val) == 40

    def prepare_dumps(self):
        """DUMP payloads of each type made by the real redis-server, for RESTORE."""
        c = self.ctl_r
        c.call(b"SELECT", b"9")
        c.call(b"FLUSHDB")
        c.call(b"SET", b"a", b"hello")
        c.call(b"SET", b"b", b"12345")
        c.call(b"RPUSH", b"c", b"1", b"2", b"x")
        c.call(b"HSET", b"d", b"f", b"v", b"g", b"1")
        c.call(b"SADD", b"e", b"1", b"2", b"3")
        c.call(b"SADD", b"f", b"a", b"b")
        c.call(b"ZADD", b"g", b"1", b"a", b"2.5", b"b")
        c.call(b"SET", b"h", b"x" * 100)
        payloads = []
        for k in b"abcdefgh":
            n = c.call(b"DUMP", bytes([k]))
            if isinstance(n.val, bytes):
                payloads.append(n.val)
        c.call(b"FLUSHDB")
        c.call(b"SELECT", b"0")
        bad = bytearray(payloads[0])
        bad[-1] ^= 0xFF
        gen.DUMP_PAYLOADS[:] = payloads + [bytes(bad), b"bogus payload", b""]

    # -- reporting
    def fail(self, msg, slot=None, argv=None, t=None, r=None):
        lines = ["", "=" * 78, "DIFFERENTIAL MISMATCH after %d commands (seed %d)" % (self.count, self.seed), msg]
        if argv is not None:
            lines.append("command [%s]: %s" % (slot.name if slot else "-", fmt_argv(argv)))
            lines.append("  tern : %s" % (short(t.raw, 2000) if isinstance(t, Node) else t))
            lines.append("  redis: %s" % (short(r.raw, 2000) if isinstance(r, Node) else r))
        if slot is not None and ("keys" in self.registered or os.environ.get("DIFFTEST_DIAG")):
            lines.append(self.keyspace_diff(slot))
        if os.environ.get("DIFFTEST_DIAG"):
            for c in (self.ctl_t, self.ctl_r):
                lines.append("INFO keyspace: %r" % c.call(b"INFO", b"keyspace").val)
                for db in (b"0", b"1", b"2"):
                    c.call(b"SELECT", db)
                    phys = [k for k in self.key_universe() if not c.call(b"DEBUG", b"OBJECT", k).is_error()]
                    lines.append("  db%s physically: %r" % (db.decode(), phys))
                c.call(b"SELECT", b"0")
        lines.append("-- last %d commands (connection, command, tern reply, redis reply):" % len(self.history))
        for i, (sname, a, tr, rr) in enumerate(self.history):
            lines.append("%4d [%s] %s" % (i - len(self.history), sname, fmt_argv(a)))
            lines.append("       tern : %s" % short(tr, 400))
            if rr != tr:
                lines.append("       redis: %s" % short(rr, 400))
        lines.append("reproduce: python3 pytests/differential/difftest.py --seed %d --commands %d --families %s"
                     % (self.seed, self.count, ",".join(self.families_arg)))
        raise Mismatch("\n".join(lines))

    families_arg = ()

    def keyspace_diff(self, slot):
        """Diagnostic: keys present on only one side in the connection's current db."""
        try:
            kt = set(texts(slot.t.call(b"KEYS", b"*")))
            kr = set(texts(slot.r.call(b"KEYS", b"*")))
        except Exception as e:  # the connection may be gone: diagnostics only
            return "(keyspace diff unavailable: %r)" % e
        if kt == kr:
            return "keyspace of this db: same %d keys on both" % len(kt)
        return "keyspace of this db differs: only tern %r, only redis %r" % (sorted(kt - kr)[:10], sorted(kr - kt)[:10])

    trace = open(os.environ["DIFFTEST_TRACE"], "w") if os.environ.get("DIFFTEST_TRACE") else None

    def record(self, slot, argv, t, r):
        if self.trace:
            self.trace.write("%d [%s] %s\n   t: %s\n   r: %s\n" % (self.count, slot.name, fmt_argv(argv),
                             short(t.raw, 200) if isinstance(t, Node) else t, short(r.raw, 200) if isinstance(r, Node) else r))
        self.state.note_command(argv)
        self.history.append((slot.name if slot else "ctl", argv, t.raw if isinstance(t, Node) else repr(t),
                             r.raw if isinstance(r, Node) else repr(r)))

    # -- I/O
    def exchange(self, slot, argvs):
        """Sends argvs pipelined to both servers and returns [(tern, redis)] replies.
        A closed connection yields the string 'closed' instead of a Node."""
        payload = encode_all(argvs)
        out = []
        for c in (slot.t, slot.r):
            try:
                c.send_raw(payload)
            except OSError:
                pass
        reps = {}
        for side, c in (("t", slot.t), ("r", slot.r)):
            lst = []
            for _ in argvs:
                try:
                    lst.append(c.read())
                except Closed:
                    lst.append("closed")
                except socket.timeout:
                    lst.append("timeout (no reply in %.0fs)" % self.timeout)
                    break
                except (ConnectionResetError, BrokenPipeError):
                    lst.append("connection reset")
                    break
            while len(lst) < len(argvs):
                lst.append(lst[-1])
            reps[side] = lst
        for i in range(len(argvs)):
            out.append((reps["t"][i], reps["r"][i]))
        return out

    def run_commands(self, slot, argvs, checks):
        results = self.exchange(slot, argvs)
        for argv, check, (t, r) in zip(argvs, checks, results):
            if check == "state:client":
                self.state.compare_client(slot, argv, t, r)
                continue
            if check == "state:info":
                self.state.take_info(t, r)
                continue
            self.count += 1
            self.record(slot, argv, t, r)
            self.compare(slot, argv, check, t, r)
        return results

    # -- comparison
    def compare(self, slot, argv, check, t, r):
        if (isinstance(t, str) and t.startswith("timeout")) or (isinstance(r, str) and r.startswith("timeout")):
            self.fail("no reply", slot, argv, t, r)
        if not isinstance(t, Node) or not isinstance(r, Node):
            if isinstance(t, Node) or isinstance(r, Node) or t != r:
                self.fail("connection state differs", slot, argv, t, r)
            return
        if t.raw == r.raw:
            self.stats["exact"] += 1
            return
        if t.is_error() or r.is_error() or check == "exact":
            self.fail("replies differ", slot, argv, t, r)
        err = self.property_check(slot, argv, check, t, r)
        if err:
            self.fail(err, slot, argv, t, r)
        self.stats["property"] += 1

    def property_check(self, slot, argv, check, t, r):
        if check == gen.UNORDERED:
            return unordered_equal(t, r)
        if check == "sort":
            if not gen.sort_order_unspecified(argv):
                return "replies differ"
            s = same_shape(t, r)
            if s or not t.is_agg():
                return s or "replies differ"
            if len(t.val) != len(r.val):
                return "element counts differ"
            # With LIMIT, ties at the edge may select different elements.
            return None if b"limit" in [a.lower() for a in argv] else unordered_equal(t, r)
        if isinstance(check, tuple) and check[0] == "ttl":
            if t.tag != ":" or r.tag != ":":
                return "replies differ"
            if t.val < 0 or r.val < 0:
                return None if t.val == r.val else "ttl sign differs"
            return None if abs(t.val - r.val) <= check[1] else "ttl differs by more than %d" % check[1]
        if isinstance(check, tuple) and check[0] == "by_encoding":
            enc = slot.rq(b"OBJECT", b"ENCODING", argv[1])
            if enc.val in (b"listpack", b"intset", b"ziplist"):
                return "replies differ (Redis holds the key as %s: order is deterministic)" % enc.val.decode()
            return unordered_equal(t, r, check[1])
        if check == "dump":
            # A hash table (set/hash) serializes in its iteration order.
            enc = slot.rq(b"OBJECT", b"ENCODING", argv[1])
            if enc.val != b"hashtable":
                return "replies differ"
            if t.tag != "$" or r.tag != "$" or len(t.val) != len(r.val) or t.val[:1] != r.val[:1]:
                return "DUMP payloads differ in type or length"
            return None
        fn = PROPERTY_CHECKS.get(check)
        if fn is None:
            return "replies differ"
        return fn(self, slot, argv, t, r)

    # -- generation
    def next_argv(self):
        spec = self.rng.choices(self.specs, self.weights)[0]
        self.g.family = self.cmd_family.get(spec.name, "core")
        argv = spec.gen(self.g)
        if self.rng.random() < 0.02:
            argv = self.mutate_arity(spec.name, argv)
        return spec, argv

    def mutate_arity(self, name, argv):
        arity = self.arities.get(name)
        ntok = name.count("|") + 1
        if arity is None:
            return argv
        if arity > 0:
            if self.rng.random() < 0.5 and arity - 1 >= ntok:
                return argv[:self.rng.randint(ntok, arity - 1)]
            return argv + [b"extra"] * self.rng.randint(1, 2)
        if -arity - 1 >= ntok:
            return argv[:self.rng.randint(ntok, -arity - 1)]
        return argv

    def step(self):
        """One unit of work: a pipelined batch on one connection, or a scenario."""
        self.g.now = int(time.time())
        if self.scenarios and self.rng.random() < float(os.environ.get("DIFFTEST_SCENARIO_RATE", "0.04")):
            name = self.rng.choice(self.scenarios)
            self.stats["scenario:" + name] += 1
            SCENARIO_FUNCS[name](self)
            self.state.after_step()
            return
        slot = self.rng.choice(self.slots)
        argvs, checks = [], []
        n = self.rng.randint(1, self.batch)
        barrier_spec = None
        client_checked = False
        while len(argvs) < n:
            spec, argv = self.next_argv()
            if spec.name in ERRNO_SENSITIVE and "zadd" in self.registered:
                argvs.append(ERRNO_RESET)
                checks.append("exact")
            argvs.append(argv)
            checks.append(spec.check)
            self.stats[spec.name] += 1
            if self.g.after and not spec.barrier:
                argvs += self.g.after
                checks += ["exact"] * len(self.g.after)
            self.g.after = []
            if spec.barrier:
                barrier_spec = spec
                break
        if barrier_spec is not None and barrier_spec.check in PRE_HOOKS:
            # The hook inspects the state right before the command: run the others first.
            if len(argvs) > 1:
                self.run_commands(slot, argvs[:-1], checks[:-1])
            argv = argvs[-1]
            pre = PRE_HOOKS[barrier_spec.check](self, slot, argv)
            (t, r), = self.exchange(slot, [argv])
            self.count += 1
            self.record(slot, argv, t, r)
            POST_HOOKS[barrier_spec.check](self, slot, argv, t, r, pre)
        else:
            client_checked = barrier_spec is None and "client" in self.state.checks
            if client_checked:
                # The connection's CLIENT INFO rides in the step's pipeline.
                argvs.append(statechecks.CLIENT_INFO_PROBE)
                checks.append("state:client")
            if barrier_spec is None and self.state.base is not None:
                # So does INFO: the counters are server-wide, and its own call shows in
                # commandstats on both servers alike.
                argvs.append(statechecks.INFO_PROBE)
                checks.append("state:info")
            self.run_commands(slot, argvs, checks)
        if barrier_spec is not None:
            self.after_barrier(slot, barrier_spec.name, argvs[-1])
        self.state.after_step(slot, client_checked)

    def after_barrier(self, slot, name, argv):
        """Restores a connection changed by QUIT / RESET / HELLO / a protocol error."""
        if slot.t.eof or slot.r.eof or name == "quit":
            slot.connect()
        elif name in ("reset", "hello"):
            slot.setup([b"HELLO", str(slot.proto).encode()])

    # -- state comparison
    def compare_digest(self):
        if not self.digest:
            return
        t = self.ctl_t.call(b"DEBUG", b"DIGEST")
        r = self.ctl_r.call(b"DEBUG", b"DIGEST")
        self.stats["digest"] += 1
        if t.raw != r.raw:
            self.fail("DEBUG DIGEST differs: the datasets diverged", None, [b"DEBUG", b"DIGEST"], t, r)

    def key_universe(self):
        ks = [p + b"%d" % i for p in set(gen.FAMILY_PREFIX.values()) for i in range(4)]
        ks += [b"k%d" % i for i in range(6)] + [b"{t}a", b"{t}b", b"k\x00\r\n\xff", b"", b"a b"]
        return ks

    def compare_state(self):
        """Compares every key the generator can touch, in dbs 0-2, with the commands the
        server registers (works on main with GET/SELECT/DBSIZE only)."""
        slot = Slot(self, 2, "state")
        reg = self.registered
        reads = {b"list": ([b"LRANGE", None, b"0", b"-1"], "exact"),
                 b"hash": ([b"HGETALL", None], ("by_encoding", 2)),
                 b"set": ([b"SMEMBERS", None], ("by_encoding", 1)),
                 b"zset": ([b"ZRANGE", None, b"0", b"-1", b"WITHSCORES"], "exact")}
        try:
            for db in (b"0", b"1", b"2"):
                self.run_commands(slot, [[b"SELECT", db]], ["exact"])
                if "dbsize" in reg:
                    self.run_commands(slot, [[b"DBSIZE"]], ["exact"])
                for k in self.key_universe():
                    typ = None
                    if "type" in reg:
                        (t, _), = self.run_commands(slot, [[b"TYPE", k]], ["exact"])
                        typ = t.val
                    self.run_commands(slot, [[b"GET", k]], ["exact"])
                    if typ in reads and reads[typ][0][0].decode().lower() in reg:
                        argv, check = reads[typ]
                        argv = [a if a is not None else k for a in argv]
                        self.run_commands(slot, [argv], [check])
                    if "pttl" in reg:
                        self.run_commands(slot, [[b"PTTL", k]], [("ttl", 1500)])
        finally:
            slot.t.close()
            slot.r.close()
        self.compare_digest()

    eager = bool(os.environ.get("DIFFTEST_EAGER"))

    def eager_check(self):
        """Diagnostic (DIFFTEST_EAGER=1): after every step, the encodings of every key the
        generator can touch must agree, and so must DEBUG DIGEST: the first command that
        lets the datasets drift apart is then the last one shown."""
        for db in (b"0", b"1", b"2"):
            for c in (self.ctl_t, self.ctl_r):
                c.call(b"SELECT", db)
            for k in self.key_universe():
                t = self.ctl_t.call(b"OBJECT", b"ENCODING", k)
                r = self.ctl_r.call(b"OBJECT", b"ENCODING", k)
                if t.raw != r.raw:
                    self.fail("eager check: encodings of %r in db %s differ" % (k, db.decode()), None,
                              [b"OBJECT", b"ENCODING", k], t, r)
        for c in (self.ctl_t, self.ctl_r):
            c.call(b"SELECT", b"0")
        self.compare_digest()

    # -- main loop
    def run(self, commands=None, seconds=None, progress=True):
        start = time.time()
        last_digest = 0
        next_progress = start + 10
        while True:
            if commands is not None and self.count >= commands:
                break
            if seconds is not None and time.time() - start >= seconds:
                break
            self.step()
            if self.eager:
                self.eager_check()
            if self.digest and self.count - last_digest >= self.digest_every:
                last_digest = self.count
                self.compare_digest()
            if progress and time.time() > next_progress:
                next_progress = time.time() + 10
                self.log("  ... %d commands, %.0f/s" % (self.count, self.count / (time.time() - start)))
        self.compare_state()
        self.state.after_step()
        return time.time() - start

    def close(self):
        for s in self.slots + (self.subs or []):
            s.t.close()
            s.r.close()
        self.ctl_t.close()
        self.ctl_r.close()


def fmt_argv(argv):
    out = []
    for a in argv:
        if isinstance(a, str):
            a = a.encode()
        s = repr(a)[2:-1] if isinstance(a, bytes) else str(a)
        if len(s) > 80:
            s = s[:80] + "...(%d bytes)" % len(a)
        out.append(s if s and " " not in s else '"%s"' % s)
    return " ".join(out)


# ---------------------------------------------------------------------------
# Property checks for nondeterministic replies

def check_integer(run, slot, argv, t, r):
    return None if t.tag == ":" and r.tag == ":" else "expected integers"


def mask_hello(node):
    xs = items(node)
    out = []
    for i, x in enumerate(xs):
        if i % 2 == 1 and xs[i - 1].val == b"id":
            out.append(b"<id>")
        else:
            out.append(x.raw)
    return out


def check_hello(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    return None if mask_hello(t) == mask_hello(r) else "HELLO replies differ (besides the client id)"


def check_client_info(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    for n in (t, r):
        if not isinstance(n.val, bytes) or b"id=" not in n.val or b"cmd=client|info" not in n.val:
            return "CLIENT INFO reply lacks id= / cmd=client|info"
    return None


def check_client_list(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    for n in (t, r):
        lines = [ln for ln in n.val.split(b"\n") if ln.strip()] if isinstance(n.val, bytes) else None
        if lines is None or not all(b"id=" in ln for ln in lines):
            return "CLIENT LIST lines must start with id="
    return None


def info_fields(node):
    text = node.val if isinstance(node.val, bytes) else b""
    if node.tag == "=" and text[3:4] == b":":
        text = text[4:]
    sections, keyspace = [], {}
    for ln in text.split(b"\r\n"):
        if ln.startswith(b"# "):
            sections.append(ln[2:].strip().lower())
        elif ln.startswith(b"db") and b":keys=" in ln:
            db, rest = ln.split(b":", 1)
            kv = dict(p.split(b"=", 1) for p in rest.split(b","))
            keyspace[db] = (kv.get(b"keys"), kv.get(b"expires"))
    return sections, keyspace


def check_info(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    st, kt = info_fields(t)
    sr, kr = info_fields(r)
    if st != sr:
        return "INFO sections differ: %s vs %s" % (st, sr)
    if kt != kr:
        return "INFO keyspace differs: %s vs %s" % (kt, kr)
    return None


def check_time(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    try:
        a, b = [int(x) for x in texts(t)], [int(x) for x in texts(r)]
    except (TypeError, ValueError):
        return "TIME must be two integers"
    if len(a) != 2 or len(b) != 2 or abs(a[0] - b[0]) > 2 or not 0 <= a[1] < 1000000:
        return "TIME replies too far apart"
    return None


def check_memory_usage(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    return None if t.tag in (":", "$", "_") else "MEMORY USAGE: expected integer or nil"


def debug_encoding(node):
    for part in (node.val or b"").split(b" "):
        if part.startswith(b"encoding:"):
            return part
    return None


def check_debug_object(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    if debug_encoding(t) != debug_encoding(r) or debug_encoding(t) is None:
        return "DEBUG OBJECT encodings differ"
    return None


def check_randomkey(run, slot, argv, t, r):
    s = same_shape(t, r)
    if s:
        return s
    if t.is_null():
        return None
    n = slot.rq(b"EXISTS", t.val, r.val)
    return None if n.val == 2 else "RANDOMKEY returned a key that does not exist"


def contents(slot, key, kind):
    """The full collection at key from the Redis side: set of members or dict field->value."""
    if kind == "set":
        return set(texts(slot.rq(b"SMEMBERS", key)))
    if kind == "hash":
        return dict(pairs(slot.rq(b"HGETALL", key)))
    if kind == "zset":
        return {m: num(s) for m, s in pairs(slot.rq(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"))}
    if kind == "keys":
        return set(texts(slot.rq(b"KEYS", b"*")))
    raise ValueError(kind)


def random_members_check(run, slot, argv, t, r, kind, withvals_flag):
    s = same_shape(t, r)
    if s:
        return s
    if t.is_null():
        return None
    full = contents(slot, argv[1], kind)
    has_count = len(argv) >= 3
    withvals = any(a.upper() == withvals_flag for a in argv[3:])
    if not has_count:
        if t.val not in full or r.val not in full:
            return "returned element is not in the collection"
        return None
    cnt = int(argv[2])
    for n in (t, r):
        if withvals:
            ps = pairs(n)
            for m, v in ps:
                if m not in full or (kind == "hash" and full[m] != v) or (kind == "zset" and full[m] != num(v)):
                    return "returned pair %r is not in the collection" % ((m, v),)
            elems = [m for m, _ in ps]
        else:
            elems = texts(n)
            if any(e not in full for e in elems):
                return "returned element not in the collection"
        expect = min(cnt, len(full)) if cnt >= 0 else -cnt
        if len(elems) != expect:
            return "expected %d elements, got %d" % (expect, len(elems))
        if cnt >= 0 and len(set(elems)) != len(elems):
            return "positive count must return distinct elements"
    return None


def check_srandmember(run, slot, argv, t, r):
    return random_members_check(run, slot, argv, t, r, "set", b"")


def check_hrandfield(run, slot, argv, t, r):
    return random_members_check(run, slot, argv, t, r, "hash", b"WITHVALUES")


def check_zrandmember(run, slot, argv, t, r):
    return random_members_check(run, slot, argv, t, r, "zset", b"WITHSCORES")


def scan_shape(n):
    xs = items(n)
    if len(xs) != 2 or not isinstance(xs[0].val, bytes) or not xs[0].val.isdigit() or not xs[1].is_agg():
        return None
    return xs[0].val, xs[1]


def check_scan_generic(run, slot, argv, t, r, kind):
    s = same_shape(t, r)
    if s:
        return s
    st, sr = scan_shape(t), scan_shape(r)
    if st is None or sr is None:
        return "SCAN reply must be [cursor, [elements]]"
    key = argv[1] if kind != "keys" else None
    full = contents(slot, key, kind)
    plain = argv[2 if kind != "keys" else 1] == b"0" and not any(a.upper() in (b"MATCH", b"TYPE") for a in argv)
    for cursor, arr in (st, sr):
        if kind in ("hash", "zset"):
            ps = pairs(arr)
            for m, v in ps:
                if m not in full or (kind == "hash" and full[m] != v) or (kind == "zset" and full[m] != num(v)):
                    return "scanned pair %r not in the collection" % ((m, v),)
            got = {m for m, _ in ps}
        else:
            got = set(texts(arr))
            if not got <= full:
                return "scanned elements not in the collection: %r" % sorted(got - full)[:5]
        if plain and cursor == b"0" and got != set(full):
            return "a complete scan (cursor 0 -> 0) must return every element"
    return None


def check_scan(run, slot, argv, t, r):
    return check_scan_generic(run, slot, argv, t, r, "keys")


def check_sscan(run, slot, argv, t, r):
    return check_scan_generic(run, slot, argv, t, r, "set")


def check_hscan(run, slot, argv, t, r):
    return check_scan_generic(run, slot, argv, t, r, "hash")


def check_zscan(run, slot, argv, t, r):
    return check_scan_generic(run, slot, argv, t, r, "zset")


PROPERTY_CHECKS = {
    "integer": check_integer, "hello": check_hello, "client_info": check_client_info,
    "client_list": check_client_list, "info": check_info, "time": check_time,
    "memory_usage": check_memory_usage, "debug_object": check_debug_object, "randomkey": check_randomkey,
    "srandmember": check_srandmember, "hrandfield": check_hrandfield, "zrandmember": check_zrandmember,
    "scan": check_scan, "sscan": check_sscan, "hscan": check_hscan, "zscan": check_zscan,
}


# SPOP changes the set differently on each side: snapshot the set before, check that both
# popped members of it, then make Tern's set equal to Redis's again (SADD back / SREM).
def spop_pre(run, slot, argv):
    if len(argv) < 2:
        return ("noset",)
    typ = slot.rq(b"TYPE", argv[1])
    if typ.val != b"set":
        return ("noset",)
    return ("set", set(texts(slot.rq(b"SMEMBERS", argv[1]))))


def spop_post(run, slot, argv, t, r, pre):
    if not isinstance(t, Node) or not isinstance(r, Node) or t.raw == r.raw or t.is_error() or r.is_error() \
            or pre[0] != "set":
        run.compare(slot, argv, "exact", t, r)
        return
    s = same_shape(t, r)
    if s:
        run.fail(s, slot, argv, t, r)
    snap = pre[1]
    if len(argv) == 2:
        pt, pr = [t.val], [r.val]
    else:
        pt, pr = texts(t), texts(r)
    for p in (pt, pr):
        if any(x not in snap for x in p) or len(set(p)) != len(p):
            run.fail("SPOP returned members that were not in the set", slot, argv, t, r)
    if len(pt) != len(pr):
        run.fail("SPOP returned different counts", slot, argv, t, r)
    run.stats["property"] += 1
    if set(pt) != set(pr):
        back = [x for x in pt if x not in pr]
        gone = [x for x in pr if x not in pt]
        for argv2 in ([b"SADD", argv[1]] + back, [b"SREM", argv[1]] + gone):
            n = slot.t.call(*argv2)
            # Tern-only calls: their calls and their changes (dirty) are not the stream's.
            run.state.note_side_call("t", argv2, reply=n, dirty=n.val if n.tag == ":" else 0)
            if n.is_error():
                run.fail("resync after SPOP failed: %r" % n, slot, argv2, n, "-")


PRE_HOOKS = {"spop": spop_pre}
POST_HOOKS = {"spop": spop_post}


# ---------------------------------------------------------------------------
# Scenarios: multi-command situations with their own control flow.

def sc_multi_exec(run):
    g = run.g
    slot = run.rng.choice(run.slots)
    other = [s for s in run.slots if s is not slot][0]
    if not run.exact_specs:
        return
    if run.rng.random() < 0.4:
        g.family = "keys"
        keys = g.keys(1, 2)
        run.run_commands(slot, [[b"WATCH"] + keys], ["exact"])
        if run.rng.random() < 0.5:
            spec = run.rng.choice(run.exact_specs)
            g.family = run.cmd_family.get(spec.name, "core")
            run.run_commands(other, [spec.gen(g)], ["exact"])
    argvs = [[b"MULTI"]]
    for _ in range(run.rng.randint(0, 6)):
        spec = run.rng.choice(run.exact_specs)
        g.family = run.cmd_family.get(spec.name, "core")
        argv = spec.gen(g)
        if run.rng.random() < 0.05:
            argv = run.mutate_arity(spec.name, argv)
        if run.rng.random() < 0.03:
            argv = run.rng.choice([[b"MULTI"], [b"WATCH", b"k1"], [b"NOSUCHCOMMAND", b"x"]])
        argvs.append(argv)
    argvs.append([b"EXEC"] if run.rng.random() < 0.85 else [b"DISCARD"])
    run.run_commands(slot, argvs, ["exact"] * len(argvs))


def is_drain_reply(n, token):
    """The reply to PING <token>: a bulk (RESP3, or not subscribed) or ["pong", token]."""
    if n.tag in ("$", "+"):
        return n.val == token
    return n.tag == "*" and isinstance(n.val, list) and len(n.val) == 2 and n.val[0].val == b"pong" \
        and n.val[1].val == token


def drain(run, slot, label=(b"PING", b"(drain)")):
    """Collects push frames on a subscriber slot up to the reply to a PING.

    Each server writes a connection's pushes and replies in order, and a PUBLISH appends
    its message to the subscriber's output before the publisher gets its reply: so once
    the PING's reply is read, every message published before is in `frames`, on both
    servers. The PING carries a unique token: a bare PING's reply ("pong") could be
    confused with the reply to a generated "PING hi" (["pong", "hi"] while subscribed),
    and stopping there left the real reply unread; every later drain then lagged one
    behind, so the subscriber's own commands were no longer ordered with the next PUBLISH
    (the flake "pushed messages differ": a message one drain later on one server)."""
    run.drain_seq += 1
    token = b"drain:%d" % run.drain_seq
    out = {}
    for side, c in (("t", slot.t), ("r", slot.r)):
        c.send(b"PING", token)
        frames = []
        while True:
            try:
                n = c.read()
            except (Closed, socket.timeout, OSError) as e:
                frames.append(repr(e).encode())
                break
            frames.append(n)
            if is_drain_reply(n, token):
                break
        out[side] = frames
    run.count += 1
    label = list(label)
    joined = {k: Node("*", None, b"".join(f.raw if isinstance(f, Node) else f for f in v)) for k, v in out.items()}
    run.record(slot, label, joined["t"], joined["r"])
    if push_summary(out["t"]) != push_summary(out["r"]):
        run.fail("pushed messages differ", slot, label, joined["t"], joined["r"])


def push_summary(frames):
    """Order-insensitive view of pushed frames. Pattern deliveries and the confirmations of
    a bare (P|S)UNSUBSCRIBE come in hash-table order, and their counts follow that order:
    compare those as (kind, channel) multisets plus the multiset of counts."""
    plain, unsub, counts = [], [], []
    for f in frames:
        if isinstance(f, Node) and f.is_agg() and len(f.val) == 3 and f.val[0].val in (
                b"unsubscribe", b"punsubscribe", b"sunsubscribe"):
            unsub.append(f.val[0].raw + f.val[1].raw)
            counts.append(f.val[2].raw)
        else:
            plain.append(f.raw if isinstance(f, Node) else f)
    return sorted(plain), sorted(unsub), sorted(counts)


def sc_pubsub(run):
    if run.subs is None:
        run.subs = [Slot(run, 2, "sub2"), Slot(run, 3, "sub3")]
    g = run.g
    rng = run.rng
    for _ in range(rng.randint(1, 4)):
        sub = rng.choice(run.subs)
        r = rng.random()
        if r < 0.2:
            argv = [b"SUBSCRIBE"] + rng.sample(gen.CHANNELS, rng.randint(1, 3))
        elif r < 0.3:
            argv = [b"UNSUBSCRIBE"] + rng.sample(gen.CHANNELS, rng.randint(0, 2))
        elif r < 0.45:
            argv = [b"PSUBSCRIBE"] + rng.sample(gen.PATTERNS, rng.randint(1, 2))
        elif r < 0.5:
            argv = [b"PUNSUBSCRIBE"] + rng.sample(gen.PATTERNS, rng.randint(0, 2))
        elif r < 0.6:
            argv = [b"SSUBSCRIBE"] + rng.sample(gen.CHANNELS, rng.randint(1, 2))
        elif r < 0.65:
            argv = [b"SUNSUBSCRIBE"] + rng.sample(gen.CHANNELS, rng.randint(0, 2))
        elif r < 0.7:
            argv = rng.choice([[b"GET", b"k1"], [b"PING", b"hi"], [b"SUBSCRIBE"], [b"ECHO", b"x"]])
        else:
            pub = rng.choice(run.slots)
            argv = rng.choice([gen._publish, gen._spublish])(g)
            run.run_commands(pub, [argv], ["exact"])
            for s in run.subs:
                drain(run, s)
            continue
        sub.t.send(*argv)
        sub.r.send(*argv)
        run.count += 1
        drain(run, sub, argv + [b"+PING", b"drain:%d" % (run.drain_seq + 1)])


def sc_blocking(run):
    """A client blocks on an empty key; another connection's push wakes it."""
    rng = run.rng
    options = []
    if {"blpop", "rpush"} <= run.enabled:
        options += [([b"BLPOP"], b"RPUSH"), ([b"BRPOP"], b"LPUSH")]
    if {"blmove", "rpush"} <= run.enabled:
        options.append(([b"BLMOVE"], b"RPUSH"))
    if {"blmpop", "rpush"} <= run.enabled:
        options.append(([b"BLMPOP"], b"RPUSH"))
    if {"bzpopmin", "zadd"} <= run.enabled:
        options += [([b"BZPOPMIN"], b"ZADD"), ([b"BZMPOP"], b"ZADD")]
    if not options:
        return
    (cmd,), pusher = rng.choice(options)
    key = b"blk%d" % rng.randint(0, 2)
    a, b = run.slots[0], run.slots[1]
    if rng.random() < 0.5:
        a, b = b, a
    # Both connections must be in the same db for the push to wake the blocked client.
    run.run_commands(a, [[b"SELECT", b"0"]], ["exact"])
    run.run_commands(b, [[b"SELECT", b"0"], [b"DEL", key]], ["exact", "exact"])
    timeout = b"2"
    if cmd == b"BLMOVE":
        block = [b"BLMOVE", key, b"blkdst", b"LEFT", b"RIGHT", timeout]
    elif cmd == b"BLMPOP":
        block = [b"BLMPOP", timeout, b"2", b"blknone", key, b"LEFT", b"COUNT", b"2"]
    elif cmd == b"BZMPOP":
        block = [b"BZMPOP", timeout, b"1", key, b"MAX"]
    else:
        block = [cmd, b"blknone", key, timeout]
    a.t.send(*block)
    a.r.send(*block)
    time.sleep(0.05)
    if pusher == b"ZADD":
        push = [b"ZADD", key, b"1", b"a", b"2", b"b"]
    else:
        push = [pusher, key, b"x", b"y", b"z"]
    run.run_commands(b, [push], ["exact"])
    t, r = a.t.read(), a.r.read()
    run.count += 1
    run.record(a, block, t, r)
    run.compare(a, block, "exact", t, r)


def sc_expire_wait(run):
    """Keys with a 1-20 ms TTL, then a pause: both servers must have expired them."""
    rng = run.rng
    run.g.family = rng.choice(["strings", "core", "keys"])
    key = run.g.key()
    argv = [b"SET", key, b"short", b"PX", str(rng.randint(1, 20)).encode()]
    slot = rng.choice(run.slots)
    run.run_commands(slot, [argv], ["exact"])
    time.sleep(float(os.environ.get('EW_SLEEP','0.03')))
    # Touch it so both delete it now (lazy expiry); otherwise DBSIZE / INFO keyspace would
    # count it until each server's active expiry happens to reclaim it.
    run.run_commands(slot, [[b"GET", key]], ["exact"])


def sc_scan_full(run):
    """A full SCAN iteration on both servers must return the same set of keys."""
    slot = run.rng.choice(run.slots)
    opts = []
    if run.rng.random() < 0.5:
        opts += [b"MATCH", run.g.glob()]
    if run.rng.random() < 0.5:
        opts += [b"COUNT", run.rng.choice([b"1", b"3", b"100"])]
    if run.rng.random() < 0.3:
        opts += [b"TYPE", run.rng.choice([b"string", b"list", b"hash", b"set", b"zset"])]
    found = {}
    for side, c in (("t", slot.t), ("r", slot.r)):
        cursor, seen = b"0", set()
        for _ in range(10000):
            n = c.call(b"SCAN", cursor, *opts)
            # Each side takes as many calls as its table needs: not the stream's calls.
            run.state.note_side_call(side, [b"SCAN"], reply=n)
            sh = scan_shape(n)
            if sh is None:
                run.fail("bad SCAN reply during a full iteration", slot, [b"SCAN", cursor] + opts, n, "-")
            cursor = sh[0]
            seen |= set(texts(sh[1]))
            run.count += 1
            if cursor == b"0":
                break
        found[side] = seen
    if found["t"] != found["r"]:
        run.fail("full SCAN iterations differ: only tern %r, only redis %r"
                 % (sorted(found["t"] - found["r"])[:10], sorted(found["r"] - found["t"])[:10]),
                 slot, [b"SCAN", b"<full>"] + opts, "-", "-")


SCENARIO_FUNCS = {"multi_exec": sc_multi_exec, "pubsub": sc_pubsub, "blocking": sc_blocking,
                  "expire_wait": sc_expire_wait, "scan_full": sc_scan_full}
# Each scenario runs when any one of its alternative command sets is enabled.
SCENARIO_REQUIRES = {
    "multi_exec": [{"multi", "exec", "discard", "watch"}],
    "pubsub": [{"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "publish",
                "spublish"}],
    "blocking": [{"del", "blpop", "rpush"}, {"del", "bzpopmin", "zadd"}],
    "expire_wait": [{"set"}],
    "scan_full": [{"scan"}],
}


# ---------------------------------------------------------------------------

def all_family_commands():
    names = []
    for cs in gen.FAMILIES.values():
        for c in cs:
            if c not in names:
                names.append(c)
    return names


def main(argv=None, log=print):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="random seed (printed; default: random)")
    ap.add_argument("--commands", type=int, default=None, help="number of commands (default 20000)")
    ap.add_argument("--seconds", type=float, default=None, help="run for this long instead")
    ap.add_argument("--families", default="auto",
                    help="comma list of families, 'auto' (all fully registered) or 'all'")
    ap.add_argument("--list-families", action="store_true", help="print family registration and exit")
    ap.add_argument("--tern-port", type=int, help="use a running Tern instead of starting one")
    ap.add_argument("--redis-port", type=int, help="use a running redis-server instead of starting one")
    ap.add_argument("--self-check", action="store_true",
                    help="compare two real redis-servers (validates the generators and checks)")
    ap.add_argument("--batch", type=int, default=16, help="max commands pipelined per write")
    ap.add_argument("--context", type=int, default=20, help="commands shown on a mismatch")
    ap.add_argument("--digest-every", type=int, default=2000, help="compare DEBUG DIGEST every N commands")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    ap.add_argument("--state-checks", default=",".join(statechecks.ALL_CHECKS),
                    help="comma list of state checks after every step: dirty (rdb_changes_since_last_save "
                         "delta), stats (INFO commandstats/errorstats deltas), client (CLIENT INFO fields), "
                         "config (random config lines after the run); 'none' for replies only")
    ap.add_argument("--config-set", type=int, default=300,
                    help="random CONFIG SET lines compared after the run (state check 'config')")
    ap.add_argument("--config-startup", type=int, default=12,
                    help="random startups with config lines in a file or as arguments (state check 'config')")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    if args.commands is None and args.seconds is None:
        args.commands = 20000
    checks = [] if args.state_checks in ("", "none") else [c.strip() for c in args.state_checks.split(",")]
    bad = [c for c in checks if c not in statechecks.ALL_CHECKS]
    if bad:
        raise SystemExit("unknown state checks %s; known: %s" % (bad, ", ".join(statechecks.ALL_CHECKS)))

    servers = []
    try:
        if args.redis_port:
            redis_port = args.redis_port
        else:
            servers.append(start_redis())
            redis_port = servers[-1].port
        if args.tern_port:
            tern_port = args.tern_port
        elif args.self_check:
            servers.append(start_redis())
            tern_port = servers[-1].port
        else:
            servers.append(start_tern())
            tern_port = servers[-1].port
        rc = NodeConn(redis_port)
        names = all_family_commands()
        arities = command_arities(rc, names)
        rc.close()
        registered = registered_commands(tern_port, names, arities, log)
        log("families (server under test on port %d%s):" % (tern_port, ", redis self-check" if args.self_check else ""))
        enabled, cmds = select_families(args.families, registered, log)
        if args.list_families:
            return 0
        missing = [c for c in cmds if c not in registered]
        if missing:
            log("NOTE: enabled families include unregistered commands (they will fail): %s" % " ".join(missing))
        for port in (tern_port, redis_port):
            c = NodeConn(port)
            c.call(b"FLUSHALL")
            c.close()
        log("difftest: seed=%d families=%s %s" % (seed, ",".join(enabled),
                                                 "commands=%d" % args.commands if args.commands else
                                                 "seconds=%g" % args.seconds))
        runner = Runner(tern_port, redis_port, seed, cmds, arities, registered, context=args.context,
                        batch=args.batch, timeout=args.timeout, digest_every=args.digest_every, log=log,
                        state_checks=checks)
        runner.families_arg = enabled
        runner.g.families = set(enabled)
        if not runner.digest:
            log("note: the server under test has no DEBUG DIGEST; the final check reads every key instead")
        try:
            elapsed = runner.run(commands=args.commands, seconds=args.seconds)
            if "config" in checks:
                # Its own seed: the number of lines can change without changing the stream.
                crng = random.Random(seed ^ 0x5EED)
                started = time.time()
                statechecks.config_set_round(runner, crng, args.config_set, log)
                redis_bin = shutil.which("redis-server")
                tern_bin = redis_bin if args.self_check else tern_binary()
                statechecks.config_startup_round(runner, crng, tern_bin, redis_bin, args.config_startup, log)
                log("config: %d CONFIG SET lines, %d startups compared in %.1fs"
                    % (args.config_set, args.config_startup, time.time() - started))
        except Mismatch as e:
            log(str(e))
            for s in servers:
                if not s.alive():
                    out = s.output()
                    # From the crash report's start (the faulting thread comes first).
                    at = max(0, min([i for i in (out.find("Fatal error"), out.find("Crash"),
                                                 out.find("Thread 0")) if i >= 0] or [len(out) - 3000]))
                    log("%s died: %s" % (s.name, out[at:at + 8000]))
            return 1
        finally:
            runner.close()
        st = runner.stats
        log("difftest: OK seed=%d: %d commands in %.1fs (%.0f/s), %d exact, %d by property, %d digest checks"
            % (seed, runner.count, elapsed, runner.count / max(elapsed, 1e-9), st["exact"], st["property"],
               st["digest"]))
        log("state checks: %d dirty deltas (%s), %d commandstats/errorstats deltas, %d CLIENT INFO, "
            "%d CONFIG SET, %d startups (%d rejected)" % (st["dirty"], ", ".join("%s skipped %d" % (k[11:], v) for k, v in sorted(
                st.items()) if k.startswith("dirty-skip:")) or "none skipped", st["stats"], st["client"],
                                             st["config-set"], st["config-startup"],
                                             st["config-startup-rejected"]))
        scen = {k[9:]: v for k, v in st.items() if k.startswith("scenario:")}
        if scen:
            log("scenarios: %s" % ", ".join("%s=%d" % kv for kv in sorted(scen.items())))
        return 0
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
