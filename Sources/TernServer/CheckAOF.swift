import TernPersistence
#if canImport(Glibc)
import Glibc
#endif

/// `tern-server --check-aof [--fix|--truncate-to-timestamp ts] <file.manifest|file.aof>`
/// (also run as `tern-check-aof`): redis-check-aof's checks and messages. A manifest is
/// checked file by file (base, then incr files); only the last file may be trimmed.
enum CheckAOF {
    /// Set when --fix trimmed the file just checked (redis-check-aof then says nothing more
    /// about it).
    nonisolated(unsafe) static var fixed = false

    static func out(_ s: String) { StdIO.out(s + "\n") }

    static func usage(_ prog: String) -> Never {
        out("Usage: \(prog) [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>")
        exit(1)
    }

    static func main(_ prog: String, _ args: [String]) -> Never {
        var fix = false
        var truncateTo: Int? = nil
        var rest = args
        while let first = rest.first, first.hasPrefix("--") {
            rest.removeFirst()
            if first == "--fix" {
                fix = true
            } else if first == "--truncate-to-timestamp", let v = rest.first, let t = Int(v) {
                rest.removeFirst()
                truncateTo = t
            } else {
                if first == "--truncate-to-timestamp" { out("Invalid timestamp, aborting..."); exit(1) }
                usage(prog)
            }
        }
        guard rest.count == 1 else { usage(prog) }
        if fix && truncateTo != nil {
            out("Option --fix and --truncate-to-timestamp cannot be used together.")
            exit(1)
        }
        let path = rest[0]
        guard let data = AOFFiles.read(path) else {
            out("Cannot open file \(path): \(String(cString: strerror(errno))), aborting...")
            exit(1)
        }
        if path.hasSuffix(".manifest") || data.starts(with: Array("file ".utf8)) {
            checkMultiPart(path, data, fix: fix, truncateTo: truncateTo)
        }
        out("Start checking Old-Style AOF")
        let ok = checkFile(path, display: path, data: data, last: true, fix: fix, truncateTo: truncateTo, preambleAllowed: true)
        if ok && !fixed { out("AOF \(path) is valid") }
        exit(ok ? 0 : 1)
    }

    static func checkMultiPart(_ path: String, _ data: [UInt8], fix: Bool, truncateTo: Int?) -> Never {
        out("Start checking Multi Part AOF")
        let m: AOFManifest
        do {
            m = try AOFManifest.parse(String(decoding: data, as: UTF8.self))
        } catch {
            out("\(error)")
            exit(1)
        }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let files: [(AOFManifest.File, Bool)] = (m.base.map { [($0, true)] } ?? []) + m.incrs.map { ($0, false) }
        for (i, (f, isBase)) in files.enumerated() {
            let p = dir + "/" + f.name
            guard let bytes = AOFFiles.read(p) else {
                out("Cannot open file \(p): \(String(cString: strerror(errno))), aborting...")
                exit(1)
            }
            let last = i == files.count - 1
            if isBase {
                let rdb = bytes.starts(with: Array("REDIS".utf8))
                out("Start to check BASE AOF (\(rdb ? "RDB" : "RESP") format).")
            } else if i == (m.base == nil ? 0 : 1) {
                out("Start to check INCR files.")
            }
            guard checkFile(p, display: f.name, data: bytes, last: last, fix: fix, truncateTo: truncateTo, preambleAllowed: isBase) else { exit(1) }
            if !fixed { out("\(isBase ? "BASE" : "INCR") AOF \(f.name) is valid") }
        }
        out("All AOF files and manifest are valid")
        exit(0)
    }

    static func hex(_ off: Int) -> String {
        let h = String(off, radix: 16)
        return "0x" + String(repeating: " ", count: max(0, 16 - h.count)) + h
    }

