import TernEngine
import TernProtocol

// The sentinel timer: links, periodic PING/INFO/hello, reply handling, SDOWN and ODOWN
// (Redis 7.0's sentinelTimer and sentinelHandleRedisInstance).

extension Sentinel {
    /// The timer runs 10-19 times a second, re-randomized every run as Redis re-randomizes
    /// its hz, so sentinels do not act in lockstep.
    func scheduleTimer() {
        let delay = Int64(1000 / Int.random(in: 10...19))
        engine.scheduleOnLoop?(delay) { [weak self] in
            guard let self else { return }
            self.timer()
            self.scheduleTimer()
        }
    }

    func timer() {
        checkTilt()
        var switchToPromoted: SentinelInstance?
        for m in masters {
            handle(m)
            for r in m.replicas { handle(r) }
            for s in m.sentinels { handle(s) }
            if m.failoverState == .updateConfig { switchToPromoted = m }
        }
        if let m = switchToPromoted { switchToPromotedReplica(m) }
        runPendingScripts()
        collectTerminatedScripts()
        killTimedOutScripts()
    }

    func checkTilt() {
        let t = now
        let delta = t - previousTime
        if delta < 0 || delta > tiltTrigger {
            tilt = true
            tiltStart = t
            event(.warning, "+tilt", nil, "#tilt mode entered")
        }
        previousTime = t
    }

    func handle(_ ri: SentinelInstance) {
        reconnect(ri)
        sendPeriodicCommands(ri)
        if tilt {
            if now - tiltStart < tiltPeriod { return }
            tilt = false
            event(.warning, "-tilt", nil, "#tilt mode exited")
        }
        checkSubjectivelyDown(ri)
        if ri.isMaster {
            checkObjectivelyDown(ri)
            if startFailoverIfNeeded(ri) { askMasterState(ri, forced: true) }
            failoverStateMachine(ri)
            askMasterState(ri, forced: false)
        }
    }

    // MARK: links

    func reconnect(_ ri: SentinelInstance) {
        let link = ri.link
        guard link.disconnected, ri.address.port != 0, let connector else { return }
        let t = now
        guard t - link.lastReconnect >= pingPeriod else { return }
        link.lastReconnect = t
        if link.cmd == nil {
            link.pendingCommands = 0
            link.cmd = openConnection(ri, "cmd", connector) { $0.cmd = nil }
            link.cmdConnectedAt = t
            sendPing(ri)
        }
        if (ri.isMaster || ri.isReplica) && link.pubsub == nil {
            let c = openConnection(ri, "pubsub", connector) { $0.pubsub = nil }
            link.pubsub = c
            link.pubsubConnectedAt = t
            link.pubsubLastActivity = t
            c.send([ri.mapped("SUBSCRIBE"), Sentinel.helloChannel]) { [weak ri] _ in ri?.link.pubsubLastActivity = self.now }
            // From here every reply is a subscription message.
            c.onMessage = { [weak self, weak ri] v in
                guard let self, let ri else { return }
                self.receivedHelloMessage(ri, v)
            }
        }
        if link.cmd != nil && (ri.isSentinel || link.pubsub != nil) { link.disconnected = false }
    }

    /// Connects one half of an instance's link, then AUTH (if needed) and CLIENT SETNAME
    /// sentinel-<id>-<kind>; `forget` drops it from the link when the socket goes away.
    func openConnection(_ ri: SentinelInstance, _ kind: String, _ connector: SentinelConnector,
                        forget: @escaping (InstanceLink) -> Void) -> SentinelConnection {
        let c = SentinelConnection()
        let link = ri.link
        // The link outlives this instance when it is shared: state goes to the link.
        c.onClose = { [weak self, weak ri, weak link] in
            guard let link else { return }
            if let self, let ri { self.event(.debug, "-\(kind)-link-reconnection", ri, "%@ #closed") }
            forget(link)
            link.disconnected = true
        }
        connector.connect(host: ri.address.ip, port: ri.address.port, connection: c)
        sendAuth(ri, c)
        setClientName(ri, c, kind)
        return c
    }

