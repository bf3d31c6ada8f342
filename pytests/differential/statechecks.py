"""State checks of the differential test: what a user or a tool can observe besides the
replies. difftest.Runner calls StateChecks.after_step() after every step (a pipelined batch
or a scenario) and the config rounds after the main loop.

- dirty: the delta of INFO persistence `rdb_changes_since_last_save` (the counter that
  drives save points) over the step, equal on both servers.
- stats: the deltas of INFO commandstats (`calls`, `rejected_calls`, `failed_calls` of
  every command) and INFO errorstats (`count` of every error prefix) over the step.
  `usec` and `usec_per_call` are timing and never compared.
- client: the deterministic fields of CLIENT INFO on the connection that ran the step.
- config: random CONFIG SET lines (reply and the CONFIG GET value afterwards) and random
  config lines given at startup in a file or as `--name value` arguments (exit code and
  stderr).

Deltas are per step, not per command: a step is one pipelined write of up to --batch
commands, and asking INFO after every command would break the pipelining that keeps the
test fast. A mismatch shows the step's commands, which pins the command down to a handful.
"""
import collections
import os
import shutil
import subprocess
import tempfile

from resp_wire import Node

ALL_CHECKS = ("dirty", "stats", "client", "config")

# Commands whose dirty delta is not compared in a step that ran them, with the reason.
# Every skip is counted in the run's statistics ("dirty-skip:<command>").
DIRTY_NOT_COMPARED = {}

# CLIENT INFO fields compared after a step. Left out: id, addr, laddr, fd (per connection);
# age, idle (time); qbuf, qbuf-free, rbs, rbp (how each server sizes its query and reply
# buffers: different allocators and read sizes); argv-mem, multi-mem, tot-mem, omem (bytes as
# the allocator rounds them: jemalloc size classes on Redis, Swift's allocator on Tern);
# obl, oll (CLIENT INFO runs in the step's pipeline: the replies of the commands before it
# are still buffered or not depending on how much of the pipeline a read got).
CLIENT_INFO_PROBE = [b"CLIENT", b"INFO"]
INFO_PROBE = [b"INFO", b"persistence", b"commandstats", b"errorstats"]
CLIENT_INFO_FIELDS = ("name", "flags", "db", "sub", "psub", "ssub", "multi", "events", "cmd", "user", "redir",
                      "resp")

# Container commands: commandstats names their subcommands ("cmdstat_client|info").
CONTAINERS = {b"client", b"object", b"config", b"command", b"pubsub", b"memory", b"xinfo", b"xgroup", b"function",
              b"script", b"cluster", b"latency", b"slowlog", b"acl", b"module"}


def stat_name(argv):
    """The commandstats name of a command: 'get', 'client|info'."""
    name = argv[0].lower()
    if name in CONTAINERS and len(argv) > 1:
        name += b"|" + argv[1].lower()
    return name.decode("latin-1")


def info_lines(text):
    """INFO text as a set of lines: the lines that changed between two snapshots are found
    by set difference (in C), and only those get parsed."""
    return set(text.split(b"\r\n"))


def stat_values(ln):
    """(kind, name, value) of a commandstats / errorstats / dirty line, else None."""
    name, _, rest = ln.partition(b":")
    if name == b"rdb_changes_since_last_save":
        return "dirty", None, int(rest)
    if name.startswith(b"cmdstat_"):
        kv = dict(p.split(b"=", 1) for p in rest.split(b",") if b"=" in p)
        return "cmd", name[8:].decode("latin-1"), (int(kv.get(b"calls", 0)), int(kv.get(b"rejected_calls", 0)),
                                                    int(kv.get(b"failed_calls", 0)))
    if name.startswith(b"errorstat_"):
        kv = dict(p.split(b"=", 1) for p in rest.split(b",") if b"=" in p)
        return "err", name[10:].decode("latin-1"), int(kv.get(b"count", 0))
    return None


