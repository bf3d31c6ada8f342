import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerSetCommands() {
        commands.register("sadd", SetCommands.sadd)
        commands.register("srem", SetCommands.srem)
        commands.register("scard", SetCommands.scard)
        commands.register("sismember", SetCommands.sismember)
        commands.register("smismember", SetCommands.smismember)
        commands.register("smembers", SetCommands.smembers)
        commands.register("spop", SetCommands.spop)
        commands.register("srandmember", SetCommands.srandmember)
        commands.register("smove", SetCommands.smove)
        commands.register("sinter", SetCommands.sinter)
        commands.register("sintercard", SetCommands.sintercard)
        commands.register("sinterstore", SetCommands.sinterstore)
        commands.register("sunion", SetCommands.sunion)
        commands.register("sunionstore", SetCommands.sunionstore)
        commands.register("sdiff", SetCommands.sdiff)
        commands.register("sdiffstore", SetCommands.sdiffstore)
        commands.register("sscan", SetCommands.sscan)
    }
}

/// One member handed out by set iteration: intsets give integers, hashtables bytes.
enum SetMember {
    case int(Int)
    case bytes(UnsafeRawBufferPointer)

    @inline(__always) func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .int(let v): return ListpackCodec.withIntText(v, body)
        case .bytes(let b): return body(b)
        }
    }
}

/// A set value of either encoding. Mutations that convert the encoding replace the case;
/// `commit` stores the new object into the key's entry.
struct SetObject {
    enum Rep {
        case intset(IntSet)
        case dict(DictSet)
    }
    var rep: Rep

    init(_ rep: Rep) { self.rep = rep }

    @inline(__always) init?(_ e: Entry) {
        let o = e.object
        if let s = o as? IntSet { rep = .intset(s) }
        else if let d = o as? DictSet { rep = .dict(d) }
        else { return nil }
    }

    /// An empty set suited to its first member (setTypeCreate).
    static func create(for first: UnsafeRawBufferPointer) -> SetObject {
        ListpackCodec.parseInt(first) != nil ? SetObject(.intset(IntSet.make())) : SetObject(.dict(DictSet()))
    }

    var object: AnyObject {
        switch rep { case .intset(let s): return s; case .dict(let d): return d }
    }

    var encoding: ValueEncoding {
        switch rep { case .intset: return .intset; case .dict: return .hashtable }
    }

    @inline(__always) var count: Int {
        switch rep { case .intset(let s): return s.count; case .dict(let d): return d.count }
    }

    @inline(__always) func contains(_ m: UnsafeRawBufferPointer) -> Bool {
        switch rep {
        case .intset(let s):
            guard let v = ListpackCodec.parseInt(m) else { return false }
            return s.contains(v)
        case .dict(let d): return d.contains(m)
        }
    }

    @inline(__always) func contains(_ m: SetMember) -> Bool {
        switch (rep, m) {
        case (.intset(let s), .int(let v)): return s.contains(v)
        case (.intset, .bytes(let b)): return contains(b)
        case (.dict(let d), _): return m.withBytes { d.contains($0) }
        }
    }

    mutating func convertToDict(extra: Int = 0) {
        guard case .intset(let s) = rep else { return }
        let d = DictSet(capacity: HashSlotTable.capacityFor(s.count + extra))
        s.forEach { v in ListpackCodec.withIntText(v) { d.insertNew($0) } }
        rep = .dict(d)
    }

    /// Adds m (setTypeAdd); converts an intset on a non-integer or past maxIntset entries.
    @inline(__always) @discardableResult
    mutating func add(_ m: UnsafeRawBufferPointer, maxIntset: Int) -> Bool {
        switch rep {
        case .intset(let s):
            if let v = ListpackCodec.parseInt(m) {
                let (ns, added) = s.inserting(v)
                if !added { return false }
                rep = .intset(ns)
                if ns.count > min(maxIntset, 1 << 30) { convertToDict() }
                return true
            }
            convertToDict(extra: 1)
            return add(m, maxIntset: maxIntset)
        case .dict(let d):
            return d.add(m)
        }
    }

