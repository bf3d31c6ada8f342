import TernConfig
import TernEngine
import TernProtocol
import TernStore

// What a sentinel answers its clients: the SENTINEL command and the sentinel versions of
// INFO, ROLE and PUBLISH (Redis 7.0's sentinelCommand and friends; spec §8.10-8.11).

extension Sentinel {
    /// The commands a sentinel has (Redis's commands flagged `sentinel`); any other is unknown.
    static let commandNames: Set<String> = [
        "acl", "auth", "client", "command", "hello", "info", "ping", "psubscribe", "publish",
        "punsubscribe", "role", "sentinel", "shutdown", "subscribe", "unsubscribe",
    ]

    func installCommands() {
        let t = engine.commands
        t.keepOnly(Sentinel.commandNames)
        t.register("info") { [unowned self] c, a in self.info(c, a) }
        t.register("role") { [unowned self] c, _ in
            c.out.array(2)
            c.out.bulk("sentinel")
            c.out.array(self.masters.count)
            for m in self.masters { c.out.bulk(m.name) }
        }
        t.register("publish") { [unowned self] c, a in
            guard a.string(1) == Sentinel.helloChannel else {
                c.error("ERR Only HELLO messages are accepted by Sentinel instances.")
                return
            }
            self.processHello(a.string(2))
            c.out.integer(1)
        }
        let subcommands: [(String, (Client, Args) -> Void)] = [
            ("masters", { [unowned self] c, _ in
                c.out.array(self.masters.count)
                for m in self.masters { self.describe(c, m) }
            }),
            ("master", { [unowned self] c, a in
                guard let m = self.masterOrReply(c, a.string(2)) else { return }
                self.describe(c, m)
            }),
            ("replicas", { [unowned self] c, a in self.replicasReply(c, a) }),
            ("slaves", { [unowned self] c, a in self.replicasReply(c, a) }),
            ("sentinels", { [unowned self] c, a in
                guard let m = self.masterOrReply(c, a.string(2)) else { return }
                c.out.array(m.sentinels.count)
                for s in m.sentinels { self.describe(c, s) }
            }),
            ("get-master-addr-by-name", { [unowned self] c, a in
                guard let m = self.master(named: a.string(2)) else { c.out.nullArray(); return }
                let addr = m.currentAddress
                c.out.array(2)
                c.out.bulk(self.shown(addr))
                c.out.bulk("\(addr.port)")
            }),
            ("myid", { [unowned self] c, _ in c.out.bulk(self.myid) }),
            ("ckquorum", { [unowned self] c, a in self.ckquorum(c, a) }),
            ("failover", { [unowned self] c, a in self.failoverCommand(c, a) }),
            ("reset", { [unowned self] c, a in
                var count = 0
                let pattern = a.bytes(2)
                for m in self.masters {
                    var name = Array(m.name.utf8)
                    let hit = pattern.withUnsafeBytes { p in name.withUnsafeMutableBytes { Glob.match(p, UnsafeRawBufferPointer($0)) } }
                    if hit {
                        self.resetMaster(m, dropSentinels: true, generateEvent: true)
                        count += 1
                    }
                }
                if count > 0 { self.flushConfig() }
                c.out.integer(count)
            }),
            ("flushconfig", { [unowned self] c, _ in
                if self.flushConfig() { c.out.ok() } else { c.error("ERR Failed to save config file. Check server logs.") }
            }),
            ("monitor", { [unowned self] c, a in self.monitorCommand(c, a) }),
            ("remove", { [unowned self] c, a in
                guard let m = self.masterOrReply(c, a.string(2)) else { return }
                self.event(.warning, "-monitor", m, "%@")
                self.resetMaster(m, dropSentinels: true, generateEvent: false)
                self.masters.removeAll { $0 === m }
                self.flushConfig()
                c.out.ok()
            }),
            ("set", { [unowned self] c, a in self.setCommand(c, a) }),
            ("info-cache", { [unowned self] c, a in self.infoCache(c, a) }),
            ("is-master-down-by-addr", { [unowned self] c, a in self.isMasterDownByAddr(c, a) }),
            ("config", { [unowned self] c, a in self.configCommand(c, a) }),
            ("simulate-failure", { [unowned self] c, a in self.simulateFailureCommand(c, a) }),
            ("pending-scripts", { [unowned self] c, _ in self.pendingScripts(c) }),
            ("debug", { [unowned self] c, a in self.debugCommand(c, a) }),
            ("help", { c, _ in
                c.out.array(Sentinel.helpLines.count)
                for l in Sentinel.helpLines { c.out.simple(l) }
            }),
        ]
        for (name, handler) in subcommands { t.register("sentinel|" + name, handler) }
    }

