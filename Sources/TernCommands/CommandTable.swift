import TernProtocol

/// Lookup key for command names: the lowercase name packed into 32 bytes, so a
/// lookup from a request allocates nothing.
struct CommandName: Hashable {
    var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= 32 else { return nil }
        withUnsafeMutableBytes(of: &self) { dst in
            for i in 0..<bytes.count {
                var ch = bytes[i]
                if ch >= 65 && ch <= 90 { ch |= 0x20 }
                dst[i] = ch
            }
        }
    }

    init?(_ s: String) {
        var s = s
        guard let v = s.withUTF8({ CommandName(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = v
    }
}

/// The command table: Redis 7.0's command catalog (facts) joined with Tern's handlers.
/// Only commands Tern implements are registered; the rest are unknown, as in a Redis
/// built without them.
public final class CommandTable {
    var byName: [CommandName: Command] = [:]
    public private(set) var commands: [Command] = []
    let catalog: [String: (RESPValue, RESPValue)]

    public init() {
        var cat: [String: (RESPValue, RESPValue)] = [:]
        for (name, info, docs) in CommandCatalog.rows {
            // COMMAND INFO replies arrive as a one-element array.
            guard let i = RESPValue.parse(info)?.elements.first, let d = RESPValue.parse(docs) else { continue }
            let docsOne: RESPValue
            if case .map(let m) = d, let first = m.first { docsOne = first.1 } else { docsOne = .map([]) }
            cat[name] = (i, docsOne)
        }
        catalog = cat
    }

    /// Registers a handler for a catalog command ("get") or subcommand ("config|get").
    public func register(_ name: String, getKeys: ((Args) -> [Int])? = nil, _ handler: @escaping CommandHandler) {
        let parts = name.split(separator: "|").map(String.init)
        if parts.count == 1 {
            guard let (info, docs) = catalog[name] else { preconditionFailure("no catalog entry for \(name)") }
            if let existing = byName[CommandName(name)!] {
                existing.handler = handler
                existing.getKeys = getKeys
                return
            }
            let cmd = Command(name: name, info: info, docs: withSummary(docs, name), handler: handler)
            cmd.getKeys = getKeys
            byName[CommandName(name)!] = cmd
            commands.append(cmd)
        } else {
            let parentName = parts[0]
            if byName[CommandName(parentName)!] == nil {
                register(parentName) { c, a in
                    c.out.error("ERR unknown subcommand '\(String(a.string(1).prefix(128)))'. Try \(parentName.uppercased()) HELP.")
                }
            }
            let parent = byName[CommandName(parentName)!]!
            guard let info = parent.info.elements.count > 9
                    ? parent.info.elements[9].elements.first(where: { $0.elements.first?.text == name }) : nil else {
                preconditionFailure("no catalog entry for \(name)")
            }
            let docs = parent.docs["subcommands"]?[name] ?? .map([])
            let sub = Command(name: name, info: info, docs: withSummary(docs, name), handler: handler)
            sub.getKeys = getKeys
            sub.parent = parent
            parent.subcommands[parts[1]] = sub
        }
    }

    func withSummary(_ docs: RESPValue, _ name: String) -> RESPValue {
        guard case .map(var m) = docs else { return docs }
        if let s = CommandSummaries.text[name] { m.insert((.bulk(Array("summary".utf8)), .bulk(Array(s.utf8))), at: 0) }
        return .map(m)
    }

    @inline(__always) public func lookup(_ name: UnsafeRawBufferPointer) -> Command? {
        guard let k = CommandName(name) else { return nil }
        return byName[k]
    }

    public func lookup(_ name: String) -> Command? {
        guard let k = CommandName(name) else { return nil }
        return byName[k]
    }

    /// Resolves "config|get" style names too.
    public func lookupFull(_ name: String) -> Command? {
        let parts = name.lowercased().split(separator: "|", maxSplits: 1).map(String.init)
        guard let top = lookup(parts[0]) else { return nil }
        if parts.count == 1 { return top }
        return top.subcommands[parts[1]]
    }

    /// Every registered command and subcommand.
    public var allIncludingSubcommands: [Command] {
        commands.flatMap { [$0] + $0.subcommands.values.sorted { $0.name < $1.name } }
    }
}
