import CTern
import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerACLCommands() {
        commands.register("acl|setuser", ACLCommands.setuser)
        commands.register("acl|getuser", ACLCommands.getuser)
        commands.register("acl|deluser", ACLCommands.deluser)
        commands.register("acl|list", ACLCommands.list)
        commands.register("acl|users", ACLCommands.users)
        commands.register("acl|whoami", ACLCommands.whoami)
        commands.register("acl|cat", ACLCommands.cat)
        commands.register("acl|log", ACLCommands.log)
        commands.register("acl|genpass", ACLCommands.genpass)
        commands.register("acl|dryrun", ACLCommands.dryrun)
        commands.register("acl|load", ACLCommands.load)
        commands.register("acl|save", ACLCommands.save)
        commands.register("acl|help", ACLCommands.help)
    }
}

/// The ACL command (Redis 7.0's aclCommand), one function per subcommand.
enum ACLCommands {
    static func subcommandSyntaxError(_ c: Client, _ a: Args) {
        c.error("ERR unknown subcommand or wrong number of arguments for '\(Engine.truncated(a.string(1)))'. Try ACL HELP.")
    }

    static func setuser(_ c: Client, _ a: Args) {
        let rules = (3..<max(3, a.count)).map { a.bytes($0) }
        if let err = c.engine.setUser(a.string(2), rules) { c.error("ERR " + err) } else { c.out.ok() }
    }

    static func getuser(_ c: Client, _ a: Args) {
        let e = c.engine
        guard let u = e.acl.user(a.string(2)) else { c.out.null(); return }
        c.out.map(6)
        c.out.bulk("flags")
        let flags = u.flagNames
        c.out.set(flags.count)
        for f in flags { c.out.bulk(f) }
        c.out.bulk("passwords")
        c.out.array(u.passwords.count)
        for p in u.passwords { c.out.bulk(p) }
        describeSelector(c, u.root, e.commands)
        c.out.bulk("selectors")
        c.out.array(u.selectors.count - 1)
        for s in u.selectors.dropFirst() {
            c.out.map(3)
            describeSelector(c, s, e.commands)
        }
    }

    static func describeSelector(_ c: Client, _ s: ACLSelector, _ table: CommandTable) {
        c.out.bulk("commands"); c.out.bulk(s.commandRules(table))
        c.out.bulk("keys"); c.out.bulk(s.keysText)
        c.out.bulk("channels"); c.out.bulk(s.channelsText)
    }

    static func deluser(_ c: Client, _ a: Args) {
        let e = c.engine
        var deleted = 0
        for i in 2..<a.count {
            let name = a.string(i)
            if name == "default" {
                c.error("ERR The 'default' user cannot be removed")
                return
            }
        }
        for i in 2..<a.count where e.deleteUser(a.string(i)) { deleted += 1 }
        c.out.integer(deleted)
    }

    static func list(_ c: Client, _ a: Args) {
        let e = c.engine
        let users = e.acl.sortedUsers
        c.out.array(users.count)
        for u in users { c.out.bulk("user \(u.name) \(u.describe(e.commands))") }
    }

    static func users(_ c: Client, _ a: Args) {
        let users = c.engine.acl.sortedUsers
        c.out.array(users.count)
        for u in users { c.out.bulk(u.name) }
    }

    static func whoami(_ c: Client, _ a: Args) {
        if let u = c.aclUser { c.out.bulk(u.name) } else { c.out.null() }
    }

    static func cat(_ c: Client, _ a: Args) {
        if a.count > 3 { subcommandSyntaxError(c, a); return }
        if a.count == 2 {
            c.out.array(ACLCategories.names.count)
            for (name, _) in ACLCategories.names { c.out.bulk(name) }
            return
        }
        guard let category = ACLCategories.named(a.string(2)) else {
            c.error("ERR Unknown category '\(Engine.truncated(a.string(2)))'")
            return
        }
        var names: [String] = []
        func walk(_ cmds: [Command]) {
            for cmd in cmds {
                if !cmd.aclCategories.isDisjoint(with: category) { names.append(cmd.fullName) }
                if cmd.hasSubcommands { walk(cmd.subcommands.values.sorted { $0.id < $1.id }) }
            }
        }
        walk(c.engine.commands.commands)
        c.out.array(names.count)
        for n in names { c.out.bulk(n) }
    }