    /// A sentinel already linked under another master reuses that link (Redis's
    /// sentinelTryConnectionSharing).
    func shareLink(_ s: SentinelInstance) {
        guard let runid = s.runID, s.link.refcount == 1 else { return }
        for m in masters where m !== s.master {
            guard let other = m.sentinels.first(where: { $0.runID == runid }), other !== s, other.link !== s.link else {
                continue
            }
            s.link.closeAll()
            s.link = other.link
            other.link.refcount += 1
            return
        }
    }

    /// An instance goes away: its link closes unless other instances still use it.
    func releaseLink(_ ri: SentinelInstance) {
        if ri.link.refcount > 1 {
            ri.link.refcount -= 1
            ri.link = InstanceLink(now: now)
        } else {
            ri.link.closeAll()
        }
    }

    func sendAuth(_ ri: SentinelInstance, _ c: SentinelConnection) {
        var user: String?, pass: String?
        if ri.isMaster {
            user = ri.authUser; pass = ri.authPass
        } else if ri.isReplica {
            user = ri.master?.authUser; pass = ri.master?.authPass
        } else if let p = sentinelPass {
            user = sentinelUser; pass = p
        } else if !config.requirepass.isEmpty {
            pass = config.requirepass
        }
        guard let pass else { return }
        var argv = [ri.mapped("AUTH")]
        if let user { argv.append(user) }
        argv.append(pass)
        let link = ri.link
        c.send(argv) { [weak link] _ in link?.pendingCommands -= 1 }
        link.pendingCommands += 1
    }

    func setClientName(_ ri: SentinelInstance, _ c: SentinelConnection, _ type: String) {
        let link = ri.link
        c.send([ri.mapped("CLIENT"), "SETNAME", "sentinel-\(myid.prefix(8))-\(type)"]) { [weak link] _ in
            link?.pendingCommands -= 1
        }
        link.pendingCommands += 1
    }

    /// Sends a command on the cmd link, counting it as pending until its reply.
    func command(_ ri: SentinelInstance, _ argv: [String], reply: @escaping (RESPValue) -> Void = { _ in }) -> Bool {
        let link = ri.link
        guard !link.disconnected, let c = link.cmd else { return false }
        link.pendingCommands += 1
        c.send(argv) { [weak link] v in
            link?.pendingCommands -= 1
            reply(v)
        }
        return true
    }

    func sendPing(_ ri: SentinelInstance) {
        let link = ri.link
        guard let c = link.cmd else { return }
        link.pendingCommands += 1
        c.send([ri.mapped("PING")]) { [weak self, weak ri, weak link] v in
            link?.pendingCommands -= 1
            guard let self, let ri else { return }
            self.pingReply(ri, v)
        }
        let t = now
        ri.link.lastPingSent = t
        if ri.link.pendingPingSince == 0 { ri.link.pendingPingSince = t }
    }

    func pingReply(_ ri: SentinelInstance, _ v: RESPValue) {
        let t = now
        switch v {
        case .simple(let s), .error(let s):
            if s.hasPrefix("PONG") || s.hasPrefix("LOADING") || s.hasPrefix("MASTERDOWN") {
                ri.link.lastAvailable = t
                ri.link.pendingPingSince = 0
                if ri.flags.contains(.masterReboot) && s.hasPrefix("PONG") { ri.flags.remove(.masterReboot) }
            } else if s.hasPrefix("BUSY") && ri.flags.contains(.sDown) && !ri.flags.contains(.scriptKillSent) {
                if command(ri, [ri.mapped("SCRIPT"), "KILL"]) { ri.flags.insert(.scriptKillSent) }
            }
        default:
            break
        }
        ri.link.lastPong = t
    }

