import CTern
import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// CLIENT, COMMAND, INFO, SLOWLOG, LATENCY, MONITOR, SHUTDOWN, TIME, LASTSAVE.
    func registerServerCommands() {
        registerClientCommands()
        registerCommandCommands()
        registerSlowlogCommands()
        registerLatencyCommands()
        registerMonitorCommand()
        registerShutdownCommand()
        registerPersistenceCommands()
        commands.register("info", InfoCommand.info)
        commands.register("time", InfoCommand.time)
        commands.register("lastsave", InfoCommand.lastsave)
    }
}

/// Moving average of a per-second rate over the last 16 samples taken every 100 ms
/// (instantaneous_ops_per_sec and the kbps fields).
struct RateSampler {
    var samples = [Double](repeating: 0, count: 16)
    var next = 0
    var lastValue = 0
    var lastTimeMs: Int64 = 0

    mutating func sample(value: Int, nowMs: Int64) {
        if lastTimeMs > 0 {
            let dt = max(1, nowMs - lastTimeMs)
            samples[next] = Double(value - lastValue) * 1000 / Double(dt)
            next = (next + 1) % samples.count
        }
        lastValue = value
        lastTimeMs = nowMs
    }

    var average: Double { samples.reduce(0, +) / Double(samples.count) }
}

/// Server-wide INFO state: sampled rates, peak memory, fixed fields.
public final class InfoState {
    /// Set by Engine.init right after creating this state; the engine owns it and
    /// outlives it.
    unowned(unsafe) var engine: Engine!
    var ops = RateSampler()
    var netIn = RateSampler()
    var netOut = RateSampler()
    var netReplIn = RateSampler()
    var netReplOut = RateSampler()
    /// used_memory and its peak, read from the allocator (Core/MemoryAccounting.swift).
    public let memory = MemoryAccounting()
    var peakMemory: Int { memory.peak }
    var startupMemory: Int { memory.startup }
    let executable: String
    /// Unix time (seconds) of the last successful save; the start time until persistence exists.
    public var lastSaveTime: Int
    /// Deep payload validations run (RESTORE under sanitize-dump-payload yes/clients).
    public var dumpPayloadSanitizations = 0
    /// Successful saves (rdb_saves), the status of the last one, and what the startup load found.
    public var rdbSaves = 0
    public var lastBgsaveOK = true
    /// Unix seconds of the last background save attempt (the cron's retry delay) and its length.
    public var lastBgsaveTry = 0
    public var lastBgsaveSeconds = -1
    public var lastLoadKeysLoaded = 0
    public var lastLoadKeysExpired = 0

    init(startTimeMs: Int64) {
        executable = InfoState.absoluteExecutable()
        lastSaveTime = Int(startTimeMs / 1000)
    }

    static func absoluteExecutable() -> String {
        guard let argv0 = CommandLine.arguments.first else { return "" }
        if argv0.hasPrefix("/") { return argv0 }
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return argv0 }
        var cwd = String(cString: buf)
        var rel = Substring(argv0)
        while rel.hasPrefix("./") { rel = rel.dropFirst(2) }
        while rel.hasPrefix("../") {
            rel = rel.dropFirst(3)
            if let slash = cwd.lastIndex(of: "/"), slash != cwd.startIndex { cwd = String(cwd[..<slash]) } else { cwd = "/" }
        }
        return cwd.hasSuffix("/") ? cwd + rel : cwd + "/" + rel
    }

    func cron() {
        let now = Engine.wallClockMs()
        guard now - ops.lastTimeMs >= 100 else { return }
        ops.sample(value: engine.stats.totalCommands, nowMs: now)
        netIn.sample(value: engine.stats.netInputBytes, nowMs: now)
        netOut.sample(value: engine.stats.netOutputBytes, nowMs: now)
        netReplIn.sample(value: engine.stats.netReplInputBytes, nowMs: now)
        netReplOut.sample(value: engine.stats.netReplOutputBytes, nowMs: now)
        // used_memory_peak from the running figure at each sample (Redis's cron reads its
        // counter); the allocator-wide refresh (a jemalloc epoch merging every arena, ~130k
        // instructions) once a second, for what other threads allocated and freed. INFO,
        // MEMORY and eviction over the limit refresh on their own.
        if now - lastMemoryRefreshMs >= 1000 {
            lastMemoryRefreshMs = now
            updatePeak()
        } else {
            memory.notePeak()
        }
    }

    private var lastMemoryRefreshMs: Int64 = 0

    @discardableResult
    func updatePeak() -> Int { memory.refresh() }
}

