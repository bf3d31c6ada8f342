#if canImport(Glibc)
import Glibc
#endif

/// A big hash (OBJECT ENCODING "hashtable"): one element block per field
/// (varint field length, field, varint value length, value) in a HashSlotTable.
/// About 45 bytes per small field against ~80 for Redis's dictEntry + two sds.
public final class DictHash: StoredCollection {
    public internal(set) var table: HashSlotTable

    public init(capacity: Int = HashSlotTable.minCapacity) { table = HashSlotTable(capacity: capacity) }
    deinit {
        table.forEach { free($0) }
        table.deallocate()
    }

    public var count: Int { table.count }
    public var elementCount: Int { table.count }

    public var allocatedBytes: Int {
        var n = 48 + table.tableBytes
        table.forEach { n += ElementBlock.size($0) }
        return n
    }

    public func deepCopy() -> StoredCollection {
        let d = DictHash(capacity: HashSlotTable.capacityFor(count))
        table.forEach { b in
            let n = ElementBlock.size(b)
            guard let p = malloc(n) else { fatalError("Tern: out of memory") }
            memcpy(p, b, n)
            d.table.insert(p, hash: HashSlotTable.hash(ElementBlock.key(p)))
        }
        return d
    }

    @inline(__always) public static func value(_ b: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        let off = ElementBlock.payloadOffset(b)
        let (n, h) = ElementBlock.readVarint(b + off)
        return UnsafeRawBufferPointer(start: b + off + h, count: n)
    }

    @inline(__always)
    static func makeBlock(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer {
        let b = ElementBlock.make(field, payload: ElementBlock.varintSize(value.count) + value.count)
        let off = ElementBlock.payloadOffset(b)
        let h = ElementBlock.writeVarint(value.count, b + off)
        if value.count > 0 { memcpy(b + off + h, value.baseAddress!, value.count) }
        return b
    }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool { table.find(field) != nil }

    @inline(__always) @discardableResult
    public func withValue(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let i = table.find(field) else { return false }
        body(DictHash.value(table.block(at: i)))
        return true
    }

    /// Sets field to value; returns true if the field is new.
    @discardableResult
    public func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        let h = HashSlotTable.hash(field)
        if let i = table.find(field, hash: h) {
            let old = table.block(at: i)
            let off = ElementBlock.payloadOffset(old)
            let need = off + ElementBlock.varintSize(value.count) + value.count
            if need <= ElementBlock.size(old) {
                let vh = ElementBlock.writeVarint(value.count, old + off)
                if value.count > 0 { memmove(old + off + vh, value.baseAddress!, value.count) }
            } else {
                let nb = DictHash.makeBlock(field, value)
                table.replaceBlock(at: i, with: nb)
                free(old)
            }
            return false
        }
        table.insert(DictHash.makeBlock(field, value), hash: h)
        return true
    }

    /// Inserts a field known to be absent.
    public func append(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        table.insert(DictHash.makeBlock(field, value), hash: HashSlotTable.hash(field))
    }

    @discardableResult
    public func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        guard let i = table.find(field) else { return false }
        free(table.remove(at: i))
        return true
    }

    @inline(__always)
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        table.forEach { b in body(ElementBlock.key(b), DictHash.value(b)) }
    }

    /// A random (field, value).
    public func withRandomPair<G: RandomNumberGenerator>(using g: inout G, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        let b = table.block(at: table.randomSlot(using: &g))
        body(ElementBlock.key(b), DictHash.value(b))
    }

    /// One HSCAN step; returns the next cursor.
    public func scan(_ cursor: UInt64, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> UInt64 {
        table.scanStep(cursor) { b in body(ElementBlock.key(b), DictHash.value(b)) }
    }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        forEach { f, v in body(f, v) }
    }
}
