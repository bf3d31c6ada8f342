import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerExpireCommands() {
        commands.register("expire", ExpireCommands.expire)
        commands.register("pexpire", ExpireCommands.pexpire)
        commands.register("expireat", ExpireCommands.expireat)
        commands.register("pexpireat", ExpireCommands.pexpireat)
        commands.register("ttl", ExpireCommands.ttl)
        commands.register("pttl", ExpireCommands.pttl)
        commands.register("expiretime", ExpireCommands.expiretime)
        commands.register("pexpiretime", ExpireCommands.pexpiretime)
        commands.register("persist", ExpireCommands.persist)
    }
}

/// EXPIRE family, TTL family, PERSIST (expire.c).
public enum ExpireCommands {
    struct Condition: OptionSet {
        let rawValue: Int
        static let nx = Condition(rawValue: 1), xx = Condition(rawValue: 2)
        static let gt = Condition(rawValue: 4), lt = Condition(rawValue: 8)
    }

    static func expire(_ c: Client, _ a: Args) { expireGeneric(c, a, base: c.engine.nowMs, seconds: true) }
    static func pexpire(_ c: Client, _ a: Args) { expireGeneric(c, a, base: c.engine.nowMs, seconds: false) }
    static func expireat(_ c: Client, _ a: Args) { expireGeneric(c, a, base: 0, seconds: true) }
    static func pexpireat(_ c: Client, _ a: Args) { expireGeneric(c, a, base: 0, seconds: false) }

    static func invalidExpireTime(_ c: Client) {
        c.error("ERR invalid expire time in '\(c.currentCommand?.fullName ?? "expire")' command")
    }

    static func expireGeneric(_ c: Client, _ a: Args, base: Int64, seconds: Bool) {
        var cond: Condition = []
        for j in 3..<max(3, a.count) {
            if a.equals(j, "nx") { cond.insert(.nx) }
            else if a.equals(j, "xx") { cond.insert(.xx) }
            else if a.equals(j, "gt") { cond.insert(.gt) }
            else if a.equals(j, "lt") { cond.insert(.lt) }
            else { c.error("ERR Unsupported option \(a.string(j))"); return }
        }
        if cond.contains(.nx) && !cond.isDisjoint(with: [.xx, .gt, .lt]) {
            c.error("ERR NX and XX, GT or LT options at the same time are not compatible")
            return
        }
        if cond.contains(.gt) && cond.contains(.lt) {
            c.error("ERR GT and LT options at the same time are not compatible")
            return
        }
        guard let v = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        var when = Int64(v)
        if seconds {
            let (m, o) = when.multipliedReportingOverflow(by: 1000)
            if o { invalidExpireTime(c); return }
            when = m
        }
        let (sum, o) = when.addingReportingOverflow(base)
        if o { invalidExpireTime(c); return }
        when = sum

        let key = a[1]
        guard let e = c.lookupWrite(key) else { c.out.integer(0); return }
        if !cond.isEmpty {
            let current = e.hasExpire ? e.expireAt : -1
            if cond.contains(.nx) && current != -1 { c.out.integer(0); return }
            if cond.contains(.xx) && current == -1 { c.out.integer(0); return }
            // No TTL counts as infinite: GT never passes, LT always does.
            if cond.contains(.gt) && (current == -1 || when <= current) { c.out.integer(0); return }
            if cond.contains(.lt) && current != -1 && when >= current { c.out.integer(0); return }
        }
        let engine = c.engine
        if when <= engine.nowMs && !engine.isReplicaOfMaster {
            // Already expired: delete now and replicate an explicit DEL/UNLINK.
            let lazy = engine.config.lazyfreeLazyExpire
            if lazy { c.db.deleteLazily(key) } else { c.db.deleteSynchronously(key) }
            engine.dirty += 1
            c.propagateAs = [OwnedArgs([Array((lazy ? "UNLINK" : "DEL").utf8), Array(key)])]
            c.keyModified(key)
            c.notify(.generic, "del", key)
            c.out.integer(1)
            return
        }
        c.db.setExpire(e, at: when)
        c.out.integer(1)
        // Replicate as PEXPIREAT with the absolute time, keeping any condition flags.
        if !(base == 0 && !seconds) {
            var argv = a.all
            argv[0] = Array("PEXPIREAT".utf8)
            argv[2] = Array(String(when).utf8)
            c.propagateAs = [OwnedArgs(argv)]
        }
        c.keyModified(key)
        c.notify(.generic, "expire", key)
        engine.dirty += 1
    }

    static func ttlGeneric(_ c: Client, _ a: Args, ms: Bool, absolute: Bool) {
        guard let e = c.lookup(a[1], .noTouch) else { c.out.integer(-2); return }
        guard e.hasExpire else { c.out.integer(-1); return }
        var t = absolute ? e.expireAt : e.expireAt &- c.engine.nowMs
        if t < 0 { t = 0 }
        // Rounded to seconds without overflow: t is >= 0, and Redis answers
        // EXPIRETIME 9223372036854776 for PEXPIREAT 9223372036854775807.
        c.out.integer(ms ? Int(t) : Int((UInt64(t) &+ 500) / 1000))
    }

    static func ttl(_ c: Client, _ a: Args) { ttlGeneric(c, a, ms: false, absolute: false) }
    static func pttl(_ c: Client, _ a: Args) { ttlGeneric(c, a, ms: true, absolute: false) }
    static func expiretime(_ c: Client, _ a: Args) { ttlGeneric(c, a, ms: false, absolute: true) }
    static func pexpiretime(_ c: Client, _ a: Args) { ttlGeneric(c, a, ms: true, absolute: true) }

    static func persist(_ c: Client, _ a: Args) {
        let key = a[1]
        guard let e = c.lookupWrite(key), e.hasExpire else { c.out.integer(0); return }
        c.db.removeExpire(e)
        c.keyModified(key)
        c.notify(.generic, "persist", key)
        c.engine.dirty += 1
        c.out.integer(1)
    }
}
