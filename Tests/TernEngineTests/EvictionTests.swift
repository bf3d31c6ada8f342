import XCTest
import TernConfig
import TernProtocol
import TernStore
@testable import TernEngine

/// Eviction's stream and pool. pytests/integration/test_eviction.py checks the policies side
/// by side with redis-server; there Tern's replication stream cannot be read yet, so the
/// stream shape redis-server showed (test_redis_sends_evictions_as_bare_dels) is checked here.
final class EvictionTests: XCTestCase {
    typealias Run = PropagationStreamTests.Run

    func fill(_ r: Run, _ n: Int) {
        let value = String(repeating: "x", count: 1000)
        for i in 0..<n { r.run("a", ["SET", "k\(i)", value]) }
    }

    func names(_ r: Run) -> [String] {
        PropagationStreamTests.frames(r.capture.bytes).map { String(decoding: $0[0], as: UTF8.self) }
    }

    /// Each evicted key is a bare DEL, before the write that needed room (no MULTI).
    func testEvictionsPropagateAsBareDels() {
        let r = Run()
        fill(r, 300)
        r.run("a", ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
        r.engine.propagationTargets = [r.capture]
        // Set directly so the eviction happens in dispatch, before SET runs.
        r.engine.config.maxmemory = r.engine.infoState.memory.refresh() - 50_000
        XCTAssertEqual(r.run("a", ["SET", "new", "v"]), "+OK\r\n")
        let evicted = r.engine.stats.evictedKeys
        XCTAssertGreaterThan(evicted, 10)
        XCTAssertEqual(names(r), ["SELECT"] + Array(repeating: "DEL", count: evicted) + ["SET"])
        r.engine.config.maxmemory = 0
    }

    func testLazyEvictionPropagatesUnlink() {
        let r = Run()
        fill(r, 300)
        r.run("a", ["CONFIG", "SET", "maxmemory-policy", "allkeys-random"])
        r.run("a", ["CONFIG", "SET", "lazyfree-lazy-eviction", "yes"])
        r.engine.propagationTargets = [r.capture]
        r.engine.config.maxmemory = r.engine.infoState.memory.refresh() - 50_000
        r.run("a", ["SET", "new", "v"])
        XCTAssertGreaterThan(r.engine.stats.evictedKeys, 10)
        XCTAssertEqual(Set(names(r).dropFirst().dropLast()), ["UNLINK"])
        r.engine.config.maxmemory = 0
    }

    /// noeviction: denyoom commands refused, others run; rejected_calls counted.
    func testNoevictionRefusesDenyoomOnly() {
        let r = Run()
        r.run("a", ["SET", "a", "1"])
        r.engine.config.maxmemory = 1
        XCTAssertEqual(r.run("a", ["SET", "b", "1"]), "-OOM command not allowed when used memory > 'maxmemory'.\r\n")
        XCTAssertEqual(r.run("a", ["GET", "a"]), "$1\r\n1\r\n")
        XCTAssertEqual(r.engine.commands.lookup("set")?.stats.rejectedCalls, 1)
        r.engine.config.maxmemory = 0
    }

    /// The pool keeps the 16 best scores in ascending order; a worse key is ignored when full.
    func testPoolKeepsTheBestCandidatesInOrder() {
        let pool = EvictionState()
        for score in [5, 1, 9, 3, 7] as [UInt64] {
            Array("k\(score)".utf8).withUnsafeBytes { pool.insert(idle: score, db: 0, key: $0) }
        }
        XCTAssertEqual((0..<pool.count).map { pool.pool[$0].idle }, [1, 3, 5, 7, 9])
        for score in 10..<30 as Range<UInt64> {
            Array("k\(score)".utf8).withUnsafeBytes { pool.insert(idle: score, db: 0, key: $0) }
        }
        XCTAssertEqual(pool.count, 16)
        XCTAssertEqual((0..<16).map { pool.pool[$0].idle }, Array(14..<30))
        XCTAssertEqual(String(decoding: pool.key(15), as: UTF8.self), "k29")
        XCTAssertEqual(Set((0..<16).map { pool.pool[$0].buffer }).count, 16)
        Array("low".utf8).withUnsafeBytes { pool.insert(idle: 2, db: 0, key: $0) }
        XCTAssertEqual(pool.pool[0].idle, 14)
    }

    /// Redis's evictionTimeLimitUs.
    func testTenacityTimeLimits() {
        let e = Engine()
        for (t, us) in [(0, 0), (10, 500), (11, 575), (20, 2022)] as [(Int, Int64)] {
            e.config.maxmemoryEvictionTenacity = t
            XCTAssertEqual(e.evictionTimeLimitMicros(), us, "tenacity \(t)")
        }
        e.config.maxmemoryEvictionTenacity = 100
        XCTAssertEqual(e.evictionTimeLimitMicros(), Int64.max)
    }
}
