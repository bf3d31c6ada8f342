import NIOCore
import NIOPosix
import TernEngine
#if canImport(Glibc)
import Glibc
#endif

/// The replica's outbound connection to its master (the engine's `MasterLinkConnector`):
/// a ClientBootstrap on the engine loop, so every event reaches the engine's `MasterLink`
/// on its own thread.
final class NIOMasterLinkConnector: MasterLinkConnector {
    let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }

    func connect(host: String, port: Int, timeoutMs: Int64, link: MasterLink) {
        let l = LoopBound(link)
        let nodelay = ChannelOptions.socketOption(.tcp_nodelay)
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(max(1000, timeoutMs)))
            .channelOption(nodelay, value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 512, initial: 16384, maximum: 256 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MasterLinkHandler(link: l.value))
                }
            }
            .connect(host: host, port: port)
            .whenFailure { error in
                l.value.connectFailed(NIOMasterLinkConnector.describe(error))
            }
    }

    /// "Connection refused" rather than NIO's type dump, as Redis's log says it.
    static func describe(_ error: Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let c = error as? NIOConnectionError {
            for e in c.connectionErrors {
                if let io = e.error as? IOError { return String(cString: strerror(io.errnoCode)) }
            }
            if c.dnsAAAAError != nil || c.dnsAError != nil { return "Name or service not known" }
        }
        if error is ChannelError { return "Connection timed out" }
        return "\(error)"
    }
}

final class MasterLinkHandler: ChannelInboundHandler, MasterLinkTransport {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let link: MasterLink
    var context: ChannelHandlerContext?
    var localAddress = "?"
    var remoteAddress = "?"
    var fd = -1

    init(link: MasterLink) { self.link = link }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        localAddress = ConnectionHandler.format(context.channel.localAddress)
        remoteAddress = ConnectionHandler.format(context.channel.remoteAddress)
        link.connected(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buf = unwrapInboundIn(data)
        buf.withUnsafeReadableBytes { link.received($0) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        link.closed()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func send(_ bytes: [UInt8]) {
        guard let ctx = context else { return }
        var b = ctx.channel.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        ctx.writeAndFlush(NIOAny(b), promise: nil)
    }

    func close() {
        context?.close(promise: nil)
    }
}
