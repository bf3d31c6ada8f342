"""maxmemory and the eight maxmemory-policy values, side by side with a real redis-server.

Each scenario runs the same access pattern on Tern and on redis-server. maxmemory is set
relative to each server's own used_memory (baseline after FLUSHALL plus a share of what the
fill added), so the two servers' different per-key sizes do not matter; then writes go past
the limit and the survivors must follow the policy on both servers. Eviction is sampled
(maxmemory-samples) on both, so checks are on clear majorities, never on exact victims,
except where the policy leaves no choice (volatile-* never touches persistent keys,
noeviction refuses). No check depends on timing: the LRU case sleeps past the LRU clock's
one-second resolution before reading, the slice test only waits for a state.
"""
import socket
import time

import pytest
import redis

from conftest import raw_command, start_redis, start_tern
from propagation_stream import END_CHANNEL, ReplicaStream, parse_frames
from resp_wire import encode_all

OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
N = 1500          # keys of the initial fill
VALUE = b"x" * 1000


@pytest.fixture(scope="module")
def servers():
    t = start_tern()
    r = start_redis()
    yield {"tern": t, "redis": r}
    t.stop()
    r.stop()


def reset(c):
    c.config_set("maxmemory", 0)
    c.config_set("maxmemory-policy", "noeviction")
    c.config_set("maxmemory-samples", 10)
    c.config_set("maxmemory-eviction-tenacity", 10)
    c.config_set("lfu-log-factor", 10)
    c.config_set("lfu-decay-time", 1)
    c.config_set("lazyfree-lazy-eviction", "no")
    c.config_set("notify-keyspace-events", "")
    c.flushall()
    c.config_resetstat()


@pytest.fixture
def clients(servers):
    cs = {name: s.client() for name, s in servers.items()}
    for c in cs.values():
        reset(c)
    yield cs
    for c in cs.values():
        reset(c)
        c.close()


def used(c):
    return int(c.info("memory")["used_memory"])


def stat(c, name):
    return int(c.info("stats")[name])


def settle(c):
    """Waits for the eviction task to finish (evicted_keys stops moving)."""
    last = -1
    deadline = time.time() + 60
    while time.time() < deadline:
        n = stat(c, "evicted_keys")
        if n == last:
            return n
        last = n
        time.sleep(0.2)
    return last


def fill(c, names, ttl=None):
    """SETs every name to VALUE (EX ttl(name) when given); returns the replies (OOM errors
    included) in order."""
    out = []
    p = c.pipeline(transaction=False)
    for i, k in enumerate(names):
        if ttl:
            p.set(k, VALUE, ex=ttl(k))
        else:
            p.set(k, VALUE)
        if i % 250 == 249:
            out += p.execute(raise_on_error=False)
    out += p.execute(raise_on_error=False)
    return out


def existing(c, names):
    p = c.pipeline(transaction=False)
    for k in names:
        p.exists(k)
    return {k for k, e in zip(names, p.execute()) if e}


def limit_after_fill(c, base, share):
    """maxmemory = baseline + `share` of what the fill added (this server's own sizes)."""
    grown = used(c) - base
    limit = base + int(grown * share)
    c.config_set("maxmemory", limit)
    return limit


def keys(prefix, n):
    return ["%s:%d" % (prefix, i) for i in range(n)]


# MARK: policies


