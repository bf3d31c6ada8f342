"""Command generators for the differential test, grouped by family.

The table is explicit: every Redis 7.0 command of a family has a generator here (see
FAMILIES at the bottom). A generator takes a `G` (seeded randomness + value pools) and
returns one argv. A command's reply is compared with the reply of the real redis-server:

  exact       raw RESP bytes must be identical (the default)
  unordered   same type and the same multiset of top-level elements (hash-table order)
  ordered_by_encoding(group)
              exact when Redis holds the key in an ordered compact encoding (listpack,
              intset), else unordered (grouped in field/value pairs when group=2)
  ttl(tol)    integer replies may differ by `tol` (seconds or ms), negatives exactly
  <function>  a property check for nondeterministic replies (RANDOMKEY, SRANDMEMBER ...)

Errors are always compared exactly. Property checks may ask the Redis side (same
connection, same db) for the state they need; such commands are run alone (barrier).

To add a command: write `@command("name", "family")` with a generator below and add the
name to the family's list in FAMILIES.
"""
import time

SPECS = {}
SCENARIOS = {}


class Spec:
    def __init__(self, name, gen, check="exact", weight=1.0, barrier=False):
        self.name = name
        self.gen = gen
        self.check = check
        self.weight = weight
        # A barrier command is sent alone (not pipelined) because its check inspects
        # state right after it ran, or it changes the connection (QUIT, HELLO, RESET).
        self.barrier = barrier or check in STATEFUL_CHECKS or (isinstance(check, tuple) and check[0] == "by_encoding")


# Checks that read the Redis side's state right after the command (or rebuild it).
STATEFUL_CHECKS = {"randomkey", "srandmember", "hrandfield", "zrandmember", "scan", "sscan", "hscan", "zscan",
                   "spop", "hello", "dump", "sort"}


def command(name, check="exact", weight=1.0, barrier=False):
    def deco(fn):
        SPECS[name] = Spec(name, fn, check, weight, barrier)
        return fn
    return deco


class Scenario:
    def __init__(self, name, fn, requires, weight):
        self.name = name
        self.fn = fn
        self.requires = requires
        self.weight = weight


def scenario(name, requires, weight=1.0):
    def deco(fn):
        SCENARIOS[name] = Scenario(name, fn, set(requires), weight)
        return fn
    return deco


# ---------------------------------------------------------------------------
# Value pools

EDGE_INTS = [b"0", b"1", b"-1", b"2", b"3", b"5", b"10", b"-10", b"100", b"12345",
             b"9223372036854775807", b"-9223372036854775808", b"9223372036854775806",
             b"-9223372036854775807", b"9223372036854775808", b"-9223372036854775809",
             b"18446744073709551616", b"007", b"+1", b"-0", b" 1", b"1 ", b"1.5", b"abc", b"",
             b"0x10", b"1e3", b"4294967296", b"-4294967296"]
EDGE_FLOATS = [b"0", b"1.5", b"-2.25", b"3", b"1e3", b"1e308", b"1e309", b"-1e309", b"inf", b"-inf",
               b"+inf", b"nan", b"-nan", b"abc", b"", b" 1", b"1.0e-5", b"0.1", b"5.0000000000000001",
               b"17", b"-0.0", b"1e-320", b"10.5", b"0x10", b"3.0", b"1.7976931348623157e308",
               b"9223372036854775807", b"-1"]
MEMBERS = [b"m0", b"m1", b"m2", b"m3", b"m4", b"m5", b"a", b"b", b"c", b"1", b"2", b"3", b"10",
           b"-5", b"100", b"007", b""]
INT_MEMBERS = [b"1", b"2", b"3", b"10", b"-5", b"100", b"0", b"9223372036854775807", b"-9223372036854775808",
               b"4294967296", b"65536", b"-70000"]
GLOBS = [b"*", b"k*", b"k?", b"s[0-2]", b"*:*", b"[a-z]*", b"\\*", b"k[^0]", b"h*", b"[", b"*\\",
         b"?", b"*1", b"[k-l]?", b"m*", b"a*b", b"*[", b"\\", b"{t}*"]
FAMILY_PREFIX = {"strings": b"s", "bitmaps": b"b", "keys": b"g", "dump": b"g", "lists": b"l", "hashes": b"h",
                 "sets": b"S", "zsets": b"z", "hll": b"p", "geo": b"o", "core": b"c"}


