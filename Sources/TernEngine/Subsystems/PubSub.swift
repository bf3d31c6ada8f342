import TernConfig
import TernProtocol
import TernStore

// Pub/Sub (Redis's pubsub.c semantics, standalone mode): channel, pattern and shard
// channel subscriptions, PUBLISH/SPUBLISH delivery, PUBSUB introspection. Slow subscribers
// are bounded by client-output-buffer-limit's pubsub class (OutputLimits.swift).
//
// Messages are encoded once per publish and appended to each subscriber's ReplyBuffer;
// the subscriber is flushed after the current I/O batch (Engine.flushSoon), so a burst of
// publishes costs one write per subscriber.

/// Server-wide subscription tables. Lives on the engine thread.
public final class PubSubRegistry {
    /// Set by Engine.init right after creating this registry; the engine owns it and
    /// outlives it.
    unowned(unsafe) var engine: Engine!
    /// channel -> subscribers in subscription order.
    var channels: [[UInt8]: [Client]] = [:]
    var shardChannels: [[UInt8]: [Client]] = [:]
    /// pattern -> subscribers; `patternOrder` keeps the patterns in first-subscribed order.
    var patterns: [[UInt8]: [Client]] = [:]
    var patternOrder: [[UInt8]] = []
    /// Per-client subscriptions, by client id.
    var clientState: [Int: ClientSubscriptions] = [:]
    /// Scratch buffer where a message is encoded once per publish.
    let scratch = ReplyBuffer(capacity: 1024)

    init() {}

    /// Active channels (PUBSUB CHANNELS / INFO pubsub_channels).
    public var channelCount: Int { channels.count }
    public var patternCount: Int { patterns.count }
    public var shardChannelCount: Int { shardChannels.count }

    @inline(__always) var isEmpty: Bool { channels.isEmpty && patterns.isEmpty }

    func subscriptions(_ c: Client, create: Bool) -> ClientSubscriptions? {
        if let s = clientState[c.id] { return s }
        guard create else { return nil }
        let s = ClientSubscriptions()
        clientState[c.id] = s
        return s
    }

    /// Keeps the client's pubsub flag (and state entry) in line with its subscriptions.
    func updateFlag(_ c: Client, _ s: ClientSubscriptions) {
        if s.total > 0 {
            c.flags.insert(.pubsub)
        } else {
            c.flags.remove(.pubsub)
            clientState[c.id] = nil
        }
    }

    // MARK: subscribe / unsubscribe

    enum Kind { case channel, pattern, shard }

