import TernConfig
import TernProtocol
import TernStore

// Transactions (Redis's multi.c semantics): MULTI queues commands (+QUEUED); a command
// refused at queue time flags the transaction so EXEC replies EXECABORT; EXEC runs the
// queue atomically (the engine is single-threaded) without rollback on runtime errors;
// WATCH makes EXEC fail (null array) when a watched key changed, was flushed or swapped,
// or expired, after the WATCH.
//
// Propagation: the queued commands run through `engine.call` nested in EXEC's own call, so
// their effects (and expire DELs they meet) join EXEC's propagation unit, flushed when EXEC's
// dispatch ends (Propagation.swift): a single write goes out bare, two or more wrapped in
// MULTI ... EXEC, nothing when nothing was written (Redis 7.0). EXEC itself is never sent.

/// A key watched by one client.
final class WatchedKey {
    let dbid: Int
    let key: [UInt8]
    unowned let client: Client
    /// The key existed but was already logically expired when WATCH ran: its deletion
    /// is not a change (Redis 7.0).
    var expired: Bool

    init(dbid: Int, key: [UInt8], client: Client, expired: Bool) {
        self.dbid = dbid; self.key = key; self.client = client; self.expired = expired
    }
}

/// One queued command: its arguments are spans [first, first+count) of the queue's spans.
struct QueuedCommand {
    let command: Command
    let first: Int
    let count: Int
}

/// Per-client MULTI queue and watched keys (kept on `Client.multiState`). Queued
/// arguments are copied into one contiguous buffer reused from one transaction to the
/// next, so queueing allocates nothing in the steady state.
final class MultiState {
    var commands: [QueuedCommand] = []
    var storage: [UInt8] = []
    /// (offset into storage, length) pairs.
    var spans: [Int] = []
    var watched: [WatchedKey] = []
    /// Flags of every command queued (Redis's mstate.cmd_flags): CLIENT PAUSE WRITE holds an
    /// EXEC whose queue may replicate.
    var queuedFlags: CommandFlags = []

    /// CLIENT LIST `multi-mem=` as Redis 7.0 counts it: the queued arguments' bytes plus
    /// one pointer per argument.
    var queuedBytes: Int { storage.count + spans.count / 2 * MemoryLayout<Int>.size }

    func append(_ cmd: Command, _ a: Args) {
        commands.append(QueuedCommand(command: cmd, first: spans.count / 2, count: a.count))
        for i in 0..<a.count {
            spans.append(storage.count)
            spans.append(a.length(i))
            storage.append(contentsOf: a[i])
        }
    }

    /// Visits each queued command with its arguments (valid only inside `body`).
    func forEachQueued(_ body: (Command, Args) -> Void) {
        storage.withUnsafeBytes { buf in
            spans.withUnsafeBufferPointer { sp in
                guard let spBase = sp.baseAddress else { return }
                let base = buf.baseAddress ?? UnsafeRawPointer(spBase)
                for q in commands { body(q.command, Args(base: base, spans: spBase + 2 * q.first, count: q.count)) }
            }
        }
    }

    /// Empties the queue; buffers are kept for reuse unless a big transaction grew them.
    func clearQueue() {
        let keep = storage.capacity <= 64 * 1024 && spans.capacity <= 4096
        commands.removeAll(keepingCapacity: keep)
        queuedFlags = []
        storage.removeAll(keepingCapacity: keep)
        spans.removeAll(keepingCapacity: keep)
    }
}

public final class TransactionRegistry {
    /// Set by Engine.init right after creating this registry; the engine owns it and
    /// outlives it.
    unowned(unsafe) var engine: Engine!
    /// Per database: key -> watchers.
    var watched: [[[UInt8]: [WatchedKey]]]
    /// Number of WATCHed keys; kept on the engine, whose `keyModified` checks it per write.
    var watchedCount: Int {
        get { engine.watchedKeyCount }
        set { engine.watchedKeyCount = newValue }
    }

    init(databaseCount: Int) {
        watched = Array(repeating: [:], count: databaseCount)
    }

    @inline(__always) func existingState(_ c: Client) -> MultiState? { c.multiState }

    @inline(__always) func state(_ c: Client) -> MultiState {
        if let s = c.multiState { return s }
        let s = MultiState()
        c.multiState = s
        return s
    }

    // MARK: WATCH

