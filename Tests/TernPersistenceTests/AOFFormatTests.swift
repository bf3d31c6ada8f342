import XCTest
@testable import TernPersistence

final class AOFFormatTests: XCTestCase {
    func testManifestRoundTripAndOrder() throws {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
        let m = try AOFManifest.parse(text)
        XCTAssertEqual(m.base?.name, "appendonly.aof.2.base.rdb")
        XCTAssertEqual(m.history.map(\.name), ["appendonly.aof.1.incr.aof"])
        XCTAssertEqual(m.incrs.map(\.seq), [2, 3])
        XCTAssertEqual(m.currentIncrSeq, 3)
        XCTAssertEqual(m.text, text)
    }

    func testManifestRejectsBadInput() {
        for bad in ["", "# only a comment\n", "file x seq 1\n", "file a seq 1 type b\nfile b seq 2 type b\n",
                    "file a seq 2 type i\nfile b seq 1 type i\n", "file a seq 1 type z\n", "file ../x seq 1 type b\n"] {
            XCTAssertThrowsError(try AOFManifest.parse(bad), bad)
        }
    }

    func testFileNames() {
        XCTAssertEqual(AOFManifest.baseName("appendonly.aof", seq: 3, rdb: true), "appendonly.aof.3.base.rdb")
        XCTAssertEqual(AOFManifest.baseName("x", seq: 1, rdb: false), "x.1.base.aof")
        XCTAssertEqual(AOFManifest.incrName("x", seq: 7), "x.7.incr.aof")
        XCTAssertEqual(AOFManifest.manifestName("x"), "x.manifest")
    }

    func testReaderCommandsAnnotationsAndTornTail() {
        let good = Array("#TS:17\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$0\r\n\r\n".utf8)
        var r = AOFCommandReader(good + Array("*3\r\n$3\r\nset\r\n$1\r\nz\r\n$3\r\nab".utf8))
        guard case .annotation(let a) = r.next() else { return XCTFail() }
        XCTAssertEqual(a, "#TS:17")
        guard case .command(let c1) = r.next() else { return XCTFail() }
        XCTAssertEqual(c1.map { String(decoding: $0, as: UTF8.self) }, ["SELECT", "0"])
        guard case .command(let c2) = r.next() else { return XCTFail() }
        XCTAssertEqual(c2.map { String(decoding: $0, as: UTF8.self) }, ["set", "k", ""])
        guard case .truncated(let at) = r.next() else { return XCTFail() }
        XCTAssertEqual(at, good.count)
    }

    func testReaderBadFormat() {
        for bad in ["xx\r\n", "*x\r\n", "*1\r\n#3\r\nabc\r\n", "*0\r\n"] {
            var r = AOFCommandReader(Array(bad.utf8))
            guard case .bad(let at, _) = r.next() else { return XCTFail(bad) }
            XCTAssertEqual(at, 0)
        }
        // Every prefix of a command is a torn tail, never a crash.
        let cmd = Array("*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\nvv\r\n".utf8)
        for n in 1..<cmd.count {
            var r = AOFCommandReader(Array(cmd[0..<n]))
            guard case .truncated(let at) = r.next() else { return XCTFail("prefix \(n)") }
            XCTAssertEqual(at, 0)
        }
    }
}
