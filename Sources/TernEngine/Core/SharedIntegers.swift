import TernConfig
import TernStore

/// Redis stores the integers 0...9999 set by SET, MSET, INCR, RESTORE ... as ONE shared
/// object per value (OBJECT REFCOUNT 2147483647), unless maxmemory is set with an LRU/LFU
/// policy. The object's LRU/LFU field is therefore shared too: reading any key that holds
/// 5 touches every key holding 5, and a key newly set to 5 reports the idle time of the
/// shared 5 (last touched by anyone, or created at server start). Tern keeps values inline
/// in the entry, so it keeps these 10,000 fields here and consults them for int-encoded
/// entries whose value is in range (and not a private copy, see Entry.isPrivateInteger).
public final class SharedIntegers {
    public static let count = 10000
    public static let refcount = 2147483647

    let fields: UnsafeMutablePointer<UInt32>

    init(config: ServerConfig, nowMs: Int64) {
        // Created at start-up like any object: the LRU clock, or under an LFU policy
        // (minutes << 8) | LFU_INIT_VAL.
        let initial: UInt32 = config.usesLFU
            ? (UInt32(truncatingIfNeeded: nowMs / 60_000) & 0xFFFF) << 8 | 5
            : UInt32(truncatingIfNeeded: nowMs / 1000) & 0xFF_FFFF
        fields = .allocate(capacity: SharedIntegers.count)
        fields.initialize(repeating: initial, count: SharedIntegers.count)
    }

    deinit { fields.deallocate() }

    @inline(__always) subscript(i: Int) -> UInt32 {
        get { fields[i] }
        set { fields[i] = newValue }
    }
}

extension Engine {
    /// The shared integer an entry's value is (0...9999), or -1 when the entry owns its value.
    @inline(__always) public func sharedIntegerIndex(_ e: Entry) -> Int {
        guard e.encodingByte == ValueEncoding.int.rawValue else { return -1 }
        return sharedIntegerValue(e)
    }

    @inline(never) func sharedIntegerValue(_ e: Entry) -> Int {
        Engine.sharedIntegerValue(e, sharing: sharesIntegers)
    }

    /// Whether values 0...9999 are shared objects now (not with maxmemory and an LRU/LFU policy).
    var sharesIntegers: Bool { !(config.maxmemory != 0 && config.evictsByAccess) }

    /// The shared integer an int-encoded entry's value is, or -1, given whether sharing is on.
    static func sharedIntegerValue(_ e: Entry, sharing: Bool) -> Int {
        if e.isObject || e.isPrivateInteger || !sharing { return -1 }
        let v = e.stringValue
        guard v.count >= 1, v.count <= 4, v.count == 1 || v[0] != UInt8(ascii: "0") else { return -1 }
        var n = 0
        for b in v {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return -1 }
            n = n * 10 + Int(b &- UInt8(ascii: "0"))
        }
        return n
    }

    /// The LRU/LFU field that stands for an entry's value (its own, or the shared integer's).
    public func lruField(of e: Entry) -> UInt32 {
        let i = sharedIntegerIndex(e)
        return i >= 0 ? sharedIntegers[i] : e.lru
    }

    /// Stores the LRU/LFU field of an entry's value (RESTORE IDLETIME/FREQ on a shared
    /// integer changes the shared object, as in Redis).
    public func setLRUField(of e: Entry, _ value: UInt32) {
        let i = sharedIntegerIndex(e)
        if i >= 0 { sharedIntegers[i] = value } else { e.lru = value }
    }

    /// An access to an int-encoded string (the slow path of Client.touch).
    @inline(never) func touchInteger(_ e: Entry) {
        let i = sharedIntegerValue(e)
        if i >= 0 {
            sharedIntegers[i] = config.usesLFU ? lfuTouched(sharedIntegers[i]) : lruClock
        } else {
            e.lru = config.usesLFU ? lfuTouched(e.lru) : lruClock
        }
    }
}
