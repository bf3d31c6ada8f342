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

    /// Continues `crc` over `bytes` (chunked updates give the same value as one pass).
    public static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var c = crc
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int(UInt8(truncatingIfNeeded: c) ^ b)] ^ (c >> 8) }
        }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { update(0, $0) }
    }
}
