import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// Blocking operations on keys (Redis's blocked.c), shared by lists (BLPOP, BRPOP, BLMOVE,
// BRPOPLPUSH, BLMPOP), sorted sets (BZPOPMIN, BZPOPMAX, BZMPOP) and any later family.
//
// API for a blocking command handler:
//
//   guard let deadline = Blocking.parseTimeout(c, a[i]) else { return }   // error replied
//   ... try to serve at once (non-empty key) and return ...
//   if !c.mayBlock { c.out.nullArray(); return }          // inside MULTI/EXEC, scripts
//   c.blockOnKeys(keys, deadline: deadline,
//                 onTimeout: { c in c.out.nullArray() },   // timeout / CLIENT UNBLOCK TIMEOUT
//                 serve: { c, key in ... })                // try to serve from `key`
//
// - `deadline` is an absolute wall-clock ms time, 0 = block forever.
// - `serve(c, key)` runs when `key` (in the client's db) was signalled ready by
//   `engine.signalKeyReady(db, key)` (every push that creates a list/zset key, RENAME,
//   MOVE, COPY, SORT STORE, RESTORE, SMOVE-like creations; `Engine.swapDatabases` calls
//   `signalAllWaitingKeys(in:)` for both dbs). It runs after the command that
//   signalled the key (and after EXEC for pushes inside MULTI), with `c` being the blocked
//   client. It must check the key's type itself (return false to stay blocked when the key
//   is missing, empty or of another type), write the complete reply into `c.out`, do the
//   keyspace work and notifications, put its effect in `c.propagateAs` as a command handler
//   does (e.g. BLPOP served -> LPOP key; build it through `CollectionSupport.propagate` so
//   nothing is built when no target listens) and return true. The framework then sends
//   that effect as one propagation unit (with any expire DELs met while serving), unblocks
//   the client, flushes its reply and resumes its pipelined input asynchronously.
// - Clients blocked on one key are served in the order they blocked; keys signalled during
//   a command are handled in signal order; keys made ready while serving (BLMOVE pushing to
//   a key others wait on) are handled in a following round, as Redis does.
// - A blocked client has `.blocked` in its flags (the network layer stops parsing its
//   input). CLIENT UNBLOCK id [TIMEOUT|ERROR], disconnects and timeouts are handled here.
// - Other subsystems that block without keys (WAIT) can use `blockOnKeys([] ...)` with
//   only `onTimeout`.

extension ClientFlags {
    /// Set by EXEC and scripting while they run commands: blocking commands then behave as
    /// if they timed out at once (Redis's CLIENT_DENY_BLOCKING).
    public static let denyBlocking = ClientFlags(rawValue: 1 << 24)
}

/// One blocked client and what it waits for.
public final class BlockedClient {
    public let client: Client
    public let dbID: Int
    public let keys: [[UInt8]]
    public let deadline: Int64
    let serve: (Client, UnsafeRawBufferPointer) -> Bool
    let onTimeout: (Client) -> Void
    var active = true

    init(client: Client, dbID: Int, keys: [[UInt8]], deadline: Int64,
         serve: @escaping (Client, UnsafeRawBufferPointer) -> Bool, onTimeout: @escaping (Client) -> Void) {
        self.client = client
        self.dbID = dbID
        self.keys = keys
        self.deadline = deadline
        self.serve = serve
        self.onTimeout = onTimeout
    }
}

struct BlockKey: Hashable {
    let db: Int
    let key: [UInt8]
}

/// FIFO of clients blocked on one key; removed clients are skipped lazily.
final class KeyWaiters {
    var list: [BlockedClient] = []
    var head = 0
    var live = 0

    func compactIfSparse() {
        let dead = list.count - head - live
        if dead > live + 16 {
            list = list[head...].filter { $0.active }
            head = 0
        }
    }
}

