import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Redis's type numbers (OBJ_STRING ...), also used by RDB and TYPE.
public enum ValueType: UInt8, Sendable {
    case string = 0, list = 1, set = 2, zset = 3, hash = 4, module = 5, stream = 6

    public var name: String {
        switch self {
        case .string: return "string"
        case .list: return "list"
        case .set: return "set"
        case .zset: return "zset"
        case .hash: return "hash"
        case .module: return "module"
        case .stream: return "stream"
        }
    }
}

/// Redis's OBJ_ENCODING_* numbers and the names OBJECT ENCODING prints.
public enum ValueEncoding: UInt8, Sendable {
    case raw = 0, int = 1, hashtable = 2, zipmap = 3, linkedlist = 4, ziplist = 5,
         intset = 6, skiplist = 7, embstr = 8, quicklist = 9, stream = 10, listpack = 11

    public var name: String {
        switch self {
        case .raw: return "raw"
        case .int: return "int"
        case .hashtable: return "hashtable"
        case .zipmap: return "zipmap"
        case .linkedlist: return "linkedlist"
        case .ziplist: return "ziplist"
        case .intset: return "intset"
        case .skiplist: return "skiplist"
        case .embstr: return "embstr"
        case .quicklist: return "quicklist"
        case .stream: return "stream"
        case .listpack: return "listpack"
        }
    }
}

/// A keyspace entry: one malloc'd block holding the key, its metadata and, for
/// strings, the value bytes. Collections hold a retained object reference instead.
///
/// Layout:
///   0  next      chain link inside a hash bucket
///   8  lru       UInt32: 24-bit LRU clock / LFU data (Redis's robj.lru)
///  12  type      UInt8  (ValueType)
///  13  encoding  UInt8  (ValueEncoding)
///  14  flags     UInt8  (bit 0: has expire field; bit 1: private integer, see isPrivateInteger;
///                         bit 2: the expire field holds no TTL — kept for big strings so that
///                         EXPIRE/PERSIST never move their bytes)
///  15  reserved
///  16  keyLen    UInt32
///  20  valLen    UInt32 (string length; 8 for an object reference)
///  24  expireAt  Int64 ms, present only when flags & 1 (a TTL only when flags & 4 is clear)
///  ..  key bytes, then value bytes
public struct Entry: Equatable {
    public let raw: UnsafeMutableRawPointer

    @inline(__always) public init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    public static let headerSize = 24
    static let flagExpire: UInt8 = 1
    static let flagPrivateInteger: UInt8 = 2
    static let flagNoTTL: UInt8 = 4
    /// Strings at least this long are allocated with the expire field in place (8 bytes), so a
    /// later EXPIRE or PERSIST is O(1) instead of moving the whole value (Redis keeps TTLs in
    /// a separate dict: O(1) too).
    public static let reservedExpireFieldMinimum = 512

