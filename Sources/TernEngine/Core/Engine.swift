import CTern
import TernConfig
import TernPersistence
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

/// Server-wide counters reported by INFO stats.
public struct ServerStats {
    public var totalConnections = 0
    public var totalCommands = 0
    public var rejectedConnections = 0
    public var syncFull = 0
    public var syncPartialOk = 0
    public var syncPartialErr = 0
    public var expiredKeys = 0
    public var expiredStalePerc = 0.0
    public var expiredTimeCapReached = 0
    public var expireCycleTimeUsedMicros = 0
    public var evictedKeys = 0
    /// Microseconds spent over maxmemory in finished episodes (total_eviction_exceeded_time).
    public var evictionExceededTotalMicros: Int64 = 0
    /// Monotonic start of the current over-maxmemory episode, 0 when under
    /// (current_eviction_exceeded_time; CONFIG RESETSTAT restarts it, as Redis).
    public var evictionExceededSinceMicros: Int64 = 0
    public var keyspaceHits = 0
    public var keyspaceMisses = 0
    public var netInputBytes = 0
    public var netOutputBytes = 0
    /// Replication traffic, counted apart as Redis 7.0 does: the stream read from our master,
    /// and everything written to our replicas (RDB and stream).
    public var netReplInputBytes = 0
    public var netReplOutputBytes = 0
    public var totalErrorReplies = 0
    public var errorCounts: [String: Int] = [:]
    public var unexpectedErrorReplies = 0
    public var replyBufferShrinks = 0
    public var replyBufferExpands = 0
    /// Clients closed by maxmemory-clients (INFO evicted_clients).
    public var evictedClients = 0
}

/// The single owner of the keyspace and all server state. Everything here runs on
/// one thread (the engine event loop), so no locking is needed.
public final class Engine {
    public let config: ServerConfig
    public private(set) var databases: [Database]
    public let commands = CommandTable()
    /// Slow log, latency monitor, latency histograms and MONITOR feed (after every call).
    public let observers = CommandObservers()
    public var stats = ServerStats()
    public var clients: [Int: Client] = [:]
    var nextClientID = 1
    /// Wall-clock milliseconds, refreshed before each command (Redis's cached mstime).
    public var nowMs: Int64
    /// Changes since the last save (Redis's server.dirty).
    public var dirty = 0
    /// Where writes go (AOF, replicas); see Propagation.swift.
    public var propagationTargets: [PropagationTarget] = [] {
        didSet { propagates = !propagationTargets.isEmpty }
    }
    /// Some target listens (Redis's shouldPropagate): the one flag the hot path checks.
    public private(set) var propagates = false
    /// Write effects of the running execution unit, flushed by `propagatePendingCommands`
    /// (Redis's server.also_propagate).
    var pendingPropagation: [PropagatedOp] = []
    /// One op encoded once for several targets (`sendToTargets`).
    let propagationScratch = StreamBuffer()
    public var startTimeMs: Int64
    public let runID: String
    /// Running as a sentinel (`--sentinel`): INFO and HELLO say mode sentinel. The sentinel
    /// itself (TernSentinel) replaces the command table and is wired by the server layer.
    public var sentinelMode = false
    /// Cluster mode: db 0's keys are indexed by hash slot (`setClusterEnabled`, ClusterKeys.swift).
    public internal(set) var clusterEnabled = false
    /// MIGRATE's cached connections to targets (Commands/Migrate.swift).
    public let migrateSockets = MigrateSocketCache()
    /// Cluster mode (`cluster-enabled yes`): the node's state lives in TernCluster, which
    /// sets this at startup; nil in standalone mode.
    public var cluster: ClusterService?
    public var isShuttingDown = false
    /// Dataset loading in progress (RDB at startup, AOF later): see Core/Loading.swift.
    public internal(set) var loading = LoadingState()
    /// Called to stop the process (SHUTDOWN); set by the server layer.
    public var shutdownHandler: ((_ exitCode: Int32) -> Void)?
    /// Log sink (level, message); set by the server layer.
    public var logHandler: ((LogLevel, String) -> Void)?