    func sendPeriodicCommands(_ ri: SentinelInstance) {
        let link = ri.link
        guard !link.disconnected, link.cmd != nil else { return }
        guard link.pendingCommands < Sentinel.maxPendingCommands * link.refcount else { return }
        var infoEvery = infoPeriod
        if ri.isReplica, let m = ri.master,
           !m.flags.intersection([.oDown, .failoverInProgress]).isEmpty || ri.masterLinkDownTime != 0 {
            infoEvery = 1000
        }
        let pingEvery = min(ri.downAfterMs, pingPeriod)
        let t = now
        if (ri.isMaster || ri.isReplica) && (ri.infoRefresh == 0 || t - ri.infoRefresh > infoEvery) {
            _ = command(ri, [ri.mapped("INFO")]) { [weak self, weak ri] v in
                guard let self, let ri, case .bulk(let b) = v else { return }
                self.refreshInfo(ri, String(decoding: b, as: UTF8.self))
            }
        }
        if t - link.lastPong > pingEvery && t - link.lastPingSent > pingEvery / 2 {
            sendPing(ri)
        }
        if t - ri.lastPublishTime > publishPeriod { sendHello(ri) }
    }

    // MARK: hello

    func sendHello(_ ri: SentinelInstance) {
        guard !ri.link.disconnected, let c = ri.link.cmd else { return }
        guard let m = ri.isMaster ? ri : ri.master else { return }
        let ip = announceIP.isEmpty ? (c.localIP ?? "") : announceIP
        guard !ip.isEmpty else { return }
        let port = announcePort != 0 ? announcePort : config.port
        let addr = m.currentAddress
        let payload = "\(ip),\(port),\(myid),\(currentEpoch),\(m.name),\(shown(addr)),\(addr.port),\(m.configEpoch)"
        _ = command(ri, [ri.mapped("PUBLISH"), Sentinel.helloChannel, payload]) { [weak self, weak ri] v in
            guard let self, let ri else { return }
            if case .error = v { return }
            ri.lastPublishTime = self.now
        }
    }

    /// Makes every instance of this master send a hello at the next timer run.
    func forceHelloUpdate(_ m: SentinelInstance) {
        m.lastPublishTime &-= publishPeriod &+ 1
        for r in m.replicas { r.lastPublishTime &-= publishPeriod &+ 1 }
        for s in m.sentinels { s.lastPublishTime &-= publishPeriod &+ 1 }
    }

    func receivedHelloMessage(_ ri: SentinelInstance, _ v: RESPValue) {
        ri.link.pubsubLastActivity = now
        let e = v.elements
        guard e.count == 3, e[0].text == "message", let payload = e[2].text else { return }
        if payload.contains(myid) { return }
        processHello(payload)
    }

    /// A hello from another sentinel (pubsub message, or PUBLISH sent to us).
    func processHello(_ hello: String) {
        let tok = hello.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard tok.count == 8, let m = master(named: tok[4]) else { return }
        guard let port = Int(tok[1]), let epoch = UInt64(tok[3]), let masterPort = Int(tok[6]),
              let masterConfigEpoch = UInt64(tok[7]) else { return }
        let ip = tok[0], runid = tok[2]
        if runid == myid { return }
        var si = m.sentinels.first { matches($0.address, ip, port) && $0.runID == runid }
        if si == nil {
            let removed = removeSentinel(runid, from: m)
            if removed > 0 {
                event(.notice, "+sentinel-address-switch", m, "%@ ip \(ip) port \(port) for \(runid)")
            } else if let other = m.sentinels.first(where: { matches($0.address, ip, port) }) {
                event(.notice, "+sentinel-invalid-addr", other, "%@")
                if let otherID = other.runID { for mm in masters { _ = removeSentinel(otherID, from: mm) } }
            }
            let addr = address(ip, port) ?? InstanceAddress(hostname: ip, ip: ip, port: port)
            let s = makeSentinel(m, runID: runid, addr)
            m.sentinels.append(s)
            if removed == 0 { event(.notice, "+sentinel", s, "%@") }
            shareLink(s)
            if removed > 0 {
                // The same sentinel under its new address for every other master.
                var updated = 0
                for mm in masters where mm !== m {
                    for old in mm.sentinels where old.runID == runid && old !== s {
                        if old.link !== s.link { old.link.closeAll() } else { s.link.closeAll() }
                        old.address = addr
                        updated += 1
                    }
                }
                if updated > 0 { event(.notice, "+sentinel-address-update", s, "%@ \(updated) additional matching instances") }
            }
            flushConfig()
            si = s
        }
        if epoch > currentEpoch {
            currentEpoch = epoch
            flushConfig()
            event(.warning, "+new-epoch", m, "\(currentEpoch)")
        }
        if let si, m.configEpoch < masterConfigEpoch {
            m.configEpoch = masterConfigEpoch
            if !matches(m.address, tok[5], masterPort) {
                event(.warning, "+config-update-from", si, "%@")
                event(.warning, "+switch-master", m, "\(m.name) \(shown(m.address)) \(m.address.port) \(tok[5]) \(masterPort)")
                let old = m.address
                resetMasterAndChangeAddress(m, to: address(tok[5], masterPort)
                                                ?? InstanceAddress(hostname: tok[5], ip: tok[5], port: masterPort))
                callClientReconfigScript(m, leader: false, from: old, to: m.address)
            }
        }
        si?.lastHelloTime = now
    }

