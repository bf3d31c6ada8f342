import XCTest
import TernConfig
import TernProtocol
import TernStore
@testable import TernEngine

/// ACL rule parsing and the permission check without a network: each rule's effect on a
/// user, the errors Redis gives, selector argument merging, the rebuilt "commands" text,
/// and the check dispatch runs (command bits, first arguments, %R/%W keys, channels).
/// Expected texts were read from redis-server 7.0.15 (pytests/integration/test_acl.py
/// compares the same things side by side).
final class ACLRuleTests: XCTestCase {
    var engine: Engine!

    override func setUp() { engine = Engine(config: ServerConfig()) }

    func user(_ name: String, _ rules: String...) -> ACLUser? {
        XCTAssertNil(engine.setUser(name, rules.map { Array($0.utf8) }))
        return engine.acl.user(name)
    }

    func error(_ rules: String...) -> String? {
        engine.setUser("e", rules.map { Array($0.utf8) })
    }

    func check(_ u: ACLUser, _ words: String...) -> (ACLDenial, Int)? {
        Args.with(words.map { Array($0.utf8) }) { a -> (ACLDenial, Int)? in
            var cmd = engine.commands.lookup(a[0])
            if let top = cmd, top.hasSubcommands, a.count > 1 { cmd = top.subcommands[a.lowercased(1)] }
            guard let cmd else { XCTFail("no command \(words[0])"); return nil }
            return engine.checkPermission(u, cmd, a)
        }
    }

    func testNewUserAndDefaultUserDescriptions() {
        let u = user("fresh")!
        XCTAssertEqual(u.describe(engine.commands), "off resetchannels -@all")
        XCTAssertEqual(engine.acl.defaultUser.describe(engine.commands), "on nopass ~* &* +@all")
        XCTAssertTrue(engine.acl.defaultUser.isUnrestricted)
        XCTAssertFalse(u.isUnrestricted)
    }

    func testPasswordsFlagsAndPatterns() {
        let u = user("u", "on", ">a", ">b", "<a", "#" + String(repeating: "c", count: 64), "~k*", "%R~r*", "%W~w*",
                     "%RW~x", "%R~k*", "&ch", "skip-sanitize-payload")!
        XCTAssertEqual(u.passwords, [SHA256Digest.hex(Array("b".utf8)), String(repeating: "c", count: 64)])
        XCTAssertEqual(u.flagNames, ["on", "skip-sanitize-payload"])
        // A pattern given again widens its permissions instead of being added twice.
        XCTAssertEqual(u.root.keysText, "~k* %R~r* %W~w* ~x")
        XCTAssertEqual(u.root.channelsText, "&ch")
        XCTAssertTrue(u.checkPassword(Array("b".utf8)))
        XCTAssertFalse(u.checkPassword(Array("a".utf8)))
        _ = user("u", "nopass")
        XCTAssertTrue(u.checkPassword(Array("anything".utf8)))
        _ = user("u", "resetpass")
        XCTAssertFalse(u.checkPassword(Array("anything".utf8)))
        _ = user("u", "reset")
        XCTAssertEqual(u.describe(engine.commands), "off sanitize-payload resetchannels -@all")
    }

