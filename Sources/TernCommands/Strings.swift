import TernProtocol
import TernStore

extension Engine {
    func registerStringCommands() {
        commands.register("get", StringCommands.get)
        commands.register("set", StringCommands.set)
    }
}

/// String commands (t_string.c).
public enum StringCommands {
    /// Reads a string value for a read command: nil reply when missing, WRONGTYPE error
    /// when not a string. Returns nil when a reply was already written.
    @inline(__always)
    static func readString(_ c: Client, _ key: UnsafeRawBufferPointer) -> Entry? {
        guard let e = c.lookupRead(key) else { c.out.null(); return nil }
        if e.isObject { c.wrongType(); return nil }
        return e
    }

    static func get(_ c: Client, _ a: Args) {
        if let e = readString(c, a[1]) { c.out.bulk(e.stringValue) }
    }

    struct SetOptions {
        var nx = false, xx = false, get = false, keepTTL = false, persist = false
        var expireArg = -1            // index of the expire value argument
        var unit: ExpireUnit = .none
    }

    enum ExpireUnit { case none, ex, px, exat, pxat }

    /// Parses SET/GETEX style options starting at `from`. Writes the error and returns nil on failure.
    static func parseSetOptions(_ c: Client, _ a: Args, from: Int, isGetEx: Bool) -> SetOptions? {
        var o = SetOptions()
        var j = from
        while j < a.count {
            let hasNext = j + 1 < a.count
            let noExpire = o.unit == .none
            if !isGetEx && a.equals(j, "nx") && !o.xx {
                o.nx = true
            } else if !isGetEx && a.equals(j, "xx") && !o.nx {
                o.xx = true
            } else if !isGetEx && a.equals(j, "get") {
                o.get = true
            } else if !isGetEx && a.equals(j, "keepttl") && !o.persist && noExpire {
                o.keepTTL = true
            } else if isGetEx && a.equals(j, "persist") && noExpire {
                o.persist = true
            } else if a.equals(j, "ex") && !o.keepTTL && !o.persist && noExpire && hasNext {
                o.unit = .ex; o.expireArg = j + 1; j += 1
            } else if a.equals(j, "px") && !o.keepTTL && !o.persist && noExpire && hasNext {
                o.unit = .px; o.expireArg = j + 1; j += 1
            } else if a.equals(j, "exat") && !o.keepTTL && !o.persist && noExpire && hasNext {
                o.unit = .exat; o.expireArg = j + 1; j += 1
            } else if a.equals(j, "pxat") && !o.keepTTL && !o.persist && noExpire && hasNext {
                o.unit = .pxat; o.expireArg = j + 1; j += 1
            } else {
                c.syntaxError()
                return nil
            }
            j += 1
        }
        return o
    }

    /// Absolute expire time in ms from SET/GETEX options (getExpireMillisecondsOrReply).
    static func expireMillis(_ c: Client, _ a: Args, _ o: SetOptions) -> Int64?? {
        guard o.unit != .none else { return .some(nil) }
        guard let v = Numbers.parseInt(a[o.expireArg]) else { c.notInteger(); return nil }
        let seconds = o.unit == .ex || o.unit == .exat
        if v <= 0 || (seconds && v > Int.max / 1000) {
            c.error("ERR invalid expire time in '\(c.currentCommand?.fullName ?? "set")' command")
            return nil
        }
        var ms = Int64(seconds ? v * 1000 : v)
        if o.unit == .ex || o.unit == .px { ms = ms &+ c.engine.nowMs }
        if ms <= 0 {
            c.error("ERR invalid expire time in '\(c.currentCommand?.fullName ?? "set")' command")
            return nil
        }
        return .some(ms)
    }

    static func set(_ c: Client, _ a: Args) {
        guard let o = parseSetOptions(c, a, from: 3, isGetEx: false) else { return }
        guard let expireOpt = expireMillis(c, a, o) else { return }
        let key = a[1]
        let found: Bool
        if o.get {
            guard let old = c.lookupRead(key) else {
                c.out.null()
                found = false
                return setFinish(c, a, o, expireOpt, found: found)
            }
            if old.isObject { c.wrongType(); return }
            c.out.bulk(old.stringValue)
            found = true
        } else {
            found = c.lookupWrite(key) != nil
        }
        setFinish(c, a, o, expireOpt, found: found)
    }

    @inline(__always)
    static func setFinish(_ c: Client, _ a: Args, _ o: SetOptions, _ expire: Int64?, found: Bool) {
        if (o.nx && found) || (o.xx && !found) {
            if !o.get { c.out.null() }
            return
        }
        let key = a[1], val = a[2]
        let e = c.db.setString(key, val, encoding: Numbers.stringEncoding(val), keepTTL: o.keepTTL, lru: c.engine.lruClock)
        c.keyModified(key)
        c.engine.dirty += 1
        c.notify(.string, "set", key)
        if let ms = expire {
            c.db.setExpire(e, at: ms)
            c.notify(.generic, "expire", key)
            if o.unit != .pxat || o.get || o.nx || o.xx {
                c.propagateAs = [OwnedArgs([Array("SET".utf8), Array(key), Array(val), Array("PXAT".utf8), Numbers.text(Int(ms))])]
            }
        } else if o.get {
            var argv = a.all
            if let gi = (3..<a.count).first(where: { a.equals($0, "get") }) { argv.remove(at: gi) }
            c.propagateAs = [OwnedArgs(argv)]
        }
        if !o.get { c.out.ok() }
    }
}
