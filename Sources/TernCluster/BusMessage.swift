import TernStore

// Cluster bus wire format, protocol version 1 (Redis 7.0's clusterMsg; ../shared/specs/
// cluster.md §2). All integers big-endian. Header, 2256 bytes:
//   0 sig "RCmb" | 4 totlen u32 | 8 ver u16 | 10 port u16 | 12 type u16 | 14 count u16
//   16 currentEpoch u64 | 24 configEpoch u64 | 32 offset u64 | 40 sender[40]
//   80 myslots[2048] | 2128 slaveof[40] | 2168 myip[46] | 2214 extensions u16
//   2216 reserved[30] | 2246 pport u16 | 2248 cport u16 | 2250 flags u16 | 2252 state u8
//   2253 mflags[3]
// Bodies: PING/PONG/MEET = count x 104-byte gossip entries (id[40] ping_sent u32 (s)
// pong_received u32 (s) ip[46] port u16 cport u16 flags u16 pport u16 zero u16) then the
// extensions (u32 length, u16 type, u16 zero, data padded to 8; type 0 = hostname);
// FAIL = id[40]; PUBLISH(SHARD) = u32 chanlen, u32 msglen, bytes; UPDATE = u64 configEpoch,
// id[40], slots[2048]; MODULE = id u64, u32 len, u8 type, payload.

enum Bus {
    static let headerSize = 2256
    static let gossipSize = 104
    static let signature: [UInt8] = Array("RCmb".utf8)
    static let ipSize = 46
    static let nameSize = 40

    /// Message flags, byte 0 of `mflags`.
    static let flagPaused: UInt8 = 1
    static let flagForceAck: UInt8 = 2
    static let flagExtData: UInt8 = 4

    static let extHostname: UInt16 = 0
}

/// Builds one message.
struct BusWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: Int) { u16(UInt16(truncatingIfNeeded: v)) }
    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(v & 0xFF))
    }
    mutating func u32(_ v: UInt32) {
        for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }
    mutating func u64(_ v: UInt64) {
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }
    /// `s` in a fixed-size field, zero padded (truncated to leave a NUL when `terminated`).
    mutating func fixed(_ s: String, _ size: Int, terminated: Bool = false) {
        let b = Array(s.utf8.prefix(terminated ? size - 1 : size))
        bytes += b
        bytes += [UInt8](repeating: 0, count: size - b.count)
    }
    mutating func raw(_ b: [UInt8]) { bytes += b }
    mutating func zeros(_ n: Int) { bytes += [UInt8](repeating: 0, count: n) }

    /// Writes the final length into the header's `totlen`.
    mutating func finish() {
        let n = UInt32(bytes.count)
        for i in 0..<4 { bytes[4 + i] = UInt8(truncatingIfNeeded: n >> UInt32(24 - 8 * i)) }
    }
}

/// A received message: the bytes and typed readers at offsets (the framing guaranteed at
/// least a full header; body reads are checked by `BusMessage.isValid` first).
struct BusMessage {
    let b: [UInt8]

