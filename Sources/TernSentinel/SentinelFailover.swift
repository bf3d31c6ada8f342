import TernEngine

// Leader election and the failover state machine (Redis 7.0's sentinelVoteLeader,
// sentinelGetLeader, sentinelStartFailover ... sentinelFailoverSwitchToPromotedSlave).

extension Sentinel {
    /// Records a vote for `runid` at `reqEpoch` if we have not voted in that epoch yet;
    /// returns the vote we hold for this master and its epoch.
    func voteLeader(_ m: SentinelInstance, epoch reqEpoch: UInt64, runid: String) -> (String?, UInt64) {
        if reqEpoch > currentEpoch {
            currentEpoch = reqEpoch
            flushConfig()
            event(.warning, "+new-epoch", m, "\(currentEpoch)")
        }
        if m.leaderEpoch < reqEpoch && currentEpoch <= reqEpoch {
            m.leader = runid
            m.leaderEpoch = currentEpoch
            flushConfig()
            event(.warning, "+vote-for-leader", nil, "\(runid) \(m.leaderEpoch)")
            // Voted for someone else: our own attempt waits.
            if runid.lowercased() != myid.lowercased() {
                m.failoverStartTime = now + Int64.random(in: 0..<Int64(Sentinel.maxDesyncMs))
            }
        }
        return (m.leader, m.leaderEpoch)
    }

    /// The leader for `epoch`: a majority of all known sentinels and at least the quorum.
    func leader(_ m: SentinelInstance, epoch: UInt64) -> String? {
        var counters: [String: Int] = [:]
        var order: [String] = []
        let voters = m.sentinels.count + 1
        for s in m.sentinels {
            if let l = s.leader, s.leaderEpoch == currentEpoch {
                if counters[l] == nil { order.append(l) }
                counters[l, default: 0] += 1
            }
        }
        var winner: String?
        var maxVotes = 0
        for l in order where counters[l, default: 0] > maxVotes {
            maxVotes = counters[l, default: 0]
            winner = l
        }
        let (myVote, voteEpoch) = voteLeader(m, epoch: epoch, runid: winner ?? myid)
        if let myVote, voteEpoch == epoch {
            let votes = counters[myVote, default: 0] + 1
            counters[myVote] = votes
            if votes > maxVotes {
                maxVotes = votes
                winner = myVote
            }
        }
        if winner != nil && (maxVotes < voters / 2 + 1 || maxVotes < m.quorum) { winner = nil }
        return winner
    }

    func startFailoverIfNeeded(_ m: SentinelInstance) -> Bool {
        guard m.flags.contains(.oDown), !m.flags.contains(.failoverInProgress) else { return false }
        if now &- m.failoverStartTime < m.failoverTimeout &* 2 {
            if m.failoverDelayLogged != m.failoverStartTime {
                m.failoverDelayLogged = m.failoverStartTime
                let at = (m.failoverStartTime &+ m.failoverTimeout &* 2) / 1000
                engine.log(.warning, "Next failover delay: I will not start a failover before \(Sentinel.clockText(at))")
            }
            return false
        }
        startFailover(m)
        return true
    }

