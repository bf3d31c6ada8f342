import XCTest
import TernConfig
import TernProtocol
import TernStore
@testable import TernEngine

/// Side effects of string/bitmap commands that the wire protocol does not show:
/// replication/AOF rewrites, keyspace events, dirty counts, WATCH signals. The
/// expected values were taken from redis-server 7.0.15 (AOF contents and
/// `__keyevent@0__:*` messages for the same command sequences).
final class StringCommandTests: XCTestCase {
    final class Capture: PropagationTarget {
        var commands: [String] = []
        func propagate(db: Int, args: Args) {
            commands.append((0..<args.count).map { args.string($0) }.joined(separator: " "))
        }
    }

    final class Harness {
        let engine = Engine(config: ServerConfig())
        let client: Client
        let capture = Capture()
        let log: KeyspaceEventLog
        /// "event:key" of the events raised since the last look (the oracle ran with KEAn).
        var events: [String] { log.take().map { $0.event + ":" + $0.key } }

        init() {
            log = KeyspaceEventLog(engine, classes: "An")
            client = engine.createClient()
            engine.propagationTargets = [capture]
        }

        /// Runs one command; returns its raw reply text.
        @discardableResult
        func run(_ argv: String...) -> String { run(argv.map { Array($0.utf8) }) }

        @discardableResult
        func run(_ argv: [[UInt8]]) -> String {
            client.out.removeAll()
            Args.with(argv) { engine.execute(client, $0) }
            return String(decoding: client.out.bytes, as: UTF8.self)
        }

        func entry(_ key: String) -> Entry? { client.db.find(Array(key.utf8)) }
        func encoding(_ key: String) -> String? { entry(key)?.encoding.name }
        func hasTTL(_ key: String) -> Bool { entry(key)?.hasExpire ?? false }

        func reset() {
            capture.commands.removeAll()
            _ = log.take()
        }

        /// Propagated commands with the numeric PXAT/PEXPIREAT deadline replaced by "T".
        var propagated: [String] {
            capture.commands.map { cmd in
                cmd.split(separator: " ").map { $0.count == 13 && Int($0) != nil ? "T" : String($0) }
                    .joined(separator: " ")
            }
        }
    }

    func testSetPropagation() {
        let h = Harness()
        h.run("set", "a", "1", "ex", "100", "ex", "200")
        h.run("set", "b", "v", "pxat", "99999999999999", "get")
        h.run("set", "c", "v", "pxat", "99999999999999")
        h.run("set", "d", "v", "get", "get")
        h.run("set", "d", "v", "nx")                  // not set: not propagated
        h.run("set", "e", "v", "xx", "get")           // not set: not propagated
        h.run("setex", "f", "100", "v")
        h.run("psetex", "g", "100000", "v")
        h.run("setnx", "g", "v")
        h.run("getset", "g", "5")
        XCTAssertEqual(h.propagated, [
            "SET a 1 PXAT T", "SET b v PXAT 99999999999999", "SET c v PXAT 99999999999999", "set d v",
            "SET f v PXAT T", "SET g v PXAT T", "SET g 5",
        ])
        XCTAssertEqual(h.entry("a")?.expireAt ?? 0, h.engine.nowMs + 200_000, accuracy: 5_000)
    }

    func testGetexGetdelPropagationAndEvents() {
        let h = Harness()
        h.run("setex", "e", "100", "v")
        h.reset()
        h.run("getex", "e")
        h.run("getex", "e", "pxat", "99999999999999")
        h.run("getex", "e", "ex", "100")
        h.run("getex", "e", "persist")
        h.run("getex", "e", "persist")
        h.run("getex", "e", "pxat", "1")
        h.run("getex", "missing", "ex", "10")
        XCTAssertEqual(h.propagated, ["PEXPIREAT e 99999999999999", "PEXPIREAT e T", "PERSIST e", "DEL e"])
        XCTAssertEqual(h.events, ["expire:e", "expire:e", "persist:e", "del:e"])
        XCTAssertNil(h.entry("e"))
        h.run("set", "k", "v")
        h.reset()
        // The change reaches WATCH (signalModifiedKey): a watcher's transaction is doomed.
        let watcher = h.engine.createClient()
        Args.with([Array("watch".utf8), Array("k".utf8)]) { h.engine.execute(watcher, $0) }
        XCTAssertEqual(h.run("getdel", "k"), "$1\r\nv\r\n")
        XCTAssertEqual(h.run("getdel", "k"), "$-1\r\n")
        XCTAssertEqual(h.propagated, ["DEL k"])
        XCTAssertEqual(h.events, ["del:k"])
        XCTAssertTrue(watcher.flags.contains(.dirtyCAS))
    }

