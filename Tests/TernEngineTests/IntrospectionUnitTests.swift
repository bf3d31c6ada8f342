import TernConfig
import XCTest
@testable import TernEngine
@testable import TernProtocol

final class LatencyHistogramTests: XCTestCase {
    func testHighestEquivalentValues() {
        // Values INFO latencystats shows for 1, 2, 4, 7, 24 and 158 µs calls on redis-server.
        let cases: [(Int64, Int64)] = [(1000, 1003), (2000, 2007), (4000, 4015), (7000, 7007), (24000, 24063), (158000, 158719), (1, 1), (255, 255)]
        for (v, want) in cases { XCTAssertEqual(LatencyHistogram.highestEquivalent(v), want, "\(v)") }
    }

    func testIndexRoundTrip() {
        for v: Int64 in [1, 100, 255, 256, 300, 1023, 1024, 65_535, 1_000_000, 999_999_999, 1_000_000_000] {
            let i = LatencyHistogram.index(v)
            XCTAssertLessThan(i, LatencyHistogram.countsLength)
            let low = LatencyHistogram.value(atIndex: i)
            XCTAssertLessThanOrEqual(low, v)
            XCTAssertGreaterThanOrEqual(LatencyHistogram.highestEquivalent(v), v)
        }
    }

    func testPercentilesAndCumulative() {
        var h: [Int] = []
        for _ in 0..<2 { LatencyHistogram.record(&h, nanoseconds: 1000) }
        for _ in 0..<3 { LatencyHistogram.record(&h, nanoseconds: 2000) }
        XCTAssertEqual(LatencyHistogram.total(h), 5)
        XCTAssertEqual(LatencyHistogram.valueAtPercentile(h, 50), 2007)
        XCTAssertEqual(LatencyHistogram.valueAtPercentile(h, 99.9), 2007)
        XCTAssertEqual(LatencyHistogram.valueAtPercentile(h, 10), 1003)
        // redis-server: LATENCY HISTOGRAM ping -> histogram_usec {1: 2, 2: 5}
        XCTAssertEqual(LatencyHistogram.cumulative(h).map { [$0.0, $0.1] }, [[1, 2], [2, 5]])
        var g: [Int] = []
        LatencyHistogram.record(&g, nanoseconds: 7000)
        LatencyHistogram.record(&g, nanoseconds: 40_000)
        LatencyHistogram.record(&g, nanoseconds: 0)
        XCTAssertEqual(LatencyHistogram.cumulative(g).map { [$0.0, $0.1] }, [[1, 1], [8, 2], [66, 3]])
        XCTAssertEqual(LatencyHistogram.label(99.9), "99.9")
        XCTAssertEqual(LatencyHistogram.label(50), "50")
    }
}

final class MonitorFormatTests: XCTestCase {
    func testQuotingLikeRedis() {
        // redis-server MONITOR shows SET "k\x00\"\\\n\t\x7f\xff é" as below.
        let raw: [UInt8] = Array("k".utf8) + [0, 34, 92, 10, 9, 127] + Array("ÿ é".utf8)
        var out: [UInt8] = []
        raw.withUnsafeBytes { MonitorLine.appendQuoted(&out, $0) }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "k\\x00\\\"\\\\\\n\\t\\x7f\\xc3\\xbf \\xc3\\xa9")
        var o2: [UInt8] = []
        Array<UInt8>([7, 8, 13]).withUnsafeBytes { MonitorLine.appendQuoted(&o2, $0) }
        XCTAssertEqual(String(decoding: o2, as: UTF8.self), "\\a\\b\\r")
    }
}

final class SlowlogDisplayTests: XCTestCase {
    func testLongArgumentsAndManyArguments() {
        let e = Engine()
        let cmd = e.commands.lookup("get")!
        let many = ["rpush", "l"] + (1...40).map(String.init)
        let shown = OwnedArgs(strings: many).withArgs { Slowlog.displayArgs(cmd, $0) }
        XCTAssertEqual(shown.count, 32)
        XCTAssertEqual(String(decoding: shown[30], as: UTF8.self), "29")
        XCTAssertEqual(String(decoding: shown[31], as: UTF8.self), "... (11 more arguments)")
        let long = OwnedArgs(strings: ["set", "k", String(repeating: "x", count: 200)]).withArgs { Slowlog.displayArgs(cmd, $0) }
        XCTAssertEqual(String(decoding: long[2], as: UTF8.self), String(repeating: "x", count: 128) + "... (72 more bytes)")
    }

    func testRedaction() {
        let e = Engine()
        let auth = e.commands.lookup("hello")!
        let shown = OwnedArgs(strings: ["hello", "3", "auth", "u", "p", "setname", "n"]).withArgs { Slowlog.displayArgs(auth, $0) }
        XCTAssertEqual(shown.map { String(decoding: $0, as: UTF8.self) }, ["hello", "3", "auth", "(redacted)", "(redacted)", "setname", "n"])
    }
}

