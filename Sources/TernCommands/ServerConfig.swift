/// Typed server settings read on hot paths. The directive registry (names, parsing,
/// CONFIG GET/SET/REWRITE) maps onto these fields.
public final class ServerConfig {
    public var port = 6379
    public var bind: [String] = ["127.0.0.1", "-::1"]
    public var databases = 16
    public var hz = 10
    public var activeExpireEffort = 1
    public var protoMaxBulkLen = 512 * 1024 * 1024
    public var enableDebugCommand = "no"   // yes | no | local
    public var dir = "."
    public var logfile = ""
    public var loglevel = "notice"
    public var pidfile = ""
    public var daemonize = false
    public var maxclients = 10000
    public var timeout = 0
    public var tcpBacklog = 511
    public var tcpKeepalive = 300
    public var slowlogLogSlowerThan = 10000
    public var slowlogMaxLen = 128
    public var latencyMonitorThreshold = 0
    public var lazyfreeLazyExpire = false
    public var lazyfreeLazyUserDel = false
    public var lazyfreeLazyUserFlush = false
    public var lazyfreeLazyServerDel = false
    public var requirepass = ""
    public var notifyKeyspaceEvents = 0
    /// tracking-table-max-keys: keys remembered for client-side caching (0 = no limit).
    public var trackingTableMaxKeys = 1_000_000
    /// client-output-buffer-limit per client class: [normal, replica, pubsub]
    /// (`OutputBufferLimit.parseDirective` / `formatDirective` read and write the directive).
    public var clientOutputBufferLimits: [OutputBufferLimit] = OutputBufferLimit.defaults
    public var maxmemory = 0
    public var maxmemoryPolicy = "noeviction"
    public var maxmemorySamples = 5
    public var lfuLogFactor = 10
    public var lfuDecayTime = 1
    public var activerehashing = true
    public var configFile = ""

    public init() {}
}

/// One class of client-output-buffer-limit: bytes (0 = none) and soft-limit seconds.
public struct OutputBufferLimit: Equatable, Sendable {
    public var hard: Int
    public var soft: Int
    public var softSeconds: Int
    public init(hard: Int, soft: Int, softSeconds: Int) {
        self.hard = hard; self.soft = soft; self.softSeconds = softSeconds
    }
    /// Redis's defaults: normal 0 0 0, replica 256mb 64mb 60, pubsub 32mb 8mb 60.
    public static let defaults = [
        OutputBufferLimit(hard: 0, soft: 0, softSeconds: 0),
        OutputBufferLimit(hard: 256 << 20, soft: 64 << 20, softSeconds: 60),
        OutputBufferLimit(hard: 32 << 20, soft: 8 << 20, softSeconds: 60),
    ]
}
