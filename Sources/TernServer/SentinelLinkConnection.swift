import NIOCore
import NIOPosix
import TernSentinel

/// The sentinel's outbound connections (TernSentinel's `SentinelConnector`): ClientBootstrap
/// on the engine loop, so every event reaches the sentinel on its own thread.
final class NIOSentinelConnector: SentinelConnector {
    let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }

    func connect(host: String, port: Int, connection: SentinelConnection) {
        let c = LoopBound(connection)
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(1000))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SentinelLinkHandler(connection: c.value))
                }
            }
            .connect(host: host, port: port)
            .whenFailure { error in
                c.value.connectFailed(NIOMasterLinkConnector.describe(error))
            }
    }
}

final class SentinelLinkHandler: ChannelInboundHandler, SentinelTransport {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connection: SentinelConnection
    var context: ChannelHandlerContext?
    var localIP = ""

    init(connection: SentinelConnection) { self.connection = connection }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        localIP = context.channel.localAddress?.ipAddress ?? ""
        connection.connected(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buf = unwrapInboundIn(data)
        buf.withUnsafeReadableBytes { connection.received($0) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        connection.closed()
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
        context = nil
    }
}
