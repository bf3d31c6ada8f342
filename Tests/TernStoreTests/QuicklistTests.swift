import XCTest
@testable import TernStore

final class QuicklistTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testCodecRoundTrip() {
        let samples: [String] = ["0", "1", "127", "128", "-1", "-4096", "-4097", "4095", "4096", "262143", "262144",
                                 "-262144", "-262145", "33554431", "33554432", "-33554432", "-33554433",
                                 "2147483647", "2147483648", "-2147483648", "-2147483649",
                                 "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                                 "", "a", "007", "-0", "+1", "1.5", " 1", String(repeating: "z", count: 63),
                                 String(repeating: "z", count: 64), String(repeating: "z", count: 4095),
                                 String(repeating: "z", count: 4096), String(repeating: "z", count: 70000)]
        for s in samples {
            let b = bytes(s)
            b.withUnsafeBytes { src in
                let plan = QuicklistCodec.plan(src)
                let p = UnsafeMutableRawPointer.allocate(byteCount: plan.size + 8, alignment: 8)
                defer { p.deallocate() }
                XCTAssertEqual(QuicklistCodec.write(src, plan, at: p), plan.size)
                let (v, sz) = QuicklistCodec.decode(p)
                XCTAssertEqual(sz, plan.size, s)
                XCTAssertEqual(QuicklistCodec.entrySize(p), plan.size, s)
                XCTAssertEqual(v.bytes, b, s)
                XCTAssertEqual(v.textLength, b.count, s)
            }
        }
        XCTAssertEqual(bytes("7").withUnsafeBytes { QuicklistCodec.plan($0).size }, 1)
        XCTAssertEqual(bytes("1000").withUnsafeBytes { QuicklistCodec.plan($0).size }, 2)
        XCTAssertEqual(bytes("999999").withUnsafeBytes { QuicklistCodec.plan($0).size }, 4)
        XCTAssertEqual(bytes("xxx").withUnsafeBytes { QuicklistCodec.plan($0).size }, 4)
    }

    func testLZFRoundTrip() {
        let lzf = QuicklistLZF()
        var rng = SystemRandomNumberGenerator()
        for round in 0..<200 {
            let n = Int.random(in: 0...5000, using: &rng)
            let alphabet = round % 3 == 0 ? 2 : (round % 3 == 1 ? 16 : 256)
            var input = [UInt8](repeating: 0, count: n)
            for i in 0..<n { input[i] = UInt8(Int.random(in: 0..<alphabet, using: &rng)) }
            var out = [UInt8](repeating: 0, count: n + 16)
            let c = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { o in
                lzf.compress(i.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, n, into: o.baseAddress!, capacity: n)
            } }
            guard let clen = c else { continue }
            var back = [UInt8](repeating: 0, count: n)
            let d = out.withUnsafeBytes { o in back.withUnsafeMutableBytes { b in
                QuicklistLZF.decompress(o.baseAddress!, clen, into: b.baseAddress!, outCapacity: n)
            } }
            XCTAssertEqual(d, n)
            XCTAssertEqual(back, input)
        }
        // The spec's example: "1" x 25.
        let ones = [UInt8](repeating: 0x31, count: 25)
        var out = [UInt8](repeating: 0, count: 64)
        let c = ones.withUnsafeBytes { i in out.withUnsafeMutableBytes { lzf.compress(i.baseAddress!, 25, into: $0.baseAddress!, capacity: 21) } }
        XCTAssertEqual(c.map { Array(out[0..<$0]) }, [0x01, 0x31, 0x31, 0xE0, 0x0C, 0x00, 0x01, 0x31, 0x31])
        // Malformed input is rejected, not trusted.
        var sink = [UInt8](repeating: 0, count: 8)
        let bad: [UInt8] = [0x20, 0x05]
        XCTAssertNil(bad.withUnsafeBytes { b in sink.withUnsafeMutableBytes { QuicklistLZF.decompress(b.baseAddress!, 2, into: $0.baseAddress!, outCapacity: 8) } })
    }

    /// The decompressor's wide copies stay inside the capacity it is given, also for truncated
    /// and corrupted streams (canary bytes after the capacity), and agree with the input
    /// whatever room follows the output.
    func testLZFDecompressionStaysInBounds() {
        let lzf = QuicklistLZF()
        var g = SplitMix(seed: 77)
        for round in 0..<300 {
            let n = Int(g.next() % 3000) + 1
            let alphabet = [2, 4, 16, 256][round % 4]
            let input = (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next() % UInt64(alphabet)) }
            var comp = [UInt8](repeating: 0, count: n + 16)
            guard let clen = input.withUnsafeBytes({ i in comp.withUnsafeMutableBytes { lzf.compress(i.baseAddress!, n, into: $0.baseAddress!, capacity: n) } }) else { continue }
            for extra in [0, 7, 64] {
                var out = [UInt8](repeating: 0xEE, count: n + extra + 64)
                let d = comp.withUnsafeBytes { c in out.withUnsafeMutableBytes { QuicklistLZF.decompress(c.baseAddress!, clen, into: $0.baseAddress!, outCapacity: n + extra) } }
                XCTAssertEqual(d, n)
                XCTAssertEqual(Array(out[0..<n]), input)
                XCTAssertTrue(out[(n + extra)...].allSatisfy { $0 == 0xEE }, "wrote past the capacity")
            }
            // Truncations and bit flips: nil or a length within bounds, never a write past them.
            var bad = Array(comp[0..<clen])
            if round % 2 == 0 { bad = Array(bad[0..<Int(g.next() % UInt64(clen))]) } else { bad[Int(g.next() % UInt64(clen))] ^= UInt8(1 << (g.next() % 8)) }
            var out = [UInt8](repeating: 0xEE, count: n + 64)
            let d = bad.withUnsafeBytes { c in out.withUnsafeMutableBytes { QuicklistLZF.decompress(c.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, bad.count, into: $0.baseAddress!, outCapacity: n) } }
            if let d { XCTAssertLessThanOrEqual(d, n) }
            XCTAssertTrue(out[n...].allSatisfy { $0 == 0xEE }, "wrote past the capacity")
        }
    }

    /// Random operations against an array model, for several fill / compression settings.
    func runModel(fill: Int, depth: Int, steps: Int, seed: UInt64) {
        var g = SplitMix(seed: seed)
        let q = Quicklist(fill: fill, compressDepth: depth)
        var model: [[UInt8]] = []
        func element() -> [UInt8] {
            switch g.next() % 6 {
            case 0: return bytes(String(Int(g.next() % 300) - 20))
            case 1: return bytes(String(Int64(bitPattern: g.next())))
            case 2: return bytes(String(repeating: "ab", count: Int(g.next() % 40)))
            case 3: return bytes(String(Int(g.next() % 1_000_000)))
            case 4: return bytes("e\(g.next() % 50)")
            default: return bytes(String(repeating: "q", count: Int(g.next() % 3000)))
            }
        }
        for step in 0..<steps {
            let op = g.next() % 12
            let n = model.count
            switch op {
            case 0, 1:
                let e = element()
                e.withUnsafeBytes { q.pushTail($0) }
                model.append(e)
            case 2, 3:
                let e = element()
                e.withUnsafeBytes { q.pushHead($0) }
                model.insert(e, at: 0)
            case 4:
                let v = q.popHead { $0.bytes }
                XCTAssertEqual(v, model.isEmpty ? nil : model.removeFirst())
            case 5:
                let v = q.popTail { $0.bytes }
                XCTAssertEqual(v, model.isEmpty ? nil : model.removeLast())
            case 6:
                if n > 0 {
                    let i = Int(g.next() % UInt64(n))
                    XCTAssertEqual(q.withElement(at: i) { $0.bytes }, model[i])
                    XCTAssertEqual(q.withElement(at: i - n) { $0.bytes }, model[i])
                    let e = element()
                    XCTAssertTrue(e.withUnsafeBytes { q.replace(at: i, with: $0) })
                    model[i] = e
                }
                XCTAssertNil(q.withElement(at: n) { $0.bytes })
            case 7:
                if n > 0 {
                    let pivot = model[Int(g.next() % UInt64(n))]
                    let after = g.next() % 2 == 0
                    let e = element()
                    let ok = e.withUnsafeBytes { s in
                        pivot.withUnsafeBytes { p in
                            q.insert(s, after: after) { QuicklistCodec.equals($0, p, argInt: QuicklistCodec.parseStrictInt(p)) }
                        }
                    }
                    XCTAssertTrue(ok)
                    let at = model.firstIndex(of: pivot)!
                    model.insert(e, at: after ? at + 1 : at)
                }
            case 8:
                if n > 0 {
                    let s = Int(g.next() % UInt64(n))
                    let k = Int(g.next() % 50)
                    q.deleteRange(start: s, count: k)
                    model.removeSubrange(s..<min(n, s + k))
                }
            case 9:
                if n > 0 {
                    let target = model[Int(g.next() % UInt64(n))]
                    let limit = Int(g.next() % 3)
                    let fromTail = g.next() % 2 == 0
                    let removed = target.withUnsafeBytes { t in
                        q.removeMatching(limit: limit, fromTail: fromTail) {
                            QuicklistCodec.equals($0, t, argInt: QuicklistCodec.parseStrictInt(t))
                        }
                    }
                    var idxs = model.indices.filter { model[$0] == target }
                    if fromTail { idxs.reverse() }
                    if limit > 0 { idxs = Array(idxs.prefix(limit)) }
                    XCTAssertEqual(removed, idxs.count)
                    for i in idxs.sorted(by: >) { model.remove(at: i) }
                }
            case 10:
                if n > 0 {
                    let s = Int(g.next() % UInt64(n))
                    var got: [[UInt8]] = []
                    let reverse = g.next() % 2 == 0
                    q.forEach(from: s, reverse: reverse) { v in got.append(v.bytes); return got.count < 70 }
                    let want = reverse ? Array(model[...s].reversed().prefix(70)) : Array(model[s...].prefix(70))
                    XCTAssertEqual(got, want, "step \(step)")
                }
            default:
                for _ in 0..<Int(g.next() % 300) {
                    let e = bytes(String(g.next() % 100000))
                    e.withUnsafeBytes { q.pushTail($0) }
                    model.append(e)
                }
            }
            XCTAssertEqual(q.count, model.count)
            if step % 50 == 0 || ProcessInfo.processInfo.environment["QL_DEBUG"] != nil {
                if q.allElements != model { print("MISMATCH at step \(step) op \(op)"); XCTestCase.failedOnce = true; return }
                XCTAssertEqual(q.allElements, model, "fill \(fill) depth \(depth) step \(step)")
                XCTAssertEqual(q.nodeEntryCounts.reduce(0, +), model.count)
                XCTAssertFalse(q.nodeEntryCounts.contains(0))
                let copy = q.deepCopy() as! Quicklist
                XCTAssertEqual(copy.allElements, model)
            }
            if XCTestCase.failedOnce { return }
        }
        XCTAssertEqual(q.allElements, model)
    }

    func testModelDefault() { runModel(fill: -2, depth: 0, steps: 3000, seed: 1) }
    func testModelSmallFill() { runModel(fill: 3, depth: 0, steps: 3000, seed: 2) }
    func testModelFillZero() { runModel(fill: 0, depth: 0, steps: 1500, seed: 3) }
    func testModelCompressed() { runModel(fill: -1, depth: 1, steps: 3000, seed: 4) }
    func testModelCompressedDeep() { runModel(fill: 5, depth: 2, steps: 3000, seed: 5) }
    func testModelBigNodes() { runModel(fill: -5, depth: 0, steps: 2000, seed: 6) }

    func testNodeFillRules() {
        let q = Quicklist(fill: 4)
        for i in 0..<10 { bytes("v\(i)").withUnsafeBytes { q.pushTail($0) } }
        XCTAssertEqual(q.nodeEntryCounts, [4, 4, 2])
        let z = Quicklist(fill: 0)
        for i in 0..<3 { bytes("\(i)").withUnsafeBytes { z.pushHead($0) } }
        XCTAssertEqual(z.nodeEntryCounts, [1, 1, 1])
        // -2: 8 KB nodes; each small element is estimated at len + 8 bytes.
        let d = Quicklist()
        for i in 0..<20000 { bytes("\(i % 100)").withUnsafeBytes { d.pushTail($0) } }
        XCTAssertGreaterThan(d.nodeTotal, 1)
        // One byte per small integer: a node holds ~8 KB minus the per-push estimate slack.
        XCTAssertTrue(d.nodeEntryCounts.dropLast().allSatisfy { $0 >= 8000 && $0 <= 8192 })
    }

    func testCompressionCompressesInnerNodes() {
        let q = Quicklist(fill: -1, compressDepth: 1)
        for i in 0..<20000 { bytes("element-\(i % 10)").withUnsafeBytes { q.pushTail($0) } }
        XCTAssertGreaterThan(q.nodeTotal, 4)
        XCTAssertEqual(q.compressedNodeTotal, q.nodeTotal - 2)
        XCTAssertEqual(q.withElement(at: 10005) { $0.bytes }, bytes("element-5"))
        q.deleteRange(start: 0, count: q.count - 5)
        XCTAssertEqual(q.compressedNodeTotal, 0)
        XCTAssertEqual(q.allElements.count, 5)
    }

    func testMemoryPerElementIsSmall() {
        let q = Quicklist()
        for i in 0..<100_000 { bytes(String(i)).withUnsafeBytes { q.pushTail($0) } }
        // Redis's listpack needs ~5 bytes for such integers; Tern's entries average < 4.
        XCTAssertLessThan(Double(q.allocatedBytes) / 100_000, 4.5)
    }
}

extension XCTestCase {
    nonisolated(unsafe) static var failedOnce = false
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
