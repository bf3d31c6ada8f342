import CTern
#if canImport(Glibc)
import Glibc
#endif

/// The arguments of one command, borrowed from the input buffer (or from owned
/// storage). Valid only for the duration of the command call: copy what you keep.
public struct Args {
    public let base: UnsafeRawPointer
    /// Interleaved (offset, length) pairs relative to `base`.
    public let spans: UnsafePointer<Int>
    public let count: Int

    @inline(__always) public init(base: UnsafeRawPointer, spans: UnsafePointer<Int>, count: Int) {
        self.base = base; self.spans = spans; self.count = count
    }

    @inline(__always) public subscript(i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + spans[2 * i], count: spans[2 * i + 1])
    }

    @inline(__always) public func length(_ i: Int) -> Int { spans[2 * i + 1] }

    /// Owned copy of argument i.
    public func bytes(_ i: Int) -> [UInt8] { Array(self[i]) }

    /// Argument i decoded as UTF-8 (invalid bytes repaired): for names and messages.
    public func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    /// Case-insensitive ASCII comparison with a lowercase literal.
    @inline(__always) public func equals(_ i: Int, _ lowercase: StaticString) -> Bool {
        let a = self[i]
        guard a.count == lowercase.utf8CodeUnitCount else { return false }
        let p = lowercase.utf8Start
        for j in 0..<a.count {
            var c = a[j]
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != p[j] { return false }
        }
        return true
    }

    /// Lowercased ASCII copy of argument i as a String.
    public func lowercased(_ i: Int) -> String {
        String(decoding: self[i].map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// All arguments as owned arrays.
    public var all: [[UInt8]] { (0..<count).map { bytes($0) } }

    /// Copies into owned storage (for queued/blocked/propagated commands).
    public func owned() -> OwnedArgs { OwnedArgs(self) }

    /// Args from owned byte arrays, valid inside `body`.
    public static func with<R>(_ argv: [[UInt8]], _ body: (Args) throws -> R) rethrows -> R {
        try OwnedArgs(argv).withArgs(body)
    }
}

/// A command's arguments in owned, contiguous storage.
public struct OwnedArgs: Sendable {
    public var storage: [UInt8]
    public var spans: [Int]

    public init(_ a: Args) {
        var total = 0
        for i in 0..<a.count { total += a.length(i) }
        storage = []
        storage.reserveCapacity(total)
        spans = []
        spans.reserveCapacity(a.count * 2)
        for i in 0..<a.count {
            spans.append(storage.count); spans.append(a.length(i))
            storage.appendBytes(a[i])
        }
    }

    public init(_ argv: [[UInt8]]) {
        storage = []
        spans = []
        spans.reserveCapacity(argv.count * 2)
        for a in argv {
            spans.append(storage.count); spans.append(a.count)
            storage.append(contentsOf: a)
        }
    }

    public init(strings: [String]) { self.init(strings.map { Array($0.utf8) }) }

    public var count: Int { spans.count / 2 }

    public var argv: [[UInt8]] {
        (0..<count).map { Array(storage[spans[2 * $0]..<(spans[2 * $0] + spans[2 * $0 + 1])]) }
    }

    public func withArgs<R>(_ body: (Args) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { buf in
            try spans.withUnsafeBufferPointer { sp in
                // An empty array has no base address; any valid pointer works for 0-length spans.
                let base = buf.baseAddress ?? UnsafeRawPointer(sp.baseAddress ?? UnsafePointer(bitPattern: 8)!)
                return try body(Args(base: base, spans: sp.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: count))
            }
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends raw bytes with one copy. `append(contentsOf:)` with an UnsafeRawBufferPointer
    /// goes through the generic Sequence path, byte by byte (~9 instructions a byte under
    /// callgrind); a typed buffer pointer is copied as a block.
    @inlinable @inline(__always)
    public mutating func appendBytes(_ b: UnsafeRawBufferPointer) {
        guard let base = b.baseAddress, b.count > 0 else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: b.count))
    }
}
