import TernConfig

/// RDB record type bytes (object types) and opcodes, as Redis 7.0 numbers them.
public enum RDBType {
    public static let string: UInt8 = 0
    public static let list: UInt8 = 1
    public static let set: UInt8 = 2
    public static let zset: UInt8 = 3
    public static let hash: UInt8 = 4
    public static let zset2: UInt8 = 5
    public static let module: UInt8 = 6
    public static let module2: UInt8 = 7
    public static let hashZipmap: UInt8 = 9
    public static let listZiplist: UInt8 = 10
    public static let setIntset: UInt8 = 11
    public static let zsetZiplist: UInt8 = 12
    public static let hashZiplist: UInt8 = 13
    public static let listQuicklist: UInt8 = 14
    public static let streamListpacks: UInt8 = 15
    public static let hashListpack: UInt8 = 16
    public static let zsetListpack: UInt8 = 17
    public static let listQuicklist2: UInt8 = 18
    public static let streamListpacks2: UInt8 = 19

    /// Bytes a record may start with as an object type (8 is reserved, 20...244 unused).
    public static func isObjectType(_ t: UInt8) -> Bool { t <= 7 || (t >= 9 && t <= 19) }
}

public enum RDBOpcode {
    public static let function2: UInt8 = 0xF5
    public static let function: UInt8 = 0xF6
    public static let moduleAux: UInt8 = 0xF7
    public static let idle: UInt8 = 0xF8
    public static let freq: UInt8 = 0xF9
    public static let aux: UInt8 = 0xFA
    public static let resizeDB: UInt8 = 0xFB
    public static let expireTimeMs: UInt8 = 0xFC
    public static let expireTime: UInt8 = 0xFD
    public static let selectDB: UInt8 = 0xFE
    public static let eof: UInt8 = 0xFF
}

/// The RDB version Tern writes (Redis 7.0's).
public let rdbVersion: UInt16 = 10

/// A decode failure: what was wrong and at which byte offset of the input.
public struct RDBError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Malformed or unsupported input.
        case corrupt
        /// A well-formed aggregate with no elements (an RDB file skips it, RESTORE refuses it).
        case emptyKey
        /// The input ends before what a length or opcode announces (Redis's short read), or a
        /// failure Redis's loader reports the same way (a legacy string score that is no number).
        case truncated
    }
    public let kind: Kind
    public let offset: Int
    public let message: String

    public init(_ message: String, at offset: Int, kind: Kind = .corrupt) {
        self.message = message
        self.offset = offset
        self.kind = kind
    }

    public var description: String { "\(message) (at offset \(offset))" }
}

/// The encoding thresholds a loader converts values by (read from the loading server's config).
public struct EncodingLimits: Sendable {
    public var hashMaxListpackEntries = 512
    public var hashMaxListpackValue = 64
    public var zsetMaxListpackEntries = 128
    public var zsetMaxListpackValue = 64
    public var setMaxIntsetEntries = 512
    public var listMaxListpackSize = -2
    public var listCompressDepth = 0

    public init() {}

    public init(_ config: ServerConfig) {
        hashMaxListpackEntries = config.hashMaxListpackEntries
        hashMaxListpackValue = config.hashMaxListpackValue
        zsetMaxListpackEntries = config.zsetMaxListpackEntries
        zsetMaxListpackValue = config.zsetMaxListpackValue
        setMaxIntsetEntries = config.setMaxIntsetEntries
        listMaxListpackSize = config.listMaxListpackSize
        listCompressDepth = config.listCompressDepth
    }
}
