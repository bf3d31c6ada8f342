import CTern
#if canImport(Glibc)
import Glibc
#endif

/// A set of integers (OBJECT ENCODING "intset"): a sorted array in one malloc'd block.
///
///   0  count  UInt32
///   4  width  UInt8   bytes per element: 1, 2, 4 or 8
///   8  base   Int64   the smallest value ever needed as origin
///  16  offsets: (value - base) as unsigned little-endian integers of `width` bytes
///
/// Leaner than Redis's intset, whose width follows the magnitude of the values: here it
/// follows their range, so 100 integers between 1000 and 1099 take one byte each.
public final class IntSet: StoredCollection {
    var base: UnsafeMutableRawPointer
    static let headerSize = 16

    public init(capacity: Int = 4) {
        guard let p = malloc(IntSet.headerSize + capacity) else { fatalError("Tern: out of memory") }
        base = p
        p.storeBytes(of: UInt32(0), as: UInt32.self)
        p.storeBytes(of: UInt8(1), toByteOffset: 4, as: UInt8.self)
        p.storeBytes(of: Int64(0), toByteOffset: 8, as: Int64.self)
    }

    init(raw: UnsafeMutableRawPointer) { base = raw }
    deinit { free(base) }

    @inline(__always) public var count: Int { Int(base.load(as: UInt32.self)) }
    @inline(__always) public var elementCount: Int { count }
    @inline(__always) var width: Int { Int(base.load(fromByteOffset: 4, as: UInt8.self)) }
    @inline(__always) var origin: Int64 { base.load(fromByteOffset: 8, as: Int64.self) }
    @inline(__always) var data: UnsafeMutableRawPointer { base + IntSet.headerSize }

    public var allocatedBytes: Int { 32 + tern_malloc_usable_size(base) }

    public func deepCopy() -> StoredCollection {
        let n = IntSet.headerSize + count * width
        guard let p = malloc(n) else { fatalError("Tern: out of memory") }
        memcpy(p, base, n)
        return IntSet(raw: p)
    }

    @inline(__always) func offset(_ i: Int) -> UInt64 {
        let p = data
        switch width {
        case 1: return UInt64(p.load(fromByteOffset: i, as: UInt8.self))
        case 2: return UInt64(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        case 4: return UInt64(p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
        default: return p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
        }
    }

    @inline(__always) func setOffset(_ i: Int, _ v: UInt64, width w: Int) {
        let p = data
        switch w {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: 2 * i, as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: v), toByteOffset: 4 * i, as: UInt32.self)
        default: p.storeBytes(of: v, toByteOffset: 8 * i, as: UInt64.self)
        }
    }

    /// Value at sorted position i.
    @inline(__always) public func value(at i: Int) -> Int {
        Int(Int64(bitPattern: UInt64(bitPattern: origin) &+ offset(i)))
    }

    /// (found, insertion index) by binary search.
    @inline(__always)
    func search(_ v: Int) -> (Bool, Int) {
        let n = count
        if n == 0 { return (false, 0) }
        let o = origin
        if Int64(v) < o { return (false, 0) }
        let target = UInt64(bitPattern: Int64(v) &- o)
        if target > offset(n - 1) { return (false, n) }
        var lo = 0, hi = n - 1
        while lo <= hi {
            let mid = (lo + hi) >> 1
            let x = offset(mid)
            if x == target { return (true, mid) }
            if x < target { lo = mid + 1 } else { hi = mid - 1 }
        }
        return (false, lo)
    }

    @inline(__always) public func contains(_ v: Int) -> Bool { search(v).0 }

    static func widthFor(_ range: UInt64) -> Int {
        if range <= 0xFF { return 1 }
        if range <= 0xFFFF { return 2 }
        if range <= 0xFFFF_FFFF { return 4 }
        return 8
    }

    /// Re-encodes for a new origin/width holding `extra` more slots.
    func reencode(origin newOrigin: Int64, width newWidth: Int, extra: Int) {
        let n = count, oldW = width, oldO = origin
        let need = IntSet.headerSize + (n + extra) * newWidth
        guard let p = malloc(need) else { fatalError("Tern: out of memory") }
        let old = base
        let oldData = old + IntSet.headerSize
        base = p
        p.storeBytes(of: UInt32(n), as: UInt32.self)
        p.storeBytes(of: UInt8(newWidth), toByteOffset: 4, as: UInt8.self)
        p.storeBytes(of: newOrigin, toByteOffset: 8, as: Int64.self)
        let delta = UInt64(bitPattern: oldO &- newOrigin)
        for i in 0..<n {
            let o: UInt64
            switch oldW {
            case 1: o = UInt64(oldData.load(fromByteOffset: i, as: UInt8.self))
            case 2: o = UInt64(oldData.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            case 4: o = UInt64(oldData.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            default: o = oldData.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
            }
            setOffset(i, o &+ delta, width: newWidth)
        }
        free(old)
    }

    /// Adds v; returns false if it was already present.
    @discardableResult
    public func add(_ v: Int) -> Bool {
        let n = count
        if n == 0 {
            if base.load(fromByteOffset: 8, as: Int64.self) != Int64(v) || width != 1 {
                base.storeBytes(of: Int64(v), toByteOffset: 8, as: Int64.self)
                base.storeBytes(of: UInt8(1), toByteOffset: 4, as: UInt8.self)
            }
        }
        let (found, idx) = search(v)
        if found { return false }
        var o = origin
        let hiValue = n > 0 ? Int64(value(at: n - 1)) : Int64(v)
        let loValue = n > 0 ? min(o, Int64(v)) : Int64(v)
        let range = UInt64(bitPattern: max(hiValue, Int64(v)) &- loValue)
        let w = IntSet.widthFor(range)
        if loValue < o || w > width {
            reencode(origin: loValue, width: max(w, width), extra: 1)
            o = loValue
        } else {
            let need = IntSet.headerSize + (n + 1) * width
            if need > tern_malloc_usable_size(base) {
                guard let p = realloc(base, need) else { fatalError("Tern: out of memory") }
                base = p
            }
        }
        let wd = width
        if idx < n { memmove(data + (idx + 1) * wd, data + idx * wd, (n - idx) * wd) }
        setOffset(idx, UInt64(bitPattern: Int64(v) &- o), width: wd)
        base.storeBytes(of: UInt32(n + 1), as: UInt32.self)
        return true
    }

    /// Removes v; returns false if it was absent.
    @discardableResult
    public func remove(_ v: Int) -> Bool {
        let (found, idx) = search(v)
        if !found { return false }
        removeAt(idx)
        return true
    }

    /// Removes the element at sorted position idx.
    public func removeAt(_ idx: Int) {
        let n = count, wd = width
        if idx < n - 1 { memmove(data + idx * wd, data + (idx + 1) * wd, (n - idx - 1) * wd) }
        base.storeBytes(of: UInt32(n - 1), as: UInt32.self)
        let used = IntSet.headerSize + (n - 1) * wd
        if tern_malloc_usable_size(base) > 2 * used + 64, let p = realloc(base, used) { base = p }
    }

    @inline(__always)
    public func forEach(_ body: (Int) -> Void) {
        for i in 0..<count { body(value(at: i)) }
    }

    public var maxValue: Int? { count > 0 ? value(at: count - 1) : nil }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        forEach { v in ListpackCodec.withIntText(v) { body($0, nil) } }
    }
}
