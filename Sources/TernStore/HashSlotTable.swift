import CTern
#if canImport(Glibc)
import Glibc
#endif

/// An element block: one malloc'd allocation per element of a big hash / set / zset.
///
///   varint key length (LEB128), key bytes, then the owner's payload:
///   set: nothing; hash: varint value length + value bytes; zset: 8-byte score.
public enum ElementBlock {
    @inline(__always) public static func varintSize(_ n: Int) -> Int {
        var v = UInt(n), s = 1
        while v >= 0x80 { v >>= 7; s += 1 }
        return s
    }

    @inline(__always) @discardableResult
    public static func writeVarint(_ n: Int, _ p: UnsafeMutableRawPointer) -> Int {
        var v = UInt(n), i = 0
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: i, as: UInt8.self)
            v >>= 7; i += 1
        }
        p.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self)
        return i + 1
    }

    /// (value, bytes used)
    @inline(__always) public static func readVarint(_ p: UnsafeRawPointer) -> (Int, Int) {
        var b = p.load(as: UInt8.self)
        if b < 0x80 { return (Int(b), 1) }
        var v = UInt(b & 0x7F), shift: UInt = 7, i = 1
        repeat {
            b = p.load(fromByteOffset: i, as: UInt8.self)
            v |= UInt(b & 0x7F) << shift
            shift += 7; i += 1
        } while b >= 0x80
        return (Int(v), i)
    }

    /// The key bytes of a block.
    @inline(__always) public static func key(_ b: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        let (n, h) = readVarint(b)
        return UnsafeRawBufferPointer(start: b + h, count: n)
    }

    /// Offset of the payload (just past the key).
    @inline(__always) public static func payloadOffset(_ b: UnsafeRawPointer) -> Int {
        let (n, h) = readVarint(b)
        return h + n
    }

    /// Allocates a block holding `key` with `payload` extra bytes after it.
    @inline(__always)
    public static func make(_ key: UnsafeRawBufferPointer, payload: Int) -> UnsafeMutableRawPointer {
        let h = varintSize(key.count)
        guard let p = malloc(h + key.count + payload) else { fatalError("Tern: out of memory") }
        writeVarint(key.count, p)
        if key.count > 0 { memcpy(p + h, key.baseAddress!, key.count) }
        return p
    }

    @inline(__always) public static func size(_ b: UnsafeRawPointer) -> Int { tern_malloc_usable_size(UnsafeMutableRawPointer(mutating: b)) }
}

/// Open-addressing hash table of element blocks (linear probing, backward-shift deletion).
///
/// Slot word: 0 = empty; else bits 0...47 the block address and bits 48...63 a 16-bit
/// hash tag that rejects most non-matching slots without touching the block.
/// The home bucket of a hash is its top k bits (capacity 2^k). A SCAN cursor walks home
/// buckets in increasing order of those bits, which stays correct when the table grows or
/// shrinks between calls (Redis's reverse-binary cursor, mirrored); cursors given to
/// clients are bit-reversed so they look like Redis's.
public struct HashSlotTable {
    public private(set) var slots: UnsafeMutablePointer<UInt64>
    public private(set) var capacity: Int
    public private(set) var count = 0
    var shift: UInt64

    static let addressMask: UInt64 = (1 << 48) - 1
    public static let minCapacity = 8

    public init(capacity: Int = HashSlotTable.minCapacity) {
        let cap = HashSlotTable.capacityFor(capacity)
        self.capacity = cap
        shift = UInt64(64 - cap.trailingZeroBitCount)
        slots = UnsafeMutablePointer<UInt64>.allocate(capacity: cap)
        slots.initialize(repeating: 0, count: cap)
    }

    /// Smallest power of two >= minCapacity holding n elements under the 3/4 load limit.
    public static func capacityFor(_ n: Int) -> Int {
        var c = minCapacity
        while c * 3 < n * 4 { c <<= 1 }
        return c
    }

    /// Frees the slot array (blocks are the owner's to free).
    public func deallocate() { slots.deallocate() }

    @inline(__always) public static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 { ByteHash.hash(key) }

