import TernConfig
import TernProtocol
import TernStore

/// A command implementation: reads `args` (args[0] is the command name), writes
/// exactly one reply to `c.out` (unless the client blocks).
public typealias CommandHandler = (Client, Args) -> Void

/// Command flags, as COMMAND INFO names them.
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

    static let names: [(String, CommandFlags)] = [
        ("write", .write), ("readonly", .readonly), ("denyoom", .denyoom), ("admin", .admin),
        ("pubsub", .pubsub), ("noscript", .noscript), ("blocking", .blocking), ("loading", .loading),
        ("stale", .stale), ("skip_monitor", .skipMonitor), ("skip_slowlog", .skipSlowlog),
        ("fast", .fast), ("no_auth", .noAuth), ("may_replicate", .mayReplicate),
        ("no_mandatory_keys", .noMandatoryKeys), ("no_async_loading", .noAsyncLoading),
        ("no_multi", .noMulti), ("movablekeys", .movableKeys), ("allow_busy", .allowBusy),
        ("only_sentinel", .onlySentinel), ("sentinel", .sentinel),
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
    public let arity: Int
    public let flags: CommandFlags
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    public let aclCategories: [String]
    /// COMMAND INFO reply element for this command (RESP3 tree, subcommands included).
    public let info: RESPValue
    /// COMMAND DOCS map for this command (without prose); summary added by the table.
    public var docs: RESPValue
    public var handler: CommandHandler
    /// For movablekeys commands: the key argument indexes of a concrete call.
    public var getKeys: ((Args) -> [Int])?
    /// Redis's protected commands (DEBUG, MODULE): dispatch refuses them before
    /// authentication unless their enable-*-command option allows the client.
    public internal(set) var isProtected = false
    public var subcommands: [String: Command] = [:] { didSet { hasSubcommands = !subcommands.isEmpty } }
    /// A plain flag for the dispatcher (reading the dictionary costs a retain/release).
    public private(set) var hasSubcommands = false
    public weak var parent: Command?
    public var stats = CommandStats()
    /// Latency histogram buckets (power-of-two microseconds) for LATENCY HISTOGRAM / latencystats.
    public var latencyHistogram: [Int] = []

    init(name: String, info: RESPValue, docs: RESPValue, handler: @escaping CommandHandler) {
        self.name = name
        self.info = info
        self.docs = docs
        self.handler = handler
        let e = info.elements
        arity = e.count > 1 ? (e[1].int ?? 0) : 0
        var f: CommandFlags = []
        if e.count > 2 { for x in e[2].elements { if let t = x.text, let fl = CommandFlags.named(t) { f.insert(fl) } } }
        flags = f
        firstKey = e.count > 3 ? (e[3].int ?? 0) : 0
        lastKey = e.count > 4 ? (e[4].int ?? 0) : 0
        keyStep = e.count > 5 ? (e[5].int ?? 0) : 0
        aclCategories = e.count > 6 ? e[6].elements.compactMap { $0.text } : []
    }

    /// "get" or "config|get": the name used in errors and stats.
    public var fullName: String { name }

    public var isWrite: Bool { flags.contains(.write) }

    /// Key argument positions for a concrete call (first/last/step, or getKeys for movable keys).
    public func keyIndexes(_ args: Args) -> [Int] {
        if let g = getKeys { return g(args) }
        if firstKey <= 0 { return [] }
        let last = lastKey < 0 ? args.count + lastKey : lastKey
        var out: [Int] = []
        var i = firstKey
        while i <= last && i < args.count {
            out.append(i)
            i += max(keyStep, 1)
        }
        return out
    }
}
