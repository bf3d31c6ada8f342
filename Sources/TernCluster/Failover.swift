import TernConfig
import TernEngine
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// Replica elections (Redis 7.0's clusterHandleSlaveFailover, clusterSendFailoverAuthIfNeeded,
// clusterFailoverReplaceYourMaster; ../shared/specs/cluster.md §4.1): a replica of a FAIL
// master waits 500-999 ms plus 1 s per better-placed replica, bumps currentEpoch, asks every
// master for a vote; a majority of the slot-owning masters makes it the new master.

/// Why a replica of a failed master is not failing over, logged at most every 10 s per
/// reason (Redis's cant_failover_reason and clusterLogCantFailover).
struct CantFailoverLog {
    enum Reason: Equatable {
        case none, dataAge, waitingDelay, expired, waitingVotes

        var text: String {
            switch self {
            case .none: return ""
            case .dataAge:
                return "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option."
            case .waitingDelay: return "Waiting the delay before I can start a new failover."
            case .expired: return "Failover attempt expired."
            case .waitingVotes: return "Waiting for votes, but majority still not reached."
            }
        }
    }

    var reason = Reason.none
    var lastLogSeconds: Int64 = 0
}

/// One replica's election (Redis's failover_auth_* fields).
struct ElectionState {
    var time: Int64 = 0
    var count = 0
    var sent = false
    var rank = 0
    var epoch: UInt64 = 0
}

extension Cluster {
    /// Masters vote once per epoch, for a replica whose master failed, at most once per
    /// master every 2 x node timeout, and only if no claimed slot has a newer owner.
    func sendFailoverAuthIfNeeded(_ node: ClusterNode, _ m: BusMessage) {
        let requestCurrentEpoch = m.currentEpoch
        let requestConfigEpoch = m.configEpoch
        let forceAck = m.mflags0 & Bus.flagForceAck != 0
        guard myself.isMaster, myself.numSlots > 0 else { return }
        if requestCurrentEpoch < currentEpoch {
            engine.log(.warning, "Failover auth denied to \(node.name): reqEpoch (\(requestCurrentEpoch)) < curEpoch(\(currentEpoch))")
            return
        }
        if lastVoteEpoch == currentEpoch {
            engine.log(.warning, "Failover auth denied to \(node.name): already voted for epoch \(currentEpoch)")
            return
        }
        guard node.isSlave, let master = node.master, master.failed || forceAck else {
            if node.isMaster {
                engine.log(.warning, "Failover auth denied to \(node.name): it is a master node")
            } else if node.master == nil {
                engine.log(.warning, "Failover auth denied to \(node.name): I don't know its master")
            } else {
                engine.log(.warning, "Failover auth denied to \(node.name): its master is up")
            }
            return
        }
        let sinceVote = now - master.votedTime
        if sinceVote < nodeTimeout * 2 {
            engine.log(.warning, "Failover auth denied to \(node.name): can't vote about this master before \(nodeTimeout * 2 - sinceVote) milliseconds")
            return
        }
        let claimed = m.slots
        for j in 0..<ClusterSlot.count where claimed[j] {
            guard let owner = slotOwner[j], !ownerNotClaiming[j], owner.configEpoch > requestConfigEpoch else { continue }
            engine.log(.warning, "Failover auth denied to \(node.name): slot \(j) epoch (\(owner.configEpoch)) > reqEpoch (\(requestConfigEpoch))")
            return
        }
        lastVoteEpoch = currentEpoch
        master.votedTime = now
        later([.saveConfig, .fsyncConfig])
        if let l = node.link { send(l, header(.failoverAuthAck), .failoverAuthAck) }
        engine.log(.warning, "Failover auth granted to \(node.name) for epoch \(currentEpoch)")
    }

    /// A vote counts when it comes from a slot-owning master of this election's epoch.
    func receivedFailoverAuthAck(from sender: ClusterNode, currentEpoch senderEpoch: UInt64) {
        if sender.isMaster && sender.numSlots > 0 && senderEpoch >= election.epoch {
            election.count += 1
            handleReplicaFailover()
        }
    }