    @inline(__always) mutating func add(_ m: SetMember, maxIntset: Int) -> Bool {
        if case .int(let v) = m, case .intset(let s) = rep {
            let (ns, added) = s.inserting(v)
            if !added { return false }
            rep = .intset(ns)
            if ns.count > min(maxIntset, 1 << 30) { convertToDict() }
            return true
        }
        return m.withBytes { add($0, maxIntset: maxIntset) }
    }

    @inline(__always) @discardableResult
    func remove(_ m: UnsafeRawBufferPointer) -> Bool {
        switch rep {
        case .intset(let s):
            guard let v = ListpackCodec.parseInt(m) else { return false }
            return s.remove(v)
        case .dict(let d): return d.remove(m)
        }
    }

    @inline(__always) func forEach(_ body: (SetMember) -> Void) {
        switch rep {
        case .intset(let s): s.forEach { body(.int($0)) }
        case .dict(let d): d.forEach { body(.bytes($0)) }
        }
    }

    /// Swaps in a right-sized intset after deletions (call `commit` afterwards).
    mutating func compact() {
        if case .intset(let s) = rep, let c = s.compacted() { rep = .intset(c) }
    }

    /// Stores a converted object back into the entry.
    @inline(__always) func commit(_ c: Client, _ e: Entry) {
        if e.object !== object { c.db.replaceObject(e, with: object, encoding: encoding) }
    }
}

/// Set commands (t_set.c).
public enum SetCommands {
    enum Lookup {
        case missing
        case wrongType
        case found(Entry, SetObject)
    }

    @inline(__always)
    static func lookup(_ c: Client, _ key: UnsafeRawBufferPointer, write: Bool = false) -> Lookup {
        guard let e = write ? c.lookupWrite(key) : c.lookupRead(key) else { return .missing }
        guard e.type == .set, let s = SetObject(e) else { return .wrongType }
        return .found(e, s)
    }

    @inline(__always)
    static func readSet(_ c: Client, _ key: UnsafeRawBufferPointer, missing: (Client) -> Void) -> SetObject? {
        switch lookup(c, key) {
        case .missing: missing(c); return nil
        case .wrongType: c.wrongType(); return nil
        case .found(_, let s): return s
        }
    }

    @inline(__always) static func replyMember(_ c: Client, _ m: SetMember) {
        switch m {
        case .int(let v): ListpackCodec.withIntText(v) { c.out.bulk($0) }
        case .bytes(let b): c.out.bulk(b)
        }
    }

    static func maxIntset(_ c: Client) -> Int { c.engine.config.setMaxIntsetEntries }

    // MARK: single-key commands

    static func sadd(_ c: Client, _ a: Args) {
        let key = a[1]
        var e: Entry
        var s: SetObject
        switch lookup(c, key, write: true) {
        case .wrongType: c.wrongType(); return
        case .found(let x, let y): e = x; s = y
        case .missing:
            s = SetObject.create(for: a[2])
            e = c.db.setObject(key, s.object, type: .set, encoding: s.encoding, lru: c.engine.objectLRU)
        }
        let maxI = maxIntset(c)
        var added = 0
        if a.count > 3, case .intset(let set) = s.rep, let fresh = newIntegers(set, a, limit: maxI) {
            // All members are integers and the result stays an intset: one allocation.
            s.rep = .intset(set.merging(fresh))
            added = fresh.count
        } else {
            for i in 2..<a.count where s.add(a[i], maxIntset: maxI) { added += 1 }
        }
        s.commit(c, e)
        if added > 0 {
            c.keyModified(key)
            c.notify(.set, "sadd", key)
        }
        c.engine.dirty += added
        c.out.integer(added)
    }

