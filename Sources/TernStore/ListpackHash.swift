#if canImport(Glibc)
import Glibc
#endif

/// A small hash (OBJECT ENCODING "listpack"): field, value, field, value ... in insertion
/// order in one ListpackBuffer; `count` is the number of fields. Lookups walk the buffer,
/// as Redis does for listpack hashes (bounded by hash-max-listpack-entries).
public final class ListpackHash: StoredCollection {
    var buf: ListpackBuffer

    public init(capacity: Int = 32) { buf = ListpackBuffer(capacity: capacity) }
    init(buffer: ListpackBuffer) { buf = buffer }
    deinit { buf.free() }

    public var count: Int { buf.count }
    public var elementCount: Int { buf.count }
    public var allocatedBytes: Int { 32 + buf.allocatedBytes }
    public func deepCopy() -> StoredCollection { ListpackHash(buffer: ListpackBuffer(copying: buf)) }

    /// Drops growth headroom (called once a write command is done with the hash).
    public func trim() { buf.shrinkToFit() }

    /// True if adding a field and value of these sizes keeps the buffer under 1 GiB.
    public func safeToAdd(_ extra: Int) -> Bool { buf.safeToAdd(extra) }

    /// Offset of the field element equal to `field`, or nil.
    @inline(__always)
    func find(_ field: UnsafeRawBufferPointer) -> Int? {
        let probe = ListpackCodec.Probe(field)
        var off = ListpackBuffer.headerSize
        let end = buf.used
        while off < end {
            if probe.matches(buf.base + off) { return off }
            off = buf.next(buf.next(off))
        }
        return nil
    }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool { find(field) != nil }

    /// Calls body with the value of `field`; returns false when the field is missing.
    @inline(__always) @discardableResult
    public func withValue(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let off = find(field) else { return false }
        ListpackCodec.withText(buf.base + buf.next(off), body)
        return true
    }

    /// The decoded value of `field` (integers without formatting), or nil.
    public func value(_ field: UnsafeRawBufferPointer) -> ListpackCodec.Value? {
        guard let off = find(field) else { return nil }
        return ListpackCodec.decode(buf.base + buf.next(off))
    }

    /// Length of the value's text (HSTRLEN), or nil.
    public func valueLength(_ field: UnsafeRawBufferPointer) -> Int? {
        guard let off = find(field) else { return nil }
        return ListpackCodec.withText(buf.base + buf.next(off)) { $0.count }
    }

    /// Sets field to value; returns true if the field is new.
    @discardableResult
    public func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        if let off = find(field) {
            let voff = buf.next(off)
            let oldLen = ListpackCodec.elementSize(buf.base + voff)
            let newLen = ListpackCodec.size(of: value)
            let p = buf.resizeRegion(at: voff, from: oldLen, to: newLen)
            ListpackCodec.write(value, p)
            return false
        }
        let fl = ListpackCodec.size(of: field), vl = ListpackCodec.size(of: value)
        let p = buf.openGap(at: buf.used, fl + vl)
        ListpackCodec.write(field, p)
        ListpackCodec.write(value, p + fl)
        buf.count += 1
        return true
    }

    /// Appends a field known to be absent (conversions, loading).
    public func append(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        let fl = ListpackCodec.size(of: field), vl = ListpackCodec.size(of: value)
        let p = buf.openGap(at: buf.used, fl + vl)
        ListpackCodec.write(field, p)
        ListpackCodec.write(value, p + fl)
        buf.count += 1
    }

    /// Appends a field known to be absent, both given decoded (loading a Redis listpack:
    /// integers are written without a round trip through text).
    public func append(_ field: ListpackCodec.Value, _ value: ListpackCodec.Value) {
        let fl = ListpackCodec.size(of: field), vl = ListpackCodec.size(of: value)
        let p = buf.openGap(at: buf.used, fl + vl)
        ListpackCodec.write(field, p)
        ListpackCodec.write(value, p + fl)
        buf.count += 1
    }

    /// Whether a field equal to this decoded element is present.
    public func contains(_ field: ListpackCodec.Value) -> Bool {
        ListpackCodec.withText(field) { find($0) != nil }
    }

    /// Removes field; returns true if it existed.
    @discardableResult
    public func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        guard let off = find(field) else { return false }
        let end = buf.next(buf.next(off))
        buf.removeBytes(at: off, end - off)
        buf.count -= 1
        return true
    }

    /// Visits (field, value) in order.
    @inline(__always)
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        var off = ListpackBuffer.headerSize
        let end = buf.used
        while off < end {
            let voff = buf.next(off)
            ListpackCodec.withText(buf.base + off) { f in
                ListpackCodec.withText(buf.base + voff) { v in body(f, v) }
            }
            off = buf.next(voff)
        }
    }

    /// Element offsets of every field (random access for HRANDFIELD).
    public func fieldOffsets() -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(buf.count)
        var off = ListpackBuffer.headerSize
        let end = buf.used
        while off < end {
            out.append(off)
            off = buf.next(buf.next(off))
        }
        return out
    }

    /// Calls body with the field and value whose field element is at `off`.
    public func withPair(at off: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        let voff = buf.next(off)
        ListpackCodec.withText(buf.base + off) { f in
            ListpackCodec.withText(buf.base + voff) { v in body(f, v) }
        }
    }

    /// Longest field or value text (for conversion checks on load).
    public var maxElementLength: Int {
        var m = 0
        forEach { f, v in m = max(m, f.count, v.count) }
        return m
    }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        forEach { f, v in body(f, v) }
    }
}
