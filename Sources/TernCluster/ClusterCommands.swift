import TernConfig
import TernEngine
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// The CLUSTER command and ASKING/READONLY/READWRITE (Redis 7.0's clusterCommand and
// friends; ../shared/specs/cluster.md §5.4, §6). Error texts are Redis's, word for word.

extension Cluster {
    static let disabledError = "ERR This instance has cluster support disabled"

    /// Without cluster-enabled, every cluster command answers that support is disabled.
    /// CLUSTER stays a container of its subcommands, as in Redis: an unknown subcommand is
    /// refused as such, and COMMAND GETKEYS calls it an invalid command.
    public static func installDisabledCommands(_ engine: Engine) {
        let t = engine.commands
        for name in t.catalogSubcommands(of: "cluster") {
            t.register(name) { c, _ in c.error(disabledError) }
        }
        for name in ["asking", "readonly", "readwrite"] {
            t.register(name) { c, _ in c.error(disabledError) }
        }
    }

    func installCommands() {
        let t = engine.commands
        t.register("asking") { c, _ in
            c.flags.insert(.asking)
            c.out.ok()
        }
        t.register("readonly") { c, _ in
            c.flags.insert(.readonly)
            c.out.ok()
        }
        t.register("readwrite") { c, _ in
            c.flags.remove(.readonly)
            c.out.ok()
        }
        let subcommands: [(String, (Client, Args) -> Void)] = [
            ("info", { [unowned self] c, _ in c.out.verbatim(self.infoText) }),
            ("myid", { [unowned self] c, _ in c.out.bulk(self.myself.name) }),
            ("nodes", { [unowned self] c, _ in c.out.verbatim(self.describeNodes(skipHandshake: false)) }),
            ("slots", { [unowned self] c, _ in self.slotsReply(c) }),
            ("shards", { [unowned self] c, _ in self.shardsReply(c) }),
            ("links", { [unowned self] c, _ in self.linksReply(c) }),
            ("replicas", { [unowned self] c, a in self.replicasReply(c, a) }),
            ("slaves", { [unowned self] c, a in self.replicasReply(c, a) }),
            ("addslots", { [unowned self] c, a in self.slotsCommand(c, a, delete: false, ranges: false) }),
            ("delslots", { [unowned self] c, a in self.slotsCommand(c, a, delete: true, ranges: false) }),
            ("addslotsrange", { [unowned self] c, a in self.slotsCommand(c, a, delete: false, ranges: true) }),
            ("delslotsrange", { [unowned self] c, a in self.slotsCommand(c, a, delete: true, ranges: true) }),
            ("flushslots", { [unowned self] c, _ in
                guard (self.engine.database(0)?.count ?? 0) == 0 else {
                    c.error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
                    return
                }
                self.deleteNodeSlots(self.myself)
                self.later([.updateState, .saveConfig])
                c.out.ok()
            }),
            ("setslot", { [unowned self] c, a in self.setslot(c, a) }),
            ("keyslot", { c, a in c.out.integer(ClusterSlot.of(a[2])) }),
            ("countkeysinslot", { [unowned self] c, a in
                guard let slot = Numbers.parseInt(a[2]) else { c.error("ERR value is not an integer or out of range"); return }
                guard slot >= 0 && slot < ClusterSlot.count else { c.error("ERR Invalid slot"); return }
                c.out.integer(self.engine.countKeysInSlot(slot))
            }),
            ("getkeysinslot", { [unowned self] c, a in
                guard let slot = Numbers.parseInt(a[2]), let maxKeys = Numbers.parseInt(a[3]) else {
                    c.error("ERR value is not an integer or out of range")
                    return
                }
                guard slot >= 0 && slot < ClusterSlot.count && maxKeys >= 0 else {
                    c.error("ERR Invalid slot or number of keys")
                    return
                }
                let keys = self.engine.keysInSlot(slot, count: maxKeys)
                c.out.array(keys.count)
                for k in keys { c.out.bulk(k) }
            }),
            ("saveconfig", { [unowned self] c, _ in
                if let err = self.saveConfig(fsync: true) {
                    c.error("ERR error saving the cluster node config: \(err)")
                } else {
                    c.out.ok()
                }
            }),
            ("set-config-epoch", { [unowned self] c, a in
                guard let epoch = Numbers.parseInt(a[2]) else { c.error("ERR value is not an integer or out of range"); return }
                if epoch < 0 {
                    c.error("ERR Invalid config epoch specified: \(epoch)")
                } else if self.nodes.count > 1 {
                    c.error("ERR The user can assign a config epoch only when the node does not know any other node.")
                } else if self.myself.configEpoch != 0 {
                    c.error("ERR Node config epoch is already non-zero")
                } else {
                    self.myself.configEpoch = UInt64(epoch)
                    self.engine.log(.warning, "configEpoch set to \(epoch) via CLUSTER SET-CONFIG-EPOCH")
                    if self.currentEpoch < UInt64(epoch) { self.currentEpoch = UInt64(epoch) }
                    self.later([.updateState, .saveConfig])
                    c.out.ok()
                }
            }),
            ("bumpepoch", { [unowned self] c, _ in
                let bumped = self.bumpConfigEpochWithoutConsensus()
                c.out.simple("\(bumped ? "BUMPED" : "STILL") \(self.myself.configEpoch)")
            }),
            ("reset", { [unowned self] c, a in
                var hard = false
                if a.count == 3 {
                    if a.equals(2, "hard") {
                        hard = true
                    } else if !a.equals(2, "soft") {
                        c.syntaxError()
                        return
                    }
                } else if a.count > 3 {
                    Cluster.subcommandSyntaxError(c, a)
                    return
                }
                if self.myself.isMaster && c.db.count != 0 {
                    c.error("ERR CLUSTER RESET can't be called with master nodes containing keys")
                    return
                }
                self.reset(hard: hard)
                c.out.ok()
            }),
            ("count-failure-reports", { [unowned self] c, a in
                guard let n = self.lookup(a.bytes(2)) else { c.error("ERR Unknown node \(a.string(2))"); return }
                c.out.integer(n.liveFailReports(now: self.now, nodeTimeout: self.nodeTimeout))
            }),
            ("meet", { [unowned self] c, a in self.meet(c, a) }),
            ("forget", { [unowned self] c, a in
                guard let n = self.lookup(a.bytes(2)) else { c.error("ERR Unknown node \(a.string(2))"); return }
                if n === self.myself {
                    c.error("ERR I tried hard but I can't forget myself...")
                    return
                }
                if self.myself.isSlave && self.myself.master === n {
                    c.error("ERR Can't forget my master!")
                    return
                }
                self.blacklistAdd(n)
                self.deleteNode(n)
                self.later([.updateState, .saveConfig])
                c.out.ok()
            }),
            ("replicate", { [unowned self] c, a in
                guard let n = self.lookup(a.bytes(2)) else { c.error("ERR Unknown node \(a.string(2))"); return }
                if n === self.myself { c.error("ERR Can't replicate myself"); return }
                if n.isSlave { c.error("ERR I can only replicate a master, not a replica."); return }
                if self.myself.isMaster && (self.myself.numSlots != 0 || (self.engine.database(0)?.count ?? 0) != 0) {
                    c.error("ERR To set a master the node must be empty and without assigned slots.")
                    return
                }
                self.setMaster(n)
                self.later([.updateState, .saveConfig])
                c.out.ok()
            }),
            ("failover", { [unowned self] c, a in self.failoverCommand(c, a) }),
            ("help", { c, _ in
                c.out.array(Cluster.helpLines.count)
                for l in Cluster.helpLines { c.out.simple(l) }
            }),
        ]
        for (name, handler) in subcommands { t.register("cluster|" + name, handler) }
    }

