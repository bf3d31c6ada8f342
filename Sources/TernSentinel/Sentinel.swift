import CTern
import TernConfig
import TernEngine
import TernProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Sentinel mode (Redis 7.0's sentinel.c; ../shared/specs/replication-and-sentinel.md §8):
/// monitors masters, their replicas and the other sentinels, and runs failovers. Lives on
/// the engine loop; the engine serves its clients with a reduced command table.
public final class Sentinel {
    let engine: Engine
    let config: ServerConfig
    public var connector: SentinelConnector?

    var myid = ""
    var currentEpoch: UInt64 = 0
    /// Monitored masters in creation order.
    var masters: [SentinelInstance] = []
    var tilt = false
    var tiltStart: Int64 = 0
    var previousTime: Int64
    var announceIP = ""
    var announcePort = 0
    var resolveHostnames = false
    var announceHostnames = false
    var denyScriptsReconfig = true
    var sentinelUser: String?
    var sentinelPass: String?
    var simulateFailure: UInt = 0
    static let crashAfterElection: UInt = 1
    static let crashAfterPromotion: UInt = 2
    /// notification-script / client-reconfig-script runs, queued or running.
    var scripts: [SentinelScript] = []

    /// SENTINEL DEBUG tunables (ms).
    var infoPeriod: Int64 = 10000
    var pingPeriod: Int64 = 1000
    var askPeriod: Int64 = 1000
    var publishPeriod: Int64 = 2000
    var defaultDownAfter: Int64 = 30000
    var defaultFailoverTimeout: Int64 = 180000
    var tiltTrigger: Int64 = 2000
    var tiltPeriod: Int64 = 30000
    var replicaReconfTimeout: Int64 = 10000
    var minLinkReconnectPeriod: Int64 = 15000
    var electionTimeout: Int64 = 10000
    var scriptMaxRuntime: Int64 = 60000
    var scriptRetryDelay: Int64 = 30000

    static let helloChannel = "__sentinel__:hello"
    static let maxPendingCommands = 100
    static let maxDesyncMs = 1000

    public init(engine: Engine) {
        self.engine = engine
        config = engine.config
        previousTime = Engine.wallClockMs()
    }

    var now: Int64 { Engine.wallClockMs() }

    // MARK: startup

    /// Settings Redis's sentinel mode changes before the config file is read.
    public static func prepare(_ cfg: ServerConfig) {
        cfg.sentinelMode = true
        cfg.port = 26379
        cfg.protectedMode = false
    }

    /// Applies the `sentinel` lines of the config file (pre-monitor directives first, then
    /// monitor lines, then the rest, as Redis); a bad line is a fatal config error.
    public func loadConfig() throws {
        let preMonitor: Set<String> = ["announce-ip", "announce-port", "deny-scripts-reconfig", "sentinel-user",
                                       "sentinel-pass", "current-epoch", "myid", "resolve-hostnames", "announce-hostnames"]
        let lines = config.sentinelLines
        let first = lines.filter { preMonitor.contains(($0.args.first ?? "").lowercased()) }
        let monitors = lines.filter { ($0.args.first ?? "").lowercased() == "monitor" }
        let rest = lines.filter {
            let k = ($0.args.first ?? "").lowercased()
            return k != "monitor" && !preMonitor.contains(k)
        }
        for l in first + monitors + rest {
            if let err = applyConfigLine(l.args) {
                throw ConfigLoadError.line(number: l.line, text: l.text, reason: err)
            }
        }
        config.sentinelRewriteHook = { [unowned self] in self.rewriteLines() }
        // A sentinel has no dataset: SHUTDOWN never saves.
        config.saveParams = []
        config.appendonly = false
    }

    /// Checks Redis makes when the sentinel starts (a writable config file), then the
    /// myid, the `+monitor` events and the timer.
    public func start() -> String? {
        if config.configFile.isEmpty { return "Sentinel needs config file on disk to save state. Exiting..." }
        if access(config.configFile, W_OK) != 0 {
            return "Sentinel config file \(config.configFile) is not writable: \(String(cString: strerror(errno))). Exiting..."
        }
        engine.sentinelMode = true
        installCommands()
        if myid.isEmpty {
            var bytes = [UInt8](repeating: 0, count: 20)
            bytes.withUnsafeMutableBytes { tern_random_bytes($0.baseAddress, 20) }
            myid = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            flushConfig()
        }
        engine.log(.warning, "Sentinel ID is \(myid)")
        for m in masters { event(.warning, "+monitor", m, "%@ quorum \(m.quorum)") }
        scheduleTimer()
        return nil
    }

    // MARK: config lines

    /// Redis's sentinelHandleConfiguration: nil on success, else the error text.
    func applyConfigLine(_ a: [String]) -> String? {
        guard let key = a.first?.lowercased() else { return "Unrecognized sentinel configuration statement." }
        let n = a.count
        func master(_ name: String) -> SentinelInstance? { masters.first { $0.name == name } }
        let noMaster = "No such master with specified name."
        switch (key, n) {
        case ("monitor", 5):
            guard let q = Int(a[4]), q > 0 else { return "Quorum must be 1 or greater." }
            return createMaster(name: a[1], host: a[2], portText: a[3], quorum: q)
        case ("down-after-milliseconds", 3), ("failover-timeout", 3):
            guard let m = master(a[1]) else { return noMaster }
            guard let v = Int64(a[2]), v > 0 else { return "negative or zero time parameter." }
            if key == "failover-timeout" { m.failoverTimeout = v } else { setDownAfter(m, v) }
        case ("parallel-syncs", 3):
            guard let m = master(a[1]) else { return noMaster }
            m.parallelSyncs = Int(a[2]) ?? 0
        case ("notification-script", 3), ("client-reconfig-script", 3):
            guard let m = master(a[1]) else { return noMaster }
            if access(a[2], X_OK) == -1 {
                return key == "notification-script" ? "Notification script seems non existing or non executable."
                    : "Client reconfiguration script seems non existing or non executable."
            }
            if key == "notification-script" { m.notificationScript = a[2] } else { m.clientReconfigScript = a[2] }
        case ("auth-pass", 3):
            guard let m = master(a[1]) else { return noMaster }
            m.authPass = a[2]
        case ("auth-user", 3):
            guard let m = master(a[1]) else { return noMaster }
            m.authUser = a[2]
        case ("current-epoch", 2):
            let e = UInt64(a[1]) ?? 0
            if e > currentEpoch { currentEpoch = e }
        case ("myid", 2):
            guard a[1].utf8.count == 40 else { return "Malformed Sentinel id in myid option." }
            myid = a[1]
        case ("config-epoch", 3):
            guard let m = master(a[1]) else { return noMaster }
            m.configEpoch = UInt64(a[2]) ?? 0
            if m.configEpoch > currentEpoch { currentEpoch = m.configEpoch }
        case ("leader-epoch", 3):
            guard let m = master(a[1]) else { return noMaster }
            m.leaderEpoch = UInt64(a[2]) ?? 0
        case ("known-slave", 4), ("known-replica", 4):
            guard let m = master(a[1]) else { return noMaster }
            guard let port = Int(a[3]), port >= 0, port < 65536 else { return "Invalid port number." }
            guard let addr = address(a[2], port) else { return "Can't resolve instance hostname." }
            if replica(of: m, host: a[2], port: port) == nil { m.replicas.append(makeReplica(m, addr)) }
        case ("known-sentinel", 5):
            guard let m = master(a[1]) else { return noMaster }
            guard let port = Int(a[3]), port >= 0, port < 65536 else { return "Invalid port number." }
            guard let addr = address(a[2], port) else { return "Can't resolve instance hostname." }
            if !m.sentinels.contains(where: { $0.runID == a[4] }) && a[4] != myid {
                let s = makeSentinel(m, runID: a[4], addr)
                m.sentinels.append(s)
                shareLink(s)
            }
        case ("known-sentinel", 4):
            break  // The legacy form without a run id is ignored.
        case ("rename-command", 4):
            guard let m = master(a[1]) else { return noMaster }
            m.renamedCommands.removeAll { $0.0.lowercased() == a[2].lowercased() }
            m.renamedCommands.append((a[2], a[3]))
        case ("announce-ip", 2):
            announceIP = a[1]
        case ("announce-port", 2):
            announcePort = Int(a[1]) ?? 0
        case ("deny-scripts-reconfig", 2):
            guard let b = yesNo(a[1]) else { return "Please specify yes or no for the deny-scripts-reconfig options." }
            denyScriptsReconfig = b
        case ("sentinel-user", 2):
            sentinelUser = a[1].isEmpty ? nil : a[1]
        case ("sentinel-pass", 2):
            sentinelPass = a[1].isEmpty ? nil : a[1]
        case ("resolve-hostnames", 2):
            guard let b = yesNo(a[1]) else { return "Please specify yes or no for the resolve-hostnames option." }
            resolveHostnames = b
        case ("announce-hostnames", 2):
            guard let b = yesNo(a[1]) else { return "Please specify yes or no for the announce-hostnames option." }
            announceHostnames = b
        case ("master-reboot-down-after-period", 3):
            guard let m = master(a[1]) else { return noMaster }
            guard let v = Int64(a[2]), v >= 0 else { return "negative time parameter." }
            setRebootPeriod(m, v)
        default:
            return "Unrecognized sentinel configuration statement."
        }
        return nil
    }

    func yesNo(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "yes": return true
        case "no": return false
        default: return nil
        }
    }

    func setDownAfter(_ m: SentinelInstance, _ v: Int64) {
        m.downAfterMs = v
        for r in m.replicas { r.downAfterMs = v }
        for s in m.sentinels { s.downAfterMs = v }
    }

    func setRebootPeriod(_ m: SentinelInstance, _ v: Int64) {
        m.masterRebootDownAfterMs = v
        for r in m.replicas { r.masterRebootDownAfterMs = v }
    }

    /// The IP of a host: an IP literal as is; a name only with resolve-hostnames (resolved
    /// now, as Redis does), else nil.
    func resolve(_ host: String) -> String? {
        var a4 = in_addr(), a6 = in6_addr()
        if inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1 { return host }
        guard resolveHostnames, !host.isEmpty else { return nil }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &res) == 0, let first = res else { return nil }
        defer { freeaddrinfo(res) }
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if first.pointee.ai_family == AF_INET, let sa = first.pointee.ai_addr {
            var a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
        } else if let sa = first.pointee.ai_addr {
            var a = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
        }
        let ip = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return ip.isEmpty ? nil : ip
    }

    func address(_ host: String, _ port: Int) -> InstanceAddress? {
        resolve(host).map { InstanceAddress(hostname: host, ip: $0, port: port) }
    }

    /// The host shown in replies, events, hellos and the config file.
    func shown(_ a: InstanceAddress) -> String { announceHostnames ? a.hostname : a.ip }

    /// "host:port" ("[host]:port" for IPv6): a replica's name.
    func shownName(_ a: InstanceAddress) -> String {
        let h = shown(a)
        return h.contains(":") ? "[\(h)]:\(a.port)" : "\(h):\(a.port)"
    }

    /// `host` names this address: same IP once resolved, else the same hostname
    /// (Redis's sentinelAddrEqualsHostname).
    func matches(_ a: InstanceAddress, _ host: String, _ port: Int) -> Bool {
        guard a.port == port else { return false }
        if let ip = resolve(host) { return ip.lowercased() == a.ip.lowercased() }
        return a.hostname.lowercased() == host.lowercased()
    }

    func createMaster(name: String, host: String, portText: String, quorum: Int) -> String? {
        guard let port = Int(portText), port >= 0, port < 65536 else { return "Invalid port number." }
        guard let addr = address(host, port) else { return "Can't resolve instance hostname." }
        guard !masters.contains(where: { $0.name == name }) else { return "Duplicate master name." }
        let m = SentinelInstance(kind: .master, name: name, address: addr, quorum: quorum,
                                 master: nil, now: now, downAfterMs: defaultDownAfter, failoverTimeout: defaultFailoverTimeout)
        masters.append(m)
        return nil
    }

    func makeReplica(_ m: SentinelInstance, _ addr: InstanceAddress) -> SentinelInstance {
        let r = SentinelInstance(kind: .replica, name: shownName(addr), address: addr, quorum: m.quorum, master: m,
                                 now: now, downAfterMs: m.downAfterMs, failoverTimeout: m.failoverTimeout)
        return r
    }

    func makeSentinel(_ m: SentinelInstance, runID: String, _ addr: InstanceAddress) -> SentinelInstance {
        let s = SentinelInstance(kind: .sentinel, name: runID, address: addr, quorum: m.quorum,
                                 master: m, now: now, downAfterMs: m.downAfterMs, failoverTimeout: m.failoverTimeout)
        s.runID = runID
        return s
    }

    func replica(of m: SentinelInstance, host: String, port: Int) -> SentinelInstance? {
        m.replicas.first { matches($0.address, host, port) }
    }

    func master(named name: String) -> SentinelInstance? { masters.first { $0.name == name } }

    // MARK: config rewrite

    /// The sentinel lines of the config file, in Redis's order (rewriteConfigSentinelOption).
    func rewriteLines() -> [(key: String, line: String)] {
        var out: [(key: String, line: String)] = []
        func add(_ key: String, _ rest: String) { out.append(("sentinel " + key, "sentinel \(key) \(rest)")) }
        add("myid", myid)
        if !denyScriptsReconfig { add("deny-scripts-reconfig", "no") }
        if resolveHostnames { add("resolve-hostnames", "yes") }
        if announceHostnames { add("announce-hostnames", "yes") }
        for m in masters {
            let addr = m.currentAddress
            add("monitor", "\(m.name) \(shown(addr)) \(addr.port) \(m.quorum)")
            if m.downAfterMs != 30000 { add("down-after-milliseconds", "\(m.name) \(m.downAfterMs)") }
            if m.failoverTimeout != 180000 { add("failover-timeout", "\(m.name) \(m.failoverTimeout)") }
            if m.parallelSyncs != 1 { add("parallel-syncs", "\(m.name) \(m.parallelSyncs)") }
            if let s = m.notificationScript { add("notification-script", "\(m.name) \(s)") }
            if let s = m.clientReconfigScript { add("client-reconfig-script", "\(m.name) \(s)") }
            if let p = m.authPass { add("auth-pass", "\(m.name) \(p)") }
            if let u = m.authUser { add("auth-user", "\(m.name) \(u)") }
            if m.masterRebootDownAfterMs != 0 { add("master-reboot-down-after-period", "\(m.name) \(m.masterRebootDownAfterMs)") }
            add("config-epoch", "\(m.name) \(m.configEpoch)")
            add("leader-epoch", "\(m.name) \(m.leaderEpoch)")
            for r in m.replicas {
                // The promoted replica is written under the old master's address.
                let a = r.address == addr ? m.address : r.address
                add("known-replica", "\(m.name) \(shown(a)) \(a.port)")
            }
            for s in m.sentinels where s.runID != nil {
                add("known-sentinel", "\(m.name) \(shown(s.address)) \(s.address.port) \(s.runID ?? "")")
            }
            for (from, to) in m.renamedCommands { add("rename-command", "\(m.name) \(from) \(to)") }
        }
        add("current-epoch", "\(currentEpoch)")
        if !announceIP.isEmpty { add("announce-ip", ConfigText.repr(announceIP)) }
        if announcePort != 0 { add("announce-port", "\(announcePort)") }
        if let u = sentinelUser { add("sentinel-user", u) }
        if let p = sentinelPass { add("sentinel-pass", p) }
        return out
    }

    /// Rewrites the config file with the current state (Redis's sentinelFlushConfig).
    @discardableResult
    func flushConfig() -> Bool {
        if let err = ConfigCommands.writeConfigFile(config) {
            engine.log(.warning, "WARNING: Sentinel was not able to save the new configuration on disk!!!: \(err)")
            return false
        }
        engine.log(.notice, "Sentinel new configuration saved on disk")
        return true
    }

    // MARK: events

    /// Logs an event and publishes it on the channel named after it. A format starting
    /// with "%@" is prefixed with the instance description (Redis's sentinelEvent).
    func event(_ level: LogLevel, _ type: String, _ ri: SentinelInstance?, _ fmt: String) {
        var msg = fmt
        if let ri, fmt.hasPrefix("%@") {
            var d = "\(ri.typeName) \(ri.name) \(shown(ri.address)) \(ri.address.port)"
            if !ri.isMaster, let m = ri.master {
                d += " @ \(m.name) \(shown(m.address)) \(m.address.port)"
            }
            msg = d + fmt.dropFirst(2)
        }
        engine.log(level, "\(type) \(msg)")
        if level == .warning, let ri { notifyScript(ri, type, msg) }
        if level != .debug {
            var ch = Array(type.utf8), body = Array(msg.utf8)
            ch.withUnsafeBytes { c in body.withUnsafeBytes { b in _ = engine.pubsub.publish(c, b) } }
        }
    }
}
