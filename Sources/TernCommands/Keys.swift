import TernProtocol
import TernStore

extension Engine {
    func registerKeyCommands() {
        commands.register("flushall", KeyCommands.flushall)
        commands.register("flushdb", KeyCommands.flushdb)
        commands.register("dbsize", KeyCommands.dbsize)
        commands.register("del", KeyCommands.del)
    }
}

/// Generic keyspace commands (db.c, expire.c).
public enum KeyCommands {
    static func flushall(_ c: Client, _ a: Args) {
        c.engine.signalFlushedDb(-1)
        for db in c.engine.databases { db.removeAll() }
        c.engine.dirty += 1
        c.out.ok()
    }

    static func flushdb(_ c: Client, _ a: Args) {
        c.engine.signalFlushedDb(c.dbIndex)
        c.db.removeAll()
        c.engine.dirty += 1
        c.out.ok()
    }

    static func dbsize(_ c: Client, _ a: Args) { c.out.integer(c.db.count) }

    static func del(_ c: Client, _ a: Args) {
        var n = 0
        for i in 1..<a.count where c.deleteKey(a[i]) {
            c.keyModified(a[i])
            c.notify(.generic, "del", a[i])
            c.engine.dirty += 1
            n += 1
        }
        c.out.integer(n)
    }
}
