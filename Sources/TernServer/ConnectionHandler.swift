import NIOCore
import TernEngine
import TernConfig
import TernProtocol
#if canImport(Glibc)
import Glibc
#endif

/// One client connection: parses every complete request in each read, executes them
/// in order on the engine, and writes all replies with one flush per read batch.
final class ConnectionHandler: ChannelInboundHandler, ClientConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let engine: Engine
    let parser = RequestParser()
    var client: Client?
    var context: ChannelHandlerContext?
    /// Unparsed input carried over between reads.
    var pending: ByteBuffer?
    var closing = false
    /// The socket, -1 once the channel is inactive (NIO owns and closes it).
    var fd: Int32
    /// Writes handed to NIO and not completed yet: while any is queued, replies must queue
    /// behind it instead of being written directly.
    var queuedWrites = 0
    /// Offset in `pending` of the argument payload still arriving (0: none known), for the
    /// query buffer limit's log line.
    var partialBulkStart = 0

    // Flag tests as plain bit masks: building an OptionSet from a literal, or reading its
    // static members, across the module boundary costs ~100 instructions per command
    // (callgrind); a stored mask is one load.
    static let stopParsingMask = ClientFlags([.blocked, .closeAfterReply, .closeASAP]).rawValue
    static let closeASAPMask = ClientFlags.closeASAP.rawValue
    static let replicaMask = ClientFlags.replica.rawValue

    /// The listening path for unix socket connections (CLIENT LIST shows it as addr and laddr).
    let unixPath: String?

    init(engine: Engine, fd: Int32 = -1, unixPath: String? = nil) {
        self.engine = engine
        self.fd = fd
        self.unixPath = unixPath
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        if unixPath == nil && engine.config.protectedMode && engine.acl.defaultUser.nopass
            && !ConnectionHandler.isLoopback(context.channel.remoteAddress) {
            // Protected mode: the default user needs no password (requirepass or an ACL
            // rule gives it one), so only loopback clients.
            closing = true
            var b = context.channel.allocator.buffer(capacity: ConnectionHandler.deniedMessage.utf8.count)
            b.writeString(ConnectionHandler.deniedMessage)
            let ch = context.channel
            context.writeAndFlush(NIOAny(b)).whenComplete { _ in ch.close(promise: nil) }
            return
        }
        let c = engine.createClient()
        c.connection = self
        c.fd = Int(fd)
        if fd >= 0 && unixPath == nil && engine.config.tcpKeepalive > 0 { ConnectionHandler.keepAlive(fd, engine.config.tcpKeepalive) }
        if let path = unixPath {
            c.flags.insert(.unixSocket)
            // Redis formats "<unixsocket>:0" into a 78-byte buffer (NET_ADDR_STR_LEN): a
            // long path shows cut to 77 bytes in CLIENT LIST, MONITOR and the log.
            let addr = String(decoding: Array((path + ":0").utf8.prefix(77)), as: UTF8.self)
            c.remoteAddress = addr
            c.localAddress = addr
        } else {
            c.remoteAddress = ConnectionHandler.format(context.channel.remoteAddress)
            c.localAddress = ConnectionHandler.format(context.channel.localAddress)
        }
        client = c
        parser.maxBulkLength = engine.config.protoMaxBulkLen
        if engine.clients.count > engine.config.maxclients {
            engine.stats.rejectedConnections += 1
            c.out.error("ERR max number of clients reached")
            closing = true
            flushReplies()
            context.close(promise: nil)
        }
    }

    /// tcp-keepalive: probes after `interval` idle seconds, then every interval/3, 3 probes
    /// (Redis's anetKeepAlive).
    static func keepAlive(_ fd: Int32, _ interval: Int) {
        var yes: Int32 = 1
        var idle = Int32(clamping: interval)
        var every = Int32(clamping: max(1, interval / 3))
        var count: Int32 = 3
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &every, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
    }

    static let deniedMessage = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

    /// Loopback (127.0.0.1, ::1) or unix socket peers pass protected mode.
    static func isLoopback(_ a: SocketAddress?) -> Bool {
        guard let a = a else { return false }
        if case .unixDomainSocket = a { return true }
        let ip = a.ipAddress ?? ""
        return ip == "127.0.0.1" || ip == "::1"
    }

    static func format(_ a: SocketAddress?) -> String {
        guard let a = a else { return "?" }
        switch a {
        case .v4(let x): return "\(x.host):\(a.port ?? 0)"
        case .v6(let x): return "\(x.host):\(a.port ?? 0)"
        case .unixDomainSocket: return a.pathname.map { "\($0):0" } ?? "?:0"
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fd = -1
        if let c = client {
            engine.freeClient(c)
            c.connection = nil
        }
        client = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        engine.stats.netInputBytes += buf.readableBytes
        if closing { return }
        if var p = pending {
            pending = nil
            p.writeBuffer(&buf)
            // client-query-buffer-limit: only input carried over from earlier reads can grow
            // past it (one read is at most 256 KB, the limit at least 1 MB), so the common
            // path, with nothing carried over, pays nothing.
            if p.readableBytes > engine.config.clientQueryBufferLimit, let c = client,
               p.withUnsafeReadableBytes({ engine.queryBufferLimitReached(c, $0, headFrom: partialBulkStart) }) {
                closing = true
                return
            }
            process(&p)
            keep(p)
        } else {
            process(&buf)
            keep(buf)
        }
    }

    /// Keeps leftover input, compacting it so a long-lived buffer does not grow forever.
    @inline(__always) func keep(_ b: ByteBuffer) {
        guard b.readableBytes > 0 else {
            // Nothing left: the input buffer goes back to NIO (an idle client holds none).
            client?.queryBufferLength = 0
            client?.queryBufferCapacity = 0
            return
        }
        var b = b
        if b.readerIndex > 64 * 1024 { b.discardReadBytes() }
        client?.queryBufferLength = b.readableBytes
        client?.queryBufferCapacity = b.capacity - b.readerIndex
        pending = b
    }

    /// Parses and executes complete requests from `buf`, advancing its reader index.
    func process(_ buf: inout ByteBuffer) {
        guard let c = client else { return }
        // While a batch runs, the query buffer holds all of it, the commands being executed
        // included (CLIENT LIST qbuf, as Redis's querybuf before the batch is trimmed).
        c.queryBufferLength = buf.readableBytes
        c.queryBufferCapacity = buf.capacity - buf.readerIndex
        parser.maxBulkLength = engine.config.protoMaxBulkLen
        var need = 0
        partialBulkStart = 0
        let consumed = buf.withUnsafeReadableBytes { raw -> Int in
            var pos = 0
            while pos < raw.count {
                // Blocked, closing after this reply, or closed by a limit or eviction.
                if c.flags.rawValue & ConnectionHandler.stopParsingMask != 0 { break }
                let view = UnsafeRawBufferPointer(rebasing: raw[pos...])
                parser.authenticated = c.authenticated
                switch parser.parse(view) {
                case .command(let n):
                    engine.execute(c, parser.args(input: view))
                    if c.postponed { return pos }  // CLIENT PAUSE: re-run this request later
                    pos += n
                case .skip(let n):
                    // An empty line from a replica (it is loading our RDB) says it is alive.
                    if c.flags.rawValue & ConnectionHandler.replicaMask != 0 { engine.replicaSentNewline(c) }
                    pos += n
                case .incomplete(let expected):
                    need = expected
                    if expected > 0 { partialBulkStart = parser.incompleteBulkStart }
                    return pos
                case .error(let msg):
                    c.error("ERR " + msg)
                    engine.log(.verbose, "Protocol error (\(msg)) from client: id=\(c.id) addr=\(c.remoteAddress)")
                    c.flags.insert(.closeAfterReply)
                    return raw.count
                }
            }
            return pos
        }
        buf.moveReaderIndex(forwardBy: consumed)
        if need > buf.readableBytes {
            // A big argument is on its way: make room once instead of doubling repeatedly.
            buf.reserveCapacity(minimumWritableBytes: need - buf.readableBytes)
        }
        if c.flags.contains(.closeAfterReply) { closing = true }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // AOF writes pending: the replies of every connection read in this loop iteration go
        // out after one AOF write (+ fsync with appendfsync always; Redis's beforeSleep group
        // commit) instead of one write (and fsync) per connection. Stream bytes for replicas
        // pending: the same, behind one write per replica (they are queued ahead of us).
        if engine.aofGroupCommitPending || engine.replicaStreamUnflushed, let c = client {
            engine.flushSoon(c)
        } else {
            flushReplies()
        }
        // Client eviction: the batch changed this client's buffers (one load when off).
        if engine.clientMemory.limit > 0, let c = client { engine.clientBatchEnded(c) }
    }

    func flushReplies() {
        // The AOF first (Redis's beforeSleep): with appendfsync always a reply never leaves
        // before its write is on disk.
        engine.flushAOFBeforeReplies()
        engine.flushReplicaStreamBeforeReplies()
        guard let c = client, let ctx = context else { return }
        if !c.out.isEmpty {
            let total = c.out.count
            // client-output-buffer-limit, before anything is written: Redis checks as replies
            // are appended, and a batch's replies are all appended by now. Only at or above the
            // lowest limit, or while a soft limit's clock runs (so it can be reset).
            if total &+ c.pendingOutputBytes >= engine.outputLimitFloor || c.outputSoftLimitSinceMs != 0 {
                engine.closeClientOnOutputBufferLimitReached(c, async: true)
            }
            if c.flags.rawValue & ConnectionHandler.closeASAPMask != 0 {
                // Closed by a limit, eviction or CLIENT KILL: nothing more is written (Redis
                // frees the client with its buffers); the close queue drops the connection.
                c.out.removeAll()
                closing = true
                return
            }
            if c.flags.rawValue & ConnectionHandler.replicaMask != 0 {
                engine.stats.netReplOutputBytes += total
            } else {
                engine.stats.netOutputBytes += total
            }
            var written = 0
            // The common case: nothing queued in NIO, so the reply goes out with one write(2)
            // straight from the reply buffer (Redis's writeToClient). Whatever the kernel does
            // not take (or an error, which NIO then reports and closes on) goes through NIO.
            if fd >= 0 && queuedWrites == 0 && !closing && !c.flags.contains(.closeAfterReply) && ctx.channel.isActive {
                let base = c.out.base
                while written < total {
                    let n = send(fd, base + written, total - written, Int32(MSG_NOSIGNAL))
                    if n > 0 { written += n; continue }
                    if n < 0 && errno == EINTR { continue }
                    break
                }
                if written == total {
                    c.out.removeAll()
                    return
                }
            }
            var b = ctx.channel.allocator.buffer(capacity: total - written)
            b.writeBytes(UnsafeRawBufferPointer(rebasing: c.out.bytes[written...]))
            c.out.removeAll()
            if closing || c.flags.contains(.closeAfterReply) {
                let ch = ctx.channel
                ctx.writeAndFlush(NIOAny(b)).whenComplete { _ in ch.close(promise: nil) }
                closing = true
                return
            }
            // What NIO holds counts as the client's pending output (CLIENT LIST omem/oll,
            // output limits, client memory) until the write completes.
            let queued = total - written
            queuedWrites += 1
            c.pendingOutputBytes += queued
            c.pendingOutputWrites += 1
            let done = ctx.eventLoop.makePromise(of: Void.self)
            let me = LoopBound(self)
            done.futureResult.whenComplete { _ in me.value.writeCompleted(queued) }
            ctx.writeAndFlush(NIOAny(b), promise: done)
            engine.clientOutputChanged(c)
        } else if closing || c.flags.contains(.closeAfterReply) {
            closing = true
            ctx.close(promise: nil)
        }
    }

    /// A replica's RDB: the header through the reply path, then the file with sendfile(2)
    /// through NIO (queued, so later stream bytes wait behind it).
    func sendFile(header: [UInt8], path: String, done: @escaping (Bool) -> Void) {
        guard let c = client, let ctx = context, !closing else { done(false); return }
        c.out.append(header)
        flushReplies()
        let handle: NIOFileHandle
        let size: Int
        do {
            handle = try NIOFileHandle(path: path)
            var st = stat()
            guard try handle.withUnsafeFileDescriptor({ fstat($0, &st) }) == 0 else { throw IOError(errnoCode: errno, reason: "fstat") }
            size = Int(st.st_size)
        } catch {
            done(false)
            return
        }
        let region = FileRegion(fileHandle: handle, readerIndex: 0, endIndex: size)
        engine.stats.netReplOutputBytes += size
        queuedWrites += 1
        c.pendingOutputWrites += 1
        let promise = ctx.eventLoop.makePromise(of: Void.self)
        let me = LoopBound(self)
        let finish = LoopBound(done)
        promise.futureResult.whenComplete { result in
            try? handle.close()
            me.value.writeCompleted(0)
            if case .success = result { finish.value(true) } else { finish.value(false) }
        }
        ctx.writeAndFlush(NIOAny(IOData.fileRegion(region)), promise: promise)
    }

    /// A write handed to NIO is done (or failed at close).
    func writeCompleted(_ bytes: Int) {
        queuedWrites -= 1
        guard let c = client else { return }
        c.pendingOutputBytes -= bytes
        c.pendingOutputWrites -= 1
        engine.clientOutputChanged(c)
    }

    /// The close queue's verdict (output limits, eviction, query buffer limit, CLIENT KILL):
    /// drop pending output and close now.
    func abort() {
        closing = true
        client?.out.removeAll()
        context?.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.fireChannelWritabilityChanged()
    }

    func close() {
        closing = true
        client?.flags.insert(.closeAfterReply)
        flushReplies()
    }

    func resumeProcessing() {
        guard context != nil, var p = pending, !closing else { return }
        pending = nil
        process(&p)
        keep(p)
        flushReplies()
        if engine.clientMemory.limit > 0, let c = client { engine.clientBatchEnded(c) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
