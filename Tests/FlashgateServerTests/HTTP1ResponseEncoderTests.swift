import FlashgateCore
import FlashgateTesting
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import FlashgateServer

/// Flashgate's response encoder against NIO's `HTTPResponseEncoder` with its header validator:
/// the same requests in, the same response parts written, the same bytes out (NIO writes a chunk
/// as three buffers, Flashgate as one; the bytes are compared whole).
@Suite struct HTTP1ResponseEncoderTests {
    struct Exchange: CustomStringConvertible {
        var name: String
        /// The raw request bytes (one or more pipelined requests).
        var requests: String
        /// The parts written back, in order.
        var parts: [HTTPServerResponsePart]
        var description: String { name }
    }

    static func head(
        _ status: HTTPResponseStatus, _ headers: [(String, String)] = [], version: HTTPVersion = .http1_1
    ) -> HTTPServerResponsePart {
        .head(HTTPResponseHead(version: version, status: status, headers: HTTPHeaders(headers)))
    }

    static func body(_ text: String) -> HTTPServerResponsePart { .body(.byteBuffer(ByteBuffer(string: text))) }

    static let get = "GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n"
    static let post = "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
    static let headRequest = "HEAD /healthz HTTP/1.1\r\nhost: x\r\n\r\n"

    static let exchanges: [Exchange] = [
        Exchange(
            name: "a whole answer with its length", requests: post,
            parts: [
                head(.ok, [("content-type", "application/json"), ("x-request-id", "r1"), ("content-length", "7")]),
                body("{\"a\":1}"), .end(nil),
            ]),
        Exchange(
            name: "a stream: chunked, trailers at the end", requests: post,
            parts: [
                head(.ok, [("content-type", "text/event-stream"), ("trailer", "x-flashgate-cost-usd")]),
                body("data: one\n\n"), body(String(repeating: "x", count: 4_097)), body(""),
                .end(HTTPHeaders([("x-flashgate-cost-usd", "0.000018"), ("x-flashgate-service-tier", "standard")])),
            ]),
        Exchange(
            name: "a stream without trailers", requests: post,
            parts: [head(.ok, [("content-type", "text/event-stream")]), body("data: x\n\n"), .end(nil)]),
        Exchange(
            name: "a given transfer-encoding is replaced by chunked", requests: post,
            parts: [head(.ok, [("Transfer-Encoding", "gzip"), ("x-a", "1")]), body("abc"), .end(nil)]),
        Exchange(
            name: "a length drops transfer-encoding, in any case", requests: get,
            parts: [head(.ok, [("transfer-encoding", "chunked"), ("Content-Length", "2")]), body("ok"), .end(nil)]),
        Exchange(
            name: "204 and 304 carry no framing fields", requests: get + get,
            parts: [
                head(.noContent, [("content-length", "0"), ("x-a", "1")]), .end(nil),
                head(.notModified, [("transfer-encoding", "chunked"), ("etag", "\"v1\"")]), .end(nil),
            ]),
        Exchange(
            name: "an answer to HEAD keeps its framing fields and sends no body",
            requests: headRequest + get,
            parts: [
                head(.ok, [("content-length", "15")]), .end(nil),
                head(.ok, [("content-type", "text/plain")]), body("after head"), .end(nil),
            ]),
        Exchange(
            name: "100 Continue, then the final answer", requests: post,
            parts: [head(.continue), head(.ok, [("content-length", "2")]), body("ok"), .end(nil)]),
        Exchange(
            name: "HTTP/1.0 without a length: neither framing", requests: get,
            parts: [head(.ok, [("x-a", "b")], version: .http1_0), body("until close"), .end(nil)]),
        Exchange(
            name: "an error status with a custom reason", requests: get,
            parts: [
                head(.custom(code: 599, reasonPhrase: "Upstream Said No"), [("content-length", "0")]), .end(nil),
                head(.tooManyRequests, [("retry-after", "1"), ("content-length", "0")]), .end(nil),
            ]),
        Exchange(
            name: "values with tabs, spaces, UTF-8 and empty values", requests: get,
            parts: [
                head(.ok, [("x-a", "a\tb c"), ("x-utf8", "café ☕"), ("x-empty", ""), ("content-length", "0")]),
                .end(nil),
            ]),
    ]

