import TernConfig
#if canImport(Glibc)
import Glibc
#endif

/// Direct writes to fd 1/2 (Swift 6 treats the C `stdout`/`stderr` globals as unsafe).
enum StdIO {
    static func write(_ s: String, fd: Int32) {
        var s = s
        s.withUTF8 { b in
            var off = 0
            while off < b.count {
                let n = Glibc.write(fd, b.baseAddress! + off, b.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }
    static func out(_ s: String) { write(s, fd: 1) }
    static func err(_ s: String) { write(s, fd: 2) }
}
