#if canImport(Glibc)
import Glibc
#endif
import TernStore

/// A value decoded from an RDB record or DUMP payload, already in Tern's encodings.
public enum RDBValue {
    case string([UInt8])
    case collection(StoredCollection, ValueType, ValueEncoding)
}

/// Reads RDB values (every type Redis 1.x-7.0 wrote) from a byte buffer. Every byte is
/// hostile: each read is bounds-checked and every failure is an `RDBError` naming the
/// offset; nothing is built into the keyspace here, so a failure leaves nothing behind.
public struct RDBValueReader {
    public internal(set) var data: [UInt8]
    public var pos: Int
    /// Reads stop here (a DUMP payload's footer is not value data).
    public internal(set) var limit: Int
    /// Redis's deep sanitization (sanitize-dump-payload yes, or clients for a client RESTORE).
    public var deep: Bool
    public var limits: EncodingLimits
    /// Deep validations of packed blobs run so far (INFO dump_payload_sanitizations: Redis
    /// counts one per intset and per listpack, quicklist nodes each).
    public var sanitizations = 0

    public init(_ data: [UInt8], start: Int = 0, limit: Int? = nil, deep: Bool = false, limits: EncodingLimits = EncodingLimits()) {
        self.data = data
        self.pos = start
        self.limit = min(limit ?? data.count, data.count)
        self.deep = deep
        self.limits = limits
    }

    func fail(_ m: String, at: Int? = nil) -> RDBError { RDBError(m, at: at ?? pos) }

    // MARK: scalars

    public mutating func readByte() throws -> UInt8 {
        guard pos < limit else { throw RDBError("Unexpected end of data", at: pos, kind: .truncated) }
        defer { pos += 1 }
        return data[pos]
    }

    mutating func readBytes(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= limit - pos else { throw RDBError("Unexpected end of data reading \(n) bytes", at: pos, kind: .truncated) }
        defer { pos += n }
        return data[pos..<(pos + n)]
    }

    mutating func readLE(_ n: Int) throws -> UInt64 {
        let b = try readBytes(n)
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        return v
    }

    /// An RDB length, or a special string encoding (`encoded` true, value = 0...63).
    mutating func readLengthOrEncoding() throws -> (value: UInt64, encoded: Bool) {
        let at = pos
        let b = try readByte()
        switch b >> 6 {
        case 0: return (UInt64(b & 0x3F), false)
        case 1: return (UInt64(b & 0x3F) << 8 | UInt64(try readByte()), false)
        case 3: return (UInt64(b & 0x3F), true)
        default:
            if b == 0x80 { return (try readBE(4), false) }
            if b == 0x81 { return (try readBE(8), false) }
            throw fail("Unknown length encoding \(b) in rdbLoadLen()", at: at)
        }
    }

    mutating func readBE(_ n: Int) throws -> UInt64 {
        let b = try readBytes(n)
        var v: UInt64 = 0
        for x in b { v = v << 8 | UInt64(x) }
        return v
    }

    /// A length used as a count or size: must fit what the remaining input could hold, so a
    /// hostile count never drives a huge allocation (each element takes at least one byte).
    public mutating func readLength() throws -> Int {
        let at = pos
        // A special-encoding byte (11eeeeee) where a length belongs reads as e, as Redis
        // reads it (rdbLoadLen ignores the flag).
        let (v, _) = try readLengthOrEncoding()
        guard v <= UInt64(Int.max) else { throw fail("Length out of range", at: at) }
        return Int(v)
    }

    /// An element count. Not checked against the bytes left: the elements are read until the
    /// data ends, as Redis reads them (so a truncated file fails at the same offset); callers
    /// reserve room for at most `remainingBytes` elements, so a hostile count costs nothing.
    mutating func readCount() throws -> Int {
        try readLength()
    }

    var remainingBytes: Int { limit - pos }

    /// Redis sizes the hash table of a big set/hash/zset from the count before reading, and
    /// a count whose table cannot be allocated fails there ("OOM in dictTryExpand"). Tern
    /// allocates nothing up front; it reports the same failure, at the same offset, for counts
    /// no machine could hold (a table of more than 1 TB), and reads the rest until the data ends.
    func checkTableSize(_ n: Int) throws {
        if n > 1 << 37 { throw fail("OOM in dictTryExpand \(n)") }
    }

    /// Where an RDB string's bytes are, without copying them: a range of the input (raw
    /// strings), an integer (INT8/16/32 encodings: its decimal text, formatted on demand) or
    /// the decompressed bytes of an LZF string.
    public enum StringRef {
        case range(Int, Int)
        case int(Int)
        case bytes([UInt8])
    }

