#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TernStore

/// A forkless point-in-time RDB image (DESIGN.md "Snapshots without fork", Dragonfly's
/// versioned walk). `start` takes one epoch on every database's key table; the engine then
/// calls `step` until it returns true, each call serializing a bounded number of buckets;
/// a write to a bucket the walk has not reached serializes that bucket first (the table calls
/// `serializeBucketBeforeWrite`), so the file holds exactly the dataset at `start`.
/// Serialization runs on the engine thread (the only owner of entries); chunks of bytes go
/// to the sink: for a file, a writer thread that does the deferred LZF (`RDBChunk`), the
/// CRC and every write, fsync and rename; for replicas' sockets, final bytes.
///
/// Records of different dbs may interleave (a pre-write serialization in db 3 while the walk
/// is in db 0): each chunk starts with SELECTDB of its db, which RDB loaders accept anywhere.
///
/// The same walk writes an AOF rewrite's base: `.rdb` for BGSAVE and the RDB preamble,
/// `.aofCommands` for a base in AOF format (per bucket, the commands that rebuild its keys,
/// SELECT instead of SELECTDB, no EOF opcode and no checksum trailer).
public final class RDBSnapshot: KeyTableSnapshotWalker {
    public enum Format { case rdb, aofCommands }
    private let format: Format
    private let databases: [Database]
    private var w: RDBValueWriter
    private let accessField: (Entry) -> (idle: Int?, freq: UInt8?)
    private let sink: RDBSnapshotSink
    private var dbIndex = 0
    private var table = 0
    private var bucket = 0
    /// The db whose SELECTDB was last written to the stream.
    private var currentDb = -1
    /// Chunks are handed over once this many bytes are buffered.
    private let chunkBytes = 1 << 16
    public private(set) var finished = false

    /// The walk pauses (writes still serialize their buckets) while this many bytes wait
    /// for the writer thread: the queue to the writer is bounded by it plus what writes force.
    public static let maxQueuedBytes = 4 << 20
    /// The most bytes ever queued for the writer (see `serialize`).
    public static let hardQueuedBytes = 16 << 20
    /// At most this long a step clears the marks of keys born during the save (a few
    /// hundred thousand buckets after a busy save: tens of ms in one go).
    static let clearMarksMicros = 200

    /// Keys written so far by the engine (walk and writes), for rdb-key-save-delay pacing
    /// and tests; `keysWritten` adds those of a walk on the writer thread.
    private var engineKeysWritten = 0
    public var keysWritten: Int { engineKeysWritten + (writerWalk?.keys.load(ordering: .relaxed) ?? 0) }

    /// Set when the writer thread walks the buckets (`walkOnWriter`).
    private var writerWalk: WriterWalk?
    /// The walk's progress as `step` last saw it (keys, and when they last changed).
    private var walkKeysSeen = 0
    private var walkProgressAt = 0
    private let compression: Bool

    /// A walk run by the file sink's writer thread (see `walkOnWriter`).
    final class WriterWalk: @unchecked Sendable {
        struct DB {
            let id: Int
            let count: Int
            let expires: Int
            let buckets: SnapshotBuckets
        }
        let dbs: [DB]
        let keyDelayMicros: Int
        let done = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
        let keys = Atomic<Int>(0)
        init(dbs: [DB], keyDelayMicros: Int) { self.dbs = dbs; self.keyDelayMicros = keyDelayMicros }
    }

    public convenience init(databases: [Database], aux: RDBFile.Aux, compression: Bool, checksum: Bool,
                            path: String, tempName: String, incrementalFsync: Bool = false,
                            accessField: @escaping (Entry) -> (idle: Int?, freq: UInt8?)) {
        self.init(databases: databases, aux: aux, compression: compression,
                  sink: RDBFileSink(path: path, tempName: tempName, checksum: checksum, incrementalFsync: incrementalFsync,
                                    compression: compression),
                  accessField: accessField)
    }

    /// An RDB image into any sink (a file, or replicas' sockets for a diskless sync).
    public init(databases: [Database], aux: RDBFile.Aux, compression: Bool, sink: RDBSnapshotSink,
                accessField: @escaping (Entry) -> (idle: Int?, freq: UInt8?)) {
        self.format = .rdb
        self.databases = databases
        self.accessField = accessField
        self.compression = compression
        w = RDBValueWriter(compression: compression)
        self.sink = sink
        // Deferred LZF only for a sink whose writer thread resolves it (a file).
        w.deferCompression = sink.resolvesDeferredStrings
        // The header: everything but the records (RESIZEDB sizes are those at the epoch).
        w.out = RDBFile.header(aux: aux)
        for db in databases where db.count > 0 {
            _ = db.table.beginSnapshot(walker: self)
        }
    }

