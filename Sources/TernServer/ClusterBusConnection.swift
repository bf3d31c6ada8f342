import NIOCore
import NIOPosix
import TernCluster
import TernConfig
#if canImport(Glibc)
import Glibc
#endif

/// The cluster bus's outbound connections (TernCluster's `ClusterBusConnector`), made like
/// the replica's master link: every event reaches the cluster on the engine loop.
final class NIOClusterBusConnector: ClusterBusConnector {
    let loop: EventLoop
    init(loop: EventLoop) { self.loop = loop }

    func connect(host: String, port: Int, timeoutMs: Int64, link: ClusterLink) {
        let l = LoopBound(link)
        OutboundLinkHandler.connect(loop: loop, host: host, port: port, timeoutMs: timeoutMs,
                                    owner: .clusterLink(link)) { l.value.connectFailed($0) }
    }
}

extension TernServerProcess {
    /// Listens on the bus port (cluster-port, else port + 10000) on the `bind` addresses;
    /// each accepted connection becomes an inbound link on the engine loop.
    func startClusterBus(_ cluster: Cluster, loop: EventLoop) {
        cluster.busConnector = NIOClusterBusConnector(loop: loop)
        let cport = config.clusterPort != 0 ? config.clusterPort : config.port + 10000
        switch Listeners.open(bind: config.bind, port: cport, backlog: config.tcpBacklog) {
        case .success(let fds):
            let cl = LoopBound(cluster)
            let lg = LoopBound(logger)
            let group = self.group
            for fd in fds {
                let acceptor = AcceptLoop(fd: fd, onAccept: { cfd in
                    ClientBootstrap(group: group)
                        .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let link = cl.value.newInboundLink()
                                try channel.pipeline.syncOperations.addHandler(OutboundLinkHandler(owner: .clusterLink(link)))
                            }
                        }.withConnectedSocket(cfd).whenFailure { error in
                            lg.value.log(.warning, "Error accepting cluster node connection: \(error)")
                        }
                }, onError: { msg in
                    group.next().execute { lg.value.log(.warning, msg) }
                })
                acceptor.start()
                clusterAcceptors.append(acceptor)
            }
        case .failure(let f):
            logger.log(.warning, "Warning: Could not create server TCP listening socket \(f.address): bind: \(f.reason)")
            logger.log(.warning, "Failed listening on port \(cport) (cluster), aborting.")
            exit(1)
        }
    }
}
