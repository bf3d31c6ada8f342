import TernConfig
import TernEngine
import TernSentinel
#if canImport(Glibc)
import Glibc
#endif

public struct LoadedConfig {
    public var config: ServerConfig
    /// Lines to log once at startup (e.g. directives accepted but not supported).
    public var notices: [String]
}

/// Startup configuration, as redis-server does it:
/// `tern-server [/path/to/redis.conf] [--directive value ...] [-]`.
/// The file's text, then stdin's (with `-`), then the options (each `--name args`
/// becomes a line `name "arg" ...`) are read as one config text.
public enum ConfigLoader {
    /// Stops startup: `report` goes to stderr (or stdout), then the process exits.
    public struct Fatal: Error {
        public let report: String
        public let toStdout: Bool
        public let exitCode: Int32
        public init(report: String, toStdout: Bool = false, exitCode: Int32 = 1) {
            self.report = report; self.toStdout = toStdout; self.exitCode = exitCode
        }
    }

    /// The command line turned into config text.
    public struct CommandLine: Equatable {
        public var configFile: String? = nil
        public var readStdin = false
        public var options = ""
    }

    public static func load(arguments: [String], sentinel: Bool = false) throws -> LoadedConfig {
        if let first = arguments.first {
            switch first {
            case "-v", "--version":
                throw Fatal(report: versionLine(), toStdout: true, exitCode: 0)
            case "-h", "--help":
                throw Fatal(report: usage())
            case "--test-memory", "--check-system":
                throw Fatal(report: "\(first) is not supported by tern-server\n")
            default: break
            }
        }
        let cl = parseCommandLine(arguments)
        let cfg = ServerConfig()
        if sentinel { Sentinel.prepare(cfg) }
        var text = ""
        if let file = cl.configFile {
            let abs = absolutePath(file)
            guard let content = ConfigRegistry.readFile(abs) else {
                throw Fatal(report: logLine("Fatal error, can't open config file '\(abs)': \(String(cString: strerror(errno)))"), toStdout: true)
            }
            cfg.configFile = abs
            text = content
        }
        if cl.readStdin {
            StdIO.out(logLine("Reading config from stdin"))
            text += readStdin()
        }
        text += "\n" + cl.options
        var notices: [String] = []
        do {
            try ConfigRegistry.load(text: text, into: cfg, context: ConfigSetContext(loading: true, commandNames: CommandTable.catalogNames), notices: &notices)
        } catch let e as ConfigLoadError {
            if case .cannotOpen = e { throw Fatal(report: logLine(e.report.dropLast().description), toStdout: true) }
            throw Fatal(report: e.report)
        }
        try checkAfterLoad(cfg, &notices)
        return LoadedConfig(config: cfg, notices: notices)
    }

    /// Redis's argument rules: a first argument not starting with '-' is the config
    /// file; `-` as the first or last argument reads stdin; `--name` starts an option
    /// line (only once the previous option has a value; `--save` alone means
    /// `save ""`); other arguments are quoted values of the current line.
    public static func parseCommandLine(_ args: [String]) -> CommandLine {
        var cl = CommandLine()
        var j = 0
        if let first = args.first, !first.hasPrefix("-") {
            cl.configFile = first
            j = 1
        }
        var lastHasValue = true
        while j < args.count {
            let a = args[j]
            if a == "-" && (j == 0 || j == args.count - 1) {
                cl.readStdin = true
            } else if lastHasValue && a.hasPrefix("--") {
                if !cl.options.isEmpty { cl.options += "\n" }
                cl.options += String(a.dropFirst(2)) + " "
                let words = ConfigText.splitArgs(a) ?? []
                if words.count == 1 {
                    lastHasValue = false
                    let next = j + 1 < args.count ? args[j + 1] : nil
                    let lower = ConfigText.lower(a)
                    if lower == "--save" && (next == nil || next!.hasPrefix("--")) {
                        cl.options += "\"\""
                        lastHasValue = true
                    } else if lower == "--sentinel" && (next == nil || next!.hasPrefix("--")) {
                        lastHasValue = true
                    }
                } else {
                    lastHasValue = true
                }
            } else {
                cl.options += ConfigText.repr(a) + " "
                lastHasValue = true
            }
            j += 1
        }
        return cl
    }

    /// Checks Redis makes once everything is read, and process limits.
    static func checkAfterLoad(_ cfg: ServerConfig, _ notices: inout [String]) throws {
        if !cfg.logfile.isEmpty {
            guard let f = fopen(cfg.logfile, "a") else {
                throw Fatal(report: ConfigLoadError.general(reason: "Can't open the log file: \(String(cString: strerror(errno)))").report)
            }
            fclose(f)
        }
        if let allowed = ConfigRegistry.raiseOpenFilesLimit(for: cfg.maxclients), allowed < cfg.maxclients {
            notices.append("You requested maxclients of \(cfg.maxclients) requiring at least \(cfg.maxclients + 32) max file descriptors.")
            notices.append("Current maximum open files is \(allowed + 32). maxclients has been reduced to \(allowed) to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.")
            cfg.maxclients = allowed
        }
        if cfg.port == 0 && cfg.unixsocket.isEmpty {
            // Redis exits here too ("Configured to not listen anywhere").
            notices.append("Configured to not listen anywhere")
        }
        notices += ConfigRegistry.unsupportedNotices(cfg)
    }

    static func absolutePath(_ p: String) -> String {
        if p.hasPrefix("/") { return p }
        guard let cwd = ConfigRegistry.currentDirectory() else { return p }
        return cwd.hasSuffix("/") ? cwd + p : cwd + "/" + p
    }

    static func readStdin() -> String {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(0, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A Redis-format log line from before the server logger exists (role C).
    static func logLine(_ message: String) -> String {
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
        return "\(getpid()):C \(stamp).\(msText) # \(message)\n"
    }

    static func versionLine() -> String {
        "Tern server v=\(TernVersion.redisCompatible) sha=00000000:0 malloc=libc bits=64 build=tern-\(TernVersion.tern)\n"
    }

    static func usage() -> String {
        """
        Usage: ./tern-server [/path/to/redis.conf] [options] [-]
               ./tern-server - (read config from stdin)
               ./tern-server -v or --version
               ./tern-server -h or --help

        Examples:
               ./tern-server (run the server with default conf)
               echo 'maxmemory 128mb' | ./tern-server -
               ./tern-server /etc/redis/6379.conf
               ./tern-server --port 7777
               ./tern-server --port 7777 --replicaof 127.0.0.1 8888
               ./tern-server /etc/myredis.conf --loglevel verbose -
               ./tern-server /etc/myredis.conf --loglevel verbose

        """
    }
}
