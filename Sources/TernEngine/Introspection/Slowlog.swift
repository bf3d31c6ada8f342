import TernConfig
import TernProtocol

/// SLOWLOG: commands slower than `slowlog-log-slower-than` microseconds, newest first,
/// at most `slowlog-max-len` of them.
public final class Slowlog {
    struct Entry {
        let id: Int
        let time: Int          // unix seconds
        let duration: Int      // microseconds
        let argv: [[UInt8]]    // already shortened for display
        let peer: String
        let name: [UInt8]
    }

    /// Oldest first; the live window is `items[head...]` (amortised O(1) trimming).
    var items: [Entry] = []
    var head = 0
    var nextID = 0

    /// Argument display limits: at most 32 slots, each at most 128 bytes.
    static let maxArgs = 32
    static let maxArgBytes = 128

    public var count: Int { items.count - head }

    func reset() {
        items.removeAll()
        head = 0
    }

    func push(_ e: Entry, maxLen: Int) {
        items.append(e)
        trim(maxLen)
    }

    func trim(_ maxLen: Int) {
        let keep = max(0, maxLen)
        if count > keep { head += count - keep }
        if head > 0 && (head >= 4096 || head * 2 >= items.count) {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Builds the displayed argument vector: redacted secrets, long arguments cut at
    /// 128 bytes with "... (N more bytes)", and past 31 arguments one
    /// "... (N more arguments)" slot.
    static func displayArgs(_ cmd: Command, _ a: Args) -> [[UInt8]] {
        let redacted = Redaction.redactedIndexes(cmd, a)
        let shown = a.count > maxArgs ? maxArgs - 1 : a.count
        var out: [[UInt8]] = []
        out.reserveCapacity(min(a.count, maxArgs))
        for i in 0..<shown {
            if redacted.contains(i) { out.append(Redaction.placeholder); continue }
            let len = a.length(i)
            if len > maxArgBytes {
                var b = Array(a[i].prefix(maxArgBytes))
                b.append(contentsOf: "... (\(len - maxArgBytes) more bytes)".utf8)
                out.append(b)
            } else {
                out.append(a.bytes(i))
            }
        }
        if a.count > maxArgs {
            out.append(Array("... (\(a.count - shown) more arguments)".utf8))
        }
        return out
    }
}

/// Arguments Redis hides from SLOWLOG and MONITOR ("(redacted)"): passwords given to
/// AUTH, HELLO, MIGRATE, ACL SETUSER and sensitive CONFIG SET values.
enum Redaction {
    static let placeholder: [UInt8] = Array("(redacted)".utf8)
    static let sensitiveConfigs: Set<String> = ["requirepass", "masterauth"]

    static func redactedIndexes(_ cmd: Command, _ a: Args) -> Set<Int> {
        switch cmd.name {
        case "auth":
            return Set(1..<max(1, a.count))
        case "hello":
            var s = Set<Int>()
            var j = 2
            while j < a.count {
                let more = a.count - j - 1
                if a.equals(j, "auth") && more >= 2 { s.insert(j + 1); s.insert(j + 2); j += 3 }
                else if a.equals(j, "setname") && more >= 1 { j += 2 }
                else { break }
            }
            return s
        case "migrate":
            var s = Set<Int>()
            var j = 6
            while j < a.count {
                let more = a.count - j - 1
                if a.equals(j, "auth") && more >= 1 { s.insert(j + 1); j += 2 }
                else if a.equals(j, "auth2") && more >= 2 { s.insert(j + 1); s.insert(j + 2); j += 3 }
                else if a.equals(j, "keys") { break }
                else { j += 1 }
            }
            return s
        case "acl|setuser":
            return Set(2..<max(2, a.count))
        case "config|set":
            var s = Set<Int>()
            var j = 2
            while j + 1 < a.count {
                if sensitiveConfigs.contains(a.lowercased(j)) { s.insert(j + 1) }
                j += 2
            }
            return s
        default:
            return []
        }
    }
}

extension Engine {
    func registerSlowlogCommands() {
        commands.register("slowlog|get", SlowlogCommands.get)
        commands.register("slowlog|len", SlowlogCommands.len)
        commands.register("slowlog|reset", SlowlogCommands.reset)
        commands.register("slowlog|help", SlowlogCommands.help)
    }
}

enum SlowlogCommands {
    static func get(_ c: Client, _ a: Args) {
        if a.count > 3 {
            c.error("ERR unknown subcommand or wrong number of arguments for '\(a.string(1))'. Try SLOWLOG HELP.")
            return
        }
        let log = c.engine.observers.slowlog
        var n = 10
        if a.count == 3 {
            guard let v = Numbers.parseInt(a[2]), v >= -1 else {
                c.error("ERR count should be greater than or equal to -1")
                return
            }
            n = v == -1 ? log.count : v
        }
        let shown = min(n, log.count)
        c.out.array(shown)
        var i = log.items.count - 1
        for _ in 0..<shown {
            let e = log.items[i]
            i -= 1
            c.out.array(6)
            c.out.integer(e.id)
            c.out.integer(e.time)
            c.out.integer(e.duration)
            c.out.array(e.argv.count)
            for arg in e.argv { c.out.bulk(arg) }
            c.out.bulk(e.peer)
            c.out.bulk(e.name)
        }
    }

    static func len(_ c: Client, _ a: Args) { c.out.integer(c.engine.observers.slowlog.count) }

    static func reset(_ c: Client, _ a: Args) {
        c.engine.observers.slowlog.reset()
        c.out.ok()
    }

    static func help(_ c: Client, _ a: Args) {
        HelpText.reply(c, "SLOWLOG", [
            "GET [<count>]",
            "    Show the <count> most recent slow commands (10 when omitted, -1 for every",
            "    logged entry). Each entry holds: an id, the unix time it ran, its duration",
            "    in microseconds, its arguments, the client address and the client name.",
            "LEN",
            "    Number of entries currently held in the slow log.",
            "RESET",
            "    Forget every logged entry.",
        ])
    }
}

/// Replies for the HELP subcommands: a status line per row, framed like Redis frames them.
enum HelpText {
    static func reply(_ c: Client, _ command: String, _ lines: [String]) {
        c.out.array(lines.count + 3)
        c.out.simple("\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        for l in lines { c.out.simple(l) }
        c.out.simple("HELP")
        c.out.simple("    Print this help.")
    }
}
