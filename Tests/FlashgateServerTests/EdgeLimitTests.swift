import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateServer

/// Size and time limits, keep-alive and pipelining at the edge.
@Suite struct EdgeLimitTests {
    @Test func bodyOverTheLimitIs413AndTheConnectionCloses() async throws {
        var config = TestGateway.mockConfig()
        config.limits.maxBodyBytes = 1024
        let gateway = try await TestGateway.start(config: config)

        let declared = try await RawHTTPClient.connect(port: gateway.port)
        try await declared.send("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n")
        let response = await declared.next()
        #expect(response?.status == 413)
        #expect(response?.json?["error"]?["message"]?.stringValue?.contains("1024") == true)
        await declared.waitForClose()

        let chunked = try await RawHTTPClient.connect(port: gateway.port)
        let piece = String(repeating: "x", count: 600)
        try await chunked.send(
            "POST /v1beta/models/m:generateContent HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n258\r\n\(piece)\r\n258\r\n\(piece)\r\n0\r\n\r\n")
        let second = await chunked.next()
        #expect(second?.status == 413)
        #expect(second?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        await chunked.waitForClose()
        await declared.close()
        await chunked.close()
        await gateway.stop()
    }

    /// A body that arrives in many pieces, chunked or with a length, reaches the gateway whole
    /// and in order. (The body buffer moved out of the handler's state enum: appending to it there
    /// copied the whole buffer on every read, so a 60 MB body took 53 s of a core in a release
    /// build; 5.3 s now, most of it the mock model.)
    @Test func aBodyReadInManyPiecesArrivesWhole() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        // No whitespace, so the mock echoes it as one word; never the same twice.
        let prompt = (0..<120_000).map(String.init).joined(separator: "-")
        let body = #"{"model":"mock","messages":[{"role":"user","content":"\#(prompt)"}]}"#
        let bytes = Array(body.utf8)

