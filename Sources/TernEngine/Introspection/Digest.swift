import TernConfig
import TernProtocol
import TernStore

/// DEBUG DIGEST / DIGEST-VALUE, byte-compatible with redis-server
/// (checked against DEBUG DIGEST of a live redis-server). Two primitives on a 20-byte state:
/// XOR-IN(D, x): D ^= SHA1(x);  MIX-IN(D, x): D = SHA1(D ^ SHA1(x)).
public struct Digest20: Equatable {
    public var bytes: [UInt8] = [UInt8](repeating: 0, count: 20)

    public init() {}

    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }
    public var hex: String { SHA1.hex(bytes) }

    public mutating func xorIn(_ data: UnsafeRawBufferPointer) {
        let h = SHA1.hash(data)
        for i in 0..<20 { bytes[i] ^= h[i] }
    }

    public mutating func mixIn(_ data: UnsafeRawBufferPointer) {
        xorIn(data)
        bytes = SHA1.hash(bytes)
    }

    public mutating func xorIn(_ data: [UInt8]) { data.withUnsafeBytes { xorIn($0) } }
    public mutating func mixIn(_ data: [UInt8]) { data.withUnsafeBytes { mixIn($0) } }

    static var emptyBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
    static let expireMarker: [UInt8] = Array("!!expire!!".utf8)

    static func bigEndian32(_ v: Int) -> [UInt8] {
        let u = UInt32(truncatingIfNeeded: v)
        return [UInt8(u >> 24), UInt8((u >> 16) & 0xff), UInt8((u >> 8) & 0xff), UInt8(u & 0xff)]
    }

    /// Adds the digest of an entry's value (type, content, expire marker) to `self`.
    /// Returns false when the value cannot be digested (an object that is not a StoredCollection).
    @discardableResult
    public mutating func addValue(_ e: Entry) -> Bool {
        mixIn(Digest20.bigEndian32(Int(e.type.rawValue)))
        var ok = true
        if !e.isObject {
            mixIn(e.stringValue)
        } else if let coll = e.object as? StoredCollection {
            addCollection(e.type, coll)
        } else {
            ok = false
        }
        if e.hasExpire { xorIn(Digest20.expireMarker) }
        return ok
    }

    mutating func addCollection(_ type: ValueType, _ coll: StoredCollection) {
        var d = self
        switch type {
        case .list:
            coll.forEachDigestItem { first, _ in d.mixIn(first) }
        case .set:
            coll.forEachDigestItem { first, _ in d.xorIn(first) }
        case .zset, .hash:
            coll.forEachDigestItem { first, second in
                var pair = Digest20()
                pair.mixIn(first)
                pair.mixIn(second ?? Digest20.emptyBytes)
                d.xorIn(pair.bytes)
            }
        case .module:
            // A module type contributes the digest its callback built, if any.
            coll.forEachDigestItem { first, _ in d.xorIn(first) }
        case .stream, .string:
            // Streams yield, in ID order, "<ms>.<seq>" then each field and value; each is mixed in.
            coll.forEachDigestItem { first, second in
                d.mixIn(first)
                if let s = second { d.mixIn(s) }
            }
        }
        self = d
    }

    /// DEBUG DIGEST-VALUE for one entry (nil entry: all zeros).
    public static func value(_ e: Entry?) -> Digest20 {
        var d = Digest20()
        if let e { d.addValue(e) }
        return d
    }

    /// DEBUG DIGEST over every database (empty databases are skipped; key order is irrelevant).
    public static func dataset(_ engine: Engine) -> Digest20 {
        var total = Digest20()
        for db in engine.databases where db.count > 0 {
            total.mixIn(bigEndian32(db.id))
            db.table.forEach { e in
                var k = Digest20()
                k.mixIn(e.key)
                k.addValue(e)
                total.xorIn(k.bytes)
            }
        }
        return total
    }
}
