import TernProtocol
import TernStore

/// Serializes values in RDB version 10 form, as Redis 7.0 writes them, appending to `out`.
/// One entry at a time, into a buffer the caller owns and drains (DUMP builds a payload; a
/// snapshot writer thread can drain chunks of a file). Not thread-safe: one writer per thread.
public struct RDBValueWriter {
    public var out: [UInt8] = []
    /// rdbcompression: LZF for strings longer than 20 bytes when it pays off.
    public var compression: Bool
    private let lzf: QuicklistLZF
    fileprivate var scratch: [UInt8] = []
    /// Leave LZF to whoever drains the buffer (a snapshot's writer thread): a string that
    /// may be compressed is appended raw, without its length header, and recorded in
    /// `deferred` as (offset in `out`, length, kind); `RDBChunk.resolve` later writes each
    /// one exactly as `writeString` (kind 0) or a compressed list node (kind 1) would have.
    public var deferCompression = false
    public var deferred: [Int] = []
    /// Deferred kinds: an RDB string (0), a list node (1), a string entry's whole record (2),
    /// a collection's value (3: the triple holds an index into `deferredValues`, no bytes).
    static let deferredString = 0, deferredNode = 1, deferredStringRecord = 2, deferredValue = 3
    /// Copies of compact collections (listpack hashes and sorted sets, intsets, quicklists)
    /// whose RDB encoding the writer thread builds: a copy is a few memcpys on the engine
    /// thread where the encoding rebuilds a listpack element by element.
    public var deferredValues: [StoredCollection] = []
    /// Bytes the copies in `deferredValues` hold (the queue's back-pressure counts them).
    public var deferredValueBytes = 0
    /// What the next chunk will hold: bytes written plus collection copies.
    public var pendingBytes: Int { out.count + deferredValueBytes }

    public init(compression: Bool = true, lzf: QuicklistLZF = QuicklistLZF()) {
        self.compression = compression
        self.lzf = lzf
    }

    // MARK: scalars

