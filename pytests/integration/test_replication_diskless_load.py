"""repl-diskless-load on-empty-db / swapdb on a Tern replica: the RDB of a full sync is parsed
from the master link (no temp file), with a Tern and a redis-server master, both framings
($<len> from a disk-backed master, $EOF: from a diskless one). With a scripted master the
same transfer is played to a Tern and a redis-server replica side by side: swapdb's async
loading keeps serving the old data (INFO async_loading:1, loading_* fields), a transfer cut
mid-way keeps the old data (swapdb) or leaves the replica empty (on-empty-db), and both retry."""
import contextlib
import os
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import ServerProcess, start_redis, start_tern, tern_binary
from replication_support import digest, populate, wait_for, wait_synced, write_load
from test_replication_replica import FakeMaster, cleanup, cmd, info_repl, wait_log  # noqa: F401 (fixture)

MARK = b"0123456789abcdef0123456789abcdef01234567"


def temp_files(server):
    return [f for f in os.listdir(server.dir) if f.startswith("temp-")]


@pytest.mark.parametrize("mode", ["on-empty-db", "swapdb"])
@pytest.mark.parametrize("master_kind", ["tern", "redis"])
@pytest.mark.parametrize("diskless_sync", ["yes", "no"])
def test_full_sync_loads_from_the_socket(cleanup, mode, master_kind, diskless_sync):
    args = ["--repl-diskless-sync", diskless_sync, "--repl-diskless-sync-delay", "0"]
    m = start_tern(args) if master_kind == "tern" else start_redis(args)
    cleanup.append(m)
    mc = m.client()
    populate(mc)
    t = start_tern(["--replicaof", "127.0.0.1", str(m.port), "--repl-diskless-load", mode])
    cleanup.append(t)
    tc = t.client()
    wait_synced(mc, tc)
    write_load(mc, 300, seed=7)
    wait_synced(mc, tc)
    assert digest(tc) == digest(mc)
    framing = "with EOF to parser" if diskless_sync == "yes" else "bytes from master to parser"
    log = t.output()
    assert framing in log
    assert "MASTER <-> REPLICA sync: Finished with success" in log
    if mode == "swapdb":
        assert "MASTER <-> REPLICA sync: Swapping active DB with loaded DB" in log
    else:
        assert "MASTER <-> REPLICA sync: Flushing old data" in log
    assert not temp_files(t)


def test_on_empty_db_with_data_goes_to_disk(cleanup):
    """on-empty-db loads from the socket only while the replica holds no key."""
    m = start_redis(["--repl-diskless-sync-delay", "0"])
    cleanup.append(m)
    mc = m.client()
    populate(mc)
    t = start_tern(["--repl-diskless-load", "on-empty-db"])
    cleanup.append(t)
    tc = t.client()
    tc.set("mine", "1")
    tc.replicaof("127.0.0.1", m.port)
    wait_synced(mc, tc)
    assert "receiving streamed RDB from master with EOF to disk" in t.output()
    assert digest(tc) == digest(mc)


# --- the same transfer played by a scripted master to a Tern and a redis-server replica -----

def make_rdb(keys):
    """An RDB image written by redis-server: `keys` keys plus foo=new."""
    s = start_redis()
    try:
        c = s.client()
        c.execute_command("DEBUG", "POPULATE", keys, "key", 20)
        c.set("foo", "new")
        c.execute_command("SAVE")
        with open(os.path.join(s.dir, "dump.rdb"), "rb") as f:
            return f.read()
    finally:
        s.stop()


@pytest.fixture(scope="module")
def rdbs():
    return make_rdb(10), make_rdb(20000)


def scripted_replica(binary, mode, fm):
    args = ["--replicaof", "127.0.0.1", str(fm.port), "--repl-diskless-load", mode, "--save", "",
            "--loading-process-events-interval-bytes", "1024"]
    if "tern" in os.path.basename(binary):
        args += ["--enable-debug-command", "yes"]
    return ServerProcess(binary, args)


def first_sync(fm, client, rdb, replid):
    """Full sync of `rdb` from the scripted master under `replid`, then foo=old on top."""
    fm.accept()
    fm.handshake(b"+FULLRESYNC %s 100\r\n" % replid)
    fm.send(b"$EOF:" + MARK + b"\r\n" + rdb + MARK)
    wait_for(lambda: info_repl(client)["master_link_status"] == "up", 20, "first sync")
    fm.send(cmd("SELECT", "0") + cmd("SET", "foo", "old"))
    wait_for(lambda: client.get("foo") == b"old", 20, "foo=old")


