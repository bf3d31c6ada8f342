import XCTest
import TernConfig
import TernProtocol
@testable import TernEngine

/// Output buffer limits per client class, the close paths, and client eviction's
/// accounting, on an engine without a network layer (a recording connection stands in).
/// The same behaviours against redis-server are in pytests/integration/test_client_limits.py;
/// the replica class is only reachable here until replication exists.
final class ClientLimitsTests: XCTestCase {
    final class RecordingConnection: ClientConnection {
        var aborted = 0
        func flushReplies() {}
        func close() {}
        func resumeProcessing() {}
        func abort() { aborted += 1 }
    }

    func makeEngine(_ configText: String) throws -> Engine {
        let e = Engine()
        var notices: [String] = []
        try ConfigRegistry.load(text: configText, into: e.config,
                                context: ConfigSetContext(loading: true, commandNames: CommandTable.catalogNames), notices: &notices)
        e.installClientLimits()
        return e
    }

    func connected(_ e: Engine) -> (Client, RecordingConnection) {
        let c = e.createClient()
        let conn = RecordingConnection()
        c.connection = conn
        return (c, conn)
    }

    func testLimitsPerClassFromConfig() throws {
        let e = try makeEngine("""
            client-output-buffer-limit pubsub 1mb 256kb 5
            client-output-buffer-limit replica 2mb 0 0
            repl-backlog-size 1mb
            """)
        XCTAssertEqual(e.config.clientOutputBufferLimits[2], ClientBufferLimit(hard: 1 << 20, soft: 256 << 10, softSeconds: 5))
        XCTAssertEqual(e.outputLimitFloor, 256 << 10)
        let (c, _) = connected(e)
        XCTAssertFalse(e.checkClientOutputBufferLimits(c, used: 4 << 20))   // normal class: 0 0 0
        c.flags.insert(.pubsub)
        XCTAssertFalse(e.checkClientOutputBufferLimits(c, used: 100))
        XCTAssertEqual(c.outputSoftLimitSinceMs, 0)
        XCTAssertFalse(e.checkClientOutputBufferLimits(c, used: 256 << 10))  // soft: the clock starts
        XCTAssertNotEqual(c.outputSoftLimitSinceMs, 0)
        XCTAssertFalse(e.checkClientOutputBufferLimits(c, used: 300 << 10))  // not for more than 5 s yet
        c.outputSoftLimitSinceMs -= 6000
        XCTAssertTrue(e.checkClientOutputBufferLimits(c, used: 300 << 10))   // over soft for 6 s
        XCTAssertFalse(e.checkClientOutputBufferLimits(c, used: 10))         // below soft: clock reset
        XCTAssertEqual(c.outputSoftLimitSinceMs, 0)
        XCTAssertTrue(e.checkClientOutputBufferLimits(c, used: 1 << 20))     // hard limit
        // A replica (the hook replication will call) uses the replica class; MONITOR does not.
        let (r, _) = connected(e)
        e.clientBecameReplica(r)
        XCTAssertEqual(ClientType.of(r), .replica)
        XCTAssertFalse(e.checkClientOutputBufferLimits(r, used: (2 << 20) - 1))
        XCTAssertTrue(e.checkClientOutputBufferLimits(r, used: 2 << 20))
        // A replica hard limit below repl-backlog-size is raised to it, as Redis does.
        e.config.replBacklogSize = 8 << 20
        XCTAssertFalse(e.checkClientOutputBufferLimits(r, used: 4 << 20))
        XCTAssertTrue(e.checkClientOutputBufferLimits(r, used: 8 << 20))
        let (m, _) = connected(e)
        m.flags.insert([.replica, .monitor])
        XCTAssertEqual(ClientType.of(m), .normal)
    }

