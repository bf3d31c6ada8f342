import Foundation
import TernConfig
import TernProtocol
import TernStore

// The ACL subsystem (Redis 7.0's acl.c): the users, the permission check dispatch runs for
// clients whose user is restricted, authentication, the ACL log, and loading/saving users
// from `user` config lines or the aclfile. Rules and descriptions live in ACLUser.swift,
// the ACL command in Commands/ACLCommands.swift.

/// Why a command was refused (Redis's ACL_DENIED_*; the order picks the error reported when
/// no selector allows a command).
public enum ACLDenial: Int, Sendable {
    case command = 1, key = 2, auth = 3, channel = 4

    var logName: String {
        switch self {
        case .command: return "command"
        case .key: return "key"
        case .auth: return "auth"
        case .channel: return "channel"
        }
    }
}

/// One ACL LOG entry; repeats of the same denial within a minute bump `count`.
struct ACLLogEntry {
    var count = 1
    let reason: ACLDenial
    let context: String
    let object: [UInt8]
    let username: String
    var createdMs: Int64
    var clientInfo: String
}

public final class ACLRegistry {
    unowned(unsafe) var engine: Engine!
    /// Users by name; ACL USERS and LIST print them sorted by name (Redis keeps a radix tree).
    var users: [String: ACLUser] = [:]
    public let defaultUser: ACLUser
    /// Newest first.
    var log: [ACLLogEntry] = []
    /// Denials by reason (kept for the log; Redis 7.0's INFO has no ACL fields).
    public internal(set) var denied: [Int] = [0, 0, 0, 0, 0]

    init(commandCount: Int) {
        let u = ACLUser(name: "default", commandCount: commandCount, allChannels: false)
        defaultUser = u
        users["default"] = u
    }

    /// The default user is on and nopass: connections need no AUTH (Redis's authRequired).
    public var defaultUserIsOpen: Bool { defaultUser.enabled && defaultUser.nopass }

    public func user(_ name: String) -> ACLUser? { users[name] }

    var sortedUsers: [ACLUser] {
        users.values.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
    }
}

extension Engine {
    var pubsubDefaultAll: Bool { config.aclPubsubDefault == "allchannels" }

    /// Redis's ACLInitDefaultUser, then requirepass as the default user's password.
    func initACL() {
        let u = acl.defaultUser
        // Created before the commands were registered: size its bitmap now.
        u.root.bits = Array(repeating: 0, count: commands.byID.count / 64 + 1)
        u.applyDefaultUserRules(commands)
        if !config.requirepass.isEmpty { updateDefaultUserPassword(config.requirepass) }
        // CONFIG SET requirepass: resetpass, then >password (or nopass), as Redis's
        // ACLUpdateDefaultUserPassword; CONFIG GET keeps showing what was set.
        config.onChange("requirepass") { [unowned(unsafe) self] cfg in
            self.updateDefaultUserPassword(cfg.requirepass)
            self.aclUserChanged(self.acl.defaultUser)
            return nil
        }
        // CONFIG REWRITE: every user as a `user` line, none when an aclfile keeps them.
        config.aclRewriteHook = { [unowned(unsafe) self] in
            if !self.config.aclfile.isEmpty { return [] }
            return self.acl.sortedUsers.map { "user \($0.name) \($0.describe(self.commands))" }
        }
    }

    func updateDefaultUserPassword(_ password: String) {
        let u = acl.defaultUser
        try? u.apply(Array("resetpass".utf8), commands, pubsubDefaultAll: pubsubDefaultAll)
        let op = password.isEmpty ? Array("nopass".utf8) : [UInt8(ascii: ">")] + Array(password.utf8)
        try? u.apply(op, commands, pubsubDefaultAll: pubsubDefaultAll)
    }

    // MARK: users

