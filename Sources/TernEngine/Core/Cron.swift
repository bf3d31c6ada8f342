import TernConfig
import TernProtocol
import TernStore

/// Periodic work (Redis's serverCron), in its order: INFO rate sampling, clients (idle
/// timeout, blocked clients), pause expiry, then the databases (active expiry, incremental
/// rehashing, table shrinking). Runs `hz` times per second on the engine loop.
extension Engine {
    public func cron() {
        nowMs = Engine.wallClockMs()
        if cronPaused { return }
        cronLoops += 1
        infoState.cron()
        closeIdleClients()
        clientsCron()
        blocking.cron()
        if pauseEndMs > 0 && pauseEndMs <= nowMs { updatePauseState() }
        if !isReplicaOfMaster && !isPausedForWrites && activeExpireEnabled { activeExpireCycle() }
        savePointsCron()
        startPendingReplicationSnapshot()
        if pendingShutdown != nil { checkPendingShutdown() }
        // Once a second; ten times a second while a FAILOVER runs (its handshake and checks).
        if nowMs - lastReplicationCronMs >= (repl.failoverState == .none ? 1000 : 100) {
            lastReplicationCronMs = nowMs
            replicationCron()
            migrateSockets.closeIdle(nowMs: nowMs)
        }
        // Every 100 ms, on the tick Redis's run_with_period(100) picks.
        let tickMs = max(1, 1000 / max(1, min(500, config.hz)))
        if let cluster, tickMs >= 100 || cronLoops % (100 / tickMs) == 0 {
            cluster.cron()
        }
        for db in databases {
            db.table.shrinkIfSparse()
            if config.activerehashing { db.table.rehash(forMicroseconds: 1000) }
        }
        // Periodic work is not a command: anything it made pending (a lazy expiry met by a
        // hook) is its own unit rather than joining the next client's command.
        if propagates { propagatePendingCommands() }
    }

    /// Redis's slow active-expire cycle: sample keys with a TTL, delete the expired ones,
    /// and keep going while more than `acceptable stale`% of a sample was expired and the
    /// time budget (25% + 2%*effort of the cron period) allows.
    func activeExpireCycle() {
        let effort = max(0, min(9, config.activeExpireEffort - 1))
        let keysPerLoop = 20 + 20 / 4 * effort
        let acceptableStale = 10 - effort
        let hz = max(1, config.hz)
        let budgetMicros = Int64((25 + 2 * effort) * 1_000_000 / hz / 100)
        let start = Engine.monotonicMicros()
        var timedOut = false
        var totalSampled = 0, totalExpired = 0
        let dbCount = databases.count
        var iteration = 0
        for step in 0..<dbCount {
            if timedOut { break }
            let db = databases[(expireDBCursor + step) % dbCount]
            if step == dbCount - 1 { expireDBCursor = 0 }
            while db.expiresCount > 0 {
                iteration += 1
                var sampled = 0, expired = 0, ttlSum: Int64 = 0, ttlSamples = 0
                var bucketsLeft = keysPerLoop * 20
                var victims: [Entry] = []
                while sampled < keysPerLoop && bucketsLeft > 0 && db.count > 0 {
                    db.expireCursor = db.table.scan(cursor: db.expireCursor) { e in
                        guard e.hasExpire else { return }
                        sampled += 1
                        if e.expireAt < nowMs {
                            victims.append(e)
                        } else {
                            // Wraps like Redis's long long sum: TTLs near INT64_MAX
                            // (PEXPIREAT k 9223372036854775807) must not trap.
                            ttlSum &+= e.expireAt &- nowMs
                            ttlSamples += 1
                        }
                    }
                    bucketsLeft -= 1
                    if db.expireCursor == 0 { break }
                }
                for e in victims {
                    deleteExpired(db, e)
                    // Each expired key is a unit of its own: a bare DEL (Redis 7.0 flushes
                    // after every key in activeExpireCycle).
                    if propagates { propagatePendingCommands() }
                    expired += 1
                }
                if ttlSamples > 0 {
                    let avg = ttlSum / Int64(ttlSamples)
                    db.avgTTL = db.avgTTL == 0 ? avg : (db.avgTTL / 50) &* 49 &+ avg / 50
                }
                totalSampled += sampled
                totalExpired += expired
                if iteration % 16 == 0 && Engine.monotonicMicros() - start > budgetMicros {
                    timedOut = true
                    stats.expiredTimeCapReached += 1
                    expireDBCursor = db.id
                    break
                }
                if sampled == 0 || expired * 100 / max(sampled, 1) <= acceptableStale { break }
            }
        }
        let elapsed = Engine.monotonicMicros() - start
        stats.expireCycleTimeUsedMicros += Int(elapsed)
        let current = totalSampled > 0 ? Double(totalExpired) / Double(totalSampled) : 0
        stats.expiredStalePerc = current * 0.05 + stats.expiredStalePerc * 0.95
    }
}
