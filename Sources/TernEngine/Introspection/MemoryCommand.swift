import CTern
import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerMemoryCommands() {
        commands.register("memory|usage", MemoryCommand.usage)
        commands.register("memory|stats", MemoryCommand.stats)
        commands.register("memory|doctor", MemoryCommand.doctor)
        commands.register("memory|malloc-stats", MemoryCommand.mallocStats)
        commands.register("memory|purge", MemoryCommand.purge)
        commands.register("memory|help", MemoryCommand.help)
    }
}

/// What the server's memory goes to, as Redis's getMemoryOverheadData splits it: the fixed
/// overhead (startup, clients, buffers, per-key metadata and hash-table slots) against the
/// dataset (keys' bytes and values). One computation feeds INFO memory, MEMORY STATS and
/// MEMORY DOCTOR so they always agree.
struct MemoryOverview {
    struct DatabaseOverhead { let id: Int; let main: Int; let expires: Int }

    var used = 0, peak = 0, startup = 0, rss = 0
    var allocator = tern_allocator_info()
    var replicationBacklog = 0, clientsReplicas = 0, clientsNormal = 0, clusterLinks = 0, aofBuffer = 0
    var luaCaches = 0, functionsCaches = 0
    var databases: [DatabaseOverhead] = []
    var overheadTotal = 0
    var keysCount = 0
    var normalClientCount = 0, replicaClientCount = 0

    var dataset: Int { max(0, used - overheadTotal) }
    var netUsage: Int { max(0, used - startup) }
    var bytesPerKey: Int { keysCount > 0 ? netUsage / keysCount : 0 }
    /// Redis keeps these as C floats; printing the float's exact double reproduces its digits.
    var datasetPercentage: Double { Double(Float(dataset) * 100 / Float(max(1, netUsage))) }
    var peakPercentage: Double { Double(Float(used) * 100 / Float(max(1, peak))) }
    var allocatorFragRatio: Double { ratio(allocator.active, allocator.allocated) }
    var allocatorFragBytes: Int { Int(allocator.active) - Int(allocator.allocated) }
    var allocatorRSSRatio: Double { ratio(allocator.resident, allocator.active) }
    var allocatorRSSBytes: Int { Int(allocator.resident) - Int(allocator.active) }
    var rssOverheadRatio: Double { ratio(rss, Int(allocator.resident)) }
    var rssOverheadBytes: Int { rss - Int(allocator.resident) }
    var fragmentation: Double { ratio(rss, used) }
    var fragmentationBytes: Int { rss - used }

    private func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(Float(a) / Float(b)) : 0 }

    /// Per-key metadata Tern keeps outside the key and value bytes (Redis counts dictEntry
    /// and robj headers the same way): the entry header and the key's share of the bucket
    /// array; a TTL adds its 8-byte field.
    init(_ e: Engine) {
        allocator = e.infoState.memory.allocatorInfo()
        used = e.infoState.memory.used
        peak = max(e.infoState.memory.peak, used)
        startup = e.infoState.memory.startup
        rss = Int(tern_rss_bytes())
        // Client eviction's per-client accounting (Subsystems/ClientEviction.swift), the
        // same figure CLIENT LIST shows as tot-mem.
        let clientMemory = e.clientsMemoryForInfo()
        clientsNormal = clientMemory.normal
        clientsReplicas = clientMemory.replicas
        for c in e.clients.values {
            if ClientType.of(c) == .replica { replicaClientCount += 1 } else { normalClientCount += 1 }
        }
        // The backlog's ring is allocated whole when it is created.
        replicationBacklog = e.repl.backlog?.size ?? 0
        clusterLinks = e.cluster?.linksMemory ?? 0
        var total = startup + replicationBacklog + clientsReplicas + clientsNormal + clusterLinks + aofBuffer
            + luaCaches + functionsCaches
        for db in e.databases where db.count > 0 {
            // The cluster slot index is db 0's share of Redis's per-entry slot links.
            let main = db.table.tableBytes + db.count * Entry.headerSize + (db.table.slotIndex?.bytes ?? 0)
            let expires = db.expiresCount * 8
            databases.append(DatabaseOverhead(id: db.id, main: main, expires: expires))
            total += main + expires
            keysCount += db.count
        }
        overheadTotal = total
    }
}

