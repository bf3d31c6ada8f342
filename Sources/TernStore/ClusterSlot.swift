/// Redis Cluster's key-to-slot map: CRC16 (XMODEM: polynomial 0x1021, initial value 0, no
/// reflection) of the key, or of its hash tag — the bytes between the first `{` and the
/// first `}` after it, when that span is not empty — modulo 16384.
public enum ClusterSlot {
    public static let count = 16384

    /// The slot of `key` (CLUSTER KEYSLOT).
    @inline(__always)
    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        let n = key.count
        var open = 0
        while open < n && key[open] != UInt8(ascii: "{") { open += 1 }
        if open < n {
            var close = open + 1
            while close < n && key[close] != UInt8(ascii: "}") { close += 1 }
            if close < n && close > open + 1 {
                return Int(crc16(UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])) & 0x3FFF)
            }
        }
        return Int(crc16(key) & 0x3FFF)
    }

    public static func of(_ key: [UInt8]) -> Int {
        key.withUnsafeBytes { of($0) }
    }

    /// CRC16-XMODEM, table-driven (one lookup per byte).
    public static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        table.withUnsafeBufferPointer { t in
            for b in bytes {
                crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)]
            }
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var c = UInt16(i) << 8
        for _ in 0..<8 { c = (c & 0x8000) != 0 ? (c << 1) ^ 0x1021 : c << 1 }
        return c
    }
}
