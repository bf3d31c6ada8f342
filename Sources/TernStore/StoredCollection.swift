/// What every collection value (list, set, zset, hash, stream) stored in an Entry offers to
/// generic keyspace code (COPY, DEBUG DIGEST, MEMORY USAGE, SCAN TYPE, RDB later).
public protocol StoredCollection: AnyObject {
    /// A deep copy (COPY): mutating the copy must not affect the original.
    func deepCopy() -> StoredCollection
    /// Number of elements (LLEN/SCARD/ZCARD/HLEN).
    var elementCount: Int { get }
    /// Visits the content for DEBUG DIGEST, as text:
    /// list: each element head->tail, second = nil; set: each member, second = nil;
    /// hash: (field, value); zset: (member, score as Redis prints it for the digest: %.17g,
    /// with a listpack's integer-stored -0 as "0"); stream: see the stream type.
    func forEachDigestItem(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void)
    /// Bytes allocated for the value (MEMORY USAGE, INFO), honestly estimated.
    var allocatedBytes: Int { get }
    /// Bytes allocated, estimated from at most `samples` elements when counting every one
    /// would be O(n) (MEMORY USAGE ... SAMPLES n, Redis's objectComputeSize). `samples` <= 0
    /// means all of them.
    func estimatedBytes(samples: Int) -> Int
}

extension StoredCollection {
    /// Compact encodings and node lists know their size without visiting elements.
    public func estimatedBytes(samples: Int) -> Int { allocatedBytes }
}
