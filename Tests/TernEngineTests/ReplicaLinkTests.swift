import Foundation
import XCTest
import TernConfig
import TernPersistence
import TernProtocol
import TernStore
@testable import TernEngine

/// The replica side's state machine driven without a network: a connector that records the
/// link it was given and a transport that records what the replica sent. The bytes the
/// "master" sends are fed in pieces cut at awkward places (inside the EOF mark, inside a
/// command) to check the framing.
final class ReplicaLinkTests: XCTestCase {
    final class RecordingConnector: MasterLinkConnector {
        var links: [MasterLink] = []
        func connect(host: String, port: Int, timeoutMs: Int64, link: MasterLink) { links.append(link) }
    }

    final class RecordingTransport: MasterLinkTransport {
        var sent: [UInt8] = []
        var closed = false
        func send(_ bytes: [UInt8]) { sent += bytes }
        func close() { closed = true }
        var localAddress: String { "127.0.0.1:50000" }
        var remoteAddress: String { "127.0.0.1:6379" }
        var fd: Int { -1 }
        func take() -> String {
            defer { sent = [] }
            return String(decoding: sent, as: UTF8.self)
        }
    }

    var savedCwd = ""
    var tempDir = ""

    override func setUp() {
        savedCwd = FileManager.default.currentDirectoryPath
        tempDir = NSTemporaryDirectory() + "tern-replica-link-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: tempDir, withIntermediateDirectories: true)
        FileManager.default.changeCurrentDirectoryPath(tempDir)
    }

    override func tearDown() {
        FileManager.default.changeCurrentDirectoryPath(savedCwd)
        try? FileManager.default.removeItem(atPath: tempDir)
    }

    func feed(_ link: MasterLink, _ s: [UInt8]) {
        s.withUnsafeBytes { link.received($0) }
    }

    func resp(_ words: [String]) -> [UInt8] {
        var s = "*\(words.count)\r\n"
        for w in words { s += "$\(w.utf8.count)\r\n\(w)\r\n" }
        return Array(s.utf8)
    }

    /// An RDB image of a master holding k=v in db 0 and one key in db 5, whose stream is in db 5.
    func masterImage() -> [UInt8] {
        let other = Engine(config: ServerConfig())
        _ = Array("k".utf8).withUnsafeBytes { k in Array("v".utf8).withUnsafeBytes { v in
            other.databases[0].addStringForLoading(k, v, encoding: .raw, expireAt: nil, lru: 0) } }
        _ = Array("five".utf8).withUnsafeBytes { k in Array("5".utf8).withUnsafeBytes { v in
            other.databases[5].addStringForLoading(k, v, encoding: .raw, expireAt: nil, lru: 0) } }
        var aux = RDBFile.Aux(ctime: 0, usedMemory: 0)
        aux.replication = (5, String(repeating: "c", count: 40), 7)
        return RDBFile.serialize(other.databases, aux: aux, compression: false, checksum: true)
    }

