#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CTern

/// The CPU priority of a snapshot's writer thread. BGSAVE's writer competes with the engine
/// thread and the clients for the CPUs (two on the reference machine): `idle` (SCHED_IDLE)
/// runs it on a CPU nothing else wants, and a waking engine or client preempts it at once;
/// `nice` is nice 19 with a short EEVDF slice; a foreground SAVE blocks the engine anyway
/// and writes at `normal` priority.
public enum SnapshotWriterPriority: Sendable, Equatable {
    case normal, nice, idle

    /// BGSAVE's base priority (bench/persistence measurements in docs/ARCHITECTURE.md):
    /// `idle`, raised while the writer is behind or the engine waits for it (`SerialWriterThread.pace`,
    /// `waitUntil`).
    /// TERN_SNAPSHOT_WRITER=normal|nice|idle overrides it for measurements.
    public static let background: SnapshotWriterPriority = {
        guard let v = getenv("TERN_SNAPSHOT_WRITER") else { return .idle }
        switch String(cString: v) {
        case "normal": return .normal
        case "nice": return .nice
        default: return .idle
        }
    }()

    /// The writer's slice request at nice 19, in µs (TERN_SNAPSHOT_WRITER_SLICE_US; 0: the kernel's).
    static let sliceMicros: Int = {
        guard let v = getenv("TERN_SNAPSHOT_WRITER_SLICE_US"), let n = Int(String(cString: v)), n >= 0 else { return 100 }
        return n
    }()

    /// Applies to thread `tid`; false when the kernel refused (raising needs CAP_SYS_NICE).
    func apply(to tid: Int32) -> Bool {
        switch self {
        case .normal: return tern_thread_set_sched(tid, 0, 0, 0) == 0
        // nice 19 alone still lets the writer, once picked, hold a CPU for a whole tick
        // (4 ms at HZ=250) while the engine thread waits on that CPU; a short EEVDF slice
        // hands the CPU back after about `sliceMicros`.
        case .nice: return tern_thread_set_sched(tid, 0, 19, UInt64(SnapshotWriterPriority.sliceMicros) * 1000) == 0
        case .idle: return tern_thread_set_sched(tid, 1, 0, 0) == 0
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
    /// The priority the writer runs at when nothing asks for more, and the one it has now
    /// (engine side: only the engine thread sets priorities, on the writer's thread id).
    private var basePriority: SnapshotWriterPriority
    private var currentPriority: SnapshotWriterPriority = .normal
    /// Whether this process may raise the writer again (CAP_SYS_NICE / RLIMIT_NICE): without
    /// it a lowered writer could not be boosted, so it stays at nice 19 (never `idle`).
    private(set) var canRaise = false
    private(set) var tid: Int32 = 0
    private var started = sem_t()
    private var inline = false

    init(priority: SnapshotWriterPriority) {
        self.basePriority = priority
        // Every node in the chain, the stub too, holds one unmanaged retain until consumed.
        let stub = Node(nil)
        _ = Unmanaged.passRetained(stub)
        head = stub
        tail = stub
        sem_init(&available, 0, 0)
        sem_init(&started, 0, 0)
        pthread_mutex_init(&progressLock, nil)
        pthread_cond_init(&progress, nil)
        let ctx = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            let me = Unmanaged<SerialWriterThread>.fromOpaque(arg).takeRetainedValue()
            me.run()
            return nil
        }, ctx)
        if rc == 0 {
            pthread_detach(thread)
            while sem_wait(&started) != 0 {}   // EINTR only; the writer posts its tid at once
            if priority != .normal {
                // Can a lowered writer be raised again? Down to nice 19, then back up.
                canRaise = SnapshotWriterPriority.nice.apply(to: tid) && SnapshotWriterPriority.normal.apply(to: tid)
                currentPriority = canRaise ? .normal : .nice
                setPriority(priority)
            }
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
        sem_destroy(&started)
    }

    private func push(_ job: (() -> Void)?) {
        let node = Node(job)
        let raw = Unmanaged.passRetained(node).toOpaque()
        tail.next.store(raw, ordering: .releasing)
        tail = node
        sem_post(&available)
    }

    /// The next job, or nil for the end marker (`close`). `waiting: false` when the caller
    /// has already taken the semaphore.
    private func pop(waiting: Bool = true) -> (() -> Void)? {
        if waiting { while sem_wait(&available) != 0 {} }   // EINTR only
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
        tid = tern_gettid()
        sem_post(&started)
        while let job = pop() { runJob(job) }
        exited.store(true, ordering: .sequentiallyConsistent)
        signalProgress(always: true)
    }

    private func signalProgress(always: Bool = false) {
        guard always || waiters.load(ordering: .sequentiallyConsistent) > 0 else { return }
        pthread_mutex_lock(&progressLock)
        pthread_cond_broadcast(&progress)
        pthread_mutex_unlock(&progressLock)
    }

    /// On the writer thread, inside a job: runs the jobs queued since, without waiting for
    /// more (a long job that must not hold the engine's chunks back). Stops at the end marker.
    func runPending() {
        while let raw = head.next.load(ordering: .acquiring),
              Unmanaged<Node>.fromOpaque(raw).takeUnretainedValue().job != nil,
              sem_trywait(&available) == 0 {
            guard let job = pop(waiting: false) else { return }
            runJob(job)
        }
    }

    private func runJob(_ job: () -> Void) {
        job()
        finished.add(1, ordering: .sequentiallyConsistent)
        signalProgress()
    }

    func async(_ job: @escaping () -> Void) {
        if inline { job(); return }
        pushed += 1
        push(job)
    }

    /// Moves the writer to `p` (engine thread only; a no-op when it is there already). A
    /// writer that could not be raised again is never lowered below nice 19.
    func setPriority(_ p: SnapshotWriterPriority) {
        if inline || tid == 0 || p == currentPriority { return }
        let target = (p == .idle && !canRaise) ? SnapshotWriterPriority.nice : p
        if target == currentPriority { return }
        if target.apply(to: tid) { currentPriority = target }
    }

    /// An idle-class writer that other work starves: nice 19 from now on.
    func raiseBase() {
        guard basePriority == .idle else { return }
        basePriority = .nice
        if currentPriority == .idle { setPriority(.nice) }
    }

    /// Back to the base priority, or raised to nice 19 while the writer has fallen behind
    /// (the walk waits for it then; an idle-class writer on a busy machine would not catch up).
    func pace(behind: Bool) {
        if basePriority == .idle { setPriority(behind ? .nice : .idle) }
    }

    /// Blocks the caller until `done()` holds, re-checked after every job the writer
    /// finishes (or until the thread has ended). `done` reads atomics only. The writer runs
    /// at normal priority meanwhile: the engine waiting on a low-priority thread that other
    /// work starves would be a priority inversion.
    func waitUntil(_ done: () -> Bool) {
        if inline || done() { return }
        let before = currentPriority
        setPriority(.normal)
        defer { setPriority(before) }
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
