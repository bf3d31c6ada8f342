import CTern
#if canImport(Glibc)
import Glibc
#endif

/// The keyspace hash table of one database: chained buckets (the chain link lives
/// inside each Entry, so a key costs one allocation plus its share of a bucket slot),
/// power-of-two sizes and Redis-style incremental rehashing between two tables, so growing a
/// table of millions of keys never stalls the server. SCAN uses Redis's reverse-binary
/// cursor, which returns every key present for the whole scan across resizes.
///
/// The table grows when it holds `maxLoadFactor` (2) keys per bucket, not Redis's 1: at 1M
/// keys the slots cost 4.2 B/key instead of 8.4 (docs/MEMORY.md), for half a chain hop more
/// per lookup on average.
///
/// Snapshot versions: every bucket has a version byte (`versions0`/`versions1`, parallel to
/// `t0`/`t1`; 1 B per bucket) for a forkless point-in-time walk. See "Snapshot versions" below.
public final class KeyTable {
    typealias Slot = UnsafeMutableRawPointer?

    /// Keys per bucket at which the table doubles.
    public static let maxLoadFactor = 2

    var t0: UnsafeMutablePointer<Slot>? = nil
    var size0 = 0
    var t1: UnsafeMutablePointer<Slot>? = nil
    var size1 = 0
    var rehashIndex = -1
    /// Version byte of each bucket of t0 / t1 (same indexes).
    var versions0: UnsafeMutablePointer<UInt8>? = nil
    var versions1: UnsafeMutablePointer<UInt8>? = nil
    public private(set) var count = 0
    /// Incremented while something walks the table and must not see entries move.
    public var pauseRehash = 0

    /// The epoch of the snapshot being taken, 0 when none runs. Writes test this one byte.
    public private(set) var snapshotEpoch: UInt8 = 0
    /// The last epoch handed out (epochs wrap after 254 snapshots: versions are reset then;
    /// 255 is `busyVersion`).
    var lastEpoch: UInt8 = 0
    /// The walker that serializes a bucket before a write changes it.
    var snapshotWalker: (any KeyTableSnapshotWalker)?
    /// Buckets that received an entry marked `flagBornInSnapshot` during the running
    /// snapshot (`index << 1 | table`): the marks are cleared from them before it ends.
    var bornBuckets: [Int] = []

    /// Keys per cluster hash slot (`SlotKeyIndex`), kept by this table's own insert, unlink and
    /// relink paths; nil (one test per write) unless cluster mode indexes this table (db 0).
    public private(set) var slotIndex: SlotKeyIndex?

    public init() {}

    /// Starts (or stops) indexing keys by cluster slot; a new index takes every current key.
    public func setSlotIndexed(_ on: Bool) {
        if !on { slotIndex = nil; return }
        if slotIndex != nil { return }
        let index = SlotKeyIndex()
        forEach { index.add($0) }
        slotIndex = index
    }

    deinit { removeAll() }

    @inline(__always) public var isRehashing: Bool { rehashIndex != -1 }
    public var bucketCount: Int { size0 + size1 }

    static func allocTable(_ n: Int) -> UnsafeMutablePointer<Slot> {
        let t = UnsafeMutablePointer<Slot>.allocate(capacity: n)
        t.initialize(repeating: nil, count: n)
        return t
    }

    static func allocVersions(_ n: Int, _ v: UInt8) -> UnsafeMutablePointer<UInt8> {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        t.initialize(repeating: v, count: n)
        return t
    }

