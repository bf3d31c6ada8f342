import CTern
import TernConfig
import TernProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Per-command latency distribution (INFO latencystats, LATENCY HISTOGRAM): an HDR-style
/// histogram over nanoseconds, range 1 ns ... 1 s, two significant decimal digits.
/// Values below 256 are exact; above, each power-of-two bucket is split in 128 equal
/// sub-buckets. Counts live in `Command.latencyHistogram` (allocated on first use);
/// the slot after the counts holds the total.
enum LatencyHistogram {
    static let halfMagnitude = 7                 // 128 sub-buckets per half bucket
    static let halfCount = 1 << halfMagnitude
    static let subMask: Int64 = 255
    static let bucketCount = 23                  // enough for 256 << 22 > 1e9
    static let countsLength = (bucketCount + 1) * halfCount
    static let lowest: Int64 = 1
    static let highest: Int64 = 1_000_000_000

    @inline(__always) static func bucketOf(_ v: Int64) -> Int {
        (64 - (v | subMask).leadingZeroBitCount) - (halfMagnitude + 1)
    }

    @inline(__always) static func index(_ v: Int64) -> Int {
        let b = bucketOf(v)
        let sub = Int(v >> Int64(b))
        return ((b + 1) << halfMagnitude) + (sub - halfCount)
    }

    static func value(atIndex i: Int) -> Int64 {
        var b = (i >> halfMagnitude) - 1
        var sub = (i & (halfCount - 1)) + halfCount
        if b < 0 { sub -= halfCount; b = 0 }
        return Int64(sub) << Int64(b)
    }

    /// Largest value that shares `v`'s counting slot.
    static func highestEquivalent(_ v: Int64) -> Int64 {
        let lowestEq = value(atIndex: index(v))
        return lowestEq + (Int64(1) << Int64(bucketOf(v))) - 1
    }

    @inline(__always) static func record(_ h: inout [Int], nanoseconds: Int64) {
        if h.isEmpty { h = [Int](repeating: 0, count: countsLength + 1) }
        let v = min(max(nanoseconds, lowest), highest)
        h[index(v)] &+= 1
        h[countsLength] &+= 1
    }

    static func total(_ h: [Int]) -> Int { h.isEmpty ? 0 : h[countsLength] }

    /// Value (ns) at a percentile: the top of the slot where the running count first
    /// reaches percentile% of the total (rounded half up, at least one sample).
    static func valueAtPercentile(_ h: [Int], _ p: Double) -> Int64 {
        let total = total(h)
        guard total > 0 else { return 0 }
        let want = max(1, Int((min(p, 100) / 100) * Double(total) + 0.5))
        var run = 0
        for i in 0..<countsLength {
            run += h[i]
            // p0 is the bottom of the first slot, every other percentile the top of its slot.
            if run >= want { return p == 0 ? value(atIndex: i) : highestEquivalent(value(atIndex: i)) }
        }
        return highestEquivalent(value(atIndex: countsLength - 1))
    }

    /// Cumulative distribution at power-of-two microsecond marks (1024 ns, 2048 ns ...):
    /// (mark in µs, samples at or below it), only marks where the count grew.
    static func cumulative(_ h: [Int]) -> [(Int, Int)] {
        let total = total(h)
        var out: [(Int, Int)] = []
        guard total > 0 else { return out }
        var level: Int64 = 1024
        var i = 0, run = 0, previous = 0
        while level <= highest * 2 && run < total {
            let limit = index(level)
            while i <= limit && i < countsLength { run += h[i]; i += 1 }
            if run > previous {
                out.append((Int(highestEquivalent(level) / 1000), run))
                previous = run
            }
            level <<= 1
        }
        return out
    }

    /// "50", "99.9": a percentile as INFO prints it.
    /// A percentile as INFO prints it: "%f" with trailing zeros (and a bare dot) trimmed.
    static func label(_ p: Double) -> String {
        var t = ReplyBuffer.cFormat("%f", p)
        if t.contains(".") {
            while t.hasSuffix("0") { t.removeLast() }
            if t.hasSuffix(".") { t.removeLast() }
        }
        return t
    }
}

/// The latency monitor: per event ("command", "fast-command", ...) the last 160
/// one-second samples (the worst latency in each second, in ms) and the all-time max.
public final class LatencyMonitor {
    struct Sample { var time: Int; var latency: Int }
    final class Series {
        var samples: [Sample] = []   // ring, at most `capacity`
        var next = 0
        var max = 0
        var chronological: [Sample] {
            samples.count < LatencyMonitor.capacity ? samples : Array(samples[next...] + samples[..<next])
        }
        var latest: Sample? {
            guard !samples.isEmpty else { return nil }
            return samples.count < LatencyMonitor.capacity ? samples.last : samples[(next + LatencyMonitor.capacity - 1) % LatencyMonitor.capacity]
        }
    }
    static let capacity = 160
    /// Insertion-ordered event names with their series.
    var order: [String] = []
    var events: [String: Series] = [:]

