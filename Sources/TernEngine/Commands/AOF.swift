#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import TernConfig
import TernPersistence
import TernProtocol
import TernStore

/// The append only file, as Redis 7.0's multi-part AOF (see ARCHITECTURE "AOF").
/// One instance lives as long as the engine; `state` says whether it is written.
/// Everything here runs on the engine thread except the fsyncs of everysec (a serial
/// queue) and the file I/O of a rewrite's base.
public final class AppendOnlyFile: PropagationTarget {
    public enum State { case off, on, waitRewrite }
    public internal(set) var state = State.off
    unowned(unsafe) let engine: Engine
    var encoder = PropagationStreamEncoder()
    /// Propagated bytes not yet written (Redis's aof_buf).
    let buf = StreamBuffer()
    var fd: Int32 = -1
    var manifest = AOFManifest()
    /// aof_current_size / aof_base_size as Redis keeps them.
    var currentSize = 0
    var baseSize = 0
    /// Bytes of the current incr file already fsynced (everysec knows whether to fsync).
    var writtenSinceFsync = false
    var lastFsyncMs: Int64 = 0
    var lastTimestamp = 0
    var lastWriteOK = true
    /// Writes are refused with MISCONF: the last write failed, or a background fsync did
    /// (aof_last_write_status; Redis's writeCommandsDeniedByDiskError for the AOF).
    var writesRefused: Bool { !lastWriteOK || fsyncStatus.errno != 0 }
    var lastWriteErrno: Int32 = 0
    /// Unix seconds of the last write error logged (Redis logs one per 30 s).
    var lastWriteErrorLogSec = 0
    /// everysec's fsync thread.
    let fsyncQueue = DispatchQueue(label: "tern.aof-fsync")
    let pending = PendingCounter()
    /// The background fsync's outcome (Redis's aof_bio_fsync_status / _errno): a failed one
    /// refuses writes with MISCONF until an fsync succeeds again.
    let fsyncStatus = BackgroundFsyncStatus()
    /// Whether the engine has logged the current background fsync failure.
    var fsyncFailureLogged = false
    /// everysec with an fsync still running: the write is postponed up to 2 s from here
    /// (unix seconds, 0 when nothing is postponed; Redis's aof_flush_postponed_start).
    var flushPostponedSince = 0
    /// Writes done without waiting for a slow background fsync (aof_delayed_fsync).
    var delayedFsyncs = 0

    // Rewrite state.
    var rewrite: Rewrite?
    var rewriteScheduled = false
    var lastRewriteSeconds = -1
    var rewriteStartMs: Int64 = 0
    var lastBgrewriteOK = true
    var rewrites = 0
    var consecutiveFailures = 0
    var lastFailedRewriteMs: Int64 = 0

    init(engine: Engine) { self.engine = engine }

    var dir: String { engine.config.appenddirname }
    var fileName: String { engine.config.appendfilename }
    func path(_ name: String) -> String { dir + "/" + name }

    /// A base being written: an RDB snapshot, or an AOF-format image handed to a writer.
    final class Rewrite {
        let tempName: String
        var snapshot: RDBSnapshot?
        let box = OutcomeBox()
        init(tempName: String) { self.tempName = tempName }
        var outcome: RDBFileSink.Outcome? {
            if let s = snapshot { return s.result }
            return box.get()
        }
    }

    final class OutcomeBox: @unchecked Sendable {
        private var lock = pthread_mutex_t()
        private var value: RDBFileSink.Outcome?
        init() { pthread_mutex_init(&lock, nil) }
        func set(_ v: RDBFileSink.Outcome) { pthread_mutex_lock(&lock); value = v; pthread_mutex_unlock(&lock) }
        func get() -> RDBFileSink.Outcome? { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return value }
    }

    /// Background fsyncs queued or running (read by the engine on every flush: an atomic).
    final class PendingCounter: Sendable {
        private let n = Atomic<Int>(0)
        func add(_ d: Int) { n.add(d, ordering: .sequentiallyConsistent) }
        var value: Int { n.load(ordering: .sequentiallyConsistent) }
    }

    /// Set by the fsync thread, read by the engine (an errno, 0 when the last one succeeded).
    final class BackgroundFsyncStatus: Sendable {
        private let failedErrno = Atomic<Int32>(0)
        func record(_ errno: Int32) { failedErrno.store(errno, ordering: .releasing) }
        var errno: Int32 { failedErrno.load(ordering: .acquiring) }
    }

    /// A fault hook for tests of slow and failing disks (no Redis equivalent: its tests
    /// cannot make a disk slow either). TERN_DEBUG_AOF_FSYNC_FAULT names a file; while it
    /// exists, each background fsync first reads it: `delay <ms>` sleeps that long, `errno
    /// <n>` fails the fsync with that errno. Read once at startup; unset in production.
    static let fsyncFaultFile: String? = {
        guard let v = getenv("TERN_DEBUG_AOF_FSYNC_FAULT") else { return nil }
        return String(cString: v)
    }()

    /// fdatasync as the background fsync runs it (with the test fault hook applied).
    static func backgroundFdatasync(_ fd: Int32) -> Int32 {
        if let path = fsyncFaultFile, let f = fopen(path, "r") {
            var line = [CChar](repeating: 0, count: 64)
            let text = fgets(&line, 64, f) != nil ? String(cString: line) : ""
            fclose(f)
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if words.count == 2, let n = Int32(words[1]) {
                if words[0] == "delay" { usleep(useconds_t(max(0, n)) * 1000) }
                if words[0] == "errno" { return n }
            }
        }
        return fdatasync(fd) == 0 ? 0 : errno
    }