    /// Redis's addReplySubcommandSyntaxError, for argument counts the command table allows
    /// but the subcommand does not.
    static func subcommandSyntaxError(_ c: Client, _ a: Args) {
        c.error("ERR unknown subcommand or wrong number of arguments for '\(String(a.string(1).prefix(128)))'. Try CLUSTER HELP.")
    }

    // MARK: INFO

    var infoText: String {
        var assigned = 0, ok = 0, pfail = 0, fail = 0
        for n in slotOwner {
            guard let n else { continue }
            assigned += 1
            if n.failed { fail += 1 } else if n.timedOut { pfail += 1 } else { ok += 1 }
        }
        var s = "cluster_state:\(stateOK ? "ok" : "fail")\r\n"
        s += "cluster_slots_assigned:\(assigned)\r\ncluster_slots_ok:\(ok)\r\n"
        s += "cluster_slots_pfail:\(pfail)\r\ncluster_slots_fail:\(fail)\r\n"
        s += "cluster_known_nodes:\(nodes.count)\r\ncluster_size:\(size)\r\n"
        s += "cluster_current_epoch:\(currentEpoch)\r\ncluster_my_epoch:\(myself.shownEpoch)\r\n"
        for (counters, word) in [(messagesSent, "sent"), (messagesReceived, "received")] {
            var total = 0
            for t in ClusterMessageType.allCases where counters[t.rawValue] != 0 {
                total += counters[t.rawValue]
                s += "cluster_stats_messages_\(t.statName)_\(word):\(counters[t.rawValue])\r\n"
            }
            s += "cluster_stats_messages_\(word):\(total)\r\n"
        }
        s += "total_cluster_links_buffer_limit_exceeded:\(linksBufferLimitExceeded)\r\n"
        return s
    }