    func testEventsPerCommand() {
        let h = Harness()
        // From redis-server with notify-keyspace-events KEAn.
        let script: [([String], [String])] = [
            (["set", "k", "v"], ["new:k", "set:k"]),
            (["set", "k", "v", "ex", "100"], ["set:k", "expire:k"]),
            (["setnx", "k", "v"], []),
            (["setex", "e", "100", "v"], ["new:e", "set:e", "expire:e"]),
            (["getset", "k", "w"], ["set:k"]),
            (["getset", "g", "w"], ["new:g", "set:g"]),
            (["mset", "a", "1", "b", "2"], ["new:a", "set:a", "new:b", "set:b"]),
            (["msetnx", "a", "1", "c", "2"], []),
            (["msetnx", "c", "1", "d", "2"], ["new:c", "set:c", "new:d", "set:d"]),
            (["append", "a", "x"], ["append:a"]),
            (["append", "z", "x"], ["new:z", "append:z"]),
            (["setrange", "a", "0", "y"], ["setrange:a"]),
            (["setrange", "a", "0", ""], []),
            (["incr", "i"], ["new:i", "incrby:i"]),
            (["decrby", "i", "5"], ["incrby:i"]),
            (["incrbyfloat", "f", "1.5"], ["new:f", "incrbyfloat:f"]),
            (["setbit", "s", "0", "1"], ["new:s", "setbit:s"]),
            (["setbit", "s", "0", "1"], []),
            (["setbit", "s", "100", "0"], ["setbit:s"]),
            (["bitfield", "s", "set", "u8", "0", "1", "get", "u8", "0"], ["setbit:s"]),
            (["bitfield", "s", "get", "u8", "0"], []),
            (["bitfield", "s", "overflow", "fail", "set", "u2", "0", "9"], []),
            (["bitop", "and", "dst", "s", "s"], ["new:dst", "set:dst"]),
            (["bitop", "and", "dst", "nokey"], ["del:dst"]),
            (["lcs", "a", "b"], []),
            (["bitfield", "nb", "overflow", "fail", "set", "u2", "0", "9"], ["new:nb"]),
            (["setrange", "sr", "0", "x"], ["new:sr", "setrange:sr"]),
        ]
        for (cmd, want) in script {
            h.reset()
            h.run(cmd.map { Array($0.utf8) })
            XCTAssertEqual(h.events, want, cmd.joined(separator: " "))
        }
    }

    func testDirtyAndPropagationOfBitCommands() {
        let h = Harness()
        let before = h.engine.dirty
        h.run("setbit", "s", "0", "0")            // creates the key: a change
        h.run("setbit", "s", "0", "0")            // no change
        h.run("setbit", "s", "7", "1")
        h.run("bitfield", "s", "set", "u8", "0", "1", "incrby", "u8", "0", "1", "get", "u8", "0")
        h.run("bitfield", "s", "overflow", "fail", "set", "u2", "0", "9")
        // SET u8 0 1 finds the byte at 1 already (bit 7): no change; INCRBY is one.
        XCTAssertEqual(h.engine.dirty - before, 3)
        XCTAssertEqual(h.propagated, [
            "setbit s 0 0", "setbit s 7 1", "bitfield s set u8 0 1 incrby u8 0 1 get u8 0",
        ])
        h.reset()
        h.run("incrbyfloat", "f", "1.5")
        h.run("incrbyfloat", "f", "x")
        XCTAssertEqual(h.propagated, ["SET f 1.5 KEEPTTL"])
    }