    /// Reads an RDB string's header and skips its bytes; `withBytes` then shows them.
    public mutating func readStringRef() throws -> StringRef {
        let at = pos
        let (v, enc) = try readLengthOrEncoding()
        if !enc {
            guard v <= UInt64(limit - pos) else { throw RDBError("String length \(v) past the end of data", at: at, kind: .truncated) }
            let start = pos
            pos += Int(v)
            return .range(start, Int(v))
        }
        switch v {
        case 0: return .int(Int(Int8(bitPattern: UInt8(try readLE(1)))))
        case 1: return .int(Int(Int16(bitPattern: UInt16(try readLE(2)))))
        case 2: return .int(Int(Int32(bitPattern: UInt32(try readLE(4)))))
        case 3: return .bytes(try readLZF(at: at))
        default:
            throw fail("Unknown RDB string encoding type \(v)", at: at)
        }
    }

    /// Calls body with the bytes of a string read by `readStringRef` (valid during the call).
    @inline(__always)
    public func withBytes<R>(_ ref: StringRef, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try RDBValueReader.withBytes(data, ref, body)
    }

    /// `withBytes` on a given input. Callers inside the reader's own mutating methods use
    /// this with a local copy of `data`, so that the closure does not capture the reader
    /// (which makes Swift copy the whole struct at every call).
    @inline(__always)
    public static func withBytes<R>(_ data: [UInt8], _ ref: StringRef, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch ref {
        case .range(let s, let n):
            return try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[s..<(s + n)])) }
        case .int(let v):
            var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
            return try withUnsafeMutableBytes(of: &buf) { b in
                let p = b.baseAddress!.assumingMemoryBound(to: UInt8.self)
                return try body(UnsafeRawBufferPointer(start: p, count: ListpackCodec.formatInt(v, p)))
            }
        case .bytes(let b):
            return try b.withUnsafeBytes(body)
        }
    }

    /// An RDB string: raw, INT8/16/32 (as decimal text) or LZF-compressed.
    public mutating func readString() throws -> [UInt8] {
        switch try readStringRef() {
        case .range(let s, let n): return Array(data[s..<(s + n)])
        case .int(let v): return ListpackCodec.withIntText(v) { Array($0) }
        case .bytes(let b): return b
        }
    }

    /// The body of an LZF string (its encoding byte at `at` already read).
    mutating func readLZF(at: Int) throws -> [UInt8] {
        let clen = try readLength()
        let len = try readLength()
        let src = try readBytes(clen)
        // A declared length of 0 is accepted whatever the data, as Redis accepts it (its
        // decompressor's failure result, 0, equals the length).
        if len == 0 { return [] }
        guard clen > 0 else { throw fail("Invalid LZF compressed string", at: at) }
        // LZF expands at most ~264x per input byte pair; a larger claim is corrupt.
        guard len / 300 <= clen else { throw fail("Invalid LZF compressed string", at: at) }
        var out = [UInt8](repeating: 0, count: len)
        let got = src.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                QuicklistLZF.decompress(s.baseAddress!, clen, into: o.baseAddress!, outCapacity: len)
            }
        }
        guard got == len else { throw fail("Invalid LZF compressed string", at: at) }
        return out
    }

    public mutating func readBinaryDouble() throws -> Double { Double(bitPattern: try readLE(8)) }

    /// Legacy score: length byte (FD nan, FE +inf, FF -inf) then ASCII parsed as a C double.
    mutating func readStringDouble() throws -> Double {
        let at = pos
        let n = try readByte()
        switch n {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            let b = try readBytes(Int(n))
            // Redis reads it with sscanf("%lg"): a numeric prefix is enough.
            // Redis's loader returns this failure as it returns a short read.
            guard let d = RDBValueReader.parseDouble(b, prefix: true), n > 0 else {
                throw RDBError("Invalid double value", at: at, kind: .truncated)
            }
            return d
        }
    }

    /// strtod over the text. `prefix`: at least one character must convert (sscanf "%lg");
    /// otherwise nothing is required, like Redis's zzlStrtod on packed scores (text that is
    /// no number reads as 0). Text stops at a NUL, as C strings do.
    static func parseDouble<C: Collection>(_ b: C, prefix: Bool) -> Double? where C.Element == UInt8 {
        if let d = b.withContiguousStorageIfAvailable({ RDBValueReader.plainDecimal(UnsafeRawBufferPointer($0)) }) ?? nil {
            return d
        }
        return strtodParse(b, prefix: prefix)
    }

    /// As above, on raw bytes.
    static func parseDouble(_ b: UnsafeRawBufferPointer, prefix: Bool) -> Double? {
        if let d = RDBValueReader.plainDecimal(b) { return d }
        return strtodParse(b, prefix: prefix)
    }

    #if arch(x86_64)
    /// 10^0 ... 10^27, exact in Float80 (5^27 < 2^64).
    static let powersOfTen: [Float80] = {
        var out: [Float80] = [1]
        for _ in 1...27 { out.append(out[out.count - 1] * 10) }
        return out
    }()

    /// Float80 arithmetic really has a 64-bit significand here (valgrind, for one, runs x87
    /// code at double precision, where the reasoning below does not hold): 1/10 then has
    /// bits below a double's 53.
    static let float80IsExtended: Bool = (powersOfTen[0] / powersOfTen[1]).significandBitPattern & 0x7FF != 0
    #endif

    /// strtod's result for a plain decimal, computed without strtod (a load parses a score
    /// per packed zset member, and glibc's strtod takes ~1,000 instructions on the 17-digit
    /// text Redis writes): `[+-]digits[.digits][(e|E)[+-]digits]`, the whole text, at most 19
    /// significant digits and a decimal exponent within +-27. The digits as an integer are
    /// exact in Float80 (64-bit significand), and so is the power of ten; one multiply or
    /// divide rounds correctly to Float80, and rounding that to Double equals the single
    /// correct rounding unless the Float80 result is within one unit of a point halfway
    /// between two doubles: then (and for anything else, or without true Float80) nil, and
    /// strtod decides.
    static func plainDecimal(_ b: UnsafeRawBufferPointer) -> Double? {
        #if arch(x86_64)
        let n = b.count
        guard n > 0, n <= 64, float80IsExtended, let p = b.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var i = 0
        var negative = false
        if p[0] == 45 || p[0] == 43 { negative = p[0] == 45; i = 1 }
        var m: UInt64 = 0
        var digits = 0, exp10 = 0
        var sawDigit = false, sawDot = false
        while i < n {
            let c = p[i]
            if c &- 48 <= 9 {
                sawDigit = true
                if m == 0 && c == 48 {
                    if sawDot { exp10 -= 1 }
                } else {
                    if digits == 19 { return nil }
                    m = m &* 10 &+ UInt64(c &- 48)
                    digits += 1
                    if sawDot { exp10 -= 1 }
                }
            } else if c == 46 {
                if sawDot { return nil }
                sawDot = true
            } else {
                break
            }
            i += 1
        }
        guard sawDigit else { return nil }
        if i < n {
            guard p[i] == 101 || p[i] == 69 else { return nil }
            i += 1
            var eneg = false
            if i < n && (p[i] == 45 || p[i] == 43) { eneg = p[i] == 45; i += 1 }
            var e = 0, edigits = 0
            while i < n, p[i] &- 48 <= 9 {
                e = e * 10 + Int(p[i] &- 48)
                edigits += 1
                if edigits > 4 { return nil }
                i += 1
            }
            guard edigits > 0, i == n else { return nil }
            exp10 += eneg ? -e : e
        }
        if m == 0 { return negative ? -0.0 : 0.0 }
        guard exp10 >= -27 && exp10 <= 27 else { return nil }
        let x = exp10 < 0 ? Float80(m) / powersOfTen[-exp10] : Float80(m) * powersOfTen[exp10]
        let low = x.significandBitPattern & 0x7FF
        if low >= 0x3FF && low <= 0x401 { return nil }
        let d = Double(x)
        return negative ? -d : d
        #else
        return nil
        #endif
    }

    static func strtodParse<C: Collection>(_ b: C, prefix: Bool) -> Double? where C.Element == UInt8 {
        // A NUL-terminated copy on the stack (no allocation per score: loads parse millions).
        let n = min(b.count, 400)
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { p -> Double? in
            let base = p.baseAddress!
            var i = 0
            for x in b.prefix(400) { base[i] = CChar(bitPattern: x); i += 1 }
            base[i] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let d = strtod(base, &end)
            if prefix, let end, end == base { return nil }
            return d
        }
    }

    // MARK: objects

    /// Reads a value of RDB type `type` (the type byte already consumed).
    public mutating func readObject(type: UInt8) throws -> RDBValue {
        let at = pos
        let value: RDBValue
        switch type {
        case RDBType.string: return .string(try readString())
        case RDBType.list: value = try readPlainList()
        case RDBType.set: value = try readPlainSet()
        case RDBType.zset, RDBType.zset2: value = try readPlainZSet(binary: type == RDBType.zset2)
        case RDBType.hash: value = try readPlainHash()
        case RDBType.listZiplist:
            let blob = try readString()
            value = try buildList(try Ziplist.elements(blob, at: at).map { $0 })
        case RDBType.listQuicklist: value = try readQuicklist(version: 1)
        case RDBType.listQuicklist2: value = try readQuicklist(version: 2)
        case RDBType.setIntset:
            let blob = try readStringRef()
            if deep { sanitizations += 1 }
            let b = Packed(deep: deep, limits: limits)
            value = try RDBValueReader.withBytes(data, blob) { try b.loadIntset($0, at: at) }
        case RDBType.hashZipmap:
            let blob = try readString()
            let pairs = try Zipmap.elements(blob, at: at)
            let long = pairs.contains { $0.byteCount > limits.hashMaxListpackValue }
            value = try buildHash(pairs: pairs, at: at, forceDict: long)
        case RDBType.hashZiplist:
            let blob = try readString()
            value = try buildHash(pairs: try Ziplist.elements(blob, at: at), at: at)
        case RDBType.hashListpack:
            let blob = try readStringRef()
            if deep { sanitizations += 1 }
            let b = Packed(deep: deep, limits: limits)
            value = try RDBValueReader.withBytes(data, blob) { try b.loadListpackHash($0, at: at) }
        case RDBType.zsetZiplist:
            let blob = try readString()
            value = try buildPackedZSet(try Ziplist.elements(blob, at: at), at: at)
        case RDBType.zsetListpack:
            let blob = try readStringRef()
            if deep { sanitizations += 1 }
            let b = Packed(deep: deep, limits: limits)
            value = try RDBValueReader.withBytes(data, blob) { try b.loadListpackZSet($0, at: at) }
        case RDBType.module, RDBType.module2:
            throw fail("The RDB file contains module data I can't load: no matching module type", at: at)
        case RDBType.streamListpacks, RDBType.streamListpacks2:
            throw fail("Stream values are not supported yet", at: at)
        default:
            throw fail("Unknown RDB encoding type \(type)", at: at)
        }
        if case .collection(let c, _, _) = value, c.elementCount == 0 {
            throw RDBError("Empty key", at: at, kind: .emptyKey)
        }
        return value
    }

    // MARK: lists

    func newQuicklist() -> Quicklist {
        Quicklist(fill: limits.listMaxListpackSize, compressDepth: limits.listCompressDepth)
    }

    func buildList(_ elements: [PackedElement]) throws -> RDBValue {
        let q = newQuicklist()
        for e in elements { e.withBytes { q.pushTail($0) } }
        return .collection(q, .list, .quicklist)
    }

    mutating func readPlainList() throws -> RDBValue {
        let n = try readCount()
        let q = newQuicklist()
        for _ in 0..<n {
            let e = try readStringRef()
            withBytes(e) { q.pushTail($0) }
        }
        return .collection(q, .list, .quicklist)
    }

    /// QUICKLIST (v1: nodes are ziplists) and QUICKLIST_2 (container 1 PLAIN, 2 PACKED).
    mutating func readQuicklist(version: Int) throws -> RDBValue {
        let n = try readCount()
        let q = newQuicklist()
        for _ in 0..<n {
            var container = 2
            if version == 2 {
                let at = pos
                container = try readLength()
                guard container == 1 || container == 2 else { throw fail("Quicklist integrity check failed.", at: at) }
            }
            let at = pos
            let ref = try readStringRef()
            let isEmpty = withBytes(ref) { $0.isEmpty }
            // An empty node fails as Redis's loader fails it: like a short read.
            guard !isEmpty else { throw RDBError("Empty quicklist node", at: at, kind: .truncated) }
            if container == 1 {
                withBytes(ref) { q.pushTail($0) }
                continue
            }
            if version == 2 && deep { sanitizations += 1 }
            if version == 2 {
                // Elements go from the node's bytes into the list, no intermediate array;
                // the node is validated whole first (a bad node adds nothing).
                let dp = deep
                try RDBValueReader.withBytes(data, ref) { blob in
                    var room = 0
                    _ = try RedisListpackReader.walk(blob, deep: dp, at: at) { e in
                        room += ListpackCodec.withText(e) { Quicklist.plannedSize($0) }
                    }
                    _ = try RedisListpackReader.walk(blob, deep: false, at: at) { e in
                        room -= ListpackCodec.withText(e) { q.pushTail($0, room: room) }
                    }
                }
                continue
            }
            let elements = try Ziplist.elements(withBytes(ref) { Array($0) }, at: at)
            // Empty nodes are skipped, as Redis does.
            for e in elements { e.withBytes { q.pushTail($0) } }
        }
        return .collection(q, .list, .quicklist)
    }

    // MARK: sets

    /// Byte equality of two packed elements without copying them out.
    /// Whether two of `count` byte strings are equal: their hashes (ByteHash, seeded) go into
    /// an open-addressing table of indexes and only equal hashes are compared. Two
    /// allocations whatever the count, where a Set<[UInt8]> copied and SipHashed every
    /// element (a few percent of loading a dump full of 48-field hashes and zsets).
    static func hasDuplicate(count n: Int, hash: (Int) -> UInt64, equal: (Int, Int) -> Bool) -> Bool {
        if n < 2 { return false }
        var size = 16
        while size < 2 * n { size <<= 1 }
        var slots = [Int32](repeating: -1, count: size)
        var hashes = [UInt64](repeating: 0, count: n)
        for i in 0..<n {
            let h = hash(i)
            hashes[i] = h
            var at = Int(truncatingIfNeeded: h) & (size - 1)
            while slots[at] >= 0 {
                let j = Int(slots[at])
                if hashes[j] == h && equal(i, j) { return true }
                at = (at + 1) & (size - 1)
            }
            slots[at] = Int32(truncatingIfNeeded: i)
        }
        return false
    }

    static func hasDuplicateMember(_ items: [([UInt8], Double)]) -> Bool {
        hasDuplicate(count: items.count, hash: { items[$0].0.withUnsafeBytes { ByteHash.hash($0) } },
                     equal: { items[$0].0 == items[$1].0 })
    }

    static func hasDuplicate(_ strings: [[UInt8]]) -> Bool {
        hasDuplicate(count: strings.count, hash: { strings[$0].withUnsafeBytes { ByteHash.hash($0) } },
                     equal: { strings[$0] == strings[$1] })
    }

    static func sameBytes(_ a: PackedElement, _ b: PackedElement) -> Bool {
        a.withBytes { x in b.withBytes { y in x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) } }
    }

    func buildIntset(_ values: [Int], at: Int) throws -> RDBValue {
        if values.count > limits.setMaxIntsetEntries {
            let d = DictSet()
            for v in values {
                let added = ListpackCodec.withIntText(v) { d.add($0) }
                if !added { throw fail("Duplicate set members detected", at: at) }
            }
            return .collection(d, .set, .hashtable)
        }
        var s = IntSet.make(capacity: values.count)
        for v in values { s = s.inserting(v).0 }
        return .collection(s, .set, .intset)
    }

    /// Plain sets, hashes and sorted sets report a duplicate as soon as it is read (Redis's
    /// offset); past the compact-encoding limit the final structure is built as they come.
    mutating func readPlainSet() throws -> RDBValue {
        let n = try readCount()
        if n > min(limits.setMaxIntsetEntries, 1 << 30) {
            if n > 4 { try checkTableSize(n) }
            // Sized once from the count (Redis's dictTryExpand), bounded by the bytes left.
            let d = DictSet(capacity: min(n, remainingBytes))
            for _ in 0..<n {
                let m = try readStringRef()
                let added = withBytes(m) { d.add($0) }
                if !added { throw fail("Duplicate set members detected") }
            }
            return .collection(d, .set, .hashtable)
        }
        var members: [[UInt8]] = []
        members.reserveCapacity(min(n, remainingBytes))
        var allInts = true
        for _ in 0..<n {
            let m = try readString()
            if allInts && ListpackCodec.parseInt(m.withUnsafeBytes { $0 }) == nil { allInts = false }
            members.append(m)
        }
        if RDBValueReader.hasDuplicate(members) { throw fail("Duplicate set members detected") }
        if allInts {
            var s = IntSet.make(capacity: n)
            for m in members {
                guard let v = m.withUnsafeBytes({ ListpackCodec.parseInt($0) }) else { continue }
                let (ns, added) = s.inserting(v)
                if !added { throw fail("Duplicate set members detected") }
                s = ns
            }
            return .collection(s, .set, .intset)
        }
        let d = DictSet()
        for m in members { _ = m.withUnsafeBytes { d.add($0) } }
        return .collection(d, .set, .hashtable)
    }

    // MARK: hashes

    /// Builds a hash from flattened field/value pairs. Loaded packed hashes (zipmap,
    /// ziplist, listpack) stay listpack up to hash-max-listpack-entries; zipmaps also
    /// convert when a field or value exceeds hash-max-listpack-value.
    func buildHash(pairs: [PackedElement], at: Int, forceDict: Bool = false) throws -> RDBValue {
        guard pairs.count % 2 == 0 else { throw fail("Hash listpack with an odd number of elements", at: at) }
        let n = pairs.count / 2
        if forceDict || n > limits.hashMaxListpackEntries {
            let d = DictHash()
            for i in 0..<n {
                let isNew = pairs[2 * i].withBytes { f in pairs[2 * i + 1].withBytes { v in d.set(f, v) } }
                if !isNew { throw fail("Duplicate hash fields detected", at: at) }
            }
            return .collection(d, .hash, .hashtable)
        }
        // Duplicates found with a set, then appended: O(n) however high the limit is set.
        let h = ListpackHash()
        if n <= 16 {
            // Few fields (the common case): compared pairwise, no allocation per field.
            for i in 0..<n {
                for j in 0..<i where RDBValueReader.sameBytes(pairs[2 * i], pairs[2 * j]) {
                    throw fail("Duplicate hash fields detected", at: at)
                }
                pairs[2 * i].withBytes { fb in pairs[2 * i + 1].withBytes { h.append(fb, $0) } }
            }
            return .collection(h, .hash, .listpack)
        }
        if RDBValueReader.hasDuplicate(count: n, hash: { i in pairs[2 * i].withBytes { ByteHash.hash($0) } },
                                       equal: { RDBValueReader.sameBytes(pairs[2 * $0], pairs[2 * $1]) }) {
            throw fail("Duplicate hash fields detected", at: at)
        }
        for i in 0..<n { pairs[2 * i].withBytes { fb in pairs[2 * i + 1].withBytes { h.append(fb, $0) } } }
        return .collection(h, .hash, .listpack)
    }

    mutating func readPlainHash() throws -> RDBValue {
        let n = try readCount()
        if n > limits.hashMaxListpackEntries {
            try checkTableSize(n)
            let d = DictHash(capacity: min(n, remainingBytes / 2))
            for _ in 0..<n {
                let f = try readStringRef(), v = try readStringRef()
                let isNew = RDBValueReader.withBytes(data, f) { fb in RDBValueReader.withBytes(data, v) { d.set(fb, $0) } }
                if !isNew { throw fail("Duplicate hash fields detected") }
            }
            return .collection(d, .hash, .hashtable)
        }
        var pairs: [([UInt8], [UInt8])] = []
        pairs.reserveCapacity(min(n, remainingBytes))
        var packed = true
        for _ in 0..<n {
            let f = try readString(), v = try readString()
            if f.count > limits.hashMaxListpackValue || v.count > limits.hashMaxListpackValue { packed = false }
            pairs.append((f, v))
        }
        if RDBValueReader.hasDuplicate(count: pairs.count, hash: { pairs[$0].0.withUnsafeBytes { ByteHash.hash($0) } },
                                       equal: { pairs[$0].0 == pairs[$1].0 }) {
            throw fail("Duplicate hash fields detected")
        }
        if packed {
            let h = ListpackHash()
            for (f, v) in pairs { f.withUnsafeBytes { fb in v.withUnsafeBytes { h.append(fb, $0) } } }
            return .collection(h, .hash, .listpack)
        }
        let d = DictHash()
        for (f, v) in pairs { _ = f.withUnsafeBytes { fb in v.withUnsafeBytes { d.set(fb, $0) } } }
        return .collection(d, .hash, .hashtable)
    }

    // MARK: sorted sets

    mutating func readPlainZSet(binary: Bool) throws -> RDBValue {
        let at = pos
        let n = try readCount()
        if n > 4 { try checkTableSize(n) }
        if n > limits.zsetMaxListpackEntries {
            let z = TreeZSet(capacity: min(n, remainingBytes / 2))
            for _ in 0..<n {
                let m = try readStringRef()
                let s = binary ? try readBinaryDouble() : try readStringDouble()
                if s.isNaN { throw fail("Zset with NAN score detected") }
                let dup = withBytes(m) { z.score($0) != nil }
                if dup { throw fail("Duplicate zset fields detected") }
                withBytes(m) { z.insertNew($0, s) }
            }
            return .collection(z, .zset, .skiplist)
        }
        var items: [([UInt8], Double)] = []
        items.reserveCapacity(min(n, remainingBytes))
        for _ in 0..<n {
            let m = try readString()
            let s = binary ? try readBinaryDouble() : try readStringDouble()
            if s.isNaN { throw fail("Zset with NAN score detected") }
            items.append((m, s))
        }
        if RDBValueReader.hasDuplicateMember(items) { throw fail("Duplicate zset fields detected") }
        let maxLen = items.reduce(0) { max($0, $1.0.count) }
        return try buildZSet(items, listpack: n <= limits.zsetMaxListpackEntries && maxLen <= limits.zsetMaxListpackValue, at: at)
    }

    func buildPackedZSet(_ elements: [PackedElement], at: Int) throws -> RDBValue {
        guard elements.count % 2 == 0 else { throw fail("Zset listpack with an odd number of elements", at: at) }
        var items: [([UInt8], Double)] = []
        items.reserveCapacity(elements.count / 2)
        for i in stride(from: 0, to: elements.count, by: 2) {
            let s: Double
            switch elements[i + 1] {
            case .int(let v): s = Double(v)
            case .string(let t):
                // Redis accepts a NaN here and breaks the set's order; Tern refuses it.
                guard let d = RDBValueReader.parseDouble(t, prefix: false), !d.isNaN else { throw fail("Invalid zset score", at: at) }
                s = d
            }
            items.append((elements[i].bytes, s))
        }
        return try buildZSet(items, listpack: items.count <= limits.zsetMaxListpackEntries, at: at)
    }

    func buildZSet(_ items: [([UInt8], Double)], listpack: Bool, at: Int) throws -> RDBValue {
        if listpack {
            // Sorted once (score, then member bytes as memcmp orders them), then appended.
            if items.count <= 16 {
                for i in 0..<items.count {
                    for j in 0..<i where items[i].0 == items[j].0 { throw fail("Duplicate zset fields detected", at: at) }
                }
            } else if RDBValueReader.hasDuplicateMember(items) {
                throw fail("Duplicate zset fields detected", at: at)
            }
            let before: (([UInt8], Double), ([UInt8], Double)) -> Bool = { a, b in
                a.1 < b.1 || (a.1 == b.1 && a.0.lexicographicallyPrecedes(b.0))
            }
            // A listpack Redis wrote is in order already: checked in one pass, not re-sorted.
            var inOrder = true
            for i in items.indices.dropFirst() where !before(items[i - 1], items[i]) { inOrder = false; break }
            let sorted = inOrder ? items : items.sorted(by: before)
            let z = ListpackZSet()
            for (m, s) in sorted { m.withUnsafeBytes { z.appendSorted($0, s) } }
            return .collection(z, .zset, .listpack)
        }
        let z = TreeZSet()
        for (m, s) in items {
            let dup = m.withUnsafeBytes { z.score($0) != nil }
            if dup { throw fail("Duplicate zset fields detected", at: at) }
            m.withUnsafeBytes { z.insertNew($0, s) }
        }
        return .collection(z, .zset, .skiplist)
    }
}

