import CTern
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// MARK: - value grammar

/// Text rules shared by the config file, command-line options, CONFIG SET and REWRITE.
public enum ConfigText {
    /// Splits a config line like Redis's sdssplitargs: whitespace-separated tokens,
    /// "double quotes" with \n \r \t \b \a \xHH and \c escapes, 'single quotes' with \'
    /// only; a closing quote must be followed by a space or the end. nil = unbalanced.
    public static func splitArgs(_ line: String) -> [String]? {
        let s = Array(line.utf8)
        var out: [String] = []
        var i = 0
        func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
        func hexVal(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        while true {
            while i < s.count && isSpace(s[i]) { i += 1 }
            if i >= s.count { return out }
            var cur: [UInt8] = []
            var inDouble = false, inSingle = false, done = false
            while !done {
                if inDouble {
                    guard i < s.count else { return nil }
                    let c = s[i]
                    if c == 92 && i + 3 < s.count && s[i + 1] == 120, let h = hexVal(s[i + 2]), let l = hexVal(s[i + 3]) {
                        cur.append(h << 4 | l)
                        i += 3
                    } else if c == 92 && i + 1 < s.count {
                        i += 1
                        switch s[i] {
                        case 110: cur.append(10)
                        case 114: cur.append(13)
                        case 116: cur.append(9)
                        case 98: cur.append(8)
                        case 97: cur.append(7)
                        default: cur.append(s[i])
                        }
                    } else if c == 34 {
                        // The closing quote must be followed by a space or nothing.
                        if i + 1 < s.count && !isSpace(s[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else if inSingle {
                    guard i < s.count else { return nil }
                    let c = s[i]
                    if c == 92 && i + 1 < s.count && s[i + 1] == 39 {
                        i += 1
                        cur.append(39)
                    } else if c == 39 {
                        if i + 1 < s.count && !isSpace(s[i + 1]) { return nil }
                        done = true
                    } else {
                        cur.append(c)
                    }
                } else {
                    if i >= s.count { done = true; break }
                    switch s[i] {
                    case 32, 10, 13, 9, 0: done = true
                    case 34: inDouble = true
                    case 39: inSingle = true
                    default: cur.append(s[i])
                    }
                }
                if i < s.count { i += 1 }
            }
            out.append(String(decoding: cur, as: UTF8.self))
        }
    }

    /// Redis's sdscatrepr: a double-quoted string with C escapes for non-printables.
    public static func repr(_ s: String) -> String { repr(bytes: s.utf8) }

    /// Redis's sdscatrepr over raw bytes: double-quoted, C escapes, \xHH for the rest (also
    /// the client-name/argument dumps in log lines).
    public static func repr<S: Sequence>(bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = [34]
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for c in bytes {
            switch c {
            case 92: out += [92, 92]
            case 34: out += [92, 34]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            case 9: out += [92, 116]
            case 7: out += [92, 97]
            case 8: out += [92, 98]
            default:
                if c >= 32 && c <= 126 { out.append(c) } else { out += [92, 120, hex[Int(c >> 4)], hex[Int(c & 15)]] }
            }
        }
        out.append(34)
        return String(decoding: out, as: UTF8.self)
    }

    /// Trims the characters Redis trims from config lines (space, tab, CR, LF).
    public static func trim(_ s: Substring) -> Substring {
        var a = s.startIndex, b = s.endIndex
        func t(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" }
        while a < b && t(s[a]) { a = s.index(after: a) }
        while b > a && t(s[s.index(before: b)]) { b = s.index(before: b) }
        return s[a..<b]
    }

    /// Splits on LF bytes (a CR before it stays with the line, to be trimmed).
    public static func lines(_ text: String) -> [Substring] {
        text.utf8.split(separator: 10, omittingEmptySubsequences: false).map { Substring($0) }
    }

    /// Lowercases ASCII letters only (config names are ASCII).
    public static func lower(_ s: String) -> String {
        String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Memory value: digits (possibly none) then an optional unit b, k, kb, m, mb, g, gb
    /// (any case); "" is 0. Digits saturate, the unit multiplication wraps (as Redis).
    public static func parseMemory(_ s: String) -> UInt64? {
        let u = Array(s.utf8)
        var i = 0
        while i < u.count && u[i] >= 48 && u[i] <= 57 { i += 1 }
        let unit = String(decoding: u[i...], as: UTF8.self).lowercased()
        let mul: UInt64
        switch unit {
        case "", "b": mul = 1
        case "k": mul = 1000
        case "kb": mul = 1024
        case "m": mul = 1_000_000
        case "mb": mul = 1 << 20
        case "g": mul = 1_000_000_000
        case "gb": mul = 1 << 30
        default: return nil
        }
        var v: UInt64 = 0
        for c in u[0..<i] {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { v = UInt64.max; break }
            v = a
        }
        return v &* mul
    }

    /// Memory value for CONFIG REWRITE: the largest of gb/mb/kb dividing it exactly.
    public static func formatMemory(_ v: UInt64) -> String {
        if v == 0 { return "0" }
        if v % (1 << 30) == 0 { return "\(v / (1 << 30))gb" }
        if v % (1 << 20) == 0 { return "\(v / (1 << 20))mb" }
        if v % 1024 == 0 { return "\(v / 1024)kb" }
        return "\(v)"
    }

    /// Redis's string2ll (strict: no spaces, no '+', no leading zeros).
    public static func parseStrictInt(_ s: String) -> Int? {
        var s = s
        return s.withUTF8 { b in b.baseAddress.flatMap { ListpackCodec.parseInt(UnsafeRawPointer($0), b.count) } }
    }

    /// C strtoll over the whole string: leading spaces, optional sign, digits,
    /// saturating; nil unless everything was consumed. "" is 0 when `emptyIsZero`.
    public static func parseCLong(_ s: String, emptyIsZero: Bool = false) -> Int? {
        let u = Array(s.utf8)
        var i = 0
        while i < u.count && (u[i] == 32 || (u[i] >= 9 && u[i] <= 13)) { i += 1 }
        var neg = false
        if i < u.count && (u[i] == 43 || u[i] == 45) { neg = u[i] == 45; i += 1 }
        let start = i
        var v: UInt64 = 0
        var overflow = false
        while i < u.count && u[i] >= 48 && u[i] <= 57 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(u[i] - 48))
            if o1 || o2 { overflow = true } else { v = a }
            i += 1
        }
        if i == start { return (u.isEmpty && emptyIsZero) ? 0 : nil }
        if i != u.count { return nil }
        if neg {
            if overflow || v > UInt64(Int64.max) + 1 { return Int.min }
            return Int(truncatingIfNeeded: 0 &- v)
        }
        if overflow || v > UInt64(Int64.max) { return Int.max }
        return Int(v)
    }

    /// C strtod over the whole string (nil if anything is left over or nothing parsed).
    public static func parseCDouble(_ s: String) -> Double? {
        guard !s.isEmpty else { return nil }
        return s.withCString { p -> Double? in
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(p, &end)
            guard let e = end, e != UnsafeMutablePointer(mutating: p), e.pointee == 0 else { return nil }
            return v
        }
    }

    /// "%f" with trailing zeros (and a trailing dot) removed, as Redis prints percentiles.
    public static func formatPercentile(_ d: Double) -> String {
        var t = ReplyBuffer.cFormat("%f", d)
        if t.contains(".") {
            while t.hasSuffix("0") { t.removeLast() }
            if t.hasSuffix(".") { t.removeLast() }
        }
        return t
    }

    /// CONFIG SET value of a multi-argument directive: split on single spaces, "" = none.
    public static func splitSetValue(_ v: String) -> [String] {
        v.isEmpty ? [] : v.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    }

    // MARK: keyspace events

    static let notifyAll: Int = NotifyClass.generic.rawValue | NotifyClass.string.rawValue | NotifyClass.list.rawValue
        | NotifyClass.set.rawValue | NotifyClass.hash.rawValue | NotifyClass.zset.rawValue
        | NotifyClass.expired.rawValue | NotifyClass.evicted.rawValue | NotifyClass.stream.rawValue
        | NotifyClass.module.rawValue

    /// notify-keyspace-events letters -> NotifyClass bits (nil on a bad letter).
    public static func parseNotify(_ s: String) -> Int? {
        var f = 0
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "A"): f |= notifyAll
            case UInt8(ascii: "g"): f |= NotifyClass.generic.rawValue
            case UInt8(ascii: "$"): f |= NotifyClass.string.rawValue
            case UInt8(ascii: "l"): f |= NotifyClass.list.rawValue
            case UInt8(ascii: "s"): f |= NotifyClass.set.rawValue
            case UInt8(ascii: "h"): f |= NotifyClass.hash.rawValue
            case UInt8(ascii: "z"): f |= NotifyClass.zset.rawValue
            case UInt8(ascii: "x"): f |= NotifyClass.expired.rawValue
            case UInt8(ascii: "e"): f |= NotifyClass.evicted.rawValue
            case UInt8(ascii: "K"): f |= NotifyClass.keyspace.rawValue
            case UInt8(ascii: "E"): f |= NotifyClass.keyevent.rawValue
            case UInt8(ascii: "t"): f |= NotifyClass.stream.rawValue
            case UInt8(ascii: "m"): f |= NotifyClass.keyMiss.rawValue
            case UInt8(ascii: "d"): f |= NotifyClass.module.rawValue
            case UInt8(ascii: "n"): f |= NotifyClass.new.rawValue
            default: return nil
            }
        }
        return f
    }

    /// NotifyClass bits -> letters, in Redis's order ("A" stands for all type classes).
    public static func formatNotify(_ f: Int) -> String {
        var s = ""
        if f & notifyAll == notifyAll {
            s = "A"
        } else {
            let order: [(Character, NotifyClass)] = [
                ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset),
                ("x", .expired), ("e", .evicted), ("t", .stream), ("d", .module), ("n", .new),
            ]
            for (ch, cls) in order where f & cls.rawValue != 0 { s.append(ch) }
        }
        if f & NotifyClass.keyspace.rawValue != 0 { s.append("K") }
        if f & NotifyClass.keyevent.rawValue != 0 { s.append("E") }
        if f & NotifyClass.keyMiss.rawValue != 0 { s.append("m") }
        return s
    }
}
