import XCTest
import TernConfig
import TernProtocol
import TernStore
@testable import TernEngine

/// Dispatch's ordered checks and their counters, the flagged key lookup, whole-database
/// changes (SWAPDB, FLUSH) and inserting keys while loading. Expected counters were read
/// from redis-server 7.0.15's INFO commandstats for the same command sequences
/// (pytests/integration/test_dispatch.py runs them side by side).
final class DispatchAndKeyspaceTests: XCTestCase {
    var engine: Engine!
    var client: Client!

    override func setUp() {
        engine = Engine(config: ServerConfig())
        client = engine.createClient()
    }

    @discardableResult
    func run(_ words: String..., on c: Client? = nil) -> String {
        let target = c ?? client!
        target.out.removeAll()
        Args.with(words.map { Array($0.utf8) }) { engine.execute(target, $0) }
        return String(decoding: target.out.bytes, as: UTF8.self)
    }

    /// (calls, rejected_calls, failed_calls) of a command or "parent|sub".
    func stats(_ name: String) -> (Int, Int, Int) {
        guard let cmd = engine.commands.lookupFull(name) else { return (-1, -1, -1) }
        return (cmd.stats.calls, cmd.stats.rejectedCalls, cmd.stats.failedCalls)
    }

    // MARK: refusals

