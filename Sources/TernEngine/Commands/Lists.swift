import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerListCommands() {
        commands.register("lpush", ListCommands.lpush)
        commands.register("rpush", ListCommands.rpush)
        commands.register("lpushx", ListCommands.lpushx)
        commands.register("rpushx", ListCommands.rpushx)
        commands.register("lpop", ListCommands.lpop)
        commands.register("rpop", ListCommands.rpop)
        commands.register("llen", ListCommands.llen)
        commands.register("lrange", ListCommands.lrange)
        commands.register("lindex", ListCommands.lindex)
        commands.register("lset", ListCommands.lset)
        commands.register("linsert", ListCommands.linsert)
        commands.register("lrem", ListCommands.lrem)
        commands.register("ltrim", ListCommands.ltrim)
        commands.register("lpos", ListCommands.lpos)
        commands.register("lmove", ListCommands.lmove)
        commands.register("rpoplpush", ListCommands.rpoplpush)
        // Key positions come from the catalog key specs (keynum), which match Redis's GETKEYS.
        commands.register("lmpop", ListCommands.lmpop)
        commands.register("blpop", ListCommands.blpop)
        commands.register("brpop", ListCommands.brpop)
        commands.register("blmove", ListCommands.blmove)
        commands.register("brpoplpush", ListCommands.brpoplpush)
        commands.register("blmpop", ListCommands.blmpop)
        registerBlockingCommands()
    }
}

/// List commands (t_list.c) over `Quicklist` values.
public enum ListCommands {
    // MARK: helpers

    /// The list stored in `e`, or nil when it holds another type.
    @inline(__always) public static func list(_ e: Entry) -> Quicklist? {
        guard e.type == .list else { return nil }
        return e.object as? Quicklist
    }

    /// A new empty list with the configured node fill and compression depth.
    public static func newList(_ engine: Engine) -> Quicklist {
        Quicklist(fill: engine.config.listMaxListpackSize, compressDepth: engine.config.listCompressDepth)
    }

    /// Creates `key` holding `ql` (Redis's dbAdd: "new" event, ready signal for blockers).
    static func addList(_ c: Client, _ key: UnsafeRawBufferPointer, _ ql: Quicklist) {
        c.db.setObject(key, ql, type: .list, encoding: .quicklist, lru: c.engine.objectLRU)
        c.engine.signalKeyReady(c.db, key)
    }

    @inline(__always) static func reply(_ c: Client, _ v: QuicklistValue) {
        if let p = v.ptr {
            c.out.bulk(UnsafeRawBufferPointer(start: p, count: v.len))
        } else {
            v.withBytes { c.out.bulk($0) }
        }
    }

    @inline(__always) static func parseIndex(_ c: Client, _ b: UnsafeRawBufferPointer) -> Int? {
        guard let v = Numbers.parseInt(b) else { c.notInteger(); return nil }
        return v
    }

    /// LEFT / RIGHT (getListPositionFromObjectOrReply): true for LEFT (head).
    static func parseSide(_ c: Client, _ a: Args, _ i: Int) -> Bool? {
        if a.equals(i, "left") { return true }
        if a.equals(i, "right") { return false }
        c.syntaxError()
        return nil
    }

    /// Redis's shared "left"/"right" objects (used when a served BLMOVE propagates as LMOVE).
    static func sideName(_ head: Bool) -> [UInt8] { Array((head ? "left" : "right").utf8) }

    /// After popping `n` elements: event, delete when empty, WATCH signal, dirty.
    static func elementsRemoved(_ c: Client, _ key: UnsafeRawBufferPointer, head: Bool, _ ql: Quicklist, _ n: Int) {
        c.notify(.list, head ? "lpop" : "rpop", key)
        if ql.count == 0 {
            c.db.delete(key)
            c.notify(.generic, "del", key)
        }
        c.keyModified(key)
        c.engine.dirty += n
    }

