import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerKeyCommands() {
        commands.register("flushall", KeyCommands.flushall)
        commands.register("flushdb", KeyCommands.flushdb)
        commands.register("dbsize", KeyCommands.dbsize)
        commands.register("del", KeyCommands.del)
        commands.register("unlink", KeyCommands.unlink)
        commands.register("exists", KeyCommands.exists)
        commands.register("type", KeyCommands.type)
        commands.register("touch", KeyCommands.touch)
        commands.register("rename", KeyCommands.rename)
        commands.register("renamenx", KeyCommands.renamenx)
        commands.register("keys", KeyCommands.keys)
        commands.register("scan", KeyCommands.scan)
        commands.register("randomkey", KeyCommands.randomkey)
        commands.register("swapdb", KeyCommands.swapdb)
        commands.register("move", KeyCommands.move)
        commands.register("copy", KeyCommands.copy)
        commands.register("dump", DumpRestoreCommands.dump)
        commands.register("restore", DumpRestoreCommands.restore)
        // RESTORE-ASKING is RESTORE flagged asking (cluster dispatch lets it into an importing slot).
        commands.register("restore-asking", DumpRestoreCommands.restore)
        commands.register("migrate", MigrateCommand.migrate)
        registerExpireCommands()
        registerObjectCommands()
        registerMemoryCommands()
        registerDebugCommand()
    }
}

/// Generic keyspace commands (db.c).
public enum KeyCommands {
    /// Blocked clients may wait on keys of these types (dbAdd's signalKeyAsReady).
    static func signalReadyIfBlockable(_ engine: Engine, _ db: Database, _ key: UnsafeRawBufferPointer, _ type: ValueType) {
        if type == .list || type == .zset || type == .stream { engine.signalKeyReady(db, key) }
    }

    // MARK: FLUSHALL / FLUSHDB / DBSIZE

    /// Parses [ASYNC|SYNC]; nil after replying a syntax error.
    static func flushMode(_ c: Client, _ a: Args) -> Bool? {
        if a.count == 1 { return c.engine.config.lazyfreeLazyUserFlush }
        if a.count == 2 {
            if a.equals(1, "sync") { return false }
            if a.equals(1, "async") { return true }
        }
        c.syntaxError()
        return nil
    }

    /// FLUSHALL counts the removed keys (7.0.15 adds nothing for the command itself) and
    /// propagates even when there was nothing to remove. With save points Redis also saves
    /// an RDB here (the persistence issue).
    static func flushall(_ c: Client, _ a: Args) {
        guard let async = flushMode(c, a) else { return }
        c.engine.dirty += c.engine.emptyData(nil, async: async)
        c.forcePropagation = true
        c.out.ok()
    }

    /// FLUSHDB counts the removed keys only (an empty db: no change), and propagates anyway.
    static func flushdb(_ c: Client, _ a: Args) {
        guard let async = flushMode(c, a) else { return }
        c.engine.dirty += c.engine.emptyData(c.dbIndex, async: async)
        c.forcePropagation = true
        c.out.ok()
    }

    static func dbsize(_ c: Client, _ a: Args) { c.out.integer(c.db.count) }

    // MARK: DEL / UNLINK / EXISTS / TYPE / TOUCH

    static func delGeneric(_ c: Client, _ a: Args, lazy: Bool) {
        var n = 0
        for i in 1..<a.count {
            let key = a[i]
            guard c.lookupWrite(key) != nil else { continue }
            if lazy { c.db.deleteLazily(key) } else { c.db.deleteSynchronously(key) }
            c.keyModified(key)
            c.notify(.generic, "del", key)
            c.engine.dirty += 1
            n += 1
        }
        c.out.integer(n)
    }

    static func del(_ c: Client, _ a: Args) { delGeneric(c, a, lazy: c.engine.config.lazyfreeLazyUserDel) }

    static func unlink(_ c: Client, _ a: Args) { delGeneric(c, a, lazy: true) }

