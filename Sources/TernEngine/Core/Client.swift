import TernConfig
import TernProtocol
import TernStore

/// What the command layer needs from a network connection.
public protocol ClientConnection: AnyObject {
    /// Writes out whatever is in the client's reply buffer (async replies: wakeups, pub/sub).
    func flushReplies()
    /// Closes the connection after pending replies are written.
    func close()
    /// Resumes parsing buffered input (after a block or pause ends).
    func resumeProcessing()
    /// Closes the connection now, dropping pending output (Redis's freeClient): output
    /// limits, client eviction and the query buffer limit.
    func abort()
    /// Writes `header` then the whole file at `path` (a replica's RDB), after any output
    /// already queued; `done(ok)` runs on the engine loop once it is written or failed.
    func sendFile(header: [UInt8], path: String, done: @escaping (Bool) -> Void)
}

extension ClientConnection {
    public func abort() { close() }
    public func sendFile(header: [UInt8], path: String, done: @escaping (Bool) -> Void) { done(false) }
}

/// Client flags reported by CLIENT LIST (`flags=`).
@frozen public struct ClientFlags: OptionSet, Sendable {
    // Members are inlinable computed constants, not stored statics: TernServer tests flags
    // on every request, and a `static let` read from another module is a lazy-global
    // accessor call (swift_once) per use, where a constant folds into one AND.
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static var multi: ClientFlags { ClientFlags(rawValue: 1 << 0) }
    @inlinable public static var dirtyCAS: ClientFlags { ClientFlags(rawValue: 1 << 1) }
    @inlinable public static var dirtyExec: ClientFlags { ClientFlags(rawValue: 1 << 2) }
    @inlinable public static var blocked: ClientFlags { ClientFlags(rawValue: 1 << 3) }
    @inlinable public static var pubsub: ClientFlags { ClientFlags(rawValue: 1 << 4) }
    @inlinable public static var monitor: ClientFlags { ClientFlags(rawValue: 1 << 5) }
    @inlinable public static var closeAfterReply: ClientFlags { ClientFlags(rawValue: 1 << 6) }
    @inlinable public static var closeASAP: ClientFlags { ClientFlags(rawValue: 1 << 7) }
    @inlinable public static var readonly: ClientFlags { ClientFlags(rawValue: 1 << 8) }
    @inlinable public static var noEvict: ClientFlags { ClientFlags(rawValue: 1 << 9) }
    @inlinable public static var noTouch: ClientFlags { ClientFlags(rawValue: 1 << 10) }
    @inlinable public static var tracking: ClientFlags { ClientFlags(rawValue: 1 << 11) }
    @inlinable public static var unixSocket: ClientFlags { ClientFlags(rawValue: 1 << 12) }
    @inlinable public static var replica: ClientFlags { ClientFlags(rawValue: 1 << 13) }
    @inlinable public static var master: ClientFlags { ClientFlags(rawValue: 1 << 14) }
    /// Internal: a fake client executing on behalf of the server (AOF load, scripts).
    @inlinable public static var fake: ClientFlags { ClientFlags(rawValue: 1 << 15) }
    /// Cluster: ASKING was sent; the next command may reach a slot being imported here.
    @inlinable public static var asking: ClientFlags { ClientFlags(rawValue: 1 << 16) }
}

/// CLIENT REPLY mode.
public enum ReplyMode: Sendable { case on, off, skip, skipNext }

/// One connected client: its selected database, protocol, reply buffer and state.
public final class Client {
    public let id: Int
    // A strong `let`: reading it through a borrowed client needs no reference counting at
    // all (an unowned or unowned(unsafe) reference is retained at every use). Clients leave
    // `engine.clients` on disconnect, so the cycle is broken there.
    public let engine: Engine
    /// The selected database. Databases live in `engine.databases` for the engine's lifetime
    /// (SWAPDB swaps their contents, not the objects), so the client holds it unretained;
    /// hot paths borrow it through `withDB`, which costs no retain/release at all.
    public var db: Database {
        @inline(__always) get { dbRef.takeUnretainedValue() }
        set { dbRef = Unmanaged.passUnretained(newValue) }
    }
    var dbRef: Unmanaged<Database>
    public let out = ReplyBuffer()
    public weak var connection: ClientConnection?
    public var name: [UInt8]? = nil
    public var libName: String = ""
    public var libVersion: String = ""
    public var flags: ClientFlags = []
    public var remoteAddress = "?"
    public var localAddress = "?"
    public var fd = -1
    public let createdMs: Int64
    /// When the reply buffer's peak period began (the clients cron restarts it).
    var replyBufferPeakResetMs: Int64
    public var lastInteractionMs: Int64
    /// No NOAUTH refusal: authenticated, or the default user is on and nopass (Redis's
    /// authRequired). The network layer also reads it for the unauthenticated size limits.
    public var authenticated = true
    /// Authenticated by AUTH/HELLO (Redis's c->authenticated).
    var aclAuthenticated = false
    /// The ACL user; nil for the master link and internal clients (Redis's NULL user: no
    /// restrictions, shown as "(superuser)").
    public internal(set) var aclUser: ACLUser?
    /// The user may run everything: dispatch skips the ACL check (one Bool test).
    var aclUnrestricted = true
    public var user: String { aclUser?.name ?? "(superuser)" }
    public var replyMode: ReplyMode = .on
    /// Bytes of unparsed input (qbuf in CLIENT LIST), maintained by the network layer.
    public var queryBufferLength = 0
    public var queryBufferCapacity = 0
    /// The command executing now, or the last one run (CLIENT LIST `cmd=`). Commands live
    /// in the engine's table for its lifetime, so this holds no reference count.
    public unowned(unsafe) var currentCommand: Command?
    /// When set by a handler (or a blocked client's serve closure), replaces the command's
    /// own args in the propagation unit (SET EX -> SET PXAT, INCRBYFLOAT -> SET KEEPTTL,
    /// SPOP n -> one SREM per member; several ops are wrapped in MULTI/EXEC). Consumed
    /// and cleared by `Engine.call`; `[]` propagates nothing (EXEC).
    public var propagateAs: [OwnedArgs]? = nil
    /// Set by a handler whose command must propagate even when it changed nothing (Redis's
    /// forceCommandPropagation: FLUSHDB/FLUSHALL of empty databases). Cleared by `call`.
    public var forcePropagation = false
    /// Set while replaying (AOF load, replication apply) to avoid re-propagating.
    public var suppressPropagation = false
    /// While a command runs under CLIENT REPLY OFF/SKIP: the byte ranges of push messages it
    /// wrote (subscribe confirmations, in RESP2 too), which survive the suppression as Redis's
    /// CLIENT_PUSHING replies do.
    var keptPushes: [Range<Int>]? = nil

