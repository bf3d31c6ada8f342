#if canImport(Glibc)
import Glibc
#endif

/// A small sorted set (OBJECT ENCODING "listpack"): member, score, member, score ... sorted
/// by (score, member) in one ListpackBuffer; `count` is the number of members. Scores that
/// are integral and within ±(2^63-1)/2 are stored as integers (so -0 reads back as 0),
/// others as doubles, as Redis's listpack does.
public final class ListpackZSet: StoredCollection {
    var buf: ListpackBuffer

    public init(capacity: Int = 32) { buf = ListpackBuffer(capacity: capacity) }
    init(buffer: ListpackBuffer) { buf = buffer }
    deinit { buf.free() }

    @inline(__always) public var count: Int { buf.count }
    public var elementCount: Int { buf.count }
    public var allocatedBytes: Int { 32 + buf.allocatedBytes }
    public func deepCopy() -> StoredCollection { ListpackZSet(buffer: ListpackBuffer(copying: buf)) }

    /// Drops growth headroom (called once a write command is done with the zset).
    public func trim() { buf.shrinkToFit() }

    public func safeToAdd(_ extra: Int) -> Bool { buf.safeToAdd(extra + 9) }

    @inline(__always) var headerEnd: Int { ListpackBuffer.headerSize }

    /// Offset of the member element equal to `member`, or nil.
    @inline(__always)
    public func find(_ member: UnsafeRawBufferPointer) -> Int? {
        let probe = ListpackCodec.Probe(member)
        var off = headerEnd
        let end = buf.used
        while off < end {
            if probe.matches(buf.base + off) { return off }
            off = buf.next(buf.next(off))
        }
        return nil
    }

    @inline(__always) public func score(atMember off: Int) -> Double { ListpackCodec.score(buf.base + buf.next(off)) }

    public func score(_ member: UnsafeRawBufferPointer) -> Double? {
        guard let off = find(member) else { return nil }
        return score(atMember: off)
    }

    /// Inserts a member known to be absent at its sorted position.
    public func insertNew(_ member: UnsafeRawBufferPointer, _ score: Double) {
        var off = headerEnd
        let end = buf.used
        while off < end {
            let soff = buf.next(off)
            let s = ListpackCodec.score(buf.base + soff)
            if s > score || (s == score && ListpackCodec.compare(buf.base + off, member) > 0) { break }
            off = buf.next(soff)
        }
        let ml = ListpackCodec.size(of: member), sl = ListpackCodec.scoreSize(score)
        let p = buf.openGap(at: off, ml + sl)
        ListpackCodec.write(member, p)
        ListpackCodec.writeScore(score, p + ml)
        buf.count += 1
    }

    /// Appends a member that sorts after every present one (building sorted results).
    public func appendSorted(_ member: UnsafeRawBufferPointer, _ score: Double) {
        let ml = ListpackCodec.size(of: member), sl = ListpackCodec.scoreSize(score)
        let p = buf.openGap(at: buf.used, ml + sl)
        ListpackCodec.write(member, p)
        ListpackCodec.writeScore(score, p + ml)
        buf.count += 1
    }

    /// `appendSorted` with the member given decoded (loading a Redis listpack).
    public func appendSorted(_ member: ListpackCodec.Value, _ score: Double) {
        let ml = ListpackCodec.size(of: member), sl = ListpackCodec.scoreSize(score)
        let p = buf.openGap(at: buf.used, ml + sl)
        ListpackCodec.write(member, p)
        ListpackCodec.writeScore(score, p + ml)
        buf.count += 1
    }

    /// Whether a member equal to this decoded element is present.
    public func contains(_ member: ListpackCodec.Value) -> Bool {
        ListpackCodec.withText(member) { find($0) != nil }
    }

    /// Removes the pair whose member element is at `off`.
    public func remove(atMember off: Int) {
        let end = buf.next(buf.next(off))
        buf.removeBytes(at: off, end - off)
        buf.count -= 1
    }

