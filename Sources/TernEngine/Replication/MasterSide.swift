#if canImport(Glibc)
import Glibc
#endif
import TernConfig
import TernPersistence
import TernProtocol
import TernStore

// The master side of replication (Redis's syncCommand, replconfCommand, waitCommand,
// updateSlavesWaitingBgsave, replicationCron's master half).
//
// Full sync is disk-backed for now: the forkless BGSAVE writes dbfilename with the
// repl-stream-db / repl-id / repl-offset AUX fields, then the file goes to each waiting
// replica as `$<len>\r\n<bytes>` (sendfile through the connection) followed by the stream
// buffered since the snapshot's epoch. A replica that announced `capa eof` accepts this form
// too; diskless ($EOF: framing) is a later step.

extension Engine {
    func registerReplicationMasterCommands() {
        commands.register("replconf", ReplicationCommands.replconf)
        commands.register("psync", ReplicationCommands.psync)
        commands.register("sync", ReplicationCommands.sync)
        commands.register("wait", ReplicationCommands.wait)
        commands.register("role", ReplicationCommands.role)
    }

    // MARK: full and partial resync

    /// PSYNC's partial resync: true when the replica continues from the backlog (Redis's
    /// masterTryPartialResynchronization, acceptance rule in the spec's 4.2).
    func tryPartialResync(_ c: Client, replid: String, offset: Int64) -> Bool {
        let r = repl
        let idMatches = replid.lowercased() == r.replid
            || (replid.lowercased() == r.replid2 && offset <= r.secondReplOffset)
        guard idMatches, let backlog = r.backlog, backlog.holds(offset) else {
            if replid != "?" {
                if !idMatches {
                    if replid.lowercased() == r.replid2 {
                        log(.notice, "Partial resynchronization not accepted: Requested offset for second ID was \(offset), but I can reply up to \(r.secondReplOffset)")
                    } else {
                        log(.notice, "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '\(replid)', my replication IDs are '\(r.replid)' and '\(r.replid2)')")
                    }
                } else {
                    log(.notice, "Unable to partial resync with replica \(replicaName(c)) for lack of backlog (Replica request was: \(offset)).")
                }
                stats.syncPartialErr += 1
            }
            return false
        }
        let peer = c.replicaPeer ?? ReplicaPeer()
        c.replicaPeer = peer
        // Acked now, before attaching: attachReplica counts it for min-replicas-to-write at
        // once (Redis sets repl_ack_time before refreshGoodSlavesCount), or a freshly
        // promoted master would refuse writes until its next cron tick.
        peer.ackTimeMs = nowMs
        attachReplica(c, state: .online)
        if peer.capaPsync2 {
            c.out.append("+CONTINUE \(r.replid)\r\n")
        } else {
            c.out.append("+CONTINUE\r\n")
        }
        let tail = backlog.bytes(from: offset)
        c.out.append(tail)
        c.flush()
        stats.syncPartialOk += 1
        log(.notice, "Partial resynchronization request from \(replicaName(c)) accepted. Sending \(tail.count) bytes of backlog starting from offset \(offset).")
        return true
    }

    func attachReplica(_ c: Client, state: ReplicaPeer.State) {
        c.flags.insert(.replica)
        // repl-disable-tcp-nodelay: fewer, bigger packets to replicas (Redis's syncCommand).
        if config.replDisableTcpNodelay && c.fd >= 0 {
            var off: Int32 = 0
            setsockopt(Int32(c.fd), Int32(IPPROTO_TCP), TCP_NODELAY, &off, socklen_t(MemoryLayout<Int32>.size))
        }
        c.replicaPeer?.state = state
        if !repl.replicas.contains(where: { $0 === c }) { repl.replicas.append(c) }
        repl.noReplicasSinceMs = 0
        clientBecameReplica(c)
        refreshGoodReplicas()
    }

