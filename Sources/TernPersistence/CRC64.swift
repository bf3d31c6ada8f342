/// CRC-64/Jones as Redis uses it for RDB files and DUMP payloads: reflected, polynomial
/// 0xAD93D23594C935A9 (reversed form 0x95AC9329AC4BC9B5), initial value 0, no final xor.
/// Check value for "123456789": 0xE9C6D914C4B8D9CA.
public enum CRC64 {
    static let table: [UInt64] = {
        var t = [UInt64](repeating: 0, count: 256)
        for i in 0..<256 {
            var c = UInt64(i)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x95AC9329AC4BC9B5 : c >> 1 }
            t[i] = c
        }
        return t
    }()

    /// Slice-by-8 tables: entry k*256+i is the CRC of byte i followed by k zero bytes, so
    /// eight input bytes are folded with eight lookups (about 4x fewer instructions than one
    /// lookup per byte; RDB files are checksummed whole on every save and load).
    static let table8: [UInt64] = {
        var t = [UInt64](repeating: 0, count: 256 * 8)
        for i in 0..<256 { t[i] = table[i] }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// Continues `crc` over `bytes` (chunked updates give the same value as one pass).
    public static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var c = crc
        guard let base = bytes.baseAddress else { return c }
        let n = bytes.count
        var i = 0
        table8.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            while i + 8 <= n {
                let w = c ^ UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                c = t[7 * 256 + Int(w & 0xFF)] ^ t[6 * 256 + Int((w >> 8) & 0xFF)]
                  ^ t[5 * 256 + Int((w >> 16) & 0xFF)] ^ t[4 * 256 + Int((w >> 24) & 0xFF)]
                  ^ t[3 * 256 + Int((w >> 32) & 0xFF)] ^ t[2 * 256 + Int((w >> 40) & 0xFF)]
                  ^ t[1 * 256 + Int((w >> 48) & 0xFF)] ^ t[Int(w >> 56)]
                i += 8
            }
            while i < n {
                c = t[Int(UInt8(truncatingIfNeeded: c) ^ base.load(fromByteOffset: i, as: UInt8.self))] ^ (c >> 8)
                i += 1
            }
        }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { update(0, $0) }
    }
}
