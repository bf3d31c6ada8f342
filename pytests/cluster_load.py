"""A redis-py RedisCluster client writing and reading in a thread while redis-cli's cluster
tooling reshapes the cluster (tests/integration/test_cluster_ops*.py).

Writes go round a fixed set of keys with an increasing counter as value, so "the last
acknowledged value" of a key is well defined. A write that raised is not acknowledged but may
have been applied: its value is remembered as a possible one for the key. Redirections the
client followed (MOVED, ASK, TRYAGAIN) are counted by wrapping each node client's
parse_response, which sees every reply before redis-py's cluster layer handles it.
"""
import random
import subprocess
import threading
import time

from redis.cluster import RedisCluster
from redis.exceptions import AskError, MovedError, TryAgainError

from cluster_support import redis_cli


class RedirectCounter:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"MOVED": 0, "ASK": 0, "TRYAGAIN": 0}

    def add(self, kind):
        with self.lock:
            self.counts[kind] += 1


class CountingCluster(RedisCluster):
    """RedisCluster whose node clients count the redirection replies they parse (redis-py then
    follows them inside _execute_command, where they are otherwise invisible)."""

    def __init__(self, counter, **kw):
        self.redirect_counter = counter
        super().__init__(**kw)

    def get_redis_connection(self, node):
        r = super().get_redis_connection(node)
        if not getattr(r, "_redirects_counted", False):
            parse = r.parse_response
            counter = self.redirect_counter

            def counted(*a, **kw):
                try:
                    return parse(*a, **kw)
                except MovedError:
                    counter.add("MOVED")
                    raise
                except AskError:
                    counter.add("ASK")
                    raise
                except TryAgainError:
                    counter.add("TRYAGAIN")
                    raise
            r.parse_response = counted
            r._redirects_counted = True
        return r


class ClusterLoad:
    """SET/GET over `nkeys` keys through RedisCluster until stop()."""

    def __init__(self, node, nkeys=2000):
        self.redirects = RedirectCounter()
        self.client = CountingCluster(self.redirects, host="127.0.0.1", port=node.port,
                                      decode_responses=True, socket_timeout=5)
        self.nkeys = nkeys
        self.acked = {}        # key -> (value, time acknowledged)
        self.possible = {}     # key -> values written without an acknowledgement since the last ack
        self.errors = []       # (time, command, repr(exception))
        self.stale_reads = []  # (time, key, expected, got)
        self.writes = 0
        self.reads = 0
        self._stop = threading.Event()
        self._refresh = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def key(self, i):
        return "load:%d" % i

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        n = 0
        rnd = random.Random(7)
        while not self._stop.is_set():
            if self._refresh.is_set():
                self.client.nodes_manager.initialize()
                self._refresh.clear()
            n += 1
            k = self.key(n % self.nkeys)
            try:
                self.client.set(k, str(n))
                self.acked[k] = (n, time.time())
                self.possible.pop(k, None)
                self.writes += 1
            except Exception as e:  # anything that is not a followed redirection
                self.errors.append((time.time(), "SET", repr(e)))
                self.possible.setdefault(k, set()).add(n)
                time.sleep(0.05)
                continue
            if self.acked and n % 3 == 0:
                rk = self.key(rnd.randrange(self.nkeys))
                exp = self.acked.get(rk)
                if exp is None or rk in self.possible:
                    continue
                try:
                    got = self.client.get(rk)
                    self.reads += 1
                    if got != str(exp[0]):
                        self.stale_reads.append((time.time(), rk, exp[0], got))
                except Exception as e:
                    self.errors.append((time.time(), "GET", repr(e)))
                    time.sleep(0.05)

    def wait_writes(self, count, timeout=30):
        """Block until `count` more writes were acknowledged (the load is really running)."""
        target = self.writes + count
        deadline = time.time() + timeout
        while self.writes < target:
            assert time.time() < deadline, "load stalled: %r" % self.errors[-3:]
            assert self._thread.is_alive(), "load thread died"
            time.sleep(0.02)

    def refresh_topology(self, timeout=20):
        """Has the load thread reload the slot map (a real client does so periodically).
        Needed after add-node: redis-py 6.4 follows an ASK only to a node already in its
        cache (get_node returns None, then an AttributeError), and a new node can be the
        target of an ASK before any MOVED has taught the client about it."""
        self._refresh.set()
        deadline = time.time() + timeout
        while self._refresh.is_set():
            assert time.time() < deadline and self._thread.is_alive(), "slot map refresh stalled"
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive()

    def verify(self, reader=None):
        """Reads every acknowledged key back: returns the list of (key, acked value, ack time,
        value read) for keys not holding their last acknowledged value (nor a later unacknowledged
        one)."""
        c = reader or RedisCluster(host=self.client.get_default_node().host,
                                   port=self.client.get_default_node().port, decode_responses=True)
        lost = []
        keys = sorted(self.acked)
        for i in range(0, len(keys), 200):
            batch = keys[i:i + 200]
            values = c.mget_nonatomic(batch)
            for k, got in zip(batch, values):
                val, at = self.acked[k]
                ok = {str(val)} | {str(v) for v in self.possible.get(k, ()) if v > val}
                if got not in ok:
                    lost.append((k, val, at, got))
        return lost

    def close(self):
        self.client.close()


def cli(*args, timeout=120):
    """`redis-cli --cluster ...`: its output, asserting it succeeded."""
    argv = [redis_cli(), "--cluster"] + [str(a) for a in args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, "%s\n%s%s" % (" ".join(argv), out.stdout, out.stderr)
    return out.stdout


def check_clean(node, timeout=30):
    """`redis-cli --cluster check` succeeds without warnings (retried while gossip settles)."""
    deadline = time.time() + timeout
    while True:
        out = subprocess.run([redis_cli(), "--cluster", "check", "127.0.0.1:%d" % node.port],
                             capture_output=True, text=True, timeout=30)
        text = out.stdout + out.stderr
        if out.returncode == 0 and "[WARNING]" not in text and "[ERR]" not in text:
            return text
        if time.time() > deadline:
            raise AssertionError("cluster check not clean:\n" + text)
        time.sleep(0.3)