    // MARK: lookup

    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer) -> Entry? {
        if count == 0 { return nil }
        return find(key, hash: ByteHash.hash(key))
    }

    /// `find` with the key's hash already computed (a write that may insert next hashes once).
    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> Entry? {
        if count == 0 { return nil }
        if isRehashing { rehashStep() }
        if let t = t0 {
            let i = Int(h & UInt64(size0 - 1))
            var p = t[i]
            while let e = p {
                let en = Entry(e)
                if en.keyEquals(key) {
                    if snapshotEpoch != 0 { willWriteBucket(table: 0, index: i, key: key) }
                    return en
                }
                p = en.next
            }
        }
        if isRehashing, let t = t1 {
            let i = Int(h & UInt64(size1 - 1))
            var p = t[i]
            while let e = p {
                let en = Entry(e)
                if en.keyEquals(key) {
                    if snapshotEpoch != 0 { willWriteBucket(table: 1, index: i, key: key) }
                    return en
                }
                p = en.next
            }
        }
        return nil
    }

    // MARK: mutation

    /// Inserts an entry whose key is known to be absent.
    public func insertNew(_ e: Entry) { insertNew(e, hash: ByteHash.hash(e.key)) }

    /// `insertNew` with the key's hash already computed.
    public func insertNew(_ e: Entry, hash h: UInt64) {
        if isRehashing { rehashStep() }
        expandIfNeeded()
        let useT1 = isRehashing
        let t = useT1 ? t1! : t0!
        let size = useT1 ? size1 : size0
        let i = Int(h & UInt64(size - 1))
        if snapshotEpoch != 0 {
            insertDuringSnapshot(e, t, table: useT1 ? 1 : 0, index: i)
        } else {
            e.next = t[i]
            t[i] = e.raw
        }
        count += 1
        if let s = slotIndex { s.add(e) }
    }

    /// Unlinks the entry for `key` and returns it (the caller frees it).
    public func unlink(_ key: UnsafeRawBufferPointer) -> Entry? {
        if count == 0 { return nil }
        if isRehashing { rehashStep() }
        let h = ByteHash.hash(key)
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            if table == 1 && !isRehashing { break }
            let i = Int(h & UInt64((table == 0 ? size0 : size1) - 1))
            var prev: Entry? = nil
            var p = t[i]
            while let e = p {
                let en = Entry(e)
                if en.keyEquals(key) {
                    if snapshotEpoch != 0 {
                        willWriteBucket(table: table, index: i, key: key)
                        // It may go into another table (MOVE): no mark leaves this one.
                        en.flags &= ~Entry.flagBornInSnapshot
                    }
                    Self.link(t, i, prev, to: en.next)
                    en.next = nil
                    count -= 1
                    if let s = slotIndex { s.remove(en) }
                    return en
                }
                prev = en
                p = en.next
            }
        }
        return nil
    }

    /// Points bucket `i` of `t` (when `prev` is nil) or `prev`'s chain link at `target`.
    /// Entries keep 6-byte links, so a link is never written as a raw 8-byte slot.
    @inline(__always)
    static func link(_ t: UnsafeMutablePointer<Slot>, _ i: Int, _ prev: Entry?, to target: UnsafeMutableRawPointer?) {
        if let pr = prev { pr.next = target } else { t[i] = target }
    }

    /// Repoints the link that holds `oldAddress` in the chain of the bucket for hash `h`.
    /// `newNext` is stored into the new entry first when given. Returns false when absent.
    @inline(__always)
    func relink(hash h: UInt64, oldAddress: UnsafeMutableRawPointer, to new: Entry,
                newNext: UnsafeMutableRawPointer??) -> Bool {
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            let i = Int(h & UInt64((table == 0 ? size0 : size1) - 1))
            var prev: Entry? = nil
            var p = t[i]
            while let e = p {
                if e == oldAddress {
                    if let nn = newNext { new.next = nn }
                    Self.link(t, i, prev, to: new.raw)
                    return true
                }
                prev = Entry(e)
                p = prev?.next
            }
        }
        return false
    }

    /// Replaces the entry object for the same key (after a realloc or a new value).
    public func replace(_ old: Entry, with new: Entry) { replace(old, with: new, hash: ByteHash.hash(new.key)) }

    /// `replace` with the key's hash already computed.
    public func replace(_ old: Entry, with new: Entry, hash h: UInt64) {
        if snapshotEpoch != 0 { willWrite(hash: h, key: new.key) }
        let ok = relink(hash: h, oldAddress: old.raw, to: new, newNext: new.raw != old.raw ? .some(old.next) : .none)
        precondition(ok, "KeyTable.replace: entry not found")
        if new.raw != old.raw, let s = slotIndex { s.move(from: old.raw, to: new) }
    }

    /// After realloc moved an entry (its `next` copied along), repoints the link that
    /// still holds the old address. The old block must not be dereferenced. (No snapshot
    /// hook here: the caller ran `willModify` before the realloc, while the entry was intact.)
    public func replaceMoved(oldAddress: UnsafeMutableRawPointer, with new: Entry) {
        let ok = relink(hash: ByteHash.hash(new.key), oldAddress: oldAddress, to: new, newNext: .none)
        precondition(ok, "KeyTable.replaceMoved: entry not found")
        if let s = slotIndex { s.move(from: oldAddress, to: new) }
    }

    /// Removes and frees every entry.
    public func removeAll() {
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            let size = table == 0 ? size0 : size1
            for i in 0..<size {
                var p = t[i]
                while let e = p {
                    let en = Entry(e)
                    p = en.next
                    EntryStorage.free(en)
                }
            }
            t.deallocate()
        }
        versions0?.deallocate(); versions1?.deallocate()
        bornBuckets = []
        t0 = nil; t1 = nil; size0 = 0; size1 = 0; rehashIndex = -1; count = 0
        versions0 = nil; versions1 = nil
        slotIndex?.removeAll()
    }

    /// Detaches all entries into a new table (O(1)); used by FLUSHALL ASYNC and SWAPDB.
    /// Exchanges every entry and the resize state with `other` (SWAPDB), so each
    /// database can hold its table in a `let` (no retain/release per access).
    public func swapContents(with other: KeyTable) {
        swap(&other.versions0, &versions0); swap(&other.versions1, &versions1)
        swap(&other.t0, &t0); swap(&other.t1, &t1)
        swap(&other.size0, &size0); swap(&other.size1, &size1)
        swap(&other.rehashIndex, &rehashIndex); swap(&other.count, &count)
        // Versions travel with their buckets, so the epoch high-water mark goes along: a
        // table must never hand out an epoch at or below a version it holds.
        swap(&other.lastEpoch, &lastEpoch)
        // An index describes the table it belongs to (db 0 in cluster mode), so it stays and
        // is rebuilt for the new contents; two indexed tables can simply trade theirs.
        if slotIndex != nil && other.slotIndex != nil {
            swap(&other.slotIndex, &slotIndex)
        } else {
            for t in [self, other] where t.slotIndex != nil { t.slotIndex = nil; t.setSlotIndexed(true) }
        }
    }

    public func takeAll() -> KeyTable {
        let other = KeyTable()
        swap(&other.versions0, &versions0); swap(&other.versions1, &versions1)
        swap(&other.t0, &t0); swap(&other.t1, &t1)
        swap(&other.size0, &size0); swap(&other.size1, &size1)
        swap(&other.rehashIndex, &rehashIndex); swap(&other.count, &count)
        other.lastEpoch = lastEpoch   // this table starts empty: any epoch above 0 will do
        slotIndex?.removeAll()        // the index stays with the (now empty) live table
        return other
    }

    // MARK: resizing

    @inline(__always) func expandIfNeeded() {
        if isRehashing { return }
        if size0 == 0 { startResize(to: 4); return }
        if count >= size0 &* KeyTable.maxLoadFactor {
            startResize(to: KeyTable.nextPower(count / KeyTable.maxLoadFactor + 1))
        }
    }

    /// Sizes an empty table for `n` keys at once (an RDB's RESIZEDB, as Redis's dictExpand):
    /// the load then never rehashes. The size is the one growing to `n` keys would reach.
    public func reserve(_ n: Int) {
        guard count == 0, size0 == 0, !isRehashing, n > 0 else { return }
        startResize(to: KeyTable.nextPower(min(n, 1 << 32) / KeyTable.maxLoadFactor + 1))
    }

    static func nextPower(_ n: Int) -> Int {
        var s = 4
        while s < n { s <<= 1 }
        return s
    }

    func startResize(to n: Int) {
        guard !isRehashing, n != size0 else { return }
        // A table created while a snapshot runs holds only keys written after its epoch
        // (rehashing is paused, nothing moves in): stamped as already serialized.
        if size0 == 0 {
            t0 = KeyTable.allocTable(n); versions0 = KeyTable.allocVersions(n, snapshotEpoch); size0 = n
            return
        }
        t1 = KeyTable.allocTable(n)
        versions1 = KeyTable.allocVersions(n, snapshotEpoch)
        size1 = n
        rehashIndex = 0
    }

    /// Shrinks a sparse table (Redis: fill below 10%) to one key per bucket (not
    /// maxLoadFactor: a shrunk table must not be one insert away from growing again).
    /// Called from the server cron.
    public func shrinkIfSparse() {
        guard !isRehashing, size0 > 4, count * 100 / size0 < 10 else { return }
        startResize(to: KeyTable.nextPower(max(count, 4)))
    }

    @inline(__always) func rehashStep() {
        if pauseRehash == 0 { rehash(buckets: 1) }
    }

    /// Moves up to `buckets` non-empty buckets from t0 to t1. Returns true while more remain.
    @discardableResult
    public func rehash(buckets: Int) -> Bool {
        guard isRehashing, let old = t0, let new = t1 else { return false }
        var n = buckets
        var emptyVisits = buckets * 10
        let mask = UInt64(size1 - 1)
        while n > 0 && rehashIndex < size0 {
            while rehashIndex < size0 && old[rehashIndex] == nil {
                rehashIndex += 1
                emptyVisits -= 1
                if emptyVisits == 0 { return true }
            }
            if rehashIndex >= size0 { break }
            var p = old[rehashIndex]
            while let e = p {
                let en = Entry(e)
                p = en.next
                let i = Int(ByteHash.hash(en.key) & mask)
                en.next = new[i]
                new[i] = e
            }
            old[rehashIndex] = nil
            rehashIndex += 1
            n -= 1
        }
        if rehashIndex >= size0 {
            old.deallocate()
            versions0?.deallocate()
            t0 = t1; size0 = size1; versions0 = versions1
            t1 = nil; size1 = 0; versions1 = nil
            rehashIndex = -1
            return false
        }
        return true
    }

    /// Rehashes for about `micros` microseconds (server cron).
    public func rehash(forMicroseconds micros: Int) {
        guard isRehashing, pauseRehash == 0 else { return }
        let start = KeyTable.monotonicMicros()
        while rehash(buckets: 100) {
            if KeyTable.monotonicMicros() - start > micros { break }
        }
    }

    public static func monotonicMicros() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
    }

    // MARK: iteration

    @inline(__always) static func rev(_ v: UInt64) -> UInt64 {
        var v = v
        var s: UInt64 = 64, mask: UInt64 = ~0
        while true {
            s >>= 1
            if s == 0 { break }
            mask ^= mask << s
            v = ((v >> s) & mask) | ((v << s) & ~mask)
        }
        return v
    }

    /// One SCAN step (Redis's dictScan): calls `visit` for each entry of the bucket(s) the
    /// cursor names and returns the next cursor (0 when the scan is complete).
    /// `visit` must not modify the table.
    public func scan(cursor: UInt64, _ visit: (Entry) -> Void) -> UInt64 {
        if count == 0 { return 0 }
        var v = cursor
        pauseRehash += 1
        defer { pauseRehash -= 1 }
        func walk(_ t: UnsafeMutablePointer<Slot>, _ i: Int) {
            var p = t[i]
            while let e = p {
                let en = Entry(e)
                p = en.next
                visit(en)
            }
        }
        if !isRehashing {
            let m0 = UInt64(size0 - 1)
            walk(t0!, Int(v & m0))
            v |= ~m0
            v = KeyTable.rev(v); v &+= 1; v = KeyTable.rev(v)
        } else {
            var ta = t0!, sa = size0, tb = t1!, sb = size1
            if sa > sb { swap(&ta, &tb); swap(&sa, &sb) }
            let m0 = UInt64(sa - 1), m1 = UInt64(sb - 1)
            walk(ta, Int(v & m0))
            repeat {
                walk(tb, Int(v & m1))
                v |= ~m1
                v = KeyTable.rev(v); v &+= 1; v = KeyTable.rev(v)
            } while v & (m0 ^ m1) != 0
        }
        return v
    }

    /// Visits every entry (no mutation allowed inside `visit`).
    public func forEach(_ visit: (Entry) -> Void) {
        pauseRehash += 1
        defer { pauseRehash -= 1 }
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            let size = table == 0 ? size0 : size1
            for i in 0..<size {
                var p = t[i]
                while let e = p {
                    let en = Entry(e)
                    p = en.next
                    visit(en)
                }
            }
        }
    }

    /// A uniformly chosen bucket's random entry (Redis's dictGetRandomKey), nil when empty.
    public func randomEntry<G: RandomNumberGenerator>(using g: inout G) -> Entry? {
        if count == 0 { return nil }
        if isRehashing { rehashStep() }
        while true {
            var head: Slot = nil
            if isRehashing {
                let span = size0 + size1 - rehashIndex
                let r = rehashIndex + Int.random(in: 0..<span, using: &g)
                head = r >= size0 ? t1![r - size0] : t0![r]
            } else {
                head = t0![Int.random(in: 0..<size0, using: &g)]
            }
            guard let h = head else { continue }
            var len = 0
            var p: Slot = h
            while let e = p { len += 1; p = Entry(e).next }
            var k = Int.random(in: 0..<len, using: &g)
            p = h
            while k > 0, let e = p { p = Entry(e).next; k -= 1 }
            return Entry(p!)
        }
    }

    /// Bytes used by the bucket arrays and their version bytes.
    public var tableBytes: Int { (size0 + size1) * (MemoryLayout<Slot>.stride + 1) }

    // MARK: snapshot versions

    // The hooks a forkless point-in-time snapshot (Dragonfly's versioned walk, DESIGN.md)
    // needs from the table; the walk itself lives with persistence.
    //
    // - `beginSnapshot(walker:)` takes a new epoch E (> every version in the table) and
    //   pauses rehashing, so entries never move between buckets behind the walk. New tables
    //   created meanwhile (growth still starts; inserts go to t1) are stamped E: they only
    //   receive keys written after E.
    // - The walker visits buckets (both tables while a resize is pending), serializes each
    //   bucket whose version is below E and stamps it with `markBucketSerialized`.
    // - Every change to a bucket's entries first calls `willWriteBucket`: while a snapshot
    //   runs and the bucket's version is below E, the walker serializes the bucket as it is
    //   and it is stamped E, then the write proceeds. The table calls it itself for unlinks
    //   and replacements; `Database` calls `willModify` before changing an entry in
    //   place (same-size overwrite, EXPIRE/PERSIST, APPEND/SETRANGE growth, object swap);
    //   the engine calls `willModify(key)` when a command looks a key up for writing, which
    //   covers collections changed inside their objects (HSET on an existing hash).
    // - FLUSHDB/SWAPDB detach or exchange whole tables (`takeAll`, `swapContents`): the
    //   snapshot must finish (or keep walking the detached table) before that; versions
    //   travel with their buckets, and `lastEpoch` with them (SWAPDB used to leave a table
    //   holding versions above its own last epoch: its next snapshot skipped those buckets).
    // - An insert needs no serialization: into a bucket not walked yet, the new entry is
    //   linked at the chain's head marked `flagBornInSnapshot` (under the bucket's claim, which
    //   is then given back unwalked) and every walk of the bucket skips marked entries. Until
    //   the bucket is walked its chain is [marked entries] + [the chain at E]; every other
    //   change claims and serializes first. A new key (most SETs under a load of fresh keys)
    //   then costs two atomic operations instead of serializing its neighbours' values.
    //   Marks are cleared when the engine serializes a bucket, when an entry is unlinked,
    //   and, for buckets the writer thread walked (it only reads entries), by
    //   `clearBornMarks` once the walk is over and before `endSnapshot` returns: no mark
    //   outlives its snapshot.
    // - `endSnapshot()` clears the epoch and resumes rehashing. Outside a snapshot the cost is
    //   one byte compare per write and 1 B per bucket.

    /// Starts a snapshot epoch; returns it. Only one snapshot at a time.
    @discardableResult
    public func beginSnapshot(walker: any KeyTableSnapshotWalker) -> UInt8 {
        precondition(snapshotEpoch == 0, "a snapshot is already running")
        if lastEpoch >= KeyTable.busyVersion - 1 {
            // Wrapped: every bucket back to 0 so that epoch 1 is again above all of them.
            if let v = versions0 { v.update(repeating: 0, count: size0) }
            if let v = versions1 { v.update(repeating: 0, count: size1) }
            lastEpoch = 0
        }
        lastEpoch += 1
        snapshotEpoch = lastEpoch
        snapshotWalker = walker
        pauseRehash += 1
        return snapshotEpoch
    }

    public func endSnapshot() {
        guard snapshotEpoch != 0 else { return }
        _ = clearBornMarks(until: Int.max)
        snapshotEpoch = 0
        snapshotWalker = nil
        pauseRehash -= 1
    }

    /// Buckets in table 0 or 1 (0 when that table does not exist), for a snapshot walk.
    public func bucketCount(table: Int) -> Int { table == 0 ? size0 : (t1 == nil ? 0 : size1) }

    /// Visits the entries of one bucket that belong to the running snapshot's image, on the
    /// engine thread (no mutation allowed inside `visit`): entries born during the snapshot
    /// are skipped, and their mark cleared (this walk is the bucket's only one).
    public func forEachInBucket(table: Int, index: Int, _ visit: (Entry) -> Void) {
        guard let t = table == 0 ? t0 : t1, index >= 0, index < (table == 0 ? size0 : size1) else { return }
        var p = t[index]
        while let e = p {
            let en = Entry(e)
            p = en.next
            if en.isBornInSnapshot {
                en.flags &= ~Entry.flagBornInSnapshot
                continue
            }
            visit(en)
        }
    }

    /// Clears the marks of entries born during the snapshot, bucket by bucket, until
    /// `deadline` (KeyTable.monotonicMicros; Int.max: all); true when none is left. Only once
    /// no walk reads the buckets any more (a writer thread's walk is over), since the walk
    /// relies on the marks: `endSnapshot` finishes what is left.
    public func clearBornMarks(until deadline: Int) -> Bool {
        var n = 0
        while let b = bornBuckets.popLast() {
            if let t = b & 1 == 0 ? t0 : t1 {
                var p = t[b >> 1]
                while let e = p {
                    let en = Entry(e)
                    en.flags &= ~Entry.flagBornInSnapshot
                    p = en.next
                }
            }
            n += 1
            if n & 63 == 0 && deadline != Int.max && KeyTable.monotonicMicros() >= deadline {
                return bornBuckets.isEmpty
            }
        }
        bornBuckets = []
        return true
    }

    /// The running snapshot epoch (0 when none).
    public var runningSnapshotEpoch: UInt8 { snapshotEpoch }

    /// The version of bucket `index` of table 0 or 1.
    public func bucketVersion(table: Int, index: Int) -> UInt8 {
        guard let v = table == 0 ? versions0 : versions1 else { return 0 }
        return v[index]
    }

    /// Stamps a bucket with the running epoch (the walker serialized it).
    public func markBucketSerialized(table: Int, index: Int) {
        guard snapshotEpoch != 0, let v = table == 0 ? versions0 : versions1 else { return }
        tern_atomic_store_u8(v + index, snapshotEpoch)
    }

    /// The version of a bucket someone is serializing right now (the engine before a write,
    /// or a snapshot's writer thread walking `SnapshotBuckets`).
    public static let busyVersion: UInt8 = 255

    /// Before the engine reads or changes the entries of bucket `index` of `table`: serialize
    /// it first if the running snapshot has not yet. Callers test `snapshotEpoch != 0` first
    /// (the hot path). A lookup counts as an access too: some reads change a value's inner
    /// state (a list node decompressed in place, a cached offset table), and a writer thread
    /// may be reading that value; after this the bucket is the engine's alone. Whole-table
    /// iterations (KEYS, SCAN, the expire cycle's sampling, DEBUG DIGEST) read entries and
    /// values without claiming: they must stay read-only.
    /// `key` is the key the engine is about to access (nil: any entry of the bucket): the
    /// walker may hand the bucket's other costly values to the writer thread.
    func willWriteBucket(table: Int, index: Int, key: UnsafeRawBufferPointer?) {
        guard snapshotEpoch != 0, let v = table == 0 ? versions0 : versions1 else { return }
        let cur = tern_atomic_load_u8(v + index)
        if cur >= snapshotEpoch && cur != KeyTable.busyVersion { return }
        serializeBeforeAccess(v + index, table: table, index: index, key: key)
    }

    /// `willWriteBucket` for a walker finishing a snapshot from the engine thread.
    public func serializeBucketIfUnvisited(table: Int, index: Int) { willWriteBucket(table: table, index: index, key: nil) }

    @inline(never)
    private func serializeBeforeAccess(_ version: UnsafeMutablePointer<UInt8>, table: Int, index: Int,
                                       key: UnsafeRawBufferPointer?) {
        guard claimBucket(version, key: key) != nil else { return }
        let handedOver = snapshotWalker?.serializeBucketBeforeWrite(self, table: table, index: index, key: key) ?? false
        // Values handed to the writer thread: it stamps the bucket once they are written.
        if !handedOver { tern_atomic_store_u8(version, snapshotEpoch) }
    }

    /// Stamps a bucket handed to the writer walked (with a release store: what was written
    /// into the snapshot before is visible to whoever claims the bucket next).
    public static func stampWalked(_ version: UnsafeMutablePointer<UInt8>, _ epoch: UInt8) {
        tern_atomic_store_u8(version, epoch)
    }

    /// The address of a bucket's version byte (the walker's handle on a bucket it handed over).
    public func versionAddress(table: Int, index: Int) -> UnsafeMutablePointer<UInt8>? {
        guard let v = table == 0 ? versions0 : versions1, index >= 0, index < (table == 0 ? size0 : size1) else { return nil }
        return v + index
    }

    /// Takes a bucket from the running snapshot's walk before accessing `key` (nil: any entry):
    /// its version before the claim (below the epoch: not walked yet; the bucket is
    /// `busyVersion` until the caller stores a version again), or nil when there is nothing to
    /// serialize (walked already, or busy only with values handed to the writer that `key` is
    /// not one of). Waits while the writer thread holds the bucket.
    private func claimBucket(_ version: UnsafeMutablePointer<UInt8>, key: UnsafeRawBufferPointer?) -> UInt8? {
        var spins = 0
        while true {
            let cur = tern_atomic_load_u8(version)
            if cur == KeyTable.busyVersion {
                if spins & 63 == 0, let w = snapshotWalker, w.busyBucketAccess(self, version: version, key: key) {
                    return nil
                }
                // The writer thread is serializing this bucket: a few microseconds.
                spins += 1
                if spins & 63 == 0 { snapshotWalker?.waitingForWalker() } else { tern_cpu_relax() }
                continue
            }
            if cur >= snapshotEpoch { return nil }
            if tern_atomic_cas_u8(version, cur, KeyTable.busyVersion) != 0 { return cur }
        }
    }

    /// `insertNew` while a snapshot runs: into a bucket not walked yet, the entry goes in
    /// marked as born in the snapshot (the walk skips it) and the bucket stays unwalked, so
    /// nothing is serialized; into a walked one (or a table created during the snapshot,
    /// stamped with its epoch), a plain insert.
    @inline(never)
    private func insertDuringSnapshot(_ e: Entry, _ t: UnsafeMutablePointer<Slot>, table: Int, index i: Int) {
        guard let versions = table == 0 ? versions0 : versions1,
              let before = claimBucket(versions + i, key: e.key) else {
            e.next = t[i]
            t[i] = e.raw
            return
        }
        // Marked entries sit at the head of an unwalked chain: a marked head means the
        // bucket is recorded already.
        if t[i].map({ !Entry($0).isBornInSnapshot }) ?? true { bornBuckets.append(i << 1 | table) }
        e.flags |= Entry.flagBornInSnapshot
        e.next = t[i]
        t[i] = e.raw
        tern_atomic_store_u8(versions + i, before)
    }

    /// The buckets of the running snapshot for a walker on another thread: the tables as
    /// they are now (rehashing is paused while a snapshot runs, so these arrays neither move
    /// nor change length until `endSnapshot`; a table created meanwhile is stamped with the
    /// epoch and needs no walk).
    public func snapshotBuckets() -> SnapshotBuckets {
        var tables: [SnapshotBuckets.Table] = []
        if let t = t0, let v = versions0, size0 > 0 { tables.append(.init(slots: t, versions: v, count: size0)) }
        if isRehashing, let t = t1, let v = versions1, size1 > 0 { tables.append(.init(slots: t, versions: v, count: size1)) }
        return SnapshotBuckets(tables: tables, epoch: snapshotEpoch)
    }

    /// Before a write to the key with hash `h`: its bucket in t0 and, during a resize, in t1
    /// (the key may be in either, or go to t1 when new).
    func willWrite(hash h: UInt64, key: UnsafeRawBufferPointer) {
        if size0 > 0 { willWriteBucket(table: 0, index: Int(h & UInt64(size0 - 1)), key: key) }
        if isRehashing && size1 > 0 { willWriteBucket(table: 1, index: Int(h & UInt64(size1 - 1)), key: key) }
    }

    /// Before a command changes the value of `key` in place (the engine's write lookup).
    @inline(__always) public func willModify(_ key: UnsafeRawBufferPointer) {
        if snapshotEpoch != 0 { willWrite(hash: ByteHash.hash(key), key: key) }
    }

    /// Before `Database` changes an entry in place or reallocates it.
    @inline(__always) func willModify(_ e: Entry) {
        if snapshotEpoch != 0 { let key = e.key; willWrite(hash: ByteHash.hash(key), key: key) }
    }
}

