import TernConfig
import TernProtocol
import TernStore

// Client-side caching (Redis's tracking.c semantics).
//
// Default mode: the keys read by a tracking client's read-only commands are remembered in
// one server-wide table (key -> client ids; databases are not distinguished, as in Redis).
// When a key changes, every client that read it gets one invalidation and the key is
// forgotten. BCAST mode: no table; clients register prefixes and get, once per event-loop
// turn, the keys under each prefix that changed. Invalidations go over RESP3 push
// (`>2 invalidate [keys]`) or, with REDIRECT to a RESP2 client in subscribed mode, as a
// `message` on `__redis__:invalidate`. Invalidations for the client whose command caused
// them are sent after that command's reply.

/// One tracking client's options.
final class ClientTracking {
    var redirect = 0
    var bcast = false
    var optin = false
    var optout = false
    var noloop = false
    /// CLIENT CACHING YES/NO given for the next command (or the whole MULTI/EXEC).
    var caching = false
    var brokenRedirect = false
    var prefixes: [[UInt8]] = []
}

/// A BCAST prefix: its clients and the keys under it changed since the last broadcast
/// (key -> id of the client that changed it last, 0 for the server, for NOLOOP).
final class BroadcastPrefix {
    var clients: [Int: Client] = [:]
    var keys: [[UInt8]: Int] = [:]
}

/// A remembered key: the ids of the clients that may cache it and its slot in `keyList`.
final class TrackedKey {
    var clients: Set<Int> = []
    var index: Int
    init(index: Int) { self.index = index }
}

public final class TrackingRegistry {
    /// Set by Engine.init right after creating this registry; the engine owns it and
    /// outlives it.
    unowned(unsafe) var engine: Engine!
    var table: [[UInt8]: TrackedKey] = [:] { didSet { engine.trackingHasKeys = isActive } }
    /// The table's keys, for picking random victims over tracking-table-max-keys.
    var keyList: [[UInt8]] = []
    var totalItems = 0
    var prefixes: [[UInt8]: BroadcastPrefix] = [:] { didSet { engine.trackingHasKeys = isActive } }
    var clients: [Int: ClientTracking] = [:]
    /// Invalidations for the executing client, sent after its reply (nil = flush).
    var pending: [[UInt8]?] = []
    var broadcastScheduled = false
    var evictionRounds = 0

    init() {}

    // INFO fields.
    public var trackingClients: Int { clients.count }
    public var totalKeys: Int { table.count }
    public var totalItemCount: Int { totalItems }
    public var totalPrefixes: Int { prefixes.count }
}

extension TrackingRegistry {
    // MARK: enable / disable

    struct Options {
        var bcast = false, optin = false, optout = false, noloop = false
    }

    func enable(_ c: Client, redirect: Int, _ o: Options, prefixes list: [[UInt8]]) {
        let t: ClientTracking
        if let existing = clients[c.id] {
            t = existing
        } else {
            t = ClientTracking()
            clients[c.id] = t
            c.flags.insert(.tracking)
        }
        engine.trackingActive = true
        t.brokenRedirect = false
        t.bcast = o.bcast
        t.optin = o.optin
        t.optout = o.optout
        t.noloop = o.noloop
        t.redirect = redirect
        if o.bcast {
            if list.isEmpty { addPrefix(c, t, []) }
            for p in list { addPrefix(c, t, p) }
        }
    }

    func addPrefix(_ c: Client, _ t: ClientTracking, _ p: [UInt8]) {
        let bs: BroadcastPrefix
        if let b = prefixes[p] { bs = b } else { bs = BroadcastPrefix(); prefixes[p] = bs }
        bs.clients[c.id] = c
        if !t.prefixes.contains(p) { t.prefixes.append(p) }
    }

    func disable(_ c: Client) {
        guard let t = clients[c.id] else { return }
        for p in t.prefixes {
            guard let bs = prefixes[p] else { continue }
            bs.clients[c.id] = nil
            if bs.clients.isEmpty { prefixes[p] = nil }
        }
        clients[c.id] = nil
        c.flags.remove(.tracking)
        updateActive()
    }

    /// The after-call hook is only needed while someone tracks or invalidations wait.
    func updateActive() {
        engine.trackingActive = !clients.isEmpty || !pending.isEmpty
    }