    @discardableResult
    public func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        guard let off = find(member) else { return false }
        remove(atMember: off)
        return true
    }

    /// Byte offset of the member at rank r (r may equal count: the end).
    func offset(ofRank r: Int) -> Int {
        var off = headerEnd
        var i = 0
        while i < r { off = buf.next(buf.next(off)); i += 1 }
        return off
    }

    /// Removes ranks [from, to); returns how many went.
    @discardableResult
    public func removeRange(from: Int, to: Int) -> Int {
        if from >= to { return 0 }
        let a = offset(ofRank: from)
        var b = a
        for _ in from..<to { b = buf.next(buf.next(b)) }
        buf.removeBytes(at: a, b - a)
        buf.count -= to - from
        return to - from
    }

    public func rank(_ member: UnsafeRawBufferPointer) -> Int? {
        let probe = ListpackCodec.Probe(member)
        var off = headerEnd
        let end = buf.used
        var r = 0
        while off < end {
            if probe.matches(buf.base + off) { return r }
            off = buf.next(buf.next(off))
            r += 1
        }
        return nil
    }

    /// Visits ranks [from, to) with (member, score), ascending or descending.
    public func walk(from: Int, to: Int, reverse: Bool, _ body: (UnsafeRawBufferPointer, Double) -> Bool) {
        if from >= to { return }
        var off = offset(ofRank: from)
        if !reverse {
            for _ in from..<to {
                let soff = buf.next(off)
                let go = ListpackCodec.withText(buf.base + off) { body($0, ListpackCodec.score(buf.base + soff)) }
                if !go { return }
                off = buf.next(soff)
            }
            return
        }
        var offs: [Int] = []
        offs.reserveCapacity(to - from)
        for _ in from..<to { offs.append(off); off = buf.next(buf.next(off)) }
        for o in offs.reversed() {
            let soff = buf.next(o)
            let go = ListpackCodec.withText(buf.base + o) { body($0, ListpackCodec.score(buf.base + soff)) }
            if !go { return }
        }
    }

    /// Number of leading members for which pred(member, score) holds.
    public func countPrefix(_ pred: (UnsafeRawBufferPointer, Double) -> Bool) -> Int {
        var off = headerEnd
        let end = buf.used
        var n = 0
        while off < end {
            let soff = buf.next(off)
            let ok = ListpackCodec.withText(buf.base + off) { pred($0, ListpackCodec.score(buf.base + soff)) }
            if !ok { break }
            n += 1
            off = buf.next(soff)
        }
        return n
    }

    /// Visits (member, stored score element text, score) in order (ZSCAN prints the stored form).
    public func forEachWithScoreText(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Double) -> Void) {
        var off = headerEnd
        let end = buf.used
        while off < end {
            let soff = buf.next(off)
            let s = ListpackCodec.score(buf.base + soff)
            ListpackCodec.withText(buf.base + off) { m in
                ListpackCodec.withText(buf.base + soff) { t in body(m, t, s) }
            }
            off = buf.next(soff)
        }
    }

    /// Member offsets (random access for ZRANDMEMBER).
    public func memberOffsets() -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(buf.count)
        var off = headerEnd
        let end = buf.used
        while off < end { out.append(off); off = buf.next(buf.next(off)) }
        return out
    }

    public func withMember(at off: Int, _ body: (UnsafeRawBufferPointer, Double) -> Void) {
        let soff = buf.next(off)
        ListpackCodec.withText(buf.base + off) { body($0, ListpackCodec.score(buf.base + soff)) }
    }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        walk(from: 0, to: count, reverse: false) { m, s in
            var tmp: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &tmp) { raw in
                let n = ListpackCodec.formatDouble(s, raw.baseAddress!.assumingMemoryBound(to: CChar.self), 48)
                body(m, UnsafeRawBufferPointer(start: raw.baseAddress, count: n))
            }
            return true
        }
    }
}
