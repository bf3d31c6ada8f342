import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Which keys of a table live in each of Redis Cluster's 16384 hash slots (cluster mode, db 0):
/// CLUSTER COUNTKEYSINSLOT in O(1), GETKEYSINSLOT and a slot's flush in O(keys of the slot).
///
/// Redis 7.0 threads a doubly linked list per slot through 16 bytes of dictEntry metadata.
/// Tern's entries are packed into jemalloc size classes (docs/MEMORY.md), where 12 more bytes
/// would move most small keys up a class (32 -> 48 B). Instead each slot has its own small
/// open-addressing set of entry addresses, 6 bytes each (the 48-bit addresses entry chains
/// already use), linear probing, kept between 1/4 and 3/4 full: about 9-10 B/key, paid only in
/// cluster mode, and the key table's layout, SCAN, eviction sampling and snapshot walk are
/// untouched (entries never move for the index).
///
/// The table calls `add`/`remove`/`move` from its own insert, unlink and relink paths, so every
/// way a key enters, leaves or is reallocated is covered in one place (`KeyTable.slotIndex`).
/// Per-slot layout: `blocks[s]` holds `caps[s]` 6-byte little-endian addresses (0 = empty).
public final class SlotKeyIndex {
    static let width = 6
    let counts: UnsafeMutablePointer<UInt32>
    let caps: UnsafeMutablePointer<UInt32>
    let blocks: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Keys indexed, all slots together (equals the table's count).
    public private(set) var total = 0

    public init() {
        let n = ClusterSlot.count
        counts = .allocate(capacity: n); counts.initialize(repeating: 0, count: n)
        caps = .allocate(capacity: n); caps.initialize(repeating: 0, count: n)
        blocks = .allocate(capacity: n); blocks.initialize(repeating: nil, count: n)
    }

    deinit {
        for s in 0..<ClusterSlot.count { free(blocks[s]) }
        counts.deallocate(); caps.deallocate(); blocks.deallocate()
    }

    // MARK: queries

    @inline(__always) public func count(inSlot s: Int) -> Int { Int(counts[s]) }

    /// Visits the entries of slot `s` until `visit` returns false. The table must not change
    /// meanwhile (collect first, then delete).
    public func forEach(inSlot s: Int, _ visit: (Entry) -> Bool) {
        guard let b = blocks[s] else { return }
        for i in 0..<Int(caps[s]) {
            let a = Self.load(b, i)
            if a != 0, let p = UnsafeMutableRawPointer(bitPattern: UInt(a)), !visit(Entry(p)) { return }
        }
    }

    /// Bytes of the per-slot sets' blocks (kept as they change: INFO memory reads it).
    public private(set) var blockBytes = 0

    /// Bytes held by the index (fixed arrays plus the per-slot sets).
    public var bytes: Int { ClusterSlot.count * (4 + 4 + MemoryLayout<UnsafeMutableRawPointer?>.stride) + blockBytes }

    // MARK: maintenance (called by KeyTable)

    @inline(__always) func add(_ e: Entry) { insert(Self.address(e.raw), slot: ClusterSlot.of(e.key)) }

    @inline(__always) func remove(_ e: Entry) { _ = delete(Self.address(e.raw), slot: ClusterSlot.of(e.key)) }

    /// The entry for the same key now lives at `new.raw` (realloc or a new value). `old` is
    /// only compared, never dereferenced: the block may be freed already.
    func move(from old: UnsafeMutableRawPointer, to new: Entry) {
        let s = ClusterSlot.of(new.key)
        if delete(Self.address(old), slot: s) { insert(Self.address(new.raw), slot: s) }
    }

    func removeAll() {
        for s in 0..<ClusterSlot.count where blocks[s] != nil {
            free(blocks[s]); blocks[s] = nil; caps[s] = 0; counts[s] = 0
        }
        total = 0
        blockBytes = 0
    }

    // MARK: the per-slot sets

    @inline(__always) static func address(_ p: UnsafeMutableRawPointer) -> UInt64 { UInt64(UInt(bitPattern: p)) }

    @inline(__always) static func load(_ b: UnsafeMutableRawPointer, _ i: Int) -> UInt64 {
        let o = i &* width
        return UInt64(b.loadUnaligned(fromByteOffset: o, as: UInt32.self))
            | UInt64(b.loadUnaligned(fromByteOffset: o + 4, as: UInt16.self)) << 32
    }

    @inline(__always) static func store(_ b: UnsafeMutableRawPointer, _ i: Int, _ a: UInt64) {
        let o = i &* width
        b.storeBytes(of: UInt32(truncatingIfNeeded: a), toByteOffset: o, as: UInt32.self)
        b.storeBytes(of: UInt16(truncatingIfNeeded: a >> 32), toByteOffset: o + 4, as: UInt16.self)
    }

    /// Home position of an address in a set of `cap` positions (multiply-shift: any capacity,
    /// so a set fills its whole malloc size class).
    @inline(__always) static func home(_ a: UInt64, _ cap: Int) -> Int {
        Int(((a >> 3) &* 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(by: UInt64(cap)).high)
    }

    func insert(_ a: UInt64, slot s: Int) {
        precondition(a >> 48 == 0, "Tern: heap address beyond 48 bits")
        let n = Int(counts[s]) + 1
        if n * 4 > Int(caps[s]) * 3 { resize(slot: s, toHold: n) }
        guard let b = blocks[s] else { return }
        let cap = Int(caps[s])
        var i = Self.home(a, cap)
        while Self.load(b, i) != 0 { i += 1; if i == cap { i = 0 } }
        Self.store(b, i, a)
        counts[s] = UInt32(n)
        total += 1
    }

    /// Removes `a` from slot `s` (backward-shift deletion keeps probe runs unbroken without
    /// tombstones). False when it is not there.
    func delete(_ a: UInt64, slot s: Int) -> Bool {
        guard let b = blocks[s] else { return false }
        let cap = Int(caps[s])
        var i = Self.home(a, cap)
        while true {
            let v = Self.load(b, i)
            if v == 0 { return false }
            if v == a { break }
            i += 1; if i == cap { i = 0 }
        }
        var j = i
        while true {
            j += 1; if j == cap { j = 0 }
            let v = Self.load(b, j)
            if v == 0 { break }
            let k = Self.home(v, cap)
            // v may fill the hole at i unless its home lies cyclically in (i, j].
            let stays = i <= j ? (k > i && k <= j) : (k > i || k <= j)
            if !stays { Self.store(b, i, v); i = j }
        }
        Self.store(b, i, 0)
        let n = Int(counts[s]) - 1
        counts[s] = UInt32(n)
        total -= 1
        if n == 0 {
            blockBytes -= tern_malloc_usable_size(b)
            free(b); blocks[s] = nil; caps[s] = 0
        } else if n * 4 < cap && cap > 16 {
            resize(slot: s, toHold: n)
        }
        return true
    }

    /// Rebuilds slot `s`'s set about half full for `n` addresses.
    func resize(slot s: Int, toHold n: Int) {
        let want = max(4, n * 2)
        let size = tern_malloc_good_size(want * Self.width)
        guard let nb = calloc(1, size) else { fatalError("Tern: out of memory") }
        let cap = size / Self.width
        if let old = blocks[s] {
            for i in 0..<Int(caps[s]) {
                let a = Self.load(old, i)
                if a == 0 { continue }
                var k = Self.home(a, cap)
                while Self.load(nb, k) != 0 { k += 1; if k == cap { k = 0 } }
                Self.store(nb, k, a)
            }
            blockBytes -= tern_malloc_usable_size(old)
            free(old)
        }
        blockBytes += tern_malloc_usable_size(nb)
        blocks[s] = nb
        caps[s] = UInt32(cap)
    }
}
