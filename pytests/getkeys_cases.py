"""Concrete calls for COMMAND GETKEYS / GETKEYSANDFLAGS, generated from a server's own
COMMAND INFO and COMMAND DOCS: for every command and subcommand that has keys (key specs
or movablekeys), a minimal call, a call with every optional argument, one call per
optional argument, wrong arities, and for the commands with a get-keys function
(numkeys, SORT, MIGRATE, GEORADIUS, XREAD, SET, BITFIELD) the variants their parsers
care about (bad counts, STORE, KEYS ...). Commands without keys, unknown commands and
unknown subcommands get one call each (their errors).

Used by pytests/integration/test_getkeys.py (Tern against redis-server) and by
tools/record_getkeys_cases.py (expected replies for the unit tests)."""
from resp_wire import ValueConn


def _text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, list):
        return [_text(x) for x in v]
    if isinstance(v, dict):
        return {_text(k): _text(x) for k, x in v.items()}
    return v


def fetch_catalog(port):
    """{full name: (info list, docs dict)} for every command and subcommand of the server."""
    c = ValueConn(port, 3)
    try:
        info = _text(c.val("COMMAND", "INFO"))
        docs = _text(c.val("COMMAND", "DOCS"))
    finally:
        c.close()
    out = {}

    def add(entry, doc):
        out[entry[0]] = (entry, doc or {})
        subdocs = (doc or {}).get("subcommands", {})
        for sub in entry[9]:
            add(sub, subdocs.get(sub[0], {}))

    for entry in info:
        add(entry, docs.get(entry[0], {}))
    return out


def has_keys(entry):
    flags, specs = entry[2], entry[8]
    return "movablekeys" in flags or any("not_key" not in s["flags"] for s in specs) or \
        entry[0] in ("set", "bitfield")


class _Gen:
    """Argument values from COMMAND DOCS: keys k1, k2 ..., a value per type."""

    def __init__(self):
        self.keys = 0

    def value(self, arg, full):
        t = arg["type"]
        if t == "key":
            self.keys += 1
            return ["k%d" % self.keys]
        if t == "pure-token":
            return []
        if t == "oneof":
            subs = arg["arguments"]
            return self.one(subs[-1] if full else subs[0], full)
        if t == "block":
            return self.args(arg["arguments"], full, required_only=not full)
        return {"integer": ["1"], "double": ["1.5"], "unix-time": ["100"], "pattern": ["*"]}.get(t, ["s"])

    def one(self, arg, full):
        out = [arg["token"]] if arg.get("token") else []
        return out + self.value(arg, full)

    def args(self, arguments, full, required_only=False, extra=None):
        out = []
        i = 0
        while i < len(arguments):
            arg = arguments[i]
            flags = arg.get("flags", [])
            if "optional" in flags and required_only and arg is not extra:
                i += 1
                continue
            nxt = arguments[i + 1] if i + 1 < len(arguments) else None
            # A key count right before the keys it counts: count what was generated.
            if arg["name"] == "numkeys" and nxt is not None and nxt["type"] == "key":
                before = self.keys
                keys = self.repeated(nxt, full)
                out += [str(self.keys - before)] + keys
                i += 2
                continue
            out += self.repeated(arg, full)
            i += 1
        return out

    def repeated(self, arg, full):
        flags = arg.get("flags", [])
        times = 2 if "multiple" in flags and full else 1
        out = []
        for n in range(times):
            if arg.get("token") and (n == 0 or "multiple_token" in flags):
                out.append(arg["token"])
            out += self.value(arg, full)
        return out


def _optionals(arguments):
    for arg in arguments:
        if "optional" in arg.get("flags", []):
            yield arg


def _name_argv(full):
    return full.split("|")


def calls_for(full, entry, doc):
    """The calls (lists of str) that exercise one command's key finder."""
    base = _name_argv(full)
    arguments = doc.get("arguments", [])
    calls = []
    calls.append(base + _Gen().args(arguments, False, required_only=True))
    calls.append(base + _Gen().args(arguments, True))
    for opt in _optionals(arguments):
        calls.append(base + _Gen().args(arguments, False, required_only=True, extra=opt))
    # Wrong arities: one argument short, and one too many for fixed-arity commands.
    arity = int(entry[1])
    minimal = calls[0]
    if len(minimal) > len(base):
        calls.append(minimal[:-1])
    if arity > 0:
        calls.append(minimal + ["extra"])
    calls += _special(full, entry, minimal)
    seen, out = set(), []
    for c in calls:
        t = tuple(c)
        if t not in seen:
            seen.add(t)
            out.append(c)
    return out


# Counts that strict (string2ll) and lenient (atoi) parsers read differently.
ODD_COUNTS = ["0", "-1", "9", "2x", "1.0", " 1", "+1", "01", "1e0", "4294967297", "4294967297x",
              "-4294967295", "9223372036854775807", "-9223372036854775808", "99999999999999999999",
              "4611686018427387904", "abc", ""]


