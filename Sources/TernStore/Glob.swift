/// Redis's glob-style matcher (stringmatchlen), byte for byte: KEYS, SCAN MATCH,
/// PSUBSCRIBE, CONFIG GET, ACL key/channel patterns all use it.
///
/// Elements: `*` (any run, never tried against an empty remainder unless it is the last
/// pattern byte), `?` (one byte), `[...]` classes (`^` negates, `\x` literal, `a-b`
/// inclusive ranges compared as *signed* chars, reversed ranges swapped, unterminated
/// classes still applied), `\x` escapes, everything else literal. Once a star has tried
/// every split and failed, the whole match fails (earlier stars are not retried), and
/// recursion through non-trailing stars is limited to 1000 levels (the Debian
/// CVE-2024-31228 behaviour of the reference server): deeper patterns do not match.
public enum Glob {
    public static let maxNesting = 1000

    /// True when `string` matches `pattern`.
    @inline(__always)
    public static func match(_ pattern: UnsafeRawBufferPointer, _ string: UnsafeRawBufferPointer,
                             nocase: Bool = false) -> Bool {
        let p = pattern.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let s = string.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var m = Matcher(p: p, plen: pattern.count, s: s, slen: string.count, nocase: nocase)
        return m.run(0, 0, depth: 0)
    }

    public static func match(_ pattern: [UInt8], _ string: [UInt8], nocase: Bool = false) -> Bool {
        pattern.withUnsafeBytes { p in string.withUnsafeBytes { s in match(p, s, nocase: nocase) } }
    }

    public static func match(_ pattern: String, _ string: String, nocase: Bool = false) -> Bool {
        match(Array(pattern.utf8), Array(string.utf8), nocase: nocase)
    }

    /// KEYS/SCAN treat exactly "*" as "everything" (it then also matches the empty key).
    @inline(__always)
    public static func isMatchAll(_ pattern: UnsafeRawBufferPointer) -> Bool {
        pattern.count == 1 && pattern[0] == 42
    }

    struct Matcher {
        let p: UnsafePointer<UInt8>?
        let plen: Int
        let s: UnsafePointer<UInt8>?
        let slen: Int
        let nocase: Bool
        /// Set once a star exhausted every split: every pending star gives up too.
        var giveUp = false

        static let star: UInt8 = 42, question: UInt8 = 63, open: UInt8 = 91, close: UInt8 = 93
        static let backslash: UInt8 = 92, caret: UInt8 = 94, dash: UInt8 = 45

        /// Pattern byte at i; 0 past the end (the server's patterns are NUL-terminated).
        @inline(__always) func pat(_ i: Int) -> UInt8 { i < plen ? p![i] : 0 }

        @inline(__always) static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }
        /// tolower() applied to a signed char value.
        @inline(__always) static func lower(_ c: Int) -> Int { c >= 65 && c <= 90 ? c + 32 : c }

        @inline(__always) func same(_ a: UInt8, _ b: UInt8) -> Bool {
            nocase ? Matcher.lower(a) == Matcher.lower(b) : a == b
        }

        mutating func run(_ pStart: Int, _ sStart: Int, depth: Int) -> Bool {
            if depth > Glob.maxNesting { return false }
            var pi = pStart, si = sStart
            while pi < plen && si < slen {
                let pc = p![pi]
                let sc = s![si]
                switch pc {
                case Matcher.star:
                    while pi + 1 < plen && p![pi + 1] == Matcher.star { pi += 1 }
                    if pi == plen - 1 { return true }
                    while si < slen {
                        if run(pi + 1, si, depth: depth + 1) { return true }
                        if giveUp { return false }
                        si += 1
                    }
                    giveUp = true
                    return false
                case Matcher.question:
                    si += 1
                case Matcher.open:
                    pi += 1
                    let negate = pat(pi) == Matcher.caret && pi < plen
                    if negate { pi += 1 }
                    var hit = false
                    while true {
                        let rest = plen - pi
                        let c = pat(pi)
                        if c == Matcher.backslash && rest >= 2 {
                            pi += 1
                            if p![pi] == sc { hit = true }
                        } else if c == Matcher.close && rest > 0 {
                            break
                        } else if rest <= 0 {
                            pi -= 1
                            break
                        } else if rest >= 3 && p![pi + 1] == Matcher.dash {
                            var lo = Int(Int8(bitPattern: c))
                            var hi = Int(Int8(bitPattern: p![pi + 2]))
                            var x = Int(Int8(bitPattern: sc))
                            if lo > hi { swap(&lo, &hi) }
                            if nocase { lo = Matcher.lower(lo); hi = Matcher.lower(hi); x = Matcher.lower(x) }
                            pi += 2
                            if x >= lo && x <= hi { hit = true }
                        } else if same(c, sc) {
                            hit = true
                        }
                        pi += 1
                    }
                    if negate { hit = !hit }
                    if !hit { return false }
                    si += 1
                default:
                    var lit = pc
                    if pc == Matcher.backslash && plen - pi >= 2 {
                        pi += 1
                        lit = p![pi]
                    }
                    if !same(lit, sc) { return false }
                    si += 1
                }
                pi += 1
                if si == slen {
                    while pat(pi) == Matcher.star && pi < plen { pi += 1 }
                    break
                }
            }
            return pi == plen && si == slen
        }
    }
}