/// Redis's human-readable byte counts: "1016.59K", "12.21M", "0B".
func bytesToHuman(_ n: Int) -> String {
    let d = Double(n)
    let units: [(Double, String)] = [(1024, "K"), (1024 * 1024, "M"), (1024 * 1024 * 1024, "G"),
                                     (1024.0 * 1024 * 1024 * 1024, "T"), (1024.0 * 1024 * 1024 * 1024 * 1024, "P")]
    if n < 1024 { return "\(n)B" }
    for (i, (size, suffix)) in units.enumerated() {
        let nextSize = i + 1 < units.count ? units[i + 1].0 : Double.infinity
        if d < nextSize { return ReplyBuffer.cFormat("%.2f", d / size) + suffix }
    }
    return "\(n)B"
}

public enum InfoCommand {
    /// Sections in output order; `true` = part of the default set.
    static let sections: [(String, Bool)] = [
        ("server", true), ("clients", true), ("memory", true), ("persistence", true), ("stats", true),
        ("replication", true), ("cpu", true), ("modules", true), ("commandstats", false),
        ("errorstats", true), ("latencystats", false), ("cluster", true), ("keyspace", true),
    ]

    static func info(_ c: Client, _ a: Args) {
        var wanted = Set<String>()
        if a.count == 1 {
            for (name, isDefault) in sections where isDefault { wanted.insert(name) }
        } else {
            for i in 1..<a.count {
                let s = a.lowercased(i)
                switch s {
                case "default": for (name, isDefault) in sections where isDefault { wanted.insert(name) }
                case "all", "everything": for (name, _) in sections { wanted.insert(name) }
                default: wanted.insert(s)
                }
            }
        }
        c.out.verbatim(render(c.engine, wanted))
    }

    public static func render(_ e: Engine, _ wanted: Set<String>) -> String {
        var text = ""
        var count = 0
        for (name, _) in sections where wanted.contains(name) {
            if count > 0 { text += "\r\n" }
            count += 1
            text += "# " + title(name) + "\r\n"
            for (k, v) in fields(e, name) {
                text += k
                text += ":"
                text += v
                text += "\r\n"
            }
        }
        return text
    }

    static func title(_ s: String) -> String {
        switch s {
        case "cpu": return "CPU"
        case "commandstats": return "Commandstats"
        case "errorstats": return "Errorstats"
        case "latencystats": return "Latencystats"
        default: return s.prefix(1).uppercased() + s.dropFirst()
        }
    }

    static func fields(_ e: Engine, _ section: String) -> [(String, String)] {
        switch section {
        case "server": return server(e)
        case "clients": return clients(e)
        case "memory": return memory(e)
        case "persistence": return persistence(e)
        case "stats": return stats(e)
        case "replication": return replication(e)
        case "cpu": return cpu()
        case "commandstats": return commandstats(e)
        case "errorstats":
            return e.stats.errorCounts.sorted { $0.key < $1.key }.map { ("errorstat_" + $0.key, "count=\($0.value)") }
        case "latencystats": return latencystats(e)
        case "cluster": return [("cluster_enabled", e.cluster != nil ? "1" : "0")]
        case "keyspace":
            return e.databases.filter { $0.count > 0 }.map {
                ("db\($0.id)", "keys=\($0.count),expires=\($0.expiresCount),avg_ttl=\($0.avgTTL)")
            }
        default: return []
        }
    }

