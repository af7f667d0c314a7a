import FlashgateCore
import NIOCore
import NIOHTTP1

/// Writes one response to its connection from async code. Every call hops to the channel's
/// event loop; body writes complete when the bytes are flushed, which gives streams backpressure
/// from a slow client. Writes after the client went away throw and are otherwise harmless.
package final class ResponseWriter: Sendable {
    private let context: NIOLoopBound<ChannelHandlerContext>
    private let handler: NIOLoopBound<HTTPConnectionHandler>
    private let loop: any EventLoop
    package let requestID: String
    private let keepAlive: Bool
    /// An HTTP/1.0 client: answered in HTTP/1.0, so a streamed answer is delimited by the
    /// connection closing (chunked coding is HTTP/1.1's, RFC 9112 §6.1).
    private let http10: Bool
    /// This request's record: status and time to first byte are noted as they are written.
    let record: RequestRecord?
    /// What the client leaving does to this request's task.
    let departure = ClientDeparture()

    /// Runs tasks on this response's event loop.
    var taskExecutor: any TaskExecutor { EventLoopTaskExecutor(loop) }

    init(
        context: ChannelHandlerContext, handler: HTTPConnectionHandler, requestID: String, keepAlive: Bool,
        record: RequestRecord? = nil, version: HTTPVersion = .http1_1
    ) {
        self.http10 = version.major == 1 && version.minor == 0
        self.record = record
        self.loop = context.eventLoop
        self.context = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.handler = NIOLoopBound(handler, eventLoop: context.eventLoop)
        self.requestID = requestID
        self.keepAlive = keepAlive
    }

    func head(status: HTTPResponseStatus, headers: [(String, String)], contentLength: Int?) -> HTTPResponseHead {
        record?.responded(status: Int(status.code))
        var fields = HTTPHeaders(headers)
        Self.set(&fields, "x-request-id", requestID, from: headers)
        if let contentLength { Self.set(&fields, "content-length", String(contentLength), from: headers) }
        if !keepAlive || (http10 && contentLength == nil) { Self.set(&fields, "connection", "close", from: headers) }
        return HTTPResponseHead(version: http10 ? .http1_0 : .http1_1, status: status, headers: fields)
    }

    /// Sets `name` (lowercase ASCII) to `value`: added when `headers` never names it, which is
    /// the usual case and skips `replaceOrAdd`'s case-insensitive pass over every field (three
    /// such passes cost ~3k instructions a response); replaced otherwise.
    static func set(_ fields: inout HTTPHeaders, _ name: StaticString, _ value: String, from headers: [(String, String)]) {
        if headers.contains(where: { ASCIICase.equals($0.0.utf8, name) }) {
            fields.replaceOrAdd(name: name.description, value: value)
        } else {
            fields.add(name: name.description, value: value)
        }
    }

    /// Runs `body` on the event loop: directly when the task already runs there (the usual case,
    /// see `EventLoopTaskExecutor`), by a hop otherwise.
    private func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> EventLoopFuture<T>) async throws -> T {
        if loop.inEventLoop { return try await body().get() }
        return try await loop.flatSubmit(body).get()
    }

    /// Starts a streamed response (chunked transfer encoding). The head is flushed with the first
    /// body write.
    package func writeHead(status: HTTPResponseStatus, headers: [(String, String)]) async throws {
        let head = head(status: status, headers: headers, contentLength: nil)
        try await onLoop { [context, handler, http10] in
            // Without chunked coding the end of the body is the end of the connection.
            if http10 { handler.value.closeAfterResponse() }
            context.value.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            return context.value.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Writes and flushes body bytes; returns when they reached the socket, so a slow client
    /// slows the upstream down instead of growing buffers.
    package func writeBody(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await onLoop { [context] in
            let ctx = context.value
            let buffer = ctx.channel.allocator.buffer(bytes: bytes)
            return ctx.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))))
        }
    }

    /// Ends the response — after `bytes`, a streamed response's last body bytes, in the same
    /// flush — with trailers for a streamed one; the connection is then ready for the next
    /// request or closed.
    package func end(after bytes: [UInt8] = [], trailers: [(String, String)] = []) async {
        let fields = trailers.isEmpty ? nil : HTTPHeaders(trailers)
        try? await onLoop { [context, handler, record] in
            let ctx = context.value
            if !bytes.isEmpty {
                let buffer = ctx.channel.allocator.buffer(bytes: bytes)
                ctx.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
            }
            let counted = handler.value.responseEnding()
            return ctx.writeAndFlush(NIOAny(HTTPServerResponsePart.end(fields))).always { result in
                if case .failure = result { record?.finish(aborted: true) } else { record?.finish() }
                handler.value.responseEnded(context: context.value, counted: counted)
            }
        }
    }

    /// Writes a whole response at once.
    package func respond(_ response: GatewayResponse) async {
        try? await onLoop { [context, handler, self] in
            let ctx = context.value
            handler.value.write(response, context: ctx, writer: self)
            return ctx.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Ends a broken stream by closing the connection, so the client sees a truncated response
    /// rather than a complete one.
    package func abort() async {
        record?.finish(aborted: true)
        try? await onLoop { [context] in
            context.value.close(promise: nil)
            return context.value.eventLoop.makeSucceededVoidFuture()
        }
    }
}