    /// Replies with elements [start, start+n) head to tail, or the n elements ending at
    /// `start` walking toward the head when `reverse`. Bulk replies are encoded into a
    /// scratch batch and appended to the reply buffer in large chunks.
    static func replyRange(_ c: Client, _ ql: Quicklist, start: Int, count n: Int, reverse: Bool) {
        c.out.array(n)
        var left = n
        if left == 0 { return }
        var batch = BulkBatch(c)
        ql.forEach(from: start, reverse: reverse) { v in
            batch.add(v)
            left -= 1
            return left > 0
        }
        batch.flush()
    }

    // MARK: push

    static func lpush(_ c: Client, _ a: Args) { push(c, a, head: true, onlyExisting: false) }
    static func rpush(_ c: Client, _ a: Args) { push(c, a, head: false, onlyExisting: false) }
    static func lpushx(_ c: Client, _ a: Args) { push(c, a, head: true, onlyExisting: true) }
    static func rpushx(_ c: Client, _ a: Args) { push(c, a, head: false, onlyExisting: true) }

    static func push(_ c: Client, _ a: Args, head: Bool, onlyExisting: Bool) {
        let key = a[1]
        let ql: Quicklist
        if let e = c.lookupWrite(key) {
            guard let q = list(e) else { c.wrongType(); return }
            ql = q
        } else {
            if onlyExisting { c.out.integer(0); return }
            ql = newList(c.engine)
            addList(c, key, ql)
        }
        for j in 2..<a.count {
            ql.push(a[j], head: head)
        }
        c.engine.dirty += a.count - 2
        c.out.integer(ql.count)
        c.keyModified(key)
        c.notify(.list, head ? "lpush" : "rpush", key)
    }

    // MARK: pop

    static func lpop(_ c: Client, _ a: Args) { pop(c, a, head: true) }
    static func rpop(_ c: Client, _ a: Args) { pop(c, a, head: false) }

    static func pop(_ c: Client, _ a: Args, head: Bool) {
        if a.count > 3 { c.wrongArity(head ? "lpop" : "rpop"); return }
        let hasCount = a.count == 3
        var n = 0
        if hasCount {
            guard let v = Numbers.parseInt(a[2]), v >= 0 else {
                c.error("ERR value is out of range, must be positive")
                return
            }
            n = v
        }
        let key = a[1]
        guard let e = c.lookupWrite(key) else {
            if hasCount { c.out.nullArray() } else { c.out.null() }
            return
        }
        guard let ql = list(e) else { c.wrongType(); return }
        if hasCount && n == 0 { c.out.array(0); return }
        if !hasCount {
            ql.pop(head: head) { reply(c, $0) }
            elementsRemoved(c, key, head: head, ql, 1)
        } else {
            let k = min(n, ql.count)
            replyRange(c, ql, start: head ? 0 : ql.count - 1, count: k, reverse: !head)
            ql.deleteRange(start: head ? 0 : ql.count - k, count: k)
            elementsRemoved(c, key, head: head, ql, k)
        }
    }

    // MARK: reads

    static func llen(_ c: Client, _ a: Args) {
        guard let e = c.lookupRead(a[1]) else { c.out.integer(0); return }
        guard let ql = list(e) else { c.wrongType(); return }
        c.out.integer(ql.count)
    }

    static func lindex(_ c: Client, _ a: Args) {
        guard let e = c.lookupRead(a[1]) else { c.out.null(); return }
        guard let ql = list(e) else { c.wrongType(); return }
        guard let idx = parseIndex(c, a[2]) else { return }
        if ql.withElement(at: idx, { reply(c, $0) }) == nil { c.out.null() }
    }

    static func lrange(_ c: Client, _ a: Args) {
        guard let start = parseIndex(c, a[2]), let end = parseIndex(c, a[3]) else { return }
        guard let e = c.lookupRead(a[1]) else { c.out.array(0); return }
        guard let ql = list(e) else { c.wrongType(); return }
        guard let (s, n) = clampRange(start, end, ql.count) else { c.out.array(0); return }
        replyRange(c, ql, start: s, count: n, reverse: false)
    }

    /// Redis's range normalisation: nil when empty, else (start, length).
    static func clampRange(_ start: Int, _ end: Int, _ llen: Int) -> (Int, Int)? {
        var s = start, e = end
        if s < 0 { s = llen &+ s }
        if e < 0 { e = llen &+ e }
        if s < 0 { s = 0 }
        if s > e || s >= llen { return nil }
        if e >= llen { e = llen - 1 }
        return (s, e - s + 1)
    }

