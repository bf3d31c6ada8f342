import Foundation
import XCTest
@testable import TernEngine
@testable import TernProtocol
@testable import TernStore

/// The keyspace side of cluster mode: slot queries over db 0 and key routing.
final class ClusterKeysTests: XCTestCase {
    func run(_ e: Engine, _ c: Client, _ argv: [String]) -> String {
        OwnedArgs(strings: argv).withArgs { e.execute(c, $0) }
        defer { c.out.removeAll() }
        return String(decoding: Array(c.out.bytes), as: UTF8.self)
    }

    func testSlotQueriesOverDb0() {
        let e = Engine()
        let c = e.createClient()
        for i in 0..<200 { _ = run(e, c, ["SET", "k\(i)", "v"]) }
        _ = run(e, c, ["SELECT", "1"])
        _ = run(e, c, ["SET", "other-db", "v"])
        _ = run(e, c, ["SELECT", "0"])
        XCTAssertEqual(e.countKeysInSlot(ClusterSlot.of(Array("k1".utf8))), 0, "no index before cluster mode")
        e.setClusterEnabled(true)
        XCTAssertTrue(e.hasKeysOutsideDb0)
        for i in 0..<50 { _ = run(e, c, ["SET", "{user}:\(i)", "v"]) }
        let slot = ClusterSlot.of(Array("user".utf8))
        XCTAssertEqual(e.countKeysInSlot(slot), 50 + (0..<200).filter { ClusterSlot.of(Array("k\($0)".utf8)) == slot }.count)
        XCTAssertEqual(e.keysInSlot(slot, count: 10).count, 10)
        XCTAssertTrue(e.keysInSlot(slot, count: 1000).allSatisfy { ClusterSlot.of($0) == slot })
        XCTAssertEqual(e.keysInSlot(-1, count: 10).count, 0)
        XCTAssertEqual(e.countKeysInSlot(16384), 0)
        let total = e.slotsWithKeys().reduce(0) { $0 + $1.count }
        XCTAssertEqual(total, 250)
        XCTAssertTrue(e.hasKeys(outside: { $0 != slot }))
        XCTAssertFalse(e.hasKeys(outside: { _ in true }))

        // WATCH sees a slot flush.
        let w = e.createClient()
        _ = run(e, w, ["WATCH", "{user}:1"])
        _ = run(e, w, ["MULTI"])
        _ = run(e, w, ["PING"])
        let n = e.deleteKeysInSlot(slot)
        XCTAssertGreaterThanOrEqual(n, 50)
        XCTAssertEqual(e.countKeysInSlot(slot), 0)
        XCTAssertEqual(run(e, w, ["EXEC"]), "*-1\r\n")
        XCTAssertEqual(run(e, c, ["EXISTS", "{user}:3"]), ":0\r\n")

        // Flushes and renames keep the index equal to the keys.
        _ = run(e, c, ["RENAME", "k1", "{user}:x"])
        XCTAssertEqual(e.countKeysInSlot(slot), 1)
        _ = run(e, c, ["FLUSHALL", "ASYNC"])
        XCTAssertEqual(e.slotsWithKeys().count, 0)
        _ = run(e, c, ["SET", "{user}:y", "v"])
        XCTAssertEqual(e.keysInSlot(slot, count: 5), [Array("{user}:y".utf8)])
        e.setClusterEnabled(false)
        XCTAssertEqual(e.countKeysInSlot(slot), 0)
    }

    func testSlotFlushPropagatesWhenAsked() {
        let e = Engine()
        let recorder = KeyspacePropagationTests.Recorder()
        e.propagationTargets = [recorder]
        e.setClusterEnabled(true)
        let c = e.createClient()
        _ = run(e, c, ["MSET", "{a}1", "x", "{a}2", "y", "b", "z"])
        recorder.commands.removeAll()
        let slot = ClusterSlot.of(Array("a".utf8))
        XCTAssertEqual(e.deleteKeysInSlot(slot, propagate: true), 2)
        e.propagatePendingCommands()
        let dels = recorder.commands.map { $0.1 }.filter { $0.first == "DEL" }
        XCTAssertEqual(Set(dels.map { $0[1] }), ["{a}1", "{a}2"])
        _ = run(e, c, ["SET", "{a}3", "x"])
        recorder.commands.removeAll()
        XCTAssertEqual(e.deleteKeysInSlot(slot), 1)
        e.propagatePendingCommands()
        XCTAssertTrue(recorder.commands.isEmpty, "7.0.15 propagates nothing by default")
        XCTAssertEqual(run(e, c, ["DBSIZE"]), ":1\r\n")
    }

