import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Parses client requests: RESP multibulk (`*N\r\n$len\r\n...`) and inline commands
/// (a line of space separated, optionally quoted words), with Redis's limits and
/// its exact protocol error texts.
public final class RequestParser {
    public enum Outcome: Equatable {
        /// A command was parsed; `args` is valid until the next parse call.
        case command(consumed: Int)
        /// An empty line or `*0`/`*-1`: consume and continue.
        case skip(consumed: Int)
        /// Need more bytes. `expected` is the total bytes the pending command needs, when known.
        case incomplete(expected: Int)
        /// Protocol error: reply `-ERR <message>` and close the connection.
        case error(String)
    }

    /// 64 KB: longest inline request / count line Redis accepts.
    public static let inlineMaxSize = 64 * 1024

    public var maxBulkLength: Int = 512 * 1024 * 1024
    /// When false, multibulk > 10 args or bulk > 16384 bytes are refused (Redis's pre-auth limits).
    public var authenticated = true
    /// Where the payload of the argument still arriving starts, when the last parse ended
    /// `.incomplete(expected:)` with an expected size (the query buffer limit's log shows
    /// the bytes from there, as Redis's query buffer then starts at that argument).
    public private(set) var incompleteBulkStart = 0

    var spans: UnsafeMutablePointer<Int>
    var spanCapacity: Int
    public private(set) var argc = 0
    var inlineStorage: [UInt8] = []
    var inlineBase: UnsafeMutableRawPointer? = nil
    var inlineCapacity = 0
    var usesInline = false

    public init() {
        spanCapacity = 64
        spans = UnsafeMutablePointer<Int>.allocate(capacity: spanCapacity)
    }

    deinit {
        spans.deallocate()
        inlineBase?.deallocate()
    }

    @inline(__always) func ensureSpans(_ n: Int) {
        if 2 * n > spanCapacity {
            var c = spanCapacity
            while c < 2 * n { c *= 2 }
            let p = UnsafeMutablePointer<Int>.allocate(capacity: c)
            p.update(from: spans, count: spanCapacity)
            spans.deallocate()
            spans = p
            spanCapacity = c
        }
    }

    /// The arguments of the last parsed command; `input` must be the buffer passed to parse.
    @inline(__always) public func args(input: UnsafeRawBufferPointer) -> Args {
        if usesInline { return Args(base: UnsafeRawPointer(inlineBase!), spans: spans, count: argc) }
        return Args(base: input.baseAddress ?? UnsafeRawPointer(spans), spans: spans, count: argc)
    }

    /// Parses one request from the start of `buf`.
    public func parse(_ buf: UnsafeRawBufferPointer) -> Outcome {
        guard let p = buf.baseAddress, buf.count > 0 else { return .incomplete(expected: 0) }
        if p.load(as: UInt8.self) == UInt8(ascii: "*") { return parseMultibulk(p, buf.count) }
        return parseInline(p, buf.count)
    }

