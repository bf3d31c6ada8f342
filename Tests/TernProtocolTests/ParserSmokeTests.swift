import XCTest
@testable import TernProtocol

/// Minimal parser checks so the test target is never empty; the protocol edge cases are
/// covered end to end (against redis-server) by pytests/integration/test_protocol.py.
final class ParserSmokeTests: XCTestCase {
    func testMultibulkAndInline() {
        let p = RequestParser()
        let multi: [UInt8] = Array("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".utf8)
        multi.withUnsafeBytes { buf in
            XCTAssertEqual(p.parse(buf), .command(consumed: multi.count))
            let a = p.args(input: buf)
            XCTAssertEqual(a.count, 2)
            XCTAssertEqual(a.string(0), "GET")
            XCTAssertEqual(a.string(1), "k")
        }
        let inline: [UInt8] = Array("SET k \"a b\"\r\n".utf8)
        inline.withUnsafeBytes { buf in
            XCTAssertEqual(p.parse(buf), .command(consumed: inline.count))
            let a = p.args(input: buf)
            XCTAssertEqual(a.count, 3)
            XCTAssertEqual(a.string(2), "a b")
        }
        let partial: [UInt8] = Array("*2\r\n$3\r\nGE".utf8)
        partial.withUnsafeBytes { buf in
            if case .incomplete = p.parse(buf) {} else { XCTFail("expected incomplete") }
        }
    }
}
