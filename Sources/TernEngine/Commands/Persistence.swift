#if canImport(Glibc)
import Glibc
#endif
import TernConfig
import TernPersistence
import TernProtocol
import TernStore

/// SAVE, the RDB image of the keyspace and its loading at startup. The file format and I/O
/// live in TernPersistence (`RDBFile`); this file decides when, and keeps INFO's rdb_* state.
extension Engine {
    func registerPersistenceCommands() {
        commands.register("save", PersistenceCommands.save)
        commands.register("bgsave", PersistenceCommands.bgsave)
        commands.register("bgrewriteaof", AOFCommands.bgrewriteaof)
    }

    static let misconfError = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."

    /// Redis retries a failed background save from the cron only after this many seconds.
    static let bgsaveRetryDelaySeconds = 5

    /// Starts a forkless background save (`RDBSnapshot`): the walk advances in steps on the
    /// engine loop between client work, the writer queue does the file I/O, and the cron
    /// collects the outcome. False when one is already running.
    /// With a `sink` (a diskless replication sync) the image goes there instead of
    /// dbfilename, and its end is not a save (no rdb_saves, dirty unchanged).
    @discardableResult
    func backgroundSave(sink: RDBSnapshotSink? = nil, withoutKeys: Bool = false) -> Bool {
        // One walk per key table: a rewrite's base walk excludes a save (Redis's one child).
        guard snapshot == nil, aof.rewrite == nil else { return false }
        infoState.lastBgsaveTry = Int(Engine.wallClockMs() / 1000)
        let aux = rdbAux()
        let access = snapshotAccessField()
        snapshotToSockets = sink != nil
        if let sink {
            snapshot = RDBSnapshot(databases: withoutKeys ? [] : databases, aux: aux,
                                   compression: config.rdbcompression, sink: sink, accessField: access)
        } else {
            let snap = RDBSnapshot(databases: databases, aux: aux, compression: config.rdbcompression,
                                   checksum: config.rdbchecksum, path: config.dbfilename,
                                   tempName: "temp-bgsave-\(getpid()).rdb",
                                   incrementalFsync: config.rdbSaveIncrementalFsync, accessField: access)
            walkOnWriter(snap)
            snapshot = snap
        }
        snapshotStartMs = Engine.wallClockMs()
        dirtyBeforeSnapshot = dirty
        log(.notice, sink == nil ? "Background saving started by pid \(getpid())" : "Background RDB transfer started by pid \(getpid())")
        scheduleSnapshotStep()
        return true
    }

    /// A walk step stops after this many buckets or this many microseconds: a client
    /// request arriving during a step waits at most about that long (bench/persistence:
    /// 4,096-bucket steps of several ms gave 7x the idle p99 and 5% of the idle SET rate
    /// during BGSAVE; 250 µs keeps p99 under 2x idle).
    static let snapshotStepBuckets = 4096
    static let snapshotStepMicros = envMicros("TERN_SNAPSHOT_STEP_US", 250)
    /// The pause between steps: NIO's loop runs every task already due before it polls
    /// for I/O, so a step rescheduled with no delay starved clients for the whole walk
    /// (a 1M-key BGSAVE answered nothing for 700 ms). This lets the loop poll in between.
    static let snapshotYieldMicros = envMicros("TERN_SNAPSHOT_YIELD_US", 50)
    /// While clients are being served (commands ran since the last step) the walk takes a
    /// small share of the engine thread (about 9%): a request that arrives during a step
    /// waits at most 50 µs, and the engine stays about as busy as without a save, which is
    /// what keeps p99 down (bench/persistence: 100/200 µs gave 5-9x the idle p99, 50/500 µs
    /// 2.6-3.2x with the save 1.7x longer under a saturating load; ARCHITECTURE.md).
    static let snapshotBusyStepMicros = envMicros("TERN_SNAPSHOT_BUSY_STEP_US", 50)
    static let snapshotBusyYieldMicros = envMicros("TERN_SNAPSHOT_BUSY_YIELD_US", 500)

    /// What a snapshot record carries besides the value: the idle time under an LRU policy,
    /// the decayed counter under LFU (Redis's IDLE/FREQ opcodes), (nil, nil) otherwise. Computed
    /// against the clocks as the snapshot begins and a copy of the shared integers' fields, so
    /// the closure reads no engine state and serves the engine and a snapshot's writer thread
    /// alike (Redis's child uses its clock as it goes: seconds apart at most).
    func snapshotAccessField() -> (Entry) -> (idle: Int?, freq: UInt8?) {
        let lfu = config.usesLFU
        guard lfu || config.maxmemoryPolicy.hasSuffix("-lru") else { return { _ in (nil, nil) } }
        let sharing = sharesIntegers
        let shared = sharing ? Array(UnsafeBufferPointer(start: sharedIntegers.fields, count: SharedIntegers.count)) : []
        let field: (Entry) -> UInt32 = { e in
            guard sharing, e.encodingByte == ValueEncoding.int.rawValue else { return e.lru }
            let i = Engine.sharedIntegerValue(e, sharing: true)
            return i >= 0 ? shared[i] : e.lru
        }
        if lfu {
            let now = nowMs, decay = config.lfuDecayTime
            return { e in (nil, UInt8(clamping: ObjectCommand.decayedLFUCounter(field(e), nowMs: now, decayTime: decay))) }
        }
        let clock = lruClock
        return { e in (ObjectCommand.idleMillis(clock: clock, field(e)) / 1000, nil) }
    }