    // MARK: SLOTS / SHARDS / LINKS / REPLICAS

    /// The endpoint clients are told to use (cluster-preferred-endpoint-type).
    func preferredEndpoint(_ n: ClusterNode) -> String {
        switch config.clusterPreferredEndpointType {
        case "hostname": return n.hostname.isEmpty ? "?" : n.hostname
        case "unknown-endpoint": return ""
        default: return n.ip
        }
    }

    func nodeReplyForSlots(_ c: Client, _ n: ClusterNode) {
        let type = config.clusterPreferredEndpointType
        c.out.array(4)
        if type == "unknown-endpoint" { c.out.null() } else { c.out.bulk(preferredEndpoint(n)) }
        c.out.integer(n.port)
        c.out.bulk(n.name)
        var extra: [(String, String)] = []
        if type != "ip" { extra.append(("ip", n.ip)) }
        if type != "hostname" && !n.hostname.isEmpty { extra.append(("hostname", n.hostname)) }
        c.out.map(extra.count)
        for (k, v) in extra {
            c.out.bulk(k)
            c.out.bulk(v)
        }
    }

    /// A replica CLUSTER SLOTS lists: not failed, with a known replication offset.
    func replicaAvailable(_ r: ClusterNode) -> Bool {
        if r.failed { return false }
        let offset = r.isMyself ? engine.replicaProcessedOffset : r.replOffset
        return offset != 0
    }

    func slotsReply(_ c: Client) {
        var runs: [(Int, Int, ClusterNode)] = []
        var j = 0
        while j < ClusterSlot.count {
            guard let n = slotOwner[j] else { j += 1; continue }
            var end = j
            while end + 1 < ClusterSlot.count && slotOwner[end + 1] === n { end += 1 }
            runs.append((j, end, n))
            j = end + 1
        }
        c.out.array(runs.count)
        for (start, end, n) in runs {
            let replicas = n.replicas.filter(replicaAvailable)
            c.out.array(3 + replicas.count)
            c.out.integer(start)
            c.out.integer(end)
            nodeReplyForSlots(c, n)
            for r in replicas { nodeReplyForSlots(c, r) }
        }
    }

    func shardsReply(_ c: Client) {
        let shards = nodes.filter { !$0.isSlave }
        c.out.array(shards.count)
        for n in shards {
            c.out.map(2)
            c.out.bulk("slots")
            var pairs: [Int] = []
            var j = 0
            while j < ClusterSlot.count {
                guard slotOwner[j] === n else { j += 1; continue }
                var end = j
                while end + 1 < ClusterSlot.count && slotOwner[end + 1] === n { end += 1 }
                pairs += [j, end]
                j = end + 1
            }
            c.out.array(pairs.count)
            for p in pairs { c.out.integer(p) }
            c.out.bulk("nodes")
            // Redis lists the master then its replicas; a node that is neither (handshake)
            // serves nobody's slots.
            let members: [ClusterNode] = n.isMaster ? [n] + n.replicas : []
            c.out.array(members.count)
            for m in members { shardNodeReply(c, m) }
        }
    }

    func shardNodeReply(_ c: Client, _ n: ClusterNode) {
        var fields: [(String, ShardValue)] = [("id", .text(n.name))]
        if n.port != 0 { fields.append(("port", .number(n.port))) }
        fields.append(("ip", .text(n.ip)))
        fields.append(("endpoint", .text(preferredEndpoint(n))))
        if !n.hostname.isEmpty { fields.append(("hostname", .text(n.hostname))) }
        let offset: Int64
        if n.isMyself {
            offset = n.isSlave ? engine.replicaProcessedOffset : engine.repl.masterReplOffset
        } else {
            offset = n.replOffset
        }
        fields.append(("role", .text(n.isSlave ? "replica" : "master")))
        fields.append(("replication-offset", .number(Int(offset))))
        let health = n.failed ? "fail" : (n.isSlave && offset == 0 ? "loading" : "online")
        fields.append(("health", .text(health)))
        c.out.map(fields.count)
        for (k, v) in fields {
            c.out.bulk(k)
            switch v {
            case .text(let s): c.out.bulk(s)
            case .number(let i): c.out.integer(i)
            }
        }
    }