    func u16(_ o: Int) -> Int { Int(b[o]) << 8 | Int(b[o + 1]) }
    func u32(_ o: Int) -> UInt32 {
        (UInt32(b[o]) << 24) | (UInt32(b[o + 1]) << 16) | (UInt32(b[o + 2]) << 8) | UInt32(b[o + 3])
    }
    func u64(_ o: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(b[o + i]) }
        return v
    }
    func bytes(_ o: Int, _ n: Int) -> ArraySlice<UInt8> { b[o..<(o + n)] }
    /// A NUL-terminated text field.
    func text(_ o: Int, _ n: Int) -> String {
        let f = b[o..<(o + n)]
        let end = f.firstIndex(of: 0) ?? f.endIndex
        return String(decoding: f[f.startIndex..<end], as: UTF8.self)
    }
    func name(_ o: Int) -> String { String(decoding: b[o..<(o + Bus.nameSize)], as: UTF8.self) }

    var totlen: Int { Int(u32(4)) }
    var version: Int { u16(8) }
    var port: Int { u16(10) }
    var type: Int { u16(12) }
    var count: Int { u16(14) }
    var currentEpoch: UInt64 { u64(16) }
    var configEpoch: UInt64 { u64(24) }
    var offset: Int64 { Int64(bitPattern: u64(32)) }
    var sender: String { name(40) }
    var senderBytes: ArraySlice<UInt8> { bytes(40, Bus.nameSize) }
    var slotsBytes: ArraySlice<UInt8> { bytes(80, 2048) }
    var slaveofIsNull: Bool { bytes(2128, Bus.nameSize).allSatisfy { $0 == 0 } }
    var slaveof: ArraySlice<UInt8> { bytes(2128, Bus.nameSize) }
    var myip: String { text(2168, Bus.ipSize) }
    var extensions: Int { u16(2214) }
    var pport: Int { u16(2246) }
    var cport: Int { u16(2248) }
    var flags: NodeFlags { NodeFlags(rawValue: UInt16(u16(2250))) }
    var mflags0: UInt8 { b[2253] }

    var slots: SlotBitmap { b[80..<2128].withUnsafeBytes { SlotBitmap(bytes: $0) } }

    /// Redis's clusterIsValidPacket: version 1 and a total length that matches the type;
    /// the text of the warning to log when it does not (nil: valid; "" : silently ignored).
    func validity() -> String? {
        guard version == 1 else { return "" }
        let t = type
        var explen = Bus.headerSize
        let typeName = ClusterMessageType(rawValue: t)?.statName ?? "unknown"
        switch ClusterMessageType(rawValue: t) {
        case .ping, .pong, .meet:
            explen += Bus.gossipSize * count
            if mflags0 & Bus.flagExtData != 0 {
                var left = extensions
                while left > 0 {
                    guard explen + 8 <= totlen else {
                        return "Received invalid \(typeName) packet with extension data that exceeds total packet length (\(totlen))"
                    }
                    let extlen = Int(u32(explen))
                    if extlen % 8 != 0 {
                        return "Received a \(typeName) packet without proper padding (\(extlen) bytes)"
                    }
                    if totlen - explen < extlen || extlen < 8 {
                        return "Received invalid \(typeName) packet with extension data that exceeds total packet length (\(totlen))"
                    }
                    explen += extlen
                    left -= 1
                }
            }
        case .fail: explen += Bus.nameSize
        case .publish, .publishShard:
            guard totlen >= Bus.headerSize + 8 else { explen += 8; break }
            explen += 8 + Int(u32(2256)) + Int(u32(2260))
        case .failoverAuthRequest, .failoverAuthAck, .mfstart: break
        case .update: explen += 8 + Bus.nameSize + 2048
        case .module:
            guard totlen >= Bus.headerSize + 13 else { explen += 13; break }
            explen += 13 + Int(u32(2264))
        case nil: explen = totlen
        }
        if totlen != explen {
            return "Received invalid \(typeName) packet of length \(totlen) but expected length \(explen)"
        }
        return nil
    }

    /// The hostname extension's value if present (walked only when EXT_DATA is set and the
    /// message was validated); unknown extension types are reported through `unknown`.
    func hostnameExtension(unknown: (Int) -> Void) -> String? {
        guard mflags0 & Bus.flagExtData != 0 else { return nil }
        var o = Bus.headerSize + Bus.gossipSize * count
        var found: String? = nil
        for _ in 0..<extensions {
            guard o + 8 <= b.count else { break }
            let len = Int(u32(o))
            let type = u16(o + 4)
            guard len >= 8, o + len <= b.count else { break }
            if type == Int(Bus.extHostname) {
                found = text(o + 8, len - 8)
            } else {
                unknown(type)
            }
            o += len
        }
        return found
    }
}

/// One gossip entry as received.
struct GossipEntry {
    let name: String
    let nameBytes: ArraySlice<UInt8>
    let pingSent: UInt32
    let pongReceived: UInt32
    let ip: String
    let port: Int
    let cport: Int
    let flags: NodeFlags
    let pport: Int

    init(_ m: BusMessage, at o: Int) {
        nameBytes = m.bytes(o, Bus.nameSize)
        name = m.name(o)
        pingSent = m.u32(o + 40)
        pongReceived = m.u32(o + 44)
        ip = m.text(o + 48, Bus.ipSize)
        port = m.u16(o + 94)
        cport = m.u16(o + 96)
        flags = NodeFlags(rawValue: UInt16(m.u16(o + 98)))
        pport = m.u16(o + 100)
    }
}
