import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Element encoding shared by Tern's compact collections (Redis's listpack idea, made
/// forward-only: no back-length byte, every walk goes head to tail). One element:
///
///   0xxxxxxx               integer 0...127
///   10xxxxxx               string of length 0...63, bytes follow
///   110xxxxx yyyyyyyy      string of length (x << 8 | y) <= 8191, bytes follow
///   11100000 + u32 LE      string of any length, bytes follow
///   11110nnn + n+1 bytes   signed integer, little-endian, n+1 = 1...8 bytes
///   11111000 + 8 bytes     IEEE double (sorted-set scores only)
///
/// A string that is a canonical int64 (Redis's string2ll rules) is always stored as an
/// integer, so equal texts always have equal encodings and lookups compare cheaply.
public enum ListpackCodec {
    /// Largest compact buffer we build (Redis refuses listpacks above 1 GiB).
    public static let maxBufferBytes = 1 << 30

    /// string2ll: "0", or optional '-' then 1-9 then digits, fitting in Int64; 1...20 bytes.
    @inline(__always)
    public static func parseInt(_ p: UnsafeRawPointer?, _ n: Int) -> Int? {
        guard let p = p, n > 0, n <= 20 else { return nil }
        let q = p.assumingMemoryBound(to: UInt8.self)
        if n == 1 { let d = q[0] &- 48; return d <= 9 ? Int(d) : nil }
        var i = 0
        var neg = false
        if q[0] == 45 { neg = true; i = 1 }
        if q[i] < 49 || q[i] > 57 { return nil }
        var v: UInt64 = 0
        while i < n {
            let d = q[i] &- 48
            if d > 9 { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if neg {
            if v > UInt64(Int64.max) + 1 { return nil }
            return Int(truncatingIfNeeded: 0 &- v)
        }
        if v > UInt64(Int64.max) { return nil }
        return Int(v)
    }

    @inline(__always)
    public static func parseInt(_ b: UnsafeRawBufferPointer) -> Int? { parseInt(b.baseAddress, b.count) }

    /// Writes the decimal text of v into `out` (at least 20 bytes); returns its length.
    @inline(__always)
    public static func formatInt(_ v: Int, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        var u = v < 0 ? 0 &- UInt64(bitPattern: Int64(v)) : UInt64(v)
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &tmp) { t -> Int in
            var i = 24
            repeat {
                i -= 1
                t[i] = UInt8(48 + u % 10)
                u /= 10
            } while u != 0
            if v < 0 { i -= 1; t[i] = 45 }
            let n = 24 - i
            memcpy(out, t.baseAddress! + i, n)
            return n
        }
    }

    /// Calls body with the decimal text of v (no allocation).
    @inline(__always)
    public static func withIntText<R>(_ v: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &buf) { b in
            let p = b.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let n = formatInt(v, p)
            return body(UnsafeRawBufferPointer(start: p, count: n))
        }
    }

    // MARK: sizes and writers

    @inline(__always)
    public static func intSize(_ v: Int) -> Int {
        if v >= 0 && v <= 127 { return 1 }
        let m = v < 0 ? ~v : v          // magnitude bits needed, sign bit extra
        let bits = 64 - m.leadingZeroBitCount + 1
        return 1 + (bits + 7) / 8
    }

    @inline(__always)
    public static func stringHeaderSize(_ n: Int) -> Int { n <= 63 ? 1 : (n <= 8191 ? 2 : 5) }

    /// Encoded size of a string element (integer form when canonical).
    @inline(__always)
    public static func size(of b: UnsafeRawBufferPointer) -> Int {
        if let v = parseInt(b) { return intSize(v) }
        return stringHeaderSize(b.count) + b.count
    }

    @inline(__always) @discardableResult
    public static func writeInt(_ v: Int, _ p: UnsafeMutableRawPointer) -> Int {
        if v >= 0 && v <= 127 { p.storeBytes(of: UInt8(v), as: UInt8.self); return 1 }
        let n = intSize(v) - 1
        p.storeBytes(of: UInt8(0xF0 | (n - 1)), as: UInt8.self)
        var x = UInt64(bitPattern: Int64(v))
        for i in 0..<n {
            (p + 1 + i).storeBytes(of: UInt8(truncatingIfNeeded: x), as: UInt8.self)
            x >>= 8
        }
        return n + 1
    }

    @inline(__always) @discardableResult
    public static func writeString(_ b: UnsafeRawBufferPointer, _ p: UnsafeMutableRawPointer) -> Int {
        let n = b.count
        var h: Int
        if n <= 63 {
            p.storeBytes(of: UInt8(0x80 | n), as: UInt8.self); h = 1
        } else if n <= 8191 {
            p.storeBytes(of: UInt8(0xC0 | (n >> 8)), as: UInt8.self)
            (p + 1).storeBytes(of: UInt8(truncatingIfNeeded: n), as: UInt8.self); h = 2
        } else {
            p.storeBytes(of: UInt8(0xE0), as: UInt8.self)
            (p + 1).storeBytes(of: UInt32(truncatingIfNeeded: n).littleEndian, toByteOffset: 0, as: UInt32.self)
            h = 5
        }
        if n > 0 { memcpy(p + h, b.baseAddress!, n) }
        return h + n
    }

