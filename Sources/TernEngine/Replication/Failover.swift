import TernConfig
import TernProtocol
import TernStore

// FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | FAILOVER ABORT (Redis 7.0's coordinated
// switch, spec section 7): writes pause, the master waits until the target (or any replica)
// acknowledged its whole stream, then turns itself into a replica of it and sends
// `PSYNC <replid> <offset+1> FAILOVER`; the target, seeing its own replid, becomes a master
// (PSYNC2 shift) and answers +CONTINUE, so no acknowledged write is lost and the old master
// continues as its replica without a full sync.

public enum FailoverState: String {
    case none = "no-failover"
    case waitingForSync = "waiting-for-sync"
    case inProgress = "failover-in-progress"
}

extension Engine {
    func registerFailoverCommand() {
        commands.register("failover", FailoverCommand.failover)
    }

    /// The replication cron's first step (Redis's updateFailoverStatus).
    func updateFailoverStatus() {
        let r = repl
        guard r.failoverState == .waitingForSync else { return }
        let now = Engine.wallClockMs()
        if r.failoverEndMs > 0 && r.failoverEndMs <= now {
            if r.failoverForce, let host = r.failoverTargetHost {
                log(.notice, "FAILOVER to \(host):\(r.failoverTargetPort) time out exceeded, failing over.")
                r.failoverState = .inProgress
                setMaster(host: host, port: r.failoverTargetPort)
            } else {
                abortFailover("Replica never caught up before timeout")
            }
            return
        }
        var target: Client?
        if let host = r.failoverTargetHost {
            target = findReplica(host: host, port: r.failoverTargetPort)
        } else {
            for c in r.replicas where c.replicaPeer?.ackOffset == r.masterReplOffset {
                r.failoverTargetHost = replicaIP(c)
                r.failoverTargetPort = c.replicaPeer?.listeningPort ?? 0
                target = c
                break
            }
        }
        if let t = target, t.replicaPeer?.ackOffset == r.masterReplOffset, let host = r.failoverTargetHost {
            r.failoverState = .inProgress
            log(.notice, "Failover target \(host):\(r.failoverTargetPort) is synced, failing over.")
            setMaster(host: host, port: r.failoverTargetPort)
        }
    }

    func findReplica(host: String, port: Int) -> Client? {
        repl.replicas.first { replicaIP($0) == host && $0.replicaPeer?.listeningPort == port }
    }

    /// Redis's abortFailover: back to a plain master, writes resume.
    func abortFailover(_ reason: String) {
        let r = repl
        guard r.failoverState != .none else { return }
        if let host = r.failoverTargetHost {
            log(.notice, "FAILOVER to \(host):\(r.failoverTargetPort) aborted: \(reason)")
        } else {
            log(.notice, "FAILOVER to any replica aborted: \(reason)")
        }
        if r.failoverState == .inProgress { unsetMaster() }
        clearFailoverState()
    }

    /// The target accepted our PSYNC (or the failover ended otherwise): writes resume (paused
    /// writers now meet -READONLY on a replica).
    func clearFailoverState() {
        let r = repl
        r.failoverState = .none
        r.failoverEndMs = 0
        r.failoverForce = false
        r.failoverTargetHost = nil
        r.failoverTargetPort = 0
        unpause(.failover)
    }
}

enum FailoverCommand {
    static func failover(_ c: Client, _ a: Args) {
        let e = c.engine
        if e.cluster != nil {
            c.error("ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.")
            return
        }
        let r = e.repl
        if a.count == 2 && a.equals(1, "abort") {
            guard r.failoverState != .none else { c.error("ERR No failover in progress."); return }
            e.abortFailover("Failover manually aborted")
            c.out.ok()
            return
        }
        var timeoutMs = 0
        var force = false
        var host: String?
        var port = 0
        var i = 1
        while i < a.count {
            if a.equals(i, "timeout") && i + 1 < a.count && timeoutMs == 0 {
                guard let t = Numbers.parseInt(a[i + 1]) else { c.notInteger(); return }
                if t <= 0 { c.error("ERR FAILOVER timeout must be greater than 0"); return }
                timeoutMs = t
                i += 2
            } else if a.equals(i, "to") && i + 2 < a.count && host == nil {
                guard let p = Numbers.parseInt(a[i + 2]) else { c.notInteger(); return }
                host = a.string(i + 1)
                port = p
                i += 3
            } else if a.equals(i, "force") && !force {
                force = true
                i += 1
            } else {
                c.syntaxError()
                return
            }
        }
        if r.failoverState != .none { c.error("ERR FAILOVER already in progress."); return }
        if r.isReplica { c.error("ERR FAILOVER is not valid when server is a replica."); return }
        if r.replicas.isEmpty { c.error("ERR FAILOVER requires connected replicas."); return }
        if force && (timeoutMs == 0 || host == nil) {
            c.error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
            return
        }
        if let host {
            guard let t = e.findReplica(host: host, port: port) else {
                c.error("ERR FAILOVER target HOST and PORT is not a replica.")
                return
            }
            guard t.replicaPeer?.state == .online else { c.error("ERR FAILOVER target replica is not online."); return }
            r.failoverTargetHost = host
            r.failoverTargetPort = port
            e.log(.notice, "FAILOVER requested to \(host):\(port).")
        } else {
            e.log(.notice, "FAILOVER requested to any replica.")
        }
        if timeoutMs > 0 { r.failoverEndMs = Engine.wallClockMs() + Int64(timeoutMs) }
        r.failoverForce = force
        r.failoverState = .waitingForSync
        // Writes wait (reads go on) until the switch is done or aborted.
        e.pause(.failover, until: Int64.max / 4, all: false)
        c.out.ok()
    }
}