    func removeSentinel(_ runid: String, from m: SentinelInstance) -> Int {
        let before = m.sentinels.count
        for s in m.sentinels where s.runID == runid { releaseLink(s) }
        m.sentinels.removeAll { $0.runID == runid }
        return before - m.sentinels.count
    }

    // MARK: INFO

    /// Redis's sentinelRefreshInstanceInfo: discovery, role changes and the reactions to
    /// them (promotion detected, replicas corrected, reconfiguration progress).
    func refreshInfo(_ ri: SentinelInstance, _ info: String) {
        ri.info = info
        ri.masterLinkDownTime = 0
        var role: InstanceFlags?
        var t = now
        for lineSub in info.split(separator: "\r\n", omittingEmptySubsequences: true) {
            let l = String(lineSub)
            if l.hasPrefix("run_id:") && l.utf8.count >= 47 {
                let id = String(l.dropFirst(7).prefix(40))
                if ri.runID != id {
                    if ri.runID != nil {
                        event(.notice, "+reboot", ri, "%@")
                        if ri.isMaster && ri.masterRebootDownAfterMs != 0 {
                            ri.flags.insert(.masterReboot)
                            ri.masterRebootSince = t
                        }
                    }
                    ri.runID = id
                }
            }
            if ri.isMaster, l.hasPrefix("slave"), let colon = l.firstIndex(of: ":"),
               l[l.index(l.startIndex, offsetBy: 5)..<colon].allSatisfy({ $0.isNumber }),
               l.index(l.startIndex, offsetBy: 5) < colon {
                let body = String(l[l.index(after: colon)...])
                var ip: String?, port: Int?
                if body.contains("ip=") {
                    for kv in body.split(separator: ",") {
                        if kv.hasPrefix("ip=") { ip = String(kv.dropFirst(3)) }
                        if kv.hasPrefix("port=") { port = Int(kv.dropFirst(5)) }
                    }
                } else {
                    let parts = body.split(separator: ",")
                    if parts.count >= 2 { ip = String(parts[0]); port = Int(parts[1]) }
                }
                if let ip, let port, replica(of: ri, host: ip, port: port) == nil, let addr = address(ip, port) {
                    let r = makeReplica(ri, addr)
                    ri.replicas.append(r)
                    event(.notice, "+slave", r, "%@")
                    flushConfig()
                }
            }
            if l.hasPrefix("master_link_down_since_seconds:") {
                ri.masterLinkDownTime = (Int64(l.dropFirst(31)) ?? 0) &* 1000
            }
            if l == "role:master" { role = .master } else if l == "role:slave" { role = .replica }
            if role == .replica {
                if l.hasPrefix("master_host:") {
                    let h = String(l.dropFirst(12))
                    if ri.replicaMasterHost?.lowercased() != h.lowercased() {
                        ri.replicaMasterHost = h
                        ri.replicaConfigChangeTime = t
                    }
                }
                if l.hasPrefix("master_port:"), let p = Int(l.dropFirst(12)), p != ri.replicaMasterPort {
                    ri.replicaMasterPort = p
                    ri.replicaConfigChangeTime = t
                }
                if l.hasPrefix("master_link_status:") { ri.replicaMasterLinkUp = l.dropFirst(19).lowercased() == "up" }
                if l.hasPrefix("slave_priority:") { ri.replicaPriority = Int(l.dropFirst(15)) ?? ri.replicaPriority }
                if l.hasPrefix("slave_repl_offset:") { ri.replicaReplOffset = Int64(l.dropFirst(18)) ?? ri.replicaReplOffset }
                if l.hasPrefix("replica_announced:") { ri.replicaAnnounced = (Int(l.dropFirst(18)) ?? 1) != 0 }
            }
        }
        t = now
        ri.infoRefresh = t
        guard let role else { return }
        if role != ri.roleReported {
            ri.roleReportedTime = t
            ri.roleReported = role
            if role == .replica { ri.replicaConfigChangeTime = t }
            let matches = ri.flags.intersection([.master, .replica]) == role
            event(.verbose, matches ? "+role-change" : "-role-change", ri,
                  "%@ new reported role is \(role == .master ? "master" : "slave")")
        }
        if tilt { return }
        guard ri.isReplica, let m = ri.master else { return }
        if role == .master {
            if ri.flags.contains(.promoted) && m.flags.contains(.failoverInProgress) && m.failoverState == .waitPromotion {
                m.configEpoch = m.failoverEpoch
                m.failoverState = .reconfSlaves
                m.failoverStateChangeTime = t
                flushConfig()
                event(.warning, "+promoted-slave", ri, "%@")
                if simulateFailure & Sentinel.crashAfterPromotion != 0 { simulatedCrash() }
                event(.warning, "+failover-state-reconf-slaves", m, "%@")
                callClientReconfigScript(m, leader: true, from: m.address, to: ri.address)
                forceHelloUpdate(m)
            } else {
                let wait = publishPeriod &* 4
                if !ri.flags.contains(.promoted) && masterLooksSane(m) && ri.noDownFor(wait, now: t)
                    && t - ri.roleReportedTime > wait {
                    if sendReplicaOf(ri, m.address) { event(.notice, "+convert-to-slave", ri, "%@") }
                }
            }
        }
        if role == .replica && !matches(m.address, ri.replicaMasterHost ?? "", ri.replicaMasterPort) {
            let wait = m.failoverTimeout
            if masterLooksSane(m) && ri.noDownFor(wait, now: t) && t - ri.replicaConfigChangeTime > wait {
                if sendReplicaOf(ri, m.address) { event(.notice, "+fix-slave-config", ri, "%@") }
            }
        }
        if role == .replica && !ri.flags.intersection([.reconfSent, .reconfInProgress]).isEmpty, let p = m.promotedReplica {
            if ri.flags.contains(.reconfSent), let h = ri.replicaMasterHost,
               matches(p.address, h, ri.replicaMasterPort) {
                ri.flags.remove(.reconfSent)
                ri.flags.insert(.reconfInProgress)
                event(.notice, "+slave-reconf-inprog", ri, "%@")
            }
            if ri.flags.contains(.reconfInProgress) && ri.replicaMasterLinkUp {
                ri.flags.remove(.reconfInProgress)
                ri.flags.insert(.reconfDone)
                event(.notice, "+slave-reconf-done", ri, "%@")
            }
        }
    }

