import TernConfig
import TernProtocol
import TernStore

/// How a key lookup behaves (Redis's LOOKUP_* flags for lookupKey).
public struct LookupFlags: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A read (lookupKeyRead): expires lazily, touches LRU/LFU, counts hits/misses,
    /// raises `keymiss` on a miss.
    public static let none: LookupFlags = []
    /// Leaves the key's LRU/LFU field alone (TYPE, EXISTS, TTL, OBJECT).
    public static let noTouch = LookupFlags(rawValue: 1 << 0)
    /// No `keymiss` event on a miss (OBJECT).
    public static let noNotify = LookupFlags(rawValue: 1 << 1)
    /// keyspace_hits/keyspace_misses are not counted.
    public static let noStats = LookupFlags(rawValue: 1 << 2)
    /// A lookup for writing (lookupKeyWrite): no stats and no `keymiss`; on a writable
    /// replica an expired key is deleted rather than only hidden.
    public static let write = LookupFlags(rawValue: 1 << 3)
    /// A logically expired key is returned as it is (neither hidden nor deleted).
    public static let noExpire = LookupFlags(rawValue: 1 << 4)
}

/// Keyspace access with Redis's semantics: one lookup (lazy expiry, hit/miss stats,
/// LRU/LFU touch, `keymiss`) whose flags every caller states.
extension Client {
    /// Redis's lookupKey. Inlined with constant flags, the branches of the flags not
    /// given fold away: a GET pays a find, one expire-bit test, the touch and a counter.
    @inline(__always)
    public func lookupKey(_ db: Database, _ key: UnsafeRawBufferPointer, _ flags: LookupFlags) -> Entry? {
        // `find` skips hashing in an empty table; the hashed variant below cannot.
        finishLookup(db, key, flags, db.find(key))
    }

    /// lookupKey with the key's hash computed by the caller (SET hashes once for the lookup
    /// and the store).
    @inline(__always)
    public func lookupKey(_ db: Database, _ key: UnsafeRawBufferPointer, _ flags: LookupFlags, hash: UInt64) -> Entry? {
        finishLookup(db, key, flags, db.find(key, hash: hash))
    }

    /// What lookupKey does with the entry found: lazy expiry, snapshot hook, touch, stats.
    @inline(__always)
    func finishLookup(_ db: Database, _ key: UnsafeRawBufferPointer, _ flags: LookupFlags, _ entry: Entry?) -> Entry? {
        var found = entry
        if let e = found, e.hasExpire, !flags.contains(.noExpire) {
            let forceDelete = flags.contains(.write) && !engine.config.replicaReadOnly
            if engine.expireIfNeeded(db, e, forceDelete: forceDelete) { found = nil }
        }
        let counts = !flags.contains(.noStats) && !flags.contains(.write)
        if let e = found {
            // A write lookup may change the value inside its object (HSET on a hash): a
            // running snapshot serializes the key's bucket first (one byte test otherwise).
            if flags.contains(.write) { db.table.willModify(key) }
            if !flags.contains(.noTouch) { touch(e) }
            if counts { engine.stats.keyspaceHits += 1 }
            return e
        }
        if !flags.contains(.noNotify) && !flags.contains(.write) { engine.notify(.keyMiss, "keymiss", key, db.id) }
        if counts { engine.stats.keyspaceMisses += 1 }
        return nil
    }

    /// lookupKeyRead in the selected db: expired keys are deleted and reported missing.
    @inline(__always)
    public func lookupRead(_ key: UnsafeRawBufferPointer) -> Entry? {
        withDB { lookupKey($0, key, .none) }
    }

    /// lookupKeyWrite in the selected db: expires lazily and touches; no stats, no event.
    @inline(__always)
    public func lookupWrite(_ key: UnsafeRawBufferPointer) -> Entry? {
        withDB { lookupKey($0, key, .write) }
    }

