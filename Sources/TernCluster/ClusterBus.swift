import TernConfig
import TernEngine
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// The cluster bus (Redis 7.0's cluster.c: links, clusterSendPing, clusterProcessPacket,
// clusterCron; ../shared/specs/cluster.md §2-3). Every event runs on the engine loop; the
// server layer supplies the sockets through ClusterBusConnector / ClusterBusTransport.

/// Opens outbound bus connections (TernServer's NIO implementation).
public protocol ClusterBusConnector: AnyObject {
    func connect(host: String, port: Int, timeoutMs: Int64, link: ClusterLink)
}

/// One established bus socket.
public protocol ClusterBusTransport: AnyObject {
    /// Our address on this socket (how a node learns its own IP from a MEET).
    var localIP: String { get }
    /// The peer's address (a node that announces no IP is reached there).
    var peerIP: String { get }
    /// Bytes handed to `send` that the socket has not taken yet (the link's send buffer).
    var pendingBytes: Int { get }
    func send(_ bytes: [UInt8])
    func close()
}

/// A bus connection to or from a node (cluster.h's clusterLink).
public final class ClusterLink {
    let createTime: Int64
    /// true: the peer connected to us (`from`); false: we connected to it (`to`).
    let inbound: Bool
    weak var node: ClusterNode?
    weak var cluster: Cluster?
    var transport: ClusterBusTransport?
    /// Bytes queued before the connection is up.
    var outbox: [UInt8] = []
    var input: [UInt8] = []
    var isClosed = false

    init(cluster: Cluster, inbound: Bool, node: ClusterNode?, now: Int64) {
        self.cluster = cluster
        self.inbound = inbound
        self.node = node
        createTime = now
    }

    /// What waits to be sent: queued before the connection is up, or in the socket layer.
    var sendBufferUsed: Int { outbox.count + (transport?.pendingBytes ?? 0) }
    var sendBufferAllocated: Int { max(outbox.capacity, sendBufferUsed) }
    /// Bytes held for this link (Redis's per-link share of mem_cluster_links): the link
    /// itself, its input buffer and what waits to be sent.
    var memory: Int { ClusterLink.structSize + input.capacity + sendBufferAllocated }
    static let structSize = 96

    func send(_ bytes: [UInt8]) {
        guard !isClosed else { return }
        if let t = transport { t.send(bytes) } else { outbox += bytes }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        transport?.close()
        transport = nil
        outbox = []
        input = []
    }

    // MARK: events from the transport

    public func connected(_ t: ClusterBusTransport) {
        guard !isClosed else { t.close(); return }
        transport = t
        if !outbox.isEmpty {
            t.send(outbox)
            outbox = []
        }
        if !inbound { cluster?.outboundLinkUp(self) }
    }

    /// Frames messages out of the stream: 8 bytes give the signature and the length; a
    /// bad signature or a length below the header size ends the link.
    public func received(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed, let cluster else { return }
        input.append(contentsOf: bytes)
        var pos = 0
        while input.count - pos >= 8 {
            let sigOK = input[pos] == 0x52 && input[pos + 1] == 0x43 && input[pos + 2] == 0x6D && input[pos + 3] == 0x62
            let totlen = Int(input[pos + 4]) << 24 | Int(input[pos + 5]) << 16 | Int(input[pos + 6]) << 8 | Int(input[pos + 7])
            if !sigOK || totlen < Bus.headerSize {
                cluster.engine.log(.warning, "Bad message length or signature received from Cluster bus.")
                cluster.freeLink(self)
                return
            }
            guard input.count - pos >= totlen else { break }
            let msg = BusMessage(b: Array(input[pos..<(pos + totlen)]))
            pos += totlen
            cluster.process(self, msg)
            if isClosed { return }
        }
        if pos > 0 { input.removeFirst(pos) }
    }

    public func closed() {
        guard !isClosed else { return }
        cluster?.freeLink(self)
    }

    public func connectFailed(_ reason: String) {
        guard !isClosed else { return }
        if let n = node, let c = cluster {
            c.engine.log(.verbose, "Connection with Node \(n.name) at \(n.ip):\(n.cport) failed: \(reason)")
        }
        cluster?.freeLink(self)
    }
}

extension Cluster {
    // MARK: links