    // Subsystems, created with the engine and called directly (no hook lists). Strong
    // `let`s: reading one through a borrowed engine costs no reference counting.
    /// MULTI/EXEC queues and WATCHed keys.
    public let transactions: TransactionRegistry
    /// Channel, pattern and shard-channel subscriptions.
    public let pubsub: PubSubRegistry
    /// Keyspace events, published through `pubsub`.
    let notifications: KeyspaceNotifier
    /// Client-side caching (CLIENT TRACKING).
    public let tracking: TrackingRegistry
    /// Clients blocked on keys, their timeouts and the ready-key queue.
    public let blocking: BlockingRegistry
    /// INFO's sampled rates, peak memory and fixed fields.
    public let infoState: InfoState
    /// Settings changed by DEBUG subcommands.
    public let debugState: DebugState
    /// ACL users, the permission check's data and the ACL log (Subsystems/ACL.swift).
    public let acl: ACLRegistry
    /// Per-type client memory and client eviction buckets (Subsystems/ClientEviction.swift).
    public let clientMemory = ClientMemoryState()
    /// Clients flagged closeASAP whose connections are dropped after the current work
    /// (Subsystems/OutputLimits.swift).
    var clientsToClose: [Client] = []
    /// Lowest configured output limit: below it the reply path skips the limit check.
    public var outputLimitFloor = Int.max
    /// maxmemory's eviction pool and task (Subsystems/Eviction.swift).
    let eviction = EvictionState()
    /// Replication: history ids, offsets, backlog, replicas, the link to our master.
    public let repl = ReplicationState()
    /// The running BGSAVE was started for replicas (Replication/MasterSide.swift), and
    /// goes to their sockets rather than dbfilename (diskless sync).
    var replicationSnapshot = false
    var snapshotToSockets = false
    /// Ticks of the 1 Hz replication cron, and when it last ran.
    var replicationCronLoops = 0
    var lastReplicationCronMs: Int64 = 0
    /// A disk-backed sync wrote dbfilename (rdb-del-sync-files may remove it).
    var lastSyncRDBOnDisk = false
    /// A SHUTDOWN waiting for lagging replicas (Replication/MasterSide.swift).
    var pendingShutdown: PendingShutdown?

    /// WATCHed keys in all databases (TransactionRegistry.watchedCount lives here):
    /// `keyModified` pays one plain flag check per write while nobody watches.
    var watchedKeyCount = 0
    /// Client tracking remembers keys or broadcast prefixes (maintained by TrackingRegistry).
    var trackingHasKeys = false
    /// Keys were signalled ready for blocked clients: `dispatchResolved` then serves them
    /// right after the top-level command (Redis's handleClientsBlockedOnKeys).
    public var hasReadyKeys = false
    /// Runs `body` on the engine event loop after `delayMs` ms (set by the server layer;
    /// blocking timeouts and deferred resumption of unblocked clients use it).
    public var scheduleOnLoop: ((_ delayMs: Int64, _ body: @escaping () -> Void) -> Void)?
    /// The same with a delay in microseconds. A task rescheduling itself with no delay never
    /// lets NIO poll for I/O (its loop runs every task already due before selecting), so
    /// repeated background work (the BGSAVE walk) leaves a few µs between slices instead.
    public var scheduleOnLoopMicros: ((_ delayMicros: Int64, _ body: @escaping () -> Void) -> Void)?
    /// Random source for RANDOMKEY, SPOP ... (seedable for tests).
    public var rng = SystemRandomNumberGenerator()
    /// Blocked/paused clients waiting to resume, run after each event loop tick.
    public var pendingResume: [Client] = []

    public var cronLoops = 0
    /// Clients the clients cron has still to visit in this round (a slice per tick).
    var clientsCronQueue: [Client] = []
    var expireDBCursor = 0
    /// DEBUG SET-ACTIVE-EXPIRE toggles this.
    public var activeExpireEnabled = true
    /// DEBUG PAUSE-CRON: periodic work stops while set.
    public var cronPaused = false
    /// DEBUG QUICKLIST-PACKED-THRESHOLD: list elements at least this long go in plain nodes.
    public var quicklistPackedThreshold = 1 << 30
    /// LRU/LFU fields of Redis's shared integer objects 0...9999 (see SharedIntegers.swift).
    public let sharedIntegers: SharedIntegers

