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
                let cat = "@" + a.lowercased(4)
                names = every.filter { $0.aclCategories.contains(cat) }.map(\.fullName)
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

    static func keys(_ c: Client, _ a: Args, withFlags: Bool) {
        // The command to analyse is args[2...].
        let t = c.engine.commands
        guard var cmd = t.lookup(a[2]) else { c.error("ERR Invalid command specified"); return }
        if !cmd.subcommands.isEmpty {
            guard a.count > 3, let sub = cmd.subcommands[a.lowercased(3)] else {
                c.error("ERR Invalid command specified")
                return
            }
            cmd = sub
        }
        let specs = KeySpec.specs(of: cmd)
        guard KeySpec.hasKeys(cmd, specs) else { c.error("ERR The command has no key arguments"); return }
        let argc = a.count - 2
        if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
            c.error("ERR Invalid number of arguments specified for command")
            return
        }
        let found = KeySpec.keys(cmd, specs, a, offset: 2)
        if found.isEmpty {
            if cmd.flags.contains(.noMandatoryKeys) { c.out.array(0) } else { c.error("ERR Invalid arguments specified for command") }
            return
        }
        c.out.array(found.count)
        for k in found {
            if withFlags {
                c.out.array(2)
                c.out.bulk(a[k.index + 2])
                c.out.set(k.flags.count)
                for f in k.flags { c.out.simple(f) }
            } else {
                c.out.bulk(a[k.index + 2])
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

/// A key specification from the command catalog: where the first key is (an index or
/// the argument after a keyword) and how the keys go on from there (a range or a count).
struct KeySpec {
    enum Begin { case index(Int), keyword(String, Int), unknown }
    enum Find { case range(last: Int, step: Int, limit: Int), keynum(index: Int, first: Int, step: Int), unknown }
    let flags: [String]
    let begin: Begin
    let find: Find

    var isNotKey: Bool { flags.contains("not_key") }
    var isIncomplete: Bool { flags.contains("incomplete") }
    var hasVariableFlags: Bool { flags.contains("variable_flags") }
    /// Flags as GETKEYSANDFLAGS prints them for a key this spec found.
    var keyFlags: [String] { flags.filter { $0 != "variable_flags" && $0 != "incomplete" } }

    static func specs(of cmd: Command) -> [KeySpec] {
        let e = cmd.info.elements
        guard e.count > 8 else { return [] }
        return e[8].elements.map { spec in
            let flags = spec["flags"]?.elements.compactMap(\.text) ?? []
            var begin = Begin.unknown, find = Find.unknown
            if let bs = spec["begin_search"], let s = bs["spec"] {
                switch bs["type"]?.text {
                case "index": begin = .index(s["index"]?.int ?? 0)
                case "keyword": begin = .keyword(s["keyword"]?.text ?? "", s["startfrom"]?.int ?? 0)
                default: break
                }
            }
            if let fk = spec["find_keys"], let s = fk["spec"] {
                switch fk["type"]?.text {
                case "range": find = .range(last: s["lastkey"]?.int ?? 0, step: s["keystep"]?.int ?? 1, limit: s["limit"]?.int ?? 0)
                case "keynum": find = .keynum(index: s["keynumidx"]?.int ?? 0, first: s["firstkey"]?.int ?? 1, step: s["keystep"]?.int ?? 1)
                default: break
                }
            }
            return KeySpec(flags: flags, begin: begin, find: find)
        }
    }

    /// Whether the command takes key arguments at all (a spec that is not "not_key").
    static func hasKeys(_ cmd: Command, _ specs: [KeySpec]) -> Bool {
        specs.contains { !$0.isNotKey } || cmd.getKeys != nil
    }

    struct FoundKey { let index: Int; let flags: [String] }

    /// Key positions (relative to the analysed command) of a concrete call; `a[offset]`
    /// is the command name. Follows the key specs; commands whose specs cannot describe
    /// the call (incomplete or unknown specs, bad key counts) use their own rules,
    /// as the server's per-command key finders do.
    static func keys(_ cmd: Command, _ specs: [KeySpec], _ a: Args, offset: Int) -> [FoundKey] {
        let argc = a.count - offset
        if specs.contains(where: \.hasVariableFlags) {
            if let found = variableFlagKeys(cmd, a, offset: offset) { return found }
        }
        if let found = fromSpecs(specs, a, offset: offset, argc: argc) { return found }
        return fallback(cmd, specs, a, offset: offset, argc: argc)
    }

    static func fromSpecs(_ specs: [KeySpec], _ a: Args, offset: Int, argc: Int) -> [FoundKey]? {
        var out: [FoundKey] = []
        for spec in specs where !spec.isNotKey {
            var first: Int
            switch spec.begin {
            case .index(let i):
                first = i
            case .keyword(let word, let startFrom):
                let lower = Array(word.lowercased().utf8)
                var at: Int? = nil
                if startFrom >= 0 {
                    var i = startFrom
                    while i < argc { if equalsLower(a[offset + i], lower) { at = i; break }; i += 1 }
                } else {
                    var i = argc + startFrom
                    while i >= 1 { if equalsLower(a[offset + i], lower) { at = i; break }; i -= 1 }
                }
                guard let k = at else { continue }     // optional keyword absent: no keys here
                first = k + 1
            case .unknown:
                return nil
            }
            if first >= argc { continue }
            switch spec.find {
            case .range(let lastKey, let step, let limit):
                let last: Int
                if lastKey >= 0 { last = first + lastKey }
                else if limit <= 1 { last = argc + lastKey }
                else { last = first + (argc - first) / limit + lastKey }
                if last >= argc || last < first { return nil }
                var i = first
                while i <= last { out.append(FoundKey(index: i, flags: spec.keyFlags)); i += max(1, step) }
            case .keynum(let numIndex, let firstKey, let step):
                let ni = first + numIndex
                // The count is read as a 64-bit integer and then held in a C int, as the server does.
                guard ni < argc, let parsed = Numbers.parseInt(a[offset + ni]), parsed > 0 else { return nil }
                let n = Int(Int32(truncatingIfNeeded: parsed))
                guard n > 0 else { return nil }
                let start = first + firstKey
                let (span, o1) = (n - 1).multipliedReportingOverflow(by: max(1, step))
                let (last, o2) = start.addingReportingOverflow(span)
                guard !o1, !o2, last < argc else { return nil }
                var i = start
                for _ in 0..<n { out.append(FoundKey(index: i, flags: spec.keyFlags)); i += max(1, step) }
            case .unknown:
                return nil
            }
            if spec.isIncomplete { return nil }
        }
        return out
    }

    /// SET and BITFIELD: one key whose access depends on the options used.
    static func variableFlagKeys(_ cmd: Command, _ a: Args, offset: Int) -> [FoundKey]? {
        let argc = a.count - offset
        guard argc > 1 else { return nil }
        switch cmd.name {
        case "set":
            var i = 3
            while i < argc {
                if a.equals(offset + i, "get") { return [FoundKey(index: 1, flags: ["RW", "access", "update"])] }
                i += 1
            }
            return [FoundKey(index: 1, flags: ["OW", "update"])]
        case "bitfield":
            var readOnly = true
            var i = 2
            while i < argc {
                let rest = argc - i - 1
                if a.equals(offset + i, "get") && rest >= 2 { i += 3; continue }
                if a.equals(offset + i, "overflow") && rest >= 1 { i += 2; continue }
                readOnly = false
                break
            }
            return [FoundKey(index: 1, flags: readOnly ? ["RO", "access"] : ["RW", "access", "update"])]
        default:
            return nil
        }
    }

    /// Per-command rules for calls the specs cannot describe.
    static func fallback(_ cmd: Command, _ specs: [KeySpec], _ a: Args, offset: Int, argc: Int) -> [FoundKey] {
        switch cmd.name {
        case "sort", "sort_ro":
            var out = [FoundKey(index: 1, flags: ["RO", "access"])]
            guard cmd.name == "sort" else { return out }
            // Options and how many arguments follow them; the last STORE wins.
            var store: Int? = nil
            var i = 2
            while i < argc {
                if a.equals(offset + i, "limit") { i += 3; continue }
                if a.equals(offset + i, "get") || a.equals(offset + i, "by") { i += 2; continue }
                if a.equals(offset + i, "store") {
                    if i + 1 < argc { store = i + 1 }
                    i += 2
                    continue
                }
                i += 1
            }
            if let s = store { out.append(FoundKey(index: s, flags: ["OW", "update"])) }
            return out
        case "migrate":
            let flags = ["RW", "access", "delete"]
            var i = 6
            while i < argc {
                if a.equals(offset + i, "keys") {
                    guard a.length(offset + 3) == 0 else { return [] }
                    return (i + 1 ..< max(i + 1, argc)).map { FoundKey(index: $0, flags: flags) }
                }
                if a.equals(offset + i, "auth") { i += 2; continue }
                if a.equals(offset + i, "auth2") { i += 3; continue }
                i += 1
            }
            return [FoundKey(index: 3, flags: flags)]
        default:
            break
        }
        if let g = cmd.getKeys {
            // The registered key finder expects the command's own argument vector.
            let own = Args(base: a.base, spans: a.spans + 2 * offset, count: argc)
            return g(own).filter { $0 > 0 && $0 < argc }.map { FoundKey(index: $0, flags: []) }
        }
        // Commands with a key count: read it leniently (leading digits), keys counted
        // first, then the other fixed keys; no flags are known on this path.
        guard let countSpec = specs.first(where: { if case .keynum = $0.find { return true }; return false }),
              case .keynum(let numIndex, let firstKey, let step) = countSpec.find,
              case .index(let begin) = countSpec.begin else { return [] }
        let ni = begin + numIndex
        guard ni < argc else { return [] }
        let n = leadingInt(a[offset + ni])
        let start = begin + firstKey
        guard n >= 1, n <= (argc - start + max(1, step) - 1) / max(1, step) else { return [] }
        var out: [FoundKey] = []
        var i = start
        for _ in 0..<n { out.append(FoundKey(index: i, flags: [])); i += max(1, step) }
        for spec in specs where !spec.isNotKey {
            if case .index(let at) = spec.begin, case .range(0, _, _) = spec.find, at < argc, at != ni {
                if at < start { out.append(FoundKey(index: at, flags: [])) }
            }
        }
        return out
    }

    /// C atoi: optional sign and leading digits (0 when none), clamped to 64 bits, then
    /// truncated to a 32-bit int.
    static func leadingInt(_ b: UnsafeRawBufferPointer) -> Int {
        Int(Int32(truncatingIfNeeded: leadingInt64(b)))
    }

    static func leadingInt64(_ b: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i < b.count && (b[i] == 32 || (b[i] >= 9 && b[i] <= 13)) { i += 1 }
        var neg = false
        if i < b.count && (b[i] == 45 || b[i] == 43) { neg = b[i] == 45; i += 1 }
        var v = 0
        while i < b.count && b[i] >= 48 && b[i] <= 57 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b[i] - 48))
            if o1 || o2 { return neg ? Int.min : Int.max }
            v = s
            i += 1
        }
        return neg ? -v : v
    }

    static func equalsLower(_ b: UnsafeRawBufferPointer, _ lower: [UInt8]) -> Bool {
        guard b.count == lower.count else { return false }
        for i in 0..<b.count {
            var ch = b[i]
            if ch >= 65 && ch <= 90 { ch |= 0x20 }
            if ch != lower[i] { return false }
        }
        return true
    }
}