class G:
    """Seeded randomness and value pools for generators."""

    def __init__(self, rng):
        self.rng = rng
        self.family = "core"
        self.now = int(time.time())
        self.families = set()  # enabled family names
        self.after = []   # commands to run right after the generated one (same connection)

    # -- basics
    def chance(self, p):
        return self.rng.random() < p

    def pick(self, *xs):
        return self.rng.choice(xs)

    def choice(self, xs):
        return self.rng.choice(xs)

    def randint(self, a, b):
        return self.rng.randint(a, b)

    def b(self, x):
        return str(x).encode()

    # -- keys: a small space so operations collide, across types too
    def key(self):
        r = self.rng.random()
        if r < 0.55:
            return FAMILY_PREFIX.get(self.family, b"k") + b"%d" % self.rng.randint(0, 3)
        if r < 0.93:
            return b"k%d" % self.rng.randint(0, 5)
        return self.pick(b"{t}a", b"{t}b", b"k\x00\r\n\xff", b"", b"a b")

    def keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.rng.randint(lo, hi))]

    # -- values
    def rand_bytes(self, lo, hi):
        n = self.rng.randint(lo, hi)
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def val(self):
        r = self.rng.random()
        if r < 0.3:
            return self.choice(EDGE_INTS)
        if r < 0.4:
            return self.choice(EDGE_FLOATS)
        if r < 0.6:
            return self.pick(b"hello", b"", b"\x00", b"a\r\nb", b"\xff\xfe", b"v1", b"v2", b"abc", b"x" * 44,
                             b"x" * 45, b"foobar", b"\x00\x00\x00")
        if r < 0.92:
            return self.rand_bytes(1, 24)
        return bytes(self.rng.choice(b"abcdefghij0123456789") for _ in range(self.rng.randint(40, 300)))

    def int_(self):
        if self.chance(0.6):
            return self.b(self.rng.randint(-20, 100))
        return self.choice(EDGE_INTS)

    def float_(self):
        if self.chance(0.5):
            return self.b(round(self.rng.uniform(-100, 100), self.rng.randint(0, 3)))
        return self.choice(EDGE_FLOATS)

    def count(self):
        """A count argument: mostly small, sometimes edge numbers."""
        r = self.rng.random()
        if r < 0.7:
            return self.b(self.rng.randint(0, 8))
        if r < 0.8:
            return self.b(-self.rng.randint(1, 8))
        return self.pick(b"9223372036854775807", b"-9223372036854775808", b"abc", b"", b"1.5", b"4294967296",
                         b"-9223372036854775807", b"100000")

    def rand_count(self):
        """Count for SRANDMEMBER/HRANDFIELD/ZRANDMEMBER/SPOP: a huge negative count asks for
        that many (repeated) elements and would stall both servers, so stay bounded."""
        r = self.rng.random()
        if r < 0.85:
            return self.b(self.rng.randint(-12, 12))
        return self.pick(b"9223372036854775807", b"abc", b"", b"1.5", b"-200", b"100000")

    def index(self):
        if self.chance(0.85):
            return self.b(self.rng.randint(-8, 8))
        return self.pick(b"9223372036854775807", b"-9223372036854775808", b"abc", b"100", b"-100", b"")

    def member(self):
        if self.chance(0.85):
            return self.choice(MEMBERS if self.chance(0.6) else INT_MEMBERS)
        return self.val()

    def members(self, lo=1, hi=5):
        return [self.member() for _ in range(self.rng.randint(lo, hi))]

    def db(self):
        if self.chance(0.9):
            return self.b(self.rng.randint(0, 2))
        return self.pick(b"16", b"-1", b"abc", b"15", b"")

    def glob(self):
        return self.choice(GLOBS)

    def timeout(self):
        """Blocking timeout that never blocks forever."""
        return self.pick(b"0.01", b"0.02", b"0.01", b"-1", b"abc", b"0.001")

    def expire_secs(self):
        # Relative and absolute TTLs are kept >= 10,000 s apart from each other, so that
        # NX/XX/GT/LT comparisons never depend on the milliseconds between the two servers.
        return self.pick(b"100000", b"200000", b"130000", b"0", b"-1", b"abc", b"9223372036854775807",
                         b"9223372036854775", b"1.5", b"")

    def expire_ms(self):
        return self.pick(b"150000000", b"250000123", b"0", b"-5", b"9223372036854775807", b"abc")

    def expire_at_secs(self):
        return self.pick(self.b(self.now + 115000), self.b(self.now + 300000), b"1", b"0", b"-1",
                         b"9223372036854775807", b"abc")

    def expire_at_ms(self):
        return self.pick(self.b((self.now + 175000) * 1000 + 7), b"1", b"0", b"-1",
                         b"9223372036854775807", b"abc")


# ---------------------------------------------------------------------------
# Check helpers used by the runner (see difftest.py for the implementations)

def ttl(tol):
    return ("ttl", tol)


def ordered_by_encoding(group=1):
    return ("by_encoding", group)


UNORDERED = "unordered"


def maybe(g, p, *args):
    return list(args) if g.chance(p) else []


# ---------------------------------------------------------------------------
# core / connection

@command("ping", weight=0.5)
def _ping(g):
    return [b"PING"] + maybe(g, 0.3, g.val())


@command("echo", weight=0.5)
def _echo(g):
    return [b"ECHO", g.val()]


@command("select", weight=0.5)
def _select(g):
    return [b"SELECT", g.db()]


@command("hello", check="hello", weight=0.2)
def _hello(g):
    r = g.rng.random()
    if r < 0.5:
        return [b"HELLO"]
    if r < 0.7:
        return [b"HELLO", g.pick(b"2", b"3")]
    if r < 0.8:
        return [b"HELLO", g.pick(b"2", b"3"), b"SETNAME", g.pick(b"n1", b"n2", b"bad name")]
    if r < 0.9:
        return [b"HELLO", g.pick(b"4", b"1", b"0", b"abc", b"-1", b"")]
    return [b"HELLO", b"3", b"AUTH", b"default", g.pick(b"pw", b"")]


@command("quit", weight=0.05, barrier=True)
def _quit(g):
    return [b"QUIT"]


@command("reset", weight=0.05, barrier=True)
def _reset(g):
    return [b"RESET"]


@command("auth", weight=0.1)
def _auth(g):
    return [b"AUTH"] + g.pick([b"pw"], [b"default", b"pw"], [b"nouser", b"pw"])


@command("client|id", check="integer")
def _client_id(g):
    return [b"CLIENT", b"ID"]


@command("client|getname")
def _client_getname(g):
    return [b"CLIENT", b"GETNAME"]


@command("client|setname")
def _client_setname(g):
    return [b"CLIENT", b"SETNAME", g.pick(b"n1", b"n2", b"", b"bad name", b"x\ny")]


@command("client|info", check="client_info")
def _client_info(g):
    return [b"CLIENT", b"INFO"]


@command("client|list", check="client_list")
def _client_list(g):
    return [b"CLIENT", b"LIST"] + g.pick([], [], [b"TYPE", g.pick(b"normal", b"pubsub", b"master", b"bogus")])


@command("client|no-evict")
def _client_noevict(g):
    return [b"CLIENT", b"NO-EVICT", g.pick(b"on", b"off", b"maybe")]


# ---------------------------------------------------------------------------
# server-ish commands that are on main

@command("dbsize")
def _dbsize(g):
    return [b"DBSIZE"]


def flush_args(g):
    # Invalid flush modes are exercised once the keys family (which owns FLUSHDB/FLUSHALL
    # argument parsing) is enabled: main's first FLUSHALL accepted any argument.
    extra = [[b"bogus"], [b"ASYNC", b"SYNC"]] if "keys" in g.families else []
    return g.choice([[], [], [b"ASYNC"], [b"SYNC"], [b"sync"]] + extra)


@command("flushdb", weight=0.05)
def _flushdb(g):
    return [b"FLUSHDB"] + flush_args(g)


@command("flushall", weight=0.03)
def _flushall(g):
    return [b"FLUSHALL"] + flush_args(g)


@command("swapdb", weight=0.1)
def _swapdb(g):
    return [b"SWAPDB", g.db(), g.db()]


@command("info", check="info", weight=0.1)
def _info(g):
    return [b"INFO"] + g.pick([], [b"keyspace"], [b"server"], [b"memory"], [b"keyspace", b"server"], [b"bogus"])


@command("time", check="time", weight=0.1)
def _time(g):
    return [b"TIME"]


@command("lastsave", check="integer", weight=0.1)
def _lastsave(g):
    return [b"LASTSAVE"]


@command("script|kill", weight=0.05)
def _script_kill(g):
    # Nothing runs a script: -NOTBUSY, and the arity error for extra words.
    return [b"SCRIPT", b"KILL"] + maybe(g, 0.2, g.key())


@command("memory|usage", check="memory_usage", weight=0.3)
def _memory_usage(g):
    return [b"MEMORY", b"USAGE", g.key()] + maybe(g, 0.3, b"SAMPLES", g.count())


