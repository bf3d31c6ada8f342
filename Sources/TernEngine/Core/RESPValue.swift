/// A parsed RESP3 value tree, used for static replies (the command catalog) and by
/// tests. Encodes back to RESP2 or RESP3.
public indirect enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    case set([RESPValue])
    case map([(RESPValue, RESPValue)])
    case double(String)
    case bool(Bool)

    public static func == (a: RESPValue, b: RESPValue) -> Bool {
        switch (a, b) {
        case let (.simple(x), .simple(y)), let (.error(x), .error(y)), let (.double(x), .double(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.bulk(x), .bulk(y)): return x == y
        case (.null, .null): return true
        case let (.array(x), .array(y)), let (.set(x), .set(y)): return x == y
        case let (.map(x), .map(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.bool(x), .bool(y)): return x == y
        default: return false
        }
    }

    /// Text of a simple or bulk string.
    public var text: String? {
        switch self {
        case .simple(let s): return s
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }

    public var int: Int? { if case .integer(let i) = self { return i }; return nil }

    public var elements: [RESPValue] {
        switch self {
        case .array(let a), .set(let a): return a
        case .map(let m): return m.flatMap { [$0.0, $0.1] }
        default: return []
        }
    }

    /// Value for a key in a map (by string key).
    public subscript(key: String) -> RESPValue? {
        if case .map(let m) = self { return m.first { $0.0.text == key }?.1 }
        return nil
    }

    /// Parses one value from `bytes` starting at `pos`.
    public static func parse(_ bytes: [UInt8], _ pos: inout Int) -> RESPValue? {
        guard pos < bytes.count else { return nil }
        let t = bytes[pos]
        guard let lineEnd = (pos..<(bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { return nil }
        let line = String(decoding: bytes[(pos + 1)..<lineEnd], as: UTF8.self)
        pos = lineEnd + 2
        switch t {
        case UInt8(ascii: "+"): return .simple(line)
        case UInt8(ascii: "-"): return .error(line)
        case UInt8(ascii: ":"): return Int(line).map { .integer($0) }
        case UInt8(ascii: ","): return .double(line)
        case UInt8(ascii: "#"): return .bool(line == "t")
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "$"), UInt8(ascii: "="):
            guard let n = Int(line) else { return nil }
            if n < 0 { return .null }
            guard pos + n + 2 <= bytes.count else { return nil }
            let v = Array(bytes[pos..<(pos + n)])
            pos += n + 2
            return .bulk(v)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            guard let n = Int(line) else { return nil }
            if n < 0 { return .null }
            var items: [RESPValue] = []
            for _ in 0..<n { guard let v = parse(bytes, &pos) else { return nil }; items.append(v) }
            return t == UInt8(ascii: "~") ? .set(items) : .array(items)
        case UInt8(ascii: "%"):
            guard let n = Int(line) else { return nil }
            var items: [(RESPValue, RESPValue)] = []
            for _ in 0..<n {
                guard let k = parse(bytes, &pos), let v = parse(bytes, &pos) else { return nil }
                items.append((k, v))
            }
            return .map(items)
        default: return nil
        }
    }

    public static func parse(_ s: String) -> RESPValue? {
        var pos = 0
        return parse(Array(s.utf8), &pos)
    }
}

import TernConfig
import TernProtocol

extension ReplyBuffer {
    /// Writes a value tree in this buffer's protocol.
    public func write(_ v: RESPValue) {
        switch v {
        case .simple(let s): simple(s)
        case .error(let e): error(e)
        case .integer(let i): integer(i)
        case .bulk(let b): bulk(b)
        case .null: null()
        case .array(let a): array(a.count); a.forEach { write($0) }
        case .set(let a): set(a.count); a.forEach { write($0) }
        case .map(let m): map(m.count); m.forEach { write($0.0); write($0.1) }
        case .double(let d): if resp >= 3 { append(","); append(d); append("\r\n") } else { bulk(d) }
        case .bool(let b): bool(b)
        }
    }
}