    /// Runs the shutdown sequence (SIGTERM, SHUTDOWN): Redis 7.0's prepareForShutdown and
    /// finishShutdown. `reason` holds the words SHUTDOWN takes (NOSAVE, SAVE, NOW, FORCE).
    /// Returns an error text when shutdown was refused, otherwise does not return.
    /// NOW only skips the wait for lagging replicas, which needs replication (and
    /// shutdown-timeout with it); without replicas it changes nothing.
    @discardableResult
    public func requestShutdown(reason: String, exitCode: Int32 = 0) -> String? {
        var words = Set(reason.split(separator: " ").map { $0.uppercased() })
        // Never save over the file being loaded: a load in progress (an async replica load
        // too, as Redis counts it as loading) forces NOSAVE.
        if loading.inProgress {
            words.remove("SAVE")
            words.insert("NOSAVE")
        }
        log(.warning, "User requested shutdown...")
        // A background save still writing is dropped (Redis kills the saving child) so it
        // cannot overwrite the final save below.
        if let snap = snapshot, snap.result == nil {
            log(.warning, "There is a child saving an .rdb. Killing it!")
            snap.abort()
            snapshot = nil
        }
        // Likewise a rewrite's base walk (Redis kills the rewrite child).
        if let job = aof.rewrite, let snap = job.snapshot, snap.result == nil {
            log(.warning, "There is a child rewriting the AOF. Killing it!")
            snap.abort()
            unlink(job.tempName)
            aof.rewrite = nil
        }
        // A final save when save points are set (unless NOSAVE) or SAVE is asked; a failed
        // save keeps the server running unless FORCE.
        if (!config.saveParams.isEmpty && !words.contains("NOSAVE")) || words.contains("SAVE") {
            log(.notice, "Saving the final RDB snapshot before exiting.")
            if !saveRDB() {
                if words.contains("FORCE") {
                    log(.warning, "Error trying to save the DB. Exit anyway.")
                } else {
                    log(.warning, "Error trying to save the DB, can't exit.")
                    log(.warning, "Errors trying to shut down the server. Check the logs for more information.")
                    return "ERR Errors trying to SHUTDOWN. Check logs."
                }
            }
        }
        flushAOFForShutdown()
        isShuttingDown = true
        for c in clients.values { c.connection?.flushReplies() }
        shutdownHandler?(exitCode)
        return nil
    }

    public init(config: ServerConfig = ServerConfig()) {
        self.config = config
        databases = (0..<max(1, config.databases)).map { Database(id: $0) }
        nowMs = Engine.wallClockMs()
        startTimeMs = nowMs
        sharedIntegers = SharedIntegers(config: config, nowMs: nowMs)
        var bytes = [UInt8](repeating: 0, count: 20)
        bytes.withUnsafeMutableBytes { tern_random_bytes($0.baseAddress, 20) }
        runID = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        transactions = TransactionRegistry(databaseCount: databases.count)
        pubsub = PubSubRegistry()
        notifications = KeyspaceNotifier(pubsub: pubsub)
        tracking = TrackingRegistry()
        blocking = BlockingRegistry()
        infoState = InfoState(startTimeMs: startTimeMs)
        debugState = DebugState()
        acl = ACLRegistry(commandCount: 0)
        // Every stored property is set: the subsystems may now point back at the engine.
        transactions.engine = self
        pubsub.engine = self
        notifications.engine = self
        tracking.engine = self
        blocking.engine = self
        infoState.engine = self
        observers.engine = self
        // Redis's initServer: jemalloc-bg-thread takes effect at startup (CONFIG SET applies it later).
        tern_allocator_background_thread(config.jemallocBgThread ? 1 : 0)
        // CONFIG SET maxmemory evicts at once (Redis's updateMaxmemory).
        config.onChange("maxmemory") { [unowned(unsafe) self] _ in
            self.maxmemoryChanged()
            return nil
        }
        config.lfuPolicyChanged = { [unowned(unsafe) self] lfu in
            for db in self.databases { db.keepsAccessFieldOnOverwrite = lfu }
            self.eviction.policy = EvictionPolicy(self.config.maxmemoryPolicy)
        }
        config.lazyfreeServerDelChanged = { [unowned(unsafe) self] lazy in
            for db in self.databases { db.lazyFreesServerDeletes = lazy }
        }
        // Keyspace `new` events come from the databases themselves (every creation path,
        // as Redis's dbAdd); TernStore cannot see the engine, hence this one closure.
        for db in databases {
            let id = db.id
            db.keyAdded = { [unowned(unsafe) self] key in self.notify(.new, "new", key, id) }
        }
        registerAllCommands()
        acl.engine = self
        initACL()
        installClientLimits()
        aof = AppendOnlyFile(engine: self)
        config.onChange("appendonly") { [unowned(unsafe) self] cfg in
            if cfg.appendonly { return self.startAppendOnly() }
            self.stopAppendOnly()
            return nil
        }
        // CONFIG SET repl-backlog-size resizes the live backlog (Redis's resizeReplicationBacklog).
        config.onChange("repl-backlog-size") { [unowned(unsafe) self] cfg in
            self.repl.backlog?.resize(cfg.replBacklogSize)
            return nil
        }
    }

    // MARK: time