@contextlib.contextmanager
def second_full_sync(binary, mode, small, second_id):
    """A replica of the scripted master; swapdb first syncs `small` (plus foo=old) under
    replid x..x. Then a new connection gets +FULLRESYNC under `second_id`, offset 500."""
    fm = FakeMaster()
    srv = scripted_replica(binary, mode, fm)
    try:
        c = srv.client()
        if mode == "swapdb":
            first_sync(fm, c, small, b"x" * 40)
            fm.conn.close()
        fm.accept()
        fm.handshake(b"+FULLRESYNC %s 500\r\n" % second_id)
        yield fm, srv, c
    finally:
        fm.close()
        srv.stop()


def play_slow_load(binary, rdbs, mode, second_id):
    """A full sync sent slowly by the scripted master; a reader samples GET foo, DBSIZE and
    INFO from the middle of the load. swapdb first syncs a small dataset (foo=old) under
    replid x..x, then the big one comes under `second_id` (the same id: async loading).
    Returns what the reader saw, the data after and the log."""
    with second_full_sync(binary, mode, rdbs[0], second_id) as (fm, srv, c):
        payload = rdbs[1] + MARK
        fm.send(b"$EOF:" + MARK + b"\r\n")
        half = threading.Event()
        seen = {}

        def reader():
            # No retry: redis-py retries -LOADING (a ConnectionError) by default.
            rc = srv.client(socket_timeout=20, retry=Retry(NoBackoff(), 0))
            half.wait(20)
            try:
                seen["foo"] = rc.get("foo")
            except redis.BusyLoadingError:
                seen["foo"] = "LOADING"
            seen["info"] = rc.info("all")

        th = threading.Thread(target=reader)
        th.start()
        sent = 0
        while sent < len(payload):
            fm.send(payload[sent:sent + 4096])
            sent += 4096
            if sent >= len(payload) // 2:
                half.set()
            # Slow enough for the reader to be served mid-load (Redis serves clients only
            # between loaded chunks); no assertion depends on it.
            time.sleep(0.005)
        th.join(30)
        wait_for(lambda: info_repl(c)["master_link_status"] == "up", 30, "second sync")
        after = (c.get("foo"), c.dbsize())
        return seen, after, srv.output()


@pytest.mark.parametrize("mode,second_id", [("swapdb", b"x" * 40), ("swapdb", b"z" * 40), ("on-empty-db", b"z" * 40)])
def test_load_from_socket_info_and_reads_like_redis(rdbs, mode, second_id):
    """swapdb under the same replid: async loading, reads answered from the old data. swapdb
    under a new replid and on-empty-db: loading:1, -LOADING. INFO's loading and transfer
    fields as a redis-server replica shows them in the same spot."""
    ours = play_slow_load(tern_binary(), rdbs, mode, second_id)
    theirs = play_slow_load("/usr/bin/redis-server", rdbs, mode, second_id)
    is_async = mode == "swapdb" and second_id == b"x" * 40
    for seen, after, log in (ours, theirs):
        i = seen["info"]
        if is_async:
            # The old data answered in the middle of the load, not -LOADING.
            assert seen["foo"] == b"old"
            assert i["db0"]["keys"] == 11
            assert (i["loading"], i["async_loading"]) == (0, 1)
        else:
            assert seen["foo"] == "LOADING"
            assert (i["loading"], i["async_loading"]) == (1, 0)
        assert i["master_sync_in_progress"] == 1 and i["master_link_status"] == "down"
        assert i["loading_total_bytes"] == 0          # EOF framing: size unknown
        assert 0 < i["loading_loaded_bytes"] < len(rdbs[1])
        assert i["loading_rdb_used_mem"] > 0
        assert 0 < i["loading_loaded_perc"] <= 99.99
        assert (i["master_sync_total_bytes"], i["master_sync_read_bytes"], i["master_sync_left_bytes"]) == (0, 0, 0)
        assert after == (b"new", 20001)
        lines = ["receiving streamed RDB from master with EOF to parser",
                 "MASTER <-> REPLICA sync: Loading DB in memory",
                 "Done loading RDB, keys loaded: 20001, keys expired: 0.",
                 "MASTER <-> REPLICA sync: Finished with success"]
        if mode == "swapdb":
            lines += ["MASTER <-> REPLICA sync: Swapping active DB with loaded DB",
                      "MASTER <-> REPLICA sync: Discarding old DB in background"]
            assert "Flushing old data" not in log
        else:
            lines.append("MASTER <-> REPLICA sync: Flushing old data")
        for line in lines:
            assert line in log, line
        assert log.count("Done loading RDB, keys loaded: 20001") == 1
    def fields(info):
        return {k for k in info if k.startswith(("loading", "async_loading", "master_sync"))}
    assert fields(ours[0]["info"]) == fields(theirs[0]["info"])


