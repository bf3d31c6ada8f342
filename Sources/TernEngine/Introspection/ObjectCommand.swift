import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerObjectCommands() {
        commands.register("object|encoding", ObjectCommand.encoding)
        commands.register("object|freq", ObjectCommand.freq)
        commands.register("object|idletime", ObjectCommand.idletime)
        commands.register("object|refcount", ObjectCommand.refcount)
        commands.register("object|help", ObjectCommand.help)
    }

    /// maxmemory-policy is one of the LFU policies (the 24-bit field holds LFU data).
    public var usesLFUPolicy: Bool { config.maxmemoryPolicy.hasSuffix("-lfu") }
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP (object.c).
public enum ObjectCommand {
    /// Redis's OBJ_SHARED_REFCOUNT, reported for the shared integers 0...9999.
    static let sharedRefcount = SharedIntegers.refcount

    /// OBJECT looks keys up without touching them and without key-miss events.
    static func lookup(_ c: Client, _ a: Args) -> Entry? {
        guard let e = c.lookup(a[2], [.noTouch, .noNotify]) else { c.out.null(); return nil }
        return e
    }

    static func encoding(_ c: Client, _ a: Args) {
        guard let e = lookup(c, a) else { return }
        c.out.bulk(e.encoding.name)
    }

    /// Whether a string value is represented by one of Redis's shared integer objects.
    static func isSharedInteger(_ engine: Engine, _ e: Entry) -> Bool {
        engine.sharedIntegerIndex(e) >= 0
    }

    static func refcountOf(_ engine: Engine, _ e: Entry) -> Int {
        isSharedInteger(engine, e) ? sharedRefcount : 1
    }

    static func refcount(_ c: Client, _ a: Args) {
        guard let e = lookup(c, a) else { return }
        c.out.integer(refcountOf(c.engine, e))
    }

    static func freq(_ c: Client, _ a: Args) {
        guard let e = lookup(c, a) else { return }
        guard c.engine.usesLFUPolicy else {
            c.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            return
        }
        c.out.integer(decayedLFUCounter(c.engine, c.engine.lruField(of: e)))
    }

    static func idletime(_ c: Client, _ a: Args) {
        guard let e = lookup(c, a) else { return }
        if c.engine.usesLFUPolicy {
            c.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
            return
        }
        c.out.integer(idleMillis(c.engine, c.engine.lruField(of: e)) / 1000)
    }

    /// Milliseconds since the LRU clock value `lru` (24-bit clock, wraps).
    public static func idleMillis(_ engine: Engine, _ lru: UInt32) -> Int { idleMillis(clock: engine.lruClock, lru) }

    /// `idleMillis` against a given LRU clock (a snapshot's writer thread reads no engine state).
    public static func idleMillis(clock: UInt32, _ lru: UInt32) -> Int {
        let clock = Int(clock), l = Int(lru & 0xFF_FFFF)
        return clock >= l ? (clock - l) * 1000 : (clock + 0xFF_FFFF - l) * 1000
    }

    /// The LFU counter after decay, without storing it (LFUDecrAndReturn).
    public static func decayedLFUCounter(_ engine: Engine, _ lru: UInt32) -> Int {
        decayedLFUCounter(lru, nowMs: engine.nowMs, decayTime: engine.config.lfuDecayTime)
    }

    public static func decayedLFUCounter(_ lru: UInt32, nowMs: Int64, decayTime decay: Int) -> Int {
        let ldt = Int((lru >> 8) & 0xFFFF)
        var counter = Int(lru & 0xFF)
        let now = Int((nowMs / 60_000) & 0xFFFF)
        let elapsed = now >= ldt ? now - ldt : 65535 - ldt + now
        let periods = decay > 0 ? elapsed / decay : 0
        if periods > 0 { counter = periods > counter ? 0 : counter - periods }
        return counter
    }

    static let helpLines: [String] = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]

    static func help(_ c: Client, _ a: Args) { replyHelp(c, helpLines) }

    /// A help reply: an array of status lines.
    static func replyHelp(_ c: Client, _ lines: [String]) {
        c.out.array(lines.count)
        for l in lines { c.out.simple(l) }
    }
}