    func masterOrReply(_ c: Client, _ name: String) -> SentinelInstance? {
        if let m = master(named: name) { return m }
        c.error("ERR No such master with that name")
        return nil
    }

    func replicasReply(_ c: Client, _ a: Args) {
        guard let m = masterOrReply(c, a.string(2)) else { return }
        let shown = m.replicas.filter { $0.replicaAnnounced }
        c.out.array(shown.count)
        for r in shown { describe(c, r) }
    }

    // MARK: instance description

    func describe(_ c: Client, _ ri: SentinelInstance) {
        let t = now
        var fields: [(String, String)] = [
            ("name", ri.name), ("ip", shown(ri.address)), ("port", "\(ri.address.port)"), ("runid", ri.runID ?? ""),
        ]
        var flags = ri.flags
        if ri.link.disconnected { flags.insert(.disconnected) } else { flags.remove(.disconnected) }
        fields.append(("flags", InstanceFlags.names.filter { flags.contains($0.0) }.map { $0.1 }.joined(separator: ",")))
        fields.append(("link-pending-commands", "\(ri.link.pendingCommands)"))
        fields.append(("link-refcount", "\(ri.link.refcount)"))
        if ri.failoverState != .none { fields.append(("failover-state", ri.failoverState.name)) }
        fields.append(("last-ping-sent", "\(ri.link.pendingPingSince != 0 ? t - ri.link.pendingPingSince : 0)"))
        fields.append(("last-ok-ping-reply", "\(t - ri.link.lastAvailable)"))
        fields.append(("last-ping-reply", "\(t - ri.link.lastPong)"))
        if ri.flags.contains(.sDown) { fields.append(("s-down-time", "\(t - ri.sDownSince)")) }
        if ri.flags.contains(.oDown) { fields.append(("o-down-time", "\(t - ri.oDownSince)")) }
        fields.append(("down-after-milliseconds", "\(ri.downAfterMs)"))
        if ri.isMaster || ri.isReplica {
            fields.append(("info-refresh", "\(ri.infoRefresh != 0 ? t - ri.infoRefresh : 0)"))
            fields.append(("role-reported", ri.roleReported == .master ? "master" : "slave"))
            fields.append(("role-reported-time", "\(t - ri.roleReportedTime)"))
        }
        if ri.isMaster {
            fields += [
                ("config-epoch", "\(ri.configEpoch)"), ("num-slaves", "\(ri.replicas.count)"),
                ("num-other-sentinels", "\(ri.sentinels.count)"), ("quorum", "\(ri.quorum)"),
                ("failover-timeout", "\(ri.failoverTimeout)"), ("parallel-syncs", "\(ri.parallelSyncs)"),
            ]
            if let s = ri.notificationScript { fields.append(("notification-script", s)) }
            if let s = ri.clientReconfigScript { fields.append(("client-reconfig-script", s)) }
        }
        if ri.isReplica {
            fields += [
                ("master-link-down-time", "\(ri.masterLinkDownTime)"),
                ("master-link-status", ri.replicaMasterLinkUp ? "ok" : "err"),
                ("master-host", ri.replicaMasterHost ?? "?"), ("master-port", "\(ri.replicaMasterPort)"),
                ("slave-priority", "\(ri.replicaPriority)"), ("slave-repl-offset", "\(ri.replicaReplOffset)"),
                ("replica-announced", ri.replicaAnnounced ? "1" : "0"),
            ]
        }
        if ri.isSentinel {
            fields += [
                ("last-hello-message", "\(t - ri.lastHelloTime)"), ("voted-leader", ri.leader ?? "?"),
                ("voted-leader-epoch", "\(ri.leaderEpoch)"),
            ]
        }
        c.out.map(fields.count)
        for (k, v) in fields {
            c.out.bulk(k)
            c.out.bulk(v)
        }
    }

