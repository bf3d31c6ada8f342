import TernStore

/// Node flags as they travel on the bus (u16) and print in CLUSTER NODES (cluster.h's
/// CLUSTER_NODE_*; ../shared/specs/cluster.md §2.6).
public struct NodeFlags: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let master = NodeFlags(rawValue: 1)
    public static let slave = NodeFlags(rawValue: 2)
    public static let pfail = NodeFlags(rawValue: 4)
    public static let fail = NodeFlags(rawValue: 8)
    public static let myself = NodeFlags(rawValue: 16)
    public static let handshake = NodeFlags(rawValue: 32)
    public static let noaddr = NodeFlags(rawValue: 64)
    public static let meet = NodeFlags(rawValue: 128)
    public static let migrateTo = NodeFlags(rawValue: 256)
    public static let nofailover = NodeFlags(rawValue: 512)

    /// CLUSTER NODES / nodes.conf names, in the order Redis prints them.
    static let names: [(NodeFlags, String)] = [
        (.myself, "myself"), (.master, "master"), (.slave, "slave"), (.pfail, "fail?"), (.fail, "fail"),
        (.handshake, "handshake"), (.noaddr, "noaddr"), (.nofailover, "nofailover"),
    ]

    var text: String {
        let shown = NodeFlags.names.filter { contains($0.0) }.map { $0.1 }
        return shown.isEmpty ? "noflags" : shown.joined(separator: ",")
    }
}

/// The 16384-bit slot bitmap of the bus header and UPDATE body: slot s is bit s&7 of byte
/// s>>3 (LSB first). Kept as 64-bit words; `bytes` gives the wire layout.
struct SlotBitmap: Equatable {
    var words = [UInt64](repeating: 0, count: ClusterSlot.count / 64)

    subscript(slot: Int) -> Bool {
        get { words[slot >> 6] & (1 << UInt64(slot & 63)) != 0 }
        set {
            if newValue { words[slot >> 6] |= 1 << UInt64(slot & 63) } else { words[slot >> 6] &= ~(1 << UInt64(slot & 63)) }
        }
    }

    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
    var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Wire layout: little-endian words are exactly the LSB-first byte order.
    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: ClusterSlot.count / 8)
        for (i, w) in words.enumerated() {
            for b in 0..<8 { out[i * 8 + b] = UInt8(truncatingIfNeeded: w >> UInt64(b * 8)) }
        }
        return out
    }

    init() {}
    init(bytes: UnsafeRawBufferPointer) {
        for i in 0..<words.count {
            var w: UInt64 = 0
            for b in 0..<8 where i * 8 + b < bytes.count { w |= UInt64(bytes[i * 8 + b]) << UInt64(b * 8) }
            words[i] = w
        }
    }
}

/// One node of the cluster as this node sees it (cluster.h's clusterNode).
final class ClusterNode {
    var name: String
    var flags: NodeFlags
    let ctime: Int64
    var configEpoch: UInt64 = 0
    var slots = SlotBitmap()
    var numSlots = 0
    /// Replicas of this master, in the order they were learned (CLUSTER SLOTS/SHARDS order).
    var replicas: [ClusterNode] = []
    var master: ClusterNode?
    /// Unix ms of the pending PING (0: none), of the last PONG, of the last data received.
    var pingSent: Int64 = 0
    var pongReceived: Int64 = 0
    var dataReceived: Int64 = 0
    var failTime: Int64 = 0
    var votedTime: Int64 = 0
    var replOffsetTime: Int64 = 0
    var orphanedTime: Int64 = 0
    var replOffset: Int64 = 0
    var ip = ""
    var hostname = ""
    var port = 0
    var pport = 0
    var cport = 0
    /// Masters that reported this node as PFAIL/FAIL, with the report's time.
    var failReports: [(reporter: ClusterNode, time: Int64)] = []
    /// The outbound bus link (this node connected to it) and the inbound one it opened to
    /// us; nil until the bus runs them.
    var link: ClusterLink?
    var inboundLink: ClusterLink?

    init(name: String, flags: NodeFlags, now: Int64) {
        self.name = name
        self.flags = flags
        ctime = now
    }

    var isMaster: Bool { flags.contains(.master) }
    var isSlave: Bool { flags.contains(.slave) }
    var isMyself: Bool { flags.contains(.myself) }
    var inHandshake: Bool { flags.contains(.handshake) }
    var failed: Bool { flags.contains(.fail) }
    var timedOut: Bool { flags.contains(.pfail) }

    /// The epoch CLUSTER NODES shows: a replica shows its master's.
    var shownEpoch: UInt64 {
        if isSlave, let m = master { return m.configEpoch }
        return configEpoch
    }

    func addReplica(_ r: ClusterNode) {
        if replicas.contains(where: { $0 === r }) { return }
        replicas.append(r)
        flags.insert(.migrateTo)
    }

    func removeReplica(_ r: ClusterNode) {
        replicas.removeAll { $0 === r }
        if replicas.isEmpty { flags.remove(.migrateTo) }
    }

    /// Reports from masters younger than 2 x node timeout (older ones are dropped).
    func liveFailReports(now: Int64, nodeTimeout: Int64) -> Int {
        failReports.removeAll { now - $0.time > nodeTimeout * 2 }
        return failReports.count
    }
}

/// A 40-character node id made of `[a-z0-9]` (cluster.c's verifyClusterNodeId).
func isValidNodeID<S: Sequence>(_ s: S) -> Bool where S.Element == UInt8 {
    var n = 0
    for b in s {
        guard (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) else { return false }
        n += 1
    }
    return n == 40
}

/// A fresh random node id: 40 lowercase hex characters.
func randomNodeID() -> String {
    var g = SystemRandomNumberGenerator()
    let hex = Array("0123456789abcdef".utf8)
    return String(decoding: (0..<40).map { _ in hex[Int(g.next() % 16)] }, as: UTF8.self)
}