    /// ACL LOG [count | RESET]
    static func log(_ c: Client, _ a: Args) {
        let e = c.engine
        if a.count > 3 { subcommandSyntaxError(c, a); return }
        var count = 10
        if a.count == 3 {
            if a.equals(2, "reset") {
                e.acl.log = []
                c.out.ok()
                return
            }
            guard let n = Numbers.parseInt(a[2]) else { c.notInteger(); return }
            count = max(0, n)
        }
        let entries = e.acl.log.prefix(count)
        c.out.array(entries.count)
        for le in entries {
            c.out.map(7)
            c.out.bulk("count"); c.out.integer(le.count)
            c.out.bulk("reason"); c.out.bulk(le.reason.logName)
            c.out.bulk("context"); c.out.bulk(le.context)
            c.out.bulk("object"); c.out.bulk(le.object)
            c.out.bulk("username"); c.out.bulk(le.username)
            c.out.bulk("age-seconds"); c.out.double(Double(e.nowMs - le.createdMs) / 1000)
            c.out.bulk("client-info"); c.out.bulk(le.clientInfo)
        }
    }

    /// ACL GENPASS [bits]: random bytes as lowercase hex, rounded up to whole characters.
    static func genpass(_ c: Client, _ a: Args) {
        if a.count > 3 { subcommandSyntaxError(c, a); return }
        var bits = 256
        if a.count == 3 {
            guard let n = Numbers.parseInt(a[2]) else { c.notInteger(); return }
            guard n > 0, n <= 4096 else {
                c.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
                return
            }
            bits = n
        }
        let chars = (bits + 3) / 4
        var bytes = [UInt8](repeating: 0, count: (chars + 1) / 2)
        bytes.withUnsafeMutableBytes { tern_random_bytes($0.baseAddress, $0.count) }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(chars + 1)
        for b in bytes {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 15)])
        }
        c.out.bulk(Array(out.prefix(chars)))
    }

    /// ACL DRYRUN user command [arg ...]: the check dispatch would make, without running.
    static func dryrun(_ c: Client, _ a: Args) {
        let e = c.engine
        guard let u = e.acl.user(a.string(2)) else {
            c.error("ERR User '\(a.string(2))' not found")
            return
        }
        let sub = OwnedArgs(Array((3..<a.count).map { a.bytes($0) }))
        sub.withArgs { s in
            // A container alone is looked up as itself (its arity then refuses it).
            var cmd = e.commands.lookup(s[0])
            if let top = cmd, top.hasSubcommands, s.count >= 2 { cmd = top.subcommands[s.lowercased(1)] }
            guard let cmd else {
                c.error("ERR Command '\(a.string(3))' not found")
                return
            }
            if (cmd.arity > 0 && cmd.arity != s.count) || s.count < -cmd.arity {
                c.error("ERR wrong number of arguments for '\(cmd.fullName)' command")
                return
            }
            guard let (denial, idx) = e.checkPermission(u, cmd, s) else { c.out.ok(); return }
            switch denial {
            case .command: c.out.bulk("This user has no permissions to run the '\(cmd.fullName)' command")
            case .key: c.out.bulk("This user has no permissions to access the '\(s.string(idx))' key")
            default: c.out.bulk("This user has no permissions to access the '\(s.string(idx))' channel")
            }
        }
    }

    static let noACLFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."

    static func load(_ c: Client, _ a: Args) {
        let e = c.engine
        if e.config.aclfile.isEmpty { c.error(noACLFile); return }
        if let err = e.loadACLFile(e.config.aclfile) { c.error("ERR " + err) } else { c.out.ok() }
    }

    static func save(_ c: Client, _ a: Args) {
        let e = c.engine
        if e.config.aclfile.isEmpty { c.error(noACLFile); return }
        if let err = e.saveACLFile(e.config.aclfile) {
            e.log(.warning, err)
            c.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        } else {
            c.out.ok()
        }
    }

    static let helpLines = [
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    The command categories, or the commands of one category.",
        "DELUSER <username> [<username> ...]",
        "    Remove users, disconnecting their clients.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Tell whether the user may run the command, without running it.",
        "GETUSER <username>",
        "    The user's flags, passwords and selectors.",
        "GENPASS [<bits>]",
        "    A random password of 256 bits, or of <bits> bits.",
        "LIST",
        "    Every user as a config file line.",
        "LOAD",
        "    Replace the users with those of the ACL file.",
        "LOG [<count> | RESET]",
        "    The latest denied commands and failed authentications, or clear them.",
        "SAVE",
        "    Write the users to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create a user or change its rules.",
        "USERS",
        "    The names of every user.",
        "WHOAMI",
        "    The user of this connection.",
        "HELP",
        "    Prints this help.",
    ]

    static func help(_ c: Client, _ a: Args) { ObjectCommand.replyHelp(c, helpLines) }
}
