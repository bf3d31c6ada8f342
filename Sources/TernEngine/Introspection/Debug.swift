import CTern
import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerDebugCommand() {
        // Protected (the command table's flag): dispatch refuses it unless
        // enable-debug-command allows the client.
        commands.register("debug", DebugCommand.debug)
    }
}

/// Settings toggled by DEBUG subcommands (Engine.debugState).
public final class DebugState {
    public var aofFlushSleepMicros = 0
    public var skipChecksumValidation = false
    public var dropClusterPacketFilter = -1
    public var disableDenyScripts = false
    public var replyBufferPeakResetTimeMs = 5000
    public var replyBufferResizing = true
}

/// DEBUG (debug.c): introspection and test helpers, refused unless enable-debug-command allows.
public enum DebugCommand {
    static let notAllowed = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."

    /// enable-debug-command: yes, no, or local (unix socket or loopback peers only).
    public static func isAllowed(_ c: Client) -> Bool {
        switch c.engine.config.enableDebugCommand.lowercased() {
        case "yes": return true
        case "local": return isLocal(c)
        default: return false
        }
    }

    static func isLocal(_ c: Client) -> Bool {
        if c.flags.contains(.unixSocket) || c.flags.contains(.fake) { return true }
        var host = Substring(c.remoteAddress)
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        return host == "127.0.0.1" || host == "::1"
    }

    static func unknownSubcommand(_ c: Client, _ a: Args) {
        let name = String(decoding: a[1].prefix(128), as: UTF8.self)
        c.error("ERR unknown subcommand or wrong number of arguments for '\(name)'. Try DEBUG HELP.")
    }

    static func debug(_ c: Client, _ a: Args) {
        // Dispatch refuses DEBUG first (Engine.protectedCommandRefusal); this covers direct calls.
        guard isAllowed(c) else { c.error(notAllowed); return }
        let sub = a.lowercased(1)
        let n = a.count
        switch sub {
        case "help" where n == 2: ObjectCommand.replyHelp(c, helpLines)
        case "segfault", "panic", "assert", "oom": crash(c, sub)
        case "log" where n == 3:
            c.engine.log(.warning, "DEBUG LOG: \(a.string(2))")
            c.out.ok()
        case "leak" where n == 3: c.out.ok()
        case "reload": reload(c, a)
        case "loadaof":
            if c.engine.aof.state == .off { c.error("ERR DEBUG LOADAOF is not available: AOF is not enabled"); return }
            AOFCommands.debugLoadAOF(c)
        case "drop-cluster-packet-filter" where n == 3:
            guard let v = Numbers.parseInt(a[2]) else { c.notInteger(); return }
            c.engine.debugState.dropClusterPacketFilter = v
            c.out.ok()
        case "object" where n == 3: object(c, a)
        case "sdslen" where n == 3: sdslen(c, a)
        case "listpack" where n == 3: encodingProbe(c, a, [.listpack], "Listpack structure printed on stdout", "Not a listpack encoded object.")
        case "quicklist" where n == 3 || n == 4: encodingProbe(c, a, [.quicklist], "Quicklist structure printed on stdout", "Not a quicklist encoded object.")
        case "populate" where n >= 3 && n <= 5: populate(c, a)
        case "digest" where n == 2: c.out.simple(Digest20.dataset(c.engine).hex)
        case "digest-value" where n >= 2:
            c.out.array(n - 2)
            for i in 2..<max(2, n) { c.out.simple(Digest20.value(c.db.find(a[i])).hex) }
        case "protocol" where n == 3: proto(c, a)
        case "sleep" where n == 3: sleep(c, a)
        case "set-active-expire" where n == 3:
            c.engine.activeExpireEnabled = atoi(a[2]) != 0
            c.out.ok()
        case "quicklist-packed-threshold" where n == 3: packedThreshold(c, a)
        case "set-skip-checksum-validation" where n == 3:
            c.engine.debugState.skipChecksumValidation = atoi(a[2]) != 0
            c.out.ok()
        case "aof-flush-sleep" where n == 3:
            c.engine.debugState.aofFlushSleepMicros = atoi(a[2])
            c.out.ok()
        case "set-disable-deny-scripts" where n == 3:
            c.engine.debugState.disableDenyScripts = atoi(a[2]) != 0
            c.out.ok()
        case "replicate" where n >= 3:
            // Feeds the command to the replication/AOF stream without executing it.
            var argv: [[UInt8]] = []
            for i in 2..<n { argv.append(a.bytes(i)) }
            c.engine.alsoPropagate(db: c.db.id, OwnedArgs(argv))
            c.out.ok()
        case "error" where n == 3:
            var msg = a.bytes(2).map { $0 == 10 || $0 == 13 ? 32 : $0 }
            msg.insert(45, at: 0)
            msg += [13, 10]
            c.out.append(msg)
        case "structsize" where n == 2:
            c.out.bulk("bits:\(Int.bitWidth) entry_header:\(Entry.headerSize) expire_field:8 object_ref:8 bucket_slot:8 ")
        case "htstats" where n == 3: htstats(c, a)
        case "htstats-key" where n == 3:
            guard let e = c.db.find(a[2]) else { c.noSuchKey(); return }
            _ = e
            c.error("ERR The value stored at the specified key is not represented using an hash table")
        case "change-repl-id" where n == 2:
            c.engine.log(.warning, "Changing replication IDs after receiving DEBUG change-repl-id")
            c.out.ok()
        case "stringmatch-test" where n == 2:
            stringmatchFuzz()
            c.out.simple("Apparently Redis did not crash: test passed")
        case "mallctl" where n >= 3, "mallctl-str" where n >= 3:
            if sub == "mallctl" && n >= 4 && Numbers.parseInt(a[3]) == nil { c.notInteger(); return }
            c.error("ERR No such file or directory")
        case "restart", "crash-and-recover":
            if n >= 3 && Numbers.parseInt(a[2]) == nil { c.notInteger(); return }
            c.error("ERR failed to restart the server. Check server logs.")
        case "config-rewrite-force-all" where n == 2:
            c.error("ERR CONFIG-REWRITE-FORCE-ALL failed: The server is running without a config file")
        case "client-eviction" where n == 2:
            guard let report = c.engine.clientEvictionReport() else { c.error("ERR maxmemory-clients is disabled."); return }
            c.out.verbatim(report)
        case "pause-cron" where n == 3:
            c.engine.cronPaused = atoi(a[2]) != 0
            c.out.ok()
        case "replybuffer" where n == 4:
            if a.equals(2, "peak-reset-time") {
                if a.equals(3, "never") { c.engine.debugState.replyBufferPeakResetTimeMs = -1 }
                else if a.equals(3, "reset") { c.engine.debugState.replyBufferPeakResetTimeMs = 5000 }
                else {
                    guard let v = Numbers.parseInt(a[3]) else { c.notInteger(); return }
                    c.engine.debugState.replyBufferPeakResetTimeMs = v
                }
            } else if a.equals(2, "resizing") {
                c.engine.debugState.replyBufferResizing = atoi(a[3]) != 0
            } else {
                unknownSubcommand(c, a)
                return
            }
            c.out.ok()
        case "clusterlink" where n == 5:
            c.error("ERR Debug option only available for cluster mode enabled setup!")
        default:
            unknownSubcommand(c, a)
        }
    }

