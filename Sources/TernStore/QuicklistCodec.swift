#if canImport(Glibc)
import Glibc
#endif

/// One list element read out of a packed node: an integer (`ptr == nil`) or a byte string
/// borrowed from the node buffer (valid until the list is modified).
public struct QuicklistValue {
    public let ptr: UnsafeRawPointer?
    public let len: Int
    public let int: Int

    @inline(__always) public init(int: Int) { ptr = nil; len = 0; self.int = int }
    @inline(__always) public init(ptr: UnsafeRawPointer, len: Int) { self.ptr = ptr; self.len = len; int = 0 }

    @inline(__always) public var isInt: Bool { ptr == nil }

    /// The element as bytes (integers are formatted as decimal text on the stack).
    @inline(__always)
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let p = ptr { return try body(UnsafeRawBufferPointer(start: p, count: len)) }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return try withUnsafeMutableBytes(of: &tmp) { t in
            let n = QuicklistCodec.formatInt(int, into: t.baseAddress!)
            return try body(UnsafeRawBufferPointer(start: t.baseAddress!, count: n))
        }
    }

    /// Owned copy of the element bytes.
    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// Byte length of the element as text.
    public var textLength: Int { ptr != nil ? len : QuicklistCodec.decimalLength(int) }
}

/// Tern's packed list entry format (no per-entry back-pointer; see Quicklist for how
/// tail access stays O(1)). Integers are stored when the element is the canonical decimal
/// text of an int64 (Redis's string2ll rule), so they round-trip byte for byte.
///
///   tag          layout                                   entry size
///   0xxxxxxx     uint 0...127                             1
///   10llllll     string, length 0...63, then bytes        1 + len
///   110vvvvv v   13-bit signed int                        2
///   1110llll l   string, length 0...4095, then bytes      2 + len
///   11110vvv vv  19-bit signed int                        3
///   111110vv vvv 26-bit signed int                        4
///   11111100     int32 little endian                      5
///   11111101     int64 little endian                      9
///   11111110     string, uint32 LE length, bytes          5 + len
///   11111111     string, uint64 LE length, bytes          9 + len
/// Multi-byte integer payloads are big endian after the tag bits.
public enum QuicklistCodec {
    /// string2ll: the canonical decimal text of an Int64 ("0", "-5", no '+', no leading 0).
    @inline(__always)
    public static func parseStrictInt(_ p: UnsafeRawPointer, _ n: Int) -> Int? {
        ListpackCodec.parseInt(p, n)
    }

    @inline(__always)
    public static func parseStrictInt(_ b: UnsafeRawBufferPointer) -> Int? {
        guard let p = b.baseAddress else { return nil }
        return parseStrictInt(p, b.count)
    }

