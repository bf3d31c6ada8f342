import CTern

/// MEMORY USAGE's sampling for the hash-table encodings: the fixed parts (object, slot
/// array, tree nodes) are exact; the element blocks are estimated from the first `samples`
/// occupied slots, as Redis averages the first samples of a dict and scales by its size.
extension HashSlotTable {
    func sampledBlockBytes(samples: Int) -> Int {
        if count == 0 { return 0 }
        if samples <= 0 || samples >= count {
            var n = 0
            forEach { n += ElementBlock.size($0) }
            return n
        }
        var seen = 0, bytes = 0, i = 0
        while seen < samples && i < capacity {
            if isOccupied(i) { bytes += ElementBlock.size(block(at: i)); seen += 1 }
            i += 1
        }
        return seen == 0 ? 0 : bytes * count / seen
    }
}

extension DictSet {
    public func estimatedBytes(samples: Int) -> Int { 48 + table.tableBytes + table.sampledBlockBytes(samples: samples) }
}

extension DictHash {
    public func estimatedBytes(samples: Int) -> Int { 48 + table.tableBytes + table.sampledBlockBytes(samples: samples) }
}

extension TreeZSet {
    public func estimatedBytes(samples: Int) -> Int {
        64 + table.tableBytes + tree.nodeBytes + table.sampledBlockBytes(samples: samples)
    }
}
