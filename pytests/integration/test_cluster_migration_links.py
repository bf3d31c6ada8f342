"""cluster-link-sendbuf-limit (Redis 7.0): a bus link whose peer stops reading grows its send
buffer with every PUBLISH; past the limit the cron frees it, logs it and counts it in CLUSTER
INFO's total_cluster_links_buffer_limit_exceeded; the link is made again and the cluster
recovers once the peer reads. Run on redis-server and on Tern nodes alike."""
import os
import signal

import pytest

from cluster_support import cluster_info, start_node, stop_all, wait_converged, wait_for

ARGS = ["--cluster-node-timeout", "3000"]


def links(node):
    """CLUSTER LINKS as a list of dicts (RESP2 flat arrays)."""
    out = []
    for entry in node.cmd("CLUSTER", "LINKS"):
        if isinstance(entry, dict):
            out.append(entry)
        else:
            out.append(dict(zip(entry[::2], entry[1::2])))
    return out


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_link_over_send_buffer_limit_is_freed(kind):
    a = start_node(kind, ARGS + ["--cluster-link-sendbuf-limit", "1048576"])
    b = start_node(kind, ARGS)
    nodes = [a, b]
    stopped = False
    try:
        a.cmd("CLUSTER", "ADDSLOTSRANGE", 0, 8191)
        b.cmd("CLUSTER", "ADDSLOTSRANGE", 8192, 16383)
        a.cmd("CLUSTER", "SET-CONFIG-EPOCH", 1)
        b.cmd("CLUSTER", "SET-CONFIG-EPOCH", 2)
        a.cmd("CLUSTER", "MEET", "127.0.0.1", b.port)
        wait_converged(nodes)
        wait_for(lambda: len(links(a)) == 2, 10, "a link each way")
        for link in links(a):
            assert set(link) == {"direction", "node", "create-time", "events", "send-buffer-allocated",
                                 "send-buffer-used"}
            assert link["node"] == b.myid() and link["direction"] in ("to", "from")
        assert cluster_info(a)["total_cluster_links_buffer_limit_exceeded"] == "0"
        assert int(a.cmd("INFO", "memory")["mem_cluster_links"]) > 0
        assert a.cmd("CONFIG", "GET", "cluster-link-sendbuf-limit") == ["cluster-link-sendbuf-limit", "1048576"]

        os.kill(b.proc.pid, signal.SIGSTOP)
        stopped = True
        c = a.client()
        payload = "x" * (1 << 20)
        # Loopback socket buffers take a few MB; the rest stays in the link's send buffer.
        for _ in range(40):
            c.execute_command("PUBLISH", "ch", payload)
        c.close()
        wait_for(lambda: int(cluster_info(a)["total_cluster_links_buffer_limit_exceeded"]) >= 1, 5,
                 "the link to be freed")
        assert "due to exceeding send buffer memory limit" in a.output()
        assert all(link["send-buffer-allocated"] <= 1048576 * 2 for link in links(a)
                   if link["direction"] == "from")

        os.kill(b.proc.pid, signal.SIGCONT)
        stopped = False
        wait_converged(nodes)
        wait_for(lambda: len(links(a)) == 2, 10, "the link made again")
    finally:
        if stopped:
            os.kill(b.proc.pid, signal.SIGCONT)
        stop_all(nodes)


@pytest.mark.parametrize("kind", ["redis", "tern"])
def test_sendbuf_limit_config(kind):
    n = start_node(kind, ARGS)
    try:
        assert n.cmd("CONFIG", "GET", "cluster-link-sendbuf-limit") == ["cluster-link-sendbuf-limit", "0"]
        assert n.cmd("CONFIG", "SET", "cluster-link-sendbuf-limit", "64kb") == "OK"
        assert n.cmd("CONFIG", "GET", "cluster-link-sendbuf-limit") == ["cluster-link-sendbuf-limit", "65536"]
        with pytest.raises(Exception) as e:
            n.cmd("CONFIG", "SET", "cluster-link-sendbuf-limit", "-1")
        assert "argument must be a memory value" in str(e.value)
        assert cluster_info(n)["total_cluster_links_buffer_limit_exceeded"] == "0"
        assert n.cmd("INFO", "memory")["mem_cluster_links"] == 0
    finally:
        n.stop()
