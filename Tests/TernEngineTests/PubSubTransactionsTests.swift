import XCTest
import TernConfig
import TernProtocol
@testable import TernEngine

/// Pure logic of the transactions / pub/sub / notifications subsystems: flag parsing and
/// formatting (checked against redis-server's CONFIG GET), and how a
/// transaction reaches the propagation targets (the byte-exact streams, checked against
/// redis-server, are in PropagationStreamTests).
final class PubSubTransactionsTests: XCTestCase {
    func testNotifyParseAndFormatLikeRedis() {
        // CONFIG SET value -> what redis-server 7.0.15 answers to CONFIG GET.
        let cases: [(String, String)] = [
            ("KEA", "AKE"), ("KEAn", "AKE"), ("Kn", "nK"), ("g$", "g$"), ("A", "A"), ("Em", "Em"),
            ("EAm", "AEm"), ("KEg$lshzxetd", "AKE"), ("KEg$lshzxetdn", "AKE"), ("KEg$lshzxe", "g$lshzxeKE"),
            ("x", "x"), ("AKEmnd", "AKEm"), ("", ""), ("Ktd", "tdK"), ("Kdn", "dnK"), ("Ktdn", "tdnK"),
            ("Etdnm", "tdnEm"), ("K$lshzxetdn", "$lshzxetdnK"), ("Kg$lshzxetn", "g$lshzxetnK"),
            ("Kmdtexzhsl$gnE", "AKEm"),
        ]
        for (input, shown) in cases {
            guard let f = NotifyClass.parse(input) else { return XCTFail("parse \(input)") }
            XCTAssertEqual(NotifyClass.format(f), shown, input)
        }
        XCTAssertNil(NotifyClass.parse("z?"))
        XCTAssertNil(NotifyClass.parse("KEA!"))
        XCTAssertNil(NotifyClass.parse("a"))
        XCTAssertEqual(NotifyClass.parse("K"), NotifyClass.keyspace.rawValue)
        XCTAssertEqual(NotifyClass.parse("Ex"), NotifyClass([.keyevent, .expired]).rawValue)
    }

    // MARK: propagation of transactions

    final class Capture: PropagationTarget {
        var log: [String] = []
        func propagate(db: Int, args: Args) {
            log.append("\(db):" + (0..<args.count).map { args.string($0) }.joined(separator: " "))
        }
    }

    func run(_ e: Engine, _ c: Client, _ argv: [String]) {
        OwnedArgs(strings: argv).withArgs { e.execute(c, $0) }
    }

    func testTransactionPropagatesAsOneUnit() {
        let e = Engine()
        let cap = Capture()
        e.propagationTargets = [cap]
        let c = e.createClient()

        // One write: sent bare, as Redis 7.0 does.
        for a in [["MULTI"], ["SET", "a", "1"], ["GET", "a"], ["EXEC"]] { run(e, c, a) }
        XCTAssertEqual(cap.log, ["0:SET a 1"])

        // Two or more: wrapped; SELECT inside keeps each write's database.
        cap.log = []
        for a in [["MULTI"], ["SET", "a", "1"], ["SELECT", "2"], ["SET", "b", "2"], ["DEL", "nope"], ["EXEC"]] { run(e, c, a) }
        XCTAssertEqual(cap.log, ["0:MULTI", "0:SET a 1", "2:SET b 2", "2:EXEC"])
        run(e, c, ["SELECT", "0"])

        // Read-only transaction, aborted transaction, failed WATCH: nothing.
        cap.log = []
        for a in [["MULTI"], ["GET", "a"], ["EXEC"]] { run(e, c, a) }
        for a in [["MULTI"], ["SET", "a", "1"], ["NOSUCH"], ["EXEC"]] { run(e, c, a) }
        let other = e.createClient()
        run(e, c, ["WATCH", "a"])
        run(e, other, ["SET", "a", "changed"])
        cap.log = []
        for a in [["MULTI"], ["SET", "a", "1"], ["EXEC"]] { run(e, c, a) }
        XCTAssertEqual(cap.log, [])
        // EXEC adds to the one propagation buffer (no target swapping); it is empty again.
        XCTAssertEqual(e.propagationTargets.count, 1)
        XCTAssertTrue(e.pendingPropagation.isEmpty)
        // Replies: the EXEC with a dirty WATCH is a null array.
        let text = String(decoding: c.out.bytes, as: UTF8.self)
        XCTAssertTrue(text.hasSuffix("+OK\r\n+QUEUED\r\n*-1\r\n"), text)
    }

    func testFakeClientsAndStateCleanup() {
        let e = Engine()
        let c = e.createClient()
        for a in [["WATCH", "k"], ["MULTI"], ["SUBSCRIBE", "ch"], ["CLIENT", "TRACKING", "ON"]] { run(e, c, a) }
        XCTAssertTrue(c.flags.contains(.multi))
        run(e, c, ["EXEC"])
        XCTAssertTrue(c.flags.contains(.pubsub))
        XCTAssertTrue(c.flags.contains(.tracking))
        XCTAssertEqual(e.pubsub.channelCount, 1)
        e.resetClient(c)
        XCTAssertFalse(c.flags.contains(.pubsub))
        XCTAssertFalse(c.flags.contains(.tracking))
        XCTAssertEqual(e.pubsub.channelCount, 0)
        XCTAssertEqual(e.tracking.trackingClients, 0)
        run(e, c, ["WATCH", "k"])
        e.freeClient(c)
        XCTAssertEqual(e.transactions.watchedCount, 0)
        XCTAssertNil(c.multiState)
        XCTAssertNil(e.clients[c.id])
    }
}
