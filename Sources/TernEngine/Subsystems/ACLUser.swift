import TernProtocol
import TernStore

// ACL users and selectors (Redis 7.0's acl.c model): a user has flags, SHA-256 password
// hashes and a list of selectors, the first one the root selector. A selector holds a
// bitmap of allowed command ids (Command.id), first-argument exceptions (+select|0), key
// patterns with read/write permissions and channel patterns. A command is allowed when
// any selector allows it.

/// Why a rule was refused (Redis's errno values in ACLSetUser, and their messages).
public enum ACLRuleError: Error, Equatable {
    case unknownName, syntax, keyAfterAllKeys, channelAfterAllChannels, noSuchPassword, badHash
    case duplicateUser, subcommandFirstArg

    public var message: String {
        switch self {
        case .unknownName: return "Unknown command or category name in ACL"
        case .syntax: return "Syntax error"
        case .keyAfterAllKeys:
            return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
        case .channelAfterAllChannels:
            return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
        case .noSuchPassword: return "The password you are trying to remove from the user does not exist"
        case .badHash: return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
        case .duplicateUser: return "Duplicate user found. A user can only be defined once in config files"
        case .subcommandFirstArg: return "Allowing first-arg of a subcommand is not supported"
        }
    }
}

/// A key pattern with its permissions: `~p` (read and write), `%R~p`, `%W~p`, `%RW~p`.
struct ACLKeyPattern: Equatable {
    var pattern: [UInt8]
    var read: Bool
    var write: Bool

    /// How ACL LIST and GETUSER print it.
    var text: String {
        let p = String(decoding: pattern, as: UTF8.self)
        if read && write { return "~" + p }
        return (read ? "%R~" : "%W~") + p
    }
}

/// One selector: which commands, keys and channels it allows.
public final class ACLSelector {
    let isRoot: Bool
    var allKeys = false
    var allChannels = false
    /// Redis's SELECTOR_FLAG_ALLCOMMANDS: +@all set it and no command was removed since.
    var allCommands = false
    /// Redis's reserved command bit: set by +@all, cleared only by -@all. It decides whether
    /// the description starts from +@all (commands added later are allowed) or -@all.
    var futureCommands = false
    /// Allowed command ids, subcommands included.
    var bits: [UInt64]
    /// Allowed first arguments of otherwise refused commands (+select|0), by command id.
    var firstArgs: [Int: [String]] = [:]
    var keyPatterns: [ACLKeyPattern] = []
    var channels: [[UInt8]] = []

    init(root: Bool, commandCount: Int, allChannels: Bool) {
        isRoot = root
        self.allChannels = allChannels
        bits = Array(repeating: 0, count: commandCount / 64 + 1)
    }

    func copy() -> ACLSelector {
        let s = ACLSelector(root: isRoot, commandCount: 0, allChannels: allChannels)
        s.allKeys = allKeys
        s.allCommands = allCommands
        s.futureCommands = futureCommands
        s.bits = bits
        s.firstArgs = firstArgs
        s.keyPatterns = keyPatterns
        s.channels = channels
        return s
    }

    @inline(__always) func allows(_ id: Int) -> Bool {
        let w = id >> 6
        // Ids past the bitmap were never set one by one: +@all (the future-commands bit)
        // covers them, as Redis's fixed-size bitmap filled by +@all does.
        guard w < bits.count else { return futureCommands }
        return bits[w] & (1 << UInt64(id & 63)) != 0
    }

    func setBit(_ id: Int, _ on: Bool) {
        let w = id >> 6
        if w >= bits.count { bits += Array(repeating: futureCommands ? ~0 : 0, count: w - bits.count + 1) }
        if on {
            bits[w] |= 1 << UInt64(id & 63)
        } else {
            bits[w] &= ~(1 << UInt64(id & 63))
            allCommands = false
        }
    }

    /// Redis's ACLChangeSelectorPerm: the command and all its subcommands.
    func change(_ cmd: Command, _ on: Bool) {
        setBit(cmd.id, on)
        firstArgs[cmd.id] = nil
        for sub in cmd.subcommands.values { setBit(sub.id, on) }
    }

