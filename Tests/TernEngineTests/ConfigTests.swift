@testable import TernConfig
import TernStore
import XCTest
@testable import TernEngine

final class ConfigTextTests: XCTestCase {
    func testSplitArgsPlainAndQuoted() {
        XCTAssertEqual(ConfigText.splitArgs("port 6379"), ["port", "6379"])
        XCTAssertEqual(ConfigText.splitArgs("  a \t b  "), ["a", "b"])
        XCTAssertEqual(ConfigText.splitArgs("save \"\""), ["save", ""])
        XCTAssertEqual(ConfigText.splitArgs("x \"a b\" 'c d'"), ["x", "a b", "c d"])
        XCTAssertEqual(ConfigText.splitArgs("x \"\\x41\\n\\t\\\\\\\"\""), ["x", "A\n\t\\\""])
        XCTAssertEqual(ConfigText.splitArgs("x 'it\\'s'"), ["x", "it's"])
        // A quote inside an unquoted word opens a quoted section.
        XCTAssertEqual(ConfigText.splitArgs("ab\"c d\""), ["abc d"])
        // Bad hex escapes are kept as the escaped letter.
        XCTAssertEqual(ConfigText.splitArgs("\"\\x4g\""), ["x4g"])
        XCTAssertEqual(ConfigText.splitArgs(""), [])
    }

    func testSplitArgsUnbalanced() {
        XCTAssertNil(ConfigText.splitArgs("port \"abc"))
        XCTAssertNil(ConfigText.splitArgs("port 'abc"))
        XCTAssertNil(ConfigText.splitArgs("port \"a\"b"))
        XCTAssertNil(ConfigText.splitArgs("port 'a'b"))
        XCTAssertNil(ConfigText.splitArgs("x \"abc\\"))
    }