    /// An AOF-format rewrite base (no RDB preamble); `timestamp` is the `#TS:` annotation
    /// of aof-timestamp-enabled.
    public init(aofCommandsOf databases: [Database], path: String, tempName: String,
                incrementalFsync: Bool = false, timestamp: Int? = nil) {
        self.format = .aofCommands
        self.databases = databases
        self.accessField = { _ in (nil, nil) }
        self.compression = false
        w = RDBValueWriter(compression: false)
        sink = RDBFileSink(path: path, tempName: tempName, checksum: false,
                           incrementalFsync: incrementalFsync, trailer: false)
        if let timestamp { w.out = Array("#TS:\(timestamp)\r\n".utf8) }
        for db in databases where db.count > 0 {
            _ = db.table.beginSnapshot(walker: self)
        }
    }

    private func selectDb(_ db: Database) {
        guard currentDb != db.id else { return }
        currentDb = db.id
        if format == .rdb && writerWalk == nil {
            w.writeDbHeader(db)
        } else {
            // The writer's walk writes each db's RESIZEDB; these chunks interleave with it.
            RDBSnapshot.select(db.id, format: format, to: &w)
        }
    }

    /// SELECTDB (or an AOF base's SELECT) of `db`: what every buffer interleaved in a
    /// snapshot's stream starts with.
    private static func select(_ db: Int, format: Format, to w: inout RDBValueWriter) {
        if format == .aofCommands {
            AOFRewriteCommands.select(db, to: &w.out)
        } else {
            w.out.append(RDBOpcode.selectDB)
            w.writeLength(db)
        }
    }

    /// Records of `entries` in the engine's buffer (serialized on the engine after all).
    private func appendOnEngine(_ entries: [Entry], of db: Database) {
        selectDb(db)
        for e in entries { RDBSnapshot.append(e, format: format, accessField: accessField, to: &w) }
        engineKeysWritten += entries.count
    }

    /// Serializes a bucket on the engine thread. Before an access to `key`, with the walk on
    /// the writer thread, the bucket's other costly values (`isCostly`: a big hash table or
    /// list met by a write to a neighbour key) are handed to the writer instead: true then,
    /// and the bucket stays busy until the writer has written them (`handOver`).
    @discardableResult
    private func serialize(_ db: Database, table: Int, index: Int, key: UnsafeRawBufferPointer? = nil) -> Bool {
        var first = true
        var costly: [Entry] = []
        let mayHand = key != nil && writerWalk != nil
        db.table.forEachInBucket(table: table, index: index) { e in
            if mayHand, let key, RDBSnapshot.isCostly(e), !e.keyEquals(key) {
                costly.append(e)
                return
            }
            if first { selectDb(db); first = false }
            RDBSnapshot.append(e, format: format, accessField: accessField, to: &w)
            engineKeysWritten += 1
        }
        var handed = false
        if !costly.isEmpty {
            handed = handOver(costly, of: db, table: table, index: index)
            if !handed { appendOnEngine(costly, of: db) }
        }
        flushIfFull()
        return handed
    }

    /// Hands the engine's buffer to the sink once it holds a chunk.
    private func flushIfFull() {
        if w.pendingBytes >= chunkBytes {
            sink.write(chunk: w.drainChunk())
            // Chunks interleave with the writer's walk in the file: each starts with its SELECTDB.
            if writerWalk != nil { currentDb = -1 }
            // The walk pauses at `maxQueuedBytes`, but writes keep serializing buckets; a
            // low-priority writer starved by a busy machine would let that queue grow to
            // the whole image: past `hardQueuedBytes` the engine waits for it, only until one
            // chunk is written (waiting down to `maxQueuedBytes` stalled the engine for the
            // writer's 12 MB: tens of ms; a chunk is a few hundred µs, paced per write).
            if sink.queuedBytes > RDBSnapshot.hardQueuedBytes {
                sink.waitForRoom(RDBSnapshot.hardQueuedBytes - chunkBytes)
            }
        }
    }

    /// One key's record (or, for an AOF-format base, its commands). The engine's writer defers
    /// LZF and collection encoding to the writer thread; the writer's own encodes inline.
    private static func append(_ e: Entry, format: Format, accessField: (Entry) -> (idle: Int?, freq: UInt8?),
                               to w: inout RDBValueWriter) {
        if format == .aofCommands {
            AOFRewriteCommands.append(e, to: &w.out)
        } else {
            let f = accessField(e)
            w.writeSnapshotRecord(e, idleSeconds: f.idle, freq: f.freq)
        }
    }

