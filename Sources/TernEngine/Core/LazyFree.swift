import CTern
import TernConfig
import TernStore
#if canImport(Glibc)
import Glibc
#endif

/// Background freeing (UNLINK, FLUSHALL/FLUSHDB ASYNC, lazyfree-lazy-*): values whose
/// free effort exceeds `threshold` are handed to one background thread. What is handed
/// over is owned exclusively by that thread (already unlinked from every table); the
/// thread frees memory and releases objects and never touches engine state.
public final class LazyFree: @unchecked Sendable {
    public static let shared = LazyFree()

    /// Redis's LAZYFREE_THRESHOLD.
    public static let threshold = 64

    enum Job {
        case entry(UnsafeMutableRawPointer)
        case table(KeyTable, Int)
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Job] = []
    private var started = false
    private var pending = 0
    private var freed = 0

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    /// Objects queued but not yet freed (INFO lazyfree_pending_objects).
    public var pendingObjects: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return pending
    }

    /// Objects freed in the background since start or CONFIG RESETSTAT (INFO lazyfreed_objects).
    public var freedObjects: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return freed
    }

    public func resetStats() {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        freed = 0
    }

    /// The work freeing this entry's value takes (1 for strings and compact encodings).
    public static func effort(_ e: Entry) -> Int {
        guard e.isObject else { return 1 }
        let obj = e.object
        guard let coll = obj as? StoredCollection else { return 1 }
        switch e.encoding {
        case .listpack, .intset, .ziplist, .zipmap, .embstr, .raw, .int: return 1
        case .quicklist: return coll.elementCount / 128 + 1   // one allocation per node
        case .stream: return coll.elementCount / 100 + 1      // one listpack per node
        default: return coll.elementCount                    // hashtable / skiplist
        }
    }

    /// Frees a detached entry: in the background when it is expensive, otherwise now.
    public func dispose(_ e: Entry) {
        if LazyFree.effort(e) > LazyFree.threshold {
            enqueue(.entry(e.raw), count: 1)
        } else {
            Database.free(e)
        }
    }

    /// Frees a whole detached table (FLUSHALL/FLUSHDB ASYNC) in the background.
    public func dispose(table: KeyTable) {
        let n = table.count
        if n == 0 { return }
        enqueue(.table(table, n), count: n)
    }

    private func enqueue(_ job: Job, count: Int) {
        pthread_mutex_lock(mutex)
        queue.append(job)
        pending += count
        if !started {
            started = true
            startThread()
        }
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }

    private func startThread() {
        var tid = pthread_t()
        let ctx = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&tid, nil, { arg in
            guard let arg else { return nil }
            Unmanaged<LazyFree>.fromOpaque(arg).takeRetainedValue().run()
            return nil
        }, ctx)
        if rc != 0 {
            // No thread: fall back to freeing synchronously on the next enqueue.
            Unmanaged<LazyFree>.fromOpaque(ctx).release()
            started = false
            drainSynchronously()
        } else {
            pthread_detach(tid)
        }
    }

    /// Called with the mutex held when no thread could be started.
    private func drainSynchronously() {
        while let job = queue.popLast() {
            let n = LazyFree.release(job)
            pending -= n
            freed += n
        }
    }

    private func run() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty { pthread_cond_wait(cond, mutex) }
            let job = queue.removeFirst()
            pthread_mutex_unlock(mutex)
            let n = LazyFree.release(job)
            tern_thread_cache_flush()
            pthread_mutex_lock(mutex)
            pending -= n
            freed += n
            pthread_mutex_unlock(mutex)
        }
    }

    /// Frees what a job holds; returns the number of objects it counted for.
    private static func release(_ job: Job) -> Int {
        switch job {
        case .entry(let raw):
            Database.free(Entry(raw))
            return 1
        case .table(let t, let n):
            t.removeAll()
            return n
        }
    }

    /// Blocks until the queue is empty (tests, DEBUG RELOAD-style callers).
    public func waitIdle() {
        while pendingObjects > 0 { usleep(1000) }
    }
}
