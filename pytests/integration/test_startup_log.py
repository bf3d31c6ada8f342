"""Startup log lines that supervisors and test harnesses wait for, side by side with
redis-server: the banner's `Port:` / `PID:` lines (always-show-logo, or a terminal),
the one-line "Running mode=" form otherwise, and "Configuration loaded"."""
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import free_port, tern_binary

REDIS = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(REDIS is None, reason="redis-server not installed")


def startup_output(binary, args, tty=False, seconds=15.0):
    """Starts a server, reads its output until it is ready, stops it; returns (pid, text)."""
    d = tempfile.mkdtemp(prefix="tern-log-")
    port = free_port()
    argv = [binary, "--port", str(port), "--save", ""] + list(args)
    master = None
    if tty:
        master, slave = pty.openpty()
        p = subprocess.Popen(argv, cwd=d, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        fd = master
    else:
        p = subprocess.Popen(argv, cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        fd = p.stdout.fileno()
    out = b""
    deadline = time.time() + seconds
    try:
        while b"Ready to accept connections" not in out and time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        p.terminate()
        p.wait(10)
        if master is not None:
            os.close(master)
        elif p.stdout:
            p.stdout.close()
        shutil.rmtree(d, ignore_errors=True)
    return p.pid, port, out.decode(errors="replace").replace("\r\n", "\n")


def banner_facts(pid, port, text):
    """What a harness reads off the banner, None when there is no banner."""
    m_port = re.search(r"\bPort: (\d+)", text)
    m_pid = re.search(r"\bPID: (\d+)", text)
    if not m_port and not m_pid:
        return None
    return {
        "port": m_port and int(m_port.group(1)) == port,
        "pid": m_pid and int(m_pid.group(1)) == pid,
        "mode": "Running in standalone mode" in text,
        "version": re.search(r"\b7\.0\.15\b", text) is not None,
    }


@needs_redis
@pytest.mark.parametrize("args,tty", [
    (["--always-show-logo", "yes"], False),
    (["--always-show-logo", "no"], True),
    ([], True),
    ([], False),
])
def test_banner_like_redis(args, tty):
    t = startup_output(tern_binary(), args, tty)
    r = startup_output(REDIS, args, tty)
    tf, rf = banner_facts(*t), banner_facts(*r)
    assert tf == rf, (t[2], r[2])
    if rf is None:
        for pid, port, text in (t, r):
            assert "Running mode=standalone, port=%d." % port in text
    else:
        assert all(rf.values())


@needs_redis
def test_configuration_loaded_line():
    for binary in (tern_binary(), REDIS):
        _, _, text = startup_output(binary, ["--hz", "10"])
        assert "# Configuration loaded" in text
        assert "no config file specified" not in text


def test_syslog_enabled_starts():
    """syslog-enabled acts (lines go to syslog as well); the server still logs and runs."""
    _, port, text = startup_output(tern_binary(), ["--syslog-enabled", "yes", "--syslog-ident", "tern-test"])
    assert "Ready to accept connections" in text
    assert "not supported" not in text
