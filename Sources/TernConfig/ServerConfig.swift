/// Typed server settings read on hot paths. The directive registry (ConfigRegistry:
/// names, parsing, CONFIG GET/SET/REWRITE) maps onto these fields; directives without
/// a field here keep their value in `extra` (canonical text, read with `value(of:)`).
/// Defaults are Redis 7.0's compiled defaults.
public final class ServerConfig {
    // MARK: network
    public var port = 6379
    /// Tern binds loopback by default (as the stock redis.conf does), not Redis's compiled `* -::*`.
    public var bind: [String] = ["127.0.0.1", "-::1"]
    public var protectedMode = true
    public var tcpBacklog = 511
    public var tcpKeepalive = 300
    public var timeout = 0
    public var maxclients = 10000
    public var unixsocket = ""
    public var unixsocketperm = 0

    // MARK: general
    public var databases = 16
    public var hz = 10
    public var dynamicHz = true
    public var activeExpireEffort = 1
    public var activerehashing = true
    public var protoMaxBulkLen = 512 * 1024 * 1024
    public var clientQueryBufferLimit = 1024 * 1024 * 1024
    public var enableDebugCommand = "no"   // yes | no | local
    public var enableModuleCommand = "no"
    public var enableProtectedConfigs = "no"
    public var dir = "."
    public var logfile = ""
    public var syslogEnabled = false
    public var syslogIdent = "redis"
    public var syslogFacility = "local0"
    public var alwaysShowLogo = false
    public var loglevel = "notice"
    public var pidfile = ""
    public var daemonize = false
    public var requirepass = ""
    /// Bits of NotifyClass (Engine.swift).
    public var notifyKeyspaceEvents = 0
    public var shutdownTimeout = 10
    /// Bits: 1 save, 2 nosave, 4 now, 8 force (0 = default).
    public var shutdownOnSigint = 0
    public var shutdownOnSigterm = 0
    public var trackingTableMaxKeys = 1_000_000
    public var busyReplyThreshold = 5000
    public var sanitizeDumpPayload = "no"
    public var aclPubsubDefault = "resetchannels"
    public var acllogMaxLen = 128
    public var aclfile = ""

    // MARK: slowlog / latency
    public var slowlogLogSlowerThan = 10000
    public var slowlogMaxLen = 128
    public var latencyMonitorThreshold = 0
    public var latencyTracking = true
    public var latencyTrackingInfoPercentiles: [Double] = [50, 99, 99.9]

    // MARK: memory and eviction
    /// maxmemory clamped to Int (the exact unsigned value is `maxmemoryBytes`).
    public var maxmemory = 0
    public var maxmemoryBytes: UInt64 = 0
    public var maxmemoryPolicy = "noeviction" {
        didSet {
            usesLFU = maxmemoryPolicy.hasSuffix("-lfu")
            evictsByAccess = usesLFU || maxmemoryPolicy.hasSuffix("-lru")
            lfuPolicyChanged?(usesLFU)
        }
    }
    /// Told when the 24-bit object field switches between LRU and LFU data (the engine keeps
    /// each database's overwrite rule in step).
    public var lfuPolicyChanged: ((Bool) -> Void)? {
        didSet { lfuPolicyChanged?(usesLFU) }
    }
    /// The 24-bit object field holds LFU data (volatile-lfu / allkeys-lfu), cached for hot paths.
    public private(set) var usesLFU = false
    /// An LRU or LFU policy (Redis's MAXMEMORY_FLAG_NO_SHARED_INTEGERS), cached for hot paths.
    public private(set) var evictsByAccess = false
    public var maxmemorySamples = 5
    public var maxmemoryEvictionTenacity = 10
    /// Bytes, or a negative number meaning that percentage of maxmemory.
    public var maxmemoryClients = 0
    public var lfuLogFactor = 10
    public var lfuDecayTime = 1
    /// jemalloc's background threads purge freed pages so RSS follows used memory (Redis's
    /// default; applied at startup and by CONFIG SET).
    public var jemallocBgThread = true
    public var lazyfreeLazyEviction = false
    public var lazyfreeLazyExpire = false
    public var lazyfreeLazyUserDel = false
    public var lazyfreeLazyUserFlush = false
    public var lazyfreeLazyServerDel = false {
        didSet { lazyfreeServerDelChanged?(lazyfreeLazyServerDel) }
    }
    /// Told when lazyfree-lazy-server-del changes (each database frees server-side deletes
    /// by that rule).
    public var lazyfreeServerDelChanged: ((Bool) -> Void)? {
        didSet { lazyfreeServerDelChanged?(lazyfreeLazyServerDel) }
    }
    public var replicaLazyFlush = false
    public var replicaIgnoreMaxmemory = true

    // MARK: encodings
    public var hashMaxListpackEntries = 512
    public var hashMaxListpackValue = 64
    public var zsetMaxListpackEntries = 128
    public var zsetMaxListpackValue = 64
    public var setMaxIntsetEntries = 512
    public var listMaxListpackSize = -2
    public var listCompressDepth = 0
    public var streamNodeMaxBytes = 4096
    public var streamNodeMaxEntries = 100
    public var hllSparseMaxBytes = 3000

    // MARK: persistence
    /// RDB save points (seconds, changes).
    public var saveParams: [(seconds: Int, changes: Int)] = [(3600, 1), (300, 100), (60, 10000)]
    public var dbfilename = "dump.rdb"
    public var rdbcompression = true
    public var rdbchecksum = true
    public var rdbDelSyncFiles = false
    public var rdbSaveIncrementalFsync = true
    public var stopWritesOnBgsaveError = true
    public var appendonly = false
    public var appendfilename = "appendonly.aof"
    public var appenddirname = "appendonlydir"
    public var appendfsync = "everysec"
    public var noAppendfsyncOnRewrite = false
    public var autoAofRewritePercentage = 100
    public var autoAofRewriteMinSize = 64 * 1024 * 1024
    public var aofLoadTruncated = true
    public var aofUseRdbPreamble = true
    public var aofTimestampEnabled = false
    public var aofRewriteIncrementalFsync = true
    public var aofDisableAutoGc = false

