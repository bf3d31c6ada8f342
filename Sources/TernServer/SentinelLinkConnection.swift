import NIOCore
import TernSentinel

/// The sentinel's outbound connections (TernSentinel's `SentinelConnector`), made like the
/// replica's master link: every event reaches the sentinel on the engine loop.
final class NIOSentinelConnector: SentinelConnector {
    let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }

    func connect(host: String, port: Int, connection: SentinelConnection) {
        let c = LoopBound(connection)
        OutboundLinkHandler.connect(loop: loop, host: host, port: port, timeoutMs: 1000,
                                    owner: .sentinel(connection)) { c.value.connectFailed($0) }
    }
}
