import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerHashCommands() {
        commands.register("hset", HashCommands.hset)
        commands.register("hmset", HashCommands.hmset)
        commands.register("hsetnx", HashCommands.hsetnx)
        commands.register("hget", HashCommands.hget)
        commands.register("hmget", HashCommands.hmget)
        commands.register("hdel", HashCommands.hdel)
        commands.register("hlen", HashCommands.hlen)
        commands.register("hstrlen", HashCommands.hstrlen)
        commands.register("hexists", HashCommands.hexists)
        commands.register("hkeys", HashCommands.hkeys)
        commands.register("hvals", HashCommands.hvals)
        commands.register("hgetall", HashCommands.hgetall)
        commands.register("hincrby", HashCommands.hincrby)
        commands.register("hincrbyfloat", HashCommands.hincrbyfloat)
        commands.register("hrandfield", HashCommands.hrandfield)
        commands.register("hscan", HashCommands.hscan)
    }
}

/// A hash value of either encoding.
enum HashObject {
    case listpack(ListpackHash)
    case dict(DictHash)

    @inline(__always) init?(_ e: Entry) {
        let o = e.object
        if let l = o as? ListpackHash { self = .listpack(l) }
        else if let d = o as? DictHash { self = .dict(d) }
        else { return nil }
    }

    @inline(__always) var count: Int {
        switch self { case .listpack(let l): return l.count; case .dict(let d): return d.count }
    }

    @inline(__always) @discardableResult
    func withValue(_ f: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        switch self { case .listpack(let l): return l.withValue(f, body); case .dict(let d): return d.withValue(f, body) }
    }

    @inline(__always) func contains(_ f: UnsafeRawBufferPointer) -> Bool {
        switch self { case .listpack(let l): return l.contains(f); case .dict(let d): return d.contains(f) }
    }

    @inline(__always) @discardableResult
    func set(_ f: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer) -> Bool {
        switch self { case .listpack(let l): return l.set(f, v); case .dict(let d): return d.set(f, v) }
    }

    @inline(__always) @discardableResult
    func remove(_ f: UnsafeRawBufferPointer) -> Bool {
        switch self { case .listpack(let l): return l.remove(f); case .dict(let d): return d.remove(f) }
    }

    @inline(__always) func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        switch self { case .listpack(let l): l.forEach(body); case .dict(let d): d.forEach(body) }
    }

    /// Releases listpack growth headroom at the end of a write command.
    @inline(__always) func trim() {
        if case .listpack(let l) = self { l.trim() }
    }
}

/// Hash commands (t_hash.c).
public enum HashCommands {
    enum Lookup {
        case missing
        case wrongType
        case found(Entry, HashObject)
    }

    @inline(__always)
    static func lookup(_ c: Client, _ key: UnsafeRawBufferPointer, write: Bool = false) -> Lookup {
        guard let e = write ? c.lookupWrite(key) : c.lookupRead(key) else { return .missing }
        guard e.type == .hash, let h = HashObject(e) else { return .wrongType }
        return .found(e, h)
    }

    /// Read-command prologue: replies `missingReply` or WRONGTYPE and returns nil.
    @inline(__always)
    static func readHash(_ c: Client, _ key: UnsafeRawBufferPointer, missing: (Client) -> Void) -> HashObject? {
        switch lookup(c, key) {
        case .missing: missing(c); return nil
        case .wrongType: c.wrongType(); return nil
        case .found(_, let h): return h
        }
    }

    /// hashTypeLookupWriteOrCreate: the hash at key (created empty as listpack when missing),
    /// or nil after a WRONGTYPE reply.
    static func writeHash(_ c: Client, _ key: UnsafeRawBufferPointer) -> (Entry, HashObject)? {
        switch lookup(c, key, write: true) {
        case .wrongType: c.wrongType(); return nil
        case .found(let e, let h): return (e, h)
        case .missing:
            let l = ListpackHash()
            let e = c.db.setObject(key, l, type: .hash, encoding: .listpack, lru: c.engine.objectLRU)
            return (e, .listpack(l))
        }
    }

    /// listpack -> hashtable (never back).
    static func convert(_ c: Client, _ e: Entry, _ l: ListpackHash) -> HashObject {
        let d = DictHash(capacity: HashSlotTable.capacityFor(l.count))
        l.forEach { f, v in d.append(f, v) }
        c.db.replaceObject(e, with: d, encoding: .hashtable)
        return .dict(d)
    }