    /// Writes a push message (`body` writes it) that CLIENT REPLY OFF/SKIP must not drop.
    @inline(__always) public func writePush(_ body: () -> Void) {
        guard keptPushes != nil else { body(); return }
        let start = out.count
        body()
        keptPushes?.append(start..<out.count)
    }

    /// Set when CLIENT PAUSE postponed the request just parsed; it is re-run on unpause.
    public var postponed = false
    /// Queued for a deferred flush (Engine.flushSoon).
    public var flushScheduled = false
    /// Output bytes handed to the network layer and not yet written to the socket
    /// (client-output-buffer-limit, CLIENT LIST omem); maintained by the network layer.
    public var pendingOutputBytes = 0
    /// Writes handed to the network layer and not completed (CLIENT LIST oll).
    public var pendingOutputWrites = 0
    /// When the soft output buffer limit was first exceeded (ms, whole seconds), 0 when under it.
    public var outputSoftLimitSinceMs: Int64 = 0
    /// Client memory accounting (ClientEviction.swift): the last figure computed and the
    /// type it was counted under, the eviction bucket (-1: none) and the arrival order in it.
    var lastMemoryUsage = 0
    var lastMemoryType = 0
    var memoryBucket = -1
    var memoryBucketSeq = 0
    /// MULTI queue and WATCHed keys (Transactions.swift), created on first MULTI or WATCH.
    var multiState: MultiState?
    /// A replica attached to us, or a client that sent REPLCONF (Replication/MasterSide.swift).
    public var replicaPeer: ReplicaPeer?
    /// master_repl_offset after this client's last command (what WAIT waits for).
    public var woff: Int64 = 0

    public init(id: Int, engine: Engine) {
        self.id = id
        self.engine = engine
        self.dbRef = Unmanaged.passUnretained(engine.databases[0])
        createdMs = Engine.wallClockMs()
        replyBufferPeakResetMs = createdMs
        lastInteractionMs = createdMs
        let u = engine.acl.defaultUser
        aclUser = u
        aclUnrestricted = u.isUnrestricted
        // Redis's clientSetDefaultAuth: authenticated from the start when the default user
        // is on and nopass (and stays so if it gets a password later).
        aclAuthenticated = engine.acl.defaultUserIsOpen
        authenticated = aclAuthenticated
    }

    @inline(__always) public var resp: Int {
        get { out.resp }
        set { out.resp = newValue }
    }

    @inline(__always) public var dbIndex: Int { withDB { $0.id } }

    /// Runs `body` with the selected database borrowed (no reference counting).
    @inline(__always) public func withDB<R>(_ body: (Database) throws -> R) rethrows -> R {
        try dbRef._withUnsafeGuaranteedRef(body)
    }

    public var nameString: String { name.map { String(decoding: $0, as: UTF8.self) } ?? "" }

    /// Writes an error reply and counts it in errorstats (prefix = first word).
    public func error(_ message: String) {
        engine.countError(message)
        out.error(message)
    }

    // Standard Redis error texts.
    public func wrongType() { error("WRONGTYPE Operation against a key holding the wrong kind of value") }
    public func syntaxError() { error("ERR syntax error") }
    public func notInteger() { error("ERR value is not an integer or out of range") }
    public func notFloat() { error("ERR value is not a valid float") }
    public func wrongArity(_ name: String) { error("ERR wrong number of arguments for '\(name)' command") }
    public func outOfRange() { error("ERR index out of range") }
    public func noSuchKey() { error("ERR no such key") }

    /// Flushes replies produced outside the normal read cycle.
    public func flush() { connection?.flushReplies() }
}
