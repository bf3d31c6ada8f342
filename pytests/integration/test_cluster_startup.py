"""Starting a cluster node, for Tern and redis-server alike: nodes.conf created at once,
restarts keep the id, epochs and slots, a corrupt nodes.conf stops the server and stays
as it was, two nodes cannot share one nodes.conf, a client port above 55535 needs
cluster-port; without cluster-enabled the cluster commands say support is disabled."""
import os
import re

import socket

import pytest
import redis

from cluster_support import ClusterNodeProcess, cluster_info, start_node, wait_for
from conftest import start_tern

KINDS = ["tern", "redis"]


def port_free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.mark.parametrize("kind", KINDS)
def test_new_node_saves_its_identity_and_keeps_it_across_restarts(kind):
    n = start_node(kind)
    try:
        myid = n.myid()
        assert re.fullmatch(r"[0-9a-f]{40}", myid)
        first = n.nodes_conf()
        assert first == "%s :0@0 myself,master - 0 0 0 connected\nvars currentEpoch 0 lastVoteEpoch 0\n" % myid
        n.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "100")
        n.cmd("CLUSTER", "SET-CONFIG-EPOCH", "4")
        n.cmd("CLUSTER", "BUMPEPOCH")
        wait_for(lambda: "0-100" in n.nodes_conf(), what="nodes.conf saved")
        n.restart()
        assert n.myid() == myid
        info = cluster_info(n)
        assert info["cluster_current_epoch"] == "4" and info["cluster_my_epoch"] == "4"
        assert n.cmd("CLUSTER", "NODES") == "%s :%d@%d myself,master - 0 0 4 connected 0-100\n" % (
            myid, n.port, n.port + 10000)
        assert n.nodes_conf().endswith("vars currentEpoch 4 lastVoteEpoch 0\n")
    finally:
        n.stop()


CORRUPT = [
    "not-a-node-id :0@0 myself,master - 0 0 0 connected\n",
    "%s 127.0.0.1:1@2 master - 0 0 0 connected\n" % ("a" * 40),          # no myself
    "%s 127.0.0.1:1@2 myself,master - 0 0\n" % ("a" * 40),               # too few fields
    "%s 127.0.0.1:1@2 myself,master - 0 0 0 connected 99999\n" % ("a" * 40),
    "%s 127.0.0.1:1@2 myself,master - 0 0 0 connected\nvars currentEpoch\n" % ("a" * 40),
    "%s noport myself,master - 0 0 0 connected\n" % ("a" * 40),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", CORRUPT)
def test_corrupt_nodes_conf_stops_the_server_and_stays(kind, text):
    n = ClusterNodeProcess(kind, nodes_conf=text, wait=False)
    try:
        assert n.wait_exit() == 1
        assert "Unrecoverable error: corrupted cluster config file." in n.output()
        assert n.nodes_conf() == text
    finally:
        n.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_two_nodes_cannot_share_a_nodes_conf(kind):
    a = start_node(kind)
    try:
        b = ClusterNodeProcess(kind, directory=a.dir, wait=False)
        try:
            assert b.wait_exit() == 1
            assert "is already used by a different Redis Cluster node" in b.output()
        finally:
            b.stop(remove=False)
        # The first node still owns it and still saves to it.
        a.cmd("CLUSTER", "ADDSLOTS", "7")
        wait_for(lambda: " 7\n" in a.nodes_conf(), what="save after the refused start")
    finally:
        a.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_client_port_above_55535_needs_cluster_port(kind):
    port = next(p for p in range(55536 + (os.getpid() % 5000), 65535) if port_free(p))
    n = ClusterNodeProcess(kind, port=port, wait=False)
    try:
        assert n.wait_exit() == 1
        assert "Your Redis port number must be 55535 or less." in n.output()
    finally:
        n.stop()


def test_cluster_commands_without_cluster_mode():
    s = start_tern()
    try:
        c = s.client()
        for cmd in (("CLUSTER", "INFO"), ("CLUSTER", "NODES"), ("READONLY",), ("READWRITE",), ("ASKING",)):
            with pytest.raises(redis.ResponseError, match="^This instance has cluster support disabled$"):
                c.execute_command(*cmd)
        assert c.info("cluster") == {"cluster_enabled": 0}
        assert c.info("server")["redis_mode"] == "standalone"
        assert c.execute_command("SELECT", "3") is True
    finally:
        s.stop()


def test_startup_log_names_the_node():
    n = start_node("tern")
    try:
        out = n.output()
        assert "No cluster configuration found, I'm %s" % n.myid() in out
        assert "Running mode=cluster" in out
        n.restart()
        assert "Node configuration loaded, I'm %s" % n.myid() in n.output()
    finally:
        n.stop()
