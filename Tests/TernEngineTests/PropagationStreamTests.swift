import Foundation
import XCTest
import TernConfig
import TernProtocol
import TernStore
@testable import TernEngine

/// The exact replication stream Tern produces, as RESP bytes with SELECT/MULTI/EXEC, compared
/// byte for byte with what redis-server 7.0.15 sent to a replica for the same scenario.
/// The expected streams and the scenarios themselves are in Tests/Fixtures/propagation.json,
/// recorded by tools/record_propagation_fixtures.py; pytests/integration/test_propagation_stream.py
/// checks that redis-server still sends exactly those bytes.
final class PropagationStreamTests: XCTestCase {
    /// A propagation target that writes what a replica would read.
    final class StreamCapture: PropagationTarget {
        var encoder = PropagationStreamEncoder()
        let out = StreamBuffer(capacity: 64)
        /// Ops that came encoded by the engine (several targets), and encoded by this target.
        var encodedOps = 0
        var ownOps = 0
        /// false: take only `propagate(db:args:)`, as a target that keeps no RESP stream.
        var takesEncoded = true
        var bytes: [UInt8] {
            get { Array(out.bytes) }
            set { out.removeAll(); out.append(newValue) }
        }
        func propagate(db: Int, args: Args) {
            ownOps += 1
            encoder.append(db: db, args: args, to: out)
        }
        func propagate(db: Int, args: Args, encoded: UnsafeRawBufferPointer) {
            guard takesEncoded else { return propagate(db: db, args: args) }
            encodedOps += 1
            encoder.append(db: db, encoded: encoded, to: out)
        }
    }

    /// A connection that does no I/O; `resumeProcessing` runs whatever the test parked.
    final class FakeConnection: ClientConnection {
        var onResume: (() -> Void)?
        func flushReplies() {}
        func close() {}
        func resumeProcessing() { onResume?() }
    }

    struct Scenario {
        let name: String
        let setup: [[String]]
        let steps: [[String: Any]]
        let mask: [String: [Int]]
        let stream: [UInt8]
    }

    static let fixturePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/propagation.json")

