import TernConfig
import XCTest
@testable import TernEngine

/// Number parsing and formatting rules of internals.md §3 (string2ll, ld2string, string2ld).
final class NumbersTests: XCTestCase {
    func parse(_ s: String) -> Int? { Numbers.parseInt(Array(s.utf8)) }

    func testParseIntAccepts() {
        XCTAssertEqual(parse("0"), 0)
        XCTAssertEqual(parse("1"), 1)
        XCTAssertEqual(parse("-1"), -1)
        XCTAssertEqual(parse("123456789"), 123456789)
        XCTAssertEqual(parse("9223372036854775807"), Int.max)
        XCTAssertEqual(parse("-9223372036854775808"), Int.min)
    }

    func testParseIntRejects() {
        for s in ["", "-", "+1", "01", "00", "-0", " 1", "1 ", "1.0", "1e3", "0x10", "abc",
                  "9223372036854775808", "-9223372036854775809", "18446744073709551616",
                  "123456789012345678901", "1\u{0}"] {
            XCTAssertNil(parse(s), s)
        }
    }

    func testFormatIntRoundTrip() {
        var buf = [UInt8](repeating: 0, count: 24)
        for v in [0, 1, -1, 9, 10, -10, 99, 100, 12345, -98765, Int.max, Int.min, Int.max - 1, Int.min + 1] {
            let n = buf.withUnsafeMutableBytes { Numbers.formatInt(v, into: $0.baseAddress!) }
            XCTAssertEqual(String(decoding: buf[0..<n], as: UTF8.self), String(v))
        }
    }

    func testStringEncoding() {
        func enc(_ s: String) -> String { Array(s.utf8).withUnsafeBytes { Numbers.stringEncoding($0).name } }
        XCTAssertEqual(enc("123"), "int")
        XCTAssertEqual(enc("-5"), "int")
        XCTAssertEqual(enc("0123"), "embstr")
        XCTAssertEqual(enc("+5"), "embstr")
        XCTAssertEqual(enc("-0"), "embstr")
        XCTAssertEqual(enc("9223372036854775808"), "embstr")
        XCTAssertEqual(enc(String(repeating: "x", count: 44)), "embstr")
        XCTAssertEqual(enc(String(repeating: "x", count: 45)), "raw")
    }

    // MARK: long double (INCRBYFLOAT)

    func ld(_ s: String) -> LongDouble? { FloatFormat.parseLongDouble(Array(s.utf8)) }
    func human(_ v: LongDouble) -> String { String(decoding: FloatFormat.humanText(v), as: UTF8.self) }

    func testParseLongDouble() {
        XCTAssertEqual(ld("1.5"), 1.5)
        XCTAssertEqual(ld("0x10"), 16)
        XCTAssertEqual(ld(".5"), 0.5)
        XCTAssertEqual(ld("5."), 5)
        XCTAssertEqual(ld("+1.5"), 1.5)
        XCTAssertEqual(ld("inf"), .infinity)
        XCTAssertEqual(ld("-Infinity"), -.infinity)
        XCTAssertNotNil(ld("1e-400"))      // fine in 80-bit
        XCTAssertNotNil(ld("1e4000"))
        for s in ["", " 1", "1 ", "\t1", "abc", "nan", "NaN", "1e", "1e5000", "-1e5000", "1e-5000", "1.5x",
                  "1\u{0}2"] {
            XCTAssertNil(ld(s), s)
        }
        XCTAssertEqual(ld(String(repeating: "0", count: 5118) + "1"), 1)
        XCTAssertNil(ld(String(repeating: "0", count: 5119) + "1"))
        XCTAssertNil(ld(String(repeating: "1", count: 5119)))   // 1.1e5118 overflows (ERANGE)
    }

    /// The INCRBYFLOAT table of internals.md §3.3: old + increment, printed in human mode.
    func testIncrByFloatTable() {
        let table: [(String, String, String)] = [
            ("10.5", "0.1", "10.6"),
            ("3", "1.5e5", "150003"),
            ("0", "1e20", "100000000000000000000"),
            ("0", "1e-20", "0"),
            ("5", "-5", "0"),
            ("1", "-1.0000000000000001", "-0.0000000000000001"),
            ("0.1", "0.2", "0.3"),
            ("0", "0x1p3", "8"),
            ("1", "+1.5", "2.5"),
            ("1.1", "1e10", "10000000001.09999999962747097"),
        ]
        for (old, incr, want) in table {
            guard let a = ld(old), let b = ld(incr) else { return XCTFail("parse \(old) \(incr)") }
            XCTAssertEqual(human(a + b), want, "\(old) + \(incr)")
        }
        let big = human(ld("1e308")! + ld("1e308")!)
        XCTAssertEqual(big.utf8.count, 309)
        XCTAssertTrue(big.hasPrefix("19999999999999999999337175931"))
    }

    func testHumanTextTrimming() {
        XCTAssertEqual(human(0), "0")
        XCTAssertEqual(human(-0.0), "0")
        XCTAssertEqual(human(-1e-30), "0")
        XCTAssertEqual(human(1), "1")
        XCTAssertEqual(human(-2.5), "-2.5")
        XCTAssertEqual(human(100), "100")
        XCTAssertEqual(human(1e-17), "0.00000000000000001")
    }

    func testAutoText() {
        XCTAssertEqual(String(decoding: FloatFormat.autoText(1e17), as: UTF8.self), "1e+17")
        XCTAssertEqual(String(decoding: FloatFormat.autoText(.infinity), as: UTF8.self), "inf")
        XCTAssertEqual(String(decoding: FloatFormat.autoText(-.infinity), as: UTF8.self), "-inf")
    }
}
