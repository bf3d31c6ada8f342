import TernConfig
import TernProtocol
import TernStore

/// A command implementation: reads `args` (args[0] is the command name), writes
/// exactly one reply to `c.out` (unless the client blocks).
public typealias CommandHandler = (Client, Args) -> Void

/// Command flags: the ones COMMAND INFO prints (parsed from the catalog) plus the five it
/// hides (may_replicate, protected, touches_arbitrary_keys, sentinel, only_sentinel), which
/// come from `HiddenCommandFlags`.
public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 10)
    public static let fast = CommandFlags(rawValue: 1 << 11)
    public static let noAuth = CommandFlags(rawValue: 1 << 12)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 13)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 14)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 15)
    public static let noMulti = CommandFlags(rawValue: 1 << 16)
    public static let movableKeys = CommandFlags(rawValue: 1 << 17)
    public static let allowBusy = CommandFlags(rawValue: 1 << 18)
    public static let onlySentinel = CommandFlags(rawValue: 1 << 19)
    public static let sentinel = CommandFlags(rawValue: 1 << 20)
    public static let asking = CommandFlags(rawValue: 1 << 21)
    public static let `protected` = CommandFlags(rawValue: 1 << 22)
    public static let touchesArbitraryKeys = CommandFlags(rawValue: 1 << 23)

    /// The flags COMMAND INFO never prints; the catalog cannot carry them.
    public static let hiddenFromInfo: CommandFlags = [.mayReplicate, .protected, .touchesArbitraryKeys, .sentinel, .onlySentinel]

    static let names: [(String, CommandFlags)] = [
        ("write", .write), ("readonly", .readonly), ("denyoom", .denyoom), ("admin", .admin),
        ("pubsub", .pubsub), ("noscript", .noscript), ("blocking", .blocking), ("loading", .loading),
        ("stale", .stale), ("skip_monitor", .skipMonitor), ("skip_slowlog", .skipSlowlog),
        ("fast", .fast), ("no_auth", .noAuth), ("may_replicate", .mayReplicate),
        ("no_mandatory_keys", .noMandatoryKeys), ("no_async_loading", .noAsyncLoading),
        ("no_multi", .noMulti), ("movablekeys", .movableKeys), ("allow_busy", .allowBusy),
        ("only_sentinel", .onlySentinel), ("sentinel", .sentinel), ("asking", .asking),
        ("protected", .protected), ("touches_arbitrary_keys", .touchesArbitraryKeys),
    ]

    static func named(_ s: String) -> CommandFlags? { names.first { $0.0 == s }?.1 }
}

/// Per-command statistics (INFO commandstats).
public struct CommandStats {
    public var calls = 0
    public var microseconds = 0
    public var rejectedCalls = 0
    public var failedCalls = 0
}

/// One entry of the command table: metadata (from the catalog of Redis 7.0 facts)
/// plus Tern's handler. Subcommands (CONFIG GET ...) are commands of their own.
public final class Command {
    public let name: String          // lowercase; "config|get" for subcommands
    /// Redis's cmd->id: a number given at registration, subcommands included, dense from 0
    /// (an index into per-user bitmaps of allowed commands).
    public let id: Int
    public let arity: Int
    /// The catalog's flags plus the hidden ones (`HiddenCommandFlags`).
    public let flags: CommandFlags
    public let aclCategories: ACLCategories
    /// Where the keys of a concrete call are (key specs plus Redis's get-keys function).
    public let keyFinder: KeyFinder
    /// Cluster mode routes it by slot (Redis: key specs, movable keys, or EXEC).
    public let routesInCluster: Bool
    /// COMMAND INFO reply element for this command (RESP3 tree, subcommands included).
    public let info: RESPValue
    /// COMMAND DOCS map for this command (without prose); summary added by the table.
    public var docs: RESPValue
    public var handler: CommandHandler
    /// Redis's protected commands (DEBUG, MODULE: the table's `protected` flag): dispatch
    /// refuses them before authentication unless their enable-*-command option allows the
    /// client. A plain stored flag for the dispatcher.
    public let isProtected: Bool
    /// A RESP2 client may send it while subscribed (Redis checks these by handler).
    public let allowedWhileSubscribed: Bool
    /// Runs at once inside MULTI instead of being queued.
    public let runsImmediatelyInMulti: Bool
    public var subcommands: [String: Command] = [:] { didSet { hasSubcommands = !subcommands.isEmpty } }
    /// A plain flag for the dispatcher (reading the dictionary costs a retain/release).
    public private(set) var hasSubcommands = false
    public weak var parent: Command?
    public var stats = CommandStats()
    /// Latency histogram buckets (power-of-two microseconds) for LATENCY HISTOGRAM / latencystats.
    public var latencyHistogram: [Int] = []

    init(name: String, id: Int, info: RESPValue, docs: RESPValue, handler: @escaping CommandHandler) {
        self.name = name
        self.id = id
        self.info = info
        self.docs = docs
        self.handler = handler
        let e = info.elements
        arity = e.count > 1 ? (e[1].int ?? 0) : 0
        var f: CommandFlags = HiddenCommandFlags.table[name] ?? []
        if e.count > 2 { for x in e[2].elements { if let t = x.text, let fl = CommandFlags.named(t) { f.insert(fl) } } }
        flags = f
        isProtected = f.contains(.protected)
        allowedWhileSubscribed = ["ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
                                  "punsubscribe", "quit", "reset"].contains(name)
        runsImmediatelyInMulti = ["exec", "discard", "multi", "watch", "quit", "reset"].contains(name)
        aclCategories = ACLCategories.parse(info)
        keyFinder = KeyFinder(specs: KeySpec.parse(info), function: KeyFunction.of(name))
        routesInCluster = !keyFinder.specs.isEmpty || keyFinder.function != .none || name == "exec"
    }

    /// "get" or "config|get": the name used in errors and stats.
    public var fullName: String { name }

    public var isWrite: Bool { flags.contains(.write) }
}
