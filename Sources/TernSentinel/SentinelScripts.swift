import TernEngine
#if canImport(Glibc)
import Glibc
#endif

/// One notification-script or client-reconfig-script run, queued or running (Redis's
/// sentinelScriptJob).
final class SentinelScript {
    let argv: [String]
    var running = false
    var pid: pid_t = 0
    /// Running: when it started; scheduled: when it may start (0 = at once).
    var startTime: Int64 = 0
    var retryNum = 0

    init(argv: [String]) { self.argv = argv }
}

// Scripts: at most 16 running, 256 queued; a script exiting with 1 or killed by a signal is
// retried up to 10 times with a doubling delay; one running longer than 60 s is killed.

extension Sentinel {
    static let maxRunningScripts = 16
    static let maxQueuedScripts = 256
    static let maxScriptRetries = 10

    var runningScripts: Int { scripts.filter { $0.running }.count }

    func scheduleScript(_ argv: [String]) {
        scripts.append(SentinelScript(argv: argv))
        if scripts.count > Sentinel.maxQueuedScripts, let oldest = scripts.firstIndex(where: { !$0.running }) {
            scripts.remove(at: oldest)
        }
    }

    /// Warning-level events run the master's notification script with `<event> <payload>`.
    func notifyScript(_ ri: SentinelInstance, _ type: String, _ message: String) {
        guard let m = ri.isMaster ? ri : ri.master, let script = m.notificationScript else { return }
        scheduleScript([script, type, message])
    }

    /// client-reconfig-script `<master> <leader|observer> <state> <from-ip> <from-port> <to-ip> <to-port>`.
    func callClientReconfigScript(_ m: SentinelInstance, leader: Bool, from: InstanceAddress, to: InstanceAddress) {
        guard let script = m.clientReconfigScript else { return }
        scheduleScript([script, m.name, leader ? "leader" : "observer", "start",
                        shown(from), "\(from.port)", shown(to), "\(to.port)"])
    }

    func runPendingScripts() {
        let t = now
        for job in scripts where !job.running && job.startTime <= t {
            if runningScripts >= Sentinel.maxRunningScripts { break }
            let pid = spawn(job.argv)
            job.startTime = t
            if pid <= 0 {
                event(.warning, "-script-error", nil, "\(job.argv[0]) 99 0")
                scripts.removeAll { $0 === job }
                continue
            }
            job.running = true
            job.pid = pid
            event(.debug, "+script-child", nil, "\(pid)")
        }
    }

    func spawn(_ argv: [String]) -> pid_t {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], nil, nil, cArgs, environ)
        return rc == 0 ? pid : -1
    }

    func collectTerminatedScripts() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            guard let job = scripts.first(where: { $0.pid == pid }) else { continue }
            let bySignal = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
            let signalNumber = bySignal ? status & 0x7f : 0
            let exitCode = bySignal ? 0 : (status >> 8) & 0xff
            event(.debug, "-script-child", nil, "\(pid) \(exitCode) \(signalNumber)")
            if (bySignal || exitCode == 1) && job.retryNum != Sentinel.maxScriptRetries {
                job.running = false
                job.pid = 0
                job.retryNum += 1
                var delay = scriptRetryDelay
                for _ in 1..<job.retryNum { delay &*= 2 }
                job.startTime = now &+ delay
            } else {
                if bySignal || exitCode != 0 {
                    event(.warning, "-script-error", nil, "\(job.argv[0]) \(signalNumber) \(exitCode)")
                }
                scripts.removeAll { $0 === job }
            }
        }
    }

    func killTimedOutScripts() {
        let t = now
        for job in scripts where job.running && t - job.startTime > scriptMaxRuntime {
            event(.warning, "-script-timeout", nil, "\(job.argv[0]) \(job.pid)")
            kill(job.pid, SIGKILL)
        }
    }
}
