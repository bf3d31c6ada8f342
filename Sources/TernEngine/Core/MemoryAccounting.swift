import CTern
#if canImport(Glibc)
import Glibc
#endif

/// used_memory: the bytes Tern holds in live allocations, as the allocator counts them
/// (jemalloc's usable sizes, the same measure Redis's zmalloc keeps). Everything the process
/// allocates is in it — keys, values, encodings, client query and output buffers, NIO's
/// buffers, backlog and AOF buffers when they exist — because it is read from the allocator,
/// not summed by hand.
///
/// Reading jemalloc's global total needs an epoch refresh (microseconds: it merges every
/// arena's statistics), too slow for the maxmemory check before each write. So the total is
/// refreshed by the cron and by INFO/MEMORY, and between refreshes the engine thread's own
/// allocation counters (two loads: jemalloc's thread.allocatedp/deallocatedp) carry it
/// forward exactly for everything the engine thread does. Other threads (the lazy-free
/// thread) are seen at the next refresh. Under glibc malloc there are no per-thread
/// counters and `used` is the last refresh (the eviction loop refreshes as it goes).
public final class MemoryAccounting {
    /// The allocator's total at the last refresh.
    private var base = 0
    /// The refreshing thread's net allocation (allocated - deallocated) at the last refresh.
    private var threadNetAtRefresh: Int64 = 0
    private var refreshThread: pthread_t?
    /// Bytes allocated when the server became ready (used_memory_startup).
    public private(set) var startup = 0
    /// The highest `used` seen by a refresh or an eviction check (used_memory_peak).
    public private(set) var peak = 0
    public let isJemalloc = tern_allocator_is_jemalloc() != 0

    public init() {
        refresh()
        startup = base
        peak = base
    }

    @inline(__always) private static func threadNet() -> Int64 {
        Int64(bitPattern: tern_thread_allocated() &- tern_thread_deallocated())
    }

    /// Reads the allocator's total (microseconds). Call from the engine thread.
    @discardableResult
    public func refresh() -> Int {
        base = Int(tern_malloc_allocated())
        threadNetAtRefresh = MemoryAccounting.threadNet()
        refreshThread = pthread_self()
        if base > peak { peak = base }
        return base
    }

    /// Current used memory: exact for the engine thread's own work since the last refresh.
    @inline(__always) public var used: Int {
        guard isJemalloc, let t = refreshThread, pthread_equal(t, pthread_self()) != 0 else { return base }
        return base + Int(MemoryAccounting.threadNet() - threadNetAtRefresh)
    }

    /// Raises the peak to the running figure (no refresh).
    public func notePeak() {
        let u = used
        if u > peak { peak = u }
    }

    /// `used`, refreshed first when the allocator offers no cheap running count (glibc).
    public var usedPrecise: Int {
        if !isJemalloc { return refresh() }
        let u = used
        if u > peak { peak = u }
        return u
    }

    /// Allocator statistics for INFO (allocator_*): refreshes `base` too.
    public func allocatorInfo() -> tern_allocator_info {
        var info = tern_allocator_info()
        tern_allocator_info_get(&info)
        base = Int(info.allocated)
        threadNetAtRefresh = MemoryAccounting.threadNet()
        refreshThread = pthread_self()
        if base > peak { peak = base }
        return info
    }

    public var allocatorName: String { String(cString: tern_allocator_name()) }

    /// Returns free pages to the OS (MEMORY PURGE).
    public func purge() { tern_malloc_trim() }

    /// The allocator's statistics report (MEMORY MALLOC-STATS).
    public func mallocStatsText() -> String {
        guard let p = tern_malloc_stats_text() else { return "" }
        defer { free(p) }
        return String(cString: p)
    }
}
