import Foundation
import TernConfig
import XCTest
@testable import TernEngine
@testable import TernProtocol

/// COMMAND GETKEYSANDFLAGS over the whole catalog (every command registered with a
/// no-op handler), checked against replies recorded from redis-server 7.0.15.
final class GetKeysTests: XCTestCase {
    static func engineWithEveryCommand() -> Engine {
        let e = Engine()
        for (name, _) in e.commands.catalog where e.commands.lookup(name) == nil {
            e.commands.register(name) { c, _ in c.out.ok() }
        }
        for top in e.commands.commands {
            let e9 = top.info.elements
            guard e9.count > 9 else { continue }
            for sub in e9[9].elements {
                guard let full = sub.elements.first?.text, e.commands.lookupFull(full) == nil else { continue }
                e.commands.register(full) { c, _ in c.out.ok() }
            }
        }
        return e
    }

    static func expected(_ keys: [(String, [String])]?, _ error: String?) -> [UInt8] {
        if let err = error { return Array("-\(err)\r\n".utf8) }
        var s = "*\(keys!.count)\r\n"
        for (k, flags) in keys! {
            s += "*2\r\n$\(k.utf8.count)\r\n\(k)\r\n~\(flags.count)\r\n"
            for f in flags { s += "+\(f)\r\n" }
        }
        return Array(s.utf8)
    }

    func testGetKeysAndFlagsMatchesRedis() {
        let e = GetKeysTests.engineWithEveryCommand()
        let c = e.createClient()
        c.resp = 3
        for (argv, keys, error) in getKeysCases {
            OwnedArgs(strings: ["COMMAND", "GETKEYSANDFLAGS"] + argv).withArgs { e.execute(c, $0) }
            let got = Array(c.out.bytes)
            c.out.removeAll()
            XCTAssertEqual(String(decoding: got, as: UTF8.self),
                           String(decoding: GetKeysTests.expected(keys, error), as: UTF8.self), "\(argv)")
        }
    }

