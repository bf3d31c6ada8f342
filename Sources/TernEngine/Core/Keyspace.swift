import TernConfig
import TernProtocol
import TernStore

/// Keyspace access with Redis's semantics: lazy expiry on access, hit/miss stats,
/// LRU/LFU touch, and the change signals (WATCH, tracking, blocked clients).
extension Client {
    /// Lookup for reading (lookupKeyRead): expired keys are deleted and reported missing.
    @inline(__always)
    public func lookupRead(_ key: UnsafeRawBufferPointer) -> Entry? {
        withDB { lookupRead(key, in: $0) }
    }

    @inline(__always)
    func lookupRead(_ key: UnsafeRawBufferPointer, in db: Database) -> Entry? {
        guard let e = db.find(key) else {
            engine.stats.keyspaceMisses += 1
            engine.notify(.keyMiss, "keymiss", key, db.id)
            return nil
        }
        if e.hasExpire && engine.expireIfNeeded(db, e) {
            engine.stats.keyspaceMisses += 1
            engine.notify(.keyMiss, "keymiss", key, db.id)
            return nil
        }
        if e.hasExpire && engine.isReplicaOfMaster && engine.isExpired(e) && !flags.contains(.master) {
            engine.stats.keyspaceMisses += 1
            return nil
        }
        engine.stats.keyspaceHits += 1
        touch(e)
        return e
    }

    /// Lookup for writing (lookupKeyWrite): expires lazily, no hit/miss stats.
    @inline(__always)
    public func lookupWrite(_ key: UnsafeRawBufferPointer) -> Entry? {
        withDB { db in
            guard let e = db.find(key) else { return nil }
            if e.hasExpire && engine.expireIfNeeded(db, e) { return nil }
            touch(e)
            return e
        }
    }

    /// Lookup without touching LRU or stats (EXISTS-like internal checks, TYPE uses read).
    @inline(__always)
    public func lookupNoTouch(_ key: UnsafeRawBufferPointer, in database: Database? = nil) -> Entry? {
        let d = database ?? db
        guard let e = d.find(key) else { return nil }
        if e.hasExpire && engine.expireIfNeeded(d, e) { return nil }
        return e
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
