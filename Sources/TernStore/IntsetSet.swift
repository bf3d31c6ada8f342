import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Header of an IntSet: element count, bits per element, and the origin every element is
/// stored relative to.
public struct IntSetHeader {
    var count: UInt32
    var bits: UInt8
    var origin: Int64
}

/// A set of integers (OBJECT ENCODING "intset"): a sorted, bit-packed array living in the
/// object's own allocation (one malloc per set, no separate buffer).
///
/// Element i is `value - origin` as an unsigned integer of `bits` bits at bit offset
/// i * bits (little-endian). `bits` follows the range of the values, not their magnitude
/// as in Redis's intset: 100 integers in 0...99 take 7 bits each, 100 random integers below
/// 1e9 take 30. Widths above 57 bits are stored as 64 so one unaligned 8-byte load always
/// reads an element; 7 bytes of padding keep that load inside the allocation.
///
/// Growth makes a new object (`inserting` returns it); the caller stores it in the key.
public final class IntSet: ManagedBuffer<IntSetHeader, UInt8>, StoredCollection {
    /// An empty set with room for `capacity` elements of `bits` bits.
    public static func make(capacity: Int = 1, bits: Int = 1, origin: Int64 = 0) -> IntSet {
        let b = IntSet.normalizedBits(bits)
        let obj = IntSet.create(minimumCapacity: IntSet.bytesFor(capacity, b)) { _ in
            IntSetHeader(count: 0, bits: UInt8(b), origin: origin)
        }
        return unsafeDowncast(obj, to: IntSet.self)
    }

    @inline(__always) static func normalizedBits(_ b: Int) -> Int { b > 57 ? 64 : max(1, b) }
    @inline(__always) static func bytesFor(_ n: Int, _ bits: Int) -> Int { (n * bits + 7) / 8 + 7 }

    @inline(__always) public var count: Int { Int(header.count) }
    public var elementCount: Int { count }
    @inline(__always) var bits: Int { Int(header.bits) }
    @inline(__always) var origin: Int64 { header.origin }

    public var allocatedBytes: Int { tern_malloc_usable_size(Unmanaged.passUnretained(self).toOpaque()) }

    public func deepCopy() -> StoredCollection {
        let n = count
        let copy = IntSet.make(capacity: n, bits: bits, origin: origin)
        let bytes = IntSet.bytesFor(n, bits)
        withUnsafeMutablePointerToElements { src in
            copy.withUnsafeMutablePointerToElements { dst in dst.update(from: src, count: bytes) }
        }
        copy.header.count = UInt32(n)
        return copy
    }

    // MARK: element access

    @inline(__always) static func load(_ data: UnsafeMutablePointer<UInt8>, _ i: Int, _ bits: Int) -> UInt64 {
        let bit = i &* bits
        let x = UnsafeRawPointer(data + (bit >> 3)).loadUnaligned(as: UInt64.self) >> UInt64(bit & 7)
        let one: UInt64 = 1
        return bits == 64 ? x : x & ((one << UInt64(bits)) &- 1)
    }

    @inline(__always) static func store(_ data: UnsafeMutablePointer<UInt8>, _ i: Int, _ bits: Int, _ v: UInt64) {
        let bit = i &* bits
        let p = UnsafeMutableRawPointer(data + (bit >> 3))
        if bits == 64 { p.storeBytes(of: v, as: UInt64.self); return }
        let shift = UInt64(bit & 7)
        let one: UInt64 = 1
        let mask: UInt64 = ((one << UInt64(bits)) &- 1) << shift
        let old = p.loadUnaligned(as: UInt64.self)
        p.storeBytes(of: (old & ~mask) | ((v << shift) & mask), as: UInt64.self)
    }

    /// Value at sorted position i.
    @inline(__always) public func value(at i: Int) -> Int {
        let b = bits, o = origin
        return withUnsafeMutablePointerToElements { d in
            Int(Int64(bitPattern: UInt64(bitPattern: o) &+ IntSet.load(d, i, b)))
        }
    }

    /// (found, insertion index) by binary search.
    @inline(__always)
    func search(_ v: Int) -> (Bool, Int) {
        let n = count
        if n == 0 { return (false, 0) }
        let o = origin, b = bits
        if Int64(v) < o { return (false, 0) }
        let target = UInt64(bitPattern: Int64(v) &- o)
        return withUnsafeMutablePointerToElements { d in
            if target > IntSet.load(d, n - 1, b) { return (false, n) }
            var lo = 0, hi = n - 1
            while lo <= hi {
                let mid = (lo + hi) >> 1
                let x = IntSet.load(d, mid, b)
                if x == target { return (true, mid) }
                if x < target { lo = mid + 1 } else { hi = mid - 1 }
            }
            return (false, lo)
        }
    }

    @inline(__always) public func contains(_ v: Int) -> Bool { search(v).0 }

    static func bitsFor(_ range: UInt64) -> Int { normalizedBits(64 - range.leadingZeroBitCount) }

