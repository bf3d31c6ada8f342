// Replica migration (Redis 7.0's orphaned-master scan in clusterCron and
// clusterHandleSlaveMigration; ../shared/specs/cluster.md): a master that serves slots, once
// had replicas (MIGRATE_TO) and has no working one left is "orphaned"; a replica of the master
// with the most working replicas, the one with the smallest node id, moves to it after the
// orphaned state has lasted CLUSTER_SLAVE_MIGRATION_DELAY, provided its own master keeps more
// than cluster-migration-barrier working replicas.

extension Cluster {
    /// Redis's CLUSTER_SLAVE_MIGRATION_DELAY: gives the replicas of a master that just failed
    /// over time to announce their new master before anybody else moves in.
    static let replicaMigrationDelayMs: Int64 = 5000

    /// Replicas not flagged FAIL (PFAIL still counts), as clusterCountNonFailingSlaves.
    func workingReplicas(of n: ClusterNode) -> Int {
        n.replicas.filter { !$0.failed }.count
    }

    /// The cron's half (run on a replica every tick): counts orphaned masters, the largest
    /// number of working replicas of one master and my master's, then considers moving.
    func replicaMigrationCron() {
        guard myself.isSlave else { return }
        var orphanedMasters = 0, maxReplicas = 0, myMastersReplicas = 0
        for n in nodes {
            if n.isMyself || n.inHandshake || n.flags.contains(.noaddr) { continue }
            guard n.isMaster, !n.failed else { continue }
            let ok = workingReplicas(of: n)
            if ok == 0 && n.numSlots > 0 && n.flags.contains(.migrateTo) { orphanedMasters += 1 }
            maxReplicas = max(maxReplicas, ok)
            if myself.master === n { myMastersReplicas = ok }
        }
        // Moving only makes sense away from a master with at least two working replicas.
        if orphanedMasters > 0 && maxReplicas >= 2 && myMastersReplicas == maxReplicas
            && config.clusterAllowReplicaMigration {
            handleReplicaMigration(maxReplicas: maxReplicas)
        }
    }

    /// Redis's clusterHandleSlaveMigration.
    func handleReplicaMigration(maxReplicas: Int) {
        guard stateOK, let myMaster = myself.master else { return }
        let okHere = myMaster.replicas.filter { !$0.failed && !$0.timedOut }.count
        if okHere <= config.clusterMigrationBarrier { return }
        var target: ClusterNode? = nil
        var candidate = myself
        let t = now
        for n in nodes {
            let ok = n.isMaster ? workingReplicas(of: n) : 0
            let orphaned = !n.isSlave && !n.failed && n.flags.contains(.migrateTo) && ok == 0
            if orphaned {
                if target == nil && n.numSlots > 0 { target = n }
                // When the orphaned condition started, for the delay below.
                if n.orphanedTime == 0 { n.orphanedTime = t }
            } else {
                n.orphanedTime = 0
            }
            // Among the replicas of the best-served masters, the smallest id moves.
            if ok == maxReplicas {
                for r in n.replicas where Array(r.name.utf8).lexicographicallyPrecedes(Array(candidate.name.utf8)) {
                    candidate = r
                }
            }
        }
        guard let target, candidate === myself, t - target.orphanedTime > Cluster.replicaMigrationDelayMs else { return }
        engine.log(.notice, "Migrating to orphaned master \(target.name)")
        setMaster(target)
        // Redis leaves the save to the next change; saving now (without fsync, as other role
        // changes) keeps nodes.conf true across a restart.
        later(.saveConfig)
    }
}
