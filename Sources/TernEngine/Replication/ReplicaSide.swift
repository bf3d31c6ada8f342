#if canImport(Glibc)
import Glibc
#endif
import TernConfig
import TernPersistence
import TernProtocol
import TernStore

// The replica side of replication (Redis's replicaofCommand, connectWithMaster, syncWithMaster,
// readSyncBulkPayload, replicationCron's replica half; spec sections 1, 4 and 5).
//
// The link to our master is one outbound TCP connection on the engine's loop. The engine does
// not know NIO: the server layer sets `repl.replica.connector`, which opens the socket and
// reports to a `MasterLink` (connected / bytes received / closed). One `MasterLink` per
// connection attempt, so late events of an abandoned attempt are ignored.
//
// Phases of a link: connecting -> PING -> pipelined AUTH? / REPLCONF listening-port /
// ip-address? / capa -> PSYNC -> (+FULLRESYNC: the RDB to a temp file, renamed over
// dbfilename and loaded) or (+CONTINUE: the cached master resumes) -> streaming. While
// streaming, the bytes are commands for the master client (flag M), executed like any
// client's with replies dropped; the bytes of each complete command applied (at EXEC for a
// MULTI block) advance the applied offset and are relayed as they are to our own backlog and
// sub-replicas (`feedStream`), so offsets agree along a chain.

/// The transport of a link to our master (the server layer's socket).
public protocol MasterLinkTransport: AnyObject {
    func send(_ bytes: [UInt8])
    /// Closes the socket; `MasterLink.closed()` follows.
    func close()
    var localAddress: String { get }
    var remoteAddress: String { get }
    var fd: Int { get }
}

/// Opens outbound connections for the replica side; set by the server layer.
public protocol MasterLinkConnector: AnyObject {
    /// Connects to host:port; the outcome and every later event go to `link` on the engine loop.
    func connect(host: String, port: Int, timeoutMs: Int64, link: MasterLink)
}

/// The master we follow as remembered across a dropped link, for PSYNC (Redis's cached_master).
struct CachedMaster {
    var replid: String
    var offset: Int64
    var readOffset: Int64
    var db: Int
}

/// Replica-side state (engine.repl.replica).
public final class ReplicaSideState {
    public var connector: MasterLinkConnector?
    /// The connection being set up or streaming, nil in `connect` state or on a master.
    public var link: MasterLink?
    var cached: CachedMaster?
    /// When the link went down (unix ms), 0: never lost since it was last up (INFO -1).
    var downSinceMs: Int64 = 0
    public init() {}
}

public final class MasterLink {
    enum Phase {
        case connecting, pong, handshake, psync, transfer, loading, streaming, closed
    }
    unowned let engine: Engine
    var phase = Phase.connecting
    var transport: MasterLinkTransport?
    /// Unconsumed input (handshake lines, RDB, stream).
    var input: [UInt8] = []
    /// Replies still expected to the pipelined handshake, in order.
    var expected: [String] = []
    var lastIOMs: Int64
    /// +FULLRESYNC's id and offset (offset -1 after SYNC: unknown).
    var initialReplid = ""
    var initialOffset: Int64 = -1
    var preSync = false
    // The RDB transfer.
    var transferSize: Int64 = -1
    var transferRead: Int64 = 0
    var transferLastIOMs: Int64 = 0
    var eofMark: [UInt8]?
    var tail: [UInt8] = []
    var tempFD: Int32 = -1
    var tempPath = ""
    /// repl-diskless-load chose the socket for this transfer (decided when it starts).
    var disklessLoad = false
    /// The RDB being parsed from the socket, once the payload's first line arrived.
    var socketLoad: SocketLoad?
    // Streaming.
    var client: Client?
    /// The master client's connection (Client.connection is weak).
    var connection: MasterClientConnection?
    let parser = RequestParser()
    /// Applied offset (Redis's master->reploff) and bytes read (read_reploff).
    var reploff: Int64 = 0
    var readReploff: Int64 = 0
    /// In `input`: bytes before `parsePos` are parsed; before `appliedPos` applied and relayed.
    var parsePos = 0
    /// The master sent something that is not RESP: the link is dropped and not cached.
    var protocolError = false

    init(engine: Engine) {
        self.engine = engine
        lastIOMs = Engine.wallClockMs()
    }

    var isCurrent: Bool { engine.repl.replica.link === self }

    // MARK: events from the server layer

    public func connected(_ t: MasterLinkTransport) {
        guard isCurrent, phase == .connecting else { t.close(); return }
        transport = t
        lastIOMs = Engine.wallClockMs()
        engine.log(.notice, "Non blocking connect for SYNC fired the event.")
        phase = .pong
        engine.repl.linkState = .handshake
        t.send(MasterLink.command(["PING"]))
    }

    public func connectFailed(_ error: String) {
        guard isCurrent else { return }
        engine.log(.warning, "Error condition on socket for SYNC: \(error)")
        engine.cancelHandshake()
    }

    public func received(_ bytes: UnsafeRawBufferPointer) {
        guard isCurrent, phase != .closed else { return }
        let now = Engine.wallClockMs()
        lastIOMs = now
        engine.stats.netReplInputBytes += bytes.count
        input.append(contentsOf: bytes)
        engine.nowMs = now
        process()
    }

