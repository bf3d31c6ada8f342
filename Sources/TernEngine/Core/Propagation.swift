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
// Nothing is sent while a command runs. The buffer is flushed (`propagatePendingCommands`)
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
// SELECT is not in the buffer: each target keeps the db it last wrote (Redis's
// replicationFeedSlaves and feedAppendOnlyFile each keep theirs), using
// `PropagationStreamEncoder`, so a target that attaches later starts with its own SELECT.
//
// No cost when nothing listens: with no target registered `propagates` is false, the buffer
// is never filled and handlers skip building rewrites (`CollectionSupport.propagate`).

/// Receives every write, once, in the form that replays it deterministically: the AOF and
/// the replication stream both hang off this. Called in stream order, one op at a time;
/// MULTI and EXEC arrive as ops of their own.
public protocol PropagationTarget: AnyObject {
    func propagate(db: Int, args: Args)
}

/// Writes propagated ops as a RESP command stream (what a replica or the AOF receives):
/// each op a multibulk array, preceded by `SELECT db` when its db differs from the last one
/// written. One encoder per target: each target has its own idea of the selected db.
public struct PropagationStreamEncoder {
    /// The db the reader of this stream has selected; -1 forces a SELECT before the next op
    /// (a new replica, a new AOF file).
    public var selectedDb = -1

    public init() {}

    public mutating func append(db: Int, args: Args, to out: inout [UInt8]) {
        // Room for the whole op first, growing geometrically (reserveCapacity alone grows to
        // the exact size asked, which would copy the buffer on every op).
        var need = 16 + args.count * 16
        for i in 0..<args.count { need &+= args[i].count }
        if db != selectedDb { need &+= 48 }
        if out.capacity - out.count < need { out.reserveCapacity(Swift.max(out.capacity * 2, out.count + need, 4096)) }
        if db != selectedDb {
            Self.appendHeader(2, to: &out)
            Self.appendBulk(UnsafeRawBufferPointer(start: Self.selectText.utf8Start, count: Self.selectText.utf8CodeUnitCount), to: &out)
            Self.appendDecimalBulk(db, to: &out)
            selectedDb = db
        }
        Self.appendHeader(args.count, to: &out)
        for i in 0..<args.count { Self.appendBulk(args[i], to: &out) }
    }

    static let selectText: StaticString = "SELECT"

    /// `prefix` (one byte), the decimal text of `n` (>= 0) and CRLF, in one append.
    @inline(__always)
    static func appendPrefixed(_ prefix: UInt8, _ n: Int, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { p in
            var i = 30
            p[30] = 13; p[31] = 10
            var v = UInt(bitPattern: n)
            repeat { i -= 1; p[i] = UInt8(truncatingIfNeeded: 48 &+ v % 10); v /= 10 } while v > 0
            i -= 1; p[i] = prefix
            out.appendBytes(UnsafeRawBufferPointer(rebasing: p[i..<32]))
        }
    }

    @inline(__always)
    static func appendHeader(_ n: Int, to out: inout [UInt8]) { appendPrefixed(42, n, to: &out) }  // "*"

    @inline(__always)
    static func appendBulk(_ b: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        appendPrefixed(36, b.count, to: &out)  // "$"
        out.appendBytes(b)
        out.append(13); out.append(10)
    }

    static func appendDecimalBulk(_ n: Int, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { p in
            var i = 24
            var v = UInt(bitPattern: n)
            repeat { i -= 1; p[i] = UInt8(truncatingIfNeeded: 48 &+ v % 10); v /= 10 } while v > 0
            appendBulk(UnsafeRawBufferPointer(rebasing: p[i..<24]), to: &out)
        }
    }
}

/// One buffered write effect: the db it applies to and its arguments.
struct PropagatedOp {
    let db: Int
    let args: OwnedArgs
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


    /// Sends the buffered unit to every target and empties the buffer (Redis's
    /// propagatePendingCommands): one op bare, more wrapped in MULTI ... EXEC unless
    /// `wrapInMulti` is false.
    public func propagatePendingCommands(wrapInMulti: Bool = true) {
        guard !pendingPropagation.isEmpty else { return }
        let ops = pendingPropagation
        pendingPropagation.removeAll(keepingCapacity: ops.count <= 64)
        guard propagates else { return }
        let targets = propagationTargets
        let wrap = wrapInMulti && ops.count > 1
        if wrap {
            Self.multiArgs.withArgs { a in for t in targets { t.propagate(db: ops[0].db, args: a) } }
        }
        for op in ops {
            op.args.withArgs { a in for t in targets { t.propagate(db: op.db, args: a) } }
        }
        if wrap {
            let last = ops[ops.count - 1].db
            Self.execArgs.withArgs { a in for t in targets { t.propagate(db: last, args: a) } }
        }
    }

    static let multiArgs = OwnedArgs(strings: ["MULTI"])
    static let execArgs = OwnedArgs(strings: ["EXEC"])
}