        let chunked = try await RawHTTPClient.connect(port: gateway.port)
        try await chunked.send(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        var offset = 0
        while offset < bytes.count {
            let piece = bytes[offset..<min(offset + 997, bytes.count)]
            try await chunked.send(Array("\(String(piece.count, radix: 16))\r\n".utf8) + piece + Array("\r\n".utf8))
            offset += piece.count
        }
        try await chunked.send("0\r\n\r\n")
        let first = await chunked.next()
        #expect(first?.status == 200, "\(first?.text.prefix(200) ?? "")")
        #expect(first?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == prompt)

        let declared = try await RawHTTPClient.connect(port: gateway.port)
        try await declared.send(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: \(bytes.count)\r\n\r\n")
        offset = 0
        while offset < bytes.count {
            try await declared.send(Array(bytes[offset..<min(offset + 65_521, bytes.count)]))
            offset += 65_521
        }
        let second = await declared.next()
        #expect(second?.status == 200)
        #expect(second?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == prompt)
        await chunked.close()
        await declared.close()
        await gateway.stop()
    }

    @Test func oversizedHeadersAre431() async throws {
        var config = TestGateway.mockConfig()
        config.limits.maxHeaderBytes = 2048
        let gateway = try await TestGateway.start(config: config)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request("GET", "/healthz", headers: [("x-big", String(repeating: "a", count: 4000))])
        #expect(response?.status == 431)
        await client.close()
        await gateway.stop()
    }

    @Test func keepAliveAndPipelinedRequestsAnswerInOrder() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let body = { (text: String) in #"{"model":"m","messages":[{"role":"user","content":"\#(text)"}]}"# }
        let raw = RawHTTPClient.encode("POST", "/v1/chat/completions", body: body("first"))
            + RawHTTPClient.encode("GET", "/healthz")
            + RawHTTPClient.encode("POST", "/v1/chat/completions", body: body("third"))
        try await client.send(raw)
        let first = await client.next()
        let second = await client.next()
        let third = await client.next()
        #expect(first?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "first")
        #expect(second?.json?["status"]?.stringValue == "ok")
        #expect(third?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "third")
        await client.close()
        await gateway.stop()
    }

    /// NIO's pipelining handler hands on the next request as a response's end is written, before
    /// it is flushed. The connection handler took that next request for the one whose flush
    /// completed: a pipelined request whose body came after the first answer was dropped (the
    /// connection closed at the header timeout), and the in-flight count leaked one a connection.
    @Test func aPipelinedRequestWhoseBodyComesLaterIsAnswered() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let second = RawHTTPClient.encode(
            "POST", "/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"second"}]}"#)
        let cut = second.utf8.count - 10
        // The first answer is made off the event loop, so the second request waits in the
        // pipelining handler until that answer's end is written.
        let first = RawHTTPClient.encode(
            "POST", "/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"first"}]}"#)
        try await client.send(first + String(second.utf8.prefix(cut))!)
        #expect(await client.next()?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "first")
        try await client.send(String(second.utf8.dropFirst(cut))!)
        let answer = await client.next()
        #expect(answer?.status == 200)
        #expect(answer?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "second")
        try await client.send(RawHTTPClient.encode("GET", "/healthz"))
        #expect(await client.next()?.status == 200)
        await client.close()
        let connections = gateway.running.server.connections
        while connections.openConnections > 0 { await Task.yield() }
        #expect(connections.inFlightRequests == 0)
        await gateway.stop()
    }

    /// A request pipelined behind one that says `Connection: close` is not answered: the
    /// connection closes after the first answer, as that answer says.
    @Test func nothingIsAnsweredAfterConnectionClose() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        try await client.send(
            RawHTTPClient.encode(
                "POST", "/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"first"}]}"#,
                headers: [("connection", "close")])
                + RawHTTPClient.encode("GET", "/healthz"))
        let first = await client.next()
        #expect(first?.header("connection") == "close")
        await client.waitForClose()
        let after = await client.next()
        #expect(after == nil, "\(after.map { "\($0.status) \($0.text)" } ?? "")")
        await client.close()
        await gateway.stop()
    }

    /// HTTP/1.0 has no chunked coding (RFC 9112 §6.1): a streamed answer to an HTTP/1.0 client
    /// is HTTP/1.0, ends with the connection, and says so.
    @Test func anHTTP10StreamIsDelimitedByTheConnectionClosing() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let body = #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        try await client.send(
            "POST /v1/chat/completions HTTP/1.0\r\nhost: x\r\nconnection: keep-alive\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
        )
        let answer = await client.next()
        #expect(answer?.status == 200)
        #expect(answer?.header("transfer-encoding") == nil)
        #expect(answer?.header("connection") == "close")
        #expect(answer?.text.contains("data: [DONE]") == true, "\(answer?.text ?? "")")
        await client.waitForClose()
        await client.close()
        await gateway.stop()
    }

    /// Framing the edge cannot honour is refused before any body byte: a Content-Length past
    /// Int64 (the parser took it, Int did not, so the early 413 was skipped and 100 Continue
    /// sent), and a transfer coding other than chunked (its bytes were read as the body).
    @Test func unrepresentableLengthsAndUnknownCodingsAreRefused() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let huge = try await RawHTTPClient.connect(port: gateway.port)
        try await huge.send(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 9223372036854775808\r\n\r\n")
        #expect(await huge.next()?.status == 413)
        await huge.waitForClose()
        let coded = try await RawHTTPClient.connect(port: gateway.port)
        try await coded.send(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
        let refused = await coded.next()
        #expect(refused?.status == 400)
        #expect(refused?.json?["error"]?["message"]?.stringValue?.contains("chunked") == true)
        await coded.waitForClose()
        await huge.close()
        await coded.close()
        await gateway.stop()
    }

    /// A server must accept a request target in absolute form (RFC 9112 §3.2.2), as a client
    /// configured with Flashgate as its proxy sends it; it had been a 404 "no endpoint".
    @Test func anAbsoluteFormTargetIsServed() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        try await client.send("GET http://flashgate.local:8088/healthz HTTP/1.1\r\nhost: flashgate.local\r\n\r\n")
        #expect(await client.next()?.json?["status"]?.stringValue == "ok")
        let body = #"{"model":"m","messages":[{"role":"user","content":"absolute"}]}"#
        try await client.send(
            "POST HTTPS://flashgate.local/v1/chat/completions HTTP/1.1\r\nhost: flashgate.local\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(await client.next()?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "absolute")
        #expect(GatewayRequest.originForm("http://h") == "/")
        #expect(GatewayRequest.originForm("http://h?x=1") == "/?x=1")
        #expect(GatewayRequest.originForm("/v1/models") == "/v1/models")
        #expect(GatewayRequest.originForm("*") == "*")
        await client.close()
        await gateway.stop()
    }

    /// A key sent as `?key=` is percent-decoded like any query value: a key with `+`, `/` or `=`
    /// sent encoded had been a 401.
    @Test func aKeyInTheQueryIsPercentDecoded() async throws {
        var config = TestGateway.mockConfig()
        let key = "fg+key/x=1"
        config.teams = [TeamConfig(id: "t")]
        config.keys = [KeyConfig(name: "k", team: "t", hashHex: VirtualKey.hashHex(key))]
        let gateway = try await TestGateway.start(config: config)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let body = #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#
        let encoded = try await client.request(
            "POST", "/v1beta/models/m:generateContent?key=fg%2Bkey%2Fx%3D1", body: body)
        #expect(encoded?.status == 200, "\(encoded?.text ?? "")")
        let wrong = try await client.request("POST", "/v1beta/models/m:generateContent?key=fg%2Bkey", body: body)
        #expect(wrong?.status == 401)
        await client.close()
        await gateway.stop()
    }

    /// NIO's decoder parses nothing after an upgrade request (curl's `Upgrade: h2c`): it is
    /// answered and the connection closes, instead of a next request waiting out the header
    /// timeout unanswered.
    @Test func anUpgradeRequestIsAnsweredAndTheConnectionCloses() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        try await client.send(
            RawHTTPClient.encode("GET", "/healthz", headers: [("connection", "Upgrade, HTTP2-Settings"), ("upgrade", "h2c")]))
        let answer = await client.next()
        #expect(answer?.status == 200)
        #expect(answer?.header("connection") == "close")
        await client.waitForClose()
        await client.close()
        await gateway.stop()
    }

    @Test func slowHeadersAndBodiesAndIdleConnectionsAreCutOff() async throws {
        var config = TestGateway.mockConfig()
        // Real timers (the behaviour under test), long enough that a loaded CI machine's stall
        // between connecting and sending is not mistaken for an idle connection.
        config.limits.headerTimeout = .milliseconds(500)
        config.limits.bodyTimeout = .milliseconds(500)
        config.limits.idleTimeout = .seconds(2)
        let gateway = try await TestGateway.start(config: config)

        let slow = try await Self.connect(port: gateway.port, thenSend: "GET /healthz HTTP/1.1\r\nhost: x\r\n")
        #expect(await slow.next() == nil)  // closed without a response: there was no request to answer

        let slowBody = try await Self.connect(
            port: gateway.port, thenSend: "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
        let response = await slowBody.next()
        #expect(response?.status == 408)
        await slowBody.waitForClose()
        await slowBody.close()

        let idle = try await Self.connect(port: gateway.port, thenSend: RawHTTPClient.encode("GET", "/healthz"))
        #expect(await idle.next()?.status == 200)
        await idle.waitForClose()  // closed by the idle timeout, with no request in progress
        await slow.close()
        await idle.close()
        await gateway.stop()
    }

    /// A new connection with `text` sent on it. On a loaded machine the gap between connecting and
    /// sending can outlast the header timeout, which then rightly closes the connection before
    /// anything was sent; that attempt says nothing about the behaviour under test, so it is
    /// made again (a few times at most).
    static func connect(port: Int, thenSend text: String) async throws -> RawHTTPClient {
        var attempt = 0
        while true {
            let client = try await RawHTTPClient.connect(port: port)
            do {
                try await client.send(text)
                return client
            } catch {
                await client.close()
                attempt += 1
                if attempt == 5 { throw error }
            }
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request("GET", "/healthz", headers: [("connection", "close")])
        #expect(response?.header("connection") == "close")
        await client.waitForClose()
        await client.close()
        await gateway.stop()
    }
}
