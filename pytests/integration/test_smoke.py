from conftest import raw_command


def test_ping_set_get(r):
    assert r.ping()
    assert r.set("k", "v")
    assert r.get("k") == b"v"


def test_unknown_command_text(tern_server, redis_server):
    payload = b"*3\r\n$3\r\nFOO\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert raw_command(tern_server.port, payload, 0.3) == raw_command(redis_server.port, payload, 0.3)
