import TernConfig
import TernProtocol
import TernStore

extension Engine {
    func registerClientCommands() {
        commands.register("client|id", ClientCommand.id)
        commands.register("client|setname", ClientCommand.setname)
        commands.register("client|getname", ClientCommand.getname)
        commands.register("client|list", ClientCommand.list)
        commands.register("client|info", ClientCommand.info)
        commands.register("client|kill", ClientCommand.kill)
        commands.register("client|reply", ClientCommand.reply)
        commands.register("client|pause", ClientCommand.pause)
        commands.register("client|unpause", ClientCommand.unpause)
        commands.register("client|no-evict", ClientCommand.noEvict)
        commands.register("client|help", ClientCommand.help)
    }

    /// Runs a command for a client in CLIENT REPLY OFF / SKIP mode and drops what it
    /// wrote. As in Redis, CLIENT REPLY ON (and RESET while OFF) is answered, and SKIP
    /// swallows exactly the reply of the command after the one that asked for it.
    func executeSuppressingReply(_ c: Client, _ args: Args) {
        let start = c.replyMode
        if start == .skipNext { c.replyMode = .skip }
        let mark = c.out.count
        c.keptPushes = []
        dispatch(c, args)
        let pushes = c.keptPushes ?? []
        c.keptPushes = nil
        if c.postponed {
            // CLIENT PAUSE will run this request again later: keep the mode for that run.
            c.replyMode = start
            return
        }
        switch c.replyMode {
        case .on:
            return
        case .skip:
            dropReplies(c, after: mark, keeping: pushes)
            c.replyMode = .on
        case .off, .skipNext:
            dropReplies(c, after: mark, keeping: pushes)
        }
    }

    /// Cuts the replies written after `mark`, except the push messages (subscribe and
    /// unsubscribe confirmations) that Redis delivers whatever the reply mode.
    func dropReplies(_ c: Client, after mark: Int, keeping pushes: [Range<Int>]) {
        let kept = pushes.filter { $0.lowerBound >= mark }
        if kept.isEmpty { c.out.truncate(to: mark); return }
        var bytes: [UInt8] = []
        for r in kept { bytes += UnsafeRawBufferPointer(rebasing: c.out.bytes[r]) }
        c.out.truncate(to: mark)
        c.out.append(bytes)
    }
}

enum ClientCommand {
    static func id(_ c: Client, _ a: Args) { c.out.integer(c.id) }

    static func setname(_ c: Client, _ a: Args) {
        let n = a[2]
        if n.contains(where: { $0 < 33 || $0 > 126 }) {
            c.error("ERR Client names cannot contain spaces, newlines or special characters.")
            return
        }
        c.name = n.isEmpty ? nil : Array(n)
        c.out.ok()
    }

    static func getname(_ c: Client, _ a: Args) {
        if let n = c.name { c.out.bulk(n) } else { c.out.null() }
    }

    static func info(_ c: Client, _ a: Args) {
        c.out.verbatim(line(c, for: c, args: a) + "\n")
    }

    /// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]
    static func list(_ c: Client, _ a: Args) {
        var selected: [Client]
        if a.count == 2 {
            selected = c.engine.clients.values.sorted { $0.id < $1.id }
        } else if a.count == 4 && a.equals(2, "type") {
            guard let t = ClientType(a.lowercased(3)) else {
                c.error("ERR Unknown client type '\(a.string(3))'")
                return
            }
            selected = c.engine.clients.values.filter { ClientType.of($0) == t }.sorted { $0.id < $1.id }
        } else if a.count > 3 && a.equals(2, "id") {
            selected = []
            for i in 3..<a.count {
                guard let id = Numbers.parseInt(a[i]) else {
                    c.error("ERR Invalid client ID")
                    return
                }
                if let x = c.engine.clients[id] { selected.append(x) }
            }
        } else {
            c.syntaxError()
            return
        }
        var text = ""
        for x in selected {
            text += line(x, for: c, args: a)
            text += "\n"
        }
        c.out.verbatim(text)
    }

    /// One CLIENT LIST line for `x` as seen by `caller` running `args`: the caller's own
    /// line counts the arguments of the command it is running (argv-mem), as Redis's does.
    static func line(_ x: Client, for caller: Client, args: Args) -> String {
        var argvMem = 0
        if x === caller { for i in 0..<args.count { argvMem += args.length(i) } }
        return line(x, argvMem: argvMem)
    }

