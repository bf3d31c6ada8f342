import TernConfig
import TernProtocol

// Client memory accounting and client eviction (Redis 7.0's getClientMemoryUsage,
// updateClientMemUsage, the client memory usage buckets and evictClients).
//
// Every client's memory (CLIENT LIST tot-mem) is recomputed at the points Redis 7.0 does:
// after each read batch, after output is queued or written, after a PUBLISH appended to a
// subscriber, and in the clients cron. The last figure is kept on the client and summed per
// client type (INFO memory mem_clients_normal / mem_clients_slaves). With maxmemory-clients
// set, normal and pubsub clients without CLIENT NO-EVICT also sit in one of 19 buckets by
// size (up to 32 KB, then each power of two, 4 GB and more); when the normal + pubsub total
// reaches the limit, clients are evicted from the biggest bucket down, each bucket in the
// order its clients entered it, as Redis does. Without maxmemory-clients the per-batch
// update is skipped (one load), and the cron and INFO keep the totals current.

/// Per-type totals and the eviction buckets. Lives on the engine thread.
public final class ClientMemoryState {
    /// Last known memory of every client, by `ClientType` raw value.
    var byType = [0, 0, 0, 0]
    /// The maxmemory-clients limit in bytes (0 = client eviction off), kept in step with
    /// maxmemory-clients and maxmemory by config hooks. Read by the network layer after
    /// each read batch.
    public internal(set) var limit = 0
    /// Present while client eviction is on.
    var buckets: [ClientMemoryBucket]? = nil
    /// Order of arrival into a bucket (Redis appends to the bucket's list).
    var nextSeq = 0

    /// Bucket sizes: up to 2^15 bytes in the first, then one per power of two, and all of
    /// 2^32 and above in the last (Redis's CLIENT_MEM_USAGE_BUCKET_MIN_LOG/MAX_LOG).
    static let minLog = 15
    static let maxLog = 33
    static let bucketCount = 1 + maxLog - minLog

    static func bucketIndex(_ mem: Int) -> Int {
        let bits = mem > 0 ? Int.bitWidth - mem.leadingZeroBitCount : 0
        return min(max(bits, minLog), maxLog) - minLog
    }

    var evictableTotal: Int { byType[ClientType.normal.rawValue] + byType[ClientType.pubsub.rawValue] }
}

final class ClientMemoryBucket {
    var sum = 0
    var clients: [Int: Client] = [:]
}

extension Engine {
    /// Stands for Redis's zmalloc_size(client): the client object, its flags and small
    /// per-connection state, which every connection holds whatever it does.
    static let clientBaseBytes = 1024

    /// A client's memory as CLIENT LIST tot-mem reports it (Redis's getClientMemoryUsage),
    /// without the arguments of a command it is running (the caller adds those).
    func clientMemoryUsage(_ c: Client) -> Int {
        var mem = c.pendingOutputBytes          // output queued beyond the reply buffer (omem)
        mem += c.queryBufferCapacity            // the input buffer held between reads
        mem += Engine.clientBaseBytes
        mem += c.out.capacity                   // the reply buffer (rbs)
        if let m = c.multiState {
            // Queued commands, and per WATCHed key the watch record and its list slot
            // (the key's bytes belong to the server-wide table, as in Redis).
            mem += m.queuedBytes + m.watched.count * 48
        }
        if c.flags.contains(.pubsub), let s = pubsub.clientState[c.id] {
            // Per subscription a dictionary slot and the name's array header; the name's
            // bytes are shared with the server-wide tables.
            mem += s.total * 48
        }
        if c.flags.contains(.tracking), let t = tracking.clients[c.id] {
            for p in t.prefixes { mem += 32 + p.count }
        }
        return mem
    }

    /// Redis's getClientEvictionLimit: maxmemory-clients in bytes, or its percentage of
    /// maxmemory (none while maxmemory is 0); never below 128 KB, so a mistaken setting
    /// cannot cut off every connection.
    func clientEvictionLimit() -> Int {
        var actual: Int
        let setting = config.maxmemoryClients
        if setting < 0 {
            let maxmemory = config.maxmemoryBytes
            guard maxmemory > 0 else { return 0 }
            let bytes = Double(maxmemory) * Double(-setting) / 100
            actual = bytes < Double(Int.max) ? Int(bytes) : Int.max
        } else if setting > 0 {
            actual = setting
        } else {
            return 0
        }
        if actual < 128 * 1024 { actual = 128 * 1024 }
        return actual
    }

    /// Recomputes the limit and starts or stops the buckets (CONFIG SET maxmemory-clients or
    /// maxmemory, and startup). Turning eviction on puts every client in its bucket at once.
    func clientEvictionConfigChanged() {
        let st = clientMemory
        st.limit = clientEvictionLimit()
        if config.maxmemoryClients != 0 {
            if st.buckets == nil {
                st.buckets = (0..<ClientMemoryState.bucketCount).map { _ in ClientMemoryBucket() }
                for c in clients.values.sorted(by: { $0.id < $1.id }) where !c.flags.contains(.closeASAP) {
                    updateClientMemoryUsage(c)
                }
            }
        } else if st.buckets != nil {
            for c in clients.values { c.memoryBucket = -1 }
            st.buckets = nil
        }
    }

