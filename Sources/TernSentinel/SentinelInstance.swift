import TernEngine

// Sentinel's view of one monitored server or peer sentinel (Redis 7.0's sentinelRedisInstance;
// ../shared/specs/replication-and-sentinel.md §8). Everything runs on the engine loop.

/// Instance flags, in the order SENTINEL MASTERS prints them.
struct InstanceFlags: OptionSet {
    let rawValue: UInt32
    static let sDown = InstanceFlags(rawValue: 1 << 0)
    static let oDown = InstanceFlags(rawValue: 1 << 1)
    static let master = InstanceFlags(rawValue: 1 << 2)
    static let replica = InstanceFlags(rawValue: 1 << 3)
    static let sentinel = InstanceFlags(rawValue: 1 << 4)
    static let disconnected = InstanceFlags(rawValue: 1 << 5)
    static let masterDown = InstanceFlags(rawValue: 1 << 6)
    static let failoverInProgress = InstanceFlags(rawValue: 1 << 7)
    static let promoted = InstanceFlags(rawValue: 1 << 8)
    static let reconfSent = InstanceFlags(rawValue: 1 << 9)
    static let reconfInProgress = InstanceFlags(rawValue: 1 << 10)
    static let reconfDone = InstanceFlags(rawValue: 1 << 11)
    static let forceFailover = InstanceFlags(rawValue: 1 << 12)
    static let scriptKillSent = InstanceFlags(rawValue: 1 << 13)
    static let masterReboot = InstanceFlags(rawValue: 1 << 14)

    static let names: [(InstanceFlags, String)] = [
        (.sDown, "s_down"), (.oDown, "o_down"), (.master, "master"), (.replica, "slave"),
        (.sentinel, "sentinel"), (.disconnected, "disconnected"), (.masterDown, "master_down"),
        (.failoverInProgress, "failover_in_progress"), (.promoted, "promoted"),
        (.reconfSent, "reconf_sent"), (.reconfInProgress, "reconf_inprog"), (.reconfDone, "reconf_done"),
        (.forceFailover, "force_failover"), (.scriptKillSent, "script_kill_sent"),
    ]
}

enum FailoverState: Int, Comparable {
    case none = 0, waitStart, selectSlave, sendSlaveofNoOne, waitPromotion, reconfSlaves, updateConfig
    static func < (a: FailoverState, b: FailoverState) -> Bool { a.rawValue < b.rawValue }
    var name: String {
        switch self {
        case .none: return "none"
        case .waitStart: return "wait_start"
        case .selectSlave: return "select_slave"
        case .sendSlaveofNoOne: return "send_slaveof_noone"
        case .waitPromotion: return "wait_promotion"
        case .reconfSlaves: return "reconf_slaves"
        case .updateConfig: return "update_config"
        }
    }
}

/// An address as the sentinel stores it: the host as configured or announced, and its IP
/// (the same unless resolve-hostnames is on). Connections use the IP; what is shown and
/// announced is the IP, or the hostname with announce-hostnames (`Sentinel.shown`).
struct InstanceAddress: Equatable {
    var hostname: String
    var ip: String
    var port: Int
}

/// The connections to one instance: cmd (commands, PING, INFO) and, for masters and
/// replicas, pubsub (the hello channel). Timestamps in ms as Redis's instanceLink. A
/// sentinel watched under several masters has one link shared by its instances.
final class InstanceLink {
    /// Instances using this link (SENTINEL SENTINELS `link-refcount`).
    var refcount = 1
    var cmd: SentinelConnection?
    var pubsub: SentinelConnection?
    var disconnected = true
    var pendingCommands = 0
    var cmdConnectedAt: Int64 = 0
    var pubsubConnectedAt: Int64 = 0
    var pubsubLastActivity: Int64 = 0
    /// When the oldest ping still waiting for a reply was sent; 0 once answered.
    var pendingPingSince: Int64
    var lastPingSent: Int64 = 0
    var lastAvailable: Int64
    var lastPong: Int64
    var lastReconnect: Int64 = 0

    init(now: Int64) {
        pendingPingSince = now
        lastAvailable = now
        lastPong = now
    }