    static func clockText(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, 64, "%a %b %e %H:%M:%S %Y", &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func startFailover(_ m: SentinelInstance) {
        m.failoverState = .waitStart
        m.flags.insert(.failoverInProgress)
        currentEpoch &+= 1
        m.failoverEpoch = currentEpoch
        event(.warning, "+new-epoch", m, "\(currentEpoch)")
        event(.warning, "+try-failover", m, "%@")
        m.failoverStartTime = now + Int64.random(in: 0..<Int64(Sentinel.maxDesyncMs))
        m.failoverStateChangeTime = now
    }

    func abortFailover(_ m: SentinelInstance) {
        if let p = m.promotedReplica {
            p.flags.remove(.promoted)
            m.promotedReplica = nil
        }
        m.flags.remove([.failoverInProgress, .forceFailover])
        m.failoverState = .none
        m.failoverStateChangeTime = now
    }

    func failoverStateMachine(_ m: SentinelInstance) {
        guard m.isMaster, m.flags.contains(.failoverInProgress) else { return }
        switch m.failoverState {
        case .waitStart: failoverWaitStart(m)
        case .selectSlave: failoverSelectReplica(m)
        case .sendSlaveofNoOne: failoverSendReplicaOfNoOne(m)
        case .waitPromotion:
            if now - m.failoverStateChangeTime > m.failoverTimeout {
                event(.warning, "-failover-abort-slave-timeout", m, "%@")
                abortFailover(m)
            }
        case .reconfSlaves: reconfigureNextReplica(m)
        case .none, .updateConfig: break
        }
    }

    func failoverWaitStart(_ m: SentinelInstance) {
        let winner = leader(m, epoch: m.failoverEpoch)
        let isLeader = winner?.lowercased() == myid.lowercased()
        if !isLeader && !m.flags.contains(.forceFailover) {
            if now - m.failoverStartTime > min(electionTimeout, m.failoverTimeout) {
                event(.warning, "-failover-abort-not-elected", m, "%@")
                abortFailover(m)
            }
            return
        }
        event(.warning, "+elected-leader", m, "%@")
        if simulateFailure & Sentinel.crashAfterElection != 0 { simulatedCrash() }
        m.failoverState = .selectSlave
        m.failoverStateChangeTime = now
        event(.warning, "+failover-state-select-slave", m, "%@")
    }

    /// The replica to promote: healthy, recently heard from, not priority 0; best priority,
    /// then largest offset, then smallest run id (Redis's sentinelSelectSlave).
    func selectReplica(_ m: SentinelInstance) -> SentinelInstance? {
        let t = now
        var maxMasterDown: Int64 = 0
        if m.flags.contains(.sDown) { maxMasterDown += t - m.sDownSince }
        maxMasterDown &+= m.downAfterMs &* 10
        let candidates = m.replicas.filter { r in
            if !r.flags.intersection([.sDown, .oDown]).isEmpty { return false }
            if r.link.disconnected { return false }
            if t - r.link.lastAvailable > pingPeriod &* 5 { return false }
            if r.replicaPriority == 0 { return false }
            let validity = m.flags.contains(.sDown) ? pingPeriod &* 5 : infoPeriod &* 3
            if t - r.infoRefresh > validity { return false }
            if r.masterLinkDownTime > maxMasterDown { return false }
            return true
        }
        return candidates.min { a, b in
            if a.replicaPriority != b.replicaPriority { return a.replicaPriority < b.replicaPriority }
            if a.replicaReplOffset != b.replicaReplOffset { return a.replicaReplOffset > b.replicaReplOffset }
            switch (a.runID, b.runID) {
            case (nil, _): return false
            case (_, nil): return true
            case let (x?, y?): return x.lowercased() < y.lowercased()
            }
        }
    }

    func failoverSelectReplica(_ m: SentinelInstance) {
        guard let r = selectReplica(m) else {
            event(.warning, "-failover-abort-no-good-slave", m, "%@")
            abortFailover(m)
            return
        }
        event(.warning, "+selected-slave", r, "%@")
        r.flags.insert(.promoted)
        m.promotedReplica = r
        m.failoverState = .sendSlaveofNoOne
        m.failoverStateChangeTime = now
        event(.notice, "+failover-state-send-slaveof-noone", r, "%@")
    }

    func failoverSendReplicaOfNoOne(_ m: SentinelInstance) {
        guard let p = m.promotedReplica else { abortFailover(m); return }
        if p.link.disconnected {
            if now - m.failoverStateChangeTime > m.failoverTimeout {
                event(.warning, "-failover-abort-slave-timeout", m, "%@")
                abortFailover(m)
            }
            return
        }
        guard sendReplicaOf(p, nil) else { return }
        event(.notice, "+failover-state-wait-promotion", p, "%@")
        m.failoverState = .waitPromotion
        m.failoverStateChangeTime = now
    }

    func reconfigureNextReplica(_ m: SentinelInstance) {
        guard let p = m.promotedReplica else { return }
        var inProgress = m.replicas.filter { !$0.flags.intersection([.reconfSent, .reconfInProgress]).isEmpty }.count
        let t = now
        for r in m.replicas {
            if inProgress >= m.parallelSyncs { break }
            if !r.flags.intersection([.promoted, .reconfDone]).isEmpty { continue }
            if r.flags.contains(.reconfSent) && t - r.replicaReconfSentTime > replicaReconfTimeout {
                event(.notice, "-slave-reconf-sent-timeout", r, "%@")
                r.flags.remove(.reconfSent)
                r.flags.insert(.reconfDone)
            }
            if !r.flags.intersection([.reconfSent, .reconfInProgress]).isEmpty { continue }
            if r.link.disconnected { continue }
            if sendReplicaOf(r, p.address) {
                r.flags.insert(.reconfSent)
                r.replicaReconfSentTime = t
                event(.notice, "+slave-reconf-sent", r, "%@")
                inProgress += 1
            }
        }
        detectFailoverEnd(m)
    }

    func detectFailoverEnd(_ m: SentinelInstance) {
        guard m.failoverState == .reconfSlaves, let p = m.promotedReplica, !p.flags.contains(.sDown) else { return }
        var notReconfigured = m.replicas.filter {
            $0.flags.intersection([.promoted, .reconfDone]).isEmpty && !$0.flags.contains(.sDown)
        }.count
        var timedOut = false
        if now - m.failoverStateChangeTime > m.failoverTimeout {
            notReconfigured = 0
            timedOut = true
            event(.warning, "+failover-end-for-timeout", m, "%@")
        }
        if notReconfigured == 0 {
            event(.warning, "+failover-end", m, "%@")
            m.failoverState = .updateConfig
            m.failoverStateChangeTime = now
        }
        if timedOut {
            for r in m.replicas where r.flags.intersection([.promoted, .reconfDone, .reconfSent]).isEmpty && !r.link.disconnected {
                if sendReplicaOf(r, p.address) {
                    event(.notice, "+slave-reconf-sent-be", r, "%@")
                    r.flags.insert(.reconfSent)
                }
            }
        }
    }

    func switchToPromotedReplica(_ m: SentinelInstance) {
        let to = (m.promotedReplica ?? m).address
        event(.warning, "+switch-master", m, "\(m.name) \(shown(m.address)) \(m.address.port) \(shown(to)) \(to.port)")
        resetMasterAndChangeAddress(m, to: to)
    }

    /// Forgets the master's replicas and state (Redis's sentinelResetMaster); sentinels
    /// are kept unless `dropSentinels`.
    func resetMaster(_ m: SentinelInstance, dropSentinels: Bool, generateEvent: Bool) {
        for r in m.replicas { r.link.closeAll() }
        m.replicas = []
        if dropSentinels {
            for s in m.sentinels { releaseLink(s) }
            m.sentinels = []
        }
        m.link.closeAll()
        m.flags = m.flags.intersection(.master)
        m.leader = nil
        m.failoverState = .none
        m.failoverStateChangeTime = 0
        m.failoverStartTime = 0
        m.promotedReplica = nil
        m.runID = nil
        m.info = nil
        m.infoRefresh = 0
        let t = now
        m.link.pendingPingSince = t
        m.link.lastPingSent = 0
        // Reconnect at the next timer run, not up to a second later: the down-after clock
        // restarts now, and with a short down-after the first PONG could otherwise come too
        // late and mark a healthy new master SDOWN (Redis keeps the last attempt's time).
        m.link.lastReconnect = 0
        m.link.lastAvailable = t
        m.link.lastPong = t
        m.roleReported = .master
        m.roleReportedTime = t
        if generateEvent { event(.warning, "+reset-master", m, "%@") }
    }

    /// The master moves to host:port; its former replicas (minus the new master) and the
    /// old master become its replicas.
    func resetMasterAndChangeAddress(_ m: SentinelInstance, to newAddr: InstanceAddress) {
        let same = { (a: InstanceAddress) in a.port == newAddr.port && a.ip.lowercased() == newAddr.ip.lowercased() }
        var replicaAddrs = m.replicas.map { $0.address }.filter { !same($0) }
        if !same(m.address) { replicaAddrs.append(m.address) }
        resetMaster(m, dropSentinels: false, generateEvent: false)
        m.address = newAddr
        m.oDownSince = 0
        m.sDownSince = 0
        for a in replicaAddrs {
            let r = makeReplica(m, a)
            m.replicas.append(r)
            event(.notice, "+slave", r, "%@")
        }
        flushConfig()
    }
}

#if canImport(Glibc)
import Glibc
#endif
