#if canImport(Glibc)
import Glibc
#endif

/// `tern-server --check-rdb FILE` (or the binary invoked as tern-check-rdb): walks an RDB
/// file the way redis-check-rdb 7.0 does and prints the same report: `[offset N] ...` lines
/// (N = bytes consumed when the line is printed), AUX fields, DB selections, the checksum
/// verdict, and on a problem `--- RDB ERROR DETECTED ---` with what it was doing, the key and
/// type being read, and the key counters. Exit status 0 when the file is good, 1 otherwise.
/// An AOF base file (`*.base.rdb`) is an ordinary RDB file and is checked the same way.
///
/// Values are decoded with Tern's reader and deep validation, so every packed blob is
/// checked. Differences from redis-check-rdb: a value Tern rejects is reported as
/// `Internal error in RDB reading offset 0, function at tern-server -> REASON` where Redis
/// names its source line and words the reason its own way; stream and function
/// records are reported as unsupported (Tern does not load them yet); module values and
/// module AUX data are walked by their opcodes as redis-check-rdb walks them.
public enum RDBCheck {
    static let typeNames = [
        "string", "list-linked", "set-hashtable", "zset-v1", "hash-hashtable", "zset-v2",
        "module-value", "", "", "hash-zipmap", "list-ziplist", "set-intset",
        "zset-ziplist", "hash-ziplist", "quicklist", "stream", "hash-listpack", "zset-listpack",
        "quicklist-v2",
    ]

    enum Doing: String {
        case start = "start", readType = "read-type", readExpire = "read-expire", readKey = "read-key"
        case readValue = "read-object-value", checksum = "check-sum", readLen = "read-len"
        case readAux = "read-aux", readModuleAux = "read-module-aux", readFunction = "read-functions"
    }

    /// Checks `path`, writing the report with `emit` (one line per call, no newline).
    /// `corrupt` is set when a value could not be decoded: redis-check-rdb then also logs
    /// "Terminating server after rdb file reading failure." (its loader's exit path).
    public static func run(path: String, nowMs: Int64, corrupt: inout Bool, emit: ([UInt8]) -> Void) -> Int32 {
        var doing = Doing.start
        // redis-check-rdb's state starts at type 0 and forgets it after each key.
        var keyType = 0
        var key: [UInt8]? = nil
        var keys = 0, expires = 0, alreadyExpired = 0
        var offset = 0

        func line(_ s: String) { emit(Array(s.utf8)) }
        func info(_ s: String) { line("[offset \(offset)] \(s)") }
        func generic() {
            line("[info] \(keys) keys read")
            line("[info] \(expires) expires")
            line("[info] \(alreadyExpired) already expired")
        }
        func error(_ msg: String) -> Int32 {
            line("--- RDB ERROR DETECTED ---")
            info(msg)
            line("[additional info] While doing: \(doing.rawValue)")
            if let key { emit(Array("[additional info] Reading key '".utf8) + cString(key) + Array("'".utf8)) }
            if keyType >= 0 {
                let name = keyType < typeNames.count ? typeNames[keyType] : "unknown"
                line("[additional info] Reading type \(keyType) (\(name))")
            }
            generic()
            return 1
        }

        info("Checking RDB file \(path)")
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return 1 }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        close(fd)

        guard data.count >= 9 else { return error("Unexpected EOF reading RDB file") }
        offset = 9
        guard Array(data[0..<5]) == Array("REDIS".utf8) else {
            return error("Wrong signature trying to load DB from file")
        }
        // atoi over the 4 version digits.
        var version = 0
        for b in data[5..<9] {
            guard b >= 0x30 && b <= 0x39 else { break }
            version = version * 10 + Int(b - 0x30)
        }
        guard version >= 1 && version <= Int(rdbVersion) else {
            return error("Can't handle RDB format version \(version)")
        }

