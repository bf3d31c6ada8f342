#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import TernStore

/// G17Format against glibc's own `%.17g`, byte for byte: the RDB bytes of packed zsets and
/// score replies depend on it.
final class G17FormatTests: XCTestCase {
    func libc(_ d: Double) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([d]) { vsnprintf(&buf, 64, "%.17g", $0) }
        return String(cString: buf)
    }

    func formatted(_ d: Double) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        let n = ListpackCodec.formatDouble(d, &buf, 64)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var fastHits = 0

    func check(_ d: Double, file: StaticString = #filePath, line: UInt = #line) {
        let want = libc(d)
        var buf = [UInt8](repeating: 0, count: 32)
        if let n = buf.withUnsafeMutableBufferPointer({ G17Format.format(d, $0.baseAddress!) }) {
            fastHits += 1
            XCTAssertEqual(String(decoding: buf[0..<n], as: UTF8.self), want, "\(d.bitPattern)", file: file, line: line)
        }
        // The public path (fast or snprintf) agrees too, integers included.
        if !d.isNaN && !d.isInfinite { XCTAssertEqual(formatted(d), want, "\(d.bitPattern)", file: file, line: line) }
    }

    func testFixedCases() {
        let cases: [Double] = [
            0.1, 0.5, 1.5, -1.5, 3.14159, 1e-6, 1.5e-6, 9.9999999999999995e-7, 1e-5, 1.2345e-5, 0.0001, 0.00012,
            0.001, 123.456, 999.999, 1e16 + 0.5, 9007199254740991.5, 99999999999999990.0, 1e17, 1.5e17, 1e300,
            5e-324, 2.2250738585072014e-308, .pi, -.pi, 1.0 / 3.0, 2.0 / 3.0, 0.30000000000000004,
            1 + 1.0 / 131072.0,     // 18 significant digits ending in 5: a half-to-even tie
            3 + 1.0 / 131072.0, 7 + 3.0 / 131072.0, 0.5 + 1.0 / 262144.0, 99.5, 12345.678, -0.0001,
            Double.ulpOfOne, 1 - Double.ulpOfOne / 2, 1 + Double.ulpOfOne, 10 - 1e-15, 9.9999999999999982,
        ]
        for d in cases { check(d) }
        // Every power of ten's neighbours in and around the fast range.
        for e in -8...18 {
            let p = Double("1e\(e)")!
            check(p); check(p.nextUp); check(p.nextDown); check(-p.nextUp)
        }
    }

    func testRandomDoublesMatchSnprintf() {
        var rng = SystemRandomNumberGenerator()
        var ties = 0
        for i in 0..<300_000 {
            let d: Double
            switch i % 6 {
            case 0: d = Double.random(in: 0..<1000, using: &rng)
            case 1: d = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))
            case 2: d = Double.random(in: -1e-5...1e-5, using: &rng)
            case 3: d = Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / 64
            case 4:
                // 18-digit values whose last digit is 5: exact halves at the 17th digit.
                let k = Int.random(in: 14...20, using: &rng)
                d = Double(Int.random(in: 1...(1 << 20), using: &rng)) + Double(Int.random(in: 1..<(1 << k), using: &rng) | 1) / Double(1 << k)
                ties += 1
            default: d = Double.random(in: 1e15...1e17, using: &rng)
            }
            check(d)
        }
        XCTAssertGreaterThan(ties, 0)
        // About two thirds take the exact fast path (random bit patterns mostly do not).
        XCTAssertGreaterThan(fastHits, 150_000)
    }
}