    /// RDB length: 6-bit, 14-bit (high bits first), 32-bit BE or 64-bit BE form.
    public mutating func writeLength(_ v: UInt64) {
        if v < 64 {
            out.append(UInt8(v))
        } else if v < 16384 {
            out.append(0x40 | UInt8(v >> 8)); out.append(UInt8(v & 0xFF))
        } else if v <= 0xFFFF_FFFF {
            out.append(0x80)
            for i in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(i))) }
        } else {
            out.append(0x81)
            for i in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(i))) }
        }
    }

    public mutating func writeLength(_ v: Int) { writeLength(UInt64(bitPattern: Int64(v))) }

    /// SELECTDB n, then RESIZEDB with the db's key and expire counts (as they are now).
    public mutating func writeDbHeader(_ db: Database) {
        out.append(RDBOpcode.selectDB)
        writeLength(db.id)
        out.append(RDBOpcode.resizeDB)
        writeLength(db.count)
        writeLength(db.expiresCount)
    }

    public mutating func writeLE64(_ v: UInt64) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    public mutating func writeBinaryDouble(_ d: Double) { writeLE64(d.bitPattern) }

    /// RDB string (§2.3 of the spec): int-encoded when short canonical int32 text, else
    /// LZF when enabled, longer than 20 bytes and compressible into n - 4 bytes, else raw.
    public mutating func writeString(_ s: UnsafeRawBufferPointer) {
        let n = s.count
        if n <= 11, let v = ListpackCodec.parseInt(s), v >= Int(Int32.min), v <= Int(Int32.max) {
            if v >= -128 && v <= 127 {
                out.append(0xC0); out.append(UInt8(truncatingIfNeeded: v))
            } else if v >= -32768 && v <= 32767 {
                out.append(0xC1)
                for i in 0..<2 { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
            } else {
                out.append(0xC2)
                for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
            }
            return
        }
        if compression && n > 20 && deferCompression {
            deferred.append(out.count); deferred.append(n); deferred.append(RDBValueWriter.deferredString)
            out.appendBytes(s)
            return
        }
        if compression && n > 20, let c = compressed(s, capacity: n - 4) {
            out.append(0xC3)
            writeLength(c)
            writeLength(n)
            out.append(contentsOf: scratch[0..<c])
            return
        }
        writeLength(n)
        out.appendBytes(s)
    }

    public mutating func writeString(_ s: [UInt8]) { s.withUnsafeBytes { writeString($0) } }

    /// LZF into `scratch`; the compressed size, or nil when it does not fit `capacity`.
    fileprivate mutating func compressed(_ s: UnsafeRawBufferPointer, capacity: Int) -> Int? {
        guard let base = s.baseAddress, capacity > 0 else { return nil }
        if scratch.count < capacity + 16 { scratch = [UInt8](repeating: 0, count: capacity + 16) }
        let lzf = self.lzf
        return scratch.withUnsafeMutableBytes { lzf.compress(base, s.count, into: $0.baseAddress!, capacity: capacity) }
    }

    // MARK: objects

    /// The RDB type byte Redis 7.0 writes for this value, or nil for values this writer
    /// cannot serialize (module values; streams until their type exists).
    public static func typeByte(_ e: Entry) -> UInt8? {
        switch e.type {
        case .string: return RDBType.string
        case .list: return RDBType.listQuicklist2
        case .set: return e.object is IntSet ? RDBType.setIntset : RDBType.set
        case .zset: return e.object is ListpackZSet ? RDBType.zsetListpack : RDBType.zset2
        case .hash: return e.object is ListpackHash ? RDBType.hashListpack : RDBType.hash
        case .module, .stream: return nil
        }
    }

    /// Writes the type byte and the value of `e`. Returns false (writing nothing) for a
    /// value type this writer cannot serialize.
    @discardableResult
    public mutating func writeObject(_ e: Entry) -> Bool {
        guard let t = RDBValueWriter.typeByte(e) else { return false }
        let start = out.count
        let mark = deferred.count
        out.append(t)
        if !writeValue(e) {
            out.removeSubrange(start...)
            deferred.removeSubrange(mark...)
            return false
        }
        return true
    }

    /// The value of `e` without its type byte (false, possibly after partial output, for
    /// a value this writer cannot serialize: callers check `typeByte` first).
    private mutating func writeValue(_ e: Entry) -> Bool {
        if e.type == .string {
            writeString(e.stringValue)
            return true
        }
        return writeCollection(e.object)
    }

    /// A collection's value without its type byte; false for a type this writer cannot
    /// serialize.
    fileprivate mutating func writeCollection(_ obj: AnyObject) -> Bool {
        switch obj {
        case let q as Quicklist: writeList(q)
        case let s as IntSet: writeIntset(s)
        case let s as DictSet:
            writeLength(s.count)
            s.forEach { writeString($0) }
        case let z as ListpackZSet:
            var lp = RedisListpackBuilder()
            z.walk(from: 0, to: z.count, reverse: false) { m, sc in lp.append(m); lp.appendScore(sc); return true }
            writeString(lp.finished())
        case let z as TreeZSet:
            writeLength(z.count)
            // Highest score first: Redis walks its skiplist from the tail.
            z.walk(from: 0, to: z.count, reverse: true) { m, sc in writeString(m); writeBinaryDouble(sc); return true }
        case let h as ListpackHash:
            var lp = RedisListpackBuilder()
            h.forEach { f, v in lp.append(f); lp.append(v) }
            writeString(lp.finished())
        case let h as DictHash:
            writeLength(h.count)
            h.forEach { f, v in writeString(f); writeString(v) }
        default:
            return false
        }
        return true
    }

    /// One key record of an RDB file (§1.4 of the spec):
    ///   [FC <expire ms, int64 LE>] [F8 <idle seconds, length>] [F9 <LFU counter u8>] <type> <key> <value>
    /// `idleSeconds` under an LRU policy, `freq` under an LFU one (Redis writes neither
    /// otherwise). Writes nothing and returns false for a value it cannot serialize.
    @discardableResult
    public mutating func writeRecord(_ e: Entry, idleSeconds: Int? = nil, freq: UInt8? = nil) -> Bool {
        let start = out.count
        guard writeRecordHeader(e, idleSeconds: idleSeconds, freq: freq) else { return false }
        let mark = deferred.count
        writeString(e.key)
        guard writeValue(e) else {
            out.removeSubrange(start...)
            deferred.removeSubrange(mark...)
            return false
        }
        return true
    }

    /// A record's opcodes and type byte; nothing and false for a type this writer cannot
    /// serialize.
    private mutating func writeRecordHeader(_ e: Entry, idleSeconds: Int?, freq: UInt8?) -> Bool {
        guard let t = RDBValueWriter.typeByte(e) else { return false }
        if e.hasExpire {
            out.append(RDBOpcode.expireTimeMs)
            writeLE64(UInt64(bitPattern: e.expireAt))
        }
        if let idleSeconds { out.append(RDBOpcode.idle); writeLength(max(0, idleSeconds)) }
        if let freq { out.append(RDBOpcode.freq); out.append(freq) }
        out.append(t)
        return true
    }

    /// A string key's record for a snapshot (deferCompression on, no IDLE/FREQ to write):
    /// the entry's block is copied as it is and `RDBChunk.resolve` encodes the record on the
    /// writer thread, byte for byte what `writeRecord` writes. A memcpy instead of the
    /// expire, type, key and value encoding keeps the snapshot walk's cost on the engine
    /// thread low (p99 during BGSAVE, docs/ARCHITECTURE.md).
    public mutating func deferStringRecord(_ e: Entry) {
        let block = e.stringLayoutBytes
        deferred.append(out.count); deferred.append(block.count); deferred.append(RDBValueWriter.deferredStringRecord)
        out.appendBytes(block)
    }

    /// A record of a snapshot: string keys deferred whole when allowed, compact collections
    /// copied for the writer thread to encode, the rest written.
    @discardableResult
    public mutating func writeSnapshotRecord(_ e: Entry, idleSeconds: Int?, freq: UInt8?) -> Bool {
        guard deferCompression else { return writeRecord(e, idleSeconds: idleSeconds, freq: freq) }
        if e.type == .string {
            if idleSeconds == nil && freq == nil {
                deferStringRecord(e)
                return true
            }
            return writeRecord(e, idleSeconds: idleSeconds, freq: freq)
        }
        // Concrete class casts: a cast to the protocol is a conformance lookup per key.
        let copy: StoredCollection
        switch e.object {
        case let h as ListpackHash: copy = h.deepCopy()
        case let z as ListpackZSet: copy = z.deepCopy()
        case let s as IntSet: copy = s.deepCopy()
        case let q as Quicklist: copy = q.deepCopy()
        default: return writeRecord(e, idleSeconds: idleSeconds, freq: freq)
        }
        guard writeRecordHeader(e, idleSeconds: idleSeconds, freq: freq) else { return false }
        writeString(e.key)
        deferred.append(out.count); deferred.append(deferredValues.count); deferred.append(RDBValueWriter.deferredValue)
        deferredValues.append(copy)
        deferredValueBytes += copy.allocatedBytes
        return true
    }

    /// Hands over what was written and starts an empty buffer of the same capacity: the engine
    /// serializes entries, a writer thread checksums and writes the chunks it is handed.
    public mutating func drain() -> [UInt8] {
        var chunk: [UInt8] = []
        chunk.reserveCapacity(out.capacity)
        swap(&chunk, &out)
        return chunk
    }

    /// `drain` with the deferred strings recorded since the last one.
    public mutating func drainChunk() -> RDBChunk {
        let spans = deferred
        deferred.removeAll(keepingCapacity: true)
        let values = RDBChunk.Values(items: deferredValues, bytes: deferredValueBytes)
        deferredValues = []
        deferredValueBytes = 0
        return RDBChunk(bytes: drain(), deferred: spans, values: values)
    }

    /// A list node's bytes: LZF when Redis holds it compressed in memory and that saves
    /// at least 8 bytes, else an ordinary string.
    fileprivate mutating func writeNode(_ s: UnsafeRawBufferPointer) {
        let c = compressed(s, capacity: s.count)
        if let c, c + 8 < s.count {
            out.append(0xC3)
            writeLength(c)
            writeLength(s.count)
            out.append(contentsOf: scratch[0..<c])
            return
        }
        writeString(s)
    }

    private mutating func writeIntset(_ s: IntSet) {
        var values: [Int] = []
        values.reserveCapacity(s.count)
        s.forEach { values.append($0) }
        // Redis's width only ever grows; Tern keeps no history, so this is the narrowest width
        // for the current members (equal unless wider members were removed since).
        writeString(RedisIntset.encode(values))
    }

    /// Sizes of list-max-listpack-size -1...-5.
    static let fillBytes = [4096, 8192, 16384, 32768, 65536]
    /// Redis's SIZE_SAFETY_LIMIT for count-based fills, and its packed threshold (PLAIN nodes).
    static let safetyLimit = 8192
    static let packedThreshold = 1 << 30

    /// QUICKLIST_2: nodes cut by Redis's rule for a list built by tail pushes (node bytes +
    /// element length + 8 within the fill limit), each a listpack; inner nodes LZF-compressed
    /// as Redis holds them in memory when list-compress-depth > 0. Two passes: the first only
    /// counts nodes (the count comes first), the second builds and writes one node at a time,
    /// so a huge list never has a second copy in memory.
    private mutating func writeList(_ q: Quicklist) {
        let fill = Int(q.fill)
        let limit = fill < 0 ? RDBValueWriter.fillBytes[min(-fill, 5) - 1] : RDBValueWriter.safetyLimit
        // The cut rule, on (bytes, count) of the node being filled; nil = start a new node.
        @inline(__always) func fits(_ bytes: Int, _ count: Int, _ sz: Int) -> Bool {
            if count == 0 { return true }
            return bytes + sz + 8 <= limit && (fill < 0 || count < fill)
        }
        @inline(__always) func element(_ v: QuicklistValue, _ body: (UnsafeRawBufferPointer) -> Void) {
            if v.isInt { ListpackCodec.withIntText(v.int, body) } else {
                body(UnsafeRawBufferPointer(start: v.ptr, count: v.len))
            }
        }
        var nodes = 0
        var bytes = 7, count = 0
        q.forEach(from: 0, reverse: false) { v in
            element(v) { s in
                if s.count >= RDBValueWriter.packedThreshold {
                    nodes += (count > 0 ? 1 : 0) + 1
                    bytes = 7; count = 0
                    return
                }
                if !fits(bytes, count, s.count) { nodes += 1; bytes = 7; count = 0 }
                bytes += RedisListpackBuilder.entrySize(s)
                count += 1
            }
            return true
        }
        if count > 0 { nodes += 1 }
        writeLength(nodes)

        let depth = Int(q.compressDepth)
        var index = 0
        func emit(_ w: inout RDBValueWriter, _ data: [UInt8], plain: Bool) {
            w.writeLength(plain ? 1 : 2)
            let inner = depth > 0 && index >= depth && index < nodes - depth
            index += 1
            if inner && data.count >= 48 {
                // Redis keeps a node compressed only when that saves at least 8 bytes.
                if w.deferCompression {
                    w.deferred.append(w.out.count); w.deferred.append(data.count); w.deferred.append(RDBValueWriter.deferredNode)
                    w.out.append(contentsOf: data)
                } else {
                    data.withUnsafeBytes { w.writeNode($0) }
                }
                return
            }
            w.writeString(data)
        }
        var lp = RedisListpackBuilder()
        q.forEach(from: 0, reverse: false) { v in
            element(v) { s in
                if s.count >= RDBValueWriter.packedThreshold {
                    if lp.count > 0 { emit(&self, lp.finished(), plain: false); lp = RedisListpackBuilder() }
                    emit(&self, Array(s), plain: true)
                    return
                }
                if !fits(lp.size, lp.count, s.count) { emit(&self, lp.finished(), plain: false); lp = RedisListpackBuilder() }
                lp.append(s)
            }
            return true
        }
        if lp.count > 0 { emit(&self, lp.finished(), plain: false) }
    }
}