    func watch(_ c: Client, _ db: Database, _ key: UnsafeRawBufferPointer) {
        let s = state(c)
        let k = Array(key)
        if s.watched.contains(where: { $0.dbid == db.id && $0.key == k }) { return }
        var expired = false
        if let e = db.find(key), engine.isExpired(e) { expired = true }
        let wk = WatchedKey(dbid: db.id, key: k, client: c, expired: expired)
        s.watched.append(wk)
        if db.id < watched.count { watched[db.id][k, default: []].append(wk) }
        watchedCount += 1
    }

    func unwatchAll(_ c: Client) {
        guard let s = existingState(c), !s.watched.isEmpty else { return }
        for wk in s.watched where wk.dbid < watched.count {
            if var list = watched[wk.dbid][wk.key], let i = list.firstIndex(where: { $0 === wk }) {
                list.remove(at: i)
                watched[wk.dbid][wk.key] = list.isEmpty ? nil : list
            }
        }
        watchedCount -= s.watched.count
        s.watched.removeAll()
    }

    func markDirty(_ c: Client) {
        c.flags.insert(.dirtyCAS)
        // Once dirty, nothing else can change the outcome: stop watching.
        unwatchAll(c)
    }

    /// A key changed (Redis's touchWatchedKey); Engine.keyModified calls it only while
    /// some key is watched.
    func touch(_ db: Database, _ key: UnsafeRawBufferPointer) {
        guard db.id < watched.count, !watched[db.id].isEmpty, let list = watched[db.id][Array(key)] else { return }
        for wk in list {
            if wk.expired {
                if db.find(key) == nil {
                    // The already-expired key was deleted: logically no change.
                    wk.expired = false
                    continue
                }
            }
            markDirty(wk.client)
        }
    }

    /// FLUSHDB/FLUSHALL (replacedWith nil) and SWAPDB: touches the watched keys of
    /// `emptied` that exist there or in the database replacing it (touchAllWatchedKeysInDb).
    func touchAll(emptied: Database, replacedWith: Database?) {
        guard watchedCount > 0, emptied.id < watched.count, !watched[emptied.id].isEmpty else { return }
        for (key, list) in watched[emptied.id] {
            let inEmptied = key.withUnsafeBytes { emptied.find($0) != nil }
            let replacement = replacedWith.flatMap { r in key.withUnsafeBytes { r.find($0) } }
            guard inEmptied || replacement != nil else { continue }
            for wk in list {
                if wk.expired {
                    guard let rep = replacement else {
                        // The expired key is gone: no logical change.
                        wk.expired = false
                        continue
                    }
                    if engine.isExpired(rep) { continue }
                } else if !inEmptied, let rep = replacement, engine.isExpired(rep) {
                    // A missing key replaced by an already expired one.
                    wk.expired = true
                    continue
                }
                markDirty(wk.client)
            }
        }
    }

    /// EXEC refuses when a watched key (not expired at WATCH time) is now logically expired.
    func watchedKeyExpired(_ c: Client) -> Bool {
        guard let s = existingState(c) else { return false }
        for wk in s.watched where !wk.expired {
            guard let db = engine.database(wk.dbid) else { continue }
            if let e = wk.key.withUnsafeBytes({ db.find($0) }), engine.isExpired(e) { return true }
        }
        return false
    }

    // MARK: MULTI state

    func queue(_ c: Client, _ cmd: Command, _ a: Args) {
        let s = state(c)
        s.append(cmd, a)
        // An aborted transaction (Redis queues nothing then) must not make EXEC wait for a pause.
        if c.flags.isDisjoint(with: [.dirtyCAS, .dirtyExec]) { s.queuedFlags.formUnion(cmd.flags) }
        let queued: StaticString = "+QUEUED\r\n"
        c.out.append(queued)
    }

    /// Ends the transaction: queue dropped, flags cleared, keys unwatched.
    func discard(_ c: Client) {
        existingState(c)?.clearQueue()
        c.flags.remove([.multi, .dirtyCAS, .dirtyExec])
        unwatchAll(c)
    }

    /// The client is going away (Redis's freeClientMultiState): its state is dropped.
    func freeState(_ c: Client) {
        discard(c)
        c.multiState = nil
    }

    // MARK: commands

    func multi(_ c: Client) {
        if c.flags.contains(.multi) { c.error("ERR MULTI calls can not be nested"); return }
        c.flags.insert(.multi)
        c.out.ok()
    }

    func discardCommand(_ c: Client) {
        guard c.flags.contains(.multi) else { c.error("ERR DISCARD without MULTI"); return }
        discard(c)
        c.out.ok()
    }