    /// A connection accepted on the bus port; it is bound to a node by its first message.
    public func newInboundLink() -> ClusterLink {
        ClusterLink(cluster: self, inbound: true, node: nil, now: now)
    }

    /// Redis's freeClusterLink: closes it and detaches it from its node.
    func freeLink(_ link: ClusterLink) {
        link.close()
        if let n = link.node {
            if n.link === link { n.link = nil }
            if n.inboundLink === link { n.inboundLink = nil }
        }
    }

    /// Redis's clusterLinkConnectHandler: the first message on a new outbound link is a
    /// PING (MEET while the node is to be met), keeping a ping pending from before.
    func outboundLinkUp(_ link: ClusterLink) {
        guard let n = link.node else { return }
        let oldPingSent = n.pingSent
        sendPing(link, n.flags.contains(.meet) ? .meet : .ping)
        if oldPingSent != 0 { n.pingSent = oldPingSent }
        n.flags.remove(.meet)
    }

    /// Redis's setClusterNodeToInboundClusterLink: a newer inbound link replaces the old.
    func bindInbound(_ link: ClusterLink, to n: ClusterNode) {
        if let old = n.inboundLink, old !== link { freeLink(old) }
        n.inboundLink = link
        link.node = n
    }

    // MARK: building messages

    /// The header every message starts with (Redis's clusterBuildMessageHdr); `totlen` is
    /// written by `BusWriter.finish`.
    func header(_ type: ClusterMessageType, capacity: Int = Bus.headerSize) -> BusWriter {
        let master = myself.isSlave ? (myself.master ?? myself) : myself
        var w = BusWriter(capacity: capacity)
        w.raw(Bus.signature)
        w.u32(0)
        w.u16(1)
        w.u16(myself.port)
        w.u16(type.rawValue)
        w.u16(0)
        w.u64(currentEpoch)
        w.u64(master.configEpoch)
        let offset = myself.isSlave ? engine.replicaProcessedOffset : engine.repl.masterReplOffset
        w.u64(UInt64(bitPattern: offset))
        w.fixed(myself.name, Bus.nameSize)
        w.raw(master.slots.bytes)
        if let m = myself.master { w.fixed(m.name, Bus.nameSize) } else { w.zeros(Bus.nameSize) }
        w.fixed(config.clusterAnnounceIp, Bus.ipSize, terminated: true)
        w.u16(0)
        w.zeros(30)
        w.u16(myself.pport)
        w.u16(myself.cport)
        w.u16(myself.flags.rawValue)
        w.u8(stateOK ? 0 : 1)
        w.u8(myself.isMaster && manualFailover.end != 0 ? Bus.flagPaused : 0)
        w.zeros(2)
        return w
    }

    func send(_ link: ClusterLink, _ w: BusWriter, _ type: ClusterMessageType) {
        var w = w
        w.finish()
        messagesSent[type.rawValue] += 1
        link.send(w.bytes)
    }

    /// To every node we have an outbound link to, handshakes aside.
    func broadcast(_ w: BusWriter, _ type: ClusterMessageType) {
        var w = w
        w.finish()
        for n in nodes where n.link != nil && !n.isMyself && !n.inHandshake {
            messagesSent[type.rawValue] += 1
            n.link?.send(w.bytes)
        }
    }

    func gossipEntry(_ w: inout BusWriter, _ n: ClusterNode) {
        w.fixed(n.name, Bus.nameSize)
        w.u32(UInt32(truncatingIfNeeded: n.pingSent / 1000))
        w.u32(UInt32(truncatingIfNeeded: n.pongReceived / 1000))
        w.fixed(n.ip, Bus.ipSize, terminated: true)
        w.u16(n.port)
        w.u16(n.cport)
        w.u16(n.flags.rawValue)
        w.u16(n.pport)
        w.u16(0)
    }