    // MARK: remembering keys

    /// After a read-only command of a tracking client (default mode): remember its keys,
    /// unless OPTIN without CACHING YES or OPTOUT with CACHING NO. Scripts call this with
    /// the script's caller for the commands the script runs.
    public func rememberKeys(_ c: Client, _ cmd: Command, _ a: Args) {
        guard let t = clients[c.id], !t.bcast else { return }
        if (t.optin && !t.caching) || (t.optout && t.caching) { return }
        // The command's key finder (Redis's trackingRememberKeys); shard channels of
        // pub/sub commands are not keys to cache.
        if cmd.flags.contains(.pubsub) { return }
        cmd.keyFinder.forEachKey(a) { i, _ in
            let k = a.bytes(i)
            let tk: TrackedKey
            if let x = table[k] {
                tk = x
            } else {
                tk = TrackedKey(index: keyList.count)
                keyList.append(k)
                table[k] = tk
            }
            if tk.clients.insert(c.id).inserted { totalItems += 1 }
        }
    }

    /// After every call: remember keys, enforce tracking-table-max-keys, end a one-shot
    /// CLIENT CACHING, and send the executing client its own invalidations after its reply.
    func afterCall(_ c: Client, _ cmd: Command, _ a: Args) {
        if c.flags.contains(.tracking) {
            if cmd.flags.contains(.readonly) && !TrackingRegistry.isReadOnlyScript(cmd) {
                rememberKeys(c, cmd, a)
            }
            if let t = clients[c.id], t.caching, !c.flags.contains(.multi),
               cmd.name != "client", cmd.parent?.name != "client" {
                t.caching = false
            }
        }
        if !table.isEmpty { enforceMaxKeys() }
        if !pending.isEmpty && c === engine.currentClient && !c.flags.contains(.multi) {
            let list = pending
            pending.removeAll()
            for k in list { send(c, keys: k.map { [$0] }) }
            updateActive()
        }
    }

    static func isReadOnlyScript(_ cmd: Command) -> Bool {
        cmd.name == "eval_ro" || cmd.name == "evalsha_ro" || cmd.name == "fcall_ro"
    }

    /// Over tracking-table-max-keys: invalidate random keys, with more effort each time
    /// the table is still over the limit (as Redis's trackingLimitUsedSlots).
    func enforceMaxKeys() {
        let max = engine.config.trackingTableMaxKeys
        guard max > 0, table.count > max else { evictionRounds = 0; return }
        var effort = 100 * (evictionRounds + 1)
        while effort > 0 && !keyList.isEmpty {
            effort -= 1
            let k = keyList[Int.random(in: 0..<keyList.count, using: &engine.rng)]
            k.withUnsafeBytes { invalidate($0, broadcast: false) }
            if table.count <= max { evictionRounds = 0; return }
        }
        evictionRounds += 1
    }
}

extension TrackingRegistry {
    // MARK: invalidation

    /// Something to invalidate: remembered keys or broadcast prefixes.
    @inline(__always) var isActive: Bool { !table.isEmpty || !prefixes.isEmpty }

    func invalidate(_ key: UnsafeRawBufferPointer, broadcast: Bool) {
        if broadcast && !prefixes.isEmpty { rememberForBroadcast(key) }
        if table.isEmpty { return }
        let k = Array(key)
        guard let tk = table[k] else { return }
        let current = engine.currentClient
        for id in tk.clients.sorted() {
            guard let target = engine.clients[id], let t = clients[id], !t.bcast else { continue }
            if t.noloop && target === current { continue }
            if target === current {
                pending.append(k)
            } else {
                send(target, keys: [k])
            }
        }
        removeKey(k, tk)
    }

    func removeKey(_ k: [UInt8], _ tk: TrackedKey) {
        totalItems -= tk.clients.count
        table[k] = nil
        let last = keyList.count - 1
        if tk.index != last {
            let moved = keyList[last]
            keyList[tk.index] = moved
            table[moved]?.index = tk.index
        }
        keyList.removeLast()
    }