    public func closed() {
        guard isCurrent, phase != .closed else { return }
        let was = phase
        phase = .closed
        transport = nil
        if was == .streaming {
            engine.masterLinkLost(self)
        } else {
            if was == .transfer {
                // A socket load reports the cut from its loader instead.
                if socketLoad == nil { engine.log(.warning, "I/O error trying to sync with MASTER: connection lost") }
            } else if was != .connecting {
                engine.log(.warning, "Master closed the connection during the handshake")
            }
            engine.cancelHandshake()
        }
    }

    // MARK: input

    func process() {
        while isCurrent && phase != .closed {
            switch phase {
            case .pong, .handshake, .psync:
                guard let line = takeLine() else { return }
                engine.handshakeReply(self, line)
            case .transfer:
                if !engine.transferStep(self) { return }
            case .streaming:
                engine.applyStream(self)
                return
            case .connecting, .closed, .loading:
                return
            }
        }
    }

    /// One line of input without its CRLF, nil when incomplete.
    func takeLine() -> String? {
        guard let nl = input.firstIndex(of: 10) else { return nil }
        var end = nl
        if end > 0 && input[end - 1] == 13 { end -= 1 }
        let line = String(decoding: input[0..<end], as: UTF8.self)
        input.removeSubrange(0...nl)
        return line
    }

    func send(_ bytes: [UInt8]) {
        transport?.send(bytes)
    }

    func close() {
        transport?.close()
    }

    /// Index just past the first occurrence of `mark` in `window`, nil when absent.
    static func endOfMark(_ mark: [UInt8], in window: [UInt8]) -> Int? {
        guard window.count >= mark.count, let first = mark.first else { return nil }
        var i = 0
        let last = window.count - mark.count
        while i <= last {
            guard let j = window[i...last].firstIndex(of: first) else { return nil }
            if window[j..<(j + mark.count)].elementsEqual(mark) { return j + mark.count }
            i = j + 1
        }
        return nil
    }

    static func command(_ words: [String]) -> [UInt8] {
        var s = "*\(words.count)\r\n"
        for w in words { s += "$\(w.utf8.count)\r\n\(w)\r\n" }
        return Array(s.utf8)
    }
}

extension Engine {
    /// The db the master's stream is in, for repl-stream-db in our own RDBs.
    var replicaStreamDb: Int {
        if let c = repl.replica.link?.client { return c.dbIndex }
        return repl.replica.cached?.db ?? 0
    }

    /// The applied offset of the live master client (ROLE), nil without one.
    var replicaAppliedOffset: Int64? {
        guard let l = repl.replica.link, l.client != nil else { return nil }
        return l.reploff
    }

    /// REPLCONF GETACK from our master: answer with REPLCONF ACK <applied offset>.
    func masterAskedForAck(_ c: Client) {
        guard c.flags.contains(.master), let l = repl.replica.link, l.client === c else { return }
        sendAck(l)
    }

    func sendAck(_ l: MasterLink) {
        guard l.phase == .streaming, !l.preSync else { return }
        l.send(MasterLink.command(["REPLCONF", "ACK", "\(l.reploff)"]))
    }

    // MARK: REPLICAOF

    func registerReplicaCommands() {
        commands.register("replicaof", ReplicaCommands.replicaof)
        commands.register("slaveof", ReplicaCommands.replicaof)
    }

    /// Becomes a replica of host:port (Redis's replicationSetMaster).
    public func setMaster(host: String, port: Int) {
        let wasMaster = repl.masterHost == nil
        repl.masterHost = nil
        dropMasterLink(cache: true)
        disconnectAllBlockedClients()
        repl.masterHost = host
        repl.masterPort = port
        config.replicaofHost = host
        config.replicaofPort = port
        // Our replicas stay: they continue partially once we have a new history (the
        // +CONTINUE <newid> shift or the full sync disconnects them then), as Redis 7.0.
        cancelHandshake()
        if wasMaster {
            repl.replica.cached = nil
            log(.notice, "Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.")
            repl.replica.cached = CachedMaster(replid: repl.replid, offset: repl.masterReplOffset,
                                               readOffset: repl.masterReplOffset, db: 0)
            repl.replica.downSinceMs = 0
        }
        repl.linkState = .connect
        log(.notice, "Connecting to MASTER \(host):\(port)")
        connectToMaster()
    }

    /// Becomes a master again (REPLICAOF NO ONE; Redis's replicationUnsetMaster): the data
    /// stays, the history shifts so our own replicas can continue.
    public func unsetMaster() {
        guard repl.masterHost != nil else { return }
        repl.masterHost = nil
        config.replicaofHost = ""
        config.replicaofPort = 0
        dropMasterLink(cache: false)
        repl.replica.cached = nil
        cancelHandshake()
        repl.shiftReplID()
        log(.notice, "Setting secondary replication ID to \(repl.replid2), valid up to offset: \(repl.secondReplOffset). New replication ID is \(repl.replid)")
        disconnectReplicas()
        repl.linkState = .none
        repl.encoder.selectedDb = -1
        repl.noReplicasSinceMs = Engine.wallClockMs()
        repl.replica.downSinceMs = 0
    }