/// MEMORY USAGE|STATS|DOCTOR|MALLOC-STATS|PURGE|HELP (object.c's memoryCommand).
enum MemoryCommand {
    /// Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES.
    static let defaultSamples = 5

    /// MEMORY USAGE key [SAMPLES n]: the entry block (key, metadata, string bytes), the key's
    /// share of its database's bucket array, and for collections the value's allocations
    /// (element blocks estimated from `n` samples; 0 = all). Like Redis it reads the table
    /// directly: no lazy expiry, no access-time update.
    static func usage(_ c: Client, _ a: Args) {
        var samples = defaultSamples
        var j = 3
        while j < a.count {
            if a.equals(j, "samples") && j + 1 < a.count {
                guard let n = Numbers.parseInt(a[j + 1]) else { c.notInteger(); return }
                if n < 0 { c.error("ERR syntax error"); return }
                samples = n == 0 ? Int.max : n
                j += 2
            } else {
                c.error("ERR syntax error")
                return
            }
        }
        let db = c.db
        guard let e = db.find(a[2]) else { c.out.null(); return }
        c.out.integer(keyUsage(db, e, samples: samples))
    }

    /// The key's share of the bucket array is the array over the keys, capped at two slots so
    /// a lone key in a table that has not shrunk yet is not billed for the empty buckets.
    static func keyUsage(_ db: Database, _ e: Entry, samples: Int) -> Int {
        var n = e.allocatedSize + min(db.table.tableBytes / max(1, db.count), 16)
        if e.isObject, let coll = e.object as? StoredCollection {
            n += coll.estimatedBytes(samples: samples == Int.max ? 0 : samples)
        }
        return n
    }

    static func stats(_ c: Client, _ a: Args) {
        let m = MemoryOverview(c.engine)
        let o = c.out
        o.map(27 + m.databases.count)
        func int(_ k: String, _ v: Int) { o.bulk(k); o.integer(v) }
        func dbl(_ k: String, _ v: Double) { o.bulk(k); o.double(v) }
        int("peak.allocated", m.peak)
        int("total.allocated", m.used)
        int("startup.allocated", m.startup)
        int("replication.backlog", m.replicationBacklog)
        int("clients.slaves", m.clientsReplicas)
        int("clients.normal", m.clientsNormal)
        int("cluster.links", m.clusterLinks)
        int("aof.buffer", m.aofBuffer)
        int("lua.caches", m.luaCaches)
        int("functions.caches", m.functionsCaches)
        for d in m.databases {
            o.bulk("db.\(d.id)")
            o.map(3)
            int("overhead.hashtable.main", d.main)
            int("overhead.hashtable.expires", d.expires)
            int("overhead.hashtable.slot-to-keys", 0)
        }
        int("overhead.total", m.overheadTotal)
        int("keys.count", m.keysCount)
        int("keys.bytes-per-key", m.bytesPerKey)
        int("dataset.bytes", m.dataset)
        dbl("dataset.percentage", m.datasetPercentage)
        dbl("peak.percentage", m.peakPercentage)
        int("allocator.allocated", Int(m.allocator.allocated))
        int("allocator.active", Int(m.allocator.active))
        int("allocator.resident", Int(m.allocator.resident))
        dbl("allocator-fragmentation.ratio", m.allocatorFragRatio)
        int("allocator-fragmentation.bytes", m.allocatorFragBytes)
        dbl("allocator-rss.ratio", m.allocatorRSSRatio)
        int("allocator-rss.bytes", m.allocatorRSSBytes)
        dbl("rss-overhead.ratio", m.rssOverheadRatio)
        int("rss-overhead.bytes", m.rssOverheadBytes)
        dbl("fragmentation", m.fragmentation)
        int("fragmentation.bytes", m.fragmentationBytes)
    }

