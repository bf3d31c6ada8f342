import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerCommandCommands() {
        commands.register("command", CommandCommand.all)
        commands.register("command|count", CommandCommand.count)
        commands.register("command|info", CommandCommand.info)
        commands.register("command|docs", CommandCommand.docs)
        commands.register("command|list", CommandCommand.list)
        commands.register("command|getkeys", CommandCommand.getkeys)
        commands.register("command|getkeysandflags", CommandCommand.getkeysAndFlags)
        commands.register("command|help", CommandCommand.help)
    }
}

extension CommandTable {
    /// Registered subcommands of `cmd`, in the catalog's order.
    func orderedSubcommands(_ cmd: Command) -> [Command] {
        guard !cmd.subcommands.isEmpty else { return [] }
        let e = cmd.info.elements
        guard e.count > 9 else { return cmd.subcommands.values.sorted { $0.name < $1.name } }
        return e[9].elements.compactMap { sub -> Command? in
            guard let full = sub.elements.first?.text, let bar = full.firstIndex(of: "|") else { return nil }
            return cmd.subcommands[String(full[full.index(after: bar)...])]
        }
    }

    /// Every registered command, each container followed by its subcommands.
    var everyCommand: [Command] {
        var out: [Command] = []
        for c in commands {
            out.append(c)
            out += orderedSubcommands(c)
        }
        return out
    }

    /// COMMAND INFO element: the catalog facts with the subcommand list cut down to
    /// the subcommands Tern registers.
    func infoValue(_ cmd: Command) -> RESPValue {
        guard case .array(var e) = cmd.info, e.count > 9, !cmd.subcommands.isEmpty else { return cmd.info }
        e[9] = .array(orderedSubcommands(cmd).map { infoValue($0) })
        return .array(e)
    }

    /// COMMAND DOCS value: facts plus Tern's summary, registered subcommands only.
    func docsValue(_ cmd: Command) -> RESPValue {
        guard case .map(var m) = cmd.docs, !cmd.subcommands.isEmpty else { return cmd.docs }
        let subs = orderedSubcommands(cmd).map { (RESPValue.bulk(Array($0.fullName.utf8)), docsValue($0)) }
        if let i = m.firstIndex(where: { $0.0.text == "subcommands" }) {
            m[i].1 = .map(subs)
        } else {
            m.append((.bulk(Array("subcommands".utf8)), .map(subs)))
        }
        return .map(m)
    }
}

enum CommandCommand {
    /// COMMAND: info for every registered command.
    static func all(_ c: Client, _ a: Args) {
        let t = c.engine.commands
        c.out.array(t.commands.count)
        for cmd in t.commands { c.out.write(t.infoValue(cmd)) }
    }

    static func count(_ c: Client, _ a: Args) { c.out.integer(c.engine.commands.commands.count) }

    static func info(_ c: Client, _ a: Args) {
        let t = c.engine.commands
        if a.count == 2 { all(c, a); return }
        c.out.array(a.count - 2)
        for i in 2..<a.count {
            if let cmd = t.lookupFull(a.string(i)) { c.out.write(t.infoValue(cmd)) } else { c.out.null() }
        }
    }

    static func docs(_ c: Client, _ a: Args) {
        let t = c.engine.commands
        var picked: [Command] = []
        if a.count == 2 {
            picked = t.commands
        } else {
            for i in 2..<a.count { if let cmd = t.lookupFull(a.string(i)) { picked.append(cmd) } }
        }
        c.out.map(picked.count)
        for cmd in picked {
            c.out.bulk(cmd.fullName)
            c.out.write(t.docsValue(cmd))
        }
    }

    /// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
    static func list(_ c: Client, _ a: Args) {
        let every = c.engine.commands.everyCommand
        var names: [String]
        if a.count == 2 {
            names = every.map(\.fullName)
        } else if a.count == 5 && a.equals(2, "filterby") {
            if a.equals(3, "module") {
                names = []
            } else if a.equals(3, "aclcat") {
                // An unknown category matches nothing (an empty list, as Redis answers).
                let category = ACLCategories.named(a.string(4))
                names = category.map { cat in every.filter { $0.aclCategories.contains(cat) }.map(\.fullName) } ?? []
            } else if a.equals(3, "pattern") {
                let pattern = a.bytes(4)
                names = every.map(\.fullName).filter { Glob.match(pattern, Array($0.utf8), nocase: true) }
            } else {
                c.syntaxError()
                return
            }
        } else {
            c.syntaxError()
            return
        }
        c.out.array(names.count)
        for n in names { c.out.bulk(n) }
    }

    static func getkeys(_ c: Client, _ a: Args) { keys(c, a, withFlags: false) }
    static func getkeysAndFlags(_ c: Client, _ a: Args) { keys(c, a, withFlags: true) }

    /// COMMAND GETKEYS / GETKEYSANDFLAGS <command> <args...>: the command's key finder on
    /// args[2...], with Redis's errors.
    static func keys(_ c: Client, _ a: Args, withFlags: Bool) {
        let t = c.engine.commands
        guard var cmd = t.lookup(a[2]) else { c.error("ERR Invalid command specified"); return }
        if cmd.hasSubcommands {
            guard a.count > 3, let sub = cmd.subcommands[a.lowercased(3)] else {
                c.error("ERR Invalid command specified")
                return
            }
            cmd = sub
        }
        let finder = cmd.keyFinder
        guard finder.hasKeys else { c.error("ERR The command has no key arguments"); return }
        let argc = a.count - 2
        if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
            c.error("ERR Invalid number of arguments specified for command")
            return
        }
        // The analysed call is a view of args[2...]: key indexes are relative to it.
        let call = Args(base: a.base, spans: a.spans + 4, count: argc)
        let found = finder.keys(call)
        if found.isEmpty {
            if cmd.flags.contains(.noMandatoryKeys) { c.out.array(0) } else { c.error("ERR Invalid arguments specified for command") }
            return
        }
        c.out.array(found.count)
        for k in found {
            if withFlags {
                c.out.array(2)
                c.out.bulk(call[k.index])
                let names = k.flags.nameList
                c.out.set(names.count)
                for f in names { c.out.simple(f) }
            } else {
                c.out.bulk(call[k.index])
            }
        }
    }

    static func help(_ c: Client, _ a: Args) {
        HelpText.reply(c, "COMMAND", [
            "(no subcommand)",
            "    Describe every command the server knows.",
            "COUNT",
            "    How many commands the server knows.",
            "GETKEYS <full-command>",
            "    Which arguments of <full-command> are key names.",
            "GETKEYSANDFLAGS <full-command>",
            "    Which arguments of <full-command> are key names, with how each key is used.",
            "INFO [<command-name> ...]",
            "    Describe the named commands, or every command when none is named.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Names of every command, optionally only those of a module, of an ACL",
            "    category, or matching a glob-style pattern.",
            "DOCS [<command-name> ...]",
            "    Documentation of the named commands, or of every command when none is named.",
        ])
    }
}