/// Slow log, latency monitor and MONITOR through the engine's dispatcher (the settings
/// CONFIG SET would change are set directly).
final class ObserverEngineTests: XCTestCase {
    func run(_ e: Engine, _ c: Client, _ argv: [String]) -> String {
        OwnedArgs(strings: argv).withArgs { e.execute(c, $0) }
        let s = String(decoding: c.out.bytes, as: UTF8.self)
        c.out.removeAll()
        return s
    }

    func testSlowlogEntries() {
        let e = Engine()
        e.config.slowlogLogSlowerThan = 0
        let c = e.createClient()
        c.remoteAddress = "10.0.0.1:4242"
        _ = run(e, c, ["CLIENT", "SETNAME", "me"])
        _ = run(e, c, ["PING"])
        _ = run(e, c, ["EXEC"])   // unknown here: rejected commands are not logged
        let got = run(e, c, ["SLOWLOG", "GET", "1"])
        let re = try! NSRegularExpression(pattern: "^\\*1\r\n\\*6\r\n:1\r\n:\\d+\r\n:\\d+\r\n\\*1\r\n\\$4\r\nPING\r\n\\$13\r\n10\\.0\\.0\\.1:4242\r\n\\$2\r\nme\r\n$")
        XCTAssertNotNil(re.firstMatch(in: got, range: NSRange(got.startIndex..., in: got)), got)
        XCTAssertEqual(run(e, c, ["SLOWLOG", "LEN"]), ":3\r\n")     // SETNAME, PING, SLOWLOG GET
        e.config.slowlogMaxLen = 2
        _ = run(e, c, ["PING"])
        XCTAssertEqual(run(e, c, ["SLOWLOG", "LEN"]), ":2\r\n")
        e.config.slowlogLogSlowerThan = -1
        _ = run(e, c, ["SLOWLOG", "RESET"])
        _ = run(e, c, ["PING"])
        XCTAssertEqual(run(e, c, ["SLOWLOG", "LEN"]), ":0\r\n")
    }

    func testLatencyEventsCommandAndFastCommand() {
        let e = Engine()
        e.config.enableDebugCommand = "yes"  // DEBUG is a protected command (refused by dispatch otherwise)
        e.commands.register("debug") { c, _ in usleep(3000); c.out.ok() }
        e.commands.register("get") { c, _ in usleep(3000); c.out.null() }
        let c = e.createClient()
        _ = run(e, c, ["DEBUG", "x"])
        XCTAssertEqual(run(e, c, ["LATENCY", "LATEST"]), "*0\r\n")   // monitor off by default
        e.config.latencyMonitorThreshold = 1
        _ = run(e, c, ["DEBUG", "x"])
        _ = run(e, c, ["GET", "k"])
        let latest = run(e, c, ["LATENCY", "LATEST"])
        XCTAssertTrue(latest.hasPrefix("*2\r\n*4\r\n$7\r\ncommand\r\n"), latest)
        XCTAssertTrue(latest.contains("$12\r\nfast-command\r\n"), latest)
        XCTAssertTrue(run(e, c, ["LATENCY", "HISTORY", "command"]).hasPrefix("*1\r\n*2\r\n:"))
        XCTAssertEqual(run(e, c, ["LATENCY", "RESET"]), ":2\r\n")
        XCTAssertEqual(run(e, c, ["LATENCY", "LATEST"]), "*0\r\n")
    }

    func testMonitorFeedSkipsAdminCommands() {
        let e = Engine()
        let m = e.createClient()
        let c = e.createClient()
        c.remoteAddress = "127.0.0.1:1000"
        XCTAssertEqual(run(e, m, ["MONITOR"]), "+OK\r\n")
        _ = run(e, c, ["SELECT", "2"])
        _ = run(e, c, ["CLIENT", "LIST"])          // admin: not shown
        _ = run(e, c, ["SLOWLOG", "LEN"])          // admin: not shown
        _ = run(e, c, ["ECHO", "a\"b"])
        let lines = String(decoding: m.out.bytes, as: UTF8.self).split(separator: "\r\n").map(String.init)
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasSuffix(" [2 127.0.0.1:1000] \"SELECT\" \"2\""), lines[0])
        XCTAssertTrue(lines[1].hasSuffix(" [2 127.0.0.1:1000] \"ECHO\" \"a\\\"b\""), lines[1])
        XCTAssertTrue(lines[0].hasPrefix("+"))
        e.freeClient(m)
        XCTAssertTrue(e.observers.monitors.isEmpty)
    }

    func testReplyModes() {
        let e = Engine()
        let c = e.createClient()
        XCTAssertEqual(run(e, c, ["CLIENT", "REPLY", "SKIP"]), "")
        XCTAssertEqual(run(e, c, ["PING"]), "")
        XCTAssertEqual(run(e, c, ["PING"]), "+PONG\r\n")
        XCTAssertEqual(run(e, c, ["CLIENT", "REPLY", "OFF"]), "")
        XCTAssertEqual(run(e, c, ["NOSUCH"]), "")
        XCTAssertEqual(run(e, c, ["CLIENT", "REPLY", "ON"]), "+OK\r\n")
    }
}
