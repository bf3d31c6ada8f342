/// Readers for the encodings older Redis versions wrote and 7.0 still loads: ziplist
/// (types 10, 12, 13, 14), zipmap (type 9) and intset (type 11, still written). All are
/// fully validated: the loader converts them anyway, so no byte is trusted.
enum Ziplist {
    /// Layout: <zlbytes u32 LE> <zltail u32 LE> <zllen u16 LE; 65535 = unknown> entry* FF.
    /// Entry: <prevlen: 1 byte < 254, or FE + u32 LE> <encoding> <data>.
    static func elements(_ blob: [UInt8], at offset: Int) throws -> [PackedElement] {
        func fail(_ m: String) -> RDBError { RDBError("Ziplist integrity check failed: \(m)", at: offset) }
        let n = blob.count
        guard n >= 11 else { throw fail("too short") }
        func u32(_ at: Int) -> Int { Int(blob[at]) | Int(blob[at + 1]) << 8 | Int(blob[at + 2]) << 16 | Int(blob[at + 3]) << 24 }
        guard u32(0) == n, blob[n - 1] == 0xFF else { throw fail("bad header or terminator") }
        let tail = u32(4)
        let declared = Int(blob[8]) | Int(blob[9]) << 8
        guard tail >= 10, tail < n else { throw fail("bad tail offset") }
        var out: [PackedElement] = []
        var p = 10
        var prevSize = 0
        var lastStart = 10
        let end = n - 1
        func le(_ at: Int, _ k: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<k { v |= UInt64(blob[at + i]) << (8 * UInt64(i)) }
            return v
        }
        func signed(_ v: UInt64, bits: Int) -> Int {
            let s = UInt64(64 - bits)
            return Int(Int64(bitPattern: v << s) >> Int64(s))
        }
        while p < end {
            let start = p
            var prevlen: Int
            if blob[p] < 254 { prevlen = Int(blob[p]); p += 1 } else {
                guard blob[p] == 0xFE, p + 5 <= end else { throw fail("bad prevlen") }
                prevlen = u32(p + 1); p += 5
            }
            guard prevlen == prevSize else { throw fail("prevlen mismatch") }
            guard p < end else { throw fail("entry past the end") }
            let enc = blob[p]
            switch enc >> 6 {
            case 0:
                let l = Int(enc & 0x3F)
                guard l <= end - p - 1 else { throw fail("entry past the end") }
                out.append(.string(blob[(p + 1)..<(p + 1 + l)])); p += 1 + l
            case 1:
                guard p + 2 <= end else { throw fail("entry past the end") }
                let l = Int(enc & 0x3F) << 8 | Int(blob[p + 1])
                guard l <= end - p - 2 else { throw fail("entry past the end") }
                out.append(.string(blob[(p + 2)..<(p + 2 + l)])); p += 2 + l
            case 2:
                guard p + 5 <= end else { throw fail("entry past the end") }
                // 32-bit big-endian length; the low 6 bits of the first byte are ignored.
                let l = Int(blob[p + 1]) << 24 | Int(blob[p + 2]) << 16 | Int(blob[p + 3]) << 8 | Int(blob[p + 4])
                guard l <= end - p - 5 else { throw fail("entry past the end") }
                out.append(.string(blob[(p + 5)..<(p + 5 + l)])); p += 5 + l
            default:
                let k: Int
                switch enc {
                case 0xC0: k = 2
                case 0xD0: k = 4
                case 0xE0: k = 8
                case 0xF0: k = 3
                case 0xFE: k = 1
                case 0xF1...0xFD: k = 0
                default: throw fail("invalid entry encoding")
                }
                guard k <= end - p - 1 else { throw fail("entry past the end") }
                if k == 0 {
                    out.append(.int(Int(enc & 0x0F) - 1))
                } else {
                    out.append(.int(signed(le(p + 1, k), bits: 8 * k)))
                }
                p += 1 + k
            }
            prevSize = p - start
            lastStart = start
        }
        guard p == end else { throw fail("entries overrun the terminator") }
        // zltail points at the last entry (at the header end when there is none).
        guard tail == (out.isEmpty ? 10 : lastStart) else { throw fail("bad tail offset") }
        if declared != 65535 && declared != out.count { throw fail("element count mismatch") }
        return out
    }
}

