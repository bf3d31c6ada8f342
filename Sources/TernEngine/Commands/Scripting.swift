import TernProtocol

extension Engine {
    func registerScriptingCommands() {
        commands.register("script|kill", ScriptingCommands.scriptKill)
    }
}

/// The part of SCRIPT that a server without a running script can answer. Tern has no Lua
/// interpreter yet (SCRIPT's other subcommands are unknown); SCRIPT KILL matters anyway:
/// a sentinel sends it to an instance that answered -BUSY while it is SDOWN.
public enum ScriptingCommands {
    /// SCRIPT KILL: no script can be running here, so Redis's reply for that case.
    static func scriptKill(_ c: Client, _ a: Args) {
        c.error("NOTBUSY No scripts in execution right now.")
    }
}
