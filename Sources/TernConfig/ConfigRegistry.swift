import CTern
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

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
    public static let visibleNames: [(String, ConfigDirective)] = {
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
            D.bool("syslog-enabled", \.syslogEnabled, [.immutable]),
            D.string("syslog-ident", [], \.syslogIdent, def: "redis", [.immutable]),
            D.enumeration("syslog-facility", [], \.syslogFacility, def: "local0", ["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"], [.immutable]),
            D.bool("crash-log-enabled", def: true, u),
            D.bool("crash-memcheck-enabled", def: true, u),
            D.int("databases", \.databases, min: 1, max: I32, [.immutable]),
            D.bool("always-show-logo", \.alwaysShowLogo, [.immutable]),
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
            D.bool("jemalloc-bg-thread", \.jemallocBgThread, apply: { cfg in
                tern_allocator_background_thread(cfg.jemallocBgThread ? 1 : 0)
                return nil
            }),
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
            D.string("appendfilename", [], \.appendfilename, [.immutable], validate: D.nonEmptyBaseName("appendfilename", "filename")),
            D.string("appenddirname", [], \.appenddirname, [.immutable], validate: D.nonEmptyBaseName("appenddirname", "dirname")),
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
