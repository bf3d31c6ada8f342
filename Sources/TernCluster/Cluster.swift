import TernConfig
import TernEngine
import TernStore
#if canImport(Glibc)
import Glibc
#endif

/// This node's view of the cluster (cluster.h's clusterState) and the operations on it.
/// Lives on the engine loop.
public final class Cluster: ClusterService {
    let engine: Engine
    let config: ServerConfig

    var myself: ClusterNode
    /// Every known node by id, and the same nodes in the order they were added (Redis prints
    /// its dict order; Tern prints this one).
    var nodesByName: [String: ClusterNode] = [:]
    var nodes: [ClusterNode] = []
    var currentEpoch: UInt64 = 0
    var lastVoteEpoch: UInt64 = 0
    var stateOK = false
    /// Masters serving at least one slot (recomputed by updateState; 1 until then, as Redis).
    var size = 1
    var slotOwner = [ClusterNode?](repeating: nil, count: ClusterSlot.count)
    var migratingTo = [ClusterNode?](repeating: nil, count: ClusterSlot.count)
    var importingFrom = [ClusterNode?](repeating: nil, count: ClusterSlot.count)
    /// Slots whose owner stopped claiming them in its pings (any claimant may take them).
    var ownerNotClaiming = SlotBitmap()
    /// Per message type (0...10) counters for CLUSTER INFO.
    var messagesSent = [Int](repeating: 0, count: ClusterMessageType.count)
    var messagesReceived = [Int](repeating: 0, count: ClusterMessageType.count)
    var linksBufferLimitExceeded = 0
    /// FORGET's blacklist: id -> expiry (unix seconds).
    var blacklist: [String: Int64] = [:]

    /// Work left for the end of the current event-loop pass (Redis's todo_before_sleep).
    struct Todo: OptionSet {
        let rawValue: Int
        static let saveConfig = Todo(rawValue: 1)
        static let fsyncConfig = Todo(rawValue: 2)
        static let updateState = Todo(rawValue: 4)
    }
    var todo: Todo = []
    var todoScheduled = false

    /// updateState's timers: the first evaluation, and when we last were in the minority.
    var firstStateCallMs: Int64 = 0
    var amongMinorityTimeMs: Int64 = 0

    /// Opens outbound bus connections (set by the server layer before the cron runs).
    public var busConnector: ClusterBusConnector?
    var cronIteration = 0
    /// This replica's current election (Failover.swift).
    var election = ElectionState()
    var cantFailover = CantFailoverLog()
    var manualFailover = ManualFailoverState()

    /// The locked nodes.conf descriptor, held for the process lifetime.
    var lockFD: Int32 = -1
    /// Path of nodes.conf, resolved against `dir` at startup (the process chdirs there).
    var configPath: String

    public init(engine: Engine) {
        self.engine = engine
        config = engine.config
        configPath = engine.config.clusterConfigFile
        myself = ClusterNode(name: randomNodeID(), flags: [.myself, .master], now: Engine.wallClockMs())
    }

    var now: Int64 { Engine.wallClockMs() }
    var nodeTimeout: Int64 { Int64(config.clusterNodeTimeout) }

    // MARK: startup

    /// Redis's clusterInit: port checks, lock, load or create nodes.conf. Returns the log
    /// line explaining a fatal error (the server then exits), nil on success.
    public func start() -> String? {
        let port = config.port
        if config.clusterPort == 0 && port > 65535 - 10000 {
            return "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less."
        }
        if config.bind.isEmpty {
            return "No bind address is configured, but it is required for the Cluster bus."
        }
        if let err = lockConfig() { return err }
        switch loadConfig() {
        case .loaded:
            break
        case .absent:
            myself = ClusterNode(name: randomNodeID(), flags: [.myself, .master], now: now)
            engine.log(.notice, "No cluster configuration found, I'm \(myself.name)")
            addNode(myself)
            // Redis saves the new identity before it knows its own ports (`:0@0`).
            if let err = saveConfig(fsync: true) { return "Fatal: can't update cluster config file: \(err)" }
        case .failed(let msg):
            return msg
        }
        updateMyselfAnnouncedPorts()
        // db 0's keys get their per-slot index (COUNTKEYSINSLOT, SETSLOT's checks, MIGRATE).
        engine.setClusterEnabled(true)
        engine.cluster = self
        installCommands()
        return nil
    }

    /// Ports and hostname this node announces (cluster-announce-*, else its own).
    func updateMyselfAnnouncedPorts() {
        myself.port = config.clusterAnnouncePort != 0 ? config.clusterAnnouncePort : config.port
        myself.pport = 0
        myself.cport = config.clusterAnnounceBusPort != 0 ? config.clusterAnnounceBusPort
            : (config.clusterPort != 0 ? config.clusterPort : config.port + 10000)
        myself.hostname = config.clusterAnnounceHostname
        if !config.clusterAnnounceIp.isEmpty { myself.ip = config.clusterAnnounceIp }
    }