    /// Writes a string element (integer form when canonical); returns bytes written.
    @inline(__always) @discardableResult
    public static func write(_ b: UnsafeRawBufferPointer, _ p: UnsafeMutableRawPointer) -> Int {
        if let v = parseInt(b) { return writeInt(v, p) }
        return writeString(b, p)
    }

    /// Score storage rule of a listpack zset: integral values within ±(2^63-1)/2 are kept
    /// as integers (so -0 becomes 0), anything else as a double.
    @inline(__always)
    public static func scoreAsInt(_ d: Double) -> Int? {
        let lim = 4611686018427387903.0 // (2^63-1)/2, rounded to double
        if d == d.rounded(.towardZero) && d >= -lim && d <= lim { return Int(d) }
        return nil
    }

    @inline(__always)
    public static func scoreSize(_ d: Double) -> Int {
        if let v = scoreAsInt(d) { return intSize(v) }
        return 9
    }

    @inline(__always) @discardableResult
    public static func writeScore(_ d: Double, _ p: UnsafeMutableRawPointer) -> Int {
        if let v = scoreAsInt(d) { return writeInt(v, p) }
        p.storeBytes(of: UInt8(0xF8), as: UInt8.self)
        (p + 1).storeBytes(of: d.bitPattern, toByteOffset: 0, as: UInt64.self)
        return 9
    }

    /// Encoded size of a decoded element (a canonical-int string takes the integer form;
    /// a double takes the 9-byte score form).
    @inline(__always)
    public static func size(of v: Value) -> Int {
        switch v {
        case .int(let x): return intSize(x)
        case .string(let p, let n): return size(of: UnsafeRawBufferPointer(start: p, count: n))
        case .double: return 9
        }
    }

    /// Writes a decoded element as `size(of:)` sizes it; returns bytes written.
    @inline(__always) @discardableResult
    public static func write(_ v: Value, _ p: UnsafeMutableRawPointer) -> Int {
        switch v {
        case .int(let x): return writeInt(x, p)
        case .string(let s, let n): return write(UnsafeRawBufferPointer(start: s, count: n), p)
        case .double(let d):
            p.storeBytes(of: UInt8(0xF8), as: UInt8.self)
            (p + 1).storeBytes(of: d.bitPattern, toByteOffset: 0, as: UInt64.self)
            return 9
        }
    }

    /// Calls body with the text of a decoded element (integers formatted on the stack).
    @inline(__always)
    public static func withText<R>(_ v: Value, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch v {
        case .string(let s, let n): return body(UnsafeRawBufferPointer(start: s, count: n))
        case .int(let x): return withIntText(x, body)
        case .double(let d):
            var buf: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
            return withUnsafeMutableBytes(of: &buf) { b in
                let n = formatDouble(d, b.baseAddress!.assumingMemoryBound(to: CChar.self), 48)
                return body(UnsafeRawBufferPointer(start: b.baseAddress, count: n))
            }
        }
    }

    // MARK: readers