    func add(_ event: String, latencyMs: Int, now: Int) {
        let s: Series
        if let x = events[event] { s = x } else { s = Series(); events[event] = s; order.append(event) }
        if latencyMs > s.max { s.max = latencyMs }
        if let last = s.latest, last.time == now {
            let idx = s.samples.count < LatencyMonitor.capacity ? s.samples.count - 1 : (s.next + LatencyMonitor.capacity - 1) % LatencyMonitor.capacity
            if latencyMs > s.samples[idx].latency { s.samples[idx].latency = latencyMs }
            return
        }
        let sample = Sample(time: now, latency: latencyMs)
        if s.samples.count < LatencyMonitor.capacity {
            s.samples.append(sample)
        } else {
            s.samples[s.next] = sample
            s.next = (s.next + 1) % LatencyMonitor.capacity
        }
    }

    func reset(_ event: String) -> Bool {
        guard events.removeValue(forKey: event) != nil else { return false }
        order.removeAll { $0 == event }
        return true
    }
}

extension Engine {
    /// Records a latency sample for `event` when the latency monitor is on and the
    /// sample reaches `latency-monitor-threshold` (ms). For any subsystem (expire-cycle, fork ...).
    public func latencyAddSampleIfNeeded(_ event: String, milliseconds: Int) {
        let t = config.latencyMonitorThreshold
        if t > 0 && milliseconds >= t {
            observers.latency.add(event, latencyMs: milliseconds, now: Int(Engine.wallClockMs() / 1000))
        }
    }

    func registerLatencyCommands() {
        commands.register("latency|latest", LatencyCommands.latest)
        commands.register("latency|history", LatencyCommands.history)
        commands.register("latency|reset", LatencyCommands.reset)
        commands.register("latency|graph", LatencyCommands.graph)
        commands.register("latency|doctor", LatencyCommands.doctor)
        commands.register("latency|histogram", LatencyCommands.histogram)
        commands.register("latency|help", LatencyCommands.help)
    }
}

enum LatencyCommands {
    static func latest(_ c: Client, _ a: Args) {
        let m = c.engine.observers.latency
        c.out.array(m.order.count)
        for name in m.order {
            guard let s = m.events[name], let last = s.latest else { c.out.array(0); continue }
            c.out.array(4)
            c.out.bulk(name)
            c.out.integer(last.time)
            c.out.integer(last.latency)
            c.out.integer(s.max)
        }
    }

    static func history(_ c: Client, _ a: Args) {
        guard let s = c.engine.observers.latency.events[a.string(2)] else { c.out.array(0); return }
        let samples = s.chronological
        c.out.array(samples.count)
        for x in samples {
            c.out.array(2)
            c.out.integer(x.time)
            c.out.integer(x.latency)
        }
    }

    static func reset(_ c: Client, _ a: Args) {
        let m = c.engine.observers.latency
        if a.count == 2 {
            let n = m.order.count
            m.order.removeAll()
            m.events.removeAll()
            c.out.integer(n)
            return
        }
        var n = 0
        for i in 2..<a.count where m.reset(a.string(i)) { n += 1 }
        c.out.integer(n)
    }

    /// An ASCII chart of an event's samples: one column per sample, four rows high,
    /// with each sample's age printed vertically underneath.
    static func graph(_ c: Client, _ a: Args) {
        let event = a.string(2)
        guard let s = c.engine.observers.latency.events[event], !s.samples.isEmpty else {
            c.error("ERR No samples available for event '\(event)'")
            return
        }
        let samples = s.chronological
        let hi = samples.map(\.latency).max() ?? 0
        let lo = samples.map(\.latency).min() ?? 0
        var text = "\(event) - high \(hi) ms, low \(lo) ms (all time high \(s.max) ms)\n"
        text += String(repeating: "-", count: 80) + "\n"
        let rows = 4
        let span = max(1, hi - lo)
        var grid = [[Character]](repeating: [Character](repeating: " ", count: samples.count), count: rows)
        for (x, smp) in samples.enumerated() {
            // Height in quarter-rows: 1 ... rows*2 (two glyphs per row).
            let level = hi == lo ? rows * 2 : 1 + (smp.latency - lo) * (rows * 2 - 1) / span
            for r in 0..<rows {
                let fromBottom = rows - 1 - r
                let filled = level - fromBottom * 2
                if filled >= 2 { grid[r][x] = fromBottom == rows - 1 && filled == 2 ? "#" : "|" }
                else if filled == 1 { grid[r][x] = "_" }
            }
            if level >= rows * 2 { grid[0][x] = "#" }
        }
        for row in grid { text += String(row) + "\n" }
        let now = Int(Engine.wallClockMs() / 1000)
        let ages = samples.map { x -> [Character] in
            let age = max(0, now - x.time)
            let label = age < 60 ? "\(age)s" : age < 3600 ? "\(age / 60)m" : "\(age / 3600)h"
            return Array(label)
        }
        let depth = ages.map(\.count).max() ?? 0
        for d in 0..<depth {
            text += String(ages.map { d < $0.count ? $0[d] : " " }) + "\n"
        }
        c.out.verbatim(text)
    }

