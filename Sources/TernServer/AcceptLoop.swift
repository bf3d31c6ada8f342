import TernConfig
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Accepts connections on one listening socket from a small dedicated thread and hands
/// each new descriptor to NIO (`ClientBootstrap.withConnectedSocket`). Accepting ourselves
/// is what gives the connection handler its file descriptor: with it, replies go out with
/// one plain write(2) instead of NIO's write pipeline (~4,000 instructions per flush), and
/// CLIENT LIST shows the real `fd=`.
final class AcceptLoop: @unchecked Sendable {
    let fd: Int32
    private let stopped = ManagedAtomicFlag()
    private let onAccept: @Sendable (Int32) -> Void
    private let onError: @Sendable (String) -> Void

    init(fd: Int32, onAccept: @escaping @Sendable (Int32) -> Void, onError: @escaping @Sendable (String) -> Void) {
        self.fd = fd
        self.onAccept = onAccept
        self.onError = onError
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    func start() {
        let body = ThreadBody { [self] in self.run() }
        var tid = pthread_t()
        let arg = Unmanaged.passRetained(body).toOpaque()
        let rc = pthread_create(&tid, nil, { raw in
            guard let raw else { return nil }
            let b = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
            b.run()
            return nil
        }, arg)
        if rc == 0 {
            pthread_detach(tid)
        } else {
            Unmanaged<ThreadBody>.fromOpaque(arg).release()
            onError("Can't start the accept thread: \(String(cString: strerror(rc)))")
        }
    }

    /// Stops accepting. shutdown(2) takes the socket out of LISTEN at once, so CONFIG SET
    /// port/bind can bind the address again right away (SO_REUSEADDR), and wakes the poll;
    /// the accept thread closes the descriptor itself, so its number cannot be reused while
    /// the thread might still touch it.
    func stop() {
        stopped.set()
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func run() {
        defer { close(fd) }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while !stopped.isSet {
            pfd.revents = 0
            let r = poll(&pfd, 1, 100)
            if stopped.isSet { return }
            if r <= 0 { continue }
            while !stopped.isSet {
                let c = accept(fd, nil, nil)
                if c >= 0 {
                    _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                    var one: Int32 = 1
                    setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    onAccept(c)
                    continue
                }
                let e = errno
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EAGAIN || e == EWOULDBLOCK { break }
                if e == EMFILE || e == ENFILE {
                    onError("Accepting client connection: \(String(cString: strerror(e)))")
                    usleep(10_000)
                    break
                }
                if stopped.isSet { return }
                onError("Accepting client connection: \(String(cString: strerror(e)))")
                break
            }
        }
    }
}

final class ThreadBody: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A set-once flag shared between the engine loop and an accept thread.
final class ManagedAtomicFlag: @unchecked Sendable {
    private var value = false
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }
    func set() { pthread_mutex_lock(&lock); value = true; pthread_mutex_unlock(&lock) }
    var isSet: Bool { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return value }
}