enum Zipmap {
    /// Layout: <zmlen u8; 254 = unknown> { <len> key <len> <free u8> value <free bytes> }* FF,
    /// <len> = one byte 0...253, or FE + u32 LE. Returns field/value pairs flattened.
    static func elements(_ blob: [UInt8], at offset: Int) throws -> [PackedElement] {
        func fail(_ m: String) -> RDBError { RDBError("Zipmap integrity check failed: \(m)", at: offset) }
        let n = blob.count
        guard n >= 2 else { throw fail("too short") }
        var p = 1
        var out: [PackedElement] = []
        func readLen() throws -> Int {
            guard p < n else { throw fail("past the end") }
            let b = blob[p]
            if b < 254 { p += 1; return Int(b) }
            guard b == 254, p + 5 <= n else { throw fail("bad length") }
            let l = Int(blob[p + 1]) | Int(blob[p + 2]) << 8 | Int(blob[p + 3]) << 16 | Int(blob[p + 4]) << 24
            p += 5
            return l
        }
        while true {
            guard p < n else { throw fail("missing terminator") }
            if blob[p] == 0xFF { p += 1; break }
            let kl = try readLen()
            guard kl <= n - p else { throw fail("key past the end") }
            out.append(.string(blob[p..<(p + kl)])); p += kl
            let vl = try readLen()
            guard p < n else { throw fail("past the end") }
            let free = Int(blob[p]); p += 1
            guard vl <= n - p, free <= n - p - vl else { throw fail("value past the end") }
            out.append(.string(blob[p..<(p + vl)])); p += vl + free
        }
        guard p == n else { throw fail("trailing bytes") }
        guard !out.isEmpty else { throw fail("empty zipmap") }
        let declared = Int(blob[0])
        if declared < 254 && declared != out.count / 2 { throw fail("element count mismatch") }
        return out
    }
}

enum RedisIntset {
    /// Layout: <width u32 LE: 2, 4 or 8> <count u32 LE> <count signed LE integers>.
    /// `deep` adds Redis's sanitizing check: strictly ascending values.
    static func values(_ blob: [UInt8], deep: Bool, at offset: Int) throws -> [Int] {
        func fail(_ m: String) -> RDBError { RDBError("Intset integrity check failed: \(m)", at: offset) }
        guard blob.count >= 8 else { throw fail("too short") }
        let w = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        let c = Int(blob[4]) | Int(blob[5]) << 8 | Int(blob[6]) << 16 | Int(blob[7]) << 24
        guard w == 2 || w == 4 || w == 8 else { throw fail("bad width") }
        guard c >= 1, blob.count == 8 + w * c else { throw fail("size mismatch") }
        var out: [Int] = []
        out.reserveCapacity(c)
        for i in 0..<c {
            var v: UInt64 = 0
            let at = 8 + i * w
            for j in 0..<w { v |= UInt64(blob[at + j]) << (8 * UInt64(j)) }
            let s = UInt64(64 - 8 * w)
            let x = Int(Int64(bitPattern: v << s) >> Int64(s))
            if deep, let last = out.last, x <= last { throw fail("values not ascending") }
            out.append(x)
        }
        return out
    }

    /// Redis's intset bytes for sorted distinct values: the narrowest width holding all.
    static func encode(_ values: [Int]) -> [UInt8] {
        var w = 2
        for v in values {
            if v < Int(Int32.min) || v > Int(Int32.max) { w = 8; break }
            if v < Int(Int16.min) || v > Int(Int16.max) { w = 4 }
        }
        var out: [UInt8] = []
        out.reserveCapacity(8 + w * values.count)
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: w >> (8 * i))) }
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: values.count >> (8 * i))) }
        for v in values {
            let u = UInt64(bitPattern: Int64(v))
            for j in 0..<w { out.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(j)))) }
        }
        return out
    }
}