    /// Number of other replicas of my master (able to fail over) with a larger offset.
    func replicaRank() -> Int {
        guard let master = myself.master else { return 0 }
        let mine = engine.replicaProcessedOffset
        return master.replicas.filter { $0 !== myself && !$0.flags.contains(.nofailover) && $0.replOffset > mine }.count
    }

    /// A stalled replica says why, once its master has been failed for a while (the first
    /// seconds after a failure are the normal election delay).
    func logCantFailover(_ reason: CantFailoverLog.Reason) {
        let seconds = now / 1000
        if reason == cantFailover.reason && seconds - cantFailover.lastLogSeconds < 10 { return }
        cantFailover.reason = reason
        if let m = myself.master, m.failed, now - m.failTime < nodeTimeout + 5000 { return }
        cantFailover.lastLogSeconds = seconds
        engine.log(.warning, "Currently unable to failover: \(reason.text)")
    }

    /// Every cron tick on a replica, and when a vote arrives.
    func handleReplicaFailover() {
        var authAge = now - election.time
        let neededQuorum = size / 2 + 1
        let authTimeout = max(nodeTimeout * 2, 2000)
        let authRetry = authTimeout * 2
        let manual = manualFailover.end != 0 && manualFailover.canStart
        guard myself.isSlave, let master = myself.master, master.failed || manual,
              !config.clusterReplicaNoFailover || manual, master.numSlots > 0 else {
            cantFailover.reason = .none
            return
        }
        var dataAge = engine.masterDataAgeMs
        if dataAge > nodeTimeout { dataAge -= nodeTimeout }
        if config.clusterReplicaValidityFactor != 0 && !manual
            && dataAge > Int64(config.replPingReplicaPeriod) * 1000 + nodeTimeout * Int64(config.clusterReplicaValidityFactor) {
            logCantFailover(.dataAge)
            return
        }
        if authAge > authRetry {
            var g = SystemRandomNumberGenerator()
            election = ElectionState()
            election.rank = replicaRank()
            election.time = now + 500 + Int64(g.next() % 500) + Int64(election.rank) * 1000
            if manualFailover.end != 0 {
                // A manual failover starts its election at once.
                election.time = now
                election.rank = 0
            }
            engine.log(.notice, "Start of election delayed for \(election.time - now) milliseconds (rank #\(election.rank), offset \(engine.replicaProcessedOffset)).")
            broadcastPong(localReplicasOnly: true)
            if manualFailover.end == 0 { return }
            authAge = now - election.time
        }
        if !election.sent && manualFailover.end == 0 {
            let newRank = replicaRank()
            if newRank > election.rank {
                let added = Int64(newRank - election.rank) * 1000
                election.time += added
                election.rank = newRank
                engine.log(.notice, "Replica rank updated to #\(newRank), added \(added) milliseconds of delay.")
            }
        }
        if now < election.time {
            logCantFailover(.waitingDelay)
            return
        }
        if authAge > authTimeout {
            logCantFailover(.expired)
            return
        }
        if !election.sent {
            currentEpoch += 1
            election.epoch = currentEpoch
            engine.log(.notice, "Starting a failover election for epoch \(currentEpoch).")
            var request = header(.failoverAuthRequest)
            if manualFailover.end != 0 { request.bytes[2253] |= Bus.flagForceAck }
            broadcast(request, .failoverAuthRequest)
            election.sent = true
            later([.saveConfig, .updateState, .fsyncConfig])
            return
        }
        guard election.count >= neededQuorum else {
            logCantFailover(.waitingVotes)
            return
        }
        engine.log(.notice, "Failover election won: I'm the new master.")
        if myself.configEpoch < election.epoch {
            myself.configEpoch = election.epoch
            engine.log(.notice, "configEpoch set to \(myself.configEpoch) after successful failover")
        }
        replaceMaster()
    }