    /// ACL SETUSER: every rule is applied to a copy first, so an error changes nothing.
    /// Returns the error text (without "ERR ").
    public func setUser(_ name: String, _ rules: [[UInt8]]) -> String? {
        if ACLSelector.hasSpaces(Array(name.utf8)) { return "Usernames can't contain spaces or null characters" }
        let existing = acl.users[name]
        let staged = existing?.copy() ?? ACLUser(name: name, commandCount: commands.byID.count,
                                                   allChannels: pubsubDefaultAll)
        let merged: [[UInt8]]
        switch ACLUser.mergeSelectorArguments(rules) {
        case .success(let m): merged = m
        case .failure(let e):
            return "Unmatched parenthesis in acl selector starting at '\(String(decoding: rules[e.index], as: UTF8.self))'."
        }
        for op in merged {
            do {
                try staged.apply(op, commands, pubsubDefaultAll: pubsubDefaultAll)
            } catch {
                return "Error in ACL SETUSER modifier '\(String(decoding: op, as: UTF8.self))': \(error.message)"
            }
        }
        if let u = existing {
            killPubsubClientsLosingChannels(u, staged)
            u.take(staged)
            aclUserChanged(u)
        } else {
            acl.users[name] = staged
        }
        return nil
    }

    /// After a user's rules changed: its clients' dispatch flag, and every client's
    /// authentication when it was the default user.
    func aclUserChanged(_ u: ACLUser) {
        let unrestricted = u.isUnrestricted
        let open = acl.defaultUserIsOpen
        let isDefault = u === acl.defaultUser
        for c in clients.values {
            if c.aclUser === u { c.aclUnrestricted = unrestricted }
            if isDefault { c.authenticated = c.aclAuthenticated || open }
        }
    }

    /// Redis's ACLKillPubsubClientsIfNeeded: a subscriber of `old` whose channels or
    /// patterns the new rules no longer allow is disconnected.
    func killPubsubClientsLosingChannels(_ old: ACLUser, _ new: ACLUser) {
        let r = new.root
        if r.allChannels { return }
        // Only the root selector counts for subscriptions (Redis 7.0 checks it alone).
        if !old.root.allChannels && old.root.channels.allSatisfy({ r.channels.contains($0) }) { return }
        for c in clients.values where c.aclUser === old && c.flags.contains(.pubsub) {
            guard let s = pubsub.subscriptions(c, create: false) else { continue }
            var lost = false
            for ch in s.channels.keys where !Engine.channelAllowed(r.channels, ch, isPattern: false) { lost = true }
            for ch in s.shardChannels.keys where !Engine.channelAllowed(r.channels, ch, isPattern: false) { lost = true }
            for p in s.patterns.keys where !Engine.channelAllowed(r.channels, p, isPattern: true) { lost = true }
            if lost {
                closeForACL(c)
            }
        }
    }

    /// ACL DELUSER: the user's clients are disconnected (the caller after its reply).
    func deleteUser(_ name: String) -> Bool {
        guard let u = acl.users.removeValue(forKey: name) else { return false }
        for c in clients.values where c.aclUser === u {
            closeForACL(c)
        }
        return true
    }

    /// A client of a deleted or narrowed user goes: the one running the command after its
    /// reply, the others right after this command (Redis's CLIENT_CLOSE_AFTER_COMMAND and
    /// freeClientAsync).
    func closeForACL(_ c: Client) {
        if c === currentClient { c.flags.insert(.closeAfterReply) } else { freeClientAsync(c) }
    }

    /// Bytes of all arguments (CLIENT LIST `argv-mem` of the client-info in ACL LOG).
    static func argumentBytes(_ a: Args) -> Int {
        var n = 0
        for i in 0..<a.count { n += a.length(i) }
        return n
    }

    // MARK: authentication

    /// AUTH / HELLO AUTH (Redis's ACLAuthenticateUser): logs a failure in the ACL log, with
    /// the command's name as typed as the object.
    public func authenticate(_ c: Client, _ username: [UInt8], _ password: [UInt8], command a: Args) -> Bool {
        let name = String(decoding: username, as: UTF8.self)
        if let u = acl.users[name], u.enabled, u.checkPassword(password) {
            setClientUser(c, u)
            c.aclAuthenticated = true
            c.authenticated = true
            return true
        }
        addACLLogEntry(c, .auth, object: a.bytes(0), username: name, argvMem: Engine.argumentBytes(a))
        return false
    }

    func setClientUser(_ c: Client, _ u: ACLUser?) {
        c.aclUser = u
        c.aclUnrestricted = u?.isUnrestricted ?? true
    }