    /// Adds v. Returns the set holding the result (self, or a bigger copy that replaces it)
    /// and whether v was new.
    public func inserting(_ v: Int) -> (IntSet, Bool) {
        let n = count
        let (found, idx) = search(v)
        if found { return (self, false) }
        let o = origin, b = bits
        let lo = n > 0 ? min(o, Int64(v)) : Int64(v)
        let hi = n > 0 ? max(Int64(value(at: n - 1)), Int64(v)) : Int64(v)
        let nb = max(IntSet.bitsFor(UInt64(bitPattern: hi &- lo)), n > 0 && lo == o ? b : 1)
        if n > 0 && lo == o && nb == b && IntSet.bytesFor(n + 1, b) <= capacity {
            // In place: shift the tail up one slot.
            withUnsafeMutablePointerToElements { d in
                var i = n
                while i > idx { IntSet.store(d, i, b, IntSet.load(d, i - 1, b)); i -= 1 }
                IntSet.store(d, idx, b, UInt64(bitPattern: Int64(v) &- o))
            }
            header.count = UInt32(n + 1)
            return (self, true)
        }
        // Re-encode into a new object (new origin, width or capacity).
        let out = IntSet.make(capacity: n + 1, bits: nb, origin: lo)
        let delta = UInt64(bitPattern: o &- lo)
        withUnsafeMutablePointerToElements { src in
            out.withUnsafeMutablePointerToElements { dst in
                for i in 0..<idx { IntSet.store(dst, i, nb, IntSet.load(src, i, b) &+ delta) }
                IntSet.store(dst, idx, nb, UInt64(bitPattern: Int64(v) &- lo))
                for i in idx..<n { IntSet.store(dst, i + 1, nb, IntSet.load(src, i, b) &+ delta) }
            }
        }
        out.header.count = UInt32(n + 1)
        return (out, true)
    }

    /// A set of `n` >= 1 values given in strictly ascending order by `value(i)`, built in one
    /// allocation of the final size (loading a Redis intset).
    public static func make(ascending n: Int, _ value: (Int) -> Int) -> IntSet {
        let lo = Int64(value(0)), hi = Int64(value(n - 1))
        let b = IntSet.bitsFor(UInt64(bitPattern: hi &- lo))
        let out = IntSet.make(capacity: n, bits: b, origin: lo)
        out.withUnsafeMutablePointerToElements { dst in
            for i in 0..<n { IntSet.store(dst, i, b, UInt64(bitPattern: Int64(value(i)) &- lo)) }
        }
        out.header.count = UInt32(n)
        return out
    }

    /// A new set holding these members and `values` (ascending, distinct, none present yet):
    /// a multi-member SADD builds its result in one allocation instead of re-encoding the set
    /// once per member, which left partly used slabs of every size class on the way.
    public func merging(_ values: [Int]) -> IntSet {
        let n = count, k = values.count
        if k == 0 { return self }
        var lo = Int64(values[0]), hi = Int64(values[k - 1])
        if n > 0 {
            lo = min(lo, Int64(value(at: 0)))
            hi = max(hi, Int64(value(at: n - 1)))
        }
        let nb = IntSet.bitsFor(UInt64(bitPattern: hi &- lo))
        let out = IntSet.make(capacity: n + k, bits: nb, origin: lo)
        out.withUnsafeMutablePointerToElements { dst in
            var i = 0, j = 0, w = 0
            while i < n || j < k {
                let v: Int
                if j >= k || (i < n && value(at: i) < values[j]) {
                    v = value(at: i); i += 1
                } else {
                    v = values[j]; j += 1
                }
                IntSet.store(dst, w, nb, UInt64(bitPattern: Int64(v) &- lo))
                w += 1
            }
        }
        out.header.count = UInt32(n + k)
        return out
    }

    /// Removes v in place; returns false if it was absent.
    @discardableResult
    public func remove(_ v: Int) -> Bool {
        let (found, idx) = search(v)
        if !found { return false }
        removeAt(idx)
        return true
    }

    /// Removes the element at sorted position idx (in place; see `compacted`).
    public func removeAt(_ idx: Int) {
        let n = count, b = bits
        withUnsafeMutablePointerToElements { d in
            for i in idx..<(n - 1) { IntSet.store(d, i, b, IntSet.load(d, i + 1, b)) }
        }
        header.count = UInt32(n - 1)
    }

    /// A right-sized copy when deletions left more than half the allocation unused.
    public func compacted() -> IntSet? {
        let n = count
        if capacity < 64 || IntSet.bytesFor(n, bits) * 2 > capacity { return nil }
        let out = IntSet.make(capacity: n, bits: bits, origin: origin)
        let b = bits
        withUnsafeMutablePointerToElements { src in
            out.withUnsafeMutablePointerToElements { dst in
                for i in 0..<n { IntSet.store(dst, i, b, IntSet.load(src, i, b)) }
            }
        }
        out.header.count = UInt32(n)
        return out
    }

    @inline(__always)
    public func forEach(_ body: (Int) -> Void) {
        let n = count, b = bits, o = UInt64(bitPattern: origin)
        withUnsafeMutablePointerToElements { d in
            for i in 0..<n { body(Int(Int64(bitPattern: o &+ IntSet.load(d, i, b)))) }
        }
    }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        forEach { v in ListpackCodec.withIntText(v) { body($0, nil) } }
    }
}