    // MARK: routing

    func route(_ e: Engine, _ c: Client?, _ argv: [String]) -> KeyRoute? {
        guard let cmd = e.commands.lookupFull(argv[0].lowercased()) else { return nil }
        return OwnedArgs(strings: argv).withArgs { e.keyRoute(c, cmd, $0) }
    }

    func slot(_ k: String) -> Int { ClusterSlot.of(Array(k.utf8)) }

    func testRoutingCases() {
        let e = GetKeysTests.engineWithEveryCommand()
        XCTAssertEqual(route(e, nil, ["GET", "a"]), .slot(slot("a"), multipleKeys: false))
        XCTAssertEqual(route(e, nil, ["PING"]), .noKeys)
        XCTAssertEqual(route(e, nil, ["MSET", "a", "1", "b", "2"]), .crossSlot)
        XCTAssertEqual(route(e, nil, ["MSET", "{t}a", "1", "{t}b", "2"]), .slot(slot("t"), multipleKeys: true))
        XCTAssertEqual(route(e, nil, ["MSET", "a", "1", "a", "2"]), .slot(slot("a"), multipleKeys: false))
        XCTAssertEqual(route(e, nil, ["EVAL", "s", "2", "{x}1", "{x}2", "arg"]), .slot(slot("x"), multipleKeys: true))
        XCTAssertEqual(route(e, nil, ["EVAL", "s", "0", "a", "b"]), .noKeys)
        XCTAssertEqual(route(e, nil, ["XREAD", "COUNT", "2", "STREAMS", "{s}1", "{s}2", "0", "0"]), .slot(slot("s"), multipleKeys: true))
        XCTAssertEqual(route(e, nil, ["XREAD", "STREAMS", "a", "b", "0", "0"]), .crossSlot)
        // SORT's BY/GET patterns are no keys (Redis 7.0's sortGetKeys); STORE's key is.
        XCTAssertEqual(route(e, nil, ["SORT", "a", "BY", "w_*", "GET", "o_*"]), .slot(slot("a"), multipleKeys: false))
        XCTAssertEqual(route(e, nil, ["SORT", "{a}", "STORE", "{a}dst"]), .slot(slot("a"), multipleKeys: true))
        XCTAssertEqual(route(e, nil, ["SORT", "a", "STORE", "b"]), .crossSlot)
        XCTAssertEqual(route(e, nil, ["MIGRATE", "h", "1", "", "0", "5", "KEYS", "{m}1", "{m}2"]), .slot(slot("m"), multipleKeys: true))
        XCTAssertEqual(route(e, nil, ["MIGRATE", "h", "1", "k", "0", "5"]), .slot(slot("k"), multipleKeys: false))
        // Shard channels route by slot (Redis answers -CLUSTERDOWN/-MOVED for them).
        XCTAssertEqual(route(e, nil, ["SPUBLISH", "ch", "m"]), .slot(slot("ch"), multipleKeys: false))
        XCTAssertEqual(route(e, nil, ["SSUBSCRIBE", "a", "b"]), .crossSlot)
        XCTAssertEqual(route(e, nil, ["PUBLISH", "ch", "m"]), .noKeys)
    }

    func testRoutingOfExecUsesTheQueue() {
        let e = Engine()
        let c = e.createClient()
        _ = run(e, c, ["MULTI"])
        XCTAssertEqual(route(e, c, ["EXEC"]), .noKeys)
        _ = run(e, c, ["SET", "{u}a", "1"])
        _ = run(e, c, ["GET", "{u}b"])
        XCTAssertEqual(route(e, c, ["EXEC"]), .slot(slot("u"), multipleKeys: true))
        _ = run(e, c, ["GET", "other"])
        XCTAssertEqual(route(e, c, ["EXEC"]), .crossSlot)
        _ = run(e, c, ["DISCARD"])
        XCTAssertEqual(route(e, c, ["EXEC"]), .noKeys, "EXEC outside MULTI names no key")
    }