/// A point-in-time walk over a KeyTable (the forkless snapshot): serializes a bucket's
/// entries, as they are, before a write changes them.
public protocol KeyTableSnapshotWalker: AnyObject {
    /// Serializes a claimed bucket before the engine accesses the entry of `key` (nil: any
    /// entry). False: done, the table stamps the bucket walked. True: the walker handed some
    /// of the bucket's values (never `key`'s) to its writer thread, which stamps the bucket
    /// once they are written; until then the bucket stays busy (see `busyBucketAccess`).
    func serializeBucketBeforeWrite(_ keyTable: KeyTable, table: Int, index: Int, key: UnsafeRawBufferPointer?) -> Bool
    /// The engine waits for a bucket the walker's thread is serializing (called every few
    /// dozen spins): make that thread run.
    func waitingForWalker()
    /// The engine meets a busy bucket (its version byte at `version`) before accessing `key`
    /// (nil: any entry). True when it may go on as if the bucket were walked: the bucket only
    /// waits for values handed to the writer and `key` is not one of them, or the walker took
    /// those back and serialized them itself (the writer had not started). False: wait.
    func busyBucketAccess(_ keyTable: KeyTable, version: UnsafeMutablePointer<UInt8>, key: UnsafeRawBufferPointer?) -> Bool
}

