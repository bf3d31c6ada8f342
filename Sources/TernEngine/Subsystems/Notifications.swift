import TernConfig
import TernProtocol
import TernStore

// Keyspace notifications (Redis's notify.c): every `c.notify(class, event, key)` from a
// command reaches `__keyspace@<db>__:<key>` (message: the event name) when `K` is set and
// `__keyevent@<db>__:<event>` (message: the key) when `E` is set, provided the event's
// class is enabled in notify-keyspace-events.

extension NotifyClass {
    /// `A`: every class except key-miss (m) and new-key (n).
    public static let all: NotifyClass = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    /// Parses a notify-keyspace-events value (`KEA`, `Kx`, `Elg$` ...). Returns nil on an
    /// unknown character (CONFIG SET then fails with "Invalid event class character.
    /// Use 'Ag$lshzxeKEtmdn'.").
    public static func parse(_ s: String) -> Int? {
        var flags: NotifyClass = []
        for ch in s.utf8 {
            switch ch {
            case UInt8(ascii: "A"): flags.formUnion(.all)
            case UInt8(ascii: "g"): flags.insert(.generic)
            case UInt8(ascii: "$"): flags.insert(.string)
            case UInt8(ascii: "l"): flags.insert(.list)
            case UInt8(ascii: "s"): flags.insert(.set)
            case UInt8(ascii: "h"): flags.insert(.hash)
            case UInt8(ascii: "z"): flags.insert(.zset)
            case UInt8(ascii: "x"): flags.insert(.expired)
            case UInt8(ascii: "e"): flags.insert(.evicted)
            case UInt8(ascii: "K"): flags.insert(.keyspace)
            case UInt8(ascii: "E"): flags.insert(.keyevent)
            case UInt8(ascii: "t"): flags.insert(.stream)
            case UInt8(ascii: "m"): flags.insert(.keyMiss)
            case UInt8(ascii: "d"): flags.insert(.module)
            case UInt8(ascii: "n"): flags.insert(.new)
            default: return nil
            }
        }
        return flags.rawValue
    }

    /// The CONFIG GET form of a flag set, as Redis prints it: `A` when every class of A is
    /// set (then `n` is not shown), else the class letters; then `K`, `E`, `m`.
    public static func format(_ raw: Int) -> String {
        let f = NotifyClass(rawValue: raw)
        var out = ""
        if f.isSuperset(of: .all) {
            out = "A"
        } else {
            let letters: [(NotifyClass, String)] = [
                (.generic, "g"), (.string, "$"), (.list, "l"), (.set, "s"), (.hash, "h"), (.zset, "z"),
                (.expired, "x"), (.evicted, "e"), (.stream, "t"), (.module, "d"), (.new, "n"),
            ]
            for (c, l) in letters where f.contains(c) { out += l }
        }
        if f.contains(.keyspace) { out += "K" }
        if f.contains(.keyevent) { out += "E" }
        if f.contains(.keyMiss) { out += "m" }
        return out
    }
}

/// Publishes keyspace events through the pub/sub tables.
final class KeyspaceNotifier {
    /// Set by Engine.init right after creating this notifier; the engine owns it and
    /// outlives it.
    unowned(unsafe) var engine: Engine!
    let pubsub: PubSubRegistry
    var channel: [UInt8] = []

    init(pubsub: PubSubRegistry) {
        self.pubsub = pubsub
        channel.reserveCapacity(128)
    }

    func notify(_ cls: NotifyClass, _ event: String, _ key: UnsafeRawBufferPointer, _ dbid: Int) {
        let flags = engine.config.notifyKeyspaceEvents
        guard flags & cls.rawValue != 0 else { return }
        // Nobody listening: skip building channel names.
        if pubsub.isEmpty { return }
        var ev = event
        if flags & NotifyClass.keyspace.rawValue != 0 {
            channel.removeAll(keepingCapacity: true)
            channel.append(contentsOf: "__keyspace@".utf8)
            channel.append(contentsOf: String(dbid).utf8)
            channel.append(contentsOf: "__:".utf8)
            channel.append(contentsOf: key)
            ev.withUTF8 { e in
                channel.withUnsafeBytes { _ = pubsub.publish($0, UnsafeRawBufferPointer(e)) }
            }
        }
        if flags & NotifyClass.keyevent.rawValue != 0 {
            channel.removeAll(keepingCapacity: true)
            channel.append(contentsOf: "__keyevent@".utf8)
            channel.append(contentsOf: String(dbid).utf8)
            channel.append(contentsOf: "__:".utf8)
            channel.append(contentsOf: event.utf8)
            channel.withUnsafeBytes { _ = pubsub.publish($0, key) }
        }
    }
}
