"""ACL side by side with redis-server 7.0: SETUSER rules and their errors, ACL LIST /
GETUSER (RESP2 and RESP3), NOPERM refusals by command, key (%R/%W) and channel, MULTI
aborts, AUTH / HELLO AUTH / requirepass, ACL LOG entries, DRYRUN, CAT, DELUSER and the
clients it closes, pub/sub clients losing their channels, CLIENT KILL USER.

Redis prints single-command rules (+get -set ...) in its command dict's order, which is
random per process: descriptions are compared with those rules as a set (`canon_rules`),
everything else byte for byte."""
import re

import pytest

from raw_pair import pair  # noqa: F401  (fixture)
from resp_wire import Conn


@pytest.fixture(autouse=True)
def clean_users(tern_server, redis_server):
    yield
    for port in (tern_server.port, redis_server.port):
        c = Conn(port)
        c.cmd("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all")
        c.cmd("CONFIG", "SET", "requirepass", "")
        users = c.cmd("ACL", "USERS")
        for name in re.findall(rb"\$\d+\r\n([^\r]+)\r\n", users):
            if name != b"default":
                c.cmd("ACL", "DELUSER", name)
        c.cmd("ACL", "LOG", "RESET")
        c.close()


def canon_rules(text):
    """A description with its command rules after the leading +@all/-@all sorted: Redis
    prints single commands in its dict's random order, and categories in an order that
    depends on its whole command table."""
    def one(part):
        words = part.split(b" ")
        fixed = [w for w in words if not (w[:1] in (b"+", b"-") and w not in (b"+@all", b"-@all"))]
        rules = sorted(w for w in words if w not in fixed)
        return b" ".join(fixed + rules)
    def line(m):
        parts = re.split(rb"( \(|\))", m.group(2))
        body = b"".join(one(p) if p not in (b" (", b")") else p for p in parts)
        return m.group(1) + body + b"\r\n"
    # Each bulk string on its own (ACL LIST lines, GETUSER's "commands" values).
    return re.sub(rb"(\$\d+\r\n)([^\r]*)\r\n", line, text)


def same_canon(pair, *args):
    t, r = pair.both(*args)
    assert canon_rules(t) == canon_rules(r), "%r:\n tern:  %r\n redis: %r" % (args, t, r)


SETUP = [
    ["ACL", "SETUSER", "alice", "on", ">secret", "~cached:*", "+get", "+set"],
    ["ACL", "SETUSER", "bob", "on", "nopass", "%R~r:*", "%W~w:*", "%RW~both:*", "+@string", "-setrange"],
    ["ACL", "SETUSER", "carol", "on", ">p1", ">p2", "<p1", "allkeys", "&news.*", "+@all", "-@dangerous"],
    ["ACL", "SETUSER", "dave", "reset", "on", "#" + "a" * 64, "resetkeys", "~x", "+select|0", "+config|get"],
    ["ACL", "SETUSER", "erin", "on", "nopass", "(~sel:*", "+get)", "(+set", "~w*)", "~root:*", "+ping"],
    ["ACL", "SETUSER", "frank"],
    ["ACL", "SETUSER", "grace", "on", "nopass", "allcommands", "allkeys", "allchannels", "skip-sanitize-payload"],
    ["ACL", "SETUSER", "heidi", "on", "nopass", "+@read", "+@hash", "-hgetall", "~*"],
]


def test_setuser_list_getuser(pair):
    for cmd in SETUP:
        pair.same(*cmd)
    same_canon(pair, "ACL", "LIST")
    for name in ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "default", "nobody"]:
        same_canon(pair, "ACL", "GETUSER", name)
    pair.same("ACL", "USERS")
    # Changing rules of an existing user, clearselectors, resetpass.
    pair.same("ACL", "SETUSER", "erin", "clearselectors", "resetpass", ">x", "-ping", "+@pubsub")
    pair.same("ACL", "SETUSER", "carol", "nocommands", "resetchannels", "+@hash", "-hset")
    same_canon(pair, "ACL", "LIST")