    /// Checks one file; prints redis-check-aof's analysis; trims it when asked (and
    /// confirmed). True when the file is (now) valid.
    static func checkFile(_ path: String, display: String, data: [UInt8], last: Bool, fix: Bool,
                          truncateTo: Int?, preambleAllowed: Bool) -> Bool {
        var start = 0
        if preambleAllowed && data.starts(with: Array("REDIS".utf8)) {
            out("[offset 0] Checking RDB file \(display)")
            var keys = 0, expires = 0, expired = 0
            let now = Int64(time(nil)) * 1000
            do {
                let s = try RDBFile.load(data, limits: EncodingLimits(), verifyChecksum: true) { rec in
                    keys += 1
                    if let e = rec.expireAt { expires += 1; if e < now { expired += 1 } }
                }
                start = s.end
            } catch let e as RDBError {
                out("--- RDB ERROR DETECTED ---")
                out("[offset \(e.offset)] \(e.message)")
                out("RDB preamble of AOF file is not sane, aborting.")
                return false
            } catch {
                out("RDB preamble of AOF file is not sane, aborting.")
                return false
            }
            let stored = data[(start - 8)..<start].reduce(0) { $0 | Int($1) }
            out(stored == 0 ? "RDB file was saved with checksum disabled: no check performed." : "[offset \(start)] Checksum OK")
            out("[offset \(start)] \\o/ RDB looks OK! \\o/")
            out("[info] \(keys) keys read")
            out("[info] \(expires) expires")
            out("[info] \(expired) already expired")
            out("RDB preamble is OK, proceeding with AOF tail...")
        }
        var pos = start
        var line = 1
        var okUpTo = start
        var multi = false
        var error: String? = nil
        var lastPayload = start
        var truncateAt: Int? = nil

        func readLine() -> Range<Int>? {
            var i = pos
            while i < data.count && data[i] != 10 { i += 1 }
            guard i < data.count, i > pos, data[i - 1] == 13 else {
                error = "\(hex(pos)): Expected \\r\\n, got: 0000"
                return nil
            }
            let r = pos..<(i - 1)
            return r
        }
        func number(_ r: Range<Int>) -> Int? { Int(String(decoding: data[r].dropFirst(), as: UTF8.self)) }

        scan: while pos < data.count {
            if data[pos] == UInt8(ascii: "#") {
                guard let r = readLine() else { break }
                let text = String(decoding: data[r], as: UTF8.self)
                if let ts = truncateTo, text.hasPrefix("#TS:"), let t = Int(text.dropFirst(4)), t > ts {
                    truncateAt = pos
                    break scan
                }
                pos = r.upperBound + 2
                line += 1
                continue
            }
            guard let head = readLine() else { break }
            guard data[pos] == UInt8(ascii: "*") else {
                error = "AOF \(display) format error"
                break
            }
            guard let argc = number(head), argc >= 1 else {
                error = "\(hex(pos)): Invalid argument count"
                break
            }
            pos = head.upperBound + 2
            line += 1
            var first: [UInt8] = []
            for i in 0..<argc {
                guard let lr = readLine() else { break scan }
                guard data[pos] == UInt8(ascii: "$") else {
                    error = "\(hex(pos)): Expected prefix '$', got: '\(Character(UnicodeScalar(data[pos])))'"
                    break scan
                }
                guard let n = number(lr), n >= 0 else {
                    error = "\(hex(pos)): Invalid bulk length"
                    break scan
                }
                pos = lr.upperBound + 2
                line += 1
                lastPayload = pos
                guard pos + n + 2 <= data.count else {
                    error = "\(hex(pos)): Expected to read \(n + 2) bytes, got \(data.count - pos) bytes"
                    break scan
                }
                if i == 0 { first = Array(data[pos..<(pos + n)]) }
                pos += n + 2
                line += 1
            }
            let name = String(decoding: first, as: UTF8.self).lowercased()
            if name == "multi" {
                if multi { error = "\(hex(pos)): Unexpected MULTI"; break }
                multi = true
            } else if name == "exec" {
                if !multi { error = "\(hex(pos)): Unexpected EXEC"; break }
                multi = false
            }
            if !multi { okUpTo = pos }
        }
        if error == nil && truncateAt == nil && multi {
            error = "\(hex(lastPayload)): Reached EOF before reading EXEC for MULTI"
        }
        if let ts = truncateTo {
            guard let cut = truncateAt else {
                out("Truncate nothing in AOF \(display) to timestamp \(ts)")
                return error == nil
            }
            if cut == start {
                out("AOF \(path) has nothing before timestamp \(ts), aborting...")
                return false
            }
            if !last {
                out("Failed to truncate AOF \(display) to timestamp \(ts) because it is not the last file.")
                return false
            }
            if truncate(path, off_t(cut)) != 0 {
                out("Failed to truncate AOF \(display) to timestamp \(ts)")
                return false
            }
            out("Successfully truncated AOF \(display) to timestamp \(ts)")
            fixed = true
            return true
        }
        if let e = error { out(e) }
        let diff = data.count - okUpTo
        out("AOF analyzed: filename=\(display), size=\(data.count), ok_up_to=\(okUpTo), ok_up_to_line=\(line), diff=\(diff)")
        guard diff > 0 else { return true }
        guard fix else {
            out("AOF \(display) is not valid. Use the --fix option to try fixing it.")
            return false
        }
        guard last else {
            out("Failed to truncate AOF \(display) because it is not the last file")
            return false
        }
        out("This will shrink the AOF \(display) from \(data.count) bytes, with \(diff) bytes, to \(okUpTo) bytes")
        StdIO.out("Continue? [y/N]: ")
        let answer = Swift.readLine(strippingNewline: true) ?? ""
        guard answer.lowercased().hasPrefix("y") else {
            out("Aborting...")
            return false
        }
        if truncate(path, off_t(okUpTo)) != 0 {
            out("Failed to truncate AOF \(display)")
            return false
        }
        out("Successfully truncated AOF \(display)")
        fixed = true
        return true
    }
}
