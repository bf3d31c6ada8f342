import TernEngine
import TernProtocol

/// Opens outbound TCP connections for the sentinel (set by the server layer; TernServer's
/// NIO implementation runs every event on the engine loop).
public protocol SentinelConnector: AnyObject {
    func connect(host: String, port: Int, connection: SentinelConnection)
}

/// One established outbound socket.
public protocol SentinelTransport: AnyObject {
    /// Our side's IP address (what hellos announce when announce-ip is not set).
    var localIP: String { get }
    func send(_ bytes: [UInt8])
    func close()
}

/// One outbound connection (a link's cmd or pubsub half), as a hiredis async context:
/// commands written while connecting are queued, replies are matched to callbacks in
/// order, and a pubsub connection hands every reply to `onMessage`.
public final class SentinelConnection {
    var transport: SentinelTransport?
    var outbox: [UInt8] = []
    var callbacks: [(RESPValue) -> Void] = []
    var input: [UInt8] = []
    var isClosed = false
    /// Every reply of a subscribed connection, once the replies to the commands sent before
    /// it was set are consumed.
    var onMessage: ((RESPValue) -> Void)?
    /// The connection failed or was closed by the other side (not by `close()`).
    var onClose: (() -> Void)?

    init() {}

    var localIP: String? { transport?.localIP }

    /// Queues `argv` as a RESP multibulk request; `reply` gets its answer.
    func send(_ argv: [String], reply: @escaping (RESPValue) -> Void = { _ in }) {
        guard !isClosed else { return }
        var out: [UInt8] = Array("*\(argv.count)\r\n".utf8)
        for a in argv {
            let b = Array(a.utf8)
            out += Array("$\(b.count)\r\n".utf8)
            out += b
            out += [13, 10]
        }
        if onMessage == nil { callbacks.append(reply) }
        if let t = transport { t.send(out) } else { outbox += out }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        onClose = nil
        transport?.close()
        transport = nil
        callbacks = []
    }

    // MARK: events from the connector

    public func connected(_ t: SentinelTransport) {
        guard !isClosed else { t.close(); return }
        transport = t
        if !outbox.isEmpty {
            t.send(outbox)
            outbox = []
        }
    }

    public func received(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed else { return }
        input.append(contentsOf: bytes)
        var pos = 0
        while pos < input.count {
            var p = pos
            guard let v = RESPValue.parse(input, &p) else { break }
            pos = p
            // Replies to what was sent before subscribing (AUTH, CLIENT SETNAME, SUBSCRIBE)
            // come first; everything after them is a subscription message.
            if !callbacks.isEmpty {
                callbacks.removeFirst()(v)
            } else if let m = onMessage {
                m(v)
            }
            if isClosed { return }
        }
        if pos > 0 { input.removeFirst(pos) }
        // A reply that cannot be parsed and keeps growing is a broken peer.
        if input.count > 64 * 1024 * 1024 { failed() }
    }

    public func closed() { failed() }

    public func connectFailed(_ reason: String) { failed() }

    func failed() {
        guard !isClosed else { return }
        isClosed = true
        transport = nil
        callbacks = []
        let handler = onClose
        onClose = nil
        handler?()
    }
}
