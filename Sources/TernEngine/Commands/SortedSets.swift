import CTern
import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerSortedSetCommands() {
        let z = SortedSetCommands.self
        commands.register("zadd", z.zadd)
        commands.register("zincrby", z.zincrby)
        commands.register("zrem", z.zrem)
        commands.register("zcard", z.zcard)
        commands.register("zcount", z.zcount)
        commands.register("zlexcount", z.zlexcount)
        commands.register("zscore", z.zscore)
        commands.register("zmscore", z.zmscore)
        commands.register("zrank", z.zrank)
        commands.register("zrevrank", z.zrevrank)
        commands.register("zrange", z.zrange)
        commands.register("zrangestore", z.zrangestore)
        commands.register("zrangebyscore", z.zrangebyscore)
        commands.register("zrevrangebyscore", z.zrevrangebyscore)
        commands.register("zrangebylex", z.zrangebylex)
        commands.register("zrevrangebylex", z.zrevrangebylex)
        commands.register("zrevrange", z.zrevrange)
        commands.register("zremrangebyrank", z.zremrangebyrank)
        commands.register("zremrangebyscore", z.zremrangebyscore)
        commands.register("zremrangebylex", z.zremrangebylex)
        commands.register("zpopmin", z.zpopmin)
        commands.register("zpopmax", z.zpopmax)
        commands.register("zmpop", z.zmpop)
        commands.register("zrandmember", z.zrandmember)
        commands.register("zunion", z.zunion)
        commands.register("zinter", z.zinter)
        commands.register("zdiff", z.zdiff)
        commands.register("zunionstore", z.zunionstore)
        commands.register("zinterstore", z.zinterstore)
        commands.register("zdiffstore", z.zdiffstore)
        commands.register("zintercard", z.zintercard)
        commands.register("zscan", z.zscan)
        commands.register("bzpopmin", z.bzpopmin)
        commands.register("bzpopmax", z.bzpopmax)
        commands.register("bzmpop", z.bzmpop)
    }
}

/// A sorted-set value of either encoding. `add` may convert listpack -> tree; `commit`
/// stores a converted object back into the key's entry.
struct ZSetObject {
    enum Rep {
        case listpack(ListpackZSet)
        case tree(TreeZSet)
    }
    var rep: Rep

    init(_ rep: Rep) { self.rep = rep }

    @inline(__always) init?(_ e: Entry) {
        let o = e.object
        if let l = o as? ListpackZSet { rep = .listpack(l) }
        else if let t = o as? TreeZSet { rep = .tree(t) }
        else { return nil }
    }

    /// Empty zset for a first member (zsetTypeCreate).
    static func create(_ c: Client, sizeHint: Int, firstMemberLength: Int) -> ZSetObject {
        let cfg = c.engine.config
        if cfg.zsetMaxListpackEntries == 0 || firstMemberLength > cfg.zsetMaxListpackValue || sizeHint > cfg.zsetMaxListpackEntries {
            return ZSetObject(.tree(TreeZSet()))
        }
        return ZSetObject(.listpack(ListpackZSet()))
    }

    var object: AnyObject {
        switch rep { case .listpack(let l): return l; case .tree(let t): return t }
    }

    var encoding: ValueEncoding {
        switch rep { case .listpack: return .listpack; case .tree: return .skiplist }
    }

    @inline(__always) var count: Int {
        switch rep { case .listpack(let l): return l.count; case .tree(let t): return t.count }
    }

    @inline(__always) func score(_ m: UnsafeRawBufferPointer) -> Double? {
        switch rep { case .listpack(let l): return l.score(m); case .tree(let t): return t.score(m) }
    }

    @inline(__always) func rank(_ m: UnsafeRawBufferPointer) -> Int? {
        switch rep { case .listpack(let l): return l.rank(m); case .tree(let t): return t.rank(m) }
    }

    @inline(__always) func walk(from: Int, to: Int, reverse: Bool, _ body: (UnsafeRawBufferPointer, Double) -> Bool) {
        switch rep {
        case .listpack(let l): l.walk(from: from, to: to, reverse: reverse, body)
        case .tree(let t): t.walk(from: from, to: to, reverse: reverse, body)
        }
    }

    @inline(__always) func forEach(_ body: (UnsafeRawBufferPointer, Double) -> Void) {
        walk(from: 0, to: count, reverse: false) { body($0, $1); return true }
    }

    @inline(__always) func countPrefix(_ pred: (UnsafeRawBufferPointer, Double) -> Bool) -> Int {
        switch rep { case .listpack(let l): return l.countPrefix(pred); case .tree(let t): return t.countPrefix(pred) }
    }

    @discardableResult
    func removeRange(from: Int, to: Int) -> Int {
        switch rep {
        case .listpack(let l): return l.removeRange(from: from, to: to)
        case .tree(let t): return t.removeRange(from: from, to: to)
        }
    }

    @discardableResult
    func remove(_ m: UnsafeRawBufferPointer) -> Bool {
        switch rep { case .listpack(let l): return l.remove(m); case .tree(let t): return t.remove(m) }
    }

    mutating func convertToTree() {
        guard case .listpack(let l) = rep else { return }
        let t = TreeZSet(capacity: HashSlotTable.capacityFor(l.count + 1))
        l.walk(from: 0, to: l.count, reverse: false) { m, s in t.insertNew(m, s); return true }
        rep = .tree(t)
    }

    @inline(__always) func commit(_ c: Client, _ e: Entry) {
        if e.object !== object { c.db.replaceObject(e, with: object, encoding: encoding) }
        trim()
    }

    /// Releases listpack growth headroom at the end of a write command.
    @inline(__always) func trim() {
        if case .listpack(let l) = rep { l.trim() }
    }

    struct AddFlags {
        var nx = false, xx = false, gt = false, lt = false, incr = false
    }

    enum AddResult { case added, updated, unchanged, nop, nan }

    /// zsetAdd: returns the outcome and the member's resulting score.
    mutating func add(_ m: UnsafeRawBufferPointer, _ score: Double, _ f: AddFlags, maxEntries: Int, maxValue: Int) -> (AddResult, Double) {
        var cur: Double? = nil
        var lpOffset: Int? = nil
        var block: UnsafeMutableRawPointer? = nil
        switch rep {
        case .listpack(let l):
            if let off = l.find(m) { lpOffset = off; cur = l.score(atMember: off) }
        case .tree(let t):
            if let b = t.block(m) { block = b; cur = TreeZSet.score(of: b) }
        }
        if let cur = cur {
            if f.nx { return (.nop, cur) }
            var s = score
            if f.incr {
                s += cur
                if s.isNaN { return (.nan, cur) }
            }
            if (f.lt && s >= cur) || (f.gt && s <= cur) { return (.nop, cur) }
            if s == cur { return (.unchanged, s) }
            switch rep {
            case .listpack(let l):
                l.remove(atMember: lpOffset!)
                l.insertNew(m, s)
            case .tree(let t):
                t.update(block!, to: s)
            }
            return (.updated, s)
        }
        if f.xx { return (.nop, score) }
        if case .listpack(let l) = rep {
            if l.count + 1 > maxEntries || m.count > maxValue || !l.safeToAdd(m.count) {
                convertToTree()
            } else {
                l.insertNew(m, score)
                return (.added, score)
            }
        }
        if case .tree(let t) = rep { t.insertNew(m, score) }
        return (.added, score)
    }
}

