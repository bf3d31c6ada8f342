import CTern
#if canImport(Glibc)
import Glibc
#endif

/// Growable output buffer that encodes RESP2/RESP3 replies. One per client; the
/// network layer drains it once per read batch (one write syscall per batch).
public final class ReplyBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var count = 0
    public private(set) var capacity: Int
    /// Protocol version: 2 or 3.
    public var resp = 2

    /// Most bytes held at once since the last `resetPeak` (CLIENT LIST `rbp`); taken when the
    /// buffer is drained, so appends pay nothing. Starts at the capacity, as Redis's buf_peak.
    public private(set) var peak: Int

    public init(capacity: Int = 16 * 1024) {
        self.capacity = capacity
        peak = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// Starts a new peak period at what the buffer holds now.
    public func resetPeak() { peak = count }

    /// Reallocates to exactly `size` bytes (at least what is held): the clients cron shrinks
    /// an idle client's buffer and gives a busy one room, by Redis's reply-buffer rules.
    public func resize(to size: Int) {
        let size = max(size, count, 1)
        guard size != capacity else { return }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        memcpy(nb, base, count)
        base.deallocate()
        base = nb
        capacity = size
    }

    deinit { base.deallocate() }

    @inline(__always) public var isEmpty: Bool { count == 0 }
    @inline(__always) public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    public func removeAll(keepingCapacity: Bool = true) {
        if count > peak { peak = count }
        count = 0
        if !keepingCapacity || capacity > 1 << 20 {
            if capacity > 16 * 1024 {
                base.deallocate()
                capacity = 16 * 1024
                base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
                peak = min(peak, capacity)
            }
        }
    }

    /// Drops the first `n` bytes (after a partial write).
    public func consume(_ n: Int) {
        if count > peak { peak = count }
        if n >= count { count = 0; return }
        memmove(base, base + n, count - n)
        count -= n
    }

    /// Cuts the buffer back to `length` bytes (undo a partially written reply).
    public func truncate(to length: Int) { if length < count { count = length } }

    @inline(__always) func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    func grow(_ need: Int) {
        var c = capacity * 2
        while c < need { c *= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        memcpy(nb, base, count)
        base.deallocate()
        base = nb
        capacity = c
    }

    // MARK: raw appends

    @inline(__always) public func append(_ p: UnsafeRawPointer, _ n: Int) {
        reserve(n)
        memcpy(base + count, p, n)
        count += n
    }

    @inline(__always) public func append(_ b: UnsafeRawBufferPointer) {
        if let p = b.baseAddress, b.count > 0 { append(p, b.count) }
    }

    @inline(__always) public func append(_ s: StaticString) {
        append(UnsafeRawPointer(s.utf8Start), s.utf8CodeUnitCount)
    }

    public func append(_ a: [UInt8]) { a.withUnsafeBytes { append($0) } }

    public func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always) func appendByte(_ c: UInt8) {
        reserve(1)
        base.storeBytes(of: c, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always) func appendCRLF() {
        reserve(2)
        base.storeBytes(of: 0x0a0d as UInt16, toByteOffset: count, as: UInt16.self)
        count += 2
    }

    /// Appends the decimal text of v.
    @inline(__always) public func appendDecimal(_ v: Int) {
        reserve(21)
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let n = withUnsafeMutableBytes(of: &tmp) { t -> Int in
            var u = v < 0 ? UInt64(bitPattern: Int64(v)).magnitudeNeg : UInt64(v)
            var i = 24
            repeat {
                i -= 1
                t[i] = UInt8(48 + u % 10)
                u /= 10
            } while u != 0
            if v < 0 { i -= 1; t[i] = 45 }
            memcpy(base + count, t.baseAddress! + i, 24 - i)
            return 24 - i
        }
        count += n
    }

    @inline(__always) func header(_ prefix: UInt8, _ n: Int) {
        reserve(24)
        base.storeBytes(of: prefix, toByteOffset: count, as: UInt8.self)
        count += 1
        appendDecimal(n)
        appendCRLF()
    }

    // MARK: RESP values

    @inline(__always) public func ok() { append("+OK\r\n" as StaticString) }

    public func simple(_ s: String) {
        appendByte(43)
        append(s)
        appendCRLF()
    }

    /// An error reply; `message` includes its code (e.g. "ERR syntax error").
    /// Newlines are replaced with spaces as Redis does.
    public func error(_ message: String) {
        appendByte(45)
        if message.utf8.contains(where: { $0 == 10 || $0 == 13 }) {
            // Each CR and LF becomes one space, as Redis's addReplyError does.
            append(message.utf8.map { $0 == 10 || $0 == 13 ? 32 : $0 })
        } else {
            append(message)
        }
        appendCRLF()
    }

    @inline(__always) public func integer(_ v: Int) {
        reserve(24)
        base.storeBytes(of: 58, toByteOffset: count, as: UInt8.self)
        count += 1
        appendDecimal(v)
        appendCRLF()
    }

    @inline(__always) public func bulk(_ b: UnsafeRawBufferPointer) {
        header(36, b.count)
        append(b)
        appendCRLF()
    }

    public func bulk(_ a: [UInt8]) { a.withUnsafeBytes { bulk($0) } }

    public func bulk(_ s: String) {
        var s = s
        s.withUTF8 { bulk(UnsafeRawBufferPointer($0)) }
    }

    /// A bulk string holding the decimal text of v.
    public func bulk(decimal v: Int) {
        var tmp = ReplyBuffer.decimalBytes(v)
        tmp.withUnsafeMutableBytes { bulk(UnsafeRawBufferPointer($0)) }
    }

    public static func decimalBytes(_ v: Int) -> [UInt8] { Array(String(v).utf8) }

    /// Null bulk: `$-1` (RESP2) / `_` (RESP3).
    @inline(__always) public func null() {
        if resp >= 3 { append("_\r\n" as StaticString) } else { append("$-1\r\n" as StaticString) }
    }

    /// Null array: `*-1` (RESP2) / `_` (RESP3).
    public func nullArray() {
        if resp >= 3 { append("_\r\n" as StaticString) } else { append("*-1\r\n" as StaticString) }
    }

    @inline(__always) public func array(_ n: Int) { header(42, n) }

    /// Map header: `%n` in RESP3, `*2n` in RESP2.
    public func map(_ n: Int) {
        if resp >= 3 { header(37, n) } else { header(42, 2 * n) }
    }

    /// Set header: `~n` in RESP3, `*n` in RESP2.
    public func set(_ n: Int) {
        if resp >= 3 { header(126, n) } else { header(42, n) }
    }

    /// Push header: `>n` in RESP3, `*n` in RESP2.
    public func push(_ n: Int) {
        if resp >= 3 { header(62, n) } else { header(42, n) }
    }

    /// Attribute-free boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    public func bool(_ b: Bool) {
        if resp >= 3 { append(b ? "#t\r\n" : "#f\r\n") } else { append(b ? ":1\r\n" : ":0\r\n") }
    }

    /// Double as Redis's addReplyDouble: `%.17g`, inf/-inf special-cased; RESP3 `,`.
    public func double(_ d: Double) {
        let text = ReplyBuffer.formatDouble(d)
        if resp >= 3 {
            appendByte(44); append(text); appendCRLF()
        } else {
            bulk(text)
        }
    }

    /// Big number `(` in RESP3, bulk string in RESP2.
    public func bigNumber(_ text: String) {
        if resp >= 3 { appendByte(40); append(text); appendCRLF() } else { bulk(text) }
    }

    /// Verbatim string `=len\r\ntxt:...` in RESP3, bulk in RESP2.
    public func verbatim(_ text: String, format: String = "txt") {
        if resp >= 3 {
            let body = format + ":" + text
            header(61, body.utf8.count)
            append(body)
            appendCRLF()
        } else {
            bulk(text)
        }
    }

    /// `%.17g` like C, with inf/-inf/nan spelled as Redis spells them.
    public static func formatDouble(_ d: Double) -> String {
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d.isNaN { return d.sign == .minus ? "-nan" : "nan" }
        return cFormat("%.17g", d)
    }

    /// snprintf for one double argument.
    public static func cFormat(_ fmt: String, _ d: Double) -> String {
        var buf = [CChar](repeating: 0, count: 512)
        let n = withVaList([d]) { va in
            buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 512, fmt, va) }
        }
        return String(decoding: buf[0..<Int(max(0, min(n, 511)))].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: deferred lengths

    /// Starts an aggregate whose length is not known yet; returns a token for `setDeferred`.
    public func deferredLength() -> Int {
        let pos = count
        return pos
    }

    /// Inserts the aggregate header at the position returned by `deferredLength`.
    /// `kind` is one of "*", "%", "~", ">"; for maps in RESP2 pass the doubled count.
    public func setDeferredArray(_ token: Int, _ n: Int) { insertHeader(token, 42, n) }

    public func setDeferredMap(_ token: Int, _ n: Int) {
        if resp >= 3 { insertHeader(token, 37, n) } else { insertHeader(token, 42, 2 * n) }
    }

    public func setDeferredSet(_ token: Int, _ n: Int) {
        if resp >= 3 { insertHeader(token, 126, n) } else { insertHeader(token, 42, n) }
    }

    func insertHeader(_ pos: Int, _ prefix: UInt8, _ n: Int) {
        var h: [UInt8] = [prefix]
        h.append(contentsOf: String(n).utf8)
        h.append(13); h.append(10)
        reserve(h.count)
        memmove(base + pos + h.count, base + pos, count - pos)
        h.withUnsafeBytes { _ = memcpy(base + pos, $0.baseAddress!, h.count) }
        count += h.count
    }
}

extension UInt64 {
    /// Magnitude of a negative Int64 reinterpreted as UInt64.
    @inline(__always) var magnitudeNeg: UInt64 { 0 &- self }
}
