"""SHUTDOWN and shutdown-on-sigterm/sigint side by side with redis-server 7.0: argument errors
byte for byte, which combinations save, a failing save refused without FORCE (the server keeps
running) and ignored with it, the log lines, the pid file removed."""
import os
import shutil
import signal
import socket
import tempfile

import pytest

from conftest import start_redis, start_tern


def raw(port, payload):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(payload)
    out = b""
    try:
        while not out.endswith(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def start(kind, *args):
    return (start_tern if kind == "tern" else start_redis)(list(args))


def log_lines(server, wanted):
    """The wanted lines present in the server's log, in the log's order."""
    out = []
    for line in server.output().splitlines():
        for w in wanted:
            if line.endswith(w):
                out.append(w)
    return out


SHUTDOWN_LINES = ["Received SIGTERM scheduling shutdown...", "Received SIGINT scheduling shutdown...",
                  "User requested shutdown...", "Saving the final RDB snapshot before exiting.",
                  "DB saved on disk", "Error trying to save the DB, can't exit.",
                  "Error trying to save the DB. Exit anyway.",
                  "Errors trying to shut down the server. Check the logs for more information.",
                  "Removing the pid file."]


@pytest.fixture(scope="module")
def both():
    t, r = start("tern", "--save", ""), start("redis")
    yield t, r
    t.stop()
    r.stop()


@pytest.mark.parametrize("args", [
    ["FOO"], ["SAVE", "NOSAVE"], ["NOSAVE", "SAVE", "NOW"], ["ABORT", "NOW"], ["ABORT", "FORCE"],
    ["NOW", "ABORT"], ["ABORT", "SAVE"], ["ABORT"], ["ABORT", "ABORT"], ["NOW", "NOW", "BAR"],
])
def test_argument_errors_match(both, args):
    t, r = both
    a = raw(t.port, cmd("SHUTDOWN", *args))
    b = raw(r.port, cmd("SHUTDOWN", *args))
    assert a == b and a.startswith(b"-ERR")
    assert t.alive() and r.alive()


def run_case(kind, workdir, server_args, how, data=True):
    """Starts a server in `workdir`, writes a key, shuts it down `how` ("SHUTDOWN ..." or a
    signal name). Returns (reply or None, still running, dump.rdb written, log lines)."""
    s = start(kind, "--dir", workdir, *server_args)
    try:
        c = s.client()
        if data:
            c.set("k", "v")
        reply = None
        if how.startswith("SHUTDOWN"):
            reply = raw(s.port, cmd(*how.split()))
        else:
            s.proc.send_signal(getattr(signal, how))
        try:
            s.proc.wait(10)
        except Exception:
            pass
        running = s.alive()
        if running and how.startswith("SIG"):
            # A refused signal shutdown keeps serving.
            assert c.ping()
        saved = os.path.exists(os.path.join(workdir, "dump.rdb"))
        return reply, running, saved, log_lines(s, SHUTDOWN_LINES)
    finally:
        s.stop()


CASES = [
    ([], "SHUTDOWN"),
    (["--save", "3600 1"], "SHUTDOWN"),
    (["--save", "3600 1"], "SHUTDOWN NOSAVE"),
    ([], "SHUTDOWN SAVE"),
    ([], "SHUTDOWN SAVE NOW FORCE"),
    (["--save", "3600 1"], "SHUTDOWN NOW"),
    ([], "SIGTERM"),
    (["--save", "3600 1"], "SIGTERM"),
    (["--shutdown-on-sigterm", "save"], "SIGTERM"),
    (["--save", "3600 1", "--shutdown-on-sigterm", "nosave"], "SIGTERM"),
    (["--save", "3600 1", "--shutdown-on-sigterm", "nosave now force"], "SIGTERM"),
    (["--shutdown-on-sigint", "save now"], "SIGINT"),
    (["--save", "3600 1", "--shutdown-on-sigint", "default"], "SIGINT"),
    (["--save", "3600 1", "--shutdown-on-sigint", "nosave"], "SIGINT"),
]


@pytest.mark.parametrize("server_args,how", CASES)
def test_shutdown_variants_match(server_args, how):
    results = {}
    for kind in ("tern", "redis"):
        d = tempfile.mkdtemp(prefix="tern-shutdown-")
        try:
            results[kind] = run_case(kind, d, ["--save", ""] + server_args if "--save" not in server_args
                                     else server_args, how)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    assert results["tern"] == results["redis"]


def failing_dir_case(kind, server_args, how):
    """The save fails: the working dir is removed after start, so the temp file cannot be created."""
    d = tempfile.mkdtemp(prefix="tern-shutdown-gone-")
    s = start(kind, "--dir", d, *server_args)
    try:
        c = s.client()
        c.set("k", "v")
        shutil.rmtree(d)
        reply = None
        if how.startswith("SHUTDOWN"):
            reply = raw(s.port, cmd(*how.split()))
        else:
            s.proc.send_signal(getattr(signal, how))
        try:
            s.proc.wait(5)
        except Exception:
            pass
        running = s.alive()
        if running:
            assert c.get("k") == b"v"
        return reply, running, log_lines(s, SHUTDOWN_LINES)
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("server_args,how", [
    (["--save", "3600 1"], "SHUTDOWN"),
    (["--save", ""], "SHUTDOWN SAVE"),
    (["--save", "3600 1"], "SHUTDOWN FORCE"),
    (["--save", ""], "SHUTDOWN SAVE FORCE NOW"),
    (["--save", "3600 1"], "SIGTERM"),
    (["--save", "3600 1", "--shutdown-on-sigterm", "force"], "SIGTERM"),
])
def test_failed_final_save(server_args, how):
    a = failing_dir_case("tern", server_args, how)
    b = failing_dir_case("redis", server_args, how)
    assert a == b
    if "FORCE" in how or "force" in server_args:
        assert a[1] is False
    else:
        assert a[1] is True
        if how.startswith("SHUTDOWN"):
            assert a[0] == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"


def test_pidfile_removed():
    for kind in ("tern", "redis"):
        d = tempfile.mkdtemp(prefix="tern-shutdown-pid-")
        pid = os.path.join(d, "server.pid")
        s = start(kind, "--pidfile", pid, "--save", "")
        try:
            assert int(open(pid).read()) == s.proc.pid
            raw(s.port, cmd("SHUTDOWN"))
            assert s.proc.wait(10) == 0
            assert not os.path.exists(pid)
            assert "Removing the pid file." in s.output()
            out = s.output()
            assert out.index("User requested shutdown...") < out.index("Removing the pid file.") \
                < out.index("ready to exit, bye bye...")
        finally:
            s.stop()
            shutil.rmtree(d, ignore_errors=True)


def test_shutdown_during_bgsave_leaves_no_temp_file():
    """BGSAVE and SHUTDOWN NOSAVE in one write: the background save is dropped ("Killing
    it!"), or it had already finished; either way no temp file stays behind and dump.rdb,
    if there, is a whole image (redis-check-rdb accepts it)."""
    d = tempfile.mkdtemp(prefix="tern-shutdown-bg-")
    s = start("tern", "--dir", d, "--save", "")
    try:
        c = s.client()
        c.execute_command("DEBUG", "POPULATE", 300000, "key", 100)
        raw(s.port, cmd("BGSAVE") + cmd("SHUTDOWN", "NOSAVE"))
        assert s.proc.wait(20) == 0
        left = [f for f in os.listdir(d) if f.startswith("temp-")]
        assert left == []
        out = s.output()
        dump = os.path.join(d, "dump.rdb")
        if "There is a child saving an .rdb. Killing it!" in out:
            assert out.index("Killing it!") < out.index("ready to exit")
        checker = shutil.which("redis-check-rdb")
        if os.path.exists(dump) and checker:
            import subprocess
            assert subprocess.run([checker, dump], capture_output=True, timeout=60).returncode == 0
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)