@command("debug|digest-value", weight=0.3)
def _debug_digest_value(g):
    return [b"DEBUG", b"DIGEST-VALUE"] + g.keys(0, 3)


@command("debug|object", check="debug_object", weight=0.3)
def _debug_object(g):
    return [b"DEBUG", b"OBJECT", g.key()]


# ---------------------------------------------------------------------------
# strings

def set_options(g, getex=False):
    opts = []
    if getex:
        r = g.rng.random()
        if r < 0.25:
            return []
        if r < 0.4:
            return [b"PERSIST"]
    else:
        if g.chance(0.2):
            opts.append(g.pick(b"NX", b"XX", b"nx"))
        if g.chance(0.15):
            opts.append(b"GET")
    if g.chance(0.35):
        unit = g.pick(b"EX", b"PX", b"EXAT", b"PXAT", b"ex")
        val = {b"EX": g.expire_secs, b"ex": g.expire_secs, b"PX": g.expire_ms, b"EXAT": g.expire_at_secs,
               b"PXAT": g.expire_at_ms}[unit]()
        opts += [unit, val]
    elif not getex and g.chance(0.1):
        opts.append(b"KEEPTTL")
    if g.chance(0.05):
        opts.append(g.pick(b"NX", b"XX", b"KEEPTTL", b"EX", b"bogus", b"PERSIST", b"GET"))
    g.rng.shuffle(opts) if g.chance(0.1) else None
    return opts


@command("get", weight=2)
def _get(g):
    return [b"GET", g.key()]


@command("set", weight=2)
def _set(g):
    key = g.key()
    opts = set_options(g) if g.chance(0.4) else []
    upper = [o.upper() for o in opts]
    for unit in (b"EXAT", b"PXAT"):
        if unit in upper[:-1] and opts[upper.index(unit) + 1] in (b"1",):
            # Redis 7.0 stores a key SET with a past EXAT/PXAT and drops it lazily, so
            # DBSIZE would depend on when active expiry runs: read it right away.
            g.after.append([b"GET", key])
    return [b"SET", key, g.val()] + opts


@command("setnx")
def _setnx(g):
    return [b"SETNX", g.key(), g.val()]


@command("setex")
def _setex(g):
    return [b"SETEX", g.key(), g.expire_secs(), g.val()]


@command("psetex")
def _psetex(g):
    return [b"PSETEX", g.key(), g.expire_ms(), g.val()]


@command("getset")
def _getset(g):
    return [b"GETSET", g.key(), g.val()]


@command("getdel")
def _getdel(g):
    return [b"GETDEL", g.key()]


@command("getex")
def _getex(g):
    return [b"GETEX", g.key()] + set_options(g, getex=True)


@command("append")
def _append(g):
    return [b"APPEND", g.key(), g.val()]


@command("strlen")
def _strlen(g):
    return [b"STRLEN", g.key()]


@command("incr")
def _incr(g):
    return [b"INCR", g.key()]


@command("decr")
def _decr(g):
    return [b"DECR", g.key()]


@command("incrby")
def _incrby(g):
    return [b"INCRBY", g.key(), g.int_()]


@command("decrby")
def _decrby(g):
    return [b"DECRBY", g.key(), g.int_()]


@command("incrbyfloat")
def _incrbyfloat(g):
    return [b"INCRBYFLOAT", g.key(), g.float_()]


@command("getrange")
def _getrange(g):
    return [b"GETRANGE", g.key(), g.index(), g.index()]


@command("substr")
def _substr(g):
    return [b"SUBSTR", g.key(), g.index(), g.index()]


@command("setrange")
def _setrange(g):
    off = g.pick(b"0", b"1", b"3", b"10", b"100", b"-1", b"536870912", b"abc", b"536870911")
    v = g.val()
    if off == b"536870911" and v:
        v = b""  # never allocate 512MB in both servers: an empty value only checks the key
    return [b"SETRANGE", g.key(), off, v]


@command("mget")
def _mget(g):
    return [b"MGET"] + g.keys(1, 5)


@command("mset")
def _mset(g):
    args = [b"MSET"]
    for _ in range(g.randint(1, 4)):
        args += [g.key(), g.val()]
    if g.chance(0.05):
        args.append(g.key())
    return args


@command("msetnx")
def _msetnx(g):
    args = [b"MSETNX"]
    for _ in range(g.randint(1, 3)):
        args += [g.key(), g.val()]
    if g.chance(0.05):
        args.append(g.key())
    return args


@command("lcs")
def _lcs(g):
    args = [b"LCS", g.key(), g.key()]
    if g.chance(0.3):
        args.append(b"LEN")
    if g.chance(0.4):
        args.append(b"IDX")
        if g.chance(0.5):
            args += [b"MINMATCHLEN", g.pick(b"0", b"1", b"2", b"4", b"-1", b"abc")]
        if g.chance(0.5):
            args.append(b"WITHMATCHLEN")
    if g.chance(0.05):
        args.append(b"bogus")
    return args


# ---------------------------------------------------------------------------
# bitmaps

def bit_offset(g):
    if g.chance(0.85):
        return g.b(g.randint(0, 200))
    return g.pick(b"-1", b"4294967296", b"abc", b"", b"1.5", b"4294967295x")


@command("setbit", weight=1.5)
def _setbit(g):
    return [b"SETBIT", g.key(), bit_offset(g), g.pick(b"0", b"1", b"1", b"2", b"-1", b"a")]


@command("getbit")
def _getbit(g):
    return [b"GETBIT", g.key(), bit_offset(g)]


@command("bitcount")
def _bitcount(g):
    args = [b"BITCOUNT", g.key()]
    if g.chance(0.6):
        args += [g.index(), g.index()]
        if g.chance(0.4):
            args.append(g.pick(b"BYTE", b"BIT", b"bit", b"WORD"))
    elif g.chance(0.1):
        args.append(g.index())
    return args


@command("bitpos")
def _bitpos(g):
    args = [b"BITPOS", g.key(), g.pick(b"0", b"1", b"1", b"2", b"-1")]
    if g.chance(0.6):
        args.append(g.index())
        if g.chance(0.6):
            args.append(g.index())
            if g.chance(0.4):
                args.append(g.pick(b"BYTE", b"BIT", b"bogus"))
    return args


@command("bitop")
def _bitop(g):
    op = g.pick(b"AND", b"OR", b"XOR", b"NOT", b"not", b"NAND")
    srcs = g.keys(1, 1) if op.upper() == b"NOT" and g.chance(0.8) else g.keys(1, 3)
    return [b"BITOP", op, g.key()] + srcs