    /// FLUSHDB / FLUSHALL: every tracking client gets a null invalidation; the table is emptied.
    func invalidateOnFlush() {
        let current = engine.currentClient
        for id in clients.keys.sorted() {
            guard let c = engine.clients[id] else { continue }
            if c === current { pending.append(nil) } else { send(c, keys: nil) }
        }
        table.removeAll()
        keyList.removeAll()
        totalItems = 0
    }

    func rememberForBroadcast(_ key: UnsafeRawBufferPointer) {
        let by = engine.currentClient?.id ?? 0
        var owned: [UInt8]? = nil
        for (p, bs) in prefixes where p.count <= key.count && key.starts(with: p) {
            let k = owned ?? Array(key)
            owned = k
            bs.keys[k] = by
        }
        if owned != nil && !broadcastScheduled {
            broadcastScheduled = true
            engine.runSoon { [weak self] in self?.broadcast() }
        }
    }

    /// Sends each BCAST client the keys changed under its prefixes (one message per prefix).
    func broadcast() {
        broadcastScheduled = false
        for p in prefixes.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let bs = prefixes[p], !bs.keys.isEmpty else { continue }
            let changed = bs.keys.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            bs.keys.removeAll()
            for id in bs.clients.keys.sorted() {
                guard let c = bs.clients[id], clients[id] != nil else { continue }
                let noloop = clients[id]?.noloop ?? false
                let keys = noloop ? changed.filter { $0.value != id }.map { $0.key } : changed.map { $0.key }
                if !keys.isEmpty { send(c, keys: keys) }
            }
        }
    }

    /// Writes one invalidation (keys, or nil for a flush) for tracking client `c`, to `c`
    /// itself over RESP3 or to its redirect target.
    func send(_ c: Client, keys: [[UInt8]]?) {
        var target = c
        var redirected = false
        if let t = clients[c.id], t.redirect != 0 {
            guard let r = engine.clients[t.redirect] else {
                t.brokenRedirect = true
                if c.resp > 2 {
                    c.out.push(2)
                    c.out.bulk("tracking-redir-broken")
                    c.out.integer(t.redirect)
                    wake(c)
                }
                return
            }
            target = r
            redirected = true
        }
        if target.resp > 2 {
            target.out.push(2)
            target.out.bulk("invalidate")
        } else if redirected && target.flags.contains(.pubsub) {
            target.out.array(3)
            target.out.bulk("message")
            target.out.bulk("__redis__:invalidate")
        } else {
            // RESP2 without redirection has no way to receive it.
            return
        }
        if let keys {
            target.out.array(keys.count)
            for k in keys { target.out.bulk(k) }
        } else {
            // The null is spelled in the tracking client's protocol (as Redis does).
            target.out.append(c.resp > 2 ? "_\r\n" : "$-1\r\n")
        }
        wake(target)
    }

    @inline(__always) func wake(_ c: Client) {
        if c !== engine.currentClient { engine.flushSoon(c) }
    }
}

extension TrackingRegistry {
    // MARK: commands

