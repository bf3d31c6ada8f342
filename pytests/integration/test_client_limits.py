"""Client limits side by side with redis-server 7.0: client-output-buffer-limit per class
(a client that stops reading is closed under the hard limit at once, under the soft limit
after its seconds, and kept under the limits), client eviction with maxmemory-clients
(biggest bucket first, CLIENT NO-EVICT spared, evicted_clients), client-query-buffer-limit
and proto-max-bulk-len. Every scenario runs on both servers and checks the same
observables: who is still connected, INFO counters and the log lines.

A client that "stops reading" is a raw socket with a small receive buffer that never calls
recv; the loopback send buffer still absorbs a few MB, so the writers keep going (bounded)
until the server gives up on the reader."""
import re
import socket
import time

import pytest

from conftest import start_redis, start_tern
from resp_wire import encode


@pytest.fixture(scope="module")
def servers():
    t, r = start_tern(), start_redis()
    yield {"tern": t, "redis": r}
    t.stop()
    r.stop()


def each(servers):
    return [(name, servers[name]) for name in ("tern", "redis")]


def reader_socket(port, rcvbuf=4096):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.settimeout(5)
    return s


def request(s, *args):
    """One command on a raw socket and its (short) reply."""
    s.sendall(encode(*args))
    return s.recv(65536)


def client_id(s):
    reply = request(s, "CLIENT", "ID")
    return int(reply[1:].split(b"\r\n")[0])


def client_ids(c):
    text = c.execute_command("CLIENT", "LIST")
    text = text.decode() if isinstance(text, bytes) else text
    return {int(m) for m in re.findall(r"^id=(\d+) ", text, re.M)}