/// Bytes of an RDB stream whose LZF work is left to the thread that writes them: `bytes`
/// holds every deferred string raw and headerless, `deferred` their (offset, length, kind)
/// triples in order (kind 0: `writeString`'s rule, kind 1: an inner list node's rule, 2: a
/// string entry's block, 3: (offset, index into `values`, 3), a copied collection's value).
public struct RDBChunk: Sendable {
    public var bytes: [UInt8]
    public var deferred: [Int]
    public var values: Values

    /// Collection copies owned by the chunk alone: made on the engine thread, read and
    /// released only by the thread that resolves the chunk.
    public struct Values: @unchecked Sendable {
        var items: [StoredCollection] = []
        /// Their allocated bytes (queued memory the back-pressure counts).
        public var bytes = 0
        public init() {}
        init(items: [StoredCollection], bytes: Int) { self.items = items; self.bytes = bytes }
    }

    /// Memory the chunk holds until it is written: its bytes and its collection copies.
    public var queuedBytes: Int { bytes.count + values.bytes }

    public init(bytes: [UInt8], deferred: [Int] = [], values: Values = Values()) {
        self.bytes = bytes
        self.deferred = deferred
        self.values = values
    }

    /// The final bytes: `w` (not deferring, with its own LZF state) writes each deferred
    /// string as the engine would have written it inline.
    public func resolve(with w: inout RDBValueWriter) -> [UInt8] {
        if deferred.isEmpty { return bytes }
        w.out.removeAll(keepingCapacity: true)
        w.out.reserveCapacity(bytes.count + 64)
        bytes.withUnsafeBytes { all in
            var at = 0
            var i = 0
            while i + 2 < deferred.count {
                let off = deferred[i], n = deferred[i + 1], kind = deferred[i + 2]
                if off > at { w.out.append(contentsOf: UnsafeRawBufferPointer(rebasing: all[at..<off])) }
                if kind == RDBValueWriter.deferredValue {
                    _ = w.writeCollection(values.items[n])
                    at = off
                    i += 3
                    continue
                }
                let s = UnsafeRawBufferPointer(rebasing: all[off..<(off + n)])
                switch kind {
                case RDBValueWriter.deferredNode: w.writeNode(s)
                case RDBValueWriter.deferredStringRecord:
                    if let base = s.baseAddress { w.writeRecord(Entry(UnsafeMutableRawPointer(mutating: base))) }
                default: w.writeString(s)
                }
                at = off + n
                i += 3
            }
            if at < all.count { w.out.append(contentsOf: UnsafeRawBufferPointer(rebasing: all[at...])) }
        }
        return w.out
    }
}