    enum ShardValue {
        case text(String)
        case number(Int)
    }

    func linksReply(_ c: Client) {
        var links: [ClusterLink] = []
        for n in nodes where !n.isMyself {
            if let l = n.link { links.append(l) }
            if let l = n.inboundLink { links.append(l) }
        }
        c.out.array(links.count)
        for l in links {
            c.out.map(6)
            c.out.bulk("direction")
            c.out.bulk(l.inbound ? "from" : "to")
            c.out.bulk("node")
            c.out.bulk(l.node?.name ?? "")
            c.out.bulk("create-time")
            c.out.integer(Int(l.createTime))
            c.out.bulk("events")
            c.out.bulk(l.sendBufferUsed > 0 ? "rw" : "r")
            c.out.bulk("send-buffer-allocated")
            c.out.integer(l.sendBufferAllocated)
            c.out.bulk("send-buffer-used")
            c.out.integer(l.sendBufferUsed)
        }
    }

    func replicasReply(_ c: Client, _ a: Args) {
        guard let n = lookup(a.bytes(2)) else { c.error("ERR Unknown node \(a.string(2))"); return }
        if n.isSlave { c.error("ERR The specified node is not a master"); return }
        c.out.array(n.replicas.count)
        for r in n.replicas { c.out.bulk(describe(r)) }
    }

    // MARK: slot assignment

    /// `Invalid or out of range slot` for anything but an integer in 0...16383.
    func slotArgument(_ c: Client, _ a: Args, _ i: Int) -> Int? {
        guard let s = Numbers.parseInt(a[i]), s >= 0 && s < ClusterSlot.count else {
            c.error("ERR Invalid or out of range slot")
            return nil
        }
        return s
    }

    /// ADDSLOTS / DELSLOTS / ADDSLOTSRANGE / DELSLOTSRANGE: every argument checked before
    /// anything changes (all or nothing).
    func slotsCommand(_ c: Client, _ a: Args, delete: Bool, ranges: Bool) {
        var ranged: [(Int, Int)] = []
        if ranges {
            if a.count % 2 == 1 {
                c.wrongArity("cluster|" + a.lowercased(1))
                return
            }
            var j = 2
            while j < a.count {
                guard let s = slotArgument(c, a, j), let e = slotArgument(c, a, j + 1) else { return }
                if s > e {
                    c.error("ERR start slot number \(s) is greater than end slot number \(e)")
                    return
                }
                ranged.append((s, e))
                j += 2
            }
        } else {
            for j in 2..<a.count { guard slotArgument(c, a, j) != nil else { return } }
            for j in 2..<a.count {
                if let s = Numbers.parseInt(a[j]) { ranged.append((s, s)) }
            }
        }
        var chosen = [Bool](repeating: false, count: ClusterSlot.count)
        for (s, e) in ranged {
            for slot in s...e {
                if delete && slotOwner[slot] == nil {
                    c.error("ERR Slot \(slot) is already unassigned")
                    return
                } else if !delete && slotOwner[slot] != nil {
                    c.error("ERR Slot \(slot) is already busy")
                    return
                }
                if chosen[slot] {
                    c.error("ERR Slot \(slot) specified multiple times")
                    return
                }
                chosen[slot] = true
            }
        }
        for slot in 0..<ClusterSlot.count where chosen[slot] {
            // Owning the slot ends an import of it.
            importingFrom[slot] = nil
            if delete { deleteSlot(slot) } else { addSlot(myself, slot) }
        }
        later([.updateState, .saveConfig])
        c.out.ok()
    }