    /// Redis's clusterFailoverReplaceYourMaster: master role, the old master's slots, the
    /// config saved, and everybody told.
    func replaceMaster() {
        guard myself.isSlave, let old = myself.master else { return }
        setNodeAsMaster(myself)
        engine.unsetMaster()
        for j in 0..<ClusterSlot.count where old.slots[j] {
            deleteSlot(j)
            addSlot(myself, j)
        }
        updateState()
        if let err = saveConfig(fsync: true) {
            engine.log(.warning, "Fatal: can't update cluster config file: \(err)")
            exit(1)
        }
        broadcastPong()
        resetManualFailover()
    }
}

// Manual failover (CLUSTER FAILOVER; Redis's mf_* state, §4.2): the default mode asks the
// master with MFSTART to pause writes and send its offset (PAUSED flag); once the replica has
// processed that offset it runs an election at once with FORCEACK. FORCE skips the offset
// agreement; TAKEOVER skips the election too.

/// Redis's mf_end / mf_slave / mf_can_start / mf_master_offset.
struct ManualFailoverState {
    var end: Int64 = 0
    var replica: ClusterNode?
    var canStart = false
    var masterOffset: Int64 = -1
}

extension Cluster {
    static let manualFailoverTimeoutMs: Int64 = 5000

    func resetManualFailover() {
        // A master that paused its writers for a replica lets them go, whatever the outcome.
        if manualFailover.replica != nil { engine.unpause(.failover) }
        manualFailover = ManualFailoverState()
    }

    func failoverCommand(_ c: Client, _ a: Args) {
        var force = false, takeover = false
        if a.count == 3 {
            if a.equals(2, "force") {
                force = true
            } else if a.equals(2, "takeover") {
                takeover = true
                force = true
            } else {
                c.syntaxError()
                return
            }
        } else if a.count > 3 {
            Cluster.subcommandSyntaxError(c, a)
            return
        }
        if myself.isMaster {
            c.error("ERR You should send CLUSTER FAILOVER to a replica")
            return
        }
        guard let master = myself.master else {
            c.error("ERR I'm a replica but my master is unknown to me")
            return
        }
        if !force && (master.failed || master.link == nil) {
            c.error("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
            return
        }
        resetManualFailover()
        manualFailover.end = now + Cluster.manualFailoverTimeoutMs
        if takeover {
            engine.log(.warning, "Taking over the master (user request).")
            _ = bumpConfigEpochWithoutConsensus()
            replaceMaster()
        } else if force {
            engine.log(.warning, "Forced failover user request accepted.")
            manualFailover.canStart = true
        } else {
            engine.log(.warning, "Manual failover user request accepted.")
            if let l = master.link { send(l, header(.mfstart), .mfstart) }
        }
        c.out.ok()
    }

    /// MFSTART from one of my replicas: pause writes for twice the failover timeout and
    /// tell it my offset at once (PAUSED is set in every message while this lasts).
    func receivedMFStart(from sender: ClusterNode, on link: ClusterLink) {
        guard sender.master === myself else { return }
        resetManualFailover()
        manualFailover.end = now + Cluster.manualFailoverTimeoutMs
        manualFailover.replica = sender
        engine.pause(.failover, until: now + Cluster.manualFailoverTimeoutMs * 2, all: false)
        engine.log(.warning, "Manual failover requested by replica \(sender.name).")
        sendPing(link, .ping)
    }

    /// Cron: the timeout, then (replica) whether the master's paused offset is reached.
    func manualFailoverCron() {
        if manualFailover.end != 0 && manualFailover.end < now {
            engine.log(.warning, "Manual failover timed out.")
            resetManualFailover()
        }
        guard myself.isSlave, manualFailover.end != 0, !manualFailover.canStart,
              manualFailover.masterOffset != -1 else { return }
        if manualFailover.masterOffset == engine.replicaProcessedOffset {
            manualFailover.canStart = true
            engine.log(.warning, "All master replication stream processed, manual failover can start.")
        }
    }
}
