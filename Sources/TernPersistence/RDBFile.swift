#if canImport(Glibc)
import Glibc
#endif
import TernProtocol
import TernStore

/// An RDB file as Redis 7.0 lays it out:
///   "REDIS0010"  AUX*  (SELECTDB n  RESIZEDB size expires  record*)*  EOF  CRC64 (8 bytes LE)
/// where AUX is 0xFA key value (two RDB strings) and a record is
/// [EXPIRETIME_MS t] [IDLE n | FREQ b] type key value. The CRC covers everything before it;
/// 8 zero bytes mean "not computed" (rdbchecksum no).
public enum RDBFile {
    /// AUX fields in the order Redis writes them for a SAVE on a master without replicas.
    public struct Aux {
        public var redisVersion = "7.0.15"
        public var ctime: Int
        public var usedMemory: Int
        public var aofBase = false
        /// repl-stream-db, repl-id, repl-offset: written by a master with a backlog and for
        /// every replication RDB (PSYNC2 after a restart, the replica's initial db).
        public var replication: (streamDb: Int, id: String, offset: Int64)?
        public init(ctime: Int, usedMemory: Int) {
            self.ctime = ctime
            self.usedMemory = usedMemory
        }
    }

    /// Serializes every database into one image. `accessField` yields (idle seconds, freq)
    /// for an entry when the eviction policy asks Redis to store them.
    public static func serialize(_ databases: [Database], aux: Aux, compression: Bool, checksum: Bool,
                                 accessField: (Entry) -> (idle: Int?, freq: UInt8?) = { _ in (nil, nil) }) -> [UInt8] {
        var w = RDBValueWriter(compression: compression)
        // The image is about the size of the dataset: room up front instead of doubling
        // (and copying) the buffer all the way (capped).
        w.out.reserveCapacity(Swift.min(Swift.max(aux.usedMemory, 1 << 16), 1 << 30))
        writeHeader(aux: aux, to: &w)
        for db in databases where db.count > 0 {
            w.writeDbHeader(db)
            db.table.forEach { e in
                let f = accessField(e)
                w.writeRecord(e, idleSeconds: f.idle, freq: f.freq)
            }
        }
        w.out.append(RDBOpcode.eof)
        let crc = checksum ? CRC64.checksum(w.out) : 0
        w.writeLE64(crc)
        return w.out
    }

    /// The bytes before the first record: magic, version and the AUX fields. Snapshots start
    /// their streams with it (once, they took an empty image's bytes from `serialize`, whose
    /// image-sized reservation the allocator counted: used_memory doubled during a BGSAVE).
    public static func header(aux: Aux) -> [UInt8] {
        var w = RDBValueWriter(compression: false)
        writeHeader(aux: aux, to: &w)
        return w.out
    }

    private static func writeHeader(aux: Aux, to w: inout RDBValueWriter) {
        w.out.append(contentsOf: Array("REDIS0010".utf8))
        func auxField(_ k: String, _ v: String) {
            w.out.append(RDBOpcode.aux)
            w.writeString(Array(k.utf8))
            w.writeString(Array(v.utf8))
        }
        auxField("redis-ver", aux.redisVersion)
        auxField("redis-bits", "64")
        auxField("ctime", "\(aux.ctime)")
        auxField("used-mem", "\(aux.usedMemory)")
        if let r = aux.replication {
            auxField("repl-stream-db", "\(r.streamDb)")
            auxField("repl-id", r.id)
            auxField("repl-offset", "\(r.offset)")
        }
        auxField("aof-base", aux.aofBase ? "1" : "0")
    }

