"""The startup load of dump.rdb serves clients meanwhile, as Redis 7.0 does: -LOADING to
commands without the `loading` flag, INFO persistence's loading fields moving, the data once
loaded; SHUTDOWN and SIGTERM during the load exit without saving over the file."""
import os
import shutil
import signal
import tempfile
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import start_redis, start_tern

LOADING_FIELDS = ["loading_start_time", "loading_total_bytes", "loading_rdb_used_mem",
                  "loading_loaded_bytes", "loading_loaded_perc", "loading_eta_seconds"]


@pytest.fixture(scope="module")
def big_rdb():
    """A dump.rdb of 200,000 keys written by redis-server (DEBUG POPULATE), a few MB."""
    d = tempfile.mkdtemp(prefix="tern-loading-")
    r = start_redis(["--dir", d])
    try:
        c = r.client()
        c.execute_command("DEBUG", "POPULATE", 200000, "key", 20)
        c.rpush("mylist", *range(100))
        assert c.save()
        digest = c.execute_command("DEBUG", "DIGEST")
    finally:
        r.stop()
    path = os.path.join(d, "dump.rdb")
    yield path, digest
    shutil.rmtree(d, ignore_errors=True)


def start_loading(big_rdb, *args):
    """A Tern whose dir holds the big file, loading it in 1 KB slices (the smallest
    loading-process-events-interval-bytes) so the load spans thousands of event rounds."""
    path, _ = big_rdb
    d = tempfile.mkdtemp(prefix="tern-loading-dir-")
    shutil.copy(path, os.path.join(d, "dump.rdb"))
    t = start_tern(["--dir", d, "--save", "", "--loading-process-events-interval-bytes", "1024", *args])
    return t, d


def client(server):
    """No retries: redis-py treats -LOADING as a connection error and would retry it."""
    return server.client(retry=Retry(NoBackoff(), 0))


def raw_info_persistence(c):
    c.set_response_callback("INFO", lambda r, **kw: r)
    text = c.execute_command("INFO", "persistence")
    if isinstance(text, bytes):
        text = text.decode()
    return [line.split(":", 1) for line in text.split("\r\n") if ":" in line]


def test_clients_get_loading_then_data(big_rdb):
    t, d = start_loading(big_rdb)
    try:
        c = client(t)
        seen_loading = False
        progress = []
        total = os.path.getsize(os.path.join(d, "dump.rdb"))
        while True:
            try:
                v = c.get("key:7")
            except redis.BusyLoadingError as e:
                assert str(e) == "Redis is loading the dataset in memory"
                seen_loading = True
                fields = raw_info_persistence(c)
                names = [k for k, _ in fields]
                vals = dict(fields)
                if vals["loading"] == "1":
                    # Redis's order: the six loading_* lines close the section.
                    assert names[-6:] == LOADING_FIELDS
                    assert int(vals["loading_total_bytes"]) == total
                    assert int(vals["loading_rdb_used_mem"]) > 0
                    assert int(vals["loading_start_time"]) <= time.time() + 1
                    progress.append((int(vals["loading_loaded_bytes"]), float(vals["loading_loaded_perc"]),
                                     int(vals["rdb_last_load_keys_loaded"])))
                continue
            assert v.startswith(b"value:7")
            break
        assert seen_loading, "no -LOADING seen: the load did not serve clients"
        assert len(progress) >= 2
        assert progress == sorted(progress), progress
        assert progress[-1][0] > progress[0][0]
        assert all(0 <= p <= 100 for _, p, _ in progress)
        fields = dict(raw_info_persistence(c))
        assert fields["loading"] == "0" and "loading_total_bytes" not in fields
        assert fields["rdb_last_load_keys_loaded"] == "200001"
        assert c.dbsize() == 200001
        assert c.execute_command("DEBUG", "DIGEST") == big_rdb[1]
        assert c.lrange("mylist", 0, 2) == [b"0", b"1", b"2"]
        out = t.output()
        assert "Loading RDB produced by version 7.0.15" in out
        assert "Done loading RDB, keys loaded: 200001, keys expired: 0." in out
        assert out.index("Done loading RDB") < out.index("Ready to accept connections")
    finally:
        t.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_loading_refusals_match_redis(big_rdb):
    """The same commands get -LOADING from both servers mid-load; rejected_calls counts them."""
    cmds = [("GET", "x"), ("PING",), ("SET", "a", "b"), ("DBSIZE",), ("ECHO", "e"), ("CLIENT", "ID"),
            ("CONFIG", "GET", "port"), ("COMMAND", "COUNT"), ("SELECT", "1"), ("HELLO", "2"), ("DEBUG", "SLEEP", "0"), ("FLUSHALL",),
            ("TIME",), ("LASTSAVE",)]
    path, _ = big_rdb
    rd = tempfile.mkdtemp(prefix="tern-loading-redis-")
    shutil.copy(path, os.path.join(rd, "dump.rdb"))
    # key-load-delay slows Redis's load (microseconds per key) so the probe lands mid-load.
    r = start_redis(["--dir", rd, "--key-load-delay", "50", "--loading-process-events-interval-bytes", "1024"])
    t, d = start_loading(big_rdb)
    try:
        def probe(server):
            c = client(server)
            out = []
            for cmd in cmds:
                try:
                    c.execute_command(*cmd)
                    out.append("ok")
                except redis.BusyLoadingError:
                    out.append("LOADING")
                except redis.ResponseError as e:
                    out.append("ERR " + str(e))
                except TypeError:
                    out.append("ok")   # redis-py's reply callback (COMMAND) choked: it answered
            loading = dict(raw_info_persistence(c))["loading"]
            c.close()
            return out, loading
        a, la = probe(r)
        b, lb = probe(t)
        assert la == "1" and lb == "1", "a probe came after the load ended"
        assert a == b
    finally:
        r.stop()
        t.stop()
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(rd, ignore_errors=True)


@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
def test_shutdown_during_load_does_not_save(big_rdb, how):
    t, d = start_loading(big_rdb, "--save", "3600 1")
    try:
        c = client(t)
        with pytest.raises(redis.BusyLoadingError):
            c.get("x")
        before = open(os.path.join(d, "dump.rdb"), "rb").read()
        if how == "shutdown":
            with pytest.raises(redis.ConnectionError):
                c.execute_command("SHUTDOWN", "SAVE")
        else:
            t.proc.send_signal(signal.SIGTERM)
        assert t.proc.wait(20) == 0
        out = t.output()
        assert "Saving the final RDB snapshot" not in out
        if how == "sigterm":
            assert "Received shutdown signal during loading, scheduling shutdown." in out
        assert "User requested shutdown..." in out
        assert open(os.path.join(d, "dump.rdb"), "rb").read() == before
    finally:
        t.stop()
        shutil.rmtree(d, ignore_errors=True)
