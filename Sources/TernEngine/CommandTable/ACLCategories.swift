/// Redis's 21 ACL command categories as a bitset, parsed once from the catalog into
/// `Command.aclCategories`, so an ACL check is one AND.
public struct ACLCategories: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let keyspace = ACLCategories(rawValue: 1 << 0)
    public static let read = ACLCategories(rawValue: 1 << 1)
    public static let write = ACLCategories(rawValue: 1 << 2)
    public static let set = ACLCategories(rawValue: 1 << 3)
    public static let sortedset = ACLCategories(rawValue: 1 << 4)
    public static let list = ACLCategories(rawValue: 1 << 5)
    public static let hash = ACLCategories(rawValue: 1 << 6)
    public static let string = ACLCategories(rawValue: 1 << 7)
    public static let bitmap = ACLCategories(rawValue: 1 << 8)
    public static let hyperloglog = ACLCategories(rawValue: 1 << 9)
    public static let geo = ACLCategories(rawValue: 1 << 10)
    public static let stream = ACLCategories(rawValue: 1 << 11)
    public static let pubsub = ACLCategories(rawValue: 1 << 12)
    public static let admin = ACLCategories(rawValue: 1 << 13)
    public static let fast = ACLCategories(rawValue: 1 << 14)
    public static let slow = ACLCategories(rawValue: 1 << 15)
    public static let blocking = ACLCategories(rawValue: 1 << 16)
    public static let dangerous = ACLCategories(rawValue: 1 << 17)
    public static let connection = ACLCategories(rawValue: 1 << 18)
    public static let transaction = ACLCategories(rawValue: 1 << 19)
    public static let scripting = ACLCategories(rawValue: 1 << 20)

    /// Names without the '@', in the order ACL CAT lists them.
    public static let names: [(String, ACLCategories)] = [
        ("keyspace", .keyspace), ("read", .read), ("write", .write), ("set", .set),
        ("sortedset", .sortedset), ("list", .list), ("hash", .hash), ("string", .string),
        ("bitmap", .bitmap), ("hyperloglog", .hyperloglog), ("geo", .geo), ("stream", .stream),
        ("pubsub", .pubsub), ("admin", .admin), ("fast", .fast), ("slow", .slow),
        ("blocking", .blocking), ("dangerous", .dangerous), ("connection", .connection),
        ("transaction", .transaction), ("scripting", .scripting),
    ]

    /// The category called `name` (case-insensitive, without '@'), nil when unknown.
    public static func named(_ name: String) -> ACLCategories? {
        let lower = name.lowercased()
        return names.first { $0.0 == lower }?.1
    }

    /// Categories of a COMMAND INFO element ("@read" ... in its 7th field).
    static func parse(_ info: RESPValue) -> ACLCategories {
        let e = info.elements
        guard e.count > 6 else { return [] }
        var out: ACLCategories = []
        for v in e[6].elements {
            guard let t = v.text, t.hasPrefix("@"), let c = named(String(t.dropFirst())) else { continue }
            out.insert(c)
        }
        return out
    }
}