    /// Called by a key table before a write to a bucket the walk has not serialized.
    public func serializeBucketBeforeWrite(_ keyTable: KeyTable, table: Int, index: Int,
                                           key: UnsafeRawBufferPointer?) -> Bool {
        guard let db = databases.first(where: { $0.table === keyTable }) else { return false }
        return serialize(db, table: table, index: index, key: key)
    }

    /// Values the engine met in a bucket it claimed and handed to the writer thread rather
    /// than serializing them itself (a write to one key must not pay for a 16,000-element
    /// neighbour). The bucket stays busy until the writer has written them and stamps it;
    /// meanwhile the engine may access the bucket's other keys (their values are in the image
    /// already, and what it changes of these entries is their chain links, which the writer
    /// does not read); an access to a handed key takes them back unless the writer started.
    final class HandedBucket: @unchecked Sendable {
        let entries: [Entry]
        let db: Int
        let version: UnsafeMutablePointer<UInt8>
        let epoch: UInt8
        /// 0 queued, 1 the writer is serializing them, 2 written and the bucket stamped,
        /// 3 taken back by the engine (or cancelled by an abort).
        let state = Atomic<Int>(0)
        init(entries: [Entry], db: Int, version: UnsafeMutablePointer<UInt8>, epoch: UInt8) {
            self.entries = entries; self.db = db; self.version = version; self.epoch = epoch
        }
    }
    /// The buckets handed over, by the address of their version byte.
    private var handed: [Int: HandedBucket] = [:]
    /// Buckets handed to the writer so far, and those the engine took back (tests).
    public private(set) var handedBuckets = 0
    public private(set) var handedTakenBack = 0

    /// A value whose serialization would hold the engine for tens of microseconds or more:
    /// a hash table or skiplist of 256 elements, a quicklist of 32 nodes, a 256 KB string.
    static func isCostly(_ e: Entry) -> Bool {
        guard e.isObject else { return e.valueLength >= 1 << 18 }
        return LazyFree.effort(e) >= (e.type == .list ? 32 : 256)
    }

    private func handOver(_ entries: [Entry], of db: Database, table: Int, index: Int) -> Bool {
        guard let walk = writerWalk, let fileSink = sink as? RDBFileSink,
              let version = db.table.versionAddress(table: table, index: index) else { return false }
        let job = HandedBucket(entries: entries, db: db.id, version: version, epoch: db.table.runningSnapshotEpoch)
        handed[Int(bitPattern: version)] = job
        handedBuckets += 1
        let format = self.format, compression = self.compression, accessField = self.accessField
        fileSink.runOnWriter { emit, _ in
            guard job.state.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged else { return }
            var jw = RDBValueWriter(compression: compression)
            RDBSnapshot.select(job.db, format: format, to: &jw)
            for e in job.entries { RDBSnapshot.append(e, format: format, accessField: accessField, to: &jw) }
            emit(jw.drain())
            walk.keys.add(job.entries.count, ordering: .relaxed)
            KeyTable.stampWalked(job.version, job.epoch)
            job.state.store(2, ordering: .sequentiallyConsistent)
        }
        return true
    }

    public func busyBucketAccess(_ keyTable: KeyTable, version: UnsafeMutablePointer<UInt8>,
                                 key: UnsafeRawBufferPointer?) -> Bool {
        let address = Int(bitPattern: version)
        guard let job = handed[address] else { return false }
        if let key, !job.entries.contains(where: { $0.keyEquals(key) }) { return true }
        guard job.state.compareExchange(expected: 0, desired: 3, ordering: .sequentiallyConsistent).exchanged else {
            if job.state.load(ordering: .sequentiallyConsistent) == 2 { handed[address] = nil }
            return false   // the writer is writing them: a wait as for any bucket it holds
        }
        handed[address] = nil
        handedTakenBack += 1
        if let db = databases.first(where: { $0.table === keyTable }) {
            appendOnEngine(job.entries, of: db)
            flushIfFull()
        }
        KeyTable.stampWalked(version, job.epoch)
        return true
    }

    /// True once no handed bucket waits for the writer (`cancel`: queued ones are dropped
    /// and their buckets stamped, for an abort). Clears the record when so.
    private func handedSettled(cancel: Bool) -> Bool {
        var open = false
        for job in handed.values {
            if cancel, job.state.compareExchange(expected: 0, desired: 3, ordering: .sequentiallyConsistent).exchanged {
                KeyTable.stampWalked(job.version, job.epoch)
            }
            let st = job.state.load(ordering: .sequentiallyConsistent)
            if st == 0 || st == 1 { open = true }
        }
        if !open { handed = [:] }
        return !open
    }