    func subscribe(_ c: Client, _ a: Args, _ kind: Kind) {
        let s = subscriptions(c, create: true)!
        let word: StaticString = kind == .channel ? "subscribe" : kind == .pattern ? "psubscribe" : "ssubscribe"
        for i in 1..<a.count {
            let name = a.bytes(i)
            switch kind {
            case .channel:
                if s.channels[name] == nil {
                    s.channels[name] = s.nextSeq()
                    channels[name, default: []].append(c)
                }
            case .pattern:
                if s.patterns[name] == nil {
                    s.patterns[name] = s.nextSeq()
                    if patterns[name] == nil { patternOrder.append(name) }
                    patterns[name, default: []].append(c)
                }
            case .shard:
                if s.shardChannels[name] == nil {
                    s.shardChannels[name] = s.nextSeq()
                    shardChannels[name, default: []].append(c)
                }
            }
            c.writePush {
                c.out.push(3)
                c.out.bulk(UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
                c.out.bulk(a[i])
                c.out.integer(kind == .shard ? s.shardChannels.count : s.channels.count + s.patterns.count)
            }
        }
        updateFlag(c, s)
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: with no names, every subscription of the
    /// kind (in subscription order); `reply` false for disconnects and RESET.
    func unsubscribe(_ c: Client, names: [[UInt8]]?, _ kind: Kind, reply: Bool) {
        let s = subscriptions(c, create: false)
        let word = kind == .channel ? "unsubscribe" : kind == .pattern ? "punsubscribe" : "sunsubscribe"
        var list: [[UInt8]]
        if let names {
            list = names
        } else if let s {
            let d = kind == .channel ? s.channels : kind == .pattern ? s.patterns : s.shardChannels
            list = d.sorted { $0.value < $1.value }.map { $0.key }
        } else {
            list = []
        }
        if list.isEmpty && reply {
            c.writePush {
                c.out.push(3)
                c.out.bulk(word)
                c.out.null()
                c.out.integer(kind == .shard ? (s?.shardChannels.count ?? 0) : (s.map { $0.channels.count + $0.patterns.count } ?? 0))
            }
        }
        for name in list {
            if let s {
                switch kind {
                case .channel:
                    if s.channels.removeValue(forKey: name) != nil { remove(c, from: &channels, name) }
                case .pattern:
                    if s.patterns.removeValue(forKey: name) != nil {
                        remove(c, from: &patterns, name)
                        if patterns[name] == nil, let i = patternOrder.firstIndex(of: name) { patternOrder.remove(at: i) }
                    }
                case .shard:
                    if s.shardChannels.removeValue(forKey: name) != nil { remove(c, from: &shardChannels, name) }
                }
            }
            if reply {
                c.writePush {
                    c.out.push(3)
                    c.out.bulk(word)
                    c.out.bulk(name)
                    c.out.integer(kind == .shard ? (s?.shardChannels.count ?? 0) : (s.map { $0.channels.count + $0.patterns.count } ?? 0))
                }
            }
        }
        if let s { updateFlag(c, s) }
    }

    /// Cluster mode, a slot this node (or its master) stops serving: every subscriber of a
    /// shard channel of that slot is unsubscribed with a sunsubscribe push, as Redis 7.0's
    /// removeChannelsInSlot (called from clusterDelSlot).
    public func unsubscribeShardChannels(inSlot slot: Int) {
        guard !shardChannels.isEmpty else { return }
        let names = shardChannels.keys.filter { name in
            name.withUnsafeBytes { ClusterSlot.of($0) } == slot
        }
        for name in names {
            for c in shardChannels[name] ?? [] {
                unsubscribe(c, names: [name], .shard, reply: true)
                if c !== engine.currentClient { engine.flushSoon(c) }
            }
            shardChannels[name] = nil
        }
    }

    func remove(_ c: Client, from table: inout [[UInt8]: [Client]], _ name: [UInt8]) {
        guard var subs = table[name], let i = subs.firstIndex(where: { $0 === c }) else { return }
        subs.remove(at: i)
        table[name] = subs.isEmpty ? nil : subs
    }

    /// Drops every subscription of `c` without replies (disconnect, RESET).
    func dropAll(_ c: Client) {
        guard clientState[c.id] != nil else { return }
        unsubscribe(c, names: nil, .channel, reply: false)
        unsubscribe(c, names: nil, .pattern, reply: false)
        unsubscribe(c, names: nil, .shard, reply: false)
        clientState[c.id] = nil
        c.flags.remove(.pubsub)
    }

    // MARK: publishing

    /// Delivers a message to channel subscribers and matching pattern subscribers;
    /// returns the number of clients that received it.
    @discardableResult
    public func publish(_ channel: UnsafeRawBufferPointer, _ message: UnsafeRawBufferPointer) -> Int {
        var receivers = 0
        if !channels.isEmpty, let subs = channels[Array(channel)] {
            scratch.removeAll()
            scratch.append("*3\r\n$7\r\nmessage\r\n")
            scratch.bulk(channel)
            scratch.bulk(message)
            for sub in subs { deliver(sub) }
            receivers += subs.count
        }
        if !patternOrder.isEmpty {
            for p in patternOrder {
                let matched = p.withUnsafeBytes { Glob.match($0, channel) }
                guard matched, let subs = patterns[p] else { continue }
                scratch.removeAll()
                scratch.append("*4\r\n$8\r\npmessage\r\n")
                scratch.bulk(p)
                scratch.bulk(channel)
                scratch.bulk(message)
                for sub in subs { deliver(sub) }
                receivers += subs.count
            }
        }
        return receivers
    }

    public func publishShard(_ channel: UnsafeRawBufferPointer, _ message: UnsafeRawBufferPointer) -> Int {
        guard !shardChannels.isEmpty, let subs = shardChannels[Array(channel)] else { return 0 }
        scratch.removeAll()
        scratch.append("*3\r\n$8\r\nsmessage\r\n")
        scratch.bulk(channel)
        scratch.bulk(message)
        for sub in subs { deliver(sub) }
        return subs.count
    }

    /// Appends the encoded message in `scratch` (a RESP2 array; RESP3 clients get a push).
    @inline(__always) func deliver(_ sub: Client) {
        let start = sub.out.count
        sub.writePush { sub.out.append(scratch.bytes) }
        if sub.resp >= 3 { sub.out.base.storeBytes(of: UInt8(ascii: ">"), toByteOffset: start, as: UInt8.self) }
        // The subscriber's reply buffer grew: client eviction sees it before the next
        // command (Redis's updateClientMemUsage in pubsubPublishMessage).
        if engine.clientMemory.limit > 0 { engine.updateClientMemoryUsage(sub) }
        if sub !== engine.currentClient { engine.flushSoon(sub) }
    }
}

/// One client's subscriptions; values are sequence numbers (subscription order).
final class ClientSubscriptions {
    var channels: [[UInt8]: Int] = [:]
    var patterns: [[UInt8]: Int] = [:]
    var shardChannels: [[UInt8]: Int] = [:]
    var seq = 0
    var total: Int { channels.count + patterns.count + shardChannels.count }
    func nextSeq() -> Int { seq += 1; return seq }
}

extension Engine {
    func registerPubSubCommands() {
        let ps = pubsub
        commands.register("subscribe") { c, a in ps.subscribe(c, a, .channel) }
        commands.register("psubscribe") { c, a in ps.subscribe(c, a, .pattern) }
        commands.register("ssubscribe") { c, a in ps.subscribe(c, a, .shard) }
        commands.register("unsubscribe") { c, a in
            ps.unsubscribe(c, names: a.count > 1 ? (1..<a.count).map { a.bytes($0) } : nil, .channel, reply: true)
        }
        commands.register("punsubscribe") { c, a in
            ps.unsubscribe(c, names: a.count > 1 ? (1..<a.count).map { a.bytes($0) } : nil, .pattern, reply: true)
        }
        commands.register("sunsubscribe") { c, a in
            ps.unsubscribe(c, names: a.count > 1 ? (1..<a.count).map { a.bytes($0) } : nil, .shard, reply: true)
        }
        // PUBLISH and SPUBLISH reach replicas (not the AOF): Redis's
        // forceCommandPropagation(c, PROPAGATE_REPL) outside cluster mode; in cluster mode
        // the cluster bus carries them to the other nodes instead.
        commands.register("publish") { c, a in
            c.out.integer(ps.publish(a[1], a[2]))
            if let cluster = c.engine.cluster {
                cluster.propagatePublish(channel: a[1], message: a[2], sharded: false)
            } else {
                c.engine.alsoPropagateToReplicas(db: c.dbIndex, args: a)
            }
        }
        commands.register("spublish") { c, a in
            c.out.integer(ps.publishShard(a[1], a[2]))
            if let cluster = c.engine.cluster {
                cluster.propagatePublish(channel: a[1], message: a[2], sharded: true)
            } else {
                c.engine.alsoPropagateToReplicas(db: c.dbIndex, args: a)
            }
        }
        commands.register("pubsub|help") { c, _ in PubSubCommands.help(c) }
        commands.register("pubsub|channels") { c, a in PubSubCommands.channels(c, a, ps.channels) }
        commands.register("pubsub|shardchannels") { c, a in PubSubCommands.channels(c, a, ps.shardChannels) }
        commands.register("pubsub|numsub") { c, a in PubSubCommands.numsub(c, a, ps.channels) }
        commands.register("pubsub|shardnumsub") { c, a in PubSubCommands.numsub(c, a, ps.shardChannels) }
        commands.register("pubsub|numpat") { c, _ in c.out.integer(ps.patterns.count) }
    }
}

enum PubSubCommands {
    static func help(_ c: Client) {
        let lines = [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ]
        c.out.array(lines.count)
        for l in lines { c.out.simple(l) }
    }

    /// PUBSUB CHANNELS|SHARDCHANNELS [pattern]
    static func channels(_ c: Client, _ a: Args, _ table: [[UInt8]: [Client]]) {
        if a.count > 3 {
            c.error("ERR unknown subcommand or wrong number of arguments for '\(a.string(1))'. Try PUBSUB HELP.")
            return
        }
        if a.count == 2 {
            c.out.array(table.count)
            for k in table.keys { c.out.bulk(k) }
            return
        }
        let pattern = a[2]
        var hits: [[UInt8]] = []
        for k in table.keys where k.withUnsafeBytes({ Glob.match(pattern, $0) }) { hits.append(k) }
        c.out.array(hits.count)
        for k in hits { c.out.bulk(k) }
    }

    /// PUBSUB NUMSUB|SHARDNUMSUB [channel ...]: flat array even in RESP3 (as Redis 7.0).
    static func numsub(_ c: Client, _ a: Args, _ table: [[UInt8]: [Client]]) {
        c.out.array((a.count - 2) * 2)
        guard a.count > 2 else { return }
        for i in 2..<a.count {
            c.out.bulk(a[i])
            c.out.integer(table.isEmpty ? 0 : (table[a.bytes(i)]?.count ?? 0))
        }
    }
}
