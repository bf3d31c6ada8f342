import CTern
#if canImport(Glibc)
import Glibc
#endif

/// The keyspace hash table of one database: chained buckets (the chain link lives
/// inside each Entry, so a key costs one allocation plus a bucket slot), power-of-two
/// sizes and Redis-style incremental rehashing between two tables, so growing a
/// table of millions of keys never stalls the server. SCAN uses Redis's reverse-binary
/// cursor, which returns every key present for the whole scan across resizes.
public final class KeyTable {
    typealias Slot = UnsafeMutableRawPointer?

    var t0: UnsafeMutablePointer<Slot>? = nil
    var size0 = 0
    var t1: UnsafeMutablePointer<Slot>? = nil
    var size1 = 0
    var rehashIndex = -1
    public private(set) var count = 0
    /// Incremented while something walks the table and must not see entries move.
    public var pauseRehash = 0

    public init() {}

    deinit { removeAll() }

    @inline(__always) public var isRehashing: Bool { rehashIndex != -1 }
    public var bucketCount: Int { size0 + size1 }

    static func allocTable(_ n: Int) -> UnsafeMutablePointer<Slot> {
        let t = UnsafeMutablePointer<Slot>.allocate(capacity: n)
        t.initialize(repeating: nil, count: n)
        return t
    }

    // MARK: lookup

    @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer) -> Entry? {
        if count == 0 { return nil }
        if isRehashing { rehashStep() }
        let h = ByteHash.hash(key)
        if let t = t0 {
            var p = t[Int(h & UInt64(size0 - 1))]
            while let e = p {
                let en = Entry(e)
                if en.keyEquals(key) { return en }
                p = en.next
            }
        }
        if isRehashing, let t = t1 {
            var p = t[Int(h & UInt64(size1 - 1))]
            while let e = p {
                let en = Entry(e)
                if en.keyEquals(key) { return en }
                p = en.next
            }
        }
        return nil
    }

    /// Returns the address of the slot (bucket head or a `next` field) pointing at the entry.
    @inline(__always)
    func findLink(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> UnsafeMutableRawPointer? {
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            if table == 1 && !isRehashing { break }
            let size = table == 0 ? size0 : size1
            var link = UnsafeMutableRawPointer(t + Int(h & UInt64(size - 1)))
            while let e = link.load(as: Slot.self) {
                let en = Entry(e)
                if en.keyEquals(key) { return link }
                link = e  // `next` is at offset 0 of the entry
            }
        }
        return nil
    }

    // MARK: mutation

    /// Inserts an entry whose key is known to be absent.
    public func insertNew(_ e: Entry) {
        if isRehashing { rehashStep() }
        expandIfNeeded()
        let h = ByteHash.hash(e.key)
        let useT1 = isRehashing
        let t = useT1 ? t1! : t0!
        let size = useT1 ? size1 : size0
        let i = Int(h & UInt64(size - 1))
        e.next = t[i]
        t[i] = e.raw
        count += 1
    }

    /// Unlinks the entry for `key` and returns it (the caller frees it).
    public func unlink(_ key: UnsafeRawBufferPointer) -> Entry? {
        if count == 0 { return nil }
        if isRehashing { rehashStep() }
        let h = ByteHash.hash(key)
        guard let link = findLink(key, hash: h), let e = link.load(as: Slot.self) else { return nil }
        let en = Entry(e)
        link.storeBytes(of: en.next, as: Slot.self)
        en.next = nil
        count -= 1
        return en
    }

    /// Replaces the entry object for the same key (after a realloc or a new value).
    public func replace(_ old: Entry, with new: Entry) {
        let h = ByteHash.hash(new.key)
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            let size = table == 0 ? size0 : size1
            var link = UnsafeMutableRawPointer(t + Int(h & UInt64(size - 1)))
            while let e = link.load(as: Slot.self) {
                if e == old.raw {
                    if new.raw != old.raw { new.next = old.next }
                    link.storeBytes(of: new.raw, as: Slot.self)
                    return
                }
                link = e
            }
        }
        preconditionFailure("KeyTable.replace: entry not found")
    }

    /// After realloc moved an entry (its `next` copied along), repoints the link that
    /// still holds the old address. The old block must not be dereferenced.
    public func replaceMoved(oldAddress: UnsafeMutableRawPointer, with new: Entry) {
        let h = ByteHash.hash(new.key)
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            let size = table == 0 ? size0 : size1
            var link = UnsafeMutableRawPointer(t + Int(h & UInt64(size - 1)))
            while let e = link.load(as: Slot.self) {
                if e == oldAddress {
                    link.storeBytes(of: new.raw, as: Slot.self)
                    return
                }
                link = e
            }
        }
        preconditionFailure("KeyTable.replaceMoved: entry not found")
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
        t0 = nil; t1 = nil; size0 = 0; size1 = 0; rehashIndex = -1; count = 0
    }

    /// Detaches all entries into a new table (O(1)); used by FLUSHALL ASYNC and SWAPDB.
    /// Exchanges every entry and the resize state with `other` (SWAPDB), so each
    /// database can hold its table in a `let` (no retain/release per access).
    public func swapContents(with other: KeyTable) {
        swap(&other.t0, &t0); swap(&other.t1, &t1)
        swap(&other.size0, &size0); swap(&other.size1, &size1)
        swap(&other.rehashIndex, &rehashIndex); swap(&other.count, &count)
    }

    public func takeAll() -> KeyTable {
        let other = KeyTable()
        swap(&other.t0, &t0); swap(&other.t1, &t1)
        swap(&other.size0, &size0); swap(&other.size1, &size1)
        swap(&other.rehashIndex, &rehashIndex); swap(&other.count, &count)
        return other
    }

    // MARK: resizing

    @inline(__always) func expandIfNeeded() {
        if isRehashing { return }
        if size0 == 0 { t0 = KeyTable.allocTable(4); size0 = 4; return }
        if count >= size0 { startResize(to: KeyTable.nextPower(count + 1)) }
    }

    static func nextPower(_ n: Int) -> Int {
        var s = 4
        while s < n { s <<= 1 }
        return s
    }

    func startResize(to n: Int) {
        guard !isRehashing, n != size0 else { return }
        if size0 == 0 { t0 = KeyTable.allocTable(n); size0 = n; return }
        t1 = KeyTable.allocTable(n)
        size1 = n
        rehashIndex = 0
    }

    /// Shrinks a sparse table (Redis: fill below 10%). Called from the server cron.
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
            t0 = t1; size0 = size1
            t1 = nil; size1 = 0
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

    static func monotonicMicros() -> Int {
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

    /// Bytes used by the bucket arrays.
    public var tableBytes: Int { (size0 + size1) * MemoryLayout<Slot>.stride }
}