    public func waitingForWalker() {
        (sink as? RDBFileSink)?.writerIsNeeded()
        sched_yield()
    }

    /// Moves the walk to the file sink's writer thread: from now on the engine serializes only
    /// the buckets it is about to touch (`serializeBucketBeforeWrite`, claimed through the
    /// bucket versions), and `step` only checks whether the writer is done. The writer claims
    /// every other bucket, serializes it with its own encoder (LZF inline: it is the writer)
    /// and writes it between the engine's chunks, so the walk's cache misses and encoding no
    /// longer take the engine's time. Not for a sink without a writer thread (a replica's
    /// socket): the engine walks those. `keyDelayMicros` is rdb-key-save-delay: the writer
    /// sleeps that long per key, as Redis's child does. The writer calls `accessField` too: it
    /// must read no engine state. False when not possible.
    @discardableResult
    public func walkOnWriter(keyDelayMicros: Int) -> Bool {
        guard writerWalk == nil, !finished, let fileSink = sink as? RDBFileSink,
              dbIndex == 0, table == 0, bucket == 0 else { return false }
        var dbs: [WriterWalk.DB] = []
        for db in databases where db.table.runningSnapshotEpoch != 0 {
            dbs.append(.init(id: db.id, count: db.count, expires: db.expiresCount, buckets: db.table.snapshotBuckets()))
        }
        let walk = WriterWalk(dbs: dbs, keyDelayMicros: keyDelayMicros)
        writerWalk = walk
        walkProgressAt = KeyTable.monotonicMicros()
        // The header first; the engine's own chunks each start with a SELECTDB from now on.
        sink.write(chunk: w.drainChunk())
        currentDb = -1
        let format = self.format
        let compression = self.compression
        let chunkBytes = self.chunkBytes
        let accessField = self.accessField
        fileSink.runOnWriter { emit, runPending in
            var ww = RDBValueWriter(compression: compression)
            var selected = -1
            // Each buffer we emit starts with a SELECTDB, so the engine's chunks (which may
            // leave the file in another db) can go out between any two of them: `runPending`
            // runs often (the engine may be waiting for room), emitting only at chunk size.
            func emitOwn() {
                if !ww.out.isEmpty { emit(ww.drain()) }
                selected = -1
            }
            outer: for db in walk.dbs {
                var sized = false
                for (t, table) in db.buckets.tables.enumerated() {
                    for i in 0..<table.count {
                        if walk.stop.load(ordering: .relaxed) { break outer }
                        if i & 15 == 0 { runPending() }
                        guard db.buckets.claim(t, i) else { continue }
                        var n = 0
                        db.buckets.forEachInBucket(t, i) { e in
                            if selected != db.id {
                                selected = db.id
                                RDBSnapshot.select(db.id, format: format, to: &ww)
                                if format == .rdb && !sized {
                                    sized = true
                                    ww.out.append(RDBOpcode.resizeDB)
                                    ww.writeLength(db.count)
                                    ww.writeLength(db.expires)
                                }
                            }
                            RDBSnapshot.append(e, format: format, accessField: accessField, to: &ww)
                            n += 1
                        }
                        db.buckets.release(t, i)
                        if n > 0 {
                            walk.keys.add(n, ordering: .relaxed)
                            if walk.keyDelayMicros > 0 {
                                usleep(UInt32(min(walk.keyDelayMicros * n, 1_000_000)))
                                runPending()
                            }
                        }
                        if ww.out.count >= chunkBytes { emitOwn() }
                    }
                }
            }
            emitOwn()
            runPending()
            walk.done.store(true, ordering: .sequentiallyConsistent)
        }
        return true
    }

    /// The writer walks this snapshot (see `walkOnWriter`).
    public var walksOnWriter: Bool { writerWalk != nil }

    /// After the writer's walk: the tables leave the snapshot, the rest goes out with EOF.
    private func finishWriterWalk() {
        for db in databases where db.table.runningSnapshotEpoch != 0 { db.table.endSnapshot() }
        dbIndex = databases.count
        if format == .rdb { w.out.append(RDBOpcode.eof) }
        sink.finish(chunk: w.drainChunk())
        finished = true
    }

