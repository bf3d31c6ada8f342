import TernConfig
import TernProtocol

/// Lookup key for command names: the lowercase name packed into 32 bytes, so a
/// lookup from a request allocates nothing.
struct CommandName: Hashable {
    var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0

    init() {}

    /// Start slot in CommandTable's open-addressing index (multiplicative hash).
    @inline(__always) var slot: Int {
        let h = (a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ (c >> 7) ^ (d << 3)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h >> 40)
    }

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
    /// Every top-level command by name: the source of truth (registration, rename-command).
    var byName: [CommandName: Command] = [:] { didSet { indexIsStale = true } }
    /// Open-addressing copy of `byName` for the per-request lookup: a multiplicative hash of
    /// the packed name and a probe over flat arrays (Swift's Dictionary hashes with SipHash,
    /// ~10% of a SET's instructions). Rebuilt lazily after `byName` changes.
    var indexKeys: UnsafeMutablePointer<CommandName>? = nil
    var indexValues: UnsafeMutablePointer<Unmanaged<Command>?>? = nil
    var indexMask = 0
    var indexIsStale = true
    public private(set) var commands: [Command] = []
    let catalog: [String: (RESPValue, RESPValue)]

    public init() {
        var cat: [String: (RESPValue, RESPValue)] = [:]
        for (name, info, docs) in CommandCatalog.rows + SentinelCommandCatalog.rows {
            // COMMAND INFO replies arrive as a one-element array.
            guard let i = RESPValue.parse(info)?.elements.first, let d = RESPValue.parse(docs) else { continue }
            let docsOne: RESPValue
            if case .map(let m) = d, let first = m.first { docsOne = first.1 } else { docsOne = .map([]) }
            cat[name] = (i, docsOne)
        }
        catalog = cat
    }

    /// The names of every command in Redis 7.0's catalog (what rename-command accepts).
    public static var catalogNames: Set<String> { Set(CommandCatalog.rows.map { $0.0 }) }

    /// Every command and subcommand ever registered, by `Command.id`.
    public private(set) var byID: [Command] = []

    /// Registers a handler for a catalog command ("get") or subcommand ("config|get").
    /// Registering a name again replaces the handler and keeps the command (and its id).
    public func register(_ name: String, _ handler: @escaping CommandHandler) {
        let parts = name.split(separator: "|").map(String.init)
        if parts.count == 1 {
            guard let (info, docs) = catalog[name], let key = CommandName(name) else {
                preconditionFailure("no catalog entry for \(name)")
            }
            if let existing = byName[key] {
                existing.handler = handler
                return
            }
            let cmd = Command(name: name, id: byID.count, info: info, docs: withSummary(docs, name), handler: handler)
            byID.append(cmd)
            byName[key] = cmd
            commands.append(cmd)
        } else {
            let parentName = parts[0]
            guard let parentKey = CommandName(parentName) else { preconditionFailure("bad command name \(name)") }
            if byName[parentKey] == nil {
                register(parentName) { c, a in
                    c.out.error("ERR unknown subcommand '\(String(a.string(1).prefix(128)))'. Try \(parentName.uppercased()) HELP.")
                }
            }
            guard let parent = byName[parentKey], parent.info.elements.count > 9,
                  let info = parent.info.elements[9].elements.first(where: { $0.elements.first?.text == name }) else {
                preconditionFailure("no catalog entry for \(name)")
            }
            if let existing = parent.subcommands[parts[1]] {
                existing.handler = handler
                return
            }
            let docs = parent.docs["subcommands"]?[name] ?? .map([])
            let sub = Command(name: name, id: byID.count, info: info, docs: withSummary(docs, name), handler: handler)
            byID.append(sub)
            sub.parent = parent
            parent.subcommands[parts[1]] = sub
        }
    }

    func withSummary(_ docs: RESPValue, _ name: String) -> RESPValue {
        guard case .map(var m) = docs else { return docs }
        if let s = CommandSummaries.text[name] { m.insert((.bulk(Array("summary".utf8)), .bulk(Array(s.utf8))), at: 0) }
        return .map(m)
    }

    deinit { releaseIndex() }

    @inline(__always) public func lookup(_ name: UnsafeRawBufferPointer) -> Command? {
        lookupUnretained(name)?.takeUnretainedValue()
    }

    /// The dispatcher's lookup: an unretained reference (the table keeps every command
    /// alive), borrowed with `_withUnsafeGuaranteedRef` so a request costs no retain.
    @inline(__always) func lookupUnretained(_ name: UnsafeRawBufferPointer) -> Unmanaged<Command>? {
        guard let k = CommandName(name) else { return nil }
        if indexIsStale { rebuildIndex() }
        guard let keys = indexKeys, let values = indexValues else { return nil }
        var i = k.slot & indexMask
        while let v = values[i] {
            if keys[i] == k { return v }
            i = (i + 1) & indexMask
        }
        return nil
    }

    func rebuildIndex() {
        releaseIndex()
        var cap = 16
        while cap < byName.count * 4 { cap <<= 1 }
        let keys = UnsafeMutablePointer<CommandName>.allocate(capacity: cap)
        keys.initialize(repeating: CommandName(), count: cap)
        let values = UnsafeMutablePointer<Unmanaged<Command>?>.allocate(capacity: cap)
        values.initialize(repeating: nil, count: cap)
        // The commands stay retained by `byName`; the index holds unretained references.
        for (k, cmd) in byName {
            var i = k.slot & (cap - 1)
            while values[i] != nil { i = (i + 1) & (cap - 1) }
            keys[i] = k
            values[i] = .passUnretained(cmd)
        }
        indexKeys = keys
        indexValues = values
        indexMask = cap - 1
        indexIsStale = false
    }

    func releaseIndex() {
        indexKeys?.deallocate()
        indexValues?.deallocate()
        indexKeys = nil
        indexValues = nil
    }

    /// Sentinel mode: only the named top-level commands stay (Redis builds its sentinel
    /// command table from the commands flagged `sentinel`); the rest become unknown.
    public func keepOnly(_ names: Set<String>) {
        namesUnregisteredCommands = false
        byName = byName.filter { names.contains($0.value.name) }
        commands = commands.filter { names.contains($0.name) }
    }

    public func lookup(_ name: String) -> Command? {
        guard let k = CommandName(name) else { return nil }
        return byName[k]
    }

    /// ACL rules may name commands Redis 7.0 has and Tern does not implement ("-eval"): a
    /// config written for Redis must still load. False in sentinel mode, whose table is all
    /// Redis has there.
    public private(set) var namesUnregisteredCommands = true

    /// Whether "name" or "parent|sub" is a command of Redis 7.0's catalog.
    public func catalogHas(_ fullName: String) -> Bool {
        let parts = fullName.lowercased().split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let (info, _) = catalog[parts[0]] else { return false }
        if parts.count == 1 { return true }
        let e = info.elements
        guard e.count > 9 else { return false }
        return e[9].elements.contains { $0.elements.first?.text == parts[0] + "|" + parts[1] }
    }

    /// The full names ("parent|sub") of a catalog command's subcommands.
    public func catalogSubcommands(of parent: String) -> [String] {
        guard let (info, _) = catalog[parent], info.elements.count > 9 else { return [] }
        return info.elements[9].elements.compactMap { $0.elements.first?.text }
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