    /// Clients blocked on keys (and WAIT) get an error and are closed after it: what they wait
    /// for may never come on a replica (Redis's disconnectAllBlockedClients).
    func disconnectAllBlockedClients() {
        for b in Array(blocking.byClient.values) {
            let c = b.client
            c.error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")
            blocking.finish(b)
            repl.waiters.removeAll { $0.client === c }
            c.flags.insert(.closeAfterReply)
            c.flush()
        }
    }

    /// Drops our own replicas (they reconnect and resync, partially when they can).
    func disconnectReplicas() {
        for c in repl.replicas { dropReplica(c, nil) }
    }

    // MARK: connecting and the handshake

    /// Starts a connection to the master (Redis's connectWithMaster).
    func connectToMaster() {
        guard let host = repl.masterHost else { return }
        let link = MasterLink(engine: self)
        repl.replica.link = link
        repl.linkState = .connecting
        guard let connector = repl.replica.connector else {
            // No network layer (unit tests): stays in `connecting` until the cron's timeout.
            return
        }
        log(.notice, "MASTER <-> REPLICA sync started")
        connector.connect(host: host, port: repl.masterPort, timeoutMs: Int64(config.replTimeout) * 1000, link: link)
    }

    /// Abandons the link being set up (any phase before streaming) and its temp file; the
    /// cron retries from `connect` (Redis's cancelReplicationHandshake).
    func cancelHandshake() {
        guard let l = repl.replica.link, l.client == nil else { return }
        repl.replica.link = nil
        l.phase = .closed
        l.close()
        l.transport = nil
        abandonTransferFile(l)
        abandonSocketLoad(l)
        if repl.masterHost != nil { repl.linkState = .connect }
    }

    func abandonTransferFile(_ l: MasterLink) {
        if l.tempFD >= 0 {
            close(l.tempFD)
            l.tempFD = -1
            unlink(l.tempPath)
        }
    }

    /// The streaming master link is gone (Redis's freeClient of the master +
    /// replicationCacheMaster): keep what PSYNC needs, reconnect at once.
    func masterLinkLost(_ l: MasterLink) {
        guard repl.replica.link === l else { return }
        log(.warning, "Connection with master lost.")
        if l.protocolError, let c = l.client {
            // Desynchronized: nothing to continue from.
            l.client = nil
            freeMasterClient(c)
            repl.replica.downSinceMs = Engine.wallClockMs()
        } else {
            cacheMaster(l)
        }
        repl.replica.link = nil
        l.phase = .closed
        l.close()
        repl.linkState = .connect
        if let host = repl.masterHost {
            log(.notice, "Reconnecting to MASTER \(host):\(repl.masterPort)")
            connectToMaster()
        }
    }

    func cacheMaster(_ l: MasterLink) {
        guard let c = l.client else { return }
        log(.notice, "Caching the disconnected master state.")
        repl.replica.cached = CachedMaster(replid: repl.replid, offset: l.reploff, readOffset: l.reploff, db: c.dbIndex)
        repl.replica.downSinceMs = Engine.wallClockMs()
        l.client = nil
        freeMasterClient(c)
    }

    func freeMasterClient(_ c: Client) {
        c.connection = nil
        freeClient(c)
    }

    /// Drops the live master link (REPLICAOF to elsewhere, NO ONE), caching it when asked.
    func dropMasterLink(cache: Bool) {
        guard let l = repl.replica.link, l.phase == .streaming else { return }
        log(.warning, "Connection with master lost.")
        if cache {
            cacheMaster(l)
        } else if let c = l.client {
            l.client = nil
            freeMasterClient(c)
        }
        repl.replica.link = nil
        l.phase = .closed
        l.close()
    }

    /// One reply line of the handshake.
    func handshakeReply(_ l: MasterLink, _ line: String) {
        switch l.phase {
        case .pong:
            if !(line.hasPrefix("+") || line.hasPrefix("-NOAUTH") || line.hasPrefix("-NOPERM")
                 || line.hasPrefix("-ERR operation not permitted")) {
                log(.warning, "Error reply to PING from master: '\(line)'")
                cancelHandshake()
                return
            }
            log(.notice, "Master replied to PING, replication can continue...")
            var out: [UInt8] = []
            l.expected = []
            if !config.masterauth.isEmpty {
                out += MasterLink.command(config.masteruser.isEmpty ? ["AUTH", config.masterauth]
                                          : ["AUTH", config.masteruser, config.masterauth])
                l.expected.append("auth")
            }
            let port = config.replicaAnnouncePort != 0 ? config.replicaAnnouncePort : config.port
            out += MasterLink.command(["REPLCONF", "listening-port", "\(port)"])
            l.expected.append("port")
            if !config.replicaAnnounceIp.isEmpty {
                out += MasterLink.command(["REPLCONF", "ip-address", config.replicaAnnounceIp])
                l.expected.append("ip")
            }
            out += MasterLink.command(["REPLCONF", "capa", "eof", "capa", "psync2"])
            l.expected.append("capa")
            l.phase = .handshake
            l.send(out)
        case .handshake:
            guard !l.expected.isEmpty else { return }
            let step = l.expected.removeFirst()
            if line.hasPrefix("-") {
                switch step {
                case "auth":
                    log(.warning, "Unable to AUTH to MASTER: \(line)")
                    cancelHandshake()
                    return
                case "port": log(.notice, "(Non critical) Master does not understand REPLCONF listening-port: \(line)")
                case "ip": log(.notice, "(Non critical) Master does not understand REPLCONF ip-address: \(line)")
                default: log(.notice, "(Non critical) Master does not understand REPLCONF capa: \(line)")
                }
            }
            if l.expected.isEmpty { sendPsync(l) }
        case .psync:
            psyncReply(l, line)
        default:
            break
        }
    }

