import NIOCore

/// Sits before the HTTP decoder and tells the connection handler when bytes of a new request
/// arrive, so the header-read timeout starts at the first byte rather than at the last response.
/// It also notes the start of the request's path from those first bytes, so that a head the
/// parser refuses is still answered in the caller's dialect, and keeps the socket reading while
/// a response is made for a client that waits for it (`channelReadComplete`).
final class ByteActivityHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private let connection: HTTPConnectionHandler

    init(connection: HTTPConnectionHandler) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if connection.awaitingHead {
            if connection.sniffedPath == nil { connection.sniffedPath = Self.path(in: unwrapInboundIn(data)) }
            connection.requestBytesArrived()
        } else if connection.readsAhead {
            connection.pipelinedBytes = true
        }
        context.fireChannelRead(data)
    }

    /// Keeps the socket registered for reads while a response is being made for a client that
    /// waits for it (`HTTPConnectionHandler.readsAhead`): the read asked for here, after the
    /// pipeline has seen the read complete, leaves NIO a read pending, so it neither takes the
    /// socket out of `epoll` now nor puts it back when the response ends.
    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        // `WriteBackpressureHandler`, before this one, sees this read too.
        if connection.readsAhead { context.read() }
    }

    /// The first 64 bytes of the request target in `METHOD SP target SP …`, if the bytes hold it.
    static func path(in buffer: ByteBuffer) -> String? {
        buffer.withUnsafeReadableBytes { bytes in
            let window = bytes.prefix(256)
            guard let space = window.firstIndex(of: UInt8(ascii: " ")) else { return nil }
            let target = window[(space + 1)...].prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }
            return target.isEmpty ? nil : String(decoding: target.prefix(64), as: UTF8.self)
        }
    }
}
