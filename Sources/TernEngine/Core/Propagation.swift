#if canImport(Glibc)
import Glibc
#endif
import TernProtocol
import TernStore

// One propagation path (Redis 7.0's alsoPropagate / propagatePendingCommands).
//
// Every write effect is appended to one per-command buffer, `Engine.pendingPropagation`
// (Redis's server.also_propagate), in the order it happens:
// - a lazy-expire DEL/UNLINK (`deleteExpired`), at the moment the key is found expired,
//   hence before the effect of the command that found it;
// - the command's own effect, appended by `call` when it changed `dirty`: its
//   deterministic rewrite (`Client.propagateAs`: SET EX -> SET PXAT, SPOP -> SREM ...) or
//   its own arguments as the client sent them;
// - the effects of the commands EXEC runs (their `call`s append to the same buffer);
// - what a served blocked client does (`BlockingRegistry.handleReadyKeys`).
// Nothing is sent while a handler runs. The buffer is flushed (`propagatePendingCommands`)
// once per execution unit, where Redis calls afterCommand/propagatePendingCommands:
// - after the outermost call, i.e. in `dispatchResolved` (EXEC and scripts call `call`
//   nested, so a transaction is one unit);
// - after each blocked client served (Redis's afterCommand(receiver));
// - after each key deleted by active expiry (cron).
// A unit of two or more ops is wrapped in MULTI ... EXEC (MULTI carries the db of the first
// op, EXEC the db of the last, so a SELECT lands before MULTI and never before EXEC), except
// when the top-level command touches arbitrary keys (SCAN, RANDOMKEY: their expire DELs go
// out bare, as Redis's propagate_no_multi). One op goes out bare.
//
// The direct path: a top-level command whose unit holds nothing before its own effect (no
// lazy-expire DEL, no rewrite into several ops) is a unit of one op, which goes out bare
// (nothing joins a unit after its outermost `call` returns). That `call` sends it to the
// targets at once (`propagateDirect`), from the client's own argument spans, instead of
// copying it into the buffer for dispatch to flush a moment later. The bytes and their
// order are the same as through the buffer; anything else (EXEC, scripts, served blocked
// clients, cron, rewrites into several ops) takes the buffer.
//
// SELECT is not in the buffer: each target keeps the db it last wrote (Redis's
// replicationFeedSlaves and feedAppendOnlyFile each keep theirs), using
// `PropagationStreamEncoder`, so a target that attaches later starts with its own SELECT.
// With one target the op is encoded straight into its stream; with several it is encoded
// once (`propagationScratch`) and each target gets those bytes, adding its own SELECT.
//
// No cost when nothing listens: with no target registered `propagates` is false, the buffer
// is never filled and handlers skip building rewrites (`CollectionSupport.propagate`).

/// Receives every write, once, in the form that replays it deterministically: the AOF and
/// the replication stream both hang off this. Called in stream order, one op at a time;
/// MULTI and EXEC arrive as ops of their own.
public protocol PropagationTarget: AnyObject {
    func propagate(db: Int, args: Args)
    /// The same op with its RESP multibulk encoding (no SELECT) already made, once for all
    /// targets when there are several: a target writing a RESP stream appends `encoded`
    /// after its own SELECT (`PropagationStreamEncoder.append(db:encoded:to:)`). The default
    /// ignores the bytes and calls `propagate(db:args:)`.
    func propagate(db: Int, args: Args, encoded: UnsafeRawBufferPointer)
}

extension PropagationTarget {
    public func propagate(db: Int, args: Args, encoded: UnsafeRawBufferPointer) {
        propagate(db: db, args: args)
    }
}