    func sendPsync(_ l: MasterLink) {
        l.phase = .psync
        if let cm = repl.replica.cached {
            log(.notice, "Trying a partial resynchronization (request \(cm.replid):\(cm.offset + 1)).")
            // The old master of a FAILOVER asks the target to take over (spec 7).
            let words = ["PSYNC", cm.replid, "\(cm.offset + 1)"] + (repl.failoverState == .inProgress ? ["FAILOVER"] : [])
            l.send(MasterLink.command(words))
        } else {
            log(.notice, "Partial resynchronization not possible (no cached master)")
            l.send(MasterLink.command(["PSYNC", "?", "-1"]))
        }
    }

    /// +FULLRESYNC / +CONTINUE / errors (spec 1.4).
    func psyncReply(_ l: MasterLink, _ line: String) {
        if line.isEmpty { return }  // keepalive newline while the master prepares
        // FAILOVER: the target took over (it answers as a master would) or refused.
        if repl.failoverState == .inProgress {
            if line.hasPrefix("+CONTINUE") || line.hasPrefix("+FULLRESYNC") {
                clearFailoverState()
            } else if line.hasPrefix("-") {
                abortFailover("Failover target rejected psync request")
                return
            }
        }
        if line.hasPrefix("+FULLRESYNC") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            if parts.count >= 3, parts[1].utf8.count == 40, let off = Int64(parts[2]) {
                l.initialReplid = String(parts[1])
                l.initialOffset = off
                log(.notice, "Full resync from master: \(l.initialReplid):\(off)")
            } else {
                log(.warning, "Master replied with wrong +FULLRESYNC syntax.")
                l.initialReplid = ""
                l.initialOffset = -1
            }
            startTransfer(l)
            return
        }
        if line.hasPrefix("+CONTINUE") {
            log(.notice, "Successful partial resynchronization with master.")
            let rest = line.dropFirst("+CONTINUE".count).trimmingCharacters(in: " ")
            if rest.utf8.count == 40, let cm = repl.replica.cached, rest != cm.replid {
                // The master's history moved on (it was promoted): ours shifts the same way.
                repl.replid2 = cm.replid
                repl.secondReplOffset = repl.masterReplOffset + 1
                repl.replid = String(rest)
                repl.replica.cached?.replid = String(rest)
                log(.notice, "Master replication ID changed to \(rest)")
                disconnectReplicas()
            }
            resurrectCachedMaster(l)
            log(.notice, "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
            return
        }
        if line.hasPrefix("-NOMASTERLINK") || line.hasPrefix("-LOADING") {
            log(.notice, "Master is currently unable to PSYNC but should be in the future: \(line)")
            cancelHandshake()
            return
        }
        if line.hasPrefix("-ERR") {
            log(.notice, "Master does not support PSYNC or is in error state (reply: \(line))")
        } else {
            log(.warning, "Unexpected reply to PSYNC from master: \(line)")
        }
        // No PSYNC there: SYNC on the same connection, offset unknown, no ACKs.
        log(.notice, "Retrying with SYNC...")
        l.send(Array("SYNC\r\n".utf8))
        l.preSync = true
        l.initialOffset = -1
        startTransfer(l)
    }

    func startTransfer(_ l: MasterLink) {
        l.phase = .transfer
        repl.linkState = .sync
        l.transferSize = -1
        l.transferRead = 0
        l.transferLastIOMs = Engine.wallClockMs()
        l.eofMark = nil
        l.tail = []
        l.disklessLoad = usesDisklessLoad
        if l.disklessLoad { return }
        l.tempPath = "temp-\(Engine.wallClockMs() / 1000).\(getpid()).rdb"
        l.tempFD = open(l.tempPath, O_CREAT | O_WRONLY | O_EXCL | O_TRUNC, 0o644)
        if l.tempFD < 0 {
            log(.warning, "Opening the temp file needed for MASTER <-> REPLICA synchronization: \(String(cString: strerror(errno)))")
            cancelHandshake()
        }
    }

    // MARK: the RDB transfer