def info_delta(now, before):
    """(dirty delta, {command: (calls, rejected, failed) delta}, {error prefix: count delta})
    between two info_lines() snapshots. A line that vanished (CONFIG RESETSTAT) counts
    from zero; usec fields change on every call but only the counts are compared."""
    dirty, cmds, errs = 0, {}, {}
    now_changed = {ln.partition(b":")[0]: ln for ln in now - before}
    before_changed = {ln.partition(b":")[0]: ln for ln in before - now}
    for name in set(now_changed) | set(before_changed):
        a, b = now_changed.get(name), before_changed.get(name)
        va = stat_values(a) if a is not None else None
        vb = stat_values(b) if b is not None else None
        kind = (va or vb or (None,))[0]
        if kind is None:
            continue
        if kind == "dirty":
            dirty = (va[2] if va else 0) - (vb[2] if vb else 0)
        elif kind == "cmd":
            x, y = (va[2] if va else (0, 0, 0)), (vb[2] if vb else (0, 0, 0))
            d = tuple(p - q for p, q in zip(x, y))
            if any(d):
                cmds[(va or vb)[1]] = d
        else:
            d = (va[2] if va else 0) - (vb[2] if vb else 0)
            if d:
                errs[(va or vb)[1]] = d
    return dirty, cmds, errs


def client_fields(node):
    if not isinstance(node, Node) or not isinstance(node.val, bytes):
        return None
    kv = {}
    for part in node.val.strip().split(b" "):
        if b"=" in part:
            k, v = part.split(b"=", 1)
            kv[k.decode("latin-1")] = v
    return {f: kv.get(f) for f in CLIENT_INFO_FIELDS}