    /// True while the writer thread has more than `maxQueuedBytes` to write: the engine
    /// should wait before the next `step` (bounded queue).
    public var writerIsBehind: Bool { sink.queuedBytes > RDBSnapshot.maxQueuedBytes }

    /// Serializes up to `buckets` buckets, stopping early once `keys` keys have been written
    /// in this call; true when the walk is complete (the file is then being finished by the
    /// writer; poll `result`).
    /// `micros` bounds the step's time too (checked after every bucket), so a step never
    /// holds the engine thread longer than about that, whatever the values' sizes.
    public func step(buckets: Int, keys: Int = Int.max, micros: Int = Int.max) -> Bool {
        if finished { return true }
        if let walk = writerWalk {
            if walk.done.load(ordering: .sequentiallyConsistent) {
                // Values handed to the writer after its walk ended are written by now or soon.
                if !handedSettled(cancel: false) { return false }
                // The marks of keys born during the save, a slice a step (`clearBornMarks`).
                let deadline = KeyTable.monotonicMicros() + RDBSnapshot.clearMarksMicros
                for db in databases where db.table.runningSnapshotEpoch != 0 {
                    if !db.table.clearBornMarks(until: deadline) { return false }
                }
                finishWriterWalk()
                return true
            }
            // An idle-class writer gets no CPU on a machine that other work keeps busy: after
            // 100 ms without a key written it runs at nice 19 for the rest of the save.
            let now = KeyTable.monotonicMicros(), keys = walk.keys.load(ordering: .relaxed)
            if keys != walkKeysSeen {
                walkKeysSeen = keys
                walkProgressAt = now
            } else if now - walkProgressAt > 100_000 {
                (sink as? RDBFileSink)?.writerIsStarved()
                walkProgressAt = now
            }
            return false
        }
        var budget = buckets
        let keysAtStart = keysWritten
        let deadline = micros == Int.max ? Int.max : KeyTable.monotonicMicros() + micros
        while dbIndex < databases.count && budget > 0 && keysWritten - keysAtStart < keys {
            let db = databases[dbIndex]
            let kt = db.table
            if kt.runningSnapshotEpoch == 0 {
                // Empty at the start (never part of the snapshot).
                dbIndex += 1; table = 0; bucket = 0
                continue
            }
            let epoch = kt.runningSnapshotEpoch
            while budget > 0 && table < 2 && keysWritten - keysAtStart < keys {
                let n = kt.bucketCount(table: table)
                if bucket >= n { table += 1; bucket = 0; continue }
                if kt.bucketVersion(table: table, index: bucket) < epoch {
                    serialize(db, table: table, index: bucket)
                    kt.markBucketSerialized(table: table, index: bucket)
                }
                bucket += 1
                budget -= 1
                if deadline != Int.max && KeyTable.monotonicMicros() >= deadline { budget = 0 }
            }
            if table >= 2 {
                if !kt.clearBornMarks(until: deadline == Int.max ? KeyTable.monotonicMicros() + RDBSnapshot.clearMarksMicros
                                                                 : deadline) { break }
                kt.endSnapshot()
                dbIndex += 1; table = 0; bucket = 0
            }
        }
        guard dbIndex >= databases.count else { return false }
        if format == .rdb { w.out.append(RDBOpcode.eof) }
        sink.finish(chunk: w.drainChunk())
        finished = true
        return true
    }

    /// Walks everything left at once (before FLUSH*/SWAPDB/shutdown move whole tables). With
    /// the walk on the writer, the engine claims and serializes what is left itself, then
    /// waits for the writer to leave its last bucket.
    public func complete() {
        if finished { return }
        if let walk = writerWalk {
            for db in databases where db.table.runningSnapshotEpoch != 0 {
                let kt = db.table
                for t in 0..<2 {
                    for i in 0..<kt.bucketCount(table: t) { kt.serializeBucketIfUnvisited(table: t, index: i) }
                }
            }
            (sink as? RDBFileSink)?.waitForWriter { walk.done.load(ordering: .sequentiallyConsistent) }
            // Every bucket was claimed above: handed ones were taken back or written.
            precondition(handedSettled(cancel: false), "handed buckets left after complete()")
            finishWriterWalk()
            return
        }
        while !step(buckets: 1 << 20) {}
    }

    /// nil while the writer works; then nil-error on success or the failure text.
    public var result: RDBFileSink.Outcome? { sink.outcome }

