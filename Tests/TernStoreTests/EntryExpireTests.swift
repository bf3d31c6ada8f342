import XCTest
@testable import TernStore

/// TTL changes on entries: small entries grow/shrink by the 8-byte field; big strings keep
/// the field in place so EXPIRE/PERSIST never move (or copy) their bytes.
final class EntryExpireTests: XCTestCase {
    func set(_ db: Database, _ key: String, _ value: [UInt8]) -> Entry {
        Array(key.utf8).withUnsafeBytes { kb in value.withUnsafeBytes { vb in db.setString(kb, vb) } }
    }

    func find(_ db: Database, _ key: String) -> Entry? { db.find(Array(key.utf8)) }

    func testBigStringExpireAndPersistDoNotMoveTheEntry() {
        let db = Database(id: 0)
        let value = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let e = set(db, "big", value)
        XCTAssertFalse(e.hasExpire)
        XCTAssertEqual(e.expireAt, -1)
        let a = db.setExpire(e, at: 1_000)
        XCTAssertEqual(a.raw, e.raw, "EXPIRE on a big string must not reallocate")
        XCTAssertTrue(a.hasExpire)
        XCTAssertEqual(a.expireAt, 1_000)
        XCTAssertEqual(db.expiresCount, 1)
        let b = db.removeExpire(a)
        XCTAssertEqual(b.raw, e.raw, "PERSIST on a big string must not reallocate")
        XCTAssertFalse(b.hasExpire)
        XCTAssertEqual(b.expireAt, -1)
        XCTAssertEqual(db.expiresCount, 0)
        let c = db.setExpire(b, at: 2_000)
        XCTAssertEqual(c.raw, e.raw)
        XCTAssertEqual(c.expireAt, 2_000)
        XCTAssertEqual(db.expiresCount, 1)
        guard let f = find(db, "big") else { return XCTFail("key lost") }
        XCTAssertEqual(Array(f.key), Array("big".utf8))
        XCTAssertEqual(Array(f.stringValue), value)
        XCTAssertEqual(f.expireAt, 2_000)
        // Overwriting without KEEPTTL drops the TTL (and the count).
        let g = set(db, "big", value)
        XCTAssertFalse(g.hasExpire)
        XCTAssertEqual(db.expiresCount, 0)
        XCTAssertTrue(Array("big".utf8).withUnsafeBytes { db.delete($0) })
        XCTAssertEqual(db.count, 0)
    }

    func testSmallStringTTLRoundTrip() {
        let db = Database(id: 0)
        let e = set(db, "k", Array("value".utf8))
        let a = db.setExpire(e, at: 5)
        XCTAssertEqual(a.expireAt, 5)
        XCTAssertEqual(db.expiresCount, 1)
        let b = db.removeExpire(a)
        XCTAssertFalse(b.hasExpire)
        XCTAssertEqual(db.expiresCount, 0)
        guard let f = find(db, "k") else { return XCTFail("key lost") }
        XCTAssertEqual(Array(f.stringValue), Array("value".utf8))
        XCTAssertEqual(Array(f.key), Array("k".utf8))
    }

    func testStringGrownPastTheThresholdKeepsItsValue() {
        let db = Database(id: 0)
        let e = set(db, "k", Array("ab".utf8))
        let grown = db.resizeString(e, to: 4_000)
        let x = db.setExpire(grown, at: 9)   // moves once (no field yet)
        let y = db.removeExpire(x)           // big now: keeps the field
        XCTAssertEqual(y.raw, x.raw)
        let z = db.setExpire(y, at: 10)
        XCTAssertEqual(z.raw, x.raw)
        guard let f = find(db, "k") else { return XCTFail("key lost") }
        XCTAssertEqual(Array(f.stringValue.prefix(2)), Array("ab".utf8))
        XCTAssertEqual(f.stringValue.count, 4_000)
        XCTAssertEqual(f.expireAt, 10)
    }
}