def run_access_policy(c, policy, hot_reads):
    """Fill, read the first 10% (`hot_reads` times), then write 40% more keys than fit."""
    c.config_set("maxmemory-policy", policy)
    if policy.endswith("-lfu"):
        c.config_set("lfu-log-factor", 0)
    base = used(c)
    cold = keys("k", N)
    fill(c, cold)
    if policy.endswith("-lru"):
        time.sleep(2.1)  # the LRU clock counts seconds: the fill must read as idle
    hot = cold[: N // 10]
    for _ in range(hot_reads):
        p = c.pipeline(transaction=False)
        for k in hot:
            p.get(k)
        p.execute()
    limit_after_fill(c, base, 1.02)
    fill(c, keys("new", int(N * 0.4)))
    return hot, cold[N // 10:]


@pytest.mark.parametrize("policy,reads", [("allkeys-lru", 1), ("allkeys-lfu", 10)])
def test_recently_or_frequently_read_keys_survive(clients, policy, reads):
    for name, c in clients.items():
        hot, cold = run_access_policy(c, policy, reads)
        evicted = stat(c, "evicted_keys")
        assert evicted > N * 0.2, (name, evicted)
        hot_left = len(existing(c, hot))
        cold_left = len(existing(c, cold))
        assert hot_left >= len(hot) * 0.95, (name, policy, hot_left)
        assert cold_left < len(cold) * 0.8, (name, policy, cold_left)


def test_volatile_ttl_evicts_shortest_ttls_first(clients):
    for name, c in clients.items():
        c.config_set("maxmemory-policy", "volatile-ttl")
        base = used(c)
        names = keys("t", N)
        ttl_of = {k: 10000 + 10 * i for i, k in enumerate(names)}
        fill(c, names, ttl=ttl_of.get)
        limit_after_fill(c, base, 1.02)
        fill(c, keys("p", int(N * 0.4)))  # persistent: never candidates
        left = existing(c, names)
        assert stat(c, "evicted_keys") > N * 0.2, name
        shortest, longest = names[: N // 5], names[N // 2:]
        assert sum(k not in left for k in shortest) >= len(shortest) * 0.9, name
        assert sum(k in left for k in longest) >= len(longest) * 0.95, name
        assert existing(c, keys("p", int(N * 0.4))) == set(keys("p", int(N * 0.4))), name


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random"])
def test_volatile_policies_evict_only_keys_with_a_ttl(clients, policy):
    for name, c in clients.items():
        c.config_set("maxmemory-policy", policy)
        base = used(c)
        volatile, persistent = keys("v", N // 2), keys("p", N // 2)
        fill(c, volatile, ttl=lambda k: 100000)
        fill(c, persistent)
        limit_after_fill(c, base, 1.02)
        # Keep writing persistent keys: the volatile ones go, then writes are refused.
        extra, refused = 0, None
        while refused is None and extra < N * 2:
            batch = keys("q%d" % extra, 100)
            for reply in fill(c, batch):
                if isinstance(reply, redis.ResponseError):
                    refused = str(reply)
                    break
            extra += 100
        # redis-py keeps the text after the error code (OutOfMemoryError).
        assert refused == "command not allowed when used memory > 'maxmemory'.", (name, refused)
        assert existing(c, persistent) == set(persistent), name
        assert existing(c, volatile) == set(), name
        assert stat(c, "evicted_keys") == len(volatile), name


def test_allkeys_random_evicts_old_and_new(clients):
    for name, c in clients.items():
        c.config_set("maxmemory-policy", "allkeys-random")
        base = used(c)
        old = keys("o", N)
        fill(c, old)
        limit_after_fill(c, base, 1.02)
        new = keys("n", N)
        replies = fill(c, new)
        assert all(r is True for r in replies), name
        assert stat(c, "evicted_keys") > N * 0.5, name
        assert len(existing(c, old)) < N * 0.75, name
        assert 0 < len(existing(c, new)) < N, name


# MARK: refusals


def over_limit(c):
    """noeviction, and a limit far below what is used."""
    c.set("a", "1")
    c.config_set("maxmemory", 1)


def test_noeviction_refuses_denyoom_commands_with_the_exact_error(servers, clients):
    cmds = [["SET", "b", "1"], ["GET", "a"], ["LPUSH", "l", "x"], ["INCR", "a"], ["DEL", "a"],
            ["APPEND", "z", "x"], ["EXISTS", "a"], ["PING"]]
    out = {}
    for name, c in clients.items():
        over_limit(c)
        out[name] = raw_command(servers[name].port, encode_all(cmds), 0.5)
        assert out[name].startswith(OOM), name
    assert out["tern"] == out["redis"]
    assert stat(clients["tern"], "evicted_keys") == 0


def test_oom_inside_multi_matches_redis_bytes(servers, clients):
    cmds = [["MULTI"], ["GET", "a"], ["SET", "x", "y"], ["EXEC"],
            ["MULTI"], ["PING"], ["DISCARD"],
            ["MULTI"], ["EXEC"]]
    out = {}
    for name, c in clients.items():
        over_limit(c)
        out[name] = raw_command(servers[name].port, encode_all(cmds), 0.5)
    assert out["tern"] == out["redis"], out
    assert b"EXECABORT" in out["tern"]


def test_exec_of_queued_denyoom_commands_is_refused_when_over(servers, clients):
    out = {}
    for name, c in clients.items():
        s = socket.create_connection(("127.0.0.1", servers[name].port))
        s.sendall(encode_all([["MULTI"], ["SET", "x", "y"], ["GET", "x"]]))
        time.sleep(0.2)
        c.config_set("maxmemory", 1)
        s.sendall(encode_all([["EXEC"], ["MULTI"], ["GET", "x"], ["PING"]]))
        time.sleep(0.2)
        c.config_set("maxmemory", 0)
        s.sendall(encode_all([["EXEC"], ["MULTI"], ["GET", "nothing"]]))
        time.sleep(0.2)
        c.config_set("maxmemory", 1)
        s.sendall(encode_all([["EXEC"]]))  # nothing denyoom queued: it runs
        time.sleep(0.3)
        s.settimeout(0.5)
        data = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except socket.timeout:
            pass
        s.close()
        out[name] = data
    assert out["tern"] == out["redis"], out
    assert b"-EXECABORT Transaction discarded because of: OOM command not allowed" in out["tern"]
    rejected = {n: c.info("commandstats").get("cmdstat_exec", {}).get("rejected_calls") for n, c in clients.items()}
    assert rejected["tern"] == rejected["redis"] == 1


# MARK: what an eviction does


def test_evicted_events_stats_and_resetstat(servers, clients):
    got = {}
    for name, c in clients.items():
        c.config_set("notify-keyspace-events", "Ee")
        sub = servers[name].client()
        ps = sub.pubsub()
        ps.subscribe("__keyevent@0__:evicted")
        ps.get_message(timeout=1)
        c.config_set("maxmemory-policy", "allkeys-lru")
        base = used(c)
        fill(c, keys("k", 300))
        limit_after_fill(c, base, 0.5)
        fill(c, keys("m", 50))
        evicted = settle(c)
        assert evicted > 0, name
        msgs = []
        deadline = time.time() + 10
        while len(msgs) < evicted and time.time() < deadline:
            m = ps.get_message(timeout=1)
            if m and m["type"] == "message":
                msgs.append(m)
        assert len(msgs) == evicted, name
        assert {m["channel"] for m in msgs} == {b"__keyevent@0__:evicted"}
        assert not existing(c, [m["data"].decode() for m in msgs]), name
        info = c.info("stats")
        assert "total_eviction_exceeded_time" in info and "current_eviction_exceeded_time" in info
        c.config_resetstat()
        assert stat(c, "evicted_keys") == 0, name
        got[name] = sorted(k for k in c.info("stats") if "evict" in k)
        ps.close()
        sub.close()
    assert got["tern"] == got["redis"]


def test_eviction_touches_watched_keys(servers, clients):
    results = {}
    for name, c in clients.items():
        c.config_set("maxmemory-policy", "allkeys-random")
        base = used(c)
        fill(c, keys("k", 200))
        w = servers[name].client()
        p = w.pipeline(transaction=True)
        p.watch(*keys("k", 200))
        p.multi()
        p.set("result", "1")
        limit_after_fill(c, base, 0.5)  # the eviction task starts
        settle(c)
        try:
            p.execute()
            results[name] = "ran"
        except redis.WatchError:
            results[name] = "aborted"
        w.close()
    assert results == {"tern": "aborted", "redis": "aborted"}


def test_object_freq_matches_redis_with_log_factor_zero(clients):
    from side_by_side import both
    t, r = clients["tern"], clients["redis"]
    for c in (t, r):
        c.config_set("maxmemory-policy", "allkeys-lfu")
        c.config_set("lfu-log-factor", 0)
        # With maxmemory set and an LFU policy integers get objects of their own: with
        # maxmemory 0 they would be shared objects created at start-up, whose field holds
        # whatever the start-up policy put there.
        c.config_set("maxmemory", 1 << 30)
    steps = [["SET", "s", "v"], ["OBJECT", "FREQ", "s"], ["GET", "s"], ["GET", "s"], ["OBJECT", "FREQ", "s"],
             ["SET", "s", "w"], ["OBJECT", "FREQ", "s"], ["APPEND", "s", "x"], ["OBJECT", "FREQ", "s"],
             ["INCR", "n"], ["INCR", "n"], ["OBJECT", "FREQ", "n"], ["SET", "i", "5"], ["OBJECT", "FREQ", "i"],
             ["LPUSH", "l", "a"], ["LRANGE", "l", "0", "-1"], ["OBJECT", "FREQ", "l"],
             ["HSET", "h", "f", "v"], ["HGET", "h", "f"], ["HGET", "h", "f"], ["OBJECT", "FREQ", "h"],
             ["EXISTS", "s"], ["TYPE", "s"], ["OBJECT", "FREQ", "s"], ["TOUCH", "s"], ["OBJECT", "FREQ", "s"],
             ["OBJECT", "IDLETIME", "s"]]
    for s in steps:
        both(t, r, *s)
    for _ in range(300):
        t.get("s"), r.get("s")
    both(t, r, "OBJECT", "FREQ", "s")  # saturates at 255


def test_config_set_lower_evicts_in_slices_while_clients_are_served(servers, clients):
    """CONFIG SET maxmemory evicts nothing itself (Redis 7.0 starts its eviction task); a DBSIZE
    pipelined behind it (same read batch, before the task runs) evicts first and, with
    tenacity 0, stops at the time limit after 16 keys: exactly 16 keys gone on both servers.
    The task then evicts the rest while another client keeps getting answers."""
    after = {}
    for name, c in clients.items():
        c.config_set("maxmemory-policy", "allkeys-random")
        c.config_set("maxmemory-eviction-tenacity", 0)
        base = used(c)
        c.execute_command("DEBUG", "POPULATE", 30000, "key", 100)
        start = c.dbsize()
        limit = base + int((used(c) - base) * 0.05)
        p = c.pipeline(transaction=False)
        p.config_set("maxmemory", limit)
        p.dbsize()
        ok, n = p.execute()
        assert ok is True
        after[name] = start - n
        other = servers[name].client()
        deadline = time.time() + 120
        while time.time() < deadline:
            assert other.ping() is True
            if int(other.info("stats")["current_eviction_exceeded_time"]) == 0 and used(other) <= limit:
                break
        final = other.dbsize()
        other.close()
        assert final < start * 0.3, (name, final)
        assert "WARNING: the new maxmemory value set via CONFIG SET" in servers[name].output(), name
    assert after == {"tern": 16, "redis": 16}


def test_redis_sends_evictions_as_bare_dels():
    """What Tern's unit test (EvictionTests.testEvictionsPropagateAsBareDels) expects of the
    stream: each evicted key a DEL of its own (no MULTI), before the write that needed room."""
    s = start_redis(["--repl-diskless-sync-delay", "0"])
    try:
        c = s.client()
        for i in range(100):
            c.set("k%d" % i, VALUE)
        stream = ReplicaStream(s.port)
        c.config_set("maxmemory-policy", "allkeys-lru")
        c.config_set("maxmemory", used(c) - 20000)
        c.set("new", VALUE)
        c.publish(END_CHANNEL, "x")
        frames = [args for _, args in parse_frames(stream.read_until_marker())]
        stream.close()
        names = [f[0] for f in frames]
        assert b"MULTI" not in names
        assert names[0] == b"SELECT" and b"SET" in names
        # Redis's eviction timer may keep evicting after the SET: those DELs come after it
        # in the stream (and count in evicted_keys) but are never wrapped with anything.
        at = names.index(b"SET")
        assert set(names[1:at]) == {b"DEL"} and set(names[at + 1:]) <= {b"DEL"}
        assert len(names) - 2 <= stat(c, "evicted_keys")
        c.close()
    finally:
        s.stop()


def test_evicted_keys_are_invalidated_for_tracking_clients(servers, clients):
    for name, c in clients.items():
        c.config_set("maxmemory-policy", "allkeys-random")
        base = used(c)
        names = keys("k", 200)
        fill(c, names)
        inv = servers[name].client()
        ps = inv.pubsub()
        ps.subscribe("__redis__:invalidate")
        ps.get_message(timeout=1)
        reader = servers[name].client()
        # The subscriber's id: the tracking client redirects its invalidations there.
        sub_id = [cl["id"] for cl in reader.client_list() if cl.get("cmd") == "subscribe"][0]
        reader.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", sub_id)
        for k in names:
            reader.get(k)
        limit_after_fill(c, base, 0.5)
        evicted = settle(c)
        assert evicted > 0, name
        got = set()
        deadline = time.time() + 10
        while len(got) < evicted and time.time() < deadline:
            m = ps.get_message(timeout=1)
            if m and m["type"] == "message" and m["data"]:
                got.update(k.decode() for k in m["data"])
        assert len(got) == evicted, (name, len(got), evicted)
        assert not existing(c, sorted(got)), name
        ps.close()
        inv.close()
        reader.close()


def test_lazy_eviction_of_big_values_gets_under_the_limit(servers, clients):
    """lazyfree-lazy-eviction: big hashes are freed by the background thread; eviction
    notices the memory coming back and stops (it does not empty the dataset)."""
    for name, c in clients.items():
        c.config_set("maxmemory-policy", "allkeys-lru")
        c.config_set("lazyfree-lazy-eviction", "yes")
        base = used(c)
        p = c.pipeline(transaction=False)
        for i in range(40):
            p.hset("h%d" % i, mapping={"f%d" % j: "v" * 20 for j in range(500)})
        p.execute()
        limit = limit_after_fill(c, base, 0.5)
        settle(c)
        for _ in range(3):
            c.set("probe", "x")  # evicts if still over
        left = c.dbsize()
        assert 5 < left < 40, (name, left)
        assert stat(c, "evicted_keys") >= 10, name
        assert used(c) <= limit + 256 * 1024, name