/// Engine-wide registry of blocked clients.
public final class BlockingRegistry {
    /// Set by Engine.init right after creating this registry; the engine owns it and
    /// outlives it.
    unowned(unsafe) var engine: Engine!
    var waiters: [BlockKey: KeyWaiters] = [:] { didSet { hasWaiters = !waiters.isEmpty } }
    /// Some client is blocked on a key: `Engine.signalKeyReady` checks this plain flag
    /// before anything else.
    private(set) var hasWaiters = false
    var byClient: [Int: BlockedClient] = [:]
    var readyKeys: [BlockKey] = []
    var readySet: Set<BlockKey> = []
    /// Min-heap of (deadline, blocked client) with lazy deletion.
    var timeouts: [(Int64, BlockedClient)] = []
    var timerAt: Int64 = 0
    var resumeScheduled = false
    var serving = false

    init() {}

    /// Periodic work (serverCron): timeouts the loop timer missed, ready keys nobody
    /// served, unblocked clients whose resumption was not scheduled.
    func cron() {
        expireTimeouts()
        if engine.hasReadyKeys { handleReadyKeys() }
        if !engine.pendingResume.isEmpty && !resumeScheduled { resumePending() }
    }

    /// A disconnecting client stops waiting (no reply).
    func removeClient(_ c: Client) {
        if let b = byClient[c.id] { remove(b) }
    }

    /// Number of clients blocked on keys (INFO clients `blocked_clients`).
    public var blockedClients: Int { byClient.count }
    /// Blocked clients that have a deadline (INFO `clients_in_timeout_table`).
    public var clientsWithTimeout: Int { byClient.values.reduce(0) { $0 + ($1.deadline > 0 ? 1 : 0) } }
    /// Number of keys some client is blocked on (INFO `total_blocking_keys` in later Redis).
    public var blockingKeys: Int { waiters.count }

    public func isBlocked(_ c: Client) -> Bool { byClient[c.id] != nil }

    // MARK: blocking

    func block(_ c: Client, keys: [[UInt8]], deadline: Int64,
               onTimeout: @escaping (Client) -> Void, serve: @escaping (Client, UnsafeRawBufferPointer) -> Bool) {
        if let old = byClient[c.id] { remove(old) }
        var unique: [[UInt8]] = []
        for k in keys where !unique.contains(k) { unique.append(k) }
        let b = BlockedClient(client: c, dbID: c.dbIndex, keys: unique, deadline: deadline, serve: serve, onTimeout: onTimeout)
        byClient[c.id] = b
        for k in unique {
            let bk = BlockKey(db: b.dbID, key: k)
            let w: KeyWaiters
            if let x = waiters[bk] { w = x } else { w = KeyWaiters(); waiters[bk] = w }
            w.list.append(b)
            w.live += 1
        }
        c.flags.insert(.blocked)
        if deadline > 0 {
            heapPush((deadline, b))
            scheduleTimer(for: deadline)
        }
    }

    /// Drops a blocked client from every structure (no reply).
    func remove(_ b: BlockedClient) {
        guard b.active else { return }
        b.active = false
        byClient[b.client.id] = nil
        for k in b.keys {
            let bk = BlockKey(db: b.dbID, key: k)
            guard let w = waiters[bk] else { continue }
            w.live -= 1
            if w.live <= 0 { waiters[bk] = nil } else if !serving { w.compactIfSparse() }
        }
        b.client.flags.remove(.blocked)
    }

    /// Unblocks after a reply was written: flush it and resume the client's input later.
    func finish(_ b: BlockedClient) {
        remove(b)
        let c = b.client
        c.flush()
        queueForResume(c)
    }

    /// Queues a client whose buffered input must be processed again (unblocked, or released
    /// by the end of CLIENT PAUSE). It resumes from a loop task after the current command and
    /// read batch, never nested in another command's call (Redis's unblocked_clients).
    public func queueForResume(_ c: Client) {
        engine.pendingResume.append(c)
        scheduleResume()
    }

    func scheduleResume() {
        guard !resumeScheduled else { return }
        if let s = engine.scheduleOnLoop {
            resumeScheduled = true
            s(0) { [weak self] in self?.resumePending() }
        }
    }

    /// Lets unblocked clients process the input that queued up while they were blocked.
    func resumePending() {
        resumeScheduled = false
        var rounds = 0
        while !engine.pendingResume.isEmpty && rounds < 1000 {
            let list = engine.pendingResume
            engine.pendingResume.removeAll()
            for c in list where !c.flags.contains(.blocked) { c.connection?.resumeProcessing() }
            rounds += 1
        }
    }