extension KeyTableSnapshotWalker {
    /// A walker with no thread of its own never holds a bucket busy.
    public func waitingForWalker() {}
    public func busyBucketAccess(_ keyTable: KeyTable, version: UnsafeMutablePointer<UInt8>,
                                 key: UnsafeRawBufferPointer?) -> Bool { false }
}

/// A KeyTable's buckets as a snapshot began, walked from a writer thread. Each bucket is
/// claimed before it is read (its version goes from below the epoch to `busyVersion` by a
/// compare-and-swap) and stamped with the epoch after; the engine claims the same way before
/// it touches a bucket (`willWriteBucket`), so every entry is serialized exactly once and
/// never while the engine changes it.
public struct SnapshotBuckets: @unchecked Sendable {
    public struct Table {
        let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
        let versions: UnsafeMutablePointer<UInt8>
        public let count: Int
    }
    public let tables: [Table]
    public let epoch: UInt8

    /// True when the caller now owns bucket `index` of table `t` and must serialize it and
    /// then `release` it; false when it is serialized already or the engine holds it.
    public func claim(_ t: Int, _ index: Int) -> Bool {
        let v = tables[t].versions + index
        let cur = tern_atomic_load_u8(v)
        if cur >= epoch { return false }   // done, or busy (the engine serializes it)
        return tern_atomic_cas_u8(v, cur, KeyTable.busyVersion) != 0
    }

    public func release(_ t: Int, _ index: Int) {
        tern_atomic_store_u8(tables[t].versions + index, epoch)
    }

    /// The entries of a claimed bucket that belong to the image (entries born during the
    /// snapshot are skipped; their marks stay: the writer thread never writes entries).
    public func forEachInBucket(_ t: Int, _ index: Int, _ visit: (Entry) -> Void) {
        var p = tables[t].slots[index]
        while let e = p {
            let en = Entry(e)
            p = en.next
            if en.isBornInSnapshot { continue }
            visit(en)
        }
    }
}
