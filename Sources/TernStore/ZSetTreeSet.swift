#if canImport(Glibc)
import Glibc
#endif

/// A big sorted set (OBJECT ENCODING "skiplist", as Redis names it): member -> block in a
/// HashSlotTable for O(1) ZSCORE, plus a ZSetTree ordered by (score, member) for ranks and
/// ranges. Block: varint member length, member bytes, 8-byte score.
/// About 60 bytes per small member against ~110 for Redis's skiplist + dict.
public final class TreeZSet: StoredCollection {
    public internal(set) var table: HashSlotTable
    public internal(set) var tree = ZSetTree()

    public init(capacity: Int = HashSlotTable.minCapacity) { table = HashSlotTable(capacity: capacity) }
    deinit {
        table.forEach { free($0) }
        table.deallocate()
        tree.destroy()
    }

    @inline(__always) public var count: Int { table.count }
    public var elementCount: Int { table.count }

    public var allocatedBytes: Int {
        var n = 64 + table.tableBytes + tree.nodeBytes
        table.forEach { n += ElementBlock.size($0) }
        return n
    }

    public func deepCopy() -> StoredCollection {
        let z = TreeZSet(capacity: HashSlotTable.capacityFor(count))
        tree.walk(from: 0, to: tree.count, reverse: false) { s, b in
            z.insertNew(ElementBlock.key(b), s)
            return true
        }
        return z
    }

    @inline(__always) public static func score(of b: UnsafeRawPointer) -> Double {
        b.loadUnaligned(fromByteOffset: ElementBlock.payloadOffset(b), as: Double.self)
    }

    @inline(__always) public static func member(of b: UnsafeRawPointer) -> UnsafeRawBufferPointer { ElementBlock.key(b) }

    /// Block of `member`, or nil.
    @inline(__always) public func block(_ member: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer? {
        guard let i = table.find(member) else { return nil }
        return table.block(at: i)
    }

    @inline(__always) public func score(_ member: UnsafeRawBufferPointer) -> Double? {
        guard let b = block(member) else { return nil }
        return TreeZSet.score(of: b)
    }

    /// Inserts a member known to be absent.
    public func insertNew(_ member: UnsafeRawBufferPointer, _ score: Double) {
        let b = ElementBlock.make(member, payload: 8)
        b.storeBytes(of: score, toByteOffset: ElementBlock.payloadOffset(b), as: Double.self)
        table.insert(b, hash: HashSlotTable.hash(member))
        tree.insert(score, b)
    }

    /// Changes the score of an existing member's block.
    public func update(_ b: UnsafeMutableRawPointer, to score: Double) {
        let old = TreeZSet.score(of: b)
        tree.remove(old, b)
        b.storeBytes(of: score, toByteOffset: ElementBlock.payloadOffset(b), as: Double.self)
        tree.insert(score, b)
    }

    @discardableResult
    public func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        guard let i = table.find(member) else { return false }
        let b = table.block(at: i)
        tree.remove(TreeZSet.score(of: b), b)
        table.remove(at: i)
        free(b)
        return true
    }

    /// Removes ranks [from, to) and returns how many went.
    @discardableResult
    public func removeRange(from: Int, to: Int) -> Int {
        var n = 0
        while n < to - from {
            guard let b = tree.remove(at: from) else { break }
            if let i = table.find(ElementBlock.key(b)) { table.remove(at: i) }
            free(b)
            n += 1
        }
        return n
    }

    /// 0-based ascending rank of member.
    public func rank(_ member: UnsafeRawBufferPointer) -> Int? {
        guard let b = block(member) else { return nil }
        return tree.rank(TreeZSet.score(of: b), b)
    }

    /// Visits ranks [from, to) with (member, score).
    @inline(__always)
    public func walk(from: Int, to: Int, reverse: Bool, _ body: (UnsafeRawBufferPointer, Double) -> Bool) {
        tree.walk(from: from, to: to, reverse: reverse) { s, b in body(ElementBlock.key(b), s) }
    }

    /// Number of members whose (score, member) satisfies a prefix predicate.
    public func countPrefix(_ pred: (UnsafeRawBufferPointer, Double) -> Bool) -> Int {
        tree.countPrefix { s, b in pred(ElementBlock.key(b), s) }
    }

    public func scan(_ cursor: UInt64, _ body: (UnsafeRawBufferPointer, Double) -> Void) -> UInt64 {
        table.scanStep(cursor) { b in body(ElementBlock.key(b), TreeZSet.score(of: b)) }
    }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        walk(from: 0, to: count, reverse: false) { m, s in
            var buf: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &buf) { raw in
                let n = ListpackCodec.formatDouble(s, raw.baseAddress!.assumingMemoryBound(to: CChar.self), 48)
                body(m, UnsafeRawBufferPointer(start: raw.baseAddress, count: n))
            }
            return true
        }
    }
}