/// Score interval of ZRANGEBYSCORE & co.
struct ScoreRange {
    var min: Double, max: Double
    var minEx: Bool, maxEx: Bool

    /// Elements strictly before the interval (by score).
    @inline(__always) func below(_ s: Double) -> Bool { minEx ? s <= min : s < min }
    /// Elements not after the interval's end.
    @inline(__always) func notAbove(_ s: Double) -> Bool { maxEx ? s < max : s <= max }
}

/// Lex interval of ZRANGEBYLEX & co.
struct LexRange {
    enum Bound { case minusInf, plusInf, inclusive([UInt8]), exclusive([UInt8]) }
    var min: Bound, max: Bound

    /// zslIsInLexRange's first test: min above max (or equal with an exclusive end).
    var isEmpty: Bool {
        switch (min, max) {
        case (.plusInf, _), (_, .minusInf): return true
        case (.minusInf, _), (_, .plusInf): return false
        default: break
        }
        let (a, aEx): ([UInt8], Bool)
        let (b, bEx): ([UInt8], Bool)
        switch min { case .inclusive(let x): (a, aEx) = (x, false); case .exclusive(let x): (a, aEx) = (x, true); default: return false }
        switch max { case .inclusive(let x): (b, bEx) = (x, false); case .exclusive(let x): (b, bEx) = (x, true); default: return false }
        let c = a.withUnsafeBytes { pa in b.withUnsafeBytes { ZSetTree.compareBytes(pa, $0) } }
        return c > 0 || (c == 0 && (aEx || bEx))
    }

    @inline(__always) static func cmp(_ m: UnsafeRawBufferPointer, _ x: [UInt8]) -> Int {
        x.withUnsafeBytes { ZSetTree.compareBytes(m, $0) }
    }
    /// Members strictly before the interval.
    @inline(__always) func below(_ m: UnsafeRawBufferPointer) -> Bool {
        switch min {
        case .minusInf: return false
        case .plusInf: return true
        case .inclusive(let x): return LexRange.cmp(m, x) < 0
        case .exclusive(let x): return LexRange.cmp(m, x) <= 0
        }
    }
    /// Members not after the interval's end.
    @inline(__always) func notAbove(_ m: UnsafeRawBufferPointer) -> Bool {
        switch max {
        case .minusInf: return false
        case .plusInf: return true
        case .inclusive(let x): return LexRange.cmp(m, x) <= 0
        case .exclusive(let x): return LexRange.cmp(m, x) < 0
        }
    }
}

/// Sorted-set commands (t_zset.c).
public enum SortedSetCommands {
    enum Lookup {
        case missing
        case wrongType
        case found(Entry, ZSetObject)
    }

    @inline(__always)
    static func lookup(_ c: Client, _ key: UnsafeRawBufferPointer, write: Bool = false) -> Lookup {
        guard let e = write ? c.lookupWrite(key) : c.lookupRead(key) else { return .missing }
        guard e.type == .zset, let z = ZSetObject(e) else { return .wrongType }
        return .found(e, z)
    }

    @inline(__always)
    static func readZSet(_ c: Client, _ key: UnsafeRawBufferPointer, missing: (Client) -> Void) -> ZSetObject? {
        switch lookup(c, key) {
        case .missing: missing(c); return nil
        case .wrongType: c.wrongType(); return nil
        case .found(_, let z): return z
        }
    }

    // MARK: reply helpers

    /// addReplyDouble: RESP2 bulk "%.17g", RESP3 double.
    @inline(__always)
    static func replyDouble(_ c: Client, _ d: Double) {
        var buf: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { raw in
            let p = raw.baseAddress!
            let n = ListpackCodec.formatDouble(d, (p + 1).assumingMemoryBound(to: CChar.self), 46)
            if c.resp >= 3 {
                p.storeBytes(of: UInt8(44), as: UInt8.self)
                (p + 1 + n).storeBytes(of: UInt16(0x0a0d), as: UInt16.self)
                c.out.append(p, n + 3)
            } else {
                c.out.bulk(UnsafeRawBufferPointer(start: p + 1, count: n))
            }
        }
    }

    /// One element of a WITHSCORES reply: RESP2 flat, RESP3 [member, score].
    @inline(__always)
    static func replyElement(_ c: Client, _ m: UnsafeRawBufferPointer, _ s: Double, withScores: Bool) {
        if withScores {
            if c.resp >= 3 { c.out.array(2) }
            c.out.bulk(m)
            replyDouble(c, s)
        } else {
            c.out.bulk(m)
        }
    }

    static func replyElementsHeader(_ c: Client, _ n: Int, withScores: Bool) {
        c.out.array(withScores && c.resp < 3 ? 2 * n : n)
    }

    // MARK: parsing

