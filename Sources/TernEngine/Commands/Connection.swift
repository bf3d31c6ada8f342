import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerConnectionCommands() {
        commands.register("ping", ConnectionCommands.ping)
        commands.register("echo", ConnectionCommands.echo)
        commands.register("select", ConnectionCommands.select)
        commands.register("quit", ConnectionCommands.quit)
        commands.register("hello", ConnectionCommands.hello)
        commands.register("reset", ConnectionCommands.reset)
    }
}

/// Connection commands: PING, ECHO, SELECT, QUIT, HELLO, RESET.
public enum ConnectionCommands {
    static func ping(_ c: Client, _ a: Args) {
        if a.count > 2 { c.wrongArity("ping"); return }
        if c.flags.contains(.pubsub) && c.resp == 2 {
            c.out.array(2)
            c.out.bulk("pong")
            if a.count == 2 { c.out.bulk(a[1]) } else { c.out.bulk("") }
            return
        }
        if a.count == 2 { c.out.bulk(a[1]) } else { c.out.append("+PONG\r\n") }
    }

    static func echo(_ c: Client, _ a: Args) { c.out.bulk(a[1]) }

    static func select(_ c: Client, _ a: Args) {
        guard let i = Numbers.parseInt(a[1]) else { c.error("ERR value is not an integer or out of range"); return }
        if c.engine.cluster != nil && i != 0 { c.error("ERR SELECT is not allowed in cluster mode"); return }
        guard let d = c.engine.database(i) else { c.error("ERR DB index is out of range"); return }
        c.db = d
        c.out.ok()
    }

    static func quit(_ c: Client, _ a: Args) {
        c.out.ok()
        c.flags.insert(.closeAfterReply)
    }

    /// HELLO [protover [AUTH user pass] [SETNAME name]]
    static func hello(_ c: Client, _ a: Args) {
        var ver = c.resp
        var j = 1
        if a.count >= 2 {
            guard let v = Numbers.parseInt(a[1]) else {
                c.error("ERR Protocol version is not an integer or out of range")
                return
            }
            if v < 2 || v > 3 { c.error("NOPROTO unsupported protocol version"); return }
            ver = v
            j = 2
        }
        var setName: [UInt8]? = nil
        while j < a.count {
            let more = a.count - j - 1
            if a.equals(j, "auth") && more >= 2 {
                if !c.engine.authenticate(c, a.bytes(j + 1), a.bytes(j + 2), command: a) {
                    c.error("WRONGPASS invalid username-password pair or user is disabled.")
                    return
                }
                j += 3
            } else if a.equals(j, "setname") && more >= 1 {
                let n = a.bytes(j + 1)
                if n.contains(where: { $0 < 33 || $0 > 126 }) {
                    c.error("ERR Client names cannot contain spaces, newlines or special characters.")
                    return
                }
                setName = n
                j += 2
            } else {
                c.error("ERR Syntax error in HELLO option '\(a.string(j))'")
                return
            }
        }
        // Redis checks the client's own authentication here, not whether the default user
        // is open (a client that connected while a password was set must still AUTH).
        if !c.aclAuthenticated {
            c.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        if let n = setName { c.name = n.isEmpty ? nil : n }
        c.resp = ver
        // A sentinel has no role field (Redis 7.0's helloCommand).
        let sentinel = c.engine.sentinelMode
        c.out.map(sentinel ? 6 : 7)
        c.out.bulk("server"); c.out.bulk("redis")
        c.out.bulk("version"); c.out.bulk("7.0.15")
        c.out.bulk("proto"); c.out.integer(ver)
        c.out.bulk("id"); c.out.integer(c.id)
        c.out.bulk("mode"); c.out.bulk(sentinel ? "sentinel" : "standalone")
        if !sentinel { c.out.bulk("role"); c.out.bulk(c.engine.isReplicaOfMaster ? "replica" : "master") }
        c.out.bulk("modules"); c.out.array(0)
    }

    /// RESET: the client's state back to a fresh connection's (Engine.resetClient).
    static func reset(_ c: Client, _ a: Args) {
        c.engine.resetClient(c)
        c.out.simple("RESET")
    }
}