    func masterLooksSane(_ m: SentinelInstance) -> Bool {
        m.isMaster && m.roleReported == .master && m.flags.intersection([.sDown, .oDown]).isEmpty
            && now - m.infoRefresh < infoPeriod &* 2
    }

    /// MULTI / SLAVEOF / CONFIG REWRITE / CLIENT KILL TYPE normal / CLIENT KILL TYPE pubsub /
    /// EXEC (Redis's sentinelSendSlaveOf); nil address = SLAVEOF NO ONE. Replies are ignored:
    /// the outcome shows in later INFO.
    func sendReplicaOf(_ ri: SentinelInstance, _ addr: InstanceAddress?) -> Bool {
        let host = addr.map { shown($0) } ?? "NO", port = addr.map { "\($0.port)" } ?? "ONE"
        guard command(ri, [ri.mapped("MULTI")]) else { return false }
        _ = command(ri, [ri.mapped("SLAVEOF"), host, port])
        _ = command(ri, [ri.mapped("CONFIG"), "REWRITE"])
        _ = command(ri, [ri.mapped("CLIENT"), "KILL", "TYPE", "normal"])
        _ = command(ri, [ri.mapped("CLIENT"), "KILL", "TYPE", "pubsub"])
        _ = command(ri, [ri.mapped("EXEC")])
        return true
    }