    public struct IOFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `bytes` to `path` so that a crash leaves either the old file or the new one:
    /// a temp file in the same directory, fsync, rename over the target, fsync of the
    /// directory (the rename itself must reach the disk).
    public static func writeAtomically(_ bytes: [UInt8], path: String, tempName: String) throws {
        let fd = open(tempName, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw IOFailure(description: "Failed opening the temp RDB file \(tempName) (in server root dir \(currentDirectory())) for saving: \(errnoText())")
        }
        var ok = true
        var err = ""
        bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                guard let base = buf.baseAddress else { return }
                let n = write(fd, base + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false; err = errnoText(); return
                }
                off += n
            }
        }
        if ok && fsync(fd) != 0 { ok = false; err = errnoText() }
        close(fd)
        guard ok else {
            unlink(tempName)
            throw IOFailure(description: "Write error saving DB on disk: \(err)")
        }
        do { try renameDurably(tempName, path) } catch { unlink(tempName); throw error }
    }

    /// Renames the finished temp file over the target and fsyncs the directory.
    static func renameDurably(_ tempName: String, _ path: String) throws {
        guard rename(tempName, path) == 0 else {
            throw IOFailure(description: "Error moving temp DB file \(tempName) on the final destination \(path) (in server root dir \(currentDirectory())): \(errnoText())")
        }
        let dirPath = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
        let dfd = open(dirPath.isEmpty ? "/" : dirPath, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return "" }
        return String(cString: buf)
    }

    /// One record handed to the loader's owner.
    public struct Record {
        public var db: Int
        public var key: [UInt8]
        public var value: RDBValue
        public var expireAt: Int64?
        public var idleSeconds: Int?
        public var freq: UInt8?
    }

    /// A record as the loader sees it: the key and a string value point into the file
    /// buffer (or a stack copy) and are valid only during the callback, so a load copies
    /// each byte once, into the entry.
    public struct RecordView {
        public enum Value {
            case string(UnsafeRawBufferPointer)
            case collection(StoredCollection, ValueType, ValueEncoding)
        }
        public var db: Int
        public var key: UnsafeRawBufferPointer
        public var value: Value
        public var expireAt: Int64?
        public var idleSeconds: Int?
        public var freq: UInt8?

        /// An owned copy.
        public var record: Record {
            let v: RDBValue
            switch value {
            case .string(let s): v = .string(Array(s))
            case .collection(let c, let t, let e): v = .collection(c, t, e)
            }
            return Record(db: db, key: Array(key), value: v, expireAt: expireAt, idleSeconds: idleSeconds, freq: freq)
        }
    }

    public struct LoadSummary {
        public var version = 0
        public var aux: [(String, [UInt8])] = []
        public var resize: [(db: Int, size: Int, expires: Int)] = []
        /// Offset just past the image (EOF opcode and checksum): an AOF with an RDB
        /// preamble goes on with commands there.
        public var end = 0
    }

    /// Reads a whole RDB file image, handing each record to `record` in file order.
    /// Everything is bounds-checked; a malformed image throws an `RDBError` with the offset.
    /// `record` may throw to stop (a duplicate key, a db index out of range).
    @discardableResult
    public static func load(_ data: [UInt8], limits: EncodingLimits, verifyChecksum: Bool,
                            record: (Record) throws -> Void) throws -> LoadSummary {
        var loader = try Loader(data, limits: limits, verifyChecksum: verifyChecksum)
        while try !loader.step(maxBytes: Int.max, record: { try record($0.record) }) {}
        return loader.summary
    }

    /// A resumable load: `step` reads records until about `maxBytes` more of the input are
    /// consumed (a record is never split), so the owner can serve clients between slices
    /// (the startup load) or run it to the end at once (`load`, DEBUG RELOAD).
    public struct Loader {
        public private(set) var summary = LoadSummary()
        var r: RDBValueReader
        let verifyChecksum: Bool
        var db = 0
        var expireAt: Int64? = nil
        var idle: Int? = nil
        var freq: UInt8? = nil
        public private(set) var finished = false
        /// Bytes of the input consumed so far.
        public var position: Int { r.pos }
        public var totalBytes: Int { r.data.count }
        /// Fed as it arrives (a replica loading from its master's socket): a record cut by
        /// the end of the input so far is read again once more arrives, and the consumed
        /// prefix is dropped as the load goes (its checksum kept running).
        let streaming: Bool
        /// Streaming: no more input will come (a record cut now is a truncated file).
        public private(set) var inputComplete = true
        /// Streaming: the input ran out inside a record (or before the header).
        public private(set) var awaitingInput = false
        var headerRead = true
        /// Streaming: a record cut by the input is read again only once the bytes buffered
        /// from its start doubled, so a record much bigger than a network read is parsed a
        /// few times, not once per read.
        var retryWhenBuffered = 0
        /// Streaming: bytes dropped from the front and their CRC-64.
        var droppedBytes = 0
        var droppedCRC: UInt64 = 0
        /// Bytes consumed since the start, dropped ones included.
        public var consumedBytes: Int { droppedBytes + r.pos }

        /// Streaming: bytes appended and not consumed yet.
        public var unconsumedBytes: Int { r.data.count - r.pos }

        /// A streaming loader's errors name offsets in what it still buffers: this one names
        /// the offset from the start of the input, as a whole-file loader's do.
        public func fromInputStart(_ error: Error) -> Error {
            guard streaming, droppedBytes > 0, let e = error as? RDBError else { return error }
            return RDBError(e.message, at: e.offset + droppedBytes, kind: e.kind)
        }

        public init(_ data: [UInt8], limits: EncodingLimits, verifyChecksum: Bool) throws {
            guard data.count >= 9, Array(data[0..<5]) == Array("REDIS".utf8) else {
                throw RDBError("Wrong signature trying to load DB from file", at: 0)
            }
            var version = 0
            for b in data[5..<9] {
                guard b >= 0x30 && b <= 0x39 else { throw RDBError("Can't handle RDB format version", at: 5) }
                version = version * 10 + Int(b - 0x30)
            }
            guard version >= 1 && version <= Int(rdbVersion) else {
                throw RDBError("Can't handle RDB format version \(version)", at: 5)
            }
            summary.version = version
            r = RDBValueReader(data, start: 9, limits: limits)
            self.verifyChecksum = verifyChecksum
            streaming = false
        }

        /// A loader fed with `append` as the bytes arrive, `finishInput` after the last.
        public init(streamingWith limits: EncodingLimits, verifyChecksum: Bool) {
            r = RDBValueReader([], start: 0, limits: limits)
            self.verifyChecksum = verifyChecksum
            streaming = true
            inputComplete = false
            headerRead = false
        }

        public mutating func append(_ bytes: UnsafeRawBufferPointer) {
            // Consumed bytes go first (when they are most of the buffer), so it stays about
            // as big as the records not yet read.
            if r.pos >= 1 << 16 && r.pos * 2 >= r.data.count {
                let pos = r.pos
                let seed = droppedCRC
                droppedCRC = r.data.withUnsafeBytes { CRC64.update(seed, UnsafeRawBufferPointer(rebasing: $0[0..<pos])) }
                droppedBytes += pos
                r.data.removeSubrange(0..<pos)
                r.pos = 0
            }
            r.data.appendBytes(bytes)
            r.limit = r.data.count
            awaitingInput = false
        }

        /// No more input: the next step fails on a record the input cut.
        public mutating func finishInput() {
            inputComplete = true
            awaitingInput = false
        }

        /// Streaming: the signature and version once 9 bytes are there; false until then.
        mutating func readHeader() throws -> Bool {
            guard r.data.count >= 9 else {
                if inputComplete { throw RDBError("Wrong signature trying to load DB from file", at: 0, kind: .truncated) }
                awaitingInput = true
                return false
            }
            guard Array(r.data[0..<5]) == Array("REDIS".utf8) else {
                throw RDBError("Wrong signature trying to load DB from file", at: 0)
            }
            var version = 0
            for b in r.data[5..<9] {
                guard b >= 0x30 && b <= 0x39 else { throw RDBError("Can't handle RDB format version", at: 5) }
                version = version * 10 + Int(b - 0x30)
            }
            guard version >= 1 && version <= Int(rdbVersion) else {
                throw RDBError("Can't handle RDB format version \(version)", at: 5)
            }
            summary.version = version
            r.pos = 9
            headerRead = true
            return true
        }

        /// Reads on until `maxBytes` more bytes are consumed or the file ends; true at the end.
        public mutating func step(maxBytes: Int, resize: ((_ db: Int, _ size: Int) -> Void)? = nil,
                                  record: (RecordView) throws -> Void) throws -> Bool {
            if finished { return true }
            if !headerRead, try !readHeader() { return false }
            if streaming && !inputComplete && r.data.count - r.pos < retryWhenBuffered {
                awaitingInput = true
                return false
            }
            let stop = maxBytes >= Int.max - r.pos ? Int.max : r.pos + maxBytes
            while r.pos < stop {
                let at = r.pos
                do {
                    if try readRecord(at: at, resize: resize, record: record) { return true }
                    retryWhenBuffered = 0
                } catch let e as RDBError where e.kind == .truncated && streaming && !inputComplete {
                    // Cut by the end of what arrived: read again from its start later (nothing
                    // of a record is applied before all of it is read).
                    r.pos = at
                    retryWhenBuffered = 2 * (r.data.count - at)
                    awaitingInput = true
                    return false
                }
            }
            return false
        }

        /// One record or opcode from `at`; true at the end of the file.
        @inline(__always)
        mutating func readRecord(at: Int, resize: ((_ db: Int, _ size: Int) -> Void)?,
                                 record: (RecordView) throws -> Void) throws -> Bool {
                let t = try r.readByte()
                switch t {
                case RDBOpcode.expireTimeMs:
                    expireAt = Int64(bitPattern: try r.readLE(8))
                case RDBOpcode.expireTime:
                    expireAt = Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: try r.readLE(4)))) * 1000
                case RDBOpcode.freq:
                    freq = try r.readByte()
                case RDBOpcode.idle:
                    idle = try r.readLength()
                case RDBOpcode.eof:
                    if summary.version >= 5 {
                        let end = r.pos
                        let stored = try r.readLE(8)
                        if verifyChecksum && stored != 0 {
                            let seed = droppedCRC
                            let crc = r.data.withUnsafeBytes { CRC64.update(seed, UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
                            if crc != stored { throw RDBError("Wrong RDB checksum", at: end) }
                        }
                    }
                    summary.end = r.pos
                    finished = true
                    return true
                case RDBOpcode.selectDB:
                    db = try r.readLength()
                case RDBOpcode.resizeDB:
                    let size = try r.readLength()
                    let exp = try r.readLength()
                    summary.resize.append((db, size, exp))
                    resize?(db, size)
                case RDBOpcode.aux:
                    let k = try r.readString()
                    let v = try r.readString()
                    summary.aux.append((String(decoding: k, as: UTF8.self), v))
                case RDBOpcode.moduleAux, RDBOpcode.function, RDBOpcode.function2:
                    throw RDBError("Unsupported RDB opcode \(t) (modules and functions are not loaded yet)", at: at)
                default:
                    guard RDBType.isObjectType(t) else { throw RDBError("Unknown RDB encoding type \(t)", at: at) }
                    let key = try r.readStringRef()
                    // Locals only in the closures below: capturing `self` would copy the loader.
                    let data = r.data
                    let (dbIndex, exp, idleSecs, fq) = (db, expireAt, idle, freq)
                    do {
                        if t == RDBType.string {
                            let v = try r.readStringRef()
                            try RDBValueReader.withBytes(data, key) { k in
                                try RDBValueReader.withBytes(data, v) { vb in
                                    try record(RecordView(db: dbIndex, key: k, value: .string(vb), expireAt: exp, idleSeconds: idleSecs, freq: fq))
                                }
                            }
                        } else {
                            let value: RecordView.Value
                            switch try r.readObject(type: t) {
                            case .collection(let c, let ty, let e): value = .collection(c, ty, e)
                            case .string: throw RDBError("Unknown RDB encoding type \(t)", at: at)
                            }
                            try RDBValueReader.withBytes(data, key) { k in
                                try record(RecordView(db: dbIndex, key: k, value: value, expireAt: exp, idleSeconds: idleSecs, freq: fq))
                            }
                        }
                    } catch let e as RDBError where e.kind == .emptyKey {
                        // Redis skips empty aggregates written by older versions.
                    }
                    expireAt = nil; idle = nil; freq = nil
                }
                return false
        }
    }
}