    /// Writes `exchange` through `configure`'s pipeline and returns every byte written, and
    /// whether the channel is still open.
    static func run(_ exchange: Exchange, _ configure: (ChannelPipeline.SynchronousOperations) throws -> Void)
        throws -> (bytes: [UInt8], open: Bool)
    {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try configure(channel.pipeline.syncOperations)
        try channel.writeInbound(ByteBuffer(string: exchange.requests))
        while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
        for part in exchange.parts {
            channel.write(part, promise: nil)
        }
        channel.flush()
        var bytes: [UInt8] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { continue }
            bytes += buffer.readableBytesView
        }
        let open = channel.isActive
        _ = try? channel.finish()
        return (bytes, open)
    }

    static func nio(_ sync: ChannelPipeline.SynchronousOperations) throws {
        try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
    }

    static func flashgate(_ sync: ChannelPipeline.SynchronousOperations) throws {
        try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try sync.addHandler(HTTP1ResponseEncoder())
    }

    @Test(arguments: exchanges)
    func writesWhatNIOWrites(_ exchange: Exchange) throws {
        let expected = try Self.run(exchange, Self.nio)
        let written = try Self.run(exchange, Self.flashgate)
        #expect(!expected.bytes.isEmpty)
        #expect(
            String(decoding: written.bytes, as: UTF8.self) == String(decoding: expected.bytes, as: UTF8.self))
        #expect(written.open && expected.open)
    }

    /// Seeded random exchanges against NIO's encoder: methods and versions, statuses with and
    /// without bodies, framing fields in any case (right, missing or both), informational heads,
    /// bodies in parts, trailers, values with tabs and UTF-8. The same bytes, every one.
    @Test func randomExchangesWriteWhatNIOWrites() throws {
        var random = SeededRandom(seed: 1_207)
        func pick<T>(_ options: [T]) -> T { options.randomElement(using: &random)! }
        func someCase(_ name: String) -> String {
            String(name.map { Bool.random(using: &random) ? Character($0.uppercased()) : $0 })
        }
        let statuses: [HTTPResponseStatus] = [
            .ok, .created, .noContent, .partialContent, .movedPermanently, .notModified, .badRequest, .notFound,
            .tooManyRequests, .internalServerError, .serviceUnavailable, .custom(code: 599, reasonPhrase: "Upstream Said No"),
        ]
        let values = ["application/json", "text/event-stream", "a\tb c", "café ☕", "", "1", "x-flashgate"]
        for round in 0..<400 {
            let method = pick(["GET", "POST", "HEAD"])
            let requestVersion = pick(["HTTP/1.1", "HTTP/1.0"])
            let request =
                method == "POST"
                ? "POST /v1/chat/completions \(requestVersion)\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
                : "\(method) /v1/models \(requestVersion)\r\nhost: x\r\n\r\n"
            var parts: [HTTPServerResponsePart] = []
            if method == "POST" && requestVersion == "HTTP/1.1" && Int.random(in: 0..<8, using: &random) == 0 {
                parts.append(Self.head(.continue))
            }
            let status = pick(statuses)
            let noBody = method == "HEAD" || status == .noContent || status == .notModified
            let chunks = noBody ? [] : (0..<Int.random(in: 0...3, using: &random)).map { _ in
                String(repeating: pick(["a", "é", "x"]), count: Int.random(in: 0...300, using: &random))
            }
            let length = chunks.reduce(0) { $0 + $1.utf8.count }
            var fields: [(String, String)] = []
            for _ in 0..<Int.random(in: 0...3, using: &random) { fields.append(("x-\(fields.count)", pick(values))) }
            if Bool.random(using: &random) { fields.append((someCase("content-type"), pick(values))) }
            switch Int.random(in: 0..<4, using: &random) {
            case 0: fields.append((someCase("content-length"), String(length)))
            case 1: fields.append((someCase("transfer-encoding"), pick(["chunked", "gzip"])))
            case 2:
                fields.append((someCase("transfer-encoding"), "chunked"))
                fields.append((someCase("content-length"), String(length)))
            default: break
            }
            fields.shuffle(using: &random)
            parts.append(Self.head(status, fields, version: pick([.http1_1, .http1_1, .http1_0])))
            for chunk in chunks { parts.append(Self.body(chunk)) }
            let trailers =
                Int.random(in: 0..<4, using: &random) == 0 ? HTTPHeaders([("x-flashgate-cost-usd", "0.000018")]) : nil
            parts.append(.end(trailers))
            let exchange = Exchange(name: "random \(round)", requests: request, parts: parts)
            let expected = try Self.run(exchange, Self.nio)
            let written = try Self.run(exchange, Self.flashgate)
            #expect(
                String(decoding: written.bytes, as: UTF8.self) == String(decoding: expected.bytes, as: UTF8.self),
                "round \(round): \(method) \(requestVersion), \(status.code), \(fields), \(chunks.count) parts")
            #expect(written.open == expected.open, "round \(round)")
        }
    }

    /// A field that would break the head (CR or LF in a value, a name that is not a token, a
    /// control character) is never written: nothing of that answer goes out and the connection
    /// closes. NIO's validator also writes nothing of it.
    @Test(arguments: [
        ("x-a", "ok\r\nset-cookie: forged=1"), ("x-a", "nul\u{0}"), ("x-a", "del\u{7F}"), ("bad name", "v"),
        ("x:colon", "v"), ("", "empty name"), ("x-ünicode", "v"),
    ])
    func anUnsendableFieldWritesNothingAndCloses(name: String, value: String) throws {
        let exchange = Exchange(
            name: "bad field", requests: Self.get,
            parts: [Self.head(.ok, [("content-length", "2"), (name, value)]), Self.body("ok"), .end(nil)])
        let written = try Self.run(exchange, Self.flashgate)
        #expect(written.bytes.isEmpty)
        #expect(!written.open)
        if !name.isEmpty {
            #expect(try Self.run(exchange, Self.nio).bytes.isEmpty)
        }
    }

    @Test func anUnsendableTrailerEndsTheStreamCut() throws {
        let exchange = Exchange(
            name: "bad trailer", requests: Self.post,
            parts: [
                Self.head(.ok, [("content-type", "text/event-stream")]), Self.body("data: x\n\n"),
                .end(HTTPHeaders([("x-flashgate-cost-usd", "1\r\nx-evil: 1")])),
            ])
        let written = try Self.run(exchange, Self.flashgate)
        let text = String(decoding: written.bytes, as: UTF8.self)
        #expect(text.hasSuffix("data: x\n\n\r\n"))
        #expect(!text.contains("x-evil"))
        #expect(!written.open)
    }

    @Test func aBodyForHEADFailsItsWrite() throws {
        let channel = EmbeddedChannel()
        try Self.flashgate(channel.pipeline.syncOperations)
        try channel.writeInbound(ByteBuffer(string: Self.headRequest))
        while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
        channel.write(Self.head(.ok, [("content-length", "2")]), promise: nil)
        let body = channel.write(Self.body("no"))
        channel.write(HTTPServerResponsePart.end(nil), promise: nil)
        channel.flush()
        #expect(throws: HTTP1ResponseEncoderError.self) { try body.wait() }
        var bytes: [UInt8] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { bytes += buffer.readableBytesView }
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        _ = try? channel.finish()
    }

    /// A file region in a chunked answer (Flashgate writes none today) is framed as NIO frames it:
    /// its size line, the region itself, then CRLF, with the region handed on untouched; the
    /// caller's write completes once all three are written.
    @Test func aChunkedFileRegionIsFramedAsNIOFramesIt() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x61, count: 64)))

        /// The outbound writes in order: adjacent buffers joined (NIO and Flashgate cut the head
        /// and the chunk lines differently), a region as its range.
        func framed(_ configure: (ChannelPipeline.SynchronousOperations) throws -> Void) throws -> [String] {
            let handle = try NIOFileHandle(path: path)
            defer { try? handle.close() }
            let channel = EmbeddedChannel()
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try configure(channel.pipeline.syncOperations)
            try channel.writeInbound(ByteBuffer(string: Self.post))
            while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
            channel.write(Self.head(.ok, [("content-type", "application/octet-stream")]), promise: nil)
            let region = FileRegion(fileHandle: handle, readerIndex: 3, endIndex: 29)
            let written = channel.write(HTTPServerResponsePart.body(.fileRegion(region)))
            channel.write(HTTPServerResponsePart.end(nil), promise: nil)
            channel.flush()
            try written.wait()
            var parts: [String] = []
            var joined = ""
            while let data = try channel.readOutbound(as: IOData.self) {
                switch data {
                case .byteBuffer(let buffer):
                    joined += String(buffer: buffer)
                case .fileRegion(let region):
                    parts.append(joined)
                    joined = ""
                    parts.append("[region \(region.readerIndex)..<\(region.endIndex)]")
                }
            }
            parts.append(joined)
            #expect(channel.isActive)
            _ = try? channel.finish()
            return parts
        }

        let expected = try framed(Self.nio)
        #expect(expected.count == 3)
        #expect(expected[1] == "[region 3..<29]")
        #expect(expected[0].hasSuffix("transfer-encoding: chunked\r\n\r\n1a\r\n"))
        #expect(expected[2] == "\r\n0\r\n\r\n")
        #expect(try framed(Self.flashgate) == expected)
    }

    /// The byte classes, against their definitions for every byte.
    @Test func tokenAndValueBytesAreTheRFCs() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(HTTP1Head.isTokenByte(byte) == tchar.contains(byte), "\(byte)")
            #expect(HTTP1Head.isValueByte(byte) == (byte == 9 || (byte >= 0x20 && byte != 0x7F)), "\(byte)")
        }
    }

    /// A value is checked eight bytes at a time: any byte, at any offset of a word or of the tail,
    /// decides as the byte rule does.
    @Test func aValueIsCheckedWholeAtEveryOffset() {
        for length in [1, 7, 8, 9, 16, 23] {
            for offset in 0..<length {
                for byte in UInt8.min...UInt8.max {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[offset] = byte
                    let valid = bytes.withUnsafeBufferPointer { HTTP1Head.valid($0, .value) }
                    #expect(valid == HTTP1Head.isValueByte(byte), "length \(length), offset \(offset), byte \(byte)")
                }
            }
        }
    }

    @Test func chunkSizesAreLowercaseHex() {
        for size in [1, 9, 10, 15, 16, 255, 4_097, 1 << 20, Int(Int32.max)] {
            var buffer = ByteBuffer()
            HTTP1Head.writeChunkSize(size, to: &buffer)
            #expect(buffer.readString(length: buffer.readableBytes) == String(size, radix: 16) + "\r\n")
        }
    }
}
