import TernCommands

public struct LoadedConfig {
    public var config: ServerConfig
    /// Lines to log once at startup (e.g. directives accepted but not supported).
    public var notices: [String]
}

/// Minimal loader: `--port N` style arguments. (Replaced by the full redis.conf grammar.)
public enum ConfigLoader {
    public struct Fatal: Error { public let report: String }

    public static func load(arguments: [String]) throws -> LoadedConfig {
        let cfg = ServerConfig()
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a.hasPrefix("--") && i + 1 < arguments.count {
                let v = arguments[i + 1]
                switch a {
                case "--port": cfg.port = Int(v) ?? cfg.port
                case "--bind": cfg.bind = v.split(separator: " ").map(String.init)
                case "--enable-debug-command": cfg.enableDebugCommand = v
                case "--dir": cfg.dir = v
                case "--notify-keyspace-events": cfg.notifyKeyspaceEvents = NotifyClass.parse(v) ?? cfg.notifyKeyspaceEvents
                case "--tracking-table-max-keys": cfg.trackingTableMaxKeys = Int(v) ?? cfg.trackingTableMaxKeys
                case "--client-output-buffer-limit":
                    cfg.clientOutputBufferLimits = OutputBufferLimit.parseDirective(v, current: cfg.clientOutputBufferLimits) ?? cfg.clientOutputBufferLimits
                default: break
                }
                i += 2
            } else { i += 1 }
        }
        return LoadedConfig(config: cfg, notices: [])
    }
}
