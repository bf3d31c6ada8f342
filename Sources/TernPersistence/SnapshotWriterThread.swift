#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CTern

/// The CPU priority of a snapshot's writer thread. BGSAVE's writer competes with the engine
/// thread and the clients for the CPUs (two on the reference machine): `idle` (SCHED_IDLE)
/// runs it only on a CPU nothing else wants, `nice` at nice 19; a foreground SAVE blocks
/// the engine anyway and writes at `normal` priority.
public enum SnapshotWriterPriority: Sendable {
    case normal, nice, idle

    /// BGSAVE's default (bench/persistence measurements in docs/ARCHITECTURE.md);
    /// TERN_SNAPSHOT_WRITER=normal|nice|idle overrides it for measurements.
    public static let background: SnapshotWriterPriority = {
        guard let v = getenv("TERN_SNAPSHOT_WRITER") else { return .nice }
        switch String(cString: v) {
        case "normal": return .normal
        case "idle": return .idle
        default: return .nice
        }
    }()

    /// The writer's slice request in µs (TERN_SNAPSHOT_WRITER_SLICE_US; 0: the kernel's).
    static let sliceMicros: Int = {
        guard let v = getenv("TERN_SNAPSHOT_WRITER_SLICE_US"), let n = Int(String(cString: v)), n >= 0 else { return 100 }
        return n
    }()

    /// Applies to the calling thread (Linux: both calls act per thread, not per process).
    func apply() {
        switch self {
        case .normal: return
        case .nice:
            // nice 19 alone still lets the writer, once picked, hold a CPU for a whole tick
            // (4 ms at HZ=250) while the engine thread waits on that CPU; a short EEVDF slice
            // hands the CPU back after about `sliceMicros`.
            _ = tern_thread_set_fair_slice(19, UInt64(SnapshotWriterPriority.sliceMicros) * 1000)
        case .idle:
            var p = sched_param()
            p.sched_priority = 0
            _ = sched_setscheduler(0, 5 /* SCHED_IDLE */, &p)
        }
    }
}

/// One thread running jobs in order (a snapshot's writer). A dedicated thread rather than
/// a Dispatch queue: its scheduling priority is set once and never leaks into a shared pool.
///
/// The engine hands jobs over without ever taking a lock the writer may hold: the writer
/// runs at nice 19, and a nice-19 thread preempted inside a critical section on a busy
/// machine kept the engine waiting on that mutex for milliseconds (perf uprobes on BGSAVE
/// under a SET load: handing over one chunk took up to 9.5 ms, p99 2.9 ms). Jobs go through
/// a single-producer single-consumer linked queue (the engine thread is the only producer)
/// and a counting semaphore wakes the writer (sem_post never blocks). The engine blocks only
/// when it asks to (`waitUntil`: SAVE's back-pressure, the hard queue cap, abort).
final class SerialWriterThread: @unchecked Sendable {
    private final class Node {
        var job: (() -> Void)?
        let next = Atomic<UnsafeMutableRawPointer?>(nil)
        init(_ job: (() -> Void)?) { self.job = job }
    }
    /// Producer side (engine thread only): the last node pushed.
    private var tail: Node
    /// Consumer side (writer thread only): the node whose successor is the next job.
    private var head: Node
    private var available = sem_t()
    /// Jobs pushed (producer only) and jobs finished (written by the writer).
    private var pushed = 0
    private let finished = Atomic<Int>(0)
    private let exited = Atomic<Bool>(false)
    /// Producers blocked in `waitUntil`; the writer signals `progress` after a job only then.
    private let waiters = Atomic<Int>(0)
    private var progressLock = pthread_mutex_t()
    private var progress = pthread_cond_t()
    private let priority: SnapshotWriterPriority
    private var inline = false

    init(priority: SnapshotWriterPriority) {
        self.priority = priority
        // Every node in the chain, the stub too, holds one unmanaged retain until consumed.
        let stub = Node(nil)
        _ = Unmanaged.passRetained(stub)
        head = stub
        tail = stub
        sem_init(&available, 0, 0)
        pthread_mutex_init(&progressLock, nil)
        pthread_cond_init(&progress, nil)
        let ctx = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            guard let arg else { return nil }
            let me = Unmanaged<SerialWriterThread>.fromOpaque(arg).takeRetainedValue()
            me.run()
            return nil
        }, ctx)
        if rc == 0 {
            pthread_detach(tid)
        } else {
            // No thread: run jobs inline (never expected; keeps saves working).
            Unmanaged<SerialWriterThread>.fromOpaque(ctx).release()
            inline = true
        }
    }

    deinit {
        // Whatever was never consumed (jobs pushed after `close`).
        var n: Node? = head
        while let node = n {
            let next = node.next.load(ordering: .acquiring)
            Unmanaged.passUnretained(node).release()
            n = next.map { Unmanaged<Node>.fromOpaque($0).takeUnretainedValue() }
        }
        sem_destroy(&available)
    }

    private func push(_ job: (() -> Void)?) {
        let node = Node(job)
        let raw = Unmanaged.passRetained(node).toOpaque()
        tail.next.store(raw, ordering: .releasing)
        tail = node
        sem_post(&available)
    }

    /// The next job, or nil for the end marker (`close`).
    private func pop() -> (() -> Void)? {
        while sem_wait(&available) != 0 {}   // EINTR only
        guard let raw = head.next.load(ordering: .acquiring) else { return nil }
        let node = Unmanaged<Node>.fromOpaque(raw).takeUnretainedValue()
        let job = node.job
        node.job = nil
        let old = head
        head = node
        Unmanaged.passUnretained(old).release()
        return job
    }

    private func run() {
        priority.apply()
        while let job = pop() {
            job()
            finished.add(1, ordering: .sequentiallyConsistent)
            signalProgress()
        }
        exited.store(true, ordering: .sequentiallyConsistent)
        signalProgress(always: true)
    }

    private func signalProgress(always: Bool = false) {
        guard always || waiters.load(ordering: .sequentiallyConsistent) > 0 else { return }
        pthread_mutex_lock(&progressLock)
        pthread_cond_broadcast(&progress)
        pthread_mutex_unlock(&progressLock)
    }

    func async(_ job: @escaping () -> Void) {
        if inline { job(); return }
        pushed += 1
        push(job)
    }

    /// Blocks the caller until `done()` holds, re-checked after every job the writer
    /// finishes (or until the thread has ended). `done` reads atomics only.
    func waitUntil(_ done: () -> Bool) {
        if inline || done() { return }
        waiters.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&progressLock)
        while !done() && !exited.load(ordering: .sequentiallyConsistent) {
            pthread_cond_wait(&progress, &progressLock)
        }
        pthread_mutex_unlock(&progressLock)
        waiters.subtract(1, ordering: .sequentiallyConsistent)
    }

    /// Waits until every job queued so far has run.
    func waitIdle() {
        let target = pushed
        waitUntil { finished.load(ordering: .sequentiallyConsistent) >= target }
    }

    /// No more jobs: the thread ends once the queue before this is done.
    func close() {
        if inline { return }
        push(nil)
    }
}