    /// Consumes transfer input; false when it needs more bytes (or the link ended).
    func transferStep(_ l: MasterLink) -> Bool {
        l.transferLastIOMs = Engine.wallClockMs()
        if l.transferSize == -1 && l.eofMark == nil {
            guard let line = l.takeLine() else { return false }
            if line.isEmpty { return true }  // keepalive
            if line.hasPrefix("-") {
                log(.warning, "MASTER aborted replication with an error: \(line.dropFirst())")
                cancelHandshake()
                return false
            }
            guard line.hasPrefix("$") else {
                log(.warning, "Bad protocol from MASTER, the first byte is not '$' (we received '\(line)'), are you sure the host and port are right?")
                cancelHandshake()
                return false
            }
            if line.hasPrefix("$EOF:"), line.utf8.count >= 45 {
                l.eofMark = Array(line.utf8.dropFirst(5).prefix(40))
                l.transferSize = 0
                log(.notice, "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to \(l.disklessLoad ? "parser" : "disk")")
            } else if let n = Int64(line.dropFirst()), n >= 0 {
                l.transferSize = n
                log(.notice, "MASTER <-> REPLICA sync: receiving \(n) bytes from master to \(l.disklessLoad ? "parser" : "disk")")
            } else {
                log(.warning, "Bad protocol from MASTER: '\(line)'")
                cancelHandshake()
                return false
            }
            if l.disklessLoad { beginSocketLoad(l) }
            return true
        }
        // Payload.
        var take = l.input.count
        var done = false
        if let mark = l.eofMark {
            // The payload ends where the mark ends (nothing should follow it before our ACK).
            let window = l.tail + l.input
            if let end = MasterLink.endOfMark(mark, in: window) {
                take = end - l.tail.count
            }
        } else {
            let left = Int(l.transferSize - l.transferRead)
            if take >= left { take = left; done = true }
        }
        if take > 0, l.socketLoad != nil {
            // A copy: the load must not run while the link's input is borrowed.
            let chunk = Array(l.input[0..<take])
            let ok = chunk.withUnsafeBytes { feedSocketLoad(l, $0) }
            guard ok else { return false }
        } else if take > 0 {
            let ok = l.input.withUnsafeBytes { raw -> Bool in
                var off = 0
                while off < take {
                    let n = write(l.tempFD, raw.baseAddress! + off, take - off)
                    if n < 0 { if errno == EINTR { continue }; return false }
                    off += n
                }
                return true
            }
            if !ok {
                log(.warning, "Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: \(String(cString: strerror(errno)))")
                cancelHandshake()
                return false
            }
        }
        if take > 0 {
            l.transferRead += Int64(take)
            if let mark = l.eofMark {
                l.tail.append(contentsOf: l.input[0..<take])
                if l.tail.count > 40 { l.tail.removeFirst(l.tail.count - 40) }
                if l.tail == mark { done = true }
            }
            l.input.removeFirst(take)
        }
        guard done else { return false }
        if l.socketLoad != nil {
            finishSocketLoad(l, length: l.transferRead - (l.eofMark != nil ? 40 : 0))
            return l.phase == .streaming
        }
        if l.eofMark != nil {
            // The mark is not part of the RDB.
            _ = ftruncate(l.tempFD, off_t(l.transferRead - 40))
        }
        finishFullSync(l)
        return l.phase == .streaming
    }

    /// The whole RDB is on disk: flush, load it, and become a replica streaming from
    /// the FULLRESYNC offset (Redis's readSyncBulkPayload, disk path).
    func finishFullSync(_ l: MasterLink) {
        if fsync(l.tempFD) != 0 {
            log(.warning, "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: \(String(cString: strerror(errno)))")
            cancelHandshake()
            return
        }
        close(l.tempFD)
        l.tempFD = -1
        // A save of our own must not write over the file about to be loaded.
        if let snap = snapshot, snap.result == nil {
            log(.warning, "Replica is about to load the RDB file received from the master, but there is a pending RDB child running. Killing process \(getpid()) and removing its temp file to avoid any race")
            snap.abort()
            snapshot = nil
            if replicationSnapshot { replicationSnapshot = false }
        }
        attachToNewMaster()
        let aofWasOn = aof.state != .off
        if aofWasOn { stopAppendOnly() }
        log(.notice, "MASTER <-> REPLICA sync: Flushing old data")
        emptyData(nil, async: config.replicaLazyFlush)
        if rename(l.tempPath, config.dbfilename) != 0 {
            log(.warning, "Failed trying to rename the temp DB into \(config.dbfilename) in MASTER <-> REPLICA synchronization: \(String(cString: strerror(errno)))")
            unlink(l.tempPath)
            cancelHandshake()
            if aofWasOn { _ = startAppendOnly() }
            return
        }
        log(.notice, "MASTER <-> REPLICA sync: Loading DB in memory")
        // Loaded in slices: clients get -LOADING meanwhile (as Redis answers them between
        // chunks of a blocking load); the stream arriving behind the RDB waits in the link.
        l.phase = .loading
        loadReplicationRDB { [unowned(unsafe) self] ok, streamDb in
            self.fullSyncLoaded(l, ok: ok, streamDb: streamDb, aofWasOn: aofWasOn, fromFile: true)
        }
    }