    func testRepr() {
        XCTAssertEqual(ConfigText.repr("dump.rdb"), "\"dump.rdb\"")
        XCTAssertEqual(ConfigText.repr(""), "\"\"")
        XCTAssertEqual(ConfigText.repr("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"")
        // repr output reads back to the same value.
        for s in ["a b", "x\"y", "tab\there", "\u{7f}"] {
            XCTAssertEqual(ConfigText.splitArgs(ConfigText.repr(s)), [s])
        }
    }

    func testMemoryUnits() {
        XCTAssertEqual(ConfigText.parseMemory("1gb"), 1 << 30)
        XCTAssertEqual(ConfigText.parseMemory("1GB"), 1 << 30)
        XCTAssertEqual(ConfigText.parseMemory("1g"), 1_000_000_000)
        XCTAssertEqual(ConfigText.parseMemory("1mB"), 1 << 20)
        XCTAssertEqual(ConfigText.parseMemory("1k"), 1000)
        XCTAssertEqual(ConfigText.parseMemory("1kb"), 1024)
        XCTAssertEqual(ConfigText.parseMemory("7b"), 7)
        XCTAssertEqual(ConfigText.parseMemory(""), 0)
        XCTAssertEqual(ConfigText.parseMemory("kb"), 0)
        XCTAssertEqual(ConfigText.parseMemory("007"), 7)
        XCTAssertEqual(ConfigText.parseMemory("18446744073709551616"), UInt64.max)
        XCTAssertEqual(ConfigText.parseMemory("18446744073709551615kb"), 18446744073709550592)
        for bad in ["1tb", "-1", "+5", " 5", "5 ", "1.5mb", "0x10", "1e3", "5kbb", "1 gb"] {
            XCTAssertNil(ConfigText.parseMemory(bad), bad)
        }
        XCTAssertEqual(ConfigText.formatMemory(0), "0")
        XCTAssertEqual(ConfigText.formatMemory(64), "64")
        XCTAssertEqual(ConfigText.formatMemory(4096), "4kb")
        XCTAssertEqual(ConfigText.formatMemory(64 << 20), "64mb")
        XCTAssertEqual(ConfigText.formatMemory(2 << 30), "2gb")
        XCTAssertEqual(ConfigText.formatMemory(3_000_000_000), "3000000000")
    }

    func testIntegerRules() {
        XCTAssertEqual(ConfigText.parseStrictInt("-1"), -1)
        XCTAssertNil(ConfigText.parseStrictInt("007"))
        XCTAssertNil(ConfigText.parseStrictInt("+1"))
        XCTAssertNil(ConfigText.parseStrictInt(""))
        XCTAssertEqual(ConfigText.parseCLong("+5"), 5)
        XCTAssertEqual(ConfigText.parseCLong(" 7"), 7)
        XCTAssertEqual(ConfigText.parseCLong("99999999999999999999"), Int.max)
        XCTAssertNil(ConfigText.parseCLong("1.5"))
        XCTAssertNil(ConfigText.parseCLong(""))
        XCTAssertEqual(ConfigText.parseCLong("", emptyIsZero: true), 0)
    }

    func testNotifyFlags() {
        func roundTrip(_ s: String) -> String? { ConfigText.parseNotify(s).map(ConfigText.formatNotify) }
        XCTAssertEqual(roundTrip("KEA"), "AKE")
        XCTAssertEqual(roundTrip("Kg$lshzxetmdn"), "AKm")
        XCTAssertEqual(roundTrip("An"), "A")
        XCTAssertEqual(roundTrip("tdn$g"), "g$tdn")
        XCTAssertEqual(roundTrip("KEd"), "dKE")
        XCTAssertEqual(roundTrip("mn"), "nm")
        XCTAssertEqual(roundTrip(""), "")
        XCTAssertNil(ConfigText.parseNotify("kea"))
        XCTAssertEqual(ConfigText.parseNotify("K$"), NotifyClass.keyspace.rawValue | NotifyClass.string.rawValue)
    }

    func testPercentileFormat() {
        XCTAssertEqual(ConfigText.formatPercentile(99.9), "99.9")
        XCTAssertEqual(ConfigText.formatPercentile(50), "50")
        XCTAssertEqual(ConfigText.formatPercentile(99.123456789), "99.123457")
        XCTAssertEqual(ConfigText.formatPercentile(1e-300), "0")
    }

    func testSHA256() {
        XCTAssertEqual(SHA256Digest.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256Digest.hex(Array("foo".utf8)), "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")
        XCTAssertEqual(SHA256Digest.hex(Array(String(repeating: "a", count: 1000).utf8)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

final class ConfigRegistryTests: XCTestCase {
    func load(_ text: String, _ cfg: ServerConfig = ServerConfig()) throws -> ServerConfig {
        var notices: [String] = []
        try ConfigRegistry.load(text: text, into: cfg, context: ConfigSetContext(loading: true, commandNames: CommandTable.catalogNames), notices: &notices)
        return cfg
    }

    func reason(_ text: String) -> ConfigLoadError? {
        do { _ = try load(text); return nil } catch let e as ConfigLoadError { return e } catch { return nil }
    }

    func testDefaultsMatchRedis() {
        let c = ServerConfig()
        let expect: [String: String] = [
            "port": "6379", "bind": "127.0.0.1 -::1", "databases": "16", "save": "3600 1 300 100 60 10000",
            "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
            "maxmemory": "0", "hz": "10", "notify-keyspace-events": "", "oom-score-adj-values": "0 200 800",
            "latency-tracking-info-percentiles": "50 99 99.9", "unixsocketperm": "0", "shutdown-on-sigint": "default",
            "proto-max-bulk-len": "536870912", "slaveof": "", "lua-time-limit": "5000", "syslog-ident": "redis",
            "proc-title-template": "{title} {listen-addr} {server-mode}", "loading-process-events-interval-bytes": "2097152",
        ]
        for (k, v) in expect { XCTAssertEqual(c.value(of: k), v, k) }
        XCTAssertEqual(ConfigRegistry.visibleNames.count, 192)
    }

    func testLoadLines() throws {
        let c = try load("""
        # comment
        port 7000
          HZ   20
        maxmemory 1gb
        save 900 1
        save 300 10
        bind 127.0.0.1 -::1
        requirepass "a b"
        notify-keyspace-events KEA
        client-output-buffer-limit replica 1mb 1kb 5
        slaveof 10.0.0.1 6380
        list-max-ziplist-entries 5
        """)
        XCTAssertEqual(c.port, 7000)
        XCTAssertEqual(c.hz, 20)
        XCTAssertEqual(c.maxmemory, 1 << 30)
        XCTAssertEqual(c.value(of: "save"), "900 1 300 10")
        XCTAssertEqual(c.bind, ["127.0.0.1", "-::1"])
        XCTAssertEqual(c.requirepass, "a b")
        XCTAssertEqual(c.value(of: "notify-keyspace-events"), "AKE")
        XCTAssertEqual(c.clientOutputBufferLimits[1], ClientBufferLimit(hard: 1 << 20, soft: 1024, softSeconds: 5))
        XCTAssertEqual(c.value(of: "replicaof"), "10.0.0.1 6380")
        XCTAssertEqual(c.value(of: "slave-read-only"), "yes")
    }

    func testSaveEmptyResets() throws {
        XCTAssertEqual(try load("save 900 1\nsave \"\"").value(of: "save"), "")
        XCTAssertEqual(try load("save \"\"\nsave 5 5").value(of: "save"), "5 5")
    }

    func testLineErrors() {
        XCTAssertEqual(reason("port 1\nfoo bar"), .line(number: 2, text: "foo bar", reason: "Bad directive or wrong number of arguments"))
        XCTAssertEqual(reason("  port   abc  "), .line(number: 1, text: "port   abc", reason: "argument couldn't be parsed into an integer"))
        XCTAssertEqual(reason("port 70000"), .line(number: 1, text: "port 70000", reason: "argument must be between 0 and 65535 inclusive"))
        XCTAssertEqual(reason("port 1 2"), .line(number: 1, text: "port 1 2", reason: "wrong number of arguments"))
        XCTAssertEqual(reason("save \"a"), .line(number: 1, text: "save \"a", reason: "Unbalanced quotes in configuration line"))
        XCTAssertEqual(reason("maxmemory 1zb"), .line(number: 1, text: "maxmemory 1zb", reason: "argument must be a memory value"))
        XCTAssertEqual(reason("activerehashing maybe"), .line(number: 1, text: "activerehashing maybe", reason: "argument must be 'yes' or 'no'"))
        XCTAssertEqual(reason("loglevel loud"), .line(number: 1, text: "loglevel loud", reason: "argument(s) must be one of the following: debug, verbose, notice, warning"))
        XCTAssertEqual(reason("rename-command nosuch x"), .line(number: 1, text: "rename-command nosuch x", reason: "No such command in rename-command"))
        XCTAssertEqual(reason("rename-command get set"), .line(number: 1, text: "rename-command get set", reason: "Target command name already exists"))
        XCTAssertNil(reason("rename-command get foo\nrename-command foo bar"))
        XCTAssertEqual(reason("user alice on badrule"), .line(number: 1, text: "user alice on badrule", reason: "Error in user declaration 'alice': Syntax error"))
        XCTAssertEqual(reason("dbfilename a/b"), .line(number: 1, text: "dbfilename a/b", reason: "dbfilename can't be a path, just a filename"))
        XCTAssertEqual(reason("include /nonexistent/x.conf"), .cannotOpen(path: "/nonexistent/x.conf", reason: "No such file or directory"))
    }

    func testReport() {
        let e = ConfigLoadError.line(number: 3, text: "foo", reason: "Bad directive or wrong number of arguments")
        XCTAssertEqual(e.report, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'foo'\nBad directive or wrong number of arguments\n")
    }

    func testSetterRoundTripsEveryDirective() {
        // Feeding each directive its own CONFIG GET text back must be accepted and stable.
        let c = ServerConfig()
        let ctx = ConfigSetContext(loading: false)
        for d in ConfigRegistry.all where d.name != "dir" {
            let v = d.get(c)
            let args = d.flags.contains(.multiArg) ? ConfigText.splitSetValue(v) : [v]
            if d.name == "replicaof" { continue }
            XCTAssertNil(d.set(c, args, ctx), d.name)
            XCTAssertEqual(d.get(c), v, d.name)
        }
    }

    func testRewriteKeepsCommentsAndReplacesInPlace() throws {
        let old = "# top   \nport 7000\nhz 20\n\nHz 25\nunknown-thing yes\nslaveof 1.2.3.4 5\nmaxmemory 100\n# Generated by CONFIG REWRITE\nsave 60 5\nhz 5"
        let c = try load("port 7000\nhz 5\nmaxmemory 0\nsave 60 5\nsave 10 1")
        c.replicaofHost = "1.2.3.4"; c.replicaofPort = 5
        let out = ConfigRegistry.rewrite(old: old, cfg: c)
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(Array(lines.prefix(10)), [
            "# top", "port 7000", "hz 5", "", "unknown-thing yes", "replicaof 1.2.3.4 5", "maxmemory 0",
            "# Generated by CONFIG REWRITE", "save 60 5", "",
        ])
        XCTAssertTrue(lines.dropFirst(10).contains("save 10 1"))
        XCTAssertTrue(lines.contains("user default on nopass ~* &* +@all"))
        XCTAssertTrue(lines.contains("latency-tracking-info-percentiles 50 99 99.9"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("dir \"/") })
        XCTAssertEqual(lines.filter { $0 == "# Generated by CONFIG REWRITE" }.count, 1)
    }

    func testRewriteAppendsUnderSignature() throws {
        let c = try load("maxmemory 2gb\nclient-output-buffer-limit pubsub 1mb 2mb 3\nnotify-keyspace-events Ex\npidfile \"\"")
        let out = ConfigRegistry.rewrite(old: "port 6379\n", cfg: c)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(2)), ["port 6379", "# Generated by CONFIG REWRITE"])
        XCTAssertTrue(out.hasPrefix("port 6379\n\n# Generated by CONFIG REWRITE\n"))
        XCTAssertTrue(lines.contains("maxmemory 2gb"))
        XCTAssertTrue(lines.contains("client-output-buffer-limit pubsub 1mb 2mb 3"))
        XCTAssertTrue(lines.contains("notify-keyspace-events \"xE\""))
        XCTAssertFalse(lines.contains { $0.hasPrefix("pidfile") })
        XCTAssertTrue(lines.contains("save 3600 1"))  // save lines are always written
        // The rewritten text loads back to the same values.
        let again = try load(out)
        for d in ConfigRegistry.all where d.name != "dir" {
            XCTAssertEqual(d.get(again), d.get(c), d.name)
        }
    }

    func testRewriteMultiLineOptions() throws {
        let c = try load("client-output-buffer-limit normal 1gb 0 0\nclient-output-buffer-limit pubsub 32mb 8mb 60")
        let out = ConfigRegistry.rewrite(old: "client-output-buffer-limit normal 1gb 0 0\nclient-output-buffer-limit pubsub 32mb 8mb 60\n", cfg: c)
        XCTAssertTrue(out.hasPrefix("client-output-buffer-limit normal 1gb 0 0\nclient-output-buffer-limit replica 256mb 64mb 60\n"))
    }
}
