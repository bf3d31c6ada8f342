import CTern
import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerBitmapCommands() {
        commands.register("setbit", BitmapCommands.setbit)
        commands.register("getbit", BitmapCommands.getbit)
        commands.register("bitcount", BitmapCommands.bitcount)
        commands.register("bitpos", BitmapCommands.bitpos)
        commands.register("bitop", BitmapCommands.bitop)
        commands.register("bitfield", BitmapCommands.bitfield)
        commands.register("bitfield_ro", BitmapCommands.bitfieldRO)
    }
}

/// Bitmap commands (bitops.c): strings seen as bit arrays, bit 0 = MSB of byte 0.
public enum BitmapCommands {
    static let bitOffsetError = "ERR bit offset is not an integer or out of range"

    /// Parses a bit offset (`#n` = n * bits when `bits` > 0, BITFIELD only). Offsets whose
    /// byte is at or beyond proto-max-bulk-len are refused.
    static func bitOffset(_ c: Client, _ a: Args, _ i: Int, bits: Int = 0) -> Int? {
        let b = a[i]
        let hash = bits > 0 && b.count > 0 && b[0] == 35 // '#'
        let digits = hash ? UnsafeRawBufferPointer(rebasing: b[1...]) : b
        guard var v = Numbers.parseInt(digits) else { c.error(bitOffsetError); return nil }
        if hash { v = v &* bits }
        if v < 0 || (v >> 3) >= StringCommands.maxStringLength(c) { c.error(bitOffsetError); return nil }
        return v
    }

    /// lookupStringForBitCommand: the string at `key` (created zeroed when missing) grown
    /// so that byte `maxBit >> 3` exists, encoded raw. Returns nil after a WRONGTYPE reply.
    /// `grew` tells whether the key was created or lengthened.
    static func stringForBitWrite(_ c: Client, _ key: UnsafeRawBufferPointer, maxBit: Int) -> (Entry, Bool)? {
        let need = (maxBit >> 3) + 1
        var e: Entry
        var grew = false
        if let found = c.lookupWrite(key) {
            if found.isObject { c.wrongType(); return nil }
            e = found
        } else {
            e = c.db.setString(key, UnsafeRawBufferPointer(start: nil, count: 0), encoding: .raw, keepTTL: false,
                               lru: c.engine.objectLRU)
            grew = true
        }
        if e.stringValue.count < need {
            e = c.db.resizeString(e, to: need)
            grew = true
        }
        e.encoding = .raw
        return (e, grew)
    }

    // MARK: SETBIT / GETBIT

    static func setbit(_ c: Client, _ a: Args) {
        let key = a[1]
        guard let offset = bitOffset(c, a, 2) else { return }
        guard let on = Numbers.parseInt(a[3]), on & ~1 == 0 else {
            c.error("ERR bit is not an integer or out of range")
            return
        }
        guard let (e, grew) = stringForBitWrite(c, key, maxBit: offset) else { return }
        let p = e.mutableStringValue.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let byte = offset >> 3
        let mask = UInt8(1) << UInt8(7 - (offset & 7))
        let old = p[byte] & mask != 0
        if grew || old != (on == 1) {
            if on == 1 { p[byte] |= mask } else { p[byte] &= ~mask }
            c.keyModified(key)
            c.notify(.string, "setbit", key)
            c.engine.dirty += 1
        }
        c.out.integer(old ? 1 : 0)
    }

    static func getbit(_ c: Client, _ a: Args) {
        guard let offset = bitOffset(c, a, 2) else { return }
        guard let e = c.lookupRead(a[1]) else { c.out.integer(0); return }
        if e.isObject { c.wrongType(); return }
        let s = e.stringValue
        let byte = offset >> 3
        var bit = 0
        if byte < s.count && s[byte] & (UInt8(1) << UInt8(7 - (offset & 7))) != 0 { bit = 1 }
        c.out.integer(bit)
    }

    // MARK: BITCOUNT

