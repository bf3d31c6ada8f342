"""CLIENT UNPAUSE releases postponed clients through the deferred resume queue (Redis's
unblocked_clients list), not inside its own call: a command pipelined right after CLIENT
UNPAUSE in the same packet still runs before the released client's write. Side by side
with redis-server."""
import time

from propagation_stream import Conn


def unpause_then_read(port):
    ctl, writer = Conn(port), Conn(port)
    try:
        ctl.call("FLUSHALL")
        assert ctl.call("CLIENT", "PAUSE", "100000", "WRITE") == b"+OK"
        writer.send(["SET", "k", "v"])
        time.sleep(0.1)
        # One packet: the GET runs in the same read batch as CLIENT UNPAUSE.
        ctl.s.sendall(b"CLIENT UNPAUSE\r\nGET k\r\n")
        replies = [ctl.read_reply(), ctl.read_reply()]
        assert writer.read_reply() == b"+OK"
        return replies + [ctl.call("GET", "k")]
    finally:
        ctl.close()
        writer.close()


def test_unpause_resumes_after_the_current_batch(tern_server, redis_server):
    expected = [b"+OK", None, b"v"]
    assert unpause_then_read(redis_server.port) == expected
    assert unpause_then_read(tern_server.port) == expected
