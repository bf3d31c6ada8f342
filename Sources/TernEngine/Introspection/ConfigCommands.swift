import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerConfigCommands() {
        commands.register("config|get", ConfigCommands.get)
        commands.register("config|set", ConfigCommands.set)
        commands.register("config|resetstat", ConfigCommands.resetstat)
        commands.register("config|rewrite", ConfigCommands.rewrite)
        commands.register("config|help", ConfigCommands.help)
        commands.register("auth", ConfigCommands.auth)
    }

    /// Applies `rename-command` lines to the command table (call once, after every
    /// family registered). Returns notices for commands Tern does not implement.
    public func applyRenamedCommands() -> [String] {
        var notices: [String] = []
        for (from, to) in config.renamedCommands {
            guard let key = CommandName(from), let cmd = commands.byName[key] else {
                notices.append("rename-command: '\(from)' is not implemented by Tern, nothing to rename")
                continue
            }
            commands.byName[key] = nil
            if !to.isEmpty {
                guard let newKey = CommandName(to) else {
                    notices.append("rename-command: '\(to)' is too long for a command name; '\(from)' is disabled")
                    continue
                }
                commands.byName[newKey] = cmd
            }
        }
        return notices
    }

    /// Redis's idle `timeout`: closes normal clients silent for longer than it.
    func closeIdleClients() {
        let limit = config.timeout
        guard limit > 0 else { return }
        let now = Engine.wallClockMs()
        let skip: ClientFlags = [.replica, .master, .blocked, .pubsub, .fake]
        for c in clients.values where c.flags.isDisjoint(with: skip) {
            if now - c.lastInteractionMs > Int64(limit) * 1000 {
                log(.verbose, "Closing idle client")
                c.connection?.close()
            }
        }
    }
}

/// CONFIG GET/SET/RESETSTAT/REWRITE/HELP and AUTH.
public enum ConfigCommands {
    /// CONFIG GET pattern [pattern ...]: exact names are looked up (and echoed as
    /// typed); glob patterns match names and aliases case-insensitively, hidden
    /// directives excluded. A name appears once.
    static func get(_ c: Client, _ a: Args) {
        var found: [(String, ConfigDirective)] = []
        var seen = Set<String>()
        for i in 2..<a.count {
            let pattern = a.bytes(i)
            if !pattern.contains(where: { $0 == 42 || $0 == 63 || $0 == 91 }) {
                let name = a.string(i)
                let key = ConfigText.lower(name)
                if seen.contains(key) { continue }
                if let d = ConfigRegistry.lookup(name) {
                    seen.insert(key)
                    found.append((name, d))
                }
                continue
            }
            for (name, d) in ConfigRegistry.visibleNames where !seen.contains(name) {
                if Glob.match(pattern, Array(name.utf8), nocase: true) {
                    seen.insert(name)
                    found.append((name, d))
                }
            }
        }
        c.out.map(found.count)
        for (name, d) in found {
            c.out.bulk(name)
            c.out.bulk(d.get(c.engine.config))
        }
    }

    /// CONFIG SET name value [name value ...]: all or nothing. Every value is checked
    /// and stored, then side effects run; any failure restores the previous values.
    static func set(_ c: Client, _ a: Args) {
        guard a.count % 2 == 0 else { c.syntaxError(); return }
        let cfg = c.engine.config
        var chosen: [(arg: String, d: ConfigDirective, value: String)] = []
        var problem: String? = nil
        for i in stride(from: 2, to: a.count, by: 2) {
            let name = a.string(i)
            guard let d = ConfigRegistry.lookup(name) else {
                problem = "ERR Unknown option or number of arguments for CONFIG SET - '\(name)'"
                break
            }
            var why: String? = nil
            if d.flags.contains(.immutable) {
                why = "can't set immutable config"
            } else if d.flags.contains(.protected) && !protectedAllowed(c) {
                why = "can't set protected config"
            }
            if why == nil && chosen.contains(where: { ConfigText.lower($0.arg) == ConfigText.lower(name) }) {
                why = "duplicate parameter"
            }
            if let why {
                problem = "ERR CONFIG SET failed (possibly related to argument '\(name)') - \(why)"
                break
            }
            chosen.append((name, d, a.string(i + 1)))
        }
        if let p = problem { c.error(p); return }

        let ctx = ConfigSetContext(loading: false)
        var backups: [String] = []
        func restore(_ upTo: Int) {
            for j in (0..<upTo).reversed() {
                let d = chosen[j].d
                let args = d.flags.contains(.multiArg) ? ConfigText.splitSetValue(backups[j]) : [backups[j]]
                _ = d.set(cfg, args, ctx)
            }
        }
        // A value the directive rejects names the argument lowercased (Redis lowercases the
        // names it accepted); an unknown, immutable or duplicate name keeps its case.
        for (j, item) in chosen.enumerated() {
            backups.append(item.d.get(cfg))
            let args = item.d.flags.contains(.multiArg) ? ConfigText.splitSetValue(item.value) : [item.value]
            if let e = item.d.set(cfg, args, ctx) {
                restore(j)
                c.error("ERR CONFIG SET failed (possibly related to argument '\(ConfigText.lower(item.arg))') - \(e)")
                return
            }
        }
        // Side effects, once per changed directive.
        var applied = Set<String>()
        func runApply(_ d: ConfigDirective) -> String? {
            if let e = d.apply?(cfg) { return e }
            for h in cfg.applyHooks[d.name] ?? [] { if let e = h(cfg) { return e } }
            return nil
        }
        for (j, item) in chosen.enumerated() where !applied.contains(item.d.name) {
            guard item.d.get(cfg) != backups[j] else { continue }
            applied.insert(item.d.name)
            if let e = runApply(item.d) {
                restore(chosen.count)
                for d in Set(applied).compactMap({ ConfigRegistry.lookup($0) }) { _ = runApply(d) }
                c.error("ERR CONFIG SET failed (possibly related to argument '\(ConfigText.lower(item.arg))') - \(e)")
                return
            }
        }
        c.out.ok()
    }

