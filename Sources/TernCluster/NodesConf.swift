import TernConfig
import TernEngine
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// nodes.conf (Redis 7.0's cluster config file; ../shared/specs/cluster.md §7): the CLUSTER
// NODES lines of every node but handshake ones, then `vars currentEpoch N lastVoteEpoch N`.
// Node line: `<id> <ip>:<port>@<cport>[,<hostname>] <flags> <master|-> <ping_sent>
// <pong_recv> <configEpoch> <connected|disconnected> [<slot>|<a>-<b>|[<s>->-<id>]|[<s>-<-<id>] ...]`.

extension Cluster {
    // MARK: describing nodes

    /// One CLUSTER NODES line without its newline (Redis's clusterGenNodeDescription).
    func describe(_ n: ClusterNode) -> String {
        describe(n, slotRanges: slotRanges(of: n, in: slotRangesByOwner()))
    }

    /// The slot table's ranges per owner, in one pass: nodes.conf is rewritten after every
    /// SETSLOT, and a scan of the 16384 slots per node made each save cost milliseconds. The
    /// table is read as raw words (an optional class reference is one pointer, nil is 0) so the
    /// scan retains nothing; keys are the owners' ObjectIdentifier bit patterns.
    func slotRangesByOwner() -> [UInt: [ClosedRange<Int>]] {
        var out: [UInt: [ClosedRange<Int>]] = [:]
        slotOwner.withUnsafeBytes { raw in
            let words = raw.bindMemory(to: UInt.self)
            var j = 0
            while j < words.count {
                let owner = words[j]
                guard owner != 0 else { j += 1; continue }
                var end = j
                while end + 1 < words.count && words[end + 1] == owner { end += 1 }
                out[owner, default: []].append(j...end)
                j = end + 1
            }
        }
        return out
    }

    /// A node as it appears in a raw word of a slot table.
    func slotTableWord(_ n: ClusterNode) -> UInt {
        UInt(bitPattern: Unmanaged.passUnretained(n).toOpaque())
    }

    func slotRanges(of n: ClusterNode, in table: [UInt: [ClosedRange<Int>]]) -> [ClosedRange<Int>] {
        table[slotTableWord(n)] ?? []
    }

    /// Slots with an entry in a migrating/importing table, found without retaining the rest.
    func openSlots(_ table: [ClusterNode?]) -> [Int] {
        table.withUnsafeBytes { raw in
            let words = raw.bindMemory(to: UInt.self)
            var out: [Int] = []
            var j = 0
            while j < words.count {
                if words[j] != 0 { out.append(j) }
                j += 1
            }
            return out
        }
    }

    func describe(_ n: ClusterNode, slotRanges: [ClosedRange<Int>]) -> String {
        var s = n.name + " \(n.ip):\(n.port)@\(n.cport)"
        if !n.hostname.isEmpty { s += "," + n.hostname }
        s += " " + n.flags.text + " " + (n.master?.name ?? "-")
        let linked = n.link != nil || n.isMyself
        s += " \(n.pingSent) \(n.pongReceived) \(n.shownEpoch) \(linked ? "connected" : "disconnected")"
        // Slot tokens come from the slot table (what this node believes each slot's owner is).
        for r in slotRanges {
            s += r.count == 1 ? " \(r.lowerBound)" : " \(r.lowerBound)-\(r.upperBound)"
        }
        if n.isMyself {
            for j in Set(openSlots(migratingTo) + openSlots(importingFrom)).sorted() {
                if let to = migratingTo[j] {
                    s += " [\(j)->-\(to.name)]"
                } else if let from = importingFrom[j] {
                    s += " [\(j)-<-\(from.name)]"
                }
            }
        }
        return s
    }

    /// CLUSTER NODES text, or the node lines of nodes.conf (handshake nodes left out).
    func describeNodes(skipHandshake: Bool) -> String {
        let ranges = slotRangesByOwner()
        var out = ""
        for n in nodes where !(skipHandshake && n.inHandshake) {
            out += describe(n, slotRanges: slotRanges(of: n, in: ranges))
            out += "\n"
        }
        return out
    }

    var configText: String {
        describeNodes(skipHandshake: true) + "vars currentEpoch \(currentEpoch) lastVoteEpoch \(lastVoteEpoch)\n"
    }

    // MARK: lock