    // MARK: subcommands

    func ckquorum(_ c: Client, _ a: Args) {
        guard let m = masterOrReply(c, a.string(2)) else { return }
        let voters = m.sentinels.count + 1
        var usable = 1
        for s in m.sentinels where s.flags.intersection([.sDown, .oDown]).isEmpty { usable += 1 }
        let noQuorum = usable < m.quorum
        let noAuth = usable < voters / 2 + 1
        if !noQuorum && !noAuth {
            c.out.simple("OK \(usable) usable Sentinels. Quorum and failover authorization can be reached")
            return
        }
        var e = "NOQUORUM \(usable) usable Sentinels. "
        if noQuorum { e += "Not enough available Sentinels to reach the specified quorum for this master" }
        if noAuth {
            if noQuorum { e += ". " }
            e += "Not enough available Sentinels to reach the majority and authorize a failover"
        }
        c.error(e)
    }

    func failoverCommand(_ c: Client, _ a: Args) {
        guard let m = masterOrReply(c, a.string(2)) else { return }
        if m.flags.contains(.failoverInProgress) {
            c.error("INPROG Failover already in progress")
            return
        }
        if selectReplica(m) == nil {
            c.error("NOGOODSLAVE No suitable replica to promote")
            return
        }
        engine.log(.warning, "Executing user requested FAILOVER of '\(m.name)'")
        startFailover(m)
        m.flags.insert(.forceFailover)
        c.out.ok()
    }

    func monitorCommand(_ c: Client, _ a: Args) {
        guard let quorum = Int(a.string(5)) else { c.error("ERR Invalid quorum"); return }
        guard let port = Int(a.string(4)) else { c.error("ERR Invalid port"); return }
        guard quorum > 0 else { c.error("ERR Quorum must be 1 or greater."); return }
        let name = a.string(2), host = a.string(3)
        guard resolve(host) != nil else { c.error("ERR Invalid IP address or hostname specified"); return }
        guard port >= 0 && port <= 65535 else { c.error("ERR Invalid port number."); return }
        guard master(named: name) == nil else { c.error("ERR Duplicate master name."); return }
        _ = createMaster(name: name, host: host, portText: "\(port)", quorum: quorum)
        flushConfig()
        if let m = master(named: name) { event(.warning, "+monitor", m, "%@ quorum \(quorum)") }
        c.out.ok()
    }

    func setCommand(_ c: Client, _ a: Args) {
        guard let m = masterOrReply(c, a.string(2)) else { return }
        var changes = 0
        var j = 3
        func positive(_ i: Int, allowZero: Bool = false) -> Int64? {
            guard let v = Int64(a.string(i)), allowZero ? v >= 0 : v > 0 else { return nil }
            return v
        }
        while j < a.count {
            let option = a.string(j)
            let lower = option.lowercased()
            let moreArgs = a.count - 1 - j
            let start = j
            var redacted = false
            func bad(_ i: Int) {
                c.error("ERR Invalid argument '\(a.string(i))' for SENTINEL SET '\(option)'")
                if changes > 0 { flushConfig() }
            }
            switch lower {
            case "down-after-milliseconds" where moreArgs > 0:
                j += 1
                guard let v = positive(j) else { bad(j); return }
                setDownAfter(m, v)
            case "failover-timeout" where moreArgs > 0:
                j += 1
                guard let v = positive(j) else { bad(j); return }
                m.failoverTimeout = v
            case "parallel-syncs" where moreArgs > 0:
                j += 1
                guard let v = positive(j) else { bad(j); return }
                m.parallelSyncs = Int(v)
            case "quorum" where moreArgs > 0:
                j += 1
                guard let v = positive(j) else { bad(j); return }
                m.quorum = Int(v)
            case "master-reboot-down-after-period" where moreArgs > 0:
                j += 1
                guard let v = positive(j, allowZero: true) else { bad(j); return }
                setRebootPeriod(m, v)
            case "notification-script" where moreArgs > 0, "client-reconfig-script" where moreArgs > 0:
                j += 1
                let path = a.string(j)
                if denyScriptsReconfig {
                    c.error("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration")
                    if changes > 0 { flushConfig() }
                    return
                }
                if !path.isEmpty && access(path, X_OK) == -1 {
                    c.error(lower == "notification-script" ? "ERR Notification script seems non existing or non executable"
                            : "ERR Client reconfiguration script seems non existing or non executable")
                    if changes > 0 { flushConfig() }
                    return
                }
                if lower == "notification-script" { m.notificationScript = path.isEmpty ? nil : path }
                else { m.clientReconfigScript = path.isEmpty ? nil : path }
            case "auth-pass" where moreArgs > 0, "auth-user" where moreArgs > 0:
                j += 1
                let v = a.string(j)
                if lower == "auth-pass" { m.authPass = v.isEmpty ? nil : v } else { m.authUser = v.isEmpty ? nil : v }
                // Reconnect with the new credentials.
                m.link.closeAll()
                for r in m.replicas { r.link.closeAll() }
                redacted = lower == "auth-pass"
            case "rename-command" where moreArgs > 1:
                let from = a.string(j + 1), to = a.string(j + 2)
                j += 2
                m.renamedCommands.removeAll { $0.0.lowercased() == from.lowercased() }
                if from.lowercased() != to.lowercased() { m.renamedCommands.append((from, to)) }
                m.link.closeAll()
                for r in m.replicas { r.link.closeAll() }
            default:
                c.error("ERR Unknown option or number of arguments for SENTINEL SET '\(option)'")
                if changes > 0 { flushConfig() }
                return
            }
            changes += 1
            let shown = (start + 1...j).map { redacted ? "******" : a.string($0) }
            event(.warning, "+set", m, "%@ \(option) " + shown.joined(separator: " "))
            j += 1
        }
        if changes > 0 { flushConfig() }
        c.out.ok()
    }

