import CTern
#if canImport(Glibc)
import Glibc
#endif

/// One packed node: a malloc'd buffer of `count` entries in QuicklistCodec format
/// (`rawSize` bytes), or their LZF-compressed form (`size` bytes) when `compressed`.
struct QuicklistNode {
    var buf: UnsafeMutableRawPointer
    var rawSize: Int
    var count: Int32
    var flags: UInt32

    /// Bytes held in `buf`: the raw entries, or for a compressed node a UInt32 length
    /// prefix plus the LZF data (keeps the node struct at 24 bytes).
    @inline(__always) var size: Int {
        isCompressed ? 4 + Int(buf.load(as: UInt32.self)) : rawSize
    }

    static let compressed: UInt32 = 1
    /// Compression was tried on the current content and did not pay off.
    static let compressFailed: UInt32 = 2

    @inline(__always) var isCompressed: Bool { flags & QuicklistNode.compressed != 0 }
    @inline(__always) var entries: Int { Int(count) }
}

/// A list value (OBJECT ENCODING `quicklist`): an array of packed nodes. Node filling
/// follows Redis 7.0's rule for `list-max-listpack-size` (fill < 0: byte limit
/// 4/8/16/32/64 KB; fill >= 0: entry count below fill and at most 8 KB), applied to
/// Tern's own (smaller) entry bytes. Inner nodes (more than `list-compress-depth` nodes
/// from either end) are LZF-compressed when compression saves at least 8 bytes.
///
/// Entries carry no back-pointer, so the tail node keeps a lazily built table of entry
/// offsets (only when it has more than 32 entries) to make RPOP and tail indexing O(1).
public final class Quicklist: StoredCollection {
    // Field order keeps the object at 56 bytes (a 64-byte malloc chunk).
    /// list-max-listpack-size captured at creation (clamped to -5...32767).
    public let fill: Int16
    /// list-compress-depth captured at creation (clamped to 0...32767).
    public let compressDepth: Int16
    /// Entry offsets of the tail node are valid in `tailOffsets`.
    var tailCached = false
    /// Some inner node may be uncompressed (after a middle access or a split).
    var compressScan = false
    var nodeCapacity: Int32 = 0
    var nodeCount: Int32 = 0
    var nodes: UnsafeMutablePointer<QuicklistNode>
    public private(set) var count: Int = 0
    var tailOffsets: [UInt16] = []

    static let minCompressBytes = 48
    nonisolated(unsafe) static let lzf = QuicklistLZF()
    nonisolated(unsafe) static var scratch: UnsafeMutableRawPointer? = nil
    nonisolated(unsafe) static var scratchSize = 0

    public init(fill: Int = -2, compressDepth: Int = 0) {
        self.fill = Int16(max(-5, min(fill, 32767)))
        self.compressDepth = Int16(max(0, min(compressDepth, 32767)))
        nodes = UnsafeMutablePointer<QuicklistNode>(bitPattern: 8)!
    }

    deinit {
        for i in 0..<Int(nodeCount) { free(nodes[i].buf) }
        if nodeCapacity > 0 { free(nodes) }
    }

    @inline(__always) var nodesCount: Int { Int(nodeCount) }

    // MARK: StoredCollection

    public var elementCount: Int { count }

