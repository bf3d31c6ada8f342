import TernConfig
import NIOCore
import NIOPosix
import Dispatch
import TernEngine
import TernSentinel
import TernCluster
import TernStore
import CTern
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
    /// One accept thread per listening socket.
    var acceptors: [AcceptLoop] = []
    /// The unix socket's accept thread (`unixsocket`), not touched by CONFIG SET bind/port.
    var unixAcceptor: AcceptLoop?
    /// The cluster bus port's accept threads (cluster mode).
    var clusterAcceptors: [AcceptLoop] = []
    let startupNotices: [String]
    /// Sentinel mode (`--sentinel`, or the binary run as tern-sentinel).
    public let sentinel: Sentinel?
    /// Cluster mode (`cluster-enabled yes`): this node's view of the cluster.
    public let cluster: Cluster?

    var cronTask: RepeatedTask?
    /// Addresses the listeners are bound to now.
    var listening: (bind: [String], port: Int) = ([], 0)

    /// Started with arguments (a file or options): Redis then says "Configuration loaded"
    /// rather than warning that no config file was given.
    let hasArguments: Bool

    public init(config: ServerConfig, notices: [String] = [], hasArguments: Bool = true) {
        self.config = config
        self.startupNotices = notices
        self.hasArguments = hasArguments
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        engine = Engine(config: config)
        sentinel = config.sentinelMode ? Sentinel(engine: engine) : nil
        cluster = config.clusterEnabled && !config.sentinelMode ? Cluster(engine: engine) : nil
    }

    public func run() -> Never {
        logger.minimum = ServerLogger.level(named: config.loglevel) ?? .notice
        if !logger.open(path: config.logfile) {
            StdIO.err("Can't open the log file: \(config.logfile)\n")
            exit(1)
        }
        if config.syslogEnabled { logger.openSyslog(ident: config.syslogIdent, facility: config.syslogFacility) }
        let lg = logger
        // The role letter: S on a replica (replicaof set), M otherwise, as Redis's log.
        let cfg = LoopBound(config)
        let sentinelMode = config.sentinelMode
        logger.currentRole = { sentinelMode ? "X" : cfg.value.replicaofHost.isEmpty ? "M" : "S" }
        engine.logHandler = { level, msg in lg.log(level, msg) }
        logger.log(.warning, "oO0OoO0OoO0Oo Tern is starting oO0OoO0OoO0Oo", role: "C")
        logger.log(.warning, "Tern version=\(TernVersion.redisCompatible) (tern \(TernVersion.tern)), bits=64, pid=\(getpid()), just started", role: "C")
        if !hasArguments {
            logger.log(.warning, "Warning: no config file specified, using the default config. In order to specify a config file use tern-server /path/to/redis.conf", role: "C")
        } else {
            logger.log(.warning, "Configuration loaded", role: "C")
        }
        for n in startupNotices { logger.log(.notice, n) }
        writePidFile()
        let loop = group.next()
        engine.scheduleOnLoop = { ms, body in
            let b = LoopBound(body)
            loop.scheduleTask(in: .milliseconds(ms)) { b.value() }
        }
        engine.scheduleOnLoopMicros = { us, body in
            let b = LoopBound(body)
            loop.scheduleTask(in: .microseconds(us)) { b.value() }
        }
        engine.shutdownHandler = { [weak self] code in self?.shutdown(exitCode: code) }
        // The replica side's outbound link to its master.
        engine.repl.replica.connector = NIOMasterLinkConnector(loop: loop)
        // Deferred work (pub/sub flushes, BCAST invalidations) runs after the current I/O batch.
        engine.deferredExecutor = { task in
            let t = LoopBound(task)
            loop.execute { t.value() }
        }
        if config.port == 0 && config.unixsocket.isEmpty {
            logger.log(.warning, "Configured to not listen anywhere, exiting.")
            exit(1)
        }
        // The sockets listen from here on (the kernel queues connections), but accepting
        // starts only once the load is queued on the loop, so no command runs before it.
        var listenFDs: [Int32] = []
        var unixFD: Int32? = nil
        if config.port != 0 {
            switch Listeners.open(bind: config.bind, port: config.port, backlog: config.tcpBacklog) {
            case .success(let fds):
                listenFDs = fds
            case .failure(let f):
                logger.log(.warning, "Warning: Could not create server TCP listening socket \(f.address): bind: \(f.reason)")
                logger.log(.warning, "Failed listening on port \(config.port) (tcp), aborting.")
                exit(1)
            }
        }
        if !config.unixsocket.isEmpty {
            switch Listeners.openUnix(path: config.unixsocket, perm: config.unixsocketperm, backlog: config.tcpBacklog) {
            case .success(let fd):
                unixFD = fd
            case .failure(let e):
                logger.log(.warning, "Failed opening Unix socket: \(e.text)")
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
        // Cluster mode: nodes.conf is locked and loaded (or created) before anything listens
        // for clients; its commands replace the "support disabled" ones.
        if let cluster {
            let cl = LoopBound(cluster)
            switch Result(catching: { try loop.submit { cl.value.start() }.wait() }) {
            case .success(nil):
                break
            case .success(.some(let fatal)):
                logger.log(.warning, fatal)
                exit(1)
            case .failure(let error):
                logger.log(.warning, "Cluster initialization failed: \(error)")
                exit(1)
            }
            startClusterBus(cluster, loop: loop)
        } else if sentinel == nil {
            Cluster.installDisabledCommands(engine)
        }
        for n in engine.applyRenamedCommands() { logger.log(.notice, n) }
        showLogoOrMode()
        // `user` lines or the aclfile (Redis's ACLLoadUsersAtStartup); a sentinel loads them
        // once its command table is in place.
        if sentinel == nil, let errors = engine.loadACLAtStartup() {
            for e in errors { logger.log(.warning, e) }
            exit(1)
        }
        if let sentinel {
            runSentinel(sentinel, loop: loop, listenFDs: listenFDs, unixFD: unixFD)
        }
        logger.log(.warning, "Server initialized")
        // The dataset loads in slices on the engine's loop; connections accepted meanwhile are
        // served between slices (-LOADING to most commands, INFO shows the progress). A file
        // that exists but cannot be read stops the server and stays untouched. Signals are
        // watched from here on: SIGTERM/SIGINT during the load exit without saving.
        let eng = LoopBound(engine)
        installSignalHandlers(loop)
        let promise = loop.makePromise(of: Engine.LoadOutcome.self)
        loop.execute { eng.value.loadDataAtStartup { promise.succeed($0) } }
        for fd in listenFDs { acceptors.append(startAccepting(fd)) }
        if let fd = unixFD { unixAcceptor = startAccepting(fd, unixPath: config.unixsocket) }
        let outcome = try? promise.futureResult.wait()
        if outcome == nil || outcome == .failed { exit(1) }
        startCron(loop)
        logger.log(.notice, "Ready to accept connections")
        if !config.unixsocket.isEmpty {
            logger.log(.notice, "The server is now ready to accept connections at \(config.unixsocket)")
        }
        while true { sleep(1000) }
    }

    var modeName: String { config.sentinelMode ? "sentinel" : cluster != nil ? "cluster" : "standalone" }

    /// Redis's startup banner: the picture with version, mode, `Port:` and `PID:` lines (what
    /// supervisors and test harnesses wait for) when always-show-logo is set or the log goes
    /// to a terminal; otherwise one "Running mode=..." line. The picture is Tern's own.
    func showLogoOrMode() {
        let toTerminal = config.logfile.isEmpty && !config.syslogEnabled && isatty(STDOUT_FILENO) != 0
        guard config.alwaysShowLogo || toTerminal else {
            logger.log(.notice, "Running mode=\(modeName), port=\(config.port).")
            return
        }
        let art = [
            "",
            "",
            "      __                ",
            "  ___/ o\\__            ",
            " <___   ___)===--       ",
            "     \\  \\             ",
            "      \\__\\___         ",
            "       `-.____)==--     ",
            "",
            "",
        ]
        let text = [
            "",
            "",
            "",
            "Tern \(TernVersion.redisCompatible) (tern \(TernVersion.tern)) 64 bit",
            "",
            "Running in \(modeName) mode",
            "Port: \(config.port)",
            "PID: \(getpid())",
            "",
            "",
        ]
        var out = "\n"
        for (a, t) in zip(art, text) {
            let pad = String(repeating: " ", count: max(0, 28 - a.count))
            var line = Substring(a + pad + t)
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        logger.raw(.notice, out)
    }

    /// Sentinel mode: no dataset, outbound links to the monitored instances, the sentinel
    /// timer; a missing or read-only config file stops the process (as Redis).
    func runSentinel(_ sentinel: Sentinel, loop: EventLoop, listenFDs: [Int32], unixFD: Int32?) -> Never {
        sentinel.connector = NIOSentinelConnector(loop: loop)
        let s = LoopBound(sentinel)
        let lg = LoopBound(logger)
        let eng = LoopBound(engine)
        installSignalHandlers(loop)
        let started = loop.submit {
            if let err = s.value.start() {
                lg.value.log(.warning, err)
                exit(1)
            }
            if let errors = eng.value.loadACLAtStartup() {
                for e in errors { lg.value.log(.warning, e) }
                exit(1)
            }
        }
        _ = try? started.wait()
        for fd in listenFDs { acceptors.append(startAccepting(fd)) }
        if let fd = unixFD { unixAcceptor = startAccepting(fd, unixPath: config.unixsocket) }
        startCron(loop)
        while true { sleep(1000) }
    }

    /// Starts the accept thread of a listening socket; each accepted descriptor becomes a
    /// NIO channel on the engine loop with a ConnectionHandler that knows its fd.
    func startAccepting(_ fd: Int32, unixPath: String? = nil) -> AcceptLoop {
        let eng = LoopBound(engine)
        let lg = LoopBound(logger)
        let group = self.group
        let loop = AcceptLoop(fd: fd, onAccept: { cfd in
            // A bootstrap per connection: accept threads never share one.
            ClientBootstrap(group: group)
                .channelOption(ChannelOptions.maxMessagesPerRead, value: 4)
                .channelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 512, initial: 16384, maximum: 256 * 1024))
                .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(engine: eng.value, fd: cfd, unixPath: unixPath))
                }
            }.withConnectedSocket(cfd).whenFailure { error in
                lg.value.log(.warning, "Error registering fd event for the new client: \(error)")
            }
        }, onError: { msg in
            // The logger belongs to the engine loop.
            group.next().execute { lg.value.log(.warning, msg) }
        })
        loop.start()
        return loop
    }

    /// CONFIG SET bind/port: closes the listeners, opens the new ones, and goes back to
    /// the previous addresses if any required one cannot be bound (as Redis does).
    /// Returns an error text on failure.
    func rebind(bind: [String], port: Int) -> String? {
        let old = acceptors
        acceptors = []
        // stop() closes each listening socket at once, freeing the addresses.
        for a in old { a.stop() }
        func listen(_ bind: [String], _ port: Int) -> Listeners.BindFailure? {
            guard port != 0 else { return nil }
            switch Listeners.open(bind: bind, port: port, backlog: config.tcpBacklog) {
            case .success(let fds):
                for fd in fds { acceptors.append(startAccepting(fd)) }
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
            if self.engine.loading.active {
                // Redis: no save over a half-loaded dataset; the shutdown runs at once.
                self.logger.log(.warning, "Received shutdown signal during loading, scheduling shutdown.")
                self.engine.requestShutdown(reason: name + " NOSAVE")
                return
            }
            self.logger.log(.warning, "Received \(name) scheduling shutdown...")
            // shutdown-on-sigterm / -sigint flags become the same words SHUTDOWN takes.
            let f = sig == SIGINT ? self.config.shutdownOnSigint : self.config.shutdownOnSigterm
            let words = ["SAVE", "NOSAVE", "NOW", "FORCE"].enumerated().filter { f & (1 << $0.offset) != 0 }.map { $0.element }
            _ = self.engine.beginShutdown(reason: ([name] + words).joined(separator: " "))
        }
    }

    /// Final step of SHUTDOWN: close listeners, remove the pidfile, exit.
    func shutdown(exitCode: Int32) {
        // Redis's order: the pid file, then the listening sockets.
        if !config.pidfile.isEmpty {
            logger.log(.notice, "Removing the pid file.")
            unlink(config.pidfile)
        }
        for a in acceptors + clusterAcceptors { a.stop() }
        if let u = unixAcceptor {
            u.stop()
            logger.log(.notice, "Removing the unix socket file.")
            unlink(config.unixsocket)
        }
        let who = config.sentinelMode ? "Sentinel" : "Tern"
        logger.log(.warning, exitCode == 0 ? "\(who) is now ready to exit, bye bye..." : "\(who) is exiting with errors.")
        exit(exitCode)
    }
}

public enum TernVersion {
    /// The Redis version Tern reports in INFO/HELLO (the protocol and semantics it matches).
    public static let redisCompatible = "7.0.15"
    public static let tern = "0.1.0"
}