    func infoCache(_ c: Client, _ a: Args) {
        var wanted: [SentinelInstance] = []
        for i in 2..<a.count {
            if let m = master(named: a.string(i)), !wanted.contains(where: { $0 === m }) { wanted.append(m) }
        }
        let t = now
        c.out.array(wanted.count * 2)
        for m in wanted {
            c.out.bulk(m.name)
            c.out.array(m.replicas.count + 1)
            // Replicas' ages are measured from the master's refresh (a Redis 7.0 quirk).
            let age = m.infoRefresh != 0 ? Int(t - m.infoRefresh) : 0
            for ri in [m] + m.replicas {
                c.out.array(2)
                c.out.integer(ri === m ? age : (m.infoRefresh != 0 ? Int(t - ri.infoRefresh) : 0))
                if let info = ri.info { c.out.bulk(info) } else { c.out.null() }
            }
        }
    }

    func isMasterDownByAddr(_ c: Client, _ a: Args) {
        guard let port = Int(a.string(3)), let reqEpoch = Int64(a.string(4)) else {
            c.error("ERR value is not an integer or out of range")
            return
        }
        let host = a.string(2), runid = a.string(5)
        let m = masters.first { matches($0.address, host, port) }
        let down = !tilt && (m?.flags.contains(.sDown) ?? false)
        var leader: String?
        var leaderEpoch: UInt64 = 0
        if let m, runid != "*" {
            (leader, leaderEpoch) = voteLeader(m, epoch: UInt64(max(0, reqEpoch)), runid: runid)
        }
        c.out.array(3)
        c.out.integer(down ? 1 : 0)
        c.out.bulk(leader ?? "*")
        c.out.integer(Int(truncatingIfNeeded: leaderEpoch))
    }

