import CTern
#if canImport(Glibc)
import Glibc
#endif

/// LZF block compression (the format Redis uses for RDB strings and compressed quicklist
/// nodes), written from the format alone (the layout below) and checked against files Redis writes.
///
/// Stream: items starting with a control byte c:
///   000LLLLL            literal run of L+1 bytes follows
///   LLLooooo o2         back-reference of LLL+2 bytes (LLL = 1...6)
///   111ooooo x o2       back-reference of x+9 bytes
/// distance = ((c & 0x1F) << 8 | o2) + 1, copied byte by byte (overlaps repeat patterns).
public final class QuicklistLZF {
    /// Hash slots holding `base + position`; entries below the current base are stale,
    /// so the table never needs clearing between calls.
    let table: UnsafeMutablePointer<UInt32>
    var base: UInt32 = 1

    public init() {
        table = UnsafeMutablePointer<UInt32>.allocate(capacity: 65536)
        table.initialize(repeating: 0, count: 65536)
    }

    deinit { table.deallocate() }

    @inline(__always) static func hash(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int {
        let v = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2])
        return Int(((v >> 8) &- 5 &* v) & 0xFFFF)
    }

    /// Compresses `n` bytes at `input` into `out` (which must have room for capacity + 16
    /// bytes). Returns the compressed length, or nil when the result would not fit in
    /// `capacity` bytes.
    public func compress(_ input: UnsafeRawPointer, _ n: Int, into out: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        if n == 0 || capacity <= 0 { return nil }
        if UInt64(base) + UInt64(n) + 2 >= UInt64(UInt32.max) {
            table.update(repeating: 0, count: 65536)
            base = 1
        }
        let callBase = base
        base &+= UInt32(n) + 1
        let inp = input.assumingMemoryBound(to: UInt8.self)
        let o = out.assumingMemoryBound(to: UInt8.self)
        var olen = 1          // o[ph] is the placeholder of the current literal run
        var ph = 0
        var lit = 0
        var ip = 0
        @inline(__always) func put(_ i: Int) { table[QuicklistLZF.hash(inp, i)] = callBase + UInt32(i) }
        while ip + 2 < n {
            let s = QuicklistLZF.hash(inp, ip)
            let stored = table[s]
            table[s] = callBase + UInt32(ip)
            let ref = stored >= callBase ? Int(stored - callBase) : -1
            if ref > 0 && ip - ref <= 8192 && inp[ref] == inp[ip] && inp[ref + 1] == inp[ip + 1] && inp[ref + 2] == inp[ip + 2] {
                let maxlen = min(n - ip - 2, 264)
                var limit = maxlen
                if maxlen > 16 && maxlen < 19 { limit = 19 }
                if maxlen < 3 { limit = 3 }
                limit = min(limit, n - ip)
                var l = 3
                while l < limit && inp[ref + l] == inp[ip + l] { l += 1 }
                if olen - (lit == 0 ? 1 : 0) + 4 >= capacity { return nil }
                if lit > 0 { o[ph] = UInt8(lit - 1) } else { olen -= 1 }
                let off = ip - ref - 1
                let k = l - 2
                if k < 7 {
                    o[olen] = UInt8((off >> 8) + (k << 5)); olen += 1
                } else {
                    o[olen] = UInt8((off >> 8) + 0xE0); o[olen + 1] = UInt8(k - 7); olen += 2
                }
                o[olen] = UInt8(off & 0xFF); olen += 1
                ph = olen; olen += 1; lit = 0
                ip += l
                if ip + 2 >= n { break }
                put(ip - 2)
                put(ip - 1)
            } else {
                if olen >= capacity { return nil }
                o[olen] = inp[ip]; olen += 1; ip += 1; lit += 1
                if lit == 32 { o[ph] = 31; ph = olen; olen += 1; lit = 0 }
            }
        }
        if olen + 3 > capacity { return nil }
        while ip < n {
            o[olen] = inp[ip]; olen += 1; ip += 1; lit += 1
            if lit == 32 { o[ph] = 31; ph = olen; olen += 1; lit = 0 }
        }
        if lit > 0 { o[ph] = UInt8(lit - 1) } else { olen -= 1 }
        return olen
    }

    /// Decompresses `n` bytes at `input` into `out` (room for `outCapacity` bytes).
    /// Returns the decompressed length, or nil for a malformed stream.
    public static func decompress(_ input: UnsafeRawPointer, _ n: Int, into out: UnsafeMutableRawPointer, outCapacity: Int) -> Int? {
        // In C (CTern): copies in 8/16-byte steps, which the Swift loop could not get.
        let got = tern_lzf_decompress(input.assumingMemoryBound(to: UInt8.self), n,
                                      out.assumingMemoryBound(to: UInt8.self), outCapacity)
        return got < 0 ? nil : got
    }
}