    // MARK: feeding (Redis's feedAppendOnlyFile)

    public func propagate(db: Int, args: Args) {
        guard accepting else { return }
        if engine.config.aofTimestampEnabled { annotateTimestamp() }
        encoder.append(db: db, args: args, to: buf)
    }

    /// The op encoded once for every target (several targets listen).
    public func propagate(db: Int, args: Args, encoded: UnsafeRawBufferPointer) {
        guard accepting else { return }
        if engine.config.aofTimestampEnabled { annotateTimestamp() }
        encoder.append(db: db, encoded: encoded, to: buf)
    }

    /// Writes are buffered: the AOF is on, or being switched on with its rewrite running.
    var accepting: Bool { state == .on || (state == .waitRewrite && rewrite != nil) }

    /// `#TS:<unix seconds>` before the first op of each second (aof-timestamp-enabled).
    func annotateTimestamp() {
        let now = Int(Engine.wallClockMs() / 1000)
        if now > lastTimestamp {
            buf.append(Array("#TS:\(now)\r\n".utf8))
            lastTimestamp = now
        }
    }

    var fsyncPolicy: String { engine.config.appendfsync }

    /// Another background job is running (Redis's hasActiveChildProcess).
    var childActive: Bool { rewrite != nil || engine.snapshot != nil }

    // MARK: writing (Redis's flushAppendOnlyFile)

    /// Writes the buffer to the incr file; with appendfsync always also fsyncs, so the
    /// caller may send replies afterwards. Called before replies leave and from the cron
    /// (`force` false: with everysec a write waits up to 2 s for a running background fsync,
    /// as Redis's, since a write(2) to a file being fsynced can block); everything else
    /// (rewrite start, shutdown, stopping the AOF, DEBUG LOADAOF) forces it.
    func flush(force: Bool = true) {
        guard fd >= 0 else { return }
        if buf.isEmpty {
            backgroundFsyncIfDue()
            return
        }
        if !force && fsyncPolicy == "everysec" && pending.value > 0 {
            let nowSec = Int(Engine.wallClockMs() / 1000)
            if flushPostponedSince == 0 { flushPostponedSince = nowSec; return }
            if nowSec - flushPostponedSince < 2 { return }
            delayedFsyncs += 1
            engine.log(.notice, "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.")
        }
        flushPostponedSince = 0
        let (ok, written) = AOFFiles.writeAll(fd, buf.bytes)
        if !ok {
            let err = errno
            // As Redis: one error line per 30 s at most, however often the retries fail.
            let nowSec = Int(Engine.wallClockMs() / 1000)
            let canLog = nowSec - lastWriteErrorLogSec > 30
            if canLog { lastWriteErrorLogSec = nowSec }
            var kept = written
            if written == 0 {
                if canLog { engine.log(.warning, "Error writing to the AOF file: \(String(cString: strerror(err)))") }
                lastWriteErrno = err
            } else {
                // A short write (the disk filled up mid-buffer) is removed, so the file ends
                // on a command boundary; Redis reports it as ENOSPC whatever write(2) said.
                if canLog { engine.log(.warning, "Short write while writing to the AOF file: (nwritten=\(written), expected=\(buf.count))") }
                if ftruncate(fd, off_t(currentIncrSize)) == 0 {
                    kept = 0
                } else if canLog {
                    engine.log(.warning, "Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: \(String(cString: strerror(errno)))")
                }
                lastWriteErrno = ENOSPC
            }
            if fsyncPolicy == "always" {
                engine.log(.warning, "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...")
                exit(1)
            }
            if kept > 0 {
                currentIncrSize += kept
                currentSize += kept
                buf.removeFirst(kept)
            }
            lastWriteOK = false
            return
        }
        if !lastWriteOK {
            engine.log(.warning, "AOF write error looks solved, Redis can write again.")
            lastWriteOK = true
        }
        currentIncrSize += written
        currentSize += written
        buf.removeAll(keepingCapacity: buf.capacity <= 1 << 20)
        writtenSinceFsync = true
        if engine.config.noAppendfsyncOnRewrite && childActive { return }
        if fsyncPolicy == "always" {
            if fdatasync(fd) != 0 {
                engine.log(.warning, "Can't persist AOF for fsync error when the AOF fsync policy is 'always': \(String(cString: strerror(errno))). Exiting...")
                exit(1)
            }
            writtenSinceFsync = false
            lastFsyncMs = engine.nowMs
        } else {
            backgroundFsyncIfDue()
        }
    }

    var currentIncrSize = 0

    /// everysec: at most one fsync a second, on the fsync queue.
    func backgroundFsyncIfDue() {
        guard fsyncPolicy == "everysec", writtenSinceFsync, fd >= 0 else { return }
        if engine.config.noAppendfsyncOnRewrite && childActive { return }
        let now = Engine.wallClockMs()
        guard now - lastFsyncMs >= 1000, pending.value == 0 else { return }
        lastFsyncMs = now
        writtenSinceFsync = false
        let f = fd
        let counter = pending
        let status = fsyncStatus
        counter.add(1)
        fsyncQueue.async {
            let err = AppendOnlyFile.backgroundFdatasync(f)
            // As Redis's bio: EBADF/EINVAL (a file closed or not fsyncable) are not failures.
            status.record(err == EBADF || err == EINVAL ? 0 : err)
            counter.add(-1)
        }
    }