    /// Converts before writing when a field/value is too long or the buffer would pass 1 GiB
    /// (hashTypeTryConversion over args[from..<to]).
    static func tryConversion(_ c: Client, _ e: Entry, _ h: HashObject, _ a: Args, _ from: Int, _ to: Int) -> HashObject {
        guard case .listpack(let l) = h else { return h }
        let limit = c.engine.config.hashMaxListpackValue
        var sum = 0
        for i in from..<to {
            let n = a.length(i)
            if n > limit { return convert(c, e, l) }
            sum += n
        }
        if !l.safeToAdd(sum) { return convert(c, e, l) }
        return h
    }

    /// After an insert: too many fields -> hashtable.
    @inline(__always)
    static func checkEntries(_ c: Client, _ e: Entry, _ h: HashObject) -> HashObject {
        if case .listpack(let l) = h, l.count > c.engine.config.hashMaxListpackEntries { return convert(c, e, l) }
        return h
    }

    static func hsetGeneric(_ c: Client, _ a: Args, hmset: Bool) {
        if a.count % 2 == 1 {
            c.wrongArity(hmset ? "hmset" : "hset")
            return
        }
        let key = a[1]
        guard let (e, h0) = writeHash(c, key) else { return }
        var h = h0
        h = tryConversion(c, e, h, a, 2, a.count)
        var created = 0
        var i = 2
        while i < a.count {
            if h.set(a[i], a[i + 1]) { created += 1 }
            h = checkEntries(c, e, h)
            i += 2
        }
        h.trim()
        c.keyModified(key)
        c.notify(.hash, "hset", key)
        c.engine.dirty += (a.count - 2) / 2
        if hmset { c.out.ok() } else { c.out.integer(created) }
    }

    static func hset(_ c: Client, _ a: Args) { hsetGeneric(c, a, hmset: false) }
    static func hmset(_ c: Client, _ a: Args) { hsetGeneric(c, a, hmset: true) }

    static func hsetnx(_ c: Client, _ a: Args) {
        let key = a[1]
        guard let (e, h0) = writeHash(c, key) else { return }
        var h = h0
        if h.contains(a[2]) {
            c.out.integer(0)
            return
        }
        h = tryConversion(c, e, h, a, 2, 4)
        h.set(a[2], a[3])
        h = checkEntries(c, e, h)
        h.trim()
        c.keyModified(key)
        c.notify(.hash, "hset", key)
        c.engine.dirty += 1
        c.out.integer(1)
    }

    static func hget(_ c: Client, _ a: Args) {
        guard let h = readHash(c, a[1], missing: { $0.out.null() }) else { return }
        if !h.withValue(a[2], { c.out.bulk($0) }) { c.out.null() }
    }

    static func hmget(_ c: Client, _ a: Args) {
        var h: HashObject? = nil
        switch lookup(c, a[1]) {
        case .wrongType: c.wrongType(); return
        case .missing: break
        case .found(_, let x): h = x
        }
        c.out.array(a.count - 2)
        for i in 2..<a.count {
            if let h = h, h.withValue(a[i], { c.out.bulk($0) }) { continue }
            c.out.null()
        }
    }

    static func hdel(_ c: Client, _ a: Args) {
        let key = a[1]
        let h: HashObject
        switch lookup(c, key, write: true) {
        case .missing: c.out.integer(0); return
        case .wrongType: c.wrongType(); return
        case .found(_, let x): h = x
        }
        var deleted = 0
        var keyRemoved = false
        for i in 2..<a.count {
            if h.remove(a[i]) {
                deleted += 1
                if h.count == 0 {
                    c.db.delete(key)
                    keyRemoved = true
                    break
                }
            }
        }
        if deleted > 0 {
            c.keyModified(key)
            c.notify(.hash, "hdel", key)
            if keyRemoved { c.notify(.generic, "del", key) }
            c.engine.dirty += deleted
        }
        c.out.integer(deleted)
    }

    static func hlen(_ c: Client, _ a: Args) {
        guard let h = readHash(c, a[1], missing: { $0.out.integer(0) }) else { return }
        c.out.integer(h.count)
    }

    static func hstrlen(_ c: Client, _ a: Args) {
        guard let h = readHash(c, a[1], missing: { $0.out.integer(0) }) else { return }
        var n = 0
        h.withValue(a[2]) { n = $0.count }
        c.out.integer(n)
    }

    static func hexists(_ c: Client, _ a: Args) {
        guard let h = readHash(c, a[1], missing: { $0.out.integer(0) }) else { return }
        c.out.integer(h.contains(a[2]) ? 1 : 0)
    }