    func testEveryRefusalCountsRejectedCallsOnce() {
        run("GET")                      // arity
        run("CONFIG")                   // container without subcommand: arity of the container
        run("CONFIG", "NOPE")           // unknown subcommand: no command to count
        run("NOSUCH")                   // unknown command: errorstats only
        XCTAssertTrue(stats("get") == (0, 1, 0))
        XCTAssertTrue(stats("config") == (0, 1, 0))
        XCTAssertEqual(engine.stats.errorCounts["ERR"], 4)

        run("MULTI")
        XCTAssertEqual(run("SET", "k"), "-ERR wrong number of arguments for 'set' command\r\n")
        XCTAssertEqual(run("EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n")
        XCTAssertTrue(stats("set") == (0, 1, 0))
        XCTAssertTrue(stats("exec") == (1, 0, 1))

        run("MULTI")
        XCTAssertEqual(run("EXEC", "x"), "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n")
        XCTAssertFalse(client.flags.contains(.multi))
        XCTAssertTrue(stats("exec") == (1, 1, 1))
    }

    func testSubscribedContextAndMonitorRefusals() {
        run("SUBSCRIBE", "ch")
        XCTAssertTrue(run("GET", "k").hasPrefix("-ERR Can't execute 'get': only (P|S)SUBSCRIBE"))
        run("UNSUBSCRIBE")
        let m = engine.createClient()
        run("MONITOR", on: m)
        XCTAssertEqual(run("SET", "k", "v", on: m), "-ERR Replica can't interact with the keyspace\r\n")
        XCTAssertTrue(run("PING", on: m).hasPrefix("+PONG\r\n"))   // then its own MONITOR line
        XCTAssertTrue(stats("get") == (0, 1, 0))
        XCTAssertTrue(stats("set") == (0, 1, 0))
    }

    func testNoAuthComesAfterArityAndProtection() {
        // requirepass as read at startup: it becomes the default user's password.
        let cfg = ServerConfig()
        cfg.requirepass = "pw"
        cfg.enableDebugCommand = "no"
        engine = Engine(config: cfg)
        let c = engine.createClient()
        XCTAssertEqual(run("GET", on: c), "-ERR wrong number of arguments for 'get' command\r\n")
        XCTAssertTrue(run("DEBUG", "SLEEP", "0", on: c).hasPrefix("-ERR DEBUG command not allowed."))
        XCTAssertEqual(run("GET", "k", on: c), "-NOAUTH Authentication required.\r\n")
        XCTAssertTrue(stats("get") == (0, 2, 0))
        XCTAssertTrue(stats("debug") == (0, 1, 0))
        XCTAssertEqual(engine.stats.errorCounts["NOAUTH"], 1)
    }

    func testErrorInsideExecFailsThatCommandOnly() {
        run("SET", "s", "v")
        run("MULTI")
        run("LPUSH", "s", "x")
        run("GET", "s")
        run("EXEC")
        XCTAssertTrue(stats("lpush") == (1, 0, 1))
        XCTAssertTrue(stats("exec") == (1, 0, 0))
        run("CONFIG", "RESETSTAT")
        XCTAssertTrue(stats("config|resetstat") == (1, 0, 0))
        // An error outside any command (a protocol error) fails no later command.
        client.error("ERR Protocol error: invalid bulk length")
        run("PING")
        XCTAssertTrue(stats("ping") == (1, 0, 0))
    }

    // MARK: client life

    func testFreeClientLeavesNothingBehind() {
        let c = engine.createClient()
        run("WATCH", "k", on: c)
        run("PSUBSCRIBE", "p*", on: c)
        run("CLIENT", "TRACKING", "ON", "BCAST", on: c)
        c.blockOnKeys([Array("list".utf8)], deadline: 0, onTimeout: { _ in }, serve: { _, _ in true })
        let paused = engine.createClient()
        engine.pause(until: engine.nowMs + 60_000, all: true)
        run("GET", "k", on: paused)
        XCTAssertTrue(paused.postponed)
        XCTAssertEqual(engine.blocking.blockedClients, 1)
        engine.freeClient(c)
        engine.freeClient(paused)
        XCTAssertEqual(engine.blocking.blockedClients, 0)
        XCTAssertFalse(engine.blocking.hasWaiters)
        XCTAssertEqual(engine.transactions.watchedCount, 0)
        XCTAssertEqual(engine.pubsub.patternCount, 0)
        XCTAssertEqual(engine.tracking.trackingClients, 0)
        XCTAssertTrue(engine.postponedClients.isEmpty)
        XCTAssertNil(engine.clients[c.id])
        XCTAssertNil(engine.clients[paused.id])
        engine.unpause()
    }

    // MARK: lookup flags

    func testLookupFlags() {
        engine.config.notifyKeyspaceEvents = NotifyClass.parse("Em") ?? 0
        let log = KeyspaceEventLog(engine, classes: "m")
        run("SET", "k", "v")
        let key: [UInt8] = Array("k".utf8), missing: [UInt8] = Array("nope".utf8)
        func lookup(_ k: [UInt8], _ f: LookupFlags) -> Entry? { k.withUnsafeBytes { client.lookup($0, f) } }
        engine.stats = ServerStats()

        XCTAssertNotNil(lookup(key, .none))
        XCTAssertNil(lookup(missing, .none))
        XCTAssertEqual(engine.stats.keyspaceHits, 1)
        XCTAssertEqual(engine.stats.keyspaceMisses, 1)
        XCTAssertEqual(log.take().map { $0.event + ":" + $0.key }, ["keymiss:nope"])

        XCTAssertNil(lookup(missing, .write))
        XCTAssertNotNil(lookup(key, .write))
        XCTAssertNil(lookup(missing, [.noStats]))
        XCTAssertNil(lookup(missing, [.noTouch, .noNotify]))
        XCTAssertEqual(engine.stats.keyspaceHits, 1)
        XCTAssertEqual(engine.stats.keyspaceMisses, 2)
        XCTAssertEqual(log.take().map { $0.event }, ["keymiss"])

        // noTouch leaves the LRU field alone; a plain read sets it to the LRU clock.
        guard let e = lookup(key, .noTouch) else { return XCTFail("k") }
        e.lru = 7
        _ = lookup(key, .noTouch)
        XCTAssertEqual(e.lru, 7)
        _ = lookup(key, .none)
        XCTAssertEqual(e.lru, engine.lruClock)

        // A logically expired key: noExpire returns it, anything else deletes it.
        run("SET", "old", "v", "PX", "1")
        engine.nowMs += 10
        let old: [UInt8] = Array("old".utf8)
        XCTAssertNotNil(lookup(old, [.noExpire, .noTouch]))
        XCTAssertNotNil(client.db.find(old))
        XCTAssertNil(lookup(old, .write))
        XCTAssertNil(client.db.find(old))
        XCTAssertEqual(engine.stats.expiredKeys, 1)
    }

    // MARK: whole databases

    func testSwapDatabasesIsConstantTimeAndTouchesOnlyChanges() {
        guard let d0 = engine.database(0), let d1 = engine.database(1) else { return XCTFail("dbs") }
        for i in 0..<1000 { run("SET", "k\(i)", "v") }
        run("SET", "e", "v", "EX", "100")
        let w = engine.createClient()
        run("WATCH", "nothere", on: w)
        // The swap moves the tables, never the keys: the very same entries answer in db 1.
        let before = (0..<1000).map { d0.find(Array("k\($0)".utf8))?.raw }
        engine.swapDatabases(d0, d1)
        XCTAssertEqual((0..<1000).map { d1.find(Array("k\($0)".utf8))?.raw }, before)
        XCTAssertFalse(w.flags.contains(.dirtyCAS))
        XCTAssertEqual(d0.count, 0)
        XCTAssertEqual(d1.count, 1001)
        XCTAssertEqual(d1.expiresCount, 1)
        XCTAssertEqual(d0.expiresCount, 0)
        run("WATCH", "k1", on: w)
        engine.swapDatabases(d0, d1)
        XCTAssertTrue(w.flags.contains(.dirtyCAS))
        XCTAssertEqual(engine.transactions.watchedCount, 0)
    }

    func testFlushTellsWatchAndTracking() {
        let w = engine.createClient()
        run("SET", "k", "v")
        run("WATCH", "k", on: w)
        XCTAssertEqual(engine.emptyData(1, async: false), 0)
        XCTAssertFalse(w.flags.contains(.dirtyCAS))
        XCTAssertEqual(engine.emptyData(nil, async: false), 1)
        XCTAssertTrue(w.flags.contains(.dirtyCAS))
    }

    // MARK: loading

    func testKeysAddedWhileLoadingRaiseNoEventsOrSignals() {
        let log = KeyspaceEventLog(engine, classes: "KAn")
        let db = client.db
        let blocked = engine.createClient()
        blocked.flags.insert(.fake)
        // A client waiting on "list" must not be served by a key that was loaded.
        var served = false
        blocked.blockOnKeys([Array("list".utf8)], deadline: 0, onTimeout: { _ in }, serve: { _, _ in served = true; return true })
        let ok1 = Array("s".utf8).withUnsafeBytes { k in
            Array("123".utf8).withUnsafeBytes { v in
                db.addStringForLoading(k, v, encoding: .int, expireAt: engine.nowMs + 100_000, lru: 5)
            }
        }
        let ok2 = Array("list".utf8).withUnsafeBytes { k in
            db.addObjectForLoading(k, Quicklist(), type: .list, encoding: .quicklist, expireAt: nil, lru: 0)
        }
        let dup = Array("s".utf8).withUnsafeBytes { k in
            db.addStringForLoading(k, k, encoding: .raw, expireAt: nil, lru: 0)
        }
        XCTAssertTrue(ok1)
        XCTAssertTrue(ok2)
        XCTAssertFalse(dup)
        XCTAssertEqual(db.count, 2)
        XCTAssertEqual(db.expiresCount, 1)
        XCTAssertEqual(run("GET", "s"), "$3\r\n123\r\n")
        XCTAssertEqual(run("OBJECT", "ENCODING", "s"), "$3\r\nint\r\n")
        XCTAssertTrue(log.take().isEmpty)
        XCTAssertFalse(engine.hasReadyKeys)
        XCTAssertFalse(served)
        // The same key created by a command does raise `new`.
        run("SET", "fresh", "v")
        XCTAssertEqual(log.take().map { $0.event }, ["new", "set"])
    }
}