    /// One CLIENT LIST line (no newline), fields in Redis 7.0's order (Redis's
    /// catClientInfoString; also the client's description in log lines).
    static func line(_ x: Client, argvMem: Int = 0) -> String {
        let e = x.engine
        let now = e.nowMs
        let qbufFree = max(0, x.queryBufferCapacity - x.queryBufferLength)
        let totMem = e.clientMemoryUsage(x) + argvMem
        let subs = x.subscriptionCounts
        let f: [(String, String)] = [
            ("id", "\(x.id)"),
            ("addr", x.remoteAddress),
            ("laddr", x.localAddress),
            ("fd", "\(x.fd)"),
            ("name", x.nameString),
            ("age", "\(max(0, (now - x.createdMs) / 1000))"),
            ("idle", "\(max(0, (now - x.lastInteractionMs) / 1000))"),
            ("flags", flags(x)),
            ("db", "\(x.dbIndex)"),
            ("sub", "\(subs.channels)"),
            ("psub", "\(subs.patterns)"),
            ("ssub", "\(subs.shardChannels)"),
            ("multi", "\(x.multiQueueLength)"),
            ("qbuf", "\(x.queryBufferLength)"),
            ("qbuf-free", "\(qbufFree)"),
            ("argv-mem", "\(argvMem)"),
            ("multi-mem", "\(x.multiQueueMemory)"),
            ("rbs", "\(x.out.capacity)"),
            ("rbp", "\(x.out.peak)"),
            ("obl", "\(e.outputBufferStaticBytes(x))"),
            ("oll", "\(x.pendingOutputWrites)"),
            ("omem", "\(e.outputBufferMemory(x))"),
            ("tot-mem", "\(totMem)"),
            ("events", x.pendingOutputWrites > 0 ? "rw" : "r"),
            ("cmd", x.currentCommand?.fullName ?? "NULL"),
            ("user", x.user),
            ("redir", "\(x.trackingRedirect)"),
            ("resp", "\(x.resp)"),
        ]
        return f.map { $0.0 + "=" + $0.1 }.joined(separator: " ")
    }

    /// The flags= letters, in Redis's order; N when none applies.
    static func flags(_ x: Client) -> String {
        var s = ""
        let f = x.flags
        if f.contains(.monitor) { s += "O" } else if f.contains(.replica) { s += "S" }
        if f.contains(.master) { s += "M" }
        if f.contains(.pubsub) { s += "P" }
        if f.contains(.multi) { s += "x" }
        // A client held by CLIENT PAUSE is blocked too (Redis blocks it as BLOCKED_POSTPONE).
        if f.contains(.blocked) || x.postponed { s += "b" }
        if f.contains(.tracking) { s += x.trackingListFlags }
        if f.contains(.dirtyCAS) { s += "d" }
        if f.contains(.closeAfterReply) { s += "c" }
        if f.contains(.closeASAP) { s += "A" }
        if f.contains(.unixSocket) { s += "U" }
        if f.contains(.readonly) { s += "r" }
        if f.contains(.noEvict) { s += "e" }
        return s.isEmpty ? "N" : s
    }

    /// CLIENT KILL addr | CLIENT KILL [ID id] [TYPE t] [USER u] [ADDR a] [LADDR a] [SKIPME yes|no]
    static func kill(_ c: Client, _ a: Args) {
        let e = c.engine
        if a.count == 3 {
            let addr = a.string(2)
            guard let victim = e.clients.values.first(where: { $0.remoteAddress == addr }) else {
                c.error("ERR No such client")
                return
            }
            c.out.ok()
            close(victim, by: c)
            return
        }
        var id: Int? = nil
        var type: ClientType? = nil
        var user: String? = nil
        var addr: String? = nil
        var laddr: String? = nil
        var skipMe = true
        var i = 2
        while i < a.count {
            guard i + 1 < a.count else { c.syntaxError(); return }
            if a.equals(i, "id") {
                guard let v = Numbers.parseInt(a[i + 1]), v > 0 else {
                    c.error("ERR client-id should be greater than 0")
                    return
                }
                id = v
            } else if a.equals(i, "type") {
                guard let t = ClientType(a.lowercased(i + 1)) else {
                    c.error("ERR Unknown client type '\(a.string(i + 1))'")
                    return
                }
                type = t
            } else if a.equals(i, "addr") {
                addr = a.string(i + 1)
            } else if a.equals(i, "laddr") {
                laddr = a.string(i + 1)
            } else if a.equals(i, "user") {
                let u = a.string(i + 1)
                guard e.acl.user(u) != nil else {
                    c.error("ERR No such user '\(u)'")
                    return
                }
                user = u
            } else if a.equals(i, "skipme") {
                if a.equals(i + 1, "yes") { skipMe = true }
                else if a.equals(i + 1, "no") { skipMe = false }
                else { c.syntaxError(); return }
            } else {
                c.syntaxError()
                return
            }
            i += 2
        }
        var victims: [Client] = []
        for x in e.clients.values.sorted(by: { $0.id < $1.id }) {
            if let v = addr, x.remoteAddress != v { continue }
            if let v = laddr, x.localAddress != v { continue }
            if let v = type, ClientType.of(x) != v { continue }
            if let v = id, x.id != v { continue }
            if let v = user, x.user != v { continue }
            if x === c && skipMe { continue }
            victims.append(x)
        }
        c.out.integer(victims.count)
        for v in victims { close(v, by: c) }
    }

