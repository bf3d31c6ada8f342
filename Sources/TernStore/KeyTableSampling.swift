/// Key sampling for eviction (Redis's dictGetSomeKeys), kept apart from KeyTable. It reads
/// only the two bucket arrays, their sizes, the rehash index and the chain link: porting it
/// to a new table layout means rewriting `bucket(_:_:)` and the chain walk below.
extension KeyTable {
    /// Offers entries to `take`, walking consecutive buckets from a random one (both tables
    /// while rehashing), until `take` has accepted `count` of them or `maxBuckets` bucket
    /// positions were visited. `take` returns whether it counted the entry (eviction of
    /// volatile keys skips persistent ones) and must not modify the table.
    ///
    /// Like dictGetSomeKeys the result is a cheap sample, not a uniform one: entries of one
    /// chain come together, a small table may yield an entry twice (the walk wraps), and
    /// after a run of empty buckets the walk jumps to another random bucket.
    /// Walking the buckets directly: going through public SCAN steps instead (with the
    /// system random generator) made sampling cost 2.7x the instructions (callgrind).
    public func sample<G: RandomNumberGenerator>(upTo count: Int, maxBuckets: Int, using g: inout G,
                                                 _ take: (Entry) -> Bool) {
        guard self.count > 0, count > 0, let first = t0 else { return }
        let second = isRehashing ? t1 : nil
        let mask = max(size0, second == nil ? 0 : size1) - 1
        var i = Int(truncatingIfNeeded: g.next()) & mask
        var taken = 0
        var steps = 0
        var emptyRun = 0
        while taken < count && steps < maxBuckets {
            var empty = true
            // t0's buckets below the rehash index have moved to t1 already.
            if i < size0 && !(second != nil && i < rehashIndex) {
                var p = first[i]
                while let raw = p {
                    empty = false
                    let e = Entry(raw)
                    p = e.next
                    if taken < count && take(e) { taken += 1 }
                }
            }
            if let t = second, i < size1 {
                var p = t[i]
                while let raw = p {
                    empty = false
                    let e = Entry(raw)
                    p = e.next
                    if taken < count && take(e) { taken += 1 }
                }
            }
            if empty {
                emptyRun += 1
                if emptyRun >= 5 && emptyRun > count {
                    i = Int(truncatingIfNeeded: g.next()) & mask
                    emptyRun = 0
                    steps += 1
                    continue
                }
            } else {
                emptyRun = 0
            }
            i = (i + 1) & mask
            steps += 1
        }
    }
}

extension KeyTable {
    /// A random entry for *-random eviction (Redis's dictGetRandomKey: random buckets until a
    /// non-empty one, then a random element of its chain). `next` supplies random bits; taking
    /// a closure instead of a generic generator keeps the unspecialized Int.random(in:using:)
    /// (a metadata lookup per call) off this path, which runs once per evicted key.
    public func randomEntry(_ next: () -> UInt64) -> Entry? {
        guard count > 0, let first = t0 else { return nil }
        let second = isRehashing ? t1 : nil
        while true {
            var head: Slot = nil
            if let t = second {
                // Buckets of t0 below the rehash index are empty: draw from the rest and t1.
                let span = UInt64(size0 + size1 - rehashIndex)
                let r = rehashIndex + Int(next() % span)
                head = r >= size0 ? t[r - size0] : first[r]
            } else {
                head = first[Int(truncatingIfNeeded: next()) & (size0 - 1)]
            }
            guard let h = head else { continue }
            var length: UInt64 = 0
            var p: Slot = h
            while let e = p { length += 1; p = Entry(e).next }
            var k = next() % length
            p = h
            while k > 0, let e = p { p = Entry(e).next; k -= 1 }
            if let e = p { return Entry(e) }
        }
    }
}