    /// MEMORY DOCTOR: Redis's checks and thresholds (an instance under 5 MB is not judged;
    /// peak 1.5x above current; fragmentation ratios above 1.4 / 1.1 with more than 10 MB
    /// involved; clients with more than 200 KB (normal) or 10 MB (replicas) of buffers on
    /// average), reported in Tern's own words.
    static func doctor(_ c: Client, _ a: Args) {
        c.out.verbatim(doctorReport(MemoryOverview(c.engine)))
    }

    static func doctorReport(_ m: MemoryOverview) -> String {
        let tenMB = 10 << 20
        if m.used < 5 << 20 {
            return "This instance holds almost no data (under 5 MB allocated), too little for a memory diagnosis. Load your data and ask again.\n"
        }
        var issues: [String] = []
        if Double(m.peak) / Double(max(1, m.used)) > 1.5 {
            issues.append(" * Peak memory: memory use once reached \(bytesToHuman(m.peak)), more than 150% of the \(bytesToHuman(m.used)) used now. Fragmentation figures mean little after such a drop; MEMORY PURGE may return part of the difference to the system.")
        }
        if m.fragmentation > 1.4 && m.fragmentationBytes > tenMB {
            issues.append(" * High total RSS: the process is \(ReplyBuffer.cFormat("%.2f", m.fragmentation))x larger than the memory in use (\(bytesToHuman(m.fragmentationBytes)) more). See the allocator and RSS overhead ratios in INFO memory for where it goes.")
        }
        if m.allocatorFragRatio > 1.1 && m.allocatorFragBytes > tenMB {
            issues.append(" * High allocator fragmentation: the allocator's active pages are \(ReplyBuffer.cFormat("%.2f", m.allocatorFragRatio))x the bytes allocated in them (\(bytesToHuman(m.allocatorFragBytes)) wasted inside pages). Deleting many keys of mixed sizes causes this; MEMORY PURGE returns whole free pages.")
        }
        if m.allocatorRSSRatio > 1.1 && m.allocatorRSSBytes > tenMB {
            issues.append(" * High allocator RSS overhead: resident pages are \(ReplyBuffer.cFormat("%.2f", m.allocatorRSSRatio))x the active ones (\(bytesToHuman(m.allocatorRSSBytes)) the allocator keeps for reuse). MEMORY PURGE releases them.")
        }
        if m.rssOverheadRatio > 1.1 && m.rssOverheadBytes > tenMB {
            issues.append(" * High process RSS overhead: the process holds \(bytesToHuman(m.rssOverheadBytes)) outside the allocator's pages (code, thread stacks, runtime).")
        }
        if m.normalClientCount > 0 && m.clientsNormal / m.normalClientCount > 200 * 1024 {
            issues.append(" * Big client buffers: the \(m.normalClientCount) normal clients hold \(bytesToHuman(m.clientsNormal)) of query and output buffers. Look for slow readers or huge pipelines in CLIENT LIST (qbuf, omem), and consider client-output-buffer-limit and maxmemory-clients.")
        }
        if m.replicaClientCount > 0 && m.clientsReplicas / m.replicaClientCount > 10 << 20 {
            issues.append(" * Big replica buffers: replicas hold \(bytesToHuman(m.clientsReplicas)) of output buffers on average more than 10 MB each. A slow link or a slow replica is the usual cause.")
        }
        if issues.isEmpty {
            return "No memory problem found: usage, peak, fragmentation and client buffers all look healthy.\n"
        }
        return "Memory problems found in this instance:\n\n" + issues.joined(separator: "\n\n") + "\n\nEach line names the INFO memory fields to watch.\n"
    }

    static func mallocStats(_ c: Client, _ a: Args) {
        c.out.verbatim(c.engine.infoState.memory.mallocStatsText())
    }

    static func purge(_ c: Client, _ a: Args) {
        c.engine.infoState.memory.purge()
        c.out.simple("OK")
    }

    static let helpLines: [String] = [
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]

    static func help(_ c: Client, _ a: Args) { ObjectCommand.replyHelp(c, helpLines) }
}
