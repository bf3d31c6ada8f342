import TernProtocol
import TernStore

/// Redis's listpack, the byte format RDB types 16/17/18 carry (Tern's in-memory compact
/// format differs: no backlen). Layout:
///   <total-bytes u32 LE> <count u16 LE; 65535 = unknown> (<encoding+data> <backlen>)* FF
/// Entry encodings (first byte): 0xxxxxxx uint7; 10LLLLLL str6; 110xxxxx +1 int13;
/// 1110LLLL +1 str12; F0 +u32 str32; F1 int16; F2 int24; F3 int32; F4 int64; FF end.
/// backlen: size of encoding+data, big-endian base-128, written after the entry.
struct RedisListpackBuilder {
    private(set) var bytes: [UInt8] = [0, 0, 0, 0, 0, 0]
    private(set) var count = 0

    /// Bytes the finished listpack would have (the quicklist fill rule reads this).
    var size: Int { bytes.count + 1 }

    /// Redis's backlen size for an entry of `e` bytes (the boundaries are Redis's own).
    static func backlenSize(_ e: Int) -> Int {
        if e <= 127 { return 1 }
        if e < 16383 { return 2 }
        if e < 2097151 { return 3 }
        if e < 268435455 { return 4 }
        return 5
    }

    /// Bytes an element takes in a listpack (encoding, data and backlen), as `append` writes it.
    static func entrySize(_ s: UnsafeRawBufferPointer) -> Int {
        let e: Int
        if let v = ListpackCodec.parseInt(s) {
            switch v {
            case 0...127: e = 1
            case -4096...4095: e = 2
            case -32768...32767: e = 3
            case -8388608...8388607: e = 4
            case -2147483648...2147483647: e = 5
            default: e = 9
            }
        } else {
            e = (s.count < 64 ? 1 : s.count < 4096 ? 2 : 5) + s.count
        }
        return e + backlenSize(e)
    }

    private mutating func appendBacklen(_ e: Int) {
        let n = RedisListpackBuilder.backlenSize(e)
        // Most significant 7-bit group first; every byte after the first has bit 7 set.
        for i in stride(from: n - 1, through: 0, by: -1) {
            var b = UInt8((e >> (7 * i)) & 127)
            if i != n - 1 { b |= 0x80 }
            bytes.append(b)
        }
    }

