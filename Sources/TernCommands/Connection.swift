import TernProtocol
import TernStore

extension Engine {
    func registerConnectionCommands() {
        commands.register("ping", ConnectionCommands.ping)
        commands.register("echo", ConnectionCommands.echo)
        commands.register("select", ConnectionCommands.select)
        commands.register("quit", ConnectionCommands.quit)
    }
}

/// Connection commands: PING, ECHO, SELECT, QUIT.
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
        guard let d = c.engine.database(i) else { c.error("ERR DB index is out of range"); return }
        c.db = d
        c.out.ok()
    }

    static func quit(_ c: Client, _ a: Args) {
        c.out.ok()
        c.flags.insert(.closeAfterReply)
    }
}