SETUSER_ERRORS = [
    ["ACL", "SETUSER", "x", "%~a"],
    ["ACL", "SETUSER", "x", "%RW~a", "%RX~b"],
    ["ACL", "SETUSER", "x", "%R"],
    ["ACL", "SETUSER", "x", "+@nosuch"],
    ["ACL", "SETUSER", "x", "+nosuchcommand"],
    ["ACL", "SETUSER", "x", "-nosuchcommand"],
    ["ACL", "SETUSER", "x", "(+get"],
    ["ACL", "SETUSER", "x", "on", "(+get", "~a"],
    ["ACL", "SETUSER", "x", "+config|get|x"],
    ["ACL", "SETUSER", "x", "+select|"],
    ["ACL", "SETUSER", "x", "+config|nosuch"],
    ["ACL", "SETUSER", "x", "<nope"],
    ["ACL", "SETUSER", "x", "!" + "b" * 64],
    ["ACL", "SETUSER", "x", "#abc"],
    ["ACL", "SETUSER", "x", "#" + "A" * 64],
    ["ACL", "SETUSER", "a b"],
    ["ACL", "SETUSER", "x", "allkeys", "~a"],
    ["ACL", "SETUSER", "x", "allchannels", "&a"],
    ["ACL", "SETUSER", "x", "bogus"],
    ["ACL", "SETUSER", "x", "~a b"],
    ["ACL", "SETUSER", "x", "on", ">ok", "+get", "(~k +nosuch)"],
    ["ACL", "SETUSER"],
    ["ACL", "GETUSER", "x"],
    ["ACL", "DELUSER", "default"],
    ["ACL", "DELUSER", "nobody", "x"],
    ["ACL", "CAT", "nope"],
    ["ACL", "CAT", "a", "b"],
    ["ACL", "LOG", "x"],
    ["ACL", "LOG", "1", "2"],
    ["ACL", "LOG", "-5"],
    ["ACL", "GENPASS", "0"],
    ["ACL", "GENPASS", "4097"],
    ["ACL", "GENPASS", "x"],
    ["ACL", "LOAD"],
    ["ACL", "SAVE"],
    ["ACL", "NOSUCH"],
    ["ACL", "WHOAMI"],
    ["ACL", "CAT"],
    ["ACL", "HELP", "x"],
]


def test_errors_and_simple_replies(pair):
    for cmd in SETUSER_ERRORS:
        pair.same(*cmd)
    # A failed SETUSER changed nothing (not even created the user).
    pair.same("ACL", "USERS")


def test_cat_category_lists_the_same_commands(pair, tern_server):
    t, r = pair
    for cat in ["string", "hash", "keyspace", "pubsub", "transaction", "connection", "dangerous"]:
        tw = set(re.findall(rb"\$\d+\r\n([^\r]+)\r\n", t.cmd("ACL", "CAT", cat)))
        rw = set(re.findall(rb"\$\d+\r\n([^\r]+)\r\n", r.cmd("ACL", "CAT", cat)))
        # Tern registers only what it implements: every command it lists is in Redis's list,
        # and every command Redis lists that Tern knows is listed too.
        assert tw <= rw, (cat, tw - rw)
        known = {n for n in rw if not t.call("COMMAND", "INFO", n.split(b"|")[0]).val[0].is_null()}
        assert {n for n in known if b"|" not in n} <= tw, (cat, known - tw)


def test_genpass(pair):
    t, _ = pair
    for bits, n in [(None, 64), ("1", 1), ("5", 2), ("128", 32), ("4096", 1024)]:
        args = ["ACL", "GENPASS"] + ([bits] if bits else [])
        v = t.call(*args).text()
        assert len(v) == n and re.fullmatch(rb"[0-9a-f]+", v), (bits, v)
    assert t.call("ACL", "GENPASS").text() != t.call("ACL", "GENPASS").text()