    func testHandshakeEOFTransferAndStream() throws {
        let e = Engine(config: ServerConfig())
        let conn = RecordingConnector()
        e.repl.replica.connector = conn
        _ = Array("old".utf8).withUnsafeBytes { k in Array("x".utf8).withUnsafeBytes { v in
            e.databases[0].addStringForLoading(k, v, encoding: .raw, expireAt: nil, lru: 0) } }
        let ownID = e.repl.replid
        e.setMaster(host: "127.0.0.1", port: 6379)
        XCTAssertEqual(e.repl.linkState, .connecting)
        let link = try XCTUnwrap(conn.links.last)
        let t = RecordingTransport()
        link.connected(t)
        XCTAssertEqual(t.take(), "*1\r\n$4\r\nPING\r\n")
        XCTAssertEqual(e.repl.linkState, .handshake)
        feed(link, Array("+PO".utf8))
        XCTAssertEqual(t.take(), "")
        feed(link, Array("NG\r\n".utf8))
        // Pipelined, as Redis sends them.
        XCTAssertEqual(t.take(), String(decoding: resp(["REPLCONF", "listening-port", "\(e.config.port)"])
                                        + resp(["REPLCONF", "capa", "eof", "capa", "psync2"]), as: UTF8.self))
        feed(link, Array("+OK\r\n+OK\r\n".utf8))
        // A master turning replica offers its own history (a synthesized cached master).
        XCTAssertEqual(t.take(), String(decoding: resp(["PSYNC", ownID, "1"]), as: UTF8.self))
        let id = String(repeating: "d", count: 40)
        let mark = Array(String(repeating: "e", count: 40).utf8)
        let rdb = masterImage()
        var payload = Array("\n+FULLRESYNC \(id) 7\r\n\n$EOF:".utf8) + mark + Array("\r\n".utf8) + rdb + mark
        let stream = resp(["SET", "five", "6"]) + resp(["REPLCONF", "GETACK", "*"])
        payload += stream
        // Cut inside the mark and inside the first command.
        let cut1 = payload.count - stream.count - 17
        let cut2 = payload.count - stream.count + 9
        feed(link, Array(payload[..<cut1]))
        XCTAssertEqual(e.repl.linkState, .sync)
        feed(link, Array(payload[cut1..<cut2]))
        XCTAssertEqual(e.repl.linkState, .connected)
        // The EOF-marked load is acknowledged at once.
        XCTAssertEqual(t.take(), String(decoding: resp(["REPLCONF", "ACK", "7"]), as: UTF8.self))
        XCTAssertEqual(e.repl.replid, id)
        XCTAssertEqual(e.repl.masterReplOffset, 7)
        XCTAssertEqual(e.databases[0].count, 1)  // "old" was flushed, "k" loaded
        XCTAssertEqual(e.databases[5].count, 1)
        feed(link, Array(payload[cut2...]))
        // GETACK answers the offset before itself; the SET ran in db 5 (repl-stream-db).
        let setLen = Int64(resp(["SET", "five", "6"]).count)
        XCTAssertEqual(t.take(), String(decoding: resp(["REPLCONF", "ACK", "\(7 + setLen)"]), as: UTF8.self))
        XCTAssertEqual(e.repl.masterReplOffset, 7 + Int64(stream.count))
        XCTAssertEqual(e.replicaAppliedOffset, 7 + Int64(stream.count))
        XCTAssertEqual(run(e, db: 5, ["GET", "five"]), "$1\r\n6\r\n")
        // The relayed bytes are in our own backlog, for sub-replicas.
        XCTAssertEqual(e.repl.backlog?.bytes(from: 8), stream)
        let files = try FileManager.default.contentsOfDirectory(atPath: tempDir)
        XCTAssertEqual(files.filter { $0.hasPrefix("temp-") }, [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: tempDir + "/dump.rdb"))

        // The link drops: the master is cached and the reconnect asks for a partial resync.
        link.closed()
        let again = try XCTUnwrap(conn.links.last)
        XCTAssertFalse(again === link)
        let t2 = RecordingTransport()
        again.connected(t2)
        feed(again, Array("+PONG\r\n+OK\r\n+OK\r\n".utf8))
        XCTAssertTrue(t2.take().hasSuffix(String(decoding: resp(["PSYNC", id, "\(8 + Int64(stream.count))"]), as: UTF8.self)))
        let newID = String(repeating: "f", count: 40)
        feed(again, Array("+CONTINUE \(newID)\r\n".utf8) + resp(["SET", "five", "7"]))
        XCTAssertEqual(e.repl.linkState, .connected)
        XCTAssertEqual(e.repl.replid, newID)
        XCTAssertEqual(e.repl.replid2, id)
        XCTAssertEqual(e.repl.secondReplOffset, 8 + Int64(stream.count))
        XCTAssertEqual(run(e, db: 5, ["GET", "five"]), "$1\r\n7\r\n")
        // Normal clients may not write.
        XCTAssertEqual(run(e, db: 0, ["SET", "a", "1"]), "-READONLY You can't write against a read only replica.\r\n")

        // REPLICAOF NO ONE: the history shifts again and the data stays.
        let off = e.repl.masterReplOffset
        e.unsetMaster()
        XCTAssertNil(e.repl.masterHost)
        XCTAssertEqual(e.repl.replid2, newID)
        XCTAssertEqual(e.repl.secondReplOffset, off + 1)
        XCTAssertEqual(e.databases[5].count, 1)
    }

    /// One command from a normal client; its reply as text.
    func run(_ e: Engine, db: Int, _ words: [String]) -> String {
        let c = e.createClient()
        c.db = e.databases[db]
        let parser = RequestParser()
        let bytes = resp(words)
        bytes.withUnsafeBytes { raw in
            if case .command = parser.parse(raw) { e.execute(c, parser.args(input: raw)) }
        }
        let out = String(decoding: c.out.bytes, as: UTF8.self)
        e.freeClient(c)
        return out
    }

    func testEndOfMark() {
        let mark = Array("0123456789012345678901234567890123456789".utf8)
        XCTAssertNil(MasterLink.endOfMark(mark, in: Array(mark.dropLast())))
        XCTAssertEqual(MasterLink.endOfMark(mark, in: [1, 2] + mark + [3]), 42)
        XCTAssertEqual(MasterLink.endOfMark(mark, in: Array(mark.prefix(3)) + mark), 43)
    }
}
