import CTern
import TernConfig
import TernProtocol
import TernStore

/// Redis's number parsing and formatting rules (see shared/specs/internals.md §3).
public enum Numbers {
    /// string2ll: "0", or optional '-' then 1-9 then digits, fitting in Int64. 1...20 bytes.
    @inline(__always)
    public static func parseInt(_ b: UnsafeRawBufferPointer) -> Int? {
        guard let p = b.baseAddress else { return nil }
        return parseInt(p, b.count)
    }

    @inline(__always)
    public static func parseInt(_ p: UnsafeRawPointer, _ n: Int) -> Int? {
        // One implementation of Redis's string2ll for the whole engine (TernStore's codec).
        ListpackCodec.parseInt(p, n)
    }

    public static func parseInt(_ a: [UInt8]) -> Int? { a.withUnsafeBytes { parseInt($0) } }

    /// string2d: the whole string must be a valid strtod number (no leading space, no nan,
    /// no overflow to inf from a finite literal, no underflow to 0 from nonzero).
    public static func parseDouble(_ b: UnsafeRawBufferPointer) -> Double? {
        let n = b.count
        if n == 0 || n > 5000 { return nil }
        let c0 = b[0]
        if c0 == 32 || (c0 >= 9 && c0 <= 13) { return nil }
        // Plain integers of up to 15 digits are exact doubles: strtod would give the same value.
        if n <= 16, let v = plainSmallInteger(b) { return Double(v) }
        // strtod needs a NUL-terminated copy: on the stack for the usual short scores.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double? in
            for i in 0..<n {
                if b[i] == 0 { return nil }
                buf[i] = CChar(bitPattern: b[i])
            }
            buf[n] = 0
            var consumed = 0
            let v = tern_strtod(buf.baseAddress, &consumed)
            if consumed != n || v.isNaN { return nil }
            if errnoIsRange(v, b) { return nil }
            return v
        }
    }

    /// "-"? followed by 1-15 decimal digits, nothing else; else nil.
    @inline(__always) static func plainSmallInteger(_ b: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let neg = b[0] == UInt8(ascii: "-")
        if neg { i = 1 }
        let digits = b.count - i
        if digits < 1 || digits > 15 { return nil }
        var v = 0
        while i < b.count {
            let d = b[i] &- 48
            if d > 9 { return nil }
            v = v * 10 + Int(d)
            i += 1
        }
        if neg && v == 0 { return nil }  // "-0" is -0.0: leave it to strtod
        return neg ? -v : v
    }

    /// strtod's ERANGE: overflow to ±inf from a finite spelling, or underflow to 0.
    static func errnoIsRange(_ v: Double, _ text: UnsafeRawBufferPointer) -> Bool {
        if v.isInfinite {
            let s = String(decoding: text, as: UTF8.self).lowercased()
            return !s.contains("inf")
        }
        if v == 0 {
            // A zero result from digits that are not all zero means underflow.
            var mantissaNonZero = false
            var inExp = false
            for ch in text {
                if ch == UInt8(ascii: "e") || ch == UInt8(ascii: "E") { inExp = true }
                if ch == UInt8(ascii: "x") || ch == UInt8(ascii: "X") { inExp = false; mantissaNonZero = false }
                if !inExp && ch >= 49 && ch <= 57 { mantissaNonZero = true }
                if !inExp && (ch == UInt8(ascii: "p") || ch == UInt8(ascii: "P")) { inExp = true }
            }
            return mantissaNonZero
        }
        return false
    }

    /// Redis string encoding for a freshly stored string value: int, embstr or raw.
    @inline(__always)
    public static func stringEncoding(_ b: UnsafeRawBufferPointer) -> ValueEncoding {
        if b.count <= 20, parseInt(b) != nil { return .int }
        return b.count <= 44 ? .embstr : .raw
    }

    /// Decimal text of v.
    public static func text(_ v: Int) -> [UInt8] { Array(String(v).utf8) }

    /// Writes the decimal text of v at p (room for 20 bytes needed); returns its length.
    @inline(__always)
    public static func formatInt(_ v: Int, into p: UnsafeMutableRawPointer) -> Int {
        let neg = v < 0
        var u = neg ? 0 &- UInt64(bitPattern: Int64(v)) : UInt64(v)
        var digits = 1
        var t = u
        while t >= 10 { t /= 10; digits += 1 }
        let n = digits + (neg ? 1 : 0)
        let q = p.assumingMemoryBound(to: UInt8.self)
        var i = n
        repeat {
            i -= 1
            q[i] = UInt8(truncatingIfNeeded: 48 &+ u % 10)
            u /= 10
        } while u != 0
        if neg { q[0] = 45 }
        return n
    }
}