def bitfield_type(g):
    if g.chance(0.9):
        return g.pick(b"i", b"u") + g.b(g.randint(1, 16) if g.chance(0.6) else g.randint(1, 64))
    return g.pick(b"u64", b"i65", b"i0", b"x8", b"u", b"")


def bitfield_offset(g):
    if g.chance(0.7):
        return g.b(g.randint(0, 100))
    return g.pick(b"#0", b"#1", b"#3", b"-1", b"abc", b"4294967296", b"#")


def bitfield_ops(g, ro=False):
    ops = []
    for _ in range(g.randint(0 if ro else 1, 4)):
        r = g.rng.random()
        if r < 0.4 or ro:
            ops += [b"GET", bitfield_type(g), bitfield_offset(g)]
        elif r < 0.7:
            ops += [b"SET", bitfield_type(g), bitfield_offset(g), g.int_()]
        elif r < 0.9:
            ops += [b"INCRBY", bitfield_type(g), bitfield_offset(g), g.int_()]
        else:
            ops += [b"OVERFLOW", g.pick(b"WRAP", b"SAT", b"FAIL", b"bogus")]
    if g.chance(0.03):
        ops.append(g.pick(b"GET", b"bogus", b"SET"))
    return ops


@command("bitfield")
def _bitfield(g):
    return [b"BITFIELD", g.key()] + bitfield_ops(g)


@command("bitfield_ro")
def _bitfield_ro(g):
    ops = bitfield_ops(g, ro=True)
    if g.chance(0.05):
        ops += [b"SET", b"u8", b"0", b"1"]
    return [b"BITFIELD_RO", g.key()] + ops


# ---------------------------------------------------------------------------
# keys (generic) and expire

@command("del", weight=0.7)
def _del(g):
    return [b"DEL"] + g.keys(1, 3)


@command("unlink", weight=0.3)
def _unlink(g):
    return [b"UNLINK"] + g.keys(1, 3)


@command("exists")
def _exists(g):
    return [b"EXISTS"] + g.keys(1, 4)


@command("type")
def _type(g):
    return [b"TYPE", g.key()]


@command("touch")
def _touch(g):
    return [b"TOUCH"] + g.keys(1, 3)


@command("rename", weight=0.5)
def _rename(g):
    return [b"RENAME", g.key(), g.key()]


@command("renamenx", weight=0.5)
def _renamenx(g):
    return [b"RENAMENX", g.key(), g.key()]


@command("copy", weight=0.5)
def _copy(g):
    args = [b"COPY", g.key(), g.key()]
    if g.chance(0.3):
        args += [b"DB", g.db()]
    if g.chance(0.4):
        args.append(b"REPLACE")
    if g.chance(0.03):
        args.append(b"bogus")
    return args


@command("move", weight=0.5)
def _move(g):
    return [b"MOVE", g.key(), g.db()]


def expire_flags(g):
    if g.chance(0.6):
        return []
    f = [g.pick(b"NX", b"XX", b"GT", b"LT", b"nx")]
    if g.chance(0.15):
        f.append(g.pick(b"NX", b"XX", b"GT", b"LT", b"bogus"))
    return f


@command("expire")
def _expire(g):
    return [b"EXPIRE", g.key(), g.expire_secs()] + expire_flags(g)


@command("pexpire")
def _pexpire(g):
    return [b"PEXPIRE", g.key(), g.expire_ms()] + expire_flags(g)


@command("expireat")
def _expireat(g):
    return [b"EXPIREAT", g.key(), g.expire_at_secs()] + expire_flags(g)


@command("pexpireat")
def _pexpireat(g):
    return [b"PEXPIREAT", g.key(), g.expire_at_ms()] + expire_flags(g)


@command("ttl", check=ttl(1))
def _ttl(g):
    return [b"TTL", g.key()]


@command("pttl", check=ttl(1500))
def _pttl(g):
    return [b"PTTL", g.key()]


@command("expiretime", check=ttl(1))
def _expiretime(g):
    return [b"EXPIRETIME", g.key()]


@command("pexpiretime", check=ttl(1500))
def _pexpiretime(g):
    return [b"PEXPIRETIME", g.key()]


@command("persist")
def _persist(g):
    return [b"PERSIST", g.key()]


@command("keys", check=UNORDERED, weight=0.5)
def _keys(g):
    return [b"KEYS", g.glob()]


@command("randomkey", check="randomkey", weight=0.5)
def _randomkey(g):
    return [b"RANDOMKEY"]


@command("scan", check="scan", weight=0.5)
def _scan(g):
    args = [b"SCAN", g.pick(b"0", b"0", b"1", b"7", b"abc", b"-1", b"18446744073709551615", b"18446744073709551616")]
    if g.chance(0.4):
        args += [b"MATCH", g.glob()]
    if g.chance(0.4):
        args += [b"COUNT", g.pick(b"1", b"2", b"10", b"1000", b"0", b"-1", b"abc")]
    if g.chance(0.3):
        args += [b"TYPE", g.pick(b"string", b"list", b"set", b"zset", b"hash", b"stream", b"bogus")]
    return args


@command("dump", check="dump", weight=0.5)
def _dump(g):
    return [b"DUMP", g.key()]


# Payloads come from the real redis-server at start-up (see difftest.Runner.prepare_dumps).
DUMP_PAYLOADS = [b"bogus payload"]


@command("restore", weight=0.5)
def _restore(g):
    args = [b"RESTORE", g.key(), g.pick(b"0", b"0", b"190000000", b"-1", b"abc"), g.choice(DUMP_PAYLOADS)]
    if g.chance(0.4):
        args.append(b"REPLACE")
    if g.chance(0.2):
        args.append(b"ABSTTL")
    if g.chance(0.2):
        args += [g.pick(b"IDLETIME", b"FREQ"), g.pick(b"0", b"10", b"-1", b"256", b"abc")]
    return args


def sort_args(g, ro=False):
    args = []
    if g.chance(0.3):
        args += [b"BY", g.pick(b"nosort", b"w_*", b"k*", b"h*->f", b"nokey")]
    if g.chance(0.3):
        args += [b"LIMIT", g.index(), g.index()]
    for _ in range(g.randint(0, 2) if g.chance(0.3) else 0):
        args += [b"GET", g.pick(b"#", b"k*", b"s*", b"h*->m1", b"nokey*")]
    if g.chance(0.4):
        args.append(g.pick(b"ASC", b"DESC"))
    if g.chance(0.5):
        args.append(b"ALPHA")
    by_pattern = b"BY" in args and b"*" in args[args.index(b"BY") + 1]
    # ALPHA with BY <pattern> leaves ties (missing/equal weights) in an unspecified order:
    # never STORE such a result, it would make the datasets diverge.
    if not ro and g.chance(0.2) and not (by_pattern and b"ALPHA" in args):
        args += [b"STORE", g.key()]
    if g.chance(0.03):
        args.append(b"bogus")
    return args