    /// EXISTS counts a key once per mention.
    static func exists(_ c: Client, _ a: Args) {
        var n = 0
        for i in 1..<a.count where c.lookup(a[i], .noTouch) != nil { n += 1 }
        c.out.integer(n)
    }

    static func typeName(_ e: Entry?) -> StaticString {
        guard let e else { return "none" }
        switch e.type {
        case .string: return "string"
        case .list: return "list"
        case .set: return "set"
        case .zset: return "zset"
        case .hash: return "hash"
        case .stream: return "stream"
        case .module: return "module"
        }
    }

    static func type(_ c: Client, _ a: Args) {
        let name = typeName(c.lookup(a[1], .noTouch))
        c.out.append("+")
        c.out.append(name)
        c.out.append("\r\n")
    }

    static func touch(_ c: Client, _ a: Args) {
        var n = 0
        for i in 1..<a.count where c.lookupRead(a[i]) != nil { n += 1 }
        c.out.integer(n)
    }

    // MARK: RENAME / RENAMENX

    static func rename(_ c: Client, _ a: Args) { renameGeneric(c, a, nx: false) }
    static func renamenx(_ c: Client, _ a: Args) { renameGeneric(c, a, nx: true) }

    static func renameGeneric(_ c: Client, _ a: Args, nx: Bool) {
        let src = a[1], dst = a[2]
        let sameKey = src.elementsEqual(dst)
        guard c.lookupWrite(src) != nil else { c.noSuchKey(); return }
        if sameKey {
            if nx { c.out.integer(0) } else { c.out.ok() }
            return
        }
        if c.lookupWrite(dst) != nil {
            if nx { c.out.integer(0); return }
            c.db.delete(dst)   // dbDelete: lazyfree-lazy-server-del decides
        }
        guard let old = c.db.detach(src) else { c.noSuchKey(); return }
        // The value (or object reference) moves under the new name; TTL and LRU go along.
        let moved = Database.cloneEntry(old, newKey: dst)
        Database.free(old)
        c.db.insert(moved)
        signalReadyIfBlockable(c.engine, c.db, dst, moved.type)
        c.keyModified(src)
        c.keyModified(dst)
        c.notify(.generic, "rename_from", src)
        c.notify(.generic, "rename_to", dst)
        c.engine.dirty += 1
        if nx { c.out.integer(1) } else { c.out.ok() }
    }

    // MARK: KEYS / SCAN / RANDOMKEY

    static func keys(_ c: Client, _ a: Args) {
        let pattern = a[1]
        let all = Glob.isMatchAll(pattern)
        let token = c.out.deferredLength()
        var n = 0
        let engine = c.engine
        let out = c.out
        c.db.table.forEach { e in
            let k = e.key
            guard all || Glob.match(pattern, k) else { return }
            if engine.isExpired(e) { return }
            out.bulk(k)
            n += 1
        }
        out.setDeferredArray(token, n)
    }