def test_noperm_refusals_and_multi(pair):
    admin_t, admin_r = pair
    pair.same("ACL", "SETUSER", "u1", "on", ">pw", "~k*", "%R~ro:*", "%W~wo:*", "&ch", "&pat*",
              "+get", "+set", "+subscribe", "+psubscribe", "+publish", "+multi", "+exec", "+select|0",
              "+client|id", "+copy", "+ping")
    c = [Conn(admin_t.port, pair.proto), Conn(admin_r.port, pair.proto)]
    script = [
        ["AUTH", "u1", "pw"],
        ["SET", "k1", "v"], ["GET", "k1"], ["GET", "other"], ["DEL", "k1"],
        ["GET", "ro:1"], ["SET", "ro:1", "x"], ["SET", "wo:1", "x"], ["GET", "wo:1"],
        ["COPY", "ro:1", "wo:2"], ["COPY", "wo:1", "ro:2"],
        ["SELECT", "0"], ["SELECT", "1"],
        ["CLIENT", "ID"], ["CLIENT", "INFO"],
        ["PUBLISH", "ch", "m"], ["PUBLISH", "zz", "m"],
        ["PING"], ["ACL", "WHOAMI"],
        ["MULTI"], ["GET", "nope"], ["SET", "k2", "v"], ["EXEC"],
        ["MULTI"], ["SET", "k3", "v"], ["INCR", "k3"], ["EXEC"],
        ["SUBSCRIBE", "zz"],
        ["PSUBSCRIBE", "pat"],
        ["PSUBSCRIBE", "pat*"],
    ]
    for cmd in script:
        a, b = c[0].cmd(*cmd), c[1].cmd(*cmd)
        if cmd[0] == "CLIENT":
            a, b = re.sub(rb":\d+", b":N", a), re.sub(rb":\d+", b":N", b)
        assert a == b, "%r:\n tern:  %r\n redis: %r" % (cmd, a, b)
    for x in c:
        x.close()


def test_rules_changed_before_exec(pair):
    t, r = pair
    pair.same("ACL", "SETUSER", "mx", "on", ">pw", "~*", "&*", "+@all")
    conns = [Conn(t.port, pair.proto), Conn(r.port, pair.proto)]
    for cmd in (["AUTH", "mx", "pw"], ["MULTI"], ["SET", "k", "v"], ["GET", "k"], ["PUBLISH", "ch", "x"],
                ["GET", "other"]):
        assert conns[0].cmd(*cmd) == conns[1].cmd(*cmd)
    pair.same("ACL", "SETUSER", "mx", "-set", "resetkeys", "~k", "resetchannels")
    assert conns[0].cmd("EXEC") == conns[1].cmd("EXEC")
    assert masked_log(t) == masked_log(r)
    for x in conns:
        x.close()


def test_first_arg_and_subcommand_rules(pair):
    pair.same("ACL", "SETUSER", "u2", "on", "nopass", "allkeys", "-@all", "+config|get", "+select|0", "+select|1")
    pair.same("ACL", "DRYRUN", "u2", "config", "get", "maxmemory")
    pair.same("ACL", "DRYRUN", "u2", "config", "set", "maxmemory", "1")
    pair.same("ACL", "DRYRUN", "u2", "select", "1")
    pair.same("ACL", "DRYRUN", "u2", "select", "2")
    pair.same("ACL", "DRYRUN", "u2", "config")
    pair.same("ACL", "DRYRUN", "u2", "nosuch")
    pair.same("ACL", "DRYRUN", "u2", "get")
    pair.same("ACL", "DRYRUN", "nobody", "get", "x")
    pair.same("ACL", "SETUSER", "u3", "on", "nopass", "~a*", "+get", "(~b* +set)", "&c")
    for cmd in (["get", "a1"], ["get", "b1"], ["set", "b1", "v"], ["set", "a1", "v"], ["publish", "c", "m"],
                ["publish", "d", "m"], ["subscribe", "c", "d"], ["mget", "a1", "b1"]):
        pair.same("ACL", "DRYRUN", "u3", *cmd)


