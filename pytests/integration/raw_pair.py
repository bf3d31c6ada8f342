"""The `pair` fixture of the side-by-side tests: raw connections to Tern and to a real
redis-server (both flushed), once in RESP2 and once in RESP3. Import it into a test
module (`from raw_pair import pair`); see resp_wire.Pair for what it offers."""
import pytest

from resp_wire import Pair


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, tern_server, redis_server):
    p = Pair(tern_server.port, redis_server.port, request.param)
    p.t.cmd("FLUSHALL")
    p.r.cmd("FLUSHALL")
    yield p
    p.close()


def same(pair, *args):
    """Asserts identical reply bytes from both servers and returns them."""
    return pair.same(*args)
