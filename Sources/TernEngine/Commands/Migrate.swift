import CTern
import TernPersistence
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

/// MIGRATE (Redis 7.0's migrateCommand, cluster.c): the keys are DUMPed and sent to the target
/// as RESTORE (RESTORE-ASKING in cluster mode) commands, pipelined on one connection, after an
/// optional AUTH and a SELECT of the target db; each key the target acknowledges is deleted
/// here (unless COPY) and the deletions propagate as one DEL. Like Redis the socket I/O is
/// synchronous on the engine thread, bounded by the timeout: the command is atomic.
///
/// Connections are cached per "host:port" (Redis's migrate_cached_sockets: at most 64, a
/// random one dropped for a new one, closed by the cron after 10 s unused) with the db
/// last SELECTed, so a reshard's stream of MIGRATEs pays neither connect nor SELECT.
public enum MigrateCommand {
    static func migrate(_ c: Client, _ a: Args) {
        let engine = c.engine
        var copy = false, replace = false
        var username: [UInt8]? = nil, password: [UInt8]? = nil
        var firstKey = 3, keyCount = 1
        var j = 6
        while j < a.count {
            let more = a.count - 1 - j
            if a.equals(j, "copy") {
                copy = true
            } else if a.equals(j, "replace") {
                replace = true
            } else if a.equals(j, "auth") {
                guard more >= 1 else { c.syntaxError(); return }
                j += 1
                password = a.bytes(j)
            } else if a.equals(j, "auth2") {
                guard more >= 2 else { c.syntaxError(); return }
                username = a.bytes(j + 1)
                password = a.bytes(j + 2)
                j += 2
            } else if a.equals(j, "keys") {
                guard a.length(3) == 0 else {
                    c.error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
                    return
                }
                firstKey = j + 1
                keyCount = a.count - j - 1
                break   // every remaining argument is a key
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }
        guard var timeout = Numbers.parseInt(a[5]), let dbid = Numbers.parseInt(a[4]) else { c.notInteger(); return }
        if timeout <= 0 { timeout = 1000 }

        // Keys that exist now (a read lookup: lazy expiry, stats); none at all is +NOKEY,
        // not an error (the usual cause is a key that expired meanwhile).
        var keys: [[UInt8]] = []
        for k in 0..<keyCount where c.lookupRead(a[firstKey + k]) != nil { keys.append(a.bytes(firstKey + k)) }
        if keys.isEmpty { c.out.simple("NOKEY"); return }

        let host = a.string(1), port = a.string(2)
        var mayRetry = true
        while true {
            guard let sock = engine.migrateSockets.socket(host: host, port: port, timeoutMs: timeout) else {
                c.error("IOERR error or timeout connecting to the client")
                return
            }
            // The whole request: AUTH, SELECT when the cached connection has another db, then
            // one RESTORE per key still alive (a key may expire between the lookup and now).
            var req = RequestWriter()
            if let password {
                req.header(UInt8(ascii: "*"), username == nil ? 2 : 3)
                req.bulk("AUTH")
                if let username { req.bulk(username) }
                req.bulk(password)
            }
            let select = sock.lastDbid != dbid
            if select {
                req.header(UInt8(ascii: "*"), 2)
                req.bulk("SELECT")
                req.bulkNumber(dbid)
            }
            var sent: [[UInt8]] = []
            let now = engine.nowMs
            for key in keys {
                guard let e = key.withUnsafeBytes({ c.db.find($0) }) else { continue }
                var ttl: Int64 = 0
                if e.hasExpire {
                    ttl = e.expireAt - now
                    if ttl < 0 { continue }
                    if ttl < 1 { ttl = 1 }
                }
                guard let payload = DumpPayload.make(e, compression: engine.config.rdbcompression) else { continue }
                req.header(UInt8(ascii: "*"), replace ? 5 : 4)
                if engine.clusterEnabled { req.bulk("RESTORE-ASKING") } else { req.bulk("RESTORE") }
                req.bulk(key)
                req.bulkNumber(Int(ttl))
                req.bulk(payload)
                if replace { req.bulk("REPLACE") }
                sent.append(key)
            }

            var writeError = false, socketError = false, timedOut = false
            var errorFromTarget = false
            var deleted: [[UInt8]] = []
            var repliesRead = 0
            if !sock.write(req.bytes, timeoutMs: timeout) {
                writeError = true; socketError = true; timedOut = sock.lastErrorWasTimeout
            } else {
                var authReply: [UInt8] = [], selectReply: [UInt8] = []
                if password != nil {
                    if let l = sock.readLine(timeoutMs: timeout) { authReply = l } else { socketError = true }
                }
                if !socketError && select {
                    if let l = sock.readLine(timeoutMs: timeout) { selectReply = l } else { socketError = true }
                }
                if socketError {
                    timedOut = sock.lastErrorWasTimeout
                } else {
                    for key in sent {
                        guard let line = sock.readLine(timeoutMs: timeout) else {
                            socketError = true; timedOut = sock.lastErrorWasTimeout
                            break
                        }
                        repliesRead += 1
                        let failed = authReply.first == UInt8(ascii: "-") ? authReply
                            : selectReply.first == UInt8(ascii: "-") ? selectReply
                            : line.first == UInt8(ascii: "-") ? line : nil
                        if let failed {
                            if !errorFromTarget {
                                // After an error the target's db is unknown: SELECT next time.
                                sock.lastDbid = -1
                                errorFromTarget = true
                                c.error("ERR Target instance replied with error: " + String(decoding: failed.dropFirst(), as: UTF8.self))
                            }
                        } else if !copy {
                            key.withUnsafeBytes { k in
                                _ = c.db.delete(k)
                                c.keyModified(k)
                                c.notify(.generic, "del", k)
                            }
                            engine.dirty += 1
                            deleted.append(key)
                        }
                    }
                }
            }
            if !errorFromTarget && socketError && repliesRead == 0 && deleted.isEmpty && mayRetry && !timedOut {
                // Nothing was acknowledged: a cached connection the target closed meanwhile is
                // common, so reconnect and try once more before reporting an error.
                engine.migrateSockets.close(host: host, port: port)
                mayRetry = false
                continue
            }
            if socketError { engine.migrateSockets.close(host: host, port: port) }
            if !deleted.isEmpty {
                // Replicas and the AOF see the keys the target acknowledged deleted.
                c.propagateAs = [OwnedArgs([Array("DEL".utf8)] + deleted)]
            }
            if !errorFromTarget && socketError {
                c.error("IOERR error or timeout \(writeError ? "writing" : "reading") to target instance")
                return
            }
            if !errorFromTarget {
                sock.lastDbid = dbid
                c.out.ok()
            }
            return
        }
    }
}

/// RESP multibulk requests appended into one buffer (no per-argument arrays: a KEYS batch
/// writes each RESTORE straight in).
struct RequestWriter {
    var bytes: [UInt8] = []

