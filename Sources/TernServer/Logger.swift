import TernConfig
import TernEngine
#if canImport(Glibc)
import Glibc
#endif

/// Redis-format log lines: `pid:R dd Mon yyyy hh:mm:ss.mmm <level> message`,
/// level marks `.` debug, `-` verbose, `*` notice, `#` warning.
final class ServerLogger: @unchecked Sendable {
    var minimum: LogLevel = .notice
    var path = ""
    var file: UnsafeMutablePointer<FILE>? = nil
    var roleChar: Character = "M"

    func open(path: String) -> Bool {
        self.path = path
        if path.isEmpty { file = nil; return true }
        guard let f = fopen(path, "a") else { return false }
        file = f
        return true
    }

    static func level(named s: String) -> LogLevel? {
        switch s.lowercased() {
        case "debug": return .debug
        case "verbose": return .verbose
        case "notice": return .notice
        case "warning": return .warning
        default: return nil
        }
    }

    func log(_ level: LogLevel, _ message: String, role: Character? = nil) {
        guard level >= minimum else { return }
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, 64, "%d %b %Y %H:%M:%S", &tmv)
        let stamp = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let ms = Int(tv.tv_usec) / 1000
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        let mark: Character = [".", "-", "*", "#"][level.rawValue]
        let line = "\(getpid()):\(role ?? roleChar) \(stamp).\(msText) \(mark) \(message)\n"
        if let f = file {
            fputs(line, f)
            fflush(f)
        } else {
            StdIO.out(line)
        }
    }
}