    @inline(__always) public static func block(_ s: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(s & addressMask))!
    }

    @inline(__always) static func slotWord(_ b: UnsafeMutableRawPointer, _ h: UInt64) -> UInt64 {
        UInt64(UInt(bitPattern: b)) | (h << 48)
    }

    @inline(__always) var mask: Int { capacity - 1 }
    @inline(__always) func home(_ h: UInt64) -> Int { Int(truncatingIfNeeded: h >> shift) }

    /// Block at slot i (must be occupied).
    @inline(__always) public func block(at i: Int) -> UnsafeMutableRawPointer { HashSlotTable.block(slots[i]) }
    @inline(__always) public func isOccupied(_ i: Int) -> Bool { slots[i] != 0 }

    /// Slot index of `key`, or nil.
    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> Int? {
        let tag = h & 0xFFFF
        var i = home(h)
        let m = mask
        while true {
            let s = slots[i]
            if s == 0 { return nil }
            if s >> 48 == tag {
                let k = ElementBlock.key(HashSlotTable.block(s))
                if k.count == key.count && (k.count == 0 || memcmp(k.baseAddress!, key.baseAddress!, k.count) == 0) {
                    return i
                }
            }
            i = (i + 1) & m
        }
    }

    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer) -> Int? { find(key, hash: HashSlotTable.hash(key)) }

    /// Inserts a block whose key is known to be absent.
    @inline(__always)
    public mutating func insert(_ b: UnsafeMutableRawPointer, hash h: UInt64) {
        if (count + 1) * 4 > capacity * 3 { resize(capacity * 2) }
        place(HashSlotTable.slotWord(b, h & 0xFFFF), home: home(h))
        count += 1
    }

    @inline(__always)
    mutating func place(_ word: UInt64, home: Int) {
        var i = home
        let m = mask
        while slots[i] != 0 { i = (i + 1) & m }
        slots[i] = word
    }

    /// Replaces the block stored at slot i (same key; e.g. after a realloc).
    @inline(__always)
    public func replaceBlock(at i: Int, with b: UnsafeMutableRawPointer) {
        slots[i] = (slots[i] & ~HashSlotTable.addressMask) | UInt64(UInt(bitPattern: b))
    }

    /// Removes slot i and returns its block (the caller frees it). May shrink the table.
    @discardableResult
    public mutating func remove(at i: Int) -> UnsafeMutableRawPointer {
        let b = block(at: i)
        let m = mask
        var hole = i
        var j = (i + 1) & m
        while slots[j] != 0 {
            let h = home(HashSlotTable.hash(ElementBlock.key(HashSlotTable.block(slots[j]))))
            if ((hole &- h) & m) < ((j &- h) & m) {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & m
        }
        slots[hole] = 0
        count -= 1
        if capacity > HashSlotTable.minCapacity && count * 8 < capacity {
            resize(HashSlotTable.capacityFor(count * 2))
        }
        return b
    }

    public mutating func resize(_ newCap: Int) {
        let cap = max(newCap, HashSlotTable.capacityFor(count))
        if cap == capacity { return }
        let old = slots, oldCap = capacity
        slots = UnsafeMutablePointer<UInt64>.allocate(capacity: cap)
        slots.initialize(repeating: 0, count: cap)
        capacity = cap
        shift = UInt64(64 - cap.trailingZeroBitCount)
        for i in 0..<oldCap where old[i] != 0 {
            let h = HashSlotTable.hash(ElementBlock.key(HashSlotTable.block(old[i])))
            place(old[i], home: home(h))
        }
        old.deallocate()
    }

    /// Visits every block (in slot order).
    @inline(__always)
    public func forEach(_ body: (UnsafeMutableRawPointer) -> Void) {
        for i in 0..<capacity where slots[i] != 0 { body(HashSlotTable.block(slots[i])) }
    }

    /// Frees every block and empties the table.
    public mutating func removeAllFreeingBlocks() {
        for i in 0..<capacity where slots[i] != 0 { free(HashSlotTable.block(slots[i])) }
        slots.deallocate()
        capacity = HashSlotTable.minCapacity
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        slots = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        count = 0
    }

    /// A random occupied slot (count must be > 0). Load stays >= 1/8 (shrinking), so
    /// this needs few tries.
    @inline(__always)
    public func randomSlot<G: RandomNumberGenerator>(using g: inout G) -> Int {
        let m = UInt64(mask)
        while true {
            let i = Int(g.next() & m)
            if slots[i] != 0 { return i }
        }
    }

    @inline(__always) static func reverse(_ v: UInt64) -> UInt64 {
        var x = v
        x = ((x >> 1) & 0x5555_5555_5555_5555) | ((x & 0x5555_5555_5555_5555) << 1)
        x = ((x >> 2) & 0x3333_3333_3333_3333) | ((x & 0x3333_3333_3333_3333) << 2)
        x = ((x >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((x & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return x.byteSwapped
    }

    /// One SCAN step: visits every block whose home bucket is the cursor's bucket and
    /// returns the next client cursor (0 when the walk is complete).
    public func scanStep(_ cursor: UInt64, _ visit: (UnsafeMutableRawPointer) -> Void) -> UInt64 {
        let c = HashSlotTable.reverse(cursor)
        let bucket = Int(truncatingIfNeeded: c >> shift)
        let m = mask
        var i = bucket
        while slots[i] != 0 {
            let b = HashSlotTable.block(slots[i])
            if home(HashSlotTable.hash(ElementBlock.key(b))) == bucket { visit(b) }
            i = (i + 1) & m
            if i == bucket { break }
        }
        let nextBucket = UInt64(bucket) + 1
        if nextBucket >= UInt64(capacity) { return 0 }
        return HashSlotTable.reverse(nextBucket << shift)
    }

    /// Bytes of the slot array.
    public var tableBytes: Int { capacity * 8 }
}