    /// zslParseRange: optional "(" then strtod over the rest (leading space allowed, "" = 0).
    static func parseScoreBound(_ b: UnsafeRawBufferPointer) -> (Double, Bool)? {
        var start = 0
        var ex = false
        if b.count > 0 && b[0] == 40 { ex = true; start = 1 }
        var end = b.count
        for i in start..<b.count where b[i] == 0 { end = i; break }   // the C string ends at a NUL
        let n = end - start
        let v = withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double? in
            for i in 0..<n { buf[i] = CChar(bitPattern: b[start + i]) }
            buf[n] = 0
            var consumed = 0
            let v = tern_strtod(buf.baseAddress, &consumed)
            return consumed != n || v.isNaN ? nil : v
        }
        guard let v else { return nil }
        return (v, ex)
    }

    static func parseScoreRange(_ minArg: UnsafeRawBufferPointer, _ maxArg: UnsafeRawBufferPointer) -> ScoreRange? {
        guard let (mn, mnx) = parseScoreBound(minArg), let (mx, mxx) = parseScoreBound(maxArg) else { return nil }
        return ScoreRange(min: mn, max: mx, minEx: mnx, maxEx: mxx)
    }

    static func parseLexBound(_ b: UnsafeRawBufferPointer) -> LexRange.Bound? {
        guard b.count > 0 else { return nil }
        switch b[0] {
        case 43: return b.count == 1 ? .plusInf : nil
        case 45: return b.count == 1 ? .minusInf : nil
        case 40: return .exclusive(Array(b[1...]))
        case 91: return .inclusive(Array(b[1...]))
        default: return nil
        }
    }

    static func parseLexRange(_ minArg: UnsafeRawBufferPointer, _ maxArg: UnsafeRawBufferPointer) -> LexRange? {
        guard let mn = parseLexBound(minArg), let mx = parseLexBound(maxArg) else { return nil }
        return LexRange(min: mn, max: mx)
    }

    /// Rank interval [lo, hi) of the elements inside a score range.
    @inline(__always)
    static func ranks(_ z: ZSetObject, _ r: ScoreRange) -> (Int, Int) {
        let lo = z.countPrefix { _, s in r.below(s) }
        let hi = z.countPrefix { _, s in r.notAbove(s) }
        return (lo, max(lo, hi))
    }

    /// Rank interval of a lex range. Big sets assume equal scores (ordered members), as
    /// Redis's skiplist does; a listpack is walked exactly as Redis walks it (from the head,
    /// or from the tail when `reverse`), so mixed-score listpacks give Redis's answers too.
    static func ranks(_ z: ZSetObject, _ r: LexRange, reverse: Bool = false) -> (Int, Int) {
        if r.isEmpty { return (0, 0) }
        guard case .listpack(let l) = z.rep else {
            let lo = z.countPrefix { m, _ in r.below(m) }
            let hi = z.countPrefix { m, _ in r.notAbove(m) }
            return (lo, max(lo, hi))
        }
        var members: [[UInt8]] = []
        members.reserveCapacity(l.count)
        l.walk(from: 0, to: l.count, reverse: false) { m, _ in members.append(Array(m)); return true }
        let n = members.count
        if n == 0 { return (0, 0) }
        let gteMin = { (i: Int) in members[i].withUnsafeBytes { !r.below($0) } }
        let lteMax = { (i: Int) in members[i].withUnsafeBytes { r.notAbove($0) } }
        if !gteMin(n - 1) || !lteMax(0) { return (0, 0) }
        if !reverse {
            var i = 0
            while i < n && !gteMin(i) { i += 1 }
            if i == n || !lteMax(i) { return (0, 0) }
            var j = i
            while j < n && lteMax(j) { j += 1 }
            return (i, j)
        }
        var j = n - 1
        while j >= 0 && !lteMax(j) { j -= 1 }
        if j < 0 || !gteMin(j) { return (0, 0) }
        var i = j
        while i >= 0 && gteMin(i) { i -= 1 }
        return (i + 1, j + 1)
    }

    /// Redis's start/end rank normalisation; nil when the range is empty.
    static func normalizeRanks(_ start: Int, _ end: Int, _ len: Int) -> (Int, Int)? {
        var s = start, e = end
        if s < 0 { s = len &+ s }
        if e < 0 { e = len &+ e }
        if s < 0 { s = 0 }
        if s > e || s >= len { return nil }
        if e >= len { e = len - 1 }
        return (s, e)
    }

    // MARK: ZADD / ZINCRBY

    static func zadd(_ c: Client, _ a: Args) { zaddGeneric(c, a, incrCommand: false) }
    static func zincrby(_ c: Client, _ a: Args) { zaddGeneric(c, a, incrCommand: true) }

    static func zaddGeneric(_ c: Client, _ a: Args, incrCommand: Bool) {
        var f = ZSetObject.AddFlags()
        var ch = false
        var scoreIdx = 2
        if incrCommand {
            f.incr = true
        } else {
            while scoreIdx < a.count {
                if a.equals(scoreIdx, "nx") { f.nx = true }
                else if a.equals(scoreIdx, "xx") { f.xx = true }
                else if a.equals(scoreIdx, "ch") { ch = true }
                else if a.equals(scoreIdx, "incr") { f.incr = true }
                else if a.equals(scoreIdx, "gt") { f.gt = true }
                else if a.equals(scoreIdx, "lt") { f.lt = true }
                else { break }
                scoreIdx += 1
            }
        }
        let elementArgs = a.count - scoreIdx
        if elementArgs % 2 != 0 || elementArgs == 0 { c.syntaxError(); return }
        let elements = elementArgs / 2
        if f.nx && f.xx {
            c.error("ERR XX and NX options at the same time are not compatible")
            return
        }
        if (f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt) {
            c.error("ERR GT, LT, and/or NX options at the same time are not compatible")
            return
        }
        if f.incr && elements > 1 {
            c.error("ERR INCR option supports a single increment-element pair")
            return
        }
        // Every score is validated before anything changes (as Redis does); the common
        // single pair keeps its score in a local instead of allocating an array.
        var firstScore = 0.0
        var moreScores: [Double] = []
        for j in 0..<elements {
            guard let d = Numbers.parseDouble(a[scoreIdx + 2 * j]) else { c.notFloat(); return }
            if j == 0 { firstScore = d } else { moreScores.append(d) }
        }
        let key = a[1]
        var z: ZSetObject
        var e: Entry
        var created = false
        switch lookup(c, key, write: true) {
        case .wrongType: c.wrongType(); return
        case .found(let x, let y): e = x; z = y
        case .missing:
            if f.xx {
                if f.incr { c.out.null() } else { c.out.integer(0) }
                return
            }
            z = ZSetObject.create(c, sizeHint: 0, firstMemberLength: a.length(scoreIdx + 1))
            e = c.db.setObject(key, z.object, type: .zset, encoding: z.encoding, lru: c.engine.objectLRU)
            created = true
        }
        let cfg = c.engine.config
        var added = 0, updated = 0, processed = 0
        var last = 0.0
        var nanError = false
        for j in 0..<elements {
            let (res, s) = z.add(a[scoreIdx + 2 * j + 1], j == 0 ? firstScore : moreScores[j - 1], f,
                                 maxEntries: cfg.zsetMaxListpackEntries, maxValue: cfg.zsetMaxListpackValue)
            switch res {
            case .nan: nanError = true
            case .added: added += 1; processed += 1
            case .updated: updated += 1; processed += 1
            case .unchanged: processed += 1
            case .nop: break
            }
            if nanError { break }
            last = s
        }
        z.commit(c, e)
        if z.count == 0 && created {
            // Nothing landed in a key we just made (e.g. NaN): do not leave an empty zset.
            c.db.delete(key)
        }
        c.engine.dirty += added + updated
        if nanError {
            c.error("ERR resulting score is not a number (NaN)")
        } else if f.incr {
            if processed > 0 { replyDouble(c, last) } else { c.out.null() }
        } else {
            c.out.integer(ch ? added + updated : added)
        }
        if added > 0 || updated > 0 {
            c.keyModified(key)
            c.notify(.zset, f.incr ? "zincr" : "zadd", key)
            if created { c.engine.signalKeyReady(c.db, key) }
        }
    }

    // MARK: simple reads and removal

    static func zrem(_ c: Client, _ a: Args) {
        let key = a[1]
        let z: ZSetObject
        switch lookup(c, key, write: true) {
        case .missing: c.out.integer(0); return
        case .wrongType: c.wrongType(); return
        case .found(_, let y): z = y
        }
        var deleted = 0
        var keyRemoved = false
        for i in 2..<a.count where z.remove(a[i]) {
            deleted += 1
            if z.count == 0 {
                c.db.delete(key)
                keyRemoved = true
                break
            }
        }
        if deleted > 0 {
            c.notify(.zset, "zrem", key)
            if keyRemoved { c.notify(.generic, "del", key) }
            c.keyModified(key)
            c.engine.dirty += deleted
        }
        c.out.integer(deleted)
    }

    static func zcard(_ c: Client, _ a: Args) {
        guard let z = readZSet(c, a[1], missing: { $0.out.integer(0) }) else { return }
        c.out.integer(z.count)
    }

    static func zscore(_ c: Client, _ a: Args) {
        guard let z = readZSet(c, a[1], missing: { $0.out.null() }) else { return }
        if let s = z.score(a[2]) { replyDouble(c, s) } else { c.out.null() }
    }

    static func zmscore(_ c: Client, _ a: Args) {
        var z: ZSetObject? = nil
        switch lookup(c, a[1]) {
        case .wrongType: c.wrongType(); return
        case .missing: break
        case .found(_, let y): z = y
        }
        c.out.array(a.count - 2)
        for i in 2..<a.count {
            if let s = z?.score(a[i]) { replyDouble(c, s) } else { c.out.null() }
        }
    }

    static func zrank(_ c: Client, _ a: Args) { zrankGeneric(c, a, reverse: false) }
    static func zrevrank(_ c: Client, _ a: Args) { zrankGeneric(c, a, reverse: true) }

    static func zrankGeneric(_ c: Client, _ a: Args, reverse: Bool) {
        guard let z = readZSet(c, a[1], missing: { $0.out.null() }) else { return }
        guard let r = z.rank(a[2]) else { c.out.null(); return }
        c.out.integer(reverse ? z.count - 1 - r : r)
    }

    static func zcount(_ c: Client, _ a: Args) {
        guard let range = parseScoreRange(a[2], a[3]) else { c.error("ERR min or max is not a float"); return }
        guard let z = readZSet(c, a[1], missing: { $0.out.integer(0) }) else { return }
        let (lo, hi) = ranks(z, range)
        c.out.integer(hi - lo)
    }

    static func zlexcount(_ c: Client, _ a: Args) {
        guard let range = parseLexRange(a[2], a[3]) else { c.error("ERR min or max not valid string range item"); return }
        guard let z = readZSet(c, a[1], missing: { $0.out.integer(0) }) else { return }
        let (lo, hi) = ranks(z, range)
        c.out.integer(hi - lo)
    }

    // MARK: ZRANGE family

    enum RangeType { case auto, rank, score, lex }
    enum Direction { case auto, forward, reverse }

    static func zrange(_ c: Client, _ a: Args) { zrangeGeneric(c, a, start: 1, store: false, type: .auto, dir: .auto) }
    static func zrangestore(_ c: Client, _ a: Args) { zrangeGeneric(c, a, start: 2, store: true, type: .auto, dir: .auto) }
    static func zrangebyscore(_ c: Client, _ a: Args) { zrangeGeneric(c, a, start: 1, store: false, type: .score, dir: .forward) }
    static func zrevrangebyscore(_ c: Client, _ a: Args) { zrangeGeneric(c, a, start: 1, store: false, type: .score, dir: .reverse) }
    static func zrangebylex(_ c: Client, _ a: Args) { zrangeGeneric(c, a, start: 1, store: false, type: .lex, dir: .forward) }
    static func zrevrangebylex(_ c: Client, _ a: Args) { zrangeGeneric(c, a, start: 1, store: false, type: .lex, dir: .reverse) }
    static func zrevrange(_ c: Client, _ a: Args) { zrangeGeneric(c, a, start: 1, store: false, type: .rank, dir: .reverse) }

    static func zrangeGeneric(_ c: Client, _ a: Args, start: Int, store: Bool, type: RangeType, dir: Direction) {
        let key = a[start]
        var minIdx = start + 1, maxIdx = start + 2
        var type = type, dir = dir
        var withScores = false
        var offset = 0, limit = -1
        var limitGiven = false
        var j = start + 3
        while j < a.count {
            let left = a.count - j - 1
            if !store && a.equals(j, "withscores") {
                withScores = true
            } else if a.equals(j, "limit") && left >= 2 {
                guard let o = Numbers.parseInt(a[j + 1]), let l = Numbers.parseInt(a[j + 2]) else { c.notInteger(); return }
                offset = o; limit = l; limitGiven = true
                j += 2
            } else if dir == .auto && a.equals(j, "rev") {
                dir = .reverse
            } else if type == .auto && a.equals(j, "bylex") {
                type = .lex
            } else if type == .auto && a.equals(j, "byscore") {
                type = .score
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }
        if dir == .auto { dir = .forward }
        if type == .auto { type = .rank }
        if limitGiven && limit != -1 && type == .rank {
            c.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
            return
        }
        if withScores && type == .lex {
            c.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
            return
        }
        let reverse = dir == .reverse
        if reverse && type != .rank { swap(&minIdx, &maxIdx) }
        var rankStart = 0, rankEnd = 0
        var scoreRange: ScoreRange? = nil
        var lexRange: LexRange? = nil
        switch type {
        case .rank, .auto:
            guard let s = Numbers.parseInt(a[minIdx]), let e = Numbers.parseInt(a[maxIdx]) else { c.notInteger(); return }
            rankStart = s; rankEnd = e
        case .score:
            guard let r = parseScoreRange(a[minIdx], a[maxIdx]) else { c.error("ERR min or max is not a float"); return }
            scoreRange = r
        case .lex:
            guard let r = parseLexRange(a[minIdx], a[maxIdx]) else { c.error("ERR min or max not valid string range item"); return }
            lexRange = r
        }
        let z: ZSetObject
        switch lookup(c, key) {
        case .missing:
            if store { storeRange(c, a[1], []) } else { c.out.array(0) }
            return
        case .wrongType: c.wrongType(); return
        case .found(_, let y): z = y
        }
        // The ranks [from, to) to emit, walked backwards when reversed.
        let len = z.count
        var from = 0, to = 0
        switch type {
        case .rank, .auto:
            if let (s, e) = normalizeRanks(rankStart, rankEnd, len) {
                if reverse { from = len - 1 - e; to = len - s } else { from = s; to = e + 1 }
            }
        case .score, .lex:
            let (lo, hi) = type == .score ? ranks(z, scoreRange!) : ranks(z, lexRange!, reverse: reverse)
            var n = hi - lo
            if offset < 0 { n = 0 } else { n = max(0, n - offset) }
            if limit >= 0 { n = min(n, limit) }
            if n > 0 {
                if reverse { to = hi - offset; from = to - n } else { from = lo + offset; to = from + n }
            }
        }
        if store {
            var items: [([UInt8], Double)] = []
            items.reserveCapacity(max(0, to - from))
            z.walk(from: from, to: to, reverse: reverse) { m, s in items.append((Array(m), s)); return true }
            storeRange(c, a[1], items)
            return
        }
        replyElementsHeader(c, max(0, to - from), withScores: withScores)
        z.walk(from: from, to: to, reverse: reverse) { m, s in
            replyElement(c, m, s, withScores: withScores)
            return true
        }
    }

    /// ZRANGESTORE destination: listpack when the result fits the entry count, then
    /// ordinary inserts (which convert on long members).
    static func storeRange(_ c: Client, _ dst: UnsafeRawBufferPointer, _ items: [([UInt8], Double)]) {
        var z: ZSetObject? = nil
        if !items.isEmpty {
            let cfg = c.engine.config
            var built = ZSetObject.create(c, sizeHint: items.count, firstMemberLength: 0)
            for (m, s) in items {
                _ = m.withUnsafeBytes { built.add($0, s, ZSetObject.AddFlags(), maxEntries: cfg.zsetMaxListpackEntries, maxValue: cfg.zsetMaxListpackValue) }
            }
            built.trim()
            z = built
        }
        storeResult(c, dst, z, count: items.count, event: "zrangestore")
    }

    /// The STORE commands' last step: an empty result deletes dst (a "del" event if it
    /// existed), anything else replaces it like Redis's setKey (lookup for writing first:
    /// lazy expiry, LRU/LFU touch), then the size is replied.
    static func storeResult(_ c: Client, _ dst: UnsafeRawBufferPointer, _ z: ZSetObject?, count: Int, event: String) {
        guard let z else {
            if c.lookupWrite(dst) != nil {
                c.db.delete(dst)
                c.keyModified(dst)
                c.notify(.generic, "del", dst)
                c.engine.dirty += 1
            }
            c.out.integer(0)
            return
        }
        _ = c.lookupWrite(dst)
        c.db.setObject(dst, z.object, type: .zset, encoding: z.encoding, lru: c.engine.objectLRU)
        c.keyModified(dst)
        c.notify(.zset, event, dst)
        c.engine.signalKeyReady(c.db, dst)
        c.engine.dirty += 1
        c.out.integer(count)
    }

    // MARK: ZREMRANGEBY*

    static func zremrangebyrank(_ c: Client, _ a: Args) {
        guard let s = Numbers.parseInt(a[2]), let e = Numbers.parseInt(a[3]) else { c.notInteger(); return }
        zremrange(c, a, "zremrangebyrank") { z in
            guard let (from, to) = normalizeRanks(s, e, z.count) else { return (0, 0) }
            return (from, to + 1)
        }
    }

    static func zremrangebyscore(_ c: Client, _ a: Args) {
        guard let r = parseScoreRange(a[2], a[3]) else { c.error("ERR min or max is not a float"); return }
        zremrange(c, a, "zremrangebyscore") { ranks($0, r) }
    }

    static func zremrangebylex(_ c: Client, _ a: Args) {
        guard let r = parseLexRange(a[2], a[3]) else { c.error("ERR min or max not valid string range item"); return }
        zremrange(c, a, "zremrangebylex") { ranks($0, r) }
    }

    static func zremrange(_ c: Client, _ a: Args, _ event: String, _ range: (ZSetObject) -> (Int, Int)) {
        let key = a[1]
        let z: ZSetObject
        switch lookup(c, key, write: true) {
        case .missing: c.out.integer(0); return
        case .wrongType: c.wrongType(); return
        case .found(_, let y): z = y
        }
        let (from, to) = range(z)
        let n = to > from ? z.removeRange(from: from, to: to) : 0
        if n > 0 {
            c.notify(.zset, event, key)
            if z.count == 0 {
                c.db.delete(key)
                c.notify(.generic, "del", key)
            }
            c.keyModified(key)
            c.engine.dirty += n
        }
        c.out.integer(n)
    }

    // MARK: pops

    enum PopEnd { case min, max }

    /// Pops up to `count` members from one end of the zset at `key` (which must exist and
    /// be a zset) and returns them. Deletes the key when emptied; fires the events.
    static func popMembers(_ c: Client, _ key: UnsafeRawBufferPointer, _ z: ZSetObject, _ end: PopEnd, _ count: Int) -> [([UInt8], Double)] {
        let n = min(count, z.count)
        var out: [([UInt8], Double)] = []
        out.reserveCapacity(n)
        let len = z.count
        if end == .min {
            z.walk(from: 0, to: n, reverse: false) { m, s in out.append((Array(m), s)); return true }
            z.removeRange(from: 0, to: n)
        } else {
            z.walk(from: len - n, to: len, reverse: true) { m, s in out.append((Array(m), s)); return true }
            z.removeRange(from: len - n, to: len)
        }
        if n > 0 {
            c.notify(.zset, end == .min ? "zpopmin" : "zpopmax", key)
            if z.count == 0 {
                c.db.delete(key)
                c.notify(.generic, "del", key)
            }
            c.keyModified(key)
            c.engine.dirty += n
        }
        return out
    }

    static func zpopmin(_ c: Client, _ a: Args) { zpopGeneric(c, a, .min) }
    static func zpopmax(_ c: Client, _ a: Args) { zpopGeneric(c, a, .max) }

    static func zpopGeneric(_ c: Client, _ a: Args, _ end: PopEnd) {
        if a.count > 3 { c.syntaxError(); return }
        var count = 1
        let hasCount = a.count == 3
        if hasCount {
            guard let v = Numbers.parseInt(a[2]), v >= 0 else {
                c.error("ERR value is out of range, must be positive")
                return
            }
            count = v
        }
        let key = a[1]
        let z: ZSetObject
        switch lookup(c, key, write: true) {
        case .missing: c.out.array(0); return
        case .wrongType: c.wrongType(); return
        case .found(_, let y): z = y
        }
        if count == 0 { c.out.array(0); return }
        let items = popMembers(c, key, z, end, count)
        if hasCount && c.resp >= 3 {
            c.out.array(items.count)
            for (m, s) in items { c.out.array(2); c.out.bulk(m); replyDouble(c, s) }
        } else {
            c.out.array(2 * items.count)
            for (m, s) in items { c.out.bulk(m); replyDouble(c, s) }
        }
    }

    /// ZMPOP/BZMPOP argument tail: numkeys key... MIN|MAX [COUNT n], starting at `at`.
    /// Returns (key indexes, end, count) or nil after replying an error.
    static func parseMPop(_ c: Client, _ a: Args, at: Int) -> (Range<Int>, PopEnd, Int)? {
        guard let numkeys = Numbers.parseInt(a[at]), numkeys > 0 else {
            c.error("ERR numkeys should be greater than 0")
            return nil
        }
        if numkeys > a.count - at - 1 || at + 1 + numkeys >= a.count {
            c.syntaxError()
            return nil
        }
        let whereIdx = at + 1 + numkeys
        let end: PopEnd
        if a.equals(whereIdx, "min") { end = .min } else if a.equals(whereIdx, "max") { end = .max } else {
            c.syntaxError()
            return nil
        }
        var count = 1
        var countGiven = false
        var j = whereIdx + 1
        while j < a.count {
            // COUNT may be given once: a second one is a syntax error, as in Redis.
            if !countGiven && a.equals(j, "count") && j + 1 < a.count {
                countGiven = true
                guard let v = Numbers.parseInt(a[j + 1]), v > 0 else {
                    c.error("ERR count should be greater than 0")
                    return nil
                }
                count = v
                j += 2
            } else {
                c.syntaxError()
                return nil
            }
        }
        return ((at + 1)..<whereIdx, end, count)
    }

    /// [key, [[member, score], ...]] (ZMPOP/BZMPOP).
    static func replyMPop(_ c: Client, _ key: UnsafeRawBufferPointer, _ items: [([UInt8], Double)]) {
        c.out.array(2)
        c.out.bulk(key)
        c.out.array(items.count)
        for (m, s) in items { c.out.array(2); c.out.bulk(m); replyDouble(c, s) }
    }

    static func popPropagation(_ key: UnsafeRawBufferPointer, _ end: PopEnd, _ n: Int) -> [OwnedArgs] {
        [OwnedArgs([Array((end == .min ? "ZPOPMIN" : "ZPOPMAX").utf8), Array(key), Numbers.text(n)])]
    }

    /// The first non-empty zset among keys, or nil; replies WRONGTYPE (returning .some(nil)).
    static func firstNonEmpty(_ c: Client, _ a: Args, _ keys: Range<Int>) -> (Int, ZSetObject)?? {
        for i in keys {
            switch lookup(c, a[i], write: true) {
            case .missing: continue
            case .wrongType: c.wrongType(); return .some(nil)
            case .found(_, let z): if z.count > 0 { return (i, z) }
            }
        }
        return nil
    }

    static func zmpop(_ c: Client, _ a: Args) {
        guard let (keys, end, count) = parseMPop(c, a, at: 1) else { return }
        guard let found = firstNonEmpty(c, a, keys) else { c.out.nullArray(); return }
        guard let (i, z) = found else { return }
        let items = popMembers(c, a[i], z, end, count)
        replyMPop(c, a[i], items)
        CollectionSupport.propagate(c) { popPropagation(a[i], end, items.count) }
    }

    /// getTimeoutFromObjectOrReply (seconds as a double); nil after replying the error.
    static func parseTimeout(_ c: Client, _ b: UnsafeRawBufferPointer) -> Double? {
        guard let t = Numbers.parseDouble(b), t.isFinite else {
            c.error("ERR timeout is not a float or out of range")
            return nil
        }
        if t < 0 { c.error("ERR timeout is negative"); return nil }
        if t * 1000 > Double(Int64.max / 2) {
            c.error("ERR timeout is out of range")
            return nil
        }
        return t
    }

    static func bzpopmin(_ c: Client, _ a: Args) { bzpopGeneric(c, a, .min) }
    static func bzpopmax(_ c: Client, _ a: Args) { bzpopGeneric(c, a, .max) }

    static func bzpopGeneric(_ c: Client, _ a: Args, _ end: PopEnd) {
        guard let deadline = Blocking.parseTimeout(c, a[a.count - 1]) else { return }
        let keys = 1..<(a.count - 1)
        if let found = firstNonEmpty(c, a, keys) {
            guard let (i, _) = found else { return }
            _ = serveBlockedPop(c, a[i], end: end, count: -1)
            return
        }
        if !c.mayBlock { c.out.nullArray(); return }
        c.blockOnKeys(keys.map { a.bytes($0) }, deadline: deadline,
                      onTimeout: { c in c.out.nullArray() },
                      serve: { c, key in serveBlockedPop(c, key, end: end, count: -1) })
    }

    static func bzmpop(_ c: Client, _ a: Args) {
        // Redis parses numkeys, MIN|MAX and COUNT before the timeout.
        guard let (keys, end, count) = parseMPop(c, a, at: 2) else { return }
        guard let deadline = Blocking.parseTimeout(c, a[1]) else { return }
        if let found = firstNonEmpty(c, a, keys) {
            guard let (i, _) = found else { return }
            _ = serveBlockedPop(c, a[i], end: end, count: count)
            return
        }
        if !c.mayBlock { c.out.nullArray(); return }
        c.blockOnKeys(keys.map { a.bytes($0) }, deadline: deadline,
                      onTimeout: { c in c.out.nullArray() },
                      serve: { c, key in serveBlockedPop(c, key, end: end, count: count) })
    }

    /// The pop a blocked BZPOPMIN/BZPOPMAX (count -1: reply [key, member, score]) or BZMPOP
    /// (count >= 1: reply [key, [[member, score]...]]) performs once `key` holds a non-empty
    /// zset. Returns false (no reply written) when the key is missing, empty or not a zset.
    /// Propagates as ZPOPMIN/ZPOPMAX key [count], as Redis does.
    static func serveBlockedPop(_ c: Client, _ key: UnsafeRawBufferPointer, end: PopEnd, count: Int) -> Bool {
        guard case .found(_, let z) = lookup(c, key, write: true), z.count > 0 else { return false }
        let items = popMembers(c, key, z, end, max(count, 1))
        if count < 0 {
            c.out.array(3)
            c.out.bulk(key)
            c.out.bulk(items[0].0)
            replyDouble(c, items[0].1)
            CollectionSupport.propagate(c) { [OwnedArgs([Array((end == .min ? "ZPOPMIN" : "ZPOPMAX").utf8), Array(key)])] }
        } else {
            replyMPop(c, key, items)
            CollectionSupport.propagate(c) { popPropagation(key, end, items.count) }
        }
        return true
    }

    // MARK: ZRANDMEMBER

    static func zrandmember(_ c: Client, _ a: Args) {
        if a.count >= 3 {
            guard let l = Numbers.parseInt(a[2]) else { c.notInteger(); return }
            if l == Int.min {
                c.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
                return
            }
            var withScores = false
            if a.count > 4 || (a.count == 4 && !a.equals(3, "withscores")) {
                c.syntaxError()
                return
            } else if a.count == 4 {
                withScores = true
                if l < -(Int.max / 2) || l > Int.max / 2 {
                    c.error("ERR value is out of range")
                    return
                }
            }
            zrandmemberWithCount(c, a, l, withScores)
            return
        }
        guard let z = readZSet(c, a[1], missing: { $0.out.null() }) else { return }
        let r = CollectionSupport.random(below: z.count)
        z.walk(from: r, to: r + 1, reverse: false) { m, _ in c.out.bulk(m); return false }
    }

    static func zrandmemberWithCount(_ c: Client, _ a: Args, _ count: Int, _ withScores: Bool) {
        guard let z = readZSet(c, a[1], missing: { $0.out.array(0) }) else { return }
        if count == 0 { c.out.array(0); return }
        let size = z.count
        var g = CollectionSupport.FastRandom()
        if count < 0 {
            guard count.magnitude <= UInt(CollectionSupport.maxRandomCount) else { c.error("ERR value is out of range"); return }
            let n = Int(count.magnitude)
            replyElementsHeader(c, n, withScores: withScores)
            switch z.rep {
            case .listpack(let l):
                let offs = l.memberOffsets()
                for _ in 0..<n { l.withMember(at: offs[Int(g.next() % UInt64(size))]) { replyElement(c, $0, $1, withScores: withScores) } }
            case .tree(let t):
                for _ in 0..<n {
                    let b = t.table.block(at: t.table.randomSlot(using: &g))
                    replyElement(c, TreeZSet.member(of: b), TreeZSet.score(of: b), withScores: withScores)
                }
            }
            return
        }
        if count >= size {
            // The whole set, highest first (Redis walks it from the tail).
            replyElementsHeader(c, size, withScores: withScores)
            z.walk(from: 0, to: size, reverse: true) { m, s in replyElement(c, m, s, withScores: withScores); return true }
            return
        }
        // Distinct picks, in ascending order (selection sampling over ranks).
        replyElementsHeader(c, count, withScores: withScores)
        var need = count
        var i = 0
        z.walk(from: 0, to: size, reverse: false) { m, s in
            if Int(g.next() % UInt64(size - i)) < need {
                replyElement(c, m, s, withScores: withScores)
                need -= 1
            }
            i += 1
            return need > 0
        }
    }

    // MARK: ZUNION / ZINTER / ZDIFF

    enum SetOp { case union, inter, diff }
    enum Aggregate { case sum, min, max }

    /// One input of the algebra commands: a zset, a plain set (score 1) or a missing key.
    enum Source {
        case zset(ZSetObject)
        case set(SetObject)
        case missing

        var count: Int {
            switch self { case .zset(let z): return z.count; case .set(let s): return s.count; case .missing: return 0 }
        }

        func score(_ m: UnsafeRawBufferPointer) -> Double? {
            switch self {
            case .zset(let z): return z.score(m)
            case .set(let s): return s.contains(m) ? 1.0 : nil
            case .missing: return nil
            }
        }

        func forEach(_ body: (UnsafeRawBufferPointer, Double) -> Void) {
            switch self {
            case .zset(let z): z.forEach(body)
            case .set(let s): s.forEach { m in m.withBytes { body($0, 1.0) } }
            case .missing: break
            }
        }
    }

    struct AlgebraArgs {
        var sources: [Source] = []
        var weights: [Double] = []
        var aggregate = Aggregate.sum
        var withScores = false
        var limit = 0
    }

    /// Parses numkeys, keys and options (zunionInterDiffGenericCommand); replies errors.
    static func parseAlgebra(_ c: Client, _ a: Args, numkeysIndex: Int, op: SetOp, store: Bool, cardinalityOnly: Bool) -> AlgebraArgs? {
        guard let setnum = Numbers.parseInt(a[numkeysIndex]) else { c.notInteger(); return nil }
        if setnum < 1 {
            c.error("ERR at least 1 input key is needed for '\(c.currentCommand?.fullName ?? "zunion")' command")
            return nil
        }
        if setnum > a.count - (numkeysIndex + 1) {
            c.syntaxError()
            return nil
        }
        var r = AlgebraArgs()
        r.sources.reserveCapacity(setnum)
        var j = numkeysIndex + 1
        for _ in 0..<setnum {
            let e = c.lookupRead(a[j])  // Redis 7.0 reads the inputs with lookupKeyRead, STORE or not
            if let e = e {
                if e.type == .zset, let z = ZSetObject(e) { r.sources.append(.zset(z)) }
                else if e.type == .set, let s = SetObject(e) { r.sources.append(.set(s)) }
                else { c.wrongType(); return nil }
            } else {
                r.sources.append(.missing)
            }
            j += 1
        }
        r.weights = [Double](repeating: 1, count: setnum)
        var remaining = a.count - j
        while remaining > 0 {
            if op != .diff && !cardinalityOnly && remaining >= setnum + 1 && a.equals(j, "weights") {
                j += 1; remaining -= 1
                for i in 0..<setnum {
                    guard let w = Numbers.parseDouble(a[j]) else { c.error("ERR weight value is not a float"); return nil }
                    r.weights[i] = w
                    j += 1; remaining -= 1
                }
            } else if op != .diff && !cardinalityOnly && remaining >= 2 && a.equals(j, "aggregate") {
                j += 1; remaining -= 1
                if a.equals(j, "sum") { r.aggregate = .sum }
                else if a.equals(j, "min") { r.aggregate = .min }
                else if a.equals(j, "max") { r.aggregate = .max }
                else { c.syntaxError(); return nil }
                j += 1; remaining -= 1
            } else if remaining >= 1 && !store && !cardinalityOnly && a.equals(j, "withscores") {
                j += 1; remaining -= 1
                r.withScores = true
            } else if cardinalityOnly && remaining >= 2 && a.equals(j, "limit") {
                j += 1; remaining -= 1
                guard let l = Numbers.parseInt(a[j]), l >= 0 else { c.error("ERR LIMIT can't be negative"); return nil }
                r.limit = l
                j += 1; remaining -= 1
            } else {
                c.syntaxError()
                return nil
            }
        }
        return r
    }

    @inline(__always) static func weighted(_ s: Double, _ w: Double) -> Double {
        let v = s * w
        return v.isNaN ? 0 : v
    }

    @inline(__always) static func aggregate(_ acc: inout Double, _ v: Double, _ how: Aggregate) {
        switch how {
        case .sum:
            acc += v
            if acc.isNaN { acc = 0 }
        case .min: if v < acc { acc = v }
        case .max: if v > acc { acc = v }
        }
    }

    /// Computes the result sorted by (score, member).
    static func computeAlgebra(_ p: AlgebraArgs, _ op: SetOp) -> [([UInt8], Double)] {
        var result: [([UInt8], Double)] = []
        let idx = Array(p.sources.indices)
        switch op {
        case .inter:
            if p.sources.contains(where: { $0.count == 0 }) { return [] }
            let order = idx.sorted { (p.sources[$0].count, $0) < (p.sources[$1].count, $1) }
            let first = order[0]
            p.sources[first].forEach { m, s in
                var acc = weighted(s, p.weights[first])
                for k in order.dropFirst() {
                    guard let v = p.sources[k].score(m) else { return }
                    // Only the first set's product is zeroed when NaN (inf x 0); later ones
                    // reach the aggregate as NaN, so SUM gives 0 and MIN/MAX ignore them (Redis).
                    aggregate(&acc, v * p.weights[k], p.aggregate)
                }
                result.append((Array(m), acc))
            }
        case .union:
            let order = idx.sorted { (p.sources[$0].count, $0) < (p.sources[$1].count, $1) }
            var map: [[UInt8]: Double] = [:]
            map.reserveCapacity(p.sources.map { $0.count }.max() ?? 0)
            for k in order {
                let w = p.weights[k]
                p.sources[k].forEach { m, s in
                    let v = weighted(s, w)
                    let key = Array(m)
                    if let old = map[key] {
                        var acc = old
                        aggregate(&acc, v, p.aggregate)
                        map[key] = acc
                    } else {
                        map[key] = v
                    }
                }
            }
            result = map.map { ($0.key, $0.value) }
        case .diff:
            let first = p.sources[0]
            let others = p.sources.dropFirst()
            first.forEach { m, s in
                for o in others where o.score(m) != nil { return }
                result.append((Array(m), s))
            }
        }
        result.sort { x, y in
            if x.1 != y.1 { return x.1 < y.1 }
            return x.0.lexicographicallyPrecedes(y.0)
        }
        return result
    }

    static func algebra(_ c: Client, _ a: Args, _ op: SetOp, store: Bool) {
        let numkeysIndex = store ? 2 : 1
        guard let p = parseAlgebra(c, a, numkeysIndex: numkeysIndex, op: op, store: store, cardinalityOnly: false) else { return }
        let result = computeAlgebra(p, op)
        if !store {
            replyElementsHeader(c, result.count, withScores: p.withScores)
            for (m, s) in result { m.withUnsafeBytes { replyElement(c, $0, s, withScores: p.withScores) } }
            return
        }
        let event = op == .union ? "zunionstore" : (op == .inter ? "zinterstore" : "zdiffstore")
        if result.isEmpty {
            storeResult(c, a[1], nil, count: 0, event: event)
            return
        }
        let cfg = c.engine.config
        let maxLen = result.reduce(0) { max($0, $1.0.count) }
        let z: ZSetObject
        if result.count <= cfg.zsetMaxListpackEntries && maxLen <= cfg.zsetMaxListpackValue {
            let l = ListpackZSet()
            for (m, s) in result { m.withUnsafeBytes { l.appendSorted($0, s) } }
            l.trim()
            z = ZSetObject(.listpack(l))
        } else {
            let t = TreeZSet(capacity: HashSlotTable.capacityFor(result.count))
            for (m, s) in result { m.withUnsafeBytes { t.insertNew($0, s) } }
            z = ZSetObject(.tree(t))
        }
        storeResult(c, a[1], z, count: result.count, event: event)
    }

    static func zunion(_ c: Client, _ a: Args) { algebra(c, a, .union, store: false) }
    static func zinter(_ c: Client, _ a: Args) { algebra(c, a, .inter, store: false) }
    static func zdiff(_ c: Client, _ a: Args) { algebra(c, a, .diff, store: false) }
    static func zunionstore(_ c: Client, _ a: Args) { algebra(c, a, .union, store: true) }
    static func zinterstore(_ c: Client, _ a: Args) { algebra(c, a, .inter, store: true) }
    static func zdiffstore(_ c: Client, _ a: Args) { algebra(c, a, .diff, store: true) }

    static func zintercard(_ c: Client, _ a: Args) {
        guard let p = parseAlgebra(c, a, numkeysIndex: 1, op: .inter, store: false, cardinalityOnly: true) else { return }
        if p.sources.contains(where: { $0.count == 0 }) { c.out.integer(0); return }
        let order = p.sources.indices.sorted { (p.sources[$0].count, $0) < (p.sources[$1].count, $1) }
        var n = 0
        let limit = p.limit == 0 ? Int.max : p.limit
        switch p.sources[order[0]] {
        case .zset(let z):
            z.walk(from: 0, to: z.count, reverse: false) { m, _ in
                for k in order.dropFirst() where p.sources[k].score(m) == nil { return true }
                n += 1
                return n < limit
            }
        case .set(let s):
            var done = false
            s.forEach { m in
                if done { return }
                let ok = m.withBytes { b in order.dropFirst().allSatisfy { p.sources[$0].score(b) != nil } }
                if ok { n += 1; if n >= limit { done = true } }
            }
        case .missing: break
        }
        c.out.integer(n)
    }

    // MARK: ZSCAN

    static func zscan(_ c: Client, _ a: Args) {
        guard let cursor = CollectionSupport.parseCursor(a[2]) else { c.error("ERR invalid cursor"); return }
        guard let z = readZSet(c, a[1], missing: { c in CollectionSupport.replyScan(c, cursor: 0) { 0 } }) else { return }
        guard let opts = CollectionSupport.parseScanOptions(c, a, from: 3) else { return }
        switch z.rep {
        case .listpack(let l):
            CollectionSupport.replyScan(c, cursor: 0) {
                var n = 0
                l.forEachWithScoreText { m, text, _ in
                    if let p = opts.pattern, !Glob.match(p, m) { return }
                    c.out.bulk(m); c.out.bulk(text); n += 2
                }
                return n
            }
        case .tree(let t):
            var items: [(UnsafeRawBufferPointer, Double)] = []
            var seen = 0
            var cur = cursor
            var iterations = opts.count > Int.max / 10 ? Int.max : opts.count * 10
            repeat {
                cur = t.scan(cur) { m, s in
                    seen += 2
                    if let p = opts.pattern, !Glob.match(p, m) { return }
                    items.append((m, s))
                }
                iterations -= 1
            } while cur != 0 && iterations > 0 && seen < opts.count
            CollectionSupport.replyScan(c, cursor: cur) {
                for (m, s) in items {
                    c.out.bulk(m)
                    var buf: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
                    withUnsafeMutableBytes(of: &buf) { raw in
                        let n = ListpackCodec.formatDouble(s, raw.baseAddress!.assumingMemoryBound(to: CChar.self), 48)
                        c.out.bulk(UnsafeRawBufferPointer(start: raw.baseAddress, count: n))
                    }
                }
                return items.count * 2
            }
        }
    }
}