    func fullSyncLoaded(_ l: MasterLink, ok: Bool, streamDb: Int, aofWasOn: Bool, fromFile: Bool) {
        // rdb-del-sync-files on a replica without persistence: the received file goes.
        if ok && fromFile && hasNoPersistence && config.rdbDelSyncFiles {
            log(.notice, "Removing the RDB file obtained from the master. This replica has persistence disabled")
            unlink(config.dbfilename)
        }
        if !ok {
            log(.warning, "Failed trying to load the MASTER synchronization DB from disk, check server logs.")
            emptyData(nil, async: false)
            cancelHandshake()
            if aofWasOn { _ = startAppendOnly() }
            return
        }
        // The link may have dropped while we loaded: the data stays, the cron reconnects.
        guard l.isCurrent, l.phase == .loading else {
            if aofWasOn { _ = startAppendOnly() }
            return
        }
        // The master client on this socket, at the FULLRESYNC offset.
        let c = makeMasterClient(l, db: streamDb)
        l.client = c
        l.reploff = l.initialOffset
        l.readReploff = l.initialOffset
        l.parsePos = 0
        repl.replid = l.initialReplid.isEmpty ? ReplicationState.noReplID : l.initialReplid
        repl.masterReplOffset = l.initialOffset
        repl.clearReplID2()
        createBacklog()
        l.phase = .streaming
        repl.linkState = .connected
        repl.replica.downSinceMs = 0
        log(.notice, "MASTER <-> REPLICA sync: Finished with success")
        if l.eofMark != nil { sendAck(l) }
        if aofWasOn { _ = startAppendOnly() }
        // What the master streamed while we loaded.
        l.process()
    }

    /// Loads dbfilename (just received) in slices of loading-process-events-interval-bytes,
    /// then calls `done(ok, repl-stream-db)`.
    func loadReplicationRDB(_ done: @escaping (Bool, Int) -> Void) {
        guard let data = AOFFiles.read(config.dbfilename) else {
            log(.warning, "Failed trying to load the MASTER synchronization DB: \(String(cString: strerror(errno)))")
            done(false, 0)
            return
        }
        beginLoading(totalBytes: data.count)
        let job: RDBLoadJob
        do {
            let loader = try RDBFile.Loader(data, limits: EncodingLimits(config), verifyChecksum: config.rdbchecksum)
            job = RDBLoadJob(loader: loader, merge: false, startMs: Engine.wallClockMs(), skipExpired: false, isFileLoad: false)
        } catch {
            reportLoadFailure(error)
            done(false, 0)
            return
        }
        func slice() {
            switch continueRDBLoad(job, bytes: max(1024, config.loadingProcessEventsIntervalBytes)) {
            case nil:
                // A timer, as the startup load: only a timer lets NIO poll sockets in between.
                if let later = scheduleOnLoop { later(1, slice) } else { slice() }
            case .loaded?:
                endLoading(success: true)
                var streamDb = 0
                if let v = job.loader.summary.aux.last(where: { $0.0 == "repl-stream-db" }),
                   let db = Int(String(decoding: v.1, as: UTF8.self)), database(db) != nil {
                    streamDb = db
                }
                done(true, streamDb)
            default:
                done(false, 0)
            }
        }
        slice()
    }

    func makeMasterClient(_ l: MasterLink, db: Int) -> Client {
        let c = createClient()
        // Not an accepted connection (Redis counts those only).
        stats.totalConnections -= 1
        c.flags.insert(.master)
        c.authenticated = true
        if let d = database(db) { c.db = d }
        c.remoteAddress = l.transport?.remoteAddress ?? "?"
        c.localAddress = l.transport?.localAddress ?? "?"
        c.fd = l.transport?.fd ?? -1
        setClientUser(c, nil)
        let conn = MasterClientConnection(link: l)
        l.connection = conn
        c.connection = conn
        return c
    }

    /// +CONTINUE: the cached master resumes on this socket (replicationResurrectCachedMaster).
    func resurrectCachedMaster(_ l: MasterLink) {
        let cm = repl.replica.cached ?? CachedMaster(replid: repl.replid, offset: repl.masterReplOffset, readOffset: repl.masterReplOffset, db: 0)
        repl.replica.cached = nil
        let c = makeMasterClient(l, db: cm.db)
        l.client = c
        l.reploff = cm.offset
        l.readReploff = cm.offset
        l.parsePos = 0
        if repl.backlog == nil { createBacklog() }
        l.phase = .streaming
        repl.linkState = .connected
        repl.replica.downSinceMs = 0
    }

    // MARK: the stream

