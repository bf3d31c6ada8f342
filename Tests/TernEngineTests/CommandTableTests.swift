import XCTest
@testable import TernEngine
@testable import TernProtocol

/// The command table's typed facts: hidden flags, ACL categories, command ids.
final class CommandTableTests: XCTestCase {
    func testHiddenFlagsAreCarried() {
        let e = GetKeysTests.engineWithEveryCommand()
        func flags(_ name: String) -> CommandFlags { e.commands.lookupFull(name)?.flags ?? [] }
        for name in ["eval", "evalsha", "fcall", "pfcount", "publish", "spublish"] {
            XCTAssertTrue(flags(name).contains(.mayReplicate), name)
        }
        XCTAssertFalse(flags("eval_ro").contains(.mayReplicate))
        XCTAssertFalse(flags("subscribe").contains(.mayReplicate))
        for name in ["debug", "module|load", "module|loadex", "module|unload"] {
            XCTAssertTrue(flags(name).contains(.protected), name)
        }
        XCTAssertFalse(flags("module|list").contains(.protected))
        XCTAssertEqual(["randomkey", "scan"].map { flags($0).contains(.touchesArbitraryKeys) }, [true, true])
        XCTAssertFalse(flags("keys").contains(.touchesArbitraryKeys))
        XCTAssertTrue(flags("client|pause").contains(.sentinel))
        XCTAssertTrue(flags("publish").isSuperset(of: [.sentinel, .mayReplicate, .pubsub]))
        XCTAssertFalse(flags("get").contains(.sentinel))
        // The catalog's own flags are still there.
        XCTAssertTrue(flags("set").isSuperset(of: [.write, .denyoom]))
        XCTAssertTrue(flags("restore-asking").contains(.asking))
        // Counts of command-flags.md (sentinel commands are in the table, not in the catalog).
        let table = HiddenCommandFlags.table
        XCTAssertEqual(table.values.filter { $0.contains(.mayReplicate) }.count, 6)
        XCTAssertEqual(table.values.filter { $0.contains(.protected) }.count, 4)
        XCTAssertEqual(table.values.filter { $0.contains(.touchesArbitraryKeys) }.count, 2)
        XCTAssertEqual(table.values.filter { $0.contains(.sentinel) }.count, 72)
        XCTAssertEqual(table.values.filter { $0.contains(.onlySentinel) }.count, 22)
    }

    /// COMMAND INFO prints the catalog's flags: never the hidden ones, for any command.
    func testCommandInfoDoesNotShowHiddenFlags() {
        let e = GetKeysTests.engineWithEveryCommand()
        let c = e.createClient()
        OwnedArgs(strings: ["COMMAND", "INFO"]).withArgs { e.execute(c, $0) }
        let text = String(decoding: c.out.bytes, as: UTF8.self)
        let hidden = CommandFlags.names.filter { CommandFlags.hiddenFromInfo.contains($0.1) }.map(\.0)
        XCTAssertEqual(hidden.count, 5)
        for name in hidden { XCTAssertFalse(text.contains("+\(name)\r\n"), name) }
        XCTAssertTrue(text.contains("+pubsub\r\n"))
    }

    func testACLCategoriesBitset() {
        let e = GetKeysTests.engineWithEveryCommand()
        func cats(_ name: String) -> ACLCategories { e.commands.lookupFull(name)?.aclCategories ?? [] }
        XCTAssertEqual(cats("get"), [.read, .string, .fast])
        XCTAssertEqual(cats("zunionstore"), [.write, .sortedset, .slow])
        XCTAssertEqual(cats("client|kill"), [.admin, .slow, .dangerous, .connection])
        XCTAssertEqual(cats("blpop"), [.write, .list, .slow, .blocking])
        XCTAssertEqual(ACLCategories.names.count, 21)
        XCTAssertEqual(ACLCategories.named("SortedSet"), .sortedset)
        XCTAssertNil(ACLCategories.named("@read"))
        // Every category the catalog names is known, and every command has at least one.
        for cmd in e.commands.allIncludingSubcommands {
            let listed = cmd.info.elements[6].elements.compactMap(\.text)
            XCTAssertEqual(listed.count, ACLCategories.names.filter { cmd.aclCategories.contains($0.1) }.count, cmd.name)
        }
    }

    func testCommandIDsAreDenseAndStable() {
        let e = GetKeysTests.engineWithEveryCommand()
        let all = e.commands.allIncludingSubcommands
        XCTAssertEqual(Set(all.map(\.id)), Set(0..<all.count))
        XCTAssertEqual(e.commands.byID.count, all.count)
        for cmd in all { XCTAssertTrue(e.commands.byID[cmd.id] === cmd) }
        // Registering a name again keeps the command and its id.
        let get = e.commands.lookupFull("get")!
        let id = get.id
        e.commands.register("get") { c, _ in c.out.ok() }
        XCTAssertTrue(e.commands.lookupFull("get") === get)
        XCTAssertEqual(get.id, id)
        let sub = e.commands.lookupFull("config|get")!
        e.commands.register("config|get") { c, _ in c.out.ok() }
        XCTAssertTrue(e.commands.lookupFull("config|get") === sub)
    }
}