    /// Cursor text as strtoul reads it: no leading space, optional sign, decimal digits,
    /// nothing after (a NUL ends the C string); "-n" wraps; overflow is an error.
    static func parseCursor(_ b: UnsafeRawBufferPointer) -> UInt64? {
        var end = b.count
        if let z = b.firstIndex(of: 0) { end = z }
        if end == 0 { return 0 }
        let first = b[0]
        if first == 32 || (first >= 9 && first <= 13) { return nil }
        var i = 0
        var negative = false
        if first == 45 || first == 43 { negative = first == 45; i = 1 }
        if i >= end { return nil }   // sign without digits: nothing was parsed
        var v: UInt64 = 0
        var overflow = false
        while i < end {
            let d = b[i] &- 48
            if d > 9 { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { overflow = true }
            v = s
            i += 1
        }
        if overflow { return nil }
        return negative ? 0 &- v : v
    }

    static func scan(_ c: Client, _ a: Args) {
        guard let cursor = parseCursor(a[1]) else { c.error("ERR invalid cursor"); return }
        var count = 10
        var patternIndex = -1
        var typeIndex = -1
        var i = 2
        while i < a.count {
            let more = a.count - i
            if a.equals(i, "count") && more >= 2 {
                guard let v = Numbers.parseInt(a[i + 1]) else { c.notInteger(); return }
                if v < 1 { c.syntaxError(); return }
                count = v
                i += 2
            } else if a.equals(i, "match") && more >= 2 {
                patternIndex = i + 1
                i += 2
            } else if a.equals(i, "type") && more >= 2 {
                typeIndex = i + 1
                i += 2
            } else {
                c.syntaxError()
                return
            }
        }
        let usePattern = patternIndex >= 0 && !Glob.isMatchAll(a[patternIndex])
        let pattern = patternIndex >= 0 ? a[patternIndex] : UnsafeRawBufferPointer(start: nil, count: 0)

        // Step 1: walk buckets (Redis: at most count*10 steps, until count keys collected).
        var found: [[UInt8]] = []
        var collected = 0
        var cur = cursor
        var budget = count.multipliedReportingOverflow(by: 10).overflow ? Int.max : count * 10
        let table = c.db.table
        repeat {
            cur = table.scan(cursor: cur) { e in
                collected += 1
                if usePattern && !Glob.match(pattern, e.key) { return }
                found.append(Array(e.key))
            }
            budget -= 1
        } while cur != 0 && budget > 0 && collected < count

        // Step 2: type filter (a no-touch read: counts stats, may expire), expiry filter.
        var reply: [[UInt8]] = []
        reply.reserveCapacity(found.count)
        for k in found {
            let keep: Bool = k.withUnsafeBytes { kb in
                if typeIndex >= 0 {
                    let name = typeName(c.lookup(kb, .noTouch))
                    if !asciiEqualsIgnoringCase(a[typeIndex], name) { return false }
                }
                if let e = c.db.find(kb), e.hasExpire, c.engine.expireIfNeeded(c.db, e) { return false }
                return true
            }
            if keep { reply.append(k) }
        }
        c.out.array(2)
        c.out.bulk(String(cur))
        c.out.array(reply.count)
        for k in reply { c.out.bulk(k) }
    }

    static func asciiEqualsIgnoringCase(_ a: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard a.count == n else { return false }
        let p = s.utf8Start
        for i in 0..<n {
            var x = a[i], y = p[i]
            if x >= 65 && x <= 90 { x |= 0x20 }
            if y >= 65 && y <= 90 { y |= 0x20 }
            if x != y { return false }
        }
        return true
    }

    static func randomkey(_ c: Client, _ a: Args) {
        let db = c.db
        let engine = c.engine
        let allVolatile = db.count == db.expiresCount
        var tries = 100
        while true {
            guard let e = db.table.randomEntry(using: &engine.rng) else { c.out.null(); return }
            if e.hasExpire {
                if allVolatile && engine.isReplicaOfMaster {
                    tries -= 1
                    // Every key may be logically expired on a replica: give up looking.
                    if tries == 0 { c.out.bulk(e.key); return }
                }
                if engine.isExpired(e) {
                    if engine.isReplicaOfMaster {
                        if !c.flags.contains(.master) { continue }
                    } else {
                        engine.expireIfNeeded(db, e)
                        continue
                    }
                }
            }
            c.out.bulk(e.key)
            return
        }
    }

    // MARK: SWAPDB / MOVE / COPY

    /// getIntFromObjectOrReply: a 32-bit integer.
    static func parseInt32(_ b: UnsafeRawBufferPointer) -> Int? {
        guard let v = Numbers.parseInt(b), v >= Int(Int32.min), v <= Int(Int32.max) else { return nil }
        return v
    }

    /// getIntFromObjectOrReply without a custom message: nil after replying.
    static func intArgument(_ c: Client, _ b: UnsafeRawBufferPointer) -> Int? {
        guard let v = Numbers.parseInt(b) else { c.notInteger(); return nil }
        guard v >= Int(Int32.min), v <= Int(Int32.max) else {
            c.error("ERR value is out of range, value must between -2147483648 and 2147483647")
            return nil
        }
        return v
    }

    static func swapdb(_ c: Client, _ a: Args) {
        if c.engine.cluster != nil { c.error("ERR SWAPDB is not allowed in cluster mode"); return }
        guard let i1 = parseInt32(a[1]) else { c.error("ERR invalid first DB index"); return }
        guard let i2 = parseInt32(a[2]) else { c.error("ERR invalid second DB index"); return }
        let engine = c.engine
        guard let d1 = engine.database(i1), let d2 = engine.database(i2) else {
            c.error("ERR DB index is out of range")
            return
        }
        engine.swapDatabases(d1, d2)
        engine.dirty += 1
        c.out.ok()
    }

    static func move(_ c: Client, _ a: Args) {
        if c.engine.cluster != nil { c.error("ERR MOVE is not allowed in cluster mode"); return }
        let key = a[1]
        guard let id = intArgument(c, a[2]) else { return }
        guard let dst = c.engine.database(id) else { c.error("ERR DB index is out of range"); return }
        let src = c.db
        if src === dst { c.error("ERR source and destination objects are the same"); return }
        guard c.lookupWrite(key) != nil else { c.out.integer(0); return }
        if c.lookupWrite(key, in: dst) != nil { c.out.integer(0); return }
        guard let e = src.detach(key) else { c.out.integer(0); return }
        dst.insert(e)
        signalReadyIfBlockable(c.engine, dst, key, e.type)
        c.engine.keyModified(src, key)
        c.engine.keyModified(dst, key)
        c.engine.notify(.generic, "move_from", key, src.id)
        c.engine.notify(.generic, "move_to", key, dst.id)
        c.engine.dirty += 1
        c.out.integer(1)
    }

    static func copy(_ c: Client, _ a: Args) {
        let src = c.db
        var dst = c.db
        var replace = false
        var j = 3
        while j < a.count {
            let more = a.count - j - 1
            if a.equals(j, "replace") {
                replace = true
            } else if a.equals(j, "db") && more >= 1 {
                guard let id = intArgument(c, a[j + 1]) else { return }
                guard let d = c.engine.database(id) else { c.error("ERR DB index is out of range"); return }
                dst = d
                j += 1
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }
        // Cluster mode has db 0 only (the options are checked first, as Redis).
        if c.engine.cluster != nil && (src.id != 0 || dst.id != 0) {
            c.error("ERR Copying to another database is not allowed in cluster mode")
            return
        }
        let key = a[1], newKey = a[2]
        if src === dst && key.elementsEqual(newKey) {
            c.error("ERR source and destination objects are the same")
            return
        }
        guard let e = c.lookupRead(key) else { c.out.integer(0); return }
        if c.lookupWrite(newKey, in: dst) != nil {
            if !replace { c.out.integer(0); return }
            dst.delete(newKey)
        }
        // The source entry cannot have moved: only dst was touched, and deleting a key
        // never reallocates another entry.
        guard let e2 = src.find(key), e2 == e else { c.out.integer(0); return }
        let copy: Entry
        if e.isObject {
            guard let coll = e.object as? StoredCollection else {
                c.error("ERR COPY is not supported for this value type")
                return
            }
            copy = Database.cloneEntry(e, newKey: newKey, object: coll.deepCopy())
        } else {
            copy = Database.cloneEntry(e, newKey: newKey)
        }
        copy.lru = c.engine.objectLRU
        // Redis duplicates the value: an integer becomes a private object (refcount 1).
        if copy.encodingByte == ValueEncoding.int.rawValue { copy.isPrivateInteger = true }
        dst.insert(copy)
        signalReadyIfBlockable(c.engine, dst, newKey, copy.type)
        c.engine.keyModified(dst, newKey)
        c.engine.notify(.generic, "copy_to", newKey, dst.id)
        c.engine.dirty += 1
        c.out.integer(1)
    }
}