    private mutating func appendLE(_ v: UInt64, _ n: Int) {
        for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    mutating func appendInt(_ v: Int) {
        let start = bytes.count
        let u = UInt64(bitPattern: Int64(v))
        if v >= 0 && v <= 127 {
            bytes.append(UInt8(v))
        } else if v >= -4096 && v <= 4095 {
            let x = u & 0x1FFF
            bytes.append(0xC0 | UInt8(x >> 8)); bytes.append(UInt8(x & 0xFF))
        } else if v >= -32768 && v <= 32767 {
            bytes.append(0xF1); appendLE(u, 2)
        } else if v >= -8388608 && v <= 8388607 {
            bytes.append(0xF2); appendLE(u, 3)
        } else if v >= -2147483648 && v <= 2147483647 {
            bytes.append(0xF3); appendLE(u, 4)
        } else {
            bytes.append(0xF4); appendLE(u, 8)
        }
        appendBacklen(bytes.count - start)
        count += 1
    }

    mutating func appendRawString(_ s: UnsafeRawBufferPointer) {
        let start = bytes.count
        let n = s.count
        if n < 64 {
            bytes.append(0x80 | UInt8(n))
        } else if n < 4096 {
            bytes.append(0xE0 | UInt8(n >> 8)); bytes.append(UInt8(n & 0xFF))
        } else {
            bytes.append(0xF0); appendLE(UInt64(n), 4)
        }
        bytes.appendBytes(s)
        appendBacklen(bytes.count - start)
        count += 1
    }

    /// A string element: canonical int64 text becomes an integer entry, as Redis decides.
    mutating func append(_ s: UnsafeRawBufferPointer) {
        if let v = ListpackCodec.parseInt(s) { appendInt(v) } else { appendRawString(s) }
    }

    /// A sorted-set score: integral values within ±2^62 as integers, else `%.17g` text.
    mutating func appendScore(_ d: Double) {
        if let v = ListpackCodec.scoreAsInt(d) { appendInt(v); return }
        var buf = [CChar](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBufferPointer { ListpackCodec.formatDouble(d, $0.baseAddress!, 64) }
        buf.withUnsafeBytes { appendRawString(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// The finished blob (header filled in, terminator appended).
    func finished() -> [UInt8] {
        var out = bytes
        out.append(0xFF)
        let total = UInt32(truncatingIfNeeded: out.count)
        for i in 0..<4 { out[i] = UInt8(truncatingIfNeeded: total >> (8 * UInt32(i))) }
        let c = count < 65535 ? UInt16(count) : 65535
        out[4] = UInt8(c & 0xFF); out[5] = UInt8(c >> 8)
        return out
    }
}

/// One element read out of a Redis listpack or ziplist.
enum PackedElement {
    case int(Int)
    case string(ArraySlice<UInt8>)

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .string(let s): return s.withUnsafeBytes(body)
        case .int(let v): return ListpackCodec.withIntText(v, body)
        }
    }

    var byteCount: Int {
        switch self {
        case .string(let s): return s.count
        case .int(let v): return ListpackCodec.withIntText(v) { $0.count }
        }
    }

    var bytes: [UInt8] { withBytes { Array($0) } }
}

/// Walks a Redis listpack blob, checking every structural property needed to read it safely
/// (header size, terminator, entries inside the blob, valid encodings, the element count).
/// `deep` adds what Redis checks only when sanitizing: each backlen equals the entry size.
enum RedisListpackReader {
    static func elements(_ blob: [UInt8], deep: Bool, at offset: Int) throws -> [PackedElement] {
        var out: [PackedElement] = []
        if blob.count >= 7 {
            let declared = Int(blob[4]) | Int(blob[5]) << 8
            if declared != 65535 { out.reserveCapacity(min(declared, blob.count)) }
        }
        try blob.withUnsafeBytes { b in
            _ = try walk(b, deep: deep, at: offset) { e in
                switch e {
                case .string(let p, let n):
                    let s = p - b.baseAddress!
                    out.append(.string(blob[s..<(s + n)]))
                case .int(let v): out.append(.int(v))
                case .double: break   // never produced by walk
                }
            }
        }
        return out
    }

    /// Walks the blob calling `body` with each element in order (strings point into the
    /// blob; never `.double`) and returns the element count. Every check is made before the
    /// element is handed over, so a structural failure may come after some calls.
    @inline(__always)
    static func walk(_ blob: UnsafeRawBufferPointer, deep: Bool, at offset: Int,
                     _ body: (ListpackCodec.Value) throws -> Void) throws -> Int {
        func fail(_ m: String) -> RDBError { RDBError("Listpack integrity check failed: \(m)", at: offset) }
        let n = blob.count
        guard n >= 7, let base = blob.baseAddress else { throw fail("too short") }
        @inline(__always) func byte(_ i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }
        let total = Int(byte(0)) | Int(byte(1)) << 8 | Int(byte(2)) << 16 | Int(byte(3)) << 24
        guard total == n, byte(n - 1) == 0xFF else { throw fail("bad header or terminator") }
        let declared = Int(byte(4)) | Int(byte(5)) << 8
        var count = 0
        var p = 6
        let end = n - 1
        @inline(__always) func le(_ at: Int, _ k: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<k { v |= UInt64(byte(at + i)) << (8 * UInt64(i)) }
            return v
        }
        @inline(__always) func signed(_ v: UInt64, bits: Int) -> Int {
            let s = UInt64(64 - bits)
            return Int(Int64(bitPattern: v << s) >> Int64(s))
        }
        while p < end {
            let b = byte(p)
            var header = 1
            var strLen = -1
            var value = 0
            switch b {
            case 0x00...0x7F: value = Int(b)
            case 0x80...0xBF: strLen = Int(b & 0x3F)
            case 0xC0...0xDF:
                guard p + 2 <= end else { throw fail("entry past the end") }
                header = 2
                value = signed(UInt64(b & 0x1F) << 8 | UInt64(byte(p + 1)), bits: 13)
            case 0xE0...0xEF:
                guard p + 2 <= end else { throw fail("entry past the end") }
                header = 2
                strLen = Int(b & 0x0F) << 8 | Int(byte(p + 1))
            case 0xF0:
                guard p + 5 <= end else { throw fail("entry past the end") }
                header = 5
                strLen = Int(le(p + 1, 4))
            case 0xF1, 0xF2, 0xF3, 0xF4:
                let k = b == 0xF1 ? 2 : b == 0xF2 ? 3 : b == 0xF3 ? 4 : 8
                guard p + 1 + k <= end else { throw fail("entry past the end") }
                header = 1 + k
                value = signed(le(p + 1, k), bits: 8 * k)
            default:
                throw fail("invalid entry encoding")
            }
            let e = header + max(strLen, 0)
            let bl = RedisListpackBuilder.backlenSize(e)
            guard e <= end - p, bl <= end - p - e else { throw fail("entry past the end") }
            if deep {
                // Recompute the backlen and compare byte for byte.
                var q = p + e
                for i in stride(from: bl - 1, through: 0, by: -1) {
                    var x = UInt8((e >> (7 * i)) & 127)
                    if i != bl - 1 { x |= 0x80 }
                    guard byte(q) == x else { throw fail("bad backlen") }
                    q += 1
                }
            }
            if strLen >= 0 {
                try body(.string(base + (p + header), strLen))
            } else {
                try body(.int(value))
            }
            count += 1
            p += e + bl
        }
        guard p == end else { throw fail("entries overrun the terminator") }
        if declared != 65535 && declared != count { throw fail("element count mismatch") }
        return count
    }
}
