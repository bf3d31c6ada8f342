import TernProtocol
import TernStore

/// Where a command's keys hash to, for cluster redirection (the key half of Redis 7.0's
/// getNodeByQuery): every key the command table's key finder reports (key specs, then the
/// command's get-keys function: EVAL numkeys, XREAD STREAMS, MIGRATE KEYS, SORT STORE but not
/// its BY/GET patterns), shard channels included (SPUBLISH/SSUBSCRIBE route by slot), and for
/// EXEC the keys of every queued command.
public enum KeyRoute: Equatable, Sendable {
    /// The call names no key: any node may serve it.
    case noKeys
    /// Every key hashes to `slot`; `multipleKeys` when two different key names appeared
    /// (Redis answers -TRYAGAIN for those while the slot is being migrated).
    case slot(Int, multipleKeys: Bool)
    /// Keys in different slots: -CROSSSLOT.
    case crossSlot
}

extension Engine {
    /// The route of `cmd` called with `a` by `c`. `cmd` is the resolved command (the
    /// subcommand for containers such as OBJECT or XGROUP), as dispatch has it. For EXEC from a
    /// client in MULTI the queued commands' keys decide (all of them must share one slot).
    public func keyRoute(_ c: Client?, _ cmd: Command, _ a: Args) -> KeyRoute {
        var router = KeyRouter()
        forEachRoutingKey(c, cmd, a) { router.add($0) }
        return router.route
    }

    /// Calls `body` with every key `keyRoute` looks at, in order (the cluster node checks which
    /// exist when the slot is migrating or importing, for -ASK and -TRYAGAIN).
    public func forEachRoutingKey(_ c: Client?, _ cmd: Command, _ a: Args, _ body: (UnsafeRawBufferPointer) -> Void) {
        if let c, c.flags.contains(.multi), cmd.name == "exec", let state = c.multiState {
            state.forEachQueued { q, qa in Self.forEachKey(q, qa, body) }
            return
        }
        Self.forEachKey(cmd, a, body)
    }

    static func forEachKey(_ cmd: Command, _ a: Args, _ body: (UnsafeRawBufferPointer) -> Void) {
        cmd.keyFinder.forEachKey(a, options: .includeNotKeys) { i, _ in body(a[i]) }
    }
}

/// Folds keys into a route as getNodeByQuery does: the first key fixes the slot, a different
/// key in the same slot marks multiple keys, a key in another slot is CROSSSLOT. The first key
/// is borrowed (no copy on the dispatch path): every key reported in one `forEachRoutingKey`
/// pass stays valid until it returns.
struct KeyRouter {
    private var first: UnsafeRawBufferPointer?
    private var slot = -1
    private var multiple = false
    private var cross = false

    mutating func add(_ key: UnsafeRawBufferPointer) {
        if cross { return }
        let s = ClusterSlot.of(key)
        guard let f = first else { first = key; slot = s; return }
        if s != slot { cross = true; return }
        if !multiple && !(f.count == key.count && f.elementsEqual(key)) { multiple = true }
    }

    var route: KeyRoute {
        if cross { return .crossSlot }
        if first == nil { return .noKeys }
        return .slot(slot, multipleKeys: multiple)
    }
}