    /// enable-protected-configs: "yes" allows everyone, "local" loopback clients only.
    static func protectedAllowed(_ c: Client) -> Bool {
        switch c.engine.config.enableProtectedConfigs {
        case "yes": return true
        case "local": return isLocal(c)
        default: return false
        }
    }

    static func isLocal(_ c: Client) -> Bool {
        if c.flags.contains(.unixSocket) || c.flags.contains(.fake) { return true }
        let addr = c.remoteAddress
        return addr.hasPrefix("127.0.0.1:") || addr.hasPrefix("::1:") || addr.hasPrefix("[::1]:")
    }

    /// CONFIG RESETSTAT: INFO stats, command stats, error stats, lazyfreed_objects (as
    /// Redis's resetServerStats; used_memory_peak stays).
    static func resetstat(_ c: Client, _ a: Args) {
        let e = c.engine
        e.stats = ServerStats()
        for cmd in e.commands.allIncludingSubcommands {
            cmd.stats = CommandStats()
            for i in cmd.latencyHistogram.indices { cmd.latencyHistogram[i] = 0 }
        }
        LazyFree.shared.resetStats()
        c.out.ok()
    }

    /// CONFIG REWRITE: rewrites the file the server started with (see ConfigRegistry.rewrite).
    static func rewrite(_ c: Client, _ a: Args) {
        let cfg = c.engine.config
        guard !cfg.configFile.isEmpty else {
            c.error("ERR The server is running without a config file")
            return
        }
        if let err = writeConfigFile(cfg) {
            c.engine.log(.warning, "CONFIG REWRITE failed: \(err)")
            c.error("ERR Rewriting config file: \(err)")
            return
        }
        c.engine.log(.notice, "CONFIG REWRITE executed with success.")
        c.out.ok()
    }

    /// Rewrites `cfg.configFile` through a temporary file and a rename; returns an
    /// error text on failure.
    public static func writeConfigFile(_ cfg: ServerConfig) -> String? {
        let path = cfg.configFile
        errno = 0
        let old = ConfigRegistry.readFile(path)
        if old == nil && errno != ENOENT { return String(cString: strerror(errno)) }
        let content = ConfigRegistry.rewrite(old: old, cfg: cfg)
        var mode: mode_t = 0o644
        var st = stat()
        if stat(path, &st) == 0 { mode = st.st_mode & 0o7777 }
        let tmp = path + ".tmp-\(getpid())-\(Engine.monotonicMicros())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        if fd < 0 { return String(cString: strerror(errno)) }
        var ok = true
        var bytes = Array(content.utf8)
        bytes.withUnsafeMutableBytes { b in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                off += n
            }
        }
        let err = ok && fsync(fd) == 0 ? nil : String(cString: strerror(errno))
        close(fd)
        if let err { unlink(tmp); return err }
        if Glibc.rename(tmp, path) != 0 {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            return e
        }
        return nil
    }

    static let helpLines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ]

    static func help(_ c: Client, _ a: Args) {
        c.out.array(helpLines.count)
        for l in helpLines { c.out.simple(l) }
    }

    /// AUTH [username] password: the two-argument form is the default user's.
    static func auth(_ c: Client, _ a: Args) {
        if a.count > 3 { c.syntaxError(); return }
        let e = c.engine
        if a.count == 2 && e.acl.defaultUser.nopass {
            c.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            return
        }
        let user = a.count == 2 ? Array("default".utf8) : a.bytes(1)
        if e.authenticate(c, user, a.bytes(a.count - 1), command: a) {
            c.out.ok()
        } else {
            c.error("WRONGPASS invalid username-password pair or user is disabled.")
        }
    }
}
