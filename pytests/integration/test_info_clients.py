"""INFO clients counters and CLIENT LIST flags for blocked and paused clients, side by side
with redis-server: a client held by CLIENT PAUSE counts in blocked_clients and shows flag b;
clients blocked with a timeout fill clients_in_timeout_table."""
import socket
import time

from resp_wire import encode


def info_clients(port):
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(encode("INFO", "clients"))
        time.sleep(0.05)
        data = s.recv(65536).decode()
        return dict(line.split(":", 1) for line in data.split("\r\n") if ":" in line and not line.startswith("$"))
    finally:
        s.close()


def client_flags(port, cmd):
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(encode("CLIENT", "LIST"))
        time.sleep(0.05)
        data = s.recv(65536).decode()
        for line in data.split("\n"):
            if "cmd=%s " % cmd in line:
                return dict(f.split("=", 1) for f in line.split(" ") if "=" in f)["flags"]
        return None
    finally:
        s.close()


def scenario(port):
    out = []
    ctl = socket.create_connection(("127.0.0.1", port))
    held = socket.create_connection(("127.0.0.1", port))
    blocked = socket.create_connection(("127.0.0.1", port))
    forever = socket.create_connection(("127.0.0.1", port))
    try:
        ctl.sendall(encode("CLIENT", "PAUSE", "5000", "WRITE"))
        ctl.recv(100)
        held.sendall(encode("SET", "k", "v"))
        time.sleep(0.2)
        i = info_clients(port)
        out.append((i["blocked_clients"], i["clients_in_timeout_table"], client_flags(port, "set")))
        ctl.sendall(encode("CLIENT", "UNPAUSE"))
        ctl.recv(100)
        held.recv(100)
        blocked.sendall(encode("BLPOP", "nolist", "30"))
        forever.sendall(encode("BLPOP", "nolist2", "0"))
        time.sleep(0.2)
        i = info_clients(port)
        out.append((i["blocked_clients"], i["clients_in_timeout_table"], client_flags(port, "blpop")))
    finally:
        for s in (ctl, held, blocked, forever):
            s.close()
    return out


def test_paused_and_blocked_clients_like_redis(tern_server, redis_server):
    t, r = scenario(tern_server.port), scenario(redis_server.port)
    assert t == r
    assert r[0][:2] == ("1", "0") and r[1][:2] == ("2", "1")


def client_info_fields(s):
    s.sendall(encode("CLIENT", "INFO"))
    time.sleep(0.05)
    data = s.recv(65536).decode()
    line = data.split("\r\n", 1)[1]
    return dict(f.split("=", 1) for f in line.strip().split(" ") if "=" in f)


def buffers_scenario(port):
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(encode("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100"))
        s.recv(100)
        first = client_info_fields(s)
        time.sleep(1.5)          # idle: the cron resets the peak, then shrinks the buffer
        later = client_info_fields(s)
        s.sendall(encode("INFO", "stats"))
        time.sleep(0.05)
        stats = s.recv(65536).decode()
        shrinks = int([l for l in stats.split("\r\n") if l.startswith("reply_buffer_shrinks:")][0].split(":")[1])
        return first, later, shrinks
    finally:
        s.sendall(encode("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "RESET"))
        s.recv(100)
        s.close()


def test_query_and_reply_buffer_fields_like_redis(tern_server, redis_server):
    """qbuf holds the command being run (26 bytes of CLIENT INFO as RESP); an idle client's
    reply buffer shrinks to 1 KB once its peak was reset (DEBUG REPLYBUFFER), as in Redis."""
    t, r = buffers_scenario(tern_server.port), buffers_scenario(redis_server.port)
    for first, later, shrinks in (t, r):
        assert first["qbuf"] == "26" and int(first["qbuf-free"]) > 0
        assert first["rbs"] == "16384"
        assert later["rbs"] == "1024" and later["rbp"] == "0"
        assert shrinks >= 1
    for k in ("qbuf", "rbs", "argv-mem", "multi-mem", "obl", "oll", "omem"):
        assert t[0][k] == r[0][k] and t[1][k] == r[1][k], k
