import CTern
#if canImport(Glibc)
import Glibc
#endif

/// One numbered database: the key table plus the bookkeeping Redis keeps per db
/// (number of keys with a TTL, average TTL estimate, active-expiry cursor).
/// Pure data: expiry *policy* (lazy deletion, notifications, propagation) lives in
/// the command layer, which decides when an expired key is really deleted.
public final class Database {
    public let id: Int
    /// A `let`: SWAPDB exchanges contents, never the object, so reads need no retain.
    public let table = KeyTable()
    /// Number of keys that carry an expire time.
    public private(set) var expiresCount = 0
    /// Running estimate of the average TTL of keys sampled by active expiry (INFO keyspace).
    public var avgTTL: Int64 = 0
    /// Active-expiry SCAN cursor.
    public var expireCursor: UInt64 = 0

    /// Under an LFU maxmemory policy an overwritten key keeps its access counter (Redis's
    /// dbSetValue copies the old object's lru field); set by the engine from the policy.
    public var keepsAccessFieldOnOverwrite = false

    /// lazyfree-lazy-server-del: deletes and overwrites done by the server (DEL of an emptied
    /// collection, *STORE destinations, SET over a big value) free expensive values in the
    /// background instead of on the engine thread (set by the engine from the config).
    public var lazyFreesServerDeletes = false

    /// Frees a value this database no longer references, in the background when configured.
    @inline(__always) func release(_ e: Entry) {
        if lazyFreesServerDeletes { LazyFree.shared.dispose(e) } else { EntryStorage.free(e) }
    }

    /// Called when a key is added that did not exist (Redis's dbAdd): keyspace `new` events.
    public var keyAdded: ((UnsafeRawBufferPointer) -> Void)?

    public init(id: Int) { self.id = id }

    @inline(__always) public var count: Int { table.count }

    /// Raw lookup: ignores expiry.
    @inline(__always) public func find(_ key: UnsafeRawBufferPointer) -> Entry? { table.find(key) }