    /// A foreground save (SAVE, SHUTDOWN, DEBUG RELOAD): the engine thread serializes every
    /// db in table order while the writer thread, at normal priority, does the LZF, CRC and
    /// writes of the chunks handed to it (at most `maxQueuedBytes` ahead), so the two run in
    /// parallel. The bytes are those `RDBFile.serialize` produces. Returns when the file is
    /// renamed into place (or the failure text).
    public static func save(_ databases: [Database], aux: RDBFile.Aux, compression: Bool, checksum: Bool,
                            path: String, tempName: String, incrementalFsync: Bool,
                            accessField: (Entry) -> (idle: Int?, freq: UInt8?)) -> RDBFileSink.Outcome {
        let sink = RDBFileSink(path: path, tempName: tempName, checksum: checksum, incrementalFsync: incrementalFsync,
                               compression: compression, priority: .normal)
        var w = RDBValueWriter(compression: compression)
        w.deferCompression = true
        let chunk = 1 << 18
        w.out.reserveCapacity(chunk + (1 << 12))
        w.out.append(contentsOf: RDBFile.header(aux: aux))
        for db in databases where db.count > 0 {
            w.writeDbHeader(db)
            db.table.forEach { e in
                let f = accessField(e)
                w.writeSnapshotRecord(e, idleSeconds: f.idle, freq: f.freq)
                if w.pendingBytes >= chunk {
                    sink.waitForRoom(maxQueuedBytes)
                    sink.write(chunk: w.drainChunk())
                }
            }
        }
        w.out.append(RDBOpcode.eof)
        sink.finish(chunk: w.drainChunk())
        return sink.waitForOutcome()
    }

    /// SHUTDOWN: walk to the end and drop the file (see `RDBFileSink.abort`).
    public func abort() {
        if let walk = writerWalk, !finished {
            walk.stop.store(true, ordering: .sequentiallyConsistent)
            (sink as? RDBFileSink)?.waitForWriter {
                walk.done.load(ordering: .sequentiallyConsistent) && handedSettled(cancel: true)
            }
            for db in databases where db.table.runningSnapshotEpoch != 0 { db.table.endSnapshot() }
            finished = true
        } else {
            complete()
        }
        sink.abort()
    }
}

/// Where a snapshot's bytes go. `write` and `finish` are called on the engine thread, in
/// stream order; `finish` gets the last bytes and must add the 8-byte CRC-64 trailer of
/// everything written (zeros without rdbchecksum).
public protocol RDBSnapshotSink: AnyObject {
    func write(_ chunk: [UInt8])
    func finish(_ last: [UInt8])
    /// Bytes handed over and not yet written out (the walk pauses above maxQueuedBytes).
    var queuedBytes: Int { get }
    /// nil until the image is complete (or failed).
    var outcome: RDBFileSink.Outcome? { get }
    func abort()
    /// True when the sink's writer resolves deferred LZF strings (`RDBChunk`); otherwise
    /// the snapshot compresses inline and hands over final bytes only.
    var resolvesDeferredStrings: Bool { get }
    func write(chunk: RDBChunk)
    func finish(chunk: RDBChunk)
    /// Blocks until at most `bytes` wait (the engine's back-pressure past hardQueuedBytes).
    func waitForRoom(_ bytes: Int)
}

extension RDBSnapshotSink {
    public var resolvesDeferredStrings: Bool { false }
    public func write(chunk: RDBChunk) { write(chunk.bytes) }
    public func finish(chunk: RDBChunk) { finish(chunk.bytes) }
    public func waitForRoom(_ bytes: Int) {}
}

/// The file side of a snapshot: a writer thread that resolves the deferred LZF strings of
/// each chunk (`RDBChunk`), appends the chunks to the temp file with a running CRC, and at
/// the end writes the checksum, fsyncs, renames and fsyncs the directory.
public final class RDBFileSink: RDBSnapshotSink, @unchecked Sendable {
    public enum Outcome: Sendable { case ok, failed(String) }
    private let queue: SerialWriterThread
    private let path: String
    private let tempName: String
    private let checksum: Bool
    /// rdb-save-incremental-fsync: fsync after every `autosyncBytes` written (Redis's
    /// REDIS_AUTOSYNC_BYTES), so the kernel never holds a huge dirty backlog.
    private let incrementalFsync: Bool
    /// The 8-byte CRC64 trailer of an RDB file (not for an AOF-format base).
    private let trailer: Bool
    public static let autosyncBytes = 4 << 20
    // Touched only on the writer thread.
    private var fd: Int32 = -1
    private var crc: UInt64 = 0
    private var error: String?
    private var unsynced = 0
    private var resolver: RDBValueWriter
    /// fsyncs done by the incremental fsync (tests).
    private(set) var incrementalSyncs = 0
    // Shared between the engine and the writer without locks (the engine must never wait
    // on a mutex a nice-19 writer holds: see SerialWriterThread).
    /// Bytes handed over and not yet written.
    private let pending = Atomic<Int>(0)
    private let aborted = Atomic<Bool>(false)
    /// 0 while writing, then 1 (ok) or 2 (failed: `failure` is set before the store).
    private let doneState = Atomic<Int>(0)
    private var failure = ""
    /// Held by the writer across the final rename and by `abort`, so an aborted save's file
    /// never lands once `abort` has returned.
    private var renameLock = pthread_mutex_t()

