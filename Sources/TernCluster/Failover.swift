import TernConfig
import TernEngine
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// Replica elections (Redis 7.0's clusterHandleSlaveFailover, clusterSendFailoverAuthIfNeeded,
// clusterFailoverReplaceYourMaster; ../shared/specs/cluster.md §4.1): a replica of a FAIL
// master waits 500-999 ms plus 1 s per better-placed replica, bumps currentEpoch, asks every
// master for a vote; a majority of the slot-owning masters makes it the new master.

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

    /// Every cron tick on a replica, and when a vote arrives.
    func handleReplicaFailover() {
        let authAge = now - election.time
        let neededQuorum = size / 2 + 1
        let authTimeout = max(nodeTimeout * 2, 2000)
        let authRetry = authTimeout * 2
        guard myself.isSlave, let master = myself.master, master.failed,
              !config.clusterReplicaNoFailover, master.numSlots > 0 else { return }
        var dataAge = engine.masterDataAgeMs
        if dataAge > nodeTimeout { dataAge -= nodeTimeout }
        if config.clusterReplicaValidityFactor != 0
            && dataAge > Int64(config.replPingReplicaPeriod) * 1000 + nodeTimeout * Int64(config.clusterReplicaValidityFactor) {
            return
        }
        if authAge > authRetry {
            var g = SystemRandomNumberGenerator()
            election = ElectionState()
            election.rank = replicaRank()
            election.time = now + 500 + Int64(g.next() % 500) + Int64(election.rank) * 1000
            engine.log(.notice, "Start of election delayed for \(election.time - now) milliseconds (rank #\(election.rank), offset \(engine.replicaProcessedOffset)).")
            broadcastPong(localReplicasOnly: true)
            return
        }
        if !election.sent {
            let newRank = replicaRank()
            if newRank > election.rank {
                let added = Int64(newRank - election.rank) * 1000
                election.time += added
                election.rank = newRank
                engine.log(.notice, "Replica rank updated to #\(newRank), added \(added) milliseconds of delay.")
            }
        }
        if now < election.time || authAge > authTimeout { return }
        if !election.sent {
            currentEpoch += 1
            election.epoch = currentEpoch
            engine.log(.notice, "Starting a failover election for epoch \(currentEpoch).")
            broadcast(header(.failoverAuthRequest), .failoverAuthRequest)
            election.sent = true
            later([.saveConfig, .updateState, .fsyncConfig])
            return
        }
        guard election.count >= neededQuorum else { return }
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
    }
}