    /// Size in bytes of the element at p.
    @inline(__always)
    public static func elementSize(_ p: UnsafeRawPointer) -> Int {
        let h = p.load(as: UInt8.self)
        if h < 0x80 { return 1 }
        if h < 0xC0 { return 1 + Int(h & 0x3F) }
        if h < 0xE0 { return 2 + (Int(h & 0x1F) << 8 | Int(p.load(fromByteOffset: 1, as: UInt8.self))) }
        if h == 0xE0 { return 5 + Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt32.self))) }
        if h < 0xF8 { return 2 + Int(h & 7) }
        return 9
    }

    /// A decoded element.
    public enum Value {
        case string(UnsafeRawPointer, Int)
        case int(Int)
        case double(Double)
    }

    @inline(__always)
    public static func decode(_ p: UnsafeRawPointer) -> Value {
        let h = p.load(as: UInt8.self)
        if h < 0x80 { return .int(Int(h)) }
        if h < 0xC0 { return .string(p + 1, Int(h & 0x3F)) }
        if h < 0xE0 { return .string(p + 2, Int(h & 0x1F) << 8 | Int(p.load(fromByteOffset: 1, as: UInt8.self))) }
        if h == 0xE0 { return .string(p + 5, Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))) }
        if h < 0xF8 {
            let n = Int(h & 7) + 1
            var x: UInt64 = 0
            for i in 0..<n { x |= UInt64(p.load(fromByteOffset: 1 + i, as: UInt8.self)) << (8 * UInt64(i)) }
            // sign-extend from n bytes
            let shift = UInt64(64 - 8 * n)
            return .int(Int(Int64(bitPattern: x << shift) >> Int64(shift)))
        }
        return .double(Double(bitPattern: p.loadUnaligned(fromByteOffset: 1, as: UInt64.self)))
    }

    /// Calls body with the text of the element at p (integers formatted on the stack).
    @inline(__always)
    public static func withText<R>(_ p: UnsafeRawPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch decode(p) {
        case .string(let s, let n): return body(UnsafeRawBufferPointer(start: s, count: n))
        case .int(let v): return withIntText(v, body)
        case .double(let d):
            var buf: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
            return withUnsafeMutableBytes(of: &buf) { b in
                let n = formatDouble(d, b.baseAddress!.assumingMemoryBound(to: CChar.self), 48)
                return body(UnsafeRawBufferPointer(start: b.baseAddress, count: n))
            }
        }
    }

    /// The element's value as an owned byte array.
    public static func bytes(_ p: UnsafeRawPointer) -> [UInt8] { withText(p) { Array($0) } }

    /// Numeric value of a score element.
    @inline(__always)
    public static func score(_ p: UnsafeRawPointer) -> Double {
        switch decode(p) {
        case .int(let v): return Double(v)
        case .double(let d): return d
        case .string(let s, let n):   // never written by Tern; tolerate
            var tmp = [CChar](repeating: 0, count: n + 1)
            for i in 0..<n { tmp[i] = CChar(bitPattern: s.load(fromByteOffset: i, as: UInt8.self)) }
            return strtod(tmp, nil)
        }
    }

    /// `%.17g` with inf/-inf/nan spelled as Redis does; returns the length.
    public static func formatDouble(_ d: Double, _ out: UnsafeMutablePointer<CChar>, _ cap: Int) -> Int {
        if d.isInfinite {
            let s: StaticString = d > 0 ? "inf" : "-inf"
            memcpy(out, s.utf8Start, s.utf8CodeUnitCount)
            return s.utf8CodeUnitCount
        }
        if d.isNaN {
            let s: StaticString = d.sign == .minus ? "-nan" : "nan"
            memcpy(out, s.utf8Start, s.utf8CodeUnitCount)
            return s.utf8CodeUnitCount
        }
        if let v = exactInt(d) {
            return formatInt(v, UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt8.self))
        }
        if cap >= 32, let n = G17Format.format(d, UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt8.self)) {
            return n
        }
        return Int(tern_format_double_g17(out, cap, d))
    }

    /// Integral doubles with at most 17 significant digits print as plain integers under %.17g.
    @inline(__always)
    static func exactInt(_ d: Double) -> Int? {
        if d == d.rounded(.towardZero) && d > -1e17 && d < 1e17 && !(d == 0 && d.sign == .minus) { return Int(d) }
        return nil
    }

    /// Probe for equality tests against stored elements: the canonical-int form is
    /// computed once per lookup.
    public struct Probe {
        public let bytes: UnsafeRawBufferPointer
        public let int: Int?
        @inline(__always) public init(_ b: UnsafeRawBufferPointer) { bytes = b; int = ListpackCodec.parseInt(b) }

        /// True if the element at p equals the probe.
        @inline(__always) public func matches(_ p: UnsafeRawPointer) -> Bool {
            let h = p.load(as: UInt8.self)
            if let v = int {
                if h < 0x80 { return v == Int(h) }
                if h >= 0xF0 && h < 0xF8 {
                    if case .int(let x) = ListpackCodec.decode(p) { return x == v }
                }
                return false
            }
            let s: UnsafeRawPointer, n: Int
            if h < 0x80 || h >= 0xF0 { return false }
            if h < 0xC0 { s = p + 1; n = Int(h & 0x3F) }
            else if h < 0xE0 { s = p + 2; n = Int(h & 0x1F) << 8 | Int(p.load(fromByteOffset: 1, as: UInt8.self)) }
            else { s = p + 5; n = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt32.self))) }
            return n == bytes.count && (n == 0 || memcmp(s, bytes.baseAddress!, n) == 0)
        }
    }

    /// Binary comparison (memcmp, then length) of the element at p with b: <0, 0, >0.
    @inline(__always)
    public static func compare(_ p: UnsafeRawPointer, _ b: UnsafeRawBufferPointer) -> Int {
        withText(p) { compareBytes($0, b) }
    }

    @inline(__always)
    public static func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        if n > 0 {
            let r = memcmp(a.baseAddress!, b.baseAddress!, n)
            if r != 0 { return Int(r) }
        }
        return a.count - b.count
    }
}

@inline(__always)
func tern_format_double_g17(_ out: UnsafeMutablePointer<CChar>, _ cap: Int, _ d: Double) -> Int32 {
    tern_format_double(out, cap, "%.17g", d)
}
