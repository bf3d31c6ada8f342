import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Fast keyed hash over bytes (wyhash-style 64x64->128 folding). The seed is
/// random per process so that clients cannot aim keys at one bucket.
public enum ByteHash {
    nonisolated(unsafe) public static var seed: UInt64 = {
        var s: UInt64 = 0
        withUnsafeMutableBytes(of: &s) { tern_random_bytes($0.baseAddress, 8) }
        return s | 1
    }()

    @inline(__always) static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inline(__always)
    public static func hash(_ p: UnsafeRawPointer?, _ n: Int) -> UInt64 {
        let k0: UInt64 = 0xa076_1d64_78bd_642f, k1: UInt64 = 0xe703_7ed1_a0b4_28db
        var h = seed ^ k0 ^ UInt64(truncatingIfNeeded: n)
        guard let p = p, n > 0 else { return mix(h, k1) }
        var i = 0
        while i + 16 <= n {
            let a = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let b = p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
            h = mix(a ^ k1, b ^ h)
            i += 16
        }
        var a: UInt64 = 0, b: UInt64 = 0
        let rest = n - i
        if rest >= 8 {
            a = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            b = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if rest >= 4 {
            a = UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            b = UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
        } else if rest > 0 {
            let q = p.assumingMemoryBound(to: UInt8.self)
            a = UInt64(q[i]) << 16 | UInt64(q[i + rest / 2]) << 8 | UInt64(q[n - 1])
        }
        return mix(k1 ^ UInt64(truncatingIfNeeded: n), mix(a ^ k1, b ^ h))
    }

    @inline(__always)
    public static func hash(_ b: UnsafeRawBufferPointer) -> UInt64 { hash(b.baseAddress, b.count) }
}
