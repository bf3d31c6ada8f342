import TernConfig
import XCTest
@testable import TernEngine

/// string2ll-compatible integer parsing: the edge numbers the differential test also sends.
final class NumbersSmokeTests: XCTestCase {
    func testParseIntEdges() {
        func p(_ s: String) -> Int? { Numbers.parseInt(Array(s.utf8)) }
        XCTAssertEqual(p("0"), 0)
        XCTAssertEqual(p("-1"), -1)
        XCTAssertEqual(p("9223372036854775807"), Int.max)
        XCTAssertEqual(p("-9223372036854775808"), Int.min)
        XCTAssertNil(p("9223372036854775808"))
        XCTAssertNil(p("18446744073709551616"))
        XCTAssertNil(p("01"))
        XCTAssertNil(p(""))
        XCTAssertNil(p(" 1"))
        XCTAssertNil(p("1.5"))
    }
}