    // MARK: edits

    static func lset(_ c: Client, _ a: Args) {
        let key = a[1]
        guard let e = c.lookupWrite(key) else { c.noSuchKey(); return }
        guard let ql = list(e) else { c.wrongType(); return }
        guard let idx = parseIndex(c, a[2]) else { return }
        if !ql.replace(at: idx, with: a[3]) { c.outOfRange(); return }
        c.out.ok()
        c.keyModified(key)
        c.notify(.list, "lset", key)
        c.engine.dirty += 1
    }

    static func linsert(_ c: Client, _ a: Args) {
        let after: Bool
        if a.equals(2, "after") { after = true } else if a.equals(2, "before") { after = false } else {
            c.syntaxError()
            return
        }
        let key = a[1]
        guard let e = c.lookupWrite(key) else { c.out.integer(0); return }
        guard let ql = list(e) else { c.wrongType(); return }
        let pivot = a[3]
        let pivotInt = QuicklistCodec.parseStrictInt(pivot)
        let inserted = ql.insert(a[4], after: after) { QuicklistCodec.equals($0, pivot, argInt: pivotInt) }
        if !inserted { c.out.integer(-1); return }
        c.keyModified(key)
        c.notify(.list, "linsert", key)
        c.engine.dirty += 1
        c.out.integer(ql.count)
    }

    static func lrem(_ c: Client, _ a: Args) {
        guard let n = parseIndex(c, a[2]) else { return }
        let key = a[1]
        guard let e = c.lookupWrite(key) else { c.out.integer(0); return }
        guard let ql = list(e) else { c.wrongType(); return }
        let target = a[3]
        let targetInt = QuicklistCodec.parseStrictInt(target)
        // -LONG_MIN stays negative in C, and then never equals the removed count: remove all.
        let limit = n == Int.min ? 0 : abs(n)
        let removed = ql.removeMatching(limit: limit, fromTail: n < 0) {
            QuicklistCodec.equals($0, target, argInt: targetInt)
        }
        c.engine.dirty += removed
        if removed > 0 { c.notify(.list, "lrem", key) }
        if ql.count == 0 {
            c.db.delete(key)
            c.notify(.generic, "del", key)
        }
        c.out.integer(removed)
        if removed > 0 { c.keyModified(key) }
    }

    static func ltrim(_ c: Client, _ a: Args) {
        guard let start = parseIndex(c, a[2]), let end = parseIndex(c, a[3]) else { return }
        let key = a[1]
        guard let e = c.lookupWrite(key) else { c.out.ok(); return }
        guard let ql = list(e) else { c.wrongType(); return }
        let llen = ql.count
        let ltrim: Int, rtrim: Int
        if let (s, n) = clampRange(start, end, llen) {
            ltrim = s
            rtrim = llen - s - n
        } else {
            ltrim = llen
            rtrim = 0
        }
        ql.deleteRange(start: 0, count: ltrim)
        if rtrim > 0 { ql.deleteRange(start: ql.count - rtrim, count: rtrim) }
        c.notify(.list, "ltrim", key)
        if ql.count == 0 {
            c.db.delete(key)
            c.notify(.generic, "del", key)
        }
        c.keyModified(key)
        c.engine.dirty += ltrim + rtrim
        c.out.ok()
    }

