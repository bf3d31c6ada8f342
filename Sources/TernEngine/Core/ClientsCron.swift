import TernConfig
import TernProtocol

/// Per-client periodic work (Redis's clientsCron): a slice of the clients per tick, so a
/// tick stays short with many clients (all of them within about a second).
extension Engine {
    /// Reply buffers below this are never shrunk further; growth by the cron stops at 16 KB
    /// (Redis's PROTO_REPLY_MIN_BYTES and PROTO_REPLY_CHUNK_BYTES).
    static let replyBufferMinBytes = 1024
    static let replyBufferChunkBytes = 16 * 1024

    func clientsCron() {
        if clientsCronQueue.isEmpty {
            guard !clients.isEmpty else { return }
            clientsCronQueue = Array(clients.values)
        }
        // numclients/hz per tick, at least 5 (Redis's CLIENTS_CRON_MIN_ITERATIONS).
        let n = min(clientsCronQueue.count, max(5, clients.count / max(1, config.hz)))
        for _ in 0..<n {
            guard let c = clientsCronQueue.popLast() else { break }
            guard clients[c.id] === c else { continue }   // freed since the slice was taken
            resizeReplyBuffer(c)
            // Redis 7.0's order: memory accounting, then the output limits, checked here too
            // so a client that stopped reading is closed once its soft limit has lasted,
            // even when nothing more is sent to it.
            updateClientMemoryUsage(c)
            closeClientOnOutputBufferLimitReached(c, async: false)
        }
        evictClientsIfNeeded()
    }

    /// Redis's clientsCronResizeOutputBuffer: an idle client's buffer shrinks to what its
    /// peak needed (at least 1 KB) once the peak was below half the buffer, a busy one that
    /// filled it is given twice the room (up to 16 KB); the peak restarts every
    /// reply-buffer peak-reset period (DEBUG REPLYBUFFER PEAK-RESET-TIME / RESIZING).
    func resizeReplyBuffer(_ c: Client) {
        guard debugState.replyBufferResizing else { return }
        let out = c.out
        let size = out.capacity
        var newSize = 0
        if size / 2 >= Engine.replyBufferMinBytes && out.peak < size / 2 {
            newSize = max(Engine.replyBufferMinBytes, out.peak + 1)
            stats.replyBufferShrinks += 1
        } else if size * 2 < Engine.replyBufferChunkBytes * 2 && out.peak == size {
            newSize = min(Engine.replyBufferChunkBytes, size * 2)
            stats.replyBufferExpands += 1
        }
        let resetTime = debugState.replyBufferPeakResetTimeMs
        if resetTime >= 0 && nowMs - c.replyBufferPeakResetMs >= Int64(resetTime) {
            out.resetPeak()
            c.replyBufferPeakResetMs = nowMs
        }
        if newSize > 0 { out.resize(to: newSize) }
    }
}