    /// PING, PONG or MEET with gossip about a few random nodes plus every PFAIL node, and
    /// our hostname as an extension (Redis's clusterSendPing).
    func sendPing(_ link: ClusterLink, _ type: ClusterMessageType) {
        let total = nodes.count
        var fresh = total - 2
        var wanted = max(3, total / 10)
        if wanted > fresh { wanted = fresh }
        if let n = link.node, type == .ping { n.pingSent = now }
        var w = header(type, capacity: Bus.headerSize + Bus.gossipSize * (wanted + 4) + 300)
        var count = 0
        var chosen = Set<ObjectIdentifier>()
        var iterations = wanted * 3
        var g = SystemRandomNumberGenerator()
        while fresh > 0 && count < wanted && iterations > 0 {
            iterations -= 1
            guard let n = nodes.randomElement(using: &g) else { break }
            if n.isMyself || n.timedOut { continue }
            if n.inHandshake || n.flags.contains(.noaddr) || (n.link == nil && n.numSlots == 0) {
                fresh -= 1
                continue
            }
            if chosen.contains(ObjectIdentifier(n)) { continue }
            chosen.insert(ObjectIdentifier(n))
            gossipEntry(&w, n)
            fresh -= 1
            count += 1
        }
        for n in nodes where n.timedOut && !n.inHandshake && !n.flags.contains(.noaddr) {
            gossipEntry(&w, n)
            count += 1
        }
        var extensions = 0
        if !myself.hostname.isEmpty {
            let data = Array(myself.hostname.utf8) + [0]
            let padded = (data.count + 7) / 8 * 8
            w.u32(UInt32(8 + padded))
            w.u16(Bus.extHostname)
            w.u16(0)
            w.raw(data)
            w.zeros(padded - data.count)
            extensions = 1
            w.bytes[2253] |= Bus.flagExtData
        }
        // count and extensions live in the header, written once the body is known.
        w.bytes[14] = UInt8(count >> 8)
        w.bytes[15] = UInt8(count & 0xFF)
        w.bytes[2214] = UInt8(extensions >> 8)
        w.bytes[2215] = UInt8(extensions & 0xFF)
        send(link, w, type)
    }

    /// PONG to every linked node, or only to the replicas of my shard.
    func broadcastPong(localReplicasOnly: Bool = false) {
        for n in nodes {
            guard let l = n.link, !n.isMyself, !n.inHandshake else { continue }
            if localReplicasOnly {
                guard n.isSlave, let m = n.master, m === myself || m === myself.master else { continue }
            }
            sendPing(l, .pong)
        }
    }

    func sendFail(_ name: String) {
        var w = header(.fail, capacity: Bus.headerSize + Bus.nameSize)
        w.fixed(name, Bus.nameSize)
        broadcast(w, .fail)
    }

    /// Tells a node with a stale claim who owns its slots now (slots whose owner stopped
    /// claiming them are left out).
    func sendUpdate(_ link: ClusterLink?, about n: ClusterNode) {
        guard let link else { return }
        var w = header(.update, capacity: Bus.headerSize + 8 + Bus.nameSize + 2048)
        w.u64(n.configEpoch)
        w.fixed(n.name, Bus.nameSize)
        var slots = n.slots
        for i in 0..<slots.words.count { slots.words[i] &= ~ownerNotClaiming.words[i] }
        w.raw(slots.bytes)
        send(link, w, .update)
    }

    public func propagatePublish(channel: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, sharded: Bool) {
        let type: ClusterMessageType = sharded ? .publishShard : .publish
        var w = header(type, capacity: Bus.headerSize + 8 + channel.count + message.count)
        w.u32(UInt32(channel.count))
        w.u32(UInt32(message.count))
        w.bytes.append(contentsOf: channel)
        w.bytes.append(contentsOf: message)
        if !sharded {
            broadcast(w, type)
            return
        }
        // SPUBLISH reaches my shard only: its master and replicas.
        w.finish()
        let master = myself.isMaster ? myself : myself.master
        guard let master else { return }
        for n in [master] + master.replicas where n !== myself {
            guard let l = n.link else { continue }
            messagesSent[type.rawValue] += 1
            l.send(w.bytes)
        }
    }

    // MARK: receiving

