import XCTest
import TernConfig
import TernProtocol
import TernStore
@testable import TernEngine

/// What the keyspace commands feed to AOF/replication, and which keyspace events they fire.
final class KeyspacePropagationTests: XCTestCase {
    final class Recorder: PropagationTarget {
        var commands: [(Int, [String])] = []
        func propagate(db: Int, args: Args) {
            commands.append((db, (0..<args.count).map { args.string($0) }))
        }
    }

    var engine: Engine!
    var client: Client!
    var recorder: Recorder!
    var log: KeyspaceEventLog!
    /// (event, key, db) of the events raised since the last look.
    var events: [(String, String, Int)] { log.take().map { ($0.event, $0.key, $0.db) } }

    override func setUp() {
        let config = ServerConfig()
        config.enableDebugCommand = "yes"
        engine = Engine(config: config)
        recorder = Recorder()
        engine.propagationTargets = [recorder]
        log = KeyspaceEventLog(engine, classes: "Anm")
        client = engine.createClient()
    }

    @discardableResult
    func run(_ words: String...) -> String {
        client.out.removeAll()
        Args.with(words.map { Array($0.utf8) }) { engine.execute(client, $0) }
        return String(decoding: client.out.bytes, as: UTF8.self)
    }

    func propagated() -> [[String]] {
        defer { recorder.commands.removeAll() }
        return recorder.commands.map { $0.1 }
    }

    func eventNames() -> [String] { events.map { $0.0 } }

    func testRelativeExpireBecomesPexpireat() {
        run("SET", "k", "v")
        _ = propagated()
        let before = Engine.wallClockMs()
        XCTAssertEqual(run("EXPIRE", "k", "100"), ":1\r\n")
        let p = propagated()
        XCTAssertEqual(p.count, 1)
        XCTAssertEqual(p[0][0], "PEXPIREAT")
        XCTAssertEqual(p[0][1], "k")
        let at = Int64(p[0][2])!
        XCTAssertTrue(at >= before + 100_000 && at <= Engine.wallClockMs() + 100_000)
        XCTAssertEqual(run("PEXPIRE", "k", "5000", "GT"), ":0\r\n")   // not greater: nothing to replicate
        XCTAssertEqual(propagated().count, 0)
        run("PEXPIRE", "k", "500000", "XX")
        let q = propagated()
        XCTAssertEqual(q.first?[0], "PEXPIREAT")
        XCTAssertEqual(q.first?[3], "XX")
        run("EXPIREAT", "k", "4102444800")
        XCTAssertEqual(propagated().first ?? [], ["PEXPIREAT", "k", "4102444800000"])
        run("PEXPIREAT", "k", "4102444800001")
        XCTAssertEqual(propagated().first ?? [], ["PEXPIREAT", "k", "4102444800001"])
    }

    func testPastExpireDeletesAndPropagatesDel() {
        run("SET", "k", "v")
        _ = propagated(); _ = eventNames()
        XCTAssertEqual(run("EXPIRE", "k", "-1"), ":1\r\n")
        XCTAssertEqual(propagated().first ?? [], ["DEL", "k"])
        XCTAssertEqual(eventNames(), ["del"])
        engine.config.lazyfreeLazyExpire = true
        run("SET", "k", "v")
        _ = propagated()
        run("PEXPIREAT", "k", "1")
        XCTAssertEqual(propagated().first ?? [], ["UNLINK", "k"])
    }

    func testNoOpWritesDoNotPropagate() {
        run("EXPIRE", "nokey", "10")
        run("PERSIST", "nokey")
        run("SET", "k", "v")
        _ = propagated()
        run("PERSIST", "k")
        run("EXPIRE", "k", "10", "XX")
        run("DEL", "nokey")
        run("RENAMENX", "k", "k")
        run("DEBUG", "POPULATE", "10")
        XCTAssertEqual(propagated().count, 0)
        XCTAssertEqual(engine.databases[0].count, 11)
    }

    func testFlushAlwaysPropagates() {
        run("FLUSHALL")
        XCTAssertEqual(propagated().first ?? [], ["FLUSHALL"])
        run("FLUSHDB", "ASYNC")
        XCTAssertEqual(propagated().first ?? [], ["FLUSHDB", "ASYNC"])
    }

    func testEventsForGenericCommands() {
        run("SET", "a", "1")
        _ = eventNames()
        run("EXPIRE", "a", "100")
        run("PERSIST", "a")
        run("RENAME", "a", "b")
        run("COPY", "b", "c")
        run("MOVE", "c", "2")
        run("DEL", "b")
        run("SET", "u", "1")
        run("UNLINK", "u")
        // "new" events (raised centrally when a key is created) are checked against Redis in
        // pytests/integration/test_notifications.py; here only the commands' own events.
        XCTAssertEqual(eventNames().filter { $0 != "new" }, ["expire", "persist", "rename_from", "rename_to", "copy_to",
                                      "move_from", "move_to", "del", "set", "del"])
        run("SELECT", "2")
        run("COPY", "c", "d", "DB", "5")
        XCTAssertEqual(events.filter { $0.0 != "new" }.map { "\($0.0)@\($0.2)" }, ["copy_to@5"])
    }