    // MARK: permission check

    /// Dispatch's ACL step for a restricted client: refuses with NOPERM (and logs) when no
    /// selector of the client's user allows the command. Returns true when refused.
    @inline(never)
    func refusedByACL(_ c: Client, _ cmd: Command, _ a: Args) -> Bool {
        guard let denial = deniedAndLogged(c, cmd, a) else { return false }
        switch denial {
        case .command:
            rejectCommand(c, cmd, "NOPERM this user has no permissions to run the '\(cmd.fullName)' command")
        case .key:
            rejectCommand(c, cmd, "NOPERM this user has no permissions to access one of the keys used as arguments")
        default:
            rejectCommand(c, cmd, "NOPERM this user has no permissions to access one of the channels used as arguments")
        }
        return true
    }

    /// EXEC checks each queued command again (Redis's execCommand): a command the user's
    /// new rules refuse gets this error in the EXEC reply instead of running.
    func refusedInExec(_ c: Client, _ cmd: Command, _ a: Args) -> Bool {
        guard let denial = deniedAndLogged(c, cmd, a) else { return false }
        let reason: String
        switch denial {
        case .command: reason = "no permission to execute the command or subcommand"
        case .key: reason = "no permission to touch the specified keys"
        case .channel: reason = "no permission to access one of the channels used as arguments"
        case .auth: reason = "no permission"
        }
        c.error("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: \(reason)")
        return true
    }

    /// The client's user may not run this call: the denial, logged in the ACL log (object: the
    /// command's name, or the refused key or channel).
    func deniedAndLogged(_ c: Client, _ cmd: Command, _ a: Args) -> ACLDenial? {
        guard let u = c.aclUser, let (denial, idx) = checkPermission(u, cmd, a) else { return nil }
        addACLLogEntry(c, denial, object: denial == .command ? Array(cmd.fullName.utf8) : a.bytes(idx),
                       username: nil, argvMem: Engine.argumentBytes(a))
        return denial
    }

    /// Redis's ACLCheckAllUserCommandPerm: nil when a selector allows the call, otherwise
    /// the most relevant denial (command < key < channel; the later argument on a tie)
    /// and the argument it concerns.
    func checkPermission(_ u: ACLUser, _ cmd: Command, _ a: Args) -> (ACLDenial, Int)? {
        var relevant = ACLDenial.command
        var lastIndex = 0
        var keys: [KeyReference]? = nil
        for s in u.selectors {
            guard let (d, idx) = checkSelector(s, cmd, a, &keys) else { return nil }
            if d.rawValue > relevant.rawValue || (d == relevant && idx > lastIndex) {
                relevant = d
                lastIndex = idx
            }
        }
        return (relevant, lastIndex)
    }

    func checkSelector(_ s: ACLSelector, _ cmd: Command, _ a: Args, _ keys: inout [KeyReference]?) -> (ACLDenial, Int)? {
        if !s.allCommands && !cmd.flags.contains(.noAuth) && !s.allows(cmd.id) {
            // Allowed with this first argument only (+select|0)?
            let argIndex = cmd.parent == nil ? 1 : 2
            guard a.count > argIndex, let list = s.firstArgs[cmd.id],
                  list.contains(where: { $0.lowercased() == a.lowercased(argIndex) }) else {
                return (.command, 0)
            }
        }
        if !s.allKeys && cmd.keyFinder.hasKeys {
            if keys == nil { keys = cmd.keyFinder.keys(a) }
            for k in keys ?? [] {
                var needRead = false, needWrite = false
                if k.flags.contains(.access) { needRead = true }
                if !k.flags.isDisjoint(with: [.insert, .delete, .update]) { needWrite = true }
                let key = a[k.index]
                let ok = s.keyPatterns.contains { p in
                    if (needRead && !p.read) || (needWrite && !p.write) { return false }
                    return p.pattern.withUnsafeBytes { Glob.match($0, key) }
                }
                if !ok { return (.key, k.index) }
            }
        }
        if !s.allChannels {
            for (i, isPattern) in Engine.channelArguments(cmd, a) {
                if !Engine.channelAllowed(s.channels, Array(a[i]), isPattern: isPattern) { return (.channel, i) }
            }
        }
        return nil
    }

