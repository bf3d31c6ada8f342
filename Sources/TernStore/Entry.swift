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
/// Layout (docs/MEMORY.md has the measurements behind it). The fixed header is 11 bytes,
/// then two 1-byte varints for keys and values under 128 bytes, so with jemalloc's size
/// classes (16, 32, 48 ... 128, 160) `key:N` -> 3-byte integer takes 32 bytes with or
/// without a TTL and `key:N` -> 100 bytes 128, where a 24-byte header needed 48 and 160:
///   0  next      6  chain link inside a hash bucket: a 48-bit address (user-space pointers
///                   on x86-64 and arm64 Linux fit in 48 bits)
///   6  lru       3  24-bit LRU clock / LFU data (Redis's robj.lru is 24 bits as well)
///   9  kind      1  low nibble: ValueType, high nibble: ValueEncoding
///  10  flags     1  bit 0: an expire field is present; bit 1: private integer (see
///                   isPrivateInteger); bit 2: the expire field holds no TTL (kept for big
///                   strings so that EXPIRE/PERSIST never move their bytes); bit 3: the
///                   expire field is 8 bytes wide rather than 6; bit 4: born during the
///                   running snapshot (see flagBornInSnapshot)
///  11  expireAt  6|8  unix ms, only when flags & 1: 6 bytes (48 bits, until year 10889)
///                   unless the time needs the 8-byte form (far future, negative)
///  ..  keyLen    varint: LEB128, 7 bits a byte, low bits first (1 byte up to 127)
///  ..  valLen    varint (string length; 8 for an object reference)
///  ..  key bytes, then value bytes (or the object reference, unaligned)
/// Nothing is aligned past `next`: fields are read with unaligned loads.
public struct Entry: Equatable {
    public let raw: UnsafeMutableRawPointer