    /// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
    static func lpos(_ c: Client, _ a: Args) {
        var rank = 1, count = -1, maxlen = 0
        var j = 3
        while j < a.count {
            let more = a.count - 1 - j
            if a.equals(j, "rank") && more > 0 {
                j += 1
                guard let v = Numbers.parseInt(a[j]) else { c.notInteger(); return }
                if v == 0 {
                    c.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                    return
                }
                rank = v
            } else if a.equals(j, "count") && more > 0 {
                j += 1
                guard let v = Numbers.parseInt(a[j]), v >= 0 else { c.error("ERR COUNT can't be negative"); return }
                count = v
            } else if a.equals(j, "maxlen") && more > 0 {
                j += 1
                guard let v = Numbers.parseInt(a[j]), v >= 0 else { c.error("ERR MAXLEN can't be negative"); return }
                maxlen = v
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }
        let fromTail = rank < 0
        // As in C, -LONG_MIN stays LONG_MIN: every match then qualifies.
        if fromTail { rank = 0 &- rank }
        guard let e = c.lookupRead(a[1]) else {
            if count != -1 { c.out.array(0) } else { c.out.null() }
            return
        }
        guard let ql = list(e) else { c.wrongType(); return }
        let ele = a[2]
        let eleInt = QuicklistCodec.parseStrictInt(ele)
        let llen = ql.count
        var index = 0, matches = 0, found = -1
        var results: [Int] = []
        if llen > 0 {
            ql.forEach(from: fromTail ? llen - 1 : 0, reverse: fromTail) { v in
                if maxlen != 0 && index >= maxlen { return false }
                if QuicklistCodec.equals(v, ele, argInt: eleInt) {
                    matches += 1
                    if matches >= rank {
                        let pos = fromTail ? llen - index - 1 : index
                        if count == -1 { found = pos; return false }
                        results.append(pos)
                        if count != 0 && matches &- rank &+ 1 >= count { return false }
                    }
                }
                index += 1
                return true
            }
        }
        if count != -1 {
            c.out.array(results.count)
            for r in results { c.out.integer(r) }
        } else if found >= 0 {
            c.out.integer(found)
        } else {
            c.out.null()
        }
    }

    // MARK: move

    static func lmove(_ c: Client, _ a: Args) {
        guard let from = parseSide(c, a, 3), let to = parseSide(c, a, 4) else { return }
        move(c, a[1], a[2], fromHead: from, toHead: to)
    }

    static func rpoplpush(_ c: Client, _ a: Args) {
        move(c, a[1], a[2], fromHead: false, toHead: true)
    }

    /// LMOVE core (lmoveGenericCommand). Returns true when an element moved.
    @discardableResult
    static func move(_ c: Client, _ src: UnsafeRawBufferPointer, _ dst: UnsafeRawBufferPointer,
                     fromHead: Bool, toHead: Bool) -> Bool {
        guard let se = c.lookupWrite(src) else { c.out.null(); return false }
        guard let sql = list(se) else { c.wrongType(); return false }
        if sql.count == 0 { c.out.null(); return false }
        var dql: Quicklist? = nil
        if let de = c.lookupWrite(dst) {
            guard let q = list(de) else { c.wrongType(); return false }
            dql = q
        }
        let value: [UInt8] = sql.pop(head: fromHead) { $0.bytes } ?? []
        pushMoved(c, dst, dql, value, toHead: toHead)
        c.notify(.list, fromHead ? "lpop" : "rpop", src)
        if sql.count == 0 {
            c.db.delete(src)
            c.notify(.generic, "del", src)
        }
        c.keyModified(src)
        c.engine.dirty += 1
        return true
    }

    /// lmoveHandlePush: creates the destination if needed, pushes, replies with the value.
    static func pushMoved(_ c: Client, _ dst: UnsafeRawBufferPointer, _ existing: Quicklist?, _ value: [UInt8], toHead: Bool) {
        let dql: Quicklist
        if let q = existing { dql = q } else {
            dql = newList(c.engine)
            addList(c, dst, dql)
        }
        c.keyModified(dst)
        value.withUnsafeBytes { v in
            dql.push(v, head: toHead)
            c.notify(.list, toHead ? "lpush" : "rpush", dst)
            c.out.bulk(v)
        }
    }

    // MARK: LMPOP

    /// Key positions of LMPOP/BLMPOP (numkeys at `numkeysIndex`).
    static func mpopKeys(_ a: Args, numkeysIndex: Int) -> [Int] {
        guard numkeysIndex < a.count, let n = Numbers.parseInt(a[numkeysIndex]), n > 0,
              n <= a.count - numkeysIndex - 1 else { return [] }
        return Array((numkeysIndex + 1)..<(numkeysIndex + 1 + n))
    }

    struct MpopOptions {
        var keys: Range<Int>
        var head: Bool
        var count: Int
    }

    /// Parses `numkeys key.. LEFT|RIGHT [COUNT n]` starting at `numkeysIndex`.
    static func parseMpop(_ c: Client, _ a: Args, numkeysIndex: Int) -> MpopOptions? {
        guard let numkeys = Numbers.parseInt(a[numkeysIndex]), numkeys >= 1 else {
            c.error("ERR numkeys should be greater than 0")
            return nil
        }
        let (whereIdx, overflow) = (numkeysIndex + 1).addingReportingOverflow(numkeys)
        if overflow || whereIdx >= a.count { c.syntaxError(); return nil }
        guard let head = parseSide(c, a, whereIdx) else { return nil }
        var count = -1
        var j = whereIdx + 1
        while j < a.count {
            let more = a.count - 1 - j
            if count == -1 && a.equals(j, "count") && more > 0 {
                j += 1
                guard let v = Numbers.parseInt(a[j]), v >= 1 else {
                    c.error("ERR count should be greater than 0")
                    return nil
                }
                count = v
            } else {
                c.syntaxError()
                return nil
            }
            j += 1
        }
        return MpopOptions(keys: (numkeysIndex + 1)..<whereIdx, head: head, count: count == -1 ? 1 : count)
    }

    /// Pops up to `count` from `ql` replying [key, [elements]] (listPopRangeAndReplyWithKey).
    static func popRangeWithKey(_ c: Client, _ key: UnsafeRawBufferPointer, _ ql: Quicklist, head: Bool, count: Int) -> Int {
        let k = min(count, ql.count)
        c.out.array(2)
        c.out.bulk(key)
        replyRange(c, ql, start: head ? 0 : ql.count - 1, count: k, reverse: !head)
        ql.deleteRange(start: head ? 0 : ql.count - k, count: k)
        elementsRemoved(c, key, head: head, ql, k)
        return k
    }

    static func popPropagation(_ key: UnsafeRawBufferPointer, head: Bool, count: Int?) -> OwnedArgs {
        var argv: [[UInt8]] = [Array((head ? "LPOP" : "RPOP").utf8), Array(key)]
        if let n = count { argv.append(Numbers.text(n)) }
        return OwnedArgs(argv)
    }

    static func lmpop(_ c: Client, _ a: Args) {
        guard let o = parseMpop(c, a, numkeysIndex: 1) else { return }
        if !mpopServe(c, a, o) { c.out.nullArray() }
    }

    /// Pops from the first non-empty key; false when all are empty/missing (nothing replied).
    /// A WRONGTYPE error counts as handled.
    static func mpopServe(_ c: Client, _ a: Args, _ o: MpopOptions) -> Bool {
        for i in o.keys {
            let key = a[i]
            guard let e = c.lookupWrite(key) else { continue }
            guard let ql = list(e) else { c.wrongType(); return true }
            if ql.count == 0 { continue }
            let n = popRangeWithKey(c, key, ql, head: o.head, count: o.count)
            c.propagateAs = [popPropagation(key, head: o.head, count: n)]
            return true
        }
        return false
    }

    // MARK: blocking variants

    static func blpop(_ c: Client, _ a: Args) { blockingPop(c, a, head: true) }
    static func brpop(_ c: Client, _ a: Args) { blockingPop(c, a, head: false) }

    /// BLPOP/BRPOP key [key ...] timeout
    static func blockingPop(_ c: Client, _ a: Args, head: Bool) {
        guard let deadline = Blocking.parseTimeout(c, a[a.count - 1]) else { return }
        for i in 1..<(a.count - 1) {
            let key = a[i]
            guard let e = c.lookupWrite(key) else { continue }
            guard let ql = list(e) else { c.wrongType(); return }
            if ql.count == 0 { continue }
            ql.pop(head: head) { v in
                c.out.array(2)
                c.out.bulk(key)
                reply(c, v)
            }
            elementsRemoved(c, key, head: head, ql, 1)
            c.propagateAs = [popPropagation(key, head: head, count: nil)]
            return
        }
        if !c.mayBlock { c.out.nullArray(); return }
        let keys = (1..<(a.count - 1)).map { a.bytes($0) }
        c.blockOnKeys(keys, deadline: deadline, onTimeout: { $0.out.nullArray() }) { c, key in
            // A write lookup (Redis serves with lookupKeyWrite): a running BGSAVE serializes
            // the list's bucket before the pop changes it.
            guard let e = c.lookup(key, [.write, .noTouch, .noNotify]), let ql = list(e), ql.count > 0 else { return false }
            CollectionSupport.propagate(c) { [popPropagation(key, head: head, count: nil)] }
            ql.pop(head: head) { v in
                c.out.array(2)
                c.out.bulk(key)
                reply(c, v)
            }
            c.notify(.list, head ? "lpop" : "rpop", key)
            if ql.count == 0 {
                c.db.delete(key)
                c.notify(.generic, "del", key)
            }
            // No dirty: Redis 7.0's serveClientBlockedOnList does not count the pop that
            // serves BLPOP/BRPOP (only BLMPOP's range pop counts), so RPUSH of 3 elements
            // waking a BLPOP leaves rdb_changes_since_last_save at +3 there.
            return true
        }
    }

    /// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
    static func blmpop(_ c: Client, _ a: Args) {
        guard let o = parseMpop(c, a, numkeysIndex: 2) else { return }
        guard let deadline = Blocking.parseTimeout(c, a[1]) else { return }
        if mpopServe(c, a, o) { return }
        if !c.mayBlock { c.out.nullArray(); return }
        let keys = o.keys.map { a.bytes($0) }
        let head = o.head, count = o.count
        c.blockOnKeys(keys, deadline: deadline, onTimeout: { $0.out.nullArray() }) { c, key in
            guard let e = c.lookup(key, [.write, .noTouch, .noNotify]), let ql = list(e), ql.count > 0 else { return false }
            CollectionSupport.propagate(c) { [popPropagation(key, head: head, count: min(count, ql.count))] }
            _ = popRangeWithKey(c, key, ql, head: head, count: count)
            return true
        }
    }

    static func blmove(_ c: Client, _ a: Args) {
        guard let from = parseSide(c, a, 3), let to = parseSide(c, a, 4) else { return }
        guard let deadline = Blocking.parseTimeout(c, a[5]) else { return }
        blockingMove(c, a, fromHead: from, toHead: to, deadline: deadline, isRpoplpush: false)
    }

    static func brpoplpush(_ c: Client, _ a: Args) {
        guard let deadline = Blocking.parseTimeout(c, a[3]) else { return }
        blockingMove(c, a, fromHead: false, toHead: true, deadline: deadline, isRpoplpush: true)
    }

    static func movePropagation(_ src: UnsafeRawBufferPointer, _ dst: UnsafeRawBufferPointer,
                                fromHead: Bool, toHead: Bool, isRpoplpush: Bool,
                                sides: ([UInt8], [UInt8])? = nil) -> OwnedArgs {
        if isRpoplpush { return OwnedArgs([Array("RPOPLPUSH".utf8), Array(src), Array(dst)]) }
        let (f, t) = sides ?? (sideName(fromHead), sideName(toHead))
        return OwnedArgs([Array("LMOVE".utf8), Array(src), Array(dst), f, t])
    }

    static func blockingMove(_ c: Client, _ a: Args, fromHead: Bool, toHead: Bool, deadline: Int64, isRpoplpush: Bool) {
        let src = a[1], dst = a[2]
        if let e = c.lookupWrite(src) {
            guard list(e) != nil else { c.wrongType(); return }
            if move(c, src, dst, fromHead: fromHead, toHead: toHead) {
                c.propagateAs = [movePropagation(src, dst, fromHead: fromHead, toHead: toHead, isRpoplpush: isRpoplpush,
                                                 sides: isRpoplpush ? nil : (a.bytes(3), a.bytes(4)))]
            }
            return
        }
        if !c.mayBlock { c.out.null(); return }
        let dstKey = a.bytes(2)
        c.blockOnKeys([a.bytes(1)], deadline: deadline, onTimeout: { $0.out.nullArray() }) { c, key in
            guard let e = c.lookup(key, [.write, .noTouch, .noNotify]), let sql = list(e), sql.count > 0 else { return false }
            return dstKey.withUnsafeBytes { dst -> Bool in
                var dql: Quicklist? = nil
                if let de = c.lookupWrite(dst) {
                    guard let q = list(de) else { c.wrongType(); return true }
                    dql = q
                }
                let value: [UInt8] = sql.pop(head: fromHead) { $0.bytes } ?? []
                pushMoved(c, dst, dql, value, toHead: toHead)
                CollectionSupport.propagate(c) {
                    [movePropagation(key, dst, fromHead: fromHead, toHead: toHead, isRpoplpush: isRpoplpush)]
                }
                c.notify(.list, fromHead ? "lpop" : "rpop", key)
                if sql.count == 0 {
                    c.db.delete(key)
                    c.notify(.generic, "del", key)
                }
                // No dirty, as BLPOP's serve above: Redis 7.0 counts neither the pop nor
                // the push of a served BLMOVE/BRPOPLPUSH.
                return true
            }
        }
    }
}

/// Encodes consecutive bulk replies ("$len\r\nbytes\r\n") into a scratch buffer and hands
/// them to the client's reply buffer in chunks (one append per ~16 KB instead of three
/// appends per element).
struct BulkBatch {
    static let capacity = 16 * 1024
    nonisolated(unsafe) static let scratch = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    let c: Client
    let buf: UnsafeMutableRawPointer
    var used = 0

