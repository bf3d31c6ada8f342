import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import TernPersistence
@testable import TernStore

/// The forkless BGSAVE walk driven one small step at a time, with every kind of keyspace
/// change between steps (overwrites in place and by replacement, APPEND growth, EXPIRE and
/// PERSIST, deletes, inserts that grow the table, deletes that shrink it, other dbs), with a
/// resize pending at the start or started during the walk: the file must hold exactly the
/// dataset of the moment the snapshot began. Deterministic (seeded generator).
final class RDBSnapshotWalkTests: XCTestCase {
    /// SplitMix64: the same sequence on every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Value: Equatable { var bytes: [UInt8]; var expire: Int64? }
    typealias Image = [Int: [[UInt8]: Value]]

    func image(_ dbs: [Database]) -> Image {
        var out: Image = [:]
        for db in dbs where db.count > 0 {
            var m: [[UInt8]: Value] = [:]
            db.table.forEach { e in
                if e.isObject { return }
                m[Array(e.key)] = Value(bytes: Array(e.stringValue), expire: e.hasExpire ? e.expireAt : nil)
            }
            out[db.id] = m
        }
        return out
    }

    func load(_ path: String) throws -> Image {
        let fd = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        var out: Image = [:]
        _ = try RDBFile.load(data, limits: EncodingLimits(), verifyChecksum: true) { rec in
            guard case .string(let s) = rec.value else { XCTFail("not a string"); return }
            XCTAssertNil(out[rec.db, default: [:]][rec.key], "duplicate key in the image")
            out[rec.db, default: [:]][rec.key] = Value(bytes: s, expire: rec.expireAt)
        }
        return out
    }

