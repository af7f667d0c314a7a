import NIOCore
import NIOHTTP1

/// Serves one connection of FakeGemini: collects each request, records it, and writes the
/// scripted reply chunk by chunk, honouring its gates and its abrupt drop.
/// Invariant: all state and every write stay on the channel's event loop; gate callbacks hop
/// back onto it before touching the context.
final class FakeGeminiHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let ledger: FakeGeminiLedger
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(ledger: FakeGeminiLedger) { self.ledger = ledger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            if requestHead.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                // An interim response first, as real servers send; the client must skip past it.
                let interim = HTTPResponseHead(version: .http1_1, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
            }
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            self.head = nil
            let request = FakeRequest(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body)
            let reply = ledger.record(request)
            if reply.closeWithoutAnswer {
                context.close(promise: nil)
                return
            }
            let keepAlive = head.isKeepAlive
            if let gate = reply.gate, !gate.isOpen {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                gate.whenOpen {
                    bound.eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.writeHead(reply, keepAlive: keepAlive, context: context)
                    }
                }
            } else {
                writeHead(reply, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func writeHead(_ reply: FakeReply, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(reply.headers)
        if !headers.contains(name: "content-length") && !headers.contains(name: "transfer-encoding") {
            if reply.chunks.count <= 1 {
                headers.add(name: "Content-Length", value: String(reply.chunks.first?.count ?? 0))
            } else {
                headers.add(name: "Transfer-Encoding", value: "chunked")
            }
        }
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: reply.status)
        let responseHead = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.writeAndFlush(wrapOutboundOut(.head(responseHead)), promise: nil)
        writeChunks(reply, from: 0, keepAlive: keepAlive, context: context)
    }

    private func writeChunks(_ reply: FakeReply, from start: Int, keepAlive: Bool, context: ChannelHandlerContext) {
        var index = start
        while true {
            if let drop = reply.dropAfterChunks, index >= drop {
                context.close(promise: nil)
                return
            }
            guard index < reply.chunks.count else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                if !keepAlive { context.close(promise: nil) }
                return
            }
            let buffer = context.channel.allocator.buffer(bytes: reply.chunks[index])
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            index += 1
            if let gate = reply.chunkGates[index], !gate.isOpen {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let next = index
                gate.whenOpen {
                    bound.eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.writeChunks(reply, from: next, keepAlive: keepAlive, context: context)
                    }
                }
                return
            }
        }
    }
}