    /// Whether a file snapshot's walk runs on its writer thread (`RDBSnapshot.walkOnWriter`);
    /// TERN_SNAPSHOT_WALK=engine keeps it on the engine thread, for measurements.
    static let snapshotWalkOnWriter: Bool = {
        guard let v = getenv("TERN_SNAPSHOT_WALK") else { return true }
        return String(cString: v) != "engine"
    }()

    /// Hands a new file snapshot's walk to its writer thread.
    func walkOnWriter(_ snap: RDBSnapshot) {
        guard Engine.snapshotWalkOnWriter else { return }
        snap.walkOnWriter(keyDelayMicros: config.rdbKeySaveDelay)
    }

    /// A pacing constant, overridable from the environment for measurements only.
    private static func envMicros(_ name: String, _ value: Int) -> Int {
        guard let v = getenv(name), let n = Int(String(cString: v)), n >= 0 else { return value }
        return n
    }

    /// One bounded slice of the walk, then the loop serves clients before the next one.
    /// The next slice waits while the writer thread is more than `RDBSnapshot.maxQueuedBytes`
    /// behind (bounded queue), and, with rdb-key-save-delay (µs per key, as Redis's child
    /// sleeps per key), for the keys written times the delay: a slow save for tests that
    /// never stalls the engine thread.
    func scheduleSnapshotStep(afterMs delay: Int64 = 0, busy: Bool = false) {
        guard let runMs = scheduleOnLoop, let runMicros = scheduleOnLoopMicros else {
            finishSnapshotWalk()
            return
        }
        let body: () -> Void = { [weak self] in
            guard let self, let snap = self.activeSnapshotWalk, !snap.finished else { return }
            if snap.walksOnWriter {
                // The writer walks; the engine only notices the end.
                if !snap.step(buckets: 0) { self.scheduleSnapshotStep(afterMs: 1) }
                return
            }
            if snap.writerIsBehind { self.scheduleSnapshotStep(afterMs: 1); return }
            let keyDelay = self.config.rdbKeySaveDelay
            if keyDelay > 0 {
                // About a millisecond of delay per step.
                let before = snap.keysWritten
                if snap.step(buckets: Engine.snapshotStepBuckets, keys: max(1, 1000 / keyDelay)) { return }
                let micros = (snap.keysWritten - before) * keyDelay
                self.scheduleSnapshotStep(afterMs: Int64(max(1, (micros + 999) / 1000)))
            } else {
                let busy = self.stats.totalCommands != self.commandsAtLastSnapshotStep
                self.commandsAtLastSnapshotStep = self.stats.totalCommands
                let micros = busy ? Engine.snapshotBusyStepMicros : Engine.snapshotStepMicros
                if !snap.step(buckets: Engine.snapshotStepBuckets, micros: micros) {
                    self.scheduleSnapshotStep(busy: busy)
                }
            }
        }
        if delay > 0 {
            runMs(delay, body)
        } else {
            runMicros(Int64(busy ? Engine.snapshotBusyYieldMicros : Engine.snapshotYieldMicros), body)
        }
    }

    /// Walks the rest of a running snapshot now (before FLUSH*/SWAPDB/SAVE/load/shutdown
    /// change whole tables); its file is still finished by the writer queue.
    func finishSnapshotWalk() {
        guard let snap = activeSnapshotWalk else { return }
        snap.complete()
    }

    /// The walk in progress: BGSAVE's or an AOF rewrite's base (never both: a KeyTable has
    /// one snapshot epoch, and BGSAVE and BGREWRITEAOF exclude each other as Redis's
    /// single child does).
    var activeSnapshotWalk: RDBSnapshot? { snapshot ?? aof.rewrite?.snapshot }

    /// The AUX fields of a dump (Redis's rdbPopulateSaveInfo): with replication info when
    /// a backlog exists (a master with replicas, or any replica), so a restart keeps the
    /// PSYNC2 history and replicas can continue.
    func rdbAux() -> RDBFile.Aux {
        var aux = RDBFile.Aux(ctime: Int(Engine.wallClockMs() / 1000), usedMemory: MemoryOverview(self).used)
        if repl.backlog != nil || repl.isReplica {
            let db = repl.isReplica ? replicaStreamDb : max(0, repl.encoder.selectedDb)
            aux.replication = (db, repl.replid, repl.masterReplOffset)
        }
        return aux
    }

