import NIOCore
import TernCommands
import TernProtocol

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

    init(engine: Engine) {
        self.engine = engine
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        let c = engine.createClient()
        c.connection = self
        c.remoteAddress = ConnectionHandler.format(context.channel.remoteAddress)
        c.localAddress = ConnectionHandler.format(context.channel.localAddress)
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

    static func format(_ a: SocketAddress?) -> String {
        guard let a = a else { return "?" }
        switch a {
        case .v4(let x): return "\(x.host):\(a.port ?? 0)"
        case .v6(let x): return "\(x.host):\(a.port ?? 0)"
        case .unixDomainSocket: return a.pathname.map { "\($0):0" } ?? "?:0"
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let c = client {
            engine.removeClient(c)
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
            client?.queryBufferLength = 0
            return
        }
        var b = b
        if b.readerIndex > 64 * 1024 { b.discardReadBytes() }
        client?.queryBufferLength = b.readableBytes
        pending = b
    }

    /// Parses and executes complete requests from `buf`, advancing its reader index.
    func process(_ buf: inout ByteBuffer) {
        guard let c = client else { return }
        var need = 0
        let consumed = buf.withUnsafeReadableBytes { raw -> Int in
            var pos = 0
            while pos < raw.count {
                if c.flags.contains(.blocked) || c.flags.contains(.closeAfterReply) { break }
                let view = UnsafeRawBufferPointer(rebasing: raw[pos...])
                switch parser.parse(view) {
                case .command(let n):
                    engine.execute(c, parser.args(input: view))
                    if c.postponed { return pos }  // CLIENT PAUSE: re-run this request later
                    pos += n
                case .skip(let n):
                    pos += n
                case .incomplete(let expected):
                    need = expected
                    return pos
                case .error(let msg):
                    c.error("ERR " + msg)   // Redis: "-ERR Protocol error: ..."
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
        flushReplies()
    }

    func flushReplies() {
        guard let c = client, let ctx = context else { return }
        if !c.out.isEmpty {
            var b = ctx.channel.allocator.buffer(capacity: c.out.count)
            b.writeBytes(c.out.bytes)
            engine.stats.netOutputBytes += c.out.count
            c.out.removeAll()
            if closing || c.flags.contains(.closeAfterReply) {
                let ch = ctx.channel
                ctx.writeAndFlush(NIOAny(b)).whenComplete { _ in ch.close(promise: nil) }
                closing = true
                return
            }
            ctx.writeAndFlush(NIOAny(b), promise: nil)
        } else if closing || c.flags.contains(.closeAfterReply) {
            closing = true
            ctx.close(promise: nil)
        }
    }

    func close() {
        closing = true
        client?.flags.insert(.closeAfterReply)
        flushReplies()
    }

    func resumeProcessing() {
        guard let ctx = context, var p = pending, !closing else { return }
        pending = nil
        process(&p)
        keep(p)
        flushReplies()
        _ = ctx
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