    /// SADD's members not yet in `set`, ascending and distinct, when every member is an
    /// integer and the set stays within set-max-intset-entries; nil otherwise (the member by
    /// member path then converts exactly where Redis's setTypeAdd would).
    static func newIntegers(_ set: IntSet, _ a: Args, limit: Int) -> [Int]? {
        var values: [Int] = []
        values.reserveCapacity(a.count - 2)
        for i in 2..<a.count {
            guard let v = ListpackCodec.parseInt(a[i]) else { return nil }
            if !set.contains(v) { values.append(v) }
        }
        values.sort()
        var w = 0
        for v in values where w == 0 || values[w - 1] != v { values[w] = v; w += 1 }
        values.removeLast(values.count - w)
        return set.count + w > min(limit, 1 << 30) ? nil : values
    }

    static func srem(_ c: Client, _ a: Args) {
        let key = a[1]
        var s: SetObject
        let e: Entry
        switch lookup(c, key, write: true) {
        case .missing: c.out.integer(0); return
        case .wrongType: c.wrongType(); return
        case .found(let x, let y): e = x; s = y
        }
        var deleted = 0
        var keyRemoved = false
        for i in 2..<a.count where s.remove(a[i]) {
            deleted += 1
            if s.count == 0 {
                c.db.delete(key)
                keyRemoved = true
                break
            }
        }
        if deleted > 0 && !keyRemoved {
            s.compact()
            s.commit(c, e)
        }
        if deleted > 0 {
            c.keyModified(key)
            c.notify(.set, "srem", key)
            if keyRemoved { c.notify(.generic, "del", key) }
            c.engine.dirty += deleted
        }
        c.out.integer(deleted)
    }

    static func scard(_ c: Client, _ a: Args) {
        guard let s = readSet(c, a[1], missing: { $0.out.integer(0) }) else { return }
        c.out.integer(s.count)
    }

    static func sismember(_ c: Client, _ a: Args) {
        guard let s = readSet(c, a[1], missing: { $0.out.integer(0) }) else { return }
        c.out.integer(s.contains(a[2]) ? 1 : 0)
    }

    static func smismember(_ c: Client, _ a: Args) {
        var s: SetObject? = nil
        switch lookup(c, a[1]) {
        case .wrongType: c.wrongType(); return
        case .missing: break
        case .found(_, let y): s = y
        }
        c.out.array(a.count - 2)
        for i in 2..<a.count { c.out.integer(s?.contains(a[i]) == true ? 1 : 0) }
    }

    static func smembers(_ c: Client, _ a: Args) {
        guard let s = readSet(c, a[1], missing: { $0.out.set(0) }) else { return }
        c.out.set(s.count)
        s.forEach { replyMember(c, $0) }
    }

    static func smove(_ c: Client, _ a: Args) {
        let src = a[1], dst = a[2], member = a[3]
        let srcL = lookup(c, src, write: true)
        let dstL = lookup(c, dst, write: true)
        let srcSet: SetObject
        switch srcL {
        case .missing: c.out.integer(0); return
        case .wrongType: c.wrongType(); return
        case .found(_, let s): srcSet = s
        }
        var dstSet: SetObject? = nil
        var dstEntry: Entry? = nil
        switch dstL {
        case .wrongType: c.wrongType(); return
        case .missing: break
        case .found(let e, let s): dstEntry = e; dstSet = s
        }
        if let d = dstSet, d.object === srcSet.object {
            c.out.integer(srcSet.contains(member) ? 1 : 0)
            return
        }
        if !srcSet.remove(member) {
            c.out.integer(0)
            return
        }
        c.notify(.set, "srem", src)
        if srcSet.count == 0 {
            c.db.delete(src)
            c.notify(.generic, "del", src)
        }
        if dstSet == nil {
            let s = SetObject.create(for: member)
            dstEntry = c.db.setObject(dst, s.object, type: .set, encoding: s.encoding, lru: c.engine.objectLRU)
            dstSet = s
        }
        c.keyModified(src)
        c.engine.dirty += 1
        if var d = dstSet, let de = dstEntry {
            if d.add(member, maxIntset: maxIntset(c)) {
                d.commit(c, de)
                c.engine.dirty += 1
                c.keyModified(dst)
                c.notify(.set, "sadd", dst)
            }
        }
        c.out.integer(1)
    }

