import TernConfig
import TernPersistence
import TernProtocol
import TernStore

// repl-diskless-load on-empty-db / swapdb (Redis's readSyncBulkPayload, diskless path; spec
// section 1.5): the RDB of a full sync is parsed as it arrives on the master link, with no
// temp file. Redis reads the socket in blocking mode and serves clients every
// loading-process-events-interval-bytes; here the engine never blocks: each read of the link
// feeds the streaming `RDBFile.Loader`, which applies every complete record and keeps a record
// cut by the end of the input for the next read.
//
// on-empty-db (only while we hold no key): the old data is flushed first and the RDB loads
// into the live databases; clients get -LOADING meanwhile, as with the disk path.
// swapdb: the RDB loads into fresh databases; on success their contents are swapped in and the
// old ones freed in the background, on failure the fresh ones go and the old data stays. When
// our replication id is the master's (we follow the same history, e.g. after a backlog
// overflow) the load is asynchronous (Redis 7.0's async loading): INFO async_loading:1, reads
// are served from the old data, only no-async-loading commands get -LOADING.

/// A full sync's RDB being parsed from the master link.
final class SocketLoad {
    let job: RDBLoadJob
    /// swapdb: the databases the RDB goes into; nil: the live ones (on-empty-db).
    let tempDatabases: [Database]?
    let async: Bool
    let aofWasOn: Bool

    init(job: RDBLoadJob, tempDatabases: [Database]?, async: Bool, aofWasOn: Bool) {
        self.job = job
        self.tempDatabases = tempDatabases
        self.async = async
        self.aofWasOn = aofWasOn
    }
}

extension Engine {
    /// Redis's useDisklessLoad: swapdb always, on-empty-db while no key exists.
    var usesDisklessLoad: Bool {
        switch config.replDisklessLoad {
        case "swapdb": return true
        case "on-empty-db": return databases.allSatisfy { $0.count == 0 }
        default: return false
        }
    }

    /// The payload's first line was read: the load starts before any of its bytes.
    func beginSocketLoad(_ l: MasterLink) {
        let aofWasOn = aof.state != .off
        if aofWasOn { stopAppendOnly() }
        // Our own save must not run over the load (Redis kills its RDB child silently here).
        if let snap = snapshot, snap.result == nil {
            snap.abort()
            snapshot = nil
            if replicationSnapshot { replicationSnapshot = false }
        }
        var temp: [Database]?
        var async = false
        if config.replDisklessLoad == "swapdb" {
            temp = databases.map { Database(id: $0.id) }
            // Indexed while loading, so the swap trades indexes instead of rebuilding one.
            if clusterEnabled { temp?[0].table.setSlotIndexed(true) }
            // The old data is an earlier point of the same history only when the ids match.
            async = repl.replid == l.initialReplid
        } else {
            attachToNewMaster()
            log(.notice, "MASTER <-> REPLICA sync: Flushing old data")
            emptyData(nil, async: config.replicaLazyFlush)
        }
        log(.notice, "MASTER <-> REPLICA sync: Loading DB in memory")
        let total = l.eofMark != nil ? 0 : Int(l.transferSize)
        if async {
            beginLoading(totalBytes: total)
            loading.active = false
            loading.async = true
        } else {
            beginLoading(totalBytes: total)
        }
        let loader = RDBFile.Loader(streamingWith: EncodingLimits(config), verifyChecksum: config.rdbchecksum)
        let job = RDBLoadJob(loader: loader, merge: false, startMs: Engine.wallClockMs(), skipExpired: false, isFileLoad: false)
        job.targetDatabases = temp
        job.fromSocket = true
        l.socketLoad = SocketLoad(job: job, tempDatabases: temp, async: async, aofWasOn: aofWasOn)
    }

    /// Payload bytes: every complete record is applied now. false when the load failed (the
    /// handshake is then cancelled).
    func feedSocketLoad(_ l: MasterLink, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let s = l.socketLoad else { return false }
        s.job.loader.append(bytes)
        // Past the RDB's end only the EOF mark (or nothing) should come: checked at the end.
        if s.job.loader.finished { return true }
        if continueRDBLoad(s.job, bytes: Int.max) == .failed {
            failSocketLoad(l, s)
            return false
        }
        return true
    }

    /// The whole payload arrived (`length` bytes of RDB, the EOF mark excluded).
    func finishSocketLoad(_ l: MasterLink, length: Int64) {
        guard let s = l.socketLoad else { return }
        s.job.loader.finishInput()
        var ok = !s.job.loader.finished ? continueRDBLoad(s.job, bytes: Int.max) == .loaded : true
        if ok && Int64(s.job.loader.consumedBytes) != length {
            if l.eofMark != nil { log(.warning, "Replication stream EOF marker is broken") }
            ok = false
        }
        guard ok else { failSocketLoad(l, s); return }
        l.socketLoad = nil
        endLoading(success: true)
        loading.async = false
        if let temp = s.tempDatabases {
            attachToNewMaster()
            log(.notice, "MASTER <-> REPLICA sync: Swapping active DB with loaded DB")
            for (live, loaded) in zip(databases, temp) { swapDatabases(live, loaded) }
            for old in temp where old.count > 0 { LazyFree.shared.dispose(table: old.takeAll()) }
            log(.notice, "MASTER <-> REPLICA sync: Discarding old DB in background")
        }
        // The data changed without a save (Redis counts it for the save points).
        dirty += 1
        var streamDb = 0
        if let v = s.job.loader.summary.aux.last(where: { $0.0 == "repl-stream-db" }),
           let db = Int(String(decoding: v.1, as: UTF8.self)), database(db) != nil {
            streamDb = db
        }
        l.phase = .loading
        fullSyncLoaded(l, ok: true, streamDb: streamDb, aofWasOn: s.aofWasOn, fromFile: false)
    }

    /// A bad RDB or a lost link: swapdb keeps the old data, on-empty-db empties what was half
    /// loaded; the cron reconnects. The AOF restarts only after a sync succeeds (as Redis).
    func failSocketLoad(_ l: MasterLink, _ s: SocketLoad, why: String = ", check server logs.") {
        l.socketLoad = nil
        log(.warning, "Failed trying to load the MASTER synchronization DB from socket" + why)
        endLoading(success: false)
        loading.async = false
        if let temp = s.tempDatabases {
            for db in temp where db.count > 0 { LazyFree.shared.dispose(table: db.takeAll()) }
            log(.notice, "MASTER <-> REPLICA sync: Discarding temporary DB in background")
        } else {
            emptyData(nil, async: false)
        }
        cancelHandshake()
    }

    /// The link went away (or timed out) in the middle of a socket load: a short read, as
    /// Redis reports it from its loader.
    func abandonSocketLoad(_ l: MasterLink) {
        guard let s = l.socketLoad else { return }
        log(.warning, "Short read or OOM loading DB. Unrecoverable error, aborting now.")
        log(.warning, "Internal error in RDB reading offset \(s.job.loader.consumedBytes), function at tern-server -> Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming connection error, resuming operation.")
        failSocketLoad(l, s, why: ": connection lost")
    }

    /// Before the new master's data becomes ours (Redis's replicationAttachToNewMaster):
    /// the cached master goes, our replicas resync, the backlog restarts.
    func attachToNewMaster() {
        if repl.replica.cached != nil {
            log(.notice, "Discarding previously cached master state.")
            repl.replica.cached = nil
        }
        disconnectReplicas()
        freeBacklog()
    }
}
