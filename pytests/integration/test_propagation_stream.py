"""The committed propagation fixture (Tests/Fixtures/propagation.json) is what redis-server
sends to a replica: every scenario is replayed on a live redis-server, its replication stream
read through SYNC, masked the same way, and compared byte for byte. The Swift unit tests
(PropagationStreamTests) compare Tern's stream with the same fixture, so Tern and Redis are
checked against the same bytes; if the fixture ever drifts from Redis, this test fails
(re-record with tools/record_propagation_fixtures.py)."""
import json
import os

import pytest

from conftest import start_redis
from propagation_stream import run_on_redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "Tests", "Fixtures", "propagation.json")

with open(FIXTURE) as f:
    DOC = json.load(f)


@pytest.fixture(scope="module")
def replication_redis():
    s = start_redis(["--repl-diskless-sync-delay", "0"])
    yield s
    s.stop()


def test_fixture_comes_from_redis_7_0():
    assert "v=7.0." in DOC["recorded_from"]


@pytest.mark.parametrize("scenario", DOC["scenarios"], ids=[s["name"] for s in DOC["scenarios"]])
def test_redis_sends_the_recorded_stream(replication_redis, scenario):
    got = run_on_redis(replication_redis.port, scenario)
    assert got == scenario["stream"].encode("latin-1")