def sort_order_unspecified(argv):
    """SORT orders ties deterministically (numeric ties by the element bytes), except
    ALPHA with BY <pattern>, and BY nosort on a set."""
    low = [a.lower() for a in argv]
    if b"by" in low[:-1]:
        pat = low[low.index(b"by") + 1]
        # A BY pattern without '*' means "do not sort" (like nosort).
        return b"*" not in pat or b"alpha" in low
    return False


@command("sort", check="sort")
def _sort(g):
    return [b"SORT", g.key()] + sort_args(g)


@command("sort_ro", check="sort")
def _sort_ro(g):
    args = sort_args(g, ro=True)
    if g.chance(0.03):
        args += [b"STORE", g.key()]
    return [b"SORT_RO", g.key()] + args


@command("object|encoding")
def _object_encoding(g):
    return [b"OBJECT", b"ENCODING", g.key()]


@command("object|refcount")
def _object_refcount(g):
    return [b"OBJECT", b"REFCOUNT", g.key()]


@command("object|idletime", check=ttl(2))
def _object_idletime(g):
    return [b"OBJECT", b"IDLETIME", g.key()]


@command("object|freq")
def _object_freq(g):
    return [b"OBJECT", b"FREQ", g.key()]


@command("object|help", weight=0.1)
def _object_help(g):
    return [b"OBJECT", b"HELP"]


@command("wait", weight=0.2)
def _wait(g):
    # There are no replicas: a positive count with timeout 0 would block forever.
    n = g.pick(b"0", b"0", b"-1", b"abc", b"1")
    return [b"WAIT", n, g.pick(b"1", b"2", b"-1", b"abc") if n == b"1" else g.pick(b"0", b"1", b"-1", b"abc")]


@command("migrate", weight=0.1)
def _migrate(g):
    # Only forms that never open a connection: missing keys (NOKEY) and syntax errors.
    args = [b"MIGRATE", b"127.0.0.1", b"1"]
    if g.chance(0.5):
        args += [b"nokey:x", b"0", b"100"]
    else:
        args += [b"", b"0", b"100", b"KEYS", b"nokey:a", b"nokey:b"]
    if g.chance(0.3):
        args.append(g.pick(b"COPY", b"REPLACE", b"AUTH", b"bogus"))
    return args


# ---------------------------------------------------------------------------
# lists

def lr(g):
    return g.pick(b"LEFT", b"RIGHT", b"left", b"MIDDLE") if g.chance(0.03) else g.pick(b"LEFT", b"RIGHT")


@command("lpush", weight=1.5)
def _lpush(g):
    return [b"LPUSH", g.key()] + g.members(1, 20 if g.chance(0.1) else 4)


@command("rpush", weight=1.5)
def _rpush(g):
    return [b"RPUSH", g.key()] + g.members(1, 20 if g.chance(0.1) else 4)


@command("lpushx")
def _lpushx(g):
    return [b"LPUSHX", g.key()] + g.members(1, 3)


@command("rpushx")
def _rpushx(g):
    return [b"RPUSHX", g.key()] + g.members(1, 3)


@command("lpop")
def _lpop(g):
    return [b"LPOP", g.key()] + maybe(g, 0.4, g.count())


@command("rpop")
def _rpop(g):
    return [b"RPOP", g.key()] + maybe(g, 0.4, g.count())


@command("llen")
def _llen(g):
    return [b"LLEN", g.key()]


@command("lindex")
def _lindex(g):
    return [b"LINDEX", g.key(), g.index()]


@command("lset")
def _lset(g):
    return [b"LSET", g.key(), g.index(), g.member()]


@command("linsert")
def _linsert(g):
    return [b"LINSERT", g.key(), g.pick(b"BEFORE", b"AFTER", b"after", b"MIDDLE"), g.member(), g.member()]


@command("lrange", weight=1.5)
def _lrange(g):
    return [b"LRANGE", g.key(), g.index(), g.index()]


@command("ltrim")
def _ltrim(g):
    return [b"LTRIM", g.key(), g.index(), g.index()]


@command("lrem")
def _lrem(g):
    return [b"LREM", g.key(), g.pick(b"0", b"1", b"-1", b"2", b"-2", b"abc"), g.member()]


@command("lpos")
def _lpos(g):
    args = [b"LPOS", g.key(), g.member()]
    if g.chance(0.3):
        args += [b"RANK", g.pick(b"1", b"-1", b"2", b"-2", b"0", b"abc", b"-9223372036854775808")]
    if g.chance(0.3):
        args += [b"COUNT", g.pick(b"0", b"1", b"2", b"-1", b"abc")]
    if g.chance(0.2):
        args += [b"MAXLEN", g.pick(b"0", b"1", b"3", b"-1")]
    if g.chance(0.03):
        args.append(b"bogus")
    return args


@command("lmove")
def _lmove(g):
    return [b"LMOVE", g.key(), g.key(), lr(g), lr(g)]


@command("rpoplpush")
def _rpoplpush(g):
    return [b"RPOPLPUSH", g.key(), g.key()]


def mpop_keys(g):
    ks = g.keys(1, 3)
    n = g.b(len(ks)) if g.chance(0.9) else g.pick(b"0", b"-1", b"5", b"abc")
    return [n] + ks


@command("lmpop")
def _lmpop(g):
    return [b"LMPOP"] + mpop_keys(g) + [lr(g)] + maybe(g, 0.4, b"COUNT", g.count())


@command("blpop", weight=0.5)
def _blpop(g):
    return [b"BLPOP"] + g.keys(1, 3) + [g.timeout()]


@command("brpop", weight=0.5)
def _brpop(g):
    return [b"BRPOP"] + g.keys(1, 3) + [g.timeout()]


@command("brpoplpush", weight=0.3)
def _brpoplpush(g):
    return [b"BRPOPLPUSH", g.key(), g.key(), g.timeout()]


@command("blmove", weight=0.3)
def _blmove(g):
    return [b"BLMOVE", g.key(), g.key(), lr(g), lr(g), g.timeout()]


@command("blmpop", weight=0.3)
def _blmpop(g):
    return [b"BLMPOP", g.timeout()] + mpop_keys(g) + [lr(g)] + maybe(g, 0.4, b"COUNT", g.count())


# ---------------------------------------------------------------------------
# hashes

def field(g):
    return g.member()


@command("hset", weight=1.5)
def _hset(g):
    args = [b"HSET", g.key()]
    for _ in range(g.randint(1, 12 if g.chance(0.1) else 3)):
        args += [field(g), g.val()]
    if g.chance(0.03):
        args.append(field(g))
    return args


