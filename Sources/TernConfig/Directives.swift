import CTern
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// MARK: - directive builders

typealias CfgKP<T> = ReferenceWritableKeyPath<ServerConfig, T>

/// Reads and writes one directive's value: a typed ServerConfig field, or the `extra`
/// text store (with a default) for directives nothing in Tern reads yet.
struct Slot<T> {
    let read: (ServerConfig) -> T
    let write: (ServerConfig, T) -> Void
}

extension Slot {
    static func field(_ kp: CfgKP<T>) -> Slot<T> {
        Slot(read: { $0[keyPath: kp] }, write: { $0[keyPath: kp] = $1 })
    }
}

func extraSlot(_ name: String, _ def: Bool) -> Slot<Bool> {
    Slot(read: { c in c.extra[name].map { $0 == "yes" } ?? def }, write: { c, v in c.extra[name] = v ? "yes" : "no" })
}

func extraSlot(_ name: String, _ def: Int) -> Slot<Int> {
    Slot(read: { c in c.extra[name].flatMap { Int($0) } ?? def }, write: { c, v in c.extra[name] = String(v) })
}

func extraSlot(_ name: String, _ def: String) -> Slot<String> {
    Slot(read: { c in c.extra[name] ?? def }, write: { c, v in c.extra[name] = v })
}

enum Directives {
    static let wrongArgs = "wrong number of arguments"