    /// Parses a decimal integer like Redis's string2ll over [p, p+n).
    @inline(__always) static func parseInt(_ p: UnsafeRawPointer, _ n: Int) -> Int? {
        if n == 0 || n > 20 { return nil }
        let q = p.assumingMemoryBound(to: UInt8.self)
        var i = 0
        var neg = false
        if q[0] == UInt8(ascii: "-") {
            neg = true; i = 1
            if n == 1 { return nil }
        }
        if n == 1 && q[0] == UInt8(ascii: "0") { return 0 }
        if q[i] == UInt8(ascii: "0") { return nil }
        var v: UInt64 = 0
        while i < n {
            let d = q[i] &- 48
            if d > 9 { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if neg {
            if v > UInt64(Int64.max) + 1 { return nil }
            return Int(truncatingIfNeeded: 0 &- v)
        }
        if v > UInt64(Int64.max) { return nil }
        return Int(v)
    }

    /// Finds '\r' starting at offset `from`, returns its offset.
    @inline(__always) static func findCR(_ p: UnsafeRawPointer, _ from: Int, _ n: Int) -> Int? {
        guard from < n else { return nil }
        guard let r = memchr(p + from, 13, n - from) else { return nil }
        return UnsafeRawPointer(r) - p
    }

    /// Fast path for the usual length line: 1-18 plain digits (no sign, no leading zero)
    /// followed by '\r' at or after `from`. Returns (value, offset of '\r'), or nil to let
    /// the general path (memchr + string2ll rules + exact errors) decide.
    @inline(__always) static func plainLength(_ p: UnsafeRawPointer, _ from: Int, _ n: Int) -> (Int, Int)? {
        let q = p.assumingMemoryBound(to: UInt8.self)
        var i = from
        let limit = min(n, from + 18)
        var v = 0
        while i < limit {
            let d = q[i] &- 48
            if d > 9 { break }
            v = v &* 10 &+ Int(d)
            i += 1
        }
        guard i > from, i < n, q[i] == 13 else { return nil }
        if q[from] == 48 && i - from > 1 { return nil }  // leading zero: string2ll refuses it
        return (v, i)
    }

    func parseMultibulk(_ p: UnsafeRawPointer, _ n: Int) -> Outcome {
        usesInline = false
        let cr: Int, count: Int
        if let (v, r) = RequestParser.plainLength(p, 1, n), r + 1 < n, v <= Int(Int32.max) {
            (count, cr) = (v, r)
        } else {
            guard let r = RequestParser.findCR(p, 0, n) else {
                if n > RequestParser.inlineMaxSize { return .error("Protocol error: too big mbulk count string") }
                return .incomplete(expected: 0)
            }
            if r + 1 >= n { return .incomplete(expected: 0) }  // need the '\n' too
            guard let v = RequestParser.parseInt(p + 1, r - 1), v <= Int(Int32.max) else {
                return .error("Protocol error: invalid multibulk length")
            }
            (count, cr) = (v, r)
        }
        if count > 10 && !authenticated { return .error("Protocol error: unauthenticated multibulk length") }
        var pos = cr + 2
        if count <= 0 { return .skip(consumed: pos) }
        ensureSpans(min(count, 1 << 20))
        var i = 0
        while i < count {
            let cr2: Int, len: Int
            if pos < n && p.load(fromByteOffset: pos, as: UInt8.self) == UInt8(ascii: "$"),
               let (v, cr) = RequestParser.plainLength(p, pos + 1, n), cr + 1 < n, v <= maxBulkLength {
                (len, cr2) = (v, cr)
            } else {
                guard let cr = RequestParser.findCR(p, pos, n) else {
                    if n - pos > RequestParser.inlineMaxSize { return .error("Protocol error: too big bulk count string") }
                    return .incomplete(expected: 0)
                }
                if cr + 1 >= n { return .incomplete(expected: 0) }
                let c = p.load(fromByteOffset: pos, as: UInt8.self)
                if c != UInt8(ascii: "$") {
                    return .error("Protocol error: expected '$', got '\(RequestParser.printable(c))'")
                }
                guard let v = RequestParser.parseInt(p + pos + 1, cr - pos - 1), v >= 0, v <= maxBulkLength else {
                    return .error("Protocol error: invalid bulk length")
                }
                (len, cr2) = (v, cr)
            }
            if len > 16384 && !authenticated { return .error("Protocol error: unauthenticated bulk length") }
            let start = cr2 + 2
            if n - start < len + 2 {
                // Tell the caller how big the buffer must be for this argument.
                incompleteBulkStart = start
                return .incomplete(expected: start + len + 2)
            }
            if i >= spanCapacity / 2 { ensureSpans(i + 1) }
            spans[2 * i] = start
            spans[2 * i + 1] = len
            pos = start + len + 2  // Redis skips the two bytes after the payload unchecked
            i += 1
        }
        argc = count
        return .command(consumed: pos)
    }

    static func printable(_ c: UInt8) -> String {
        String(decoding: [c], as: UTF8.self)
    }

    func parseInline(_ p: UnsafeRawPointer, _ n: Int) -> Outcome {
        guard let nl = memchr(p, 10, n) else {
            if n > RequestParser.inlineMaxSize { return .error("Protocol error: too big inline request") }
            return .incomplete(expected: 0)
        }
        let nlOff = UnsafeRawPointer(nl) - p
        var lineEnd = nlOff
        if lineEnd > 0 && p.load(fromByteOffset: lineEnd - 1, as: UInt8.self) == 13 { lineEnd -= 1 }
        let line = UnsafeRawBufferPointer(start: p, count: lineEnd)
        guard let words = RequestParser.splitArgs(line) else {
            return .error("Protocol error: unbalanced quotes in request")
        }
        if words.isEmpty { return .skip(consumed: nlOff + 1) }
        var total = 0
        for w in words { total += w.count }
        if inlineCapacity < total {
            inlineBase?.deallocate()
            inlineCapacity = max(total, 256)
            inlineBase = UnsafeMutableRawPointer.allocate(byteCount: inlineCapacity, alignment: 8)
        }
        ensureSpans(words.count)
        var off = 0
        for (i, w) in words.enumerated() {
            w.withUnsafeBytes { b in if b.count > 0 { memcpy(inlineBase! + off, b.baseAddress!, b.count) } }
            spans[2 * i] = off
            spans[2 * i + 1] = w.count
            off += w.count
        }
        if inlineBase == nil {
            inlineCapacity = 256
            inlineBase = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        }
        argc = words.count
        usesInline = true
        return .command(consumed: nlOff + 1)
    }

    @inline(__always) static func isHex(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
    }
    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8 {
        if c >= 48 && c <= 57 { return c - 48 }
        if c >= 97 && c <= 102 { return c - 87 }
        return c - 55
    }
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool {
        c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12
    }

    /// Redis's sdssplitargs: words separated by whitespace; "double quotes" with
    /// \n \r \t \b \a \xHH escapes; 'single quotes' with \' only. A closing quote must be
    /// followed by whitespace or the end. Returns nil on unbalanced quotes.
    public static func splitArgs(_ line: UnsafeRawBufferPointer) -> [[UInt8]]? {
        var out: [[UInt8]] = []
        var i = 0
        let n = line.count
        while true {
            while i < n && isSpace(line[i]) { i += 1 }
            if i >= n { return out }
            var cur: [UInt8] = []
            var inq = false, insq = false, done = false
            while !done {
                if inq {
                    if i >= n { return nil }
                    let c = line[i]
                    if c == 92 && i + 3 < n && line[i + 1] == UInt8(ascii: "x") && isHex(line[i + 2]) && isHex(line[i + 3]) {
                        cur.append(hexValue(line[i + 2]) * 16 + hexValue(line[i + 3]))
                        i += 3
                    } else if c == 92 && i + 1 < n {
                        i += 1
                        switch line[i] {
                        case UInt8(ascii: "n"): cur.append(10)
                        case UInt8(ascii: "r"): cur.append(13)
                        case UInt8(ascii: "t"): cur.append(9)
                        case UInt8(ascii: "b"): cur.append(8)
                        case UInt8(ascii: "a"): cur.append(7)
                        default: cur.append(line[i])
                        }
                    } else if c == UInt8(ascii: "\"") {
                        if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else if insq {
                    if i >= n { return nil }
                    let c = line[i]
                    if c == 92 && i + 1 < n && line[i + 1] == UInt8(ascii: "'") {
                        i += 1
                        cur.append(UInt8(ascii: "'"))
                    } else if c == UInt8(ascii: "'") {
                        if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else {
                    if i >= n { done = true; break }
                    let c = line[i]
                    switch c {
                    case 32, 10, 13, 9, 0:
                        done = true
                    case UInt8(ascii: "\""):
                        inq = true
                    case UInt8(ascii: "'"):
                        insq = true
                    default:
                        cur.append(c)
                    }
                }
                if i < n { i += 1 }
            }
            out.append(cur)
        }
    }
}