    static func hkeys(_ c: Client, _ a: Args) {
        guard let h = readHash(c, a[1], missing: { $0.out.array(0) }) else { return }
        c.out.array(h.count)
        h.forEach { f, _ in c.out.bulk(f) }
    }

    static func hvals(_ c: Client, _ a: Args) {
        guard let h = readHash(c, a[1], missing: { $0.out.array(0) }) else { return }
        c.out.array(h.count)
        h.forEach { _, v in c.out.bulk(v) }
    }

    static func hgetall(_ c: Client, _ a: Args) {
        guard let h = readHash(c, a[1], missing: { $0.out.map(0) }) else { return }
        c.out.map(h.count)
        h.forEach { f, v in c.out.bulk(f); c.out.bulk(v) }
    }

    static func hincrby(_ c: Client, _ a: Args) {
        guard let incr = Numbers.parseInt(a[3]) else { c.notInteger(); return }
        let key = a[1]
        guard let (e, h0) = writeHash(c, key) else { return }
        var h = h0
        var current = 0
        var bad = false
        h.withValue(a[2]) { v in
            if let x = Numbers.parseInt(v) { current = x } else { bad = true }
        }
        if bad {
            c.error("ERR hash value is not an integer")
            return
        }
        let (sum, overflow) = current.addingReportingOverflow(incr)
        if overflow {
            c.error("ERR increment or decrement would overflow")
            return
        }
        ListpackCodec.withIntText(sum) { text in
            h = tryConversionBytes(c, e, h, a[2], text)
            h.set(a[2], text)
        }
        h = checkEntries(c, e, h)
        h.trim()
        c.keyModified(key)
        c.notify(.hash, "hincrby", key)
        c.engine.dirty += 1
        c.out.integer(sum)
    }

    /// tryConversion for one field and a computed value.
    static func tryConversionBytes(_ c: Client, _ e: Entry, _ h: HashObject, _ f: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer) -> HashObject {
        guard case .listpack(let l) = h else { return h }
        let limit = c.engine.config.hashMaxListpackValue
        if f.count > limit || v.count > limit || !l.safeToAdd(f.count + v.count) { return convert(c, e, l) }
        return h
    }

    static func hincrbyfloat(_ c: Client, _ a: Args) {
        guard let incr = FloatFormat.parseLongDouble(a[3]) else { c.notFloat(); return }
        if incr.isInfinite { c.error("ERR value is NaN or Infinity"); return }
        let key = a[1]
        guard let (e, h0) = writeHash(c, key) else { return }
        var h = h0
        var current: LongDouble = 0
        var bad = false
        h.withValue(a[2]) { v in
            if let x = FloatFormat.parseLongDouble(v) { current = x } else { bad = true }
        }
        if bad {
            c.error("ERR hash value is not a float")
            return
        }
        let value = current + incr
        if value.isNaN || value.isInfinite {
            c.error("ERR increment would produce NaN or Infinity")
            return
        }
        let text = FloatFormat.humanText(value)
        text.withUnsafeBytes { t in
            h = tryConversionBytes(c, e, h, a[2], t)
            h.set(a[2], t)
        }
        h = checkEntries(c, e, h)
        h.trim()
        c.keyModified(key)
        c.notify(.hash, "hincrbyfloat", key)
        c.engine.dirty += 1
        c.out.bulk(text)
        CollectionSupport.propagate(c) { [OwnedArgs([Array("HSET".utf8), a.bytes(1), a.bytes(2), text])] }
    }

    // MARK: HRANDFIELD

    static func hrandfield(_ c: Client, _ a: Args) {
        if a.count >= 3 {
            guard let l = Numbers.parseInt(a[2]) else { c.notInteger(); return }
            if l == Int.min {
                c.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
                return
            }
            var withValues = false
            if a.count > 4 || (a.count == 4 && !a.equals(3, "withvalues")) {
                c.syntaxError()
                return
            } else if a.count == 4 {
                withValues = true
                if l < -(Int.max / 2) || l > Int.max / 2 {
                    c.error("ERR value is out of range")
                    return
                }
            }
            hrandfieldWithCount(c, a, l, withValues)
            return
        }
        guard let h = readHash(c, a[1], missing: { $0.out.null() }) else { return }
        var g = CollectionSupport.FastRandom()
        switch h {
        case .listpack(let l):
            let offs = l.fieldOffsets()
            l.withPair(at: offs[Int(g.next() % UInt64(offs.count))]) { f, _ in c.out.bulk(f) }
        case .dict(let d):
            d.withRandomPair(using: &g) { f, _ in c.out.bulk(f) }
        }
    }