    /// CLUSTER SETSLOT <slot> IMPORTING|MIGRATING|NODE <id> | STABLE.
    func setslot(_ c: Client, _ a: Args) {
        if myself.isSlave {
            c.error("ERR Please use SETSLOT only with masters.")
            return
        }
        guard let slot = slotArgument(c, a, 2) else { return }
        let action = a.lowercased(3)
        if action == "migrating" && a.count == 5 {
            if slotOwner[slot] !== myself {
                c.error("ERR I'm not the owner of hash slot \(slot)")
                return
            }
            guard let n = lookup(a.bytes(4)) else { c.error("ERR I don't know about node \(a.string(4))"); return }
            if n.isSlave { c.error("ERR Target node is not a master"); return }
            migratingTo[slot] = n
        } else if action == "importing" && a.count == 5 {
            if slotOwner[slot] === myself {
                c.error("ERR I'm already the owner of hash slot \(slot)")
                return
            }
            guard let n = lookup(a.bytes(4)) else { c.error("ERR I don't know about node \(a.string(4))"); return }
            if n.isSlave { c.error("ERR Target node is not a master"); return }
            importingFrom[slot] = n
        } else if action == "stable" && a.count == 4 {
            importingFrom[slot] = nil
            migratingTo[slot] = nil
        } else if action == "node" && a.count == 5 {
            guard let n = lookup(a.bytes(4)) else { c.error("ERR Unknown node \(a.string(4))"); return }
            if n.isSlave { c.error("ERR Target node is not a master"); return }
            let keys = engine.countKeysInSlot(slot)
            if slotOwner[slot] === myself && n !== myself && keys != 0 {
                c.error("ERR Can't assign hashslot \(slot) to a different node while I still hold keys for this hash slot.")
                return
            }
            // An emptied migrating slot handed to its new owner is no longer migrating.
            if keys == 0 && migratingTo[slot] != nil { migratingTo[slot] = nil }
            let wasMine = slotOwner[slot] === myself
            deleteSlot(slot)
            addSlot(n, slot)
            if wasMine && n !== myself && myself.numSlots == 0 && config.clusterAllowReplicaMigration {
                engine.log(.warning, "Configuration change detected. Reconfiguring myself as a replica of \(n.name)")
                setMaster(n)
                later([.saveConfig, .updateState, .fsyncConfig])
            }
            if n === myself && importingFrom[slot] != nil {
                // A manual migration ends here: a new epoch lets the cluster adopt it.
                if bumpConfigEpochWithoutConsensus() {
                    engine.log(.warning, "configEpoch updated after importing slot \(slot)")
                }
                importingFrom[slot] = nil
                broadcastPong()
            }
        } else {
            c.error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
            return
        }
        later([.saveConfig, .updateState])
        c.out.ok()
    }

    /// Tells every linked node our new configuration at once. The bus is not running yet
    /// in this build (no links), so there is nobody to tell.
    func broadcastPong() {}

    // MARK: MEET

    func meet(_ c: Client, _ a: Args) {
        if a.count > 5 {
            Cluster.subcommandSyntaxError(c, a)
            return
        }
        guard let port = Numbers.parseInt(a[3]) else {
            c.error("ERR Invalid TCP base port specified: \(a.string(3))")
            return
        }
        var cport = port + 10000
        if a.count == 5 {
            guard let p = Numbers.parseInt(a[4]) else {
                c.error("ERR Invalid TCP bus port specified: \(a.string(4))")
                return
            }
            cport = p
        }
        let ip = a.string(2)
        guard let normalized = Cluster.normalizeIP(ip), port > 0 && port <= 65535 && cport > 0 && cport <= 65535 else {
            c.error("ERR Invalid node address specified: \(ip):\(a.string(3))")
            return
        }
        startHandshake(ip: normalized, port: port, cport: cport)
        c.out.ok()
    }

    /// A literal IPv4/IPv6 address in its canonical text form; nil for anything else.
    static func normalizeIP(_ ip: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET, &v4, &buf, socklen_t(buf.count)) != nil else { return nil }
            return String(cString: buf)
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 {
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &v6, &buf, socklen_t(buf.count)) != nil else { return nil }
            return String(cString: buf)
        }
        return nil
    }

    /// A placeholder node with a random id that the bus greets with MEET; nothing happens
    /// when a handshake with the same address is already running.
    func startHandshake(ip: String, port: Int, cport: Int) {
        if nodes.contains(where: { $0.inHandshake && $0.ip == ip && $0.port == port && $0.cport == cport }) { return }
        let n = ClusterNode(name: randomNodeID(), flags: [.handshake, .meet], now: now)
        n.ip = ip
        n.port = port
        n.cport = cport
        addNode(n)
    }

    static let helpLines = [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "BUMPEPOCH",
        "    Advance the cluster config epoch.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote current replica node to being a master.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "FLUSHSLOTS",
        "    Delete current node own slots information.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Set slot state.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SAVECONFIG",
        "    Force saving cluster configuration on disk.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes of a link",
        "HELP",
        "    Prints this help.",
    ]
}
