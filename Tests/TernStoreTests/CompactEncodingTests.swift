import XCTest
@testable import TernStore

final class CompactEncodingTests: XCTestCase {
    func testCodecRoundTrip() {
        let texts = ["0", "-0", "01", "127", "128", "-1", "-129", "32767", "9223372036854775807", "-9223372036854775808",
                     "9223372036854775808", "", "abc", String(repeating: "x", count: 63), String(repeating: "y", count: 64),
                     String(repeating: "z", count: 9000)]
        for t in texts {
            let b = Array(t.utf8)
            b.withUnsafeBytes { src in
                let n = ListpackCodec.size(of: src)
                let p = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 8)
                defer { p.deallocate() }
                XCTAssertEqual(ListpackCodec.write(src, p), n)
                XCTAssertEqual(ListpackCodec.elementSize(p), n)
                XCTAssertEqual(ListpackCodec.bytes(p), b, t)
                XCTAssertTrue(ListpackCodec.Probe(src).matches(p))
            }
        }
    }

    func testIntSetWidthsAndOrder() {
        var s = IntSet.make()
        var model = Set<Int>()
        var rng = SystemRandomNumberGenerator()
        let pools: [ClosedRange<Int>] = [0...200, -300...300, -70000...70000, Int.min...Int.max]
        for pool in pools {
            for _ in 0..<400 {
                let v = Int.random(in: pool, using: &rng)
                let (ns, added) = s.inserting(v)
                s = ns
                XCTAssertEqual(added, model.insert(v).inserted)
                if Bool.random(using: &rng) {
                    let w = Int.random(in: pool, using: &rng)
                    XCTAssertEqual(s.remove(w), model.remove(w) != nil)
                }
            }
            var got: [Int] = []
            s.forEach { got.append($0) }
            XCTAssertEqual(got, model.sorted())
        }
    }

    func testSlotTableScanCoversAcrossResizes() {
        let d = DictSet()
        for i in 0..<5000 { Array("m\(i)".utf8).withUnsafeBytes { _ = d.add($0) } }
        var seen = Set<[UInt8]>()
        var cursor: UInt64 = 0
        var steps = 0
        repeat {
            cursor = d.scan(cursor) { seen.insert(Array($0)) }
            steps += 1
            if steps == 100 { for i in 5000..<20000 { Array("m\(i)".utf8).withUnsafeBytes { _ = d.add($0) } } }
            if steps == 3000 { for i in 0..<19000 where i % 2 == 1 { Array("m\(i)".utf8).withUnsafeBytes { _ = d.remove($0) } } }
        } while cursor != 0
        for i in stride(from: 0, to: 5000, by: 2) { XCTAssertTrue(seen.contains(Array("m\(i)".utf8))) }
    }

    func testListpackHashUpdateInPlace() {
        let h = ListpackHash()
        for i in 0..<100 { Array("f\(i)".utf8).withUnsafeBytes { f in Array("v\(i)".utf8).withUnsafeBytes { _ = h.set(f, $0) } } }
        Array("f50".utf8).withUnsafeBytes { f in Array(String(repeating: "x", count: 100).utf8).withUnsafeBytes { XCTAssertFalse(h.set(f, $0)) } }
        var fields: [String] = []
        h.forEach { f, _ in fields.append(String(decoding: f, as: UTF8.self)) }
        XCTAssertEqual(fields, (0..<100).map { "f\($0)" })
        XCTAssertTrue(Array("f0".utf8).withUnsafeBytes { h.remove($0) })
        XCTAssertEqual(h.count, 99)
    }
}
