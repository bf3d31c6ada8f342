import TernPersistence
import TernProtocol
import TernStore

// Diskless full sync (repl-diskless-sync yes, replicas with `capa eof`): the forkless
// snapshot's bytes go straight into the waiting replicas' connections, framed as
// `$EOF:<40 random hex chars>\r\n<rdb><same 40 chars>` (spec 2.3). Serialization stays on
// the engine thread (the walk's steps); the connection layer writes with backpressure, and
// the walk pauses while the slowest replica has more than RDBSnapshot.maxQueuedBytes
// unwritten. After the mark, the stream buffered since the snapshot's epoch is held until
// the replica's next REPLCONF ACK: a replica reading up to the mark must not find stream
// bytes behind it in the same read (Redis's repl_start_cmd_stream_on_ack).

final class ReplicaSocketSink: RDBSnapshotSink {
    unowned let engine: Engine
    /// The replicas this image is for (they left `waitBgsaveStart` together).
    private(set) var targets: [Client]
    let mark: [UInt8]
    private var crc: UInt64 = 0
    private let checksum: Bool
    private var done: RDBFileSink.Outcome?

    init(engine: Engine, targets: [Client], checksum: Bool) {
        self.engine = engine
        self.targets = targets
        self.checksum = checksum
        mark = Array(ReplicationState.randomID().utf8)
        let head = Array("$EOF:".utf8) + mark + [13, 10]
        for c in targets { c.out.append(head); c.flush() }
    }

    private func send(_ bytes: [UInt8]) {
        targets.removeAll { $0.connection == nil || $0.replicaPeer?.state != .waitBgsaveEnd }
        for c in targets {
            c.out.append(bytes)
            c.flush()
        }
    }

    func write(_ chunk: [UInt8]) {
        if checksum { crc = chunk.withUnsafeBytes { CRC64.update(crc, $0) } }
        send(chunk)
    }

    func finish(_ last: [UInt8]) {
        if checksum { crc = last.withUnsafeBytes { CRC64.update(crc, $0) } }
        var tail = last
        for i in 0..<8 { tail.append(checksum ? UInt8(truncatingIfNeeded: crc >> (8 * UInt64(i))) : 0) }
        tail.append(contentsOf: mark)
        send(tail)
        done = .ok
        // Collected right after this step rather than by the next cron tick, so the
        // replica's first ACK (sent as soon as it loaded) already starts its stream.
        engine.runSoon { [weak engine] in engine?.collectBackgroundSave() }
    }

    var queuedBytes: Int {
        var most = 0
        for c in targets where c.connection != nil {
            most = max(most, c.pendingOutputBytes + c.out.count)
        }
        return most
    }

    var outcome: RDBFileSink.Outcome? { done }

    func abort() {
        done = .failed("Diskless sync aborted")
    }
}

extension Engine {
    /// Starts a diskless sync for every replica waiting with `capa eof`.
    func startDisklessSync(_ waiting: [Client]) -> Bool {
        log(.notice, "Starting BGSAVE for SYNC with target: replicas sockets")
        repl.encoder.selectedDb = -1
        for c in waiting {
            guard let p = c.replicaPeer else { continue }
            p.state = .waitBgsaveEnd
            p.initialOffset = repl.masterReplOffset
            p.pendingStream = []
            sendFullResyncReply(c, offset: p.initialOffset)
        }
        let sink = ReplicaSocketSink(engine: self, targets: waiting, checksum: config.rdbchecksum)
        guard backgroundSave(sink: sink, withoutKeys: waiting.first?.replicaPeer?.excludeData == true) else { return false }
        replicationSnapshot = true
        return true
    }

    /// The diskless image has been handed to the connections: each replica is online but
    /// gets its buffered stream only after its next ACK.
    func disklessSyncDone(ok: Bool) {
        for c in repl.replicas {
            guard let p = c.replicaPeer, p.state == .waitBgsaveEnd else { continue }
            guard ok else {
                dropReplica(c, "Diskless rdb transfer failed for replica \(replicaName(c))")
                continue
            }
            replicaHasRDB(c, p, streamNow: false)
        }
        refreshGoodReplicas()
    }

    /// The first ACK after a diskless transfer: the replica has the whole RDB; stream.
    func startStreamAfterAck(_ c: Client) {
        guard let p = c.replicaPeer, p.streamOnAck else { return }
        sendHeldStream(c, p)
    }

}