    func testCloseAsyncAndFromCronLikeRedis() throws {
        let e = try makeEngine("client-output-buffer-limit normal 64kb 0 0")
        var lines: [String] = []
        e.logHandler = { _, msg in lines.append(msg) }
        let (c, conn) = connected(e)
        // Output within the static 16 KB never counts, whatever the limit (Redis's buf).
        XCTAssertEqual(e.outputBufferMemory(c), 0)
        c.pendingOutputBytes = 70_000
        XCTAssertEqual(e.outputBufferMemory(c), 70_000 - 16384)
        XCTAssertFalse(e.closeClientOnOutputBufferLimitReached(c, async: true))
        c.pendingOutputBytes = 100_000
        XCTAssertTrue(e.closeClientOnOutputBufferLimitReached(c, async: true))
        // No deferred executor in a bare engine: the close queue runs at once.
        XCTAssertEqual(conn.aborted, 1)
        XCTAssertTrue(c.flags.contains(.closeASAP))
        XCTAssertTrue(lines.last?.hasPrefix("Client id=\(c.id) addr=") ?? false)
        XCTAssertTrue(lines.last?.hasSuffix(" obl=16384 oll=0 omem=\(100_000 - 16384) tot-mem=\(e.clientMemoryUsage(c)) events=r cmd=NULL user=default redir=-1 resp=2 scheduled to be closed ASAP for overcoming of output buffer limits.") ?? false, lines.last ?? "")
        // Already closing: nothing more.
        XCTAssertFalse(e.closeClientOnOutputBufferLimitReached(c, async: true))
        let (d, dconn) = connected(e)
        d.pendingOutputBytes = 100_000
        XCTAssertTrue(e.closeClientOnOutputBufferLimitReached(d, async: false))
        XCTAssertEqual(dconn.aborted, 1)
        XCTAssertTrue(lines.last?.hasSuffix("closed for overcoming of output buffer limits.") ?? false)
        // Fake clients are never closed.
        let f = e.createFakeClient()
        f.pendingOutputBytes = 1 << 20
        XCTAssertFalse(e.closeClientOnOutputBufferLimitReached(f, async: true))
    }

    func testEvictionBucketsAndOrder() throws {
        XCTAssertEqual(ClientMemoryState.bucketIndex(0), 0)
        XCTAssertEqual(ClientMemoryState.bucketIndex(32767), 0)
        XCTAssertEqual(ClientMemoryState.bucketIndex(32768), 1)
        XCTAssertEqual(ClientMemoryState.bucketIndex(1 << 20), 6)
        XCTAssertEqual(ClientMemoryState.bucketIndex(Int.max), 18)

        let e = try makeEngine("maxmemory-clients 1mb")
        XCTAssertEqual(e.clientMemory.limit, 1 << 20)
        var lines: [String] = []
        e.logHandler = { _, msg in lines.append(msg) }
        let (small, smallConn) = connected(e)
        let (big1, big1Conn) = connected(e)
        let (big2, big2Conn) = connected(e)
        let (keeper, keeperConn) = connected(e)
        for c in [small, big1, big2, keeper] { e.updateClientMemoryUsage(c) }
        keeper.flags.insert(.noEvict)
        keeper.queryBufferCapacity = 600_000
        e.updateClientMemoryUsage(keeper)
        big1.queryBufferCapacity = 300_000
        e.updateClientMemoryUsage(big1)
        big2.queryBufferCapacity = 350_000   // same bucket as big1, arrived later
        e.updateClientMemoryUsage(big2)
        e.evictClientsIfNeeded()
        // The total (> 1 MB) goes under the limit once big1 is gone: first in the top bucket.
        XCTAssertEqual(big1Conn.aborted, 1)
        XCTAssertEqual(big2Conn.aborted, 0)
        XCTAssertEqual(smallConn.aborted + keeperConn.aborted, 0)
        XCTAssertEqual(e.stats.evictedClients, 1)
        XCTAssertTrue(lines.contains { $0.hasPrefix("Evicting client: id=\(big1.id) ") })
        // The report lists 19 buckets; big2 sits in 256K-512K.
        let report = e.clientEvictionReport() ?? ""
        let rows = report.split(separator: "\n")
        XCTAssertEqual(rows.count, 19)
        XCTAssertEqual(rows[0], "bucket          0 -      32767: tot-mem: \(String(repeating: " ", count: 10 - String(e.clientMemory.buckets?[0].sum ?? 0).count))\(e.clientMemory.buckets?[0].sum ?? 0), clients: 1")
        XCTAssertTrue(rows[4].hasPrefix("bucket     262144 -     524287: tot-mem:"))
        XCTAssertTrue(rows[4].hasSuffix("clients: 1"))
        XCTAssertTrue(rows[18].hasPrefix("bucket 4294967296+            : tot-mem:"))
        // Turning eviction off empties the buckets; the per-type totals stay.
        e.config.maxmemoryClients = 0
        e.clientEvictionConfigChanged()
        XCTAssertNil(e.clientEvictionReport())
        XCTAssertEqual(e.clientMemory.limit, 0)
        XCTAssertGreaterThan(e.clientsMemoryForInfo().normal, 900_000)
    }

    func testPercentOfMaxmemoryAndFloor() throws {
        let e = try makeEngine("maxmemory-clients 10%")
        XCTAssertEqual(e.clientMemory.limit, 0)          // no maxmemory: no limit
        e.config.maxmemoryBytes = 100 << 20
        e.config.maxmemory = 100 << 20
        e.clientEvictionConfigChanged()
        XCTAssertEqual(e.clientMemory.limit, 10 << 20)
        e.config.maxmemoryClients = 1000                  // below 128 KB: 128 KB
        e.clientEvictionConfigChanged()
        XCTAssertEqual(e.clientMemory.limit, 128 * 1024)
    }
}