    func testMoveAndCopyKeepTTL() {
        run("SET", "k", "v")
        run("PEXPIREAT", "k", "4102444800000")
        run("COPY", "k", "k2", "DB", "1")
        run("MOVE", "k", "3")
        run("SELECT", "1")
        XCTAssertEqual(run("PEXPIRETIME", "k2"), ":4102444800000\r\n")
        run("SELECT", "3")
        XCTAssertEqual(run("PEXPIRETIME", "k"), ":4102444800000\r\n")
        XCTAssertEqual(engine.databases[3].expiresCount, 1)
        XCTAssertEqual(engine.databases[0].expiresCount, 0)
    }

    func testDigestMatchesWorkedExample() {
        // rdb-and-dump.md §11: strings only part of the worked example.
        run("SET", "greeting", "hello")
        XCTAssertEqual(run("DEBUG", "DIGEST-VALUE", "greeting"),
                       "*1\r\n+36b23a1456b2dce2c3ed252c456761301dba8060\r\n")
        run("PEXPIREAT", "greeting", "4102444800000")
        XCTAssertEqual(run("DEBUG", "DIGEST-VALUE", "greeting"),
                       "*1\r\n+d037c4eb8a8b36b602fbced4000daeab0714c1e3\r\n")
        run("FLUSHALL")
        XCTAssertEqual(run("DEBUG", "DIGEST"), "+0000000000000000000000000000000000000000\r\n")
    }

    func testFlushAsyncFreesInBackground() {
        run("DEBUG", "POPULATE", "100000")
        XCTAssertEqual(engine.databases[0].count, 100_000)
        run("FLUSHALL", "ASYNC")
        XCTAssertEqual(engine.databases[0].count, 0)
        LazyFree.shared.waitIdle()
        XCTAssertEqual(LazyFree.shared.pendingObjects, 0)
        XCTAssertGreaterThanOrEqual(LazyFree.shared.freedObjects, 100_000)
    }

    /// A stand-in collection yielding fixed digest items, to check the generic digest rules
    /// against values read from redis-server 7.0.15 for the same data.
    final class FakeCollection: StoredCollection {
        let items: [([UInt8], [UInt8]?)]
        init(_ items: [(String, String?)]) { self.items = items.map { (Array($0.0.utf8), $0.1.map { Array($0.utf8) }) } }
        func deepCopy() -> StoredCollection { FakeCollection([]) }
        var elementCount: Int { items.count }
        func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
            for (a, b) in items {
                a.withUnsafeBytes { ab in
                    if let b { b.withUnsafeBytes { body(ab, $0) } } else { body(ab, nil) }
                }
            }
        }
        var allocatedBytes: Int { 0 }
    }

    func put(_ key: String, _ type: ValueType, _ items: [(String, String?)]) {
        Array(key.utf8).withUnsafeBytes { k in
            _ = engine.databases[0].setObject(k, FakeCollection(items), type: type, encoding: .hashtable)
        }
    }

    func testCollectionDigestsMatchRedis() {
        put("l", .list, [("a", nil), ("b", nil), ("c", nil)])
        put("s", .set, [("c", nil), ("a", nil), ("b", nil)])
        put("h", .hash, [("f2", "v2"), ("f1", "v1")])
        put("z", .zset, [("one", "1"), ("two", "2.5")])
        // A stream yields each entry's "<ms>.<seq>" then its fields and values.
        put("x", .stream, [("1.1", nil), ("a", nil), ("1", nil), ("b", nil), ("2", nil),
                           ("3.0", nil), ("c", nil), ("4", nil)])
        XCTAssertEqual(run("DEBUG", "DIGEST-VALUE", "l", "s", "h", "z", "x"),
                       "*5\r\n+8bf72d812571eea9b927f3c11beb0c4165a6ff89\r\n+593c2414786d75446e97f4ea5d4b731f3313da72\r\n"
                       + "+047cc60ea73a34cde6d08a2721a4a26d19ee6570\r\n+b6b437a1ad3225d0ad63929890f959167c916e00\r\n"
                       + "+4142d752fff7b4fce5964aea32aee93f168eb38e\r\n")
        XCTAssertEqual(run("DEBUG", "DIGEST"), "+3da003c6609ee7c9b84363d842f0fb4f043eaaeb\r\n")
        // A stream type that yields (field, value) pairs after the id digests the same.
        put("x", .stream, [("1.1", nil), ("a", "1"), ("b", "2"), ("3.0", nil), ("c", "4")])
        XCTAssertEqual(run("DEBUG", "DIGEST-VALUE", "x"), "*1\r\n+4142d752fff7b4fce5964aea32aee93f168eb38e\r\n")
    }
}
