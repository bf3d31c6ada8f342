import NIOCore
import NIOPosix
import TernCommands
import TernStore
#if canImport(Glibc)
import Glibc
#endif

/// Carries engine-owned objects into NIO's @Sendable closures. Everything inside is
/// only touched on the engine event loop.
final class LoopBound<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

/// Process-level server: binds listeners, runs the engine on one event loop, owns cron,
/// signals, logging and shutdown.
public final class TernServerProcess: @unchecked Sendable {
    let config: ServerConfig
    let engine: Engine
    let logger = ServerLogger()
    let group: MultiThreadedEventLoopGroup
    var channels: [Channel] = []
    let startupNotices: [String]
    var bootstrap: ServerBootstrap?
    var cronTask: RepeatedTask?
    /// Addresses the listeners are bound to now.
    var listening: (bind: [String], port: Int) = ([], 0)

    public init(config: ServerConfig, notices: [String] = []) {
        self.config = config
        self.startupNotices = notices
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        engine = Engine(config: config)
    }

    public func run() -> Never {
        logger.minimum = ServerLogger.level(named: config.loglevel) ?? .notice
        if !logger.open(path: config.logfile) {
            StdIO.err("Can't open the log file: \(config.logfile)\n")
            exit(1)
        }
        let lg = logger
        engine.logHandler = { level, msg in lg.log(level, msg) }
        logger.log(.warning, "oO0OoO0OoO0Oo Tern is starting oO0OoO0OoO0Oo", role: "C")
        logger.log(.warning, "Tern version=\(TernVersion.redisCompatible) (tern \(TernVersion.tern)), bits=64, pid=\(getpid()), just started", role: "C")
        if config.configFile.isEmpty {
            logger.log(.warning, "Warning: no config file specified, using the default config. In order to specify a config file use tern-server /path/to/redis.conf", role: "C")
        } else {
            logger.log(.warning, "Configuration loaded", role: "C")
        }
        for n in startupNotices { logger.log(.notice, n) }
        writePidFile()
        let loop = group.next()
        let eng = LoopBound(engine)
        engine.scheduleOnLoop = { ms, body in
            let b = LoopBound(body)
            loop.scheduleTask(in: .milliseconds(ms)) { b.value() }
        }
        engine.shutdownHandler = { [weak self] code in self?.shutdown(exitCode: code) }
        // Deferred work (pub/sub flushes, BCAST invalidations) runs after the current I/O batch.
        engine.deferredExecutor = { task in
            let t = LoopBound(task)
            loop.execute { t.value() }
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(config.tcpBacklog))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 4)
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 512, initial: 16384, maximum: 256 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(engine: eng.value))
                }
            }
        self.bootstrap = bootstrap
        if config.port == 0 {  // Tern has no unix socket listener (yet)
            logger.log(.warning, "Configured to not listen anywhere, exiting.")
            exit(1)
        }
        if config.port != 0 {
            switch Listeners.open(bind: config.bind, port: config.port, backlog: config.tcpBacklog) {
            case .success(let fds):
                for fd in fds {
                    do { channels.append(try adopt(fd).wait()) } catch {
                        logger.log(.warning, "Failed listening on port \(config.port) (tcp), aborting.")
                        exit(1)
                    }
                }
            case .failure(let f):
                logger.log(.warning, "Warning: Could not create server TCP listening socket \(f.address): bind: \(f.reason)")
                logger.log(.warning, "Failed listening on port \(config.port) (tcp), aborting.")
                exit(1)
            }
        }
        listening = (config.bind, config.port)
        config.listenerHook = { [weak self] bind, port in self?.rebind(bind: bind, port: port) }
        config.onChange("loglevel") { [weak self] cfg in
            self?.logger.minimum = ServerLogger.level(named: cfg.loglevel) ?? .notice
            return nil
        }
        config.onChange("hz") { [weak self] _ in
            self?.startCron(loop)
            return nil
        }
        for n in engine.applyRenamedCommands() { logger.log(.notice, n) }
        logger.log(.notice, "Running mode=standalone, port=\(config.port).")
        logger.log(.warning, "Server initialized")
        startCron(loop)
        installSignalHandlers(loop)
        logger.log(.notice, "Ready to accept connections")
        while true { sleep(1000) }
    }

    /// Hands a listening socket to NIO; Redis's backlog is set again after NIO's listen().
    func adopt(_ fd: Int32) -> EventLoopFuture<Channel> {
        let backlog = Int32(clamping: config.tcpBacklog)
        return bootstrap!.withBoundSocket(fd).map { ch in
            Glibc.listen(fd, backlog)
            return ch
        }
    }

    /// CONFIG SET bind/port: closes the listeners, opens the new ones, and goes back to
    /// the previous addresses if any required one cannot be bound (as Redis does).
    /// Returns an error text on failure.
    func rebind(bind: [String], port: Int) -> String? {
        let old = channels
        channels = []
        // On the loop, close() takes effect at once, freeing the addresses.
        for ch in old { ch.close(promise: nil) }
        func listen(_ bind: [String], _ port: Int) -> Listeners.BindFailure? {
            guard port != 0 else { return nil }
            switch Listeners.open(bind: bind, port: port, backlog: config.tcpBacklog) {
            case .success(let fds):
                for fd in fds {
                    // Registration may complete right away (we are on the loop) or just after.
                    adopt(fd).whenComplete { [weak self] result in
                        switch result {
                        case .success(let ch): self?.channels.append(ch)
                        case .failure(let e): self?.logger.log(.warning, "Failed to listen on a new socket: \(e)")
                        }
                    }
                }
                return nil
            case .failure(let f):
                return f
            }
        }
        if let f = listen(bind, port) {
            logger.log(.warning, "Warning: Could not create server TCP listening socket \(f.address): bind: \(f.reason)")
            if let again = listen(listening.bind, listening.port) {
                logger.log(.warning, "Failed to restore the previous listeners on \(again.address): \(again.reason)")
            }
            return f.reason
        }
        listening = (bind, port)
        return nil
    }

    func writePidFile() {
        guard !config.pidfile.isEmpty else { return }
        if let f = fopen(config.pidfile, "w") {
            fputs("\(getpid())\n", f)
            fclose(f)
        } else {
            logger.log(.warning, "Failed to write PID file: \(String(cString: strerror(errno)))")
        }
    }

    func startCron(_ loop: EventLoop) {
        cronTask?.cancel()
        let eng = LoopBound(engine)
        let hz = max(1, min(500, config.hz))
        cronTask = loop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64(1000 / hz)), delay: .milliseconds(Int64(1000 / hz))) { _ in
            eng.value.cron()
        }
    }

    func installSignalHandlers(_ loop: EventLoop) {
        signal(SIGPIPE, SIG_IGN)
        SignalWatcher.start(loop: loop) { [weak self] sig in
            guard let self else { return }
            let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
            self.logger.log(.warning, "Received \(name) scheduling shutdown...")
            self.engine.requestShutdown(reason: name)
        }
    }

    /// Final step of SHUTDOWN: close listeners, remove the pidfile, exit.
    func shutdown(exitCode: Int32) {
        for ch in channels { ch.close(promise: nil) }
        if !config.pidfile.isEmpty { unlink(config.pidfile) }
        logger.log(.warning, exitCode == 0 ? "Tern is now ready to exit, bye bye..." : "Tern is exiting with errors.")
        exit(exitCode)
    }
}

public enum TernVersion {
    /// The Redis version Tern reports in INFO/HELLO (the protocol and semantics it matches).
    public static let redisCompatible = "7.0.15"
    public static let tern = "0.1.0"
}
