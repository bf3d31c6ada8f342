import CTern
#if canImport(Glibc)
import Glibc
#endif

/// One malloc'd block holding a run of ListpackCodec elements:
///
///   0  used   UInt32  bytes in use, header included
///   4  count  UInt32  number of elements (the owner decides what an "item" is)
///   8  elements ...
///
/// The owning class keeps only this pointer, so a small collection costs the owner's
/// object (32 bytes in glibc) plus this one block.
public struct ListpackBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public static let headerSize = 8

    public init(capacity: Int = 32) {
        guard let p = malloc(max(capacity, ListpackBuffer.headerSize)) else { fatalError("Tern: out of memory") }
        base = p
        base.storeBytes(of: UInt32(ListpackBuffer.headerSize), as: UInt32.self)
        base.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
    }

    init(copying other: ListpackBuffer) {
        let n = other.used
        guard let p = malloc(max(n, ListpackBuffer.headerSize)) else { fatalError("Tern: out of memory") }
        memcpy(p, other.base, n)
        base = p
    }

    public func free() { Glibc.free(base) }

    @inline(__always) public var used: Int {
        get { Int(base.load(as: UInt32.self)) }
        nonmutating set { base.storeBytes(of: UInt32(truncatingIfNeeded: newValue), as: UInt32.self) }
    }
    @inline(__always) public var count: Int {
        get { Int(base.load(fromByteOffset: 4, as: UInt32.self)) }
        nonmutating set { base.storeBytes(of: UInt32(truncatingIfNeeded: newValue), toByteOffset: 4, as: UInt32.self) }
    }
    @inline(__always) public var start: UnsafeMutableRawPointer { base + ListpackBuffer.headerSize }
    @inline(__always) public var end: UnsafeMutableRawPointer { base + used }
    public var allocatedBytes: Int { tern_malloc_usable_size(base) }

    /// True if `extra` more bytes keep the buffer under the 1 GiB limit.
    @inline(__always) public func safeToAdd(_ extra: Int) -> Bool { used + extra <= ListpackCodec.maxBufferBytes }

    /// Opens a gap of `n` bytes at offset `off` (from base); returns a pointer to the gap.
    /// Growth leaves ~1/8 headroom so runs of appends do not realloc every time.
    @inline(__always)
    public mutating func openGap(at off: Int, _ n: Int) -> UnsafeMutableRawPointer {
        let u = used
        let need = u + n
        if need > tern_malloc_usable_size(base) {
            let cap = need + (need >> 3)
            guard let p = realloc(base, cap) else { fatalError("Tern: out of memory") }
            base = p
        }
        if off < u { memmove(base + off + n, base + off, u - off) }
        used = need
        return base + off
    }

    /// Removes `n` bytes at offset `off`.
    @inline(__always)
    public mutating func removeBytes(at off: Int, _ n: Int) {
        let u = used
        if off + n < u { memmove(base + off, base + off + n, u - off - n) }
        used = u - n
        // Give memory back when the buffer became much smaller than its block.
        let cap = tern_malloc_usable_size(base)
        if cap > 256 && used < cap / 2 {
            if let p = realloc(base, used + (used >> 3)) { base = p }
        }
    }

    /// Replaces `oldLen` bytes at `off` with a region of `newLen` bytes; returns it.
    @inline(__always)
    public mutating func resizeRegion(at off: Int, from oldLen: Int, to newLen: Int) -> UnsafeMutableRawPointer {
        if newLen > oldLen { _ = openGap(at: off + oldLen, newLen - oldLen) }
        else if newLen < oldLen { removeBytes(at: off + newLen, oldLen - newLen) }
        return base + off
    }

    /// Offset (from base) of the element that follows the one at `off`.
    @inline(__always) public func next(_ off: Int) -> Int { off + ListpackCodec.elementSize(base + off) }

    /// Releases any slack at the end of the block.
    public mutating func shrinkToFit() {
        if tern_malloc_usable_size(base) >= used + 16, let p = realloc(base, used) { base = p }
    }
}