    /// Every call tools/record_getkeys_cases.py generated from the catalog (every command
    /// and subcommand with keys, registered in Tern or not), replayed against Redis's replies.
    func testEveryRecordedCallMatchesRedis() throws {
        let e = GetKeysTests.engineWithEveryCommand()
        let c = e.createClient()
        c.resp = 3
        var checked = 0
        for line in recordedGetKeysCases.split(separator: "\n") {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let argv = try XCTUnwrap(obj["argv"] as? [String])
            let reply = try XCTUnwrap(obj["reply"] as? String)
            // Recorded as latin-1: one byte per scalar.
            let want = reply.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
            OwnedArgs(["COMMAND", "GETKEYSANDFLAGS"].map { Array($0.utf8) } + argv.map { Array($0.utf8) })
                .withArgs { e.execute(c, $0) }
            let got = Array(c.out.bytes)
            c.out.removeAll()
            XCTAssertEqual(String(decoding: got, as: UTF8.self), String(decoding: want, as: UTF8.self), "\(argv)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 1000)
    }

    /// The finder on its own: allocation-free visiting reports nothing for a call whose
    /// specs fail late (the get-keys function answers instead), and partial search keeps
    /// what the specs could follow.
    func testFinderVisitsWholeAnswersOnly() {
        let e = GetKeysTests.engineWithEveryCommand()
        func keys(_ argv: [String], _ options: KeyFinder.Options = []) -> [String] {
            guard let cmd = e.commands.lookupFull(argv[0]) else { return ["?"] }
            return OwnedArgs(strings: argv).withArgs { a in
                var out: [String] = []
                cmd.keyFinder.forEachKey(a, options: options) { i, f in out.append(a.string(i) + ":" + f.nameList.joined(separator: ",")) }
                return out
            }
        }
        // ZUNIONSTORE: the destination spec succeeds, the count spec fails ("2x"): the lenient
        // function answers, inputs first and no flags.
        XCTAssertEqual(keys(["zunionstore", "d", "2x", "a", "b"]), ["a:", "b:", "d:"])
        XCTAssertEqual(keys(["zunionstore", "d", "2x", "a", "b"], .returnPartial), ["d:OW,update"])
        // MIGRATE KEYS: the incomplete spec makes the function decide; partial keeps both specs' keys.
        XCTAssertEqual(keys(["migrate", "h", "p", "", "0", "5", "keys", "a", "b"]),
                       ["a:RW,access,delete", "b:RW,access,delete"])
        XCTAssertEqual(keys(["migrate", "h", "p", "", "0", "5", "keys", "a", "b"], .returnPartial),
                       [":RW,access,delete", "a:RW,access,delete,incomplete", "b:RW,access,delete,incomplete"])
        // SPUBLISH's channel is a not_key spec: only cluster routing asks for it.
        XCTAssertEqual(keys(["spublish", "ch", "m"]), [])
        XCTAssertEqual(keys(["spublish", "ch", "m"], .includeNotKeys), ["ch:not_key"])
        XCTAssertFalse(e.commands.lookupFull("spublish")!.keyFinder.hasKeys)
        XCTAssertTrue(e.commands.lookupFull("eval")!.keyFinder.hasKeys)
        // SORT: the argument after STORE is looked at as an option too (Redis's sortGetKeys).
        XCTAssertEqual(keys(["sort", "k", "store", "get", "store", "y"]), ["k:RO,access", "get:OW,update"])
    }

    func testGetKeysPlainNames() {
        let e = GetKeysTests.engineWithEveryCommand()
        let c = e.createClient()
        OwnedArgs(strings: ["COMMAND", "GETKEYS", "zunionstore", "d", "2", "a", "b"]).withArgs { e.execute(c, $0) }
        XCTAssertEqual(String(decoding: c.out.bytes, as: UTF8.self), "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n")
    }
}

// Expected COMMAND GETKEYSANDFLAGS results, recorded from redis-server 7.0.15.
let getKeysCases: [(argv: [String], keys: [(String, [String])]?, error: String?)] = [
    (["get", "a"], [("a", ["RO", "access"])], nil),
    (["set", "a", "b"], [("a", ["OW", "update"])], nil),
    (["set", "a", "b", "get"], [("a", ["RW", "access", "update"])], nil),
    (["set", "a", "b", "nx", "get"], [("a", ["RW", "access", "update"])], nil),
    (["mset", "a", "1", "b"], [("a", ["OW", "update"]), ("b", ["OW", "update"])], nil),
    (["mset", "a", "1", "b", "2"], [("a", ["OW", "update"]), ("b", ["OW", "update"])], nil),
    (["mget", "a", "b", "c"], [("a", ["RO", "access"]), ("b", ["RO", "access"]), ("c", ["RO", "access"])], nil),
    (["del", "a", "b", "c"], [("a", ["RM", "delete"]), ("b", ["RM", "delete"]), ("c", ["RM", "delete"])], nil),
    (["rename", "a", "b"], [("a", ["RW", "access", "delete"]), ("b", ["OW", "update"])], nil),
    (["lmove", "a", "b", "left", "right"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "insert"])], nil),
    (["blmove", "a", "b", "left", "right", "0"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "insert"])], nil),
    (["blpop", "a", "b", "0"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "access", "delete"])], nil),
    (["bzpopmin", "a", "b", "c", "0"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "access", "delete"]), ("c", ["RW", "access", "delete"])], nil),
    (["zunionstore", "d", "2", "a", "b"], [("d", ["OW", "update"]), ("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["zunionstore", "d", "2", "a", "b", "weights", "1", "2"], [("d", ["OW", "update"]), ("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["zunionstore", "d", "5", "a", "b"], nil, "ERR Invalid arguments specified for command"),
    (["zunionstore", "d", "-1", "a", "b"], nil, "ERR Invalid arguments specified for command"),
    (["zunionstore", "d", "0", "x"], nil, "ERR Invalid arguments specified for command"),
    (["zunionstore", "d", "1.0", "a"], [("a", []), ("d", [])], nil),
    (["zunionstore", "d", "2x", "a", "b"], [("a", []), ("b", []), ("d", [])], nil),
    (["zunion", "2", "a", "b"], [("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["zinter", "1x", "a"], [("a", [])], nil),
    (["zdiffstore", "d", "1", "a"], [("d", ["OW", "update"]), ("a", ["RO", "access"])], nil),
    (["eval", "s", "0"], [], nil),
    (["eval", "s", "1", "a"], [("a", ["RW", "access", "update"])], nil),
    (["eval", "s", "2", "a", "b", "c"], [("a", ["RW", "access", "update"]), ("b", ["RW", "access", "update"])], nil),
    (["eval", "s", "3", "a"], [], nil),
    (["eval", "s", "1.0", "a"], [("a", [])], nil),
    (["eval", "s", "abc"], [], nil),
    (["evalsha_ro", "x", "2", "a", "b"], [("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["fcall", "f", "2", "a", "b", "c"], [("a", ["RW", "access", "update"]), ("b", ["RW", "access", "update"])], nil),
    (["fcall_ro", "f", "1.5", "k"], [("k", [])], nil),
    (["lmpop", "1", "a", "left"], [("a", ["RW", "access", "delete"])], nil),
    (["lmpop", "2", "a", "b", "right", "count", "3"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "access", "delete"])], nil),
    (["lmpop", "0", "a", "left"], nil, "ERR Invalid arguments specified for command"),
    (["lmpop", "5", "a", "left"], nil, "ERR Invalid arguments specified for command"),
    (["lmpop", "1x", "a", "left"], [("a", [])], nil),
    (["blmpop", "0", "2", "a", "b", "left"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "access", "delete"])], nil),
    (["bzmpop", "1", "1", "z", "min"], [("z", ["RW", "access", "delete"])], nil),
    (["sintercard", "2", "a", "b", "limit", "1"], [("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["sintercard", "0", "a"], nil, "ERR Invalid arguments specified for command"),
    (["zintercard", "2", "a", "b"], [("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["xread", "streams", "a", "b"], [("a", ["RO", "access"])], nil),
    (["xread", "streams", "a", "b", "1"], [("a", ["RO", "access"])], nil),
    (["xread", "count", "1", "streams", "a"], nil, "ERR Invalid arguments specified for command"),
    (["xread", "count", "5", "block", "0", "streams", "s1", "s2", "0", "0"], [("s1", ["RO", "access"]), ("s2", ["RO", "access"])], nil),
    (["xread", "streams", "x", "streams", "a", "b"], [("x", ["RO", "access"]), ("streams", ["RO", "access"])], nil),
    (["xreadgroup", "group", "g", "c", "streams", "a", "b"], [("a", ["RO", "access"])], nil),
    (["xreadgroup", "group", "g", "c", "count", "1", "streams", "s1", "s2", "s3", "1", "2", "3"], [("s1", ["RO", "access"]), ("s2", ["RO", "access"]), ("s3", ["RO", "access"])], nil),
    (["georadius", "k", "1", "2", "3", "m", "store"], [("k", ["RO", "access"])], nil),
    (["georadius", "k", "1", "2", "3", "m", "store", "s", "storedist", "t"], [("k", ["RO", "access"]), ("s", ["OW", "update"]), ("t", ["OW", "update"])], nil),
    (["georadius", "k", "1", "2", "3", "m", "store", "s", "store", "t"], [("k", ["RO", "access"]), ("s", ["OW", "update"])], nil),
    (["georadiusbymember", "k", "m", "1", "km", "storedist", "d"], [("k", ["RO", "access"]), ("d", ["OW", "update"])], nil),
    (["georadius_ro", "k", "1", "2", "3", "m"], [("k", ["RO", "access"])], nil),
    (["sort", "k"], [("k", ["RO", "access"])], nil),
    (["sort", "k", "store", "x"], [("k", ["RO", "access"]), ("x", ["OW", "update"])], nil),
    (["sort", "k", "store", "x", "store", "y"], [("k", ["RO", "access"]), ("y", ["OW", "update"])], nil),
    (["sort", "k", "limit", "0", "1", "store", "x"], [("k", ["RO", "access"]), ("x", ["OW", "update"])], nil),
    (["sort", "k", "get", "store", "by"], [("k", ["RO", "access"])], nil),
    (["sort", "k", "store"], [("k", ["RO", "access"])], nil),
    (["sort", "k", "by", "w", "get", "#", "store", "dst"], [("k", ["RO", "access"]), ("dst", ["OW", "update"])], nil),
    (["sort_ro", "k", "by", "x"], [("k", ["RO", "access"])], nil),
    (["migrate", "h", "p", "k", "0", "5"], [("k", ["RW", "access", "delete"])], nil),
    (["migrate", "h", "p", "", "0", "5", "keys", "a", "b"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "access", "delete"])], nil),
    (["migrate", "h", "p", "k", "0", "5", "keys", "a"], nil, "ERR Invalid arguments specified for command"),
    (["migrate", "h", "p", "", "0", "5"], [("", ["RW", "access", "delete"])], nil),
    (["migrate", "h", "p", "", "0", "5", "KEYS"], [("", ["RW", "access", "delete"])], nil),
    (["migrate", "h", "p", "", "0", "5", "auth", "keys", "x", "keys", "a"], [("a", ["RW", "access", "delete"])], nil),
    (["migrate", "h", "p", "", "0", "5", "auth2", "u", "keys", "keys", "a", "b"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "access", "delete"])], nil),
    (["migrate", "h", "p", "", "0", "5", "copy", "replace", "keys", "a"], [("a", ["RW", "access", "delete"])], nil),
    (["bitfield", "k", "get", "u8", "0"], [("k", ["RO", "access"])], nil),
    (["bitfield", "k", "set", "u8", "0", "1"], [("k", ["RW", "access", "update"])], nil),
    (["bitfield", "k", "incrby", "u8", "0", "1"], [("k", ["RW", "access", "update"])], nil),
    (["bitfield", "k", "overflow", "wrap", "get", "u8", "0"], [("k", ["RO", "access"])], nil),
    (["bitfield", "k", "get", "u8"], [("k", ["RW", "access", "update"])], nil),
    (["bitfield_ro", "k", "get", "u8", "0"], [("k", ["RO", "access"])], nil),
    (["object", "encoding", "k"], [("k", ["RO"])], nil),
    (["memory", "usage", "k", "samples", "5"], [("k", ["RO"])], nil),
    (["xinfo", "stream", "s"], [("s", ["RO", "access"])], nil),
    (["xgroup", "create", "s", "g", "$"], [("s", ["RW", "insert"])], nil),
    (["lcs", "a", "b"], [("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["pfcount", "a", "b"], [("a", ["RW", "access"]), ("b", ["RW", "access"])], nil),
    (["pfmerge", "d", "a", "b"], [("d", ["RW", "access", "insert"]), ("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["touch", "a", "b"], [("a", ["RO"]), ("b", ["RO"])], nil),
    (["watch", "a", "b"], [("a", ["RO"]), ("b", ["RO"])], nil),
    (["smove", "a", "b", "m"], [("a", ["RW", "access", "delete"]), ("b", ["RW", "insert"])], nil),
    (["sdiffstore", "d", "a", "b"], [("d", ["OW", "update"]), ("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["sinterstore", "d", "a"], [("d", ["RW", "update"]), ("a", ["RO", "access"])], nil),
    (["bitop", "and", "d", "a", "b"], [("d", ["OW", "update"]), ("a", ["RO", "access"]), ("b", ["RO", "access"])], nil),
    (["copy", "a", "b", "db", "1"], [("a", ["RO", "access"]), ("b", ["OW", "update"])], nil),
    (["restore", "k", "0", "x"], [("k", ["OW", "update"])], nil),
    (["getex", "k", "persist"], [("k", ["RW", "access", "update"])], nil),
    (["zrangestore", "d", "s", "0", "1"], [("d", ["OW", "update"]), ("s", ["RO", "access"])], nil),
    (["geosearchstore", "d", "s", "frommember", "m", "byradius", "1", "km"], [("d", ["OW", "update"]), ("s", ["RO", "access"])], nil),
    (["ping"], nil, "ERR wrong number of arguments for 'command|getkeysandflags' command"),
    (["ping", "x"], nil, "ERR The command has no key arguments"),
    (["config", "get", "x"], nil, "ERR The command has no key arguments"),
    (["object", "help"], nil, "ERR The command has no key arguments"),
    (["ssubscribe", "ch"], nil, "ERR The command has no key arguments"),
    (["spublish", "ch", "m"], nil, "ERR The command has no key arguments"),
    (["xinfo", "help"], nil, "ERR The command has no key arguments"),
    (["echo", "x"], nil, "ERR The command has no key arguments"),
    (["client", "list"], nil, "ERR The command has no key arguments"),
    (["get"], nil, "ERR wrong number of arguments for 'command|getkeysandflags' command"),
    (["set", "a"], nil, "ERR Invalid number of arguments specified for command"),
    (["get", "a", "b"], nil, "ERR Invalid number of arguments specified for command"),
    (["object", "encoding"], nil, "ERR Invalid number of arguments specified for command"),
    (["foo", "a"], nil, "ERR Invalid command specified"),
    (["client", "x"], nil, "ERR Invalid command specified"),
    (["xgroup", "foo", "s"], nil, "ERR Invalid command specified"),
    (["eval", "s", "9223372036854775807", "a"], [], nil),
    (["zunionstore", "d", "9223372036854775807", "a"], nil, "ERR Invalid arguments specified for command"),
    (["lmpop", "9223372036854775806", "a", "left"], nil, "ERR Invalid arguments specified for command"),
    (["eval", "s", "-9223372036854775808", "a"], [], nil),
    (["zunionstore", "d", "99999999999999999999", "a"], nil, "ERR Invalid arguments specified for command"),
    (["zinter", "4611686018427387904", "a", "b"], nil, "ERR Invalid arguments specified for command"),
    (["zunionstore", "d", "4294967297", "a"], [("d", ["OW", "update"]), ("a", ["RO", "access"])], nil),
    (["eval", "s", "4294967297", "a"], [("a", ["RW", "access", "update"])], nil),
    (["zunionstore", "d", "4294967297x", "a"], [("a", []), ("d", [])], nil),
    (["eval", "s", "4294967298x", "a", "b"], [("a", []), ("b", [])], nil),
    (["lmpop", "-4294967295", "a", "left"], [("a", [])], nil),
    (["zunionstore", "d", "1e0", "a"], [("a", []), ("d", [])], nil),
]