    /// Executes every complete command in the master link's input; relays what is applied.
    func applyStream(_ l: MasterLink) {
        guard let c = l.client else { return }
        let buf = l.input
        var pos = l.parsePos
        var applied = 0
        var protocolError = false
        l.readReploff = l.reploff + Int64(buf.count)
        buf.withUnsafeBytes { raw in
            while pos < raw.count {
                guard repl.replica.link === l, l.client === c, l.phase == .streaming else { return }
                let first = raw[pos]
                if first != UInt8(ascii: "*") && first != 10 && first != 13 {
                    // Only RESP (and keepalive newlines) comes from a master.
                    log(.warning, "Master using the inline protocol. Desync?")
                    protocolError = true
                    return
                }
                let view = UnsafeRawBufferPointer(rebasing: raw[pos...])
                switch l.parser.parse(view) {
                case .command(let n):
                    execute(c, l.parser.args(input: view))
                    if c.out.count > 0 && c.out.bytes[0] == UInt8(ascii: "-") {
                        // The master's data and ours now differ (an unsupported command...).
                        let text = String(decoding: c.out.bytes.dropFirst().prefix(while: { $0 != 13 }), as: UTF8.self)
                        log(.warning, "== CRITICAL == This replica is sending an error to its master: '\(text)' after processing the command '\(c.currentCommand?.fullName ?? "<unknown>")'")
                    }
                    c.out.removeAll()
                    pos += n
                    if !c.flags.contains(.multi) {
                        // Applied: these bytes are now part of our own history.
                        let chunk = UnsafeRawBufferPointer(rebasing: raw[applied..<pos])
                        feedStream(chunk)
                        l.reploff += Int64(chunk.count)
                        applied = pos
                    }
                case .skip(let n):
                    pos += n
                case .incomplete:
                    return
                case .error(let msg):
                    log(.warning, "Protocol error (\(msg)) from master: id=\(c.id) addr=\(c.remoteAddress)")
                    protocolError = true
                    return
                }
            }
        }
        flushAOFBeforeReplies()
        guard repl.replica.link === l, l.client === c else { return }
        if protocolError {
            l.protocolError = true
            l.close()
            return
        }
        // The master's keepalive PING is applied like any command; the input up to the
        // applied point is gone, the rest (a MULTI block, a partial command) stays.
        l.input.removeFirst(applied)
        l.parsePos = pos - applied
        c.queryBufferLength = l.input.count
    }

    // MARK: INFO

    /// INFO replication's replica fields (after `role:slave`).
    /// How long a replica has been without data from its master (ms): since the last
    /// interaction while the link is up, else since it went down (cluster elections' data age).
    public var masterDataAgeMs: Int64 {
        let now = Engine.wallClockMs()
        if repl.linkState == .connected, let l = repl.replica.link { return now - l.lastIOMs }
        return now - repl.replica.downSinceMs
    }

    /// What a replica has applied of its master's stream (Redis's replicationGetSlaveOffset):
    /// the live link's offset, else the cached master's, never negative; 0 on a master.
    public var replicaProcessedOffset: Int64 {
        guard repl.masterHost != nil else { return 0 }
        var offset: Int64 = 0
        if let l = repl.replica.link, l.client != nil {
            offset = l.reploff
        } else if let cm = repl.replica.cached {
            offset = cm.offset
        }
        return max(0, offset)
    }

    func replicaInfoFields() -> [(String, String)] {
        let r = repl
        let now = Engine.wallClockMs()
        var f: [(String, String)] = []
        f.append(("master_host", r.masterHost ?? ""))
        f.append(("master_port", "\(r.masterPort)"))
        f.append(("master_link_status", r.linkState == .connected ? "up" : "down"))
        let live = r.replica.link.flatMap { $0.client != nil ? $0 : nil }
        f.append(("master_last_io_seconds_ago", live.map { "\(max(0, (now - $0.lastIOMs) / 1000))" } ?? "-1"))
        f.append(("master_sync_in_progress", r.linkState == .sync ? "1" : "0"))
        var readOff: Int64 = 1
        var applied: Int64 = 1
        if let l = live {
            readOff = l.readReploff
            applied = l.reploff
        } else if let cm = r.replica.cached {
            readOff = cm.readOffset
            applied = cm.offset
        }
        f.append(("slave_read_repl_offset", "\(readOff)"))
        f.append(("slave_repl_offset", "\(applied)"))
        if r.linkState == .sync, let l = r.replica.link {
            let perc = l.transferSize != 0 ? Double(l.disklessLoad ? 0 : l.transferRead) / Double(l.transferSize) * 100 : 0
            // A socket load reads through the loader: Redis's transfer counter stays at 0.
            let read = l.disklessLoad ? 0 : l.transferRead
            f.append(("master_sync_total_bytes", "\(l.transferSize)"))
            f.append(("master_sync_read_bytes", "\(read)"))
            f.append(("master_sync_left_bytes", "\(l.transferSize - read)"))
            f.append(("master_sync_perc", ReplyBuffer.cFormat("%.2f", perc)))
            f.append(("master_sync_last_io_seconds_ago", "\(max(0, (now - l.transferLastIOMs) / 1000))"))
        }
        if r.linkState != .connected {
            let down = r.replica.downSinceMs
            f.append(("master_link_down_since_seconds", down != 0 ? "\(max(0, (now - down) / 1000))" : "-1"))
        }
        f.append(("slave_priority", "\(config.replicaPriority)"))
        f.append(("slave_read_only", config.replicaReadOnly ? "1" : "0"))
        f.append(("replica_announced", config.replicaAnnounced ? "1" : "0"))
        return f
    }

    // MARK: startup

    /// Before the startup load: `replicaof` from the config makes us a replica (so the load
    /// keeps keys already expired, as a replica's must).
    func replicationInitAtStartup() {
        guard !config.replicaofHost.isEmpty, repl.masterHost == nil else { return }
        repl.masterHost = config.replicaofHost
        repl.masterPort = config.replicaofPort
        repl.linkState = .connect
    }