    public func deepCopy() -> StoredCollection {
        let q = Quicklist(fill: Int(fill), compressDepth: Int(compressDepth))
        q.growNodes(to: nodesCount)
        for i in 0..<nodesCount {
            var n = nodes[i]
            let p = malloc(max(n.size, 1))!
            memcpy(p, n.buf, n.size)
            n.buf = p
            q.nodes[i] = n
        }
        q.nodeCount = nodeCount
        q.count = count
        return q
    }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        forEach(from: 0, reverse: false) { v in
            v.withBytes { body($0, nil) }
            return true
        }
    }

    public var allocatedBytes: Int {
        var total = 64 + (nodeCapacity > 0 ? tern_malloc_usable_size(nodes) : 0)
        for i in 0..<nodesCount { total += tern_malloc_usable_size(nodes[i].buf) }
        if tailOffsets.capacity > 0 { total += 32 + tailOffsets.capacity * 2 }
        return total
    }

    /// Number of packed nodes (DEBUG / tests).
    public var nodeTotal: Int { nodesCount }

    /// Entries per node, head to tail (tests).
    public var nodeEntryCounts: [Int] { (0..<nodesCount).map { nodes[$0].entries } }

    /// Number of compressed nodes (tests).
    public var compressedNodeTotal: Int { (0..<nodesCount).filter { nodes[$0].isCompressed }.count }

    // MARK: node array

    func growNodes(to n: Int) {
        guard n > Int(nodeCapacity) else { return }
        let cap = max(n, Int(nodeCapacity) < 4 ? 1 : Int(nodeCapacity) + Int(nodeCapacity) / 2)
        let bytes = cap * MemoryLayout<QuicklistNode>.stride
        let p = nodeCapacity > 0 ? realloc(nodes, bytes) : malloc(bytes)
        guard let p else { fatalError("Tern: out of memory") }
        nodes = p.assumingMemoryBound(to: QuicklistNode.self)
        nodeCapacity = Int32(cap)
    }

    func insertNode(_ n: QuicklistNode, at i: Int) {
        growNodes(to: nodesCount + 1)
        if i < nodesCount {
            memmove(nodes + i + 1, nodes + i, (nodesCount - i) * MemoryLayout<QuicklistNode>.stride)
        }
        nodes[i] = n
        nodeCount += 1
    }

    /// Frees node i's buffer and removes it from the array.
    func removeNode(at i: Int) {
        free(nodes[i].buf)
        if i < nodesCount - 1 {
            memmove(nodes + i, nodes + i + 1, (nodesCount - i - 1) * MemoryLayout<QuicklistNode>.stride)
        }
        nodeCount -= 1
        if nodeCount == 0 && nodeCapacity > 4 {
            free(nodes)
            nodes = UnsafeMutablePointer<QuicklistNode>(bitPattern: 8)!
            nodeCapacity = 0
        }
    }

    /// A one-element node; `capacity` preallocates room (a list growing past a full node
    /// will likely fill the next one too, and growing it in steps fragments the heap).
    static func makeNode(_ s: UnsafeRawBufferPointer, _ plan: (size: Int, int: Int?), capacity: Int = 0) -> QuicklistNode {
        guard let p = malloc(max(plan.size, capacity, 1)) else { fatalError("Tern: out of memory") }
        QuicklistCodec.write(s, plan, at: p)
        return QuicklistNode(buf: p, rawSize: plan.size, count: 1, flags: 0)
    }

    /// Room for `extra` more bytes in raw node i (small nodes grow tightly, big ones by 1/2).
    @inline(__always) func reserve(_ i: Int, _ extra: Int) {
        let need = nodes[i].rawSize + extra
        let usable = tern_malloc_usable_size(nodes[i].buf)
        if need <= usable { return }
        let target = need < 256 ? need : max(need, min(need + need / 2, need + 16384))
        guard let p = realloc(nodes[i].buf, target) else { fatalError("Tern: out of memory") }
        nodes[i].buf = p
    }

    /// Gives back slack of a node that stopped being an end node.
    func shrinkToFit(_ i: Int) {
        let n = nodes[i]
        if tern_malloc_usable_size(n.buf) > n.size + 32, let p = realloc(n.buf, max(n.size, 1)) {
            nodes[i].buf = p
        }
    }

    @inline(__always) func allowsInsert(_ i: Int, _ elementLength: Int) -> Bool {
        let n = nodes[i]
        let newSize = n.rawSize &+ elementLength &+ 8
        let f = Int(fill)
        if f < 0 { return newSize <= 4096 << min(-f - 1, 4) }
        if newSize > 8192 { return false }
        return n.entries < f
    }

    @inline(__always) func invalidateTail() {
        tailCached = false
        if !tailOffsets.isEmpty { tailOffsets.removeAll(keepingCapacity: tailOffsets.capacity <= 64) }
    }

    // MARK: compression

    /// Makes node i raw (decompressing in place); inner nodes get recompressed later.
    @inline(__always) func ensureRaw(_ i: Int) {
        if nodes[i].isCompressed { decompressInPlace(i) }
        nodes[i].flags &= ~QuicklistNode.compressFailed
    }

    func decompressInPlace(_ i: Int) {
        let n = nodes[i]
        guard let p = malloc(max(n.rawSize, 1)) else { fatalError("Tern: out of memory") }
        let got = QuicklistLZF.decompress(n.buf + 4, n.size - 4, into: p, outCapacity: n.rawSize)
        precondition(got == n.rawSize, "Tern: corrupt compressed list node")
        free(n.buf)
        nodes[i].buf = p
        nodes[i].flags &= ~QuicklistNode.compressed
        compressScan = true
    }

    func compressNode(_ i: Int) {
        let n = nodes[i]
        if n.flags & (QuicklistNode.compressed | QuicklistNode.compressFailed) != 0 { return }
        if n.rawSize < Quicklist.minCompressBytes || n.rawSize > 1 << 30 {
            nodes[i].flags |= QuicklistNode.compressFailed
            return
        }
        if Quicklist.scratchSize < n.rawSize + 16 {
            free(Quicklist.scratch)
            Quicklist.scratchSize = n.rawSize + 16
            Quicklist.scratch = malloc(Quicklist.scratchSize)
        }
        guard let out = Quicklist.scratch,
              let c = Quicklist.lzf.compress(n.buf, n.rawSize, into: out, capacity: n.rawSize),
              c + 8 < n.rawSize, let p = malloc(c + 4) else {
            nodes[i].flags |= QuicklistNode.compressFailed
            return
        }
        p.storeBytes(of: UInt32(c), as: UInt32.self)
        memcpy(p + 4, out, c)
        free(n.buf)
        nodes[i].buf = p
        nodes[i].flags |= QuicklistNode.compressed
    }

    /// Restores the compression invariant: the `depth` nodes at each end raw, all others
    /// compressed (when it pays off).
    @inline(__always) func applyCompression() {
        if compressDepth > 0 { applyCompressionSlow() }
    }

    func applyCompressionSlow() {
        let d = Int(compressDepth), n = nodesCount
        if n <= 2 * d {
            for i in 0..<n where nodes[i].isCompressed { decompressInPlace(i) }
            compressScan = false
            return
        }
        for i in 0..<d {
            if nodes[i].isCompressed { decompressInPlace(i) }
            if nodes[n - 1 - i].isCompressed { decompressInPlace(n - 1 - i) }
        }
        if compressScan {
            for i in d..<(n - d) { compressNode(i) }
            compressScan = false
        } else {
            compressNode(d)
            compressNode(n - 1 - d)
        }
    }

    /// Runs `body` over node i's raw bytes (decompressed into a temporary buffer if needed).
    @inline(__always)
    func withRaw<R>(_ i: Int, _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        let n = nodes[i]
        if !n.isCompressed { return try body(n.buf) }
        let tmp = malloc(max(n.rawSize, 1))!
        defer { free(tmp) }
        let got = QuicklistLZF.decompress(n.buf + 4, n.size - 4, into: tmp, outCapacity: n.rawSize)
        precondition(got == n.rawSize, "Tern: corrupt compressed list node")
        return try body(tmp)
    }

    // MARK: offsets

    /// Byte offset of entry `e` in raw node bytes `p` of node i.
    @inline(__always)
    func offset(node i: Int, entry e: Int, _ p: UnsafeRawPointer) -> Int {
        if i == nodesCount - 1 && e > 32 {
            if tailCached || buildTailCache() { return Int(tailOffsets[e]) }
        }
        var off = 0
        for _ in 0..<e { off += QuicklistCodec.entrySize(p + off) }
        return off
    }

    /// Builds the tail node's offset table; false when the node is too big for it.
    @discardableResult
    func buildTailCache() -> Bool {
        let i = nodesCount - 1
        guard i >= 0, !nodes[i].isCompressed, nodes[i].rawSize <= 65536 else { return false }
        let p = nodes[i].buf
        tailOffsets.removeAll(keepingCapacity: true)
        tailOffsets.reserveCapacity(nodes[i].entries)
        var off = 0
        for _ in 0..<nodes[i].entries {
            tailOffsets.append(UInt16(off))
            off += QuicklistCodec.entrySize(p + off)
        }
        tailCached = true
        return true
    }

    /// Offset of the last entry of the (raw) tail node.
    @inline(__always) func tailLastOffset() -> Int {
        let i = nodesCount - 1
        let c = nodes[i].entries
        if tailCached || (c > 32 && buildTailCache()) { return Int(tailOffsets[c - 1]) }
        return offset(node: i, entry: c - 1, nodes[i].buf)
    }

    /// Node and entry-within-node of list index `index` (0 ..< count).
    @inline(__always)
    func locate(_ index: Int) -> (node: Int, entry: Int) {
        if index < count / 2 {
            var idx = index
            for i in 0..<nodesCount {
                let c = nodes[i].entries
                if idx < c { return (i, idx) }
                idx -= c
            }
        } else {
            var idx = count - 1 - index
            var i = nodesCount - 1
            while i >= 0 {
                let c = nodes[i].entries
                if idx < c { return (i, c - 1 - idx) }
                idx -= c
                i -= 1
            }
        }
        return (nodesCount - 1, nodes[nodesCount - 1].entries - 1)
    }

    // MARK: push / pop

    public func pushTail(_ s: UnsafeRawBufferPointer) { pushTail(s, room: 0) }

    /// Planned size of an element (what `room` adds up: bulk loads sum a run of them).
    public static func plannedSize(_ s: UnsafeRawBufferPointer) -> Int { QuicklistCodec.plan(s).size }

    /// pushTail for a run of appends (loading): `room` is the planned size of this element
    /// and those that follow it in the run, so a new tail node is allocated once with room
    /// for all of them instead of growing by one element at a time. A node the run does
    /// not fill is trimmed when the next node starts, as before. Returns the element's
    /// planned size (what the run's room goes down by).
    @discardableResult
    public func pushTail(_ s: UnsafeRawBufferPointer, room: Int) -> Int {
        let plan = QuicklistCodec.plan(s)
        let last = nodesCount - 1
        if last >= 0 && allowsInsert(last, s.count) {
            ensureRaw(last)
            reserve(last, max(plan.size, min(room, 65536)))
            let off = nodes[last].rawSize
            QuicklistCodec.write(s, plan, at: nodes[last].buf + off)
            nodes[last].rawSize += plan.size
            nodes[last].count += 1
            if tailCached {
                if off <= 65535 { tailOffsets.append(UInt16(off)) } else { invalidateTail() }
            }
        } else {
            var cap = 0
            if last >= 0 {
                shrinkToFit(last)
                cap = min(nodes[last].rawSize, 65536)
            }
            insertNode(Quicklist.makeNode(s, plan, capacity: max(cap, min(room, 65536))), at: nodesCount)
            invalidateTail()
        }
        count += 1
        applyCompression()
        return plan.size
    }

    public func pushHead(_ s: UnsafeRawBufferPointer) {
        let plan = QuicklistCodec.plan(s)
        if nodesCount > 0 && allowsInsert(0, s.count) {
            ensureRaw(0)
            reserve(0, plan.size)
            let b = nodes[0].buf
            memmove(b + plan.size, b, nodes[0].rawSize)
            QuicklistCodec.write(s, plan, at: b)
            nodes[0].rawSize += plan.size
            nodes[0].count += 1
            if nodesCount == 1 { invalidateTail() }
        } else {
            var cap = 0
            if nodesCount > 0 {
                shrinkToFit(0)
                cap = min(nodes[0].rawSize, 65536)
            }
            insertNode(Quicklist.makeNode(s, plan, capacity: cap), at: 0)
            if nodesCount == 1 { invalidateTail() }
        }
        count += 1
        applyCompression()
    }

    public func push(_ s: UnsafeRawBufferPointer, head: Bool) {
        if head { pushHead(s) } else { pushTail(s) }
    }

    /// Removes the first element, handing it to `body` before it is gone.
    @discardableResult
    public func popHead<R>(_ body: (QuicklistValue) throws -> R) rethrows -> R? {
        guard nodesCount > 0 else { return nil }
        ensureRaw(0)
        let b = nodes[0].buf
        let (v, sz) = QuicklistCodec.decode(b)
        let r = try body(v)
        if nodes[0].count == 1 {
            removeNode(at: 0)
            if nodesCount <= 1 { invalidateTail() }
        } else {
            memmove(b, b + sz, nodes[0].rawSize - sz)
            nodes[0].rawSize -= sz
            nodes[0].count -= 1
            if nodesCount == 1 { invalidateTail() }
        }
        count -= 1
        applyCompression()
        return r
    }

    /// Removes the last element, handing it to `body` before it is gone.
    @discardableResult
    public func popTail<R>(_ body: (QuicklistValue) throws -> R) rethrows -> R? {
        guard nodesCount > 0 else { return nil }
        let i = nodesCount - 1
        ensureRaw(i)
        let off = tailLastOffset()
        let (v, _) = QuicklistCodec.decode(nodes[i].buf + off)
        let r = try body(v)
        if nodes[i].count == 1 {
            removeNode(at: i)
            invalidateTail()
        } else {
            nodes[i].rawSize = off
            nodes[i].count -= 1
            if tailCached { tailOffsets.removeLast() }
        }
        count -= 1
        applyCompression()
        return r
    }

    @discardableResult
    public func pop<R>(head: Bool, _ body: (QuicklistValue) throws -> R) rethrows -> R? {
        head ? try popHead(body) : try popTail(body)
    }

    // MARK: reads

    /// Calls `body` with the element at `index` (negative counts from the tail);
    /// returns nil when out of range.
    public func withElement<R>(at index: Int, _ body: (QuicklistValue) throws -> R) rethrows -> R? {
        let idx = index < 0 ? count &+ index : index
        guard idx >= 0 && idx < count else { return nil }
        let (ni, ei) = locate(idx)
        return try withRaw(ni) { p in
            let off = offset(node: ni, entry: ei, p)
            return try body(QuicklistCodec.decode(p + off).0)
        }
    }

    /// Visits elements starting at `index` (0 ..< count) toward the tail, or toward the
    /// head when `reverse`; `body` returns false to stop.
    public func forEach(from index: Int, reverse: Bool, _ body: (QuicklistValue) throws -> Bool) rethrows {
        guard index >= 0 && index < count else { return }
        var (ni, ei) = locate(index)
        if !reverse {
            while ni < nodesCount {
                let c = nodes[ni].entries
                let go = try withRaw(ni) { p -> Bool in
                    var off = offset(node: ni, entry: ei, p)
                    for _ in ei..<c {
                        let (v, sz) = QuicklistCodec.decode(p + off)
                        if try !body(v) { return false }
                        off += sz
                    }
                    return true
                }
                if !go { return }
                ni += 1
                ei = 0
            }
        } else {
            var offs: [Int] = []
            while ni >= 0 {
                let go = try withRaw(ni) { p -> Bool in
                    if ni == nodesCount - 1 && (tailCached || (ei > 32 && buildTailCache())) {
                        var k = ei
                        while k >= 0 {
                            if try !body(QuicklistCodec.decode(p + Int(tailOffsets[k])).0) { return false }
                            k -= 1
                        }
                        return true
                    }
                    offs.removeAll(keepingCapacity: true)
                    var off = 0
                    for _ in 0...ei {
                        offs.append(off)
                        off += QuicklistCodec.entrySize(p + off)
                    }
                    var k = ei
                    while k >= 0 {
                        if try !body(QuicklistCodec.decode(p + offs[k]).0) { return false }
                        k -= 1
                    }
                    return true
                }
                if !go { return }
                ni -= 1
                if ni >= 0 { ei = nodes[ni].entries - 1 }
            }
        }
    }

    // MARK: edits

    /// Replaces the element at `index` (negative from the tail). False when out of range.
    @discardableResult
    public func replace(at index: Int, with s: UnsafeRawBufferPointer) -> Bool {
        let idx = index < 0 ? count &+ index : index
        guard idx >= 0 && idx < count else { return false }
        let (ni, ei) = locate(idx)
        ensureRaw(ni)
        let off = offset(node: ni, entry: ei, nodes[ni].buf)
        let old = QuicklistCodec.entrySize(nodes[ni].buf + off)
        let plan = QuicklistCodec.plan(s)
        let delta = plan.size - old
        if delta > 0 { reserve(ni, delta) }
        let b = nodes[ni].buf
        if delta != 0 {
            memmove(b + off + plan.size, b + off + old, nodes[ni].rawSize - off - old)
            if ni == nodesCount - 1 { invalidateTail() }
        }
        QuicklistCodec.write(s, plan, at: b + off)
        nodes[ni].rawSize += delta
        if ni >= Int(compressDepth) && ni < nodesCount - Int(compressDepth) { compressScan = true }
        applyCompression()
        return true
    }

    /// Inserts `s` before or after the first element matching `pivot` (head to tail).
    /// Returns false when no element matches.
    public func insert(_ s: UnsafeRawBufferPointer, after: Bool, pivot: (QuicklistValue) -> Bool) -> Bool {
        for ni in 0..<nodesCount {
            let c = nodes[ni].entries
            let found: (Int, Int)? = withRaw(ni) { p in
                var off = 0
                for e in 0..<c {
                    let (v, sz) = QuicklistCodec.decode(p + off)
                    if pivot(v) { return after ? (off + sz, e + 1) : (off, e) }
                    off += sz
                }
                return nil
            }
            if let (byteOff, pos) = found {
                insert(s, node: ni, byteOffset: byteOff, position: pos)
                return true
            }
        }
        return false
    }

    /// Inserts `s` into node `ni` so that it becomes its entry number `pos`.
    func insert(_ s: UnsafeRawBufferPointer, node ni: Int, byteOffset: Int, position pos: Int) {
        let plan = QuicklistCodec.plan(s)
        invalidateTail()
        count += 1
        defer {
            compressScan = true
            applyCompression()
        }
        if allowsInsert(ni, s.count) {
            insertBytes(s, plan, node: ni, at: byteOffset)
            return
        }
        let c = nodes[ni].entries
        if pos == c && ni + 1 < nodesCount && allowsInsert(ni + 1, s.count) {
            insertBytes(s, plan, node: ni + 1, at: 0)
            return
        }
        if pos == 0 && ni > 0 && allowsInsert(ni - 1, s.count) {
            ensureRaw(ni - 1)
            insertBytes(s, plan, node: ni - 1, at: nodes[ni - 1].rawSize)
            return
        }
        if pos == c { insertNode(Quicklist.makeNode(s, plan), at: ni + 1); return }
        if pos == 0 { insertNode(Quicklist.makeNode(s, plan), at: ni); return }
        // Split node ni at the insertion point, then place the element.
        ensureRaw(ni)
        let rightBytes = nodes[ni].rawSize - byteOffset
        guard let rp = malloc(max(rightBytes, 1)) else { fatalError("Tern: out of memory") }
        memcpy(rp, nodes[ni].buf + byteOffset, rightBytes)
        let right = QuicklistNode(buf: rp, rawSize: rightBytes, count: Int32(c - pos), flags: 0)
        nodes[ni].rawSize = byteOffset
        nodes[ni].count = Int32(pos)
        shrinkToFit(ni)
        insertNode(right, at: ni + 1)
        if allowsInsert(ni, s.count) {
            insertBytes(s, plan, node: ni, at: byteOffset)
        } else if allowsInsert(ni + 1, s.count) {
            insertBytes(s, plan, node: ni + 1, at: 0)
        } else {
            insertNode(Quicklist.makeNode(s, plan), at: ni + 1)
        }
    }

    func insertBytes(_ s: UnsafeRawBufferPointer, _ plan: (size: Int, int: Int?), node ni: Int, at off: Int) {
        ensureRaw(ni)
        reserve(ni, plan.size)
        let b = nodes[ni].buf
        memmove(b + off + plan.size, b + off, nodes[ni].rawSize - off)
        QuicklistCodec.write(s, plan, at: b + off)
        nodes[ni].rawSize += plan.size
        nodes[ni].count += 1
    }

    /// Deletes `n` elements starting at index `start` (0 ..< count).
    public func deleteRange(start: Int, count n: Int) {
        guard start >= 0 && start < count && n > 0 else { return }
        var remaining = min(n, count - start)
        var (ni, e) = locate(start)
        count -= remaining
        invalidateTail()
        while remaining > 0 && ni < nodesCount {
            let c = nodes[ni].entries
            let k = min(c - e, remaining)
            if e == 0 && k == c {
                removeNode(at: ni)
            } else {
                ensureRaw(ni)
                let b = nodes[ni].buf
                let a = offset(node: ni, entry: e, b)
                var z = a
                for _ in 0..<k { z += QuicklistCodec.entrySize(b + z) }
                memmove(b + a, b + z, nodes[ni].rawSize - z)
                nodes[ni].rawSize -= z - a
                nodes[ni].count -= Int32(k)
                ni += 1
            }
            remaining -= k
            e = 0
        }
        invalidateTail()
        applyCompression()
    }

    /// Removes up to `limit` elements (0 = all) for which `match` holds, scanning from the
    /// head, or from the tail when `fromTail`. Returns how many were removed.
    public func removeMatching(limit: Int, fromTail: Bool, _ match: (QuicklistValue) -> Bool) -> Int {
        var removed = 0
        invalidateTail()
        defer { applyCompression() }
        if !fromTail {
            var ni = 0
            while ni < nodesCount {
                if limit > 0 && removed >= limit { break }
                ensureRaw(ni)
                let b = nodes[ni].buf
                var r = 0, w = 0, kept: Int32 = 0
                let c = nodes[ni].entries
                for _ in 0..<c {
                    let (v, sz) = QuicklistCodec.decode(b + r)
                    if (limit == 0 || removed < limit) && match(v) {
                        removed += 1
                    } else {
                        if w != r { memmove(b + w, b + r, sz) }
                        w += sz
                        kept += 1
                    }
                    r += sz
                }
                count -= c - Int(kept)
                if kept == 0 {
                    removeNode(at: ni)
                } else {
                    nodes[ni].rawSize = w
                    nodes[ni].count = kept
                    ni += 1
                }
            }
        } else {
            var ni = nodesCount - 1
            var offs: [Int] = []
            var drop: [Bool] = []
            while ni >= 0 {
                if limit > 0 && removed >= limit { break }
                let c = nodes[ni].entries
                let hits: Int = withRaw(ni) { p in
                    offs.removeAll(keepingCapacity: true)
                    var off = 0
                    for _ in 0..<c { offs.append(off); off += QuicklistCodec.entrySize(p + off) }
                    drop = [Bool](repeating: false, count: c)
                    var h = 0
                    var k = c - 1
                    while k >= 0 && (limit == 0 || removed + h < limit) {
                        if match(QuicklistCodec.decode(p + offs[k]).0) { drop[k] = true; h += 1 }
                        k -= 1
                    }
                    return h
                }
                if hits > 0 {
                    removed += hits
                    count -= hits
                    if hits == c {
                        removeNode(at: ni)
                    } else {
                        ensureRaw(ni)
                        let b = nodes[ni].buf
                        var w = 0
                        for k in 0..<c where !drop[k] {
                            let sz = QuicklistCodec.entrySize(b + offs[k])
                            if w != offs[k] { memmove(b + w, b + offs[k], sz) }
                            w += sz
                        }
                        nodes[ni].rawSize = w
                        nodes[ni].count = Int32(c - hits)
                    }
                }
                ni -= 1
            }
        }
        return removed
    }

    /// Appends every element of a sequence of byte strings (bulk building, e.g. SORT STORE).
    public func append(contentsOf elements: [[UInt8]]) {
        for e in elements { e.withUnsafeBytes { pushTail($0) } }
    }

    /// All elements as owned byte arrays (tests, small lists).
    public var allElements: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        forEach(from: 0, reverse: false) { v in out.append(v.bytes); return true }
        return out
    }
}
