"""COMMAND GETKEYS and GETKEYSANDFLAGS, byte for byte against redis-server, for a generated
call of every command and subcommand with keys (several for the commands with a get-keys
function: key counts, STORE, KEYS ...; wrong arities; the errors of commands without keys
and of unknown commands). Redis only knows its own commands and so does Tern: calls of
commands Tern does not register yet are left to the unit tests (GetKeysTests)."""
import pytest

from getkeys_cases import fetch_catalog, generate
from resp_wire import Conn, value


@pytest.fixture(scope="module")
def cases(redis_server):
    return generate(fetch_catalog(redis_server.port))


def registered(port):
    c = Conn(port, 3)
    try:
        c.send("COMMAND", "LIST")
        names = value(c.read_node())
    finally:
        c.close()
    return {n.decode() for n in names}


def command_of(argv, known_containers):
    name = argv[0].lower()
    if name in known_containers and len(argv) > 1:
        return name + "|" + argv[1].lower()
    return name


def replies(port, protocol, sub, calls):
    c = Conn(port, protocol, timeout=30)
    try:
        c.pipeline(*[("COMMAND", sub, *argv) for argv in calls])
        return [c.read() for _ in calls]
    finally:
        c.close()


@pytest.mark.parametrize("sub", ["GETKEYSANDFLAGS", "GETKEYS"])
@pytest.mark.parametrize("protocol", [2, 3])
def test_getkeys_of_every_command_matches_redis(tern_server, redis_server, cases, sub, protocol):
    redis_names = registered(redis_server.port)
    tern_names = registered(tern_server.port)
    containers = {n.split("|")[0] for n in redis_names if "|" in n}
    picked = []
    for argv in cases:
        full = command_of(argv, containers)
        top = full.split("|")[0]
        if full in redis_names and full not in tern_names:
            continue
        if top in redis_names and top not in tern_names:
            continue
        picked.append(argv)
    # Every registered command with keys is among the calls.
    assert len(picked) > 300
    got = replies(tern_server.port, protocol, sub, picked)
    want = replies(redis_server.port, protocol, sub, picked)
    mismatches = [(argv, g, w) for argv, g, w in zip(picked, got, want) if g != w]
    assert not mismatches, "%d of %d differ, first ones:\n%s" % (
        len(mismatches), len(picked), "\n".join("%r:\n  tern  %r\n  redis %r" % m for m in mismatches[:15]))


def test_generated_calls_cover_every_command_with_keys(redis_server, cases):
    catalog = fetch_catalog(redis_server.port)
    with_keys = {n for n, (e, _) in catalog.items() if not e[9] and
                 ("movablekeys" in e[2] or any("not_key" not in s["flags"] for s in e[8]))}
    containers = {n.split("|")[0] for n in catalog if "|" in n}
    covered = {command_of(argv, containers) for argv in cases}
    assert with_keys <= covered, with_keys - covered