def masked_log(conn, *count):
    """ACL LOG with the age and the client line (ports, fds, memory) masked."""
    raw = conn.cmd("ACL", "LOG", *count)
    raw = re.sub(rb"(\$11\r\nage-seconds\r\n)(\$\d+\r\n[^\r]*|,[^\r]*)", rb"\1AGE", raw)
    return re.sub(rb"\$\d+\r\nid=[^\r]*", rb"CLIENT", raw)


def test_acl_log_entries(pair):
    admin_t, admin_r = pair
    pair.same("ACL", "SETUSER", "logger", "on", ">pw", "~k*", "&ch", "+get", "+publish", "+multi", "+exec")
    pair.same("CONFIG", "SET", "acllog-max-len", "4")
    try:
        for port, admin in ((admin_t.port, admin_t), (admin_r.port, admin_r)):
            c = Conn(port, pair.proto)
            for cmd in [["AUTH", "logger", "pw"], ["SET", "a", "b"], ["SET", "a", "b"], ["GET", "z"],
                        ["PUBLISH", "zz", "m"], ["AUTH", "logger", "bad"], ["auth", "nobody", "x"],
                        ["MULTI"], ["GET", "z"], ["EXEC"], ["HELLO", "2", "AUTH", "logger", "no"]]:
                c.cmd(*cmd)
            c.close()
        assert masked_log(admin_t) == masked_log(admin_r)
        assert masked_log(admin_t, "2") == masked_log(admin_r, "2")
        pair.same("ACL", "LOG", "0")
        pair.same("ACL", "LOG", "RESET")
        pair.same("ACL", "LOG")
    finally:
        pair.same("CONFIG", "SET", "acllog-max-len", "128")


def test_acl_log_client_info_is_the_client_list_line(tern_server):
    admin = Conn(tern_server.port)
    admin.cmd("ACL", "SETUSER", "infouser", "on", ">pw", "+ping")
    c = Conn(tern_server.port)
    c.cmd("AUTH", "infouser", "pw")
    c.cmd("CLIENT", "SETNAME", "probe")
    log = admin.call("ACL", "LOG", "1").val
    fields = dict(zip([x.val for x in log[0].val[0::2]], [x.val for x in log[0].val[1::2]]))
    info = fields[b"client-info"].decode()
    assert "name= " in info and "cmd=client|setname" in info and " user=infouser " in info
    assert fields[b"reason"] == b"command" and fields[b"object"] == b"client|setname"
    c.close()
    admin.close()


def test_auth_hello_and_requirepass(pair):
    pair.same("AUTH", "x")
    pair.same("AUTH", "a", "b", "c")
    pair.same("ACL", "SETUSER", "hu", "on", ">pw", "+@all", "~*")
    pair.same("HELLO", "2", "AUTH", "hu", "bad")
    pair.same("ACL", "WHOAMI")
    pair.same("CONFIG", "SET", "requirepass", "rp")
    t, r = pair
    fresh = [Conn(t.port), Conn(r.port)]
    for cmd in [["PING"], ["ACL", "WHOAMI"], ["HELLO", "3"], ["AUTH", "wrong"], ["AUTH", "rp"],
                ["ACL", "WHOAMI"], ["AUTH", "hu", "pw"], ["ACL", "WHOAMI"], ["RESET"], ["PING"],
                ["HELLO", "2", "AUTH", "default", "rp"], ["AUTH", "default", "rp"]]:
        a, b = fresh[0].cmd(*cmd), fresh[1].cmd(*cmd)
        a = re.sub(rb"\$2\r\nid\r\n:\d+", b"ID", a)
        b = re.sub(rb"\$2\r\nid\r\n:\d+", b"ID", b)
        assert a == b, (cmd, a, b)
    # The connection made before requirepass stays authenticated (Redis's c->authenticated).
    pair.same("PING")
    same_canon(pair, "ACL", "GETUSER", "default")
    # Removing the password through ACL lets the unauthenticated ones in, CONFIG GET
    # keeps showing requirepass.
    pair.same("ACL", "SETUSER", "default", "nopass")
    pair.same("CONFIG", "GET", "requirepass")
    late = [Conn(t.port), Conn(r.port)]
    # A first command makes sure the server has set the connection up before the change.
    assert late[0].cmd("PING") == late[1].cmd("PING") == b"+PONG\r\n"
    pair.same("CONFIG", "SET", "requirepass", "again")
    assert late[0].cmd("PING") == late[1].cmd("PING")
    pair.same("ACL", "SETUSER", "default", "resetpass")
    assert late[0].cmd("GET", "x") == late[1].cmd("GET", "x")
    # Back to an open default user (the connections of `pair` are still authenticated).
    pair.same("ACL", "SETUSER", "default", "nopass")
    pair.same("CONFIG", "SET", "requirepass", "")
    for x in fresh + late:
        x.close()


