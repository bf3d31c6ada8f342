import TernConfig
import TernProtocol
import TernStore

/// A client's life: creation, RESET and disconnect. Each subsystem that keeps per-client
/// state is called directly, in Redis's order; a new subsystem adds its line here.
extension Engine {
    public func createClient() -> Client {
        let c = Client(id: nextClientID, engine: self)
        nextClientID += 1
        clients[c.id] = c
        stats.totalConnections += 1
        return c
    }

    /// A client that is not a connection (AOF loading, scripts, tests).
    public func createFakeClient() -> Client {
        let c = Client(id: Int.max - nextClientID, engine: self)
        c.flags.insert(.fake)
        // Internal work runs unrestricted (Redis's fake clients have no user).
        setClientUser(c, nil)
        c.authenticated = true
        return c
    }

    /// The connection is gone: drop everything the client holds (Redis's freeClient and
    /// unlinkClient, in their order). No reply is written.
    public func freeClient(_ c: Client) {
        // Blocked on keys, or postponed by CLIENT PAUSE (Redis blocks those too).
        if c.flags.contains(.blocked) { blocking.removeClient(c) }
        if c.postponed {
            c.postponed = false
            postponedClients.removeAll { $0 === c }
        }
        transactions.unwatchAll(c)
        pubsub.dropAll(c)
        // unlinkClient: out of the client table and the queues that name it.
        clients[c.id] = nil
        pendingResume.removeAll { $0 === c }
        if c.flags.contains(.tracking) { tracking.disable(c) }
        if c.flags.contains(.monitor) { observers.removeMonitor(c) }
        transactions.freeState(c)
        if c.flags.contains(.replica) { detachReplica(c) }
        if !repl.waiters.isEmpty { repl.waiters.removeAll { $0.client === c } }
        forgetClientMemory(c)
    }

    /// RESET: back to a fresh connection's state (Redis's clearClientConnectionState, in
    /// its order). A pending CLIENT REPLY SKIP still swallows the "RESET" reply.
    public func resetClient(_ c: Client) {
        if c.flags.contains(.monitor) { observers.removeMonitor(c) }
        if c.flags.contains(.tracking) { tracking.disable(c) }
        if let d = database(0) { c.db = d }
        c.resp = 2
        setClientUser(c, acl.defaultUser)
        c.aclAuthenticated = acl.defaultUserIsOpen
        c.authenticated = c.aclAuthenticated
        transactions.discard(c)
        pubsub.dropAll(c)
        c.name = nil
        c.flags.remove([.readonly, .asking])
        if c.replyMode == .off || c.replyMode == .skipNext { c.replyMode = .on }
    }
}