def play_cut_transfer(binary, mode, rdbs, framing):
    """The transfer stops half-way (the master's socket closes); returns the data after
    it, whether the replica came back to PSYNC, and the log."""
    big = rdbs[1]
    with second_full_sync(binary, mode, rdbs[0], b"y" * 40) as (fm, srv, c):
        if framing == "eof":
            fm.send(b"$EOF:" + MARK + b"\r\n" + big[:len(big) // 2])
        else:
            fm.send(b"$%d\r\n" % len(big) + big[:len(big) // 2])
        # The load has started once its log line is out. (Polling INFO raced: redis-server
        # loads on-empty-db transfers synchronously, answers only from its loading callback,
        # and once the half is parsed it blocks reading the rest until the read times out.)
        wait_for(lambda: "MASTER <-> REPLICA sync: Loading DB in memory" in srv.output(), 30, "transfer started")
        fm.conn.close()
        # The replica retries: a new connection and handshake.
        fm.accept()
        retry = fm.handshake(b"-LOADING try later\r\n")[-1]
        wait_for(lambda: c.info("persistence")["loading"] == 0, 20, "load abandoned")
        return c.get("foo"), c.dbsize(), retry, srv.output()


@pytest.mark.parametrize("mode", ["swapdb", "on-empty-db"])
@pytest.mark.parametrize("framing", ["eof", "len"])
def test_transfer_cut_midway_like_redis(rdbs, mode, framing):
    tern = tern_binary()
    for binary in (tern, "/usr/bin/redis-server"):
        foo, dbsize, retry, log = play_cut_transfer(binary, mode, rdbs, framing)
        if mode == "swapdb":
            # The old data stays; the next PSYNC still offers its history.
            assert (foo, dbsize) == (b"old", 11), binary
            assert retry == [b"PSYNC", b"x" * 40, b"155"], binary
            assert "MASTER <-> REPLICA sync: Discarding temporary DB in background" in log
        else:
            assert (foo, dbsize) == (None, 0), binary
            assert retry == [b"PSYNC", b"?", b"-1"], binary
        assert "Failed trying to load the MASTER synchronization DB from socket" in log, binary
        assert "Failure loading rdb format from socket, assuming connection error, resuming operation." in log


def test_master_killed_mid_transfer_keeps_old_data(cleanup):
    """A real master dies while a swapdb replica loads its full sync: the old data stays
    and serves reads; a restarted master syncs it again."""
    m = start_tern(["--repl-diskless-sync", "no", "--save", ""])
    cleanup.append(m)
    mc = m.client()
    populate(mc)
    t = start_tern(["--replicaof", "127.0.0.1", str(m.port), "--repl-diskless-load", "swapdb",
                    "--repl-diskless-sync", "no", "--save", ""])
    cleanup.append(t)
    tc = t.client()
    wait_synced(mc, tc)
    old = digest(tc)
    # A dataset big enough that its transfer is under way when the master is killed (DEBUG
    # POPULATE does not replicate); the replica's next sync must be a full one: its link is
    # cut while it sleeps and the small backlog is overrun meanwhile.
    mc.execute_command("DEBUG", "POPULATE", 400000, "big", 100)
    mc.config_set("repl-backlog-size", "16kb")
    sleeper = threading.Thread(target=lambda: t.client().execute_command("DEBUG", "SLEEP", 1))
    sleeper.start()
    time.sleep(0.2)
    mc.client_kill_filter(_type="slave")
    mc.set("overrun", "x" * 100000)
    sleeper.join()
    wait_log(t, "bytes from master to parser", count=2)
    m.proc.kill()
    m.proc.wait()
    wait_log(t, "Failed trying to load the MASTER synchronization DB from socket")
    assert "Successful partial resynchronization" not in t.output()
    assert tc.info("persistence")["async_loading"] == 0
    assert digest(tc) == old
    assert tc.get("s:int") == b"12345"
