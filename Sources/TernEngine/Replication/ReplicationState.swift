#if canImport(Glibc)
import Glibc
#endif
import CTern
import TernConfig
import TernProtocol
import TernStore

// Replication (Redis 7.0's replication.c; ../shared/specs/replication-and-sentinel.md).
//
// State shared by both sides lives in `ReplicationState` (engine.repl): the PSYNC2 history
// (replid, replid2, second_repl_offset, master_repl_offset), the backlog, the replicas
// attached to us (master side, MasterSide.swift) and the link to our master (replica side,
// ReplicaSide.swift).
//
// The stream: on a top-level master every propagated op (Core/Propagation.swift) reaches
// `ReplicationFeed`, which encodes it with its own selected db (Redis's slaveseldb), appends
// it to the backlog and to every attached replica (`feedStream`). On a replica the stream is
// relayed, not re-encoded: the bytes applied from the master go to the backlog and the
// sub-replicas as they are (`feedStream` from the master client), so offsets agree along a
// chain.

/// One replica attached to us (Redis keeps this in the replica's client).
public final class ReplicaPeer {
    public enum State: String {
        /// Waiting for a snapshot to start (INFO `wait_bgsave`).
        case waitBgsaveStart = "wait_bgsave"
        /// +FULLRESYNC sent; waiting for the snapshot to finish (INFO `wait_bgsave`).
        case waitBgsaveEnd = "wait_bgsave_end"
        /// The RDB is being sent (INFO `send_bulk`).
        case sendBulk = "send_bulk"
        case online = "online"

        var infoName: String { self == .waitBgsaveEnd ? "wait_bgsave" : rawValue }
    }
    public var state: State = .waitBgsaveStart
    /// REPLCONF listening-port / ip-address / capa / rdb-only.
    public var listeningPort = 0
    public var announcedIP = ""
    public var capaEOF = false
    public var capaPsync2 = false
    public var rdbOnly = false
    /// REPLCONF rdb-filter-only: an RDB without keys (redis-cli --replica, --functions-rdb).
    public var excludeData = false
    /// Attached with SYNC (no PSYNC): no +FULLRESYNC, no ACKs expected.
    public var preSync = false
    public var ackOffset: Int64 = 0
    public var ackTimeMs: Int64 = 0
    /// The stream offset the replica's RDB stands for (+FULLRESYNC's offset).
    public var initialOffset: Int64 = 0
    /// Stream bytes produced while the replica waits for its RDB, sent after it.
    public var pendingStream: [UInt8] = []
    /// Online after a diskless transfer: the stream starts with its next ACK.
    public var streamOnAck = false
    public init() {}
}

public final class ReplicationState {
    public static let noReplID = String(repeating: "0", count: 40)

    public var replid: String
    public var replid2 = ReplicationState.noReplID
    public var secondReplOffset: Int64 = -1
    public var masterReplOffset: Int64 = 0
    public var backlog: ReplicationBacklog?
    /// The db the stream last selected (Redis's slaveseldb); -1 forces a SELECT.
    var encoder = PropagationStreamEncoder()
    /// Clients attached as replicas, in arrival order.
    public var replicas: [Client] = []
    /// When the last replica left (for repl-backlog-ttl); 0 while some are attached.
    var noReplicasSinceMs: Int64 = 0
    /// WAIT callers blocked until enough replicas acknowledge their offset.
    var waiters: [(client: Client, offset: Int64, count: Int)] = []
    /// A GETACK broadcast is due before the loop sleeps (WAIT asked for one).
    var getackPending = false
    /// min-replicas-to-write: replicas whose last ACK is recent enough (recomputed by the cron).
    public var goodReplicas = 0
    /// Registered in engine.propagationTargets while a backlog exists.
    var feed: ReplicationFeed?
    /// FAILOVER (Failover.swift): its state, deadline (0: none), FORCE, and target.
    public var failoverState = FailoverState.none
    var failoverEndMs: Int64 = 0
    var failoverForce = false
    var failoverTargetHost: String?
    var failoverTargetPort = 0

    // MARK: replica side (ReplicaSide.swift)

    public enum LinkState: String {
        case none, connect, connecting, handshake, sync = "sync", connected
    }
    /// The master we replicate from (REPLICAOF / replicaof), nil on a master.
    public var masterHost: String?
    public var masterPort = 0
    public var linkState: LinkState = .none
    /// The link, the cached master and the connector (ReplicaSide.swift).
    public let replica = ReplicaSideState()

    init() {
        replid = ReplicationState.randomID()
    }

    public var isReplica: Bool { masterHost != nil }

    public static func randomID() -> String {
        var bytes = [UInt8](repeating: 0, count: 20)
        bytes.withUnsafeMutableBytes { tern_random_bytes($0.baseAddress, 20) }
        return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// PSYNC2 "change + clear2": a new history (first replica on a backlog-less master,
    /// backlog freed by its TTL).
    public func changeReplID() {
        replid = ReplicationState.randomID()
    }

    public func clearReplID2() {
        replid2 = ReplicationState.noReplID
        secondReplOffset = -1
    }

    /// PSYNC2 "shift": a replica becomes a master; the old history stays valid up to here.
    public func shiftReplID() {
        replid2 = replid
        secondReplOffset = masterReplOffset + 1
        changeReplID()
    }
}

/// The replication stream as a propagation target (top-level masters only).
final class ReplicationFeed: PropagationTarget {
    unowned let engine: Engine
    let scratch = StreamBuffer()
    init(engine: Engine) { self.engine = engine }