    // MARK: readiness

    func signal(_ db: Database, _ key: UnsafeRawBufferPointer) {
        if waiters.isEmpty { return }
        let bk = BlockKey(db: db.id, key: Array(key))
        guard waiters[bk] != nil, !readySet.contains(bk) else { return }
        readySet.insert(bk)
        readyKeys.append(bk)
        engine.hasReadyKeys = true
    }

    /// Signals every key of `db` that clients wait on and that now exists (SWAPDB):
    /// Redis's scanDatabaseForReadyKeys. O(keys waited on in all dbs).
    public func signalAllWaitingKeys(in db: Database) {
        for bk in waiters.keys where bk.db == db.id {
            if bk.key.withUnsafeBytes({ db.find($0) }) != nil {
                bk.key.withUnsafeBytes { signal(db, $0) }
            }
        }
    }

    /// Serves clients blocked on the keys signalled so far (and on keys those services
    /// make ready), in signal order, each key's clients in blocking order.
    func handleReadyKeys() {
        guard !serving else { return }
        serving = true
        defer { serving = false; engine.hasReadyKeys = !readyKeys.isEmpty }
        while !readyKeys.isEmpty {
            let batch = readyKeys
            readyKeys.removeAll()
            for bk in batch {
                readySet.remove(bk)
                guard let w = waiters[bk] else { continue }
                engine.nowMs = Engine.wallClockMs()
                var i = w.head
                let end = w.list.count
                while i < end && i < w.list.count {
                    let b = w.list[i]
                    i += 1
                    guard b.active else { continue }
                    let c = b.client
                    let startUs = Engine.wallClockMicros()
                    let served = bk.key.withUnsafeBytes { b.serve(c, $0) }
                    if served {
                        // The command's latency sample is taken when it is served (Redis's
                        // updateStatsOnUnblock); its first, blocking call recorded none.
                        if engine.config.latencyTracking, let cmd = c.currentCommand {
                            let us = max(0, Engine.wallClockMicros() - startUs)
                            LatencyHistogram.record(&cmd.latencyHistogram, nanoseconds: us &* 1000)
                        }
                        // Each served client is a propagation unit of its own, after the
                        // command that made the key ready (Redis's afterCommand(receiver)):
                        // expire DELs met while serving, then the pop/move the serve
                        // recorded in `propagateAs`.
                        if engine.propagates {
                            engine.alsoPropagateEffect(of: c, args: nil)
                            engine.propagatePendingCommands()
                        }
                        c.propagateAs = nil
                        finish(b)
                    } else if engine.propagates {
                        // Not served, but lookups may have deleted expired keys.
                        engine.propagatePendingCommands()
                    }
                    if waiters[bk] == nil { break }
                }
                if let w2 = waiters[bk] {
                    while w2.head < w2.list.count && !w2.list[w2.head].active { w2.head += 1 }
                    w2.compactIfSparse()
                }
            }
        }
    }

    // MARK: timeouts

    func scheduleTimer(for deadline: Int64) {
        guard let s = engine.scheduleOnLoop else { return }
        if timerAt != 0 && timerAt <= deadline { return }
        timerAt = deadline
        let delay = max(0, deadline - Engine.wallClockMs() + 1)
        s(delay) { [weak self] in
            guard let self else { return }
            if self.timerAt == deadline { self.timerAt = 0 }
            self.expireTimeouts()
        }
    }

    /// Replies to and unblocks every client whose deadline has passed.
    func expireTimeouts() {
        let now = Engine.wallClockMs()
        while let top = timeouts.first {
            if !top.1.active { heapPop(); continue }
            if top.0 >= now { break }
            heapPop()
            let b = top.1
            b.onTimeout(b.client)
            finish(b)
        }
        while let top = timeouts.first, !top.1.active { _ = top; heapPop() }
        if let top = timeouts.first { scheduleTimer(for: top.0) }
    }

