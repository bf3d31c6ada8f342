/// Key sampling for eviction (Redis's dictGetSomeKeys), kept apart from KeyTable and built
/// only on its public SCAN step so it survives changes to the table's internals.
extension KeyTable {
    /// Offers entries to `take`, starting at a random bucket and walking buckets in SCAN's
    /// cursor order, until `take` has accepted `count` of them or `maxBuckets` buckets were
    /// visited. `take` returns whether it counted the entry (eviction of volatile keys skips
    /// persistent ones) and must not modify the table.
    ///
    /// Like dictGetSomeKeys, the result is a cheap sample, not a uniform one: entries of one
    /// chain come together, and a small table may yield the same entry twice (the walk wraps).
    /// SCAN's reverse-binary order spreads consecutive buckets across the whole table, which
    /// dictGetSomeKeys gets by jumping after runs of empty buckets.
    public func sample<G: RandomNumberGenerator>(upTo count: Int, maxBuckets: Int, using g: inout G,
                                                 _ take: (Entry) -> Bool) {
        if self.count == 0 || count <= 0 { return }
        var cursor = UInt64.random(in: 0...UInt64.max, using: &g)
        var taken = 0
        var buckets = 0
        while taken < count && buckets < maxBuckets {
            cursor = scan(cursor: cursor) { e in
                if taken < count && take(e) { taken += 1 }
            }
            buckets += 1
        }
    }
}
