import CTern
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

// MARK: - loading config text

/// A config file problem, reported with Redis's FATAL CONFIG FILE ERROR layout.
public enum ConfigLoadError: Error, Equatable {
    /// Bad line: 1-based line number (within the file being read), the trimmed line, reason.
    case line(number: Int, text: String, reason: String)
    /// A file (main or include) could not be opened.
    case cannotOpen(path: String, reason: String)
    /// A problem found after all lines were applied (e.g. the log file cannot be opened).
    case general(reason: String)

    /// Exactly what redis-server prints on stderr before exiting with status 1
    /// (cannotOpen is logged instead; see `logMessage`).
    public var report: String {
        let head = "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
        switch self {
        case .line(let n, let text, let reason):
            return head + "Reading the configuration file, at line \(n)\n>>> '\(text)'\n\(reason)\n"
        case .general(let reason):
            return head + reason + "\n"
        case .cannotOpen(let path, let reason):
            return "Fatal error, can't open config file '\(path)': \(reason)\n"
        }
    }
}

extension ConfigRegistry {
    static let maxIncludeDepth = 32

    /// Applies config text (a file's content, with options appended) to `cfg`, line by
    /// line, as Redis's config loader does. `notices` collects things to log at startup.
    public static func load(text: String, into cfg: ServerConfig, context ctx: ConfigSetContext,
                            notices: inout [String], depth: Int = 0) throws {
        var lineNo = 0
        for raw in ConfigText.lines(text) {
            lineNo += 1
            let line = ConfigText.trim(raw)
            if line.isEmpty || line.first == "#" { continue }
            let lineText = String(line)
            guard let argv = ConfigText.splitArgs(lineText) else {
                throw ConfigLoadError.line(number: lineNo, text: lineText, reason: "Unbalanced quotes in configuration line")
            }
            if argv.isEmpty { continue }
            if cfg.sentinelMode && ConfigText.lower(argv[0]) == "sentinel" {
                // A bare `sentinel` line is the --sentinel option itself.
                if argv.count == 1 { continue }
                cfg.sentinelLines.append((lineNo, lineText, Array(argv.dropFirst())))
                continue
            }
            if let reason = try applyLine(argv, cfg, ctx, &notices, depth) {
                throw ConfigLoadError.line(number: lineNo, text: lineText, reason: reason)
            }
        }
    }

    /// Applies one split config line; returns the failure reason, nil on success.
    static func applyLine(_ argv: [String], _ cfg: ServerConfig, _ ctx: ConfigSetContext,
                          _ notices: inout [String], _ depth: Int) throws -> String? {
        let name = ConfigText.lower(argv[0])
        let args = Array(argv.dropFirst())
        let bad = "Bad directive or wrong number of arguments"
        switch name {
        case "include":
            guard args.count == 1 else { return bad }
            guard depth < maxIncludeDepth else { return "Too many nested include directives" }
            for path in expandInclude(args[0]) {
                guard let content = readFile(path) else {
                    throw ConfigLoadError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
                }
                try load(text: content, into: cfg, context: ctx, notices: &notices, depth: depth + 1)
            }
            return nil
        case "rename-command":
            guard args.count == 2 else { return bad }
            // Renames apply in order to the current command names, as in Redis.
                        let from = ConfigText.lower(args[0]), to = ConfigText.lower(args[1])
            guard ctx.commandNames.contains(from) else { return "No such command in rename-command" }
            if !to.isEmpty {
                guard !ctx.commandNames.contains(to) else { return "Target command name already exists" }
                ctx.commandNames.insert(to)
            }
            ctx.commandNames.remove(from)
            cfg.renamedCommands.append((from, to))
            return nil
        case "user":
            guard !args.isEmpty else { return bad }
            if let e = checkUserRules(argv) { return e }
            // Only `default` may be declared again (it starts over from reset); the ACL
            // subsystem applies the rules at startup.
            if args[0] != "default" && cfg.userDirectives.contains(where: { $0.first == args[0] }) {
                return "Error in user declaration '\(args[0])': Duplicate user found. A user can only be defined once in config files"
            }
            cfg.userDirectives.append(args)
            return nil
        case "loadmodule":
            guard !args.isEmpty else { return bad }
            notices.append("Module loading is not supported: 'loadmodule \(args.joined(separator: " "))' ignored")
            return nil
        case "sentinel":
            return "sentinel directive while not in sentinel mode"
        default:
            break
        }
        guard let d = index[name] else {
            if deadDirectives.contains(name) && args.count == 1 { return nil }
            return bad
        }
        var values = args
        if d.flags.contains(.multiArg) {
            // No argument at all is the empty list, as in Redis: `save` alone clears the save
            // points, `client-output-buffer-limit` alone changes nothing; each setter decides.
            // Like Redis 7.0, a single argument of a multi-argument directive is split on
            // spaces (`--save "900 1"`, `--client-output-buffer-limit "pubsub 0 1mb 1"`).
            if values.count == 1 && !values[0].isEmpty {
                values = values[0].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                if values.isEmpty { values = [""] }
            }
        } else if values.count != 1 {
            return Directives.wrongArgs
        }
        return d.set(cfg, values, ctx)
    }

    /// `include` argument: a glob pattern expands to its (sorted) matches, possibly none.
    static func expandInclude(_ pattern: String) -> [String] {
        guard pattern.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) else { return [pattern] }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out
    }

    /// Whole file as text; nil (errno set) when it cannot be opened. A directory reads
    /// as empty, as with Redis.
    public static func readFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Light syntax check of `user` rules (the ACL subsystem interprets them). Redis's
    /// message names the word at the failing rule's position in the whole line.
    static func checkUserRules(_ argv: [String]) -> String? {
        let simple: Set<String> = ["on", "off", "nopass", "resetpass", "reset", "allkeys", "resetkeys",
                                   "allchannels", "resetchannels", "allcommands", "nocommands",
                                   "skip-sanitize-payload", "sanitize-payload", "clearselectors"]
        let rules = Array(argv.dropFirst(2))
        var inSelector = false
        for (i, r) in rules.enumerated() {
            let l = ConfigText.lower(r)
            if inSelector { if r.hasSuffix(")") { inSelector = false }; continue }
            if r.hasPrefix("(") { inSelector = !r.hasSuffix(")"); continue }
            if simple.contains(l) { continue }
            if let c = r.first, ">< #!~&+-%".contains(c) { continue }
            let word = i < argv.count ? argv[i] : r
            return "Error in user declaration '\(word)': Syntax error"
        }
        return nil
    }

    /// Notices for directives Tern accepts without acting on them, when set to a
    /// non-default value.
    public static func unsupportedNotices(_ cfg: ServerConfig) -> [String] {
        all.filter { $0.flags.contains(.unsupported) && $0.get(cfg) != $0.get(pristine) }.map {
            "Config directive '\($0.name)' is accepted but not supported by Tern: the setting has no effect"
        }
    }
}