    // MARK: helpers

    /// C atoi(): optional spaces and sign, then digits; anything else stops (0 if none).
    static func atoi(_ b: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i < b.count && (b[i] == 32 || (b[i] >= 9 && b[i] <= 13)) { i += 1 }
        var neg = false
        if i < b.count && (b[i] == 45 || b[i] == 43) { neg = b[i] == 45; i += 1 }
        var v: Int32 = 0
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            v = v &* 10 &+ Int32(b[i] - 48)
            i += 1
        }
        return Int(neg ? 0 &- v : v)
    }

    /// C strtod() on the argument (prefix parse; garbage yields 0).
    static func strtod(_ b: UnsafeRawBufferPointer) -> Double {
        var cstr = [CChar](repeating: 0, count: b.count + 1)
        for i in 0..<b.count { cstr[i] = CChar(bitPattern: b[i]) }
        var consumed = 0
        return cstr.withUnsafeBufferPointer { tern_strtod($0.baseAddress, &consumed) }
    }

    static func crash(_ c: Client, _ what: String) {
        switch what {
        case "assert": c.engine.log(.warning, "=== ASSERTION FAILED ===\n==> debug.c: '1 == 2' is not true")
        case "panic": c.engine.log(.warning, "------------------------------------------------\n!!! Software Failure. Press left mouse button to continue\nGuru Meditation: DEBUG PANIC called at Unix time \(c.engine.nowMs / 1000)")
        case "oom": c.engine.log(.warning, "Out Of Memory allocating 18446744073709551615 bytes!")
        default: c.engine.log(.warning, "Crashed by DEBUG SEGFAULT")
        }
        if what == "segfault" { raise(SIGSEGV) }
        abort()
    }

    static func reload(_ c: Client, _ a: Args) {
        for i in 2..<max(2, a.count) {
            if !(a.equals(i, "merge") || a.equals(i, "noflush") || a.equals(i, "nosave")) {
                c.error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
                return
            }
        }
        var flush = true, save = true, merge = false
        for i in 2..<max(2, a.count) {
            if a.equals(i, "merge") { merge = true }
            if a.equals(i, "noflush") { flush = false }
            if a.equals(i, "nosave") { save = false }
        }
        let engine = c.engine
        // Never save or load over a startup load in progress (DEBUG is flagged `loading`).
        if engine.loading.active { c.error("ERR Error trying to load the RDB dump"); return }
        if save && !engine.saveRDB() { c.error("ERR Error trying to save the DB"); return }
        if flush { engine.emptyData(nil, async: false) }
        guard engine.loadRDB(merge: merge) == .loaded else {
            c.error("ERR Error trying to load the RDB dump")
            return
        }
        engine.log(.warning, "DB reloaded by DEBUG RELOAD")
        c.out.ok()
    }

    static func encodingProbe(_ c: Client, _ a: Args, _ encodings: [ValueEncoding], _ ok: String, _ wrong: String) {
        guard let e = c.db.find(a[2]) else { c.noSuchKey(); return }
        if e.isObject && encodings.contains(e.encoding) { c.out.simple(ok) } else { c.error("ERR " + wrong) }
    }

    // MARK: OBJECT / SDSLEN

    static func hexAddress(_ p: UnsafeRawPointer) -> String { "0x" + String(UInt(bitPattern: p), radix: 16) }

    static func object(_ c: Client, _ a: Args) {
        guard let e = c.db.find(a[2]) else { c.noSuchKey(); return }
        let engine = c.engine
        let address: String
        if e.isObject {
            address = hexAddress(UnsafeRawPointer(Unmanaged.passUnretained(e.object).toOpaque()))
        } else {
            address = hexAddress(e.raw)
        }
        let serialized = serializedLength(e)
        let field = engine.lruField(of: e)
        let lru = Int(field & 0xFF_FFFF)
        let idle = ObjectCommand.idleMillis(engine, field) / 1000
        c.out.simple("Value at:\(address) refcount:\(ObjectCommand.refcountOf(engine, e)) encoding:\(e.encoding.name) serializedlength:\(serialized) lru:\(lru) lru_seconds_idle:\(idle)")
    }

    /// RDB length prefix size.
    static func lengthSize(_ n: Int) -> Int {
        if n < 64 { return 1 }
        if n < 16384 { return 2 }
        if n <= Int(UInt32.max) { return 5 }
        return 9
    }

    /// RDB string size without compression (integers in int8/16/32 special encodings).
    static func rdbStringSize(_ b: UnsafeRawBufferPointer, intEncoded: Bool) -> Int {
        if intEncoded || b.count <= 11, let v = Numbers.parseInt(b) {
            if v >= -128 && v <= 127 { return 2 }
            if v >= -32768 && v <= 32767 { return 3 }
            if v >= Int(Int32.min) && v <= Int(Int32.max) { return 5 }
        }
        return lengthSize(b.count) + b.count
    }

    /// Approximate serialized length (exact for strings short enough not to be compressed).
    static func serializedLength(_ e: Entry) -> Int {
        if !e.isObject { return rdbStringSize(e.stringValue, intEncoded: e.encoding == .int) }
        guard let coll = e.object as? StoredCollection else { return 0 }
        var total = lengthSize(coll.elementCount)
        coll.forEachDigestItem { first, second in
            total += rdbStringSize(first, intEncoded: false)
            if let s = second { total += rdbStringSize(s, intEncoded: false) }
        }
        return total
    }

    static func sdslen(_ c: Client, _ a: Args) {
        guard let e = c.db.find(a[2]) else { c.noSuchKey(); return }
        guard !e.isObject, e.encoding != .int else { c.error("ERR Not an sds encoded string."); return }
        let keyLen = e.keyLength, valLen = e.stringValue.count
        let alloc = e.allocatedSize
        let avail = max(0, alloc - (e.keyPointer - UnsafeRawPointer(e.raw)) - keyLen - valLen)
        c.out.simple("key_sds_len:\(keyLen), key_sds_avail:0, key_zmalloc: \(alloc), val_sds_len:\(valLen), val_sds_avail:\(avail), val_zmalloc: \(alloc)")
    }

    // MARK: POPULATE

    static func populate(_ c: Client, _ a: Args) {
        let outOfRange = "ERR value is out of range, must be positive"
        guard let count = Numbers.parseInt(a[2]), count >= 0 else { c.error(outOfRange); return }
        // Redis tries to pre-size its table; an impossible size fails there.
        if count > 1 << 32 { c.error("ERR OOM in dictTryExpand"); return }
        var size = 0
        if a.count == 5 {
            guard let v = Numbers.parseInt(a[4]), v >= 0 else { c.error(outOfRange); return }
            if v > c.engine.config.protoMaxBulkLen { c.error("ERR value size exceeds proto-max-bulk-len"); return }
            size = v
        }
        // The prefix is a C string, and "prefix:N" is cut to 127 bytes like snprintf into buf[128].
        var prefix: [UInt8] = Array("key".utf8)
        if a.count >= 4 {
            let p = a[3]
            prefix = Array(p.prefix(while: { $0 != 0 }))
        }
        let lru = c.engine.objectLRU
        var key = [UInt8]()
        var value = [UInt8]()
        for j in 0..<count {
            key.removeAll(keepingCapacity: true)
            key += prefix
            key.append(58)
            key += String(j).utf8
            if key.count > 127 { key.removeLast(key.count - 127) }
            let exists = key.withUnsafeBytes { c.lookupWrite($0) != nil }
            if exists { continue }
            value.removeAll(keepingCapacity: true)
            value += "value:".utf8
            value += String(j).utf8
            if size > 0 {
                if value.count > size { value.removeLast(value.count - size) }
                else if value.count < size { value += [UInt8](repeating: 0, count: size - value.count) }
            }
            key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    _ = c.db.setString(k, v, encoding: v.count <= 44 ? .embstr : .raw, lru: lru)
                }
                c.keyModified(k)
            }
        }
        c.out.ok()
    }

    // MARK: PROTOCOL

    static func proto(_ c: Client, _ a: Args) {
        let out = c.out
        switch a.lowercased(2) {
        case "string": out.bulk("Hello World")
        case "integer": out.integer(12345)
        case "double": out.double(3.141)
        case "bignum": out.bigNumber("1234567999999999999999999999999999999")
        case "null": out.null()
        case "array":
            out.array(3)
            for i in 0..<3 { out.integer(i) }
        case "set":
            out.set(3)
            for i in 0..<3 { out.integer(i) }
        case "map":
            out.map(3)
            for i in 0..<3 { out.integer(i); out.bool(i == 1) }
        case "attrib":
            if c.resp >= 3 {
                out.append("|1\r\n")
                out.bulk("key-popularity")
                out.array(2)
                out.bulk("key:123")
                out.integer(90)
            }
            out.bulk("Some real reply following the attribute")
        case "push":
            if c.resp < 3 {
                c.error("ERR RESP2 is not supported by this command")
                return
            }
            out.push(2)
            out.bulk("server-cpu-usage")
            out.integer(42)
            out.bulk("Some real reply following the push reply")
        case "verbatim": out.verbatim("This is a verbatim\nstring")
        case "true": out.bool(true)
        case "false": out.bool(false)
        default:
            c.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
        }
    }

    // MARK: SLEEP / QUICKLIST-PACKED-THRESHOLD / HTSTATS

    /// Blocks the server like Redis does. (long long)(seconds*1e6) with C's x86 conversion:
    /// NaN, infinities and out-of-range values become negative, so no sleep.
    static func sleep(_ c: Client, _ a: Args) {
        let seconds = strtod(a[2])
        let micros = seconds * 1_000_000
        if micros.isFinite && micros >= 1 && micros < 9.2e18 {
            var remaining = timespec(tv_sec: Int(micros) / 1_000_000, tv_nsec: (Int(micros) % 1_000_000) * 1000)
            var left = timespec()
            while nanosleep(&remaining, &left) != 0 && errno == EINTR { remaining = left }
        }
        c.out.ok()
    }

    /// memtoull(): the config file's memory syntax (ConfigText.parseMemory), on at most 127
    /// characters (Redis copies the digits into a 128-byte buffer).
    static func parseMemory(_ b: UnsafeRawBufferPointer) -> UInt64? {
        guard b.count < 128 || b.prefix(128).contains(where: { $0 < 48 || $0 > 57 }) else { return nil }
        return ConfigText.parseMemory(String(decoding: b, as: UTF8.self))
    }

    static func packedThreshold(_ c: Client, _ a: Args) {
        let limit: UInt64 = (1 << 32) - (1 << 20)
        guard let size = parseMemory(a[2]), size <= limit else {
            c.error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")
            return
        }
        c.engine.quicklistPackedThreshold = size == 0 ? 1 << 30 : Int(size)
        c.out.ok()
    }

    static func htstats(_ c: Client, _ a: Args) {
        guard let id = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        guard let db = c.engine.database(id) else { c.error("ERR Out of range database"); return }
        var s = "[Dictionary HT]\n" + db.table.statsText() + "[Expires HT]\n"
        if db.expiresCount == 0 {
            s += "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
        } else {
            // Tern keeps expire times inside the entries; report the count only.
            s += "Hash table 0 stats (main hash table):\n number of elements: \(db.expiresCount)\n"
        }
        c.out.verbatim(s)
    }

    /// DEBUG STRINGMATCH-TEST: random patterns against random strings must not crash.
    static func stringmatchFuzz() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array("*?[]^-\\ab".utf8) + [0, 255]
        for _ in 0..<100_000 {
            let p = (0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let s = (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = Glob.match(p, s, nocase: Bool.random(using: &rng))
        }
    }

    static let helpLines: [String] = [
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "AOF-FLUSH-SLEEP <microsec>",
        "    Server will sleep before flushing the AOF, this is used for testing.",
        "ASSERT",
        "    Crash by assertion failed.",
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "CONFIG-REWRITE-FORCE-ALL",
        "    Like CONFIG REWRITE but writes all configuration options, including",
        "    keywords not listed in original configuration file or default values.",
        "CRASH-AND-RECOVER [<milliseconds>]",
        "    Hard crash and restart after a <milliseconds> delay (default 0).",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LEAK <string>",
        "    Create a memory leak of the input string.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "HTSTATS <dbid>",
        "    Return hash table statistics of the specified Redis database.",
        "HTSTATS-KEY <key>",
        "    Like HTSTATS but for the hash table stored at <key>'s value.",
        "LOADAOF",
        "    Flush the AOF buffers on disk and reload the AOF in memory.",
        "REPLICATE <string>",
        "    Replicates the provided string to replicas, allowing data divergence.",
        "MALLCTL <key> [<val>]",
        "    Get or set a malloc tuning integer.",
        "MALLCTL-STR <key> [<val>]",
        "    Get or set a malloc tuning string.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "DROP-CLUSTER-PACKET-FILTER <packet-type>",
        "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
        "OOM",
        "    Crash the server simulating an out-of-memory error.",
        "PANIC",
        "    Crash the server simulating a panic.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. These are not propagated to",
        "    replicas. Cluster slots are not respected so keys not belonging to the",
        "    current node can be created in cluster mode.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
        "    * MERGE: conflicting keys will be loaded from RDB.",
        "    * NOFLUSH: the existing database will not be removed before load, but",
        "      conflicting keys will generate an exception and kill the server.",
        "    * NOSAVE: the database will be loaded from an existing RDB file.",
        "    Examples:",
        "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
        "      the database.",
        "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
        "      existing RDB file.",
        "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
        "      file to the database.",
        "RESTART [<milliseconds>]",
        "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
        "SDSLEN <key>",
        "    Show low level SDS string info representing `key` and value.",
        "SEGFAULT",
        "    Crash the server with sigsegv.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Sets the threshold for elements to be inserted as plain vs packed nodes",
        "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
        "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
        "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "STRINGMATCH-TEST",
        "    Run a fuzz tester against the stringmatchlen() function.",
        "STRUCTSIZE",
        "    Return the size of different Redis core C structures.",
        "LISTPACK <key>",
        "    Show low level info about the listpack encoding of <key>.",
        "QUICKLIST <key> [<0|1>]",
        "    Show low level info about the quicklist encoding of <key>.",
        "    The optional argument (0 by default) sets the level of detail",
        "CLIENT-EVICTION",
        "    Show low level client eviction pools info (maxmemory-clients).",
        "PAUSE-CRON <0|1>",
        "    Stop periodic cron job processing.",
        "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
        "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
        "    In case NEVER is provided the last observed peak will never be reset",
        "    In case RESET is provided the peak reset time will be restored to the default value",
        "REPLYBUFFER RESIZING <0|1>",
        "    Enable or disable the reply buffer resize cron job",
        "CLUSTERLINK KILL <to|from|all> <node-id>",
        "    Kills the link based on the direction to/from (both) with the provided node.",
        "HELP",
        "    Prints this help.",
    ]
}