    /// The cron's check for a finished background save (Redis's checkChildrenDone).
    func collectBackgroundSave() {
        guard let snap = snapshot, let outcome = snap.result else { return }
        snapshot = nil
        let toSockets = snapshotToSockets
        defer {
            if replicationSnapshot {
                replicationSnapshotDone(ok: { if case .ok = outcome { return true } else { return false } }(), toSockets: toSockets)
            }
        }
        infoState.lastBgsaveSeconds = Int((Engine.wallClockMs() - snapshotStartMs) / 1000)
        if snapshotToSockets {
            snapshotToSockets = false
            switch outcome {
            case .ok: log(.notice, "Background RDB transfer terminated with success")
            case .failed(let why): log(.warning, why); log(.warning, "Background transfer error")
            }
            return
        }
        switch outcome {
        case .ok:
            log(.notice, "DB saved on disk")
            log(.notice, "Background saving terminated with success")
            dirty -= dirtyBeforeSnapshot
            infoState.lastSaveTime = Int(Engine.wallClockMs() / 1000)
            infoState.lastBgsaveOK = true
            infoState.rdbSaves += 1
        case .failed(let why):
            log(.warning, why)
            log(.warning, "Background saving error")
            infoState.lastBgsaveOK = false
        }
    }

    /// serverCron's save points: a save when any point's changes and seconds have both been
    /// reached, and a failed save is retried only after the retry delay.
    func savePointsCron() {
        collectBackgroundSave()
        aofCron()
        if bgsaveScheduled && snapshot == nil && aof.rewrite == nil {
            bgsaveScheduled = false
            backgroundSave()
        }
        guard snapshot == nil, aof.rewrite == nil, dirty > 0, !config.saveParams.isEmpty else { return }
        let now = Int(nowMs / 1000)
        for p in config.saveParams {
            if dirty >= p.changes && now - infoState.lastSaveTime > p.seconds
                && (now - infoState.lastBgsaveTry > Engine.bgsaveRetryDelaySeconds || infoState.lastBgsaveOK) {
                log(.notice, "\(p.changes) changes in \(p.seconds) seconds. Saving...")
                backgroundSave()
                return
            }
        }
    }

    /// A foreground save to `dbfilename` in the working directory (`dir` chdirs, as Redis):
    /// `RDBSnapshot.save` serializes on this thread while its writer thread compresses,
    /// checksums and writes. IDLE/FREQ per record as the eviction policy asks. On success
    /// the change counter resets and LASTSAVE moves.
    @discardableResult
    public func saveRDB() -> Bool {
        finishSnapshotWalk()
        let aux = rdbAux()
        let outcome = RDBSnapshot.save(databases, aux: aux, compression: config.rdbcompression,
                                       checksum: config.rdbchecksum, path: config.dbfilename,
                                       tempName: "temp-\(getpid()).rdb",
                                       incrementalFsync: config.rdbSaveIncrementalFsync,
                                       accessField: snapshotAccessField())
        if case .failed(let why) = outcome {
            log(.warning, why)
            return false
        }
        log(.notice, "DB saved on disk")
        dirty = 0
        infoState.lastSaveTime = Int(Engine.wallClockMs() / 1000)
        infoState.lastBgsaveOK = true
        infoState.rdbSaves += 1
        return true
    }

    public enum LoadOutcome: Error, Sendable {
        case noFile
        case loaded
        /// The file exists but cannot be read or decoded: the server must not start.
        case failed
    }
}

enum PersistenceCommands {
    static func save(_ c: Client, _ a: Args) {
        if c.engine.snapshot != nil { c.error("ERR Background save already in progress"); return }
        if c.engine.saveRDB() { c.out.ok() } else { c.error("ERR") }
    }

    /// BGSAVE [SCHEDULE]. With nothing else that could delay it (no AOF rewrite yet),
    /// SCHEDULE starts at once like a plain BGSAVE.
    static func bgsave(_ c: Client, _ a: Args) {
        if a.count > 2 || (a.count == 2 && !a.equals(1, "schedule")) { c.syntaxError(); return }
        let engine = c.engine
        if engine.snapshot != nil { c.error("ERR Background save already in progress"); return }
        if engine.aof.rewrite != nil {
            if a.count == 2 {
                engine.bgsaveScheduled = true
                c.out.simple("Background saving scheduled")
            } else {
                c.error("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
            }
            return
        }
        engine.backgroundSave()
        c.out.simple("Background saving started")
    }
}