    // MARK: random members

    /// Removes and returns a random member's text.
    static func popRandom(_ s: SetObject, _ g: inout CollectionSupport.FastRandom) -> [UInt8] {
        switch s.rep {
        case .intset(let i):
            let idx = Int(g.next() % UInt64(i.count))
            let v = i.value(at: idx)
            i.removeAt(idx)
            return ListpackCodec.withIntText(v) { Array($0) }
        case .dict(let d):
            let slot = d.randomSlot(using: &g)
            let m = Array(d.member(atSlot: slot))
            d.removeSlot(slot)
            return m
        }
    }

    static func randomMember(_ s: SetObject, _ g: inout CollectionSupport.FastRandom) -> SetMember {
        switch s.rep {
        case .intset(let i): return .int(i.value(at: Int(g.next() % UInt64(i.count))))
        case .dict(let d): return .bytes(d.member(atSlot: d.randomSlot(using: &g)))
        }
    }

    static func spop(_ c: Client, _ a: Args) {
        if a.count == 3 { spopWithCount(c, a); return }
        if a.count > 3 { c.syntaxError(); return }
        let key = a[1]
        let s: SetObject
        switch lookup(c, key, write: true) {
        case .missing: c.out.null(); return
        case .wrongType: c.wrongType(); return
        case .found(_, let y): s = y
        }
        var g = CollectionSupport.FastRandom()
        // Reply straight from the set, then remove (no copy unless propagating).
        switch s.rep {
        case .intset(let i):
            let idx = Int(g.next() % UInt64(i.count))
            let v = i.value(at: idx)
            ListpackCodec.withIntText(v) { t in
                c.out.bulk(t)
                CollectionSupport.propagate(c) { [OwnedArgs([Array("SREM".utf8), a.bytes(1), Array(t)])] }
            }
            i.removeAt(idx)
        case .dict(let d):
            let slot = d.randomSlot(using: &g)
            let m = d.member(atSlot: slot)
            c.out.bulk(m)
            CollectionSupport.propagate(c) { [OwnedArgs([Array("SREM".utf8), a.bytes(1), Array(m)])] }
            d.removeSlot(slot)
        }
        c.notify(.set, "spop", key)
        if s.count == 0 {
            c.db.delete(key)
            c.notify(.generic, "del", key)
        }
        c.keyModified(key)
        c.engine.dirty += 1
    }

    /// SPOP with a count propagates one `SREM key member` per popped member, as Redis 7.0.15
    /// sends it to a replica (batches of 1024 members came with 7.2); two or more are wrapped
    /// in MULTI/EXEC by the propagation unit.
    static func sremPerMember(_ key: [UInt8], _ members: [[UInt8]]) -> [OwnedArgs] {
        let verb = Array("SREM".utf8)
        return members.map { OwnedArgs([verb, key, $0]) }
    }