    static func doctor(_ c: Client, _ a: Args) {
        let e = c.engine
        let m = e.observers.latency
        var text = ""
        if e.config.latencyMonitorThreshold <= 0 && m.order.isEmpty {
            text = "Latency monitoring is off on this server, so there is nothing to analyse yet. "
                + "Enable it with \"CONFIG SET latency-monitor-threshold <milliseconds>\" and ask again "
                + "once the server has seen some load.\n"
        } else if m.order.isEmpty {
            text = "No latency spikes above the configured threshold of \(e.config.latencyMonitorThreshold) ms "
                + "have been recorded since the monitor was last reset. Nothing to report.\n"
        } else {
            text = "Latency report: events that reached the threshold of \(e.config.latencyMonitorThreshold) ms.\n\n"
            for (i, name) in m.order.enumerated() {
                guard let s = m.events[name] else { continue }
                let lat = s.chronological.map(\.latency)
                let avg = lat.isEmpty ? 0 : lat.reduce(0, +) / lat.count
                let dev = lat.isEmpty ? 0 : lat.map { abs($0 - avg) }.reduce(0, +) / lat.count
                let times = s.chronological.map(\.time)
                let period = times.count > 1 ? Double(times.last! - times.first!) / Double(times.count - 1) : 0
                text += "\(i + 1). \(name): \(lat.count) spike(s), average \(avg) ms, mean deviation \(dev) ms, "
                text += "one every \(ReplyBuffer.cFormat("%.2f", period)) s on average; worst ever \(s.max) ms.\n"
            }
            text += "\nSuggestions:\n\n"
            if e.config.slowlogLogSlowerThan < 0 || e.config.slowlogLogSlowerThan > e.config.latencyMonitorThreshold * 1000 {
                text += "- The slow log does not capture commands as slow as these events; consider "
                    + "CONFIG SET slowlog-log-slower-than \(e.config.latencyMonitorThreshold * 1000).\n"
            }
            if m.events["command"] != nil || m.events["fast-command"] != nil {
                text += "- Look at SLOWLOG GET to see which commands were slow. Commands working on large "
                    + "values (big sets, long lists, KEYS, SORT ...) run in O(N) and hold the server meanwhile.\n"
            }
            text += "- Deleting or expiring very large keys is also O(N); prefer UNLINK or lazyfree options for them.\n"
        }
        c.out.verbatim(text)
    }

    static func histogram(_ c: Client, _ a: Args) {
        var picked: [Command] = []
        if a.count == 2 {
            picked = c.engine.commands.everyCommand.filter { LatencyHistogram.total($0.latencyHistogram) > 0 }
        } else {
            for i in 2..<a.count {
                guard let cmd = c.engine.commands.lookupFull(a.string(i)) else { continue }
                // A container command stands for its subcommands.
                let group = cmd.subcommands.isEmpty ? [cmd] : c.engine.commands.orderedSubcommands(cmd)
                picked += group.filter { LatencyHistogram.total($0.latencyHistogram) > 0 }
            }
        }
        c.out.map(picked.count)
        for cmd in picked {
            c.out.bulk(cmd.fullName)
            c.out.map(2)
            c.out.bulk("calls")
            c.out.integer(LatencyHistogram.total(cmd.latencyHistogram))
            c.out.bulk("histogram_usec")
            let cdf = LatencyHistogram.cumulative(cmd.latencyHistogram)
            c.out.map(cdf.count)
            for (us, n) in cdf { c.out.integer(us); c.out.integer(n) }
        }
    }

    static func help(_ c: Client, _ a: Args) {
        HelpText.reply(c, "LATENCY", [
            "DOCTOR",
            "    Analyse the recorded latency events and suggest what to look at.",
            "GRAPH <event>",
            "    Draw the recorded samples of <event> as an ASCII chart.",
            "HISTORY <event>",
            "    List the (unix time, latency ms) samples recorded for <event>.",
            "LATEST",
            "    For every event: the time and latency of its newest sample and its worst latency.",
            "RESET [<event> ...]",
            "    Drop the samples of the given events, or of every event when none is named.",
            "HISTOGRAM [COMMAND ...]",
            "    Cumulative latency distribution (microseconds) of the named commands, or of",
            "    every command that has run when none is named.",
        ])
    }
}
