import TernProtocol

// One key finder per command (Redis 7.0's getKeysFromCommandWithSpecs): the command's key
// specs from the catalog, plus, for the commands whose specs cannot describe every call,
// the get-keys function Redis gives them. COMMAND GETKEYS/GETKEYSANDFLAGS and client
// tracking use it; ACL key patterns and cluster slot routing are meant to use it too.
//
// Order of the search (Redis's): specs first, unless a spec has variable_flags; when a
// spec cannot describe the call (unknown search, bad key count, keys past the end,
// incomplete), every key found so far is dropped and the get-keys function decides.

/// Key-spec flags (Redis's CMD_KEY_*), in the order COMMAND INFO and GETKEYSANDFLAGS print them.
public struct KeyFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let ro = KeyFlags(rawValue: 1 << 0)
    public static let rw = KeyFlags(rawValue: 1 << 1)
    public static let ow = KeyFlags(rawValue: 1 << 2)
    public static let rm = KeyFlags(rawValue: 1 << 3)
    public static let access = KeyFlags(rawValue: 1 << 4)
    public static let update = KeyFlags(rawValue: 1 << 5)
    public static let insert = KeyFlags(rawValue: 1 << 6)
    public static let delete = KeyFlags(rawValue: 1 << 7)
    public static let notKey = KeyFlags(rawValue: 1 << 8)
    public static let incomplete = KeyFlags(rawValue: 1 << 9)
    public static let variableFlags = KeyFlags(rawValue: 1 << 10)

    /// Redis's names, in its printing order.
    public static let names: [(String, KeyFlags)] = [
        ("RO", .ro), ("RW", .rw), ("OW", .ow), ("RM", .rm), ("access", .access), ("update", .update),
        ("insert", .insert), ("delete", .delete), ("not_key", .notKey), ("incomplete", .incomplete),
        ("variable_flags", .variableFlags),
    ]

    public static func named(_ s: String) -> KeyFlags? { names.first { $0.0 == s }?.1 }

    /// The names of the flags set, in printing order.
    public var nameList: [String] { KeyFlags.names.compactMap { contains($0.1) ? $0.0 : nil } }
}

/// One key specification: where the search for keys begins and how keys follow from there.
public struct KeySpec: Sendable {
    public enum BeginSearch: Sendable {
        /// The first key is at this argument index.
        case index(Int)
        /// The first key follows `keyword` (lowercase), searched from `startFrom` (forward
        /// when positive, backward from argc+startFrom when negative).
        case keyword([UInt8], startFrom: Int)
        /// The spec cannot say where keys are: the get-keys function decides.
        case unknown
    }

    public enum FindKeys: Sendable {
        /// Keys up to `lastKey` (relative to the first key; negative counts from the end,
        /// or with `limit` > 0 covers 1/limit of the remaining arguments), every `keyStep`.
        case range(lastKey: Int, keyStep: Int, limit: Int)
        /// A count at `keyNumIndex` (relative to the first key), keys from `firstKey` on.
        case keynum(keyNumIndex: Int, firstKey: Int, keyStep: Int)
        case unknown
    }

    public let flags: KeyFlags
    public let beginSearch: BeginSearch
    public let findKeys: FindKeys

    public init(flags: KeyFlags, beginSearch: BeginSearch, findKeys: FindKeys) {
        self.flags = flags
        self.beginSearch = beginSearch
        self.findKeys = findKeys
    }

    /// The specs of a COMMAND INFO element (its 9th field), parsed once at registration.
    static func parse(_ info: RESPValue) -> [KeySpec] {
        let e = info.elements
        guard e.count > 8 else { return [] }
        return e[8].elements.map { spec in
            var flags: KeyFlags = []
            for f in spec["flags"]?.elements ?? [] { if let t = f.text, let k = KeyFlags.named(t) { flags.insert(k) } }
            var begin = BeginSearch.unknown, find = FindKeys.unknown
            if let bs = spec["begin_search"], let s = bs["spec"] {
                switch bs["type"]?.text {
                case "index": begin = .index(s["index"]?.int ?? 0)
                case "keyword":
                    begin = .keyword(Array((s["keyword"]?.text ?? "").lowercased().utf8), startFrom: s["startfrom"]?.int ?? 0)
                default: break
                }
            }
            if let fk = spec["find_keys"], let s = fk["spec"] {
                // A step below 1 would never advance; the catalog has none, hostile data might.
                switch fk["type"]?.text {
                case "range":
                    find = .range(lastKey: s["lastkey"]?.int ?? 0, keyStep: max(1, s["keystep"]?.int ?? 1), limit: s["limit"]?.int ?? 0)
                case "keynum":
                    find = .keynum(keyNumIndex: s["keynumidx"]?.int ?? 0, firstKey: s["firstkey"]?.int ?? 1, keyStep: max(1, s["keystep"]?.int ?? 1))
                default: break
                }
            }
            return KeySpec(flags: flags, beginSearch: begin, findKeys: find)
        }
    }
}