    /// Logs a background fsync failure once, as Redis's bio thread does on the transition.
    func noteFsyncFailure() {
        let err = fsyncStatus.errno
        if err != 0 && !fsyncFailureLogged {
            engine.log(.warning, "Fail to fsync the AOF file: \(String(cString: strerror(err)))")
        }
        fsyncFailureLogged = err != 0
        // Retried every second until one succeeds (writes are refused meanwhile, so nothing
        // else would schedule one): the server becomes writable again when the disk does.
        if err != 0 && pending.value == 0 { writtenSinceFsync = true }
    }

    /// Closes a file descriptor after any queued fsync of it.
    func closeLater(_ f: Int32) {
        guard f >= 0 else { return }
        fsyncQueue.async { _ = close(f) }
    }

    /// Waits for queued fsyncs (shutdown, stopping the AOF).
    func drainFsyncs() { fsyncQueue.sync {} }

    // MARK: opening files

    func ensureDir() -> Bool {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            engine.log(.warning, "Can't open or create append-only dir \(dir): \(String(cString: strerror(errno)))")
            return false
        }
        return true
    }

    func openForAppend(_ name: String) -> Int32 {
        open(path(name), O_WRONLY | O_APPEND | O_CREAT, 0o644)
    }

    func persistManifest() -> Bool {
        do {
            try AOFManifest.persist(manifest.text, dir: dir, name: AOFManifest.manifestName(fileName))
            return true
        } catch {
            engine.log(.warning, "Can't persist the AOF manifest: \(error)")
            return false
        }
    }

    /// Switches writing to a new incr file (seq+1, or the temp incr file while waiting for
    /// the first rewrite) and records it in the manifest (Redis's openNewIncrAofForAppend).
    func openNewIncr(reason: String) -> Bool {
        flush()
        let name: String
        if state == .waitRewrite {
            name = "temp-\(fileName).incr"
            unlink(path(name))
        } else {
            name = AOFManifest.incrName(fileName, seq: manifest.currentIncrSeq + 1)
        }
        let f = openForAppend(name)
        guard f >= 0 else {
            engine.log(.warning, "Can't open the append-only file \(name): \(String(cString: strerror(errno)))")
            return false
        }
        if state != .waitRewrite {
            var next = manifest
            next.currentIncrSeq += 1
            next.incrs.append(.init(name: name, seq: next.currentIncrSeq, type: .incr))
            let saved = manifest
            manifest = next
            if !persistManifest() {
                manifest = saved
                close(f); unlink(path(name))
                return false
            }
        }
        engine.log(.notice, "Creating AOF incr file \(name) on \(reason)")
        closeLater(fd)
        fd = f
        currentIncrSize = 0
        encoder.selectedDb = -1
        lastTimestamp = 0
        return true
    }
}

extension Engine {
    // MARK: startup

    /// Reads the manifest (`appendonly yes` at startup), after migrating a pre-7.0 single
    /// file: nil when there are files to load, `.noFile` or `.failed` otherwise.
    func readAOFManifestAtStartup() -> LoadOutcome? {
        let a: AppendOnlyFile = aof
        let manifestPath = a.path(AOFManifest.manifestName(a.fileName))
        if !AOFFiles.exists(manifestPath) && AOFFiles.exists(a.fileName) {
            // Redis 7.0's upgrade: the old single file becomes the base, as is.
            guard a.ensureDir() else { return .failed }
            guard rename(a.fileName, a.path(a.fileName)) == 0 else {
                log(.warning, "Error trying to rename the old AOF file \(a.fileName) into dir \(a.dir): \(String(cString: strerror(errno)))")
                return .failed
            }
            var m = AOFManifest()
            m.base = .init(name: a.fileName, seq: 1, type: .base)
            m.currentBaseSeq = 1
            a.manifest = m
            guard a.persistManifest() else { return .failed }
            log(.notice, "Successfully migrated an old-style AOF file (\(a.fileName)) into the AOF directory (\(a.dir)).")
        }
        guard AOFFiles.exists(manifestPath) else { return .noFile }
        guard let text = AOFFiles.read(manifestPath) else {
            log(.warning, "Fatal error: can't open the AOF manifest \(AOFManifest.manifestName(a.fileName)) for reading: \(String(cString: strerror(errno)))")
            return .failed
        }
        do {
            a.manifest = try AOFManifest.parse(String(decoding: text, as: UTF8.self))
        } catch {
            log(.warning, "\(error)")
            return .failed
        }
        return nil
    }

