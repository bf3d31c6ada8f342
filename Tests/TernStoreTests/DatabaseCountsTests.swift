import XCTest
@testable import TernStore

/// The counts INFO keyspace reports (keys=, expires=).
final class DatabaseCountsTests: XCTestCase {
    func testKeysAndExpiresCounts() {
        let db = Database(id: 0)
        let k: [UInt8] = Array("k".utf8), v: [UInt8] = Array("v".utf8)
        k.withUnsafeBytes { kb in v.withUnsafeBytes { vb in _ = db.setString(kb, vb) } }
        XCTAssertEqual(db.count, 1)
        XCTAssertEqual(db.expiresCount, 0)
    }
}
