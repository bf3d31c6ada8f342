import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// maxmemory (Redis's evict.c, same semantics, Tern's own code).
//
// `performEvictions` runs before a command when maxmemory is set and used memory is over it
// (dispatch), and from the eviction task (started when the time limit is hit, or by CONFIG
// SET maxmemory). While used memory (minus what is not counted for eviction) is above
// maxmemory it deletes keys chosen by maxmemory-policy:
// - *-lru / *-lfu / volatile-ttl: an eviction pool of 16 candidates kept across calls,
//   ordered by a score (idle time, 255 - LFU counter, or "expires soonest"), refilled with
//   maxmemory-samples keys sampled from every db; the best candidate that still exists goes.
// - *-random: one random key, visiting the dbs in turn.
// Each key is deleted the way an eviction is in Redis: DEL (UNLINK under
// lazyfree-lazy-eviction) as a propagation unit of its own, the `evicted` event, WATCH and
// tracking told (signalModifiedKey), evicted_keys counted.
// After maxmemory-eviction-tenacity's time limit the loop stops and a loop task carries on
// (evictionTimeProc), so a large deficit is paid in slices between client batches.

/// What one `performEvictions` found (Redis's EVICT_OK / EVICT_RUNNING / EVICT_FAIL).
enum EvictionResult {
    /// Under the limit (or eviction is not allowed right now).
    case ok
    /// Still over the limit, but the eviction task keeps going.
    case running
    /// Over the limit and nothing (more) can be evicted: denyoom commands are refused.
    case fail
}

/// maxmemory-policy, parsed once when it changes (the loop runs for every eviction).
struct EvictionPolicy {
    var evicts = false
    var allKeys = false
    var random = false
    var lfu = false
    var ttl = false

    init(_ name: String) {
        evicts = name != "noeviction"
        allKeys = name.hasPrefix("allkeys-")
        random = name.hasSuffix("-random")
        lfu = name.hasSuffix("-lfu")
        ttl = name == "volatile-ttl"
    }
}

/// A key copy in the pool: malloc'd bytes reused from one candidate to the next.
struct EvictionKeyBuffer {
    var bytes: UnsafeMutableRawPointer
    var capacity: Int
    var length = 0
    var key: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: length) }
}

/// One candidate of the eviction pool: its score ("idle": higher is a better victim), its db
/// and which key buffer holds a copy of its key. Trivial, so shifting the pool moves bytes
/// only (Redis memmoves its pool too).
struct EvictionCandidate {
    var idle: UInt64 = 0
    var db: Int32 = 0
    var buffer: Int32 = 0
}

