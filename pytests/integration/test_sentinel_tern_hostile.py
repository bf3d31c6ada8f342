"""Hostile input to a Tern sentinel: odd arguments to every SENTINEL subcommand and forged
hello messages get errors or are ignored; the sentinel keeps running and answering."""
import itertools
import time

import redis

from conftest import ServerProcess, tern_binary
from sentinel_support import MASTER_NAME, RawConnection, Topology, sentinel_config

SUBCOMMANDS = ["MASTERS", "MASTER", "REPLICAS", "SLAVES", "SENTINELS", "GET-MASTER-ADDR-BY-NAME", "RESET",
               "CKQUORUM", "FLUSHCONFIG", "MONITOR", "SET", "INFO-CACHE", "IS-MASTER-DOWN-BY-ADDR", "MYID",
               "CONFIG", "SIMULATE-FAILURE", "PENDING-SCRIPTS", "DEBUG", "HELP", "FOO"]
VALUES = ["", "-1", "0", "9223372036854775807", "18446744073709551616", "*", "mym", "x" * 300, "\x00\xff",
          "127.0.0.1", "down-after-milliseconds", "quorum", "rename-command", "ping-period", "set", "get"]


def test_odd_arguments_and_forged_hellos():
    topo = Topology(server_kind="tern", sentinel_kinds=(), replicas=0)
    try:
        s = ServerProcess(tern_binary(), ["--sentinel"], config_text=sentinel_config(topo.master.port, quorum=1))
        topo.sentinels.append(s)
        c = RawConnection(s.port)
        for sub in SUBCOMMANDS:
            for n in range(0, 4):
                for args in itertools.islice(itertools.product(VALUES, repeat=n), 60):
                    reply = c.call("SENTINEL", sub, *args)
                    assert reply[:1] in b"+-:$*%_", (sub, args, reply)
        # Huge periods and values must not overflow anything later on.
        for cmd in [("SENTINEL", "SET", MASTER_NAME, "down-after-milliseconds", "9223372036854775807"),
                    ("SENTINEL", "SET", MASTER_NAME, "failover-timeout", "9223372036854775807"),
                    ("SENTINEL", "DEBUG", "ping-period", "9223372036854775807", "info-period", "9223372036854775807")]:
            assert c.call(*cmd) == b"+OK\r\n"
        forged = [
            "", ",,,,,,,", "a,b,c,d,e,f,g,h", "1.2.3.4,26379,%s,1,nosuch,1.1.1.1,1,1" % ("a" * 40),
            "1.2.3.4,99999999999,%s,18446744073709551615,%s,1.1.1.1,0,18446744073709551615" % ("b" * 40, MASTER_NAME),
            "1.2.3.4,26379,%s,18446744073709551616,%s,127.0.0.1,1,1" % ("c" * 40, MASTER_NAME),
        ]
        for payload in forged:
            assert c.call("PUBLISH", "__sentinel__:hello", payload) == b":1\r\n"
        assert c.call("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", str(topo.master.port),
                      "9223372036854775807", "d" * 40)[:4] == b"*3\r\n"
        c.call("SENTINEL", "FAILOVER", MASTER_NAME)
        time.sleep(1.5)  # a few timer runs over that state
        for _ in range(3):
            assert c.call("PING") == b"+PONG\r\n"
            assert c.call("SENTINEL", "MASTERS")[:1] == b"*"
        c.close()
        assert s.alive()
        assert redis.Redis(port=s.port).ping()
    finally:
        topo.stop()