    /// Full resync requested (PSYNC that cannot continue, or SYNC).
    func startFullResync(_ c: Client) {
        let r = repl
        stats.syncFull += 1
        if r.backlog == nil {
            // A new history: nothing before it can be continued (PSYNC2 change + clear2).
            r.changeReplID()
            r.clearReplID2()
            createBacklog()
            log(.notice, "Replication backlog created, my new replication IDs are '\(r.replid)' and '\(r.replid2)'")
        }
        let peer = c.replicaPeer ?? ReplicaPeer()
        c.replicaPeer = peer
        attachReplica(c, state: .waitBgsaveStart)
        // Redis's syncCommand: attach to a disk snapshot running for another replica (its
        // buffered stream starts at the same offset), or wait for the next snapshot.
        if snapshot != nil && !snapshotToSockets {
            if replicationSnapshot,
               let other = r.replicas.first(where: { $0 !== c && $0.replicaPeer?.state == .waitBgsaveEnd }),
               let op = other.replicaPeer {
                peer.pendingStream = op.pendingStream
                peer.initialOffset = op.initialOffset
                peer.state = .waitBgsaveEnd
                sendFullResyncReply(c, offset: op.initialOffset)
                log(.notice, "Waiting for end of BGSAVE for SYNC")
            } else {
                log(.notice, "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC")
            }
        } else if snapshot != nil {
            log(.notice, "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC")
        } else if config.replDisklessSync && peer.capaEOF && config.replDisklessSyncDelay > 0 {
            // The cron starts it after repl-diskless-sync-delay, so more replicas can join.
            log(.notice, "Delay next BGSAVE for diskless SYNC")
        } else if aof.rewrite == nil {
            startReplicationSnapshot()
        } else {
            log(.notice, "No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed")
        }
    }

    /// serverCron's replicationStartPendingFork: replicas waiting for a snapshot get one
    /// once no other runs and, for a diskless sync, repl-diskless-sync-delay seconds passed
    /// since the last of them arrived (or repl-diskless-sync-max-replicas are waiting).
    func startPendingReplicationSnapshot() {
        guard snapshot == nil, aof.rewrite == nil, !repl.replicas.isEmpty else { return }
        var waiting = 0
        var maxIdle: Int64 = 0
        let now = Engine.wallClockMs()
        for c in repl.replicas where c.replicaPeer?.state == .waitBgsaveStart {
            waiting += 1
            maxIdle = max(maxIdle, (now - c.lastInteractionMs) / 1000)
        }
        guard waiting > 0 else { return }
        if !config.replDisklessSync
            || (config.replDisklessSyncMaxReplicas > 0 && waiting >= config.replDisklessSyncMaxReplicas)
            || maxIdle >= Int64(config.replDisklessSyncDelay) {
            startReplicationSnapshot()
        }
    }

    /// True while the running BGSAVE was started to feed replicas.
    var replicationSnapshotRunning: Bool { snapshot != nil && replicationSnapshot }

    /// Starts a BGSAVE for the replicas waiting for one (Redis's startBgsaveForReplication,
    /// disk target): each gets +FULLRESYNC with the offset the image stands for.
    func startReplicationSnapshot() {
        // Replicas with the same requirements share one image (rdb-filter-only leaves the keys
        // out); the others wait for the next one.
        let all = repl.replicas.filter { $0.replicaPeer?.state == .waitBgsaveStart }
        guard let first = all.first?.replicaPeer else { return }
        let waiting = all.filter { $0.replicaPeer?.excludeData == first.excludeData }
        if (config.replDisklessSync || first.excludeData) && waiting.allSatisfy({ $0.replicaPeer?.capaEOF == true }) {
            if !startDisklessSync(waiting) {
                log(.warning, "BGSAVE for replication failed")
                for c in waiting { dropReplica(c, nil) }
            }
            return
        }
        log(.notice, "Starting BGSAVE for SYNC with target: disk")
        lastSyncRDBOnDisk = true
        // The image stands for the stream up to here; the next op re-selects its db.
        repl.encoder.selectedDb = -1
        guard backgroundSave() else {
            log(.warning, "BGSAVE for replication failed")
            for c in waiting { dropReplica(c, "BGSAVE for replication failed") }
            return
        }
        replicationSnapshot = true
        for c in waiting {
            guard let p = c.replicaPeer else { continue }
            p.state = .waitBgsaveEnd
            p.initialOffset = repl.masterReplOffset
            p.pendingStream = []
            sendFullResyncReply(c, offset: p.initialOffset)
        }
    }

