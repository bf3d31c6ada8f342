import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Order-statistic B+tree over (score, member) for big sorted sets: O(log n) insert,
/// delete, rank, select and range bounds, with leaves linked both ways for range walks.
/// Entries are (score, element block); the member bytes live in the block (see
/// ElementBlock), so comparisons touch a block only when scores tie.
///
/// Leaf node:  0 count Int32, 4 kind Int32 (1), 8 prev, 16 next, 24 entries[leafCap]
///             entry = score Double, block pointer (16 bytes)
/// Inner node: 0 count Int32, 4 kind Int32 (0), 24 entries[innerCap]
///             entry = child, subtree size Int, low score, low block (32 bytes):
///             the low key is the child's first (smallest) entry.
public struct ZSetTree {
    // 24 + 16 * 62 and 24 + 32 * 31 are 1,016 bytes: nodes fill jemalloc's 1 KiB size class
    // (64 / 32 entries took 1,048 bytes, which the allocator rounds up to 1,280).
    public static let leafCap = 62
    public static let innerCap = 31
    static let headerSize = 24
    static let leafBytes = headerSize + 16 * leafCap
    static let innerBytes = headerSize + 32 * innerCap

    public private(set) var root: UnsafeMutableRawPointer? = nil
    /// Levels of inner nodes above the leaves.
    public private(set) var height = 0
    public private(set) var count = 0
    public private(set) var firstLeaf: UnsafeMutableRawPointer? = nil
    public private(set) var lastLeaf: UnsafeMutableRawPointer? = nil

    public init() {}

    // MARK: node fields