    func configCommand(_ c: Client, _ a: Args) {
        let sub = a.count > 2 ? a.lowercased(2) : ""
        if sub == "get" && a.count == 4 {
            let pattern = a.bytes(3)
            var values: [(String, String)] = [
                ("resolve-hostnames", resolveHostnames ? "yes" : "no"),
                ("announce-hostnames", announceHostnames ? "yes" : "no"),
                ("announce-ip", announceIP), ("announce-port", "\(announcePort)"),
                ("sentinel-user", sentinelUser ?? ""), ("sentinel-pass", sentinelPass ?? ""),
            ]
            values = values.filter { k, _ in
                var name = Array(k.utf8)
                return pattern.withUnsafeBytes { p in name.withUnsafeMutableBytes { Glob.match(p, UnsafeRawBufferPointer($0), nocase: true) } }
            }
            c.out.map(values.count)
            for (k, v) in values { c.out.bulk(k); c.out.bulk(v) }
            return
        }
        guard sub == "set" && a.count == 5 else {
            c.error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")
            return
        }
        let param = a.string(3), value = a.string(4)
        func invalid() { c.error("ERR Invalid value '\(value)' to SENTINEL CONFIG SET '\(param)'") }
        switch param.lowercased() {
        case "resolve-hostnames":
            guard let b = yesNo(value) else { invalid(); return }
            resolveHostnames = b
        case "announce-hostnames":
            guard let b = yesNo(value) else { invalid(); return }
            announceHostnames = b
        case "announce-ip":
            announceIP = value
        case "announce-port":
            guard let p = Int(value), p >= 0, p <= 65535 else { invalid(); return }
            announcePort = p
        case "sentinel-user":
            sentinelUser = value.isEmpty ? nil : value
        case "sentinel-pass":
            sentinelPass = value.isEmpty ? nil : value
        default:
            c.error("ERR Invalid argument '\(param)' to SENTINEL CONFIG SET")
            return
        }
        flushConfig()
        c.out.ok()
    }

    func simulateFailureCommand(_ c: Client, _ a: Args) {
        var flags: UInt = 0
        for i in 2..<max(2, a.count) {
            switch a.lowercased(i) {
            case "crash-after-election": flags |= Sentinel.crashAfterElection
            case "crash-after-promotion": flags |= Sentinel.crashAfterPromotion
            case "help":
                c.out.array(2)
                c.out.bulk("crash-after-election")
                c.out.bulk("crash-after-promotion")
                return
            default:
                c.error("ERR Unknown failure simulation specified")
                return
            }
        }
        simulateFailure = flags
        c.out.ok()
    }

    var debugParameters: [(String, ReferenceWritableKeyPath<Sentinel, Int64>)] {
        [("INFO-PERIOD", \.infoPeriod), ("PING-PERIOD", \.pingPeriod), ("ASK-PERIOD", \.askPeriod),
         ("PUBLISH-PERIOD", \.publishPeriod), ("DEFAULT-DOWN-AFTER", \.defaultDownAfter),
         ("DEFAULT-FAILOVER-TIMEOUT", \.defaultFailoverTimeout), ("TILT-TRIGGER", \.tiltTrigger),
         ("TILT-PERIOD", \.tiltPeriod), ("SLAVE-RECONF-TIMEOUT", \.replicaReconfTimeout),
         ("MIN-LINK-RECONNECT-PERIOD", \.minLinkReconnectPeriod), ("ELECTION-TIMEOUT", \.electionTimeout),
         ("SCRIPT-MAX-RUNTIME", \.scriptMaxRuntime), ("SCRIPT-RETRY-DELAY", \.scriptRetryDelay)]
    }

    func debugCommand(_ c: Client, _ a: Args) {
        let params = debugParameters
        if a.count == 2 {
            c.out.map(params.count)
            for (name, kp) in params {
                c.out.bulk(name)
                c.out.bulk("\(self[keyPath: kp])")
            }
            return
        }
        var j = 2
        var updates: [(ReferenceWritableKeyPath<Sentinel, Int64>, Int64)] = []
        while j < a.count {
            let name = a.string(j)
            guard j + 1 < a.count, let p = params.first(where: { $0.0 == name.uppercased() }) else {
                c.error("ERR Unknown option or number of arguments for SENTINEL DEBUG '\(name)'")
                return
            }
            guard let v = Int64(a.string(j + 1)), v > 0 else {
                c.error("ERR Invalid argument '\(a.string(j + 1))' for SENTINEL DEBUG '\(name)'")
                return
            }
            updates.append((p.1, v))
            j += 2
        }
        for (kp, v) in updates { self[keyPath: kp] = v }
        c.out.ok()
    }

