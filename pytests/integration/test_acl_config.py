"""ACL users from the configuration, side by side with redis-server 7.0: `user` lines
(with requirepass), the aclfile with ACL LOAD / ACL SAVE and their errors, CONFIG REWRITE
writing every user, acl-pubsub-default, acllog-max-len, fatal ACL errors at startup; and a
replica authenticating to its master as an ACL user (masteruser / masterauth)."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import ServerProcess, free_port, start_tern, tern_binary
from resp_wire import Conn
from test_acl import canon_rules


def redis_with_config(text):
    exe = shutil.which("redis-server")
    if not exe:
        pytest.skip("redis-server not installed")
    return ServerProcess(exe, ["--save", "", "--appendonly", "no"], config_text=text)


def both(text):
    return start_tern(config_text=text), redis_with_config(text)


def acl_list(port, auth=None):
    c = Conn(port)
    if auth:
        assert c.cmd("AUTH", *auth) == b"+OK\r\n"
    out = c.cmd("ACL", "LIST")
    c.close()
    return canon_rules(out)


def test_user_lines_and_requirepass():
    conf = ("requirepass foo\n"
            "user default on nopass ~* &* +@all\n"
            "user bob on >x ~k* %R~r* &ch +@string -setrange (+get ~sel*)\n"
            "user carol off #" + "c" * 64 + " allkeys +@all -@dangerous\n")
    t, r = both(conf)
    try:
        # The `user default` line wins over requirepass, whatever their order.
        assert acl_list(t.port) == acl_list(r.port)
        assert Conn(t.port).cmd("PING") == b"+PONG\r\n"
    finally:
        t.stop()
        r.stop()


def test_requirepass_alone_sets_the_default_password():
    t, r = both("requirepass sesame\n")
    try:
        for port in (t.port, r.port):
            c = Conn(port)
            assert c.cmd("PING") == b"-NOAUTH Authentication required.\r\n"
            assert c.cmd("AUTH", "default", "sesame") == b"+OK\r\n"
            c.close()
        assert acl_list(t.port, ("sesame",)) == acl_list(r.port, ("sesame",))
    finally:
        t.stop()
        r.stop()


def test_duplicate_user_line_is_a_config_error():
    t_port = free_port()
    d = tempfile.mkdtemp()
    path = os.path.join(d, "dup.conf")
    with open(path, "w") as f:
        f.write("user bob on\nuser bob off\n")
    try:
        out = subprocess.run([tern_binary(), path, "--port", str(t_port)], capture_output=True, text=True, timeout=20)
        assert out.returncode != 0
        assert "Error in user declaration 'bob': Duplicate user found. A user can only be defined once in config files" in out.stdout + out.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_fails(conf_text, expected):
    d = tempfile.mkdtemp()
    path = os.path.join(d, "bad.conf")
    with open(path, "w") as f:
        f.write(conf_text.replace("DIR", d))
    try:
        out = subprocess.run([tern_binary(), path, "--port", str(free_port()), "--dir", d],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode != 0, out.stdout
        assert expected in out.stdout + out.stderr, out.stdout + out.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_fatal_acl_errors_at_startup():
    run_fails("user bob on +nosuch\n",
              "Error loading ACL rule '+nosuch' for the user named 'bob': Unknown command or category name in ACL")
    run_fails("aclfile DIR/users.acl\nuser bob on\n",
              "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid")
    run_fails("aclfile DIR/missing.acl\n",
              "Aborting Redis startup because of ACL errors: Error loading ACLs, opening file '")


def test_aclfile_load_and_save():
    dirs = [tempfile.mkdtemp(), tempfile.mkdtemp()]
    files = [os.path.join(d, "users.acl") for d in dirs]
    for f in files:
        with open(f, "w") as fh:
            fh.write("user alice on >pw ~* +get\n")
    t = start_tern(["--aclfile", files[0]])
    r = redis_with_config("aclfile %s\n" % files[1])
    servers = [t, r]
    try:
        assert acl_list(t.port) == acl_list(r.port)
        # A file with errors changes nothing and lists every error.
        bad = ("user alice on >pw ~* +get\nuser bob on +nosuch\nfoo bar\nuser alice on\n"
               "user carol (+get\n# comment\n")
        replies = []
        for f, s in zip(files, servers):
            with open(f, "w") as fh:
                fh.write(bad)
            replies.append(Conn(s.port).cmd("ACL", "LOAD").replace(f.encode(), b"FILE"))
        assert replies[0] == replies[1]
        assert acl_list(t.port) == acl_list(r.port)
        # A good file replaces the users; clients of removed users are closed.
        victim = Conn(t.port)
        assert victim.cmd("AUTH", "alice", "pw") == b"+OK\r\n"
        for f, s in zip(files, servers):
            with open(f, "w") as fh:
                fh.write("user default on nopass ~* &* +@all\nuser zed on ~z* +@hash\n"
                         "  user \"quoted on  ~q*\t\n\n")
            assert Conn(s.port).cmd("ACL", "LOAD") == b"+OK\r\n"
        assert victim.peer_closed()
        assert acl_list(t.port) == acl_list(r.port)
        for s in servers:
            c = Conn(s.port)
            assert c.cmd("ACL", "SETUSER", "new", "on", ">x", "~a*", "+get", "(+set ~b*)") == b"+OK\r\n"
            assert c.cmd("ACL", "SAVE") == b"+OK\r\n"
        saved = [canon_rules(b"".join(b"$%d\r\n%s\r\n" % (len(l), l) for l in open(f, "rb").read().splitlines()))
                 for f in files]
        assert saved[0] == saved[1]
        # What SAVE wrote loads back to the same users.
        assert Conn(t.port).cmd("ACL", "LOAD") == b"+OK\r\n"
        assert acl_list(t.port) == acl_list(r.port)
    finally:
        for s in servers:
            s.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def test_config_rewrite_writes_every_user():
    t, r = both("port 0\n")
    try:
        texts = []
        for s in (t, r):
            c = Conn(s.port)
            assert c.cmd("ACL", "SETUSER", "rw", "on", ">pw", "~k*", "&c", "+@read", "(+set ~s*)") == b"+OK\r\n"
            assert c.cmd("ACL", "SETUSER", "default", ">dpw") == b"+OK\r\n"
            assert c.cmd("CONFIG", "REWRITE") == b"+OK\r\n"
            with open(os.path.join(s.dir, "test.conf")) as f:
                lines = [l for l in f.read().splitlines() if l.startswith("user ")]
            texts.append(canon_rules(b"".join(b"$%d\r\n%s\r\n" % (len(l), l.encode()) for l in lines)))
            c.close()
        assert texts[0] == texts[1]
        assert b"user rw on" in texts[0] and b"user default on" in texts[0]
    finally:
        t.stop()
        r.stop()
    # The rewritten file starts a server with the same users.
    d = tempfile.mkdtemp()
    try:
        path = os.path.join(d, "again.conf")
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in texts[0].decode().split("\r\n") if l.startswith("user ")))
        again = start_tern(config_text=open(path).read())
        try:
            c = Conn(again.port)
            assert c.cmd("AUTH", "rw", "pw") == b"+OK\r\n"
            assert c.cmd("SET", "s1", "v") == b"+OK\r\n"
            assert c.cmd("SET", "k1", "v").startswith(b"-NOPERM")
        finally:
            again.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_pubsub_default_and_log_length():
    t, r = both("acl-pubsub-default allchannels\nacllog-max-len 2\n")
    try:
        for s in (t, r):
            c = Conn(s.port)
            c.cmd("ACL", "SETUSER", "p", "on", "nopass", "+ping", "(+get)")
            c.cmd("ACL", "SETUSER", "q", "reset")
            u = Conn(s.port)
            u.cmd("AUTH", "p", "x")
            for cmd in ("SET", "DEL", "INCR", "DECR"):
                u.cmd(cmd, "k")
            c.close()
            u.close()
        assert acl_list(t.port) == acl_list(r.port)
        for s in (t, r):
            c = Conn(s.port)
            assert c.cmd("ACL", "LOG").startswith(b"*2\r\n")
            assert c.cmd("CONFIG", "GET", "acl-pubsub-default") == b"*2\r\n$18\r\nacl-pubsub-default\r\n$11\r\nallchannels\r\n"
            c.close()
    finally:
        t.stop()
        r.stop()


def test_replica_authenticates_as_acl_user():
    master = start_tern(config_text="user default off\nuser repl on >rpw +psync +replconf +ping ~*\n"
                                    "user admin on >apw +@all ~* &*\n")
    replica = None
    try:
        replica = start_tern(["--masteruser", "repl", "--masterauth", "rpw",
                              "--replicaof", "127.0.0.1", str(master.port)])
        m = Conn(master.port)
        assert m.cmd("AUTH", "admin", "apw") == b"+OK\r\n"
        assert m.cmd("SET", "from-master", "1") == b"+OK\r\n"
        rc = Conn(replica.port)
        deadline = time.time() + 20
        while time.time() < deadline and rc.cmd("GET", "from-master") != b"$1\r\n1\r\n":
            time.sleep(0.05)
        assert rc.cmd("GET", "from-master") == b"$1\r\n1\r\n"
        assert b"user=repl" in m.cmd("CLIENT", "LIST", "TYPE", "REPLICA")
        # On the replica the master link runs unrestricted.
        assert b"user=(superuser)" in rc.cmd("CLIENT", "LIST", "TYPE", "MASTER")
    finally:
        if replica:
            replica.stop()
        master.stop()
