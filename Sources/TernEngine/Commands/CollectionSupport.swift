import CTern
import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the hash, set and sorted-set commands: SCAN argument parsing, glob
/// matching, a fast random source and long double arithmetic (HINCRBYFLOAT).
enum CollectionSupport {
    // MARK: SCAN cursor and options

    /// Redis's parseScanCursorOrReply: strtoul(base 10) over the whole argument; a leading
    /// space is refused, a sign is accepted (a negative value wraps modulo 2^64), "" is 0.
    static func parseCursor(_ b: UnsafeRawBufferPointer) -> UInt64? {
        let n = b.count
        if n == 0 { return 0 }
        let c0 = b[0]
        if c0 == 32 || (c0 >= 9 && c0 <= 13) { return nil }
        var i = 0
        var neg = false
        if c0 == 43 || c0 == 45 { neg = c0 == 45; i = 1 }
        var v: UInt64 = 0
        var digits = 0
        while i < n {
            let d = b[i] &- 48
            if d > 9 { break }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = s
            digits += 1
            i += 1
        }
        if digits == 0 { return b[0] == 0 ? 0 : nil }   // strtoul consumed nothing
        if i < n && b[i] != 0 { return nil }            // trailing garbage (a NUL ends the C string)
        return neg ? 0 &- v : v
    }

    struct ScanOptions {
        var pattern: UnsafeRawBufferPointer? = nil
        var count = 10
    }

    /// Parses `[MATCH pattern] [COUNT n]` from index `from`; replies with the error and
    /// returns nil on failure.
    static func parseScanOptions(_ c: Client, _ a: Args, from: Int) -> ScanOptions? {
        var o = ScanOptions()
        var j = from
        while j < a.count {
            let left = a.count - j - 1
            if a.equals(j, "count") && left >= 1 {
                guard let v = Numbers.parseInt(a[j + 1]) else { c.notInteger(); return nil }
                if v < 1 { c.syntaxError(); return nil }
                o.count = v
                j += 2
            } else if a.equals(j, "match") && left >= 1 {
                let p = a[j + 1]
                o.pattern = Glob.isMatchAll(p) ? nil : p
                j += 2
            } else {
                c.syntaxError()
                return nil
            }
        }
        return o
    }

    /// Writes `[cursor, [items...]]` where items are produced by `fill`, which returns
    /// the number of elements it wrote.
    static func replyScan(_ c: Client, cursor: UInt64, _ fill: () -> Int) {
        c.out.array(2)
        var text: [UInt8] = Array(String(cursor).utf8)
        text.withUnsafeMutableBytes { c.out.bulk(UnsafeRawBufferPointer($0)) }
        let token = c.out.deferredLength()
        let n = fill()
        c.out.setDeferredArray(token, n)
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }

    // MARK: propagation

    /// Sets the deterministic rewrite of the current write (SPOP -> SREM ...), built only
    /// when something (AOF, replicas) consumes the propagation stream.
    @inline(__always)
    static func propagate(_ c: Client, _ build: () -> [OwnedArgs]) {
        if c.engine.propagates { c.propagateAs = build() }
    }

    // MARK: random

    /// wyrand: fast, good enough for SRANDMEMBER/SPOP/HRANDFIELD/ZRANDMEMBER sampling.
    struct FastRandom: RandomNumberGenerator {
        nonisolated(unsafe) static var state: UInt64 = {
            var s: UInt64 = 0
            withUnsafeMutableBytes(of: &s) { tern_random_bytes($0.baseAddress, 8) }
            return s
        }()
        @inline(__always) mutating func next() -> UInt64 {
            FastRandom.state &+= 0xa076_1d64_78bd_642f
            let r = FastRandom.state.multipliedFullWidth(by: FastRandom.state ^ 0xe703_7ed1_a0b4_28db)
            return r.high ^ r.low
        }
    }

    @inline(__always) static func random(below n: Int) -> Int {
        var g = FastRandom()
        return Int(g.next() % UInt64(n))
    }

    /// Largest |count| served with repetitions (negative SRANDMEMBER/HRANDFIELD/ZRANDMEMBER
    /// counts): a guard against a reply that would exhaust memory.
    static let maxRandomCount = 1 << 27
}