    /// Redis's updateClientMemUsage: the client's current memory replaces its last figure in
    /// its type's total and, while eviction is on, in its bucket.
    func updateClientMemoryUsage(_ c: Client) {
        guard !c.flags.contains(.closeASAP), !c.flags.contains(.fake) else { return }
        let st = clientMemory
        let mem = clientMemoryUsage(c)
        let type = ClientType.of(c)
        st.byType[c.lastMemoryType] -= c.lastMemoryUsage
        st.byType[type.rawValue] += mem
        c.lastMemoryType = type.rawValue
        if let buckets = st.buckets {
            let evictable = (type == .normal || type == .pubsub) && !c.flags.contains(.noEvict)
            if c.memoryBucket >= 0 {
                let old = buckets[c.memoryBucket]
                old.sum -= c.lastMemoryUsage
                if !evictable {
                    old.clients[c.id] = nil
                    c.memoryBucket = -1
                }
            }
            if evictable {
                let index = ClientMemoryState.bucketIndex(mem)
                buckets[index].sum += mem
                if index != c.memoryBucket {
                    if c.memoryBucket >= 0 { buckets[c.memoryBucket].clients[c.id] = nil }
                    buckets[index].clients[c.id] = c
                    c.memoryBucket = index
                    c.memoryBucketSeq = st.nextSeq
                    st.nextSeq += 1
                }
            }
        }
        c.lastMemoryUsage = mem
    }

    /// Takes a client that is going away out of the totals and its bucket.
    func forgetClientMemory(_ c: Client) {
        let st = clientMemory
        st.byType[c.lastMemoryType] -= c.lastMemoryUsage
        if c.memoryBucket >= 0, let buckets = st.buckets {
            buckets[c.memoryBucket].sum -= c.lastMemoryUsage
            buckets[c.memoryBucket].clients[c.id] = nil
        }
        c.memoryBucket = -1
        c.lastMemoryUsage = 0
    }

    /// After a client's read batch: its memory is brought up to date and clients are
    /// evicted if the total went over maxmemory-clients (Redis checks before each command
    /// and before sleeping; a batch end is both for Tern).
    @inline(__always) public func clientBatchEnded(_ c: Client) {
        guard clientMemory.limit > 0 else { return }
        updateClientMemoryUsage(c)
        evictClientsIfNeeded()
    }

    /// Output moved between the reply buffer and the network layer (queued, or written).
    @inline(__always) public func clientOutputChanged(_ c: Client) {
        guard clientMemory.limit > 0 else { return }
        updateClientMemoryUsage(c)
        evictClientsIfNeeded()
    }

    @inline(__always) func evictClientsIfNeeded() {
        let st = clientMemory
        if st.limit > 0 && st.evictableTotal >= st.limit { evictClients() }
    }

    /// Redis's evictClients: while normal + pubsub clients use the limit or more, close the
    /// clients of the biggest non-empty bucket, oldest arrival first. NO-EVICT clients,
    /// replicas and masters are in no bucket but count in the total, so they can push the
    /// others out.
    func evictClients() {
        let st = clientMemory
        guard let buckets = st.buckets, st.limit > 0 else { return }
        var index = buckets.count - 1
        var queue = ArraySlice(buckets[index].clients.values.sorted { $0.memoryBucketSeq < $1.memoryBucketSeq })
        while st.evictableTotal >= st.limit {
            if let c = queue.popFirst() {
                guard !c.flags.contains(.closeASAP) else { continue }
                log(.notice, "Evicting client: \(ClientCommand.line(c))")
                stats.evictedClients += 1
                freeClientAsync(c)
            } else {
                index -= 1
                if index < 0 {
                    log(.warning, "Over client maxmemory after evicting all evictable clients")
                    break
                }
                queue = ArraySlice(buckets[index].clients.values.sorted { $0.memoryBucketSeq < $1.memoryBucketSeq })
            }
        }
    }

    /// INFO memory: every client's figure refreshed, then (normal + pubsub + master, replicas)
    /// as mem_clients_normal and mem_clients_slaves.
    func clientsMemoryForInfo() -> (normal: Int, replicas: Int) {
        for c in clients.values { updateClientMemoryUsage(c) }
        let t = clientMemory.byType
        return (t[ClientType.normal.rawValue] + t[ClientType.pubsub.rawValue] + t[ClientType.master.rawValue],
                t[ClientType.replica.rawValue])
    }

    /// DEBUG CLIENT-EVICTION: each bucket's range, total and number of clients.
    func clientEvictionReport() -> String? {
        guard let buckets = clientMemory.buckets else { return nil }
        var text = ""
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        for (j, b) in buckets.enumerated() {
            if j == 0 {
                text += "bucket          0"
            } else {
                text += "bucket " + pad(String(1 << (j - 1 + ClientMemoryState.minLog)), 10)
            }
            if j == buckets.count - 1 {
                text += "+            : "
            } else {
                text += " - " + pad(String((1 << (j + ClientMemoryState.minLog)) - 1), 10) + ": "
            }
            text += "tot-mem: " + pad(String(b.sum), 10) + ", clients: \(b.clients.count)\n"
        }
        return text
    }

    /// Client limits at startup and when their directives change.
    func installClientLimits() {
        updateOutputLimitFloor()
        clientEvictionConfigChanged()
        config.onChange("client-output-buffer-limit") { [unowned(unsafe) self] _ in
            self.updateOutputLimitFloor()
            return nil
        }
        for name in ["maxmemory-clients", "maxmemory"] {
            config.onChange(name) { [unowned(unsafe) self] _ in
                self.clientEvictionConfigChanged()
                return nil
            }
        }
    }
}