def test_disabled_user(pair):
    t, r = pair
    pair.same("ACL", "SETUSER", "du", "on", ">pw", "+@all", "~*")
    conns = [Conn(t.port), Conn(r.port)]
    assert conns[0].cmd("AUTH", "du", "pw") == conns[1].cmd("AUTH", "du", "pw") == b"+OK\r\n"
    # Switched off: existing connections stay (Redis 7.0), new AUTH fails.
    pair.same("ACL", "SETUSER", "du", "off")
    assert conns[0].cmd("PING") == conns[1].cmd("PING") == b"+PONG\r\n"
    pair.same("AUTH", "du", "pw")
    for x in conns:
        x.close()


def test_deluser_disconnects_its_clients(tern_server):
    admin = Conn(tern_server.port)
    admin.cmd("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*")
    victims = [Conn(tern_server.port) for _ in range(2)]
    for v in victims:
        assert v.cmd("AUTH", "gone", "pw") == b"+OK\r\n"
    assert b"user=gone" in admin.cmd("CLIENT", "LIST")
    assert admin.cmd("ACL", "DELUSER", "gone", "nobody") == b":1\r\n"
    for v in victims:
        assert v.peer_closed()
    # A client deleting its own user gets the reply, then is closed.
    admin.cmd("ACL", "SETUSER", "self", "on", ">pw", "+@all", "~*")
    me = Conn(tern_server.port)
    me.cmd("AUTH", "self", "pw")
    assert me.cmd("ACL", "DELUSER", "self") == b":1\r\n"
    assert me.peer_closed()
    admin.close()


def test_client_kill_user(pair):
    t, r = pair
    pair.same("ACL", "SETUSER", "kk", "on", ">pw", "+@all", "~*")
    conns = [Conn(t.port), Conn(r.port)]
    for x in conns:
        x.cmd("AUTH", "kk", "pw")
    pair.same("CLIENT", "KILL", "USER", "nobody")
    pair.same("CLIENT", "KILL", "USER", "kk")
    for x in conns:
        assert x.peer_closed()


def test_pubsub_clients_losing_channels_are_closed(tern_server):
    admin = Conn(tern_server.port)
    admin.cmd("ACL", "SETUSER", "sub", "on", ">pw", "+@all", "allchannels")
    keeps, loses, pattern = Conn(tern_server.port), Conn(tern_server.port), Conn(tern_server.port)
    for c in (keeps, loses, pattern):
        assert c.cmd("AUTH", "sub", "pw") == b"+OK\r\n"
    keeps.cmd("SUBSCRIBE", "news.1")
    loses.cmd("SUBSCRIBE", "other")
    pattern.cmd("PSUBSCRIBE", "news.*")
    # news.* as a channel pattern allows the channel news.1 and the pattern news.* itself.
    admin.cmd("ACL", "SETUSER", "sub", "resetchannels", "&news.*")
    assert loses.peer_closed()
    assert keeps.cmd("PING") != b""
    assert pattern.cmd("PING") != b""
    admin.cmd("ACL", "SETUSER", "sub", "resetchannels", "&news.1")
    assert pattern.peer_closed()
    assert keeps.cmd("PING") != b""
    admin.close()