    /// After the startup load of an RDB with repl-id / repl-offset / repl-stream-db (spec 4.4):
    /// a replica caches a master from it (its first PSYNC is partial); a master keeps it as
    /// its secondary history so its replicas can continue, and the keys it skipped as expired
    /// go into the backlog as DELs (UNLINK with lazyfree-lazy-expire), so a replica that
    /// continues deletes them too (Redis 7.0's loadDataFromDisk; no history: nothing fed).
    func restoreReplicationInfo(_ aux: [(String, [UInt8])], skippedExpired: [(db: Int, key: [UInt8])] = []) {
        func value(_ k: String) -> String? {
            aux.last(where: { $0.0 == k }).map { String(decoding: $0.1, as: UTF8.self) }
        }
        guard let id = value("repl-id"), id.utf8.count == 40, let off = value("repl-offset").flatMap({ Int64($0) }),
              off != -1, let db = value("repl-stream-db").flatMap({ Int($0) }), db != -1 else { return }
        if repl.masterHost != nil {
            repl.replid = id
            repl.masterReplOffset = off
            log(.notice, "Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.")
            repl.replica.cached = CachedMaster(replid: id, offset: off, readOffset: off, db: database(db) != nil ? db : 0)
        } else {
            repl.replid2 = id
            repl.secondReplOffset = off + 1
            repl.masterReplOffset = off
            createBacklog()
            repl.noReplicasSinceMs = Engine.wallClockMs()
            let verb = Array((config.lazyfreeLazyExpire ? "UNLINK" : "DEL").utf8)
            for (db, key) in skippedExpired {
                OwnedArgs([verb, key]).withArgs { repl.feed?.propagate(db: db, args: $0) }
            }
        }
    }

    // MARK: cron

    /// serverCron's once-a-second replication work (Redis's replicationCron).
    func replicationCron() {
        updateFailoverStatus()
        replicationReplicaCron()
        replicationMasterCron()
    }

    func replicationReplicaCron() {
        guard let host = repl.masterHost else { return }
        let now = Engine.wallClockMs()
        let timeout = Int64(config.replTimeout) * 1000
        if let l = repl.replica.link {
            switch l.phase {
            case .connecting, .pong, .handshake, .psync:
                if now - l.lastIOMs > timeout {
                    log(.warning, "Timeout connecting to the MASTER...")
                    cancelHandshake()
                }
            case .transfer:
                if now - l.transferLastIOMs > timeout {
                    log(.warning, "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.")
                    cancelHandshake()
                } else if l.socketLoad != nil {
                    // Loading from the socket: the master hears from us as during a disk load.
                    l.send([10])
                }
            case .streaming:
                if now - l.lastIOMs > timeout {
                    log(.warning, "MASTER timeout: no data nor PING received...")
                    masterLinkLost(l)
                } else {
                    sendAck(l)
                }
            case .loading:
                // Redis's replica writes a newline to its master while it loads, so the
                // master sees it alive.
                l.send([10])
            case .closed:
                break
            }
        }
        if repl.replica.link == nil && repl.linkState == .connect {
            log(.notice, "Connecting to MASTER \(host):\(repl.masterPort)")
            connectToMaster()
        }
    }
}

/// The master client's connection: replies to the master are never sent (ACKs go through
/// the link directly); a kill (CLIENT KILL TYPE master, output limits) drops the link.
final class MasterClientConnection: ClientConnection {
    weak var link: MasterLink?
    init(link: MasterLink) { self.link = link }
    func flushReplies() {
        link?.client?.out.removeAll()
    }
    func close() { abort() }
    func resumeProcessing() {
        guard let l = link, l.phase == .streaming else { return }
        l.engine.applyStream(l)
    }
    func abort() {
        guard let l = link else { return }
        l.engine.log(.verbose, "Closing the master link on request")
        l.close()
    }
}

enum ReplicaCommands {
    /// REPLICAOF host port | NO ONE (SLAVEOF is the same command).
    static func replicaof(_ c: Client, _ a: Args) {
        let e = c.engine
        // A cluster node follows a master through CLUSTER REPLICATE only.
        if e.cluster != nil { c.error("ERR REPLICAOF not allowed in cluster mode."); return }
        if e.repl.failoverState != .none {
            c.error("ERR REPLICAOF not allowed while failing over.")
            return
        }
        if a.equals(1, "no") && a.equals(2, "one") {
            if e.repl.masterHost != nil {
                e.unsetMaster()
                e.log(.notice, "MASTER MODE enabled (user request from '\(ClientCommand.line(c))')")
            }
            c.out.ok()
            return
        }
        if c.flags.contains(.replica) {
            c.error("ERR Command is not valid when client is a replica.")
            return
        }
        guard let port = Numbers.parseInt(a[2]), port >= 0, port <= 65535 else {
            c.error("ERR Invalid master port")
            return
        }
        let host = a.string(1)
        if let h = e.repl.masterHost, h.lowercased() == host.lowercased(), e.repl.masterPort == port {
            e.log(.notice, "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
            c.out.simple("OK Already connected to specified master")
            return
        }
        e.setMaster(host: host, port: port)
        e.log(.notice, "REPLICAOF \(host):\(port) enabled (user request from '\(ClientCommand.line(c))')")
        c.out.ok()
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String { String(self).trimmingCharacters(in: set) }
}
