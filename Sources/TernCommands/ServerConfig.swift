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
    public var maxmemory = 0
    public var maxmemoryPolicy = "noeviction"
    public var maxmemorySamples = 5
    public var lfuLogFactor = 10
    public var lfuDecayTime = 1
    public var activerehashing = true
    public var configFile = ""
    /// list-max-listpack-size (alias list-max-ziplist-size) and list-compress-depth.
    public var listMaxListpackSize = -2
    public var listCompressDepth = 0

    public init() {}
}
