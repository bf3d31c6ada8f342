import XCTest
@testable import TernProtocol

final class RequestParserTests: XCTestCase {
    func parseAll(_ s: String, _ p: RequestParser = RequestParser()) -> (RequestParser.Outcome, [String]) {
        let bytes = Array(s.utf8)
        return bytes.withUnsafeBytes { raw in
            let o = p.parse(raw)
            if case .command = o {
                let a = p.args(input: raw)
                return (o, (0..<a.count).map { a.string($0) })
            }
            return (o, [])
        }
    }

    func testMultibulk() {
        let (o, args) = parseAll("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
        XCTAssertEqual(o, .command(consumed: 22))
        XCTAssertEqual(args, ["GET", "key"])
    }

    func testIncompleteAtEveryCut() {
        let full = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
        for cut in 0..<full.utf8.count {
            let (o, _) = parseAll(String(decoding: Array(full.utf8).prefix(cut), as: UTF8.self))
            if case .incomplete = o { continue }
            XCTFail("cut \(cut) gave \(o)")
        }
    }

    func testBigBulkReportsExpectedSize() {
        let (o, _) = parseAll("*2\r\n$3\r\nGET\r\n$100000\r\nab")
        XCTAssertEqual(o, .incomplete(expected: 13 + 9 + 100000 + 2))
    }

    func testProtocolErrors() {
        XCTAssertEqual(parseAll("*x\r\n").0, .error("Protocol error: invalid multibulk length"))
        XCTAssertEqual(parseAll("*2147483648\r\n").0, .error("Protocol error: invalid multibulk length"))
        XCTAssertEqual(parseAll("*1\r\n+OK\r\n").0, .error("Protocol error: expected '$', got '+'"))
        XCTAssertEqual(parseAll("*1\r\n$-1\r\n").0, .error("Protocol error: invalid bulk length"))
        XCTAssertEqual(parseAll("*1\r\n$abc\r\n").0, .error("Protocol error: invalid bulk length"))
        let p = RequestParser()
        p.maxBulkLength = 10
        XCTAssertEqual(parseAll("*1\r\n$11\r\n", p).0, .error("Protocol error: invalid bulk length"))
        XCTAssertEqual(parseAll("\"unbalanced\r\n").0, .error("Protocol error: unbalanced quotes in request"))
    }

    func testEmptyMultibulkIsSkipped() {
        XCTAssertEqual(parseAll("*0\r\n").0, .skip(consumed: 4))
        XCTAssertEqual(parseAll("*-1\r\n").0, .skip(consumed: 5))
        XCTAssertEqual(parseAll("\r\n").0, .skip(consumed: 2))
    }

    func testInline() {
        let (o, args) = parseAll("set k \"a b\\x41\\n\" 'it\\'s'\r\n")
        XCTAssertEqual(o, .command(consumed: 27))
        XCTAssertEqual(args, ["set", "k", "a bA\n", "it's"])
        XCTAssertEqual(parseAll("PING\n").1, ["PING"])
        XCTAssertEqual(parseAll("\"a\"b\r\n").0, .error("Protocol error: unbalanced quotes in request"))
    }

    func testTooBigInline() {
        let s = String(repeating: "a", count: 70 * 1024)
        XCTAssertEqual(parseAll(s).0, .error("Protocol error: too big inline request"))
    }

    func testIntegerParsing() {
        func p(_ s: String) -> Int? { Array(s.utf8).withUnsafeBytes { RequestParser.parseInt($0.baseAddress!, $0.count) } }
        XCTAssertEqual(p("0"), 0)
        XCTAssertEqual(p("-1"), -1)
        XCTAssertEqual(p("9223372036854775807"), Int.max)
        XCTAssertEqual(p("-9223372036854775808"), Int.min)
        XCTAssertNil(p("9223372036854775808"))
        XCTAssertNil(p("01"))
        XCTAssertNil(p("-0"))
        XCTAssertNil(p("+1"))
    }
}

final class ReplyBufferTests: XCTestCase {
    func text(_ b: ReplyBuffer) -> String { String(decoding: b.bytes, as: UTF8.self) }

    func testEncodings() {
        let b = ReplyBuffer()
        b.integer(-42); b.bulk("hi"); b.null(); b.array(2); b.ok()
        XCTAssertEqual(text(b), ":-42\r\n$2\r\nhi\r\n$-1\r\n*2\r\n+OK\r\n")
        let c = ReplyBuffer(); c.resp = 3
        c.null(); c.map(1); c.double(1.5); c.bool(true); c.double(-.infinity)
        XCTAssertEqual(text(c), "_\r\n%1\r\n,1.5\r\n#t\r\n,-inf\r\n")
    }

    func testDoubleFormatting() {
        XCTAssertEqual(ReplyBuffer.formatDouble(0.1), "0.10000000000000001")
        XCTAssertEqual(ReplyBuffer.formatDouble(1e17), "1e+17")
        XCTAssertEqual(ReplyBuffer.formatDouble(1e16), "10000000000000000")
        XCTAssertEqual(ReplyBuffer.formatDouble(1), "1")
    }

    func testDeferredLength() {
        let b = ReplyBuffer()
        b.ok()
        let t = b.deferredLength()
        b.integer(1); b.integer(2)
        b.setDeferredArray(t, 2)
        XCTAssertEqual(text(b), "+OK\r\n*2\r\n:1\r\n:2\r\n")
    }

    func testGrowth() {
        let b = ReplyBuffer(capacity: 16)
        let big = [UInt8](repeating: 65, count: 100_000)
        b.bulk(big)
        XCTAssertEqual(b.count, 100_000 + 9 + 2)
    }

    func testMinIntDecimal() {
        let b = ReplyBuffer()
        b.integer(Int.min)
        XCTAssertEqual(text(b), ":-9223372036854775808\r\n")
    }
}