/// DUMP payloads: <type> <value> <RDB version u16 LE> <CRC-64 LE of everything before>.
public enum DumpPayload {
    /// The payload of `e`, or nil for a value type that cannot be serialized.
    public static func make(_ e: Entry, compression: Bool) -> [UInt8]? {
        var w = RDBValueWriter(compression: compression, lzf: sharedLZF)
        guard w.writeObject(e) else { return nil }
        return seal(w.out)
    }

    /// Appends the version and checksum footer.
    public static func seal(_ body: [UInt8]) -> [UInt8] {
        var out = body
        out.append(UInt8(rdbVersion & 0xFF)); out.append(UInt8(rdbVersion >> 8))
        let crc = CRC64.checksum(out)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt64(i)))) }
        return out
    }

    /// Redis's verifyDumpPayload: at least the 10-byte footer, version <= 10, CRC matches
    /// (skipped with `skipChecksum`, DEBUG's skip-checksum-validation switch).
    public static func verify(_ p: UnsafeRawBufferPointer, skipChecksum: Bool = false) -> Bool {
        let n = p.count
        guard n >= 10 else { return false }
        let version = UInt16(p[n - 10]) | UInt16(p[n - 9]) << 8
        guard version <= rdbVersion else { return false }
        if skipChecksum { return true }
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(p[n - 8 + i]) << (8 * UInt64(i)) }
        return CRC64.update(0, UnsafeRawBufferPointer(rebasing: p[0..<(n - 8)])) == stored
    }

    /// The engine thread's compressor (its hash table is 256 KB: one per thread, not per call).
    nonisolated(unsafe) static let sharedLZF = QuicklistLZF()
}
