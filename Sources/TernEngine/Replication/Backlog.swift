/// The replication backlog (Redis's repl_backlog): the last `size` bytes of the replication
/// stream in a ring, so a replica that lost its link can continue from its offset
/// (PSYNC replid offset -> +CONTINUE and the bytes after it).
///
/// Offsets are stream offsets: the first byte ever written is offset 1, and
/// `master_repl_offset == firstByteOffset + histlen - 1`. An empty backlog starts at
/// master_repl_offset + 1.
///
/// Redis 7.0 shares its blocks with the replicas' output buffers and may hold a little more
/// than `size` until no replica references the oldest block; this ring holds exactly up to
/// `size` bytes (INFO repl_backlog_histlen never exceeds repl-backlog-size).
public final class ReplicationBacklog {
    public private(set) var size: Int
    private var ring: [UInt8]
    /// Where the next byte goes.
    private var head = 0
    public private(set) var histlen = 0
    /// The offset of the oldest byte held (of the next byte when empty).
    public private(set) var firstByteOffset: Int64

    /// Redis raises smaller sizes to 16 KiB.
    public static let minimumSize = 16 * 1024

    public init(size: Int, startOffset: Int64) {
        self.size = max(size, ReplicationBacklog.minimumSize)
        ring = [UInt8](repeating: 0, count: self.size)
        firstByteOffset = startOffset
    }

    /// The offset of the last byte held (master_repl_offset).
    public var lastOffset: Int64 { firstByteOffset + Int64(histlen) - 1 }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        var src = bytes
        if src.count >= size {
            // Only the tail fits.
            firstByteOffset += Int64(histlen + src.count - size)
            src = UnsafeRawBufferPointer(rebasing: src[(src.count - size)...])
            ring.withUnsafeMutableBytes { $0.copyMemory(from: src) }
            head = 0
            histlen = size
            return
        }
        ring.withUnsafeMutableBytes { r in
            let first = min(src.count, size - head)
            UnsafeMutableRawBufferPointer(rebasing: r[head..<(head + first)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<first]))
            if first < src.count {
                UnsafeMutableRawBufferPointer(rebasing: r[0..<(src.count - first)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[first...]))
            }
        }
        head = (head + src.count) % size
        let grown = histlen + src.count
        if grown > size {
            firstByteOffset += Int64(grown - size)
            histlen = size
        } else {
            histlen = grown
        }
    }

    public func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// True when a replica asking for `offset` (the first byte it lacks) can continue:
    /// firstByteOffset <= offset <= master_repl_offset + 1.
    public func holds(_ offset: Int64) -> Bool {
        offset >= firstByteOffset && offset <= firstByteOffset + Int64(histlen)
    }

    /// The bytes from `offset` to the end (`holds(offset)` must be true).
    public func bytes(from offset: Int64) -> [UInt8] {
        let skip = Int(offset - firstByteOffset)
        let n = histlen - skip
        guard n > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: n)
        let start = ((head - histlen + size) % size + skip) % size
        ring.withUnsafeBytes { r in
            out.withUnsafeMutableBytes { o in
                let first = min(n, size - start)
                UnsafeMutableRawBufferPointer(rebasing: o[0..<first]).copyMemory(from: UnsafeRawBufferPointer(rebasing: r[start..<(start + first)]))
                if first < n {
                    UnsafeMutableRawBufferPointer(rebasing: o[first..<n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: r[0..<(n - first)]))
                }
            }
        }
        return out
    }

    /// CONFIG SET repl-backlog-size: keeps the newest bytes that fit.
    public func resize(_ newSize: Int) {
        let s = max(newSize, ReplicationBacklog.minimumSize)
        guard s != size else { return }
        let keep = min(histlen, s)
        let newFirst = lastOffset + 1 - Int64(keep)
        let tail = bytes(from: newFirst)
        size = s
        ring = [UInt8](repeating: 0, count: s)
        head = 0
        histlen = 0
        firstByteOffset = newFirst
        append(tail)
    }
}
