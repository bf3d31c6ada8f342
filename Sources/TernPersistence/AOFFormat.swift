#if canImport(Glibc)
import Glibc
#endif

/// Redis 7.0's multi-part AOF layout: a directory (`appenddirname`) holding one base file
/// (`<appendfilename>.<seq>.base.rdb` or `.base.aof`), incr files
/// (`<appendfilename>.<seq>.incr.aof`) appended in order, and the manifest
/// `<appendfilename>.manifest`, one line per file: `file <name> seq <n> type <b|h|i>`
/// (base first, then history, then incr).
public struct AOFManifest: Equatable {
    public enum FileType: String { case base = "b", history = "h", incr = "i" }
    public struct File: Equatable {
        public var name: String
        public var seq: Int
        public var type: FileType
        public init(name: String, seq: Int, type: FileType) {
            self.name = name; self.seq = seq; self.type = type
        }
    }
    public var base: File?
    public var history: [File] = []
    public var incrs: [File] = []
    public var currentBaseSeq = 0
    public var currentIncrSeq = 0

    public init() {}

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses a manifest as Redis's aofLoadManifestFromFile does (comments starting with '#'
    /// and blank lines skipped; at most one base; incr seqs increasing).
    public static func parse(_ text: String) throws -> AOFManifest {
        var m = AOFManifest()
        var sawLine = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            if line.isEmpty || line.hasPrefix("#") { continue }
            sawLine = true
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 6, words.count % 2 == 0 else {
                throw ParseError(description: "Invalid AOF manifest file format")
            }
            var name: String?, seq: Int?, type: FileType?
            var i = 0
            while i + 1 < words.count {
                switch words[i] {
                case "file": name = words[i + 1]
                case "seq": seq = Int(words[i + 1])
                case "type": type = FileType(rawValue: words[i + 1])
                default: break
                }
                i += 2
            }
            guard let n = name, let s = seq, let t = type, !n.contains("/") else {
                throw ParseError(description: "Invalid AOF manifest file format")
            }
            let f = File(name: n, seq: s, type: t)
            switch t {
            case .base:
                if m.base != nil { throw ParseError(description: "Found duplicate base file information") }
                m.base = f
                m.currentBaseSeq = s
            case .history:
                m.history.append(f)
            case .incr:
                if s <= m.currentIncrSeq { throw ParseError(description: "Found a non-monotonic sequence number") }
                m.incrs.append(f)
                m.currentIncrSeq = s
            }
        }
        if !sawLine { throw ParseError(description: "Found an empty AOF manifest") }
        return m
    }

    /// The manifest text exactly as Redis writes it.
    public var text: String {
        var s = ""
        func line(_ f: File) { s += "file \(f.name) seq \(f.seq) type \(f.type.rawValue)\n" }
        if let b = base { line(b) }
        for f in history { line(f) }
        for f in incrs { line(f) }
        return s
    }

    public static func manifestName(_ appendfilename: String) -> String { appendfilename + ".manifest" }
    public static func baseName(_ appendfilename: String, seq: Int, rdb: Bool) -> String {
        "\(appendfilename).\(seq).base.\(rdb ? "rdb" : "aof")"
    }
    public static func incrName(_ appendfilename: String, seq: Int) -> String {
        "\(appendfilename).\(seq).incr.aof"
    }

    /// Writes `text` to `dir/name` atomically: a temp file, fsync, rename, fsync of the dir.
    public static func persist(_ text: String, dir: String, name: String) throws {
        let tmp = dir + "/temp-" + name
        try RDBFile.writeAtomically(Array(text.utf8), path: dir + "/" + name, tempName: tmp)
    }
}

/// Reads the commands of an AOF (RESP multibulk arrays, `#` annotation lines) from a byte
/// image, as Redis's loadSingleAppendOnlyFile does. Offsets are byte offsets in the image.
public struct AOFCommandReader {
    public enum Item {
        case command([[UInt8]])
        /// A `#...` line; `#TS:<secs>` carries a timestamp.
        case annotation(String)
        case end
        /// The image ends inside a command that starts at `at`.
        case truncated(at: Int)
        /// Bytes that are no command, at `at`.
        case bad(at: Int, why: String)
    }

    public let data: [UInt8]
    public var pos: Int
    public init(_ data: [UInt8], start: Int = 0) {
        self.data = data
        pos = start
    }

    /// The line starting at `p` without its CRLF, and the offset after it; nil when no LF
    /// follows.
    func line(_ p: Int) -> (Range<Int>, Int)? {
        var i = p
        while i < data.count {
            if data[i] == 10 {
                let end = i > p && data[i - 1] == 13 ? i - 1 : i
                return (p..<end, i + 1)
            }
            i += 1
        }
        return nil
    }

    func number(_ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 19 else { return nil }
        var v = 0
        for b in data[r] {
            guard b >= 48 && b <= 57 else { return nil }
            v = v * 10 + Int(b - 48)
        }
        return v
    }

    public mutating func next() -> Item {
        let start = pos
        guard pos < data.count else { return .end }
        guard let (head, afterHead) = line(pos) else { return .truncated(at: start) }
        if data[pos] == UInt8(ascii: "#") {
            pos = afterHead
            return .annotation(String(decoding: data[head], as: UTF8.self))
        }
        guard data[pos] == UInt8(ascii: "*"), let argc = number(head.dropFirst()), argc >= 1 else {
            return .bad(at: start, why: "Bad file format")
        }
        var p = afterHead
        var argv: [[UInt8]] = []
        argv.reserveCapacity(min(argc, 1024))
        for _ in 0..<argc {
            guard p < data.count, let (lenLine, afterLen) = line(p) else { return .truncated(at: start) }
            guard data[p] == UInt8(ascii: "$"), let n = number(lenLine.dropFirst()) else {
                return .bad(at: start, why: "Bad file format")
            }
            guard afterLen + n + 2 <= data.count else { return .truncated(at: start) }
            argv.append(Array(data[afterLen..<(afterLen + n)]))
            p = afterLen + n + 2
        }
        pos = p
        return .command(argv)
    }
}

public enum AOFFiles {
    /// The file's bytes, or nil with errno set (every loader and checker reads through here).
    public static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        var out: [UInt8] = []
        let expected = fstat(fd, &st) == 0 && st.st_size > 0 ? Int(st.st_size) : 0
        if expected > 0 {
            // Straight into the array: one copy from the page cache (through a 64 KB buffer
            // the append copied every byte a second time, ~1 instruction a byte).
            var failed = false
            out = [UInt8](unsafeUninitializedCapacity: expected) { b, count in
                var off = 0
                while off < expected {
                    let n = Glibc.read(fd, b.baseAddress! + off, expected - off)
                    if n < 0 { if errno == EINTR { continue }; failed = true; break }
                    if n == 0 { break }
                    off += n
                }
                count = off
            }
            if failed { return nil }
            // Shorter than fstat said: the file ended there.
            if out.count < expected { return out }
        }
        // The rest (a file that grew meanwhile, or one whose size fstat does not tell).
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func size(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    public static func fsyncDir(_ dir: String) {
        let dfd = open(dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Writes all of `bytes` to `fd`; false with errno set on error (a short write counts).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> (ok: Bool, written: Int) {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    public static func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer) -> (ok: Bool, written: Int) {
        guard let base = buf.baseAddress else { return (true, 0) }
        var off = 0
        while off < buf.count {
            let n = write(fd, base + off, buf.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                return (false, off)
            }
            if n == 0 { errno = ENOSPC; return (false, off) }
            off += n
        }
        return (true, off)
    }
}
