import XCTest
@testable import TernPersistence
import TernStore

/// The codec against bytes redis-server 7.0.15 produced (samples from the rdb-and-dump spec,
/// each recorded from a live server), plus round trips and hostile inputs.
final class RDBCodecTests: XCTestCase {
    func hex(_ s: String) -> [UInt8] {
        let h = s.filter { !$0.isWhitespace }
        var out: [UInt8] = []
        var i = h.startIndex
        while i < h.endIndex {
            let j = h.index(i, offsetBy: 2)
            out.append(UInt8(h[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func stringBytes(_ s: [UInt8], compression: Bool = true) -> [UInt8] {
        var w = RDBValueWriter(compression: compression)
        w.writeString(s)
        return w.out
    }

    // MARK: CRC-64, LZF, lengths

    /// The slice-by-8 update equals the one-byte-at-a-time definition at every length and
    /// alignment, and chunked updates equal one pass.
    func testCRC64SliceBy8MatchesBytewise() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        func bytewise(_ b: ArraySlice<UInt8>) -> UInt64 {
            var c: UInt64 = 0
            for x in b { c = CRC64.table[Int(UInt8(truncatingIfNeeded: c) ^ x)] ^ (c >> 8) }
            return c
        }
        for start in 0..<9 {
            for end in [start, start + 1, start + 7, start + 8, start + 9, start + 63, 1000] where end <= 1000 {
                let slice = data[start..<end]
                XCTAssertEqual(slice.withUnsafeBytes { CRC64.update(0, $0) }, bytewise(slice), "\(start)..<\(end)")
            }
        }
        let whole = CRC64.checksum(data)
        let split = data.withUnsafeBytes { b in
            CRC64.update(CRC64.update(0, UnsafeRawBufferPointer(rebasing: b[0..<333])), UnsafeRawBufferPointer(rebasing: b[333...]))
        }
        XCTAssertEqual(whole, split)
    }

    func testCRC64CheckValue() {
        XCTAssertEqual(CRC64.checksum(Array("123456789".utf8)), 0xE9C6D914C4B8D9CA)
        XCTAssertEqual(CRC64.checksum([]), 0)
    }

    func testLengths() {
        let cases: [(UInt64, String)] = [(0, "00"), (63, "3F"), (64, "4040"), (16383, "7FFF"),
                                         (16384, "8000004000"), (0xFFFF_FFFF, "80FFFFFFFF"),
                                         (0x1_0000_0000, "810000000100000000")]
        for (v, h) in cases {
            var w = RDBValueWriter()
            w.writeLength(v)
            XCTAssertEqual(w.out, hex(h), "\(v)")
            var r = RDBValueReader(w.out)
            XCTAssertEqual(try r.readLength(), Int(v))
        }
        var r = RDBValueReader([0x82])
        XCTAssertThrowsError(try r.readLength())
    }

    // MARK: strings (§2.3 examples)

    func testStringEncodings() {
        XCTAssertEqual(stringBytes(Array("123".utf8)), hex("C07B"))
        XCTAssertEqual(stringBytes(Array("-128".utf8)), hex("C080"))
        XCTAssertEqual(stringBytes(Array("-129".utf8)), hex("C17FFF"))
        XCTAssertEqual(stringBytes(Array("32767".utf8)), hex("C1FF7F"))
        XCTAssertEqual(stringBytes(Array("40000".utf8)), hex("C2409C0000"))
        XCTAssertEqual(stringBytes(Array("2147483648".utf8)), [10] + Array("2147483648".utf8))
        for s in ["007", "-0", "+1"] { XCTAssertEqual(stringBytes(Array(s.utf8)), [UInt8(s.count)] + Array(s.utf8)) }
        XCTAssertEqual(stringBytes([]), [0])
        XCTAssertEqual(stringBytes([UInt8](repeating: 0x31, count: 25)), hex("C3 09 19 01 31 31 E0 0C 00 01 31 31"))
        XCTAssertEqual(stringBytes([UInt8](repeating: 0x61, count: 100)), hex("C3 09 40 64 01 61 61 E0 57 00 01 61 61"))
        XCTAssertEqual(stringBytes([UInt8](repeating: 0x61, count: 100), compression: false), hex("4064") + [UInt8](repeating: 0x61, count: 100))
    }

    func testStringRoundTrips() throws {
        var rng = SystemRandomNumberGenerator()
        for n in [0, 1, 11, 20, 21, 64, 300, 5000, 70000] {
            for kind in 0..<3 {
                let s: [UInt8] = (0..<n).map { i in kind == 0 ? UInt8.random(in: 0...255, using: &rng) : kind == 1 ? UInt8(48 + i % 3) : 0x7A }
                var r = RDBValueReader(stringBytes(s))
                XCTAssertEqual(try r.readString(), s)
            }
        }
        for v in [0, -1, 127, 128, -32769, 2147483647, -2147483648] {
            let s = Array(String(v).utf8)
            var r = RDBValueReader(stringBytes(s))
            XCTAssertEqual(try r.readString(), s)
        }
    }

    // MARK: DUMP payloads recorded from redis-server

    func entryFor(_ db: Database, _ key: String) -> Entry {
        db.find(Array(key.utf8))!
    }

    func testDumpOfRecordedValues() {
        let db = Database(id: 0)
        Array("s1".utf8).withUnsafeBytes { k in Array("hello".utf8).withUnsafeBytes { db.setString(k, $0) } }
        XCTAssertEqual(DumpPayload.make(entryFor(db, "s1"), compression: true), hex("00 05 68656C6C6F 0A00 6372DF766534200A"))

        let h = ListpackHash()
        for (f, v) in [("name", "alice"), ("age", "30")] {
            Array(f.utf8).withUnsafeBytes { fb in Array(v.utf8).withUnsafeBytes { _ = h.set(fb, $0) } }
        }
        Array("h1".utf8).withUnsafeBytes { _ = db.setObject($0, h, type: .hash, encoding: .listpack) }
        XCTAssertEqual(DumpPayload.make(entryFor(db, "h1"), compression: true),
                       hex("10 1B 1B00000004008 46E616D6505 85616C69636506 8361676504 1E01 FF 0A00 96922ECBC1785A74".replacingOccurrences(of: "8 4", with: "84")))

        var s = IntSet.make()
        for v in [3, 1, 2] { s = s.inserting(v).0 }
        Array("st".utf8).withUnsafeBytes { _ = db.setObject($0, s, type: .set, encoding: .intset) }
        XCTAssertEqual(DumpPayload.make(entryFor(db, "st"), compression: true),
                       hex("0B 0E 02000000030000000100020003 00 0A00 A5025CE26D6E4D1B"))

        let q = Quicklist()
        for e in ["x", "42"] { Array(e.utf8).withUnsafeBytes { q.pushTail($0) } }
        Array("l".utf8).withUnsafeBytes { _ = db.setObject($0, q, type: .list, encoding: .quicklist) }
        let lp = DumpPayload.make(entryFor(db, "l"), compression: true)!
        XCTAssertEqual(Array(lp.dropLast(10)), hex("12 01 02 0C 0C000000 0200 8178 02 2A01 FF"))

        let z = ListpackZSet()
        Array("a".utf8).withUnsafeBytes { z.insertNew($0, 1) }
        Array("b".utf8).withUnsafeBytes { z.insertNew($0, 2.5) }
        Array("zs".utf8).withUnsafeBytes { _ = db.setObject($0, z, type: .zset, encoding: .listpack) }
        let zp = DumpPayload.make(entryFor(db, "zs"), compression: true)!
        XCTAssertEqual(Array(zp.dropLast(10)), hex("11 14 14000000 0400 816102 0101 816202 83322E3504 FF"))
    }

    func testListpackIntegerForms() {
        let cases: [(String, String)] = [("127", "7F01"), ("128", "C08002"), ("-1", "DFFF02"), ("4096", "F1001003"),
                                         ("-4097", "F1FFEF03"), ("32768", "F200800004"), ("8388608", "F30000800005"),
                                         ("2147483648", "F4000000800000000009"), ("0", "0001"), ("00", "82303003")]
        for (s, h) in cases {
            var b = RedisListpackBuilder()
            Array(s.utf8).withUnsafeBytes { b.append($0) }
            XCTAssertEqual(Array(b.finished()[6..<(b.finished().count - 1)]), hex(h), s)
            let back = try? RedisListpackReader.elements(b.finished(), deep: true, at: 0)
            XCTAssertEqual(back?.first?.bytes, Array(s.utf8))
        }
    }

    // MARK: round trips through the reader

    func roundTrip(_ e: Entry, limits: EncodingLimits = EncodingLimits()) throws -> RDBValue {
        let p = DumpPayload.make(e, compression: true)!
        XCTAssertTrue(p.withUnsafeBytes { DumpPayload.verify($0) })
        return try DumpPayload.decode(p, deep: true, limits: limits)
    }

    func testCollectionsRoundTrip() throws {
        let db = Database(id: 0)
        let q = Quicklist()
        var expected: [[UInt8]] = []
        for i in 0..<3000 {
            let e = i % 3 == 0 ? Array(String(i * 7919).utf8) : Array("element-\(i)".utf8) + [UInt8](repeating: 0x41, count: i % 100)
            expected.append(e)
            e.withUnsafeBytes { q.pushTail($0) }
        }
        Array("l".utf8).withUnsafeBytes { _ = db.setObject($0, q, type: .list, encoding: .quicklist) }
        guard case .collection(let lq as Quicklist, .list, .quicklist) = try roundTrip(entryFor(db, "l")) else { return XCTFail() }
        XCTAssertEqual(lq.allElements, expected)

        let d = DictHash()
        for i in 0..<600 { Array("f\(i)".utf8).withUnsafeBytes { f in Array("v\(i)".utf8).withUnsafeBytes { _ = d.set(f, $0) } } }
        Array("h".utf8).withUnsafeBytes { _ = db.setObject($0, d, type: .hash, encoding: .hashtable) }
        guard case .collection(let dh as DictHash, .hash, .hashtable) = try roundTrip(entryFor(db, "h")) else { return XCTFail() }
        XCTAssertEqual(dh.count, 600)

        let t = TreeZSet()
        for i in 0..<200 { Array("m\(i)".utf8).withUnsafeBytes { t.insertNew($0, Double(i) / 3) } }
        Array("z".utf8).withUnsafeBytes { _ = db.setObject($0, t, type: .zset, encoding: .skiplist) }
        guard case .collection(let tz as TreeZSet, .zset, .skiplist) = try roundTrip(entryFor(db, "z")) else { return XCTFail() }
        XCTAssertEqual(tz.count, 200)
        XCTAssertEqual(Array("m5".utf8).withUnsafeBytes { tz.score($0) }, 5.0 / 3)

        // A smaller loading threshold converts on the way in.
        var small = EncodingLimits()
        small.zsetMaxListpackEntries = 1000
        guard case .collection(_, .zset, .listpack) = try roundTrip(entryFor(db, "z"), limits: small) else { return XCTFail() }
    }

    // MARK: hostile input

    /// Duplicate members are refused in every collection encoding the loader builds from,
    /// with few members (compared pairwise) and many (through the hash table of indexes).
    func testDuplicateMembersAreRefused() throws {
        func fails(_ p: [UInt8], _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try DumpPayload.decode(p, deep: false, limits: EncodingLimits()), line: line) { e in
                XCTAssertTrue("\(e)".contains(text), "\(e)", line: line)
            }
        }
        let db = Database(id: 0)
        for n in [5, 40] {
            let h = ListpackHash(), z = ListpackZSet(), clean = ListpackHash()
            for i in 0..<n {
                let f = Array("field-\(i == n - 1 ? 2 : i)".utf8)
                f.withUnsafeBytes { fb in Array("v".utf8).withUnsafeBytes { h.append(fb, $0) } }
                Array("field-\(i)".utf8).withUnsafeBytes { fb in Array("v".utf8).withUnsafeBytes { clean.append(fb, $0) } }
                f.withUnsafeBytes { z.appendSorted($0, Double(i)) }
            }
            Array("h".utf8).withUnsafeBytes { _ = db.setObject($0, h, type: .hash, encoding: .listpack) }
            Array("c".utf8).withUnsafeBytes { _ = db.setObject($0, clean, type: .hash, encoding: .listpack) }
            Array("z".utf8).withUnsafeBytes { _ = db.setObject($0, z, type: .zset, encoding: .listpack) }
            fails(DumpPayload.make(entryFor(db, "h"), compression: false)!, "Duplicate hash fields detected")
            fails(DumpPayload.make(entryFor(db, "z"), compression: false)!, "Duplicate zset fields detected")
            XCTAssertNoThrow(try DumpPayload.decode(DumpPayload.make(entryFor(db, "c"), compression: false)!,
                                                    deep: false, limits: EncodingLimits()))
        }
        // The plain encodings of older files: RDB_TYPE_SET (2), RDB_TYPE_HASH (4), RDB_TYPE_ZSET_2 (5).
        func str(_ t: String) -> [UInt8] { [UInt8(t.utf8.count)] + Array(t.utf8) }
        for n in [5, 40] {
            let names = (0..<n).map { "m\($0 == n - 1 ? 1 : $0)" }
            fails(DumpPayload.seal([2, UInt8(n)] + names.flatMap(str)), "Duplicate set members detected")
            fails(DumpPayload.seal([4, UInt8(n)] + names.flatMap { str($0) + str("v") }), "Duplicate hash fields detected")
            fails(DumpPayload.seal([5, UInt8(n)] + names.flatMap { str($0) + [UInt8](repeating: 0, count: 8) }),
                  "Duplicate zset fields detected")
            let unique = (0..<n).map { "m\($0)" }
            XCTAssertNoThrow(try DumpPayload.decode(DumpPayload.seal([2, UInt8(n)] + unique.flatMap(str)),
                                                    deep: false, limits: EncodingLimits()))
        }
    }

    func testFooterChecks() {
        let good = DumpPayload.seal([0, 1, 0x61])
        XCTAssertTrue(good.withUnsafeBytes { DumpPayload.verify($0) })
        var bad = good
        bad[bad.count - 1] ^= 1
        XCTAssertFalse(bad.withUnsafeBytes { DumpPayload.verify($0) })
        XCTAssertTrue(bad.withUnsafeBytes { DumpPayload.verify($0, skipChecksum: true) })
        var v11 = [UInt8](good.dropLast(10)) + [11, 0]
        v11 += withUnsafeBytes(of: CRC64.checksum(v11).littleEndian) { Array($0) }
        XCTAssertFalse(v11.withUnsafeBytes { DumpPayload.verify($0) })
        XCTAssertFalse([UInt8](repeating: 0, count: 9).withUnsafeBytes { DumpPayload.verify($0) })
    }

    func testErrorsNameTheOffset() {
        let p = DumpPayload.seal([0x08, 0x00])
        XCTAssertThrowsError(try DumpPayload.decode(p, deep: false, limits: EncodingLimits()))
        let empty = DumpPayload.seal([0x02, 0x00])
        XCTAssertThrowsError(try DumpPayload.decode(empty, deep: false, limits: EncodingLimits())) { e in
            XCTAssertEqual((e as? RDBError)?.kind, .emptyKey)
        }
        // A set whose count claims more elements than the data holds: read until the data
        // ends (as Redis reads it), a truncation past the first element.
        let short = DumpPayload.seal([0x02, 0x3F, 0x01, 0x61])
        XCTAssertThrowsError(try DumpPayload.decode(short, deep: false, limits: EncodingLimits())) { e in
            XCTAssertEqual((e as? RDBError)?.kind, .truncated)
            XCTAssertGreaterThanOrEqual((e as? RDBError)?.offset ?? 0, 4)
        }
        // A list count of 2^62 costs nothing up front: read until the data ends.
        let huge = DumpPayload.seal([0x01, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x61])
        XCTAssertThrowsError(try DumpPayload.decode(huge, deep: false, limits: EncodingLimits())) { e in
            XCTAssertEqual((e as? RDBError)?.kind, .truncated)
        }
        // A set count no table could hold fails right after the count, as Redis's
        // dictTryExpand does.
        let hugeSet = DumpPayload.seal([0x02, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x61])
        XCTAssertThrowsError(try DumpPayload.decode(hugeSet, deep: false, limits: EncodingLimits())) { e in
            XCTAssertEqual((e as? RDBError)?.kind, .corrupt)
            XCTAssertEqual((e as? RDBError)?.offset, 10)
            XCTAssertTrue((e as? RDBError)?.message.hasPrefix("OOM in dictTryExpand") ?? false)
        }
    }

    /// Random mutations of real payloads: every outcome is a value or an RDBError.
    func testMutationsNeverCrash() {
        let db = Database(id: 0)
        let q = Quicklist()
        for i in 0..<300 { Array("e\(i)".utf8).withUnsafeBytes { q.pushTail($0) } }
        Array("l".utf8).withUnsafeBytes { _ = db.setObject($0, q, type: .list, encoding: .quicklist) }
        let h = ListpackHash()
        for i in 0..<20 { Array("f\(i)".utf8).withUnsafeBytes { f in Array("\(i * 1000)".utf8).withUnsafeBytes { _ = h.set(f, $0) } } }
        Array("h".utf8).withUnsafeBytes { _ = db.setObject($0, h, type: .hash, encoding: .listpack) }
        let seeds = ["l", "h"].map { Array(DumpPayload.make(entryFor(db, $0), compression: true)!.dropLast(10)) }
        var rng = SystemRandomNumberGenerator()
        for i in 0..<3000 {
            var body = seeds[i % seeds.count]
            switch i % 3 {
            case 0: for _ in 0..<Int.random(in: 1...4, using: &rng) { body[Int.random(in: 0..<body.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            case 1: body = Array(body.prefix(Int.random(in: 0...body.count, using: &rng)))
            default: body.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...body.count, using: &rng))
            }
            _ = try? DumpPayload.decode(DumpPayload.seal(body), deep: i % 2 == 0, limits: EncodingLimits())
        }
    }
}

final class RDBRecordTests: XCTestCase {
    func testKeyRecordsAsInARealFile() {
        let db = Database(id: 0)
        Array("foo".utf8).withUnsafeBytes { k in Array("bar".utf8).withUnsafeBytes { db.setString(k, $0) } }
        var w = RDBValueWriter()
        XCTAssertTrue(w.writeRecord(db.find(Array("foo".utf8))!))
        XCTAssertEqual(w.out, [0x00, 3] + Array("foo".utf8) + [3] + Array("bar".utf8))
        XCTAssertEqual(w.drain().count, 9)
        XCTAssertTrue(w.out.isEmpty)

        Array("k1".utf8).withUnsafeBytes { k in Array("v1".utf8).withUnsafeBytes { db.setString(k, $0) } }
        let e = db.setExpire(db.find(Array("k1".utf8))!, at: 4102444800000)
        w.writeRecord(e, freq: 5)
        // From a real file: FC 00D8C32CBB030000 then the key (the FREQ opcode under LFU policies).
        XCTAssertEqual(w.out, [0xFC, 0x00, 0xD8, 0xC3, 0x2C, 0xBB, 0x03, 0x00, 0x00, 0xF9, 5, 0x00, 2] + Array("k1".utf8) + [2] + Array("v1".utf8))
    }
}

final class LegacyEncodingTests: XCTestCase {
    func testZipmapFromTheSpec() throws {
        let blob: [UInt8] = [0x01, 0x03] + Array("foo".utf8) + [0x03, 0x00] + Array("bar".utf8) + [0xFF]
        let e = try Zipmap.elements(blob, at: 0)
        XCTAssertEqual(e.map { $0.bytes }, [Array("foo".utf8), Array("bar".utf8)])
        XCTAssertThrowsError(try Zipmap.elements([0x00, 0xFF], at: 0))          // empty
        XCTAssertThrowsError(try Zipmap.elements(Array(blob.dropLast()), at: 0)) // no terminator
    }

    func testZiplistEntries() throws {
        // zlbytes 18, zltail 14, zllen 2; entries: "ab" (prev 0), int8 immediate 5 (prev 4).
        let blob: [UInt8] = [18, 0, 0, 0, 14, 0, 0, 0, 2, 0,
                             0x00, 0x02, 0x61, 0x62,
                             0x04, 0xF6,
                             0xFF]
        XCTAssertEqual(blob.count, 17)
        var fixed = blob
        fixed[0] = 17
        let e = try Ziplist.elements(fixed, at: 0)
        XCTAssertEqual(e.map { $0.bytes }, [Array("ab".utf8), Array("5".utf8)])
        var badPrev = fixed
        badPrev[14] = 3
        XCTAssertThrowsError(try Ziplist.elements(badPrev, at: 0))
        var badTail = fixed
        badTail[4] = 10
        XCTAssertThrowsError(try Ziplist.elements(badTail, at: 0))
        XCTAssertThrowsError(try Ziplist.elements(blob, at: 0)) // zlbytes disagrees with the size
    }

    func testIntsetChecks() throws {
        let blob: [UInt8] = [4, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0x70, 0x11, 0x01, 0x00]
        XCTAssertEqual(try RedisIntset.values(blob, deep: true, at: 0), [1, 70000])
        XCTAssertEqual(RedisIntset.encode([1, 70000]), blob)
        let unsorted: [UInt8] = [2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0]
        XCTAssertThrowsError(try RedisIntset.values(unsorted, deep: true, at: 0))
        XCTAssertEqual(try RedisIntset.values(unsorted, deep: false, at: 0), [5, 1])
        XCTAssertThrowsError(try RedisIntset.values([3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], deep: false, at: 0))
    }
}
