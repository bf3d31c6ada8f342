import TernConfig
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGTERM/SIGINT into a callback on the engine loop. A tiny thread waits on
/// sigwait so no handler code runs in signal context.
enum SignalWatcher {
    static func start(loop: EventLoop, _ handler: @escaping @Sendable (Int32) -> Void) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let box = HandlerBox(loop: loop, handler: handler)
        var tid = pthread_t()
        let arg = Unmanaged.passRetained(box).toOpaque()
        pthread_create(&tid, nil, { raw in
            let box = Unmanaged<HandlerBox>.fromOpaque(raw!).takeRetainedValue()
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGTERM)
            sigaddset(&set, SIGINT)
            while true {
                var sig: Int32 = 0
                if sigwait(&set, &sig) == 0 {
                    let h = box.handler
                    let s = sig
                    box.loop.execute { h(s) }
                }
            }
        }, arg)
    }

    final class HandlerBox: @unchecked Sendable {
        let loop: EventLoop
        let handler: @Sendable (Int32) -> Void
        init(loop: EventLoop, handler: @escaping @Sendable (Int32) -> Void) { self.loop = loop; self.handler = handler }
    }
}