    /// SORT's BY and GET patterns read keys no key spec names: Redis allows them when a
    /// selector that allows this call may read every key (ACLUserCheckCmdWithUnrestrictedKeyAccess).
    func mayReadEveryKey(_ c: Client, _ a: Args) -> Bool {
        guard !c.aclUnrestricted, let u = c.aclUser, let cmd = c.currentCommand else { return true }
        var keys: [KeyReference]? = nil
        for s in u.selectors where checkSelector(s, cmd, a, &keys) == nil {
            if s.allKeys || s.keyPatterns.contains(where: { $0.read && $0.pattern == [UInt8(ascii: "*")] }) { return true }
        }
        return false
    }

    /// Arguments that are channels a command publishes to or subscribes to (Redis's
    /// getChannelsFromCommand, the publish and subscribe ones): index and whether it is a pattern.
    static func channelArguments(_ cmd: Command, _ a: Args) -> [(Int, Bool)] {
        switch cmd.name {
        case "publish", "spublish": return a.count > 1 ? [(1, false)] : []
        case "subscribe", "ssubscribe": return (1..<max(1, a.count)).map { ($0, false) }
        case "psubscribe": return (1..<max(1, a.count)).map { ($0, true) }
        default: return []
        }
    }

    /// A channel matches the user's patterns; a pattern (PSUBSCRIBE) must equal one literally.
    static func channelAllowed(_ list: [[UInt8]], _ channel: [UInt8], isPattern: Bool) -> Bool {
        list.contains { isPattern ? $0 == channel : Glob.match($0, channel) }
    }

    // MARK: ACL LOG

    /// Redis's addACLLogEntry: a repeat (same reason, context, object and user within 60 s,
    /// among the 10 newest) moves to the front with its count bumped.
    func addACLLogEntry(_ c: Client, _ reason: ACLDenial, object: [UInt8], username: String?, argvMem: Int) {
        acl.denied[reason.rawValue] += 1
        let ctx = c.flags.contains(.multi) ? "multi" : "toplevel"
        let entry = ACLLogEntry(reason: reason, context: ctx, object: object,
                                username: username ?? c.user, createdMs: nowMs,
                                clientInfo: ClientCommand.line(c, argvMem: argvMem))
        for i in 0..<min(10, acl.log.count) {
            let e = acl.log[i]
            if e.reason == entry.reason && e.context == entry.context && e.object == entry.object
                && e.username == entry.username && entry.createdMs - e.createdMs <= 60_000 {
                var m = acl.log.remove(at: i)
                m.count += 1
                m.createdMs = entry.createdMs
                m.clientInfo = entry.clientInfo
                acl.log.insert(m, at: 0)
                return
            }
        }
        acl.log.insert(entry, at: 0)
        if acl.log.count > config.acllogMaxLen { acl.log.removeLast(acl.log.count - config.acllogMaxLen) }
    }

    // MARK: loading and saving

    /// Users from `user` config lines or the aclfile, at startup (Redis's
    /// ACLLoadUsersAtStartup). Returns the log lines of a fatal error.
    public func loadACLAtStartup() -> [String]? {
        if !config.aclfile.isEmpty && !config.userDirectives.isEmpty {
            return ["Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both."]
        }
        if !config.userDirectives.isEmpty {
            for argv in config.userDirectives {
                guard let name = argv.first else { continue }
                let u: ACLUser
                if let existing = acl.users[name] {
                    // Only the default user may be declared again: it starts over from reset.
                    u = existing
                    try? u.apply(Array("reset".utf8), commands, pubsubDefaultAll: pubsubDefaultAll)
                } else {
                    u = ACLUser(name: name, commandCount: commands.byID.count, allChannels: pubsubDefaultAll)
                    acl.users[name] = u
                }
                let rules = argv.dropFirst().map { Array($0.utf8) }
                guard case .success(let merged) = ACLUser.mergeSelectorArguments(rules) else {
                    return ["Error loading ACL rule for the user named '\(name)': Unmatched parenthesis", "Critical error while loading ACLs. Exiting."]
                }
                for op in merged {
                    do {
                        try u.apply(op, commands, pubsubDefaultAll: pubsubDefaultAll)
                    } catch {
                        return ["Error loading ACL rule '\(String(decoding: op, as: UTF8.self))' for the user named '\(name)': \(error.message)",
                                "Critical error while loading ACLs. Exiting."]
                    }
                }
            }
            aclUserChanged(acl.defaultUser)
            return nil
        }
        if !config.aclfile.isEmpty {
            if let err = loadACLFile(config.aclfile) {
                return ["Aborting Redis startup because of ACL errors: \(err)"]
            }
        }
        return nil
    }