    /// Redis's clusterProcessPacket.
    func process(_ link: ClusterLink, _ m: BusMessage) {
        let type = m.type
        if type < ClusterMessageType.count { messagesReceived[type] += 1 }
        if let problem = m.validity() {
            if !problem.isEmpty { engine.log(.warning, problem) }
            return
        }
        // Node ids end up in nodes.conf: a peer must send a valid one.
        guard isValidNodeID(m.senderBytes) else { return }
        let t = now
        let flags = m.flags
        var sender: ClusterNode?
        if let n = link.node, !n.inHandshake {
            sender = n
        } else {
            sender = nodesByName[m.sender]
            if let s = sender, link.node == nil { bindInbound(link, to: s) }
        }
        var senderConfigEpoch: UInt64 = 0
        var senderCurrentEpoch: UInt64 = 0
        if let s = sender { s.dataReceived = t }
        if let s = sender, !s.inHandshake {
            senderCurrentEpoch = m.currentEpoch
            senderConfigEpoch = m.configEpoch
            if senderCurrentEpoch > currentEpoch { currentEpoch = senderCurrentEpoch }
            if senderConfigEpoch > s.configEpoch {
                s.configEpoch = senderConfigEpoch
                later([.saveConfig, .fsyncConfig])
            }
            s.replOffset = m.offset
            s.replOffsetTime = t
            // A replica in a manual failover learns the offset its paused master stopped at.
            if manualFailover.end != 0 && myself.isSlave && myself.master === s
                && m.mflags0 & Bus.flagPaused != 0 && manualFailover.masterOffset == -1 {
                manualFailover.masterOffset = s.replOffset
                engine.log(.warning, "Received replication offset for paused master manual failover: \(s.replOffset)")
            }
        }
        let mtype = ClusterMessageType(rawValue: type)
        if mtype == .ping || mtype == .meet {
            // A MEET comes to our official address: learn our own IP from it (or from any
            // PING while we have none), unless cluster-announce-ip says it.
            if (mtype == .meet || myself.ip.isEmpty) && config.clusterAnnounceIp.isEmpty,
               let local = link.transport?.localIP, !local.isEmpty, local != myself.ip {
                myself.ip = local
                engine.log(.warning, "IP address for this node updated to \(myself.ip)")
                later(.saveConfig)
            }
            if sender == nil && mtype == .meet {
                let n = ClusterNode(name: randomNodeID(), flags: [.handshake], now: t)
                n.ip = announcedIP(m, link)
                n.port = m.port
                n.pport = m.pport
                n.cport = m.cport
                addNode(n)
                later(.saveConfig)
                processGossip(m, link, sender: nil)
            }
            sendPing(link, .pong)
        }
        switch mtype {
        case .ping, .pong, .meet:
            processPingLike(link, m, sender: sender, senderConfigEpoch: senderConfigEpoch, flags: flags)
        case .fail:
            let about = m.name(Bus.headerSize)
            guard sender != nil else {
                engine.log(.notice, "Ignoring FAIL message from unknown node \(m.sender) about \(about)")
                return
            }
            if let failing = nodesByName[about], !failing.failed, !failing.isMyself {
                engine.log(.notice, "FAIL message received from \(m.sender) about \(about)")
                failing.flags.insert(.fail)
                failing.failTime = t
                failing.flags.remove(.pfail)
                later([.saveConfig, .updateState])
            }
        case .publish, .publishShard:
            guard sender != nil else { return }
            let clen = Int(m.u32(2256))
            let mlen = Int(m.u32(2260))
            let chan = m.b[2264..<(2264 + clen)]
            let body = m.b[(2264 + clen)..<(2264 + clen + mlen)]
            chan.withUnsafeBytes { c in
                body.withUnsafeBytes { b in
                    if mtype == .publishShard { _ = engine.pubsub.publishShard(c, b) } else { _ = engine.pubsub.publish(c, b) }
                }
            }
        case .update:
            guard sender != nil else { return }
            let reported = m.u64(2256)
            guard isValidNodeID(m.bytes(2264, Bus.nameSize)), let n = nodesByName[m.name(2264)] else { return }
            guard n.configEpoch < reported else { return }
            if n.isSlave { setNodeAsMaster(n) }
            n.configEpoch = reported
            later([.saveConfig, .fsyncConfig])
            let slots = m.b[2304..<(2304 + 2048)].withUnsafeBytes { SlotBitmap(bytes: $0) }
            updateSlotsConfig(with: n, epoch: reported, slots: slots)
        case .failoverAuthRequest:
            guard let s = sender else { return }
            sendFailoverAuthIfNeeded(s, m)
        case .failoverAuthAck:
            guard let s = sender else { return }
            receivedFailoverAuthAck(from: s, currentEpoch: senderCurrentEpoch)
        case .mfstart:
            guard let s = sender else { return }
            receivedMFStart(from: s, on: link)
        case .module:
            // Modules are not supported: their messages have no receiver.
            break
        case nil:
            engine.log(.warning, "Received unknown packet type: \(type)")
        }
    }

