import TernConfig
import TernPersistence
import TernProtocol
import TernStore

/// DUMP and RESTORE (cluster.c's dumpCommand/restoreCommand). The payload codec lives in
/// TernPersistence (RDB value writer/reader); this file is only the commands' semantics.
public enum DumpRestoreCommands {
    static func dump(_ c: Client, _ a: Args) {
        guard let e = c.lookupRead(a[1]) else { c.out.null(); return }
        guard let payload = DumpPayload.make(e, compression: c.engine.config.rdbcompression) else {
            c.error("ERR DUMP is not supported for this value type")
            return
        }
        c.out.bulk(payload)
    }

    /// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
    /// Checks run in Redis's order: options, BUSYKEY, TTL, footer, decoding.
    static func restore(_ c: Client, _ a: Args) {
        let engine = c.engine
        var replace = false, absttl = false
        var idle = -1, freq = -1
        var j = 4
        while j < a.count {
            let more = a.count - j - 1
            if a.equals(j, "replace") {
                replace = true
            } else if a.equals(j, "absttl") {
                absttl = true
            } else if a.equals(j, "idletime") && more >= 1 && freq == -1 {
                guard let v = Numbers.parseInt(a[j + 1]) else { c.notInteger(); return }
                if v < 0 { c.error("ERR Invalid IDLETIME value, must be >= 0"); return }
                idle = v
                j += 1
            } else if a.equals(j, "freq") && more >= 1 && idle == -1 {
                guard let v = Numbers.parseInt(a[j + 1]) else { c.notInteger(); return }
                if v < 0 || v > 255 { c.error("ERR Invalid FREQ value, must be >= 0 and <= 255"); return }
                freq = v
                j += 1
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }
        let key = a[1]
        if !replace && c.lookupWrite(key) != nil {
            c.error("BUSYKEY Target key name already exists.")
            return
        }
        guard var ttl = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        if ttl < 0 { c.error("ERR Invalid TTL value, must be >= 0"); return }

        let payload = Array(a[3])
        let footerOK = payload.withUnsafeBytes {
            DumpPayload.verify($0, skipChecksum: engine.debugState.skipChecksumValidation)
        }
        guard footerOK else { c.error("ERR DUMP payload version or checksum are wrong"); return }

        // sanitize-dump-payload: yes always validates deeply; clients only for commands
        // that do not come from the master nor from a user flagged skip-sanitize-payload.
        let mode = engine.config.sanitizeDumpPayload
        let deep = mode == "yes" || (mode == "clients" && !c.flags.contains(.master) && c.aclUser?.skipsPayloadSanitizing != true)
        let value: RDBValue
        do {
            value = try DumpPayload.decode(payload, deep: deep, limits: EncodingLimits(engine.config),
                                           sanitizations: &engine.infoState.dumpPayloadSanitizations)
        } catch {
            c.error("ERR Bad data format")
            return
        }

        // Only now is the keyspace touched: a bad payload leaves the old key in place.
        let db = c.db
        var deleted = false
        if replace && db.find(key) != nil {
            db.delete(key)
            deleted = true
        }
        if ttl != 0 && !absttl { ttl = ttl &+ Int(engine.nowMs) }
        if ttl != 0 && Int64(ttl) <= engine.nowMs && !engine.isReplicaOfMaster {
            // Already expired: the key is not created; a replaced key is reported deleted.
            if deleted {
                let lazy = engine.config.lazyfreeLazyServerDel
                c.propagateAs = [OwnedArgs([Array((lazy ? "UNLINK" : "DEL").utf8), Array(key)])]
                c.keyModified(key)
                c.notify(.generic, "del", key)
                engine.dirty += 1
            }
            c.out.ok()
            return
        }

        // The LRU/LFU field the options ask for; nil keeps the new-object default.
        var field: UInt32? = nil
        if engine.config.usesLFU {
            if freq >= 0 { field = (UInt32(truncatingIfNeeded: engine.nowMs / 60_000) & 0xFFFF) << 8 | UInt32(freq) }
        } else if idle >= 0 {
            // 7.0.15 stores clock - idle in the 24-bit field as is: an idle time beyond the
            // clock wraps round it (OBJECT IDLETIME then reports idle mod 2^24, as Redis does).
            field = UInt32(truncatingIfNeeded: Int(engine.lruClock) &- idle) & 0xFF_FFFF
        }
        let lru = engine.objectLRU

        var entry: Entry
        let type: ValueType
        switch value {
        case .string(let s):
            entry = s.withUnsafeBytes { db.setString(key, $0, encoding: Numbers.stringEncoding($0), lru: lru) }
            type = .string
        case .collection(let obj, let t, let enc):
            entry = db.setObject(key, obj, type: t, encoding: enc, lru: lru)
            type = t
        }
        if ttl != 0 {
            entry = db.setExpire(entry, at: Int64(ttl))
            if !absttl {
                // Replicas and the AOF get the absolute time.
                var argv = a.all
                argv[2] = Array(String(ttl).utf8)
                argv.append(Array("ABSTTL".utf8))
                c.propagateAs = [OwnedArgs(argv)]
            }
        }
        // Shared integers carry one field for all their users, as in Redis.
        if let field { engine.setLRUField(of: entry, field) }
        KeyCommands.signalReadyIfBlockable(engine, db, key, type)
        c.keyModified(key)
        c.notify(.generic, "restore", key)
        c.out.ok()
        engine.dirty += 1
    }
}