    func sendFullResyncReply(_ c: Client, offset: Int64) {
        guard let p = c.replicaPeer, !p.preSync else { return }
        c.out.append("+FULLRESYNC \(repl.replid) \(offset)\r\n")
        c.flush()
    }

    /// The replication snapshot ended (Redis's updateSlavesWaitingBgsave): each replica
    /// waiting for it gets the file, then its buffered stream.
    func replicationSnapshotDone(ok: Bool, toSockets: Bool) {
        replicationSnapshot = false
        if toSockets { disklessSyncDone(ok: ok) }
        let path = config.dbfilename
        for c in repl.replicas {
            guard let p = c.replicaPeer, p.state == .waitBgsaveEnd else { continue }
            guard ok else {
                log(.warning, "SYNC failed. BGSAVE child returned an error")
                dropReplica(c, nil)
                continue
            }
            var st = stat()
            guard stat(path, &st) == 0, let conn = c.connection else {
                log(.warning, "SYNC failed. Can't open/stat DB after BGSAVE: \(String(cString: strerror(errno)))")
                dropReplica(c, nil)
                continue
            }
            p.state = .sendBulk
            let header = Array("$\(st.st_size)\r\n".utf8)
            conn.sendFile(header: header, path: path) { [weak self, weak c] ok in
                guard let self, let c else { return }
                self.bulkSent(c, ok: ok)
            }
        }
        // Replicas that arrived during a snapshot they could not join get the next one.
        if repl.replicas.contains(where: { $0.replicaPeer?.state == .waitBgsaveStart }) {
            startReplicationSnapshot()
        }
    }

    /// The RDB reached the replica: it is online and gets the stream buffered meanwhile.
    func bulkSent(_ c: Client, ok: Bool) {
        guard let p = c.replicaPeer, p.state == .sendBulk, repl.replicas.contains(where: { $0 === c }) else { return }
        guard ok else {
            dropReplica(c, "SYNC failed: error sending the RDB")
            return
        }
        replicaHasRDB(c, p, streamNow: true)
        refreshGoodReplicas()
    }

    /// The replica has its whole RDB: an rdb-only one (redis-cli --rdb) is closed, the others
    /// go online and get the stream buffered meanwhile, now (disk) or with their next ACK
    /// (diskless: see DisklessSync.swift).
    func replicaHasRDB(_ c: Client, _ p: ReplicaPeer, streamNow: Bool) {
        if p.rdbOnly {
            c.connection?.close()
            return
        }
        p.state = .online
        p.ackTimeMs = nowMs
        if streamNow {
            sendHeldStream(c, p)
        } else {
            p.streamOnAck = true
            log(.notice, "Streamed RDB transfer with replica \(replicaName(c)) succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming")
        }
    }

    func sendHeldStream(_ c: Client, _ p: ReplicaPeer) {
        p.streamOnAck = false
        if !p.pendingStream.isEmpty {
            c.out.append(p.pendingStream)
            p.pendingStream = []
        }
        c.flush()
        log(.notice, "Synchronization with replica \(replicaName(c)) succeeded")
    }

    func dropReplica(_ c: Client, _ why: String?) {
        if let why { log(.warning, why) }
        if let conn = c.connection { conn.abort() } else { detachReplica(c) }
    }

    /// A replica's connection is gone (freeClient).
    func detachReplica(_ c: Client) {
        guard let i = repl.replicas.firstIndex(where: { $0 === c }) else { return }
        repl.replicas.remove(at: i)
        if c.replicaPeer?.state == .online {
            log(.notice, "Connection with replica \(replicaName(c)) lost.")
        }
        if repl.replicas.isEmpty { repl.noReplicasSinceMs = Engine.wallClockMs() }
        refreshGoodReplicas()
    }