    /// lookupKeyWrite in another db (MOVE/COPY destinations, DEBUG POPULATE).
    @inline(__always)
    public func lookupWrite(_ key: UnsafeRawBufferPointer, in db: Database) -> Entry? {
        lookupKey(db, key, .write)
    }

    /// A lookup in the selected db with explicit flags (TYPE, EXISTS, TTL, OBJECT ...).
    @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer, _ flags: LookupFlags) -> Entry? {
        withDB { lookupKey($0, key, flags) }
    }

    @inline(__always) func touch(_ e: Entry) {
        if !flags.contains(.noTouch) {
            // Integers 0...9999 may be Redis's shared objects: their LRU is kept apart.
            if e.encodingByte == ValueEncoding.int.rawValue { engine.touchInteger(e); return }
            e.lru = engine.config.usesLFU ? engine.lfuTouched(e.lru) : engine.lruClock
        }
    }

    /// Signals that `key` in the current db was modified by a write (Redis's signalModifiedKey).
    @inline(__always) public func keyModified(_ key: UnsafeRawBufferPointer) {
        withDB { engine.keyModified($0, key) }
    }

    /// Emits a keyspace event for `key` in the current db.
    @inline(__always) public func notify(_ cls: NotifyClass, _ event: String, _ key: UnsafeRawBufferPointer) {
        engine.notify(cls, event, key, dbIndex)
    }

    /// Deletes a key (DEL/UNLINK semantics); returns true if it existed.
    @discardableResult
    public func deleteKey(_ key: UnsafeRawBufferPointer) -> Bool {
        guard lookupWrite(key) != nil else { return false }
        db.delete(key)
        return true
    }
}

/// Whole-database changes (FLUSHDB, FLUSHALL, SWAPDB) and loading: each subsystem that
/// cares is called directly, in Redis's order.
extension Engine {
    /// Empties database `dbid`, or all of them when nil (Redis's emptyData): WATCH and
    /// tracking are told first (`flushedDb`), then the tables go, freed in the background
    /// when `async`. Returns the number of keys removed.
    @discardableResult
    public func emptyData(_ dbid: Int?, async: Bool) -> Int {
        // A running snapshot walks what is left first: whole tables are about to go.
        finishSnapshotWalk()
        flushedDb(dbid)
        var removed = 0
        for db in databases where dbid == nil || db.id == dbid {
            removed += db.count
            if async {
                LazyFree.shared.dispose(table: db.takeAll())
            } else {
                db.removeAll()
            }
        }
        return removed
    }

    /// Database `dbid` (all when nil) is about to be emptied (Redis's signalFlushedDb):
    /// WATCHed keys that exist there are touched, and every tracking client gets a flush
    /// invalidation (a null) whether or not it read anything from that db.
    public func flushedDb(_ dbid: Int?) {
        if watchedKeyCount > 0 {
            for db in databases where dbid == nil || db.id == dbid {
                transactions.touchAll(emptied: db, replacedWith: nil)
            }
        }
        tracking.invalidateOnFlush()
    }

    /// SWAPDB (Redis's dbSwapDatabases), O(1) in the number of keys: WATCHed keys of both
    /// dbs that appear or disappear are touched (touchAllWatchedKeysInDb both ways, before
    /// the swap), the tables' contents are exchanged (clients keep their db numbers), then
    /// keys that blocked clients of either db wait on and that now exist are signalled.
    /// Tracking is not told (Redis 7.0 sends no invalidation).
    public func swapDatabases(_ a: Database, _ b: Database) {
        guard a !== b else { return }
        finishSnapshotWalk()
        if watchedKeyCount > 0 {
            transactions.touchAll(emptied: a, replacedWith: b)
            transactions.touchAll(emptied: b, replacedWith: a)
        }
        a.swapContents(with: b)
        if blocking.hasWaiters {
            blocking.signalAllWaitingKeys(in: a)
            blocking.signalAllWaitingKeys(in: b)
        }
    }
}
