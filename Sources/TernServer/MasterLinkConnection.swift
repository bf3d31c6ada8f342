import NIOCore
import NIOPosix
import TernEngine
import TernSentinel
import TernCluster
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
        OutboundLinkHandler.connect(loop: loop, host: host, port: port, timeoutMs: max(1000, timeoutMs),
                                    owner: .masterLink(link)) { l.value.connectFailed($0) }
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

/// An outbound connection's channel handler, for the replica's master link, one of the
/// sentinel's links or a cluster bus link (inbound bus connections use it too): bytes in go
/// to the owner, the owner writes through it.
final class OutboundLinkHandler: ChannelInboundHandler, MasterLinkTransport, SentinelTransport, ClusterBusTransport {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Owner {
        case masterLink(MasterLink)
        case sentinel(SentinelConnection)
        case clusterLink(ClusterLink)
    }

    let owner: Owner
    var context: ChannelHandlerContext?
    var localAddress = "?"
    var remoteAddress = "?"
    var localIP = ""
    var peerIP = ""
    var fd = -1

    init(owner: Owner) { self.owner = owner }

    /// Connects on the engine loop; `failed` gets the reason when no connection is made.
    static func connect(loop: EventLoop, host: String, port: Int, timeoutMs: Int64, owner: Owner,
                        failed: @escaping (String) -> Void) {
        let o = LoopBound(owner)
        let f = LoopBound(failed)
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(timeoutMs))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 512, initial: 16384, maximum: 256 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OutboundLinkHandler(owner: o.value))
                }
            }
            .connect(host: host, port: port)
            .whenFailure { error in
                f.value(NIOMasterLinkConnector.describe(error))
            }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        localAddress = ConnectionHandler.format(context.channel.localAddress)
        remoteAddress = ConnectionHandler.format(context.channel.remoteAddress)
        localIP = context.channel.localAddress?.ipAddress ?? ""
        peerIP = context.channel.remoteAddress?.ipAddress ?? ""
        switch owner {
        case .masterLink(let l): l.connected(self)
        case .sentinel(let c): c.connected(self)
        case .clusterLink(let l): l.connected(self)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buf = unwrapInboundIn(data)
        buf.withUnsafeReadableBytes { bytes in
            switch owner {
            case .masterLink(let l): l.received(bytes)
            case .sentinel(let c): c.received(bytes)
            case .clusterLink(let l): l.received(bytes)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        switch owner {
        case .masterLink(let l): l.closed()
        case .sentinel(let c): c.closed()
        case .clusterLink(let l): l.closed()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Bytes written and not yet taken by the socket (cluster links only: the bus enforces
    /// cluster-link-sendbuf-limit on it).
    var pendingBytes = 0

    func send(_ bytes: [UInt8]) {
        guard let ctx = context else { return }
        var b = ctx.channel.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        guard case .clusterLink = owner else {
            ctx.writeAndFlush(NIOAny(b), promise: nil)
            return
        }
        let n = bytes.count
        pendingBytes += n
        let me = LoopBound(self)
        let done = ctx.eventLoop.makePromise(of: Void.self)
        done.futureResult.whenComplete { _ in me.value.pendingBytes -= n }
        ctx.writeAndFlush(NIOAny(b), promise: done)
    }

    func close() {
        context?.close(promise: nil)
    }
}