    static func replyPair(_ c: Client, _ f: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer, _ withValues: Bool) {
        if withValues && c.resp >= 3 { c.out.array(2) }
        c.out.bulk(f)
        if withValues { c.out.bulk(v) }
    }

    static func hrandfieldWithCount(_ c: Client, _ a: Args, _ count: Int, _ withValues: Bool) {
        guard let h = readHash(c, a[1], missing: { $0.out.array(0) }) else { return }
        if count == 0 { c.out.array(0); return }
        let size = h.count
        var g = CollectionSupport.FastRandom()
        let perItem = withValues && c.resp < 3 ? 2 : 1
        if count < 0 {
            // With repetitions: each pick independent.
            let n = count.magnitude > UInt(CollectionSupport.maxRandomCount) ? -1 : Int(count.magnitude)
            if n < 0 { c.error("ERR value is out of range"); return }
            c.out.array(n * perItem)
            switch h {
            case .listpack(let l):
                let offs = l.fieldOffsets()
                for _ in 0..<n { l.withPair(at: offs[Int(g.next() % UInt64(size))]) { replyPair(c, $0, $1, withValues) } }
            case .dict(let d):
                for _ in 0..<n { d.withRandomPair(using: &g) { replyPair(c, $0, $1, withValues) } }
            }
            return
        }
        if count >= size {
            // The whole hash, in its own order.
            c.out.array(size * perItem)
            h.forEach { replyPair(c, $0, $1, withValues) }
            return
        }
        switch h {
        case .listpack(let l):
            // Distinct picks, replied in listpack order (selection sampling).
            let offs = l.fieldOffsets()
            c.out.array(count * perItem)
            var need = count
            for (i, off) in offs.enumerated() where need > 0 {
                let left = offs.count - i
                if Int(g.next() % UInt64(left)) < need {
                    l.withPair(at: off) { replyPair(c, $0, $1, withValues) }
                    need -= 1
                }
            }
        case .dict(let d):
            c.out.array(count * perItem)
            if count * 3 > size {
                // Pick which slots to drop, reply the rest.
                var keep = [Bool](repeating: true, count: d.table.capacity)
                var remaining = size
                var occupied: [Int] = []
                occupied.reserveCapacity(size)
                for i in 0..<d.table.capacity where d.table.isOccupied(i) { occupied.append(i) }
                while remaining > count {
                    let j = Int(g.next() % UInt64(occupied.count))
                    if keep[occupied[j]] { keep[occupied[j]] = false; remaining -= 1 }
                }
                for i in occupied where keep[i] {
                    let b = d.table.block(at: i)
                    replyPair(c, ElementBlock.key(b), DictHash.value(b), withValues)
                }
            } else {
                var seen = Set<Int>()
                while seen.count < count {
                    let i = d.table.randomSlot(using: &g)
                    if seen.insert(i).inserted {
                        let b = d.table.block(at: i)
                        replyPair(c, ElementBlock.key(b), DictHash.value(b), withValues)
                    }
                }
            }
        }
    }

    // MARK: HSCAN

    static func hscan(_ c: Client, _ a: Args) {
        guard let cursor = CollectionSupport.parseCursor(a[2]) else { c.error("ERR invalid cursor"); return }
        guard let h = readHash(c, a[1], missing: { c in
            CollectionSupport.replyScan(c, cursor: 0) { 0 }
        }) else { return }
        guard let opts = CollectionSupport.parseScanOptions(c, a, from: 3) else { return }
        switch h {
        case .listpack(let l):
            CollectionSupport.replyScan(c, cursor: 0) {
                var n = 0
                l.forEach { f, v in
                    if let p = opts.pattern, !Glob.match(p, f) { return }
                    c.out.bulk(f); c.out.bulk(v); n += 2
                }
                return n
            }
        case .dict(let d):
            // Visit buckets until COUNT elements were seen (at most 10*COUNT buckets).
            var items: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer)] = []
            var seen = 0
            var cur = cursor
            var iterations = opts.count > Int.max / 10 ? Int.max : opts.count * 10
            repeat {
                cur = d.scan(cur) { f, v in
                    seen += 2   // Redis counts field and value against COUNT
                    if let p = opts.pattern, !Glob.match(p, f) { return }
                    items.append((f, v))
                }
                iterations -= 1
            } while cur != 0 && iterations > 0 && seen < opts.count
            CollectionSupport.replyScan(c, cursor: cur) {
                for (f, v) in items { c.out.bulk(f); c.out.bulk(v) }
                return items.count * 2
            }
        }
    }
}