/// Redis 7.0's get-keys functions: the rule a command's own parser follows when its key
/// specs cannot describe a call (or, with variable_flags, cannot give the key's flags).
public enum KeyFunction: Sendable, Equatable {
    case none
    /// A key count at `countAt` read leniently (C atoi), that many keys from `firstKeyAt`,
    /// then the destination at `destinationAt` (0: none); no flags (genericGetKeys).
    /// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE, ZUNION/ZINTER/ZDIFF, ZINTERCARD, SINTERCARD,
    /// LMPOP/BLMPOP/ZMPOP/BZMPOP, EVAL/EVALSHA(_RO), FCALL(_RO).
    case keyCount(countAt: Int, firstKeyAt: Int, destinationAt: Int)
    /// SORT: the key, and the destination of the last STORE (LIMIT/GET/BY skip their arguments).
    case sort
    /// SORT_RO: the key only.
    case sortReadOnly
    /// MIGRATE: the key, or with KEYS (and an empty key argument) every argument after it.
    case migrate
    /// GEORADIUS/GEORADIUSBYMEMBER: the key, and the last STORE/STOREDIST destination.
    case georadius
    /// XREAD/XREADGROUP: the first half of the arguments after STREAMS.
    case streams
    /// SET: overwritten, or read and updated with GET.
    case set
    /// BITFIELD: read-only when it only GETs.
    case bitfield

    /// Which commands have a get-keys function in Redis 7.0 (a fact of its command table).
    static func of(_ name: String) -> KeyFunction {
        switch name {
        case "zunionstore", "zinterstore", "zdiffstore": return .keyCount(countAt: 2, firstKeyAt: 3, destinationAt: 1)
        case "zunion", "zinter", "zdiff", "zintercard", "sintercard", "lmpop", "zmpop":
            return .keyCount(countAt: 1, firstKeyAt: 2, destinationAt: 0)
        case "blmpop", "bzmpop", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
            return .keyCount(countAt: 2, firstKeyAt: 3, destinationAt: 0)
        case "sort": return .sort
        case "sort_ro": return .sortReadOnly
        case "migrate": return .migrate
        case "georadius", "georadiusbymember": return .georadius
        case "xread", "xreadgroup": return .streams
        case "set": return .set
        case "bitfield": return .bitfield
        default: return .none
        }
    }
}

/// A key argument of a concrete call: its index in the call's arguments and its flags.
public struct KeyReference: Equatable, Sendable {
    public let index: Int
    public let flags: KeyFlags
    public init(index: Int, flags: KeyFlags) { self.index = index; self.flags = flags }
}