    /// A fresh directory for one test's files, removed when the test ends.
    func scratchDir(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.path + "/tern-walk-\(name)-\(getpid())"
        mkdir(dir, 0o755)
        addTeardownBlock { _ = try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// A BGSAVE-style snapshot of `dbs` into `dir`/dump.rdb.
    func fileSnapshot(_ dbs: [Database], in dir: String, compression: Bool, incrementalFsync: Bool = false) -> RDBSnapshot {
        RDBSnapshot(databases: dbs, aux: RDBFile.Aux(ctime: 0, usedMemory: 0), compression: compression,
                    checksum: true, path: dir + "/dump.rdb", tempName: dir + "/temp.rdb",
                    incrementalFsync: incrementalFsync) { _ in (nil, nil) }
    }

    func set(_ db: Database, _ k: [UInt8], _ v: [UInt8], keepTTL: Bool = false) {
        k.withUnsafeBytes { kb in v.withUnsafeBytes { vb in _ = db.setString(kb, vb, keepTTL: keepTTL) } }
    }

    func find(_ db: Database, _ k: [UInt8]) -> Entry? { k.withUnsafeBytes { db.find($0) } }

    /// One random change in one of the dbs.
    func mutate(_ dbs: [Database], _ g: inout Seeded, keySpace: Int) {
        let db = dbs[Int(g.next() % UInt64(dbs.count))]
        let k = Array("key:\(g.next() % UInt64(keySpace))".utf8)
        switch g.next() % 10 {
        case 0, 1:   // same-length overwrite (in place) or a new length (replacement)
            set(db, k, Array(String(repeating: "w", count: Int(g.next() % 40)).utf8), keepTTL: g.next() % 2 == 0)
        case 2:
            _ = k.withUnsafeBytes { db.delete($0) }
        case 3:
            if let e = find(db, k) { db.setExpire(e, at: 4_000_000_000_000 + Int64(g.next() % 1000)) }
        case 4:
            if let e = find(db, k) { db.removeExpire(e) }
        case 5:
            if let e = find(db, k), !e.isObject {
                let n = db.resizeString(e, to: e.valueLength + 1 + Int(g.next() % 300))
                n.mutableStringValue[0] = 0x41
            }
        case 6:
            if let e = find(db, k), !e.isObject, e.valueLength > 0 {
                // In place, as SETRANGE/INCR do after the engine's write lookup.
                k.withUnsafeBytes { db.table.willModify($0) }
                e.mutableStringValue[0] = 0x5A
            }
        default:   // inserts: table growth while the walk runs
            for i in 0..<3 { set(db, Array("new:\(g.next() % 100_000):\(i)".utf8), Array("n".utf8)) }
        }
    }

    /// `onWriter`: the walk runs on the writer thread (`walkOnWriter`, slowed per key so the
    /// changes below land while it runs) and this thread changes the dbs concurrently, as the
    /// engine does.
    func runWalk(seed: UInt64, keys: Int, rehashingAtStart: Bool, deleteMostFirst: Bool, onWriter: Bool = false) throws {
        let dbs = (0..<3).map { Database(id: $0) }
        var g = Seeded(state: seed)
        for db in dbs {
            for i in 0..<(db.id == 1 ? 0 : keys) {
                set(db, Array("key:\(i)".utf8), Array("value-\(i)-\(g.next() % 1000)".utf8))
                if i % 7 == 0, let e = find(db, Array("key:\(i)".utf8)) {
                    db.setExpire(e, at: 4_000_000_000_000 + Int64(i))
                }
            }
            if !rehashingAtStart { while db.table.isRehashing { db.table.rehash(buckets: 1000) } }
        }
        if rehashingAtStart {
            // A resize under way when the snapshot begins (walked in both tables).
            set(dbs[0], Array("trigger".utf8), Array("t".utf8))
            while !dbs[0].table.isRehashing {
                set(dbs[0], Array("grow:\(g.next())".utf8), Array("g".utf8))
            }
            XCTAssertTrue(dbs[0].table.isRehashing)
        }
        let want = image(dbs)
        let dir = scratchDir("\(seed)")
        let path = dir + "/dump.rdb"
        let snap = fileSnapshot(dbs, in: dir, compression: true, incrementalFsync: true)
        if onWriter { XCTAssertTrue(snap.walkOnWriter(keyDelayMicros: 20)) }
        if deleteMostFirst {
            // Deletes that empty most of db 0; the table shrinks while the walk runs.
            for i in 0..<(keys * 19 / 20) { _ = Array("key:\(i)".utf8).withUnsafeBytes { dbs[0].delete($0) } }
            dbs[0].table.shrinkIfSparse()
            XCTAssertTrue(dbs[0].table.isRehashing, "shrink started during the walk")
        }
        var steps = 0
        while !snap.step(buckets: 3) {
            for _ in 0..<4 { mutate(dbs, &g, keySpace: keys) }
            // The cron's resizing and rehashing go on (paused while a db is being walked).
            for db in dbs { db.table.shrinkIfSparse(); db.table.rehash(forMicroseconds: 10) }
            steps += 1
            if onWriter && steps % 64 == 0 { usleep(100) }
        }
        if onWriter { XCTAssertGreaterThan(snap.keysWritten, 0) }
        XCTAssertGreaterThan(steps, 10)
        let deadline = Date().addingTimeInterval(30)
        while snap.result == nil && Date() < deadline { usleep(1000) }
        guard case .ok = snap.result else { return XCTFail("save failed: \(String(describing: snap.result))") }
        let got = try load(path)
        XCTAssertEqual(got.keys.sorted(), want.keys.sorted())
        for (db, m) in want {
            let g = got[db] ?? [:]
            XCTAssertEqual(g.count, m.count, "db \(db)")
            var bad = 0
            for (k, v) in m where g[k] != v {
                bad += 1
                if bad < 5 { XCTFail("db \(db) key \(String(decoding: k, as: UTF8.self)): \(String(describing: g[k])) != \(v)") }
            }
            XCTAssertEqual(bad, 0)
        }
        for db in dbs { XCTAssertEqual(db.table.runningSnapshotEpoch, 0); XCTAssertEqual(db.table.pauseRehash, 0) }
        // Keys inserted during the walk were left out through their marks; none outlives it.
        var marked = 0
        for db in dbs { db.table.forEach { if $0.isBornInSnapshot { marked += 1 } } }
        XCTAssertEqual(marked, 0)
    }

    func testWalkWithGrowthDuringTheSnapshot() throws {
        for seed in 1...3 as ClosedRange<UInt64> {
            try runWalk(seed: seed, keys: 3000, rehashingAtStart: false, deleteMostFirst: false)
        }
    }

    func testWalkWithAResizePendingAtTheStart() throws {
        for seed in 10...12 as ClosedRange<UInt64> {
            try runWalk(seed: seed, keys: 3000, rehashingAtStart: true, deleteMostFirst: false)
        }
    }

    func testWalkWhileTheTableShrinks() throws {
        try runWalk(seed: 20, keys: 4000, rehashingAtStart: false, deleteMostFirst: true)
    }

    func testWalkOnTheWriterThreadWhileTheDbsChange() throws {
        for seed in 30...32 as ClosedRange<UInt64> {
            try runWalk(seed: seed, keys: 3000, rehashingAtStart: false, deleteMostFirst: false, onWriter: true)
        }
        for seed in 33...34 as ClosedRange<UInt64> {
            try runWalk(seed: seed, keys: 3000, rehashingAtStart: true, deleteMostFirst: false, onWriter: true)
        }
        try runWalk(seed: 35, keys: 4000, rehashingAtStart: false, deleteMostFirst: true, onWriter: true)
    }

    /// Writes that serialize more than the queue's hard cap while the writer walks slowly:
    /// the engine (this thread) waits for room, the writer writes the engine's chunks between
    /// its buckets, and the file is still the data at the start.
    func testWalkOnTheWriterThreadPastTheQueueCap() throws {
        let db = Database(id: 0)
        let big = [UInt8](repeating: 0x61, count: 4000)
        let n = 6000   // 24 MB of values: more than RDBSnapshot.hardQueuedBytes
        for i in 0..<n { set(db, Array("key:\(i)".utf8), big + Array("\(i)".utf8)) }
        let want = image([db])
        let dir = scratchDir("cap")
        let path = dir + "/dump.rdb"
        let snap = fileSnapshot([db], in: dir, compression: false)
        XCTAssertTrue(snap.walkOnWriter(keyDelayMicros: 200))
        for i in 0..<n { set(db, Array("key:\(i)".utf8), Array("new".utf8)) }
        while !snap.step(buckets: 0) { usleep(1000) }
        let deadline = Date().addingTimeInterval(60)
        while snap.result == nil && Date() < deadline { usleep(1000) }
        guard case .ok = snap.result else { return XCTFail("save failed: \(String(describing: snap.result))") }
        XCTAssertEqual(try load(path), want)
    }

    /// Big sets (hash tables of 300 members) sharing buckets with small keys, while the writer
    /// walks slowly: overwriting the small keys hands the sets to the writer instead of
    /// serializing them on the engine; writes and deletes of the sets themselves then take
    /// them back or wait for the writer. The file is still the data at the start, and no
    /// bucket is left busy.
    func testCostlyNeighboursAreHandedToTheWriter() throws {
        let db = Database(id: 0)
        for i in 0..<2000 { set(db, Array("key:\(i)".utf8), Array("v\(i)".utf8)) }
        func makeSet(_ tag: Int) -> DictSet {
            let d = DictSet()
            for m in 0..<300 { _ = Array("m\(tag)-\(m)".utf8).withUnsafeBytes { d.add($0) } }
            return d
        }
        for i in 0..<60 {
            _ = Array("big:\(i)".utf8).withUnsafeBytes {
                db.setObject($0, makeSet(i), type: .set, encoding: .hashtable)
            }
        }
        while db.table.isRehashing { db.table.rehash(buckets: 1000) }
        func members(_ i: Int) -> Set<[UInt8]>? {
            guard let e = find(db, Array("big:\(i)".utf8)),
                  let c = e.object as? StoredCollection else { return nil }
            var out = Set<[UInt8]>()
            c.forEachDigestItem { m, _ in out.insert(Array(m)) }
            return out
        }
        let wantStrings = image([db])
        var wantSets: [Int: Set<[UInt8]>] = [:]
        for i in 0..<60 { wantSets[i] = members(i) }
        let dir = scratchDir("hand")
        let path = dir + "/dump.rdb"
        let snap = fileSnapshot([db], in: dir, compression: true)
        // The writer sleeps 20 ms per key it writes (rdb-key-save-delay), running the
        // handed values between sleeps: those still queued when the engine touches their key
        // are taken back; after a pause the rest are written by the writer.
        XCTAssertTrue(snap.walkOnWriter(keyDelayMicros: 20_000))
        for i in 0..<2000 { set(db, Array("key:\(i)".utf8), Array("new\(i)".utf8)) }
        XCTAssertGreaterThan(snap.handedBuckets, 0)
        func touch(_ i: Int) {
            let k = Array("big:\(i)".utf8)
            if i % 3 == 0 {
                _ = k.withUnsafeBytes { db.delete($0) }
            } else if let e = find(db, k), let d = e.object as? DictSet {
                // A lookup claims: the set is the engine's again before it changes.
                _ = Array("added".utf8).withUnsafeBytes { d.add($0) }
                _ = Array("m\(i)-0".utf8).withUnsafeBytes { d.remove($0) }
            }
        }
        for i in stride(from: 0, to: 60, by: 2) { touch(i) }
        XCTAssertGreaterThan(snap.handedTakenBack, 0)
        usleep(300_000)
        for i in stride(from: 1, to: 60, by: 2) { touch(i) }
        while !snap.step(buckets: 0) { usleep(1000) }
        XCTAssertLessThan(snap.handedTakenBack, snap.handedBuckets, "the writer wrote some")
        let deadline = Date().addingTimeInterval(60)
        while snap.result == nil && Date() < deadline { usleep(1000) }
        guard case .ok = snap.result else { return XCTFail("save failed: \(String(describing: snap.result))") }
        for t in 0..<2 {
            for i in 0..<db.table.bucketCount(table: t) {
                XCTAssertNotEqual(db.table.bucketVersion(table: t, index: i), KeyTable.busyVersion)
            }
        }
        // The file: strings as at the start, every set with its members at the start.
        var strings: [[UInt8]: Value] = [:]
        var sets: [[UInt8]: Set<[UInt8]>] = [:]
        let data = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        _ = try RDBFile.load(data, limits: EncodingLimits(), verifyChecksum: true) { rec in
            switch rec.value {
            case .string(let v):
                XCTAssertNil(strings[rec.key]); strings[rec.key] = Value(bytes: v, expire: rec.expireAt)
            case .collection(let c, _, _):
                XCTAssertNil(sets[rec.key])
                var m = Set<[UInt8]>()
                c.forEachDigestItem { x, _ in m.insert(Array(x)) }
                sets[rec.key] = m
            }
        }
        XCTAssertEqual(strings, wantStrings[0]?.filter { !$0.key.starts(with: Array("big:".utf8)) })
        XCTAssertEqual(sets.count, 60)
        for i in 0..<60 { XCTAssertTrue(sets[Array("big:\(i)".utf8)] == wantSets[i], "big:\(i) differs from the data at the start") }
    }

    /// An aborted save (SHUTDOWN) with values still handed to the writer: the queued ones are
    /// dropped, no bucket stays busy, and the next snapshot has every key.
    func testAbortWithHandedValues() throws {
        let db = Database(id: 0)
        for i in 0..<500 { set(db, Array("key:\(i)".utf8), Array("v".utf8)) }
        for i in 0..<30 {
            let d = DictSet()
            for m in 0..<300 { _ = Array("m\(m)".utf8).withUnsafeBytes { d.add($0) } }
            _ = Array("big:\(i)".utf8).withUnsafeBytes { db.setObject($0, d, type: .set, encoding: .hashtable) }
        }
        let dir = scratchDir("abort")
        let snap = fileSnapshot([db], in: dir, compression: false)
        XCTAssertTrue(snap.walkOnWriter(keyDelayMicros: 2000))
        for i in 0..<500 { set(db, Array("key:\(i)".utf8), Array("w".utf8)) }
        XCTAssertGreaterThan(snap.handedBuckets, 0)
        snap.abort()
        XCTAssertEqual(db.table.runningSnapshotEpoch, 0)
        for i in 0..<db.table.bucketCount(table: 0) {
            XCTAssertNotEqual(db.table.bucketVersion(table: 0, index: i), KeyTable.busyVersion)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/dump.rdb"))
        let again = fileSnapshot([db], in: dir, compression: false)
        XCTAssertTrue(again.walkOnWriter(keyDelayMicros: 0))
        while !again.step(buckets: 0) { usleep(1000) }
        while again.result == nil { usleep(1000) }
        var keys = 0
        let data = try Array(Data(contentsOf: URL(fileURLWithPath: dir + "/dump.rdb")))
        _ = try RDBFile.load(data, limits: EncodingLimits(), verifyChecksum: true) { _ in keys += 1 }
        XCTAssertEqual(keys, 530)
    }

    /// SWAPDB exchanges tables with their bucket versions: the epoch counter must travel too,
    /// or the next snapshot of a db can take an epoch at or below versions it now holds and
    /// skip those buckets (keys missing from the file).
    func testEpochsTravelWithSwappedTables() throws {
        let a = Database(id: 0), b = Database(id: 1)
        for i in 0..<100 { set(a, Array("a\(i)".utf8), Array("v".utf8)) }
        for i in 0..<100 { set(b, Array("b\(i)".utf8), Array("v".utf8)) }
        final class Nop: KeyTableSnapshotWalker {
            func serializeBucketBeforeWrite(_ keyTable: KeyTable, table: Int, index: Int, key: UnsafeRawBufferPointer?) -> Bool { false }
        }
        // Five snapshots of db 0 alone, walked to the end: its buckets carry epoch 5.
        for _ in 0..<5 {
            let e = a.table.beginSnapshot(walker: Nop())
            for i in 0..<a.table.bucketCount(table: 0) { a.table.markBucketSerialized(table: 0, index: i) }
            XCTAssertGreaterThan(e, 0)
            a.table.endSnapshot()
        }
        a.swapContents(with: b)
        let epoch = b.table.beginSnapshot(walker: Nop())
        for i in 0..<b.table.bucketCount(table: 0) {
            XCTAssertLessThan(b.table.bucketVersion(table: 0, index: i), epoch)
        }
        b.table.endSnapshot()
        // And through a real walk: every key of the swapped db is in the file.
        let dbs = [a, b]
        let want = image(dbs)
        let dir = scratchDir("swap")
        let snap = fileSnapshot(dbs, in: dir, compression: false)
        snap.complete()
        while snap.result == nil { usleep(1000) }
        XCTAssertEqual(try load(dir + "/dump.rdb"), want)
    }
}