    @inline(__always) var next: UnsafeMutableRawPointer? {
        get { raw.load(as: UnsafeMutableRawPointer?.self) }
        nonmutating set { raw.storeBytes(of: newValue, as: UnsafeMutableRawPointer?.self) }
    }
    @inline(__always) public var lru: UInt32 {
        get { raw.load(fromByteOffset: 8, as: UInt32.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 8, as: UInt32.self) }
    }
    @inline(__always) public var type: ValueType {
        ValueType(rawValue: raw.load(fromByteOffset: 12, as: UInt8.self)) ?? .string
    }
    @inline(__always) var typeByte: UInt8 {
        get { raw.load(fromByteOffset: 12, as: UInt8.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 12, as: UInt8.self) }
    }
    /// Setting the encoding (a new value was stored) also clears isPrivateInteger.
    @inline(__always) public var encoding: ValueEncoding {
        get { ValueEncoding(rawValue: raw.load(fromByteOffset: 13, as: UInt8.self)) ?? .raw }
        nonmutating set {
            raw.storeBytes(of: newValue.rawValue, toByteOffset: 13, as: UInt8.self)
            flags &= ~Entry.flagPrivateInteger
        }
    }
    /// The raw encoding byte (hot-path checks without building the enum).
    @inline(__always) public var encodingByte: UInt8 { raw.load(fromByteOffset: 13, as: UInt8.self) }
    /// An int-encoded string that Redis would hold as its own object rather than one of
    /// the shared integers 0...9999 (COPY duplicates the value: refcount 1, its own LRU).
    /// Cleared whenever a new value (encoding) is stored.
    @inline(__always) public var isPrivateInteger: Bool {
        get { flags & Entry.flagPrivateInteger != 0 }
        nonmutating set {
            if newValue { flags |= Entry.flagPrivateInteger } else { flags &= ~Entry.flagPrivateInteger }
        }
    }
    @inline(__always) var flags: UInt8 {
        get { raw.load(fromByteOffset: 14, as: UInt8.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 14, as: UInt8.self) }
    }
    @inline(__always) public var keyLength: Int { Int(raw.load(fromByteOffset: 16, as: UInt32.self)) }
    @inline(__always) var valueLength: Int {
        get { Int(raw.load(fromByteOffset: 20, as: UInt32.self)) }
        nonmutating set { raw.storeBytes(of: UInt32(truncatingIfNeeded: newValue), toByteOffset: 20, as: UInt32.self) }
    }
    @inline(__always) public var hasExpire: Bool { flags & (Entry.flagExpire | Entry.flagNoTTL) == Entry.flagExpire }
    /// The 8-byte expire field is part of the layout (with or without a TTL in it).
    @inline(__always) var hasExpireField: Bool { flags & Entry.flagExpire != 0 }
    /// Absolute expiry time in unix milliseconds, or -1 when the key is persistent.
    @inline(__always) public var expireAt: Int64 {
        get { hasExpire ? raw.load(fromByteOffset: 24, as: Int64.self) : -1 }
        nonmutating set {
            precondition(hasExpire)
            raw.storeBytes(of: newValue, toByteOffset: 24, as: Int64.self)
        }
    }
    @inline(__always) var keyOffset: Int { hasExpireField ? 32 : 24 }
    @inline(__always) public var keyPointer: UnsafeRawPointer { UnsafeRawPointer(raw + keyOffset) }
    @inline(__always) public var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw + keyOffset, count: keyLength)
    }
    @inline(__always) var valueOffset: Int { keyOffset + keyLength }
    /// The string bytes; only meaningful when type == .string.
    @inline(__always) public var stringValue: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw + valueOffset, count: valueLength)
    }
    /// Mutable view of the string bytes (for SETRANGE/SETBIT in place).
    @inline(__always) public var mutableStringValue: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: raw + valueOffset, count: valueLength)
    }
    /// The collection object; only meaningful when type != .string.
    @inline(__always) public var object: AnyObject {
        let p = raw.loadUnaligned(fromByteOffset: valueOffset, as: UnsafeMutableRawPointer.self)
        return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue()
    }
    @inline(__always) public var isObject: Bool { typeByte != ValueType.string.rawValue }

    /// Bytes this entry occupies in the allocator.
    public var allocatedSize: Int { tern_malloc_usable_size(raw) }

    @inline(__always) public func keyEquals(_ k: UnsafeRawBufferPointer) -> Bool {
        let n = keyLength
        guard n == k.count else { return false }
        if n == 0 { return true }
        return memcmp(raw + keyOffset, k.baseAddress!, n) == 0
    }

    public var keyBytes: [UInt8] { Array(key) }
}

/// Allocation and teardown of entries.
enum EntryStorage {
    static func allocate(key: UnsafeRawBufferPointer, valueLength: Int, expire: Int64?) -> Entry {
        let reserve = expire == nil && valueLength >= Entry.reservedExpireFieldMinimum
        let keyOff = expire == nil && !reserve ? 24 : 32
        let size = keyOff + key.count + valueLength
        guard let p = malloc(max(size, 1)) else { fatalError("Tern: out of memory allocating \(size) bytes") }
        let e = Entry(p)
        e.next = nil
        e.lru = 0
        e.typeByte = 0
        e.encoding = .raw
        e.flags = expire != nil ? Entry.flagExpire : (reserve ? Entry.flagExpire | Entry.flagNoTTL : 0)
        p.storeBytes(of: 0, toByteOffset: 15, as: UInt8.self)
        p.storeBytes(of: UInt32(truncatingIfNeeded: key.count), toByteOffset: 16, as: UInt32.self)
        e.valueLength = valueLength
        if let x = expire { p.storeBytes(of: x, toByteOffset: 24, as: Int64.self) }
        if key.count > 0 { memcpy(p + keyOff, key.baseAddress!, key.count) }
        return e
    }

    static func makeString(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expire: Int64?) -> Entry {
        let e = allocate(key: key, valueLength: value.count, expire: expire)
        if value.count > 0 { memcpy(e.raw + e.valueOffset, value.baseAddress!, value.count) }
        e.typeByte = ValueType.string.rawValue
        return e
    }

    static func makeObject(key: UnsafeRawBufferPointer, object: AnyObject, type: ValueType, encoding: ValueEncoding, expire: Int64?) -> Entry {
        let e = allocate(key: key, valueLength: 8, expire: expire)
        let ref = Unmanaged<AnyObject>.passRetained(object).toOpaque()
        (e.raw + e.valueOffset).storeBytes(of: ref, as: UnsafeMutableRawPointer.self)
        e.typeByte = type.rawValue
        e.encoding = encoding
        return e
    }

    /// Releases the object reference (if any) and frees the block.
    static func free(_ e: Entry) {
        if e.isObject {
            let p = e.raw.loadUnaligned(fromByteOffset: e.valueOffset, as: UnsafeMutableRawPointer.self)
            Unmanaged<AnyObject>.fromOpaque(p).release()
        }
        Glibc.free(e.raw)
    }
}