    func pendingScripts(_ c: Client) {
        let t = now
        c.out.array(scripts.count)
        for job in scripts {
            c.out.map(5)
            c.out.bulk("argv")
            c.out.array(job.argv.count)
            for a in job.argv { c.out.bulk(a) }
            c.out.bulk("flags")
            c.out.bulk(job.running ? "running" : "scheduled")
            c.out.bulk("pid")
            c.out.bulk("\(job.pid)")
            if job.running {
                c.out.bulk("run-time")
                c.out.bulk("\(t - job.startTime)")
            } else {
                c.out.bulk("run-delay")
                c.out.bulk("\(job.startTime != 0 ? max(0, job.startTime - t) : 0)")
            }
            c.out.bulk("retry-num")
            c.out.bulk("\(job.retryNum)")
        }
    }

    // MARK: INFO

    func info(_ c: Client, _ a: Args) {
        let base = ["server", "clients", "stats", "cpu"]
        var wanted = Set<String>()
        var withSentinel = false
        if a.count == 1 {
            wanted = Set(base)
            withSentinel = true
        } else {
            for i in 1..<a.count {
                let s = a.lowercased(i)
                switch s {
                case "default", "all", "everything":
                    wanted.formUnion(base)
                    withSentinel = true
                case "sentinel": withSentinel = true
                default: if base.contains(s) { wanted.insert(s) }
                }
            }
        }
        var text = InfoCommand.render(engine, wanted)
        if withSentinel {
            if !text.isEmpty { text += "\r\n" }
            text += "# Sentinel\r\n"
            text += "sentinel_masters:\(masters.count)\r\n"
            text += "sentinel_tilt:\(tilt ? 1 : 0)\r\n"
            text += "sentinel_tilt_since_seconds:\(tilt ? (now - tiltStart) / 1000 : -1)\r\n"
            text += "sentinel_running_scripts:\(runningScripts)\r\n"
            text += "sentinel_scripts_queue_length:\(scripts.count)\r\n"
            text += "sentinel_simulate_failure_flags:\(simulateFailure)\r\n"
            for (i, m) in masters.enumerated() {
                let status = m.flags.contains(.oDown) ? "odown" : m.flags.contains(.sDown) ? "sdown" : "ok"
                text += "master\(i):name=\(m.name),status=\(status),address=\(shown(m.address)):\(m.address.port),"
                    + "slaves=\(m.replicas.count),sentinels=\(m.sentinels.count + 1)\r\n"
            }
        }
        c.out.verbatim(text)
    }

    static let helpLines = [
        "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CKQUORUM <master-name>",
        "    Check if the current Sentinel configuration is able to reach the quorum",
        "    needed to failover a master and the majority needed to authorize the",
        "    failover.",
        "CONFIG SET <param> <value>",
        "    Set a global Sentinel configuration parameter.",
        "CONFIG GET <param>",
        "    Get global Sentinel configuration parameter.",
        "DEBUG [<param> <value> ...]",
        "    Show a list of configurable time parameters and their values (milliseconds).",
        "    Or update current configurable parameters values (one or more).",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the master with that name.",
        "FAILOVER <master-name>",
        "    Manually failover a master node without asking for agreement from other",
        "    Sentinels",
        "FLUSHCONFIG",
        "    Force Sentinel to rewrite its configuration on disk, including the current",
        "    Sentinel state.",
        "INFO-CACHE <master-name>",
        "    Return last cached INFO output from masters and all its replicas.",
        "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
        "    Check if the master specified by ip:port is down from current Sentinel's",
        "    point of view.",
        "MASTER <master-name>",
        "    Show the state and info of the specified master.",
        "MASTERS",
        "    Show a list of monitored masters and their state.",
        "MONITOR <name> <ip> <port> <quorum>",
        "    Start monitoring a new master with the specified name, ip, port and quorum.",
        "MYID",
        "    Return the ID of the Sentinel instance.",
        "PENDING-SCRIPTS",
        "    Get pending scripts information.",
        "REMOVE <master-name>",
        "    Remove master from Sentinel's monitor list.",
        "REPLICAS <master-name>",
        "    Show a list of replicas for this master and their state.",
        "RESET <pattern>",
        "    Reset masters for specific master name matching this pattern.",
        "SENTINELS <master-name>",
        "    Show a list of Sentinel instances for this master and their state.",
        "SET <master-name> <option> <value> [<option> <value> ...]",
        "    Set configuration parameters for certain masters.",
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        "    Simulate a Sentinel crash.",
        "HELP",
        "    Prints this help.",
    ]
}

#if canImport(Glibc)
import Glibc
#endif