    @inline(__always) static func n(_ p: UnsafeMutableRawPointer) -> Int { Int(p.load(as: Int32.self)) }
    @inline(__always) static func setN(_ p: UnsafeMutableRawPointer, _ v: Int) { p.storeBytes(of: Int32(v), as: Int32.self) }
    @inline(__always) static func prev(_ p: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? { p.load(fromByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
    @inline(__always) static func setPrev(_ p: UnsafeMutableRawPointer, _ v: UnsafeMutableRawPointer?) { p.storeBytes(of: v, toByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
    @inline(__always) static func next(_ p: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? { p.load(fromByteOffset: 16, as: UnsafeMutableRawPointer?.self) }
    @inline(__always) static func setNext(_ p: UnsafeMutableRawPointer, _ v: UnsafeMutableRawPointer?) { p.storeBytes(of: v, toByteOffset: 16, as: UnsafeMutableRawPointer?.self) }

    @inline(__always) public static func score(_ leaf: UnsafeMutableRawPointer, _ i: Int) -> Double { leaf.load(fromByteOffset: 24 + 16 * i, as: Double.self) }
    @inline(__always) public static func block(_ leaf: UnsafeMutableRawPointer, _ i: Int) -> UnsafeMutableRawPointer { leaf.load(fromByteOffset: 32 + 16 * i, as: UnsafeMutableRawPointer.self) }
    @inline(__always) static func setEntry(_ leaf: UnsafeMutableRawPointer, _ i: Int, _ s: Double, _ b: UnsafeMutableRawPointer) {
        leaf.storeBytes(of: s, toByteOffset: 24 + 16 * i, as: Double.self)
        leaf.storeBytes(of: b, toByteOffset: 32 + 16 * i, as: UnsafeMutableRawPointer.self)
    }
    @inline(__always) static func leafEntry(_ leaf: UnsafeMutableRawPointer, _ i: Int) -> UnsafeMutableRawPointer { leaf + 24 + 16 * i }

    @inline(__always) static func child(_ p: UnsafeMutableRawPointer, _ i: Int) -> UnsafeMutableRawPointer { p.load(fromByteOffset: 24 + 32 * i, as: UnsafeMutableRawPointer.self) }
    @inline(__always) static func size(_ p: UnsafeMutableRawPointer, _ i: Int) -> Int { p.load(fromByteOffset: 32 + 32 * i, as: Int.self) }
    @inline(__always) static func setSize(_ p: UnsafeMutableRawPointer, _ i: Int, _ v: Int) { p.storeBytes(of: v, toByteOffset: 32 + 32 * i, as: Int.self) }
    @inline(__always) static func lowScore(_ p: UnsafeMutableRawPointer, _ i: Int) -> Double { p.load(fromByteOffset: 40 + 32 * i, as: Double.self) }
    @inline(__always) static func lowBlock(_ p: UnsafeMutableRawPointer, _ i: Int) -> UnsafeMutableRawPointer { p.load(fromByteOffset: 48 + 32 * i, as: UnsafeMutableRawPointer.self) }
    @inline(__always) static func innerEntry(_ p: UnsafeMutableRawPointer, _ i: Int) -> UnsafeMutableRawPointer { p + 24 + 32 * i }
    @inline(__always) static func setInner(_ p: UnsafeMutableRawPointer, _ i: Int, child c: UnsafeMutableRawPointer, size: Int, leaf: Bool) {
        p.storeBytes(of: c, toByteOffset: 24 + 32 * i, as: UnsafeMutableRawPointer.self)
        p.storeBytes(of: size, toByteOffset: 32 + 32 * i, as: Int.self)
        setLow(p, i, c, leaf: leaf)
    }
    /// Refreshes the low key of entry i from its child.
    @inline(__always) static func setLow(_ p: UnsafeMutableRawPointer, _ i: Int, _ c: UnsafeMutableRawPointer, leaf: Bool) {
        let s: Double, b: UnsafeMutableRawPointer
        if leaf {
            guard n(c) > 0 else { return }
            s = score(c, 0); b = block(c, 0)
        } else {
            s = lowScore(c, 0); b = lowBlock(c, 0)
        }
        p.storeBytes(of: s, toByteOffset: 40 + 32 * i, as: Double.self)
        p.storeBytes(of: b, toByteOffset: 48 + 32 * i, as: UnsafeMutableRawPointer.self)
    }

    static func newLeaf() -> UnsafeMutableRawPointer {
        guard let p = malloc(leafBytes) else { fatalError("Tern: out of memory") }
        p.storeBytes(of: Int32(0), as: Int32.self)
        p.storeBytes(of: Int32(1), toByteOffset: 4, as: Int32.self)
        setPrev(p, nil); setNext(p, nil)
        return p
    }

    static func newInner() -> UnsafeMutableRawPointer {
        guard let p = malloc(innerBytes) else { fatalError("Tern: out of memory") }
        p.storeBytes(of: Int32(0), as: Int32.self)
        p.storeBytes(of: Int32(0), toByteOffset: 4, as: Int32.self)
        return p
    }

    static func subtreeSize(_ p: UnsafeMutableRawPointer, leaf: Bool) -> Int {
        if leaf { return n(p) }
        var t = 0
        for i in 0..<n(p) { t += size(p, i) }
        return t
    }

    // MARK: ordering

    /// Binary order of members (memcmp, then length), as Redis's sdscmp.
    @inline(__always)
    public static func compareMembers(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Int {
        if a == b { return 0 }
        return compareBytes(ElementBlock.key(a), ElementBlock.key(b))
    }

    @inline(__always)
    public static func compareBytes(_ ka: UnsafeRawBufferPointer, _ kb: UnsafeRawBufferPointer) -> Int {
        let m = min(ka.count, kb.count)
        if m > 0 {
            let r = memcmp(ka.baseAddress!, kb.baseAddress!, m)
            if r != 0 { return Int(r) }
        }
        return ka.count - kb.count
    }

    /// (s1, b1) < (s2, b2)
    @inline(__always)
    static func less(_ s1: Double, _ b1: UnsafeRawPointer, _ s2: Double, _ b2: UnsafeRawPointer) -> Bool {
        if s1 < s2 { return true }
        if s1 > s2 { return false }
        return compareMembers(b1, b2) < 0
    }

    /// Index of the child whose range holds (s, b): the last child whose low key <= key.
    @inline(__always)
    static func childIndex(_ p: UnsafeMutableRawPointer, _ s: Double, _ b: UnsafeRawPointer) -> Int {
        var lo = 1, hi = n(p) - 1, ans = 0
        while lo <= hi {
            let mid = (lo + hi) >> 1
            if less(s, b, lowScore(p, mid), lowBlock(p, mid)) { hi = mid - 1 } else { ans = mid; lo = mid + 1 }
        }
        return ans
    }

    /// First leaf index whose entry is not less than (s, b).
    @inline(__always)
    static func lowerBound(_ leaf: UnsafeMutableRawPointer, _ s: Double, _ b: UnsafeRawPointer) -> Int {
        var lo = 0, hi = n(leaf)
        while lo < hi {
            let mid = (lo + hi) >> 1
            if less(score(leaf, mid), block(leaf, mid), s, b) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    // MARK: insert

    /// Inserts (s, b); the pair must not be present.
    public mutating func insert(_ s: Double, _ b: UnsafeMutableRawPointer) {
        guard let r = root else {
            let leaf = ZSetTree.newLeaf()
            ZSetTree.setEntry(leaf, 0, s, b)
            ZSetTree.setN(leaf, 1)
            root = leaf; firstLeaf = leaf; lastLeaf = leaf
            height = 0; count = 1
            return
        }
        if let sib = insertRec(r, height, s, b) {
            let nr = ZSetTree.newInner()
            let leaf = height == 0
            ZSetTree.setInner(nr, 0, child: r, size: ZSetTree.subtreeSize(r, leaf: leaf), leaf: leaf)
            ZSetTree.setInner(nr, 1, child: sib, size: ZSetTree.subtreeSize(sib, leaf: leaf), leaf: leaf)
            ZSetTree.setN(nr, 2)
            root = nr
            height += 1
        }
        count += 1
    }

    /// Returns the new right sibling when `p` split.
    mutating func insertRec(_ p: UnsafeMutableRawPointer, _ level: Int, _ s: Double, _ b: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        if level == 0 {
            let pos = ZSetTree.lowerBound(p, s, b)
            let cnt = ZSetTree.n(p)
            if cnt < ZSetTree.leafCap {
                let e = ZSetTree.leafEntry(p, pos)
                if pos < cnt { memmove(e + 16, e, 16 * (cnt - pos)) }
                ZSetTree.setEntry(p, pos, s, b)
                ZSetTree.setN(p, cnt + 1)
                return nil
            }
            let r = ZSetTree.newLeaf()
            let half = cnt / 2
            memcpy(ZSetTree.leafEntry(r, 0), ZSetTree.leafEntry(p, half), 16 * (cnt - half))
            ZSetTree.setN(r, cnt - half)
            ZSetTree.setN(p, half)
            let nx = ZSetTree.next(p)
            ZSetTree.setNext(r, nx); ZSetTree.setPrev(r, p); ZSetTree.setNext(p, r)
            if let nx = nx { ZSetTree.setPrev(nx, r) } else { lastLeaf = r }
            let (target, at) = pos <= half ? (p, pos) : (r, pos - half)
            let tc = ZSetTree.n(target)
            let e = ZSetTree.leafEntry(target, at)
            if at < tc { memmove(e + 16, e, 16 * (tc - at)) }
            ZSetTree.setEntry(target, at, s, b)
            ZSetTree.setN(target, tc + 1)
            return r
        }
        let i = ZSetTree.childIndex(p, s, b)
        let c = ZSetTree.child(p, i)
        let childLeaf = level == 1
        let sib = insertRec(c, level - 1, s, b)
        ZSetTree.setLow(p, i, c, leaf: childLeaf)
        guard let sb = sib else {
            ZSetTree.setSize(p, i, ZSetTree.size(p, i) + 1)
            return nil
        }
        let leftSize = ZSetTree.subtreeSize(c, leaf: childLeaf)
        let rightSize = ZSetTree.size(p, i) + 1 - leftSize
        ZSetTree.setSize(p, i, leftSize)
        let cnt = ZSetTree.n(p)
        if cnt < ZSetTree.innerCap {
            let e = ZSetTree.innerEntry(p, i + 1)
            if i + 1 < cnt { memmove(e + 32, e, 32 * (cnt - i - 1)) }
            ZSetTree.setInner(p, i + 1, child: sb, size: rightSize, leaf: childLeaf)
            ZSetTree.setN(p, cnt + 1)
            return nil
        }
        // Split this inner node, then place the new child.
        let r = ZSetTree.newInner()
        let half = cnt / 2
        memcpy(ZSetTree.innerEntry(r, 0), ZSetTree.innerEntry(p, half), 32 * (cnt - half))
        ZSetTree.setN(r, cnt - half)
        ZSetTree.setN(p, half)
        let at = i + 1
        let (target, k) = at <= half ? (p, at) : (r, at - half)
        let tc = ZSetTree.n(target)
        let e = ZSetTree.innerEntry(target, k)
        if k < tc { memmove(e + 32, e, 32 * (tc - k)) }
        ZSetTree.setInner(target, k, child: sb, size: rightSize, leaf: childLeaf)
        ZSetTree.setN(target, tc + 1)
        return r
    }

    // MARK: remove

    enum Locator {
        case key(Double, UnsafeMutableRawPointer)
        case rank(Int)
    }

    /// Removes (s, b) (b is the element's own block); returns false when absent.
    @discardableResult
    public mutating func remove(_ s: Double, _ b: UnsafeMutableRawPointer) -> Bool {
        guard let r = root else { return false }
        guard removeRec(r, height, .key(s, b)) != nil else { return false }
        finishRemove()
        return true
    }

    /// Removes the entry at `rank` (0-based) and returns its block.
    @discardableResult
    public mutating func remove(at rank: Int) -> UnsafeMutableRawPointer? {
        guard let r = root, rank >= 0, rank < count else { return nil }
        let b = removeRec(r, height, .rank(rank))
        finishRemove()
        return b
    }

    mutating func finishRemove() {
        count -= 1
        guard let r = root else { return }
        if height == 0 {
            if ZSetTree.n(r) == 0 {
                free(r)
                root = nil; firstLeaf = nil; lastLeaf = nil
            }
        } else if ZSetTree.n(r) == 1 {
            root = ZSetTree.child(r, 0)
            free(r)
            height -= 1
        }
    }

    /// Returns the removed block, or nil when the key was not found.
    mutating func removeRec(_ p: UnsafeMutableRawPointer, _ level: Int, _ loc: Locator) -> UnsafeMutableRawPointer? {
        if level == 0 {
            let cnt = ZSetTree.n(p)
            let idx: Int
            switch loc {
            case .rank(let r): idx = r
            case .key(let s, let b):
                idx = ZSetTree.lowerBound(p, s, b)
                if idx >= cnt || ZSetTree.block(p, idx) != b { return nil }
            }
            let b = ZSetTree.block(p, idx)
            let e = ZSetTree.leafEntry(p, idx)
            if idx < cnt - 1 { memmove(e, e + 16, 16 * (cnt - idx - 1)) }
            ZSetTree.setN(p, cnt - 1)
            return b
        }
        var i: Int
        var sub = loc
        switch loc {
        case .key(let s, let b): i = ZSetTree.childIndex(p, s, b)
        case .rank(var r):
            i = 0
            while r >= ZSetTree.size(p, i) { r -= ZSetTree.size(p, i); i += 1 }
            sub = .rank(r)
        }
        let c = ZSetTree.child(p, i)
        guard let removed = removeRec(c, level - 1, sub) else { return nil }
        ZSetTree.setSize(p, i, ZSetTree.size(p, i) - 1)
        let childLeaf = level == 1
        ZSetTree.setLow(p, i, c, leaf: childLeaf)
        rebalance(p, i, childLeaf: childLeaf)
        return removed
    }

    /// Merges or evens out child i with a neighbour when it fell below a quarter full.
    mutating func rebalance(_ p: UnsafeMutableRawPointer, _ i: Int, childLeaf: Bool) {
        let cap = childLeaf ? ZSetTree.leafCap : ZSetTree.innerCap
        let c = ZSetTree.child(p, i)
        if ZSetTree.n(c) >= cap / 4 || ZSetTree.n(p) < 2 { return }
        let j = i > 0 ? i - 1 : i
        let l = ZSetTree.child(p, j), r = ZSetTree.child(p, j + 1)
        let nl = ZSetTree.n(l), nr = ZSetTree.n(r)
        let width = childLeaf ? 16 : 32
        func entry(_ node: UnsafeMutableRawPointer, _ k: Int) -> UnsafeMutableRawPointer { node + ZSetTree.headerSize + width * k }
        if nl + nr <= cap {
            // Merge r into l.
            if nr > 0 { memcpy(entry(l, nl), entry(r, 0), width * nr) }
            ZSetTree.setN(l, nl + nr)
            if childLeaf {
                let nx = ZSetTree.next(r)
                ZSetTree.setNext(l, nx)
                if let nx = nx { ZSetTree.setPrev(nx, l) } else { lastLeaf = l }
            }
            ZSetTree.setSize(p, j, ZSetTree.size(p, j) + ZSetTree.size(p, j + 1))
            free(r)
            let pc = ZSetTree.n(p)
            let e = ZSetTree.innerEntry(p, j + 1)
            if j + 2 < pc { memmove(e, e + 32, 32 * (pc - j - 2)) }
            ZSetTree.setN(p, pc - 1)
            ZSetTree.setLow(p, j, l, leaf: childLeaf)
            return
        }
        // Redistribute evenly.
        let total = nl + nr
        let targetL = total / 2
        var moved = 0   // elements moved from r to l (negative: from l to r)
        if nl < targetL {
            let k = targetL - nl
            if childLeaf { moved = k } else { for x in 0..<k { moved += ZSetTree.size(r, x) } }
            memcpy(entry(l, nl), entry(r, 0), width * k)
            memmove(entry(r, 0), entry(r, k), width * (nr - k))
            ZSetTree.setN(l, nl + k); ZSetTree.setN(r, nr - k)
        } else if nl > targetL {
            let k = nl - targetL
            if childLeaf { moved = -k } else { for x in targetL..<nl { moved -= ZSetTree.size(l, x) } }
            memmove(entry(r, k), entry(r, 0), width * nr)
            memcpy(entry(r, 0), entry(l, targetL), width * k)
            ZSetTree.setN(l, targetL); ZSetTree.setN(r, nr + k)
        }
        ZSetTree.setSize(p, j, ZSetTree.size(p, j) + moved)
        ZSetTree.setSize(p, j + 1, ZSetTree.size(p, j + 1) - moved)
        ZSetTree.setLow(p, j, l, leaf: childLeaf)
        ZSetTree.setLow(p, j + 1, r, leaf: childLeaf)
    }

    // MARK: queries

    /// 0-based rank of (s, b), or nil.
    public func rank(_ s: Double, _ b: UnsafeMutableRawPointer) -> Int? {
        guard var p = root else { return nil }
        var acc = 0
        var level = height
        while level > 0 {
            let i = ZSetTree.childIndex(p, s, b)
            for x in 0..<i { acc += ZSetTree.size(p, x) }
            p = ZSetTree.child(p, i)
            level -= 1
        }
        let idx = ZSetTree.lowerBound(p, s, b)
        if idx < ZSetTree.n(p) && ZSetTree.block(p, idx) == b { return acc + idx }
        return nil
    }

    /// Leaf and index of the entry at `rank` (0-based, must be < count).
    public func select(_ rank: Int) -> (UnsafeMutableRawPointer, Int) {
        var p = root!
        var r = rank
        var level = height
        while level > 0 {
            var i = 0
            while r >= ZSetTree.size(p, i) { r -= ZSetTree.size(p, i); i += 1 }
            p = ZSetTree.child(p, i)
            level -= 1
        }
        return (p, r)
    }

    /// Number of entries for which `pred` holds, given that it holds on a prefix of the order.
    public func countPrefix(_ pred: (Double, UnsafeMutableRawPointer) -> Bool) -> Int {
        guard var p = root else { return 0 }
        var acc = 0
        var level = height
        while level > 0 {
            // Last child whose low key satisfies pred.
            var lo = 0, hi = ZSetTree.n(p) - 1, ans = -1
            while lo <= hi {
                let mid = (lo + hi) >> 1
                if pred(ZSetTree.lowScore(p, mid), ZSetTree.lowBlock(p, mid)) { ans = mid; lo = mid + 1 } else { hi = mid - 1 }
            }
            if ans < 0 { return acc }
            for x in 0..<ans { acc += ZSetTree.size(p, x) }
            p = ZSetTree.child(p, ans)
            level -= 1
        }
        var lo = 0, hi = ZSetTree.n(p)
        while lo < hi {
            let mid = (lo + hi) >> 1
            if pred(ZSetTree.score(p, mid), ZSetTree.block(p, mid)) { lo = mid + 1 } else { hi = mid }
        }
        return acc + lo
    }

    /// Visits entries from rank `from` (inclusive) to `to` (exclusive), ascending, or
    /// descending from `to - 1` down to `from`. Stop early by returning false.
    public func walk(from: Int, to: Int, reverse: Bool, _ body: (Double, UnsafeMutableRawPointer) -> Bool) {
        if from >= to || from < 0 || to > count { return }
        if !reverse {
            var (leaf, i) = select(from)
            var left = to - from
            while left > 0 {
                if i >= ZSetTree.n(leaf) {
                    guard let nx = ZSetTree.next(leaf) else { return }
                    leaf = nx; i = 0
                    continue
                }
                if !body(ZSetTree.score(leaf, i), ZSetTree.block(leaf, i)) { return }
                i += 1; left -= 1
            }
        } else {
            var (leaf, i) = select(to - 1)
            var left = to - from
            while left > 0 {
                if i < 0 {
                    guard let pv = ZSetTree.prev(leaf) else { return }
                    leaf = pv; i = ZSetTree.n(leaf) - 1
                    continue
                }
                if !body(ZSetTree.score(leaf, i), ZSetTree.block(leaf, i)) { return }
                i -= 1; left -= 1
            }
        }
    }

    /// Frees every node (not the blocks).
    public mutating func destroy() {
        if let r = root { ZSetTree.freeRec(r, height) }
        root = nil; firstLeaf = nil; lastLeaf = nil; count = 0; height = 0
    }

    static func freeRec(_ p: UnsafeMutableRawPointer, _ level: Int) {
        if level > 0 { for i in 0..<n(p) { freeRec(child(p, i), level - 1) } }
        free(p)
    }

    /// Bytes held by the nodes.
    public var nodeBytes: Int {
        guard let r = root else { return 0 }
        return ZSetTree.bytesRec(r, height)
    }

    static func bytesRec(_ p: UnsafeMutableRawPointer, _ level: Int) -> Int {
        if level == 0 { return tern_malloc_usable_size(p) }
        var t = tern_malloc_usable_size(p)
        for i in 0..<n(p) { t += bytesRec(child(p, i), level - 1) }
        return t
    }

    /// Checks every structural invariant (tests).
    public func verify() -> Bool {
        guard let r = root else { return count == 0 && firstLeaf == nil }
        var leaves: [UnsafeMutableRawPointer] = []
        guard let total = ZSetTree.verifyRec(r, height, &leaves, isRoot: true), total == count else { return false }
        if leaves.first != firstLeaf || leaves.last != lastLeaf { return false }
        for (k, l) in leaves.enumerated() {
            if ZSetTree.prev(l) != (k > 0 ? leaves[k - 1] : nil) { return false }
            if ZSetTree.next(l) != (k + 1 < leaves.count ? leaves[k + 1] : nil) { return false }
        }
        var ps: Double? = nil
        var pb: UnsafeMutableRawPointer? = nil
        for l in leaves {
            for i in 0..<ZSetTree.n(l) {
                let s = ZSetTree.score(l, i), b = ZSetTree.block(l, i)
                if let x = ps, let y = pb, !ZSetTree.less(x, y, s, b) { return false }
                ps = s; pb = b
            }
        }
        return true
    }

    static func verifyRec(_ p: UnsafeMutableRawPointer, _ level: Int, _ leaves: inout [UnsafeMutableRawPointer], isRoot: Bool) -> Int? {
        let cnt = n(p)
        if level == 0 {
            if cnt == 0 && !isRoot { return nil }
            leaves.append(p)
            return cnt
        }
        if cnt < (isRoot ? 2 : 1) { return nil }
        var total = 0
        for i in 0..<cnt {
            let c = child(p, i)
            guard let s = verifyRec(c, level - 1, &leaves, isRoot: false), s == size(p, i) else { return nil }
            let ls: Double, lb: UnsafeMutableRawPointer
            if level == 1 { ls = score(c, 0); lb = block(c, 0) } else { ls = lowScore(c, 0); lb = lowBlock(c, 0) }
            if ls.bitPattern != lowScore(p, i).bitPattern || lb != lowBlock(p, i) { return nil }
            total += s
        }
        return total
    }
}