    /// Loads the AOF at startup in slices of loading-process-events-interval-bytes on the
    /// engine loop, as `loadRDBInSlices`: connections get -LOADING meanwhile and INFO's
    /// loading_* fields move (total = the sizes of the manifest's files). `done` runs on the loop.
    func loadAOFInSlices(_ done: @escaping (LoadOutcome) -> Void) {
        if let outcome = readAOFManifestAtStartup() { done(outcome); return }
        let start = Engine.wallClockMs()
        guard let job = openAOFLoad(aof.manifest, bracketLoading: true) else { done(.noFile); return }
        func slice() {
            if let outcome = continueAOFLoad(job, bytes: max(1024, config.loadingProcessEventsIntervalBytes)) {
                if outcome == .loaded {
                    log(.notice, "DB loaded from append only file: " + ReplyBuffer.cFormat("%.3f", Double(Engine.wallClockMs() - start) / 1000) + " seconds")
                }
                done(outcome)
                return
            }
            if let run = scheduleOnLoop { run(1) { slice() } } else { slice() }
        }
        slice()
    }

    /// With appendonly no the manifest is still read (a later BGREWRITEAOF or CONFIG SET
    /// appendonly yes goes on from its sequence numbers, as Redis).
    public func loadAOFManifestQuietly() {
        let a: AppendOnlyFile = aof
        guard let text = AOFFiles.read(a.path(AOFManifest.manifestName(a.fileName))),
              let m = try? AOFManifest.parse(String(decoding: text, as: UTF8.self)) else { return }
        a.manifest = m
    }

    /// Loads the base then every incr file in order (Redis's loadAppendOnlyFiles), to the
    /// end now (DEBUG LOADAOF). Only the last file may be torn (and then only with
    /// aof-load-truncated yes).
    func loadAOFFiles(_ m: AOFManifest) -> LoadOutcome {
        guard let job = openAOFLoad(m, bracketLoading: false) else { return .noFile }
        while true {
            if let outcome = continueAOFLoad(job, bytes: Int.max) { return outcome }
        }
    }

    /// Starts loading the manifest's files (nil when it names none). With `bracketLoading`
    /// (the startup load) loading:1 is set with the total of the files' sizes, as Redis's
    /// startLoading before an AOF load.
    func openAOFLoad(_ m: AOFManifest, bracketLoading: Bool) -> AOFLoadJob? {
        var files: [(AOFManifest.File, Bool)] = []
        if let b = m.base { files.append((b, true)) }
        for f in m.incrs { files.append((f, false)) }
        if files.isEmpty { return nil }
        let job = AOFLoadJob(files: files, bracketLoading: bracketLoading)
        if bracketLoading {
            beginLoading(totalBytes: files.reduce(0) { $0 + AOFFiles.size(aof.path($1.0.name)) })
        }
        return job
    }

    private func failAOFLoad(_ job: AOFLoadJob) -> LoadOutcome {
        job.closeFile(self)
        if job.bracketLoading && loading.active { endLoading(success: false) }
        return .failed
    }

    /// Replays about `bytes` more of the AOF (commands, or records of an RDB preamble);
    /// nil while more remains, the outcome once every file is loaded or one failed.
    func continueAOFLoad(_ job: AOFLoadJob, bytes: Int) -> LoadOutcome? {
        let a: AppendOnlyFile = aof
        var budget = bytes
        while budget > 0 {
            if job.data == nil {
                guard job.index < job.files.count else {
                    a.currentSize = job.total
                    a.baseSize = job.total
                    if job.bracketLoading { endLoading(success: true) }
                    return .loaded
                }
                let (f, isBase) = job.files[job.index]
                let p = a.path(f.name)
                guard let data = AOFFiles.read(p) else {
                    if errno == ENOENT && !isBase { job.index += 1; continue }
                    log(.warning, "Fatal error: can't open the append log file \(f.name) for reading: \(String(cString: strerror(errno)))")
                    return failAOFLoad(job)
                }
                job.data = data
                job.t0 = Engine.wallClockMs()
                job.client = createFakeClient()
                if data.count >= 5 && data[0..<5].elementsEqual("REDIS".utf8) {
                    log(.notice, "Reading RDB base file on AOF loading...")
                    do {
                        let loader = try RDBFile.Loader(data, limits: EncodingLimits(config), verifyChecksum: config.rdbchecksum)
                        job.rdb = RDBLoadJob(loader: loader, merge: false, startMs: job.t0,
                                             skipExpired: false, isFileLoad: false)
                    } catch {
                        reportLoadFailure(error)
                        return failAOFLoad(job)
                    }
                } else {
                    job.reader = AOFCommandReader(data, start: 0)
                    job.validBeforeMulti = 0
                }
            }
            let data = job.data!
            if let rj = job.rdb {
                let before = rj.loader.position
                let r = continueRDBLoad(rj, bytes: budget)
                budget -= max(1, rj.loader.position - before)
                loadingProgress(bytes: job.doneBytes + rj.loader.position)
                switch r {
                case nil: continue
                case .loaded?:
                    let end = rj.loader.summary.end
                    job.rdb = nil
                    job.reader = AOFCommandReader(data, start: end)
                    job.validBeforeMulti = end
                default:
                    return failAOFLoad(job)
                }
            }
            let (f, isBase) = job.files[job.index]
            let before = job.reader!.pos
            guard let finished = replayAOFCommands(job, name: f.name, budget: budget) else { return failAOFLoad(job) }
            budget -= max(1, job.reader!.pos - before)
            loadingProgress(bytes: job.doneBytes + job.reader!.pos)
            guard finished else { continue }
            let p = a.path(f.name)
            switch finishAOFFile(job, name: f.name, path: p, last: job.index == job.files.count - 1) {
            case .failed: return failAOFLoad(job)
            case .ok(let size): job.total += size
            }
            log(.notice, "DB loaded from \(isBase ? "base" : "incr") file \(f.name): " + ReplyBuffer.cFormat("%.3f", Double(Engine.wallClockMs() - job.t0) / 1000) + " seconds")
            job.doneBytes += data.count
            job.closeFile(self)
            job.index += 1
        }
        return nil
    }