    init(_ c: Client) {
        self.c = c
        buf = BulkBatch.scratch
    }

    @inline(__always) mutating func flush() {
        if used > 0 { c.out.append(buf, used); used = 0 }
    }

    @inline(__always) mutating func add(_ v: QuicklistValue) {
        if let p = v.ptr {
            let n = v.len
            if n > 1024 {
                flush()
                c.out.bulk(UnsafeRawBufferPointer(start: p, count: n))
                return
            }
            if used + n + 32 > BulkBatch.capacity { flush() }
            let b = buf + used
            b.storeBytes(of: 36, as: UInt8.self)
            var o = 1 + BulkBatch.writeLength(n, at: b + 1)
            b.storeBytes(of: 0x0a0d as UInt16, toByteOffset: o, as: UInt16.self)
            o += 2
            if n <= 16 {
                let d = (b + o).assumingMemoryBound(to: UInt8.self), q = p.assumingMemoryBound(to: UInt8.self)
                for i in 0..<n { d[i] = q[i] }
            } else {
                memcpy(b + o, p, n)
            }
            o += n
            b.storeBytes(of: 0x0a0d as UInt16, toByteOffset: o, as: UInt16.self)
            used += o + 2
        } else {
            if used + 64 > BulkBatch.capacity { flush() }
            let b = buf + used
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
            let n = withUnsafeMutableBytes(of: &digits) { QuicklistCodec.formatInt(v.int, into: $0.baseAddress!) }
            b.storeBytes(of: 36, as: UInt8.self)
            var o = 1 + BulkBatch.writeLength(n, at: b + 1)
            b.storeBytes(of: 0x0a0d as UInt16, toByteOffset: o, as: UInt16.self)
            o += 2
            withUnsafeBytes(of: &digits) { _ = memcpy(b + o, $0.baseAddress!, n) }
            o += n
            b.storeBytes(of: 0x0a0d as UInt16, toByteOffset: o, as: UInt16.self)
            used += o + 2
        }
    }

    /// Decimal digits of a length 0...1024 at `p`; returns how many.
    @inline(__always) static func writeLength(_ n: Int, at p: UnsafeMutableRawPointer) -> Int {
        let q = p.assumingMemoryBound(to: UInt8.self)
        if n < 10 { q[0] = UInt8(48 + n); return 1 }
        if n < 100 { q[0] = UInt8(48 + n / 10); q[1] = UInt8(48 + n % 10); return 2 }
        if n < 1000 {
            q[0] = UInt8(48 + n / 100); q[1] = UInt8(48 + n / 10 % 10); q[2] = UInt8(48 + n % 10)
            return 3
        }
        return QuicklistCodec.formatInt(n, into: p)
    }
}