    /// Raw lookup with the key's hash already computed.
    @inline(__always) public func find(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> Entry? { table.find(key, hash: h) }

    public func find(_ key: [UInt8]) -> Entry? { key.withUnsafeBytes { table.find($0) } }

    // MARK: strings

    /// Creates or overwrites `key` with a string value. The TTL is dropped unless
    /// `keepTTL` (then an existing TTL is kept). Returns the new entry.
    @discardableResult
    public func setString(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                          encoding: ValueEncoding = .raw, keepTTL: Bool = false, lru: UInt32 = 0) -> Entry {
        let h = ByteHash.hash(key)   // once, for the lookup and the insert or replace
        return setString(key, value, existing: table.find(key, hash: h), hash: h,
                         encoding: encoding, keepTTL: keepTTL, lru: lru)
    }

    /// setString for a caller that has just looked the key up itself (SET's write lookup):
    /// `existing` is what `find(key, hash: h)` returns right now, so neither the hash nor the
    /// chain walk is repeated.
    @inline(__always) @discardableResult
    public func setString(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, existing: Entry?,
                          hash h: UInt64, encoding: ValueEncoding, keepTTL: Bool, lru: UInt32) -> Entry {
        if let old = existing {
            let keep = keepTTL && old.hasExpire
            let access = keepsAccessFieldOnOverwrite ? old.lru : lru
            if !old.isObject, overwriteInPlace(old, value, keepTTL: keep) {
                old.encoding = encoding
                old.lru = access
                return old
            }
            let exp: Int64? = keep ? old.expireAt : nil
            let e = EntryStorage.makeString(key: key, value: value, expire: exp)
            e.encoding = encoding
            e.lru = access
            table.replace(old, with: e, hash: h)
            if old.hasExpire && !keep { expiresCount -= 1 }
            release(old)
            return e
        }
        let e = EntryStorage.makeString(key: key, value: value, expire: nil)
        e.encoding = encoding
        e.lru = lru
        table.insertNew(e, hash: h)
        if let added = keyAdded { added(key) }
        return e
    }

    /// Writes a new string value into the existing block when the new layout keeps the
    /// expire field as it is and lands in the block's size class: no allocation, and no byte
    /// more than a fresh entry would take (the common SET/INCR pattern; a same-length value is
    /// the fast case). Drops the TTL unless `keepTTL`. Returns false when it cannot.
    private func overwriteInPlace(_ old: Entry, _ value: UnsafeRawBufferPointer, keepTTL: Bool) -> Bool {
        let l = old.lengths
        let wantsField = keepTTL || EntryStorage.reservesExpireField(valueLength: value.count)
        guard old.hasExpireField == wantsField else { return false }
        let newSize: Int
        if l.value != value.count {
            newSize = EntryStorage.layoutSize(keyLength: l.key, valueLength: value.count, expireWidth: old.expireFieldWidth)
            guard tern_malloc_good_size(newSize) == tern_malloc_usable_size(old.raw) else { return false }
        } else {
            newSize = 0
        }
        table.willModify(old)
        if old.hasExpire && !keepTTL {
            // Only a big string gets here with a TTL to drop: its field stays, marked empty.
            old.flags |= Entry.flagNoTTL
            expiresCount -= 1
        }
        var valueOff = l.keyOffset + l.key
        if newSize != 0 {
            // New length: rewrite the value varint; the key moves when its width changes.
            let lo = old.lengthsOffset
            let kSize = Varint.size(of: l.key)
            let oldVSize = l.keyOffset - lo - kSize
            let newVSize = Varint.size(of: value.count)
            if newVSize != oldVSize {
                memmove(old.raw + lo + kSize + newVSize, old.raw + l.keyOffset, l.key)
                valueOff += newVSize - oldVSize
            }
            Varint.write(value.count, to: old.raw + lo + kSize)
        }
        if value.count > 0, let vp = value.baseAddress { memcpy(old.raw + valueOff, vp, value.count) }
        return true
    }

    /// Resizes the string value of an existing string entry, keeping its first
    /// min(old, new) bytes and zero-filling growth. Grows geometrically (like sds)
    /// so repeated APPENDs are amortised O(1). Returns the (possibly moved) entry.
    public func resizeString(_ e: Entry, to newLength: Int) -> Entry {
        precondition(!e.isObject)
        table.willModify(e)
        let l = e.lengths
        let oldLen = l.value
        let lo = e.lengthsOffset
        let kSize = Varint.size(of: l.key)
        let oldVSize = l.keyOffset - lo - kSize
        let newVSize = Varint.size(of: newLength)
        let newKeyOffset = lo + kSize + newVSize
        let needed = newKeyOffset + l.key + newLength
        var cur = e
        if needed > tern_malloc_usable_size(e.raw) {
            let growth = newLength < 1 << 20 ? newLength : (1 << 20)
            let cap = needed + (newLength > oldLen ? growth : 0)
            guard let p = realloc(e.raw, cap) else { fatalError("Tern: out of memory") }
            cur = Entry(p)
            if p != e.raw { relinkMoved(from: e.raw, to: cur) }
        }
        if newVSize != oldVSize {
            // The length varint changed width (127 -> 128 ...): key and kept bytes shift.
            memmove(cur.raw + newKeyOffset, cur.raw + l.keyOffset, l.key + min(oldLen, newLength))
        }
        Varint.write(newLength, to: cur.raw + lo + kSize)
        if newLength > oldLen { memset(cur.raw + newKeyOffset + l.key + oldLen, 0, newLength - oldLen) }
        return cur
    }

    /// After realloc moved an entry, point its bucket link at the new address.
    func relinkMoved(from old: UnsafeMutableRawPointer, to new: Entry) {
        table.replaceMoved(oldAddress: old, with: new)
    }

    // MARK: objects

    /// Creates or overwrites `key` with a collection object (TTL dropped unless keepTTL).
    @discardableResult
    public func setObject(_ key: UnsafeRawBufferPointer, _ object: AnyObject, type: ValueType,
                          encoding: ValueEncoding, keepTTL: Bool = false, lru: UInt32 = 0) -> Entry {
        if let old = table.find(key) {
            let keep = keepTTL && old.hasExpire
            let e = EntryStorage.makeObject(key: key, object: object, type: type, encoding: encoding,
                                            expire: keep ? old.expireAt : nil)
            e.lru = keepsAccessFieldOnOverwrite ? old.lru : lru
            table.replace(old, with: e)
            if old.hasExpire && !keep { expiresCount -= 1 }
            release(old)
            return e
        }
        let e = EntryStorage.makeObject(key: key, object: object, type: type, encoding: encoding, expire: nil)
        e.lru = lru
        table.insertNew(e)
        if let h = keyAdded { h(key) }
        return e
    }

    /// Inserts a prepared entry for a key known to be absent (RENAME/MOVE/COPY/RDB load).
    public func insert(_ e: Entry) {
        table.insertNew(e)
        if e.hasExpire { expiresCount += 1 }
        if let h = keyAdded { h(e.key) }
    }

    // MARK: loading (Redis's dbAddRDBLoad): no `new` event, nothing signalled

    /// Adds a string key read from a file. Returns false, changing nothing, when the key
    /// already exists (the loader decides what a duplicate means).
    @discardableResult
    public func addStringForLoading(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                                    encoding: ValueEncoding, expireAt: Int64?, lru: UInt32) -> Bool {
        let h = ByteHash.hash(key)
        if table.find(key, hash: h) != nil { return false }
        let e = EntryStorage.makeString(key: key, value: value, expire: expireAt)
        e.encoding = encoding
        e.lru = lru
        addLoaded(e, hash: h)
        return true
    }

    /// Adds a collection key read from a file; false when the key already exists.
    @discardableResult
    public func addObjectForLoading(_ key: UnsafeRawBufferPointer, _ object: AnyObject, type: ValueType,
                                    encoding: ValueEncoding, expireAt: Int64?, lru: UInt32) -> Bool {
        let h = ByteHash.hash(key)
        if table.find(key, hash: h) != nil { return false }
        let e = EntryStorage.makeObject(key: key, object: object, type: type, encoding: encoding, expire: expireAt)
        e.lru = lru
        addLoaded(e, hash: h)
        return true
    }

    private func addLoaded(_ e: Entry, hash h: UInt64) {
        table.insertNew(e, hash: h)
        if e.hasExpire { expiresCount += 1 }
    }

    /// Copies an entry's key/value/ttl under a new key name (a new allocation; objects
    /// are shared by reference, so the caller must deep-copy them when needed).
    public static func cloneEntry(_ e: Entry, newKey: UnsafeRawBufferPointer, object: AnyObject? = nil) -> Entry {
        let exp: Int64? = e.hasExpire ? e.expireAt : nil
        let n: Entry
        if e.isObject {
            n = EntryStorage.makeObject(key: newKey, object: object ?? e.object, type: e.type,
                                        encoding: e.encoding, expire: exp)
        } else {
            n = EntryStorage.makeString(key: newKey, value: e.stringValue, expire: exp)
            n.encoding = e.encoding
            n.isPrivateInteger = e.isPrivateInteger
        }
        n.lru = e.lru
        return n
    }

    /// Replaces the object of an object entry in place (e.g. after an encoding conversion
    /// produced a new object). Keeps key and TTL.
    public func replaceObject(_ e: Entry, with object: AnyObject, encoding: ValueEncoding) {
        precondition(e.isObject)
        table.willModify(e)
        let slot = e.raw + e.valueOffset
        let oldRef = slot.loadUnaligned(as: UnsafeMutableRawPointer.self)
        let newRef = Unmanaged<AnyObject>.passRetained(object).toOpaque()
        slot.storeBytes(of: newRef, as: UnsafeMutableRawPointer.self)
        Unmanaged<AnyObject>.fromOpaque(oldRef).release()
        e.encoding = encoding
    }

    // MARK: deletion

    @discardableResult
    public func delete(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let e = table.unlink(key) else { return false }
        if e.hasExpire { expiresCount -= 1 }
        release(e)
        return true
    }

    /// Deletes and frees now, whatever lazyfree-lazy-server-del says (DEL without
    /// lazyfree-lazy-user-del, expiry without lazyfree-lazy-expire: Redis's dbSyncDelete).
    @discardableResult
    public func deleteSynchronously(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let e = table.unlink(key) else { return false }
        if e.hasExpire { expiresCount -= 1 }
        EntryStorage.free(e)
        return true
    }

    /// Deletes, freeing in the background when the value is expensive (UNLINK, lazy
    /// expiry/eviction/user deletes: Redis's dbAsyncDelete).
    @discardableResult
    public func deleteLazily(_ key: UnsafeRawBufferPointer) -> Bool {
        guard let e = table.unlink(key) else { return false }
        if e.hasExpire { expiresCount -= 1 }
        LazyFree.shared.dispose(e)
        return true
    }

    /// Unlinks without freeing (the caller takes ownership: lazy free, MOVE, RENAME).
    public func detach(_ key: UnsafeRawBufferPointer) -> Entry? {
        guard let e = table.unlink(key) else { return nil }
        if e.hasExpire { expiresCount -= 1 }
        return e
    }

    public static func free(_ e: Entry) { EntryStorage.free(e) }

    public func removeAll() {
        table.removeAll()
        expiresCount = 0
        avgTTL = 0
        expireCursor = 0
    }

    /// Swaps contents with another database (SWAPDB); ids stay.
    public func swapContents(with other: Database) {
        table.swapContents(with: other.table)
        swap(&expiresCount, &other.expiresCount)
        swap(&avgTTL, &other.avgTTL)
        swap(&expireCursor, &other.expireCursor)
    }

    /// Detaches all contents into a new database object (for background freeing).
    public func takeAll() -> KeyTable {
        let t = table.takeAll()
        expiresCount = 0
        avgTTL = 0
        expireCursor = 0
        return t
    }

    // MARK: expiry fields

    /// Sets the absolute expiry (ms) of an existing entry. Returns the possibly moved entry.
    @discardableResult
    public func setExpire(_ e: Entry, at when: Int64) -> Entry {
        table.willModify(e)
        if e.hasExpireField && (e.flags & Entry.flagWideExpire != 0 || Entry.fitsNarrowExpire(when)) {
            // The field is there (a TTL already, or a big string's reserved field): O(1).
            if !e.hasExpire {
                e.flags &= ~Entry.flagNoTTL
                expiresCount += 1
            }
            e.expireField = when
            return e
        }
        if !e.hasExpire { expiresCount += 1 }
        let n = resizeExpireField(e, to: EntryStorage.expireWidth(for: when))
        n.flags &= ~Entry.flagNoTTL
        n.expireField = when
        return n
    }

    /// Removes the TTL of an entry. Returns the possibly moved entry.
    @discardableResult
    public func removeExpire(_ e: Entry) -> Entry {
        guard e.hasExpire else { return e }
        table.willModify(e)
        expiresCount -= 1
        if !e.isObject && EntryStorage.reservesExpireField(valueLength: e.valueLength) {
            // Keep the field (marked empty) rather than moving a big value.
            e.flags |= Entry.flagNoTTL
            return e
        }
        return resizeExpireField(e, to: 0)
    }

    /// Changes the expire field to `width` bytes (0, 6 or 8), moving the lengths, key and
    /// value after it; the block grows with realloc, and shrinks only when that reaches a
    /// smaller size class. The new field's content is left to the caller.
    private func resizeExpireField(_ e: Entry, to width: Int) -> Entry {
        let oldWidth = e.expireFieldWidth
        if oldWidth == width { return e }
        let oldSize = e.layoutSize
        let tail = oldSize - Entry.headerSize - oldWidth   // lengths, key, value
        let newSize = oldSize - oldWidth + width
        var n = e
        if newSize > tern_malloc_usable_size(e.raw) {
            guard let p = realloc(e.raw, newSize) else { fatalError("Tern: out of memory") }
            n = Entry(p)
            if p != e.raw { table.replaceMoved(oldAddress: e.raw, with: n) }
        }
        memmove(n.raw + Entry.headerSize + width, n.raw + Entry.headerSize + oldWidth, tail)
        var f = n.flags & ~(Entry.flagExpire | Entry.flagWideExpire)
        if width != 0 { f |= Entry.flagExpire }
        if width == 8 { f |= Entry.flagWideExpire }
        n.flags = f
        if newSize < oldSize && tern_malloc_good_size(newSize) < tern_malloc_usable_size(n.raw),
           let p = realloc(n.raw, newSize), p != n.raw {
            let moved = Entry(p)
            table.replaceMoved(oldAddress: n.raw, with: moved)
            return moved
        }
        return n
    }
}