    /// Redis's clusterLockConfig: an exclusive flock held for the process lifetime, so two
    /// nodes never share one nodes.conf.
    func lockConfig() -> String? {
        let fd = open(configPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if fd == -1 {
            return "Can't open \(configPath) in order to acquire a lock: \(String(cString: strerror(errno)))"
        }
        if flock(fd, LOCK_EX | LOCK_NB) == -1 {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK {
                return "Sorry, the cluster configuration file \(configPath) is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files."
            }
            return "Impossible to lock \(configPath): \(String(cString: strerror(e)))"
        }
        lockFD = fd
        return nil
    }

    // MARK: save

    /// Writes nodes.conf. With `fsync` (what Redis fsyncs: epochs, votes, a new identity)
    /// atomically: a locked temporary file, fsynced, renamed over the old one, the directory
    /// fsynced; the new file is locked before its name appears, and its descriptor becomes
    /// the lock. Without (slot moves: Redis 7.0 does not fsync them either, and the cluster
    /// tells a restarted node who owns its slots) in place, as Redis writes it: a temporary
    /// file, fsync and rename per CLUSTER SETSLOT made a reshard 6x slower than Redis's.
    /// Returns the error text on failure.
    func saveConfig(fsync doSync: Bool) -> String? {
        todo.remove(.saveConfig)
        if doSync { todo.remove(.fsyncConfig) }
        let text = Array(configText.utf8)
        if !doSync { return rewriteInPlace(text) }
        let tmp = configPath + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd == -1 { return String(cString: strerror(errno)) }
        func fail() -> String {
            let e = String(cString: strerror(errno))
            close(fd)
            unlink(tmp)
            return e
        }
        if flock(fd, LOCK_EX | LOCK_NB) == -1 { return fail() }
        var written = 0
        while written < text.count {
            let r = text.withUnsafeBytes { write(fd, $0.baseAddress! + written, text.count - written) }
            if r < 0 {
                if errno == EINTR { continue }
                return fail()
            }
            written += r
        }
        if doSync && Glibc.fsync(fd) == -1 { return fail() }
        if rename(tmp, configPath) == -1 { return fail() }
        if doSync { syncDirectory(of: configPath) }
        if lockFD != -1 { close(lockFD) }
        lockFD = fd
        return nil
    }

    /// A save without fsync, as Redis 7.0 writes nodes.conf: in place, with one write of the
    /// whole text padded with newlines to the old length (the loader skips empty lines, so a
    /// crash before the truncate leaves a valid file), then truncated. Cheap on the engine
    /// thread: no new inode and no rename per CLUSTER SETSLOT.
    func rewriteInPlace(_ text: [UInt8]) -> String? {
        let fd = open(configPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if fd == -1 { return String(cString: strerror(errno)) }
        defer { close(fd) }
        var st = stat()
        var padded = text
        if fstat(fd, &st) == 0 && Int(st.st_size) > text.count {
            padded += [UInt8](repeating: UInt8(ascii: "\n"), count: Int(st.st_size) - text.count)
        }
        var written = 0
        while written < padded.count {
            let r = padded.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, padded.count - written, off_t(written)) }
            if r < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            written += r
        }
        if padded.count != text.count && ftruncate(fd, off_t(text.count)) == -1 { return String(cString: strerror(errno)) }
        return nil
    }

    func syncDirectory(of path: String) {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let dfd = open(dir, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            _ = Glibc.fsync(dfd)
            close(dfd)
        }
    }

    // MARK: load

    enum LoadOutcome {
        case loaded, absent
        case failed(String)
    }

