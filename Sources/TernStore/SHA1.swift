/// SHA-1 (FIPS 180-4), incremental. Used by DEBUG DIGEST (and available to scripting
/// for script ids / redis.sha1hex). Not for security purposes.
public struct SHA1 {
    var h: (UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    /// Pending partial block.
    var block = [UInt8](repeating: 0, count: 64)
    var blockUsed = 0
    var totalBytes: UInt64 = 0

    public init() {}

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress, data.count > 0 else { return }
        totalBytes &+= UInt64(data.count)
        var i = 0
        let n = data.count
        if blockUsed > 0 {
            let take = min(64 - blockUsed, n)
            for j in 0..<take { block[blockUsed + j] = base.load(fromByteOffset: j, as: UInt8.self) }
            blockUsed += take
            i = take
            if blockUsed == 64 {
                block.withUnsafeBytes { compress($0.baseAddress!) }
                blockUsed = 0
            }
        }
        while n - i >= 64 {
            compress(base + i)
            i += 64
        }
        if i < n {
            for j in 0..<(n - i) { block[j] = base.load(fromByteOffset: i + j, as: UInt8.self) }
            blockUsed = n - i
        }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public mutating func update(_ s: String) { update(Array(s.utf8)) }

    /// Finishes and returns the 20-byte digest (the value is consumed).
    public mutating func finish() -> [UInt8] {
        let bitLength = totalBytes &* 8
        var pad: [UInt8] = [0x80]
        let afterOne = (blockUsed + 1) % 64
        let zeros = afterOne <= 56 ? 56 - afterOne : 120 - afterOne
        pad += [UInt8](repeating: 0, count: zeros)
        for k in (0..<8).reversed() { pad.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(k) * 8))) }
        let savedTotal = totalBytes
        update(pad)
        totalBytes = savedTotal
        var out = [UInt8]()
        out.reserveCapacity(20)
        for w in [h.0, h.1, h.2, h.3, h.4] {
            out.append(UInt8(w >> 24)); out.append(UInt8((w >> 16) & 0xff))
            out.append(UInt8((w >> 8) & 0xff)); out.append(UInt8(w & 0xff))
        }
        return out
    }

    /// One-shot digest.
    public static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var s = SHA1()
        s.update(data)
        return s.finish()
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { hash($0) } }

    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }

    mutating func compress(_ p: UnsafeRawPointer) {
        var w = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0),
                 UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        withUnsafeMutableBytes(of: &w) { wb in
            let words = wb.bindMemory(to: UInt32.self)
            for i in 0..<16 {
                words[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
            }
            var a = h.0, b = h.1, c = h.2, d = h.3, e = h.4
            for t in 0..<80 {
                let word: UInt32
                if t < 16 {
                    word = words[t]
                } else {
                    let x = words[(t - 3) & 15] ^ words[(t - 8) & 15] ^ words[(t - 14) & 15] ^ words[t & 15]
                    word = SHA1.rotl(x, 1)
                    words[t & 15] = word
                }
                let f: UInt32, k: UInt32
                switch t {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let tmp = SHA1.rotl(a, 5) &+ f &+ e &+ k &+ word
                e = d; d = c; c = SHA1.rotl(b, 30); b = a; a = tmp
            }
            h.0 &+= a; h.1 &+= b; h.2 &+= c; h.3 &+= d; h.4 &+= e
        }
    }
}