    /// Stops a save whose file is not renamed yet (SHUTDOWN kills the saving child in Redis):
    /// queued chunks are skipped, the temp file is removed and the target left as it is.
    /// Returns once the writer queue is idle, so nothing is written after it.
    public func abort() {
        queue.setPriority(.normal)   // it may hold renameLock
        pthread_mutex_lock(&renameLock)
        aborted.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(&renameLock)
        queue.waitIdle()
        unlink(tempName)
    }

    private var isAborted: Bool { aborted.load(ordering: .sequentiallyConsistent) }

    init(path: String, tempName: String, checksum: Bool, incrementalFsync: Bool, trailer: Bool = true,
         compression: Bool = false, priority: SnapshotWriterPriority = .background) {
        self.trailer = trailer
        self.path = path
        self.tempName = tempName
        self.checksum = checksum
        self.incrementalFsync = incrementalFsync
        resolver = RDBValueWriter(compression: compression, lzf: QuicklistLZF())
        queue = SerialWriterThread(priority: priority)
        pthread_mutex_init(&renameLock, nil)
        queue.async {
            self.fd = open(tempName, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if self.fd < 0 {
                self.error = "Failed opening the temp RDB file \(tempName) (in server root dir \(RDBFile.currentDirectory())) for saving: \(RDBFile.errnoText())"
            }
        }
    }

    private func append(_ bytes: [UInt8]) {
        guard error == nil, !isAborted else { return }
        if checksum { crc = bytes.withUnsafeBytes { CRC64.update(crc, $0) } }
        bytes.withUnsafeBytes { buf in
            guard let base = buf.baseAddress else { return }
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, base + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    error = "Write error saving DB on disk: \(RDBFile.errnoText())"
                    return
                }
                off += n
            }
        }
        unsynced += bytes.count
        if incrementalFsync && unsynced >= RDBFileSink.autosyncBytes && error == nil {
            unsynced = 0
            incrementalSyncs += 1
            if fdatasync(fd) != 0 { error = "Write error saving DB on disk: \(RDBFile.errnoText())" }
        }
    }

    private func append(_ chunk: RDBChunk) {
        guard error == nil, !isAborted else { return }
        append(chunk.resolve(with: &resolver))
    }

    /// Bytes handed over and not yet written.
    public var queuedBytes: Int { pending.load(ordering: .sequentiallyConsistent) }

    public var resolvesDeferredStrings: Bool { true }

    /// Runs `walk` on the writer thread, after the jobs queued so far: `emit` appends bytes to
    /// the file (in order, with the running CRC), `runPending` writes the chunks the engine
    /// queued meanwhile (call it regularly: the engine may be waiting for room).
    func runOnWriter(_ walk: @escaping (_ emit: ([UInt8]) -> Void, _ runPending: () -> Void) -> Void) {
        queue.async {
            walk({ bytes in self.append(bytes) }, { self.queue.runPending() })
        }
    }

    /// The engine waits for something only the writer can do (a bucket it is serializing):
    /// it runs at normal priority until the next chunk sets its pace again.
    func writerIsNeeded() { queue.setPriority(.normal) }

    /// The writer made no progress for a while: never below nice 19 again for this save.
    func writerIsStarved() { queue.raiseBase() }

    /// Blocks the engine until `done` holds (the writer's walk ended), the writer raised meanwhile.
    func waitForWriter(_ done: () -> Bool) { queue.waitUntil(done) }

    /// Blocks until at most `bytes` wait for the writer (back-pressure for SAVE, and for the
    /// walk past `RDBSnapshot.hardQueuedBytes`).
    public func waitForRoom(_ bytes: Int) {
        queue.waitUntil { pending.load(ordering: .sequentiallyConsistent) <= bytes }
    }

    public func write(_ chunk: [UInt8]) { write(chunk: RDBChunk(bytes: chunk)) }

    public func write(chunk: RDBChunk) {
        let n = chunk.queuedBytes
        let queued = pending.add(n, ordering: .sequentiallyConsistent).newValue
        if queued > RDBSnapshot.maxQueuedBytes {
            queue.pace(behind: true)
        } else if queued < RDBSnapshot.maxQueuedBytes / 2 {
            queue.pace(behind: false)
        }
        queue.async {
            self.append(chunk)
            self.pending.subtract(n, ordering: .sequentiallyConsistent)
        }
    }

    public func finish(_ last: [UInt8]) { finish(chunk: RDBChunk(bytes: last)) }

    public func finish(chunk last: RDBChunk) {
        queue.async {
            self.append(last)
            if self.trailer {
            var tail = [UInt8](repeating: 0, count: 8)
            if self.checksum { for i in 0..<8 { tail[i] = UInt8(truncatingIfNeeded: self.crc >> (8 * UInt64(i))) } }
            self.append(tail)
            }
            if self.error == nil && !self.isAborted && fsync(self.fd) != 0 { self.error = "Write error saving DB on disk: \(RDBFile.errnoText())" }
            if self.fd >= 0 { close(self.fd) }
            // The lock spans the rename, so after `abort` returns the file is either already
            // in place or never will be (a synchronous save may then write it safely).
            pthread_mutex_lock(&self.renameLock)
            if self.isAborted {
                self.error = "Background saving aborted"
            } else if self.error == nil {
                do { try RDBFile.renameDurably(self.tempName, self.path) } catch { self.error = "\(error)" }
            }
            if self.error != nil { unlink(self.tempName) }
            pthread_mutex_unlock(&self.renameLock)
            if let error = self.error {
                self.failure = error
                self.doneState.store(2, ordering: .releasing)
            } else {
                self.doneState.store(1, ordering: .releasing)
            }
        }
        queue.close()
    }

    /// Blocks until the writer has finished the file (after `finish`).
    func waitForOutcome() -> Outcome {
        queue.waitIdle()
        return outcome ?? .failed("Write error saving DB on disk: writer stopped")
    }

    deinit { queue.close() }

    public var outcome: Outcome? {
        switch doneState.load(ordering: .acquiring) {
        case 0: return nil
        case 1: return .ok
        default: return .failed(failure)
        }
    }
}

