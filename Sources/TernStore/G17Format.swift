/// C's `%.17g` for the doubles sorted-set scores usually hold, without going through
/// snprintf (a SAVE of packed zsets spent ~22% of its instructions in glibc's printf).
///
/// Exact, not shortest-roundtrip: for a finite x = m * 2^-k (m < 2^53) with
/// 1e-6 <= |x| < 1e17, the 17 significant digits are N = x * 10^p rounded half-to-even,
/// p = 16 - floor(log10 |x|). m * 10^p fits 128 bits for p <= 22, and dividing by 2^k is a
/// shift whose remainder decides the rounding exactly, as glibc rounds. Anything else
/// (subnormals, |x| >= 1e17 with a positive exponent, |x| < 1e-6, inf, nan) returns nil and
/// the caller uses snprintf. Checked against snprintf in G17FormatTests.
public enum G17Format {
    static let pow10: [UInt64] = {
        var t: [UInt64] = []
        var v: UInt64 = 1
        for _ in 0...19 { t.append(v); v = v &* 10 }
        return t
    }()

    /// 10^p as a 128-bit value, p in 0...22.
    @inline(__always)
    static func pow10Wide(_ p: Int) -> UInt128 {
        if p <= 19 { return UInt128(pow10[p]) }
        return UInt128(pow10[p - 19]) &* UInt128(pow10[19])
    }

    /// Writes `%.17g` of `d` to `out` (room for 32 bytes) and returns its length, or nil
    /// when `d` is outside the exact fast range.
    @inline(__always)
    public static func format(_ d: Double, _ out: UnsafeMutablePointer<UInt8>) -> Int? {
        guard d.isFinite, d != 0 else { return nil }
        let bits = d.bitPattern
        let biased = Int((bits >> 52) & 0x7FF)
        guard biased != 0 else { return nil }                 // subnormal
        let m = (bits & ((1 << 52) - 1)) | (1 << 52)
        let k = 1075 - biased                                  // x = m / 2^k
        guard k > 0, k < 120 else { return nil }
        let x = Swift.abs(d)
        guard x >= 1e-6, x < 1e17 else { return nil }
        // floor(log10 x), possibly off by one: corrected below with exact bounds.
        var e10 = Int((x.exponent &* 78913) >> 18)             // log10(2) ~ 78913 / 2^18
        if e10 < -6 { e10 = -6 }
        var q: UInt128 = 0
        var rem: UInt128 = 0
        let mask = (UInt128(1) << k) &- 1
        var tries = 0
        while true {
            let p = 16 - e10
            guard p >= 0 && p <= 22 else { return nil }
            let prod = UInt128(m) &* pow10Wide(p)
            q = prod >> k
            rem = prod & mask
            tries += 1
            if q < UInt128(pow10[16]) { e10 -= 1 } else if q >= UInt128(pow10[17]) { e10 += 1 } else { break }
            if tries > 3 { return nil }
        }
        var n = UInt64(q)
        let half = UInt128(1) << (k - 1)
        if rem > half || (rem == half && n & 1 == 1) { n += 1 }
        if n == pow10[17] { n = pow10[16]; e10 += 1 }
        // The 17 digits.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { raw -> Int in
            let dg = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var v = n
            for i in stride(from: 16, through: 0, by: -1) { dg[i] = UInt8(v % 10) &+ 48; v /= 10 }
            var last = 16                                      // last significant digit kept
            var o = 0
            if d < 0 { out[0] = 45; o = 1 }                    // '-'
            if e10 < -4 {
                // d.ddde-0X (two exponent digits at least; here -5 or -6).
                while last > 0 && dg[last] == 48 { last -= 1 }
                out[o] = dg[0]; o += 1
                if last > 0 {
                    out[o] = 46; o += 1
                    for i in 1...last { out[o] = dg[i]; o += 1 }
                }
                let ex = -e10
                out[o] = 101; out[o + 1] = 45; out[o + 2] = 48 &+ UInt8(ex / 10); out[o + 3] = 48 &+ UInt8(ex % 10)
                return o + 4
            }
            if e10 >= 0 {
                // The first e10 + 1 digits are the integer part.
                let intDigits = e10 + 1
                for i in 0..<intDigits { out[o] = dg[i]; o += 1 }
                while last >= intDigits && dg[last] == 48 { last -= 1 }
                if last >= intDigits {
                    out[o] = 46; o += 1
                    for i in intDigits...last { out[o] = dg[i]; o += 1 }
                }
                return o
            }
            // 0.000ddd
            while last > 0 && dg[last] == 48 { last -= 1 }
            out[o] = 48; out[o + 1] = 46; o += 2
            for _ in 0..<(-e10 - 1) { out[o] = 48; o += 1 }
            for i in 0...last { out[o] = dg[i]; o += 1 }
            return o
        }
    }
}
