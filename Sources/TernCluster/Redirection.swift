import TernConfig
import TernEngine
import TernProtocol
import TernStore

// Which node serves a command (Redis 7.0's getNodeByQuery and clusterRedirectClient;
// ../shared/specs/cluster.md §5.1-5.3). Called from dispatch for commands with keys and
// for EXEC (all queued commands together); nil means "run it here".

extension Cluster {
    enum RoutingOutcome {
        case local
        case crossSlot, unstable, downState, downReadOnlyState, downUnbound
        case moved(Int, ClusterNode)
        case ask(Int, ClusterNode)
    }

    public func redirection(_ c: Client, _ cmd: Command, _ args: Args) -> String? {
        switch route(c, cmd, args) {
        case .local: return nil
        case .crossSlot: return "CROSSSLOT Keys in request don't hash to the same slot"
        case .unstable: return "TRYAGAIN Multiple keys request during rehashing of slot"
        case .downState: return "CLUSTERDOWN The cluster is down"
        case .downReadOnlyState: return "CLUSTERDOWN The cluster is down and only accepts read commands"
        case .downUnbound: return "CLUSTERDOWN Hash slot not served"
        case .moved(let slot, let n): return "MOVED \(slot) \(preferredEndpoint(n)):\(n.port)"
        case .ask(let slot, let n): return "ASK \(slot) \(preferredEndpoint(n)):\(n.port)"
        }
    }

    static let shardPubSub: Set<String> = ["ssubscribe", "sunsubscribe", "spublish"]

    func route(_ c: Client, _ cmd: Command, _ args: Args) -> RoutingOutcome {
        let isExec = cmd.name == "exec"
        // EXEC outside MULTI only answers an error: nothing to route.
        if isExec && !c.flags.contains(.multi) { return .local }
        let isShard = Cluster.shardPubSub.contains(cmd.name)
        let slot: Int
        let multipleKeys: Bool
        switch engine.keyRoute(c, cmd, args) {
        case .noKeys:
            return .local
        case .crossSlot:
            // Redis stops at the first key when its slot has no owner, before it sees a key
            // of another slot.
            var firstSlot = -1
            engine.forEachRoutingKey(c, cmd, args) { key in if firstSlot < 0 { firstSlot = ClusterSlot.of(key) } }
            return firstSlot >= 0 && slotOwner[firstSlot] == nil ? .downUnbound : .crossSlot
        case .slot(let s, let multiple):
            slot = s
            multipleKeys = multiple
        }
        guard let n = slotOwner[slot] else { return .downUnbound }
        let migrating = n === myself && migratingTo[slot] != nil
        let importing = !migrating && importingFrom[slot] != nil
        // While a slot moves, the keys present here decide between serving, ASK and
        // TRYAGAIN; a logically expired key counts as missing (nothing is deleted).
        var missing = 0, existing = 0
        if (migrating || importing) && !isShard, let db = engine.database(0) {
            engine.forEachRoutingKey(c, cmd, args) { key in
                if let e = db.find(key), !engine.isExpired(e) { existing += 1 } else { missing += 1 }
            }
        }
        if !stateOK {
            if isShard {
                if !config.clusterAllowPubsubshardWhenDown { return .downState }
            } else if !config.clusterAllowReadsWhenDown {
                return .downState
            } else if cmd.flags.contains(.write) {
                return .downReadOnlyState
            }
        }
        if (migrating || importing) && cmd.name == "migrate" { return .local }
        if migrating && missing > 0 {
            if existing > 0 { return .unstable }
            if let target = migratingTo[slot] { return .ask(slot, target) }
        }
        if importing && (c.flags.contains(.asking) || cmd.flags.contains(.asking)) {
            return multipleKeys && missing > 0 ? .unstable : .local
        }
        let isWrite = cmd.flags.contains(.write) || (isExec && engine.transactions.queuedFlags(c).contains(.write))
        if (c.flags.contains(.readonly) || isShard) && !isWrite && myself.isSlave && myself.master === n {
            return .local
        }
        return n === myself ? .local : .moved(slot, n)
    }
}