class StateChecks:
    def __init__(self, run, checks):
        self.run = run
        self.checks = set(checks)
        # Calls the harness makes on one side only (property checks ask Redis, a full SCAN
        # takes a different number of calls on each side, SPOP resyncs Tern): subtracted
        # from that side's commandstats delta. dirty_adjust likewise for the dirty counter.
        self.side_calls = {"t": collections.Counter(), "r": collections.Counter()}
        self.dirty_adjust = {"t": 0, "r": 0}
        self.side_failed = {"t": collections.Counter(), "r": collections.Counter()}
        self.side_errors = {"t": collections.Counter(), "r": collections.Counter()}
        self.step_cmds = []
        self.pending_info = None
        self.base = None
        if self.checks & {"dirty", "stats"}:
            for c in (run.ctl_t, run.ctl_r):
                # Save points would reset the counter at different moments on each side.
                c.call(b"CONFIG", b"SET", b"save", b"")
            self.base = self.snapshot()

    # -- bookkeeping called by the runner
    def note_command(self, argv):
        if argv:
            self.step_cmds.append(stat_name(argv))

    def note_side_call(self, side, argv, reply=None, dirty=0):
        name = stat_name(argv)
        self.side_calls[side][name] += 1
        self.dirty_adjust[side] += dirty
        if isinstance(reply, Node) and reply.is_error():
            self.side_failed[side][name] += 1
            prefix = reply.val.split(b" ", 1)[0].decode("latin-1")
            self.side_errors[side][prefix] += 1

    def snapshot(self):
        """{side: info_lines()} of INFO persistence/commandstats/errorstats on the control
        connections; both servers are asked before either reply is read."""
        conns = (self.run.ctl_t, self.run.ctl_r)
        for c in conns:
            c.send(*INFO_PROBE)
        return self.info_snapshot(conns[0].read_node(), conns[1].read_node())

    @staticmethod
    def info_snapshot(t, r):
        out = {}
        for side, n in (("t", t), ("r", r)):
            text = n.val if isinstance(n, Node) and isinstance(n.val, bytes) else b""
            if n.tag == "=":
                text = text[4:]
            out[side] = info_lines(text)
        return out

    def take_info(self, t, r):
        """The INFO the runner pipelined at the end of a step (no extra round trip)."""
        self.pending_info = self.info_snapshot(t, r)

    # -- the check after a step
    def after_step(self, slot=None, client_checked=False):
        run = self.run
        cmds, self.step_cmds = self.step_cmds, []
        if "client" in self.checks and slot is not None and not client_checked:
            self.check_client(slot, cmds)
        if self.base is None:
            return
        now, self.pending_info = self.pending_info or self.snapshot(), None
        before, self.base = self.base, now
        side_calls, side_failed, side_errors = self.side_calls, self.side_failed, self.side_errors
        dirty_adjust = self.dirty_adjust
        self.side_calls = {"t": collections.Counter(), "r": collections.Counter()}
        self.side_failed = {"t": collections.Counter(), "r": collections.Counter()}
        self.side_errors = {"t": collections.Counter(), "r": collections.Counter()}
        self.dirty_adjust = {"t": 0, "r": 0}
        dt, ct, et = info_delta(now["t"], before["t"])
        dr, cr, er = info_delta(now["r"], before["r"])
        if "dirty" in self.checks:
            skipped = [c for c in cmds if c in DIRTY_NOT_COMPARED]
            if skipped:
                for c in set(skipped):
                    run.stats["dirty-skip:" + c] += 1
            else:
                dt -= dirty_adjust["t"]
                dr -= dirty_adjust["r"]
                run.stats["dirty"] += 1
                if dt != dr:
                    self.fail("dirty counter (rdb_changes_since_last_save) delta differs over the step: "
                              "tern +%d, redis +%d" % (dt, dr), cmds, slot)
        if "stats" in self.checks:
            for side, d in (("t", ct), ("r", cr)):
                for name, n in side_calls[side].items():
                    calls, rej, failed = d.get(name, (0, 0, 0))
                    d[name] = (calls - n, rej, failed - side_failed[side][name])
                    if not any(d[name]):
                        del d[name]
            run.stats["stats"] += 1
            if ct != cr:
                diff = {k: (ct.get(k), cr.get(k)) for k in sorted(set(ct) | set(cr)) if ct.get(k) != cr.get(k)}
                self.fail("INFO commandstats deltas (calls, rejected_calls, failed_calls) differ over the step: "
                          "%s" % ", ".join("%s tern %s redis %s" % (k, a, b) for k, (a, b) in diff.items()),
                          cmds, slot)
            for side, d in (("t", et), ("r", er)):
                for prefix, n in side_errors[side].items():
                    d[prefix] = d.get(prefix, 0) - n
                    if not d[prefix]:
                        del d[prefix]
            if et != er:
                self.fail("INFO errorstats deltas differ over the step: tern %s, redis %s" % (et, er), cmds, slot)

    def check_client(self, slot, cmds):
        run = self.run
        if slot.t.eof or slot.r.eof:
            return
        argv = CLIENT_INFO_PROBE
        slot.t.send(*argv)
        slot.r.send(*argv)
        self.compare_client(slot, argv, slot.t.read_node(), slot.r.read_node(), cmds)

    def compare_client(self, slot, argv, t, r, cmds=None):
        """CLIENT INFO at the end of a step: the runner usually pipelines it with the step's
        commands (no extra round trip). Not counted in run.count: the same seed runs the
        same stream with the state checks on or off."""
        run = self.run
        if cmds is None:
            cmds = self.step_cmds
        run.history.append((slot.name, argv, t.raw if isinstance(t, Node) else repr(t),
                            r.raw if isinstance(r, Node) else repr(r)))
        ft, fr = client_fields(t), client_fields(r)
        run.stats["client"] += 1
        if ft is None or fr is None or ft != fr:
            diff = {k: (ft.get(k), fr.get(k)) for k in CLIENT_INFO_FIELDS if ft and fr and ft.get(k) != fr.get(k)}
            self.fail("CLIENT INFO fields differ after the step: %s"
                      % (", ".join("%s tern %r redis %r" % (k, a, b) for k, (a, b) in diff.items())
                         or "unparsable reply"), cmds, slot, t, r)

    def fail(self, msg, cmds, slot, t=None, r=None):
        self.run.fail("%s\nstep commands: %s" % (msg, " ".join(cmds)), slot,
                      [b"(state check)"] if t is None else [b"CLIENT", b"INFO"], t or "-", r or "-")


# ---------------------------------------------------------------------------
# Config lines

