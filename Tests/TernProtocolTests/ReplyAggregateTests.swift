import XCTest
@testable import TernProtocol

/// Aggregate headers used by introspection replies (maps/sets in RESP2 vs RESP3).
final class ReplyAggregateTests: XCTestCase {
    func testMapAndSetHeaders() {
        let b = ReplyBuffer()
        b.resp = 2
        b.map(2); b.set(3)
        XCTAssertEqual(Array(b.bytes), Array("*4\r\n*3\r\n".utf8))
        let c = ReplyBuffer()
        c.resp = 3
        c.map(2); c.set(3)
        XCTAssertEqual(Array(c.bytes), Array("%2\r\n~3\r\n".utf8))
    }

    func testTruncateDropsSuppressedReply() {
        let b = ReplyBuffer()
        b.ok()
        let mark = b.count
        b.bulk("discard me")
        b.truncate(to: mark)
        XCTAssertEqual(Array(b.bytes), Array("+OK\r\n".utf8))
    }
}
