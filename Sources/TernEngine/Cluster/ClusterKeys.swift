import TernProtocol
import TernStore

/// The keyspace side of cluster mode (Redis's slots_to_keys in db.c/cluster.c): db 0's keys
/// indexed by hash slot, for CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT, a slot's flush and the
/// startup check that the data matches the slots a node serves. The cluster node (TernCluster)
/// calls these; nothing here knows about nodes or the bus.
extension Engine {
    /// Turns cluster mode on or off. On: db 0's keys are indexed by slot from now on (the
    /// index is built from the keys present, O(keys)). Off: the index is dropped.
    public func setClusterEnabled(_ on: Bool) {
        clusterEnabled = on
        databases[0].table.setSlotIndexed(on)
    }

    /// Keys of db 0 in `slot` (CLUSTER COUNTKEYSINSLOT), O(1). Logically expired keys not yet
    /// deleted count, as in Redis.
    public func countKeysInSlot(_ slot: Int) -> Int {
        guard slot >= 0, slot < ClusterSlot.count, let index = databases[0].table.slotIndex else { return 0 }
        return index.count(inSlot: slot)
    }

    /// Up to `count` key names of db 0 in `slot` (CLUSTER GETKEYSINSLOT), in the index's order.
    public func keysInSlot(_ slot: Int, count: Int) -> [[UInt8]] {
        guard slot >= 0, slot < ClusterSlot.count, count > 0, let index = databases[0].table.slotIndex else { return [] }
        var keys: [[UInt8]] = []
        keys.reserveCapacity(min(count, index.count(inSlot: slot)))
        index.forEach(inSlot: slot) { e in
            keys.append(Array(e.key))
            return keys.count < count
        }
        return keys
    }

    /// Deletes every key of db 0 in `slot` (delKeysInSlot: a node that lost a slot, a replica
    /// following its master's slots) and returns how many. WATCHers and tracking clients of the
    /// keys are told. Redis 7.0.15 neither propagates nor notifies these deletions; later Redis
    /// versions do (DEL, or UNLINK under lazyfree-lazy-server-del, and a `del` event): pass
    /// `propagate: true` for that. The DELs join the pending unit, which the caller's command
    /// dispatch or the cron flushes (or the caller, with `propagatePendingCommands()`).
    @discardableResult
    public func deleteKeysInSlot(_ slot: Int, propagate: Bool = false) -> Int {
        let keys = keysInSlot(slot, count: Int.max)
        let db = databases[0]
        for k in keys {
            k.withUnsafeBytes { key in
                guard db.delete(key) else { return }
                keyModified(db, key)
                guard propagate else { return }
                notify(.generic, "del", key, db.id)
                dirty += 1
                if propagates {
                    alsoPropagate(db: db.id, OwnedArgs([Array((config.lazyfreeLazyServerDel ? "UNLINK" : "DEL").utf8), k]))
                }
            }
        }
        return keys.count
    }

    /// The slots of db 0 that hold keys, ascending (with their counts): the "keys in slots I do
    /// not serve" checks (Redis's verifyClusterConfigWithData, CLUSTER RESET's emptiness test).
    public func slotsWithKeys() -> [(slot: Int, count: Int)] {
        guard let index = databases[0].table.slotIndex, index.total > 0 else { return [] }
        var out: [(slot: Int, count: Int)] = []
        for s in 0..<ClusterSlot.count where index.count(inSlot: s) > 0 { out.append((s, index.count(inSlot: s))) }
        return out
    }

    /// True when db 0 holds a key in a slot `serves` says no to.
    public func hasKeys(outside serves: (Int) -> Bool) -> Bool {
        guard let index = databases[0].table.slotIndex, index.total > 0 else { return false }
        for s in 0..<ClusterSlot.count where index.count(inSlot: s) > 0 && !serves(s) { return true }
        return false
    }

    /// True when any database other than 0 holds keys (cluster mode refuses to start then).
    public var hasKeysOutsideDb0: Bool { databases.dropFirst().contains { $0.count > 0 } }
}