    mutating func number(_ n: Int) {
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = n.magnitude, count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat { d[count] = UInt8(48 + v % 10); v /= 10; count += 1 } while v > 0
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
    }

    mutating func header(_ prefix: UInt8, _ n: Int) {
        bytes.append(prefix)
        number(n)
        bytes.append(13); bytes.append(10)
    }

    mutating func bulk(_ b: UnsafeRawBufferPointer) {
        header(UInt8(ascii: "$"), b.count)
        bytes.append(contentsOf: b)
        bytes.append(13); bytes.append(10)
    }

    mutating func bulk(_ b: [UInt8]) { b.withUnsafeBytes { bulk($0) } }

    mutating func bulk(_ s: StaticString) { s.withUTF8Buffer { bulk(UnsafeRawBufferPointer($0)) } }

    mutating func bulkNumber(_ n: Int) {
        var w = RequestWriter()
        w.number(n)
        bulk(w.bytes)
    }
}

/// One cached connection to a MIGRATE target: a blocking-with-timeout socket (poll between
/// non-blocking reads and writes), the db last SELECTed there, and bytes read past a line.
public final class MigrateSocket {
    let fd: Int32
    var lastDbid = -1
    var lastUseSec: Int64
    private var inbuf: [UInt8] = []
    private var inpos = 0
    /// recv's landing buffer, kept between reads.
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    /// The last failed read or write ran out of time (Redis does not retry after a timeout).
    var lastErrorWasTimeout = false

    init(fd: Int32, nowSec: Int64) { self.fd = fd; self.lastUseSec = nowSec }

    deinit { Glibc.close(fd) }