    func heapPush(_ x: (Int64, BlockedClient)) {
        timeouts.append(x)
        var i = timeouts.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if timeouts[p].0 <= timeouts[i].0 { break }
            timeouts.swapAt(p, i)
            i = p
        }
    }

    func heapPop() {
        let last = timeouts.removeLast()
        if timeouts.isEmpty { return }
        timeouts[0] = last
        var i = 0
        let n = timeouts.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && timeouts[l].0 < timeouts[m].0 { m = l }
            if r < n && timeouts[r].0 < timeouts[m].0 { m = r }
            if m == i { break }
            timeouts.swapAt(m, i)
            i = m
        }
    }

    /// Unblocks, with the error `decide` returns, each client blocked on keys for which it
    /// returns one (cluster mode re-checks its blocked clients after slot moves).
    public func unblockOnKeys(withErrorFrom decide: (BlockedClient) -> String?) {
        for b in Array(byClient.values) where b.active && !b.keys.isEmpty {
            guard let text = decide(b) else { continue }
            b.client.error(text)
            finish(b)
        }
    }

    // MARK: CLIENT UNBLOCK

    /// Unblocks client `id` as if it timed out, or with an UNBLOCKED error. False when that
    /// client is not blocked on keys.
    public func unblock(clientID id: Int, withError: Bool) -> Bool {
        guard let b = byClient[id] else { return false }
        if withError {
            b.client.error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        } else {
            b.onTimeout(b.client)
        }
        finish(b)
        return true
    }
}

extension Engine {
    func registerBlockingCommands() {
        commands.register("client|unblock", BlockingCommands.clientUnblock)
    }
}

extension Client {
    /// False inside MULTI/EXEC, scripts and for internal clients: a blocking command then
    /// replies as if it timed out immediately.
    public var mayBlock: Bool {
        !flags.contains(.multi) && !flags.contains(.denyBlocking) && !flags.contains(.fake) && connection != nil
    }

    /// Blocks this client on `keys` (in its current db). See the header of Blocking.swift.
    public func blockOnKeys(_ keys: [[UInt8]], deadline: Int64,
                            onTimeout: @escaping (Client) -> Void,
                            serve: @escaping (Client, UnsafeRawBufferPointer) -> Bool) {
        engine.blocking.block(self, keys: keys, deadline: deadline, onTimeout: onTimeout, serve: serve)
    }
}

public enum Blocking {
    /// Parses a blocking timeout in seconds (a long double, as Redis's
    /// getTimeoutFromObjectOrReply): replies with the error and returns nil when invalid,
    /// else the absolute deadline in ms (0 = forever).
    public static func parseTimeout(_ c: Client, _ arg: UnsafeRawBufferPointer) -> Int64? {
        guard let v = FloatFormat.parseLongDouble(arg) else {
            c.error("ERR timeout is not a float or out of range")
            return nil
        }
        // Redis: (long long) ceill(ftval * 1000.0) — rounded up, so 0.001 s is 1 ms, not 0 (forever).
        let x = (v * 1000).rounded(.up)
        // C's (long long) cast; out-of-range values become LLONG_MIN on x86.
        let ms: Int64 = (x.isNaN || x >= 9223372036854775808.0 || x <= -9223372036854775809.0) ? Int64.min : Int64(x)
        if ms < 0 {
            c.error("ERR timeout is negative")
            return nil
        }
        if ms == 0 { return 0 }
        let now = Engine.wallClockMs()
        if ms > Int64.max - now {
            c.error("ERR timeout is out of range")
            return nil
        }
        return ms + now
    }
}

enum BlockingCommands {
    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]
    static func clientUnblock(_ c: Client, _ a: Args) {
        if a.count != 3 && a.count != 4 {
            c.error("ERR unknown subcommand or wrong number of arguments for '\(a.string(1))'. Try CLIENT HELP.")
            return
        }
        var withError = false
        if a.count == 4 {
            if a.equals(3, "timeout") {
                withError = false
            } else if a.equals(3, "error") {
                withError = true
            } else {
                c.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
                return
            }
        }
        guard let id = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        c.out.integer(c.engine.blocking.unblock(clientID: id, withError: withError) ? 1 : 0)
    }
}