    static func spopWithCount(_ c: Client, _ a: Args) {
        guard let count = Numbers.parseInt(a[2]), count >= 0 else {
            c.error("ERR value is out of range, must be positive")
            return
        }
        let key = a[1]
        let s: SetObject
        let e: Entry
        switch lookup(c, key, write: true) {
        case .missing: c.out.set(0); return
        case .wrongType: c.wrongType(); return
        case .found(let x, let y): e = x; s = y
        }
        if count == 0 { c.out.set(0); return }
        let size = s.count
        c.notify(.set, "spop", key)
        if count >= size {
            // The whole set, then the key goes (propagated as DEL).
            var result = SetObject(.intset(IntSet.make()))
            let maxI = maxIntset(c)
            s.forEach { _ = result.add($0, maxIntset: maxI) }
            c.out.set(result.count)
            result.forEach { replyMember(c, $0) }
            c.db.delete(key)
            c.notify(.generic, "del", key)
            CollectionSupport.propagate(c) { [OwnedArgs([Array("DEL".utf8), a.bytes(1)])] }
            c.keyModified(key)
            // Every popped member counts, as in Redis 7.0 (dirty += min(count, size)).
            c.engine.dirty += size
            return
        }
        var g = CollectionSupport.FastRandom()
        var popped: [[UInt8]] = []
        popped.reserveCapacity(count)
        let remaining = size - count
        if remaining * 5 > count {
            for _ in 0..<count { popped.append(popRandom(s, &g)) }
            c.out.set(count)
            for m in popped { c.out.bulk(m) }
            var rest = s
            rest.compact()
            rest.commit(c, e)
        } else {
            // Few survivors: move them into a fresh set, reply what is left in the old one.
            var fresh: SetObject? = nil
            let maxI = maxIntset(c)
            for _ in 0..<remaining {
                let m = popRandom(s, &g)
                m.withUnsafeBytes { b in
                    if fresh == nil { fresh = SetObject.create(for: b) }
                    _ = fresh!.add(b, maxIntset: maxI)
                }
            }
            c.out.set(s.count)
            s.forEach { m in
                m.withBytes { popped.append(Array($0)) }
                replyMember(c, m)
            }
            if let f = fresh { c.db.replaceObject(e, with: f.object, encoding: f.encoding) }
        }
        CollectionSupport.propagate(c) { sremPerMember(a.bytes(1), popped) }
        c.keyModified(key)
        c.engine.dirty += count
    }

    static func srandmember(_ c: Client, _ a: Args) {
        if a.count == 3 { srandmemberWithCount(c, a); return }
        if a.count > 3 { c.syntaxError(); return }
        guard let s = readSet(c, a[1], missing: { $0.out.null() }) else { return }
        var g = CollectionSupport.FastRandom()
        replyMember(c, randomMember(s, &g))
    }

    static func srandmemberWithCount(_ c: Client, _ a: Args) {
        guard let l = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        if l == Int.min {
            c.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            return
        }
        guard let s = readSet(c, a[1], missing: { $0.out.array(0) }) else { return }
        if l == 0 { c.out.array(0); return }
        var g = CollectionSupport.FastRandom()
        let size = s.count
        if l < 0 {
            guard l.magnitude <= UInt(CollectionSupport.maxRandomCount) else { c.error("ERR value is out of range"); return }
            let n = Int(l.magnitude)
            c.out.array(n)
            for _ in 0..<n { replyMember(c, randomMember(s, &g)) }
            return
        }
        if l >= size {
            c.out.array(size)
            s.forEach { replyMember(c, $0) }
            return
        }
        c.out.array(l)
        switch s.rep {
        case .intset(let i):
            // Distinct picks by selection sampling, in sorted order.
            var need = l
            for idx in 0..<size where need > 0 {
                if Int(g.next() % UInt64(size - idx)) < need {
                    ListpackCodec.withIntText(i.value(at: idx)) { c.out.bulk($0) }
                    need -= 1
                }
            }
        case .dict(let d):
            if l * 3 > size {
                var occupied: [Int] = []
                occupied.reserveCapacity(size)
                for i in 0..<d.table.capacity where d.table.isOccupied(i) { occupied.append(i) }
                var keep = [Bool](repeating: true, count: occupied.count)
                var remaining = size
                while remaining > l {
                    let j = Int(g.next() % UInt64(occupied.count))
                    if keep[j] { keep[j] = false; remaining -= 1 }
                }
                for (j, slot) in occupied.enumerated() where keep[j] { c.out.bulk(d.member(atSlot: slot)) }
            } else {
                var seen = Set<Int>()
                while seen.count < l {
                    let slot = d.randomSlot(using: &g)
                    if seen.insert(slot).inserted { c.out.bulk(d.member(atSlot: slot)) }
                }
            }
        }
    }