/// The bytes of a RESP command stream not yet written out (the AOF buffer; a replica's or
/// the backlog's feed): raw storage, so an op is encoded with plain stores and one memcpy per
/// argument (`[UInt8].append(contentsOf:)` cost ~100 instructions a call, 7 calls a SET).
public final class StreamBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var count = 0
    public private(set) var capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = Swift.max(capacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    @inline(__always) public var isEmpty: Bool { count == 0 }
    @inline(__always) public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Room for `extra` more bytes, growing geometrically.
    @inline(__always) public func reserve(_ extra: Int) {
        if count &+ extra > capacity { grow(count &+ extra) }
    }

    @inline(never) func grow(_ need: Int) {
        var c = capacity &* 2
        while c < need { c &*= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        nb.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = nb
        capacity = c
    }

    @inline(__always) public func append(_ b: UnsafeRawBufferPointer) {
        guard let p = b.baseAddress, b.count > 0 else { return }
        reserve(b.count)
        (base + count).copyMemory(from: p, byteCount: b.count)
        count &+= b.count
    }

    public func append(_ a: [UInt8]) { a.withUnsafeBytes { append($0) } }

    /// Drops the first `n` bytes (written out).
    public func removeFirst(_ n: Int) {
        if n >= count { count = 0; return }
        memmove(base, base + n, count - n)
        count -= n
    }

    /// Empties the buffer; without `keepingCapacity` a grown one goes back to 4 KB.
    public func removeAll(keepingCapacity: Bool = true) {
        count = 0
        if !keepingCapacity && capacity > 4096 {
            base.deallocate()
            capacity = 4096
            base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        }
    }

    // Unchecked writes: the caller reserved the room.
    @inline(__always) func put(_ c: UInt8) {
        base.storeBytes(of: c, toByteOffset: count, as: UInt8.self)
        count &+= 1
    }

    @inline(__always) func putCRLF() {
        base.storeBytes(of: 0x0a0d as UInt16, toByteOffset: count, as: UInt16.self)
        count &+= 2
    }

    /// `prefix`, the decimal text of `n` (>= 0), CRLF: at most 23 bytes.
    @inline(__always) func putHeader(_ prefix: UInt8, _ n: Int) {
        put(prefix)
        if n < 10 {
            put(48 &+ UInt8(truncatingIfNeeded: n))
        } else {
            var digits = 1
            var v = n / 10
            while v > 0 { digits &+= 1; v /= 10 }
            v = n
            var i = count &+ digits
            count = i
            repeat { i &-= 1; base.storeBytes(of: 48 &+ UInt8(truncatingIfNeeded: v % 10), toByteOffset: i, as: UInt8.self); v /= 10 } while v > 0
        }
        putCRLF()
    }

    @inline(__always) func putBulk(_ b: UnsafeRawBufferPointer) {
        putHeader(36, b.count)  // "$"
        if let p = b.baseAddress, b.count > 0 { (base + count).copyMemory(from: p, byteCount: b.count) }
        count &+= b.count
        putCRLF()
    }
}

/// Writes propagated ops as a RESP command stream (what a replica or the AOF receives):
/// each op a multibulk array, preceded by `SELECT db` when its db differs from the last one
/// written. One encoder per target: each target has its own idea of the selected db.
public struct PropagationStreamEncoder {
    /// The db the reader of this stream has selected; -1 forces a SELECT before the next op
    /// (a new replica, a new AOF file).
    public var selectedDb = -1

    public init() {}

    public mutating func append(db: Int, args: Args, to out: StreamBuffer) {
        out.reserve(Self.encodedBound(args) &+ 48)
        if db != selectedDb { select(db, to: out) }
        Self.putOp(args, to: out)
    }

    /// An op already encoded by `appendOp`: SELECT first when `db` is not the reader's.
    public mutating func append(db: Int, encoded: UnsafeRawBufferPointer, to out: StreamBuffer) {
        if db != selectedDb {
            out.reserve(48)
            select(db, to: out)
        }
        out.append(encoded)
    }

    /// The multibulk of one op, without SELECT: what every target's stream carries for it.
    public static func appendOp(_ args: Args, to out: StreamBuffer) {
        out.reserve(encodedBound(args))
        putOp(args, to: out)
    }

    /// At most the encoded size of `args`: 23 bytes of header and 25 of framing per argument.
    @inline(__always) static func encodedBound(_ args: Args) -> Int {
        var need = 23 &+ args.count &* 25
        for i in 0..<args.count { need &+= args.length(i) }
        return need
    }

    @inline(__always) static func putOp(_ args: Args, to out: StreamBuffer) {
        out.putHeader(42, args.count)  // "*"
        for i in 0..<args.count { out.putBulk(args[i]) }
    }

    mutating func select(_ db: Int, to out: StreamBuffer) {
        out.putHeader(42, 2)
        out.putBulk(UnsafeRawBufferPointer(start: Self.selectText.utf8Start, count: Self.selectText.utf8CodeUnitCount))
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { p in
            var i = 24
            var v = UInt(bitPattern: db)
            repeat { i -= 1; p[i] = UInt8(truncatingIfNeeded: 48 &+ v % 10); v /= 10 } while v > 0
            out.putBulk(UnsafeRawBufferPointer(rebasing: p[i..<24]))
        }
        selectedDb = db
    }

    static let selectText: StaticString = "SELECT"
}

/// One buffered write effect: the db it applies to and its arguments; `replicationOnly` ops
/// (PUBLISH) go to the replication stream and not to the AOF (Redis's PROPAGATE_REPL).
struct PropagatedOp {
    let db: Int
    let args: OwnedArgs
    var replicationOnly = false
}

extension Engine {
    /// Appends a write effect to the current unit's buffer (Redis's alsoPropagate). A no-op
    /// when no target listens.
    public func alsoPropagate(db: Int, args: Args) {
        guard propagates else { return }
        pendingPropagation.append(PropagatedOp(db: db, args: OwnedArgs(args)))
    }

    public func alsoPropagate(db: Int, _ args: OwnedArgs) {
        guard propagates else { return }
        pendingPropagation.append(PropagatedOp(db: db, args: args))
    }

    /// A command that reaches replicas only (PUBLISH): buffered like any effect (it counts in
    /// the unit's MULTI wrapping, as in Redis), sent to the replication stream alone. Nothing
    /// happens without a backlog (no replica ever attached) or on a replica.
    public func alsoPropagateToReplicas(db: Int, args: Args) {
        guard repl.feed != nil, !repl.isReplica else { return }
        pendingPropagation.append(PropagatedOp(db: db, args: OwnedArgs(args), replicationOnly: true))
    }

    /// The effect of a command that changed the dataset: its rewrite, or its own arguments.
    /// Consumes `c.propagateAs`. Called by `call` and after serving a blocked client.
    @inline(never)
    func alsoPropagateEffect(of c: Client, args: Args?) {
        if c.suppressPropagation { c.propagateAs = nil; return }
        let db = c.dbIndex
        if let rewritten = c.propagateAs {
            for op in rewritten { pendingPropagation.append(PropagatedOp(db: db, args: op)) }
            c.propagateAs = nil
        } else if let args {
            pendingPropagation.append(PropagatedOp(db: db, args: OwnedArgs(args)))
        }
    }

    /// The effect of a top-level command (called by `call` from dispatch): when nothing is
    /// buffered before it and it is one op, it is the whole unit and goes out bare at once,
    /// read from the client's argument spans (no copy); otherwise it joins the buffer as
    /// `alsoPropagateEffect` does, and dispatch flushes the unit.
    @inline(never)
    func propagateDirect(of c: Client, args: Args) {
        guard pendingPropagation.isEmpty, !c.suppressPropagation else {
            alsoPropagateEffect(of: c, args: args)
            return
        }
        if let rewritten = c.propagateAs {
            guard rewritten.count == 1 else {
                alsoPropagateEffect(of: c, args: args)
                return
            }
            c.propagateAs = nil
            rewritten[0].withArgs { sendToTargets(db: c.dbIndex, args: $0) }
        } else {
            sendToTargets(db: c.dbIndex, args: args)
        }
    }

    /// One op to every target, in registration order. Several targets share one encoding.
    func sendToTargets(db: Int, args: Args) {
        let targets = propagationTargets
        if targets.count == 1 {
            targets[0].propagate(db: db, args: args)
            return
        }
        let scratch = propagationScratch
        scratch.removeAll(keepingCapacity: scratch.capacity <= 1 << 16)
        PropagationStreamEncoder.appendOp(args, to: scratch)
        let bytes = scratch.bytes
        for t in targets { t.propagate(db: db, args: args, encoded: bytes) }
    }

    /// Sends the buffered unit to every target and empties the buffer (Redis's
    /// propagatePendingCommands): one op bare, more wrapped in MULTI ... EXEC unless
    /// `wrapInMulti` is false.
    public func propagatePendingCommands(wrapInMulti: Bool = true) {
        guard !pendingPropagation.isEmpty else { return }
        // Taken out whole (a copy then removeAll would reallocate the buffer every unit).
        var ops: [PropagatedOp] = []
        swap(&ops, &pendingPropagation)
        if propagates {
            let wrap = wrapInMulti && ops.count > 1
            if wrap { Self.multiArgs.withArgs { sendToTargets(db: ops[0].db, args: $0) } }
            for op in ops {
                if op.replicationOnly {
                    op.args.withArgs { a in repl.feed?.propagate(db: op.db, args: a) }
                } else {
                    op.args.withArgs { sendToTargets(db: op.db, args: $0) }
                }
            }
            if wrap { Self.execArgs.withArgs { sendToTargets(db: ops[ops.count - 1].db, args: $0) } }
        }
        if ops.count <= 64 && pendingPropagation.isEmpty {
            ops.removeAll(keepingCapacity: true)
            pendingPropagation = ops
        }
    }

    static let multiArgs = OwnedArgs(strings: ["MULTI"])
    static let execArgs = OwnedArgs(strings: ["EXEC"])
}
