#if canImport(Glibc)
import Glibc
#endif
import TernConfig
import TernPersistence
import TernProtocol
import TernStore

/// Redis's loading state (server.loading and the loading_* INFO fields). Any loader (the RDB
/// file at startup, DEBUG RELOAD, the AOF) brackets its work with `beginLoading`/
/// `endLoading` and reports absolute progress with `loadingProgress`; while `active` is set,
/// dispatch answers -LOADING to every command without the `loading` flag.
public struct LoadingState {
    public var active = false
    /// Redis 7.0's async loading (a swapdb replica load while the old data serves reads):
    /// `active` stays false, INFO shows async_loading:1 and the loading_* fields.
    public var async = false
    /// Either kind of load runs (dispatch's -LOADING check covers both).
    @inline(__always) public var inProgress: Bool { active || async }
    /// Unix seconds when the load began (loading_start_time).
    public var startTime = 0
    public var totalBytes = 0
    public var loadedBytes = 0
    /// The `used-mem` AUX field of the RDB being loaded (loading_rdb_used_mem).
    public var rdbUsedMemory = 0
}

extension Engine {
    static let loadingError = "LOADING Redis is loading the dataset in memory"

    /// Redis's startLoading: loading:1, the counters reset, last-load key counts zeroed.
    public func beginLoading(totalBytes: Int) {
        loading = LoadingState(active: true, startTime: Int(Engine.wallClockMs() / 1000),
                               totalBytes: totalBytes, loadedBytes: 0, rdbUsedMemory: 0)
        infoState.lastLoadKeysLoaded = 0
        infoState.lastLoadKeysExpired = 0
    }

    /// Redis's loadingAbsProgress: `bytes` of the input consumed so far.
    public func loadingProgress(bytes: Int) {
        loading.loadedBytes = bytes
    }

    /// Redis's stopLoading.
    public func endLoading(success: Bool) {
        loading.active = false
        _ = success
    }

    /// INFO persistence's loading_* lines (only while loading), computed as Redis does:
    /// perc = loaded/total, eta = elapsed * remaining / (loaded + 1), 1 in the first second.
    func loadingInfoFields() -> [(String, String)] {
        let l = loading
        var perc = 0.0
        var remaining = 1
        if l.totalBytes > 0 {
            perc = Double(l.loadedBytes) / Double(l.totalBytes) * 100
            remaining = l.totalBytes - l.loadedBytes
        } else if l.rdbUsedMemory > 0 {
            // An EOF-marked transfer has no size: the RDB's used-mem stands in, below 100%.
            perc = min(99.99, Double(l.loadedBytes) / Double(l.rdbUsedMemory) * 100)
            remaining = max(1, l.rdbUsedMemory - l.loadedBytes)
        }
        let elapsed = Int(Engine.wallClockMs() / 1000) - l.startTime
        let eta = elapsed == 0 ? 1 : elapsed * remaining / (l.loadedBytes + 1)
        return [
            ("loading_start_time", "\(l.startTime)"),
            ("loading_total_bytes", "\(l.totalBytes)"),
            ("loading_rdb_used_mem", "\(l.rdbUsedMemory)"),
            ("loading_loaded_bytes", "\(l.loadedBytes)"),
            ("loading_loaded_perc", ReplyBuffer.cFormat("%.2f", perc)),
            ("loading_eta_seconds", "\(eta)"),
        ]
    }

    /// Redis's processCommand refusal while loading: commands without the `loading` flag.
    /// (Redis also refuses an EXEC whose queue holds one; Tern's loads start before any
    /// client exists or run to the end inside one command, so no such queue can form.)
    func refusedWhileLoading(_ c: Client, _ cmd: Command) -> Bool {
        // Async loading refuses only what must not run over it (SAVE, REPLICAOF, SYNC ...).
        if loading.async ? !cmd.flags.contains(.noAsyncLoading) : cmd.flags.contains(.loading) { return false }
        rejectCommand(c, cmd, Engine.loadingError)
        return true
    }
}

