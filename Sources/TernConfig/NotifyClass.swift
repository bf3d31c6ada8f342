/// Keyspace notification classes, with Redis's bit values.
public struct NotifyClass: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let keyspace = NotifyClass(rawValue: 1 << 0)   // K
    public static let keyevent = NotifyClass(rawValue: 1 << 1)   // E
    public static let generic = NotifyClass(rawValue: 1 << 2)    // g
    public static let string = NotifyClass(rawValue: 1 << 3)     // $
    public static let list = NotifyClass(rawValue: 1 << 4)       // l
    public static let set = NotifyClass(rawValue: 1 << 5)        // s
    public static let hash = NotifyClass(rawValue: 1 << 6)       // h
    public static let zset = NotifyClass(rawValue: 1 << 7)       // z
    public static let expired = NotifyClass(rawValue: 1 << 8)    // x
    public static let evicted = NotifyClass(rawValue: 1 << 9)    // e
    public static let stream = NotifyClass(rawValue: 1 << 10)    // t
    public static let keyMiss = NotifyClass(rawValue: 1 << 11)   // m
    public static let loaded = NotifyClass(rawValue: 1 << 12)
    public static let module = NotifyClass(rawValue: 1 << 13)    // d
    public static let new = NotifyClass(rawValue: 1 << 14)       // n
}