/// Redis uses random() for sampling; a splitmix64 stream seeded once keeps the system
/// generator (a getrandom call each time) off the path that runs for every eviction.
struct EvictionRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Server-wide eviction state (Redis's EvictionPoolLRU, next_db, isEvictionProcRunning).
final class EvictionState {
    /// Redis's EVPOOL_SIZE.
    static let poolSize = 16
    /// Slots 0..<count are candidates sorted by ascending score; slots count..<16 hold the
    /// spare buffer indices.
    let pool: UnsafeMutablePointer<EvictionCandidate>
    var count = 0
    /// Key copies, one per slot; they keep their capacity, so a warm pool allocates nothing.
    let keys: UnsafeMutablePointer<EvictionKeyBuffer>
    /// The current maxmemory-policy (kept in step by the engine).
    var policy = EvictionPolicy("noeviction")
    /// The evicted key's name while it is deleted (the entry holding it is freed first).
    var victimKey: [UInt8] = []
    var rng: EvictionRandom
    /// The db the next *-random eviction starts from.
    var nextDb = 0
    /// The eviction task is scheduled on the engine loop.
    var timerRunning = false
    /// LazyFree's freed-object count when memory was last refreshed for eviction.
    var lazyFreedSeen = 0

    init() {
        let n = EvictionState.poolSize
        pool = .allocate(capacity: n)
        for i in 0..<n { (pool + i).initialize(to: EvictionCandidate(idle: 0, db: 0, buffer: Int32(i))) }
        keys = .allocate(capacity: n)
        for i in 0..<n {
            (keys + i).initialize(to: EvictionKeyBuffer(bytes: .allocate(byteCount: 64, alignment: 8), capacity: 64))
        }
        victimKey.reserveCapacity(64)
        var seed = SystemRandomNumberGenerator()
        rng = EvictionRandom(state: seed.next())
    }

    deinit {
        for i in 0..<EvictionState.poolSize { keys[i].bytes.deallocate() }
        keys.deallocate()
        pool.deallocate()
    }

    /// Inserts a sampled key by score (evictionPoolPopulate's insertion): ignored when the
    /// pool is full and the key is worse than all; otherwise the worst candidate makes room.
    func insert(idle: UInt64, db: Int, key: UnsafeRawBufferPointer) {
        var k = 0
        while k < count && pool[k].idle < idle { k += 1 }
        let n = EvictionState.poolSize
        if k == 0 && count == n { return }
        let buffer: Int32
        if count < n {
            // Shift [k, count) right by one; the spare buffer at `count` goes to k.
            buffer = pool[count].buffer
            if count > k { (pool + k + 1).update(from: pool + k, count: count - k) }
            count += 1
        } else {
            // Full: drop the worst (slot 0), shifting [1, k) left; its buffer goes to k - 1.
            k -= 1
            buffer = pool[0].buffer
            if k > 0 { pool.update(from: pool + 1, count: k) }
        }
        pool[k] = EvictionCandidate(idle: idle, db: Int32(truncatingIfNeeded: db), buffer: buffer)
        let b = keys + Int(buffer)
        if key.count > b.pointee.capacity {
            b.pointee.bytes.deallocate()
            b.pointee.capacity = max(key.count, b.pointee.capacity * 2)
            b.pointee.bytes = .allocate(byteCount: b.pointee.capacity, alignment: 8)
        }
        if let src = key.baseAddress { b.pointee.bytes.copyMemory(from: src, byteCount: key.count) }
        b.pointee.length = key.count
    }

    /// The key of slot `i`.
    func key(_ i: Int) -> UnsafeRawBufferPointer { keys[Int(pool[i].buffer)].key }
}

extension Engine {
    // MARK: memory state

    /// Memory not counted for eviction (Redis's freeMemoryGetNotCountedMemory): replica
    /// output buffers and the AOF buffer. Neither exists yet; replication and AOF add their
    /// sizes here, or eviction would delete keys to pay for the very buffers that carry
    /// the DELs.
    func memoryNotCountedForEviction() -> Int { 0 }

    /// Bytes to free to get under maxmemory, or 0 when under (Redis's getMaxmemoryState).
    /// The cheap running figure first; a refresh only when over and the lazy-free thread
    /// has freed something since the last one (those frees are not in the running figure).
    func memoryToFree() -> Int {
        let limit = config.maxmemory
        let memory = infoState.memory
        var used = memory.used
        if used <= limit { return 0 }
        if !memory.isJemalloc {
            used = memory.usedPrecise
        } else {
            let freed = LazyFree.shared.freedObjects
            if freed != eviction.lazyFreedSeen {
                eviction.lazyFreedSeen = freed
                used = memory.refresh()
            }
        }
        used -= memoryNotCountedForEviction()
        return used > limit ? used - limit : 0
    }

    /// Redis's evictionTimeLimitUs: 0-500 µs linearly up to tenacity 10, then +15% a step,
    /// unlimited at 100.
    func evictionTimeLimitMicros() -> Int64 {
        let t = config.maxmemoryEvictionTenacity
        if t <= 10 { return Int64(50 * max(0, t)) }
        if t < 100 {
            return Int64(500.0 * pow(1.15, Double(t - 10)))
        }
        return Int64.max
    }

    /// Eviction must not change the dataset now (Redis's isSafeToPerformEvictions): a
    /// replica following its master with replica-ignore-maxmemory, or clients paused.
    /// (Loading and scripts that exceeded their time limit join here when they exist.)
    var evictionsAllowed: Bool {
        if isReplicaOfMaster && config.replicaIgnoreMaxmemory { return false }
        if isPausedForWrites { return false }
        return true
    }

    // MARK: performEvictions

    /// Frees memory by evicting keys until used memory is under maxmemory or the time limit
    /// is reached (then the eviction task continues). `.fail` means denyoom commands must be
    /// refused. Callers check `config.maxmemory != 0` first.
    @discardableResult
    func performEvictions() -> EvictionResult {
        guard evictionsAllowed else { return .ok }
        var toFree = memoryToFree()
        if toFree == 0 { return noteEvictionResult(.ok) }
        let policy = eviction.policy
        if !policy.evicts { return noteEvictionResult(.fail) }

        let limitMicros = evictionTimeLimitMicros()
        let start = Engine.monotonicMicros()
        // Evictions met inside a transaction's unit (CONFIG SET maxmemory within EXEC) join
        // it; otherwise each DEL is a unit of its own, as Redis sends them.
        let flushEach = pendingPropagation.isEmpty
        let allKeys = policy.allKeys
        let random = policy.random
        let memory = infoState.memory
        var freed = 0
        var keysFreed = 0
        var result = EvictionResult.ok
        while freed < toFree {
            guard let victim = random ? randomVictim(allKeys: allKeys) : poolVictim(policy) else {
                result = .fail
                break
            }
            let before = memory.used
            deleteEvicted(victim.db, victim.entry, flushEach: flushEach)
            // Only what the delete itself released counts: the DEL's propagation, the
            // event and the invalidations are paid back when their buffers drain.
            freed += before - memory.used
            keysFreed += 1
            if keysFreed % 16 == 0 {
                // Lazy frees happen on another thread and glibc has no running figure:
                // look at the real state now and then.
                if config.lazyfreeLazyEviction || !memory.isJemalloc {
                    toFree = memoryToFree()
                    if toFree == 0 { break }
                    freed = 0
                }
                if Engine.monotonicMicros() - start > limitMicros {
                    startEvictionTimer()
                    break
                }
            }
        }
        if result == .ok && eviction.timerRunning { result = .running }
        if result == .fail && LazyFree.shared.pendingObjects > 0 {
            // Out of candidates while the lazy-free thread still works: give it a moment
            // (Redis sleeps the time limit; capped so tenacity 100 cannot stall the loop).
            usleep(useconds_t(min(limitMicros, 10_000)))
            if memoryToFree() == 0 { result = .ok }
        }
        return noteEvictionResult(result)
    }

    /// Keeps total/current_eviction_exceeded_time (INFO stats) as Redis's update_metrics.
    func noteEvictionResult(_ r: EvictionResult) -> EvictionResult {
        switch r {
        case .running, .fail:
            if stats.evictionExceededSinceMicros == 0 { stats.evictionExceededSinceMicros = Engine.monotonicMicros() }
        case .ok:
            if stats.evictionExceededSinceMicros != 0 {
                stats.evictionExceededTotalMicros += Engine.monotonicMicros() - stats.evictionExceededSinceMicros
                stats.evictionExceededSinceMicros = 0
            }
        }
        return r
    }

    /// Redis's startEvictionTimeProc / evictionTimeProc: a loop task that evicts another
    /// slice each turn of the event loop while the result is `.running`, so clients are
    /// served between slices. Without a loop (unit tests) the next command carries on.
    func startEvictionTimer() {
        guard !eviction.timerRunning, let schedule = scheduleOnLoop else { return }
        eviction.timerRunning = true
        schedule(0) { [unowned(unsafe) self] in self.evictionTimerTick() }
    }

    func evictionTimerTick() {
        nowMs = Engine.wallClockMs()
        if config.maxmemory != 0 && performEvictions() == .running, let schedule = scheduleOnLoop {
            schedule(0) { [unowned(unsafe) self] in self.evictionTimerTick() }
        } else {
            eviction.timerRunning = false
        }
    }

    // MARK: choosing a victim

    /// The best pool candidate that still exists (and still has a TTL under volatile-*),
    /// refilling the pool from every db while it holds only ghosts.
    func poolVictim(_ policy: EvictionPolicy) -> (db: Database, entry: Entry)? {
        let pool = eviction
        let samples = max(1, config.maxmemorySamples)
        let allKeys = policy.allKeys, lfu = policy.lfu, ttl = policy.ttl
        // Redis retries until a candidate turns up; the cap only guards against a walk that
        // keeps missing the (rare) TTL keys.
        for _ in 0..<10_000 {
            var total = 0
            databases.withUnsafeBufferPointer { dbs in
                for db in dbs {
                    let keys = allKeys ? db.count : db.expiresCount
                    if keys == 0 { continue }
                    total += keys
                    populatePool(db, samples: samples, allKeys: allKeys, lfu: lfu, ttl: ttl)
                }
            }
            if total == 0 { return nil }
            // From the best candidate down; every candidate looked at leaves the pool.
            while pool.count > 0 {
                let k = pool.count - 1
                pool.count = k
                guard let db = database(Int(pool.pool[k].db)) else { continue }
                let found = db.find(pool.key(k))
                if let e = found, allKeys || e.hasExpire { return (db, e) }
            }
        }
        return nil
    }

    /// Samples up to `samples` keys of `db` into the pool (evictionPoolPopulate).
    /// volatile-*: Tern keeps TTLs in the entries (no expires dict to sample from), so the
    /// walk skips persistent keys and visits more buckets the rarer TTL keys are (10 buckets
    /// per wanted key, times count/expiresCount, at most 100 times): when TTL keys are very
    /// rare a round may bring fewer than `samples` candidates, never an unbounded walk.
    func populatePool(_ db: Database, samples: Int, allKeys: Bool, lfu: Bool, ttl: Bool) {
        let pool = eviction
        let want = min(samples, allKeys ? db.count : db.expiresCount)
        var buckets = want * 10
        if !allKeys { buckets *= min(100, max(1, db.count / max(1, db.expiresCount))) }
        let dbid = db.id
        db.table.sample(upTo: want, maxBuckets: buckets, using: &pool.rng) { e in
            if !allKeys && !e.hasExpire { return false }
            let idle: UInt64
            if ttl {
                // The sooner it expires, the better a victim.
                idle = UInt64.max &- UInt64(bitPattern: e.expireAt)
            } else if lfu {
                idle = UInt64(255 - ObjectCommand.decayedLFUCounter(self, lruField(of: e)))
            } else {
                idle = UInt64(ObjectCommand.idleMillis(self, lruField(of: e)))
            }
            pool.insert(idle: idle, db: dbid, key: e.key)
            return true
        }
    }

    /// allkeys-random / volatile-random: a random key of the next db that has one.
    func randomVictim(allKeys: Bool) -> (db: Database, entry: Entry)? {
        let n = databases.count
        for _ in 0..<n {
            eviction.nextDb = (eviction.nextDb + 1) % n
            let db = databases[eviction.nextDb]
            if allKeys {
                let state = eviction
                if let e = db.table.randomEntry({ state.rng.next() }) { return (db, e) }
            } else if db.expiresCount > 0 {
                // No expires dict: the first TTL key met from a random bucket, in bounded
                // walks as in populatePool, retried as Redis's random pick always succeeds.
                var found: Entry? = nil
                let buckets = 10 * min(100, max(1, db.count / db.expiresCount))
                for _ in 0..<1000 where found == nil {
                    db.table.sample(upTo: 1, maxBuckets: buckets, using: &eviction.rng) { e in
                        guard e.hasExpire else { return false }
                        found = e
                        return true
                    }
                }
                if let e = found { return (db, e) }
            }
        }
        return nil
    }

    // MARK: deleting

    /// Deletes an evicted key as Redis's performEvictions does: dbSyncDelete or
    /// dbAsyncDelete (lazyfree-lazy-eviction), evicted_keys, signalModifiedKey (WATCH,
    /// tracking), the `evicted` event, then DEL/UNLINK propagated (propagateDeletion).
    func deleteEvicted(_ db: Database, _ e: Entry, flushEach: Bool) {
        let lazy = config.lazyfreeLazyEviction
        // The entry owns the key bytes and goes first: keep a copy (reused buffer).
        eviction.victimKey.removeAll(keepingCapacity: true)
        eviction.victimKey.append(contentsOf: e.key)
        eviction.victimKey.withUnsafeBytes { k in
            if lazy { db.deleteLazily(k) } else { db.deleteSynchronously(k) }
            stats.evictedKeys += 1
            keyModified(db, k)
            notify(.evicted, "evicted", k, db.id)
        }
        if propagates {
            alsoPropagate(db: db.id, OwnedArgs([Array((lazy ? "UNLINK" : "DEL").utf8), eviction.victimKey]))
            if flushEach { propagatePendingCommands() }
        }
    }

    // MARK: dispatch and CONFIG SET

    static let oomError = "OOM command not allowed when used memory > 'maxmemory'."

    /// The maxmemory step of dispatch (Redis's processCommand): evict, then refuse with OOM
    /// a denyoom command, an EXEC whose queue holds one, or anything but EXEC / DISCARD /
    /// QUIT / RESET inside MULTI (queueing would grow memory without bound). Returns true
    /// when the command was refused. Called only when maxmemory is set.
    @inline(never)
    func refusedForMemory(_ c: Client, _ cmd: Command) -> Bool {
        // Evictions are not the client's doing: its own invalidations go out now, before its
        // reply (Redis's trackingHandlePendingKeyInvalidations right after performEvictions).
        let outOfMemory = withoutCurrentClient { performEvictions() } == .fail
        guard outOfMemory else { return false }
        var reject = cmd.flags.contains(.denyoom)
        if !reject && cmd.name == "exec", let queued = c.multiState {
            reject = queued.queuedFlags.contains(.denyoom)
        }
        if !reject && c.flags.contains(.multi) {
            reject = cmd.name != "exec" && cmd.name != "discard" && cmd.name != "quit" && cmd.name != "reset"
        }
        // Scripts (EVAL, FCALL) will save `outOfMemory` here for their first write's OOM
        // check (Redis's pre_command_oom_state) when scripting exists.
        if reject { rejectCommand(c, cmd, Engine.oomError) }
        return reject
    }

    /// CONFIG SET maxmemory (Redis 7.0's updateMaxmemory): a warning when the new limit is
    /// under current usage, then the eviction task starts; CONFIG SET itself evicts nothing
    /// (its DELs would land inside whatever unit runs it, a MULTI for instance). The next
    /// command's dispatch evicts as usual.
    func maxmemoryChanged() {
        guard config.maxmemory != 0 else { return }
        let used = max(0, infoState.memory.usedPrecise - memoryNotCountedForEviction())
        if config.maxmemory < used {
            log(.warning, "WARNING: the new maxmemory value set via CONFIG SET (\(config.maxmemoryBytes)) is smaller than the current memory usage (\(used)). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.")
        }
        startEvictionTimer()
    }
}