    /// Writes the decimal text of v at `out` (needs 20 bytes); returns its length.
    @inline(__always)
    public static func formatInt(_ v: Int, into out: UnsafeMutableRawPointer) -> Int {
        var u = v < 0 ? UInt64(0) &- UInt64(bitPattern: Int64(v)) : UInt64(v)
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &tmp) { t -> Int in
            var i = 24
            repeat {
                i -= 1
                t[i] = UInt8(truncatingIfNeeded: 48 &+ u % 10)
                u /= 10
            } while u != 0
            if v < 0 { i -= 1; t[i] = 45 }
            memcpy(out, t.baseAddress! + i, 24 - i)
            return 24 - i
        }
    }

    public static func decimalLength(_ v: Int) -> Int {
        var u = v < 0 ? UInt64(0) &- UInt64(bitPattern: Int64(v)) : UInt64(v)
        var n = v < 0 ? 1 : 0
        repeat { n += 1; u /= 10 } while u != 0
        return n
    }

    /// Encoded size of an integer entry.
    @inline(__always)
    static func intSize(_ v: Int) -> Int {
        if v >= 0 && v <= 127 { return 1 }
        if v >= -4096 && v <= 4095 { return 2 }
        if v >= -(1 << 18) && v < (1 << 18) { return 3 }
        if v >= -(1 << 25) && v < (1 << 25) { return 4 }
        if v >= Int(Int32.min) && v <= Int(Int32.max) { return 5 }
        return 9
    }

    @inline(__always)
    static func stringSize(_ n: Int) -> Int {
        if n <= 63 { return 1 + n }
        if n <= 4095 { return 2 + n }
        if n <= Int(UInt32.max) { return 5 + n }
        return 9 + n
    }

    /// How an element will be stored: its entry size and, when integer-encoded, the value.
    @inline(__always)
    public static func plan(_ s: UnsafeRawBufferPointer) -> (size: Int, int: Int?) {
        if s.count <= 20, let v = parseStrictInt(s) { return (intSize(v), v) }
        return (stringSize(s.count), nil)
    }

    /// Writes an element at `p` following `plan`; returns bytes written.
    @inline(__always) @discardableResult
    static func write(_ s: UnsafeRawBufferPointer, _ plan: (size: Int, int: Int?), at p: UnsafeMutableRawPointer) -> Int {
        if let v = plan.int {
            writeInt(v, size: plan.size, at: p)
        } else {
            let n = s.count
            var h = 0
            switch plan.size - n {
            case 1: p.storeBytes(of: UInt8(0x80 | n), as: UInt8.self); h = 1
            case 2:
                p.storeBytes(of: UInt8(0xE0 | (n >> 8)), as: UInt8.self)
                p.storeBytes(of: UInt8(n & 0xFF), toByteOffset: 1, as: UInt8.self); h = 2
            case 5:
                p.storeBytes(of: 0xFE, as: UInt8.self)
                p.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 1, as: UInt32.self); h = 5
            default:
                p.storeBytes(of: 0xFF, as: UInt8.self)
                p.storeBytes(of: UInt64(n).littleEndian, toByteOffset: 1, as: UInt64.self); h = 9
            }
            if n > 0 { memcpy(p + h, s.baseAddress!, n) }
        }
        return plan.size
    }

    @inline(__always)
    static func writeInt(_ v: Int, size: Int, at p: UnsafeMutableRawPointer) {
        let u = UInt64(bitPattern: Int64(v))
        let q = p.assumingMemoryBound(to: UInt8.self)
        switch size {
        case 1: q[0] = UInt8(truncatingIfNeeded: u)
        case 2:
            q[0] = 0xC0 | UInt8(truncatingIfNeeded: (u >> 8) & 0x1F)
            q[1] = UInt8(truncatingIfNeeded: u)
        case 3:
            q[0] = 0xF0 | UInt8(truncatingIfNeeded: (u >> 16) & 0x07)
            q[1] = UInt8(truncatingIfNeeded: u >> 8)
            q[2] = UInt8(truncatingIfNeeded: u)
        case 4:
            q[0] = 0xF8 | UInt8(truncatingIfNeeded: (u >> 24) & 0x03)
            q[1] = UInt8(truncatingIfNeeded: u >> 16)
            q[2] = UInt8(truncatingIfNeeded: u >> 8)
            q[3] = UInt8(truncatingIfNeeded: u)
        case 5:
            q[0] = 0xFC
            p.storeBytes(of: Int32(truncatingIfNeeded: v).littleEndian, toByteOffset: 1, as: Int32.self)
        default:
            q[0] = 0xFD
            p.storeBytes(of: Int64(v).littleEndian, toByteOffset: 1, as: Int64.self)
        }
    }

    @inline(__always)
    static func signExtend(_ raw: UInt64, bits: Int) -> Int {
        Int(Int64(bitPattern: raw << UInt64(64 - bits)) >> Int64(64 - bits))
    }

    /// Decodes the entry at `p`: its value and entry size.
    @inline(__always)
    public static func decode(_ p: UnsafeRawPointer) -> (QuicklistValue, Int) {
        let q = p.assumingMemoryBound(to: UInt8.self)
        let t = q[0]
        if t < 0x80 { return (QuicklistValue(int: Int(t)), 1) }
        if t < 0xC0 { let n = Int(t & 0x3F); return (QuicklistValue(ptr: p + 1, len: n), 1 + n) }
        if t < 0xE0 {
            let raw = UInt64(t & 0x1F) << 8 | UInt64(q[1])
            return (QuicklistValue(int: signExtend(raw, bits: 13)), 2)
        }
        if t < 0xF0 {
            let n = Int(t & 0x0F) << 8 | Int(q[1])
            return (QuicklistValue(ptr: p + 2, len: n), 2 + n)
        }
        if t < 0xF8 {
            let raw = UInt64(t & 0x07) << 16 | UInt64(q[1]) << 8 | UInt64(q[2])
            return (QuicklistValue(int: signExtend(raw, bits: 19)), 3)
        }
        if t < 0xFC {
            let raw = UInt64(t & 0x03) << 24 | UInt64(q[1]) << 16 | UInt64(q[2]) << 8 | UInt64(q[3])
            return (QuicklistValue(int: signExtend(raw, bits: 26)), 4)
        }
        switch t {
        case 0xFC:
            return (QuicklistValue(int: Int(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: Int32.self)))), 5)
        case 0xFD:
            return (QuicklistValue(int: Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: Int64.self)))), 9)
        case 0xFE:
            let n = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
            return (QuicklistValue(ptr: p + 5, len: n), 5 + n)
        default:
            let n = Int(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt64.self)))
            return (QuicklistValue(ptr: p + 9, len: n), 9 + n)
        }
    }

    /// Size of the entry at `p` without materialising its value.
    @inline(__always)
    public static func entrySize(_ p: UnsafeRawPointer) -> Int {
        let q = p.assumingMemoryBound(to: UInt8.self)
        let t = q[0]
        if t < 0x80 { return 1 }
        if t < 0xC0 { return 1 + Int(t & 0x3F) }
        if t < 0xE0 { return 2 }
        if t < 0xF0 { return 2 + (Int(t & 0x0F) << 8 | Int(q[1])) }
        if t < 0xF8 { return 3 }
        if t < 0xFC { return 4 }
        switch t {
        case 0xFC: return 5
        case 0xFD: return 9
        case 0xFE: return 5 + Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
        default: return 9 + Int(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 1, as: UInt64.self)))
        }
    }

    /// Compares a stored value with an argument (`argInt` = the argument parsed with
    /// parseStrictInt, so integer entries compare as numbers like listpack's lpCompare).
    @inline(__always)
    public static func equals(_ v: QuicklistValue, _ arg: UnsafeRawBufferPointer, argInt: Int?) -> Bool {
        if let p = v.ptr {
            guard v.len == arg.count else { return false }
            return v.len == 0 || memcmp(p, arg.baseAddress!, v.len) == 0
        }
        return argInt == v.int
    }
}
