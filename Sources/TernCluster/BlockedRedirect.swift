import TernEngine
import TernStore

// Clients blocked on keys of a slot this node stopped serving (Redis 7.0's
// clusterRedirectBlockedClientIfNeeded, run from clientsCron): they would wait for a write
// that can no longer happen here, so they get the redirection a new command would get.
// Turning replica is handled by replication itself (-UNBLOCKED, disconnectAllBlockedClients).

extension Cluster {
    func redirectBlockedClients() {
        guard engine.blocking.blockedClients > 0 else { return }
        engine.blocking.unblockOnKeys { b in
            // Reads may be allowed while down, but the write that would serve them is not.
            if !stateOK { return "CLUSTERDOWN The cluster is down" }
            // Every key of a blocking command is in one slot: the first tells.
            guard let key = b.keys.first else { return nil }
            let slot = key.withUnsafeBytes { ClusterSlot.of($0) }
            var owner = slotOwner[slot]
            // A READONLY client blocked by a read (XREAD) on a replica of the owner stays.
            if b.client.flags.contains(.readonly), let cmd = b.client.currentCommand, !cmd.flags.contains(.write),
               myself.isSlave, myself.master === owner {
                owner = myself
            }
            guard owner !== myself, importingFrom[slot] == nil else { return nil }
            guard let owner else { return "CLUSTERDOWN Hash slot not served" }
            return "MOVED \(slot) \(preferredEndpoint(owner)):\(owner.port)"
        }
    }
}