/// The key finder of one command (built once, stored in `Command.keyFinder`).
public struct KeyFinder: Sendable {
    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Also return not_key arguments (shard channels), for cluster routing.
        public static let includeNotKeys = Options(rawValue: 1 << 0)
        /// Keep the keys of the specs that could be followed (ACL checks), instead of
        /// dropping everything when one spec cannot describe the call.
        public static let returnPartial = Options(rawValue: 1 << 1)
    }

    public let specs: [KeySpec]
    public let function: KeyFunction
    /// Some spec names real keys (not only not_key arguments).
    public let hasKeySpecs: Bool
    /// Some spec has variable_flags: the get-keys function gives the flags, specs are skipped.
    public let hasVariableFlags: Bool

    public init(specs: [KeySpec], function: KeyFunction) {
        self.specs = specs
        self.function = function
        hasKeySpecs = specs.contains { !$0.flags.contains(.notKey) }
        hasVariableFlags = specs.contains { $0.flags.contains(.variableFlags) }
    }

    /// Whether the command takes keys at all (Redis's doesCommandHaveKeys): COMMAND GETKEYS
    /// answers "The command has no key arguments" otherwise.
    public var hasKeys: Bool { function != .none || hasKeySpecs }

    /// Calls `body` with (argument index, flags) for every key of the call `a` (a[0] is the
    /// command name) and returns how many there were. Allocates nothing; `body` is not
    /// called at all when the call has no valid keys.
    @discardableResult
    public func forEachKey(_ a: Args, options: Options = [], _ body: (Int, KeyFlags) -> Void) -> Int {
        let useSpecs = options.contains(.includeNotKeys) ? !specs.isEmpty : hasKeySpecs
        if useSpecs && !hasVariableFlags {
            if options.contains(.returnPartial) {
                if let n = walkSpecs(a, options, body) { return n }
            } else if walkSpecs(a, options, { _, _ in }) != nil {
                // Validated first so that a spec failing late leaves nothing half-reported.
                return walkSpecs(a, options, body) ?? 0
            }
        }
        return walkFunction(a, body)
    }

    /// Every key of the call, in order (COMMAND GETKEYS and tests).
    public func keys(_ a: Args, options: Options = []) -> [KeyReference] {
        var out: [KeyReference] = []
        forEachKey(a, options: options) { out.append(KeyReference(index: $0, flags: $1)) }
        return out
    }

    /// Follows the specs (Redis's getKeysUsingKeySpecs); nil when one cannot describe the
    /// call (without `.returnPartial`, where such a spec is skipped instead).
    func walkSpecs(_ a: Args, _ options: Options, _ body: (Int, KeyFlags) -> Void) -> Int? {
        let argc = a.count
        let partial = options.contains(.returnPartial)
        var found = 0
        for s in 0..<specs.count {
            let spec = specs[s]
            if spec.flags.contains(.notKey) && !options.contains(.includeNotKeys) { continue }
            var first: Int
            switch spec.beginSearch {
            case .index(let i):
                first = i
            case .keyword(let word, let startFrom):
                guard let at = KeyFinder.keywordPosition(word, startFrom: startFrom, a) else { continue }
                first = at + 1
            case .unknown:
                if partial { continue }
                return nil
            }
            let last: Int, step: Int
            switch spec.findKeys {
            case .range(let lastKey, let keyStep, let limit):
                if lastKey >= 0 { last = first + lastKey }
                else if limit <= 0 { last = argc + lastKey }
                else { last = first + (argc - first) / limit + lastKey }
                step = keyStep
            case .keynum(let keyNumIndex, let firstKey, let keyStep):
                // The count must be a strict integer >= 0; Redis then holds it in a C int.
                let at = first + keyNumIndex
                guard at >= 0, at < argc, let n = Numbers.parseInt(a[at]), n >= 0 else {
                    if partial { continue }
                    return nil
                }
                first += firstKey
                last = first + Int(Int32(truncatingIfNeeded: n)) - 1
                step = keyStep
            case .unknown:
                if partial { continue }
                return nil
            }
            if last >= argc || last < first || first >= argc || first < 1 {
                if partial { continue }
                return nil
            }
            var i = first
            while i <= last {
                body(i, spec.flags)
                found += 1
                i += step
            }
            if spec.flags.contains(.incomplete) && !partial { return nil }
        }
        return found
    }

    /// Where `word` is among the arguments (Redis searches forward from startFrom up to,
    /// not including, the last argument, or backward from argc+startFrom down to, not
    /// including, argument 1).
    static func keywordPosition(_ word: [UInt8], startFrom: Int, _ a: Args) -> Int? {
        let argc = a.count
        if startFrom > 0 {
            var i = startFrom
            while i < argc - 1 {
                if KeyFinder.isWord(a[i], word) { return i }
                i += 1
            }
        } else {
            var i = argc + startFrom
            while i > 1 {
                if i < argc && KeyFinder.isWord(a[i], word) { return i }
                i -= 1
            }
        }
        return nil
    }

    /// The get-keys function's answer (0 keys when the call is a syntax error to it).
    func walkFunction(_ a: Args, _ body: (Int, KeyFlags) -> Void) -> Int {
        let argc = a.count
        switch function {
        case .none:
            return 0
        case .keyCount(let countAt, let firstKeyAt, let destinationAt):
            guard countAt < argc else { return 0 }
            let n = KeyFinder.atoi(a[countAt])
            guard n >= 1, n <= argc - firstKeyAt else { return 0 }
            for i in 0..<n { body(firstKeyAt + i, []) }
            if destinationAt > 0 { body(destinationAt, []); return n + 1 }
            return n
        case .sort, .sortReadOnly:
            guard argc > 1 else { return 0 }
            body(1, [.ro, .access])
            guard function == .sort else { return 1 }
            // Options with arguments are skipped; any other word is looked at alone, so
            // the argument after STORE is itself examined (Redis's sortGetKeys).
            var destination = -1
            var i = 2
            while i < argc {
                let arg = a[i]
                if KeyFinder.isWord(arg, "limit") { i += 2 }
                else if KeyFinder.isWord(arg, "get") || KeyFinder.isWord(arg, "by") { i += 1 }
                else if KeyFinder.isWord(arg, "store") && i + 1 < argc { destination = i + 1 }
                i += 1
            }
            if destination < 0 { return 1 }
            body(destination, [.ow, .update])
            return 2
        case .migrate:
            var first = 3, count = 1
            if argc > 6 {
                var i = 6
                while i < argc {
                    let arg = a[i]
                    if KeyFinder.isWord(arg, "keys") {
                        // KEYS requires an empty key argument; otherwise the call is an error.
                        guard a.length(3) == 0 else { return 0 }
                        first = i + 1
                        count = argc - first
                        break
                    }
                    if KeyFinder.isWord(arg, "auth") { i += 1 }
                    else if KeyFinder.isWord(arg, "auth2") { i += 2 }
                    i += 1
                }
            }
            guard first + count <= argc else { return 0 }
            for i in 0..<count { body(first + i, [.rw, .access, .delete]) }
            return count
        case .georadius:
            guard argc > 1 else { return 0 }
            var destination = -1
            var i = 5
            while i < argc {
                let arg = a[i]
                if (KeyFinder.isWord(arg, "store") || KeyFinder.isWord(arg, "storedist")) && i + 1 < argc {
                    destination = i + 1
                    i += 1
                }
                i += 1
            }
            body(1, [.ro, .access])
            if destination < 0 { return 1 }
            body(destination, [.ow, .update])
            return 2
        case .streams:
            var streamsAt = -1
            var i = 1
            while i < argc {
                let arg = a[i]
                if KeyFinder.isWord(arg, "block") || KeyFinder.isWord(arg, "count") { i += 2; continue }
                if KeyFinder.isWord(arg, "group") { i += 3; continue }
                if KeyFinder.isWord(arg, "noack") { i += 1; continue }
                if KeyFinder.isWord(arg, "streams") { streamsAt = i }
                break
            }
            let rest = argc - streamsAt - 1
            guard streamsAt > 0, rest > 0, rest % 2 == 0 else { return 0 }
            let n = rest / 2
            for k in 0..<n { body(streamsAt + 1 + k, [.ro, .access]) }
            return n
        case .set:
            guard argc > 1 else { return 0 }
            var i = 3
            while i < argc {
                if KeyFinder.isWord(a[i], "get") { body(1, [.rw, .access, .update]); return 1 }
                i += 1
            }
            body(1, [.ow, .update])
            return 1
        case .bitfield:
            guard argc > 1 else { return 0 }
            var readOnly = true
            var i = 2
            while i < argc {
                let rest = argc - i - 1
                let arg = a[i]
                if KeyFinder.isWord(arg, "get") && rest >= 2 { i += 3; continue }
                if KeyFinder.isWord(arg, "overflow") && rest >= 1 { i += 2; continue }
                // SET/INCRBY, or anything the parser would refuse: not read-only.
                readOnly = false
                break
            }
            body(1, readOnly ? [.ro, .access] : [.rw, .access, .update])
            return 1
        }
    }

    /// Case-insensitive comparison with a lowercase word, as C's strcasecmp sees the
    /// argument: it ends at its first NUL byte.
    @inline(__always) static func isWord(_ arg: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        word.withUTF8Buffer { isWord(arg, UnsafeRawBufferPointer($0)) }
    }

    static func isWord(_ arg: UnsafeRawBufferPointer, _ word: [UInt8]) -> Bool {
        word.withUnsafeBytes { isWord(arg, $0) }
    }

    static func isWord(_ arg: UnsafeRawBufferPointer, _ word: UnsafeRawBufferPointer) -> Bool {
        let n = word.count
        guard arg.count >= n else { return false }
        if arg.count > n && arg[n] != 0 { return false }
        for i in 0..<n {
            var ch = arg[i]
            if ch >= 65 && ch <= 90 { ch |= 0x20 }
            if ch != word[i] { return false }
        }
        return true
    }

    /// C's atoi as the get-keys functions use it: leading blanks, a sign, digits up to the
    /// first other byte; strtol clamps to 64 bits, then the value is truncated to an int.
    static func atoi(_ b: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i < b.count && (b[i] == 32 || (b[i] >= 9 && b[i] <= 13)) { i += 1 }
        var negative = false
        if i < b.count && (b[i] == 45 || b[i] == 43) { negative = b[i] == 45; i += 1 }
        var v = 0
        var clamped = false
        while i < b.count && b[i] >= 48 && b[i] <= 57 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b[i] - 48))
            if o1 || o2 { clamped = true; break }
            v = s
            i += 1
        }
        let long = clamped ? (negative ? Int.min : Int.max) : (negative ? -v : v)
        return Int(Int32(truncatingIfNeeded: long))
    }
}