    // MARK: replication
    /// `replicaof host port` ("" when not a replica).
    public var replicaofHost = ""
    public var replicaofPort = 0
    public var masterauth = ""
    public var masteruser = ""
    public var replicaReadOnly = true
    public var replicaServeStaleData = true
    public var replicaPriority = 100
    public var replicaAnnounced = true
    public var replicaAnnounceIp = ""
    public var replicaAnnouncePort = 0
    public var replicaIgnoreDiskWriteErrors = false
    public var replBacklogSize = 1024 * 1024
    public var replBacklogTtl = 3600
    public var replTimeout = 60
    public var replPingReplicaPeriod = 10
    public var replDisableTcpNodelay = false
    public var replDisklessSync = true
    public var replDisklessSyncDelay = 5
    public var replDisklessSyncMaxReplicas = 0
    public var replDisklessLoad = "disabled"
    public var minReplicasToWrite = 0
    public var minReplicasMaxLag = 10
    public var propagationErrorBehavior = "ignore"

    // MARK: client output buffers (normal, replica, pubsub): hard, soft bytes, soft seconds
    public var clientOutputBufferLimits: [ClientBufferLimit] = [
        ClientBufferLimit(hard: 0, soft: 0, softSeconds: 0),
        ClientBufferLimit(hard: 256 << 20, soft: 64 << 20, softSeconds: 60),
        ClientBufferLimit(hard: 32 << 20, soft: 8 << 20, softSeconds: 60),
    ]

    // MARK: cluster
    public var clusterEnabled = false
    public var clusterConfigFile = "nodes.conf"
    public var clusterNodeTimeout = 15000
    public var clusterPort = 0
    public var clusterAnnounceIp = ""
    public var clusterAnnounceHostname = ""
    public var clusterAnnouncePort = 0
    public var clusterAnnounceBusPort = 0
    public var clusterAnnounceTlsPort = 0
    public var clusterPreferredEndpointType = "ip"
    public var clusterRequireFullCoverage = true
    public var clusterAllowReadsWhenDown = false
    public var clusterAllowPubsubshardWhenDown = true
    public var clusterAllowReplicaMigration = true
    public var clusterReplicaNoFailover = false
    public var clusterReplicaValidityFactor = 10
    public var clusterMigrationBarrier = 1
    public var clusterLinkSendbufLimit: UInt64 = 0

    // MARK: debugging (hidden directives)
    public var keyLoadDelay = 0
    public var rdbKeySaveDelay = 0
    public var loadingProcessEventsIntervalBytes = 2 * 1024 * 1024

    // MARK: process-level state (not directives)
    /// Absolute path of the config file ("" when started without one): CONFIG REWRITE target.
    public var configFile = ""
    /// Values of directives without a typed field above (name -> canonical text).
    public var extra: [String: String] = [:]
    /// `rename-command old new` lines, applied to the command table at startup.
    public var renamedCommands: [(from: String, to: String)] = []
    /// `user ...` lines (arguments after `user`), for the ACL subsystem.
    public var userDirectives: [[String]] = []
    /// Subsystem hooks run after CONFIG SET changed a directive: return an error text to
    /// make the whole CONFIG SET fail and roll back (name -> hooks).
    public var applyHooks: [String: [(ServerConfig) -> String?]] = [:]
    /// Rebinds the listeners (bind addresses, port); returns an error text on failure.
    /// Set by the server layer.
    public var listenerHook: ((_ bind: [String], _ port: Int) -> String?)?
    /// Extra `user` lines for CONFIG REWRITE (set by an ACL subsystem; nil = Tern's own).
    public var aclRewriteHook: (() -> [String])?
    /// Sentinel mode (`--sentinel`): `sentinel ...` lines are collected in `sentinelLines`
    /// (line number, text, arguments after the keyword) for TernSentinel to apply once the
    /// whole file is read, instead of being refused.
    public var sentinelMode = false
    public var sentinelLines: [(line: Int, text: String, args: [String])] = []
    /// CONFIG REWRITE in sentinel mode: the sentinel's state as (key, line) pairs, key being
    /// "sentinel <directive>" (old lines are matched per directive, as Redis does).
    public var sentinelRewriteHook: (() -> [(key: String, line: String)])?

    public init() {}

    /// CONFIG GET text of any directive (nil if unknown).
    public func value(of name: String) -> String? {
        ConfigRegistry.lookup(name).map { $0.get(self) }
    }

    /// Registers a hook run after CONFIG SET changes `name`.
    public func onChange(_ name: String, _ hook: @escaping (ServerConfig) -> String?) {
        applyHooks[name, default: []].append(hook)
    }

    /// The percentage-free client memory limit in bytes (0 = no limit).
    public var maxmemoryClientsBytes: Int {
        if maxmemoryClients >= 0 { return maxmemoryClients }
        let pct = -maxmemoryClients
        return Int(clamping: maxmemoryBytes / 100 &* UInt64(pct))
    }
}

/// One client class of client-output-buffer-limit.
public struct ClientBufferLimit: Equatable, Sendable {
    public var hard: UInt64
    public var soft: UInt64
    public var softSeconds: Int
    public init(hard: UInt64, soft: UInt64, softSeconds: Int) {
        self.hard = hard; self.soft = soft; self.softSeconds = softSeconds
    }
}