    func testWrongTypeEverywhere() {
        let h = Harness()
        let key: [UInt8] = Array("obj".utf8)
        key.withUnsafeBytes { k in
            _ = h.client.db.setObject(k, NSObject(), type: .list, encoding: .quicklist)
        }
        let wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        let cmds: [[String]] = [
            ["get", "obj"], ["set", "obj", "v", "get"], ["getset", "obj", "v"], ["getdel", "obj"], ["getex", "obj"],
            ["append", "obj", "x"], ["strlen", "obj"], ["getrange", "obj", "0", "1"], ["setrange", "obj", "0", "x"],
            ["incr", "obj"], ["decrby", "obj", "1"], ["incrbyfloat", "obj", "1"], ["setbit", "obj", "0", "1"],
            ["getbit", "obj", "0"], ["bitcount", "obj"], ["bitpos", "obj", "1"], ["bitop", "and", "d", "obj"],
            ["bitfield", "obj", "get", "u8", "0"], ["bitfield", "obj", "set", "u8", "0", "1"],
            ["bitfield_ro", "obj", "get", "u8", "0"],
        ]
        for cmd in cmds {
            XCTAssertEqual(h.run(cmd.map { Array($0.utf8) }), wrong, cmd.joined(separator: " "))
        }
        XCTAssertEqual(h.run("mget", "obj", "missing"), "*2\r\n$-1\r\n$-1\r\n")
        XCTAssertEqual(h.run("lcs", "obj", "x"), "-ERR The specified keys must contain string values\r\n")
        // SET overwrites any type.
        XCTAssertEqual(h.run("set", "obj", "v"), "+OK\r\n")
        XCTAssertEqual(h.run("get", "obj"), "$1\r\nv\r\n")
    }

    func testSizeLimits() {
        let h = Harness()
        h.engine.config.protoMaxBulkLen = 100
        let tooBig = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
        XCTAssertEqual(h.run("setrange", "k", "95", "12345"), ":100\r\n")
        XCTAssertEqual(h.run("setrange", "k", "96", "12345"), tooBig)
        XCTAssertEqual(h.run("append", "k", "x"), tooBig)
        XCTAssertEqual(h.run("strlen", "k"), ":100\r\n")
        XCTAssertEqual(h.run("setbit", "b", "799", "1"), ":0\r\n")
        XCTAssertEqual(h.run("setbit", "b", "800", "1"), "-ERR bit offset is not an integer or out of range\r\n")
        XCTAssertEqual(h.run("bitfield", "b", "get", "u8", "#100"), "-ERR bit offset is not an integer or out of range\r\n")
        // (alen+1)*(blen+1)*4 bytes of LCS table must fit in proto-max-bulk-len.
        h.run("mset", "x", "abcde", "y", "abcd")
        XCTAssertEqual(h.run("lcs", "x", "y"), "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n")
        h.run("mset", "x", "abc", "y", "ab")
        XCTAssertEqual(h.run("lcs", "x", "y"), "$2\r\nab\r\n")
    }

    func testIncrInPlaceAndEncodings() {
        let h = Harness()
        XCTAssertEqual(h.run("incr", "n"), ":1\r\n")
        XCTAssertEqual(h.encoding("n"), "int")
        for _ in 0..<20 { h.run("incrby", "n", "7") }
        XCTAssertEqual(h.run("get", "n"), "$3\r\n141\r\n")
        XCTAssertEqual(h.run("decrby", "n", "141"), ":0\r\n")
        XCTAssertEqual(h.run("decrby", "n", "-9223372036854775808"), "-ERR decrement would overflow\r\n")
        XCTAssertEqual(h.run("incrby", "n", "9223372036854775807"), ":9223372036854775807\r\n")
        XCTAssertEqual(h.run("incr", "n"), "-ERR increment or decrement would overflow\r\n")
        h.run("set", "t", "5", "ex", "100")
        h.run("incr", "t")
        h.run("incrby", "t", "1000")
        XCTAssertTrue(h.hasTTL("t"))
        XCTAssertEqual(h.run("get", "t"), "$4\r\n1006\r\n")
        h.run("set", "r", "5")
        h.run("append", "r", "0")
        XCTAssertEqual(h.encoding("r"), "raw")
        h.run("incr", "r")
        XCTAssertEqual(h.encoding("r"), "int")
    }

    func testResp3Replies() {
        let h = Harness()
        h.client.resp = 3
        XCTAssertEqual(h.run("get", "missing"), "_\r\n")
        h.run("mset", "a", "ohmytext", "b", "mynewtext")
        XCTAssertEqual(h.run("lcs", "a", "b", "idx", "minmatchlen", "4", "withmatchlen"),
                       "%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n")
        XCTAssertEqual(h.run("bitfield", "bf", "overflow", "fail", "incrby", "u2", "0", "5"), "*1\r\n_\r\n")
    }
}