extension RDBValueReader {
    /// Builders of packed values (intset, listpack hash and zset) straight from the blob's
    /// bytes; they need only the sanitization mode and the limits, not the reader.
    struct Packed {
        let deep: Bool
        let limits: EncodingLimits

        func fail(_ m: String, at: Int) -> RDBError { RDBError(m, at: at) }

        /// The general path (intermediate arrays) for what the direct builders do not take.
        var general: RDBValueReader { RDBValueReader([], deep: deep, limits: limits) }

        /// A Redis intset blob (type 11): validated as `RedisIntset.values`, then, when Redis's
        /// strictly ascending order holds and it stays an intset, built in one allocation
        /// straight from the blob; anything else takes the general path.
        func loadIntset(_ blob: UnsafeRawBufferPointer, at: Int) throws -> RDBValue {
            func fail(_ m: String) -> RDBError { RDBError("Intset integrity check failed: \(m)", at: at) }
            guard blob.count >= 8, let base = blob.baseAddress else { throw fail("too short") }
            let w = Int(base.loadUnaligned(as: UInt32.self).littleEndian)
            let c = Int(base.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian)
            guard w == 2 || w == 4 || w == 8 else { throw fail("bad width") }
            guard c >= 1, blob.count == 8 + w * c else { throw fail("size mismatch") }
            @inline(__always) func value(_ i: Int) -> Int {
                let p = base + 8 + i * w
                switch w {
                case 2: return Int(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
                case 4: return Int(Int32(littleEndian: p.loadUnaligned(as: Int32.self)))
                default: return Int(Int64(littleEndian: p.loadUnaligned(as: Int64.self)))
                }
            }
            var ascending = true
            for i in 1..<max(c, 1) where value(i) <= value(i - 1) {
                if deep { throw fail("values not ascending") }
                ascending = false
                break
            }
            guard ascending, c <= limits.setMaxIntsetEntries else {
                return try general.buildIntset((0..<c).map(value), at: at)
            }
            return .collection(IntSet.make(ascending: c, value), .set, .intset)
        }

        /// A Redis listpack hash (type 16): validated whole, then, for up to 16 fields within
        /// the listpack limit, written into a ListpackHash of the exact final size with no
        /// intermediate copies (duplicate fields checked pairwise); larger ones take the
        /// general path.
        func loadListpackHash(_ blob: UnsafeRawBufferPointer, at: Int) throws -> RDBValue {
            var size = ListpackBuffer.headerSize
            let elements = try RedisListpackReader.walk(blob, deep: deep, at: at) { size += ListpackCodec.size(of: $0) }
            guard elements % 2 == 0 else { throw fail("Hash listpack with an odd number of elements", at: at) }
            let n = elements / 2
            guard n <= 16, n <= limits.hashMaxListpackEntries else {
                return try general.buildHash(pairs: try RedisListpackReader.elements(Array(blob), deep: false, at: at), at: at)
            }
            let h = ListpackHash(capacity: size)
            var field = ListpackCodec.Value.int(0)
            var isField = true
            var duplicate = false
            _ = try RedisListpackReader.walk(blob, deep: false, at: at) { e in
                if isField {
                    field = e
                    if !duplicate && h.contains(e) { duplicate = true }
                } else {
                    h.append(field, e)
                }
                isField.toggle()
            }
            if duplicate { throw fail("Duplicate hash fields detected", at: at) }
            return .collection(h, .hash, .listpack)
        }

        /// A Redis listpack zset (type 17): validated whole, then, for up to 16 members already
        /// in (score, member) order (as Redis writes them) within the listpack limit, written
        /// into a ListpackZSet with no intermediate copies; anything else takes the general
        /// path (which sorts). Same failures, in the same precedence, as the general path.
        func loadListpackZSet(_ blob: UnsafeRawBufferPointer, at: Int) throws -> RDBValue {
            var size = ListpackBuffer.headerSize
            var isMember = true
            let elements = try RedisListpackReader.walk(blob, deep: deep, at: at) { e in
                if isMember {
                    size += ListpackCodec.size(of: e)
                } else if case .int(let v) = e {
                    size += ListpackCodec.scoreSize(Double(v))
                } else {
                    size += 9
                }
                isMember.toggle()
            }
            guard elements % 2 == 0 else { throw fail("Zset listpack with an odd number of elements", at: at) }
            let n = elements / 2
            func generalPath() throws -> RDBValue {
                try general.buildPackedZSet(try RedisListpackReader.elements(Array(blob), deep: false, at: at), at: at)
            }
            guard n <= 16, n <= limits.zsetMaxListpackEntries else { return try generalPath() }
            let z = ListpackZSet(capacity: size)
            var member = ListpackCodec.Value.int(0)
            var prev = ListpackCodec.Value.int(0)
            var prevScore = 0.0
            var badScore = false, duplicate = false, ordered = true
            var i = 0
            _ = try RedisListpackReader.walk(blob, deep: false, at: at) { e in
                defer { i += 1 }
                if i & 1 == 0 {
                    member = e
                    if !duplicate && z.contains(e) { duplicate = true }
                    return
                }
                if badScore || !ordered { return }
                let s: Double
                switch e {
                case .int(let v): s = Double(v)
                case .string(let p, let len):
                    // Redis accepts a NaN here and breaks the set's order; Tern refuses it.
                    guard let d = RDBValueReader.parseDouble(UnsafeRawBufferPointer(start: p, count: len), prefix: false),
                          !d.isNaN else { badScore = true; return }
                    s = d
                case .double(let d): s = d
                }
                if i > 1 {
                    let before = prevScore < s || (prevScore == s && ListpackCodec.withText(prev) { a in
                        ListpackCodec.withText(member) { b in ListpackCodec.compareBytes(a, b) < 0 }
                    })
                    if !before { ordered = false; return }
                }
                z.appendSorted(member, s)
                prev = member
                prevScore = s
            }
            if badScore { throw fail("Invalid zset score", at: at) }
            if duplicate { throw fail("Duplicate zset fields detected", at: at) }
            guard ordered else { return try generalPath() }
            z.trim()
            return .collection(z, .zset, .listpack)
        }
    }
}

extension DumpPayload {
    /// Decodes a verified DUMP payload: type byte then value. As in Redis, reads may run on
    /// into the footer (a too-long length takes footer bytes: harmless, and the replies then
    /// match Redis's), and bytes left after the value are ignored.
    public static func decode(_ p: [UInt8], deep: Bool, limits: EncodingLimits) throws -> RDBValue {
        var n = 0
        return try decode(p, deep: deep, limits: limits, sanitizations: &n)
    }

    /// As above, adding the deep validations run to `sanitizations` (also when it fails).
    public static func decode(_ p: [UInt8], deep: Bool, limits: EncodingLimits, sanitizations: inout Int) throws -> RDBValue {
        var r = RDBValueReader(p, deep: deep, limits: limits)
        defer { sanitizations += r.sanitizations }
        let t = try r.readByte()
        guard RDBType.isObjectType(t) else { throw RDBError("Unknown RDB encoding type \(t)", at: 0) }
        return try r.readObject(type: t)
    }
}