def wait_until(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def closed_by_server(s, timeout=5):
    """True once the server closed the socket (EOF or reset), reading whatever was left."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(1 << 20):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def log_lines(srv, needle):
    return [l for l in srv.output().splitlines() if needle in l]


@pytest.fixture
def reset_limits(servers):
    yield
    for _, srv in each(servers):
        c = srv.client()
        c.config_set("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        c.config_set("maxmemory-clients", "0")
        c.config_set("client-query-buffer-limit", "1gb")
        c.config_set("proto-max-bulk-len", "512mb")
        c.close()


def publish_until_dropped(c, channel, max_messages=4000, size=16000):
    """Publishes until nobody receives (the subscriber was closed); returns the count."""
    msg = b"m" * size
    for i in range(max_messages):
        if c.publish(channel, msg) == 0:
            return i
    return None


# --- client-output-buffer-limit -------------------------------------------------------

def test_pubsub_hard_limit_closes_subscriber(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-output-buffer-limit", "pubsub 256kb 0 0")
        before = c.info("stats")["evicted_clients"]
        sub = reader_socket(srv.port)
        sid = client_id(sub)
        assert b"subscribe" in request(sub, "SUBSCRIBE", "ch-hard")
        n = publish_until_dropped(c, "ch-hard")
        assert n is not None, name
        assert closed_by_server(sub), name
        lines = log_lines(srv, "Client id=%d " % sid)
        assert lines and lines[-1].endswith("scheduled to be closed ASAP for overcoming of output buffer limits."), (name, lines)
        assert " flags=P " in lines[-1] and " sub=1 " in lines[-1], (name, lines[-1])
        # Redis 7.0 counts these closes nowhere in INFO.
        assert c.info("stats")["evicted_clients"] == before, name
        c.close()


def test_pubsub_soft_limit_closes_after_its_seconds(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-output-buffer-limit", "pubsub 0 128kb 1")
        sub = reader_socket(srv.port)
        sid = client_id(sub)
        request(sub, "SUBSCRIBE", "ch-soft")
        # A burst that the kernel cannot absorb, then nothing more: the clients cron closes
        # the subscriber once it has been over the soft limit for more than a second.
        msg = b"s" * 16000
        for _ in range(1000):
            if c.publish("ch-soft", msg) == 0:
                break
        assert wait_until(lambda: c.pubsub_numsub("ch-soft")[0][1] == 0, 6), name
        assert closed_by_server(sub), name
        lines = log_lines(srv, "Client id=%d " % sid)
        assert lines and "for overcoming of output buffer limits." in lines[-1], (name, lines)
        c.close()


def test_pubsub_subscriber_under_limits_is_kept(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-output-buffer-limit", "pubsub 8mb 4mb 1")
        sub = reader_socket(srv.port)
        sid = client_id(sub)
        request(sub, "SUBSCRIBE", "ch-kept")
        for _ in range(64):
            assert c.publish("ch-kept", b"k" * 1000) == 1, name
        time.sleep(1.3)   # past the soft seconds: a cron pass has looked at it
        assert sid in client_ids(c), name
        assert c.pubsub_numsub("ch-kept")[0][1] == 1, name
        assert not log_lines(srv, "Client id=%d " % sid), name
        sub.close()
        c.close()


def test_normal_class_pipeline_that_is_not_read(servers, reset_limits):
    """A normal client pipelines GETs of a big value and never reads the replies."""
    for name, srv in each(servers):
        c = srv.client()
        c.set("big", b"v" * 100_000)
        c.config_set("client-output-buffer-limit", "normal 1mb 0 0")
        s = reader_socket(srv.port)
        sid = client_id(s)
        s.sendall(encode("GET", "big") * 200)
        assert wait_until(lambda: sid not in client_ids(c), 5), name
        assert closed_by_server(s), name
        lines = log_lines(srv, "Client id=%d " % sid)
        assert lines and lines[-1].endswith("scheduled to be closed ASAP for overcoming of output buffer limits."), (name, lines)
        assert " flags=N " in lines[-1] and " cmd=get " in lines[-1], (name, lines[-1])
        c.close()


def test_normal_class_monitor_that_stops_reading(servers, reset_limits):
    """MONITOR clients are limited as normal clients; another client's commands feed it."""
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-output-buffer-limit", "normal 256kb 0 0")
        mon = reader_socket(srv.port)
        mid = client_id(mon)
        assert request(mon, "MONITOR") == b"+OK\r\n"
        value = b"w" * 16000
        gone = False
        for _ in range(3000):
            c.set("fed", value)
            if mid not in client_ids(c):
                gone = True
                break
        assert gone, name
        lines = log_lines(srv, "Client id=%d " % mid)
        assert lines and "for overcoming of output buffer limits." in lines[-1], (name, lines)
        assert " flags=O " in lines[-1], (name, lines[-1])
        # The writer was never limited.
        assert c.ping()
        c.close()


def test_normal_class_soft_limit_closes_monitor_after_its_seconds(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-output-buffer-limit", "normal 0 128kb 1")
        mon = reader_socket(srv.port)
        mid = client_id(mon)
        assert request(mon, "MONITOR") == b"+OK\r\n"
        # A burst the kernel cannot absorb, then silence: the cron closes the monitor once it
        # has been over the soft limit for more than a second.
        value = b"u" * 16000
        for _ in range(600):
            c.set("soft-fed", value)
        assert wait_until(lambda: mid not in client_ids(c), 6), name
        lines = log_lines(srv, "Client id=%d " % mid)
        assert lines and "for overcoming of output buffer limits." in lines[-1], (name, lines)
        c.close()


def test_normal_client_under_hard_limit_is_kept(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.set("small", b"v" * 1000)
        c.config_set("client-output-buffer-limit", "normal 1mb 0 0")
        s = reader_socket(srv.port)
        sid = client_id(s)
        s.sendall(encode("GET", "small") * 100)   # 100 KB of replies, unread
        time.sleep(0.3)
        assert sid in client_ids(c), name
        got = b""
        s.settimeout(5)
        while got.count(b"\r\n") < 200:
            got += s.recv(65536)
        assert got == (b"$1000\r\n" + b"v" * 1000 + b"\r\n") * 100
        c.close()


def test_replica_class_is_parsed_and_shown_like_redis(servers, reset_limits):
    # No replication yet: the replica class's enforcement is covered by ClientLimitsTests.
    got = {}
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-output-buffer-limit", "replica 1mb 512kb 10 pubsub 2mb 1mb 30")
        got[name] = c.config_get("client-output-buffer-limit")
        c.close()
    assert got["tern"] == got["redis"]
    assert got["redis"]["client-output-buffer-limit"] == "normal 0 0 0 slave 1048576 524288 10 pubsub 2097152 1048576 30"


def test_client_list_output_fields_while_not_reading(servers, reset_limits):
    """omem/oll grow and events shows w while a subscriber does not read, on both."""
    for name, srv in each(servers):
        c = srv.client()
        sub = reader_socket(srv.port)
        sid = client_id(sub)
        request(sub, "SUBSCRIBE", "ch-fields")
        for _ in range(400):
            c.publish("ch-fields", b"f" * 16000)
        line = c.execute_command("CLIENT", "LIST", "ID", sid)
        line = line.decode() if isinstance(line, bytes) else line
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        assert int(f["omem"]) > 0 and int(f["oll"]) > 0, (name, line)
        assert f["events"] == "rw", (name, line)
        assert int(f["tot-mem"]) > int(f["omem"]), (name, line)
        sub.close()
        c.close()


# --- client eviction (maxmemory-clients) ---------------------------------------------

def partial_big_command(port, size, no_evict=False):
    """A connection in the middle of sending a SET with a `size`-byte value: its query
    buffer holds what arrived (and, on both servers, room for the whole value)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    cid = client_id(s)
    if no_evict:
        assert request(s, "CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
    s.sendall(b"*3\r\n$3\r\nSET\r\n$7\r\npartial\r\n$%d\r\n" % (size + 100))
    try:
        s.sendall(b"z" * size)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return s, cid


def test_client_eviction_biggest_first_no_evict_spared(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.client_no_evict("on")
        before = c.info("stats")["evicted_clients"]
        small = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(3)]
        small_ids = []
        for s in small:
            s.settimeout(5)
            small_ids.append(client_id(s))
        keeper, keeper_id = partial_big_command(srv.port, 300_000, no_evict=True)
        time.sleep(0.2)
        c.config_set("maxmemory-clients", "1500kb")
        time.sleep(0.2)
        assert c.info("stats")["evicted_clients"] == before, name
        report = c.execute_command("DEBUG", "CLIENT-EVICTION")
        report = report.decode() if isinstance(report, bytes) else report
        assert len(report.strip().split("\n")) == 19, (name, report)
        big, big_id = partial_big_command(srv.port, 1_500_000)
        assert closed_by_server(big), name
        assert wait_until(lambda: c.info("stats")["evicted_clients"] == before + 1, 3), name
        ids = client_ids(c)
        assert big_id not in ids, name
        assert keeper_id in ids and all(i in ids for i in small_ids), (name, ids)
        lines = log_lines(srv, "Evicting client: id=%d " % big_id)
        assert len(lines) == 1, (name, lines)
        assert c.info("memory")["mem_clients_normal"] > 300_000, name
        for s in small + [keeper]:
            s.close()
        c.close()


def test_client_eviction_off_evicts_nobody(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        before = c.info("stats")["evicted_clients"]
        big, big_id = partial_big_command(srv.port, 1_500_000)
        time.sleep(0.3)
        assert big_id in client_ids(c), name
        assert c.info("stats")["evicted_clients"] == before, name
        with pytest.raises(Exception, match="maxmemory-clients is disabled"):
            c.execute_command("DEBUG", "CLIENT-EVICTION")
        big.close()
        c.close()


# --- client-query-buffer-limit and proto-max-bulk-len ---------------------------------

def test_query_buffer_limit_closes_client(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-query-buffer-limit", "1mb")
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.settimeout(5)
        sid = client_id(s)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$3000000\r\n")
        try:
            for _ in range(150):          # 2.4 MB at most, past the 1 MB limit
                s.sendall(b"y" * 16384)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed_by_server(s), name
        lines = log_lines(srv, "Closing client that reached max query buffer length: id=%d " % sid)
        assert len(lines) == 1, (name, lines)
        assert "(qbuf initial bytes: \"" in lines[0], (name, lines[0])
        assert c.exists("q") == 0, name
        c.close()


def test_query_buffer_under_limit_completes(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-query-buffer-limit", "1mb")
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.settimeout(5)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$900000\r\n")
        for _ in range(9):
            s.sendall(b"y" * 100_000)
            time.sleep(0.01)
        s.sendall(b"\r\n")
        assert s.recv(100) == b"+OK\r\n", name
        assert c.strlen("q") == 900_000
        c.delete("q")
        s.close()
        c.close()


def test_proto_max_bulk_len_refuses_before_query_buffer_limit(servers, reset_limits):
    replies = {}
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("client-query-buffer-limit", "1mb")
        c.config_set("proto-max-bulk-len", "1mb")
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.settimeout(5)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$2000000\r\n")
        got = b""
        try:
            while True:
                chunk = s.recv(1000)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        replies[name] = got
        c.close()
    assert replies["tern"] == replies["redis"] == b"-ERR Protocol error: invalid bulk length\r\n"


def test_debug_client_eviction_report_shape_like_redis(servers, reset_limits):
    reports = {}
    for name, srv in each(servers):
        c = srv.client()
        c.config_set("maxmemory-clients", "10mb")
        text = c.execute_command("DEBUG", "CLIENT-EVICTION")
        text = text.decode() if isinstance(text, bytes) else text
        # Sizes of clients differ between the servers; the layout must not.
        reports[name] = re.sub(r"tot-mem: +\d+, clients: \d+", "tot-mem: N, clients: N", text)
        c.close()
    assert reports["tern"] == reports["redis"]
    assert reports["redis"].startswith("bucket          0 -      32767: tot-mem: N, clients: N\n")


def test_client_eviction_percentage_of_maxmemory(servers, reset_limits):
    for name, srv in each(servers):
        c = srv.client()
        c.flushall()
        c.client_no_evict("on")
        before = c.info("stats")["evicted_clients"]
        c.config_set("maxmemory", "20mb")
        try:
            c.config_set("maxmemory-clients", "5%")     # 1 MB
            big, big_id = partial_big_command(srv.port, 1_200_000)
            assert closed_by_server(big), name
            assert wait_until(lambda: c.info("stats")["evicted_clients"] == before + 1, 3), name
            assert big_id not in client_ids(c), name
        finally:
            c.config_set("maxmemory-clients", "0")
            c.config_set("maxmemory", "0")
        c.client_no_evict("off")
        c.close()