    // MARK: ACKs, WAIT, min-replicas

    func replicaAcked(_ c: Client, offset: Int64) {
        guard let p = c.replicaPeer, c.flags.contains(.replica) else { return }
        if offset > p.ackOffset { p.ackOffset = offset }
        p.ackTimeMs = nowMs
        if p.streamOnAck { startStreamAfterAck(c) }
        if pendingShutdown != nil { checkPendingShutdown() }
        if !repl.waiters.isEmpty { serveWaiters() }
    }

    /// A replica's empty line (sent while it loads our RDB): its ACK time is refreshed, so
    /// repl-timeout does not drop a replica busy loading (Redis's processInlineBuffer).
    public func replicaSentNewline(_ c: Client) {
        c.replicaPeer?.ackTimeMs = Engine.wallClockMs()
    }

    /// Online replicas that acknowledged `offset` (Redis's replicationCountAcksByOffset).
    func replicasAcked(_ offset: Int64) -> Int {
        var n = 0
        for c in repl.replicas {
            if let p = c.replicaPeer, p.state == .online, p.ackOffset >= offset { n += 1 }
        }
        return n
    }

    func serveWaiters() {
        var keep: [(client: Client, offset: Int64, count: Int)] = []
        for w in repl.waiters {
            guard let b = blocking.byClient[w.client.id] else { continue }
            let acked = replicasAcked(w.offset)
            if acked >= w.count {
                w.client.out.integer(acked)
                blocking.finish(b)
            } else {
                keep.append(w)
            }
        }
        repl.waiters = keep
    }

    /// REPLCONF GETACK * to every replica (WAIT asked for acknowledgements).
    func broadcastGetack() {
        repl.getackPending = false
        guard repl.backlog != nil, !repl.replicas.isEmpty else { return }
        Engine.getackBytes.withUnsafeBytes { feedStream($0) }
    }

    static let getackBytes = Array("*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n".utf8)
    static let pingBytes = Array("*1\r\n$4\r\nping\r\n".utf8)

    /// min-replicas-to-write's count of replicas with a recent ACK (Redis's refreshGoodSlavesCount).
    func refreshGoodReplicas() {
        guard config.minReplicasToWrite > 0, config.minReplicasMaxLag > 0 else { return }
        var good = 0
        for c in repl.replicas {
            guard let p = c.replicaPeer, p.state == .online else { continue }
            if (nowMs - p.ackTimeMs) / 1000 <= Int64(config.minReplicasMaxLag) { good += 1 }
        }
        repl.goodReplicas = good
    }

    /// NOREPLICAS: a master with fewer good replicas than min-replicas-to-write.
    var lacksGoodReplicas: Bool {
        config.minReplicasToWrite > 0 && config.minReplicasMaxLag > 0 && !repl.isReplica
            && repl.goodReplicas < config.minReplicasToWrite
    }

    // MARK: cron (1 Hz: Redis's replicationCron, master half)

    func replicationMasterCron() {
        let r = repl
        let now = Engine.wallClockMs()
        // Keepalive PING into the stream every repl-ping-replica-period seconds (counted in
        // cron ticks since startup, whose first one Redis runs before any replica connects).
        if !r.isReplica, !r.replicas.isEmpty, r.backlog != nil, !isPausedForWrites, replicationCronLoops > 0,
           replicationCronLoops % max(1, config.replPingReplicaPeriod) == 0 {
            Engine.pingBytes.withUnsafeBytes { feedStream($0) }
        }
        // A newline to replicas waiting for their RDB (not counted in offsets); not while a
        // diskless transfer writes to them.
        for c in r.replicas {
            guard let p = c.replicaPeer else { continue }
            if p.state == .waitBgsaveStart || (p.state == .waitBgsaveEnd && !snapshotToSockets) {
                c.out.append("\n")
                c.flush()
            }
        }
        // Replicas silent for longer than repl-timeout.
        for c in r.replicas {
            guard let p = c.replicaPeer, p.state == .online, !p.preSync else { continue }
            if (now - p.ackTimeMs) / 1000 > Int64(config.replTimeout) {
                log(.warning, "Disconnecting timedout replica (streaming sync): \(replicaName(c))")
                dropReplica(c, nil)
            }
        }
        // No replicas for repl-backlog-ttl: free the backlog and start a new history.
        if !r.isReplica, r.replicas.isEmpty, r.backlog != nil, config.replBacklogTtl > 0,
           r.noReplicasSinceMs > 0, (now - r.noReplicasSinceMs) / 1000 > Int64(config.replBacklogTtl) {
            r.changeReplID()
            r.clearReplID2()
            freeBacklog()
            log(.notice, "Replication backlog freed after \(config.replBacklogTtl) seconds without connected replicas.")
        }
        removeRDBUsedToSyncReplicas()
        refreshGoodReplicas()
        replicationCronLoops += 1
    }

