import XCTest
@testable import TernStore

final class SHA1Tests: XCTestCase {
    func hex(_ s: String) -> String { SHA1.hex(SHA1.hash(Array(s.utf8))) }

    func testVectors() {
        XCTAssertEqual(hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex(String(repeating: "a", count: 1_000_000)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    func testIncrementalEqualsOneShot() {
        var bytes = [UInt8]()
        for i in 0..<1000 { bytes.append(UInt8(truncatingIfNeeded: i &* 31 &+ 7)) }
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 500, 999, 1000] {
            var s = SHA1()
            s.update(Array(bytes[0..<split]))
            s.update(Array(bytes[split...]))
            XCTAssertEqual(s.finish(), SHA1.hash(bytes), "split \(split)")
        }
        // Every length around the padding boundaries.
        for n in 50...130 {
            var s = SHA1()
            for b in bytes[0..<n] { s.update([b]) }
            XCTAssertEqual(s.finish(), SHA1.hash(Array(bytes[0..<n])), "length \(n)")
        }
    }
}