def test_rules_naming_commands_tern_lacks_are_accepted(pair):
    # A config written for Redis may name commands Tern does not implement (EVAL ...):
    # the rule is accepted and changes nothing; names Redis does not know stay errors.
    pair.same("ACL", "SETUSER", "lack", "on", "nopass", "+@all", "-eval", "-function|flush", "+eval|x")
    pair.same("ACL", "SETUSER", "lack", "-nosuch|x")
    pair.same("ACL", "SETUSER", "lack", "+config|nosuch")


def masked_slowlog(conn):
    entries = conn.call("SLOWLOG", "GET").val
    return [[a.val for a in e.val[3].val] for e in entries]


def test_slowlog_redacts_passwords_and_acl_rules(pair):
    t, r = pair
    try:
        pair.same("CONFIG", "SET", "slowlog-log-slower-than", "0")
        pair.same("SLOWLOG", "RESET")
        pair.same("ACL", "SETUSER", "sl", "on", ">secret", "+@all", "~*")
        for conn in (t, r):
            c = Conn(conn.port)
            c.cmd("AUTH", "sl", "secret")
            c.cmd("HELLO", "2", "AUTH", "sl", "secret")
            c.cmd("ACL", "WHOAMI")
            c.close()
        assert masked_slowlog(t) == masked_slowlog(r)
    finally:
        pair.same("CONFIG", "SET", "slowlog-log-slower-than", "10000")


def test_noperm_counts_like_redis(tern_server, redis_server):
    """NOPERM refusals count rejected_calls and errorstat_NOPERM; a NOPERM inside MULTI makes
    EXEC abort and count as failed, as in Redis's INFO."""
    from test_dispatch import same_counts
    steps = [("o", ["ACL", "SETUSER", "cnt", "on", ">pw", "~k*", "&c", "+get", "+multi", "+exec", "+publish"]),
             ("a", ["AUTH", "cnt", "pw"]), ("a", ["SET", "k", "v"]), ("a", ["GET", "x"]), ("a", ["GET", "k"]),
             ("a", ["PUBLISH", "d", "m"]), ("a", ["MULTI"]), ("a", ["GET", "x"]), ("a", ["EXEC"]),
             ("o", ["ACL", "DELUSER", "cnt"])]
    same_counts(tern_server, redis_server, {"a": 2, "o": 2}, steps)


def test_sort_by_and_get_need_access_to_every_key(pair):
    pair.same("ACL", "SETUSER", "so", "on", ">p", "~k*", "+sort", "+sort_ro", "+rpush")
    pair.same("ACL", "SETUSER", "so2", "on", ">p", "%R~*", "~k*", "+sort")
    t, r = pair
    for user in ("so", "so2"):
        conns = [Conn(t.port, pair.proto), Conn(r.port, pair.proto)]
        for cmd in (["AUTH", user, "p"], ["RPUSH", "k", "3", "1", "2"], ["SORT", "k", "BY", "w_*"],
                    ["SORT", "k", "BY", "nosort", "GET", "#"], ["SORT", "k", "BY", "w"], ["SORT", "k", "GET", "#"],
                    ["SORT_RO", "k", "GET", "x*"], ["SORT", "k"]):
            assert conns[0].cmd(*cmd) == conns[1].cmd(*cmd), cmd
        for x in conns:
            x.close()


def test_skip_sanitize_payload_user_restores_without_deep_checks(pair):
    """sanitize-dump-payload clients: RESTORE deep-checks a listpack payload (INFO counts
    it) unless the user is flagged skip-sanitize-payload."""
    t, r = pair
    pair.same("CONFIG", "SET", "sanitize-dump-payload", "clients")
    try:
        pair.same("ACL", "SETUSER", "skipper", "on", ">p", "~*", "+@all", "skip-sanitize-payload")
        pair.same("ACL", "SETUSER", "checker", "on", ">p", "~*", "+@all", "sanitize-payload")
        pair.same("HSET", "h", "f", "v")
        payload = t.call("DUMP", "h").val

        def sanitizations(conn):
            info = conn.call("INFO", "stats").val
            return int(re.search(rb"dump_payload_sanitizations:(\d+)", info).group(1))
        counts = []
        for conn in (t, r):
            before = sanitizations(conn)
            for user, key in (("checker", "c"), ("skipper", "s")):
                c = Conn(conn.port)
                c.cmd("AUTH", user, "p")
                assert c.cmd("RESTORE", key, "0", payload) == b"+OK\r\n"
                counts.append(sanitizations(conn) - before)
                c.close()
        assert counts[:2] == counts[2:] == [1, 1], counts
    finally:
        pair.same("CONFIG", "SET", "sanitize-dump-payload", "no")