# Values for config lines: edge values of every kind a directive parses (booleans, enums,
# memory units, integers out of range, percentages, several words, quoting).
CONFIG_VALUES = [
    b"", b" ", b"  ", b"yes", b"no", b"YES", b"on", b"true", b"0", b"1", b"-1", b"2", b"100", b"65535", b"65536",
    b"1k", b"1kb", b"1K", b"1KB", b"10mb", b"1m", b"1g", b"1gb", b"1GB", b"1tb", b"1b", b"1.5", b"1.5mb", b"0x10",
    b"+5", b"-0", b"1e3", b"007", b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
    b"4294967295", b"4294967296", b"2147483648", b"-2147483649", b"50%", b"100%", b"-1%", b"abc", b"\"\"",
    b"\"quoted\"", b"'x'", b"a b", b"yes no", b"1 2", b"3600 1 300 100 60 10000", b"900 1", b"1 2 3",
    b"always", b"everysec", b"allkeys-lru", b"volatile-ttl", b"noeviction", b"debug", b"verbose", b"notice",
    b"warning", b"nothing", b"local", b"systemd", b"auto", b"KEA", b"Ex", b"Kx$", b"zz", b"normal 0 0 0",
    b"replica 256mb 64mb 60", b"pubsub 32mb 8mb 60", b"normal 1 2", b"master 1 1 1", b"-",
]

# Directives not given random values, and why:
CONFIG_SET_EXCLUDED = {
    "port": "rebinds the listener the test talks to",
    "bind": "rebinds the listener the test talks to",
    "tls-port": "opens a TLS listener",
    "unixsocket": "opens a listener",
    "dir": "changes the server's working directory (its files, the other tests' cleanup)",
    "requirepass": "would lock the test's later connections out",
    "masterauth": "secret; not echoed by CONFIG GET as set",
    "appendonly": "starts an AOF rewrite writing files in the server's directory",
    "logfile": "instance-specific path (immutable at runtime anyway)",
    "pidfile": "instance-specific path",
}
CONFIG_STARTUP_EXCLUDED = {
    "port": "the test runs both binaries with port 0 so that an accepted config exits at once",
    "tls-port": "a TLS listener would keep the server running",
    "unixsocket": "a listener would keep the server running",
    "daemonize": "a daemonized server detaches from the test and would keep running",
    "logfile": "moves the log (and the exit reason the test compares) to a file",
    "syslog-enabled": "writes to the machine's syslog",
}


def config_value(rng, current):
    """A value for a config line: from the edge pool, or the current value of some directive
    (a valid enum word, a number in range) possibly with a word added."""
    r = rng.random()
    if r < 0.3 and current:
        v = rng.choice(sorted(current.values()))   # sorted: the reply comes in dict order
        if rng.random() < 0.2:
            v = v + b" " + rng.choice(CONFIG_VALUES)
        return v
    return rng.choice(CONFIG_VALUES)


def config_names(ctl):
    """{name: value} of CONFIG GET * on one server."""
    n = ctl.call(b"CONFIG", b"GET", b"*")
    xs = n.val if n.is_agg() else []
    if n.tag == "%":
        return {xs[i].val.decode("latin-1"): xs[i + 1].val for i in range(0, len(xs) - 1, 2)}
    return {xs[i].val.decode("latin-1"): xs[i + 1].val for i in range(0, len(xs) - 1, 2)}


def config_set_round(run, rng, count, log):
    """CONFIG SET with random names and values on both servers: the replies (accept, or the
    error text) must be equal byte for byte, and so must CONFIG GET of the names afterwards.
    Every change both accepted is undone right away (CONFIG SET of the previous values), so
    each line is tried on the servers' defaults and no line affects the rest of the run."""
    t_conf, r_conf = config_names(run.ctl_t), config_names(run.ctl_r)
    only_r = sorted(set(r_conf) - set(t_conf))
    if only_r:
        log("config: %d directives only Redis lists in CONFIG GET * (not generated): %s"
            % (len(only_r), " ".join(only_r)))
    names = sorted(n for n in set(r_conf) & set(t_conf) if n not in CONFIG_SET_EXCLUDED)
    for _ in range(count):
        picked = [rng.choice(names) for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 3))]
        argv = [b"CONFIG", b"SET"]
        for name in picked:
            word = name.encode()
            if rng.random() < 0.1:
                word = word.upper()
            argv += [word, config_value(rng, r_conf)]
        if rng.random() < 0.03:
            argv.append(b"dangling")
        if rng.random() < 0.02:
            argv[2] = b"no-such-directive"
        t, r = run.ctl_t.call(*argv), run.ctl_r.call(*argv)
        run.count += 1
        run.record(None, argv, t, r)
        run.stats["config-set"] += 1
        if t.raw != r.raw:
            run.fail("CONFIG SET replies differ", None, argv, t, r)
        gets = [b"CONFIG", b"GET"] + [n.encode() for n in picked]
        gt, gr = run.ctl_t.call(*gets), run.ctl_r.call(*gets)
        run.count += 1
        run.record(None, gets, gt, gr)
        # Several names come back in the server's dict order: compare the pairs as a set.
        if gt.raw != gr.raw and name_value_pairs(gt) != name_value_pairs(gr):
            run.fail("CONFIG GET after CONFIG SET differs", None, gets, gt, gr)
        if t.tag == "+":
            undo = [b"CONFIG", b"SET"]
            for name in dict.fromkeys(picked):
                undo += [name.encode(), r_conf[name]]
            for side, c in (("t", run.ctl_t), ("r", run.ctl_r)):
                n = c.call(*undo)
                if n.is_error():
                    run.fail("could not restore the config after an accepted CONFIG SET", None, undo, n, "-")


