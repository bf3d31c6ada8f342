import CTern
import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerStringCommands() {
        commands.register("get", StringCommands.get)
        commands.register("set", StringCommands.set)
        commands.register("setnx", StringCommands.setnx)
        commands.register("setex", StringCommands.setex)
        commands.register("psetex", StringCommands.psetex)
        commands.register("getset", StringCommands.getset)
        commands.register("getdel", StringCommands.getdel)
        commands.register("getex", StringCommands.getex)
        commands.register("mget", StringCommands.mget)
        commands.register("mset", StringCommands.mset)
        commands.register("msetnx", StringCommands.msetnx)
        commands.register("append", StringCommands.append)
        commands.register("strlen", StringCommands.strlen)
        commands.register("getrange", StringCommands.getrange)
        commands.register("substr", StringCommands.getrange)
        commands.register("setrange", StringCommands.setrange)
        commands.register("incr", StringCommands.incr)
        commands.register("decr", StringCommands.decr)
        commands.register("incrby", StringCommands.incrby)
        commands.register("decrby", StringCommands.decrby)
        commands.register("incrbyfloat", StringCommands.incrbyfloat)
        commands.register("lcs", StringCommands.lcs)
        registerBitmapCommands()
    }
}

extension Args {
    /// Case-insensitive comparison the way Redis compares option words (strcasecmp on
    /// the C string): bytes from an embedded NUL on are ignored.
    @inline(__always) func optionIs(_ i: Int, _ lowercase: StaticString) -> Bool {
        let a = self[i]
        let n = lowercase.utf8CodeUnitCount
        guard a.count >= n else { return false }
        if a.count > n && a[n] != 0 { return false }
        let p = lowercase.utf8Start
        for j in 0..<n {
            var c = a[j]
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != p[j] { return false }
        }
        return true
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

    /// Largest string a write may produce for this client (proto-max-bulk-len; the
    /// master link is exempt, as Redis's mustObeyClient). Entries store lengths in 32 bits.
    @inline(__always)
    static func maxStringLength(_ c: Client) -> Int {
        let hard = Int(UInt32.max) - 64
        if c.flags.contains(.master) { return hard }
        return min(c.engine.config.protoMaxBulkLen, hard)
    }

    /// checkStringLength: would a string of `size + append` bytes be too long?
    static func checkStringLength(_ c: Client, _ size: Int, _ append: Int) -> Bool {
        let (total, o) = size.addingReportingOverflow(append)
        if o || total > maxStringLength(c) {
            c.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            return false
        }
        return true
    }

    static func get(_ c: Client, _ a: Args) {
        if let e = readString(c, a[1]) { c.out.bulk(e.stringValue) }
    }

    // MARK: SET family

    struct SetOptions {
        var nx = false, xx = false, get = false, keepTTL = false, persist = false
        var expireArg = -1            // index of the expire value argument
        var unit: ExpireUnit = .none
    }

    enum ExpireUnit { case none, ex, px, exat, pxat }

    /// Parses SET/GETEX options starting at `from` with Redis's compatibility rules
    /// (the same unit may repeat, last one wins; different units conflict).
    /// Writes the error and returns nil on failure.
    static func parseSetOptions(_ c: Client, _ a: Args, from: Int, isGetEx: Bool) -> SetOptions? {
        var o = SetOptions()
        let isSet = !isGetEx
        var j = from
        while j < a.count {
            let hasNext = j + 1 < a.count
            let u = o.unit
            if isSet && a.optionIs(j, "nx") && !o.xx {
                o.nx = true
            } else if isSet && a.optionIs(j, "xx") && !o.nx {
                o.xx = true
            } else if isSet && a.optionIs(j, "get") {
                o.get = true
            } else if isSet && a.optionIs(j, "keepttl") && !o.persist && u == .none {
                o.keepTTL = true
            } else if isGetEx && a.optionIs(j, "persist") && u == .none && !o.keepTTL {
                o.persist = true
            } else if a.optionIs(j, "ex") && !o.keepTTL && !o.persist && (u == .none || u == .ex) && hasNext {
                o.unit = .ex; o.expireArg = j + 1; j += 1
            } else if a.optionIs(j, "px") && !o.keepTTL && !o.persist && (u == .none || u == .px) && hasNext {
                o.unit = .px; o.expireArg = j + 1; j += 1
            } else if a.optionIs(j, "exat") && !o.keepTTL && !o.persist && (u == .none || u == .exat) && hasNext {
                o.unit = .exat; o.expireArg = j + 1; j += 1
            } else if a.optionIs(j, "pxat") && !o.keepTTL && !o.persist && (u == .none || u == .pxat) && hasNext {
                o.unit = .pxat; o.expireArg = j + 1; j += 1
            } else {
                c.syntaxError()
                return nil
            }
            j += 1
        }
        return o
    }

    static func invalidExpire(_ c: Client) {
        c.error("ERR invalid expire time in '\(c.currentCommand?.fullName ?? "set")' command")
    }

    /// Absolute expire time in ms from SET/GETEX options (getExpireMillisecondsOrReply).
    /// `.some(nil)`: no expire given; nil: an error was replied.
    static func expireMillis(_ c: Client, _ a: Args, _ o: SetOptions) -> Int64?? {
        guard o.unit != .none else { return .some(nil) }
        guard let v = Numbers.parseInt(a[o.expireArg]) else { c.notInteger(); return nil }
        let seconds = o.unit == .ex || o.unit == .exat
        if v <= 0 || (seconds && v > Int.max / 1000) { invalidExpire(c); return nil }
        var ms = Int64(seconds ? v * 1000 : v)
        if o.unit == .ex || o.unit == .px { ms = ms &+ c.engine.nowMs }
        if ms <= 0 { invalidExpire(c); return nil }
        return .some(ms)
    }

    static func set(_ c: Client, _ a: Args) {
        guard let o = parseSetOptions(c, a, from: 3, isGetEx: false) else { return }
        setGeneric(c, a, o, key: a[1], value: a[2])
    }

    /// setGenericCommand: SET, SETNX, SETEX, PSETEX.
    @inline(__always)
    static func setGeneric(_ c: Client, _ a: Args, _ o: SetOptions, key: UnsafeRawBufferPointer,
                           value: UnsafeRawBufferPointer, okReply: Bool = true) {
        guard let expire = expireMillis(c, a, o) else { return }
        let h = ByteHash.hash(key)
        let existing: Entry?
        if o.get {
            if let old = c.withDB({ c.lookupKey($0, key, .none, hash: h) }) {
                if old.isObject { c.wrongType(); return }
                c.out.bulk(old.stringValue)
                existing = old
            } else {
                c.out.null()
                existing = nil
            }
        } else {
            existing = c.withDB { c.lookupKey($0, key, .write, hash: h) }
        }
        let found = existing != nil
        if (o.nx && found) || (o.xx && !found) {
            if !o.get {
                if okReply { c.out.null() } else { c.out.integer(0) }
            }
            return
        }
        let lru = c.engine.objectLRU
        // The lookup above is the store's lookup too: nothing ran in between.
        let e = c.withDB { $0.setString(key, value, existing: existing, hash: h, encoding: Numbers.stringEncoding(value),
                                        keepTTL: o.keepTTL, lru: lru) }
        c.keyModified(key)
        c.engine.dirty += 1
        c.notify(.string, "set", key)
        if let ms = expire {
            c.db.setExpire(e, at: ms)
            c.notify(.generic, "expire", key)
            // Replicated in absolute form so replicas and the AOF agree on the deadline.
            c.propagateAs = [OwnedArgs([Array("SET".utf8), Array(key), Array(value), Array("PXAT".utf8),
                                        Numbers.text(Int(ms))])]
        } else if o.get {
            var argv: [[UInt8]] = []
            for i in 0..<a.count where !(i >= 3 && a.optionIs(i, "get")) { argv.append(a.bytes(i)) }
            c.propagateAs = [OwnedArgs(argv)]
        }
        if !o.get {
            if okReply { c.out.ok() } else { c.out.integer(1) }
        }
    }

    static func setnx(_ c: Client, _ a: Args) {
        var o = SetOptions()
        o.nx = true
        setGeneric(c, a, o, key: a[1], value: a[2], okReply: false)
    }

    static func setex(_ c: Client, _ a: Args) {
        var o = SetOptions()
        o.unit = .ex; o.expireArg = 2
        setGeneric(c, a, o, key: a[1], value: a[3])
    }

    static func psetex(_ c: Client, _ a: Args) {
        var o = SetOptions()
        o.unit = .px; o.expireArg = 2
        setGeneric(c, a, o, key: a[1], value: a[3])
    }

    static func getset(_ c: Client, _ a: Args) {
        let key = a[1], value = a[2]
        guard let old = c.lookupRead(key) else {
            c.out.null()
            return getsetStore(c, key, value, created: true)
        }
        if old.isObject { c.wrongType(); return }
        c.out.bulk(old.stringValue)
        getsetStore(c, key, value, created: false)
    }

    static func getsetStore(_ c: Client, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, created: Bool) {
        c.db.setString(key, value, encoding: Numbers.stringEncoding(value), keepTTL: false, lru: c.engine.objectLRU)
        c.keyModified(key)
        c.notify(.string, "set", key)
        c.engine.dirty += 1
        c.propagateAs = [OwnedArgs([Array("SET".utf8), Array(key), Array(value)])]
    }

    static func getdel(_ c: Client, _ a: Args) {
        let key = a[1]
        guard let e = readString(c, key) else { return }
        c.out.bulk(e.stringValue)
        c.db.delete(key)
        let verb = c.engine.config.lazyfreeLazyUserDel ? "UNLINK" : "DEL"
        c.propagateAs = [OwnedArgs([Array(verb.utf8), Array(key)])]
        c.keyModified(key)
        c.notify(.generic, "del", key)
        c.engine.dirty += 1
    }

    static func getex(_ c: Client, _ a: Args) {
        guard let o = parseSetOptions(c, a, from: 2, isGetEx: true) else { return }
        let key = a[1]
        guard let e = readString(c, key) else { return }
        guard let expire = expireMillis(c, a, o) else { return }
        c.out.bulk(e.stringValue)
        if let ms = expire {
            let absolute = o.unit == .exat || o.unit == .pxat
            if absolute && ms <= c.engine.nowMs && !c.engine.isReplicaOfMaster {
                // A deadline already in the past deletes the key now.
                c.db.delete(key)
                let verb = c.engine.config.lazyfreeLazyExpire ? "UNLINK" : "DEL"
                c.propagateAs = [OwnedArgs([Array(verb.utf8), Array(key)])]
                c.keyModified(key)
                c.notify(.generic, "del", key)
            } else {
                c.db.setExpire(e, at: ms)
                c.propagateAs = [OwnedArgs([Array("PEXPIREAT".utf8), Array(key), Numbers.text(Int(ms))])]
                c.keyModified(key)
                c.notify(.generic, "expire", key)
            }
            c.engine.dirty += 1
        } else if o.persist && e.hasExpire {
            c.db.removeExpire(e)
            c.keyModified(key)
            c.propagateAs = [OwnedArgs([Array("PERSIST".utf8), Array(key)])]
            c.notify(.generic, "persist", key)
            c.engine.dirty += 1
        }
    }

    // MARK: multi-key

    static func mget(_ c: Client, _ a: Args) {
        c.out.array(a.count - 1)
        for i in 1..<a.count {
            if let e = c.lookupRead(a[i]), !e.isObject {
                c.out.bulk(e.stringValue)
            } else {
                c.out.null()
            }
        }
    }

    static func mset(_ c: Client, _ a: Args) {
        if a.count % 2 == 0 { c.wrongArity("mset"); return }
        msetStore(c, a)
        c.out.ok()
    }

    static func msetnx(_ c: Client, _ a: Args) {
        if a.count % 2 == 0 { c.wrongArity("msetnx"); return }
        var i = 1
        while i < a.count {
            if c.lookupWrite(a[i]) != nil { c.out.integer(0); return }
            i += 2
        }
        msetStore(c, a)
        c.out.integer(1)
    }

    @inline(__always)
    static func msetStore(_ c: Client, _ a: Args) {
        let lru = c.engine.objectLRU
        var i = 1
        while i < a.count {
            let key = a[i], value = a[i + 1]
            // Like Redis's setKey: an expired key is removed first (the `new` event comes
            // from Database.keyAdded).
            _ = c.lookupWrite(key)
            c.withDB { $0.setString(key, value, encoding: Numbers.stringEncoding(value), keepTTL: false, lru: lru) }
            c.keyModified(key)
            c.notify(.string, "set", key)
            i += 2
        }
        c.engine.dirty += (a.count - 1) / 2
    }

    // MARK: APPEND / STRLEN / ranges

    static func append(_ c: Client, _ a: Args) {
        let key = a[1], tail = a[2]
        let total: Int
        if let e = c.lookupWrite(key) {
            if e.isObject { c.wrongType(); return }
            let old = e.stringValue.count
            guard checkStringLength(c, old, tail.count) else { return }
            let n = c.db.resizeString(e, to: old + tail.count)
            if tail.count > 0 { memcpy(n.mutableStringValue.baseAddress! + old, tail.baseAddress!, tail.count) }
            n.encoding = .raw
            total = old + tail.count
        } else {
            c.db.setString(key, tail, encoding: Numbers.stringEncoding(tail), keepTTL: false, lru: c.engine.objectLRU)
            total = tail.count
        }
        c.keyModified(key)
        c.notify(.string, "append", key)
        c.engine.dirty += 1
        c.out.integer(total)
    }

    static func strlen(_ c: Client, _ a: Args) {
        guard let e = c.lookupRead(a[1]) else { c.out.integer(0); return }
        if e.isObject { c.wrongType(); return }
        c.out.integer(e.stringValue.count)
    }

    /// GETRANGE / SUBSTR.
    static func getrange(_ c: Client, _ a: Args) {
        guard var start = Numbers.parseInt(a[2]), var end = Numbers.parseInt(a[3]) else { c.notInteger(); return }
        guard let e = c.lookupRead(a[1]) else { c.out.bulk(UnsafeRawBufferPointer(start: nil, count: 0)); return }
        if e.isObject { c.wrongType(); return }
        let s = e.stringValue
        let n = s.count
        if start < 0 && end < 0 && start > end { c.out.bulk(UnsafeRawBufferPointer(start: nil, count: 0)); return }
        if start < 0 { start = n + start }
        if end < 0 { end = n + end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= n { end = n - 1 }
        if start > end || n == 0 {
            c.out.bulk(UnsafeRawBufferPointer(start: nil, count: 0))
        } else {
            c.out.bulk(UnsafeRawBufferPointer(rebasing: s[start...end]))
        }
    }

    static func setrange(_ c: Client, _ a: Args) {
        let key = a[1], value = a[3]
        guard let offset = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        if offset < 0 { c.error("ERR offset is out of range"); return }
        var entry: Entry
        if let e = c.lookupWrite(key) {
            if e.isObject { c.wrongType(); return }
            if value.count == 0 { c.out.integer(e.stringValue.count); return }
            guard checkStringLength(c, offset, value.count) else { return }
            entry = e
        } else {
            if value.count == 0 { c.out.integer(0); return }
            guard checkStringLength(c, offset, value.count) else { return }
            entry = c.db.setString(key, UnsafeRawBufferPointer(start: nil, count: 0), encoding: .raw,
                                   keepTTL: false, lru: c.engine.objectLRU)
        }
        let needed = offset + value.count
        if entry.stringValue.count < needed { entry = c.db.resizeString(entry, to: needed) }
        memcpy(entry.mutableStringValue.baseAddress! + offset, value.baseAddress!, value.count)
        entry.encoding = .raw
        c.keyModified(key)
        c.notify(.string, "setrange", key)
        c.engine.dirty += 1
        c.out.integer(entry.stringValue.count)
    }

    // MARK: counters

    static func incr(_ c: Client, _ a: Args) { incrDecr(c, a[1], 1) }
    static func decr(_ c: Client, _ a: Args) { incrDecr(c, a[1], -1) }

    static func incrby(_ c: Client, _ a: Args) {
        guard let v = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        incrDecr(c, a[1], v)
    }

    static func decrby(_ c: Client, _ a: Args) {
        guard let v = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        if v == Int.min { c.error("ERR decrement would overflow"); return }
        incrDecr(c, a[1], -v)
    }

    /// INCR/DECR/INCRBY/DECRBY: parse, add, format on the stack, overwrite in place when
    /// the text keeps its length (no allocation on the common path).
    @inline(__always)
    static func incrDecr(_ c: Client, _ key: UnsafeRawBufferPointer, _ incr: Int) {
        let e = c.lookupWrite(key)
        var old = 0
        if let e {
            if e.isObject { c.wrongType(); return }
            guard let v = Numbers.parseInt(e.stringValue) else { c.notInteger(); return }
            old = v
        }
        let (value, overflow) = old.addingReportingOverflow(incr)
        if overflow { c.error("ERR increment or decrement would overflow"); return }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { buf in
            let p = buf.baseAddress!
            let n = Numbers.formatInt(value, into: p)
            if let e, e.stringValue.count == n {
                memcpy(e.mutableStringValue.baseAddress!, p, n)
                e.encoding = .int
            } else {
                c.db.setString(key, UnsafeRawBufferPointer(start: p, count: n), encoding: .int, keepTTL: true,
                               lru: c.engine.objectLRU)
            }
        }
        c.keyModified(key)
        c.notify(.string, "incrby", key)
        c.engine.dirty += 1
        c.out.integer(value)
    }

    static func incrbyfloat(_ c: Client, _ a: Args) {
        let key = a[1]
        let e = c.lookupWrite(key)
        var value: LongDouble = 0
        if let e {
            if e.isObject { c.wrongType(); return }
            guard let v = FloatFormat.parseLongDouble(e.stringValue) else { c.notFloat(); return }
            value = v
        }
        guard let incr = FloatFormat.parseLongDouble(a[2]) else { c.notFloat(); return }
        value += incr
        if value.isNaN || value.isInfinite { c.error("ERR increment would produce NaN or Infinity"); return }
        let text = FloatFormat.humanText(value)
        _ = text.withUnsafeBytes { t in
            c.db.setString(key, t, encoding: t.count <= 44 ? .embstr : .raw, keepTTL: true, lru: c.engine.objectLRU)
        }
        c.keyModified(key)
        c.notify(.string, "incrbyfloat", key)
        c.engine.dirty += 1
        c.out.bulk(text)
        // Replicated as the resulting value so float formatting cannot diverge.
        c.propagateAs = [OwnedArgs([Array("SET".utf8), Array(key), text, Array("KEEPTTL".utf8)])]
    }

    // MARK: LCS

    static func lcs(_ c: Client, _ a: Args) {
        let ea = c.lookupRead(a[1])
        let eb = c.lookupRead(a[2])
        if (ea?.isObject ?? false) || (eb?.isObject ?? false) {
            c.error("ERR The specified keys must contain string values")
            return
        }
        var getIdx = false, getLen = false, withMatchLen = false
        var minMatchLen = 0
        var j = 3
        while j < a.count {
            let more = a.count - 1 - j
            if a.optionIs(j, "idx") {
                getIdx = true
            } else if a.optionIs(j, "len") {
                getLen = true
            } else if a.optionIs(j, "withmatchlen") {
                withMatchLen = true
            } else if a.optionIs(j, "minmatchlen") && more > 0 {
                guard let v = Numbers.parseInt(a[j + 1]) else { c.notInteger(); return }
                minMatchLen = max(0, v)
                j += 1
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }
        if getIdx && getLen {
            c.error("ERR If you want both the length and indexes, please just use IDX.")
            return
        }
        // Copies: the table allocation below must not depend on entries staying put.
        let sa = ea.map { Array($0.stringValue) } ?? []
        let sb = eb.map { Array($0.stringValue) } ?? []
        let alen = sa.count, blen = sb.count
        if alen >= Int(UInt32.max) - 1 || blen >= Int(UInt32.max) - 1 {
            c.error("ERR String too long for LCS")
            return
        }
        let cells = (alen + 1).multipliedReportingOverflow(by: blen + 1)
        let bytes = cells.partialValue.multipliedReportingOverflow(by: 4)
        if cells.overflow || bytes.overflow {
            c.error("ERR Insufficient memory, failed allocating transient memory for LCS")
            return
        }
        if bytes.partialValue > c.engine.config.protoMaxBulkLen {
            c.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
            return
        }
        guard let raw = malloc(max(bytes.partialValue, 4)) else {
            c.error("ERR Insufficient memory, failed allocating transient memory for LCS")
            return
        }
        defer { free(raw) }
        let t = raw.assumingMemoryBound(to: UInt32.self)
        let w = blen + 1
        // t[i*w + j] = LCS length of a[0..<i] and b[0..<j].
        sa.withUnsafeBufferPointer { pa in
            sb.withUnsafeBufferPointer { pb in
                for jj in 0...blen { t[jj] = 0 }
                var i = 1
                while i <= alen {
                    let row = t + i * w, prev = t + (i - 1) * w
                    row[0] = 0
                    let ch = pa[i - 1]
                    var jj = 1
                    while jj <= blen {
                        if ch == pb[jj - 1] {
                            row[jj] = prev[jj - 1] &+ 1
                        } else {
                            let up = prev[jj], left = row[jj - 1]
                            row[jj] = up > left ? up : left
                        }
                        jj += 1
                    }
                    i += 1
                }
            }
        }
        let total = Int(t[alen * w + blen])
        if getLen && !getIdx { c.out.integer(total); return }

        // Walk back from the end, collecting the LCS bytes and the matching ranges.
        var result = [UInt8](repeating: 0, count: total)
        var ranges: [(Int, Int, Int, Int)] = []   // aStart, aEnd, bStart, bEnd
        var i = alen, jj = blen, k = total
        var open = false
        var aStart = 0, aEnd = 0, bStart = 0, bEnd = 0
        while i > 0 && jj > 0 {
            var emit = false
            if sa[i - 1] == sb[jj - 1] {
                k -= 1
                result[k] = sa[i - 1]
                if !open {
                    open = true
                    aStart = i - 1; aEnd = i - 1; bStart = jj - 1; bEnd = jj - 1
                } else {
                    aStart -= 1; bStart -= 1
                }
                if aStart == 0 || bStart == 0 { emit = true }
                i -= 1; jj -= 1
            } else {
                if t[(i - 1) * w + jj] > t[i * w + jj - 1] { i -= 1 } else { jj -= 1 }
                if open { emit = true }
            }
            if emit {
                if minMatchLen == 0 || aEnd - aStart + 1 >= minMatchLen {
                    ranges.append((aStart, aEnd, bStart, bEnd))
                }
                open = false
            }
        }
        if !getIdx { c.out.bulk(result); return }
        c.out.map(2)
        c.out.bulk("matches")
        c.out.array(ranges.count)
        for r in ranges {
            c.out.array(withMatchLen ? 3 : 2)
            c.out.array(2); c.out.integer(r.0); c.out.integer(r.1)
            c.out.array(2); c.out.integer(r.2); c.out.integer(r.3)
            if withMatchLen { c.out.integer(r.1 - r.0 + 1) }
        }
        c.out.bulk("len")
        c.out.integer(total)
    }
}
