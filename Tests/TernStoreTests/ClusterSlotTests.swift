import XCTest
@testable import TernStore

/// Slots of keys as Redis 7.0's CLUSTER KEYSLOT gives them (hash tags included).
final class ClusterSlotTests: XCTestCase {
    func testSlotsMatchRedis() {
        let cases: [(String, Int)] = [
            ("123456789", 12739), ("foo", 12182), ("bar", 5061),
            ("{user1000}.following", 3443), ("user1000", 3443),
            ("{}foo", 9500), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015),
            ("foo{bar}{zap}", 5061), ("", 0), ("{", 4092), ("a{b", 13340),
        ]
        for (key, slot) in cases {
            XCTAssertEqual(ClusterSlot.of(Array(key.utf8)), slot, key)
        }
    }

    func testCRC16CheckValue() {
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { ClusterSlot.crc16($0) }, 0x31C3)
    }
}
