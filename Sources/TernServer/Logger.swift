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
    /// The role letter of the moment (S while `replicaof` is set), when given.
    var currentRole: (() -> Character)?

    /// Also send every line to syslog (syslog-enabled), as Redis does besides the file/stdout.
    var toSyslog = false

    func openSyslog(ident: String, facility: String) {
        let facilities: [String: Int32] = [
            "user": LOG_USER, "local0": LOG_LOCAL0, "local1": LOG_LOCAL1, "local2": LOG_LOCAL2, "local3": LOG_LOCAL3,
            "local4": LOG_LOCAL4, "local5": LOG_LOCAL5, "local6": LOG_LOCAL6, "local7": LOG_LOCAL7,
        ]
        // openlog keeps the pointer: the ident must outlive the process's logging.
        let kept = strdup(ident)
        openlog(kept, LOG_PID | LOG_NDELAY | LOG_NOWAIT, facilities[facility] ?? LOG_LOCAL0)
        toSyslog = true
    }

    func sendToSyslog(_ level: LogLevel, _ message: String) {
        let priority: Int32 = [LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING][level.rawValue]
        message.withCString { text in withVaList([text]) { vsyslog(priority, "%s", $0) } }
    }

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

    /// A message written as it is, without the pid/time/level prefix (Redis's LL_RAW).
    func raw(_ level: LogLevel, _ text: String) {
        guard level >= minimum else { return }
        if toSyslog { sendToSyslog(level, text) }
        write(text)
    }

    /// To the log file, or stdout when there is none.
    func write(_ text: String) {
        if let f = file {
            fputs(text, f)
            fflush(f)
        } else {
            StdIO.out(text)
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
        let line = "\(getpid()):\(role ?? currentRole?() ?? roleChar) \(stamp).\(msText) \(mark) \(message)\n"
        if toSyslog { sendToSyslog(level, message) }
        write(line)
    }
}
