import TernConfig
import TernProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Everything that watches executed commands: the slow log, the latency monitor, the
/// per-command latency histograms and MONITOR clients. `Engine.call` feeds them all with
/// one direct call per command.
public final class CommandObservers {
    /// Set right after the engine initialises (the engine owns this object and outlives it).
    unowned(unsafe) var engine: Engine! = nil
    public let slowlog = Slowlog()
    public let latency = LatencyMonitor()
    /// Clients in MONITOR mode, in the order they started monitoring.
    public private(set) var monitors: [Client] = []

    init() {}

    @inline(__always)
    func afterCall(_ c: Client, _ cmd: Command, _ a: Args, _ micros: Int, _ config: ServerConfig) {
        let blocked = c.flags.contains(.blocked)
        if !blocked {
            if config.latencyTracking {
                LatencyHistogram.record(&cmd.latencyHistogram, nanoseconds: Int64(micros) &* 1000)
            }
            let slower = config.slowlogLogSlowerThan
            if slower >= 0 && micros >= slower && !cmd.flags.contains(.skipSlowlog) {
                logSlow(c, cmd, a, micros)
            }
            let threshold = config.latencyMonitorThreshold
            if threshold > 0 && micros / 1000 >= threshold {
                latency.add(cmd.flags.contains(.fast) ? "fast-command" : "command",
                            latencyMs: micros / 1000, now: Int(Engine.wallClockMs() / 1000))
            }
        }
        if !monitors.isEmpty && cmd.flags.isDisjoint(with: [.skipMonitor, .admin]) {
            feedMonitors(c, cmd, a)
        }
    }

    func logSlow(_ c: Client, _ cmd: Command, _ a: Args, _ micros: Int) {
        let e = Slowlog.Entry(id: slowlog.nextID, time: Int(Engine.wallClockMs() / 1000), duration: micros,
                              argv: Slowlog.displayArgs(cmd, a), peer: c.remoteAddress, name: c.name ?? [])
        slowlog.nextID += 1
        slowlog.push(e, maxLen: engine.config.slowlogMaxLen)
    }

    // MARK: MONITOR

    func addMonitor(_ c: Client) {
        c.flags.insert(.monitor)
        monitors.append(c)
    }

    func removeMonitor(_ c: Client) {
        c.flags.remove(.monitor)
        monitors.removeAll { $0 === c }
    }

    /// Sends "+<unix>.<micros> [<db> <addr>] "arg" ..." to every monitor.
    func feedMonitors(_ c: Client, _ cmd: Command, _ a: Args) {
        let line = MonitorLine.format(c, cmd, a)
        for m in monitors {
            m.out.append(line)
            if m !== c { m.flush() }
        }
    }
}

enum MonitorLine {
    static func format(_ c: Client, _ cmd: Command, _ a: Args) -> [UInt8] {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var line: [UInt8] = []
        line.reserveCapacity(64 + a.count * 8)
        line.append(UInt8(ascii: "+"))
        line += Array(String(tv.tv_sec).utf8)
        line.append(UInt8(ascii: "."))
        let us = String(tv.tv_usec)
        line += Array((String(repeating: "0", count: max(0, 6 - us.count)) + us).utf8)
        line += Array(" [\(c.dbIndex) \(origin(c))]".utf8)
        let redacted = Redaction.redactedIndexes(cmd, a)
        for i in 0..<a.count {
            line += [UInt8(ascii: " "), UInt8(ascii: "\"")]
            if redacted.contains(i) { line += Redaction.placeholder } else { appendQuoted(&line, a[i]) }
            line.append(UInt8(ascii: "\""))
        }
        line += [13, 10]
        return line
    }

    /// Where a command came from: "lua" for scripts, "unix:<path>" for unix sockets, else ip:port.
    static func origin(_ c: Client) -> String {
        if c.flags.contains(.fake) { return "lua" }
        if c.flags.contains(.unixSocket) {
            let addr = c.localAddress.hasSuffix(":0") ? String(c.localAddress.dropLast(2)) : c.localAddress
            return "unix:" + addr
        }
        return c.remoteAddress
    }

    /// Escapes bytes the way Redis shows binary data: \\ \" \n \r \t \a \b, printable ASCII
    /// as is, everything else as \xHH.
    static func appendQuoted(_ out: inout [UInt8], _ b: UnsafeRawBufferPointer) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for ch in b {
            switch ch {
            case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(92); out.append(ch)
            case 10: out.append(92); out.append(UInt8(ascii: "n"))
            case 13: out.append(92); out.append(UInt8(ascii: "r"))
            case 9: out.append(92); out.append(UInt8(ascii: "t"))
            case 7: out.append(92); out.append(UInt8(ascii: "a"))
            case 8: out.append(92); out.append(UInt8(ascii: "b"))
            case 32...126: out.append(ch)
            default:
                out.append(92); out.append(UInt8(ascii: "x"))
                out.append(hex[Int(ch >> 4)]); out.append(hex[Int(ch & 15)])
            }
        }
    }
}

extension Engine {
    func registerMonitorCommand() {
        commands.register("monitor", MonitorCommand.monitor)
    }
}

enum MonitorCommand {
    static func monitor(_ c: Client, _ a: Args) {
        // Inside EXEC (or a script) the caller expects one reply per command.
        if c.flags.contains(.multi) || c.flags.contains(.denyBlocking) {
            c.error("ERR MONITOR isn't allowed for DENY BLOCKING client")
            return
        }
        // Already monitoring, or a replica link: nothing to do and nothing to say.
        if c.flags.contains(.monitor) || c.flags.contains(.replica) || c.flags.contains(.master) { return }
        c.engine.observers.addMonitor(c)
        c.out.ok()
    }
}
