import XCTest
@testable import TernStore

/// Keeps the target non-empty; the keyspace is exercised end to end by the integration
/// and differential tests.
final class HashingSmokeTests: XCTestCase {
    func testHashIsDeterministicPerProcess() {
        let a: [UInt8] = Array("key:1".utf8), b: [UInt8] = Array("key:2".utf8)
        let ha = a.withUnsafeBytes { ByteHash.hash($0) }
        let ha2 = a.withUnsafeBytes { ByteHash.hash($0) }
        let hb = b.withUnsafeBytes { ByteHash.hash($0) }
        XCTAssertEqual(ha, ha2)
        XCTAssertNotEqual(ha, hb)
    }
}