    @inline(__always) public init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }

    /// Fixed part of the header (the optional expire field and the varint lengths follow).
    public static let headerSize = 11
    static let expireOffset = 11
    static let flagExpire: UInt8 = 1
    static let flagPrivateInteger: UInt8 = 2
    static let flagNoTTL: UInt8 = 4
    static let flagWideExpire: UInt8 = 8
    /// Inserted while a snapshot runs into a bucket its walk had not reached: not part of the
    /// image, so the walk skips it (`KeyTable.insertNew`). Set only during a snapshot, and
    /// cleared from every entry before the snapshot ends (`KeyTable.endSnapshot`).
    static let flagBornInSnapshot: UInt8 = 16
    /// Strings at least this long are allocated with the (8-byte) expire field in place, so a
    /// later EXPIRE or PERSIST is O(1) instead of moving the whole value (Redis keeps TTLs in
    /// a separate dict: O(1) too).
    public static let reservedExpireFieldMinimum = 512

    /// Whether an expire time fits the 6-byte field.
    @inline(__always) static func fitsNarrowExpire(_ ms: Int64) -> Bool { ms >= 0 && ms < 1 << 48 }

    @inline(__always) public var next: UnsafeMutableRawPointer? {
        get {
            let lo = UInt(raw.load(as: UInt32.self))
            let hi = UInt(raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
            return UnsafeMutableRawPointer(bitPattern: lo | hi << 32)
        }
        nonmutating set {
            let bits = UInt(bitPattern: newValue)
            // A heap address above 48 bits (not seen on Linux without an explicit mmap hint)
            // would not fit the link: stop rather than corrupt the chain.
            precondition(bits >> 48 == 0, "Tern: heap address beyond 48 bits")
            raw.storeBytes(of: UInt32(truncatingIfNeeded: bits), as: UInt32.self)
            raw.storeBytes(of: UInt16(truncatingIfNeeded: bits >> 32), toByteOffset: 4, as: UInt16.self)
        }
    }
    /// The 24-bit LRU/LFU field. Values are masked to 24 bits (the engine never stores more:
    /// Redis's LRU clock and LFU data are both 24-bit).
    @inline(__always) public var lru: UInt32 {
        get { raw.loadUnaligned(fromByteOffset: 6, as: UInt32.self) & 0xFF_FFFF }
        nonmutating set {
            let w = raw.loadUnaligned(fromByteOffset: 6, as: UInt32.self)
            raw.storeBytes(of: (w & 0xFF00_0000) | (newValue & 0xFF_FFFF), toByteOffset: 6, as: UInt32.self)
        }
    }
    @inline(__always) var kind: UInt8 {
        get { raw.load(fromByteOffset: 9, as: UInt8.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 9, as: UInt8.self) }
    }
    @inline(__always) public var type: ValueType { ValueType(rawValue: kind & 0x0F) ?? .string }
    @inline(__always) var typeByte: UInt8 {
        get { kind & 0x0F }
        nonmutating set { kind = (kind & 0xF0) | (newValue & 0x0F) }
    }
    /// Setting the encoding (a new value was stored) also clears isPrivateInteger.
    @inline(__always) public var encoding: ValueEncoding {
        get { ValueEncoding(rawValue: kind >> 4) ?? .raw }
        nonmutating set {
            kind = (kind & 0x0F) | (newValue.rawValue << 4)
            flags &= ~Entry.flagPrivateInteger
        }
    }
    /// The raw encoding number (hot-path checks without building the enum).
    @inline(__always) public var encodingByte: UInt8 { kind >> 4 }
    /// An int-encoded string that Redis would hold as its own object rather than one of
    /// the shared integers 0...9999 (COPY duplicates the value: refcount 1, its own LRU).
    /// Cleared whenever a new value (encoding) is stored.
    @inline(__always) public var isPrivateInteger: Bool {
        get { flags & Entry.flagPrivateInteger != 0 }
        nonmutating set {
            if newValue { flags |= Entry.flagPrivateInteger } else { flags &= ~Entry.flagPrivateInteger }
        }
    }
    /// See `flagBornInSnapshot`.
    @inline(__always) var isBornInSnapshot: Bool { flags & Entry.flagBornInSnapshot != 0 }
    @inline(__always) var flags: UInt8 {
        get { raw.load(fromByteOffset: 10, as: UInt8.self) }
        nonmutating set { raw.storeBytes(of: newValue, toByteOffset: 10, as: UInt8.self) }
    }

    // MARK: lengths

    /// Bytes of the expire field: 0, 6 or 8.
    @inline(__always) var expireFieldWidth: Int {
        let f = flags
        return Int(f & Entry.flagExpire) &* (6 &+ Int((f >> 3) & 1) &* 2)
    }
    /// Offset of the key-length varint: right after the header and the expire field.
    @inline(__always) var lengthsOffset: Int { Entry.headerSize &+ expireFieldWidth }

    @inline(__always) public var keyLength: Int { Varint.read(raw + lengthsOffset).value }
    /// Offset of the key bytes.
    @inline(__always) var keyOffset: Int {
        let lo = lengthsOffset
        let k = Varint.read(raw + lo).size
        return lo &+ k &+ Varint.size(at: raw + (lo &+ k))
    }
    @inline(__always) public var valueLength: Int {
        let lo = lengthsOffset
        return Varint.read(raw + (lo &+ Varint.size(at: raw + lo))).value
    }
    /// Key length, value length and key offset in one decode (the value follows the key).
    @inline(__always) var lengths: (key: Int, value: Int, keyOffset: Int) {
        let lo = lengthsOffset
        let k = Varint.read(raw + lo)
        let v = Varint.read(raw + (lo &+ k.size))
        return (k.value, v.value, lo &+ k.size &+ v.size)
    }
    /// Bytes of the layout (header, expire field, lengths, key, value): what the block holds.
    var layoutSize: Int {
        let l = lengths
        return l.keyOffset + l.key + l.value
    }
    /// The whole block of a string entry as bytes: a copy is a readable Entry of its own
    /// (fields are read unaligned; `next` is meaningless in it). A snapshot hands such copies
    /// to its writer thread, which encodes the record there.
    @inline(__always) public var stringLayoutBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw, count: layoutSize)
    }

    @inline(__always) public var hasExpire: Bool { flags & (Entry.flagExpire | Entry.flagNoTTL) == Entry.flagExpire }
    /// The expire field is part of the layout (with or without a TTL in it).
    @inline(__always) var hasExpireField: Bool { flags & Entry.flagExpire != 0 }
    /// Absolute expiry time in unix milliseconds, or -1 when the key is persistent.
    /// Set through Database.setExpire, which widens the field when needed.
    @inline(__always) public internal(set) var expireAt: Int64 {
        get { hasExpire ? expireField : -1 }
        nonmutating set {
            precondition(hasExpire)
            expireField = newValue
        }
    }
    /// The raw field (caller checks hasExpireField; a narrow field must fit the value).
    @inline(__always) var expireField: Int64 {
        get {
            if flags & Entry.flagWideExpire != 0 {
                return raw.loadUnaligned(fromByteOffset: Entry.expireOffset, as: Int64.self)
            }
            let lo = UInt64(raw.loadUnaligned(fromByteOffset: Entry.expireOffset, as: UInt32.self))
            let hi = UInt64(raw.loadUnaligned(fromByteOffset: Entry.expireOffset + 4, as: UInt16.self))
            return Int64(bitPattern: lo | hi << 32)
        }
        nonmutating set {
            if flags & Entry.flagWideExpire != 0 {
                raw.storeBytes(of: newValue, toByteOffset: Entry.expireOffset, as: Int64.self)
                return
            }
            precondition(Entry.fitsNarrowExpire(newValue))
            let bits = UInt64(bitPattern: newValue)
            raw.storeBytes(of: UInt32(truncatingIfNeeded: bits), toByteOffset: Entry.expireOffset, as: UInt32.self)
            raw.storeBytes(of: UInt16(truncatingIfNeeded: bits >> 32), toByteOffset: Entry.expireOffset + 4, as: UInt16.self)
        }
    }
    @inline(__always) public var keyPointer: UnsafeRawPointer { UnsafeRawPointer(raw + keyOffset) }
    @inline(__always) public var key: UnsafeRawBufferPointer {
        let l = lengths
        return UnsafeRawBufferPointer(start: raw + l.keyOffset, count: l.key)
    }
    @inline(__always) var valueOffset: Int {
        let l = lengths
        return l.keyOffset &+ l.key
    }
    /// The string bytes; only meaningful when type == .string.
    @inline(__always) public var stringValue: UnsafeRawBufferPointer {
        let l = lengths
        return UnsafeRawBufferPointer(start: raw + (l.keyOffset &+ l.key), count: l.value)
    }
    /// Mutable view of the string bytes (for SETRANGE/SETBIT in place).
    @inline(__always) public var mutableStringValue: UnsafeMutableRawBufferPointer {
        let l = lengths
        return UnsafeMutableRawBufferPointer(start: raw + (l.keyOffset &+ l.key), count: l.value)
    }
    /// The collection object; only meaningful when type != .string.
    @inline(__always) public var object: AnyObject {
        let p = raw.loadUnaligned(fromByteOffset: valueOffset, as: UnsafeMutableRawPointer.self)
        return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue()
    }
    @inline(__always) public var isObject: Bool { kind & 0x0F != ValueType.string.rawValue }

    /// Bytes this entry occupies in the allocator.
    public var allocatedSize: Int { tern_malloc_usable_size(raw) }

    @inline(__always) public func keyEquals(_ k: UnsafeRawBufferPointer) -> Bool {
        let lo = lengthsOffset
        let kl = Varint.read(raw + lo)
        guard kl.value == k.count else { return false }
        if kl.value == 0 { return true }
        guard let kp = k.baseAddress else { return false }
        let off = lo &+ kl.size &+ Varint.size(at: raw + (lo &+ kl.size))
        return Entry.bytesEqual(UnsafeRawPointer(raw + off), kp, kl.value)
    }

    /// memcmp(...) == 0, inline for short keys (most keys): two overlapping word loads
    /// instead of a call into libc for every entry of a chain (callgrind: ~30 instructions
    /// a compare saved).
    @inline(__always) static func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
        if n >= 8 {
            if n > 16 { return memcmp(a, b, n) == 0 }
            return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
                && a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        if n >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        var i = 0
        while i < n {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    public var keyBytes: [UInt8] { Array(key) }
}

/// LEB128 lengths: 7 bits a byte, low bits first, the top bit set on every byte but the last.
enum Varint {
    /// Bytes needed for `n` (1 up to 127, 2 up to 16383, ...).
    @inline(__always) static func size(of n: Int) -> Int {
        if n < 0x80 { return 1 }
        let bits = Int.bitWidth - UInt(bitPattern: n).leadingZeroBitCount
        return (bits + 6) / 7
    }

    @inline(__always) static func read(_ p: UnsafeRawPointer) -> (value: Int, size: Int) {
        let b0 = p.load(as: UInt8.self)
        if b0 < 0x80 { return (Int(b0), 1) }
        return readLong(p)
    }

    static func readLong(_ p: UnsafeRawPointer) -> (value: Int, size: Int) {
        var v = 0, shift = 0, i = 0
        while true {
            let b = p.load(fromByteOffset: i, as: UInt8.self)
            v |= Int(b & 0x7F) << shift
            i += 1
            if b < 0x80 || i == 10 { return (v, i) }
            shift += 7
        }
    }

    /// Length of the varint at `p` without decoding it.
    @inline(__always) static func size(at p: UnsafeRawPointer) -> Int {
        if p.load(as: UInt8.self) < 0x80 { return 1 }
        return readLong(p).size
    }

    /// Writes `n` at `p`; returns the bytes written (size(of: n)).
    @discardableResult
    @inline(__always) static func write(_ n: Int, to p: UnsafeMutableRawPointer) -> Int {
        var v = UInt(bitPattern: n)
        var i = 0
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: i, as: UInt8.self)
            v >>= 7
            i += 1
        }
        p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
        return i + 1
    }
}