    /// No save points and no AOF: the user asked for no files.
    var hasNoPersistence: Bool { config.saveParams.isEmpty && aof.state == .off }

    /// rdb-del-sync-files (Redis's removeRDBUsedToSyncReplicas): on a master without
    /// persistence, the dump.rdb a disk-backed sync wrote is removed once no replica needs it.
    func removeRDBUsedToSyncReplicas() {
        guard config.rdbDelSyncFiles, hasNoPersistence, snapshot == nil, lastSyncRDBOnDisk else { return }
        for c in repl.replicas {
            if let s = c.replicaPeer?.state, s == .waitBgsaveStart || s == .waitBgsaveEnd || s == .sendBulk { return }
        }
        lastSyncRDBOnDisk = false
        log(.notice, "Removing the RDB file used to feed replicas in a persistence-less instance")
        unlink(config.dbfilename)
    }
}

extension ReplicaPeer {
    /// INFO's `slaveN:` line.
    func infoLine(ip: String, nowMs: Int64) -> String {
        let lag = state == .online ? max(0, (nowMs - ackTimeMs) / 1000) : 0
        return "ip=\(ip),port=\(listeningPort),state=\(state.infoName),offset=\(ackOffset),lag=\(lag)"
    }
}

enum ReplicationCommands {
    /// REPLCONF option value [option value ...]
    static func replconf(_ c: Client, _ a: Args) {
        let e = c.engine
        if a.count % 2 == 0 { c.syntaxError(); return }
        var i = 1
        while i < a.count {
            let opt = a.lowercased(i)
            let v = a[i + 1]
            switch opt {
            case "listening-port":
                guard let port = Numbers.parseInt(v) else { c.notInteger(); return }
                peer(c).listeningPort = port
            case "ip-address":
                if v.count >= 256 {
                    c.error("ERR REPLCONF ip-address provided by replica instance is too long: \(v.count) bytes")
                    return
                }
                peer(c).announcedIP = a.string(i + 1)
            case "capa":
                switch a.lowercased(i + 1) {
                case "eof": peer(c).capaEOF = true
                case "psync2": peer(c).capaPsync2 = true
                default: break
                }
            case "rdb-only":
                guard let n = Numbers.parseInt(v) else { c.notInteger(); return }
                guard n == 0 || n == 1 else { c.error("ERR value is out of range, value must between 0 and 1"); return }
                peer(c).rdbOnly = n == 1
            case "rdb-filter-only":
                // An include list whose only member is `functions`: keys are left out either way.
                for word in a.string(i + 1).split(separator: " ") where word.lowercased() != "functions" {
                    c.error("ERR Unsupported rdb-filter-only option: \(word)")
                    return
                }
                peer(c).excludeData = true
            case "ack":
                // Never answered; only replicas count.
                if let off = Numbers.parseInt(v), c.flags.contains(.replica) { e.replicaAcked(c, offset: Int64(off)) }
                return
            case "getack":
                // Never answered to the sender; a replica answers its master (ReplicaSide).
                e.masterAskedForAck(c)
                return
            default:
                c.error("ERR Unrecognized REPLCONF option: \(a.string(i))")
                return
            }
            i += 2
        }
        c.out.ok()
    }

