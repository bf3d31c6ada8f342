import TernConfig
import CTern
#if canImport(Glibc)
import Glibc
#endif

#if arch(x86_64) || arch(i386)
/// C `long double`: x86 80-bit extended precision.
public typealias LongDouble = Float80
@inline(__always) func cStrtold(_ p: UnsafePointer<CChar>, _ consumed: inout Int) -> LongDouble { tern_strtold(p, &consumed) }
@inline(__always) func cFormatLD(_ buf: UnsafeMutablePointer<CChar>, _ n: Int, _ fmt: StaticString, _ v: LongDouble) -> Int32 {
    tern_format_long_double(buf, n, UnsafeRawPointer(fmt.utf8Start).assumingMemoryBound(to: CChar.self), v)
}
#else
// Platforms without an 80-bit type fall back to double precision (results can differ
// from an x86 Redis in the last digits).
public typealias LongDouble = Double
@inline(__always) func cStrtold(_ p: UnsafePointer<CChar>, _ consumed: inout Int) -> LongDouble { tern_strtod(p, &consumed) }
@inline(__always) func cFormatLD(_ buf: UnsafeMutablePointer<CChar>, _ n: Int, _ fmt: StaticString, _ v: LongDouble) -> Int32 {
    // "%.17Lf" -> "%.17f" for a double argument.
    let f = String(String(decoding: UnsafeBufferPointer(start: fmt.utf8Start, count: fmt.utf8CodeUnitCount),
                          as: UTF8.self).filter { $0 != "L" })
    return f.withCString { tern_format_double(buf, n, $0, v) }
}
#endif

/// Long double (x86 80-bit extended, Swift `Float80`) parsing and formatting as Redis
/// does it for INCRBYFLOAT / HINCRBYFLOAT (shared/specs/internals.md §3.3).
/// The C library does the digit work (`strtold`, `snprintf("%.17Lf")`) so results are
/// bit-identical to Redis on the same platform.
public enum FloatFormat {
    /// Redis refuses long double texts of this many bytes or more (MAX_LONG_DOUBLE_CHARS).
    public static let maxLongDoubleChars = 5 * 1024

    /// string2ld: the whole text must be a strtold number; no leading space, no NaN,
    /// no overflow to ±inf or underflow to 0 (ERANGE), no embedded NUL.
    public static func parseLongDouble(_ b: UnsafeRawBufferPointer) -> LongDouble? {
        let n = b.count
        if n == 0 || n >= maxLongDoubleChars { return nil }
        let c0 = b[0]
        if c0 == 32 || (c0 >= 9 && c0 <= 13) { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> LongDouble? in
            guard let p = buf.baseAddress, let src = b.baseAddress else { return nil }
            memcpy(p, src, n)
            p[n] = 0
            errno = 0
            var consumed = 0
            let v = cStrtold(p, &consumed)
            let err = errno
            if consumed != n || v.isNaN { return nil }
            if err == ERANGE && (v.isInfinite || v == 0) { return nil }
            if err == EINVAL { return nil }
            return v
        }
    }

    public static func parseLongDouble(_ a: [UInt8]) -> LongDouble? { a.withUnsafeBytes { parseLongDouble($0) } }

    /// ld2string "human" mode: `%.17Lf`, trailing zeros and a trailing '.' removed,
    /// `-0` printed as `0`. The caller must have rejected NaN and infinities.
    public static func humanText(_ v: LongDouble) -> [UInt8] {
        var out = formatted("%.17Lf", v)
        if out.contains(46) { // '.'
            while let last = out.last, last == 48 { out.removeLast() }
            if out.last == 46 { out.removeLast() }
        }
        if out == [45, 48] { out = [48] } // "-0" -> "0"
        return out
    }

    /// ld2string "auto" mode: `%.17Lg` (inf/-inf spelled out).
    public static func autoText(_ v: LongDouble) -> [UInt8] {
        if v.isInfinite { return v > 0 ? Array("inf".utf8) : Array("-inf".utf8) }
        return formatted("%.17Lg", v)
    }

    /// snprintf with one long double argument (`fmt` is a NUL-terminated literal).
    public static func formatted(_ fmt: StaticString, _ v: LongDouble) -> [UInt8] {
        var small = [UInt8](repeating: 0, count: 64)
        let n = Int(small.withUnsafeMutableBytes {
            cFormatLD($0.baseAddress!.assumingMemoryBound(to: CChar.self), 64, fmt, v)
        })
        if n < 0 { return [] }
        if n < 64 { small.removeSubrange(n...); return small }
        // Up to ~4950 digits for the largest finite long doubles.
        var big = [UInt8](repeating: 0, count: n + 1)
        _ = big.withUnsafeMutableBytes {
            cFormatLD($0.baseAddress!.assumingMemoryBound(to: CChar.self), n + 1, fmt, v)
        }
        big.removeLast()
        return big
    }
}