    // MARK: multi-key algebra

    /// Looks up every key in `keys`; nil entries are missing keys. Replies WRONGTYPE and
    /// returns nil if any key holds another type.
    static func lookupSets(_ c: Client, _ a: Args, _ keys: Range<Int>, write: Bool = false) -> [SetObject?]? {
        var out: [SetObject?] = []
        out.reserveCapacity(keys.count)
        for i in keys {
            let found: Lookup = write ? lookup(c, a[i], write: true) : lookup(c, a[i])
            switch found {
            case .missing: out.append(nil)
            case .wrongType: c.wrongType(); return nil
            case .found(_, let s): out.append(s)
            }
        }
        return out
    }

    /// Members of the intersection, visited in the smallest set's order; stops after `limit`.
    static func intersect(_ sets: [SetObject], limit: Int = Int.max, _ body: (SetMember) -> Void) {
        let sorted = sets.sorted { $0.count < $1.count }
        guard let first = sorted.first else { return }
        var n = 0
        if n >= limit { return }
        switch first.rep {
        case .intset(let s):
            for i in 0..<s.count {
                let m = SetMember.int(s.value(at: i))
                var all = true
                for j in 1..<sorted.count where !sorted[j].contains(m) { all = false; break }
                if all {
                    body(m)
                    n += 1
                    if n >= limit { return }
                }
            }
        case .dict(let d):
            var stop = false
            d.table.forEach { b in
                if stop { return }
                let m = SetMember.bytes(ElementBlock.key(b))
                for j in 1..<sorted.count where !sorted[j].contains(m) { return }
                body(m)
                n += 1
                if n >= limit { stop = true }
            }
        }
    }

    static func sinter(_ c: Client, _ a: Args) {
        guard let sets = lookupSets(c, a, 1..<a.count) else { return }
        if sets.contains(where: { $0 == nil }) { c.out.set(0); return }
        let token = c.out.deferredLength()
        var n = 0
        intersect(sets.map { $0! }) { replyMember(c, $0); n += 1 }
        c.out.setDeferredSet(token, n)
    }

    static func sintercard(_ c: Client, _ a: Args) {
        guard let numkeys = Numbers.parseInt(a[1]), numkeys > 0 else {
            c.error("ERR numkeys should be greater than 0")
            return
        }
        if numkeys > a.count - 2 {
            c.error("ERR Number of keys can't be greater than number of args")
            return
        }
        var limit = 0
        var j = 2 + numkeys
        while j < a.count {
            if a.equals(j, "limit") && j + 1 < a.count {
                guard let l = Numbers.parseInt(a[j + 1]), l >= 0 else {
                    c.error("ERR LIMIT can't be negative")
                    return
                }
                limit = l
                j += 2
            } else {
                c.syntaxError()
                return
            }
        }
        guard let sets = lookupSets(c, a, 2..<(2 + numkeys)) else { return }
        if sets.contains(where: { $0 == nil }) { c.out.integer(0); return }
        var n = 0
        intersect(sets.map { $0! }, limit: limit == 0 ? Int.max : limit) { _ in n += 1 }
        c.out.integer(n)
    }

    enum Op { case union, diff }

    /// Builds the union or difference of the sets (missing keys are empty) as a new set
    /// that starts as an intset and converts as members arrive.
    static func combine(_ c: Client, _ sets: [SetObject?], _ op: Op) -> SetObject {
        var result = SetObject(.intset(IntSet.make()))
        let maxI = maxIntset(c)
        switch op {
        case .union:
            for s in sets { s?.forEach { _ = result.add($0, maxIntset: maxI) } }
        case .diff:
            guard let first = sets[0] else { return result }
            let others = sets.dropFirst().compactMap { $0 }
            first.forEach { m in
                for o in others where o.object === first.object || o.contains(m) { return }
                _ = result.add(m, maxIntset: maxI)
            }
        }
        return result
    }