/// Allocation and teardown of entries.
enum EntryStorage {
    /// Block size for a layout: the header, the expire field when present, two varints,
    /// key and value.
    @inline(__always) static func layoutSize(keyLength: Int, valueLength: Int, expireWidth: Int) -> Int {
        Entry.headerSize + expireWidth + Varint.size(of: keyLength) + Varint.size(of: valueLength)
            + keyLength + valueLength
    }

    /// Width of the expire field holding `ms`.
    @inline(__always) static func expireWidth(for ms: Int64) -> Int { Entry.fitsNarrowExpire(ms) ? 6 : 8 }

    /// Whether a string of this length carries an (empty) expire field without a TTL.
    @inline(__always) static func reservesExpireField(valueLength: Int) -> Bool {
        valueLength >= Entry.reservedExpireFieldMinimum
    }

    static func allocate(key: UnsafeRawBufferPointer, valueLength: Int, expire: Int64?) -> Entry {
        let reserve = expire == nil && reservesExpireField(valueLength: valueLength)
        // A reserved field is wide, so that any later EXPIRE fits it without a move.
        let width = expire.map { expireWidth(for: $0) } ?? (reserve ? 8 : 0)
        let size = layoutSize(keyLength: key.count, valueLength: valueLength, expireWidth: width)
        guard let p = malloc(size) else { fatalError("Tern: out of memory allocating \(size) bytes") }
        // next nil (6 bytes) and lru 0 (first 2 of its 3 bytes) in one store; the rest below.
        p.storeBytes(of: UInt64(0), as: UInt64.self)
        p.storeBytes(of: UInt8(0), toByteOffset: 8, as: UInt8.self)   // lru high byte
        p.storeBytes(of: UInt8(0), toByteOffset: 9, as: UInt8.self)   // kind: string, raw
        var flags: UInt8 = 0
        if width != 0 { flags |= Entry.flagExpire }
        if width == 8 { flags |= Entry.flagWideExpire }
        if reserve { flags |= Entry.flagNoTTL }
        p.storeBytes(of: flags, toByteOffset: 10, as: UInt8.self)
        let e = Entry(p)
        if width != 0 { e.expireField = expire ?? 0 }
        var off = Entry.headerSize + width
        if key.count < 0x80 && valueLength < 0x80 {
            // Both lengths in one byte each (nearly every key): no varint loop.
            p.storeBytes(of: UInt16(truncatingIfNeeded: key.count) | UInt16(truncatingIfNeeded: valueLength) << 8,
                         toByteOffset: off, as: UInt16.self)
            off += 2
        } else {
            off += Varint.write(key.count, to: p + off)
            off += Varint.write(valueLength, to: p + off)
        }
        if key.count > 0, let kp = key.baseAddress { memcpy(p + off, kp, key.count) }
        return e
    }

    static func makeString(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expire: Int64?) -> Entry {
        let e = allocate(key: key, valueLength: value.count, expire: expire)
        if value.count > 0, let vp = value.baseAddress { memcpy(e.raw + e.valueOffset, vp, value.count) }
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
