import FlashgateCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Foundation

/// A test client that writes raw bytes and decodes HTTP/1.1 responses, so tests can send
/// malformed, slow, oversized or pipelined requests exactly as they mean to.
package final class RawHTTPClient: Sendable {
    /// One decoded response.
    package struct Response: Sendable, Equatable {
        package var status: Int
        package var headers: HTTPHeaders
        package var body: [UInt8]

        package var text: String { String(decoding: body, as: UTF8.self) }
        package var json: JSONValue? { try? JSONParser.parse(body) }
        package func header(_ name: String) -> String? { headers.first(name: name) }
    }

    private let channel: any Channel
    private let writer: RawWriter
    private let responses: AsyncStream<Response>
    private let group: MultiThreadedEventLoopGroup

    private init(channel: any Channel, writer: RawWriter, responses: AsyncStream<Response>, group: MultiThreadedEventLoopGroup) {
        self.channel = channel
        self.writer = writer
        self.responses = responses
        self.group = group
    }

    package static func connect(host: String = "127.0.0.1", port: Int) async throws -> RawHTTPClient {
        try await connect { try await $0.connect(host: host, port: port).get() }
    }

    package static func connect(unixSocket path: String) async throws -> RawHTTPClient {
        try await connect { try await $0.connect(unixDomainSocketPath: path).get() }
    }

    private static func connect(_ open: (ClientBootstrap) async throws -> any Channel) async throws -> RawHTTPClient {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (stream, continuation) = AsyncStream<Response>.makeStream()
        let writer = RawWriter()
        let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(writer)
                try channel.pipeline.syncOperations.addHandler(Collector(continuation))
            }
        }
        do {
            let channel = try await open(bootstrap)
            return RawHTTPClient(channel: channel, writer: writer, responses: stream, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Writes the bytes as they are.
    package func send(_ raw: String) async throws {
        try await send(Array(raw.utf8))
    }

    package func send(_ bytes: [UInt8]) async throws {
        let buffer = channel.allocator.buffer(bytes: bytes)
        try await channel.eventLoop.flatSubmit { [writer] in writer.write(buffer) }.get()
    }

    /// Sits next to the socket so raw bytes bypass the HTTP codec.
    private final class RawWriter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        private var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func write(_ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            guard let context else { preconditionFailure("not in a pipeline") }
            return context.writeAndFlush(NIOAny(buffer))
        }
    }

    /// Sends a request with a body and the usual headers.
    package func request(
        _ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> Response? {
        try await send(Self.encode(method, path, body: body, headers: headers))
        return await next()
    }

    package static func encode(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []) -> String {
        var raw = "\(method) \(path) HTTP/1.1\r\nhost: localhost\r\n"
        for (name, value) in headers { raw += "\(name): \(value)\r\n" }
        if let body { raw += "content-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n" }
        return raw + "\r\n" + (body ?? "")
    }

    /// The next whole response, or nil once the server closed the connection.
    package func next() async -> Response? {
        var iterator = responses.makeAsyncIterator()
        return await iterator.next()
    }

    /// Waits until the server closes the connection.
    package func waitForClose() async {
        try? await channel.closeFuture.get()
    }

    package func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    /// Parses HTTP/1.1 responses from raw bytes: Content-Length, chunked, or until close.
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let continuation: AsyncStream<Response>.Continuation
        private var buffer: [UInt8] = []

        init(_ continuation: AsyncStream<Response>.Continuation) { self.continuation = continuation }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            buffer += Array(buffer: unwrapInboundIn(data))
            while let (response, used) = parse(closed: false) {
                continuation.yield(response)
                buffer.removeFirst(used)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if let (response, _) = parse(closed: true) { continuation.yield(response) }
            continuation.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private func parse(closed: Bool) -> (Response, Int)? {
            let separator: [UInt8] = [13, 10, 13, 10]
            guard let headEnd = find(separator, from: 0) else { return nil }
            let lines = String(decoding: buffer[0..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ")
            guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
            var headers = HTTPHeaders()
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.add(name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            var index = headEnd + 4
            // An interim (1xx) response has no body: the final response follows it.
            if (100..<200).contains(status) { return (Response(status: status, headers: headers, body: []), index) }
            if let length = headers.first(name: "content-length").flatMap(Int.init) {
                guard buffer.count >= index + length else { return nil }
                return (Response(status: status, headers: headers, body: Array(buffer[index..<index + length])), index + length)
            }
            if headers.first(name: "transfer-encoding")?.lowercased() == "chunked" {
                var body: [UInt8] = []
                while true {
                    guard let lineEnd = find([13, 10], from: index) else { return nil }
                    let sizeText = String(decoding: buffer[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                    guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
                    index = lineEnd + 2
                    if size == 0 {
                        // Trailers, if any, then the empty line.
                        var trailerStart = index
                        while true {
                            guard let end = find([13, 10], from: trailerStart) else { return nil }
                            if end == trailerStart {
                                return (Response(status: status, headers: headers, body: body), end + 2)
                            }
                            let line = String(decoding: buffer[trailerStart..<end], as: UTF8.self)
                            if let colon = line.firstIndex(of: ":") {
                                headers.add(
                                    name: String(line[..<colon]),
                                    value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                            }
                            trailerStart = end + 2
                        }
                    }
                    guard buffer.count >= index + size + 2 else { return nil }
                    body += buffer[index..<index + size]
                    index += size + 2
                }
            }
            guard closed else { return nil }
            return (Response(status: status, headers: headers, body: Array(buffer[index...])), buffer.count)
        }

        private func find(_ needle: [UInt8], from start: Int) -> Int? {
            guard buffer.count >= needle.count else { return nil }
            var i = start
            while i + needle.count <= buffer.count {
                if buffer[i] == needle[0] && Array(buffer[i..<i + needle.count]) == needle { return i }
                i += 1
            }
            return nil
        }
    }
}