def test_random_rules_get_the_same_replies(pair):
    """Random rule words (prefixes and bodies mixed, selectors included) give the same
    SETUSER replies and leave the same users as in Redis."""
    import random
    rnd = random.Random(7)
    prefixes = ["", "+", "-", "~", "%", "%R", "%W~", "%RW~", "%RR~", "%X~", "&", ">", "<", "#", "!", "(", "+@", "-@"]
    bodies = ["get", "GET", "set", "config|get", "config|nosuch", "config|get|x", "select|0", "select|", "client",
              "all", "read", "write", "nosuch", "*", "a*", "k?", "", "f" * 64, "A" * 64, "on", "off", "reset",
              "nopass", "resetpass", "allkeys", "allchannels", "resetkeys", "resetchannels", "clearselectors",
              "sanitize-payload", "skip-sanitize-payload", "allcommands", "nocommands", "pw", "x)", "~y)"]
    for i in range(150):
        words = []
        for _ in range(rnd.randint(0, 4)):
            w = rnd.choice(prefixes) + rnd.choice(bodies)
            if rnd.random() < 0.15:
                w = "(" + w
            if rnd.random() < 0.15:
                w = w + ")"
            words.append(w)
        pair.same("ACL", "SETUSER", "fz%d" % (i % 5), *words)
    for i in range(5):
        same_canon(pair, "ACL", "GETUSER", "fz%d" % i)


def test_random_permissions_dryrun_like_redis(pair):
    """Random users (key patterns with read/write permissions, channels, categories,
    selectors) and random calls: ACL DRYRUN answers as Redis's does."""
    import random
    rnd = random.Random(11)
    keys = ["a1", "a2", "b1", "rw", "x", "ab"]
    patterns = ["~a*", "%R~a*", "%W~a*", "%R~b*", "%W~?w", "~x", "%RW~ab", "allkeys"]
    channels = ["&a*", "&news", "&x?", "allchannels"]
    cmds = ["+@read", "+@write", "+@string", "+@list", "+@pubsub", "+get", "+set", "+copy", "+lmove",
            "+@keyspace", "-del", "+@all", "-@dangerous", "+sort"]
    calls = [["get", "K"], ["set", "K", "v"], ["copy", "K", "K"], ["lmove", "K", "K", "left", "right"],
             ["mget", "K", "K", "K"], ["del", "K", "K"], ["rename", "K", "K"], ["publish", "C", "m"],
             ["subscribe", "C", "C"], ["psubscribe", "C"], ["exists", "K"], ["sort", "K", "store", "K"],
             ["getdel", "K"], ["append", "K", "v"], ["lrange", "K", "0", "-1"]]
    chans = ["a1", "news", "xy", "a*", "x?", "zz"]
    for u in range(8):
        rules = ["on", "nopass"] + rnd.sample(patterns, 2) + rnd.sample(channels, 1) + rnd.sample(cmds, 3)
        if rnd.random() < 0.5:
            rules.append("(%s %s %s)" % (rnd.choice(patterns), rnd.choice(cmds), rnd.choice(channels)))
        pair.same("ACL", "SETUSER", "dr%d" % u, "reset", *rules)
        for _ in range(25):
            call = [rnd.choice(keys) if w == "K" else rnd.choice(chans) if w == "C" else w for w in rnd.choice(calls)]
            pair.same("ACL", "DRYRUN", "dr%d" % u, *call)