/// One RDB file being loaded into the databases: the resumable reader plus what the records
/// did (keys loaded and expired, AUX lines already logged).
final class RDBLoadJob {
    var loader: RDBFile.Loader
    let merge: Bool
    let startMs: Int64
    /// Keys already expired are dropped (a master loading dump.rdb); kept for an AOF
    /// preamble, as Redis's loader does.
    let skipExpired: Bool
    /// dump.rdb at startup or DEBUG RELOAD: the job brackets the loading state and logs
    /// "DB loaded from disk"; an AOF preamble leaves both to the AOF loader.
    let isFileLoad: Bool
    var loaded = 0
    var expired = 0
    var auxLogged = 0
    /// The startup load of a master: keys it skips as expired, in load order, fed as DELs
    /// to the backlog once the file's history is restored (Redis's RDBFLAGS_FEED_REPL).
    var collectsSkippedKeys = false
    /// swapdb: the databases the records go into instead of the live ones.
    var targetDatabases: [Database]?
    /// Parsed from the master link: a failure is reported and handled by the replica side
    /// (the live data is not touched here).
    var fromSocket = false
    var skippedExpired: [(db: Int, key: [UInt8])] = []
    /// dump.rdb, read piece by piece into the streaming loader (-1 once all read); the
    /// piece buffer is reused, so the file never sits in memory whole (a 744 MB file read
    /// at once cost as many page faults as a third of the dataset, and the peak held both).
    var file: Int32 = -1
    var readBuffer: UnsafeMutableRawBufferPointer?
    static let readPiece = 4 << 20

    deinit {
        if file >= 0 { close(file) }
        readBuffer?.deallocate()
    }

    init(loader: RDBFile.Loader, merge: Bool, startMs: Int64, skipExpired: Bool, isFileLoad: Bool) {
        self.loader = loader
        self.merge = merge
        self.startMs = startMs
        self.skipExpired = skipExpired
        self.isFileLoad = isFileLoad
    }
}