    /// The address a node is reached at: what it announces, else the socket's peer.
    func announcedIP(_ m: BusMessage, _ link: ClusterLink) -> String {
        let announced = m.myip
        if !announced.isEmpty, let ip = Cluster.normalizeIP(announced) { return ip }
        return link.transport?.peerIP ?? ""
    }

    /// PING / PONG / MEET: handshake, address, liveness, role, slots, epochs, gossip.
    func processPingLike(_ link: ClusterLink, _ m: BusMessage, sender: ClusterNode?, senderConfigEpoch: UInt64, flags: NodeFlags) {
        let t = now
        let type = ClusterMessageType(rawValue: m.type)
        if !link.inbound, let ln = link.node {
            if ln.inHandshake {
                if let s = sender {
                    engine.log(.verbose, "Handshake: we already know node \(s.name), updating the address if needed.")
                    if updateAddressIfNeeded(s, link, m) { later([.saveConfig, .updateState]) }
                    deleteNode(ln)
                    freeLink(link)
                    return
                }
                renameNode(ln, to: m.sender)
                ln.flags.remove(.handshake)
                ln.flags.formUnion(flags.intersection([.master, .slave]))
                later(.saveConfig)
            } else if ln.name != m.sender {
                engine.log(.debug, "PONG contains mismatching sender ID. About node \(ln.name) added \(t - ln.ctime) ms ago, having flags \(ln.flags.rawValue)")
                ln.flags.insert(.noaddr)
                ln.ip = ""
                ln.port = 0
                ln.pport = 0
                ln.cport = 0
                freeLink(link)
                later(.saveConfig)
                return
            }
        }
        if let s = sender {
            if flags.contains(.nofailover) { s.flags.insert(.nofailover) } else { s.flags.remove(.nofailover) }
        }
        if let s = sender, type == .ping, !s.inHandshake, updateAddressIfNeeded(s, link, m) {
            later([.saveConfig, .updateState])
        }
        if !link.inbound, type == .pong, let ln = link.node {
            ln.pongReceived = t
            ln.pingSent = 0
            if ln.timedOut {
                ln.flags.remove(.pfail)
                later([.saveConfig, .updateState])
            } else if ln.failed {
                clearFailureIfNeeded(ln)
            }
        }
        guard let s = sender else { return }
        // Role changes.
        if m.slaveofIsNull {
            setNodeAsMaster(s)
        } else {
            let master = isValidNodeID(m.slaveof) ? nodesByName[String(decoding: m.slaveof, as: UTF8.self)] : nil
            if s.isMaster {
                deleteNodeSlots(s)
                s.flags.remove([.master, .migrateTo])
                s.flags.insert(.slave)
                later([.saveConfig, .updateState])
            }
            if let master, s.master !== master {
                s.master?.removeReplica(s)
                master.addReplica(s)
                s.master = master
                later(.saveConfig)
            }
        }
        // Slots: only when the claim differs from what we have for the sender's shard.
        let claimed = m.slots
        let senderMaster = s.isMaster ? s : s.master
        let dirty = senderMaster.map { $0.slots != claimed } ?? false
        if s.isMaster && dirty { updateSlotsConfig(with: s, epoch: senderConfigEpoch, slots: claimed) }
        if dirty {
            for j in 0..<ClusterSlot.count where claimed[j] {
                guard let owner = slotOwner[j], owner !== s, !ownerNotClaiming[j] else { continue }
                if owner.configEpoch > senderConfigEpoch {
                    engine.log(.verbose, "Node \(s.name) has old slots configuration, sending an UPDATE message about \(owner.name)")
                    sendUpdate(s.link, about: owner)
                    break
                }
            }
        }
        if myself.isMaster && s.isMaster && senderConfigEpoch == myself.configEpoch {
            handleConfigEpochCollision(s)
        }
        processGossip(m, link, sender: s)
        let hostname = m.hostnameExtension { engine.log(.warning, "Received unknown extension type \($0)") }
        updateAnnouncedHostname(s, hostname)
    }