    func propagate(db: Int, args: Args) {
        let r = engine.repl
        // A replica relays its master's bytes instead (ReplicaSide).
        guard !r.isReplica, r.backlog != nil else { return }
        scratch.removeAll()
        r.encoder.append(db: db, args: args, to: scratch)
        engine.feedStream(scratch.bytes)
    }

    /// The op already encoded once for every target: only our SELECT is added.
    func propagate(db: Int, args: Args, encoded: UnsafeRawBufferPointer) {
        let r = engine.repl
        guard !r.isReplica, r.backlog != nil else { return }
        scratch.removeAll()
        r.encoder.append(db: db, encoded: encoded, to: scratch)
        engine.feedStream(scratch.bytes)
    }
}

extension Engine {
    /// Appends stream bytes to the backlog and to every attached replica (Redis's
    /// feedReplicationBuffer): online replicas get them now, replicas waiting for their RDB
    /// after it, replicas whose snapshot has not started yet never (it will include them).
    public func feedStream(_ bytes: UnsafeRawBufferPointer) {
        let r = repl
        guard let backlog = r.backlog, bytes.count > 0 else { return }
        backlog.append(bytes)
        r.masterReplOffset += Int64(bytes.count)
        for c in r.replicas {
            guard let p = c.replicaPeer else { continue }
            switch p.state {
            case .online:
                if p.streamOnAck { holdForReplica(c, p, bytes); continue }
                c.out.append(bytes)
                flushSoon(c)
                replicaStreamUnflushed = true
            case .waitBgsaveEnd, .sendBulk:
                holdForReplica(c, p, bytes)
            case .waitBgsaveStart:
                break
            }
        }
    }

    /// Redis's order within a loop iteration: replicas are written before the replies of the
    /// commands that fed them (they join the head of clients_pending_write), so a client
    /// never holds an acknowledgement whose write has not reached its replicas' sockets,
    /// and a master killed right after replying does not take the write with it. Replies
    /// of a read batch wait in flushSoon's list behind the replicas (channelReadComplete);
    /// any other reply flush writes the replicas first here.
    @inline(__always) public func flushReplicaStreamBeforeReplies() {
        if replicaStreamUnflushed { flushReplicaStreams() }
    }

    private func flushReplicaStreams() {
        replicaStreamUnflushed = false
        for c in repl.replicas where !c.out.isEmpty && c.replicaPeer?.state == .online {
            c.flush()
        }
    }

    /// Stream bytes a replica gets after its RDB; they count toward its output limit (Redis's
    /// shared replication buffer counts for every replica still referencing it).
    private func holdForReplica(_ c: Client, _ p: ReplicaPeer, _ bytes: UnsafeRawBufferPointer) {
        p.pendingStream.append(contentsOf: bytes)
        if p.pendingStream.count &+ c.out.count >= outputLimitFloor {
            closeClientOnOutputBufferLimitReached(c, async: true)
        }
    }

    /// Creates the backlog (first replica, or a replica that needs one to relay) and starts
    /// feeding it.
    func createBacklog() {
        guard repl.backlog == nil else { return }
        repl.backlog = ReplicationBacklog(size: config.replBacklogSize, startOffset: repl.masterReplOffset + 1)
        if repl.feed == nil {
            let f = ReplicationFeed(engine: self)
            repl.feed = f
            propagationTargets.append(f)
        }
    }

    func freeBacklog() {
        repl.backlog = nil
        if let f = repl.feed {
            propagationTargets.removeAll { $0 === f }
            repl.feed = nil
        }
    }

    /// The backlog plus what waits for replicas (INFO mem_total_replication_buffers).
    var replicationBufferBytes: Int {
        var n = repl.backlog?.size ?? 0
        for c in repl.replicas {
            n += (c.replicaPeer?.pendingStream.count ?? 0) + c.out.count + c.pendingOutputBytes
        }
        return n
    }

    /// "ip:port" of a replica as Redis's logs name it (replicationGetSlaveName).
    func replicaName(_ c: Client) -> String {
        let ip = replicaIP(c)
        if let p = c.replicaPeer, p.listeningPort != 0 { return "\(ip):\(p.listeningPort)" }
        return "\(ip):<unknown-replica-port>"
    }

    /// The address a replica is known by: REPLCONF ip-address, else its peer address.
    func replicaIP(_ c: Client) -> String {
        if let p = c.replicaPeer, !p.announcedIP.isEmpty { return p.announcedIP }
        let addr = c.remoteAddress
        if let colon = addr.lastIndex(of: ":") { return String(addr[..<colon]) }
        return addr
    }
}