    /// Connects to host:port (a name or an address) within `timeoutMs`; nil when the name does
    /// not resolve or every address fails at once.
    static func connect(host: String, port: String, timeoutMs: Int, nowSec: Int64) -> MigrateSocket? {
        // Redis takes the port with atoi and lets the resolver judge the number ("abc" is port
        // 0, refused later; a negative one does not resolve), so the errors match.
        let p = Array(port.utf8).withUnsafeBytes { KeyFinder.atoi($0) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, String(p), &hints, &res) == 0, let first = res else { return nil }
        defer { freeaddrinfo(first) }
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let cur = ai {
            ai = cur.pointee.ai_next
            let fd = socket(cur.pointee.ai_family, cur.pointee.ai_socktype, cur.pointee.ai_protocol)
            if fd < 0 { continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, cur.pointee.ai_addr, cur.pointee.ai_addrlen) == 0 {
                return MigrateSocket(fd: fd, nowSec: nowSec)
            }
            if errno == EINPROGRESS {
                // As Redis's connBlockingConnect: the socket is used whether the connect
                // finished in time or failed; the first write then reports it (a refused
                // target answers "-IOERR error or timeout writing to target instance").
                _ = MigrateSocket.wait(fd, Int16(POLLOUT), timeoutMs)
                return MigrateSocket(fd: fd, nowSec: nowSec)
            }
            Glibc.close(fd)
        }
        return nil
    }

    /// Waits up to `ms` for `events`; false on timeout.
    static func wait(_ fd: Int32, _ events: Int16, _ ms: Int) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let r = poll(&p, 1, Int32(clamping: max(ms, 0)))
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }

    /// Writes everything within `timeoutMs` in all.
    func write(_ bytes: [UInt8], timeoutMs: Int) -> Bool {
        lastErrorWasTimeout = false
        let deadline = KeyTable.monotonicMicros() / 1000 + timeoutMs
        var pos = 0
        return bytes.withUnsafeBytes { buf in
            while pos < buf.count {
                guard let base = buf.baseAddress else { return false }
                let n = Glibc.send(fd, base + pos, min(buf.count - pos, 64 * 1024), Int32(MSG_NOSIGNAL))
                if n > 0 { pos += n; continue }
                if n < 0 && errno != EAGAIN && errno != EINTR { return false }
                let left = deadline - KeyTable.monotonicMicros() / 1000
                if left <= 0 || !MigrateSocket.wait(fd, Int16(POLLOUT), left) {
                    lastErrorWasTimeout = true
                    return false
                }
            }
            return true
        }
    }

    /// One reply line without its CRLF, within `timeoutMs`; nil on timeout, error or EOF.
    func readLine(timeoutMs: Int) -> [UInt8]? {
        lastErrorWasTimeout = false
        let deadline = KeyTable.monotonicMicros() / 1000 + timeoutMs
        while true {
            if let nl = inbuf[inpos...].firstIndex(of: 10) {
                var end = nl
                if end > inpos && inbuf[end - 1] == 13 { end -= 1 }
                let line = Array(inbuf[inpos..<end])
                inpos = nl + 1
                if inpos == inbuf.count { inbuf.removeAll(keepingCapacity: true); inpos = 0 }
                return line
            }
            let n = scratch.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                if inpos > 0 { inbuf.removeFirst(inpos); inpos = 0 }
                inbuf.append(contentsOf: scratch[0..<n])
                continue
            }
            if n == 0 { return nil }
            if errno != EAGAIN && errno != EINTR { return nil }
            let left = deadline - KeyTable.monotonicMicros() / 1000
            if left <= 0 || !MigrateSocket.wait(fd, Int16(POLLIN), left) {
                lastErrorWasTimeout = true
                return nil
            }
        }
    }
}

/// Redis's migrate_cached_sockets: "host:port" -> connection.
public final class MigrateSocketCache {
    static let maxSockets = 64
    static let idleSeconds: Int64 = 10
    var sockets: [String: MigrateSocket] = [:]

    public var count: Int { sockets.count }

    func socket(host: String, port: String, timeoutMs: Int) -> MigrateSocket? {
        let name = host + ":" + port
        let now = Engine.wallClockMs() / 1000
        if let s = sockets[name] { s.lastUseSec = now; return s }
        if sockets.count >= MigrateSocketCache.maxSockets, let victim = sockets.keys.randomElement() {
            sockets[victim] = nil
        }
        guard let s = MigrateSocket.connect(host: host, port: port, timeoutMs: timeoutMs, nowSec: now) else { return nil }
        sockets[name] = s
        return s
    }

    func close(host: String, port: String) { sockets[host + ":" + port] = nil }

    /// Closes connections unused for more than 10 s (Redis's migrateCloseTimedoutSockets).
    func closeIdle(nowMs: Int64) {
        guard !sockets.isEmpty else { return }
        let now = nowMs / 1000
        for (name, s) in sockets where s.lastUseSec + MigrateSocketCache.idleSeconds < now { sockets[name] = nil }
    }
}
