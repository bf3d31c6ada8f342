import TernConfig
import TernProtocol

// Client buffer limits (Redis 7.0's networking.c): client-output-buffer-limit per client
// class (getClientType, checkClientOutputBufferLimits, closeClientOnOutputBufferLimitReached),
// the asynchronous close queue (freeClientAsync / freeClientsInAsyncFreeQueue), and
// client-query-buffer-limit (readQueryFromClient's check).
//
// A client's pending output is what its ReplyBuffer holds plus what the network layer
// handed to NIO and the kernel has not taken yet (`pendingOutputBytes`). Redis limits only
// its reply list, the output beyond its static buffer (rbs, 16 KB at most), so small
// replies never count, even with a limit of a few bytes; Tern counts what is pending beyond
// min(reply buffer capacity, 16 KB) the same way. CLIENT LIST shows the two parts as Redis
// does: `obl` the part in the static size, `omem` the rest, `oll` NIO's pending writes.
//
// Checks happen where Redis makes them: before a client's replies are written (Redis checks
// as replies are appended to the list; Tern's replies for a batch are appended before the
// flush, so the flush sees the same total) and in the clients cron, where a client that
// stopped reading is closed once its soft limit has lasted long enough even if nothing
// more is sent to it. Redis 7.0 counts these closes nowhere in INFO (7.0.15 has no
// client_output_buffer_limit_disconnections field; evicted_clients stays put); neither does Tern.

/// Redis's client types (getClientType). They pick the client-output-buffer-limit class
/// (normal, replica, pubsub; a master is limited as a normal client), the INFO memory
/// figure a client counts in (mem_clients_normal or mem_clients_slaves), and whether client
/// eviction may close it. CLIENT LIST TYPE and CLIENT KILL TYPE filter on it.
enum ClientType: Int {
    case normal = 0, replica = 1, pubsub = 2, master = 3

    init?(_ name: String) {
        switch name {
        case "normal": self = .normal
        case "slave", "replica": self = .replica
        case "master": self = .master
        case "pubsub": self = .pubsub
        default: return nil
        }
    }

    /// MONITOR clients are replicas to Redis internally but count as normal clients.
    /// The replication issue's hook: a connection that becomes a replica gets `.replica`
    /// (`Engine.clientBecameReplica`), and from then on the replica limits apply to it.
    @inline(__always) static func of(_ c: Client) -> ClientType {
        let f = c.flags
        if f.contains(.master) { return .master }
        if f.contains(.replica) && !f.contains(.monitor) { return .replica }
        if f.contains(.pubsub) { return .pubsub }
        return .normal
    }

    /// Index into `ServerConfig.clientOutputBufferLimits` (normal, replica, pubsub).
    var limitClass: Int { self == .master ? 0 : rawValue }
}

extension Engine {
    /// Pending output beyond the static part (Redis's getClientOutputBufferMemoryUsage, its
    /// reply list): what the limits apply to, CLIENT LIST `omem`.
    @inline(__always) func outputBufferMemory(_ c: Client) -> Int {
        max(0, c.out.count &+ c.pendingOutputBytes &+ (c.replicaPeer?.pendingStream.count ?? 0) &- staticReplyBytes(c))
    }

    /// Pending output inside the static part (CLIENT LIST `obl`, Redis's bufpos).
    func outputBufferStaticBytes(_ c: Client) -> Int {
        min(c.out.count &+ c.pendingOutputBytes, staticReplyBytes(c))
    }

    /// Redis's static reply buffer is rbs, 16 KB at most; Tern's grows on demand for a big
    /// reply (until the cron shrinks it), so its capacity is capped at 16 KB here.
    @inline(__always) func staticReplyBytes(_ c: Client) -> Int { min(c.out.capacity, Engine.replyBufferChunkBytes) }

    /// The lowest non-zero hard or soft output limit of any class (Int.max when none): the
    /// flush path only asks for the full check when everything pending reaches it (a superset
    /// of what the limits count), one compare per flush.
    func updateOutputLimitFloor() {
        var floor = UInt64(Int.max)
        for l in config.clientOutputBufferLimits {
            if l.hard > 0 { floor = min(floor, l.hard) }
            if l.soft > 0 { floor = min(floor, l.soft) }
        }
        outputLimitFloor = Int(clamping: floor)
    }

