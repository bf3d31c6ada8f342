import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import TernPersistence
@testable import TernStore

/// SAVE (`RDBSnapshot.save`) and BGSAVE (the walk) leave LZF to their writer thread
/// (`RDBChunk`): the files they write must equal, byte for byte, the image
/// `RDBFile.serialize` builds with LZF inline, for every kind of compressible string (values,
/// keys, listpack blobs, inner list nodes that compress and ones that do not).
final class RDBDeferredCompressionTests: XCTestCase {
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

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func randomBytes(_ n: Int, _ g: inout Seeded) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) } }

    static func makeDatabases() -> [Database] {
        var g = Seeded(state: 7)
        let dbs = [Database(id: 0), Database(id: 1), Database(id: 2)]
        for i in 0..<400 {
            let db = dbs[i % 2]
            // Keys: short, long and compressible, long and random.
            let key: [UInt8] = i % 5 == 0 ? bytes("a-long-compressible-key-aaaaaaaaaaaaaaaa-\(i)")
                : i % 7 == 0 ? randomBytes(30, &g) : bytes("k\(i)")
            let value: [UInt8]
            switch i % 6 {
            case 0: value = bytes(String(repeating: "v", count: 21 + i % 50))
            case 1: value = randomBytes(21 + i % 90, &g)
            case 2: value = bytes("\(Int(g.next() % 1_000_000))")
            case 3: value = bytes(String(repeating: "xy", count: 10))   // exactly 20 bytes
            default: value = bytes("value-\(i)-" + String(repeating: "z", count: i % 300))
            }
            key.withUnsafeBytes { k in value.withUnsafeBytes { _ = db.setString(k, $0) } }
            if i % 9 == 0, let e = key.withUnsafeBytes({ db.find($0) }) { _ = db.setExpire(e, at: 4_000_000_000_000 + Int64(i)) }
        }
        // String entries whose block layouts differ (snapshots copy string blocks whole and
        // encode them on the writer thread): integer-looking keys and values, empty and
        // multi-KB values (multi-byte length varints), a wide (far-future) expire field, and
        // a big string whose expire field holds no TTL after PERSIST.
        let odd: [([UInt8], [UInt8])] = [
            (bytes("12345"), bytes("-123")), (bytes("-7"), bytes("")), (bytes("e"), bytes("4294967296")),
            (bytes("multi-kb"), bytes(String(repeating: "m", count: 20_000))),
            (bytes("wide-expire"), bytes("w")), (bytes("persisted-big"), randomBytes(5_000, &g)),
        ]
        for (k, v) in odd { k.withUnsafeBytes { kb in v.withUnsafeBytes { _ = dbs[1].setString(kb, $0) } } }
        if let e = bytes("wide-expire").withUnsafeBytes({ dbs[1].find($0) }) { _ = dbs[1].setExpire(e, at: 1 << 50) }
        if let e = bytes("persisted-big").withUnsafeBytes({ dbs[1].find($0) }) {
            _ = dbs[1].setExpire(e, at: 4_000_000_000_000)
            if let e2 = bytes("persisted-big").withUnsafeBytes({ dbs[1].find($0) }) { _ = dbs[1].removeExpire(e2) }
        }
        let db = dbs[2]
        func put(_ name: String, _ obj: AnyObject, _ type: ValueType, _ enc: ValueEncoding) {
            bytes(name).withUnsafeBytes { _ = db.setObject($0, obj, type: type, encoding: enc) }
        }
        let z = ListpackZSet()
        for j in 0..<40 { bytes("member-\(j)").withUnsafeBytes { z.insertNew($0, Double(j) / 7 + 0.001) } }
        put("zlp", z, .zset, .listpack)
        let t = TreeZSet()
        for j in 0..<300 { bytes("tree-member-\(j)-padding-padding").withUnsafeBytes { t.insertNew($0, Double(j) * 1.25) } }
        put("ztree", t, .zset, .skiplist)
        let h = ListpackHash()
        for j in 0..<30 { bytes("f\(j)").withUnsafeBytes { f in bytes(String(repeating: "h", count: j * 3)).withUnsafeBytes { _ = h.set(f, $0) } } }
        put("hlp", h, .hash, .listpack)
        let d = DictHash()
        for j in 0..<300 { bytes("field-\(j)").withUnsafeBytes { f in bytes("value-\(j)-" + String(repeating: "q", count: j % 40)).withUnsafeBytes { _ = d.set(f, $0) } } }
        put("hdict", d, .hash, .hashtable)
        let s = DictSet()
        for j in 0..<300 { _ = bytes("set-member-\(j)-with-some-length").withUnsafeBytes { s.add($0) } }
        put("sdict", s, .set, .hashtable)
        var iset = IntSet.make()
        for j in 0..<100 { iset = iset.inserting(j * 1000).0 }
        put("iset", iset, .set, .intset)
        // Lists: plain, compressed inner nodes (compressible and random elements).
        for (name, depth, random) in [("l0", 0, false), ("l1", 1, false), ("l2", 2, true), ("l3", 1, true)] {
            let q = Quicklist(fill: -2, compressDepth: depth)
            for j in 0..<2000 {
                let e = random ? randomBytes(10 + j % 60, &g) : bytes("list-element-\(j)-" + String(repeating: "e", count: j % 30))
                e.withUnsafeBytes { q.pushTail($0) }
            }
            put(name, q, .list, .quicklist)
        }
        return dbs
    }

    func read(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return data
    }

    func tempDir() -> String {
        var t = Array("/tmp/tern-rdbdefer-XXXXXX".utf8CString)
        return t.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    func testSaveAndWalkEqualTheInlineImage() throws {
        let dbs = Self.makeDatabases()
        let aux = RDBFile.Aux(ctime: 1_700_000_000, usedMemory: 123_456)
        let dir = tempDir()
        for compression in [true, false] {
            for checksum in [true, false] {
                let want = RDBFile.serialize(dbs, aux: aux, compression: compression, checksum: checksum)
                let path = dir + "/save-\(compression)-\(checksum).rdb"
                let outcome = RDBSnapshot.save(dbs, aux: aux, compression: compression, checksum: checksum,
                                               path: path, tempName: path + ".tmp", incrementalFsync: true) { _ in (nil, nil) }
                guard case .ok = outcome else { return XCTFail("save failed: \(outcome)") }
                XCTAssertEqual(read(path), want, "SAVE compression \(compression) checksum \(checksum)")

                let walkPath = dir + "/walk-\(compression)-\(checksum).rdb"
                let snap = RDBSnapshot(databases: dbs, aux: aux, compression: compression, checksum: checksum,
                                       path: walkPath, tempName: walkPath + ".tmp") { _ in (nil, nil) }
                while !snap.step(buckets: 3) {}
                var waited = 0
                while snap.result == nil && waited < 20_000 { usleep(1000); waited += 1 }
                guard case .ok = snap.result else { return XCTFail("walk failed") }
                XCTAssertEqual(read(walkPath), want, "BGSAVE compression \(compression) checksum \(checksum)")
            }
        }
        // The image loads back (and the compressible strings did compress).
        let want = RDBFile.serialize(dbs, aux: aux, compression: true, checksum: true)
        XCTAssertLessThan(want.count, RDBFile.serialize(dbs, aux: aux, compression: false, checksum: true).count)
        var keys = 0
        _ = try RDBFile.load(want, limits: EncodingLimits(), verifyChecksum: true) { _ in keys += 1 }
        XCTAssertEqual(keys, dbs.reduce(0) { $0 + $1.count })
    }

    /// Under an LRU or LFU policy every record carries IDLE or FREQ before its type: strings
    /// are then encoded on the engine thread, collections still copied for the writer.
    func testSaveAndWalkWithAccessFieldsEqualTheInlineImage() {
        let dbs = Self.makeDatabases()
        let aux = RDBFile.Aux(ctime: 1_700_000_000, usedMemory: 1)
        let dir = tempDir()
        let fields: [(Entry) -> (idle: Int?, freq: UInt8?)] = [
            { e in (idle: e.key.count * 7, freq: nil) },
            { e in (idle: nil, freq: UInt8(truncatingIfNeeded: e.key.count)) },
        ]
        for (i, field) in fields.enumerated() {
            let want = RDBFile.serialize(dbs, aux: aux, compression: true, checksum: true, accessField: field)
            let path = dir + "/save-access-\(i).rdb"
            let outcome = RDBSnapshot.save(dbs, aux: aux, compression: true, checksum: true,
                                           path: path, tempName: path + ".tmp", incrementalFsync: false, accessField: field)
            guard case .ok = outcome else { return XCTFail("save failed: \(outcome)") }
            XCTAssertEqual(read(path), want, "SAVE with access field \(i)")
            let walkPath = dir + "/walk-access-\(i).rdb"
            let snap = RDBSnapshot(databases: dbs, aux: aux, compression: true, checksum: true,
                                   path: walkPath, tempName: walkPath + ".tmp", accessField: field)
            while !snap.step(buckets: 5) {}
            var waited = 0
            while snap.result == nil && waited < 20_000 { usleep(1000); waited += 1 }
            guard case .ok = snap.result else { return XCTFail("walk failed") }
            XCTAssertEqual(read(walkPath), want, "BGSAVE with access field \(i)")
        }
    }

    func testSaveReportsAnUnwritableTarget() {
        let dbs = Self.makeDatabases()
        let aux = RDBFile.Aux(ctime: 0, usedMemory: 0)
        let outcome = RDBSnapshot.save(dbs, aux: aux, compression: true, checksum: true,
                                       path: "/nonexistent-dir/x.rdb", tempName: "/nonexistent-dir/t.rdb",
                                       incrementalFsync: false) { _ in (nil, nil) }
        guard case .failed(let why) = outcome else { return XCTFail("expected a failure") }
        XCTAssertTrue(why.hasPrefix("Failed opening the temp RDB file"), why)
    }
}