    /// Every registered command of `category` (recursing into subcommands), as Redis's
    /// ACLSetSelectorCommandBitsForCategory.
    func change(category: ACLCategories, _ on: Bool, in commands: [Command]) {
        for cmd in commands {
            if !cmd.aclCategories.isDisjoint(with: category) { change(cmd, on) }
            if cmd.hasSubcommands { change(category: category, on, in: Array(cmd.subcommands.values)) }
        }
    }

    /// Applies one selector rule (Redis's ACLSetSelector).
    func apply(_ op: [UInt8], _ table: CommandTable) throws(ACLRuleError) {
        let lower = String(decoding: op, as: UTF8.self).lowercased()
        switch lower {
        case "allkeys", "~*":
            allKeys = true
            keyPatterns = []
            return
        case "resetkeys":
            allKeys = false
            keyPatterns = []
            return
        case "allchannels", "&*":
            allChannels = true
            channels = []
            return
        case "resetchannels":
            allChannels = false
            channels = []
            return
        case "allcommands", "+@all":
            for i in bits.indices { bits[i] = ~0 }
            allCommands = true
            futureCommands = true
            firstArgs = [:]
            return
        case "nocommands", "-@all":
            for i in bits.indices { bits[i] = 0 }
            allCommands = false
            futureCommands = false
            firstArgs = [:]
            return
        default:
            break
        }
        guard let first = op.first else { throw .syntax }
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "%"):
            if allKeys { throw .keyAfterAllKeys }
            var read = true, write = true
            var offset = 1
            if first == UInt8(ascii: "%") {
                read = false
                write = false
                // "%R" without "~" is accepted too: the pattern is then empty.
                while offset < op.count {
                    let ch = op[offset] & ~0x20
                    if ch == UInt8(ascii: "R") && !read {
                        read = true
                    } else if ch == UInt8(ascii: "W") && !write {
                        write = true
                    } else if op[offset] == UInt8(ascii: "~") {
                        offset += 1
                        break
                    } else {
                        throw .syntax
                    }
                    offset += 1
                }
                if !(read || write) { throw .syntax }
            }
            let pattern = Array(op[offset...])
            if ACLSelector.hasSpaces(pattern) { throw .syntax }
            if let i = keyPatterns.firstIndex(where: { $0.pattern == pattern }) {
                keyPatterns[i].read = keyPatterns[i].read || read
                keyPatterns[i].write = keyPatterns[i].write || write
            } else {
                keyPatterns.append(ACLKeyPattern(pattern: pattern, read: read, write: write))
            }
            allKeys = false
        case UInt8(ascii: "&"):
            if allChannels { throw .channelAfterAllChannels }
            let pattern = Array(op.dropFirst())
            if ACLSelector.hasSpaces(pattern) { throw .syntax }
            if !channels.contains(pattern) { channels.append(pattern) }
            allChannels = false
        case UInt8(ascii: "+") where op.count > 1 && op[1] == UInt8(ascii: "@"),
             UInt8(ascii: "-") where op.count > 1 && op[1] == UInt8(ascii: "@"):
            guard let category = ACLCategories.named(String(lower.dropFirst(2))) else { throw .unknownName }
            change(category: category, first == UInt8(ascii: "+"), in: table.commands)
        case UInt8(ascii: "+"):
            let name = String(decoding: op.dropFirst(), as: UTF8.self)
            guard let bar = name.lastIndex(of: "|") else {
                guard let cmd = ACLSelector.command(name, table) else {
                    if ACLSelector.isUnimplemented(name, table) { return }
                    throw .unknownName
                }
                change(cmd, true)
                return
            }
            let base = String(name[..<bar]), sub = String(name[name.index(after: bar)...])
            guard let cmd = ACLSelector.command(base, table) else {
                if ACLSelector.isUnimplemented(base, table) && !sub.isEmpty { return }
                throw .unknownName
            }
            if cmd.parent != nil { throw .subcommandFirstArg }
            if sub.isEmpty { throw .syntax }
            if cmd.hasSubcommands {
                guard let s = cmd.subcommands[sub.lowercased()] else {
                    if ACLSelector.isUnimplemented(name, table) { return }
                    throw .unknownName
                }
                change(s, true)
            } else {
                // +select|0: allowed only with that first argument (Redis warns it is a
                // deprecated use of ACLs but accepts it).
                var list = firstArgs[cmd.id] ?? []
                if !list.contains(where: { $0.lowercased() == sub.lowercased() }) { list.append(sub) }
                firstArgs[cmd.id] = list
            }
        case UInt8(ascii: "-"):
            let name = String(decoding: op.dropFirst(), as: UTF8.self)
            guard let cmd = ACLSelector.command(name, table) else {
                if ACLSelector.isUnimplemented(name, table) { return }
                throw .unknownName
            }
            change(cmd, false)
        default:
            throw .syntax
        }
    }

    /// "name" or "container|sub" (Redis's lookupCommandBySds: an empty or third part finds
    /// nothing).
    static func command(_ name: String, _ table: CommandTable) -> Command? {
        let parts = name.split(separator: "|", omittingEmptySubsequences: false)
        if parts.count == 1 { return table.lookup(name) }
        guard parts.count == 2, !parts[1].isEmpty, let top = table.lookup(String(parts[0])) else { return nil }
        return top.subcommands[parts[1].lowercased()]
    }

    /// A command of Redis 7.0 that Tern does not implement: a rule naming it is accepted and
    /// changes nothing (the command is unknown here anyway), so configs written for Redis
    /// load. Not in sentinel mode, where Redis's table is the sentinel's too.
    static func isUnimplemented(_ name: String, _ table: CommandTable) -> Bool {
        table.namesUnregisteredCommands && table.catalogHas(name)
    }

    /// Redis's ACLStringHasSpaces: whitespace or NUL.
    static func hasSpaces(_ s: [UInt8]) -> Bool {
        s.contains { $0 == 0 || $0 == 32 || ($0 >= 9 && $0 <= 13) }
    }

    // MARK: description

    /// The key patterns as GETUSER prints them ("~*", or the patterns joined by spaces).
    var keysText: String {
        allKeys ? "~*" : keyPatterns.map(\.text).joined(separator: " ")
    }

    var channelsText: String {
        allChannels ? "&*" : channels.map { "&" + String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    /// Redis's ACLDescribeSelector: keys, channels, then the command rules.
    func describe(_ table: CommandTable) -> String {
        var out = ""
        if allKeys { out += "~* " } else { for p in keyPatterns { out += p.text + " " } }
        if allChannels {
            out += "&* "
        } else {
            out += "resetchannels "
            for ch in channels { out += "&" + String(decoding: ch, as: UTF8.self) + " " }
        }
        return out + commandRules(table)
    }

    /// Redis's ACLDescribeSelectorCommandRules: start from +@all or -@all, add categories
    /// that cover more commands than they miss (each applied to a scratch selector so the
    /// next one counts what is left), then fix single commands until the scratch bitmap
    /// equals this one. Redis emits single commands in its dict's (random) order; here they
    /// follow command ids.
    func commandRules(_ table: CommandTable) -> String {
        var rules: [String] = []
        let fake = ACLSelector(root: false, commandCount: bits.count * 64 - 1, allChannels: false)
        let additive = !futureCommands
        let start = additive ? "-@all" : "+@all"
        rules.append(start)
        try? fake.apply(Array(start.utf8), table)
        let temp = ACLSelector(root: false, commandCount: 0, allChannels: false)
        temp.bits = bits
        temp.futureCommands = futureCommands
        let top = table.commands
        // Greedy best fit: the category that fixes the most top-level commands (on minus
        // off when adding, off minus on when removing) first, until none gains anything.
        // Checked against redis-server 7.0: it picks the same categories (-@dangerous rather
        // than -@admin plus single commands for "+@all -@dangerous").
        while true {
            var best: (name: String, category: ACLCategories, gain: Int)? = nil
            for (name, category) in ACLCategories.names {
                var on = 0, off = 0
                for cmd in top where !cmd.aclCategories.isDisjoint(with: category) {
                    if temp.allows(cmd.id) { on += 1 } else { off += 1 }
                }
                let gain = additive ? on - off : off - on
                if gain > (best?.gain ?? 0) { best = (name, category, gain) }
            }
            guard let b = best else { break }
            fake.change(category: b.category, additive, in: top)
            temp.change(category: b.category, !additive, in: top)
            rules.append((additive ? "+@" : "-@") + b.name)
        }
        func single(_ cmd: Command) {
            let mine = allows(cmd.id)
            if mine != fake.allows(cmd.id) {
                rules.append((mine ? "+" : "-") + cmd.fullName)
                fake.change(cmd, mine)
            }
            if cmd.hasSubcommands {
                for sub in cmd.subcommands.values.sorted(by: { $0.id < $1.id }) { single(sub) }
            }
            if !mine, let args = firstArgs[cmd.id] {
                for a in args { rules.append("+" + cmd.fullName + "|" + a) }
            }
        }
        for cmd in top { single(cmd) }
        return rules.joined(separator: " ")
    }
}

/// One ACL user.
public final class ACLUser {
    public let name: String
    /// "on"/"off": a new user is off.
    public internal(set) var enabled = false
    public internal(set) var nopass = false
    /// nil: neither sanitize-payload nor skip-sanitize-payload was given.
    var sanitizePayload: Bool? = nil
    /// SHA-256 hashes (lowercase hex), in the order they were added.
    public internal(set) var passwords: [String] = []
    /// The root selector first.
    var selectors: [ACLSelector]
    /// Clients authenticated as this user (for DELUSER and rule changes).
    var clientCount = 0

    init(name: String, commandCount: Int, allChannels: Bool) {
        self.name = name
        selectors = [ACLSelector(root: true, commandCount: commandCount, allChannels: allChannels)]
    }

    var root: ACLSelector { selectors[0] }

    /// Every command, key and channel, with one selector: dispatch skips the ACL check
    /// for its clients.
    var isUnrestricted: Bool {
        let r = root
        return r.allCommands && r.allKeys && r.allChannels
    }

    /// A copy to stage SETUSER changes on (all rules apply, or none).
    func copy(named newName: String? = nil) -> ACLUser {
        let u = ACLUser(name: newName ?? name, commandCount: 0, allChannels: false)
        u.enabled = enabled
        u.nopass = nopass
        u.sanitizePayload = sanitizePayload
        u.passwords = passwords
        u.selectors = selectors.map { $0.copy() }
        return u
    }

    func take(_ other: ACLUser) {
        enabled = other.enabled
        nopass = other.nopass
        sanitizePayload = other.sanitizePayload
        passwords = other.passwords
        selectors = other.selectors
    }

    /// Applies one user rule (Redis's ACLSetUser); selector rules go to the root selector.
    func apply(_ op: [UInt8], _ table: CommandTable, pubsubDefaultAll: Bool) throws(ACLRuleError) {
        // An empty rule changes nothing (Redis).
        if op.isEmpty { return }
        let lower = String(decoding: op, as: UTF8.self).lowercased()
        switch lower {
        case "on": enabled = true
        case "off": enabled = false
        case "skip-sanitize-payload": sanitizePayload = false
        case "sanitize-payload": sanitizePayload = true
        case "nopass":
            nopass = true
            passwords = []
        case "resetpass":
            nopass = false
            passwords = []
        case "clearselectors":
            selectors = [root]
        case "reset":
            nopass = false
            passwords = []
            try root.apply(Array("resetkeys".utf8), table)
            try root.apply(Array("resetchannels".utf8), table)
            if pubsubDefaultAll { try root.apply(Array("allchannels".utf8), table) }
            enabled = false
            sanitizePayload = true
            selectors = [root]
            try root.apply(Array("-@all".utf8), table)
        default:
            guard let first = op.first else { throw .syntax }
            switch first {
            case UInt8(ascii: ">"):
                let hash = SHA256Digest.hex(Array(op.dropFirst()))
                if !passwords.contains(hash) { passwords.append(hash) }
                nopass = false
            case UInt8(ascii: "#"):
                let hash = String(decoding: op.dropFirst(), as: UTF8.self)
                guard ACLUser.isValidHash(op.dropFirst()) else { throw .badHash }
                if !passwords.contains(hash) { passwords.append(hash) }
                nopass = false
            case UInt8(ascii: "<"):
                let hash = SHA256Digest.hex(Array(op.dropFirst()))
                guard let i = passwords.firstIndex(of: hash) else { throw .noSuchPassword }
                passwords.remove(at: i)
            case UInt8(ascii: "!"):
                guard ACLUser.isValidHash(op.dropFirst()) else { throw .badHash }
                guard let i = passwords.firstIndex(of: String(decoding: op.dropFirst(), as: UTF8.self)) else {
                    throw .noSuchPassword
                }
                passwords.remove(at: i)
            case UInt8(ascii: "(") where op.last == UInt8(ascii: ")") && op.count >= 2:
                let s = ACLSelector(root: false, commandCount: table.byID.count, allChannels: pubsubDefaultAll)
                for word in op.dropFirst().dropLast().split(separator: UInt8(ascii: " ")) {
                    try s.apply(Array(word), table)
                }
                selectors.append(s)
            default:
                try root.apply(op, table)
            }
        }
    }

    static func isValidHash(_ h: ArraySlice<UInt8>) -> Bool {
        h.count == 64 && h.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Joins the words of a selector written over several arguments ("(+get", "~k)") into
    /// one rule, as Redis's ACLMergeSelectorArguments; `.failure(i)` names the argument
    /// whose parenthesis is never closed.
    static func mergeSelectorArguments(_ args: [[UInt8]]) -> Result<[[UInt8]], MergeError> {
        var out: [[UInt8]] = []
        var open: Int? = nil
        var current: [UInt8] = []
        for (i, op) in args.enumerated() {
            // An opening word starts a selector even inside another one, which is then
            // dropped (as Redis does).
            if op.first == UInt8(ascii: "("), op.last != UInt8(ascii: ")") || op.count == 1 {
                current = op
                open = i
                continue
            }
            if open != nil {
                current += [32] + op
                if op.last == UInt8(ascii: ")") {
                    open = nil
                    out.append(current)
                }
                continue
            }
            out.append(op)
        }
        if let i = open { return .failure(MergeError(index: i)) }
        return .success(out)
    }

    struct MergeError: Error { let index: Int }

    /// skip-sanitize-payload: RESTORE from this user skips deep checks under
    /// sanitize-dump-payload clients.
    public var skipsPayloadSanitizing: Bool { sanitizePayload == false }

    /// Flag words in Redis's order (ACL LIST, GETUSER).
    var flagNames: [String] {
        var f = [enabled ? "on" : "off"]
        if nopass { f.append("nopass") }
        if sanitizePayload == false { f.append("skip-sanitize-payload") }
        if sanitizePayload == true { f.append("sanitize-payload") }
        return f
    }

    /// Redis's ACLDescribeUser: the rules of an ACL LIST line (after "user <name> ").
    func describe(_ table: CommandTable) -> String {
        var out = flagNames.map { $0 + " " }.joined()
        for p in passwords { out += "#" + p + " " }
        for s in selectors {
            if s.isRoot { out += s.describe(table) } else { out += " (" + s.describe(table) + ")" }
        }
        return out
    }

    /// Redis's default user: every command, key and channel, on, nopass (ACLInitDefaultUser,
    /// and what ACL LOAD restores when the file has no default user).
    func applyDefaultUserRules(_ table: CommandTable) {
        for r in ["+@all", "~*", "&*", "on", "nopass"] {
            try? apply(Array(r.utf8), table, pubsubDefaultAll: false)
        }
    }

    /// Whether `password` matches (nopass accepts any).
    func checkPassword(_ password: [UInt8]) -> Bool {
        if nopass { return true }
        let hash = SHA256Digest.hex(password)
        // Every stored hash is compared (no early exit on the first match).
        var found = false
        for p in passwords where p == hash { found = true }
        return found
    }
}
