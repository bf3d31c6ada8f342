import XCTest
@testable import TernStore

/// Randomised checks of the sorted-set structures against a plain sorted array model.
final class ZSetTreeTests: XCTestCase {
    struct Model {
        var items: [(Double, [UInt8])] = []
        static func less(_ a: (Double, [UInt8]), _ b: (Double, [UInt8])) -> Bool {
            if a.0 != b.0 { return a.0 < b.0 }
            return a.1.lexicographicallyPrecedes(b.1)
        }
        mutating func insert(_ s: Double, _ m: [UInt8]) {
            let i = items.firstIndex { Model.less((s, m), $0) } ?? items.count
            items.insert((s, m), at: i)
        }
        mutating func remove(_ m: [UInt8]) { items.removeAll { $0.1 == m } }
    }

    func member(_ i: Int) -> [UInt8] { Array("m\(i % 7 == 0 ? "" : "x")\(i)".utf8) }

    func checkSame(_ z: TreeZSet, _ model: Model, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(z.tree.verify(), file: file, line: line)
        XCTAssertEqual(z.count, model.items.count, file: file, line: line)
        var got: [(Double, [UInt8])] = []
        z.walk(from: 0, to: z.count, reverse: false) { m, s in got.append((s, Array(m))); return true }
        XCTAssertEqual(got.map { $0.0 }, model.items.map { $0.0 }, file: file, line: line)
        XCTAssertEqual(got.map { $0.1 }, model.items.map { $0.1 }, file: file, line: line)
    }

    func testRandomOperationsAgainstModel() {
        var rng = SystemRandomNumberGenerator()
        let z = TreeZSet()
        var model = Model()
        var present = Set<Int>()
        for step in 0..<20000 {
            let op = Int.random(in: 0..<10, using: &rng)
            let k = Int.random(in: 0..<3000, using: &rng)
            let m = member(k)
            let score = Double(Int.random(in: 0..<50, using: &rng)) / 2
            if op < 5 {
                if present.contains(k) {
                    m.withUnsafeBytes { b in z.update(z.block(b)!, to: score) }
                    model.remove(m); model.insert(score, m)
                } else {
                    m.withUnsafeBytes { z.insertNew($0, score) }
                    model.insert(score, m); present.insert(k)
                }
            } else if op < 8 {
                let removed = m.withUnsafeBytes { z.remove($0) }
                XCTAssertEqual(removed, present.contains(k))
                if removed { model.remove(m); present.remove(k) }
            } else if op == 8 && z.count > 0 {
                let a = Int.random(in: 0..<z.count, using: &rng)
                let b = min(z.count, a + Int.random(in: 0..<40, using: &rng))
                XCTAssertEqual(z.removeRange(from: a, to: b), b - a)
                for item in model.items[a..<b] {
                    if let s = String(bytes: item.1, encoding: .utf8), let v = Int(s.drop { !$0.isNumber }) { present.remove(v) }
                }
                model.items.removeSubrange(a..<b)
            } else if z.count > 0 {
                let r = Int.random(in: 0..<z.count, using: &rng)
                let item = model.items[r]
                XCTAssertEqual(item.1.withUnsafeBytes { z.rank($0) }, r)
                let bound = Double(Int.random(in: 0..<50, using: &rng)) / 2
                let want = model.items.filter { $0.0 < bound }.count
                XCTAssertEqual(z.countPrefix { _, s in s < bound }, want)
                var rev: [[UInt8]] = []
                let hi = min(z.count, r + 10)
                z.walk(from: r, to: hi, reverse: true) { m, _ in rev.append(Array(m)); return true }
                XCTAssertEqual(rev, model.items[r..<hi].reversed().map { $0.1 })
            }
            if step % 500 == 0 { checkSame(z, model) }
        }
        checkSame(z, model)
        // drain
        while z.count > 0 { z.removeRange(from: 0, to: min(z.count, 97)) }
        XCTAssertTrue(z.tree.verify())
        XCTAssertEqual(z.table.count, 0)
    }

    func testAscendingAndDescendingBulk() {
        let z = TreeZSet()
        for i in 0..<10000 { Array("k\(i)".utf8).withUnsafeBytes { z.insertNew($0, Double(i)) } }
        XCTAssertTrue(z.tree.verify())
        for i in stride(from: 9999, through: 0, by: -2) { _ = Array("k\(i)".utf8).withUnsafeBytes { z.remove($0) } }
        XCTAssertTrue(z.tree.verify())
        XCTAssertEqual(z.count, 5000)
        XCTAssertEqual(Array("k4000".utf8).withUnsafeBytes { z.rank($0) }, 2000)
        let copy = z.deepCopy() as! TreeZSet
        XCTAssertTrue(copy.tree.verify())
        XCTAssertEqual(copy.count, 5000)
    }

    func testListpackZSetOrderAndScores() {
        let z = ListpackZSet()
        let entries: [(String, Double)] = [("b", 1), ("a", 1), ("c", -0.0), ("d", 1e17), ("e", 0.5), ("f", -.infinity), ("g", 4611686018427387904)]
        for (m, s) in entries { Array(m.utf8).withUnsafeBytes { z.insertNew($0, s) } }
        var got: [String] = []
        var texts: [String] = []
        z.forEachWithScoreText { m, t, _ in got.append(String(decoding: m, as: UTF8.self)); texts.append(String(decoding: t, as: UTF8.self)) }
        XCTAssertEqual(got, ["f", "c", "e", "a", "b", "d", "g"])
        XCTAssertEqual(texts, ["-inf", "0", "0.5", "1", "1", "100000000000000000", "4611686018427387904"])
        XCTAssertEqual(Array("c".utf8).withUnsafeBytes { z.score($0) }?.sign, .plus)
        XCTAssertEqual(Array("a".utf8).withUnsafeBytes { z.rank($0) }, 3)
        XCTAssertEqual(z.removeRange(from: 1, to: 3), 2)
        XCTAssertEqual(z.count, 5)
    }
}