    /// Every call recorded from redis-server 7.0.15's COMMAND GETKEYSANDFLAGS (the oracle):
    /// the route is the slot of the keys Redis reported, or CROSSSLOT. Commands with shard
    /// channels add those (not in GETKEYS's answer) and are checked in testRoutingCases.
    func testRoutesAgreeWithRecordedGetKeys() throws {
        let e = GetKeysTests.engineWithEveryCommand()
        var checked = 0, withKeys = 0
        for line in recordedGetKeysCases.split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let argv = try XCTUnwrap(obj["argv"] as? [String])
            let reply = try XCTUnwrap(obj["reply"] as? String)
            guard let cmd = lookupSub(e, argv) ?? e.commands.lookupFull(argv[0].lowercased()),
                  !cmd.keyFinder.specs.contains(where: { $0.flags.contains(.notKey) }) else { continue }
            let bytesReply = reply.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
            let want: KeyRoute
            if bytesReply.first == UInt8(ascii: "-") {
                // Only "no key arguments" says something about routing; the other errors are
                // calls dispatch refuses before routing (arity) or the finder cannot describe.
                guard reply.hasPrefix("-ERR The command has no key arguments") else { continue }
                want = .noKeys
            } else {
                var router = KeyRouter()
                let keys = Self.keysOfReply(bytesReply)
                keys.forEach { k in k.withUnsafeBytes { router.add($0) } }
                // The router borrows keys: evaluate while they are alive.
                want = router.route
                withKeys += keys.isEmpty ? 0 : 1
            }
            let argBytes = argv.map { $0.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } }
            let got = OwnedArgs(argBytes).withArgs { e.keyRoute(nil, cmd, $0) }
            XCTAssertEqual(got, want, "\(argv)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 850)
        XCTAssertGreaterThan(withKeys, 500)
    }

    func lookupSub(_ e: Engine, _ argv: [String]) -> Command? {
        guard argv.count > 1 else { return nil }
        return e.commands.lookupFull(argv[0].lowercased() + "|" + argv[1].lowercased())
    }

    /// Key names from a RESP3 GETKEYSANDFLAGS reply: *N of *2 [bulk key, set of flags].
    static func keysOfReply(_ b: [UInt8]) -> [[UInt8]] {
        var i = 0
        func line() -> [UInt8] {
            let start = i
            while i + 1 < b.count && !(b[i] == 13 && b[i + 1] == 10) { i += 1 }
            defer { i += 2 }
            return Array(b[start..<i])
        }
        func int(_ l: [UInt8]) -> Int { Int(String(decoding: l.dropFirst(), as: UTF8.self)) ?? 0 }
        var keys: [[UInt8]] = []
        let n = int(line())
        for _ in 0..<n {
            _ = line()                       // *2
            let len = int(line())            // $len
            keys.append(Array(b[i..<(i + len)]))
            i += len + 2
            let flags = int(line())          // ~m
            for _ in 0..<flags { _ = line() }
        }
        return keys
    }
}

/// Bytes/key of 1M small keys (DEBUG POPULATE's `key:N` -> `value:N`) with and without the
/// slot index, from INFO memory's used_memory. Slow (~1 min in a debug build): runs only with
/// TERN_MEASURE_SLOT_INDEX=1 and prints the figures docs/ARCHITECTURE.md quotes.
final class SlotIndexMemoryMeasurement: XCTestCase {
    func usedMemory(_ e: Engine, _ c: Client) -> Int {
        OwnedArgs(strings: ["INFO", "memory"]).withArgs { e.execute(c, $0) }
        let text = String(decoding: Array(c.out.bytes), as: UTF8.self)
        c.out.removeAll()
        let line = text.split(separator: "\r\n").first { $0.hasPrefix("used_memory:") } ?? ""
        return Int(line.dropFirst("used_memory:".count)) ?? 0
    }