    /// Redis's checkClientOutputBufferLimits: over the hard limit, or over the soft limit
    /// continuously for more than the soft seconds (whole seconds of the unix clock).
    func checkClientOutputBufferLimits(_ c: Client, used: Int) -> Bool {
        let type = ClientType.of(c)
        let limits = config.clientOutputBufferLimits
        let cls = type.limitClass
        guard cls < limits.count else { return false }
        let limit = limits[cls]
        var hardBytes = limit.hard
        // A replica limited below the backlog would be cut off right after a partial
        // resync; Redis raises such a hard limit to repl-backlog-size.
        if type == .replica && hardBytes > 0 && hardBytes < UInt64(max(0, config.replBacklogSize)) {
            hardBytes = UInt64(config.replBacklogSize)
        }
        let usedBytes = UInt64(max(0, used))
        let hard = hardBytes > 0 && usedBytes >= hardBytes
        var soft = limit.soft > 0 && usedBytes >= limit.soft
        if soft {
            let now = Engine.wallClockMs() / 1000
            if c.outputSoftLimitSinceMs == 0 {
                c.outputSoftLimitSinceMs = now * 1000
                soft = false   // first time over: the clock starts now
            } else if now - c.outputSoftLimitSinceMs / 1000 <= Int64(limit.softSeconds) {
                soft = false
            }
        } else {
            c.outputSoftLimitSinceMs = 0
        }
        return hard || soft
    }

    /// Redis's closeClientOnOutputBufferLimitReached: closes the client when its pending
    /// output is over its class's limits. `async` (from the reply path) schedules the close
    /// for after the current work; otherwise (clients cron) it is closed now. The log line
    /// carries the CLIENT LIST line taken before the close, as Redis's.
    @discardableResult
    public func closeClientOnOutputBufferLimitReached(_ c: Client, async: Bool) -> Bool {
        // Fake clients have nobody to close; a client already closing is left alone.
        guard c.connection != nil, !c.flags.contains(.fake), !c.flags.contains(.closeASAP) else { return false }
        let used = outputBufferMemory(c)
        if used == 0 && ClientType.of(c) != .replica { return false }
        guard checkClientOutputBufferLimits(c, used: used) else { return false }
        let info = ClientCommand.line(c)
        if async {
            freeClientAsync(c)
            log(.warning, "Client \(info) scheduled to be closed ASAP for overcoming of output buffer limits.")
        } else {
            freeClientNow(c)
            log(.warning, "Client \(info) closed for overcoming of output buffer limits.")
        }
        return true
    }

    /// Redis's freeClientAsync: the client is flagged (CLIENT LIST `A`, nothing more is read
    /// or written for it) and its connection is dropped after the current work, so no loop
    /// over clients or subscribers sees it vanish midway. Its memory leaves client eviction's
    /// accounting at once (it is as good as freed).
    public func freeClientAsync(_ c: Client) {
        if c.flags.contains(.closeASAP) { return }
        c.flags.insert(.closeASAP)
        forgetClientMemory(c)
        clientsToClose.append(c)
        if clientsToClose.count == 1 {
            runSoon { [unowned self] in self.freeClientsInAsyncFreeQueue() }
        }
    }

    func freeClientsInAsyncFreeQueue() {
        let list = clientsToClose
        clientsToClose.removeAll()
        for c in list { c.connection?.abort() }
    }

    /// Closes a client at once, dropping its pending output (Redis's freeClient). Only from
    /// places where no loop holds the client (cron).
    func freeClientNow(_ c: Client) {
        c.flags.insert(.closeASAP)
        forgetClientMemory(c)
        c.connection?.abort()
    }

    /// readQueryFromClient's client-query-buffer-limit: a client whose unprocessed input
    /// (a pipeline it keeps sending while blocked, or one huge argument still arriving) is
    /// longer than the limit is closed. A master's stream may grow past it. Returns true
    /// when the client was scheduled to close; the network layer then stops reading it.
    /// `headFrom`: where the argument still arriving starts in `input` (Redis's query buffer
    /// holds only that argument's bytes then, and its log shows them).
    public func queryBufferLimitReached(_ c: Client, _ input: UnsafeRawBufferPointer, headFrom: Int = 0) -> Bool {
        guard input.count > config.clientQueryBufferLimit, !c.flags.contains(.master) else { return false }
        c.queryBufferLength = input.count
        let info = ClientCommand.line(c)
        let from = headFrom > 0 && headFrom < input.count ? headFrom : 0
        let head = Engine.repr(UnsafeRawBufferPointer(rebasing: input[from...].prefix(64)))
        log(.warning, "Closing client that reached max query buffer length: \(info) (qbuf initial bytes: \(head))")
        freeClientAsync(c)
        return true
    }

    /// Redis's sdscatrepr over raw bytes.
    static func repr(_ bytes: UnsafeRawBufferPointer) -> String { ConfigText.repr(bytes: bytes) }

    /// The replication issue's hook: a connection that turns into a replica link (SYNC or
    /// PSYNC) calls this. It then uses the replica output limits, counts in
    /// mem_clients_slaves, and is never evicted for maxmemory-clients.
    public func clientBecameReplica(_ c: Client) {
        c.flags.insert(.replica)
        if !c.flags.contains(.closeASAP) { updateClientMemoryUsage(c) }
    }
}