    func testRuleErrors() {
        let syntax = "Syntax error"
        XCTAssertEqual(error("%~a"), "Error in ACL SETUSER modifier '%~a': \(syntax)")
        XCTAssertEqual(error("%RX~a"), "Error in ACL SETUSER modifier '%RX~a': \(syntax)")
        XCTAssertEqual(error("bogus"), "Error in ACL SETUSER modifier 'bogus': \(syntax)")
        XCTAssertEqual(error("+@nope"), "Error in ACL SETUSER modifier '+@nope': Unknown command or category name in ACL")
        XCTAssertEqual(error("+config|get|x"), "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported")
        XCTAssertEqual(error("<none"), "Error in ACL SETUSER modifier '<none': The password you are trying to remove from the user does not exist")
        XCTAssertEqual(error("#ABC"), "Error in ACL SETUSER modifier '#ABC': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
        XCTAssertTrue(error("allkeys", "~a")?.contains("Adding a pattern after the * pattern (or the 'allkeys' flag)") == true)
        XCTAssertTrue(error("allchannels", "&a")?.contains("(or the 'allchannels' flag)") == true)
        XCTAssertEqual(error("on", "(+get", "~a"), "Unmatched parenthesis in acl selector starting at '(+get'.")
        XCTAssertEqual(engine.setUser("a b", []), "Usernames can't contain spaces or null characters")
        // Nothing of a failed SETUSER is applied.
        XCTAssertNil(engine.acl.user("e"))
    }

    func testSelectorArgumentsAreMerged() {
        let merged = ACLUser.mergeSelectorArguments(["on", "(~a", "+get)", "(+set)", "~b"].map { Array($0.utf8) })
        guard case .success(let m) = merged else { return XCTFail() }
        XCTAssertEqual(m.map { String(decoding: $0, as: UTF8.self) }, ["on", "(~a +get)", "(+set)", "~b"])
        guard case .failure(let e) = ACLUser.mergeSelectorArguments(["x", "(~a"].map { Array($0.utf8) }) else { return XCTFail() }
        XCTAssertEqual(e.index, 1)
    }

    func testCommandRulesDescription() {
        XCTAssertEqual(user("a", "+@all", "-@dangerous")!.root.commandRules(engine.commands), "+@all -@dangerous")
        XCTAssertEqual(user("b", "-@all", "+@string", "-setrange")!.root.commandRules(engine.commands), "-@all +@string -setrange")
        XCTAssertEqual(user("c", "+select|0", "+config|get")!.root.commandRules(engine.commands), "-@all +select|0 +config|get")
        XCTAssertEqual(user("d", "+@all", "-get", "+get")!.root.commandRules(engine.commands), "+@all")
    }

    func testPermissionCheck() {
        let u = user("p", "on", "nopass", "~k*", "%R~ro*", "%W~wo*", "&news.*", "+get", "+set", "+copy", "+select|0",
                     "+publish", "+psubscribe", "(+del ~d*)")!
        XCTAssertNil(check(u, "get", "k1"))
        XCTAssertTrue(check(u, "get", "x")! == (.key, 1))
        XCTAssertTrue(check(u, "incr", "k1")! == (.command, 0))
        XCTAssertNil(check(u, "get", "ro1"))
        XCTAssertTrue(check(u, "set", "ro1", "v")! == (.key, 1))
        XCTAssertNil(check(u, "set", "wo1", "v"))
        // COPY reads its source and writes its destination.
        XCTAssertNil(check(u, "copy", "ro1", "wo1"))
        // The first key a selector refuses is the one reported.
        XCTAssertTrue(check(u, "copy", "wo1", "ro1")! == (.key, 1))
        XCTAssertNil(check(u, "select", "0"))
        XCTAssertTrue(check(u, "select", "1")! == (.command, 0))
        XCTAssertNil(check(u, "publish", "news.1", "m"))
        XCTAssertTrue(check(u, "publish", "other", "m")! == (.channel, 1))
        // A pattern subscription must name an allowed pattern literally.
        XCTAssertNil(check(u, "psubscribe", "news.*"))
        XCTAssertTrue(check(u, "psubscribe", "news.1*")! == (.channel, 1))
        // The second selector allows DEL of d* only; for other keys the key denial wins.
        XCTAssertNil(check(u, "del", "d1"))
        XCTAssertTrue(check(u, "del", "k1")! == (.key, 1))
    }

    func testDispatchRefusesAndLogs() {
        _ = user("r", "on", ">pw", "+get", "~k*")
        let c = engine.createClient()
        func run(_ words: String...) -> String {
            c.out.removeAll()
            Args.with(words.map { Array($0.utf8) }) { engine.execute(c, $0) }
            return String(decoding: c.out.bytes, as: UTF8.self)
        }
        XCTAssertEqual(run("AUTH", "r", "nope"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        XCTAssertEqual(run("AUTH", "r", "pw"), "+OK\r\n")
        XCTAssertFalse(c.aclUnrestricted)
        XCTAssertEqual(run("SET", "k", "v"), "-NOPERM this user has no permissions to run the 'set' command\r\n")
        XCTAssertEqual(run("GET", "z"), "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n")
        XCTAssertEqual(run("GET", "k"), "$-1\r\n")
        XCTAssertEqual(engine.acl.log.map(\.reason), [.key, .command, .auth])
        // Widening the user updates its clients' dispatch flag at once.
        _ = user("r", "+@all", "allkeys", "allchannels")
        XCTAssertTrue(c.aclUnrestricted)
        XCTAssertEqual(run("SET", "k", "v"), "+OK\r\n")
    }
}