    /// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
    func trackingCommand(_ c: Client, _ a: Args) {
        var redirect = 0
        var o = Options()
        var list: [[UInt8]] = []
        var j = 3
        while j < a.count {
            let more = a.count - 1 - j
            if a.equals(j, "redirect") && more > 0 {
                j += 1
                if redirect != 0 { c.error("ERR A client can only redirect to a single other client"); return }
                guard let id = Numbers.parseInt(a[j]) else { c.notInteger(); return }
                if engine.clients[id] == nil {
                    c.error("ERR The client ID you want redirect to does not exist")
                    return
                }
                redirect = id
            } else if a.equals(j, "bcast") {
                o.bcast = true
            } else if a.equals(j, "optin") {
                o.optin = true
            } else if a.equals(j, "optout") {
                o.optout = true
            } else if a.equals(j, "noloop") {
                o.noloop = true
            } else if a.equals(j, "prefix") && more > 0 {
                j += 1
                list.append(a.bytes(j))
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }
        if a.equals(2, "on") {
            let current = clients[c.id]
            if !o.bcast && !list.isEmpty {
                c.error("ERR PREFIX option requires BCAST mode to be enabled")
                return
            }
            if let cur = current, cur.bcast != o.bcast {
                c.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
                return
            }
            if o.bcast && (o.optin || o.optout) {
                c.error("ERR OPTIN and OPTOUT are not compatible with BCAST")
                return
            }
            if o.optin && o.optout {
                c.error("ERR You can't specify both OPTIN mode and OPTOUT mode")
                return
            }
            if let cur = current, (o.optin && cur.optout) || (o.optout && cur.optin) {
                c.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
                return
            }
            if o.bcast, let msg = TrackingRegistry.prefixCollision(current?.prefixes ?? [], list) {
                c.error(msg)
                return
            }
            enable(c, redirect: redirect, o, prefixes: list)
        } else if a.equals(2, "off") {
            disable(c)
        } else {
            c.syntaxError()
            return
        }
        c.out.ok()
    }

    /// Prefixes of one client must not overlap (one being a prefix of another).
    static func prefixCollision(_ existing: [[UInt8]], _ new: [[UInt8]]) -> String? {
        func overlap(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.starts(with: b) || b.starts(with: a) }
        func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }
        let sortedExisting = existing.sorted { $0.lexicographicallyPrecedes($1) }
        for i in 0..<new.count {
            if let e = sortedExisting.first(where: { overlap($0, new[i]) }) {
                return "ERR Prefix '\(text(new[i]))' overlaps with an existing prefix '\(text(e))'. Prefixes for a single client must not overlap."
            }
            var k = i + 1
            while k < new.count {
                if overlap(new[i], new[k]) {
                    return "ERR Prefix '\(text(new[i]))' overlaps with another provided prefix '\(text(new[k]))'. Prefixes for a single client must not overlap."
                }
                k += 1
            }
        }
        return nil
    }

    /// CLIENT CACHING YES|NO
    func cachingCommand(_ c: Client, _ a: Args) {
        guard let t = clients[c.id] else {
            c.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
            return
        }
        if a.equals(2, "yes") {
            guard t.optin else { c.error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."); return }
        } else if a.equals(2, "no") {
            guard t.optout else { c.error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."); return }
        } else {
            c.syntaxError()
            return
        }
        t.caching = true
        c.out.ok()
    }

    func getredirCommand(_ c: Client) {
        c.out.integer(clients[c.id]?.redirect ?? -1)
    }

    func trackingInfoCommand(_ c: Client) {
        c.out.map(3)
        c.out.bulk("flags")
        guard let t = clients[c.id] else {
            c.out.set(1)
            c.out.bulk("off")
            c.out.bulk("redirect")
            c.out.integer(-1)
            c.out.bulk("prefixes")
            c.out.array(0)
            return
        }
        var flags = ["on"]
        if t.bcast { flags.append("bcast") }
        if t.optin { flags.append("optin") }
        if t.optout { flags.append("optout") }
        if t.caching && t.optin { flags.append("caching-yes") }
        if t.caching && t.optout { flags.append("caching-no") }
        if t.noloop { flags.append("noloop") }
        if t.brokenRedirect { flags.append("broken_redirect") }
        c.out.set(flags.count)
        for f in flags { c.out.bulk(f) }
        c.out.bulk("redirect")
        c.out.integer(t.redirect)
        c.out.bulk("prefixes")
        let ps = t.prefixes.sorted { $0.lexicographicallyPrecedes($1) }
        c.out.array(ps.count)
        for p in ps { c.out.bulk(p) }
    }
}

extension Engine {
    func registerTrackingCommands() {
        let tr = tracking
        commands.register("client|tracking") { c, a in tr.trackingCommand(c, a) }
        commands.register("client|caching") { c, a in tr.cachingCommand(c, a) }
        commands.register("client|getredir") { c, _ in tr.getredirCommand(c) }
        commands.register("client|trackinginfo") { c, _ in tr.trackingInfoCommand(c) }
    }
}

extension Client {
    /// CLIENT LIST `redir=`: the tracking redirect id, -1 when not tracking.
    public var trackingRedirect: Int { engine.tracking.clients[id]?.redirect ?? -1 }
    /// CLIENT LIST flag letters for tracking: `t` tracking, `R` broken redirect, `B` BCAST.
    public var trackingListFlags: String {
        guard let t = engine.tracking.clients[id] else { return "" }
        return "t" + (t.brokenRedirect ? "R" : "") + (t.bcast ? "B" : "")
    }
}
