import XCTest
@testable import TernPersistence
import TernStore
#if canImport(Glibc)
import Glibc
#endif

/// The load's direct paths (scores parsed without strtod, packed values built straight from
/// the blob) against the general ones they replace.
final class RDBLoadPathTests: XCTestCase {
    func strtodValue(_ s: String) -> Double {
        s.withCString { strtod($0, nil) }
    }

    func fast(_ s: String) -> Double? {
        Array(s.utf8).withUnsafeBytes { RDBValueReader.plainDecimal($0) }
    }

    /// Every text the fast path answers equals strtod bit for bit; `%.17g` of random doubles
    /// (what Redis writes for packed scores) is nearly always answered.
    func testPlainDecimalMatchesStrtod() {
        var g = SystemRandomNumberGenerator()
        var answered = 0, total = 0
        func check(_ s: String) {
            total += 1
            guard let d = fast(s) else { return }
            answered += 1
            let want = strtodValue(s)
            XCTAssertEqual(d.bitPattern, want.bitPattern, "\(s): \(d) vs strtod \(want)")
        }
        for _ in 0..<200_000 {
            let scale = [1.0, 1000.0, 1e-5, 1e9, 123456.0, 1e15][Int.random(in: 0..<6, using: &g)]
            let d = Double.random(in: -1...1, using: &g) * scale
            var buf = [CChar](repeating: 0, count: 64)
            let n = buf.withUnsafeMutableBufferPointer { ListpackCodec.formatDouble(d, $0.baseAddress!, 64) }
            check(String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        XCTAssertGreaterThan(answered, total * 9 / 10)
        // Random digit strings (up to 19 digits, a dot anywhere, an exponent sometimes).
        for _ in 0..<200_000 {
            let len = Int.random(in: 1...19, using: &g)
            var digits = (0..<len).map { _ in Character(String(Int.random(in: 0...9, using: &g))) }
            if Bool.random(using: &g) { digits.insert(".", at: Int.random(in: 0...len, using: &g)) }
            var s = String(digits)
            if Int.random(in: 0..<4, using: &g) == 0 { s += "e\(Int.random(in: -30...30, using: &g))" }
            if Bool.random(using: &g) { s = "-" + s }
            check(s)
        }
        // Halfway cases between doubles (2^53 + 1 and friends) and edges.
        for s in ["9007199254740993", "9007199254740995", "0.1", "-0", "0", "0.0", "1e27", "1e-27", "5e-324",
                  "1.7976931348623157e308", "123456789012345678", "1.", ".5", "00012.5000"] {
            check(s)
        }
        for s in ["", "-", ".", "1e", "1e+", "e5", "1..2", "1.2.3", "inf", "nan", "0x10", " 1", "1 ", "12345678901234567890",
                  "1e28", "1e-28", "1\u{0}2"] {
            XCTAssertNil(fast(s), s)
        }
    }

    func lpBlob(_ elements: [[UInt8]]) -> [UInt8] {
        var b = RedisListpackBuilder()
        for e in elements { e.withUnsafeBytes { b.append($0) } }
        return b.finished()
    }

    /// Listpack hashes and zsets and intsets built by the direct path equal what the general
    /// path builds, element for element, with the same failures.
    func testDirectPackedBuildersMatchGeneralPath() throws {
        let p = RDBValueReader.Packed(deep: true, limits: EncodingLimits())
        let general = p.general
        func fields(_ v: RDBValue) -> [[UInt8]] {
            guard case .collection(let c, _, _) = v else { return [] }
            var out: [[UInt8]] = []
            c.forEachDigestItem { a, b in out.append(Array(a)); if let b { out.append(Array(b)) } }
            return out
        }
        let hashes: [[[UInt8]]] = [
            [Array("f1".utf8), Array("v1".utf8), Array("12".utf8), Array("-5".utf8)],
            [Array("a".utf8), Array(repeating: 120, count: 300), Array("99999999999".utf8), Array("x".utf8)],
        ]
        for h in hashes {
            let blob = lpBlob(h)
            let direct = try blob.withUnsafeBytes { try p.loadListpackHash($0, at: 0) }
            let old = try general.buildHash(pairs: try RedisListpackReader.elements(blob, deep: true, at: 0), at: 0)
            XCTAssertEqual(fields(direct), fields(old))
        }
        let dupHash = lpBlob([Array("f".utf8), Array("1".utf8), Array("f".utf8), Array("2".utf8)])
        XCTAssertThrowsError(try dupHash.withUnsafeBytes { try p.loadListpackHash($0, at: 0) })
        let zsets: [[[UInt8]]] = [
            [Array("a".utf8), Array("1".utf8), Array("b".utf8), Array("1.5".utf8), Array("7".utf8), Array("2.25".utf8)],
            [Array("b".utf8), Array("3".utf8), Array("a".utf8), Array("1".utf8)],   // out of order: general path
        ]
        for z in zsets {
            let blob = lpBlob(z)
            let direct = try blob.withUnsafeBytes { try p.loadListpackZSet($0, at: 0) }
            let old = try general.buildPackedZSet(try RedisListpackReader.elements(blob, deep: true, at: 0), at: 0)
            XCTAssertEqual(fields(direct), fields(old))
        }
        for bad in [[Array("a".utf8), Array("1".utf8), Array("a".utf8), Array("2".utf8)],
                    [Array("a".utf8), Array("nan".utf8)]] {
            let blob = lpBlob(bad)
            XCTAssertThrowsError(try blob.withUnsafeBytes { try p.loadListpackZSet($0, at: 0) })
        }
        let values = [-70000, -3, 0, 5, 40000, 1 << 40]
        let intset = RedisIntset.encode(values)
        let direct = try intset.withUnsafeBytes { try p.loadIntset($0, at: 0) }
        guard case .collection(let s as IntSet, _, .intset) = direct else { return XCTFail("not an intset") }
        XCTAssertEqual((0..<s.count).map { s.value(at: $0) }, values)
        let unsorted = RedisIntset.encode([3, 1])
        XCTAssertThrowsError(try unsorted.withUnsafeBytes { try p.loadIntset($0, at: 0) })   // deep: not ascending
    }
}
