import XCTest
@testable import TernStore

/// Redis's SCAN guarantee: a key present in the table for the whole scan is returned at
/// least once, whatever happens to the table (growth, shrinking, incremental rehashing).
final class KeyTableScanTests: XCTestCase {
    func key(_ s: String) -> [UInt8] { Array(s.utf8) }

    func set(_ db: Database, _ k: String) {
        let kb = key(k)
        kb.withUnsafeBytes { kp in [UInt8]("v".utf8).withUnsafeBytes { vp in _ = db.setString(kp, vp) } }
    }

    func del(_ db: Database, _ k: String) {
        key(k).withUnsafeBytes { _ = db.delete($0) }
    }

    func scanStep(_ db: Database, _ cursor: UInt64, into seen: inout Set<String>) -> UInt64 {
        db.table.scan(cursor: cursor) { e in seen.insert(String(decoding: e.key, as: UTF8.self)) }
    }

    func testFullScanReturnsEveryKeyOnce() {
        let db = Database(id: 0)
        for i in 0..<5000 { set(db, "k\(i)") }
        while db.table.isRehashing { db.table.rehash(buckets: 1000) }
        var seen = [String: Int]()
        var cursor: UInt64 = 0
        repeat {
            cursor = db.table.scan(cursor: cursor) { e in seen[String(decoding: e.key, as: UTF8.self), default: 0] += 1 }
        } while cursor != 0
        XCTAssertEqual(seen.count, 5000)
        XCTAssertTrue(seen.values.allSatisfy { $0 == 1 }, "a stable table returns each key exactly once")
    }

    func testGuaranteeAcrossGrowthAndRehash() {
        let db = Database(id: 0)
        let stable = (0..<2000).map { "stable:\($0)" }
        for k in stable { set(db, k) }
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var step = 0
        var extra = 0
        repeat {
            cursor = scanStep(db, cursor, into: &seen)
            step += 1
            // Grow a lot mid-scan: several doublings, each rehashed incrementally.
            for _ in 0..<40 where extra < 30000 { set(db, "grow:\(extra)"); extra += 1 }
            if step % 3 == 0 { db.table.rehash(buckets: 7) }
        } while cursor != 0
        for k in stable { XCTAssertTrue(seen.contains(k), "missing \(k)") }
    }

    func testGuaranteeAcrossShrinkAndRehash() {
        let db = Database(id: 0)
        let stable = (0..<300).map { "stable:\($0)" }
        for k in stable { set(db, k) }
        let churn = (0..<20000).map { "churn:\($0)" }
        for k in churn { set(db, k) }
        while db.table.isRehashing { db.table.rehash(buckets: 1000) }
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var removed = 0
        var step = 0
        repeat {
            cursor = scanStep(db, cursor, into: &seen)
            step += 1
            // Delete the churn keys progressively and let the table shrink mid-scan.
            for _ in 0..<200 where removed < churn.count { del(db, churn[removed]); removed += 1 }
            db.table.shrinkIfSparse()
            if step % 2 == 0 { db.table.rehash(buckets: 3) }
        } while cursor != 0
        for k in stable { XCTAssertTrue(seen.contains(k), "missing \(k)") }
    }

    func testGuaranteeWithRandomMutations() {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<20 {
            let db = Database(id: 0)
            let stable = (0..<Int.random(in: 1...500, using: &rng)).map { "s\(round):\($0)" }
            for k in stable { set(db, k) }
            var volatile: [String] = []
            var seen = Set<String>()
            var cursor: UInt64 = 0
            var n = 0
            repeat {
                cursor = scanStep(db, cursor, into: &seen)
                for _ in 0..<Int.random(in: 0...60, using: &rng) where n < 20000 {
                    if Bool.random(using: &rng) || volatile.isEmpty {
                        let k = "v\(round):\(n)"; n += 1
                        set(db, k); volatile.append(k)
                    } else {
                        let i = Int.random(in: 0..<volatile.count, using: &rng)
                        del(db, volatile[i]); volatile.swapAt(i, volatile.count - 1); volatile.removeLast()
                    }
                }
                db.table.shrinkIfSparse()
                db.table.rehash(buckets: Int.random(in: 0...5, using: &rng))
            } while cursor != 0
            for k in stable { XCTAssertTrue(seen.contains(k), "round \(round): missing \(k)") }
        }
    }

    func testEmptyTableScanEnds() {
        let db = Database(id: 0)
        XCTAssertEqual(db.table.scan(cursor: 0) { _ in XCTFail() }, 0)
        XCTAssertEqual(db.table.scan(cursor: 12345) { _ in XCTFail() }, 0)
    }
}