    func watchCommand(_ c: Client, _ a: Args) {
        if c.flags.contains(.multi) { c.error("ERR WATCH inside MULTI is not allowed"); return }
        // A dirty client's EXEC fails anyway: no point watching more (as Redis).
        if !c.flags.contains(.dirtyCAS) {
            for i in 1..<a.count { watch(c, c.db, a[i]) }
        }
        c.out.ok()
    }

    func unwatchCommand(_ c: Client) {
        unwatchAll(c)
        c.flags.remove(.dirtyCAS)
        c.out.ok()
    }

    func exec(_ c: Client) {
        guard c.flags.contains(.multi) else { c.error("ERR EXEC without MULTI"); return }
        if watchedKeyExpired(c) { c.flags.insert(.dirtyCAS) }
        if c.flags.contains(.dirtyExec) {
            c.error("EXECABORT Transaction discarded because of previous errors.")
            discard(c)
            return
        }
        if c.flags.contains(.dirtyCAS) {
            c.out.nullArray()
            discard(c)
            return
        }
        // Unwatch first: the transaction's own writes must not dirty anything.
        unwatchAll(c)
        let s = state(c)
        // Take the queue out of the state while it runs (nothing inside may touch it).
        let commands = s.commands, storage = s.storage, spans = s.spans
        s.commands = []
        s.storage = []
        s.spans = []

        c.out.array(commands.count)
        // .multi stays set while the queue runs: blocking commands must not block, and
        // tracking keeps CLIENT CACHING for the whole transaction.
        storage.withUnsafeBytes { buf in
            spans.withUnsafeBufferPointer { sp in
                // Any valid pointer serves as base when every argument is empty.
                guard let spBase = sp.baseAddress else { return }
                let base = buf.baseAddress ?? UnsafeRawPointer(spBase)
                for q in commands {
                    let args = Args(base: base, spans: spBase + 2 * q.first, count: q.count)
                    // The user's rules may have changed since the command was queued.
                    if !c.aclUnrestricted && engine.refusedInExec(c, q.command, args) { continue }
                    engine.call(c, q.command, args)
                }
            }
        }
        c.flags.remove([.multi, .dirtyCAS, .dirtyExec])
        // Hand the buffers back for the next transaction.
        if s.commands.isEmpty {
            s.commands = consume commands
            s.storage = consume storage
            s.spans = consume spans
            s.clearQueue()
        }
        // EXEC itself is never propagated: the queued commands' effects are in the unit.
        c.propagateAs = []
    }

    /// A refused EXEC (arity, NOAUTH, subscribed context ...) aborts the transaction.
    func execAbort(_ c: Client, _ message: String) {
        discard(c)
        let reason = message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message
        c.error("EXECABORT Transaction discarded because of: \(reason)")
    }

    /// Flags of every command queued by `c` (empty outside MULTI).
    public func queuedFlags(_ c: Client) -> CommandFlags { existingState(c)?.queuedFlags ?? [] }

    /// Queued-command count for CLIENT LIST `multi=` (-1 outside MULTI).
    func queueLength(_ c: Client) -> Int {
        guard c.flags.contains(.multi) else { return -1 }
        return existingState(c)?.commands.count ?? 0
    }
}

extension Engine {
    /// Transactions, pub/sub and client tracking commands (one family line).
    func registerTransactionAndPubSubCommands() {
        let tx = transactions
        commands.register("multi") { c, _ in tx.multi(c) }
        commands.register("exec") { c, _ in tx.exec(c) }
        commands.register("discard") { c, _ in tx.discardCommand(c) }
        commands.register("watch") { c, a in tx.watchCommand(c, a) }
        commands.register("unwatch") { c, _ in tx.unwatchCommand(c) }
        registerPubSubCommands()
        registerTrackingCommands()
    }
}

extension Client {
    /// CLIENT LIST `multi=`: queued commands, -1 outside MULTI.
    public var multiQueueLength: Int { engine.transactions.queueLength(self) }
    /// CLIENT LIST `multi-mem=`: bytes held by queued commands.
    public var multiQueueMemory: Int { multiState?.queuedBytes ?? 0 }
    /// Number of keys this client WATCHes.
    public var watchedKeyCount: Int { multiState?.watched.count ?? 0 }
    /// CLIENT LIST `sub=` / `psub=` / `ssub=`.
    public var subscriptionCounts: (channels: Int, patterns: Int, shardChannels: Int) {
        guard let s = engine.pubsub.clientState[id] else { return (0, 0, 0) }
        return (s.channels.count, s.patterns.count, s.shardChannels.count)
    }
}