@command("hmset")
def _hmset(g):
    args = [b"HMSET", g.key()]
    for _ in range(g.randint(1, 3)):
        args += [field(g), g.val()]
    return args


@command("hsetnx")
def _hsetnx(g):
    return [b"HSETNX", g.key(), field(g), g.val()]


@command("hget", weight=1.5)
def _hget(g):
    return [b"HGET", g.key(), field(g)]


@command("hmget")
def _hmget(g):
    return [b"HMGET", g.key()] + g.members(1, 4)


@command("hdel")
def _hdel(g):
    return [b"HDEL", g.key()] + g.members(1, 3)


@command("hlen")
def _hlen(g):
    return [b"HLEN", g.key()]


@command("hstrlen")
def _hstrlen(g):
    return [b"HSTRLEN", g.key(), field(g)]


@command("hexists")
def _hexists(g):
    return [b"HEXISTS", g.key(), field(g)]


@command("hkeys", check=ordered_by_encoding(1))
def _hkeys(g):
    return [b"HKEYS", g.key()]


@command("hvals", check=ordered_by_encoding(1))
def _hvals(g):
    return [b"HVALS", g.key()]


@command("hgetall", check=ordered_by_encoding(2))
def _hgetall(g):
    return [b"HGETALL", g.key()]


@command("hincrby")
def _hincrby(g):
    return [b"HINCRBY", g.key(), field(g), g.int_()]


@command("hincrbyfloat")
def _hincrbyfloat(g):
    return [b"HINCRBYFLOAT", g.key(), field(g), g.float_()]


@command("hrandfield", check="hrandfield")
def _hrandfield(g):
    args = [b"HRANDFIELD", g.key()]
    if g.chance(0.7):
        args.append(g.rand_count())
        if g.chance(0.5):
            args.append(b"WITHVALUES")
    return args


@command("hscan", check="hscan")
def _hscan(g):
    return [b"HSCAN", g.key()] + scan_tail(g)


def scan_tail(g):
    args = [g.pick(b"0", b"0", b"0", b"1", b"abc", b"-1")]
    if g.chance(0.4):
        args += [b"MATCH", g.pick(b"*", b"m*", b"*1*", b"[ab]", b"?", b"1*")]
    if g.chance(0.4):
        args += [b"COUNT", g.pick(b"1", b"2", b"10", b"1000", b"0", b"-1", b"abc")]
    if g.chance(0.03):
        args.append(b"bogus")
    return args


# ---------------------------------------------------------------------------
# sets

@command("sadd", weight=1.5)
def _sadd(g):
    ms = g.members(1, 20 if g.chance(0.1) else 4)
    if g.chance(0.3):
        ms = [g.choice(INT_MEMBERS) for _ in ms]
    return [b"SADD", g.key()] + ms


@command("srem")
def _srem(g):
    return [b"SREM", g.key()] + g.members(1, 3)


@command("scard")
def _scard(g):
    return [b"SCARD", g.key()]


@command("sismember")
def _sismember(g):
    return [b"SISMEMBER", g.key(), g.member()]


@command("smismember")
def _smismember(g):
    return [b"SMISMEMBER", g.key()] + g.members(1, 4)


@command("smembers", check=ordered_by_encoding(1))
def _smembers(g):
    return [b"SMEMBERS", g.key()]


@command("smove")
def _smove(g):
    return [b"SMOVE", g.key(), g.key(), g.member()]


@command("spop", check="spop")
def _spop(g):
    return [b"SPOP", g.key()] + maybe(g, 0.5, g.rand_count())


@command("srandmember", check="srandmember")
def _srandmember(g):
    return [b"SRANDMEMBER", g.key()] + maybe(g, 0.7, g.rand_count())


@command("sinter", check=UNORDERED)
def _sinter(g):
    return [b"SINTER"] + g.keys(1, 3)


@command("sunion", check=UNORDERED)
def _sunion(g):
    return [b"SUNION"] + g.keys(1, 3)


@command("sdiff", check=UNORDERED)
def _sdiff(g):
    return [b"SDIFF"] + g.keys(1, 3)


@command("sinterstore")
def _sinterstore(g):
    return [b"SINTERSTORE", g.key()] + g.keys(1, 3)


@command("sunionstore")
def _sunionstore(g):
    return [b"SUNIONSTORE", g.key()] + g.keys(1, 3)


@command("sdiffstore")
def _sdiffstore(g):
    return [b"SDIFFSTORE", g.key()] + g.keys(1, 3)


@command("sintercard")
def _sintercard(g):
    return [b"SINTERCARD"] + mpop_keys(g) + maybe(g, 0.4, b"LIMIT", g.count())


@command("sscan", check="sscan")
def _sscan(g):
    return [b"SSCAN", g.key()] + scan_tail(g)


# ---------------------------------------------------------------------------
# sorted sets

def score(g):
    if g.chance(0.7):
        return g.b(g.randint(-5, 10))
    if g.chance(0.35):
        # Infinite scores meet weights of 0 in ZUNION/ZINTER (inf x 0 is NaN: Redis's rules).
        return g.pick(b"inf", b"-inf")
    return g.choice(EDGE_FLOATS)


def score_bound(g):
    return g.pick(b"-inf", b"+inf", b"inf", b"0", b"(1", b"1", b"5", b"(5", b"10.5", b"-3", b"(-3",
                  b"abc", b"(", b"nan", b"3", b"(inf")


def lex_bound(g):
    return g.pick(b"-", b"+", b"[a", b"(a", b"[m3", b"(m5", b"[1", b"(c", b"a", b"[", b"(", b"[m0", b"+", b"-")