    /// Number of set bits in p[0..<n].
    static func popcount(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        var count = 0
        var i = 0
        while i + 32 <= n {
            count &+= p.loadUnaligned(fromByteOffset: i, as: UInt64.self).nonzeroBitCount
            count &+= p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self).nonzeroBitCount
            count &+= p.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self).nonzeroBitCount
            count &+= p.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self).nonzeroBitCount
            i += 32
        }
        while i + 8 <= n {
            count &+= p.loadUnaligned(fromByteOffset: i, as: UInt64.self).nonzeroBitCount
            i += 8
        }
        while i < n {
            count &+= p.load(fromByteOffset: i, as: UInt8.self).nonzeroBitCount
            i += 1
        }
        return count
    }

    /// Parses a BYTE|BIT unit word; nil after a syntax error reply.
    static func rangeUnitIsBit(_ c: Client, _ a: Args, _ i: Int) -> Bool? {
        if a.optionIs(i, "bit") { return true }
        if a.optionIs(i, "byte") { return false }
        c.syntaxError()
        return nil
    }

    static func bitcount(_ c: Client, _ a: Args) {
        // Redis 7.0 looks the key up before it parses the range.
        guard let entry = c.lookupRead(a[1]) else { c.out.integer(0); return }
        if entry.isObject { c.wrongType(); return }
        var start = 0, end = 0, isBit = false
        let hasRange = a.count == 4 || a.count == 5
        if hasRange {
            guard let s = Numbers.parseInt(a[2]), let e = Numbers.parseInt(a[3]) else { c.notInteger(); return }
            start = s; end = e
            // Redis 7.0.15 answers 0 for an empty negative range before it looks at BIT|BYTE.
            if start < 0 && end < 0 && start > end { c.out.integer(0); return }
            if a.count == 5 {
                guard let u = rangeUnitIsBit(c, a, 4) else { return }
                isBit = u
            }
        } else if a.count != 2 {
            c.syntaxError()
            return
        }
        let s = entry.stringValue
        let n = s.count
        if !hasRange {
            c.out.integer(n == 0 ? 0 : popcount(s.baseAddress!, n))
            return
        }
        if start < 0 && end < 0 && start > end { c.out.integer(0); return }
        let len = isBit ? n << 3 : n
        if start < 0 { start = len + start }
        if end < 0 { end = len + end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= len { end = len - 1 }
        if start > end { c.out.integer(0); return }
        let p = s.baseAddress!
        if !isBit {
            c.out.integer(popcount(p + start, end - start + 1))
            return
        }
        let sb = start >> 3, eb = end >> 3
        var count = popcount(p + sb, eb - sb + 1)
        // Remove the bits of the edge bytes that lie outside [start, end].
        let first = p.load(fromByteOffset: sb, as: UInt8.self) & ~(UInt8(0xFF) >> UInt8(start & 7))
        let last = p.load(fromByteOffset: eb, as: UInt8.self) & (UInt8(0xFF) >> UInt8((end & 7) + 1))
        count -= first.nonzeroBitCount + last.nonzeroBitCount
        c.out.integer(count)
    }

    // MARK: BITPOS

    /// First bit equal to `bit` among bit positions [from, through] of p, or nil.
    static func findBit(_ p: UnsafeRawPointer, from: Int, through: Int, bit: Bool) -> Int? {
        var pos = from
        let skip: UInt8 = bit ? 0x00 : 0xFF
        let q = p.assumingMemoryBound(to: UInt8.self)
        while pos <= through {
            if pos & 7 == 0 {
                // Whole bytes (and words) with nothing of interest are skipped at once.
                let skipWord: UInt64 = bit ? 0 : ~0
                while pos + 64 <= through + 1 && p.loadUnaligned(fromByteOffset: pos >> 3, as: UInt64.self) == skipWord {
                    pos += 64
                }
                while pos + 8 <= through + 1 && q[pos >> 3] == skip { pos += 8 }
                if pos > through { break }
            }
            let v = q[pos >> 3] & (UInt8(0x80) >> UInt8(pos & 7))
            if (v != 0) == bit { return pos }
            pos += 1
        }
        return nil
    }

    static func bitpos(_ c: Client, _ a: Args) {
        guard let bitArg = Numbers.parseInt(a[2]) else { c.notInteger(); return }
        if bitArg != 0 && bitArg != 1 { c.error("ERR The bit argument must be 1 or 0."); return }
        let bit = bitArg == 1
        guard let entry = c.lookupRead(a[1]) else { c.out.integer(bit ? -1 : 0); return }
        if entry.isObject { c.wrongType(); return }
        let s = entry.stringValue
        let n = s.count
        var startBit = 0, endBit = n * 8 - 1
        var endGiven = false
        if a.count >= 4 && a.count <= 6 {
            guard var start = Numbers.parseInt(a[3]) else { c.notInteger(); return }
            var isBit = false
            if a.count == 6 {
                guard let u = rangeUnitIsBit(c, a, 5) else { return }
                isBit = u
            }
            var end: Int
            if a.count >= 5 {
                guard let e = Numbers.parseInt(a[4]) else { c.notInteger(); return }
                end = e
                endGiven = true
            } else {
                end = isBit ? (n << 3) + 7 : n - 1
            }
            let len = isBit ? n << 3 : n
            if start < 0 { start = len + start }
            if end < 0 { end = len + end }
            if start < 0 { start = 0 }
            if end < 0 { end = 0 }
            if end >= len { end = len - 1 }
            if start > end { c.out.integer(-1); return }
            if isBit {
                startBit = start; endBit = end
            } else {
                startBit = start << 3; endBit = (end << 3) + 7
            }
        } else if a.count != 3 {
            c.syntaxError()
            return
        }
        if startBit > endBit { c.out.integer(-1); return }
        if let pos = findBit(s.baseAddress!, from: startBit, through: endBit, bit: bit) {
            c.out.integer(pos)
        } else if bit || endGiven {
            c.out.integer(-1)
        } else {
            // Looking for a 0 with an open end: the string continues with zeros.
            c.out.integer(endBit + 1)
        }
    }

    // MARK: BITOP

    static func bitop(_ c: Client, _ a: Args) {
        enum Op { case and, or, xor, not }
        let op: Op
        if a.optionIs(1, "and") { op = .and }
        else if a.optionIs(1, "or") { op = .or }
        else if a.optionIs(1, "xor") { op = .xor }
        else if a.optionIs(1, "not") { op = .not }
        else { c.syntaxError(); return }
        if op == .not && a.count != 4 {
            c.error("ERR BITOP NOT must be called with a single source key.")
            return
        }
        let dest = a[2]
        var sources: [UnsafeRawBufferPointer] = []
        sources.reserveCapacity(a.count - 3)
        var maxLen = 0
        for i in 3..<a.count {
            if let e = c.lookupRead(a[i]) {
                if e.isObject { c.wrongType(); return }
                let s = e.stringValue
                sources.append(s)
                maxLen = max(maxLen, s.count)
            } else {
                sources.append(UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
        if maxLen == 0 {
            // Like Redis's dbDelete: no lazy-expiry pass on the destination.
            if c.db.delete(dest) {
                c.keyModified(dest)
                c.notify(.generic, "del", dest)
                c.engine.dirty += 1
            }
            c.out.integer(0)
            return
        }
        var result = [UInt8](repeating: 0, count: maxLen)
        result.withUnsafeMutableBytes { r in
            let out = r.baseAddress!
            let first = sources[0]
            if first.count > 0 { memcpy(out, first.baseAddress!, first.count) }
            switch op {
            case .not:
                for i in 0..<maxLen { r[i] = ~r[i] }
            case .and:
                for s in sources.dropFirst() {
                    let n = s.count
                    for i in 0..<n { r[i] &= s[i] }
                    if n < maxLen { memset(out + n, 0, maxLen - n) }
                }
            case .or:
                for s in sources.dropFirst() { for i in 0..<s.count { r[i] |= s[i] } }
            case .xor:
                for s in sources.dropFirst() { for i in 0..<s.count { r[i] ^= s[i] } }
            }
        }
        // setKey's lookupKeyWrite: an expired dest is deleted (and its DEL propagated) first.
        _ = c.lookupWrite(dest)
        _ = result.withUnsafeBytes { r in
            c.db.setString(dest, r, encoding: .raw, keepTTL: false, lru: c.engine.objectLRU)
        }
        c.keyModified(dest)
        c.notify(.string, "set", dest)
        c.engine.dirty += 1
        c.out.integer(maxLen)
    }

    // MARK: BITFIELD

    enum Overflow { case wrap, sat, fail }

    struct FieldOp {
        var kind: UInt8          // 0 get, 1 set, 2 incrby
        var signed: Bool
        var bits: Int
        var offset: Int
        var value: Int
        var overflow: Overflow
    }

    /// Parses `i<n>` / `u<n>` (i1..i64, u1..u63).
    static func fieldType(_ c: Client, _ a: Args, _ i: Int) -> (Bool, Int)? {
        let b = a[i]
        let err = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
        guard b.count > 0 else { c.error(err); return nil }
        let signed: Bool
        switch b[0] {
        case 105: signed = true    // i (lowercase only)
        case 117: signed = false   // u
        default: c.error(err); return nil
        }
        // The width is read as a C string: it stops at an embedded NUL.
        var end = 1
        while end < b.count && b[end] != 0 { end += 1 }
        guard let bits = Numbers.parseInt(UnsafeRawBufferPointer(rebasing: b[1..<end])),
              bits >= 1, bits <= (signed ? 64 : 63) else { c.error(err); return nil }
        return (signed, bits)
    }

    static func readField(_ p: UnsafeRawPointer, _ len: Int, _ offset: Int, _ bits: Int) -> UInt64 {
        let q = p.assumingMemoryBound(to: UInt8.self)
        var v: UInt64 = 0
        for i in 0..<bits {
            let pos = offset + i
            let byte = pos >> 3
            var b: UInt64 = 0
            if byte < len { b = UInt64((q[byte] >> UInt8(7 - (pos & 7))) & 1) }
            v = (v << 1) | b
        }
        return v
    }

    static func writeField(_ p: UnsafeMutableRawPointer, _ offset: Int, _ bits: Int, _ value: UInt64) {
        let q = p.assumingMemoryBound(to: UInt8.self)
        for i in 0..<bits {
            let pos = offset + i
            let mask = UInt8(0x80) >> UInt8(pos & 7)
            if (value >> UInt64(bits - 1 - i)) & 1 != 0 { q[pos >> 3] |= mask } else { q[pos >> 3] &= ~mask }
        }
    }

    @inline(__always) static func signExtend(_ v: UInt64, _ bits: Int) -> Int64 {
        if bits == 64 { return Int64(bitPattern: v) }
        let shift = UInt64(64 - bits)
        return Int64(bitPattern: v << shift) >> Int64(shift)
    }

    /// Signed field arithmetic with Redis's overflow detection. Redis compares the
    /// increment against `max - value` / `min - value` computed with 64-bit wrap-around,
    /// so a SET value far outside the field's range can be judged on the "wrong" side
    /// (e.g. SET i1 with -2^63 saturates to 0); this reproduces that exactly.
    /// Returns the new value, or nil when the policy is FAIL and it overflowed.
    static func signedAdd(_ value: Int64, _ incr: Int64, bits: Int, _ ow: Overflow) -> Int64? {
        let max: Int64 = bits == 64 ? .max : (Int64(1) << Int64(bits - 1)) - 1
        let min: Int64 = -max - 1
        let maxIncr = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
        let minIncr = min &- value
        let high = value > max || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr)
        let low = !high && (value < min || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr))
        if !high && !low { return value &+ incr }
        switch ow {
        case .fail: return nil
        case .sat: return high ? max : min
        case .wrap: return signExtend(UInt64(bitPattern: value) &+ UInt64(bitPattern: incr), bits)
        }
    }

    /// Unsigned field arithmetic (u1..u63) with Redis's overflow detection.
    static func unsignedAdd(_ value: UInt64, _ incr: Int64, bits: Int, _ ow: Overflow) -> UInt64? {
        let max: UInt64 = (UInt64(1) << UInt64(bits)) - 1
        let maxIncr = Int64(bitPattern: max &- value)
        let minIncr = Int64(bitPattern: 0 &- value)
        let high = value > max || (incr > 0 && incr > maxIncr)
        let low = !high && incr < 0 && incr < minIncr
        if !high && !low { return value &+ UInt64(bitPattern: incr) }
        switch ow {
        case .fail: return nil
        case .sat: return high ? max : 0
        case .wrap: return (value &+ UInt64(bitPattern: incr)) & max
        }
    }

    static func bitfield(_ c: Client, _ a: Args) { bitfieldGeneric(c, a, readOnly: false) }
    static func bitfieldRO(_ c: Client, _ a: Args) { bitfieldGeneric(c, a, readOnly: true) }

    static func bitfieldGeneric(_ c: Client, _ a: Args, readOnly: Bool) {
        var ops: [FieldOp] = []
        var overflow = Overflow.wrap
        var writes = false
        var highestBit = 0
        var j = 2
        while j < a.count {
            let remaining = a.count - j - 1
            var kind: UInt8
            if a.optionIs(j, "get") && remaining >= 2 {
                kind = 0
            } else if a.optionIs(j, "set") && remaining >= 3 {
                kind = 1
            } else if a.optionIs(j, "incrby") && remaining >= 3 {
                kind = 2
            } else if a.optionIs(j, "overflow") && remaining >= 1 {
                if a.optionIs(j + 1, "wrap") { overflow = .wrap }
                else if a.optionIs(j + 1, "sat") { overflow = .sat }
                else if a.optionIs(j + 1, "fail") { overflow = .fail }
                else { c.error("ERR Invalid OVERFLOW type specified"); return }
                j += 2
                continue
            } else {
                c.syntaxError()
                return
            }
            guard let (signed, bits) = fieldType(c, a, j + 1) else { return }
            guard let offset = bitOffset(c, a, j + 2, bits: bits) else { return }
            var value = 0
            if kind != 0 {
                writes = true
                highestBit = max(highestBit, offset + bits - 1)
                guard let v = Numbers.parseInt(a[j + 3]) else { c.notInteger(); return }
                value = v
            }
            ops.append(FieldOp(kind: kind, signed: signed, bits: bits, offset: offset, value: value, overflow: overflow))
            j += kind == 0 ? 3 : 4
        }
        let key = a[1]
        var entry: Entry?
        var grew = false
        if !writes {
            if let e = c.lookupRead(key) {
                if e.isObject { c.wrongType(); return }
                entry = e
            }
        } else {
            if readOnly { c.error("ERR BITFIELD_RO only supports the GET subcommand"); return }
            guard let (e, g) = stringForBitWrite(c, key, maxBit: highestBit) else { return }
            entry = e
            grew = g
        }
        c.out.array(ops.count)
        var changes = 0
        for op in ops {
            if op.kind == 0 {
                var raw: UInt64 = 0
                if let e = entry {
                    let s = e.stringValue
                    if let base = s.baseAddress { raw = readField(base, s.count, op.offset, op.bits) }
                }
                c.out.integer(op.signed ? Int(signExtend(raw, op.bits)) : Int(truncatingIfNeeded: raw))
                continue
            }
            let e = entry!   // writes always have an entry
            let s = e.mutableStringValue
            let p = s.baseAddress!
            let raw = readField(p, s.count, op.offset, op.bits)
            let incr = Int64(op.value)
            var reply: Int? = nil
            var stored: UInt64 = 0
            if op.signed {
                let old = signExtend(raw, op.bits)
                if op.kind == 2 {
                    if let nv = signedAdd(old, incr, bits: op.bits, op.overflow) { reply = Int(truncatingIfNeeded: nv); stored = UInt64(bitPattern: nv) }
                } else if let nv = signedAdd(incr, 0, bits: op.bits, op.overflow) {
                    reply = Int(truncatingIfNeeded: old); stored = UInt64(bitPattern: nv)
                }
            } else {
                if op.kind == 2 {
                    if let nv = unsignedAdd(raw, incr, bits: op.bits, op.overflow) { reply = Int(truncatingIfNeeded: nv); stored = nv }
                } else if let nv = unsignedAdd(UInt64(bitPattern: incr), 0, bits: op.bits, op.overflow) {
                    reply = Int(truncatingIfNeeded: raw); stored = nv
                }
            }
            if let r = reply {
                c.out.integer(r)
                writeField(p, op.offset, op.bits, stored)
                // A write that leaves the field as it was is no change (Redis counts only
                // real changes, or any write to a string it created or grew).
                if grew || stored != raw { changes += 1 }
            } else {
                c.out.null()   // OVERFLOW FAIL: nothing written, not counted as a change
            }
        }
        if changes > 0 {
            c.keyModified(key)
            c.notify(.string, "setbit", key)
            c.engine.dirty += changes
        }
    }
}
