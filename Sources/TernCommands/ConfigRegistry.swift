import CTern
import TernProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Properties of a configuration directive.
public struct ConfigFlags: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Set only at startup: CONFIG SET answers "can't set immutable config".
    public static let immutable = ConfigFlags(rawValue: 1 << 0)
    /// CONFIG SET allowed only with enable-protected-configs.
    public static let protected = ConfigFlags(rawValue: 1 << 1)
    /// Not matched by CONFIG GET glob patterns (exact names only).
    public static let hidden = ConfigFlags(rawValue: 1 << 2)
    /// Holds a secret (passwords): redacted from logs.
    public static let sensitive = ConfigFlags(rawValue: 1 << 3)
    /// Takes several arguments in a config line; CONFIG SET splits its value on spaces.
    public static let multiArg = ConfigFlags(rawValue: 1 << 4)
    /// An empty string means "unset": CONFIG REWRITE writes no line for it.
    public static let emptyIsNull = ConfigFlags(rawValue: 1 << 5)
    /// Always written by CONFIG REWRITE, even at its default value.
    public static let alwaysRewrite = ConfigFlags(rawValue: 1 << 6)
    /// Accepted for compatibility but without effect in Tern (a startup notice says so
    /// when a file sets it to a non-default value).
    public static let unsupported = ConfigFlags(rawValue: 1 << 7)
}

/// Where a value comes from: config file/arguments at startup, or CONFIG SET.
public final class ConfigSetContext {
    public let loading: Bool
    /// Directives already seen in this load (`save` lines accumulate after the first).
    var seen: Set<String> = []
    /// Command names as renamed so far by rename-command lines.
    var commandNames: Set<String>? = nil
    public init(loading: Bool) { self.loading = loading }
}

/// One configuration directive: name, aliases, flags and how to parse, print, store,
/// apply and rewrite its value.
public final class ConfigDirective: @unchecked Sendable {
    public let name: String
    public let aliases: [String]
    public let flags: ConfigFlags
    /// Parses and stores `args`; returns the reason text on failure (nothing stored then).
    let setter: (ServerConfig, [String], ConfigSetContext) -> String?
    /// The value as CONFIG GET prints it.
    let getter: (ServerConfig) -> String
    /// CONFIG REWRITE lines (whole lines) with a force flag each; nil = one line
    /// `name <value>` formatted by `rewriteValue`.
    let rewriter: ((ServerConfig, ConfigDirective) -> [(line: String, force: Bool)])?
    /// Value text for the default one-line rewrite (quoting, memory units).
    let rewriteValue: ((ServerConfig) -> String)?
    /// Side effect after CONFIG SET changed the value; returns an error text on failure.
    let apply: ((ServerConfig) -> String?)?

    init(_ name: String, aliases: [String] = [], flags: ConfigFlags = [],
         set: @escaping (ServerConfig, [String], ConfigSetContext) -> String?,
         get: @escaping (ServerConfig) -> String,
         rewriteValue: ((ServerConfig) -> String)? = nil,
         rewriter: ((ServerConfig, ConfigDirective) -> [(line: String, force: Bool)])? = nil,
         apply: ((ServerConfig) -> String?)? = nil) {
        self.name = name
        self.aliases = aliases
        self.flags = flags
        self.setter = set
        self.getter = get
        self.rewriteValue = rewriteValue
        self.rewriter = rewriter
        self.apply = apply
    }

    public func get(_ cfg: ServerConfig) -> String { getter(cfg) }

    /// Parses and stores; returns the failure reason, or nil.
    public func set(_ cfg: ServerConfig, _ args: [String], _ ctx: ConfigSetContext) -> String? {
        setter(cfg, args, ctx)
    }

    /// CONFIG REWRITE lines for the current value.
    func rewriteLines(_ cfg: ServerConfig) -> [(line: String, force: Bool)] {
        if let r = rewriter { return r(cfg, self) }
        let v = getter(cfg)
        let isDefault = v == getter(ConfigRegistry.pristine)
        if flags.contains(.emptyIsNull) && v.isEmpty { return [] }
        let text = rewriteValue?(cfg) ?? v
        return [(name + " " + text, !isDefault || flags.contains(.alwaysRewrite))]
    }
}

// MARK: - value grammar