@command("zadd", weight=2)
def _zadd(g):
    args = [b"ZADD", g.key()]
    if g.chance(0.3):
        args += g.rng.sample([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"], g.randint(1, 2))
    for _ in range(g.randint(1, 20 if g.chance(0.1) else 3)):
        args += [score(g), g.member()]
    if g.chance(0.03):
        args.append(score(g))
    return args


@command("zincrby")
def _zincrby(g):
    return [b"ZINCRBY", g.key(), score(g), g.member()]


@command("zcard")
def _zcard(g):
    return [b"ZCARD", g.key()]


@command("zcount")
def _zcount(g):
    return [b"ZCOUNT", g.key(), score_bound(g), score_bound(g)]


def lex_key(g):
    """Keys used by lex-range commands. Their members all have score 0 (ZADD below), since
    Redis documents lex ranges over mixed scores as unspecified."""
    return b"zl%d" % g.rng.randrange(3)


def lex_fill(g):
    """Sometimes the lex generators fill a lex key instead (all members at score 0)."""
    if g.rng.random() < 0.35:
        args = [b"ZADD", lex_key(g)]
        for m in g.members():
            args += [b"0", m]
        return args
    return None


@command("zlexcount")
def _zlexcount(g):
    fill = lex_fill(g)
    if fill:
        return fill
    return [b"ZLEXCOUNT", lex_key(g), lex_bound(g), lex_bound(g)]


@command("zscore")
def _zscore(g):
    return [b"ZSCORE", g.key(), g.member()]


@command("zmscore")
def _zmscore(g):
    return [b"ZMSCORE", g.key()] + g.members(1, 4)


@command("zrank")
def _zrank(g):
    return [b"ZRANK", g.key(), g.member()]


@command("zrevrank")
def _zrevrank(g):
    return [b"ZREVRANK", g.key(), g.member()]


@command("zrem")
def _zrem(g):
    return [b"ZREM", g.key()] + g.members(1, 3)


def limit(g, p=0.3):
    return [b"LIMIT", g.index(), g.index()] if g.chance(p) else []


@command("zrange", weight=2)
def _zrange(g):
    mode = g.rng.random()
    if mode < 0.5:
        args = [b"ZRANGE", g.key(), g.index(), g.index()]
    elif mode < 0.8:
        args = [b"ZRANGE", g.key(), score_bound(g), score_bound(g), b"BYSCORE"]
    else:
        args = [b"ZRANGE", lex_key(g), lex_bound(g), lex_bound(g), b"BYLEX"]
    if g.chance(0.3):
        args.append(b"REV")
    args += limit(g, 0.3 if mode >= 0.5 else 0.05)
    if g.chance(0.4):
        args.append(b"WITHSCORES")
    return args


@command("zrangestore")
def _zrangestore(g):
    return [b"ZRANGESTORE", g.key()] + _zrange(g)[1:]


@command("zrangebyscore")
def _zrangebyscore(g):
    return [b"ZRANGEBYSCORE", g.key(), score_bound(g), score_bound(g)] + maybe(g, 0.4, b"WITHSCORES") + limit(g)


@command("zrevrangebyscore")
def _zrevrangebyscore(g):
    return [b"ZREVRANGEBYSCORE", g.key(), score_bound(g), score_bound(g)] + maybe(g, 0.4, b"WITHSCORES") + limit(g)


@command("zrangebylex")
def _zrangebylex(g):
    fill = lex_fill(g)
    if fill:
        return fill
    return [b"ZRANGEBYLEX", lex_key(g), lex_bound(g), lex_bound(g)] + limit(g)


@command("zrevrangebylex")
def _zrevrangebylex(g):
    fill = lex_fill(g)
    if fill:
        return fill
    return [b"ZREVRANGEBYLEX", lex_key(g), lex_bound(g), lex_bound(g)] + limit(g)


@command("zrevrange")
def _zrevrange(g):
    return [b"ZREVRANGE", g.key(), g.index(), g.index()] + maybe(g, 0.4, b"WITHSCORES")


@command("zremrangebyrank")
def _zremrangebyrank(g):
    return [b"ZREMRANGEBYRANK", g.key(), g.index(), g.index()]


@command("zremrangebyscore")
def _zremrangebyscore(g):
    return [b"ZREMRANGEBYSCORE", g.key(), score_bound(g), score_bound(g)]


@command("zremrangebylex")
def _zremrangebylex(g):
    fill = lex_fill(g)
    if fill:
        return fill
    return [b"ZREMRANGEBYLEX", lex_key(g), lex_bound(g), lex_bound(g)]


@command("zpopmin")
def _zpopmin(g):
    return [b"ZPOPMIN", g.key()] + maybe(g, 0.5, g.count())


@command("zpopmax")
def _zpopmax(g):
    return [b"ZPOPMAX", g.key()] + maybe(g, 0.5, g.count())


@command("bzpopmin", weight=0.5)
def _bzpopmin(g):
    return [b"BZPOPMIN"] + g.keys(1, 3) + [g.timeout()]


@command("bzpopmax", weight=0.5)
def _bzpopmax(g):
    return [b"BZPOPMAX"] + g.keys(1, 3) + [g.timeout()]


@command("zmpop")
def _zmpop(g):
    return [b"ZMPOP"] + mpop_keys(g) + [g.pick(b"MIN", b"MAX", b"min", b"MID")] + maybe(g, 0.4, b"COUNT", g.count())


@command("bzmpop", weight=0.5)
def _bzmpop(g):
    return [b"BZMPOP", g.timeout()] + mpop_keys(g) + [g.pick(b"MIN", b"MAX")] + maybe(g, 0.4, b"COUNT", g.count())


def zsetop_tail(g, n, withscores=True):
    args = []
    if g.chance(0.3):
        args += [b"WEIGHTS"] + [g.pick(b"1", b"2", b"-1", b"0.5", b"0", b"0", b"inf", b"-inf", b"abc") for _ in range(n)]
    if g.chance(0.3):
        args += [b"AGGREGATE", g.pick(b"SUM", b"MIN", b"MAX", b"bogus")]
    if withscores and g.chance(0.4):
        args.append(b"WITHSCORES")
    return args


@command("zunion")
def _zunion(g):
    ks = g.keys(1, 3)
    return [b"ZUNION", g.b(len(ks))] + ks + zsetop_tail(g, len(ks))


@command("zinter")
def _zinter(g):
    ks = g.keys(1, 3)
    return [b"ZINTER", g.b(len(ks))] + ks + zsetop_tail(g, len(ks))


@command("zdiff")
def _zdiff(g):
    ks = g.keys(1, 3)
    return [b"ZDIFF", g.b(len(ks)) if g.chance(0.95) else b"0"] + ks + maybe(g, 0.4, b"WITHSCORES")


@command("zunionstore")
def _zunionstore(g):
    ks = g.keys(1, 3)
    return [b"ZUNIONSTORE", g.key(), g.b(len(ks))] + ks + zsetop_tail(g, len(ks), withscores=False)


@command("zinterstore")
def _zinterstore(g):
    ks = g.keys(1, 3)
    return [b"ZINTERSTORE", g.key(), g.b(len(ks))] + ks + zsetop_tail(g, len(ks), withscores=False)


@command("zdiffstore")
def _zdiffstore(g):
    ks = g.keys(1, 3)
    return [b"ZDIFFSTORE", g.key(), g.b(len(ks))] + ks


@command("zintercard")
def _zintercard(g):
    return [b"ZINTERCARD"] + mpop_keys(g) + maybe(g, 0.4, b"LIMIT", g.count())


@command("zrandmember", check="zrandmember")
def _zrandmember(g):
    args = [b"ZRANDMEMBER", g.key()]
    if g.chance(0.7):
        args.append(g.rand_count())
        if g.chance(0.5):
            args.append(b"WITHSCORES")
    return args


@command("zscan", check="zscan")
def _zscan(g):
    return [b"ZSCAN", g.key()] + scan_tail(g)


# ---------------------------------------------------------------------------
# hyperloglog

@command("pfadd", weight=1.5)
def _pfadd(g):
    return [b"PFADD", g.key()] + g.members(0, 6)


@command("pfcount")
def _pfcount(g):
    return [b"PFCOUNT"] + g.keys(1, 3)


@command("pfmerge")
def _pfmerge(g):
    return [b"PFMERGE", g.key()] + g.keys(0, 3)


@command("pfdebug", weight=0.3)
def _pfdebug(g):
    return [b"PFDEBUG", g.pick(b"ENCODING", b"GETREG", b"TODENSE", b"DECODE", b"bogus"), g.key()]


@command("pfselftest", weight=0.01)
def _pfselftest(g):
    return [b"PFSELFTEST"]


# ---------------------------------------------------------------------------
# transactions (plain forms; MULTI blocks are a scenario, see difftest.py)

@command("watch", weight=0.3)
def _watch(g):
    return [b"WATCH"] + g.keys(1, 3)


@command("unwatch", weight=0.2)
def _unwatch(g):
    return [b"UNWATCH"]


@command("exec", weight=0.1)
def _exec(g):
    return [b"EXEC"]


@command("discard", weight=0.1)
def _discard(g):
    return [b"DISCARD"]


# ---------------------------------------------------------------------------
# pubsub (plain forms; subscriptions are a scenario, see difftest.py)

CHANNELS = [b"ch1", b"ch2", b"news.a", b"news.b", b"x"]
PATTERNS = [b"ch*", b"news.*", b"*", b"n?ws.a", b"[xy]"]


@command("publish")
def _publish(g):
    return [b"PUBLISH", g.choice(CHANNELS), g.val()]


@command("spublish")
def _spublish(g):
    return [b"SPUBLISH", g.choice(CHANNELS), g.val()]


@command("pubsub|channels", check=UNORDERED)
def _pubsub_channels(g):
    return [b"PUBSUB", b"CHANNELS"] + maybe(g, 0.5, g.choice(PATTERNS))


@command("pubsub|numsub")
def _pubsub_numsub(g):
    return [b"PUBSUB", b"NUMSUB"] + [g.choice(CHANNELS) for _ in range(g.randint(0, 3))]


@command("pubsub|numpat")
def _pubsub_numpat(g):
    return [b"PUBSUB", b"NUMPAT"]


@command("pubsub|shardchannels", check=UNORDERED)
def _pubsub_shardchannels(g):
    return [b"PUBSUB", b"SHARDCHANNELS"] + maybe(g, 0.5, g.choice(PATTERNS))


@command("pubsub|shardnumsub")
def _pubsub_shardnumsub(g):
    return [b"PUBSUB", b"SHARDNUMSUB"] + [g.choice(CHANNELS) for _ in range(g.randint(0, 3))]


# ---------------------------------------------------------------------------
# Families: the explicit command lists. A family is enabled by default when the server
# under test registers every command in it (see difftest.registered_commands).

FAMILIES = {
    # What main has today; every other family builds on it.
    "core": ["get", "set", "del", "ping", "echo", "select", "hello", "flushall", "flushdb", "dbsize", "quit"],
    "connection": ["ping", "echo", "select", "hello", "quit", "reset", "auth", "client|id", "client|getname",
                   "client|setname", "client|info", "client|list", "client|no-evict"],
    "strings": ["get", "set", "setnx", "setex", "psetex", "getset", "getdel", "getex", "append", "strlen", "incr",
                "decr", "incrby", "decrby", "incrbyfloat", "getrange", "substr", "setrange", "mget", "mset",
                "msetnx", "lcs"],
    "bitmaps": ["setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro"],
    "keys": ["del", "unlink", "exists", "type", "touch", "rename", "renamenx", "copy", "move", "expire", "pexpire",
             "expireat", "pexpireat", "ttl", "pttl", "expiretime", "pexpiretime", "persist", "keys", "randomkey",
             "scan", "sort", "sort_ro", "object|encoding", "object|refcount", "object|idletime", "object|freq",
             "object|help"],
    # Split from "keys" so that keys is enabled (auto mode) before these exist in Tern.
    "dump": ["dump", "restore", "migrate"],
    "lists": ["lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lindex", "lset", "linsert", "lrange",
              "ltrim", "lrem", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop", "brpoplpush", "blmove",
              "blmpop"],
    "hashes": ["hset", "hmset", "hsetnx", "hget", "hmget", "hdel", "hlen", "hstrlen", "hexists", "hkeys", "hvals",
               "hgetall", "hincrby", "hincrbyfloat", "hrandfield", "hscan"],
    "sets": ["sadd", "srem", "scard", "sismember", "smismember", "smembers", "smove", "spop", "srandmember",
             "sinter", "sunion", "sdiff", "sinterstore", "sunionstore", "sdiffstore", "sintercard", "sscan"],
    "zsets": ["zadd", "zincrby", "zcard", "zcount", "zlexcount", "zscore", "zmscore", "zrank", "zrevrank", "zrem",
              "zrange", "zrangestore", "zrangebyscore", "zrevrangebyscore", "zrangebylex", "zrevrangebylex",
              "zrevrange", "zremrangebyrank", "zremrangebyscore", "zremrangebylex", "zpopmin", "zpopmax",
              "bzpopmin", "bzpopmax", "zmpop", "bzmpop", "zunion", "zinter", "zdiff", "zunionstore",
              "zinterstore", "zdiffstore", "zintercard", "zrandmember", "zscan"],
    "hll": ["pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"],
    "transactions": ["multi", "exec", "discard", "watch", "unwatch"],
    "pubsub": ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "publish",
               "spublish", "pubsub|channels", "pubsub|numsub", "pubsub|numpat", "pubsub|shardchannels",
               "pubsub|shardnumsub"],
    "server": ["dbsize", "flushdb", "flushall", "swapdb", "info", "time", "lastsave", "script|kill"],
    "replication": ["wait"],
    "memory": ["memory|usage"],
    "debug": ["debug|digest-value", "debug|object"],
}

# Commands that are only run inside scenarios (difftest.py), not as single random commands.
SCENARIO_ONLY = {"multi", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"}


def check_tables():
    """Every family command has a generator or is scenario-only."""
    missing = [c for cs in FAMILIES.values() for c in cs if c not in SPECS and c not in SCENARIO_ONLY]
    if missing:
        raise AssertionError("commands without generator: %s" % missing)


check_tables()