def _special(full, entry, minimal):
    """Variants for key counts and for the commands with a get-keys function."""
    out = []
    specs = entry[8]
    for s in specs:
        if s["find_keys"]["type"] != "keynum" or s["begin_search"]["type"] != "index":
            continue
        index = int(s["begin_search"]["spec"]["index"])
        at = index + int(s["find_keys"]["spec"]["keynumidx"])
        first = index + int(s["find_keys"]["spec"]["firstkey"])
        if at >= len(minimal):
            continue
        head, tail = minimal[:at], minimal[at + 1:]
        keys_and_rest = ["a", "b"] + tail[1:] if first == at + 1 else tail
        for n in ODD_COUNTS:
            out.append(head + [n] + keys_and_rest)
        out.append(head + ["2", "a", "b"] + tail[1:])
        out.append(head + ["3", "a", "b"])
    name = full
    if name == "sort":
        for extra in (["store", "x"], ["store", "x", "store", "y"], ["limit", "0", "1", "store", "x"],
                      ["get", "store", "by"], ["store"], ["by", "w", "get", "#", "store", "dst"],
                      ["store", "get", "store", "y"], ["STORE", "limit", "store", "z"], ["store\0x", "d"],
                      ["by", "store", "x"], ["limit", "store", "x", "store", "y"], ["asc", "alpha", "store", "s"]):
            out.append(["sort", "k"] + extra)
    if name == "sort_ro":
        out += [["sort_ro", "k", "store", "x"], ["sort_ro", "k", "by", "x", "get", "#"]]
    if name == "migrate":
        for argv in (["h", "p", "k", "0", "5"], ["h", "p", "", "0", "5", "keys", "a", "b"],
                     ["h", "p", "k", "0", "5", "keys", "a"], ["h", "p", "", "0", "5"],
                     ["h", "p", "", "0", "5", "KEYS"], ["h", "p", "", "0", "5", "auth", "keys", "x", "keys", "a"],
                     ["h", "p", "", "0", "5", "auth2", "u", "keys", "keys", "a", "b"],
                     ["h", "p", "", "0", "5", "copy", "replace", "keys", "a"],
                     ["keys", "p", "", "0", "5", "x"], ["h", "keys", "", "0", "5", "a", "b"],
                     ["h", "p", "", "0", "keys", "a", "b"], ["h", "p", "", "0", "5", "x", "keys", "a"]):
            out.append(["migrate"] + argv)
    if name in ("georadius", "georadiusbymember"):
        head = ["georadius", "k", "1", "2", "3", "m"] if name == "georadius" else ["georadiusbymember", "k", "m", "3", "km"]
        for extra in (["store"], ["store", "s"], ["store", "s", "storedist", "t"], ["store", "s", "store", "t"],
                      ["storedist", "d"], ["storedist", "d", "store"], ["withdist", "store", "s", "count", "3"],
                      ["store", "storedist"], ["STORE", "x", "storedist"]):
            out.append(head + extra)
    if name in ("xread", "xreadgroup"):
        head = ["xread"] if name == "xread" else ["xreadgroup", "group", "g", "c"]
        for extra in (["streams", "a", "b"], ["streams", "a", "b", "1"], ["count", "1", "streams", "a"],
                      ["count", "5", "block", "0", "streams", "s1", "s2", "0", "0"],
                      ["streams", "x", "streams", "a", "b"], ["noack", "streams", "a", "b"],
                      ["block", "streams", "streams", "a", "b"], ["count", "1", "streams"],
                      ["streams", "s1", "s2", "s3", "1", "2", "3"], ["foo", "streams", "a", "b"]):
            out.append(head + extra)
    if name == "set":
        for extra in (["get"], ["nx", "get"], ["GET", "ex", "1"], ["getx"], ["get\0x"], ["ex", "get"]):
            out.append(["set", "a", "b"] + extra)
    if name == "bitfield":
        for extra in (["get", "u8", "0"], ["set", "u8", "0", "1"], ["incrby", "u8", "0", "1"],
                      ["overflow", "wrap", "get", "u8", "0"], ["get", "u8"], ["overflow"], [],
                      ["get", "u8", "0", "overflow", "sat"], ["foo"]):
            out.append(["bitfield", "k"] + extra)
    return out


def generate(catalog):
    """Every case: (argv list of str) for COMMAND GETKEYS[ANDFLAGS] <argv>."""
    cases = []
    for full in sorted(catalog):
        entry, doc = catalog[full]
        if entry[9]:
            # A container: the bare name and an unknown subcommand are invalid commands.
            cases.append([full])
            cases.append([full, "nosuchsub", "x"])
            continue
        if has_keys(entry):
            cases += calls_for(full, entry, doc)
        else:
            cases.append(_name_argv(full) + _Gen().args(doc.get("arguments", []), False, required_only=True))
    cases += [["nosuchcommand", "a"], ["get"], ["GET", "a"], ["Object", "ENCODING", "k"]]
    return cases