    /// The caller closes after its reply; others are closed right after this command,
    /// their pending output dropped (Redis frees them at once).
    static func close(_ victim: Client, by c: Client) {
        if victim === c {
            c.flags.insert(.closeAfterReply)
        } else {
            c.engine.freeClientAsync(victim)
        }
    }

    static func reply(_ c: Client, _ a: Args) {
        if a.equals(2, "on") {
            c.replyMode = .on
            c.out.ok()
        } else if a.equals(2, "off") {
            c.replyMode = .off
        } else if a.equals(2, "skip") {
            if c.replyMode != .off { c.replyMode = .skipNext }
        } else {
            c.syntaxError()
        }
    }

    /// CLIENT PAUSE timeout-ms [WRITE|ALL]
    static func pause(_ c: Client, _ a: Args) {
        if a.count > 4 {
            c.error("ERR unknown subcommand or wrong number of arguments for '\(a.string(1))'. Try CLIENT HELP.")
            return
        }
        guard let ms = Numbers.parseInt(a[2]) else {
            c.error("ERR timeout is not an integer or out of range")
            return
        }
        if ms < 0 { c.error("ERR timeout is negative"); return }
        var all = true
        if a.count == 4 {
            if a.equals(3, "write") { all = false }
            else if a.equals(3, "all") { all = true }
            else { c.error("ERR CLIENT PAUSE mode must be WRITE or ALL"); return }
        }
        let end = ms > 0 ? c.engine.nowMs &+ Int64(ms) : 0
        c.engine.pause(until: end, all: all)
        c.out.ok()
    }

    static func unpause(_ c: Client, _ a: Args) {
        c.engine.unpause()
        c.out.ok()
    }

    /// CLIENT NO-EVICT ON|OFF: the client leaves (or rejoins) client eviction's buckets at
    /// once, so the next eviction already sees it.
    static func noEvict(_ c: Client, _ a: Args) {
        if a.equals(2, "on") { c.flags.insert(.noEvict); c.out.ok() }
        else if a.equals(2, "off") { c.flags.remove(.noEvict); c.out.ok() }
        else { c.syntaxError(); return }
        c.engine.updateClientMemoryUsage(c)
    }

    static func help(_ c: Client, _ a: Args) {
        HelpText.reply(c, "CLIENT", [
            "CACHING (YES|NO)",
            "    In OPTIN/OPTOUT tracking mode, decide whether the next command's keys are tracked.",
            "GETREDIR",
            "    The id of the client receiving this connection's invalidations (-1: none, 0: RESP3 push).",
            "GETNAME",
            "    This connection's name, or nil.",
            "ID",
            "    This connection's unique id.",
            "INFO",
            "    One line describing this connection, in CLIENT LIST format.",
            "KILL <ip:port>",
            "    Close the connection coming from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Close every connection matching all the filters below:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      the client's address.",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      the local address the client connected to.",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      the kind of connection.",
            "    * USER <username>",
            "      the user the connection is authenticated as.",
            "    * SKIPME (YES|NO)",
            "      whether the calling connection is spared (the default is YES).",
            "LIST [options ...]",
            "    One line per connection. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      only connections of this kind.",
            "    * ID <id> [<id> ...]",
            "      only the connections with these ids.",
            "UNPAUSE",
            "    End a CLIENT PAUSE now.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Hold back commands of other clients (all of them, or only writes) for <timeout> ms.",
            "REPLY (ON|OFF|SKIP)",
            "    Turn replies to this connection on or off, or drop only the next one.",
            "SETNAME <name>",
            "    Name this connection (an empty name removes it).",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Wake a client blocked in a blocking command, as on timeout or with an error.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Turn server-assisted client-side caching on or off.",
            "TRACKINGINFO",
            "    How client-side caching is set up for this connection.",
            "NO-EVICT (ON|OFF)",
            "    Exempt this connection from client eviction.",
        ])
    }
}