    static func server(_ e: Engine) -> [(String, String)] {
        var u = utsname()
        uname(&u)
        func field<T>(_ v: inout T) -> String {
            withUnsafeBytes(of: &v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let os = "\(field(&u.sysname)) \(field(&u.release)) \(field(&u.machine))"
        var tv = timeval()
        gettimeofday(&tv, nil)
        let uptime = Int((Engine.wallClockMs() - e.startTimeMs) / 1000)
        return [
            ("redis_version", "7.0.15"),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", "0"),
            ("redis_build_id", "7465726e00000000"),
            ("redis_mode", e.sentinelMode ? "sentinel" : e.cluster != nil ? "cluster" : "standalone"),
            ("os", os),
            ("arch_bits", "\(MemoryLayout<Int>.size * 8)"),
            ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"),
            ("gcc_version", "0.0.0"),
            ("process_id", "\(getpid())"),
            ("process_supervised", "no"),
            ("run_id", e.runID),
            ("tcp_port", "\(e.config.port)"),
            ("server_time_usec", "\(Int(tv.tv_sec) * 1_000_000 + Int(tv.tv_usec))"),
            ("uptime_in_seconds", "\(uptime)"),
            ("uptime_in_days", "\(uptime / 86400)"),
            ("hz", "\(e.config.hz)"),
            ("configured_hz", "\(e.config.hz)"),
            ("lru_clock", "\(e.lruClock)"),
            ("executable", e.infoState.executable),
            ("config_file", e.config.configFile),
            ("io_threads_active", "0"),
        ]
    }

    static func clients(_ e: Engine) -> [(String, String)] {
        var connected = 0, blocked = 0, tracking = 0, maxIn = 0, maxOut = 0
        for c in e.clients.values {
            if !c.flags.contains(.replica) { connected += 1 }
            // Clients held by CLIENT PAUSE count as blocked, as in Redis 7.0.
            if c.flags.contains(.blocked) || c.postponed { blocked += 1 }
            if c.flags.contains(.tracking) { tracking += 1 }
            maxIn = max(maxIn, c.queryBufferLength)
            maxOut = max(maxOut, e.outputBufferMemory(c))
        }
        return [
            ("connected_clients", "\(connected)"),
            ("cluster_connections", "0"),
            ("maxclients", "\(e.config.maxclients)"),
            ("client_recent_max_input_buffer", "\(maxIn)"),
            ("client_recent_max_output_buffer", "\(maxOut)"),
            ("blocked_clients", "\(blocked)"),
            ("tracking_clients", "\(tracking)"),
            ("clients_in_timeout_table", "\(e.blocking.clientsWithTimeout)"),
        ]
    }

    static func memory(_ e: Engine) -> [(String, String)] {
        let m = MemoryOverview(e)
        let used = m.used
        let rss = m.rss
        let system = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        let maxmemory = e.config.maxmemory
        func pct(_ v: Double) -> String { ReplyBuffer.cFormat("%.2f", v) + "%" }
        func r2(_ v: Double) -> String { ReplyBuffer.cFormat("%.2f", v) }
        let lazy = LazyFree.shared
        return [
            ("used_memory", "\(used)"),
            ("used_memory_human", bytesToHuman(used)),
            ("used_memory_rss", "\(rss)"),
            ("used_memory_rss_human", bytesToHuman(rss)),
            ("used_memory_peak", "\(m.peak)"),
            ("used_memory_peak_human", bytesToHuman(m.peak)),
            ("used_memory_peak_perc", pct(m.peakPercentage)),
            ("used_memory_overhead", "\(m.overheadTotal)"),
            ("used_memory_startup", "\(m.startup)"),
            ("used_memory_dataset", "\(m.dataset)"),
            ("used_memory_dataset_perc", pct(m.datasetPercentage)),
            ("allocator_allocated", "\(m.allocator.allocated)"),
            ("allocator_active", "\(m.allocator.active)"),
            ("allocator_resident", "\(m.allocator.resident)"),
            ("total_system_memory", "\(system)"),
            ("total_system_memory_human", bytesToHuman(system)),
            ("used_memory_lua", "0"),
            ("used_memory_vm_eval", "0"),
            ("used_memory_lua_human", "0B"),
            ("used_memory_scripts_eval", "0"),
            ("number_of_cached_scripts", "0"),
            ("number_of_functions", "0"),
            ("number_of_libraries", "0"),
            ("used_memory_vm_functions", "0"),
            ("used_memory_vm_total", "0"),
            ("used_memory_vm_total_human", "0B"),
            ("used_memory_functions", "0"),
            ("used_memory_scripts", "0"),
            ("used_memory_scripts_human", "0B"),
            ("maxmemory", "\(maxmemory)"),
            ("maxmemory_human", bytesToHuman(maxmemory)),
            ("maxmemory_policy", e.config.maxmemoryPolicy),
            ("allocator_frag_ratio", r2(m.allocatorFragRatio)),
            ("allocator_frag_bytes", "\(m.allocatorFragBytes)"),
            ("allocator_rss_ratio", r2(m.allocatorRSSRatio)),
            ("allocator_rss_bytes", "\(m.allocatorRSSBytes)"),
            ("rss_overhead_ratio", r2(m.rssOverheadRatio)),
            ("rss_overhead_bytes", "\(m.rssOverheadBytes)"),
            ("mem_fragmentation_ratio", r2(m.fragmentation)),
            ("mem_fragmentation_bytes", "\(m.fragmentationBytes)"),
            ("mem_not_counted_for_evict", "\(e.memoryNotCountedForEviction())"),
            ("mem_replication_backlog", "\(m.replicationBacklog)"),
            ("mem_total_replication_buffers", "\(e.replicationBufferBytes)"),
            ("mem_clients_slaves", "\(m.clientsReplicas)"),
            ("mem_clients_normal", "\(m.clientsNormal)"),
            ("mem_cluster_links", "\(m.clusterLinks)"),
            ("mem_aof_buffer", "\(m.aofBuffer)"),
            ("mem_allocator", e.infoState.memory.allocatorName),
            ("active_defrag_running", "0"),
            ("lazyfree_pending_objects", "\(lazy.pendingObjects)"),
            ("lazyfreed_objects", "\(lazy.freedObjects)"),
        ]
    }

    static func persistence(_ e: Engine) -> [(String, String)] {
        [
            ("loading", e.loading.active ? "1" : "0"),
            ("async_loading", e.loading.async ? "1" : "0"),
            ("current_cow_peak", "0"),
            ("current_cow_size", "0"),
            ("current_cow_size_age", "0"),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"),
            ("rdb_changes_since_last_save", "\(e.dirty)"),
            ("rdb_bgsave_in_progress", e.snapshot == nil ? "0" : "1"),
            ("rdb_last_save_time", "\(e.infoState.lastSaveTime)"),
            ("rdb_last_bgsave_status", e.infoState.lastBgsaveOK ? "ok" : "err"),
            ("rdb_last_bgsave_time_sec", "\(e.infoState.lastBgsaveSeconds)"),
            ("rdb_current_bgsave_time_sec", e.snapshot == nil ? "-1" : "\((Engine.wallClockMs() - e.snapshotStartMs) / 1000)"),
            ("rdb_saves", "\(e.infoState.rdbSaves)"),
            ("rdb_last_cow_size", "0"),
            ("rdb_last_load_keys_expired", "\(e.infoState.lastLoadKeysExpired)"),
            ("rdb_last_load_keys_loaded", "\(e.infoState.lastLoadKeysLoaded)"),
        ] + e.aofInfoFields() + (e.loading.active || e.loading.async ? e.loadingInfoFields() : [])
    }

    static func stats(_ e: Engine) -> [(String, String)] {
        let s = e.stats
        let st = e.infoState
        func kbps(_ r: RateSampler) -> String { ReplyBuffer.cFormat("%.2f", r.average / 1024) }
        let currentExceeded = s.evictionExceededSinceMicros != 0 ? Engine.monotonicMicros() - s.evictionExceededSinceMicros : 0
        return [
            ("total_connections_received", "\(s.totalConnections)"),
            ("total_commands_processed", "\(s.totalCommands)"),
            ("instantaneous_ops_per_sec", "\(Int(st.ops.average))"),
            ("total_net_input_bytes", "\(s.netInputBytes)"),
            ("total_net_output_bytes", "\(s.netOutputBytes)"),
            ("total_net_repl_input_bytes", "\(s.netReplInputBytes)"),
            ("total_net_repl_output_bytes", "\(s.netReplOutputBytes)"),
            ("instantaneous_input_kbps", kbps(st.netIn)),
            ("instantaneous_output_kbps", kbps(st.netOut)),
            ("instantaneous_input_repl_kbps", kbps(st.netReplIn)),
            ("instantaneous_output_repl_kbps", kbps(st.netReplOut)),
            ("rejected_connections", "\(s.rejectedConnections)"),
            ("sync_full", "\(s.syncFull)"),
            ("sync_partial_ok", "\(s.syncPartialOk)"),
            ("sync_partial_err", "\(s.syncPartialErr)"),
            ("expired_keys", "\(s.expiredKeys)"),
            ("expired_stale_perc", ReplyBuffer.cFormat("%.2f", s.expiredStalePerc * 100)),
            ("expired_time_cap_reached_count", "\(s.expiredTimeCapReached)"),
            ("expire_cycle_cpu_milliseconds", "\(s.expireCycleTimeUsedMicros / 1000)"),
            ("evicted_keys", "\(s.evictedKeys)"),
            ("evicted_clients", "\(s.evictedClients)"),
            ("total_eviction_exceeded_time", "\((s.evictionExceededTotalMicros + currentExceeded) / 1000)"),
            ("current_eviction_exceeded_time", "\(currentExceeded / 1000)"),
            ("keyspace_hits", "\(s.keyspaceHits)"),
            ("keyspace_misses", "\(s.keyspaceMisses)"),
            ("pubsub_channels", "0"),
            ("pubsub_patterns", "0"),
            ("pubsubshard_channels", "0"),
            ("latest_fork_usec", "0"),
            ("total_forks", "0"),
            ("migrate_cached_sockets", "0"),
            ("slave_expires_tracked_keys", "0"),
            ("active_defrag_hits", "0"),
            ("active_defrag_misses", "0"),
            ("active_defrag_key_hits", "0"),
            ("active_defrag_key_misses", "0"),
            ("total_active_defrag_time", "0"),
            ("current_active_defrag_time", "0"),
            ("tracking_total_keys", "0"),
            ("tracking_total_items", "0"),
            ("tracking_total_prefixes", "0"),
            ("unexpected_error_replies", "\(s.unexpectedErrorReplies)"),
            ("total_error_replies", "\(s.totalErrorReplies)"),
            ("dump_payload_sanitizations", "\(e.infoState.dumpPayloadSanitizations)"),
            ("total_reads_processed", "0"),
            ("total_writes_processed", "0"),
            ("io_threaded_reads_processed", "0"),
            ("io_threaded_writes_processed", "0"),
            ("reply_buffer_shrinks", "\(s.replyBufferShrinks)"),
            ("reply_buffer_expands", "\(s.replyBufferExpands)"),
        ]
    }

    static func replication(_ e: Engine) -> [(String, String)] {
        let r = e.repl
        var f: [(String, String)] = []
        if r.masterHost != nil {
            f.append(("role", "slave"))
            f.append(contentsOf: e.replicaInfoFields())
        } else {
            f.append(("role", "master"))
        }
        f.append(("connected_slaves", "\(r.replicas.count)"))
        if e.config.minReplicasToWrite > 0 && e.config.minReplicasMaxLag > 0 {
            f.append(("min_slaves_good_slaves", "\(r.goodReplicas)"))
        }
        let now = Engine.wallClockMs()
        for (i, c) in r.replicas.enumerated() {
            guard let p = c.replicaPeer else { continue }
            f.append(("slave\(i)", p.infoLine(ip: e.replicaIP(c), nowMs: now)))
        }
        f.append(("master_failover_state", r.failoverState.rawValue))
        f.append(("master_replid", r.replid))
        f.append(("master_replid2", r.replid2))
        f.append(("master_repl_offset", "\(r.masterReplOffset)"))
        f.append(("second_repl_offset", "\(r.secondReplOffset)"))
        if let b = r.backlog {
            f.append(("repl_backlog_active", "1"))
            f.append(("repl_backlog_size", "\(b.size)"))
            f.append(("repl_backlog_first_byte_offset", "\(b.firstByteOffset)"))
            f.append(("repl_backlog_histlen", "\(b.histlen)"))
        } else {
            f.append(("repl_backlog_active", "0"))
            f.append(("repl_backlog_size", "\(max(e.config.replBacklogSize, ReplicationBacklog.minimumSize))"))
            f.append(("repl_backlog_first_byte_offset", "0"))
            f.append(("repl_backlog_histlen", "0"))
        }
        return f
    }

    static func cpu() -> [(String, String)] {
        func t(_ v: timeval) -> String {
            let us = String(v.tv_usec)
            return "\(v.tv_sec)." + String(repeating: "0", count: max(0, 6 - us.count)) + us
        }
        var me = rusage(), kids = rusage(), thread = rusage()
        // who: RUSAGE_SELF 0, RUSAGE_CHILDREN -1, RUSAGE_THREAD 1 (Linux); INFO runs on the engine thread.
        getrusage(0, &me)
        getrusage(-1, &kids)
        getrusage(1, &thread)
        return [
            ("used_cpu_sys", t(me.ru_stime)),
            ("used_cpu_user", t(me.ru_utime)),
            ("used_cpu_sys_children", t(kids.ru_stime)),
            ("used_cpu_user_children", t(kids.ru_utime)),
            ("used_cpu_sys_main_thread", t(thread.ru_stime)),
            ("used_cpu_user_main_thread", t(thread.ru_utime)),
        ]
    }

    static func commandstats(_ e: Engine) -> [(String, String)] {
        e.commands.everyCommand.compactMap { cmd in
            let s = cmd.stats
            guard s.calls > 0 || s.failedCalls > 0 || s.rejectedCalls > 0 else { return nil }
            let per = s.calls > 0 ? Double(s.microseconds) / Double(s.calls) : 0
            return ("cmdstat_" + cmd.fullName,
                    "calls=\(s.calls),usec=\(s.microseconds),usec_per_call=\(ReplyBuffer.cFormat("%.2f", per)),rejected_calls=\(s.rejectedCalls),failed_calls=\(s.failedCalls)")
        }
    }

    /// Per-command percentiles (latency-tracking-info-percentiles); an empty section while
    /// latency-tracking is off, as in Redis.
    static func latencystats(_ e: Engine) -> [(String, String)] {
        guard e.config.latencyTracking else { return [] }
        let percentiles = e.config.latencyTrackingInfoPercentiles
        return e.commands.everyCommand.compactMap { cmd in
            guard LatencyHistogram.total(cmd.latencyHistogram) > 0 else { return nil }
            let parts = percentiles.map { p in
                "p\(LatencyHistogram.label(p))=" + ReplyBuffer.cFormat("%.3f", Double(LatencyHistogram.valueAtPercentile(cmd.latencyHistogram, p)) / 1000)
            }
            return ("latency_percentiles_usec_" + cmd.fullName, parts.joined(separator: ","))
        }
    }

    /// TIME: [unix seconds, microseconds] as bulk strings.
    static func time(_ c: Client, _ a: Args) {
        var tv = timeval()
        gettimeofday(&tv, nil)
        c.out.array(2)
        c.out.bulk(decimal: Int(tv.tv_sec))
        c.out.bulk(decimal: Int(tv.tv_usec))
    }

    static func lastsave(_ c: Client, _ a: Args) { c.out.integer(c.engine.infoState.lastSaveTime) }
}
