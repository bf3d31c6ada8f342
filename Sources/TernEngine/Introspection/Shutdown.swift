import TernConfig
import TernProtocol

/// SHUTDOWN options (persistence will read them to decide whether to save).
public struct ShutdownOptions: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let noSave = ShutdownOptions(rawValue: 1 << 0)
    public static let save = ShutdownOptions(rawValue: 1 << 1)
    public static let now = ShutdownOptions(rawValue: 1 << 2)
    public static let force = ShutdownOptions(rawValue: 1 << 3)
}

extension Engine {
    func registerShutdownCommand() {
        commands.register("shutdown", ShutdownCommand.shutdown)
    }
}

enum ShutdownCommand {
    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. On success the process exits and the
    /// caller gets no reply. `Engine.requestShutdown` gets the options in `reason`
    /// ("SHUTDOWN", then "NOSAVE"/"SAVE"/"NOW"/"FORCE" words).
    static func shutdown(_ c: Client, _ a: Args) {
        var opts: ShutdownOptions = []
        var abort = false
        for i in 1..<a.count {
            if a.equals(i, "nosave") { opts.insert(.noSave) }
            else if a.equals(i, "save") { opts.insert(.save) }
            else if a.equals(i, "now") { opts.insert(.now) }
            else if a.equals(i, "force") { opts.insert(.force) }
            else if a.equals(i, "abort") { abort = true }
            else { c.syntaxError(); return }
        }
        if (abort && !opts.isEmpty) || (opts.contains(.noSave) && opts.contains(.save)) {
            c.syntaxError()
            return
        }
        if abort {
            // Only a shutdown waiting for lagging replicas can be aborted.
            if c.engine.abortPendingShutdown() { c.out.ok() } else { c.error("ERR No shutdown in progress.") }
            return
        }
        var reason = "SHUTDOWN"
        if opts.contains(.noSave) { reason += " NOSAVE" }
        if opts.contains(.save) { reason += " SAVE" }
        if opts.contains(.now) { reason += " NOW" }
        if opts.contains(.force) { reason += " FORCE" }
        if let err = c.engine.beginShutdown(reason: reason, client: c) {
            c.error(err.hasPrefix("ERR ") ? err : "ERR Errors trying to SHUTDOWN. Check logs.")
        }
    }
}
