import TernConfig
import TernProtocol
@testable import TernEngine

/// Records keyspace events the way a user sees them: a client of the engine subscribed to
/// `__keyevent@*__:*`, whose pmessages are read back from its reply buffer.
final class KeyspaceEventLog {
    let subscriber: Client

    /// `classes`: a notify-keyspace-events value; E is added (the log reads keyevent channels).
    init(_ engine: Engine, classes: String) {
        engine.config.notifyKeyspaceEvents = NotifyClass.parse("E" + classes) ?? 0
        subscriber = engine.createClient()
        Args.with([Array("psubscribe".utf8), Array("__keyevent@*__:*".utf8)]) { engine.execute(subscriber, $0) }
        subscriber.out.removeAll()
    }

    /// (event, key, db) of every event since the last call, in order.
    func take() -> [(event: String, key: String, db: Int)] {
        defer { subscriber.out.removeAll() }
        var out: [(String, String, Int)] = []
        let bulks = KeyspaceEventLog.bulkStrings(subscriber.out.bytes)
        // pmessage, pattern, channel, message: four bulk strings per event.
        var i = 0
        while i + 3 < bulks.count {
            let channel = bulks[i + 2]   // __keyevent@<db>__:<event>
            if let at = channel.firstIndex(of: "@"), let colon = channel.range(of: "__:") {
                let db = Int(channel[channel.index(after: at)..<colon.lowerBound]) ?? -1
                out.append((String(channel[colon.upperBound...]), bulks[i + 3], db))
            }
            i += 4
        }
        return out
    }

    /// The bulk strings of a RESP2 byte stream, in order (array headers skipped).
    static func bulkStrings(_ bytes: UnsafeRawBufferPointer) -> [String] {
        let b = Array(bytes)
        var out: [String] = []
        var i = 0
        func line() -> String {
            var j = i
            while j + 1 < b.count && !(b[j] == 13 && b[j + 1] == 10) { j += 1 }
            let s = String(decoding: b[i..<j], as: UTF8.self)
            i = j + 2
            return s
        }
        while i < b.count {
            let kind = b[i]
            i += 1
            let header = line()
            if kind == UInt8(ascii: "$"), let n = Int(header), n >= 0, i + n <= b.count {
                out.append(String(decoding: b[i..<(i + n)], as: UTF8.self))
                i += n + 2
            }
        }
        return out
    }
}