/// Text rules shared by the config file, command-line options, CONFIG SET and REWRITE.
public enum ConfigText {
    /// Splits a config line like Redis's sdssplitargs: whitespace-separated tokens,
    /// "double quotes" with \n \r \t \b \a \xHH and \c escapes, 'single quotes' with \'
    /// only; a closing quote must be followed by a space or the end. nil = unbalanced.
    public static func splitArgs(_ line: String) -> [String]? {
        let s = Array(line.utf8)
        var out: [String] = []
        var i = 0
        func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
        func hexVal(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        while true {
            while i < s.count && isSpace(s[i]) { i += 1 }
            if i >= s.count { return out }
            var cur: [UInt8] = []
            var inDouble = false, inSingle = false, done = false
            while !done {
                if inDouble {
                    guard i < s.count else { return nil }
                    let c = s[i]
                    if c == 92 && i + 3 < s.count && s[i + 1] == 120, let h = hexVal(s[i + 2]), let l = hexVal(s[i + 3]) {
                        cur.append(h << 4 | l)
                        i += 3
                    } else if c == 92 && i + 1 < s.count {
                        i += 1
                        switch s[i] {
                        case 110: cur.append(10)
                        case 114: cur.append(13)
                        case 116: cur.append(9)
                        case 98: cur.append(8)
                        case 97: cur.append(7)
                        default: cur.append(s[i])
                        }
                    } else if c == 34 {
                        // The closing quote must be followed by a space or nothing.
                        if i + 1 < s.count && !isSpace(s[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else if inSingle {
                    guard i < s.count else { return nil }
                    let c = s[i]
                    if c == 92 && i + 1 < s.count && s[i + 1] == 39 {
                        i += 1
                        cur.append(39)
                    } else if c == 39 {
                        if i + 1 < s.count && !isSpace(s[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else {
                    if i >= s.count { done = true; break }
                    switch s[i] {
                    case 32, 10, 13, 9, 0: done = true
                    case 34: inDouble = true
                    case 39: inSingle = true
                    default: cur.append(s[i])
                    }
                }
                if i < s.count { i += 1 }
            }
            out.append(String(decoding: cur, as: UTF8.self))
        }
    }

    /// Redis's sdscatrepr: a double-quoted string with C escapes for non-printables.
    public static func repr(_ s: String) -> String {
        var out: [UInt8] = [34]
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for c in s.utf8 {
            switch c {
            case 92: out += [92, 92]
            case 34: out += [92, 34]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            case 9: out += [92, 116]
            case 7: out += [92, 97]
            case 8: out += [92, 98]
            default:
                if c >= 32 && c <= 126 { out.append(c) } else { out += [92, 120, hex[Int(c >> 4)], hex[Int(c & 15)]] }
            }
        }
        out.append(34)
        return String(decoding: out, as: UTF8.self)
    }

    /// Trims the characters Redis trims from config lines (space, tab, CR, LF).
    public static func trim(_ s: Substring) -> Substring {
        var a = s.startIndex, b = s.endIndex
        func t(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" }
        while a < b && t(s[a]) { a = s.index(after: a) }
        while b > a && t(s[s.index(before: b)]) { b = s.index(before: b) }
        return s[a..<b]
    }

    /// Splits on LF bytes (a CR before it stays with the line, to be trimmed).
    public static func lines(_ text: String) -> [Substring] {
        text.utf8.split(separator: 10, omittingEmptySubsequences: false).map { Substring($0) }
    }

    /// Lowercases ASCII letters only (config names are ASCII).
    public static func lower(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Memory value: digits (possibly none) then an optional unit b, k, kb, m, mb, g, gb
    /// (any case); "" is 0. Digits saturate, the unit multiplication wraps (as Redis).
    public static func parseMemory(_ s: String) -> UInt64? {
        let u = Array(s.utf8)
        var i = 0
        while i < u.count && u[i] >= 48 && u[i] <= 57 { i += 1 }
        let unit = String(decoding: u[i...], as: UTF8.self).lowercased()
        let mul: UInt64
        switch unit {
        case "", "b": mul = 1
        case "k": mul = 1000
        case "kb": mul = 1024
        case "m": mul = 1_000_000
        case "mb": mul = 1 << 20
        case "g": mul = 1_000_000_000
        case "gb": mul = 1 << 30
        default: return nil
        }
        var v: UInt64 = 0
        for c in u[0..<i] {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { v = UInt64.max; break }
            v = a
        }
        return v &* mul
    }

    /// Memory value for CONFIG REWRITE: the largest of gb/mb/kb dividing it exactly.
    public static func formatMemory(_ v: UInt64) -> String {
        if v == 0 { return "0" }
        if v % (1 << 30) == 0 { return "\(v / (1 << 30))gb" }
        if v % (1 << 20) == 0 { return "\(v / (1 << 20))mb" }
        if v % 1024 == 0 { return "\(v / 1024)kb" }
        return "\(v)"
    }

    /// Redis's string2ll (strict: no spaces, no '+', no leading zeros).
    public static func parseStrictInt(_ s: String) -> Int? {
        var s = s
        return s.withUTF8 { Numbers.parseInt(UnsafeRawBufferPointer($0)) }
    }

    /// C strtoll over the whole string: leading spaces, optional sign, digits,
    /// saturating; nil unless everything was consumed. "" is 0 when `emptyIsZero`.
    public static func parseCLong(_ s: String, emptyIsZero: Bool = false) -> Int? {
        let u = Array(s.utf8)
        var i = 0
        while i < u.count && (u[i] == 32 || (u[i] >= 9 && u[i] <= 13)) { i += 1 }
        var neg = false
        if i < u.count && (u[i] == 43 || u[i] == 45) { neg = u[i] == 45; i += 1 }
        let start = i
        var v: UInt64 = 0
        var overflow = false
        while i < u.count && u[i] >= 48 && u[i] <= 57 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(u[i] - 48))
            if o1 || o2 { overflow = true } else { v = a }
            i += 1
        }
        if i == start { return (u.isEmpty && emptyIsZero) ? 0 : nil }
        if i != u.count { return nil }
        if neg {
            if overflow || v > UInt64(Int64.max) + 1 { return Int.min }
            return Int(truncatingIfNeeded: 0 &- v)
        }
        if overflow || v > UInt64(Int64.max) { return Int.max }
        return Int(v)
    }

    /// C strtod over the whole string (nil if anything is left over or nothing parsed).
    public static func parseCDouble(_ s: String) -> Double? {
        guard !s.isEmpty else { return nil }
        return s.withCString { p -> Double? in
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(p, &end)
            guard let e = end, e != UnsafeMutablePointer(mutating: p), e.pointee == 0 else { return nil }
            return v
        }
    }

    /// "%f" with trailing zeros (and a trailing dot) removed, as Redis prints percentiles.
    public static func formatPercentile(_ d: Double) -> String {
        var t = ReplyBuffer.cFormat("%f", d)
        if t.contains(".") {
            while t.hasSuffix("0") { t.removeLast() }
            if t.hasSuffix(".") { t.removeLast() }
        }
        return t
    }

    /// CONFIG SET value of a multi-argument directive: split on single spaces, "" = none.
    public static func splitSetValue(_ v: String) -> [String] {
        v.isEmpty ? [] : v.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    }

    // MARK: keyspace events

    static let notifyAll: Int = NotifyClass.generic.rawValue | NotifyClass.string.rawValue | NotifyClass.list.rawValue
        | NotifyClass.set.rawValue | NotifyClass.hash.rawValue | NotifyClass.zset.rawValue
        | NotifyClass.expired.rawValue | NotifyClass.evicted.rawValue | NotifyClass.stream.rawValue
        | NotifyClass.module.rawValue

    /// notify-keyspace-events letters -> NotifyClass bits (nil on a bad letter).
    public static func parseNotify(_ s: String) -> Int? {
        var f = 0
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "A"): f |= notifyAll
            case UInt8(ascii: "g"): f |= NotifyClass.generic.rawValue
            case UInt8(ascii: "$"): f |= NotifyClass.string.rawValue
            case UInt8(ascii: "l"): f |= NotifyClass.list.rawValue
            case UInt8(ascii: "s"): f |= NotifyClass.set.rawValue
            case UInt8(ascii: "h"): f |= NotifyClass.hash.rawValue
            case UInt8(ascii: "z"): f |= NotifyClass.zset.rawValue
            case UInt8(ascii: "x"): f |= NotifyClass.expired.rawValue
            case UInt8(ascii: "e"): f |= NotifyClass.evicted.rawValue
            case UInt8(ascii: "K"): f |= NotifyClass.keyspace.rawValue
            case UInt8(ascii: "E"): f |= NotifyClass.keyevent.rawValue
            case UInt8(ascii: "t"): f |= NotifyClass.stream.rawValue
            case UInt8(ascii: "m"): f |= NotifyClass.keyMiss.rawValue
            case UInt8(ascii: "d"): f |= NotifyClass.module.rawValue
            case UInt8(ascii: "n"): f |= NotifyClass.new.rawValue
            default: return nil
            }
        }
        return f
    }

    /// NotifyClass bits -> letters, in Redis's order ("A" stands for all type classes).
    public static func formatNotify(_ f: Int) -> String {
        var s = ""
        if f & notifyAll == notifyAll {
            s = "A"
        } else {
            let order: [(Character, NotifyClass)] = [
                ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset),
                ("x", .expired), ("e", .evicted), ("t", .stream), ("d", .module), ("n", .new),
            ]
            for (ch, cls) in order where f & cls.rawValue != 0 { s.append(ch) }
        }
        if f & NotifyClass.keyspace.rawValue != 0 { s.append("K") }
        if f & NotifyClass.keyevent.rawValue != 0 { s.append("E") }
        if f & NotifyClass.keyMiss.rawValue != 0 { s.append("m") }
        return s
    }
}

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
            for a in args {
                guard let v = ConfigText.parseCLong(a), v >= -2000, v <= 2000 else {
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
            for a in args {
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
            let u = Array(args[0].utf8)
            var neg = false, i = 0
            if i < u.count && u[i] == 45 { neg = true; i += 1 }
            guard i < u.count, u[i...].allSatisfy({ $0 >= 48 && $0 <= 55 }), u.count - i <= 12 else {
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

// MARK: - the registry

/// Every Redis 7.0 configuration directive, with Redis's names, aliases, defaults,
/// ranges and flags. Directives Tern has no use for yet are still accepted, stored and
/// reported, so stock config files and tools keep working.
public enum ConfigRegistry {
    static let I32 = Int(Int32.max)
    static let I32min = Int(Int32.min)
    static let I64 = Int.max

    public static let all: [ConfigDirective] = makeAll()

    /// Lowercased names and aliases -> directive.
    static let index: [String: ConfigDirective] = {
        var m: [String: ConfigDirective] = [:]
        for d in all {
            m[d.name] = d
            for a in d.aliases { m[a] = d }
        }
        return m
    }()

    /// Every name CONFIG GET globs can match (canonical names and aliases), in table order.
    static let visibleNames: [(String, ConfigDirective)] = {
        var out: [(String, ConfigDirective)] = []
        for d in all where !d.flags.contains(.hidden) {
            out.append((d.name, d))
            for a in d.aliases { out.append((a, d)) }
        }
        return out
    }()

    /// A configuration with every default, to tell changed values from defaults.
    nonisolated(unsafe) static let pristine = ServerConfig()

    /// Names accepted in a config file but without effect since Redis 7.0.
    static let deadDirectives: Set<String> = ["list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"]

    public static func lookup(_ name: String) -> ConfigDirective? { index[ConfigText.lower(name)] }

    public static func currentDirectory() -> String? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let ok = buf.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { getcwd($0, b.count) != nil }
        }
        guard ok else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Makes room for maxclients + 32 descriptors; returns the maxclients the current
    /// limit allows when it cannot be raised enough, nil when it fits.
    public static func raiseOpenFilesLimit(for maxclients: Int) -> Int? {
        let need = maxclients &+ 32
        let infinity = rlim_t.max
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return nil }
        if lim.rlim_cur == infinity || Int(clamping: lim.rlim_cur) >= need { return nil }
        var want = lim
        want.rlim_cur = rlim_t(need)
        if want.rlim_max != infinity && want.rlim_max < want.rlim_cur { want.rlim_max = want.rlim_cur }
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &want) == 0 { return nil }
        // Not privileged to raise the hard limit: go as far as it allows.
        var soft = lim
        soft.rlim_cur = lim.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &soft) == 0 { lim = soft }
        if lim.rlim_cur == infinity || Int(clamping: lim.rlim_cur) >= need { return nil }
        return max(1, Int(clamping: lim.rlim_cur) - 32)
    }

    static func makeAll() -> [ConfigDirective] {
        typealias D = Directives
        let u: ConfigFlags = [.unsupported]
        return [
            // network and clients
            D.bind(),
            D.string("bind-source-addr", [], nil, [.emptyIsNull]),
            D.int("port", \.port, min: 0, max: 65535, apply: { cfg in
                guard let hook = cfg.listenerHook else { return nil }
                return hook(cfg.bind, cfg.port) == nil ? nil : "Unable to listen on this port. Check server logs."
            }),
            D.bool("protected-mode", \.protectedMode),
            D.int("tcp-backlog", \.tcpBacklog, min: 0, max: I32, [.immutable]),
            D.string("unixsocket", [], \.unixsocket, [.immutable, .emptyIsNull]),
            D.unixsocketperm(),
            D.int("timeout", \.timeout, min: 0, max: I32),
            D.int("tcp-keepalive", \.tcpKeepalive, min: 0, max: I32),
            D.int("socket-mark-id", def: 0, min: 0, max: Int(UInt32.max), [.immutable, .unsupported]),
            D.maxclients(),
            D.int("client-query-buffer-limit", \.clientQueryBufferLimit, min: 1024 * 1024, max: I64, memory: true),
            D.int("proto-max-bulk-len", \.protoMaxBulkLen, min: 1024 * 1024, max: I64, memory: true),
            D.clientOutputBufferLimit(),
            D.int("tracking-table-max-keys", \.trackingTableMaxKeys, min: 0, max: I64),

            // tls (Tern has no TLS: enabling it fails like a TLS setup error)
            D.int("tls-port", def: 0, min: 0, max: 65535, u, apply: { cfg in
                cfg.value(of: "tls-port") == "0" ? nil : D.tlsRefusal(cfg)
            }),
            D.string("tls-cert-file", [], nil, [.emptyIsNull]),
            D.string("tls-key-file", [], nil, [.emptyIsNull]),
            D.string("tls-key-file-pass", [], nil, [.emptyIsNull, .sensitive]),
            D.string("tls-client-cert-file", [], nil, [.emptyIsNull]),
            D.string("tls-client-key-file", [], nil, [.emptyIsNull]),
            D.string("tls-client-key-file-pass", [], nil, [.emptyIsNull, .sensitive]),
            D.string("tls-dh-params-file", [], nil, [.emptyIsNull]),
            D.string("tls-ca-cert-file", [], nil, [.emptyIsNull]),
            D.string("tls-ca-cert-dir", [], nil, [.emptyIsNull]),
            D.string("tls-protocols", [], nil, [.emptyIsNull]),
            D.string("tls-ciphers", [], nil, [.emptyIsNull]),
            D.string("tls-ciphersuites", [], nil, [.emptyIsNull]),
            D.enumeration("tls-auth-clients", def: "yes", ["no", "yes", "optional"]),
            D.bool("tls-replication", def: false, u, apply: { cfg in cfg.value(of: "tls-replication") == "yes" ? D.tlsRefusal(cfg) : nil }),
            D.bool("tls-cluster", def: false, u, apply: { cfg in cfg.value(of: "tls-cluster") == "yes" ? D.tlsRefusal(cfg) : nil }),
            D.bool("tls-prefer-server-ciphers", def: false),
            D.bool("tls-session-caching", def: true),
            D.int("tls-session-cache-size", def: 20480, min: 0, max: I32),
            D.int("tls-session-cache-timeout", def: 300, min: 0, max: I32),

            // general
            D.bool("daemonize", \.daemonize, [.immutable]),
            D.enumeration("supervised", def: "no", ["upstart", "systemd", "auto", "no"], [.immutable, .unsupported]),
            D.string("pidfile", [], \.pidfile, [.immutable, .emptyIsNull]),
            D.enumeration("loglevel", \.loglevel, ["debug", "verbose", "notice", "warning"]),
            D.string("logfile", [], \.logfile, [.immutable]),
            D.bool("syslog-enabled", def: false, [.immutable, .unsupported]),
            D.string("syslog-ident", [], nil, def: "redis", [.immutable, .unsupported]),
            D.enumeration("syslog-facility", def: "local0", ["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"], [.immutable, .unsupported]),
            D.bool("crash-log-enabled", def: true, u),
            D.bool("crash-memcheck-enabled", def: true, u),
            D.int("databases", \.databases, min: 1, max: I32, [.immutable]),
            D.bool("always-show-logo", def: false, [.immutable, .unsupported]),
            D.bool("set-proc-title", def: true, [.immutable, .unsupported]),
            D.string("proc-title-template", [], nil, def: "{title} {listen-addr} {server-mode}", u, validate: D.procTitle),
            D.enumeration("enable-protected-configs", \.enableProtectedConfigs, ["no", "yes", "local"], [.immutable]),
            D.enumeration("enable-debug-command", \.enableDebugCommand, ["no", "yes", "local"], [.immutable]),
            D.enumeration("enable-module-command", \.enableModuleCommand, ["no", "yes", "local"], [.immutable, .unsupported]),
            D.string("ignore-warnings", [], nil, u),
            D.int("hz", \.hz, min: 0, max: I32, adjust: { min(max($0, 1), 500) }),
            D.bool("dynamic-hz", \.dynamicHz),
            D.int("active-expire-effort", \.activeExpireEffort, min: 1, max: 10),
            D.bool("activerehashing", \.activerehashing),
            D.notifyKeyspaceEvents(),
            D.int("shutdown-timeout", \.shutdownTimeout, min: 0, max: I32),
            D.shutdownOn("shutdown-on-sigint", \.shutdownOnSigint),
            D.shutdownOn("shutdown-on-sigterm", \.shutdownOnSigterm),
            D.int("busy-reply-threshold", ["lua-time-limit"], \.busyReplyThreshold, min: 0, max: I64),
            D.enumeration("sanitize-dump-payload", \.sanitizeDumpPayload, ["no", "yes", "clients"]),
            D.string("server_cpulist", [], nil, [.immutable, .emptyIsNull, .unsupported]),
            D.string("bio_cpulist", [], nil, [.immutable, .emptyIsNull, .unsupported]),
            D.string("aof_rewrite_cpulist", [], nil, [.immutable, .emptyIsNull, .unsupported]),
            D.string("bgsave_cpulist", [], nil, [.immutable, .emptyIsNull, .unsupported]),
            D.int("io-threads", def: 1, min: 1, max: 128, [.immutable, .unsupported]),
            D.bool("io-threads-do-reads", def: false, [.immutable, .unsupported]),
            D.bool("jemalloc-bg-thread", def: true, u),
            D.bool("disable-thp", def: true, [.immutable, .unsupported]),
            D.enumeration("oom-score-adj", def: "no", ["no", "yes", "relative", "absolute"], synonyms: ["relative": "yes"], u),
            D.oomScoreAdjValues(),

            // security
            D.string("requirepass", [], \.requirepass, [.sensitive, .emptyIsNull]),
            D.string("aclfile", [], \.aclfile, [.immutable]),
            D.int("acllog-max-len", \.acllogMaxLen, min: 0, max: I64),
            D.enumeration("acl-pubsub-default", \.aclPubsubDefault, ["allchannels", "resetchannels"]),

            // slowlog / latency
            D.int("slowlog-log-slower-than", \.slowlogLogSlowerThan, min: -1, max: I64),
            D.int("slowlog-max-len", \.slowlogMaxLen, min: 0, max: I64),
            D.int("latency-monitor-threshold", \.latencyMonitorThreshold, min: 0, max: I64),
            D.bool("latency-tracking", \.latencyTracking),
            D.latencyPercentiles(),

            // memory
            D.umem("maxmemory", \.maxmemoryBytes, also: { cfg, v in cfg.maxmemory = Int(clamping: v) }),
            D.enumeration("maxmemory-policy", \.maxmemoryPolicy, ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]),
            D.int("maxmemory-samples", \.maxmemorySamples, min: 1, max: I32),
            D.int("maxmemory-eviction-tenacity", \.maxmemoryEvictionTenacity, min: 0, max: 100),
            D.maxmemoryClients(),
            D.int("lfu-log-factor", \.lfuLogFactor, min: 0, max: I32),
            D.int("lfu-decay-time", \.lfuDecayTime, min: 0, max: I32),
            D.bool("lazyfree-lazy-eviction", \.lazyfreeLazyEviction),
            D.bool("lazyfree-lazy-expire", \.lazyfreeLazyExpire),
            D.bool("lazyfree-lazy-server-del", \.lazyfreeLazyServerDel),
            D.bool("lazyfree-lazy-user-del", \.lazyfreeLazyUserDel),
            D.bool("lazyfree-lazy-user-flush", \.lazyfreeLazyUserFlush),
            D.bool("replica-lazy-flush", ["slave-lazy-flush"], \.replicaLazyFlush),
            D.bool("replica-ignore-maxmemory", ["slave-ignore-maxmemory"], \.replicaIgnoreMaxmemory),
            D.bool("activedefrag", def: false, validate: { on in
                on ? "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution" : nil
            }),
            D.int("active-defrag-ignore-bytes", def: 100 << 20, min: 1, max: I64, memory: true, u),
            D.int("active-defrag-threshold-lower", def: 10, min: 0, max: 1000, u),
            D.int("active-defrag-threshold-upper", def: 100, min: 0, max: 1000, u),
            D.int("active-defrag-cycle-min", def: 1, min: 1, max: 99, u),
            D.int("active-defrag-cycle-max", def: 25, min: 1, max: 99, u),
            D.int("active-defrag-max-scan-fields", def: 1000, min: 1, max: I64, u),

            // encodings
            D.int("hash-max-listpack-entries", ["hash-max-ziplist-entries"], \.hashMaxListpackEntries, min: 0, max: I64),
            D.int("hash-max-listpack-value", ["hash-max-ziplist-value"], \.hashMaxListpackValue, min: 0, max: I64, memory: true),
            D.int("list-max-listpack-size", ["list-max-ziplist-size"], \.listMaxListpackSize, min: I32min, max: I32),
            D.int("list-compress-depth", \.listCompressDepth, min: 0, max: I32),
            D.int("set-max-intset-entries", \.setMaxIntsetEntries, min: 0, max: I64),
            D.int("zset-max-listpack-entries", ["zset-max-ziplist-entries"], \.zsetMaxListpackEntries, min: 0, max: I64),
            D.int("zset-max-listpack-value", ["zset-max-ziplist-value"], \.zsetMaxListpackValue, min: 0, max: I64, memory: true),
            D.int("hll-sparse-max-bytes", \.hllSparseMaxBytes, min: 0, max: I64, memory: true),
            D.int("stream-node-max-bytes", \.streamNodeMaxBytes, min: 0, max: I64, memory: true),
            D.int("stream-node-max-entries", \.streamNodeMaxEntries, min: 0, max: I64),

            // snapshotting
            D.save(),
            D.bool("stop-writes-on-bgsave-error", \.stopWritesOnBgsaveError),
            D.bool("rdbcompression", \.rdbcompression),
            D.bool("rdbchecksum", \.rdbchecksum, [.immutable]),
            D.string("dbfilename", [], \.dbfilename, [.protected], validate: D.baseName("dbfilename", "filename")),
            D.bool("rdb-del-sync-files", \.rdbDelSyncFiles),
            D.bool("rdb-save-incremental-fsync", \.rdbSaveIncrementalFsync),
            D.dir(),

            // append only file
            D.bool("appendonly", \.appendonly),
            D.string("appendfilename", [], \.appendfilename, [.immutable], validate: D.baseName("appendfilename", "filename")),
            D.string("appenddirname", [], \.appenddirname, [.immutable], validate: D.baseName("appenddirname", "dirname")),
            D.enumeration("appendfsync", \.appendfsync, ["everysec", "always", "no"]),
            D.bool("no-appendfsync-on-rewrite", \.noAppendfsyncOnRewrite),
            D.int("auto-aof-rewrite-percentage", \.autoAofRewritePercentage, min: 0, max: I32),
            D.int("auto-aof-rewrite-min-size", \.autoAofRewriteMinSize, min: 0, max: I64, memory: true),
            D.bool("aof-load-truncated", \.aofLoadTruncated),
            D.bool("aof-use-rdb-preamble", \.aofUseRdbPreamble),
            D.bool("aof-timestamp-enabled", \.aofTimestampEnabled),
            D.bool("aof-rewrite-incremental-fsync", \.aofRewriteIncrementalFsync),
            D.bool("aof-disable-auto-gc", \.aofDisableAutoGc),

            // replication
            D.replicaof(),
            D.string("masterauth", [], \.masterauth, [.sensitive, .emptyIsNull]),
            D.string("masteruser", [], \.masteruser, [.emptyIsNull]),
            D.bool("replica-serve-stale-data", ["slave-serve-stale-data"], \.replicaServeStaleData),
            D.bool("replica-read-only", ["slave-read-only"], \.replicaReadOnly),
            D.bool("repl-diskless-sync", \.replDisklessSync),
            D.int("repl-diskless-sync-delay", \.replDisklessSyncDelay, min: 0, max: I32),
            D.int("repl-diskless-sync-max-replicas", \.replDisklessSyncMaxReplicas, min: 0, max: I32),
            D.enumeration("repl-diskless-load", \.replDisklessLoad, ["disabled", "on-empty-db", "swapdb"]),
            D.int("repl-ping-replica-period", ["repl-ping-slave-period"], \.replPingReplicaPeriod, min: 1, max: I32),
            D.int("repl-timeout", \.replTimeout, min: 1, max: I32),
            D.bool("repl-disable-tcp-nodelay", \.replDisableTcpNodelay),
            D.int("repl-backlog-size", \.replBacklogSize, min: 1, max: I64, memory: true, apply: { cfg in
                // CONFIG SET enforces Redis's 16kb minimum backlog (a config file does not).
                if cfg.replBacklogSize < 16384 { cfg.replBacklogSize = 16384 }
                return nil
            }),
            D.int("repl-backlog-ttl", \.replBacklogTtl, min: 0, max: I64),
            D.int("replica-priority", ["slave-priority"], \.replicaPriority, min: 0, max: I32),
            D.bool("replica-announced", \.replicaAnnounced),
            D.string("replica-announce-ip", ["slave-announce-ip"], \.replicaAnnounceIp, [.emptyIsNull]),
            D.int("replica-announce-port", ["slave-announce-port"], \.replicaAnnouncePort, min: 0, max: 65535),
            D.bool("replica-ignore-disk-write-errors", \.replicaIgnoreDiskWriteErrors),
            D.int("min-replicas-to-write", ["min-slaves-to-write"], \.minReplicasToWrite, min: 0, max: I32),
            D.int("min-replicas-max-lag", ["min-slaves-max-lag"], \.minReplicasMaxLag, min: 0, max: I32),
            D.enumeration("propagation-error-behavior", \.propagationErrorBehavior, ["ignore", "panic", "panic-on-replicas"]),

            // cluster
            D.bool("cluster-enabled", \.clusterEnabled, [.immutable]),
            D.string("cluster-config-file", [], \.clusterConfigFile, [.immutable]),
            D.int("cluster-port", \.clusterPort, min: 0, max: 65535, [.immutable]),
            D.int("cluster-node-timeout", \.clusterNodeTimeout, min: 0, max: I64),
            D.string("cluster-announce-ip", [], \.clusterAnnounceIp, [.emptyIsNull]),
            D.string("cluster-announce-hostname", [], \.clusterAnnounceHostname, [.emptyIsNull], validate: D.hostname),
            D.int("cluster-announce-port", \.clusterAnnouncePort, min: 0, max: 65535),
            D.int("cluster-announce-bus-port", \.clusterAnnounceBusPort, min: 0, max: 65535),
            D.int("cluster-announce-tls-port", \.clusterAnnounceTlsPort, min: 0, max: 65535),
            D.enumeration("cluster-preferred-endpoint-type", \.clusterPreferredEndpointType, ["ip", "hostname", "unknown-endpoint"]),
            D.bool("cluster-require-full-coverage", \.clusterRequireFullCoverage),
            D.bool("cluster-allow-reads-when-down", \.clusterAllowReadsWhenDown),
            D.bool("cluster-allow-pubsubshard-when-down", \.clusterAllowPubsubshardWhenDown),
            D.bool("cluster-allow-replica-migration", \.clusterAllowReplicaMigration),
            D.bool("cluster-replica-no-failover", ["cluster-slave-no-failover"], \.clusterReplicaNoFailover),
            D.int("cluster-replica-validity-factor", ["cluster-slave-validity-factor"], \.clusterReplicaValidityFactor, min: 0, max: I32),
            D.int("cluster-migration-barrier", \.clusterMigrationBarrier, min: 0, max: I32),
            D.umem("cluster-link-sendbuf-limit", \.clusterLinkSendbufLimit),

            // debugging (hidden from CONFIG GET globs)
            D.int("key-load-delay", \.keyLoadDelay, min: I32min, max: I32, [.hidden]),
            D.int("rdb-key-save-delay", \.rdbKeySaveDelay, min: I32min, max: I32, [.hidden]),
            D.int("loading-process-events-interval-bytes", \.loadingProcessEventsIntervalBytes, min: 1024, max: I32, [.hidden]),
            D.int("watchdog-period", def: 0, min: 0, max: I32, [.hidden, .unsupported]),
            D.bool("use-exit-on-panic", def: false, [.hidden]),
            D.bool("lua-enable-deprecated-api", def: false, [.immutable, .hidden]),
        ]
    }
}

// MARK: - loading config text

/// A config file problem, reported with Redis's FATAL CONFIG FILE ERROR layout.
public enum ConfigLoadError: Error, Equatable {
    /// Bad line: 1-based line number (within the file being read), the trimmed line, reason.
    case line(number: Int, text: String, reason: String)
    /// A file (main or include) could not be opened.
    case cannotOpen(path: String, reason: String)
    /// A problem found after all lines were applied (e.g. the log file cannot be opened).
    case general(reason: String)

    /// Exactly what redis-server prints on stderr before exiting with status 1
    /// (cannotOpen is logged instead; see `logMessage`).
    public var report: String {
        let head = "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
        switch self {
        case .line(let n, let text, let reason):
            return head + "Reading the configuration file, at line \(n)\n>>> '\(text)'\n\(reason)\n"
        case .general(let reason):
            return head + reason + "\n"
        case .cannotOpen(let path, let reason):
            return "Fatal error, can't open config file '\(path)': \(reason)\n"
        }
    }
}

extension ConfigRegistry {
    static let maxIncludeDepth = 32

    /// Applies config text (a file's content, with options appended) to `cfg`, line by
    /// line, as Redis's config loader does. `notices` collects things to log at startup.
    public static func load(text: String, into cfg: ServerConfig, context ctx: ConfigSetContext,
                            notices: inout [String], depth: Int = 0) throws {
        var lineNo = 0
        for raw in ConfigText.lines(text) {
            lineNo += 1
            let line = ConfigText.trim(raw)
            if line.isEmpty || line.first == "#" { continue }
            let lineText = String(line)
            guard let argv = ConfigText.splitArgs(lineText) else {
                throw ConfigLoadError.line(number: lineNo, text: lineText, reason: "Unbalanced quotes in configuration line")
            }
            if argv.isEmpty { continue }
            if let reason = try applyLine(argv, cfg, ctx, &notices, depth) {
                throw ConfigLoadError.line(number: lineNo, text: lineText, reason: reason)
            }
        }
    }

    /// Applies one split config line; returns the failure reason, nil on success.
    static func applyLine(_ argv: [String], _ cfg: ServerConfig, _ ctx: ConfigSetContext,
                          _ notices: inout [String], _ depth: Int) throws -> String? {
        let name = ConfigText.lower(argv[0])
        let args = Array(argv.dropFirst())
        let bad = "Bad directive or wrong number of arguments"
        switch name {
        case "include":
            guard args.count == 1 else { return bad }
            guard depth < maxIncludeDepth else { return "Too many nested include directives" }
            for path in expandInclude(args[0]) {
                guard let content = readFile(path) else {
                    throw ConfigLoadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
                }
                try load(text: content, into: cfg, context: ctx, notices: &notices, depth: depth + 1)
            }
            return nil
        case "rename-command":
            guard args.count == 2 else { return bad }
            // Renames apply in order to the current command names, as in Redis.
            if ctx.commandNames == nil { ctx.commandNames = Set(CommandCatalog.rows.map { $0.0 }) }
            let from = ConfigText.lower(args[0]), to = ConfigText.lower(args[1])
            guard ctx.commandNames?.contains(from) == true else { return "No such command in rename-command" }
            if !to.isEmpty {
                guard ctx.commandNames?.contains(to) == false else { return "Target command name already exists" }
                ctx.commandNames?.insert(to)
            }
            ctx.commandNames?.remove(from)
            cfg.renamedCommands.append((from, to))
            return nil
        case "user":
            guard !args.isEmpty else { return bad }
            if let e = checkUserRules(argv) { return e }
            cfg.userDirectives.append(args)
            return nil
        case "loadmodule":
            guard !args.isEmpty else { return bad }
            notices.append("Module loading is not supported: 'loadmodule \(args.joined(separator: " "))' ignored")
            return nil
        case "sentinel":
            return "sentinel directive while not in sentinel mode"
        default:
            break
        }
        guard let d = index[name] else {
            if deadDirectives.contains(name) && args.count == 1 { return nil }
            return bad
        }
        var values = args
        if d.flags.contains(.multiArg) {
            if values.isEmpty { return Directives.wrongArgs }
            // Like Redis 7.0, a single argument of a multi-argument directive is split on
            // spaces (`--save "900 1"`, `--client-output-buffer-limit "pubsub 0 1mb 1"`).
            if values.count == 1 && !values[0].isEmpty {
                values = values[0].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                if values.isEmpty { values = [""] }
            }
        } else if values.count != 1 {
            return Directives.wrongArgs
        }
        return d.set(cfg, values, ctx)
    }

    /// `include` argument: a glob pattern expands to its (sorted) matches, possibly none.
    static func expandInclude(_ pattern: String) -> [String] {
        guard pattern.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) else { return [pattern] }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out
    }

    /// Whole file as text; nil (errno set) when it cannot be opened. A directory reads
    /// as empty, as with Redis.
    public static func readFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Light syntax check of `user` rules (the ACL subsystem interprets them). Redis's
    /// message names the word at the failing rule's position in the whole line.
    static func checkUserRules(_ argv: [String]) -> String? {
        let simple: Set<String> = ["on", "off", "nopass", "resetpass", "reset", "allkeys", "resetkeys",
                                   "allchannels", "resetchannels", "allcommands", "nocommands",
                                   "skip-sanitize-payload", "sanitize-payload", "clearselectors"]
        let rules = Array(argv.dropFirst(2))
        var inSelector = false
        for (i, r) in rules.enumerated() {
            let l = ConfigText.lower(r)
            if inSelector { if r.hasSuffix(")") { inSelector = false }; continue }
            if r.hasPrefix("(") { inSelector = !r.hasSuffix(")"); continue }
            if simple.contains(l) { continue }
            if let c = r.first, ">< #!~&+-%".contains(c) { continue }
            let word = i < argv.count ? argv[i] : r
            return "Error in user declaration '\(word)': Syntax error"
        }
        return nil
    }

    /// Notices for directives Tern accepts without acting on them, when set to a
    /// non-default value.
    public static func unsupportedNotices(_ cfg: ServerConfig) -> [String] {
        all.filter { $0.flags.contains(.unsupported) && $0.get(cfg) != $0.get(pristine) }.map {
            "Config directive '\($0.name)' is accepted but not supported by Tern: the setting has no effect"
        }
    }
}

// MARK: - CONFIG REWRITE

extension ConfigRegistry {
    static let signature = "# Generated by CONFIG REWRITE"

    /// Redis's rewrite: keep comments, blank lines and lines Tern does not manage; put
    /// each directive's current value on the lines it already occupies (aliases count as
    /// the directive); drop its extra old lines; append values that differ from the
    /// default (and always-written ones) under the signature; squeeze blank-line runs.
    public static func rewrite(old: String?, cfg: ServerConfig) -> String {
        var lines: [String] = []
        var optionLines: [String: [Int]] = [:]
        var needsSignature = true
        if let old = old, !old.isEmpty {
            // As Redis splits the file on "\n": a final newline yields a last empty line.
            for raw in ConfigText.lines(old) {
                let line = String(ConfigText.trim(raw))
                let idx = lines.count
                lines.append(line)
                if line.isEmpty || line.hasPrefix("#") {
                    if line == signature { needsSignature = false }
                    continue
                }
                guard let argv = ConfigText.splitArgs(line), !argv.isEmpty else { continue }
                var name = ConfigText.lower(argv[0])
                if let d = index[name] { name = d.name }
                optionLines[name, default: []].append(idx)
            }
        }
        var processed: Set<String> = []
        func put(_ name: String, _ newLines: [(line: String, force: Bool)]) {
            processed.insert(name)
            for (text, force) in newLines {
                if var slots = optionLines[name], !slots.isEmpty {
                    lines[slots.removeFirst()] = text
                    optionLines[name] = slots
                } else if force {
                    if needsSignature {
                        lines.append(signature)
                        needsSignature = false
                    }
                    lines.append(text)
                }
            }
        }
        for d in all { put(d.name, d.rewriteLines(cfg)) }
        put("user", (cfg.aclRewriteHook?() ?? userLines(cfg)).map { ($0, true) })
        // Lines of managed directives that were not reused are dropped.
        for name in processed {
            for idx in optionLines[name] ?? [] { lines[idx] = "" }
        }
        var out = ""
        var lastEmpty = false
        for l in lines {
            if l.isEmpty {
                if lastEmpty { continue }
                lastEmpty = true
            } else {
                lastEmpty = false
            }
            out += l
            out += "\n"
        }
        return out
    }

    /// `user` lines: the default user (requirepass) plus users declared in the file,
    /// with clear-text passwords stored as SHA-256 hashes like Redis does.
    static func userLines(_ cfg: ServerConfig) -> [String] {
        var out: [String] = []
        var declaredDefault = false
        for args in cfg.userDirectives {
            let hashed = args.enumerated().map { i, a -> String in
                i > 0 && a.hasPrefix(">") ? "#" + SHA256Digest.hex(Array(a.utf8.dropFirst())) : a
            }
            if hashed.first == "default" { declaredDefault = true }
            out.append("user " + hashed.joined(separator: " "))
        }
        if !declaredDefault {
            let pass = cfg.requirepass.isEmpty ? "nopass" : "#" + SHA256Digest.hex(Array(cfg.requirepass.utf8))
            out.append("user default on \(pass) ~* &* +@all")
        }
        return out
    }
}

/// SHA-256 (FIPS 180-4), for ACL password hashes in rewritten config files.
enum SHA256Digest {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var m = message
        let bitLength = UInt64(message.count) &* 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for i in (0..<8).reversed() { m.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for i in 0..<16 {
                let b = chunk + i * 4
                w[i] = UInt32(m[b]) << 24 | UInt32(m[b + 1]) << 16 | UInt32(m[b + 2]) << 8 | UInt32(m[b + 3])
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d
            h[4] = h[4] &+ e; h[5] = h[5] &+ f; h[6] = h[6] &+ g; h[7] = h[7] &+ hh
        }
        return h.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) } }
    }

    static func hex(_ message: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in digest(message) { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