    static func loadScenarios() throws -> [Scenario] {
        let data = try Data(contentsOf: fixturePath)
        guard let doc = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = doc["scenarios"] as? [[String: Any]] else {
            throw NSError(domain: "fixture", code: 1)
        }
        return list.map { s in
            Scenario(name: s["name"] as? String ?? "?",
                     setup: s["setup"] as? [[String]] ?? [],
                     steps: s["steps"] as? [[String: Any]] ?? [],
                     mask: s["mask"] as? [String: [Int]] ?? [:],
                     // The fixture stores bytes as latin-1 text.
                     stream: (s["stream"] as? String ?? "").unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        }
    }

    // MARK: RESP frames

    /// Splits a stream of multibulk frames into their arguments.
    static func frames(_ b: [UInt8]) -> [[[UInt8]]] {
        var out: [[[UInt8]]] = []
        var i = 0
        func number(_ from: inout Int) -> Int {
            var n = 0
            while from < b.count && b[from] != 13 { n = n * 10 + Int(b[from] - 48); from += 1 }
            from += 2
            return n
        }
        while i < b.count && b[i] == 42 {
            i += 1
            let n = number(&i)
            var args: [[UInt8]] = []
            for _ in 0..<n {
                i += 1
                let len = number(&i)
                args.append(Array(b[i..<min(b.count, i + len)]))
                i += len + 2
            }
            out.append(args)
        }
        return out
    }

    static func encode(_ frames: [[[UInt8]]]) -> [UInt8] {
        var out: [UInt8] = []
        for f in frames {
            out += Array("*\(f.count)\r\n".utf8)
            for a in f { out += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
        }
        return out
    }

    /// The same masking as pytests/propagation_stream.py: listed arguments of the named
    /// commands become '?' bytes of the same length.
    static func masked(_ b: [UInt8], _ mask: [String: [Int]]) -> [UInt8] {
        if mask.isEmpty { return b }
        let rules = Dictionary(uniqueKeysWithValues: mask.map { ($0.key.uppercased(), Set($0.value)) })
        let fs = frames(b).map { f -> [[UInt8]] in
            guard let name = f.first, let idx = rules[String(decoding: name, as: UTF8.self).uppercased()] else { return f }
            return f.enumerated().map { idx.contains($0.offset) ? [UInt8](repeating: 63, count: $0.element.count) : $0.element }
        }
        return encode(fs)
    }

    /// The bytes as latin-1 text (one character per byte), for readable failures.
    static func text(_ b: [UInt8]) -> String { String(b.map { Character(Unicode.Scalar($0)) }) }

    static func readable(_ b: [UInt8]) -> String {
        frames(b).map { $0.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ") }.joined(separator: " | ")
    }

    // MARK: replay

    final class Run {
        let engine: Engine
        let capture = StreamCapture()
        var clients: [String: Client] = [:]
        var connections: [FakeConnection] = []

        init() {
            engine = Engine(config: ServerConfig())
            engine.activeExpireEnabled = false
        }

        func client(_ name: String) -> Client {
            if let c = clients[name] { return c }
            let c = engine.createClient()
            let conn = FakeConnection()
            connections.append(conn)
            c.connection = conn
            clients[name] = c
            return c
        }

        @discardableResult
        func run(_ name: String, _ argv: [String]) -> String {
            let c = client(name)
            c.out.removeAll()
            OwnedArgs(strings: argv).withArgs { engine.execute(c, $0) }
            return String(decoding: c.out.bytes, as: UTF8.self)
        }
    }

    func replay(_ s: Scenario, _ r: Run, targets: [PropagationTarget]? = nil) {
        for cmd in s.setup { r.run("a", cmd) }
        r.engine.propagationTargets = targets ?? [r.capture]
        var blocked: [Client] = []
        for step in s.steps {
            if let ms = step["sleep_ms"] as? Int { usleep(useconds_t(ms * 1000)); continue }
            guard let cmd = step["cmd"] as? [String] else { XCTFail("\(s.name): bad step"); continue }
            let name = step["c"] as? String ?? "a"
            r.run(name, cmd)
            if step["blocks"] as? Bool == true {
                let c = r.client(name)
                XCTAssertTrue(c.flags.contains(.blocked), "\(s.name): \(cmd) should block")
                blocked.append(c)
            }
        }
        for c in blocked { XCTAssertFalse(c.flags.contains(.blocked), "\(s.name): client \(c.id) still blocked") }
    }

    func testStreamsMatchRedis() throws {
        let scenarios = try Self.loadScenarios()
        XCTAssertGreaterThanOrEqual(scenarios.count, 20)
        for s in scenarios {
            let r = Run()
            replay(s, r)
            let got = Self.masked(r.capture.bytes, s.mask)
            XCTAssertEqual(Self.text(got), Self.text(s.stream),
                           "\(s.name)\n tern:  \(Self.readable(got))\n redis: \(Self.readable(s.stream))")
        }
    }

    /// Several targets (the AOF and the replication stream): each gets the same bytes, from
    /// one encoding of each op shared by the targets that write RESP, and from the op's
    /// arguments for a target that does not; a lone target encodes for itself.
    func testEveryTargetGetsTheSameStream() throws {
        for s in try Self.loadScenarios() {
            let r = Run()
            let second = StreamCapture()
            let argsOnly = StreamCapture()
            argsOnly.takesEncoded = false
            replay(s, r, targets: [r.capture, second, argsOnly])
            for (name, t) in [("first", r.capture), ("second", second), ("args only", argsOnly)] {
                let got = Self.masked(t.bytes, s.mask)
                XCTAssertEqual(Self.text(got), Self.text(s.stream), "\(s.name), \(name) target: \(Self.readable(got))")
            }
            XCTAssertEqual(r.capture.ownOps, 0, s.name)
            XCTAssertEqual(argsOnly.encodedOps, 0, s.name)
        }
        let r = Run()
        r.engine.propagationTargets = [r.capture]
        r.run("a", ["SET", "k", "v"])
        XCTAssertEqual(r.capture.ownOps, 1)
        XCTAssertEqual(r.capture.encodedOps, 0)
    }

    /// The direct path: a lone top-level op reaches the target from the client's own argument
    /// spans (no copy); a unit with a lazy-expire DEL before it goes through the buffer.
    func testLoneTopLevelOpGoesOutFromTheClientsArgs() {
        final class Probe: PropagationTarget {
            var ops: [(base: UnsafeRawPointer, name: String)] = []
            func propagate(db: Int, args: Args) { ops.append((args.base, args.string(0))) }
        }
        let r = Run()
        let probe = Probe()
        r.engine.propagationTargets = [probe]
        let c = r.client("a")
        OwnedArgs(strings: ["SET", "k", "v"]).withArgs { a in
            r.engine.execute(c, a)
            XCTAssertEqual(probe.ops.map(\.name), ["SET"])
            XCTAssertEqual(probe.ops.first?.base, a.base)
        }
        r.run("a", ["SET", "e", "v", "PX", "1"])
        usleep(5000)
        probe.ops = []
        OwnedArgs(strings: ["SET", "e", "w"]).withArgs { a in
            r.engine.execute(c, a)
            XCTAssertEqual(probe.ops.map(\.name), ["MULTI", "DEL", "SET", "EXEC"])
            XCTAssertFalse(probe.ops.contains { $0.base == a.base })
        }
        XCTAssertTrue(r.engine.pendingPropagation.isEmpty)
    }

    /// Each target keeps its own selected db: a target that attaches later, or whose reader
    /// sits in another db, gets its own SELECT before the shared encoding of the op.
    func testTargetsKeepTheirOwnSelectedDb() {
        let r = Run()
        let late = StreamCapture()
        r.engine.propagationTargets = [r.capture]
        r.run("a", ["SET", "k", "1"])
        r.run("a", ["SELECT", "3"])
        r.run("a", ["SET", "k", "2"])
        r.engine.propagationTargets = [r.capture, late]
        r.run("a", ["SET", "k", "3"])
        late.encoder.selectedDb = 0
        r.run("a", ["INCR", "n"])
        XCTAssertEqual(Self.readable(r.capture.bytes), "SELECT 0 | SET k 1 | SELECT 3 | SET k 2 | SET k 3 | INCR n")
        XCTAssertEqual(Self.readable(late.bytes), "SELECT 3 | SET k 3 | SELECT 3 | INCR n")
    }

    // MARK: what the masks hide

    func testSetExDeadlineIsAbsolute() {
        let r = Run()
        r.engine.propagationTargets = [r.capture]
        let before = Engine.wallClockMs()
        r.run("a", ["SET", "k", "v", "EX", "100"])
        let after = Engine.wallClockMs()
        let f = Self.frames(r.capture.bytes)
        XCTAssertEqual(f.count, 2)
        let at = Int64(String(decoding: f.last?[4] ?? [], as: UTF8.self)) ?? 0
        XCTAssertTrue(at >= before + 100_000 && at <= after + 100_000, "\(at)")
    }

    func testSpopSremsAreThePoppedMembers() {
        let r = Run()
        r.run("a", ["SADD", "s"] + (10..<60).map(String.init))
        r.engine.propagationTargets = [r.capture]
        for count in ["3", "45"] {
            r.capture.bytes = []
            let reply = r.run("a", ["SPOP", "s", count])
            let popped = Set(reply.split(separator: "\r\n").filter { !$0.hasPrefix("*") && !$0.hasPrefix("$") }.map(String.init))
            let srems = Self.frames(r.capture.bytes).filter { $0.first == Array("SREM".utf8) }
            XCTAssertEqual(srems.count, Int(count))
            XCTAssertEqual(Set(srems.map { String(decoding: $0[2], as: UTF8.self) }), popped)
            r.run("a", ["SADD", "s"] + (10..<60).map(String.init))
        }
    }

    // MARK: no cost when nothing listens

    func testNothingIsBufferedWithoutTargets() {
        let r = Run()
        r.run("a", ["SET", "k", "v", "PX", "1"])
        r.run("a", ["SADD", "s", "1", "2", "3"])
        usleep(5000)
        r.run("a", ["GET", "k"])
        r.run("a", ["SPOP", "s", "2"])
        for a in [["MULTI"], ["SET", "x", "1"], ["SET", "y", "2"], ["EXEC"]] { r.run("a", a) }
        XCTAssertFalse(r.engine.propagates)
        XCTAssertTrue(r.engine.pendingPropagation.isEmpty)
        XCTAssertNil(r.client("a").propagateAs)
        XCTAssertEqual(r.engine.stats.expiredKeys, 1)
    }

    /// A unit is flushed after the outermost call: nothing reaches a target while the
    /// command (here EXEC) is still running.
    func testNestedCallsAreFlushedOnceByTheOutermost() {
        // Records the client's reply buffer when the first op arrives: EXEC must have
        // finished (its whole reply written) before anything is sent.
        final class Probe: PropagationTarget {
            let client: Client
            var replyAtFirstOp: String?
            var ops: [String] = []
            init(_ c: Client) { client = c }
            func propagate(db: Int, args: Args) {
                if replyAtFirstOp == nil { replyAtFirstOp = String(decoding: client.out.bytes, as: UTF8.self) }
                ops.append(args.string(0))
            }
        }
        let r = Run()
        let probe = Probe(r.client("a"))
        r.engine.propagationTargets = [probe]
        for a in [["MULTI"], ["SET", "x", "1"], ["INCR", "n"]] { r.run("a", a) }
        r.run("a", ["EXEC"])
        XCTAssertEqual(probe.replyAtFirstOp, "*2\r\n+OK\r\n:1\r\n")
        XCTAssertEqual(probe.ops, ["MULTI", "SET", "INCR", "EXEC"])
        XCTAssertTrue(r.engine.pendingPropagation.isEmpty)
    }

    // MARK: CLIENT UNPAUSE

    /// The postponed client's command runs from the deferred resume queue, after UNPAUSE's
    /// call has returned, and its write is a propagation unit of its own.
    func testUnpauseResumesPostponedClientsOutsideTheCall() {
        let r = Run()
        var tasks: [() -> Void] = []
        r.engine.scheduleOnLoop = { _, body in tasks.append(body) }
        r.engine.propagationTargets = [r.capture]
        r.run("admin", ["CLIENT", "PAUSE", "100000", "WRITE"])
        let writer = r.client("w")
        // The network layer keeps the postponed request and re-parses it on resume.
        r.run("w", ["SET", "k", "v"])
        XCTAssertTrue(writer.postponed)
        var ranInsideUnpause = false
        var unpauseRunning = false
        r.connections.last?.onResume = {
            ranInsideUnpause = unpauseRunning
            r.run("w", ["SET", "k", "v"])
        }
        unpauseRunning = true
        XCTAssertEqual(r.run("admin", ["CLIENT", "UNPAUSE"]), "+OK\r\n")
        unpauseRunning = false
        XCTAssertFalse(writer.postponed)
        XCTAssertNil(r.engine.database(0)?.find(Array("k".utf8)), "the postponed SET ran inside CLIENT UNPAUSE")
        XCTAssertEqual(tasks.count, 1)
        for t in tasks { t() }
        XCTAssertFalse(ranInsideUnpause)
        XCTAssertEqual(String(decoding: writer.out.bytes, as: UTF8.self), "+OK\r\n")
        XCTAssertEqual(Self.readable(r.capture.bytes), "SELECT 0 | SET k v")
    }

    /// A pause that ended by itself releases clients the same way (the next command or the
    /// cron tick ends it; the clients run later).
    func testExpiredPauseResumesThroughTheQueue() {
        let r = Run()
        var tasks: [() -> Void] = []
        r.engine.scheduleOnLoop = { _, body in tasks.append(body) }
        r.run("admin", ["CLIENT", "PAUSE", "200", "WRITE"])
        r.run("w", ["SET", "k", "v"])
        XCTAssertTrue(r.client("w").postponed)
        var resumed = 0
        r.connections.last?.onResume = { resumed += 1; r.run("w", ["SET", "k", "v"]) }
        usleep(250_000)
        r.engine.cron()
        XCTAssertEqual(resumed, 0)
        for t in tasks { t() }
        XCTAssertEqual(resumed, 1)
        XCTAssertNotNil(r.engine.database(0)?.find(Array("k".utf8)))
    }
}