    enum ReplayOutcome { case ok(size: Int), failed }

    /// Executes AOF commands of the current file through its fake client (Redis's AOF
    /// client), about `budget` bytes of them: MULTI/EXEC honoured (a transaction may span
    /// slices). True at the end of the file (or a torn tail, noted in `job.tornAt`), false
    /// when more remains, nil after logging a bad file.
    func replayAOFCommands(_ job: AOFLoadJob, name: String, budget: Int) -> Bool? {
        let savedTargets = propagationTargets
        propagationTargets = []
        aofLoading = true
        defer {
            aofLoading = false
            propagationTargets = savedTargets
            pendingPropagation.removeAll()
        }
        let c = job.client!
        let startPos = job.reader!.pos
        loop: while job.reader!.pos - startPos < budget {
            let at = job.reader!.pos
            switch job.reader!.next() {
            case .end:
                return true
            case .annotation:
                continue
            case .truncated(let off):
                job.tornAt = off
                return true
            case .bad:
                log(.warning, "Bad file format reading the append only file \(name): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
                return nil
            case .command(let argv):
                let ok: Bool = Args.with(argv) { args in
                    guard let top = commands.lookup(args[0]) else { return false }
                    var cmd = top
                    if top.hasSubcommands && args.count >= 2, let sub = top.subcommands[args.lowercased(1)] { cmd = sub }
                    if !c.flags.contains(.multi) && cmd.name == "multi" { job.validBeforeMulti = at }
                    nowMs = Engine.wallClockMs()
                    if c.flags.contains(.multi) && !cmd.runsImmediatelyInMulti {
                        transactions.queue(c, cmd, args)
                    } else {
                        // Straight to the handler, as Redis's loader calls cmd->proc: the
                        // replay is not counted in commandstats (EXEC's queued commands are,
                        // through EXEC's own calls, as in Redis).
                        c.currentCommand = cmd
                        cmd.handler(c, args)
                        c.propagateAs = nil
                    }
                    c.out.removeAll()
                    return true
                }
                if !ok {
                    log(.warning, "Unknown command '\(String(decoding: argv[0], as: UTF8.self))' reading the append only file \(name)")
                    return nil
                }
            }
        }
        return false
    }

    /// The end of one file: a transaction left open (at the end, or torn inside) is cut at
    /// its MULTI, a torn tail trimmed with aof-load-truncated yes (last file only).
    func finishAOFFile(_ job: AOFLoadJob, name: String, path: String, last: Bool) -> ReplayOutcome {
        let data = job.data!
        var tornAt = job.tornAt
        // A transaction left open (at the end, or torn inside) is cut at its MULTI: what
        // gets appended later must not land inside it.
        if job.client!.flags.contains(.multi) {
            log(.warning, "Revert incomplete MULTI/EXEC transaction in AOF file \(name)")
            tornAt = job.validBeforeMulti
        }
        guard let cut = tornAt else { return .ok(size: data.count) }
        if config.aofLoadTruncated {
            log(.warning, "!!! Warning: short read while loading the AOF file \(name)!!!")
            guard last else {
                log(.warning, "Fatal error: the truncated file is not the last file")
                return .failed
            }
            log(.warning, "!!! Truncating the AOF \(name) at offset \(cut) !!!")
            if truncate(path, off_t(cut)) != 0 {
                log(.warning, "Error truncating the AOF file \(name): \(String(cString: strerror(errno)))")
                return .failed
            }
            log(.warning, "AOF \(name) loaded anyway because aof-load-truncated is enabled")
            return .ok(size: cut)
        }
        log(.warning, "Unexpected end of file reading the append only file \(name). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")
        return .failed
    }

    /// After the startup load with `appendonly yes`: open the last incr file, or create the
    /// base (when there was no AOF) and a first incr file (Redis's
    /// aofOpenIfNeededOnServerStart). False when the files cannot be made.
    public func openAOFOnServerStart() -> Bool {
        let a: AppendOnlyFile = aof
        guard config.appendonly else { return true }
        guard a.ensureDir() else { return false }
        if a.manifest.base == nil && a.manifest.incrs.isEmpty {
            let name = AOFManifest.baseName(a.fileName, seq: 1, rdb: config.aofUseRdbPreamble)
            log(.notice, "Creating AOF base file \(name) on server start")
            do {
                try RDBFile.writeAtomically(aofBaseImage(), path: a.path(name), tempName: "temp-rewriteaof-\(getpid()).aof")
            } catch {
                log(.warning, "\(error)")
                return false
            }
            a.manifest.base = .init(name: name, seq: 1, type: .base)
            a.manifest.currentBaseSeq = 1
        }
        if let lastIncr = a.manifest.incrs.last {
            let f = a.openForAppend(lastIncr.name)
            guard f >= 0 else {
                log(.warning, "Can't open the append-only file \(lastIncr.name): \(String(cString: strerror(errno)))")
                return false
            }
            log(.notice, "Opening AOF incr file \(lastIncr.name) on server start")
            a.fd = f
            a.currentIncrSize = AOFFiles.size(a.path(lastIncr.name))
        } else {
            a.state = .on
            guard a.openNewIncr(reason: "server start") else { return false }
        }
        a.state = .on
        a.encoder.selectedDb = -1
        a.lastFsyncMs = Engine.wallClockMs()
        attachAOF()
        return true
    }

    func attachAOF() {
        if !propagationTargets.contains(where: { $0 === aof }) { propagationTargets.append(aof) }
    }

    func detachAOF() {
        propagationTargets.removeAll { $0 === aof }
    }

    // MARK: before replies, cron

    /// Redis's beforeSleep order: the AOF is written (and with always, fsynced) before any
    /// reply leaves. One load and compare when nothing is pending.
    @inline(__always) public func flushAOFBeforeReplies() {
        if !aof.buf.isEmpty { aof.flush(force: false) }
    }

    /// Propagated bytes wait: reply flushes of this loop iteration are deferred behind one
    /// AOF write (and with appendfsync always one fsync), as Redis writes the AOF once per
    /// loop iteration in beforeSleep whatever the policy: 50 clients at -P 1 cost one
    /// write(2) per iteration instead of one per client.
    public var aofGroupCommitPending: Bool {
        !aof.buf.isEmpty
    }

    /// Cron part of the AOF: write/fsync what is due, collect a finished rewrite, start a
    /// scheduled or automatic one.
    func aofCron() {
        let a: AppendOnlyFile = aof
        if a.fd >= 0 { a.noteFsyncFailure() }
        if a.state != .off { a.flush(force: false) }
        collectRewrite()
        guard a.rewrite == nil, snapshot == nil else { return }
        if a.rewriteScheduled {
            // Redis retries a failed rewrite only after a while.
            if a.consecutiveFailures == 0 || Engine.wallClockMs() - a.lastFailedRewriteMs > 60_000 {
                startRewrite()
            }
            return
        }
        if a.state == .on && config.autoAofRewritePercentage > 0 && a.currentSize > config.autoAofRewriteMinSize {
            let base = a.baseSize > 0 ? a.baseSize : 1
            let growth = a.currentSize * 100 / base - 100
            if growth >= config.autoAofRewritePercentage {
                log(.notice, "Starting automatic rewriting of AOF on \(growth)% growth")
                startRewrite()
            }
        }
    }

    // MARK: rewrite

    /// Starts a background rewrite (Redis's rewriteAppendOnlyFileBackground): writes from
    /// now on go to a new incr file, the base is a point-in-time image of the dataset.
    @discardableResult
    func startRewrite() -> Bool {
        let a: AppendOnlyFile = aof
        guard a.rewrite == nil, snapshot == nil else { return false }
        a.rewriteScheduled = false
        guard a.ensureDir() else { return false }
        if a.state != .off {
            guard a.openNewIncr(reason: "background rewrite") else {
                a.lastBgrewriteOK = false
                a.consecutiveFailures += 1
                a.lastFailedRewriteMs = Engine.wallClockMs()
                return false
            }
        }
        a.rewriteStartMs = Engine.wallClockMs()
        let temp = "temp-rewriteaof-bg-\(getpid()).aof"
        let job = AppendOnlyFile.Rewrite(tempName: temp)
        // The base is walked in paced steps like BGSAVE's (`scheduleSnapshotStep`): the
        // epoch taken here makes it exactly the dataset now, while writes go on to the new
        // incr file.
        let tmp = "temp-rewriteaof-\(getpid()).aof"
        let fsyncEvery4MB = config.aofRewriteIncrementalFsync
        if config.aofUseRdbPreamble {
            var aux = RDBFile.Aux(ctime: Int(Engine.wallClockMs() / 1000), usedMemory: MemoryOverview(self).used)
            aux.aofBase = true
            let snap = RDBSnapshot(databases: databases, aux: aux, compression: config.rdbcompression,
                                   checksum: config.rdbchecksum, path: temp, tempName: tmp,
                                   incrementalFsync: fsyncEvery4MB, accessField: snapshotAccessField())
            walkOnWriter(snap)
            job.snapshot = snap
        } else {
            let snap = RDBSnapshot(aofCommandsOf: databases, path: temp, tempName: tmp,
                                   incrementalFsync: fsyncEvery4MB,
                                   timestamp: config.aofTimestampEnabled ? Int(Engine.wallClockMs() / 1000) : nil)
            walkOnWriter(snap)
            job.snapshot = snap
        }
        a.rewrite = job
        log(.notice, "Background append only file rewriting started by pid \(getpid())")
        scheduleSnapshotStep()
        return true
    }

    /// The cron's check for a finished rewrite (Redis's backgroundRewriteDoneHandler).
    func collectRewrite() {
        let a: AppendOnlyFile = aof
        guard let job = a.rewrite, let outcome = job.outcome else { return }
        a.rewrite = nil
        a.lastRewriteSeconds = Int((Engine.wallClockMs() - a.rewriteStartMs) / 1000)
        func fail(_ why: String?) {
            if let why { log(.warning, why) }
            unlink(job.tempName)
            if a.state == .waitRewrite {
                unlink(a.path("temp-\(a.fileName).incr"))
                a.closeLater(a.fd)
                a.fd = -1
            }
            a.lastBgrewriteOK = false
            a.consecutiveFailures += 1
            a.lastFailedRewriteMs = Engine.wallClockMs()
            if a.state == .waitRewrite { a.rewriteScheduled = true }
        }
        if case .failed(let why) = outcome {
            fail(why)
            log(.warning, "Background AOF rewrite terminated with error")
            return
        }
        log(.notice, "Background AOF rewrite terminated with success")
        a.flush()
        var next = a.manifest
        let baseName = AOFManifest.baseName(a.fileName, seq: next.currentBaseSeq + 1, rdb: config.aofUseRdbPreamble)
        if rename(job.tempName, a.path(baseName)) != 0 {
            fail("Error trying to rename the temporary AOF base file \(job.tempName) into \(baseName): \(String(cString: strerror(errno)))")
            return
        }
        log(.notice, "Successfully renamed the temporary AOF base file \(job.tempName) into \(baseName)")
        if let old = next.base { next.history.append(.init(name: old.name, seq: old.seq, type: .history)) }
        next.currentBaseSeq += 1
        next.base = .init(name: baseName, seq: next.currentBaseSeq, type: .base)
        if a.state == .waitRewrite {
            let tempIncr = "temp-\(a.fileName).incr"
            let incrName = AOFManifest.incrName(a.fileName, seq: next.currentIncrSeq + 1)
            if rename(a.path(tempIncr), a.path(incrName)) != 0 {
                fail("Error trying to rename the temporary AOF incr file \(tempIncr) into \(incrName): \(String(cString: strerror(errno)))")
                return
            }
            log(.notice, "Successfully renamed the temporary AOF incr file \(tempIncr) into \(incrName)")
            for f in next.incrs { next.history.insert(.init(name: f.name, seq: f.seq, type: .history), at: 0) }
            next.currentIncrSeq += 1
            next.incrs = [.init(name: incrName, seq: next.currentIncrSeq, type: .incr)]
        } else {
            // Every incr file but the one opened at the rewrite's start is in the new base
            // (all of them when the AOF is off).
            let keep = a.state == .on ? next.incrs.last : nil
            let old = a.state == .on ? Array(next.incrs.dropLast()) : next.incrs
            for f in old { next.history.insert(.init(name: f.name, seq: f.seq, type: .history), at: 0) }
            next.incrs = keep.map { [$0] } ?? []
        }
        let saved = a.manifest
        a.manifest = next
        AOFFiles.fsyncDir(a.dir)
        guard a.persistManifest() else {
            a.manifest = saved
            unlink(a.path(baseName))
            a.lastBgrewriteOK = false
            a.consecutiveFailures += 1
            return
        }
        if a.state == .waitRewrite { a.state = .on; attachAOF() }
        // History files go now (Redis removes them in the background).
        let history = a.manifest.history
        a.manifest.history = []
        for f in history {
            log(.notice, "Removing the history file \(f.name) in the background")
            unlink(a.path(f.name))
        }
        if !history.isEmpty { _ = a.persistManifest() }
        a.currentSize = AOFFiles.size(a.path(baseName)) + a.currentIncrSize
        a.baseSize = a.currentSize
        a.lastBgrewriteOK = true
        a.rewrites += 1
        a.consecutiveFailures = 0
        log(.notice, "Background AOF rewrite finished successfully")
    }

    /// A base in AOF format: commands that rebuild every key (Redis's rewriteAppendOnlyFileRio:
    /// SET, RPUSH, SADD, ZADD, HMSET in batches of 64 items, then PEXPIREAT).
    func aofBaseImage() -> [UInt8] {
        if config.aofUseRdbPreamble {
            var aux = RDBFile.Aux(ctime: Int(Engine.wallClockMs() / 1000), usedMemory: MemoryOverview(self).used)
            aux.aofBase = true
            return RDBFile.serialize(databases, aux: aux, compression: config.rdbcompression, checksum: config.rdbchecksum)
        }
        var out: [UInt8] = []
        if config.aofTimestampEnabled { out.append(contentsOf: Array("#TS:\(Engine.wallClockMs() / 1000)\r\n".utf8)) }
        for db in databases where db.count > 0 {
            AOFRewriteCommands.select(db.id, to: &out)
            db.table.forEach { e in AOFRewriteCommands.append(e, to: &out) }
        }
        return out
    }

    // MARK: turning on and off (CONFIG SET appendonly)

    /// CONFIG SET appendonly yes (Redis's startAppendOnly): a rewrite makes the first base;
    /// writes go to a temp incr file until it finishes, then the AOF is on.
    func startAppendOnly() -> String? {
        let a: AppendOnlyFile = aof
        guard a.state == .off else { return nil }
        a.state = .waitRewrite
        if snapshot != nil {
            a.rewriteScheduled = true
            log(.warning, "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.")
        } else if !startRewrite() {
            a.state = .off
            log(.warning, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.")
            return "Unable to turn on AOF. Check server logs."
        }
        attachAOF()
        return nil
    }

    /// CONFIG SET appendonly no (Redis's stopAppendOnly).
    func stopAppendOnly() {
        let a: AppendOnlyFile = aof
        guard a.state != .off else { return }
        a.flush()
        if a.fd >= 0 { _ = fdatasync(a.fd) }
        a.closeLater(a.fd)
        a.fd = -1
        a.drainFsyncs()
        if let job = a.rewrite {
            // The running rewrite's result will be dropped when it finishes.
            _ = job
            log(.notice, "Killing running AOF rewrite child: \(getpid())")
        }
        a.rewriteScheduled = false
        a.state = .off
        a.buf.removeAll(keepingCapacity: false)
        detachAOF()
    }

    /// Before exiting: the buffer written and fsynced (Redis's prepareForShutdown).
    public func flushAOFForShutdown() {
        let a: AppendOnlyFile = aof
        guard a.state == .on, a.fd >= 0 else { return }
        log(.notice, "Calling fsync() on the AOF file.")
        a.flush()
        _ = fdatasync(a.fd)
        a.drainFsyncs()
    }

    // MARK: INFO

    func aofInfoFields() -> [(String, String)] {
        let a: AppendOnlyFile = aof
        var out: [(String, String)] = [
            ("aof_enabled", a.state != .off ? "1" : "0"),
            ("aof_rewrite_in_progress", a.rewrite != nil ? "1" : "0"),
            ("aof_rewrite_scheduled", a.rewriteScheduled ? "1" : "0"),
            ("aof_last_rewrite_time_sec", "\(a.lastRewriteSeconds)"),
            ("aof_current_rewrite_time_sec", a.rewrite != nil ? "\((Engine.wallClockMs() - a.rewriteStartMs) / 1000)" : "-1"),
            ("aof_last_bgrewrite_status", a.lastBgrewriteOK ? "ok" : "err"),
            ("aof_rewrites", "\(a.rewrites)"),
            ("aof_rewrites_consecutive_failures", "\(a.consecutiveFailures)"),
            ("aof_last_write_status", a.writesRefused ? "err" : "ok"),
            ("aof_last_cow_size", "0"),
            ("module_fork_in_progress", "0"),
            ("module_fork_last_cow_size", "0"),
        ]
        if a.state != .off {
            out += [
                ("aof_current_size", "\(a.currentSize)"),
                ("aof_base_size", "\(a.baseSize)"),
                ("aof_pending_rewrite", a.rewriteScheduled ? "1" : "0"),
                ("aof_buffer_length", "\(a.buf.count)"),
                ("aof_pending_bio_fsync", "\(a.pending.value)"),
                ("aof_delayed_fsync", "\(a.delayedFsyncs)"),
            ]
        }
        return out
    }

    /// MISCONF for writes after a failed AOF write or background fsync (Redis's
    /// writeCommandsDeniedByDiskError; a failed fsync's errno is reported as the write's).
    var aofWriteRefusal: String? {
        let a: AppendOnlyFile = aof
        guard a.state != .off, a.writesRefused else { return nil }
        let err = a.lastWriteOK ? a.fsyncStatus.errno : a.lastWriteErrno
        return "MISCONF Errors writing to the AOF file: \(String(cString: strerror(err)))"
    }
}

enum AOFCommands {
    /// BGREWRITEAOF: started now, or scheduled while a BGSAVE runs.
    static func bgrewriteaof(_ c: Client, _ a: Args) {
        let engine = c.engine
        if engine.aof.rewrite != nil {
            c.error("ERR Background append only file rewriting already in progress")
            return
        }
        if engine.snapshot != nil {
            engine.aof.rewriteScheduled = true
            c.out.simple("Background append only file rewriting scheduled")
            return
        }
        if engine.startRewrite() {
            c.out.simple("Background append only file rewriting started")
        } else {
            c.error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
        }
    }

    /// DEBUG LOADAOF: the buffer flushed, the dataset emptied and reloaded from the AOF.
    static func debugLoadAOF(_ c: Client) {
        let engine = c.engine
        let a: AppendOnlyFile = engine.aof
        // Never over a startup load in progress (DEBUG is flagged `loading`).
        if engine.loading.active { c.error("ERR Error loading the AOF file: check the server logs"); return }
        if a.state == .on { a.flush() }
        engine.emptyData(nil, async: false)
        let outcome = engine.loadAOFFiles(a.manifest)
        if outcome == .failed {
            c.error("ERR Error loading the AOF file: check the server logs")
            return
        }
        engine.dirty = 0
        engine.log(.warning, "Append Only File loaded by DEBUG LOADAOF")
        c.out.ok()
    }
}

/// An AOF being loaded file by file, in slices at startup (Redis's loadAppendOnlyFiles with
/// processEventsWhileBlocked): the current file's bytes, its RDB preamble loader or command
/// reader, and the fake client that executes the commands.
final class AOFLoadJob {
    let files: [(AOFManifest.File, Bool)]
    let bracketLoading: Bool
    var index = 0
    /// Accepted bytes of the loaded files (aof_current_size).
    var total = 0
    /// Sizes of the files already loaded (loading_loaded_bytes goes on from there).
    var doneBytes = 0
    var data: [UInt8]?
    var t0: Int64 = 0
    var rdb: RDBLoadJob?
    var reader: AOFCommandReader?
    var client: Client?
    var validBeforeMulti = 0
    var tornAt: Int?

    init(files: [(AOFManifest.File, Bool)], bracketLoading: Bool) {
        self.files = files
        self.bracketLoading = bracketLoading
    }

    func closeFile(_ engine: Engine) {
        if let c = client { engine.transactions.freeState(c) }
        client = nil
        data = nil
        rdb = nil
        reader = nil
        tornAt = nil
        validBeforeMulti = 0
    }
}