    static func peer(_ c: Client) -> ReplicaPeer {
        if let p = c.replicaPeer { return p }
        let p = ReplicaPeer()
        c.replicaPeer = p
        return p
    }

    /// PSYNC replid offset [FAILOVER]
    static func psync(_ c: Client, _ a: Args) {
        syncGeneric(c, a, psync: true)
    }

    /// SYNC: a full resync without +FULLRESYNC (pre-PSYNC replicas, redis-cli --rdb).
    static func sync(_ c: Client, _ a: Args) {
        syncGeneric(c, a, psync: false)
    }

    static func syncGeneric(_ c: Client, _ a: Args, psync: Bool) {
        let e = c.engine
        if c.flags.contains(.replica) { return }
        let failover = psync && a.count > 3 && a.equals(3, "failover")
        if failover {
            // The master asks us, its replica, to take over (FAILOVER's last step).
            guard e.repl.isReplica else { c.error("ERR PSYNC FAILOVER can't be sent to a master."); return }
            guard a.string(1).lowercased() == e.repl.replid else {
                c.error("ERR PSYNC FAILOVER replid must match my replid.")
                return
            }
            e.unsetMaster()
            e.log(.notice, "MASTER MODE enabled (failover request from '\(ClientCommand.line(c))')")
            e.log(.notice, "Failover request received for replid \(a.string(1)).")
        }
        if e.repl.failoverState != .none {
            c.error("NOMASTERLINK Can't SYNC while failing over")
            return
        }
        if e.repl.isReplica && e.repl.linkState != .connected {
            c.error("NOMASTERLINK Can't SYNC while not connected with my master")
            return
        }
        if !c.out.isEmpty || c.pendingOutputBytes > 0 {
            c.error("ERR SYNC and PSYNC are invalid with pending output")
            return
        }
        if let p = c.replicaPeer, p.excludeData && !p.capaEOF {
            c.error("ERR Filtered replica requires EOF capability")
            return
        }
        e.log(.notice, "Replica \(e.replicaName(c)) asks for synchronization")
        if psync {
            guard let off = Numbers.parseInt(a[2]) else { c.notInteger(); return }
            if e.tryPartialResync(c, replid: a.string(1), offset: Int64(off)) { return }
            if a.string(1) == "?" {
                e.log(.notice, "Full resync requested by replica \(e.replicaName(c))")
            }
        } else {
            peer(c).preSync = true
        }
        e.startFullResync(c)
    }

    /// WAIT numreplicas timeout
    static func wait(_ c: Client, _ a: Args) {
        let e = c.engine
        if e.repl.isReplica {
            c.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
            return
        }
        guard let want = Numbers.parseInt(a[1]) else { c.notInteger(); return }
        guard let ms = Numbers.parseInt(a[2]) else { c.error("ERR timeout is not an integer or out of range"); return }
        if ms < 0 { c.error("ERR timeout is negative"); return }
        let target = c.woff
        let acked = e.replicasAcked(target)
        if acked >= want || !c.mayBlock {
            c.out.integer(acked)
            return
        }
        let deadline: Int64 = ms == 0 ? 0 : Engine.wallClockMs() + Int64(ms)
        c.blockOnKeys([], deadline: deadline, onTimeout: { [unowned e] c in
            c.out.integer(e.replicasAcked(target))
            e.repl.waiters.removeAll { $0.client === c }
        }, serve: { _, _ in false })
        e.repl.waiters.append((c, target, want))
        if !e.repl.getackPending {
            e.repl.getackPending = true
            e.runSoon { [weak e] in e?.broadcastGetack() }
        }
    }