extension Engine {
    /// Opens `dbfilename` and starts loading (loading:1). `.noFile` and `.failed` come back
    /// at once (a file that cannot be read is logged and left alone).
    func openRDBLoad(merge: Bool) -> Result<RDBLoadJob, LoadOutcome> {
        finishSnapshotWalk()
        let path = config.dbfilename
        let start = Engine.wallClockMs()
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { return .failure(.noFile) }
            log(.warning, "Fatal error loading the DB: \(String(cString: strerror(errno))). Exiting.")
            return .failure(.failed)
        }
        var st = stat()
        beginLoading(totalBytes: fstat(fd, &st) == 0 ? max(0, Int(st.st_size)) : 0)
        let loader = RDBFile.Loader(streamingWith: EncodingLimits(config), verifyChecksum: config.rdbchecksum)
        let job = RDBLoadJob(loader: loader, merge: merge, startMs: start,
                             skipExpired: !isReplicaOfMaster, isFileLoad: true)
        job.file = fd
        return .success(job)
    }

    struct FileReadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Keeps a file job's loader fed: a piece more while less than `bytes` (at most a piece)
    /// waits unread or the loader stopped at a record the input cut; at the end of the file,
    /// `finishInput`. Throws on a read error.
    func feedRDBFile(_ job: RDBLoadJob, bytes: Int) throws {
        let piece = RDBLoadJob.readPiece
        while job.file >= 0 && (job.loader.awaitingInput || job.loader.unconsumedBytes < min(bytes, piece)) {
            if job.readBuffer == nil { job.readBuffer = .allocate(byteCount: piece, alignment: 16) }
            let buf = job.readBuffer!
            var n: Int
            repeat { n = Glibc.read(job.file, buf.baseAddress, piece) } while n < 0 && errno == EINTR
            if n < 0 { throw FileReadError(description: String(cString: strerror(errno))) }
            if n == 0 {
                job.loader.finishInput()
                close(job.file)
                job.file = -1
                return
            }
            job.loader.append(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
    }

    func reportLoadFailure(_ error: Error) {
        for db in databases { db.removeAll() }
        if let e = error as? RDBError {
            log(.warning, "Internal error in RDB reading offset \(e.offset), function at tern-server -> \(e.message)")
            log(.warning, "Terminating server after rdb file reading failure.")
        } else {
            log(.warning, "Fatal error loading the DB: \(error). Exiting.")
        }
        endLoading(success: false)
    }

    /// Reads about `bytes` more of the file into the databases. nil while more remains;
    /// the outcome (logged as Redis logs it) once the file ended or failed.
    func continueRDBLoad(_ job: RDBLoadJob, bytes: Int) -> LoadOutcome? {
        let now = Engine.wallClockMs()
        let master = job.skipExpired
        let lfu = config.usesLFU
        let lru = config.maxmemoryPolicy.hasSuffix("-lru")
        let finished: Bool
        do {
            // RESIZEDB sizes an empty key table once (Redis's dictExpand), not by doubling.
            // A hostile RESIZEDB must not make us allocate what no file could fill (a mutated
            // size asked for 34 GB of buckets): at most a key per 4 bytes of the file when its
            // size is known, else 16M keys (a bigger real dataset then grows as it loads).
            let presize: ((Int, Int) -> Void)? = job.merge ? nil : { [unowned self] db, size in
                let total = self.loading.totalBytes
                self.loadTarget(job, db)?.table.reserve(min(size, total > 0 ? total / 4 : 1 << 24))
            }
            try feedRDBFile(job, bytes: bytes)
            finished = try job.loader.step(maxBytes: bytes, resize: presize) { rec in
                guard let db = loadTarget(job, rec.db) else {
                    throw RDBError("FATAL: Data file was created with a Redis server configured to handle more than \(databases.count) databases.", at: 0)
                }
                if master, let exp = rec.expireAt, exp < now {
                    job.expired += 1
                    if job.collectsSkippedKeys { job.skippedExpired.append((rec.db, Array(rec.key))) }
                    return
                }
                var field = objectLRU
                if lfu, let f = rec.freq {
                    field = (UInt32(truncatingIfNeeded: nowMs / 60_000) & 0xFFFF) << 8 | UInt32(f)
                } else if lru, let idle = rec.idleSeconds {
                    field = UInt32(truncatingIfNeeded: Int(lruClock) &- idle) & 0xFF_FFFF
                }
                func add() -> Bool {
                    switch rec.value {
                    case .string(let s):
                        return db.addStringForLoading(rec.key, s, encoding: Numbers.stringEncoding(s), expireAt: rec.expireAt, lru: field)
                    case .collection(let obj, let t, let enc):
                        return db.addObjectForLoading(rec.key, obj, type: t, encoding: enc, expireAt: rec.expireAt, lru: field)
                    }
                }
                let added = add()
                if !added && job.merge {
                    // DEBUG RELOAD MERGE: the file's value replaces the one in memory.
                    _ = db.deleteSynchronously(rec.key)
                    if add() { job.loaded += 1; return }
                }
                guard added else {
                    throw RDBError("RDB has duplicated key '\(String(decoding: rec.key, as: UTF8.self))' in DB \(rec.db)", at: 0)
                }
                job.loaded += 1
            }
        } catch {
            logLoadedAux(job, now: now)
            if job.fromSocket {
                // Redis's rdbReportError for a diskless load: logged, the replica side goes on.
                let e = error as? RDBError
                let what = e?.message ?? "\(error)"
                log(.warning, "Internal error in RDB reading offset \(job.loader.consumedBytes), function at tern-server -> \(what). Failure loading rdb format" + (e?.kind == .truncated ? " from socket, assuming connection error, resuming operation." : ""))
                return .failed
            }
            reportLoadFailure(job.loader.fromInputStart(error))
            return .failed
        }
        logLoadedAux(job, now: now)
        loadingProgress(bytes: job.loader.consumedBytes)
        // Redis counts these as it goes (INFO shows them moving during the load).
        infoState.lastLoadKeysLoaded = job.loaded
        infoState.lastLoadKeysExpired = job.expired
        guard finished else { return nil }
        infoState.lastLoadKeysLoaded = job.loaded
        infoState.lastLoadKeysExpired = job.expired
        log(.notice, "Done loading RDB, keys loaded: \(job.loaded), keys expired: \(job.expired).")
        guard job.isFileLoad else { return .loaded }
        endLoading(success: true)
        log(.notice, "DB loaded from disk: " + ReplyBuffer.cFormat("%.3f", Double(Engine.wallClockMs() - job.startMs) / 1000) + " seconds")
        return .loaded
    }

    /// Where a record of db `i` goes: the job's own databases (swapdb) or the live ones.
    func loadTarget(_ job: RDBLoadJob, _ i: Int) -> Database? {
        guard let t = job.targetDatabases else { return database(i) }
        return i >= 0 && i < t.count ? t[i] : nil
    }

    /// Logs the AUX fields read since the last slice, as Redis logs them while reading.
    func logLoadedAux(_ job: RDBLoadJob, now: Int64) {
        let aux = job.loader.summary.aux
        while job.auxLogged < aux.count {
            let (k, v) = aux[job.auxLogged]
            job.auxLogged += 1
            let text = String(decoding: v, as: UTF8.self)
            switch k {
            case "redis-ver": log(.notice, "Loading RDB produced by version \(text)")
            case "ctime":
                if let t = Int(text) { log(.notice, "RDB age \(max(0, Int(now / 1000) - t)) seconds") }
            case "aof-base":
                if text == "1" { log(.notice, "RDB is base AOF") }
            case "used-mem":
                if let m = Int(text) {
                    loading.rdbUsedMemory = max(0, m)
                    log(.notice, "RDB memory usage when created " + ReplyBuffer.cFormat("%.2f", Double(m) / 1024 / 1024) + " Mb")
                }
            default: break
            }
        }
    }

    /// Loads `dbfilename` to the end now (DEBUG RELOAD; no client is served meanwhile).
    public func loadRDB(merge: Bool = false) -> LoadOutcome {
        switch openRDBLoad(merge: merge) {
        case .failure(let outcome): return outcome
        case .success(let job):
            while true {
                if let outcome = continueRDBLoad(job, bytes: Int.max) { return outcome }
            }
        }
    }

    /// Adds the records of an in-memory RDB image (an AOF base or preamble) to the databases,
    /// keeping keys already expired, with Redis's log lines. Returns the offset past the image
    /// (commands of a preamble AOF go on there); nil after logging why the image is bad (the
    /// databases are then emptied).
    func loadRDBImage(_ data: [UInt8]) -> Int? {
        let job: RDBLoadJob
        do {
            let loader = try RDBFile.Loader(data, limits: EncodingLimits(config), verifyChecksum: config.rdbchecksum)
            job = RDBLoadJob(loader: loader, merge: false, startMs: Engine.wallClockMs(),
                             skipExpired: false, isFileLoad: false)
        } catch {
            reportLoadFailure(error)
            return nil
        }
        while true {
            switch continueRDBLoad(job, bytes: Int.max) {
            case nil: continue
            case .loaded?: return job.loader.summary.end
            default: return nil
            }
        }
    }

    /// The startup load (Redis's loadDataFromDisk): with appendonly yes the AOF (dump.rdb is
    /// then not read) and its files opened for writing; otherwise `dbfilename`. Both load in
    /// slices with -LOADING replies meanwhile. `done` runs on the loop.
    public func loadDataAtStartup(_ done: @escaping (LoadOutcome) -> Void) {
        replicationInitAtStartup()
        guard config.appendonly else {
            loadAOFManifestQuietly()
            loadRDBInSlices(done)
            return
        }
        loadAOFInSlices { [unowned(unsafe) self] outcome in
            if outcome == .failed { done(.failed); return }
            self.dirty = 0
            done(self.openAOFOnServerStart() ? outcome : .failed)
        }
    }

    /// The startup load: slices of loading-process-events-interval-bytes on the engine loop,
    /// and the loop serves connections between them (they get -LOADING, INFO shows the
    /// progress), as Redis's processEventsWhileBlocked every 2 MB. `done` runs on the loop.
    public func loadRDBInSlices(_ done: @escaping (LoadOutcome) -> Void) {
        let job: RDBLoadJob
        switch openRDBLoad(merge: false) {
        case .failure(let outcome): done(outcome); return
        case .success(let j): job = j
        }
        job.collectsSkippedKeys = job.skipExpired
        func slice() {
            if let outcome = continueRDBLoad(job, bytes: max(1024, config.loadingProcessEventsIntervalBytes)) {
                // The PSYNC2 history the file carries (Replication/ReplicaSide.swift).
                if outcome == .loaded { restoreReplicationInfo(job.loader.summary.aux, skippedExpired: job.skippedExpired) }
                done(outcome)
                return
            }
            // A timer rather than an immediate task: NIO runs every ready task before it
            // polls the sockets again, so only a timer lets the connections in between slices.
            // 10 µs, not 1 ms: a 1 ms timer per 2 MB slice added ~4% to a 110 MB load.
            if let run = scheduleOnLoopMicros { run(10) { slice() } }
            else if let run = scheduleOnLoop { run(1) { slice() } } else { slice() }
        }
        slice()
    }
}
