import CTern

/// Bucket statistics of a KeyTable in the text layout of Redis's dictGetStats
/// (DEBUG HTSTATS). Kept apart from KeyTable: debugging only.
extension KeyTable {
    public func statsText() -> String {
        if count == 0 || size0 == 0 {
            return "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
        }
        var out = ""
        for table in 0..<2 {
            guard let t = table == 0 ? t0 : t1 else { continue }
            if table == 1 && !isRehashing { break }
            let size = table == 0 ? size0 : size1
            out += KeyTable.stats(t, size, table)
        }
        return out
    }

    static func stats(_ t: UnsafeMutablePointer<Slot>, _ size: Int, _ index: Int) -> String {
        let vectorLength = 50
        var chains = [Int](repeating: 0, count: vectorLength)
        var slots = 0, maxChain = 0, totalChain = 0, elements = 0
        for i in 0..<size {
            var len = 0
            var p = t[i]
            while let e = p { len += 1; p = Entry(e).next }
            chains[min(len, vectorLength - 1)] += 1
            if len == 0 { continue }
            slots += 1
            elements += len
            maxChain = max(maxChain, len)
            totalChain += len
        }
        var s = "Hash table \(index) stats (\(index == 0 ? "main hash table" : "rehashing target")):\n"
        if elements == 0 {
            return s + "No stats available for empty dictionaries\n"
        }
        s += " table size: \(size)\n"
        s += " number of elements: \(elements)\n"
        s += " different slots: \(slots)\n"
        s += " max chain length: \(maxChain)\n"
        s += " avg chain length (counted): \(fixed2(Double(totalChain) / Double(slots)))\n"
        s += " avg chain length (computed): \(fixed2(Double(elements) / Double(slots)))\n"
        s += " Chain length distribution:\n"
        for i in 0..<vectorLength where chains[i] != 0 {
            s += "   \(i): \(chains[i]) (\(fixed2(Double(chains[i]) / Double(size) * 100))%)\n"
        }
        return s
    }

    /// printf("%.02f").
    static func fixed2(_ v: Double) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBufferPointer { tern_format_double($0.baseAddress, 64, "%.02f", v) }
        return String(decoding: buf[0..<Int(max(0, min(n, 63)))].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