    @inline(__always) public static func wallClockMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Wall-clock microseconds (Redis's ustime): command start and duration.
    @inline(__always) public static func wallClockMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    @inline(__always) public static func monotonicMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// Redis's LRU clock: seconds resolution, 24 bits.
    @inline(__always) public var lruClock: UInt32 { UInt32(truncatingIfNeeded: nowMs / 1000) & 0xFF_FFFF }

    /// The LRU/LFU field a newly created value gets: the LRU clock, or under an LFU policy
    /// (minutes << 8) | LFU_INIT_VAL (5).
    @inline(__always) public var objectLRU: UInt32 {
        if config.usesLFU {
            return (UInt32(truncatingIfNeeded: nowMs / 60_000) & 0xFFFF) << 8 | 5
        }
        return lruClock
    }

    /// An access under an LFU policy: decay by elapsed periods, then a logarithmic increment.
    public func lfuTouched(_ lru: UInt32) -> UInt32 {
        let now = UInt32(truncatingIfNeeded: nowMs / 60_000) & 0xFFFF
        let ldt = lru >> 8
        var counter = Int(lru & 0xFF)
        let elapsed = now >= ldt ? now - ldt : 65535 - ldt + now
        let decay = config.lfuDecayTime
        if decay > 0 { counter = max(0, counter - Int(elapsed) / decay) }
        if counter < 255 {
            let base = Double(max(0, counter - 5))
            let p = 1.0 / (base * Double(config.lfuLogFactor) + 1)
            if Double.random(in: 0..<1, using: &rng) < p { counter += 1 }
        }
        return now << 8 | UInt32(counter)
    }

    // MARK: clients (createClient, freeClient, resetClient: ClientLifecycle.swift)

    // MARK: errors and logging

    public func countError(_ message: String) {
        stats.totalErrorReplies += 1
        let code = message.prefix { $0 != " " }
        stats.errorCounts[String(code), default: 0] += 1
    }

    public func log(_ level: LogLevel, _ message: String) { logHandler?(level, message) }

    // MARK: databases

    public func database(_ i: Int) -> Database? { i >= 0 && i < databases.count ? databases[i] : nil }

    // MARK: dispatch

    /// Executes one command from a client and writes its reply.
    public func execute(_ c: Client, _ args: Args) {
        // CLIENT REPLY OFF/SKIP: run the command, then drop what it wrote (ClientCommand.swift).
        if c.replyMode != .on { executeSuppressingReply(c, args); return }
        dispatch(c, args)
    }

    /// Lookup, checks and call for one command (the body of `execute`).
    @inline(__always)
    func dispatch(_ c: Client, _ args: Args) {
        guard args.count > 0 else { return }
        // One clock read serves the cached time (Redis's mstime for this command) and the
        // start of the duration measured in `call`.
        let startUs = Engine.wallClockMicros()
        nowMs = startUs / 1000
        c.lastInteractionMs = nowMs
        let outerClient = currentClient
        currentClient = c
        defer { currentClient = outerClient }
        guard let ref = commands.lookupUnretained(args[0]) else {
            rejectUnknown(c, args)
            return
        }
        ref._withUnsafeGuaranteedRef { top in
            if top.hasSubcommands && args.count >= 2 {
                guard let sub = top.subcommands[args.lowercased(1)] else {
                    rejectCommand(c, nil, "ERR unknown subcommand '\(Engine.truncated(args.string(1)))'. Try \(args.string(0).uppercased()) HELP.")
                    return
                }
                dispatchResolved(c, sub, args, startUs)
            } else {
                dispatchResolved(c, top, args, startUs)
            }
        }
    }

    /// The checks of Redis 7.0's processCommand, in its order, once the command (or
    /// subcommand) is known; then `call`. A refusal replies through `rejectCommand` and
    /// stops. A client with no flags set pays the arity compare, two plain Bool loads and
    /// the flag tests below.
    @inline(__always)
    func dispatchResolved(_ c: Client, _ cmd: Command, _ args: Args, _ startUs: Int64) {
        if c.flags.contains(.asking) {
            dispatchAsking(c, cmd, args, startUs)
            return
        }
        dispatchChecked(c, cmd, args, startUs)
    }

    /// ASKING holds for one command (the whole transaction inside MULTI), as Redis's
    /// resetClient clears it.
    @inline(never)
    func dispatchAsking(_ c: Client, _ cmd: Command, _ args: Args, _ startUs: Int64) {
        dispatchChecked(c, cmd, args, startUs)
        if !c.flags.contains(.multi) && cmd.name != "asking" { c.flags.remove(.asking) }
    }

    @inline(__always)
    func dispatchChecked(_ c: Client, _ cmd: Command, _ args: Args, _ startUs: Int64) {
        // The client's last command from the moment it is known, refused or postponed ones
        // included (CLIENT LIST `cmd=`, as Redis's c->lastcmd).
        c.currentCommand = cmd
        if (cmd.arity > 0 && cmd.arity != args.count) || args.count < -cmd.arity {
            rejectCommand(c, cmd, "ERR wrong number of arguments for '\(cmd.fullName)' command")
            return
        }
        if cmd.isProtected, let refusal = protectedCommandRefusal(c, cmd) {
            rejectCommand(c, cmd, refusal)
            return
        }
        if !c.authenticated && !cmd.flags.contains(.noAuth) {
            rejectCommand(c, cmd, "NOAUTH Authentication required.")
            return
        }
        let flags = c.flags
        if flags.contains(.multi) && cmd.flags.contains(.noMulti) {
            rejectCommand(c, cmd, "ERR Command not allowed inside a transaction")
            return
        }
        // ACL: a client whose user may run everything pays this one Bool test.
        if !c.aclUnrestricted && refusedByACL(c, cmd, args) { return }
        // Cluster redirection: commands with keys (or key-like channels) and EXEC, except
        // from our master or the AOF. One nil test when cluster mode is off.
        if let cluster, cmd.routesInCluster, !flags.contains(.master), !flags.contains(.fake),
           let redirect = cluster.redirection(c, cmd, args) {
            cmd.stats.rejectedCalls += 1
            // A refused EXEC drops its transaction; a refused queued command dooms it.
            if cmd.name == "exec" { transactions.discard(c) } else if flags.contains(.multi) { c.flags.insert(.dirtyExec) }
            c.error(redirect)
            return
        }
        // maxmemory-clients before key eviction (Redis's order): output the last command left
        // may push the total over; a client that evicted itself runs nothing more.
        if clientMemory.limit > 0 {
            evictClientsIfNeeded()
            if c.flags.contains(.closeASAP) { return }
        }
        // maxmemory: evict, then refuse denyoom commands with OOM (Subsystems/Eviction.swift).
        // One compare while maxmemory is 0; under the limit, the running used_memory figure
        // (two counter loads) and no call, unless an over-limit episode is still open.
        if config.maxmemory != 0
            && (infoState.memory.used > config.maxmemory || stats.evictionExceededSinceMicros != 0)
            && refusedForMemory(c, cmd) { return }
        // MISCONF: a failed background save with save points set stops writes (and PING)
        // until a save succeeds; the master link is exempt (stop-writes-on-bgsave-error).
        if !infoState.lastBgsaveOK && config.stopWritesOnBgsaveError && !config.saveParams.isEmpty
            && !flags.contains(.master) && (cmd.flags.contains(.write) || cmd.fullName == "ping") {
            rejectCommand(c, cmd, Engine.misconfError)
            return
        }
        if aof.state != .off && aof.writesRefused && !flags.contains(.master)
            && (cmd.flags.contains(.write) || cmd.fullName == "ping"), let refusal = aofWriteRefusal {
            rejectCommand(c, cmd, refusal)
            return
        }
        // Replication's refusals: one plain check each while replication is not configured.
        if config.minReplicasToWrite > 0 && !flags.contains(.master) && lacksGoodReplicas
            && isWriteForRefusal(c, cmd) {
            rejectCommand(c, cmd, "NOREPLICAS Not enough good replicas to write.")
            return
        }
        if repl.masterHost != nil && config.replicaReadOnly && !flags.contains(.master)
            && isWriteForRefusal(c, cmd) {
            rejectCommand(c, cmd, "READONLY You can't write against a read only replica.")
            return
        }
        if flags.contains(.pubsub) && c.resp == 2 && !cmd.allowedWhileSubscribed {
            rejectCommand(c, cmd, "ERR Can't execute '\(cmd.fullName)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
            return
        }
        if repl.masterHost != nil && !config.replicaServeStaleData && repl.linkState != .connected
            && !cmd.flags.contains(.stale) {
            rejectCommand(c, cmd, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
            return
        }
        if loading.inProgress && refusedWhileLoading(c, cmd) { return }
        // BUSY (scripts) goes here.
        // Replicas, and MONITOR clients (Redis flags them as replicas), may not touch keys.
        if (flags.contains(.monitor) || flags.contains(.replica))
            && !cmd.flags.isDisjoint(with: [.write, .readonly, .mayReplicate]) {
            rejectCommand(c, cmd, "ERR Replica can't interact with the keyspace")
            return
        }
        if pauseEndMs > 0 && shouldPostpone(c, cmd) {
            c.postponed = true
            postponedClients.append(c)
            return
        }
        if flags.contains(.multi) && !cmd.runsImmediatelyInMulti {
            transactions.queue(c, cmd, args)
            return
        }
        call(c, cmd, args, startedAtMicros: startUs, topLevel: true)
        // The outermost call ends here: its unit goes out before blocked clients are served.
        if propagates && !pendingPropagation.isEmpty {
            propagatePendingCommands(wrapInMulti: !cmd.flags.contains(.touchesArbitraryKeys))
        }
        // WAIT's target; the offset only moves while something is propagated.
        if propagates { c.woff = repl.masterReplOffset }
        if hasReadyKeys { blocking.handleReadyKeys() }
    }

    /// A write for NOREPLICAS and READONLY: a write command, or EXEC of a transaction that
    /// queued one.
    func isWriteForRefusal(_ c: Client, _ cmd: Command) -> Bool {
        if cmd.flags.contains(.write) { return true }
        if cmd.name == "exec", let queued = c.multiState { return queued.queuedFlags.contains(.write) }
        return false
    }

    /// Redis's protected commands (DEBUG; MODULE later) are refused unless their
    /// enable-*-command option allows this client; returns the error text.
    func protectedCommandRefusal(_ c: Client, _ cmd: Command) -> String? {
        switch cmd.name {
        case "debug": return DebugCommand.isAllowed(c) ? nil : DebugCommand.notAllowed
        default: return nil
        }
    }

    // MARK: CLIENT PAUSE

    /// End of the current pause (ms), 0 when not paused: the latest end among the purposes
    /// of the most restrictive kind (Redis's client_pause_end_time).
    public var pauseEndMs: Int64 = 0
    /// true: ALL; false: WRITE (the most restrictive kind among the purposes).
    public var pauseAll = false
    /// One pause per purpose (Redis's client_pause_per_purpose): CLIENT UNPAUSE ends only
    /// its own, never FAILOVER's or SHUTDOWN's.
    var pausesByPurpose: [PauseEvent?] = Array(repeating: nil, count: PausePurpose.allCases.count)
    public var postponedClients: [Client] = []

    public var isPausedForWrites: Bool { pauseEndMs > 0 && pauseEndMs > nowMs }

    func shouldPostpone(_ c: Client, _ cmd: Command) -> Bool {
        if pauseEndMs <= nowMs {
            updatePauseState()
            if pauseEndMs == 0 { return false }
        }
        if c.flags.contains(.replica) || c.flags.contains(.master) || c.flags.contains(.fake) { return false }
        if pauseAll { return true }
        // CLIENT PAUSE WRITE holds what may replicate (Redis 7.0's processCommand): writes and
        // may_replicate commands (PUBLISH, EVAL ...), queued inside MULTI too, and an EXEC
        // whose queue holds such a command.
        var flags = cmd.flags
        if cmd.name == "exec", let queued = c.multiState { flags.formUnion(queued.queuedFlags) }
        return !flags.isDisjoint(with: [.write, .mayReplicate])
    }

    /// Pauses for `purpose` until `ms`: a pause of the same purpose may be extended or made
    /// stricter, never shortened (Redis's pauseClients).
    public func pause(_ purpose: PausePurpose = .clientCommand, until ms: Int64, all: Bool) {
        if let p = pausesByPurpose[purpose.rawValue], p.endMs > nowMs {
            pausesByPurpose[purpose.rawValue] = PauseEvent(endMs: max(p.endMs, ms), all: p.all || all)
        } else {
            pausesByPurpose[purpose.rawValue] = PauseEvent(endMs: ms, all: all)
        }
        updatePauseState()
    }

    /// Ends the pause of `purpose` only; the others go on.
    public func unpause(_ purpose: PausePurpose = .clientCommand) {
        pausesByPurpose[purpose.rawValue] = nil
        updatePauseState()
    }

    /// Recomputes the pause from the purposes still running (expired ones dropped), as Redis's
    /// updateClientPauseTypeAndEndTime. When it got less strict (ALL -> WRITE, or none),
    /// postponed clients go to the queue unblocked clients use and run from a loop task,
    /// never inside the command or cron tick that ended the pause (their writes are units of
    /// their own); one still held meets the pause again in dispatch.
    func updatePauseState() {
        let wasAll = pauseAll
        let wasPaused = pauseEndMs > 0
        var anyAll = false
        var any = false
        for i in pausesByPurpose.indices {
            guard let p = pausesByPurpose[i] else { continue }
            if p.endMs < nowMs || p.endMs == 0 { pausesByPurpose[i] = nil; continue }
            any = true
            anyAll = anyAll || p.all
        }
        var end: Int64 = 0
        for p in pausesByPurpose { if let p, p.all == anyAll, p.endMs > end { end = p.endMs } }
        pauseEndMs = any ? end : 0
        pauseAll = anyAll
        guard wasPaused && (!any || (wasAll && !anyAll)) else { return }
        let waiting = postponedClients
        postponedClients.removeAll()
        for c in waiting {
            c.postponed = false
            blocking.queueForResume(c)
        }
    }

    /// Runs a resolved command with stats and slowlog; its write effects join the current
    /// propagation unit, which only the outermost caller flushes (EXEC calls this nested).
    public func call(_ c: Client, _ cmd: Command, _ args: Args) {
        call(c, cmd, args, startedAtMicros: Engine.wallClockMicros())
    }

    /// `topLevel`: called by dispatch, so the unit ends with this call and a lone op may take
    /// the direct path (Propagation.swift).
    @inline(__always)
    func call(_ c: Client, _ cmd: Command, _ args: Args, startedAtMicros start: Int64, topLevel: Bool = false) {
        let dirtyBefore = dirty
        errorsCounted = stats.totalErrorReplies
        c.currentCommand = cmd
        cmd.handler(c, args)
        // Wall clock, as Redis's ustime(): a clock step backwards counts as 0 µs.
        let elapsed = max(0, Int(Engine.wallClockMicros() - start))
        cmd.stats.calls += 1
        cmd.stats.microseconds += elapsed
        // Errors since this call started or its last nested call ended (Redis's
        // incrCommandStatsOnError): an error inside EXEC fails that command, not EXEC too;
        // RESETSTAT's zeroing is no error.
        if stats.totalErrorReplies > errorsCounted { cmd.stats.failedCalls += 1 }
        errorsCounted = stats.totalErrorReplies
        stats.totalCommands += 1
        if trackingActive { tracking.afterCall(c, cmd, args) }
        observers.afterCall(c, cmd, args, elapsed, config)
        // Appended to the unit's buffer, after any expire DELs the command caused; nested
        // calls (EXEC) append to the same buffer. Flushed by the outermost caller.
        if (dirty != dirtyBefore || c.forcePropagation) && propagates {
            if topLevel { propagateDirect(of: c, args: args) } else { alsoPropagateEffect(of: c, args: args) }
        }
        c.propagateAs = nil
        c.forcePropagation = false
    }

    func rejectUnknown(_ c: Client, _ args: Args) {
        var list = ""
        var i = 1
        while i < args.count && list.utf8.count < 128 {
            let room = 128 - list.utf8.count
            list += "'" + String(decoding: args[i].prefix(room), as: UTF8.self) + "' "
            i += 1
        }
        rejectCommand(c, nil, "ERR unknown command '\(Engine.truncated(args.string(0)))', with args beginning with: \(list)")
    }

    /// Replies to a command refused before it ran (Redis's rejectCommand), the one reply
    /// path of every refusal in `dispatch`: the command's `rejected_calls` is counted (an
    /// unknown command or subcommand has none), the error is counted in errorstats, an open
    /// MULTI is flagged so EXEC aborts, and a refused EXEC itself aborts the transaction
    /// (`EXECABORT Transaction discarded because of: ...`).
    public func rejectCommand(_ c: Client, _ cmd: Command?, _ message: String) {
        if c.flags.contains(.multi) { c.flags.insert(.dirtyExec) }
        guard let cmd else { c.error(message); return }
        cmd.stats.rejectedCalls += 1
        if cmd.name == "exec" {
            transactions.execAbort(c, message)
        } else {
            c.error(message)
        }
    }

    /// stats.totalErrorReplies when the current call started or its last nested call ended:
    /// `call` counts a failed call when errors were added since.
    var errorsCounted = 0

    // MARK: state read by transactions, pub/sub and client tracking

    /// The client whose top-level command is executing (Redis's server.current_client),
    /// nil between commands (cron, expiry). Not retained.
    public private(set) unowned(unsafe) var currentClient: Client?

    /// Runs `body` as no client's doing (eviction inside dispatch): tracking sends the
    /// current client's invalidations at once instead of after its reply.
    func withoutCurrentClient<T>(_ body: () -> T) -> T {
        let saved = currentClient
        currentClient = nil
        defer { currentClient = saved }
        return body()
    }

    /// Some client tracks, or invalidations wait for the current client: `call` then runs
    /// client tracking's after-call step (remember the keys a read touched, end a one-shot
    /// CLIENT CACHING, send the caller its own invalidations after the reply).
    public var trackingActive = false

    /// Runs a task on the engine loop after the current I/O batch (Redis's beforeSleep
    /// work). Set by the server layer; without it tasks run immediately.
    public var deferredExecutor: ((@escaping () -> Void) -> Void)?

    public func runSoon(_ task: @escaping () -> Void) {
        if let ex = deferredExecutor { ex(task) } else { task() }
    }

    var pendingFlushClients: [Client] = []
    /// Stream bytes were appended to an online replica's output and not written yet.
    public internal(set) var replicaStreamUnflushed = false

    /// Flushes a client's replies after the current batch (pub/sub messages, invalidations):
    /// many messages to one subscriber in one batch cost one write.
    public func flushSoon(_ c: Client) {
        if c.flushScheduled { return }
        c.flushScheduled = true
        pendingFlushClients.append(c)
        if pendingFlushClients.count == 1 {
            runSoon { [unowned self] in
                let list = self.pendingFlushClients
                self.pendingFlushClients.removeAll(keepingCapacity: true)
                for x in list {
                    x.flushScheduled = false
                    x.flush()
                }
            }
        }
    }

    static func truncated(_ s: String) -> String {
        s.utf8.count <= 128 ? s : String(decoding: Array(s.utf8.prefix(128)), as: UTF8.self)
    }

    // MARK: keyspace access with expiry

    /// True if the entry's TTL has passed (Redis: expired when now > when).
    @inline(__always) public func isExpired(_ e: Entry) -> Bool {
        e.hasExpire && e.expireAt < nowMs && !aofLoading
    }

    /// Redis's expireIfNeeded: true when `e` is logically expired, and the caller then
    /// treats the key as missing. The key is deleted too, except on a replica (the master's
    /// DEL does that; `forceDelete`, a write on a writable replica, still deletes) and while
    /// CLIENT PAUSE holds (a DEL must not be propagated during a pause).
    @discardableResult
    public func expireIfNeeded(_ db: Database, _ e: Entry, forceDelete: Bool = false) -> Bool {
        guard isExpired(e) else { return false }
        if isReplicaOfMaster {
            // Commands from our master see every key it has not deleted yet.
            if let current = currentClient, current.flags.contains(.master) { return false }
            if !forceDelete { return true }
        }
        if isPausedForWrites { return true }
        deleteExpired(db, e)
        return true
    }

    /// Replicas never delete expired keys themselves.
    public var isReplicaOfMaster: Bool { repl.isReplica }
    /// The running forkless BGSAVE (Commands/Persistence.swift), nil when none.
    var snapshot: RDBSnapshot?
    /// The append only file (Commands/AOF.swift); its `state` says whether it is on.
    public private(set) var aof: AppendOnlyFile!
    /// Replaying an AOF: keys do not expire (Redis's keyIsExpired while loading).
    var aofLoading = false
    /// BGSAVE SCHEDULE asked while an AOF rewrite runs (rdb_bgsave_scheduled).
    var bgsaveScheduled = false
    var snapshotStartMs: Int64 = 0
    /// `stats.totalCommands` when the last walk step ran: clients were served since when it moved.
    var commandsAtLastSnapshotStep = 0
    var dirtyBeforeSnapshot = 0

    func deleteExpired(_ db: Database, _ e: Entry) {
        let key = e.keyBytes
        stats.expiredKeys += 1
        key.withUnsafeBytes { k in
            if config.lazyfreeLazyExpire { db.deleteLazily(k) } else { db.deleteSynchronously(k) }
            notify(.expired, "expired", k, db.id)
            keyModified(db, k)
            // Buffered, so it reaches the stream before the effect of the command that
            // found the key (Redis's propagateDeletion -> alsoPropagate).
            if propagates {
                alsoPropagate(db: db.id, OwnedArgs([Array((config.lazyfreeLazyExpire ? "UNLINK" : "DEL").utf8), key]))
            }
        }
    }

    // MARK: key change signals

    /// A keyspace event (Redis's notifyKeyspaceEvent): nothing to do unless
    /// notify-keyspace-events is set.
    @inline(__always) public func notify(_ cls: NotifyClass, _ event: String, _ key: UnsafeRawBufferPointer, _ dbid: Int) {
        if config.notifyKeyspaceEvents != 0 { notifications.notify(cls, event, key, dbid) }
    }

    /// A write changed `key` (Redis's signalModifiedKey: touchWatchedKey and
    /// trackingInvalidateKey): two plain flag checks while nobody watches or tracks.
    @inline(__always) public func keyModified(_ db: Database, _ key: UnsafeRawBufferPointer) {
        if watchedKeyCount > 0 { transactions.touch(db, key) }
        if trackingHasKeys { tracking.invalidate(key, broadcast: true) }
    }

    /// A key that blocked clients may wait on received elements (signalKeyAsReady).
    @inline(__always) public func signalKeyReady(_ db: Database, _ key: UnsafeRawBufferPointer) {
        if blocking.hasWaiters { blocking.signal(db, key) }
    }
}

/// What the engine calls on the cluster node it serves (TernCluster implements it).
public protocol ClusterService: AnyObject {
    /// Every 100 ms (Redis's clusterCron).
    func cron()
    /// Redis's getNodeByQuery + clusterRedirectClient: nil when this node serves the
    /// command, else the error to answer (MOVED, ASK, CROSSSLOT, TRYAGAIN, CLUSTERDOWN).
    func redirection(_ c: Client, _ cmd: Command, _ args: Args) -> String?
    /// PUBLISH / SPUBLISH in cluster mode: the message goes to the other nodes over the bus.
    func propagatePublish(channel: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, sharded: Bool)
    /// Memory held by the bus links (INFO mem_cluster_links).
    var linksMemory: Int { get }
}

public enum LogLevel: Int, Sendable, Comparable {
    case debug = 0, verbose = 1, notice = 2, warning = 3
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Why clients are paused (Redis's pause purposes): each has its own end and kind.
public enum PausePurpose: Int, CaseIterable, Sendable {
    case clientCommand, shutdown, failover
}

struct PauseEvent {
    var endMs: Int64
    var all: Bool
}