    static func bool(_ name: String, _ aliases: [String] = [], _ kp: CfgKP<Bool>? = nil, def: Bool = false,
                     _ flags: ConfigFlags = [], validate: ((Bool) -> String?)? = nil,
                     apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        let slot = kp.map { Slot.field($0) } ?? extraSlot(name, def)
        return ConfigDirective(name, aliases: aliases, flags: flags, set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            let v: Bool
            switch ConfigText.lower(args[0]) {
            case "yes": v = true
            case "no": v = false
            default: return "argument must be 'yes' or 'no'"
            }
            if let e = validate?(v) { return e }
            slot.write(cfg, v)
            return nil
        }, get: { slot.read($0) ? "yes" : "no" }, apply: apply)
    }

    static func bool(_ name: String, _ kp: CfgKP<Bool>, _ flags: ConfigFlags = [],
                     apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        bool(name, [], kp, flags, apply: apply)
    }

    static func int(_ name: String, _ kp: CfgKP<Int>, min lo: Int, max hi: Int, memory: Bool = false,
                    _ flags: ConfigFlags = [], adjust: ((Int) -> Int)? = nil,
                    apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        int(name, [], kp, min: lo, max: hi, memory: memory, flags, adjust: adjust, apply: apply)
    }

    static func enumeration(_ name: String, _ kp: CfgKP<String>, _ names: [String], _ flags: ConfigFlags = [],
                            apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        enumeration(name, [], kp, names, flags, apply: apply)
    }

    static func rangeError(_ lo: Int, _ hi: Int) -> String { "argument must be between \(lo) and \(hi) inclusive" }

    /// Integer directive; `memory` accepts unit suffixes and rewrites with units.
    static func int(_ name: String, _ aliases: [String] = [], _ kp: CfgKP<Int>? = nil, def: Int = 0,
                    min lo: Int, max hi: Int, memory: Bool = false, _ flags: ConfigFlags = [],
                    adjust: ((Int) -> Int)? = nil, apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        let slot = kp.map { Slot.field($0) } ?? extraSlot(name, def)
        return ConfigDirective(name, aliases: aliases, flags: flags, set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            let v: Int
            if memory {
                guard let m = ConfigText.parseMemory(args[0]) else { return "argument must be a memory value" }
                guard m <= UInt64(Int.max) else { return rangeError(lo, hi) }
                v = Int(m)
            } else {
                guard let n = ConfigText.parseStrictInt(args[0]) else { return "argument couldn't be parsed into an integer" }
                v = n
            }
            guard v >= lo && v <= hi else { return rangeError(lo, hi) }
            slot.write(cfg, adjust?(v) ?? v)
            return nil
        }, get: { String(slot.read($0)) },
           rewriteValue: memory ? { ConfigText.formatMemory(UInt64(clamping: slot.read($0))) } : nil,
           apply: apply)
    }

    /// Unsigned 64-bit memory directive (maxmemory, cluster-link-sendbuf-limit).
    static func umem(_ name: String, _ kp: CfgKP<UInt64>, _ flags: ConfigFlags = [],
                     also: ((ServerConfig, UInt64) -> Void)? = nil,
                     apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        ConfigDirective(name, flags: flags, set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            guard let m = ConfigText.parseMemory(args[0]) else { return "argument must be a memory value" }
            cfg[keyPath: kp] = m
            also?(cfg, m)
            return nil
        }, get: { String($0[keyPath: kp]) }, rewriteValue: { ConfigText.formatMemory($0[keyPath: kp]) }, apply: apply)
    }

    /// Enumerated directive; values are stored as their canonical (first-listed) name.
    static func enumeration(_ name: String, _ aliases: [String] = [], _ kp: CfgKP<String>? = nil, def: String = "",
                            _ names: [String], synonyms: [String: String] = [:], _ flags: ConfigFlags = [],
                            apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        let slot = kp.map { Slot.field($0) } ?? extraSlot(name, def)
        let msg = "argument(s) must be one of the following: " + names.joined(separator: ", ")
        return ConfigDirective(name, aliases: aliases, flags: flags, set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            let v = ConfigText.lower(args[0])
            guard names.contains(v) else { return msg }
            slot.write(cfg, synonyms[v] ?? v)
            return nil
        }, get: { slot.read($0) }, apply: apply)
    }

    /// String directive; rewritten double-quoted.
    static func string(_ name: String, _ aliases: [String] = [], _ kp: CfgKP<String>? = nil, def: String = "",
                       _ flags: ConfigFlags = [], validate: ((String) -> String?)? = nil,
                       apply: ((ServerConfig) -> String?)? = nil) -> ConfigDirective {
        let slot = kp.map { Slot.field($0) } ?? extraSlot(name, def)
        return ConfigDirective(name, aliases: aliases, flags: flags, set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            if let e = validate?(args[0]) { return e }
            slot.write(cfg, args[0])
            return nil
        }, get: { slot.read($0) }, rewriteValue: { ConfigText.repr(slot.read($0)) }, apply: apply)
    }

    static func baseName(_ what: String, _ kind: String) -> (String) -> String? {
        { $0.contains("/") ? "\(what) can't be a path, just a \(kind)" : nil }
    }

    /// appendfilename / appenddirname: a plain name that is not empty.
    static func nonEmptyBaseName(_ what: String, _ kind: String) -> (String) -> String? {
        { $0.isEmpty ? "\(what) can't be empty" : baseName(what, kind)($0) }
    }

    static func hostname(_ s: String) -> String? {
        for c in s.utf8 {
            let ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46
            if !ok { return "Hostnames may only contain alphanumeric characters, hyphens or dots" }
        }
        return nil
    }

    /// proc-title-template: known {variables} only, and not empty once expanded with an
    /// empty title.
    static func procTitle(_ s: String) -> String? {
        let bad = "template format is invalid or contains unknown variables"
        let known: Set<String> = ["title", "listen-addr", "server-mode", "port", "tls-port", "unixsocket", "config-file"]
        var expanded = ""
        var rest = Substring(s)
        while let open = rest.firstIndex(of: "{") {
            expanded += rest[rest.startIndex..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { return bad }
            let v = String(rest[rest.index(after: open)..<close])
            guard known.contains(v) else { return bad }
            if v != "title" { expanded += "x" }
            rest = rest[rest.index(after: close)...]
        }
        if rest.contains("}") { return bad }
        expanded += rest
        return ConfigText.trim(Substring(expanded)).isEmpty ? bad : nil
    }

    // MARK: special directives

    static func save() -> ConfigDirective {
        ConfigDirective("save", flags: [.multiArg], set: { cfg, args, ctx in
            var pairs: [(seconds: Int, changes: Int)] = []
            let reset = args.isEmpty || (args.count == 1 && args[0].isEmpty)
            if !reset {
                guard args.count % 2 == 0 else { return "Invalid save parameters" }
                var i = 0
                while i < args.count {
                    guard let s = ConfigText.parseCLong(args[i]), let ch = ConfigText.parseCLong(args[i + 1]),
                          s >= 1, ch >= 0 else { return "Invalid save parameters" }
                    pairs.append((s, Int(Int32(truncatingIfNeeded: ch))))
                    i += 2
                }
            }
            // While loading, the first save line replaces the defaults and later ones add up.
            if ctx.loading && ctx.seen.contains("save") && !reset {
                cfg.saveParams += pairs
            } else {
                cfg.saveParams = pairs
            }
            ctx.seen.insert("save")
            return nil
        }, get: { cfg in
            cfg.saveParams.map { "\($0.seconds) \($0.changes)" }.joined(separator: " ")
        }, rewriter: { cfg, _ in
            // A sentinel never saves and never writes save lines (Redis drops them too).
            if cfg.sentinelMode { return [] }
            // Always written, so that an edited file cannot fall back to other defaults.
            if cfg.saveParams.isEmpty { return [("save \"\"", true)] }
            return cfg.saveParams.map { ("save \($0.seconds) \($0.changes)", true) }
        })
    }

    static func bind() -> ConfigDirective {
        ConfigDirective("bind", flags: [.multiArg], set: { cfg, args, _ in
            if args.count > 16 { return "Too many bind addresses specified." }
            cfg.bind = args
            return nil
        }, get: { $0.bind.joined(separator: " ") }, rewriter: { cfg, d in
            let force = d.get(cfg) != d.get(ConfigRegistry.pristine)
            return [("bind " + cfg.bind.joined(separator: " "), force)]
        }, apply: { cfg in
            guard let hook = cfg.listenerHook else { return nil }
            return hook(cfg.bind, cfg.port) == nil ? nil : "Failed to bind to specified addresses."
        })
    }

    static let bufferClasses = ["normal", "slave", "pubsub"]

    static func clientOutputBufferLimit() -> ConfigDirective {
        ConfigDirective("client-output-buffer-limit", flags: [.multiArg], set: { cfg, args, _ in
            guard args.count % 4 == 0 else { return "Wrong number of arguments in buffer limit configuration." }
            var limits = cfg.clientOutputBufferLimits
            var i = 0
            while i < args.count {
                let cls: Int
                switch ConfigText.lower(args[i]) {
                case "normal": cls = 0
                case "slave", "replica": cls = 1
                case "pubsub": cls = 2
                default: return "Invalid client class specified in buffer limit configuration."
                }
                guard let hard = ConfigText.parseMemory(args[i + 1]), let soft = ConfigText.parseMemory(args[i + 2]),
                      let secs = ConfigText.parseCLong(args[i + 3], emptyIsZero: true),
                      Int32(truncatingIfNeeded: secs) >= 0 else {
                    return "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                }
                limits[cls] = ClientBufferLimit(hard: hard, soft: soft, softSeconds: Int(Int32(truncatingIfNeeded: secs)))
                i += 4
            }
            cfg.clientOutputBufferLimits = limits
            return nil
        }, get: { cfg in
            (0..<3).map { i in
                let l = cfg.clientOutputBufferLimits[i]
                return "\(bufferClasses[i]) \(l.hard) \(l.soft) \(l.softSeconds)"
            }.joined(separator: " ")
        }, rewriter: { cfg, _ in
            let names = ["normal", "replica", "pubsub"]
            return (0..<3).map { i in
                let l = cfg.clientOutputBufferLimits[i]
                let line = "client-output-buffer-limit \(names[i]) \(ConfigText.formatMemory(l.hard)) \(ConfigText.formatMemory(l.soft)) \(l.softSeconds)"
                return (line, l != ConfigRegistry.pristine.clientOutputBufferLimits[i])
            }
        })
    }

    static func notifyKeyspaceEvents() -> ConfigDirective {
        ConfigDirective("notify-keyspace-events", set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            guard let f = ConfigText.parseNotify(args[0]) else {
                return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
            }
            cfg.notifyKeyspaceEvents = f
            return nil
        }, get: { ConfigText.formatNotify($0.notifyKeyspaceEvents) },
           rewriteValue: { ConfigText.repr(ConfigText.formatNotify($0.notifyKeyspaceEvents)) })
    }

    static func oomScoreAdjValues() -> ConfigDirective {
        let slot = extraSlot("oom-score-adj-values", "0 200 800")
        return ConfigDirective("oom-score-adj-values", flags: [.multiArg, .unsupported], set: { cfg, args, _ in
            guard args.count == 3 else { return wrongArgs }
            var vals: [Int] = []
            // strtoll semantics, as Redis: an empty element is 0 (CONFIG SET oom-score-adj-values
            // "  " is three empty elements -> "0 0 0"), a lone space is not a number.
            for a in args {
                guard let v = ConfigText.parseCLong(a, emptyIsZero: true), v >= -2000, v <= 2000 else {
                    return "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                }
                vals.append(v)
            }
            slot.write(cfg, vals.map(String.init).joined(separator: " "))
            return nil
        }, get: { slot.read($0) })
    }

    static func latencyPercentiles() -> ConfigDirective {
        ConfigDirective("latency-tracking-info-percentiles", flags: [.multiArg, .alwaysRewrite], set: { cfg, args, _ in
            var vals: [Double] = []
            // One empty argument clears the list, as no argument does.
            for a in args where !(args.count == 1 && a.isEmpty) {
                guard let d = ConfigText.parseCDouble(a), !d.isNaN else { return "Invalid latency-tracking-info-percentiles parameters" }
                guard d >= 0 && d <= 100 else {
                    return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                }
                vals.append(d)
            }
            cfg.latencyTrackingInfoPercentiles = vals
            return nil
        }, get: { $0.latencyTrackingInfoPercentiles.map(ConfigText.formatPercentile).joined(separator: " ") })
    }

    static func maxmemoryClients() -> ConfigDirective {
        ConfigDirective("maxmemory-clients", set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            let a = args[0]
            let bad = "argument must be a memory or percent value"
            if a.hasSuffix("%") {
                let digits = a.dropLast()
                guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return bad }
                guard let p = Int(digits), p <= 100 else { return "percentage argument must be less or equal to 100" }
                cfg.maxmemoryClients = -p
                return nil
            }
            guard let m = ConfigText.parseMemory(a) else { return bad }
            // Redis keeps percentages as negative numbers, so a byte count beyond the
            // signed range reads back as a percentage.
            let v = Int(truncatingIfNeeded: m)
            if v < 0 && v != Int.min && -v <= 100 { cfg.maxmemoryClients = v; return nil }
            guard v >= 0 else { return "percentage argument must be less or equal to 100" }
            cfg.maxmemoryClients = v
            return nil
        }, get: { $0.maxmemoryClients < 0 ? "\(-$0.maxmemoryClients)%" : String($0.maxmemoryClients) },
           rewriteValue: { $0.maxmemoryClients < 0 ? "\(-$0.maxmemoryClients)%" : ConfigText.formatMemory(UInt64($0.maxmemoryClients)) })
    }

    static let shutdownFlagNames = ["save", "nosave", "now", "force"]

    static func shutdownOn(_ name: String, _ kp: CfgKP<Int>) -> ConfigDirective {
        let msg = "argument(s) must be one of the following: default, save, nosave, now, force"
        return ConfigDirective(name, flags: [.multiArg], set: { cfg, args, _ in
            guard !args.isEmpty else { return msg }
            var f = 0
            for a in args {
                let l = ConfigText.lower(a)
                if l == "default" { continue }
                guard let i = shutdownFlagNames.firstIndex(of: l) else { return msg }
                f |= 1 << i
            }
            if f & 3 == 3 { return "shutdown options SAVE and NOSAVE can't be used simultaneously" }
            cfg[keyPath: kp] = f
            return nil
        }, get: { cfg in
            let f = cfg[keyPath: kp]
            if f == 0 { return "default" }
            return (0..<4).filter { f & (1 << $0) != 0 }.map { shutdownFlagNames[$0] }.joined(separator: " ")
        })
    }

    static func replicaof() -> ConfigDirective {
        ConfigDirective("replicaof", aliases: ["slaveof"], flags: [.immutable, .multiArg], set: { cfg, args, _ in
            guard args.count == 2 else { return wrongArgs }
            if ConfigText.lower(args[0]) == "no" && ConfigText.lower(args[1]) == "one" {
                cfg.replicaofHost = ""
                cfg.replicaofPort = 0
                return nil
            }
            guard let p = ConfigText.parseStrictInt(args[1]), p >= 0, p <= 65535 else { return "Invalid master port" }
            cfg.replicaofHost = args[0]
            cfg.replicaofPort = p
            return nil
        }, get: { $0.replicaofHost.isEmpty ? "" : "\($0.replicaofHost) \($0.replicaofPort)" }, rewriter: { cfg, _ in
            cfg.replicaofHost.isEmpty ? [] : [("replicaof \(cfg.replicaofHost) \(cfg.replicaofPort)", true)]
        })
    }

    static func dir() -> ConfigDirective {
        ConfigDirective("dir", flags: [.protected, .alwaysRewrite], set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            if chdir(args[0]) != 0 { return String(cString: strerror(errno)) }
            cfg.dir = ConfigRegistry.currentDirectory() ?? args[0]
            return nil
        }, get: { _ in ConfigRegistry.currentDirectory() ?? "" },
           rewriteValue: { _ in ConfigText.repr(ConfigRegistry.currentDirectory() ?? "") })
    }

    static func unixsocketperm() -> ConfigDirective {
        ConfigDirective("unixsocketperm", flags: [.immutable], set: { cfg, args, _ in
            guard args.count == 1 else { return wrongArgs }
            // strtoll(s, &end, 8) consuming everything: leading white space and a sign are
            // taken, and "" parses as 0 (Redis accepts `unixsocketperm ""`).
            let u = Array(args[0].utf8)
            var neg = false, i = 0
            while i < u.count && (u[i] == 32 || (u[i] >= 9 && u[i] <= 13)) { i += 1 }
            if i < u.count && (u[i] == 45 || u[i] == 43) { neg = u[i] == 45; i += 1 }
            guard u.isEmpty || (i < u.count && u[i...].allSatisfy({ $0 >= 48 && $0 <= 55 }) && u.count - i <= 12) else {
                return "argument couldn't be parsed as an octal number"
            }
            var v = 0
            for c in u[i...] { v = v * 8 + Int(c - 48) }
            if neg { v = -v }
            guard v >= 0 && v <= 0o777 else { return "argument must be between 0 and 777 inclusive" }
            cfg.unixsocketperm = v
            return nil
        }, get: { String($0.unixsocketperm, radix: 8) })
    }

    static func maxclients() -> ConfigDirective {
        int("maxclients", \.maxclients, min: 1, max: Int(UInt32.max), apply: { cfg in
            if let limit = ConfigRegistry.raiseOpenFilesLimit(for: cfg.maxclients) {
                return "The operating system is not able to handle the specified number of clients, try with \(limit)"
            }
            return nil
        })
    }

    static func tlsRefusal(_ cfg: ServerConfig) -> String? { "Unable to update TLS configuration. Check server logs." }
}