    func populate(_ e: Engine, _ n: Int) {
        let db = e.databases[0]
        for i in 0..<n {
            Array("key:\(i)".utf8).withUnsafeBytes { k in
                Array("value:\(i)".utf8).withUnsafeBytes { v in _ = db.setString(k, v) }
            }
        }
    }

    func testMeasure() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TERN_MEASURE_SLOT_INDEX"] == "1")
        let n = 1_000_000
        for clusterFirst in [false, true] {
            let e = Engine()
            let c = e.createClient()
            if clusterFirst { e.setClusterEnabled(true) }
            let before = usedMemory(e, c)
            populate(e, n)
            let filled = usedMemory(e, c)
            print("slot index \(clusterFirst ? "on" : "off"): \(Double(filled - before) / Double(n)) B/key")
            if !clusterFirst {
                e.setClusterEnabled(true)
                let indexed = usedMemory(e, c)
                print("index built afterwards: +\(Double(indexed - filled) / Double(n)) B/key, index \(e.databases[0].table.slotIndex?.bytes ?? 0) B")
            }
        }
    }
}

/// MIGRATE in cluster mode sends RESTORE-ASKING (Redis's migrateCommand when cluster_enabled):
/// a one-connection fake target records the request and acknowledges every command.
final class MigrateClusterModeTests: XCTestCase {
    /// Accepts one connection, reads until `commands` RESP commands arrived, answers +OK to each.
    final class FakeTarget: @unchecked Sendable {
        let listener: Int32
        let port: Int
        private let lock = NSLock()
        private var received: [UInt8] = []
        private let done = DispatchSemaphore(value: 0)

        init() {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    _ = bind(fd, $0, len)
                    _ = getsockname(fd, $0, &len)
                }
            }
            listen(fd, 1)
            listener = fd
            port = Int(UInt16(bigEndian: addr.sin_port))
        }

        func serve(commands: Int) {
            Thread.detachNewThread { [self] in
                let fd = accept(listener, nil, nil)
                var buf = [UInt8](repeating: 0, count: 65536)
                var all: [UInt8] = []
                while all.filter({ $0 == UInt8(ascii: "*") }).count < commands {
                    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    all += buf[0..<n]
                }
                let reply = Array(String(repeating: "+OK\r\n", count: commands).utf8)
                _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                lock.lock(); received = all; lock.unlock()
                done.signal()
                close(fd)
            }
        }

        func request() -> String {
            _ = done.wait(timeout: .now() + 5)
            lock.lock(); defer { lock.unlock() }
            return String(decoding: received, as: UTF8.self)
        }

        deinit { close(listener) }
    }

    func testRestoreAskingInClusterMode() {
        let e = Engine()
        e.setClusterEnabled(true)
        let c = e.createClient()
        OwnedArgs(strings: ["SET", "k", "v"]).withArgs { e.execute(c, $0) }
        c.out.removeAll()
        let target = FakeTarget()
        target.serve(commands: 2)   // SELECT, RESTORE-ASKING
        OwnedArgs(strings: ["MIGRATE", "127.0.0.1", String(target.port), "k", "0", "2000"]).withArgs { e.execute(c, $0) }
        XCTAssertEqual(String(decoding: Array(c.out.bytes), as: UTF8.self), "+OK\r\n")
        let req = target.request()
        XCTAssertTrue(req.hasPrefix("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*4\r\n$14\r\nRESTORE-ASKING\r\n$1\r\nk\r\n$1\r\n0\r\n"), req)
        XCTAssertEqual(e.countKeysInSlot(ClusterSlot.of(Array("k".utf8))), 0, "the migrated key left the index")
        // The connection stays cached until it has been unused for more than 10 s.
        XCTAssertEqual(e.migrateSockets.count, 1)
        let now = Engine.wallClockMs()
        e.migrateSockets.closeIdle(nowMs: now + 5_000)
        XCTAssertEqual(e.migrateSockets.count, 1)
        e.migrateSockets.closeIdle(nowMs: now + 12_000)
        XCTAssertEqual(e.migrateSockets.count, 0)
    }
}