    /// Redis's ACLLoadFromFile: all lines must be valid, or nothing changes. Returns the
    /// error text (every bad line's error, then a warning), nil on success.
    func loadACLFile(_ path: String) -> String? {
        guard let text = ConfigRegistry.readFile(path) else {
            return "Error loading ACLs, opening file '\(path)': \(String(cString: strerror(errno)))"
        }
        var staged: [String: ACLUser] = [:]
        var errors = ""
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: " \t\r\n"))
            // Empty lines are skipped; Redis 7.0 has no comments here ("#..." is an error).
            if line.isEmpty { continue }
            // Words are split on single spaces, quotes are not special (Redis's sdssplitlen);
            // the empty words of repeated spaces are rules that change nothing.
            let argv = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if argv[0] != "user" || argv.count < 2 {
                errors += "\(path):\(lineNumber) should start with user keyword followed by the username. "
                continue
            }
            let name = argv[1]
            if ACLSelector.hasSpaces(Array(name.utf8)) {
                errors += "\(path):\(lineNumber): username '\(name)' contains invalid characters. "
                continue
            }
            if staged[name] != nil {
                errors += "WARNING: Duplicate user '\(name)' found on line \(lineNumber). "
                continue
            }
            let u = ACLUser(name: name, commandCount: commands.byID.count, allChannels: pubsubDefaultAll)
            guard case .success(let merged) = ACLUser.mergeSelectorArguments(argv.dropFirst(2).map { Array($0.utf8) }) else {
                errors += "\(path):\(lineNumber): Unmatched parenthesis in selector definition."
                continue
            }
            var failed = false
            for op in merged {
                do {
                    try u.apply(op, commands, pubsubDefaultAll: pubsubDefaultAll)
                } catch {
                    errors += "\(path):\(lineNumber): Error in applying operation '\(String(decoding: op, as: UTF8.self))': \(error.message). "
                    failed = true
                    break
                }
            }
            if !failed { staged[name] = u }
        }
        if !errors.isEmpty {
            return errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        }
        // The default user object stays (clients point at it); a file without it resets
        // it to the built-in default.
        let def = acl.defaultUser
        let newDefault = staged["default"] ?? {
            let d = ACLUser(name: "default", commandCount: commands.byID.count, allChannels: false)
            d.applyDefaultUserRules(commands)
            return d
        }()
        def.take(newDefault)
        staged["default"] = def
        // Clients of users that are gone or replaced are disconnected (Redis frees the old
        // user objects and the clients authenticated with them).
        for c in clients.values {
            guard let u = c.aclUser, u !== def else { continue }
            closeForACL(c)
        }
        acl.users = staged
        aclUserChanged(def)
        return nil
    }

    /// ACL SAVE: every user as an ACL LIST line, written atomically. Returns the error text.
    func saveACLFile(_ path: String) -> String? {
        var text = ""
        for u in acl.sortedUsers { text += "user \(u.name) \(u.describe(commands))\n" }
        let tmp = path + ".tmp-\(getpid())"
        guard let f = fopen(tmp, "w") else { return "Opening temp ACL file for ACL SAVE: \(String(cString: strerror(errno)))" }
        let bytes = Array(text.utf8)
        let n = fwrite(bytes, 1, bytes.count, f)
        fflush(f)
        fsync(fileno(f))
        fclose(f)
        if n != bytes.count {
            unlink(tmp)
            return "Writing ACL file for ACL SAVE: \(String(cString: strerror(errno)))"
        }
        if rename(tmp, path) != 0 {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            return "Renaming ACL file for ACL SAVE: \(e)"
        }
        return nil
    }
}
