#if canImport(Glibc)
import Glibc
#endif

/// A set of strings (OBJECT ENCODING "hashtable"): one element block per member
/// (varint length, bytes) in a HashSlotTable.
public final class DictSet: StoredCollection {
    public internal(set) var table: HashSlotTable

    public init(capacity: Int = HashSlotTable.minCapacity) { table = HashSlotTable(capacity: capacity) }
    deinit {
        table.forEach { free($0) }
        table.deallocate()
    }

    @inline(__always) public var count: Int { table.count }
    public var elementCount: Int { table.count }

    public var allocatedBytes: Int {
        var n = 48 + table.tableBytes
        table.forEach { n += ElementBlock.size($0) }
        return n
    }

    public func deepCopy() -> StoredCollection {
        let d = DictSet(capacity: HashSlotTable.capacityFor(count))
        table.forEach { b in d.insertNew(ElementBlock.key(b)) }
        return d
    }

    @inline(__always) public func contains(_ m: UnsafeRawBufferPointer) -> Bool { table.find(m) != nil }

    /// Adds m; returns false if present.
    @inline(__always) @discardableResult
    public func add(_ m: UnsafeRawBufferPointer) -> Bool {
        let h = HashSlotTable.hash(m)
        if table.find(m, hash: h) != nil { return false }
        table.insert(ElementBlock.make(m, payload: 0), hash: h)
        return true
    }

    /// Inserts a member known to be absent.
    @inline(__always) public func insertNew(_ m: UnsafeRawBufferPointer) {
        table.insert(ElementBlock.make(m, payload: 0), hash: HashSlotTable.hash(m))
    }

    @inline(__always) @discardableResult
    public func remove(_ m: UnsafeRawBufferPointer) -> Bool {
        guard let i = table.find(m) else { return false }
        free(table.remove(at: i))
        return true
    }

    /// Removes the member stored at slot i.
    public func removeSlot(_ i: Int) { free(table.remove(at: i)) }

    @inline(__always) public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        table.forEach { body(ElementBlock.key($0)) }
    }

    @inline(__always) public func member(atSlot i: Int) -> UnsafeRawBufferPointer { ElementBlock.key(table.block(at: i)) }

    public func randomSlot<G: RandomNumberGenerator>(using g: inout G) -> Int { table.randomSlot(using: &g) }

    public func scan(_ cursor: UInt64, _ body: (UnsafeRawBufferPointer) -> Void) -> UInt64 {
        table.scanStep(cursor) { body(ElementBlock.key($0)) }
    }

    public func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        forEach { body($0, nil) }
    }
}
