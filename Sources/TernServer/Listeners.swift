import TernConfig
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// TCP listening sockets for `bind` / `port`, opened with plain socket calls so that
/// binding succeeds or fails synchronously (CONFIG SET port/bind must answer at once,
/// on the engine loop, where NIO futures cannot be waited on), then handed to NIO.
enum Listeners {
    struct BindFailure: Error { let address: String; let reason: String }

    /// Opens a listening socket per address. "*" is every IPv4 address, "::*" every
    /// IPv6 one; a leading "-" makes an address optional (skipped when the host has no
    /// such address or protocol). Returns the descriptors, or the first failure (all
    /// descriptors opened so far are closed again).
    static func open(bind: [String], port: Int, backlog: Int) -> Result<[Int32], BindFailure> {
        var fds: [Int32] = []
        for entry in bind {
            let optional = entry.hasPrefix("-")
            let host = optional ? String(entry.dropFirst()) : entry
            switch listen(host: host, port: port, backlog: backlog) {
            case .success(let fd):
                fds.append(fd)
            case .failure(let e):
                let unavailable = [EADDRNOTAVAIL, EAFNOSUPPORT, EPROTONOSUPPORT, ESOCKTNOSUPPORT, EPFNOSUPPORT].contains(e.code)
                if optional && unavailable { continue }
                for fd in fds { close(fd) }
                return .failure(BindFailure(address: "\(host):\(port)", reason: e.text))
            }
        }
        return .success(fds)
    }

    struct SocketError: Error { let code: Int32; let text: String }

    static func listen(host: String, port: Int, backlog: Int) -> Result<Int32, SocketError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        let name: String?
        switch host {
        case "*": name = nil; hints.ai_family = AF_INET
        case "::*": name = "::"; hints.ai_family = AF_INET6
        default: name = host
        }
        var res: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(name, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            let text = String(cString: gai_strerror(rc))
            return .failure(SocketError(code: rc == EAI_FAMILY ? EAFNOSUPPORT : EADDRNOTAVAIL, text: text))
        }
        defer { freeaddrinfo(res) }
        var lastError = SocketError(code: EADDRNOTAVAIL, text: "no address")
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            p = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 { lastError = current(); continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if ai.pointee.ai_family == AF_INET6 {
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            if Glibc.bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 || Glibc.listen(fd, Int32(clamping: backlog)) != 0 {
                lastError = current()
                close(fd)
                continue
            }
            return .success(fd)
        }
        return .failure(lastError)
    }

    /// The unix socket listener (`unixsocket`, `unixsocketperm`): a stale file at the path is
    /// removed first, as Redis does.
    static func openUnix(path: String, perm: Int, backlog: Int) -> Result<Int32, SocketError> {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            return .failure(SocketError(code: ENAMETOOLONG, text: String(cString: strerror(ENAMETOOLONG))))
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
            dst[bytes.count] = 0
        }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { return .failure(current()) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 || Glibc.listen(fd, Int32(clamping: backlog)) != 0 {
            let e = current()
            close(fd)
            return .failure(e)
        }
        if perm != 0 { chmod(path, mode_t(perm)) }
        return .success(fd)
    }

    static func current() -> SocketError {
        let e = errno
        return SocketError(code: e, text: String(cString: strerror(e)))
    }
}