    // MARK: nodes

    func addNode(_ n: ClusterNode) {
        if nodesByName[n.name] == nil { nodes.append(n) }
        nodesByName[n.name] = n
    }

    /// Looks a node up by the id a client or a peer gave (invalid ids are unknown).
    func lookup(_ id: [UInt8]) -> ClusterNode? {
        guard isValidNodeID(id) else { return nil }
        return nodesByName[String(decoding: id, as: UTF8.self)]
    }

    /// Redis's clusterDelNode: its slots become unassigned, its reports vanish, it is freed.
    func deleteNode(_ n: ClusterNode) {
        for j in 0..<ClusterSlot.count {
            if importingFrom[j] === n { importingFrom[j] = nil }
            if migratingTo[j] === n { migratingTo[j] = nil }
            if slotOwner[j] === n { _ = deleteSlot(j) }
        }
        for other in nodes where other !== n { other.failReports.removeAll { $0.reporter === n } }
        freeNode(n)
    }

    /// Unlinks a node from its master and replicas and drops it from the tables.
    func freeNode(_ n: ClusterNode) {
        if n.isSlave, let m = n.master { m.removeReplica(n) }
        for r in n.replicas where r.master === n { r.master = nil }
        n.replicas = []
        n.master = nil
        n.link?.close()
        n.inboundLink?.close()
        n.link = nil
        n.inboundLink = nil
        nodesByName[n.name] = nil
        nodes.removeAll { $0 === n }
    }

    func renameNode(_ n: ClusterNode, to name: String) {
        nodesByName[n.name] = nil
        n.name = name
        nodesByName[name] = n
    }

    /// FORGET's 60 s blacklist (entries expire lazily).
    func blacklistAdd(_ n: ClusterNode) {
        blacklistCleanup()
        blacklist[n.name] = now / 1000 + 60
    }

    func blacklistContains(_ id: String) -> Bool {
        blacklistCleanup()
        return blacklist[id] != nil
    }

    func blacklistCleanup() {
        let t = now / 1000
        blacklist = blacklist.filter { $0.value >= t }
    }

    /// Some master has replicas (a master gaining its first slot then gets MIGRATE_TO).
    var mastersHaveReplicas: Bool { nodes.contains { $0.isMaster && !$0.replicas.isEmpty } }

    // MARK: slots

    func nodeAddSlotBit(_ n: ClusterNode, _ slot: Int) {
        if n.slots[slot] { return }
        n.slots[slot] = true
        n.numSlots += 1
        if n.numSlots == 1 && mastersHaveReplicas { n.flags.insert(.migrateTo) }
    }

    @discardableResult
    func nodeClearSlotBit(_ n: ClusterNode, _ slot: Int) -> Bool {
        guard n.slots[slot] else { return false }
        n.slots[slot] = false
        n.numSlots -= 1
        return true
    }

    /// Binds an unassigned slot to `n` (false if it has an owner).
    @discardableResult
    func addSlot(_ n: ClusterNode, _ slot: Int) -> Bool {
        guard slotOwner[slot] == nil else { return false }
        nodeAddSlotBit(n, slot)
        slotOwner[slot] = n
        return true
    }

    /// Unassigns a slot (false if it had no owner).
    @discardableResult
    func deleteSlot(_ slot: Int) -> Bool {
        guard let n = slotOwner[slot] else { return false }
        // The shard (master and replicas) that served it drops its shard-channel subscribers.
        if n === myself || myself.master === n { engine.pubsub.unsubscribeShardChannels(inSlot: slot) }
        nodeClearSlotBit(n, slot)
        slotOwner[slot] = nil
        ownerNotClaiming[slot] = false
        return true
    }

    func deleteNodeSlots(_ n: ClusterNode) {
        for j in 0..<ClusterSlot.count where n.slots[j] { _ = deleteSlot(j) }
    }

    func closeAllSlots() {
        for j in 0..<ClusterSlot.count {
            migratingTo[j] = nil
            importingFrom[j] = nil
        }
    }

    // MARK: epochs

    var maxEpoch: UInt64 { nodes.reduce(currentEpoch) { max($0, $1.configEpoch) } }

    /// Redis's clusterBumpConfigEpochWithoutConsensus: true when the epoch moved.
    func bumpConfigEpochWithoutConsensus() -> Bool {
        let maxE = maxEpoch
        guard myself.configEpoch == 0 || myself.configEpoch != maxE else { return false }
        currentEpoch += 1
        myself.configEpoch = currentEpoch
        later([.saveConfig, .fsyncConfig])
        engine.log(.warning, "New configEpoch set to \(myself.configEpoch)")
        return true
    }

    // MARK: roles

