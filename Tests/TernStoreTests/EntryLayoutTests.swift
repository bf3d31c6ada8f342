import XCTest
import CTern
@testable import TernStore

/// The compact entry layout (13-byte header, varint lengths, optional expire field), the
/// key table's load factor, and the snapshot version bytes of its buckets.
final class EntryLayoutTests: XCTestCase {
    func bytes(_ n: Int, seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) } }

    @discardableResult
    func set(_ db: Database, _ key: [UInt8], _ value: [UInt8], keepTTL: Bool = false,
             encoding: ValueEncoding = .raw) -> Entry {
        key.withUnsafeBytes { kb in value.withUnsafeBytes { vb in db.setString(kb, vb, encoding: encoding, keepTTL: keepTTL) } }
    }

    func find(_ db: Database, _ key: [UInt8]) -> Entry? { db.find(key) }

    // MARK: varints

    func testVarintBoundaries() {
        let cases: [(Int, Int)] = [(0, 1), (1, 1), (127, 1), (128, 2), (16383, 2), (16384, 3),
                                   (2_097_151, 3), (2_097_152, 4), (268_435_455, 4), (268_435_456, 5),
                                   (Int(UInt32.max), 5), (1 << 35, 6), (Int.max, 9)]
        var buf = [UInt8](repeating: 0xEE, count: 16)
        for (n, size) in cases {
            XCTAssertEqual(Varint.size(of: n), size, "size(of: \(n))")
            buf.withUnsafeMutableBytes { p in
                let base = p.baseAddress!
                XCTAssertEqual(Varint.write(n, to: base), size)
                let r = Varint.read(UnsafeRawPointer(base))
                XCTAssertEqual(r.value, n)
                XCTAssertEqual(r.size, size)
                XCTAssertEqual(Varint.size(at: UnsafeRawPointer(base)), size)
            }
        }
    }

    func testInlineKeyCompare() {
        for n in 0...40 {
            let a = bytes(n, seed: 5)
            for flip in 0..<n {
                var b = a
                b[flip] ^= 0x40
                a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in
                    XCTAssertFalse(Entry.bytesEqual(pa.baseAddress!, pb.baseAddress!, n), "n=\(n) flip=\(flip)")
                } }
            }
            let c = a
            a.withUnsafeBytes { pa in c.withUnsafeBytes { pc in
                XCTAssertTrue(Entry.bytesEqual(pa.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, pc.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, n))
            } }
        }
    }

    // MARK: layout

    func testHeaderIsCompact() {
        let db = Database(id: 0)
        let e = set(db, Array("key:123456".utf8), Array("123".utf8), encoding: .int)
        // 11-byte header + 1 + 1 (lengths) + 10 + 3 = 26 bytes: jemalloc's 32 class.
        XCTAssertEqual(e.layoutSize, 26)
        XCTAssertEqual(e.keyLength, 10)
        XCTAssertEqual(e.valueLength, 3)
        XCTAssertEqual(e.encoding, .int)
        XCTAssertEqual(e.type, .string)
        XCTAssertFalse(e.isObject)
        if tern_allocator_is_jemalloc() != 0 { XCTAssertEqual(e.allocatedSize, 32) }
        let p = set(db, Array("key:999999".utf8), Array("value:999999".utf8), encoding: .embstr)
        XCTAssertEqual(p.layoutSize, 35)
        if tern_allocator_is_jemalloc() != 0 { XCTAssertEqual(p.allocatedSize, 48) }
        // With a TTL (6-byte field) the integer entry still fits 32 bytes.
        let t = db.setExpire(e, at: 1_800_000_000_000)
        XCTAssertEqual(t.layoutSize, 32)
        XCTAssertEqual(t.expireAt, 1_800_000_000_000)
        if tern_allocator_is_jemalloc() != 0 { XCTAssertEqual(t.allocatedSize, 32) }
    }

    func testWideAndNarrowExpireFields() {
        let db = Database(id: 0)
        let k = Array("key".utf8)
        let v = Array("value".utf8)
        var e = set(db, k, v)
        // Narrow (6 bytes) -> wide (8 bytes, far future) -> negative -> narrow -> none.
        for when: Int64 in [0, (1 << 48) - 1, 1 << 48, Int64.max, -1, Int64.min, 5, 1_700_000_000_000] {
            e = db.setExpire(e, at: when)
            XCTAssertEqual(e.expireAt, when)
            if !Entry.fitsNarrowExpire(when) { XCTAssertEqual(e.expireFieldWidth, 8, "\(when) needs the wide field") }
            XCTAssertEqual(Array(e.key), k)
            XCTAssertEqual(Array(e.stringValue), v)
            XCTAssertEqual(db.expiresCount, 1)
            XCTAssertEqual(find(db, k)?.expireAt, when)
        }
        e = db.removeExpire(e)
        XCTAssertEqual(e.expireFieldWidth, 0)
        XCTAssertEqual(db.expiresCount, 0)
        XCTAssertEqual(Array(e.stringValue), v)
        // A fresh narrow field, then a value that needs the wide one.
        e = db.setExpire(e, at: 10)
        XCTAssertEqual(e.expireFieldWidth, 6)
        e = db.setExpire(e, at: -10)
        XCTAssertEqual(e.expireFieldWidth, 8)
        XCTAssertEqual(e.expireAt, -10)
        XCTAssertEqual(db.expiresCount, 1)
        // Big strings reserve a wide field: any EXPIRE stays in place.
        let big = set(db, Array("big".utf8), bytes(1000, seed: 3))
        XCTAssertEqual(big.expireFieldWidth, 8)
        let b2 = db.setExpire(big, at: Int64.max)
        XCTAssertEqual(b2.raw, big.raw)
        XCTAssertEqual(b2.expireAt, Int64.max)
        // Loading with a far-future expire allocates the wide field at once.
        _ = Array("loaded".utf8).withUnsafeBytes { kb in
            v.withUnsafeBytes { vb in db.addStringForLoading(kb, vb, encoding: .raw, expireAt: 1 << 60, lru: 0) }
        }
        XCTAssertEqual(find(db, Array("loaded".utf8))?.expireAt, 1 << 60)
        XCTAssertEqual(find(db, Array("loaded".utf8))?.expireFieldWidth, 8)
    }

    func testChainsOfManyEntriesRelinkCorrectly() {
        // Force long chains in a tiny table (rehash paused) and replace / unlink / move
        // entries at the head, middle and tail of chains: 6-byte links must stay intact.
        let db = Database(id: 0)
        db.table.pauseRehash += 1
        var keys = [[UInt8]]()
        for i in 0..<200 { let k = Array("c\(i)".utf8); keys.append(k); set(db, k, Array("v".utf8)) }
        for (i, k) in keys.enumerated() {
            guard let e = find(db, k) else { return XCTFail("lost \(i)") }
            switch i % 4 {
            case 0: set(db, k, bytes(40 + i, seed: i))                 // replaced by a new block
            case 1: db.setExpire(e, at: Int64(i))                      // realloc'ed in place or moved
            case 2: XCTAssertTrue(k.withUnsafeBytes { db.delete($0) })
            default: _ = db.resizeString(e, to: 300)                  // grown (moved)
            }
        }
        for (i, k) in keys.enumerated() {
            let e = find(db, k)
            switch i % 4 {
            case 0: XCTAssertEqual(e.map { Array($0.stringValue) }, bytes(40 + i, seed: i))
            case 1: XCTAssertEqual(e?.expireAt, Int64(i))
            case 2: XCTAssertNil(e)
            default: XCTAssertEqual(e?.valueLength, 300)
            }
        }
        XCTAssertEqual(db.count, 150)
        db.table.pauseRehash -= 1
        while db.table.isRehashing { db.table.rehash(buckets: 10) }
        var seen = 0
        db.table.forEach { _ in seen += 1 }
        XCTAssertEqual(seen, 150)
    }

    func testKeysAndValuesOfManySizes() {
        let db = Database(id: 0)
        let keySizes = [0, 1, 127, 128, 200, 16383, 16384, 70_000]
        let valueSizes = [0, 1, 127, 128, 511, 512, 16383, 16384, 300_000]
        var expected = [[UInt8]: [UInt8]]()
        for (i, ks) in keySizes.enumerated() {
            for (j, vs) in valueSizes.enumerated() {
                if ks < 2 && j != 0 { continue }   // one key each of length 0 and 1
                var key = bytes(ks, seed: i * 17 + j)
                if ks >= 2 { key[0] = UInt8(i); key[1] = UInt8(j) }   // distinct keys
                let value = bytes(vs, seed: j)
                set(db, key, value)
                expected[key] = value
            }
        }
        for (k, v) in expected {
            guard let e = find(db, k) else { XCTFail("lost key of \(k.count) bytes"); continue }
            XCTAssertEqual(e.keyLength, k.count)
            XCTAssertEqual(e.valueLength, v.count)
            XCTAssertEqual(Array(e.key), k)
            XCTAssertEqual(Array(e.stringValue), v)
            XCTAssertTrue(k.withUnsafeBytes { e.keyEquals($0) })
            XCTAssertEqual(e.hasExpireField, v.count >= Entry.reservedExpireFieldMinimum)
            XCTAssertFalse(e.hasExpire)
            // TTL added and removed keeps key and value intact.
            let a = db.setExpire(e, at: 123_456_789_000)
            XCTAssertEqual(a.expireAt, 123_456_789_000)
            XCTAssertEqual(Array(a.key), k)
            XCTAssertEqual(Array(a.stringValue), v)
            let b = db.removeExpire(a)
            XCTAssertEqual(b.expireAt, -1)
            XCTAssertEqual(Array(b.key), k)
            XCTAssertEqual(Array(b.stringValue), v)
        }
        XCTAssertEqual(db.count, expected.count)
        XCTAssertEqual(db.expiresCount, 0)
        for k in expected.keys { XCTAssertTrue(k.withUnsafeBytes { db.delete($0) }) }
        XCTAssertEqual(db.count, 0)
    }

    func testLRUIsTwentyFourBitsAndLeavesTypeAlone() {
        let db = Database(id: 0)
        let e = set(db, Array("k".utf8), Array("v".utf8), encoding: .embstr)
        e.lru = 0xFFFF_FFFF
        XCTAssertEqual(e.lru, 0xFF_FFFF)
        XCTAssertEqual(e.encoding, .embstr)
        XCTAssertEqual(e.type, .string)
        e.lru = 0x12_3456
        XCTAssertEqual(e.lru, 0x12_3456)
        e.isPrivateInteger = true
        XCTAssertTrue(e.isPrivateInteger)
        e.encoding = .int
        XCTAssertFalse(e.isPrivateInteger, "a new encoding clears the private-integer flag")
        XCTAssertEqual(e.encodingByte, ValueEncoding.int.rawValue)
        XCTAssertEqual(e.lru, 0x12_3456)
    }

    func testObjectEntries() {
        final class Box { let v: Int; init(_ v: Int) { self.v = v } }
        let db = Database(id: 0)
        weak var weakBox: Box?
        do {
            let box = Box(7)
            weakBox = box
            let e = Array("obj".utf8).withUnsafeBytes {
                db.setObject($0, box, type: .hash, encoding: .listpack)
            }
            XCTAssertTrue(e.isObject)
            XCTAssertEqual(e.type, .hash)
            XCTAssertEqual(e.encoding, .listpack)
            XCTAssertEqual((e.object as? Box)?.v, 7)
            let x = db.setExpire(e, at: 99)
            XCTAssertEqual((x.object as? Box)?.v, 7)
            XCTAssertEqual(x.expireAt, 99)
            let y = db.removeExpire(x)
            XCTAssertEqual((y.object as? Box)?.v, 7)
            XCTAssertEqual(y.type, .hash)
        }
        XCTAssertNotNil(weakBox, "the entry retains its object")
        XCTAssertTrue(Array("obj".utf8).withUnsafeBytes { db.delete($0) })
        XCTAssertNil(weakBox, "deleting the entry releases its object")
    }

    // MARK: in-place overwrite

    func testSameSizeOverwriteIsInPlace() {
        let db = Database(id: 0)
        let k = Array("counter".utf8)
        let a = set(db, k, Array("100".utf8))
        let b = set(db, k, Array("101".utf8))
        XCTAssertEqual(a.raw, b.raw)
        XCTAssertEqual(Array(b.stringValue), Array("101".utf8))
    }

    func testOverwriteWithinTheSizeClassIsInPlace() {
        let db = Database(id: 0)
        let k = Array("k".utf8)
        // 127 -> 128 bytes: the value varint widens (1 -> 2 bytes), the key moves; both
        // layouts (143 and 145 bytes) land in the same size class.
        let a = set(db, k, bytes(127, seed: 1))
        let b = set(db, k, bytes(128, seed: 2))
        if tern_malloc_good_size(143) == tern_malloc_good_size(145) { XCTAssertEqual(a.raw, b.raw) }
        XCTAssertEqual(Array(b.key), k)
        XCTAssertEqual(Array(b.stringValue), bytes(128, seed: 2))
        XCTAssertEqual(b.allocatedSize, tern_malloc_good_size(b.layoutSize), "no slack kept")
        // Back down and a much smaller value: a new block of the right class.
        let c = set(db, k, bytes(127, seed: 3))
        XCTAssertEqual(Array(c.stringValue), bytes(127, seed: 3))
        let d = set(db, k, Array("x".utf8))
        XCTAssertEqual(Array(d.stringValue), Array("x".utf8))
        XCTAssertEqual(d.allocatedSize, tern_malloc_good_size(d.layoutSize))
        XCTAssertEqual(find(db, k).map { Array($0.key) }, k)
    }

    func testOverwriteKeepsOrDropsTheTTL() {
        let db = Database(id: 0)
        let k = Array("k".utf8)
        let e = db.setExpire(set(db, k, Array("aaaa".utf8)), at: 1_000)
        XCTAssertEqual(db.expiresCount, 1)
        let kept = set(db, k, Array("bbbbb".utf8), keepTTL: true)
        XCTAssertEqual(kept.expireAt, 1_000)
        XCTAssertEqual(Array(kept.stringValue), Array("bbbbb".utf8))
        XCTAssertEqual(db.expiresCount, 1)
        _ = e
        let dropped = set(db, k, Array("cc".utf8))
        XCTAssertFalse(dropped.hasExpire)
        XCTAssertEqual(db.expiresCount, 0)
        XCTAssertFalse(dropped.hasExpireField, "a small value does not keep the field")
        // Big string with a TTL overwritten by a big value: in place, field kept, TTL gone.
        let big = db.setExpire(set(db, k, bytes(4000, seed: 1)), at: 5)
        XCTAssertEqual(db.expiresCount, 1)
        let big2 = set(db, k, bytes(4000, seed: 2))
        XCTAssertEqual(big.raw, big2.raw)
        XCTAssertFalse(big2.hasExpire)
        XCTAssertTrue(big2.hasExpireField)
        XCTAssertEqual(db.expiresCount, 0)
        XCTAssertEqual(Array(big2.stringValue), bytes(4000, seed: 2))
    }

    func testResizeAcrossVarintWidths() {
        let db = Database(id: 0)
        let k = Array("appendme".utf8)
        var e = set(db, k, Array("ab".utf8))
        for n in [127, 128, 16383, 16384, 20000] {
            e = db.resizeString(e, to: n)
            XCTAssertEqual(e.valueLength, n)
            XCTAssertEqual(Array(e.key), k)
            XCTAssertEqual(Array(e.stringValue.prefix(2)), Array("ab".utf8))
            XCTAssertTrue(e.stringValue.dropFirst(2).allSatisfy { $0 == 0 })
        }
        e = db.setExpire(e, at: 77)
        e = db.resizeString(e, to: 100)
        XCTAssertEqual(e.expireAt, 77)
        XCTAssertEqual(e.valueLength, 100)
        XCTAssertEqual(find(db, k).map { Array($0.stringValue.prefix(2)) }, Array("ab".utf8))
    }

    // MARK: table

    func testLoadFactorAndRehash() {
        let db = Database(id: 0)
        var keys = [[UInt8]]()
        for i in 0..<10_000 {
            let k = Array("key:\(i)".utf8)
            keys.append(k)
            set(db, k, Array("v".utf8))
            if i % 997 == 0 {
                // Every key inserted so far is found, whatever the resize state.
                for j in stride(from: 0, through: i, by: 13) { XCTAssertNotNil(find(db, keys[j])) }
            }
        }
        while db.table.isRehashing { db.table.rehash(buckets: 100) }
        XCTAssertEqual(db.table.bucketCount, 8192, "10,000 keys at load factor 2 fit 8,192 buckets")
        XCTAssertLessThanOrEqual(db.count, db.table.bucketCount * KeyTable.maxLoadFactor)
        XCTAssertEqual(db.table.tableBytes, 8192 * 9)
        for k in keys { XCTAssertNotNil(find(db, k)) }
        // Shrinks to one key per bucket when sparse.
        for k in keys.dropFirst(300) { XCTAssertTrue(k.withUnsafeBytes { db.delete($0) }) }
        db.table.shrinkIfSparse()
        while db.table.isRehashing { db.table.rehash(buckets: 100) }
        XCTAssertEqual(db.table.bucketCount, 512)
        for k in keys.prefix(300) { XCTAssertNotNil(find(db, k)) }
    }

    // MARK: snapshot versions

    final class RecordingWalker: KeyTableSnapshotWalker {
        var calls = [(table: Int, index: Int, keys: [String])]()
        func serializeBucketBeforeWrite(_ keyTable: KeyTable, table: Int, index: Int, key: UnsafeRawBufferPointer?) -> Bool {
            var keys = [String]()
            keyTable.forEachInBucket(table: table, index: index) { en in
                keys.append(String(decoding: en.key, as: UTF8.self) + (en.hasExpire ? "+ttl" : ""))
            }
            calls.append((table, index, keys))
            return false
        }
    }

    func testBucketVersionsAndWriteHooks() {
        let db = Database(id: 0)
        for i in 0..<100 { set(db, Array("k\(i)".utf8), Array("v".utf8)) }
        while db.table.isRehashing { db.table.rehash(buckets: 100) }
        let t = db.table
        let walker = RecordingWalker()
        let epoch = t.beginSnapshot(walker: walker)
        XCTAssertEqual(epoch, 1)
        XCTAssertEqual(t.pauseRehash, 1, "no entry moves while the walk runs")
        let key = Array("k5".utf8)
        let index = Int(key.withUnsafeBytes { ByteHash.hash($0) } & UInt64(t.size0 - 1))
        XCTAssertEqual(t.bucketVersion(table: 0, index: index), 0)
        // EXPIRE on k5: its bucket is serialized first, as it was (no TTL yet).
        guard let e = find(db, key) else { return XCTFail() }
        db.setExpire(e, at: 10)
        XCTAssertEqual(walker.calls.count, 1)
        XCTAssertEqual(walker.calls.first?.index, index)
        XCTAssertTrue(walker.calls.first?.keys.contains("k5") ?? false)
        XCTAssertEqual(t.bucketVersion(table: 0, index: index), epoch)
        // A second write to the same bucket does not serialize it again.
        set(db, key, Array("w".utf8), keepTTL: true)
        XCTAssertEqual(walker.calls.count, 1)
        // A bucket the walker already stamped is not serialized by a write.
        let other = Array("k7".utf8)
        let otherIndex = Int(other.withUnsafeBytes { ByteHash.hash($0) } & UInt64(t.size0 - 1))
        if otherIndex != index {
            t.markBucketSerialized(table: 0, index: otherIndex)
            _ = other.withUnsafeBytes { db.delete($0) }
            XCTAssertEqual(walker.calls.count, 1)
        }
        // Inserting a new key into an unserialized bucket serializes nothing: the entry is
        // marked as born in the snapshot and the bucket stays unwalked.
        var n = 0
        var fresh = [UInt8]()
        var freshIndex = 0
        repeat {
            fresh = Array("new\(n)".utf8); n += 1
            freshIndex = Int(fresh.withUnsafeBytes { ByteHash.hash($0) } & UInt64(t.size0 - 1))
        } while t.bucketVersion(table: 0, index: freshIndex) == epoch || t.t0?[freshIndex] == nil
        set(db, fresh, Array("v".utf8))
        XCTAssertEqual(walker.calls.count, 1)
        XCTAssertLessThan(t.bucketVersion(table: 0, index: freshIndex), epoch)
        // (read through the raw chain: a lookup claims the bucket)
        guard let head = t.t0?[freshIndex] else { return XCTFail() }
        XCTAssertEqual(Array(Entry(head).key), fresh, "new entries go to the chain's head")
        XCTAssertTrue(Entry(head).isBornInSnapshot)
        XCTAssertEqual(t.bornBuckets, [freshIndex << 1])
        XCTAssertNotNil(find(db, fresh))
        XCTAssertEqual(walker.calls.count, 2, "a lookup claims the bucket: serialized without the new key")
        XCTAssertFalse(walker.calls.last?.keys.contains(String(decoding: fresh, as: UTF8.self)) ?? true)
        XCTAssertFalse(walker.calls.last?.keys.isEmpty ?? true)
        XCTAssertEqual(find(db, fresh)?.isBornInSnapshot, false, "the engine's walk of the bucket cleared the mark")
        // In-place value change through the engine's write lookup.
        let before = walker.calls.count
        let k9 = Array("k9".utf8)
        let k9Index = Int(k9.withUnsafeBytes { ByteHash.hash($0) } & UInt64(t.size0 - 1))
        let wasStamped = t.bucketVersion(table: 0, index: k9Index) == epoch
        k9.withUnsafeBytes { t.willModify($0) }
        XCTAssertEqual(walker.calls.count, before + (wasStamped ? 0 : 1))
        XCTAssertEqual(t.bucketVersion(table: 0, index: k9Index), epoch)
        t.endSnapshot()
        XCTAssertEqual(t.pauseRehash, 0)
        XCTAssertEqual(t.snapshotEpoch, 0)
        // Outside a snapshot nothing is called.
        let calls = walker.calls.count
        set(db, Array("k1".utf8), Array("zz".utf8))
        XCTAssertEqual(walker.calls.count, calls)
        // The next snapshot's epoch is above every stamp: the same bucket is serialized again.
        let epoch2 = t.beginSnapshot(walker: walker)
        XCTAssertEqual(epoch2, 2)
        guard let e5 = find(db, key) else { return XCTFail() }
        db.removeExpire(e5)
        XCTAssertEqual(walker.calls.count, calls + 1)
        XCTAssertEqual(walker.calls.last?.keys.contains("k5+ttl"), true)
        t.endSnapshot()
    }

    /// Entries born during a snapshot: the writer thread's walk (`SnapshotBuckets`) skips them
    /// and leaves their marks (it never writes entries); an entry unlinked meanwhile (MOVE to
    /// a db that runs no snapshot) drops its own, and `endSnapshot` clears the rest, so the
    /// next snapshot has them all.
    func testBornInSnapshotMarksNeverOutliveTheSnapshot() {
        let db = Database(id: 0), other = Database(id: 1)
        for i in 0..<300 { set(db, Array("k\(i)".utf8), Array("v".utf8)) }
        while db.table.isRehashing { db.table.rehash(buckets: 100) }
        let t = db.table
        let walker = RecordingWalker()
        t.beginSnapshot(walker: walker)
        let buckets = t.snapshotBuckets()
        for i in 0..<40 { set(db, Array("n\(i)".utf8), Array("v".utf8)) }
        XCTAssertFalse(t.isRehashing, "no growth: every new key went into a bucket of the walk")
        XCTAssertEqual(walker.calls.count, 0, "inserts serialize nothing")
        XCTAssertFalse(t.bornBuckets.isEmpty)
        var seen: [String] = []
        for i in 0..<buckets.tables[0].count where buckets.claim(0, i) {
            buckets.forEachInBucket(0, i) { seen.append(String(decoding: $0.key, as: UTF8.self)) }
            buckets.release(0, i)
        }
        XCTAssertEqual(seen.sorted(), (0..<300).map { "k\($0)" }.sorted())
        var marked = 0
        t.forEach { if $0.isBornInSnapshot { marked += 1 } }
        XCTAssertEqual(marked, 40, "the writer's walk leaves the marks")
        guard let e = Array("n3".utf8).withUnsafeBytes({ t.unlink($0) }) else { return XCTFail() }
        XCTAssertFalse(e.isBornInSnapshot)
        other.insert(e)
        t.endSnapshot()
        t.forEach { XCTAssertFalse($0.isBornInSnapshot, String(decoding: $0.key, as: UTF8.self)) }
        XCTAssertTrue(t.bornBuckets.isEmpty)
        t.beginSnapshot(walker: walker)
        let next = t.snapshotBuckets()
        var count = 0
        for i in 0..<next.tables[0].count where next.claim(0, i) {
            next.forEachInBucket(0, i) { _ in count += 1 }
            next.release(0, i)
        }
        XCTAssertEqual(count, 339)
        t.endSnapshot()
    }

    func testTablesCreatedDuringASnapshotAreStampedAndEpochsWrap() {
        let db = Database(id: 0)
        let t = db.table
        let walker = RecordingWalker()
        XCTAssertEqual(t.beginSnapshot(walker: walker), 1)
        // Growth starts while the walk runs (rehash paused): the new table only gets keys
        // written after the epoch, so its buckets are already stamped.
        for i in 0..<50 { set(db, Array("g\(i)".utf8), Array("v".utf8)) }
        XCTAssertTrue(t.isRehashing)
        for i in 0..<t.size1 { XCTAssertEqual(t.bucketVersion(table: 1, index: i), 1) }
        for i in 0..<50 { XCTAssertNotNil(find(db, Array("g\(i)".utf8))) }
        t.endSnapshot()
        while t.isRehashing { t.rehash(buckets: 100) }
        for i in 0..<50 { XCTAssertNotNil(find(db, Array("g\(i)".utf8))) }
        // 254 epochs later the counter wraps (255 marks a bucket being serialized): versions
        // are reset and epoch 1 comes back.
        for _ in 2...254 { t.beginSnapshot(walker: walker); t.endSnapshot() }
        t.markBucketSerialized(table: 0, index: 0)   // no snapshot running: ignored
        XCTAssertEqual(t.beginSnapshot(walker: walker), 1)
        for i in 0..<t.size0 { XCTAssertEqual(t.bucketVersion(table: 0, index: i), 0) }
        t.endSnapshot()
    }

    func testSwapAndTakeAllCarryVersions() {
        let a = Database(id: 0), b = Database(id: 1)
        for i in 0..<20 { set(a, Array("a\(i)".utf8), Array("v".utf8)) }
        a.swapContents(with: b)
        XCTAssertEqual(b.count, 20)
        XCTAssertNotNil(b.table.versions0)
        XCTAssertNil(a.table.versions0)
        let detached = b.takeAll()
        XCTAssertEqual(detached.count, 20)
        XCTAssertNotNil(detached.versions0)
        XCTAssertNil(b.table.versions0)
    }
}