    /// Redis's nodeUpdateAddressIfNeeded (never for the link we talk to it on).
    func updateAddressIfNeeded(_ n: ClusterNode, _ link: ClusterLink, _ m: BusMessage) -> Bool {
        if link === n.link { return false }
        let ip = announcedIP(m, link)
        if n.port == m.port && n.cport == m.cport && n.pport == m.pport && n.ip == ip { return false }
        n.ip = ip
        n.port = m.port
        n.pport = m.pport
        n.cport = m.cport
        if let l = n.link { freeLink(l) }
        n.flags.remove(.noaddr)
        engine.log(.warning, "Address updated for node \(n.name), now \(n.ip):\(n.port)")
        if myself.isSlave && myself.master === n { engine.setMaster(host: n.ip, port: n.port) }
        return true
    }

    /// A hostname is printed into nodes.conf lines: only the characters
    /// cluster-announce-hostname allows are taken from a peer.
    func updateAnnouncedHostname(_ n: ClusterNode, _ hostname: String?) {
        let valid = hostname.map { h in h.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46 } } ?? true
        let new = valid ? (hostname ?? "") : ""
        if new == n.hostname { return }
        n.hostname = new
        later(.saveConfig)
    }

    /// Redis's clusterProcessGossipSection.
    func processGossip(_ m: BusMessage, _ link: ClusterLink, sender: ClusterNode?) {
        let t = now
        for i in 0..<m.count {
            let g = GossipEntry(m, at: Bus.headerSize + i * Bus.gossipSize)
            guard isValidNodeID(g.nameBytes) else { continue }
            let downFlags: NodeFlags = [.fail, .pfail]
            if let n = nodesByName[g.name] {
                if let s = sender, s.isMaster, n !== myself {
                    if !g.flags.isDisjoint(with: downFlags) {
                        if addFailureReport(n, from: s) {
                            engine.log(.verbose, "Node \(s.name) reported node \(n.name) as not reachable.")
                        }
                        markFailingIfNeeded(n)
                    } else if removeFailureReport(n, from: s) {
                        engine.log(.verbose, "Node \(s.name) reported node \(n.name) is back online.")
                    }
                }
                if g.flags.isDisjoint(with: downFlags) && n.pingSent == 0
                    && n.liveFailReports(now: t, nodeTimeout: nodeTimeout) == 0 {
                    let pong = Int64(g.pongReceived) * 1000
                    if pong <= t + 500 && pong > n.pongReceived { n.pongReceived = pong }
                }
                if !n.flags.isDisjoint(with: downFlags) && !g.flags.contains(.noaddr) && g.flags.isDisjoint(with: downFlags),
                   let ip = Cluster.normalizeIP(g.ip), ip != n.ip || n.port != g.port || n.cport != g.cport {
                    if let l = n.link { freeLink(l) }
                    n.ip = ip
                    n.port = g.port
                    n.pport = g.pport
                    n.cport = g.cport
                    n.flags.remove(.noaddr)
                }
            } else if sender != nil && !g.flags.contains(.noaddr) && !blacklistContains(g.name),
                      let ip = Cluster.normalizeIP(g.ip) {
                // A node we did not know: trusted because a known node vouches for it.
                let n = ClusterNode(name: g.name, flags: g.flags.subtracting([.myself]), now: t)
                n.ip = ip
                n.port = g.port
                n.pport = g.pport
                n.cport = g.cport
                addNode(n)
            }
        }
    }

    @discardableResult
    func addFailureReport(_ n: ClusterNode, from reporter: ClusterNode) -> Bool {
        if let i = n.failReports.firstIndex(where: { $0.reporter === reporter }) {
            n.failReports[i].time = now
            return false
        }
        n.failReports.append((reporter, now))
        return true
    }

    @discardableResult
    func removeFailureReport(_ n: ClusterNode, from reporter: ClusterNode) -> Bool {
        _ = n.liveFailReports(now: now, nodeTimeout: nodeTimeout)
        guard let i = n.failReports.firstIndex(where: { $0.reporter === reporter }) else { return false }
        n.failReports.remove(at: i)
        return true
    }

    /// PFAIL becomes FAIL with reports from a majority of the slot-owning masters (counting
    /// myself when I am one); the FAIL is then broadcast.
    func markFailingIfNeeded(_ n: ClusterNode) {
        guard n.timedOut, !n.failed else { return }
        var failures = n.liveFailReports(now: now, nodeTimeout: nodeTimeout)
        if myself.isMaster { failures += 1 }
        guard failures >= size / 2 + 1 else { return }
        engine.log(.notice, "Marking node \(n.name) as failing (quorum reached).")
        n.flags.remove(.pfail)
        n.flags.insert(.fail)
        n.failTime = now
        sendFail(n.name)
        later([.updateState, .saveConfig])
    }

    /// Redis's clearNodeFailureIfNeeded: replicas and slotless masters at once; masters
    /// with slots only when nobody took them over for 2 x node timeout.
    func clearFailureIfNeeded(_ n: ClusterNode) {
        if n.isSlave || n.numSlots == 0 {
            engine.log(.notice, "Clear FAIL state for node \(n.name): \(n.isSlave ? "replica" : "master without slots") is reachable again.")
            n.flags.remove(.fail)
            later([.updateState, .saveConfig])
        }
        if n.isMaster && n.numSlots > 0 && now - n.failTime > nodeTimeout * 2 {
            engine.log(.notice, "Clear FAIL state for node \(n.name): is reachable again and nobody is serving its slots after some time.")
            n.flags.remove(.fail)
            later([.updateState, .saveConfig])
        }
    }

    /// Equal configEpochs between masters: the one with the smaller id moves on.
    func handleConfigEpochCollision(_ s: ClusterNode) {
        guard s.configEpoch == myself.configEpoch, s.isMaster, myself.isMaster else { return }
        guard Array(s.name.utf8).lexicographicallyPrecedes(Array(myself.name.utf8)) == false,
              s.name != myself.name else { return }
        currentEpoch += 1
        myself.configEpoch = currentEpoch
        if let err = saveConfig(fsync: true) {
            engine.log(.warning, "Fatal: can't update cluster config file: \(err)")
            exit(1)
        }
        engine.log(.verbose, "WARNING: configEpoch collision with node \(s.name). configEpoch set to \(myself.configEpoch)")
    }

    /// Redis's clusterUpdateSlotsConfigWith: `sender` claims `slots` at `epoch`.
    func updateSlotsConfig(with sender: ClusterNode, epoch: UInt64, slots: SlotBitmap) {
        if sender === myself {
            engine.log(.warning, "Discarding UPDATE message about myself.")
            return
        }
        let curMaster = myself.isMaster ? myself : myself.master
        var newMaster: ClusterNode? = nil
        var dirtySlots: [Int] = []
        var senderSlots = 0
        var migratedOurSlots = 0
        for j in 0..<ClusterSlot.count {
            if slots[j] {
                senderSlots += 1
                if slotOwner[j] === sender {
                    ownerNotClaiming[j] = false
                    continue
                }
                if importingFrom[j] != nil { continue }
                let unclaimed = slotOwner[j] == nil || ownerNotClaiming[j]
                if unclaimed || (slotOwner[j]?.configEpoch ?? 0) < epoch {
                    if slotOwner[j] === myself && engine.countKeysInSlot(j) > 0 { dirtySlots.append(j) }
                    if let cm = curMaster, slotOwner[j] === cm {
                        newMaster = sender
                        migratedOurSlots += 1
                    }
                    deleteSlot(j)
                    addSlot(sender, j)
                    ownerNotClaiming[j] = false
                    later([.saveConfig, .updateState, .fsyncConfig])
                }
            } else if slotOwner[j] === sender {
                ownerNotClaiming[j] = true
            }
        }
        if newMaster != nil, let cm = curMaster, cm.numSlots == 0,
           config.clusterAllowReplicaMigration || senderSlots == migratedOurSlots {
            engine.log(.warning, "Configuration change detected. Reconfiguring myself as a replica of \(sender.name)")
            setMaster(sender)
            later([.saveConfig, .updateState, .fsyncConfig])
        } else if let m = myself.master, let gm = m.master, gm !== myself {
            engine.log(.warning, "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster \(gm.name)")
            setMaster(gm)
            later([.saveConfig, .updateState, .fsyncConfig])
        } else if !dirtySlots.isEmpty {
            for j in dirtySlots { engine.deleteKeysInSlot(j) }
        }
    }

    // MARK: cron

    /// cluster-link-sendbuf-limit (Redis 7.0's clusterNodeCronFreeLinkOnBufferLimitReached):
    /// a link whose peer does not read what we send is freed (and counted) rather than
    /// growing without bound; the cron reconnects the outbound one.
    func freeLinksOverSendLimit(_ n: ClusterNode) {
        let limit = config.clusterLinkSendbufLimit
        guard limit > 0 else { return }
        for case let l? in [n.link, n.inboundLink] where UInt64(l.sendBufferAllocated) > limit {
            engine.log(.warning, "Freeing cluster link(\(l.inbound ? "from" : "to") node \(n.name), used memory: \(l.sendBufferAllocated)) due to exceeding send buffer memory limit.")
            freeLink(l)
            linksBufferLimitExceeded += 1
        }
    }

    /// INFO's mem_cluster_links.
    public var linksMemory: Int {
        var total = 0
        for n in nodes {
            if let l = n.link { total += l.memory }
            if let l = n.inboundLink { total += l.memory }
        }
        return total
    }

    /// Redis's clusterCron, ten times a second: handshake expiry, outbound links, pings,
    /// failure detection, the state.
    func busCron() {
        cronIteration += 1
        let handshakeTimeout = max(nodeTimeout, 1000)
        // Redis's clusterUpdateMyselfFlags: cluster-replica-no-failover shows (and travels)
        // as the nofailover flag.
        if myself.flags.contains(.nofailover) != config.clusterReplicaNoFailover {
            if config.clusterReplicaNoFailover { myself.flags.insert(.nofailover) } else { myself.flags.remove(.nofailover) }
            later([.saveConfig, .updateState])
        }
        if myself.hostname != config.clusterAnnounceHostname {
            myself.hostname = config.clusterAnnounceHostname
            later(.saveConfig)
        }
        for n in nodes {
            if n.isMyself || n.flags.contains(.noaddr) { continue }
            freeLinksOverSendLimit(n)
            if n.inHandshake && now - n.ctime > handshakeTimeout {
                deleteNode(n)
                continue
            }
            if n.link == nil, let connector = busConnector {
                let link = ClusterLink(cluster: self, inbound: false, node: n, now: now)
                n.link = link
                connector.connect(host: n.ip, port: n.cport, timeoutMs: max(nodeTimeout, 1000), link: link)
            }
        }
        // About once a second: ping the node with the oldest pong among 5 random ones.
        if cronIteration % 10 == 0 {
            var best: ClusterNode? = nil
            var g = SystemRandomNumberGenerator()
            for _ in 0..<5 {
                guard let n = nodes.randomElement(using: &g) else { break }
                if n.link == nil || n.pingSent != 0 || n.isMyself || n.inHandshake { continue }
                if best == nil || (best?.pongReceived ?? 0) > n.pongReceived { best = n }
            }
            if let b = best, let l = b.link { sendPing(l, .ping) }
        }
        var updateNeeded = false
        for n in nodes {
            let t = now
            if n.isMyself || n.flags.contains(.noaddr) || n.inHandshake { continue }
            let pingDelay = t - n.pingSent
            let dataDelay = t - n.dataReceived
            if let l = n.link, t - l.createTime > nodeTimeout, n.pingSent != 0,
               pingDelay > nodeTimeout / 2, dataDelay > nodeTimeout / 2 {
                freeLink(l)
            }
            if let l = n.link, n.pingSent == 0, t - n.pongReceived > nodeTimeout / 2 {
                sendPing(l, .ping)
                continue
            }
            // A master in a manual failover keeps its replica informed every tick.
            if manualFailover.end != 0, myself.isMaster, manualFailover.replica === n, let l = n.link {
                sendPing(l, .ping)
                continue
            }
            if n.pingSent == 0 { continue }
            if min(pingDelay, dataDelay) > nodeTimeout && n.flags.isDisjoint(with: [.pfail, .fail]) {
                engine.log(.debug, "*** NODE \(n.name) possibly failing")
                n.flags.insert(.pfail)
                updateNeeded = true
            }
        }
        // A replica whose replication was turned off reconnects to its master.
        if myself.isSlave, engine.repl.masterHost == nil, let m = myself.master, !m.flags.contains(.noaddr), !m.ip.isEmpty {
            engine.setMaster(host: m.ip, port: m.port)
        }
        manualFailoverCron()
        if myself.isSlave { handleReplicaFailover() }
        replicaMigrationCron()
        redirectBlockedClients()
        if updateNeeded || todo.contains(.updateState) || !stateOK { updateState() }
    }
}
