import CTern
import TernProtocol
import TernStore
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
    /// Command names as renamed so far by rename-command lines (starts as the catalog's).
    var commandNames: Set<String>
    public init(loading: Bool, commandNames: Set<String> = []) {
        self.loading = loading
        self.commandNames = commandNames
    }
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
    public let apply: ((ServerConfig) -> String?)?

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