def name_value_pairs(node):
    xs = node.val if node.is_agg() else []
    return sorted((xs[i].raw, xs[i + 1].raw) for i in range(0, len(xs) - 1, 2)) if xs else node.raw


def config_line(rng, names, current):
    """One random directive: (name, [value words]) rendered as a file line and as args."""
    name = rng.choice(names)
    if rng.random() < 0.03:
        name = "no-such-directive"
    words = [config_value(rng, current)]
    if rng.random() < 0.15:
        words.append(rng.choice(CONFIG_VALUES))
    return name, words


def render_file_line(rng, name, words):
    out = []
    for w in words:
        s = w.decode("latin-1")
        style = rng.random()
        if s == "" or (" " in s and style < 0.6):
            out.append('"%s"' % s.replace('"', '\\"'))
        elif style < 0.1:
            out.append("'%s'" % s.replace("'", "\\'"))
        else:
            out.append(s)
    return " ".join([name] + out) + ("  " if rng.random() < 0.1 else "")


def run_binary(binary, argv, conf):
    d = tempfile.mkdtemp(prefix="difftest-cfg-")
    try:
        args = [binary]
        if conf is not None:
            with open(os.path.join(d, "t.conf"), "w") as f:
                f.write(conf)
            args.append("t.conf")
        args += argv
        try:
            p = subprocess.run(args, cwd=d, capture_output=True, timeout=15)
            return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")
        except subprocess.TimeoutExpired:
            return "timeout (still running after 15 s)", "", ""
    finally:
        shutil.rmtree(d, ignore_errors=True)


def last_log_message(stdout):
    """A log line carries pid, role and time: compare the message after the level mark."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        return ""
    parts = lines[-1].split(" ", 5)
    return parts[5] if len(parts) == 6 and ":" in parts[0] else lines[-1]


def config_startup_round(run, rng, tern_bin, redis_bin, count, log):
    """Starts both binaries with random config lines, in a file or as --name value
    arguments, always with port 0 (an accepted config then exits with "Configured to not
    listen anywhere" on both): exit code, stderr (the FATAL CONFIG FILE ERROR report) and
    the last log message must be equal."""
    r_conf = config_names(run.ctl_r)
    names = sorted(n for n in r_conf if n not in CONFIG_STARTUP_EXCLUDED)
    for _ in range(count):
        lines = [config_line(rng, names, r_conf) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.5:
            conf = "port 0\n" + "\n".join(render_file_line(rng, n, w) for n, w in lines) + "\n"
            argv, shown = [], "config file:\n" + conf
        else:
            conf = None
            argv = ["--port", "0"]
            for n, w in lines:
                argv += ["--" + n] + [x.decode("latin-1") for x in w]
            shown = "arguments: %r" % argv
        rt = run_binary(tern_bin, argv, conf)
        rr = run_binary(redis_bin, argv, conf)
        run.stats["config-startup"] += 1
        run.stats["config-startup-rejected" if "FATAL" in rr[2] else "config-startup-accepted"] += 1
        run.count += 1
        same = rt[0] == rr[0] and rt[2] == rr[2] and last_log_message(rt[1]) == last_log_message(rr[1])
        if not same:
            run.fail("startup with random config lines differs\n%s\n  tern : exit %s, stderr %r, last log %r\n"
                     "  redis: exit %s, stderr %r, last log %r"
                     % (shown, rt[0], rt[2], last_log_message(rt[1]), rr[0], rr[2], last_log_message(rr[1])))