    /// Redis's clusterSetMaster: become a replica of `n` through ordinary replication.
    func setMaster(_ n: ClusterNode) {
        if myself.isMaster {
            myself.flags.remove([.master, .migrateTo])
            myself.flags.insert(.slave)
            closeAllSlots()
        } else if let old = myself.master {
            old.removeReplica(myself)
        }
        myself.master = n
        n.addReplica(myself)
        engine.setMaster(host: n.ip, port: n.port)
        resetManualFailover()
    }

    /// Redis's clusterSetNodeAsMaster.
    func setNodeAsMaster(_ n: ClusterNode) {
        if n.isMaster { return }
        if let m = n.master {
            m.removeReplica(n)
            if n !== myself { n.flags.insert(.migrateTo) }
        }
        n.flags.remove(.slave)
        n.flags.insert(.master)
        n.master = nil
        later([.saveConfig, .updateState])
    }

    /// CLUSTER RESET (Redis's clusterReset).
    func reset(hard: Bool) {
        if myself.isSlave {
            setNodeAsMaster(myself)
            engine.unsetMaster()
            _ = engine.emptyData(nil, async: false)
        }
        closeAllSlots()
        resetManualFailover()
        for j in 0..<ClusterSlot.count { _ = deleteSlot(j) }
        for n in nodes where n !== myself { deleteNode(n) }
        if hard {
            currentEpoch = 0
            lastVoteEpoch = 0
            myself.configEpoch = 0
            engine.log(.warning, "configEpoch set to 0 via CLUSTER RESET HARD")
            renameNode(myself, to: randomNodeID())
            engine.log(.notice, "Node hard reset, now I'm \(myself.name)")
        }
        later([.saveConfig, .updateState, .fsyncConfig])
    }

    // MARK: state

    /// Redis's clusterUpdateState: ok unless a slot is uncovered (full coverage required) or
    /// the reachable masters are a minority; timers keep a master from flapping.
    func updateState() {
        todo.remove(.updateState)
        let t = now
        if firstStateCallMs == 0 { firstStateCallMs = t }
        if myself.isMaster && !stateOK && t - firstStateCallMs < 2000 { return }
        var ok = true
        if config.clusterRequireFullCoverage {
            // Every slot owned, by a node not failed: the owners are collected from the raw
            // table (no retain per slot; this runs after every SETSLOT and ten times a second).
            var owners = Set<UInt>()
            let covered = slotOwner.withUnsafeBytes { raw -> Bool in
                var last: UInt = 0
                for w in raw.bindMemory(to: UInt.self) where w != last {
                    if w == 0 { return false }
                    owners.insert(w)
                    last = w
                }
                return true
            }
            if !covered || nodes.contains(where: { owners.contains(slotTableWord($0)) && $0.failed }) { ok = false }
        }
        var reachable = 0
        size = 0
        for n in nodes where n.isMaster && n.numSlots > 0 {
            size += 1
            if !n.flags.contains(.fail) && !n.flags.contains(.pfail) { reachable += 1 }
        }
        if reachable < size / 2 + 1 {
            ok = false
            amongMinorityTimeMs = t
        }
        guard ok != stateOK else { return }
        let rejoinDelay = min(max(nodeTimeout, 500), 5000)
        if ok && myself.isMaster && t - amongMinorityTimeMs < rejoinDelay { return }
        engine.log(.warning, "Cluster state changed: \(ok ? "ok" : "fail")")
        stateOK = ok
    }

    // MARK: periodic work

    /// Ten times a second (Redis's clusterCron; ClusterBus.swift).
    public func cron() { busCron() }

    /// Asks for work at the end of the current event-loop pass (Redis's
    /// clusterDoBeforeSleep): several changes in one pass save nodes.conf once.
    func later(_ what: Todo) {
        todo.formUnion(what)
        guard !todoScheduled else { return }
        todoScheduled = true
        if let run = engine.deferredExecutor {
            run { [weak self] in self?.beforeSleep() }
        } else {
            beforeSleep()
        }
    }

    /// Redis's clusterBeforeSleep: state update, then the config save. An automatic save
    /// that fails stops the server, as Redis.
    func beforeSleep() {
        todoScheduled = false
        if todo.contains(.updateState) { updateState() }
        if todo.contains(.saveConfig) {
            let sync = todo.contains(.fsyncConfig)
            todo.remove([.saveConfig, .fsyncConfig])
            if let err = saveConfig(fsync: sync) {
                engine.log(.warning, "Fatal: can't update cluster config file: \(err)")
                exit(1)
            }
        }
    }
}

/// Bus message types, in wire order (cluster.h's CLUSTERMSG_TYPE_*), with the names
/// CLUSTER INFO prints.
enum ClusterMessageType: Int, CaseIterable {
    case ping = 0, pong, meet, fail, publish, failoverAuthRequest, failoverAuthAck, update, mfstart, module, publishShard
    static let count = 11
    var statName: String {
        ["ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack", "update", "mfstart", "module", "publishshard"][rawValue]
    }
}