    /// ROLE
    static func role(_ c: Client, _ a: Args) {
        let e = c.engine
        let r = e.repl
        if let host = r.masterHost {
            c.out.array(5)
            c.out.bulk("slave")
            c.out.bulk(host)
            c.out.integer(r.masterPort)
            c.out.bulk(r.linkState.rawValue)
            c.out.integer(Int(e.replicaAppliedOffset ?? -1))
            return
        }
        c.out.array(3)
        c.out.bulk("master")
        c.out.integer(Int(r.masterReplOffset))
        let online = r.replicas.filter { $0.replicaPeer?.state == .online }
        c.out.array(online.count)
        for s in online {
            c.out.array(3)
            c.out.bulk(e.replicaIP(s))
            c.out.bulk("\(s.replicaPeer?.listeningPort ?? 0)")
            c.out.bulk("\(s.replicaPeer?.ackOffset ?? 0)")
        }
    }
}

/// A SHUTDOWN waiting for lagging replicas (Redis 7.0's shutdown_mstime).
final class PendingShutdown {
    let reason: String
    let deadlineMs: Int64
    let client: Client?
    init(reason: String, deadlineMs: Int64, client: Client?) {
        self.reason = reason
        self.deadlineMs = deadlineMs
        self.client = client
    }
}

extension Engine {
    /// Every replica acknowledged the whole stream (Redis's isReadyToShutdown).
    var replicasCaughtUp: Bool {
        repl.replicas.allSatisfy { ($0.replicaPeer?.ackOffset ?? 0) == repl.masterReplOffset }
    }

    /// SHUTDOWN and SIGTERM/SIGINT (prepareForShutdown): unless NOW, with shutdown-timeout
    /// and replicas behind, writes pause and the shutdown waits (the client blocked) until
    /// they acknowledge everything or the timeout passes. nil when waiting or done.
    public func beginShutdown(reason: String, client: Client? = nil) -> String? {
        let words = Set(reason.split(separator: " ").map { $0.uppercased() })
        if pendingShutdown == nil, !words.contains("NOW"), config.shutdownTimeout > 0, !repl.isReplica,
           !repl.replicas.isEmpty, !replicasCaughtUp, !loading.active {
            let deadline = Engine.wallClockMs() + Int64(config.shutdownTimeout) * 1000
            pendingShutdown = PendingShutdown(reason: reason, deadlineMs: deadline, client: client)
            pause(.shutdown, until: deadline + 1000, all: false)
            log(.warning, "Waiting for replicas before shutting down.")
            broadcastGetack()
            if let c = client, c.mayBlock {
                c.blockOnKeys([], deadline: 0, onTimeout: { _ in }, serve: { _, _ in false })
            }
            return nil
        }
        return requestShutdown(reason: reason)
    }

    /// The wait ends: replicas caught up, or shutdown-timeout passed (finishShutdown).
    func checkPendingShutdown() {
        guard let p = pendingShutdown else { return }
        let now = Engine.wallClockMs()
        let ready = replicasCaughtUp
        guard ready || now >= p.deadlineMs else { return }
        pendingShutdown = nil
        if !ready {
            for c in repl.replicas {
                guard let rp = c.replicaPeer, rp.ackOffset != repl.masterReplOffset else { continue }
                log(.warning, "Lagging replica \(replicaName(c)) reported offset \(repl.masterReplOffset - rp.ackOffset) behind master, lag=\((now - rp.ackTimeMs) / 1000), state=\(rp.state.infoName).")
            }
        }
        unpause(.shutdown)
        if let err = requestShutdown(reason: p.reason), let c = p.client {
            // The shutdown failed (a final save): the waiting client gets the error.
            c.error(err.hasPrefix("ERR ") ? err : "ERR Errors trying to SHUTDOWN. Check logs.")
            if let b = blocking.byClient[c.id] { blocking.finish(b) }
        }
    }

    /// SHUTDOWN ABORT: false when no shutdown waits.
    func abortPendingShutdown() -> Bool {
        guard let p = pendingShutdown else { return false }
        pendingShutdown = nil
        unpause(.shutdown)
        log(.warning, "Shutdown manually aborted.")
        if let c = p.client, let b = blocking.byClient[c.id] {
            c.error("ERR Errors trying to SHUTDOWN. Check logs.")
            blocking.finish(b)
        }
        return true
    }
}