/// The commands of an AOF-format rewrite base (Redis's rewriteAppendOnlyFileRio): SET,
/// RPUSH, SADD, ZADD, HMSET in batches of 64 items, then PEXPIREAT.
public enum AOFRewriteCommands {
    static let itemsPerCommand = 64

    private static func header(_ n: Int, _ out: inout [UInt8]) { out.append(contentsOf: Array("*\(n)\r\n".utf8)) }
    private static func bulk(_ b: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        out.append(contentsOf: Array("$\(b.count)\r\n".utf8))
        out.append(contentsOf: b)
        out.append(13); out.append(10)
    }
    private static func bulk(_ s: String, _ out: inout [UInt8]) { Array(s.utf8).withUnsafeBytes { bulk($0, &out) } }

    public static func select(_ db: Int, to out: inout [UInt8]) {
        header(2, &out); bulk("SELECT", &out); bulk("\(db)", &out)
    }

    /// The commands that rebuild `e` (a type without a rewrite form writes nothing).
    public static func append(_ e: Entry, to out: inout [UInt8]) {
        let key = e.key
        if !e.isObject {
            header(3, &out); bulk("SET", &out); bulk(key, &out); bulk(e.stringValue, &out)
        } else if let coll = e.object as? StoredCollection {
            let name: String
            switch e.type {
            case .list: name = "RPUSH"
            case .set: name = "SADD"
            case .zset: name = "ZADD"
            case .hash: name = "HMSET"
            default: return
            }
            var items: [[UInt8]] = []
            let pairs = e.type == .zset || e.type == .hash
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            coll.forEachDigestItem { first, second in
                if e.type == .zset {
                    items.append(Array(second ?? empty))
                    items.append(Array(first))
                } else {
                    items.append(Array(first))
                    if pairs { items.append(Array(second ?? empty)) }
                }
            }
            let step = pairs ? itemsPerCommand * 2 : itemsPerCommand
            var i = 0
            while i < items.count {
                let n = min(step, items.count - i)
                header(2 + n, &out); bulk(name, &out); bulk(key, &out)
                for j in i..<(i + n) { items[j].withUnsafeBytes { bulk($0, &out) } }
                i += n
            }
        } else {
            return
        }
        if e.hasExpire {
            header(3, &out); bulk("PEXPIREAT", &out); bulk(key, &out); bulk("\(e.expireAt)", &out)
        }
    }
}