        var r = RDBValueReader(data, start: 9, deep: true)
        var expireAt: Int64 = -1
        func failure(_ e: Error) -> Int32 {
            offset = r.pos
            guard let e = e as? RDBError else { return error("\(e)") }
            switch e.kind {
            case .truncated, .emptyKey: return error("Unexpected EOF reading RDB file")
            case .corrupt:
                corrupt = true
                return error("Internal error in RDB reading offset 0, function at tern-server -> \(e.message)")
            }
        }
        do {
            loop: while true {
                doing = .readType
                let t = try r.readByte()
                offset = r.pos
                switch t {
                case RDBOpcode.expireTime:
                    doing = .readExpire
                    expireAt = Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: try r.readLE(4)))) * 1000
                    continue
                case RDBOpcode.expireTimeMs:
                    doing = .readExpire
                    expireAt = Int64(bitPattern: try r.readLE(8))
                    continue
                case RDBOpcode.freq:
                    _ = try r.readByte()
                    continue
                case RDBOpcode.idle:
                    _ = try r.readLength()
                    continue
                case RDBOpcode.eof:
                    break loop
                case RDBOpcode.selectDB:
                    doing = .readLen
                    let id = try r.readLength()
                    offset = r.pos
                    info("Selecting DB ID \(id)")
                    continue
                case RDBOpcode.resizeDB:
                    doing = .readLen
                    _ = try r.readLength()
                    _ = try r.readLength()
                    continue
                case RDBOpcode.aux:
                    doing = .readAux
                    let k = try r.readString()
                    let v = try r.readString()
                    offset = r.pos
                    emit(Array("[offset \(offset)] AUX FIELD ".utf8) + cString(k) + Array(" = '".utf8) + cString(v) + Array("'".utf8))
                    continue
                case RDBOpcode.moduleAux:
                    doing = .readModuleAux
                    let id = UInt64(try r.readLength())
                    let whenOpcode = try r.readLength()
                    _ = try r.readLength()
                    offset = r.pos
                    guard whenOpcode == 2 else { return error("bad when_opcode") }
                    let name = moduleTypeName(id)
                    info("MODULE AUX for: \(name)")
                    try skipModuleValue(&r, name: name)
                    continue
                case RDBOpcode.function, RDBOpcode.function2:
                    doing = .readFunction
                    return error("Failed loading library, functions are not supported yet")
                default:
                    guard RDBType.isObjectType(t) else { return error("Invalid object type: \(t)") }
                    keyType = Int(t)
                }
                doing = .readKey
                let k = try r.readString()
                key = k
                keys += 1
                doing = .readValue
                if t == RDBType.module || t == RDBType.module2 {
                    // Redis's checker reads the module id, then walks a MODULE_2 value's
                    // opcodes without the module; a pre-GA module value is refused by name.
                    let id = UInt64(try r.readLength())
                    let name = moduleTypeName(id)
                    if t == RDBType.module {
                        return failure(RDBError("The RDB file contains module data I can't load: no matching module type '\(name)'", at: r.pos))
                    }
                    try skipModuleValue(&r, name: name)
                } else {
                    _ = try r.readObject(type: t)
                }
                if expireAt != -1 && expireAt < nowMs { alreadyExpired += 1 }
                if expireAt != -1 { expires += 1 }
                key = nil
                keyType = -1
                expireAt = -1
            }
            if version >= 5 {
                doing = .checksum
                let end = r.pos
                let stored = try r.readLE(8)
                offset = r.pos
                if stored == 0 {
                    info("RDB file was saved with checksum disabled: no check performed.")
                } else {
                    let crc = data.withUnsafeBytes { CRC64.update(0, UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
                    if crc != stored { return error("RDB CRC error") }
                    info("Checksum OK")
                }
            }
        } catch {
            return failure(error)
        }
        offset = r.pos
        info("\\o/ RDB looks OK! \\o/")
        generic()
        return 0
    }

    /// A module type's 9-character name from its 64-bit id (6 bits per character, the low 10
    /// bits are the encoding version), as Redis derives it.
    static func moduleTypeName(_ id: UInt64) -> String {
        let set = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var v = id >> 10
        var out = [Character](repeating: "A", count: 9)
        for j in stride(from: 8, through: 0, by: -1) {
            out[j] = set[Int(v & 63)]
            v >>= 6
        }
        return String(out)
    }

    /// A module value read without its module: opcodes (0 end, 1/2 integer, 3 float, 4 double,
    /// 5 string; others skipped) until the end opcode. Redis's checker loops for ever when the
    /// file ends inside one; Tern reports the short read.
    static func skipModuleValue(_ r: inout RDBValueReader, name: String) throws {
        while true {
            let op = try r.readLength()
            switch op {
            case 0: return
            case 1, 2:
                do { _ = try r.readLength() } catch {
                    throw RDBError("Error reading integer from module \(name) value", at: r.pos)
                }
            case 3:
                do { _ = try r.readLE(4) } catch {
                    throw RDBError("Error reading float from module \(name) value", at: r.pos)
                }
            case 4:
                do { _ = try r.readLE(8) } catch {
                    throw RDBError("Error reading double from module \(name) value", at: r.pos)
                }
            case 5:
                do { _ = try r.readString() } catch {
                    throw RDBError("Error reading string from module \(name) value", at: r.pos)
                }
            default: continue
            }
        }
    }

    /// What C's %s prints of a string: the bytes before the first NUL.
    static func cString(_ b: [UInt8]) -> [UInt8] {
        if let z = b.firstIndex(of: 0) { return Array(b[..<z]) }
        return b
    }
}