    /// Redis's clusterLoadConfig. A missing or empty file means a new identity; a malformed
    /// one stops the server and is left as it is.
    func loadConfig() -> LoadOutcome {
        let fd = open(configPath, O_RDONLY | O_CLOEXEC)
        if fd == -1 {
            if errno == ENOENT { return .absent }
            return .failed("Loading the cluster node config from \(configPath): \(String(cString: strerror(errno)))")
        }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let r = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if r < 0 {
                if errno == EINTR { continue }
                let e = String(cString: strerror(errno))
                close(fd)
                return .failed("Loading the cluster node config from \(configPath): \(e)")
            }
            if r == 0 { break }
            data.append(contentsOf: buf[0..<r])
        }
        close(fd)
        if data.isEmpty { return .absent }
        guard parseConfig(String(decoding: data, as: UTF8.self)) else {
            // Whatever was half-built goes: the process exits anyway.
            return .failed("Unrecoverable error: corrupted cluster config file.")
        }
        engine.log(.notice, "Node configuration loaded, I'm \(myself.name)")
        let m = maxEpoch
        if m > currentEpoch { currentEpoch = m }
        return .loaded
    }

    /// Applies the file's lines; false on any malformed field.
    func parseConfig(_ text: String) -> Bool {
        var found: ClusterNode?
        let t = now
        func nodeNamed(_ id: String) -> ClusterNode {
            if let n = nodesByName[id] { return n }
            let n = ClusterNode(name: id, flags: [], now: t)
            addNode(n)
            return n
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            guard let argv = ConfigText.splitArgs(line) else { return false }
            if argv.isEmpty { continue }
            if argv[0].lowercased() == "vars" {
                guard argv.count % 2 == 1 else { return false }
                var j = 1
                while j < argv.count {
                    let key = argv[j].lowercased()
                    if key == "currentepoch" {
                        currentEpoch = UInt64(argv[j + 1]) ?? 0
                    } else if key == "lastvoteepoch" {
                        lastVoteEpoch = UInt64(argv[j + 1]) ?? 0
                    } else {
                        engine.log(.warning, "Skipping unknown cluster config variable '\(argv[j])'")
                    }
                    j += 2
                }
                continue
            }
            guard argv.count >= 8, isValidNodeID(argv[0].utf8) else { return false }
            let n = nodeNamed(argv[0])
            // Address: ip:port[@cport][,hostname]
            var addr = Substring(argv[1])
            if let comma = addr.firstIndex(of: ",") {
                n.hostname = String(addr[addr.index(after: comma)...])
                addr = addr[..<comma]
            } else {
                n.hostname = ""
            }
            guard let colon = addr.lastIndex(of: ":") else { return false }
            n.ip = String(addr[..<colon])
            let ports = addr[addr.index(after: colon)...]
            if let at = ports.firstIndex(of: "@") {
                n.port = leadingInt(ports[..<at])
                n.cport = leadingInt(ports[ports.index(after: at)...])
            } else {
                n.port = leadingInt(ports)
                n.cport = n.port + 10000
            }
            for f in argv[2].split(separator: ",", omittingEmptySubsequences: false) {
                switch f {
                case "myself":
                    guard found == nil else { return false }
                    found = n
                    n.flags.insert(.myself)
                case "master": n.flags.insert(.master)
                case "slave": n.flags.insert(.slave)
                case "fail?": n.flags.insert(.pfail)
                case "fail":
                    n.flags.insert(.fail)
                    n.failTime = t
                case "handshake": n.flags.insert(.handshake)
                case "noaddr": n.flags.insert(.noaddr)
                case "nofailover": n.flags.insert(.nofailover)
                case "noflags": break
                default:
                    engine.log(.warning, "Unknown flag in the cluster config file: \(f)")
                    return false
                }
            }
            if argv[3] != "-" {
                guard isValidNodeID(argv[3].utf8) else { return false }
                let m = nodeNamed(argv[3])
                n.master = m
                m.addReplica(n)
            }
            if leadingInt(Substring(argv[4])) != 0 { n.pingSent = t }
            if leadingInt(Substring(argv[5])) != 0 { n.pongReceived = t }
            // A replica's own epoch is not kept: it shows its master's.
            n.configEpoch = n.master == nil ? UInt64(argv[6].prefix { $0.isNumber }) ?? 0 : 0
            for token in argv[8...] {
                if token.hasPrefix("[") {
                    // [slot->-id] migrating, [slot-<-id] importing
                    let body = Array(token.utf8.dropFirst())
                    guard let dash = body.firstIndex(of: UInt8(ascii: "-")), dash + 3 <= body.count else { return false }
                    let slot = leadingInt(Substring(String(decoding: body[..<dash], as: UTF8.self)))
                    guard slot >= 0 && slot < ClusterSlot.count else { return false }
                    let direction = body[dash + 1]
                    let rest = body[(dash + 3)...]
                    guard let close = rest.firstIndex(of: UInt8(ascii: "]")), isValidNodeID(rest[..<close]) else { return false }
                    let peer = nodeNamed(String(decoding: rest[..<close], as: UTF8.self))
                    if direction == UInt8(ascii: ">") { migratingTo[slot] = peer } else { importingFrom[slot] = peer }
                    continue
                }
                let start: Int, stop: Int
                if let dash = token.firstIndex(of: "-") {
                    start = leadingInt(token[..<dash])
                    stop = leadingInt(token[token.index(after: dash)...])
                } else {
                    start = leadingInt(Substring(token))
                    stop = start
                }
                guard start >= 0 && start < ClusterSlot.count && stop >= 0 && stop < ClusterSlot.count else { return false }
                if start <= stop { for s in start...stop { addSlot(n, s) } }
            }
        }
        guard let me = found else { return false }
        myself = me
        return true
    }

    /// C's atoi: optional sign and leading digits, 0 when there are none.
    func leadingInt(_ s: Substring) -> Int {
        var v = 0
        var neg = false
        var it = s.utf8.makeIterator()
        var c = it.next()
        while c == 32 || c == 9 { c = it.next() }
        if c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { neg = c == UInt8(ascii: "-"); c = it.next() }
        while let d = c, d >= 48 && d <= 57 {
            v = v &* 10 &+ Int(d - 48)
            if v > Int(Int32.max) { break }
            c = it.next()
        }
        return neg ? -v : v
    }
}
