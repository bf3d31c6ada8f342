import XCTest
@testable import TernStore

/// The per-slot key index stays equal to the table's keys grouped by slot through every way an
/// entry enters, leaves or moves (inserts, overwrites, reallocs for TTLs and growth, deletes,
/// rehashing, flushes, swaps).
final class SlotKeyIndexTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func set(_ db: Database, _ k: String, _ v: String) {
        bytes(k).withUnsafeBytes { kb in bytes(v).withUnsafeBytes { vb in _ = db.setString(kb, vb) } }
    }

    func find(_ db: Database, _ k: String) -> Entry? { db.find(bytes(k)) }

    /// The index against a brute-force grouping of every key in the table.
    func assertConsistent(_ table: KeyTable, file: StaticString = #filePath, line: UInt = #line) {
        guard let index = table.slotIndex else { return XCTFail("no index", file: file, line: line) }
        var bySlot: [Int: Set<[UInt8]>] = [:]
        table.forEach { e in bySlot[ClusterSlot.of(Array(e.key)), default: []].insert(Array(e.key)) }
        XCTAssertEqual(index.total, table.count, file: file, line: line)
        for s in 0..<ClusterSlot.count {
            let want = bySlot[s] ?? []
            XCTAssertEqual(index.count(inSlot: s), want.count, "slot \(s)", file: file, line: line)
            if want.isEmpty { continue }
            var got = Set<[UInt8]>()
            index.forEach(inSlot: s) { e in got.insert(Array(e.key)); return true }
            XCTAssertEqual(got, want, "slot \(s)", file: file, line: line)
        }
    }

    func testIndexFollowsEveryChange() {
        let db = Database(id: 0)
        for i in 0..<500 { set(db, "pre:\(i)", "v") }
        db.table.setSlotIndexed(true)   // built from the keys already there
        assertConsistent(db.table)
        var rng = SystemRandomNumberGenerator()
        for round in 0..<4000 {
            let k = "k:\(Int.random(in: 0..<800, using: &rng))"
            switch Int.random(in: 0..<7, using: &rng) {
            case 0, 1: set(db, k, String(repeating: "x", count: Int.random(in: 0..<40, using: &rng)))
            case 2: set(db, k, String(repeating: "y", count: 600))   // big string: reserved TTL field
            case 3: if let e = find(db, k) { db.setExpire(e, at: 1 << 50) }   // wide field: realloc
            case 4: if let e = find(db, k) { db.removeExpire(e) }
            case 5: if let e = find(db, k), !e.isObject { _ = db.resizeString(e, to: e.valueLength + 300) }
            default: bytes(k).withUnsafeBytes { _ = db.delete($0) }
            }
            if round % 1000 == 999 { assertConsistent(db.table) }
        }
        // Hash-tagged keys all land in one slot: the slot's set grows and shrinks with them.
        for i in 0..<3000 { set(db, "{tag}\(i)", "v") }
        assertConsistent(db.table)
        XCTAssertEqual(db.table.slotIndex?.count(inSlot: ClusterSlot.of(bytes("tag"))), 3000)
        for i in 0..<2990 { bytes("{tag}\(i)").withUnsafeBytes { _ = db.delete($0) } }
        assertConsistent(db.table)
        while db.table.rehash(buckets: 100) {}
        assertConsistent(db.table)
    }

    func testFlushSwapAndDisable() {
        let a = Database(id: 0), b = Database(id: 1)
        for i in 0..<300 { set(a, "a\(i)", "v"); set(b, "b\(i)", "v") }
        a.table.setSlotIndexed(true)
        // A swap with an unindexed table (a diskless load's temporary db): the index stays on
        // db 0's table and describes its new keys.
        a.swapContents(with: b)
        XCTAssertNil(b.table.slotIndex)
        assertConsistent(a.table)
        XCTAssertNotNil(find(a, "b7"))
        let detached = a.takeAll()
        XCTAssertEqual(a.table.slotIndex?.total, 0)
        XCTAssertNil(detached.slotIndex)
        set(a, "x", "v")
        assertConsistent(a.table)
        a.removeAll()
        XCTAssertEqual(a.table.slotIndex?.total, 0)
        a.table.setSlotIndexed(false)
        XCTAssertNil(a.table.slotIndex)
        set(a, "y", "v")
        a.table.setSlotIndexed(true)
        assertConsistent(a.table)
    }

    /// Index memory for 100k small keys (the per-key figure docs/ARCHITECTURE.md quotes).
    func testIndexBytesPerKey() {
        let db = Database(id: 0)
        db.table.setSlotIndexed(true)
        for i in 0..<100_000 { set(db, "key:\(i)", "v") }
        let index = db.table.slotIndex!
        let perKey = Double(index.blockBytes) / 100_000
        XCTAssertLessThan(perKey, 14)
        XCTAssertGreaterThan(perKey, 6)
    }
}