    // MARK: SDOWN / ODOWN

    func checkSubjectivelyDown(_ ri: SentinelInstance) {
        let link = ri.link
        let t = now
        var elapsed: Int64 = 0
        if link.pendingPingSince != 0 {
            elapsed = t - link.pendingPingSince
        } else if link.disconnected {
            elapsed = t - link.lastAvailable
        }
        // A cmd link stuck on a ping for half of down-after is reopened.
        if let c = link.cmd, t - link.cmdConnectedAt > minLinkReconnectPeriod, link.pendingPingSince != 0,
           t - link.pendingPingSince > ri.downAfterMs / 2, t - link.lastPong > ri.downAfterMs / 2 {
            c.close()
            link.cmd = nil
            link.disconnected = true
        }
        // A pubsub link silent for three publish periods is reopened.
        if let c = link.pubsub, t - link.pubsubConnectedAt > minLinkReconnectPeriod,
           t - link.pubsubLastActivity > publishPeriod &* 3 {
            c.close()
            link.pubsub = nil
            link.disconnected = true
        }
        let down = elapsed > ri.downAfterMs
            || (ri.isMaster && ri.roleReported == .replica && t - ri.roleReportedTime > ri.downAfterMs &+ infoPeriod &* 2)
            || (ri.flags.contains(.masterReboot) && t - ri.masterRebootSince > ri.masterRebootDownAfterMs)
        if down {
            if !ri.flags.contains(.sDown) {
                event(.warning, "+sdown", ri, "%@")
                ri.sDownSince = t
                ri.flags.insert(.sDown)
            }
        } else if ri.flags.contains(.sDown) {
            event(.warning, "-sdown", ri, "%@")
            ri.flags.remove([.sDown, .scriptKillSent])
        }
    }

    func checkObjectivelyDown(_ m: SentinelInstance) {
        var votes = 0
        var odown = false
        if m.flags.contains(.sDown) {
            votes = 1
            for s in m.sentinels where s.flags.contains(.masterDown) { votes += 1 }
            odown = votes >= m.quorum
        }
        if odown {
            if !m.flags.contains(.oDown) {
                event(.warning, "+odown", m, "%@ #quorum \(votes)/\(m.quorum)")
                m.flags.insert(.oDown)
                m.oDownSince = now
            }
        } else if m.flags.contains(.oDown) {
            event(.warning, "-odown", m, "%@")
            m.flags.remove(.oDown)
        }
    }

    /// SENTINEL is-master-down-by-addr to every other sentinel while the master is SDOWN:
    /// the down state, and once a failover started, a vote for us.
    func askMasterState(_ m: SentinelInstance, forced: Bool) {
        let t = now
        for s in m.sentinels {
            if t - s.lastMasterDownReplyTime > askPeriod &* 5 {
                s.flags.remove(.masterDown)
                s.leader = nil
            }
            guard m.flags.contains(.sDown), !s.link.disconnected else { continue }
            if !forced && t - s.lastMasterDownReplyTime < askPeriod { continue }
            let runid = m.failoverState > .none ? myid : "*"
            _ = command(s, [s.mapped("SENTINEL"), "is-master-down-by-addr", shown(m.address), "\(m.address.port)",
                            "\(currentEpoch)", runid]) { [weak self, weak s] v in
                guard let self, let s else { return }
                let e = v.elements
                guard e.count == 3, let down = e[0].int, let leader = e[1].text, let epoch = e[2].int else { return }
                s.lastMasterDownReplyTime = self.now
                if down == 1 { s.flags.insert(.masterDown) } else { s.flags.remove(.masterDown) }
                if leader != "*" {
                    if s.leader != leader || s.leaderEpoch != UInt64(max(0, epoch)) {
                        self.engine.log(.verbose, "\(s.name) voted for \(leader) \(epoch)")
                    }
                    s.leader = leader
                    s.leaderEpoch = UInt64(max(0, epoch))
                }
            }
        }
    }

    func simulatedCrash() -> Never {
        engine.log(.warning, "Simulated crash")
        exit(99)
    }
}

#if canImport(Glibc)
import Glibc
#endif