    static func sunion(_ c: Client, _ a: Args) {
        guard let sets = lookupSets(c, a, 1..<a.count) else { return }
        let r = combine(c, sets, .union)
        c.out.set(r.count)
        r.forEach { replyMember(c, $0) }
    }

    static func sdiff(_ c: Client, _ a: Args) {
        guard let sets = lookupSets(c, a, 1..<a.count) else { return }
        let r = combine(c, sets, .diff)
        c.out.set(r.count)
        r.forEach { replyMember(c, $0) }
    }

    /// Stores `result` at dst (or deletes dst when empty) and replies its size. An empty
    /// result that finds no dst to delete changes nothing (no dirty count, no propagation).
    static func store(_ c: Client, _ dst: UnsafeRawBufferPointer, _ result: SetObject, _ event: String) {
        if result.count == 0 {
            if c.lookupWrite(dst) != nil {
                c.db.delete(dst)
                c.keyModified(dst)
                c.notify(.generic, "del", dst)
            } else {
                c.out.integer(0)
                return
            }
        } else {
            // Redis's setKey: lookupKeyWrite first (lazy expiry of dst, LRU/LFU touch).
            _ = c.lookupWrite(dst)
            c.db.setObject(dst, result.object, type: .set, encoding: result.encoding, lru: c.engine.objectLRU)
            c.keyModified(dst)
            c.notify(.set, event, dst)
        }
        c.engine.dirty += 1
        c.out.integer(result.count)
    }

    static func sinterstore(_ c: Client, _ a: Args) {
        guard let sets = lookupSets(c, a, 2..<a.count) else { return }
        var result = SetObject(.intset(IntSet.make()))
        if !sets.contains(where: { $0 == nil }) {
            let maxI = maxIntset(c)
            intersect(sets.map { $0! }) { _ = result.add($0, maxIntset: maxI) }
        }
        store(c, a[1], result, "sinterstore")
    }

    static func sunionstore(_ c: Client, _ a: Args) {
        guard let sets = lookupSets(c, a, 2..<a.count) else { return }
        store(c, a[1], combine(c, sets, .union), "sunionstore")
    }

    static func sdiffstore(_ c: Client, _ a: Args) {
        guard let sets = lookupSets(c, a, 2..<a.count) else { return }
        store(c, a[1], combine(c, sets, .diff), "sdiffstore")
    }

    // MARK: SSCAN

    static func sscan(_ c: Client, _ a: Args) {
        guard let cursor = CollectionSupport.parseCursor(a[2]) else { c.error("ERR invalid cursor"); return }
        guard let s = readSet(c, a[1], missing: { c in CollectionSupport.replyScan(c, cursor: 0) { 0 } }) else { return }
        guard let opts = CollectionSupport.parseScanOptions(c, a, from: 3) else { return }
        switch s.rep {
        case .intset(let i):
            CollectionSupport.replyScan(c, cursor: 0) {
                var n = 0
                i.forEach { v in
                    ListpackCodec.withIntText(v) { t in
                        if let p = opts.pattern, !Glob.match(p, t) { return }
                        c.out.bulk(t)
                        n += 1
                    }
                }
                return n
            }
        case .dict(let d):
            var items: [UnsafeRawBufferPointer] = []
            var seen = 0
            var cur = cursor
            var iterations = opts.count > Int.max / 10 ? Int.max : opts.count * 10
            repeat {
                cur = d.scan(cur) { m in
                    seen += 1
                    if let p = opts.pattern, !Glob.match(p, m) { return }
                    items.append(m)
                }
                iterations -= 1
            } while cur != 0 && iterations > 0 && seen < opts.count
            CollectionSupport.replyScan(c, cursor: cur) {
                for m in items { c.out.bulk(m) }
                return items.count
            }
        }
    }
}