    func closeAll() {
        cmd?.close()
        pubsub?.close()
        cmd = nil
        pubsub = nil
        disconnected = true
    }
}

final class SentinelInstance {
    var flags: InstanceFlags
    /// Master name, "ip:port" for a replica, run id for a sentinel.
    var name: String
    var address: InstanceAddress
    var runID: String?
    var configEpoch: UInt64 = 0
    /// The master a replica or sentinel belongs to.
    weak var master: SentinelInstance?
    var link: InstanceLink

    var lastPublishTime: Int64
    var lastHelloTime: Int64
    var lastMasterDownReplyTime: Int64
    var sDownSince: Int64 = 0
    var oDownSince: Int64 = 0
    var downAfterMs: Int64
    var infoRefresh: Int64 = 0
    var info: String?
    var roleReported: InstanceFlags
    var roleReportedTime: Int64
    var replicaConfigChangeTime: Int64 = 0
    var masterRebootDownAfterMs: Int64 = 0
    var masterRebootSince: Int64 = 0

    // Master only.
    var sentinels: [SentinelInstance] = []
    var replicas: [SentinelInstance] = []
    var quorum: Int
    var parallelSyncs = 1
    var authPass: String?
    var authUser: String?
    var notificationScript: String?
    var clientReconfigScript: String?
    /// rename-command: original name (as configured; matched ignoring case) -> name to send.
    var renamedCommands: [(String, String)] = []

    // Replica only (from its INFO).
    var masterLinkDownTime: Int64 = 0
    var replicaMasterHost: String?
    var replicaMasterPort = 0
    var replicaMasterLinkUp = false
    var replicaPriority = 100
    var replicaAnnounced = true
    var replicaReplOffset: Int64 = 0

    // Election (sentinels: their vote; masters: ours).
    var leader: String?
    var leaderEpoch: UInt64 = 0

    // Failover (masters).
    var failoverEpoch: UInt64 = 0
    var failoverState = FailoverState.none
    var failoverStateChangeTime: Int64 = 0
    var failoverStartTime: Int64 = 0
    var failoverTimeout: Int64
    var failoverDelayLogged: Int64 = 0
    weak var promotedReplica: SentinelInstance?
    var replicaReconfSentTime: Int64 = 0

    init(kind: InstanceFlags, name: String, address: InstanceAddress, quorum: Int, master: SentinelInstance?,
         now: Int64, downAfterMs: Int64, failoverTimeout: Int64) {
        flags = kind
        self.name = name
        self.address = address
        self.quorum = quorum
        self.master = master
        link = InstanceLink(now: now)
        // Hellos go out at once; the first master-down reply is "long ago".
        lastPublishTime = 0
        lastHelloTime = now
        lastMasterDownReplyTime = now
        roleReported = kind.contains(.sentinel) ? .sentinel : kind
        roleReportedTime = now
        self.downAfterMs = master?.downAfterMs ?? downAfterMs
        self.failoverTimeout = failoverTimeout
        if let m = master {
            authPass = nil
            masterRebootDownAfterMs = m.masterRebootDownAfterMs
        }
    }

    var isMaster: Bool { flags.contains(.master) }
    var isReplica: Bool { flags.contains(.replica) }
    var isSentinel: Bool { flags.contains(.sentinel) }
    var typeName: String { isMaster ? "master" : isReplica ? "slave" : "sentinel" }

    /// The address clients should use: the promoted replica's once the failover reached
    /// reconf-slaves (Redis's sentinelGetCurrentMasterAddress).
    var currentAddress: InstanceAddress {
        if flags.contains(.failoverInProgress), failoverState >= .reconfSlaves, let p = promotedReplica { return p.address }
        return address
    }

    /// The name a command is sent under (rename-command of this instance's master).
    func mapped(_ command: String) -> String {
        let owner = isMaster ? self : master
        let lower = command.lowercased()
        return owner?.renamedCommands.first { $0.0.lowercased() == lower }?.1 ?? command
    }

    /// Neither SDOWN nor ODOWN for at least `ms` (Redis's sentinelRedisInstanceNoDownFor).
    func noDownFor(_ ms: Int64, now: Int64) -> Bool {
        let recent = max(sDownSince, oDownSince)
        return recent == 0 || now - recent > ms
    }
}
