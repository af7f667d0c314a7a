import FlashgateCore
import FlashgateTesting
import Foundation
import NIOCore
import Synchronization
import Testing

@testable import FlashgateServer

/// Requests the edge refuses before any endpoint sees them: what the HTTP parser rejects, heads
/// over the limit, `Expect` headers. Each gets one JSON error in the caller's dialect, the
/// connection closes at once, and the refusal is logged and counted like any request.
@Suite struct EdgeRefusalTests {
    /// Timers far longer than any test, so a connection that closes did so because it was refused.
    static func config(_ configure: (inout LimitsConfig) -> Void = { _ in }) -> FlashgateConfig {
        var config = TestGateway.mockConfig()
        config.limits.headerTimeout = .seconds(600)
        config.limits.bodyTimeout = .seconds(600)
        config.limits.idleTimeout = .seconds(600)
        configure(&config.limits)
        return config
    }

    @Test func unparsableRequestGetsAnOpenAIErrorAndTheConnectionCloses() async throws {
        let gateway = try await TestGateway.start(config: Self.config())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        try await client.send("GARBAGE\r\n\r\n")
        let response = try #require(await client.next())
        #expect(response.status == 400)
        // The path is unknown, so the OpenAI envelope.
        let error = try #require(response.json?["error"])
        #expect(error["type"]?.stringValue == "invalid_request_error")
        #expect(error["code"]?.stringValue == "invalid_request")
        #expect(error["message"]?.stringValue?.isEmpty == false)
        #expect(response.header("connection") == "close")
        #expect(await client.next() == nil)  // closed, and nothing else was sent
        await client.close()
        await gateway.stop()
    }

    /// A compressed request body is refused with a 400 that says so, not as "not valid JSON".
    @Test func aCompressedBodyIsRefusedForWhatItIs() async throws {
        let gateway = try await TestGateway.start(config: Self.config())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let gzipped: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xAB, 0xAE, 0x05, 0x00]
        let response = try await client.request(
            "POST", "/v1/chat/completions", body: String(decoding: gzipped, as: UTF8.self),
            headers: [("content-encoding", "gzip")])
        #expect(response?.status == 400)
        #expect(response?.json?["error"]?["message"]?.stringValue?.contains("content-encoding 'gzip'") == true)
        let plain = try await client.request("POST", "/v1/chat/completions", body: "{not json")
        #expect(plain?.json?["error"]?["message"]?.stringValue?.contains("not valid JSON") == true)
        await client.close()
        await gateway.stop()
    }

    /// A body whose strings are not UTF-8 is refused in the caller's dialect, as Google refuses
    /// it, not forwarded and billed with U+FFFD in place of the caller's bytes.
    @Test func aBodyThatIsNotUTF8IsRefusedInTheCallersDialect() async throws {
        let gateway = try await TestGateway.start(config: Self.config())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        func post(_ path: String, _ body: [UInt8]) async throws -> RawHTTPClient.Response? {
            try await client.send(
                Array("POST \(path) HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: \(body.count)\r\n\r\n".utf8)
                    + body)
            return await client.next()
        }
        let chat = try await post(
            "/v1/chat/completions",
            Array(#"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"a"#.utf8) + [0xFF, 0xFE] + Array(#"b"}]}"#.utf8))
        #expect(chat?.status == 400)
        #expect(chat?.json?["error"]?["type"]?.stringValue == "invalid_request_error")
        #expect(chat?.json?["error"]?["message"]?.stringValue?.contains("invalid UTF-8") == true)
        let native = try await post(
            "/v1beta/models/gemini-3.5-flash:generateContent",
            Array(#"{"contents":[{"parts":[{"text":"a"#.utf8) + [0xC3] + Array(#"b"}]}]}"#.utf8))
        #expect(native?.status == 400)
        #expect(native?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        #expect(native?.json?["error"]?["message"]?.stringValue?.contains("invalid UTF-8") == true)
        await client.close()
        await gateway.stop()
    }

    /// Generation settings no model answers — a candidate count past Int's range, a negative
    /// number of log-probability alternatives, a billion of them — are refused by the offline
    /// mock as Gemini refuses them, and never take the gateway down (the first had trapped in
    /// the cost estimate, the others in the mock).
    @Test(arguments: [
        #""candidateCount":9223372036854775807"#, #""candidateCount":0"#, #""responseLogprobs":true,"logprobs":-1"#,
        #""responseLogprobs":true,"logprobs":1000000000"#,
    ])
    func absurdGenerationSettingsAreRefusedNotATrap(_ settings: String) async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"# + settings + "}}")
        #expect(response?.status == 400, "\(response?.text ?? "no answer")")
        #expect(response?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        #expect(try await client.request("GET", "/healthz")?.status == 200)
        await client.close()
        await gateway.stop()
    }

    /// A number whose exponent sits at `Int`'s edge, anywhere in a body the response cache keys,
    /// is answered like any other (working out its canonical spelling for the key had trapped).
    @Test func aNumberAtTheEdgeOfIntInABodyIsAnsweredNotATrap() async throws {
        let h = try await ResponseCacheTests.Harness.start()
        let client = try await h.client()
        let response = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"seed":10e9223372036854775807}}"#)
        #expect(response?.status == 200, "\(response?.text ?? "no answer")")
        #expect(response?.header("x-flashgate-cache") == "miss")
        #expect(try await client.request("GET", "/healthz")?.status == 200)
        await client.close()
        try await h.stop()
    }

    /// A request's cache TTL past what milliseconds hold is taken as the longest there is (ten
    /// years); working out its expiry had overflowed and taken the gateway down. The answer is
    /// stored and served again.
    @Test func aCacheTTLPastWhatMillisecondsHoldIsTheLongestNotATrap() async throws {
        let h = try await ResponseCacheTests.Harness.start()
        let client = try await h.client()
        let headers = [("x-flashgate-cache-ttl", "9223372036854775807")]
        let first = try await client.request("POST", "/v1/chat/completions", body: ResponseCacheTests.chat, headers: headers)
        #expect(first?.status == 200, "\(first?.text ?? "no answer")")
        let again = try await client.request("POST", "/v1/chat/completions", body: ResponseCacheTests.chat, headers: headers)
        #expect(again?.header("x-flashgate-cache") == "hit")
        #expect(try await client.request("GET", "/healthz")?.status == 200)
        await client.close()
        try await h.stop()
    }

    @Test func unparsableNativeRequestGetsAGoogleError() async throws {
        let gateway = try await TestGateway.start(config: Self.config())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        try await client.send("POST /v1beta/models/m:generateContent HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n")
        let response = try #require(await client.next())
        #expect(response.status == 400)
        #expect(response.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        #expect(response.json?["error"]?["code"]?.intValue == 400)
        #expect(await client.next() == nil)
        await client.close()
        await gateway.stop()
    }

    @Test func brokenChunkSizeIsOne400AndTheConnectionCloses() async throws {
        // A short body timeout: a second response (408) would come quickly if the body were still awaited.
        let gateway = try await TestGateway.start(config: Self.config { $0.bodyTimeout = .milliseconds(200) })
        let client = try await RawHTTPClient.connect(port: gateway.port)
        try await client.send(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        let response = try #require(await client.next())
        #expect(response.status == 400)
        #expect(response.json?["error"]?["type"]?.stringValue == "invalid_request_error")
        #expect(await client.next() == nil)
        await client.close()
        await gateway.stop()
    }

    @Test func headsOverTheLimitAre431AtAnySize() async throws {
        // Above NIO's own 80 KiB header limit, with the default limit (64 KiB)…
        let gateway = try await TestGateway.start(config: Self.config())
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request(
            "GET", "/v1beta/models", headers: [("x-big", String(repeating: "a", count: 100_000))])
        #expect(response?.status == 431)
        #expect(response?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        #expect(await client.next() == nil)
        await client.close()
        await gateway.stop()

        // …and with a limit above NIO's: a 90 KB head is allowed, a 1.1 MB one is 431.
        let roomy = try await TestGateway.start(config: Self.config { $0.maxHeaderBytes = 1 << 20 })
        let fine = try await RawHTTPClient.connect(port: roomy.port)
        let allowed = try await fine.request(
            "GET", "/healthz", headers: [("x-big", String(repeating: "a", count: 90_000))])
        #expect(allowed?.status == 200)
        let big = try await RawHTTPClient.connect(port: roomy.port)
        let refused = try await big.request(
            "GET", "/v1/models", headers: [("x-big", String(repeating: "a", count: 1_100_000))])
        #expect(refused?.status == 431)
        #expect(refused?.json?["error"]?["code"]?.stringValue == "headers_too_large")
        await fine.close()
        await big.close()
        await roomy.stop()
    }

    @Test func expect100ContinueIsAnswered() async throws {
        let gateway = try await TestGateway.start(config: Self.config { $0.maxBodyBytes = 4096 })
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let body = #"{"model":"m","messages":[{"role":"user","content":"after continue"}]}"#
        try await client.send(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                + "expect: 100-continue\r\ncontent-length: \(body.utf8.count)\r\n\r\n")
        let interim = try #require(await client.next())
        #expect(interim.status == 100)
        try await client.send(body)
        let response = try #require(await client.next())
        #expect(response.status == 200)
        #expect(response.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "after continue")
        await client.close()

        // Too large: 413 at once, before any body byte is sent.
        let large = try await RawHTTPClient.connect(port: gateway.port)
        try await large.send(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5000\r\n\r\n")
        #expect(await large.next()?.status == 413)
        #expect(await large.next() == nil)
        await large.close()

        // An expectation Flashgate does not know: 417.
        let odd = try await RawHTTPClient.connect(port: gateway.port)
        try await odd.send(
            "POST /v1beta/models/m:generateContent HTTP/1.1\r\nhost: x\r\nexpect: teapot\r\ncontent-length: 2\r\n\r\n")
        let unknown = try #require(await odd.next())
        #expect(unknown.status == 417)
        #expect(unknown.json?["error"]?["code"]?.intValue == 417)
        #expect(await odd.next() == nil)
        await odd.close()
        await gateway.stop()
    }

    @Test func refusalsAreLoggedAndCounted() async throws {
        let lines = AccessLogTests.Lines()
        let gateway = try await TestGateway.start(
            config: Self.config { $0.maxBodyBytes = 1024 }, accessLog: { lines.add($0) })
        for raw in [
            "GARBAGE\r\n\r\n",
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n",
            "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: \(String(repeating: "a", count: 100_000))\r\n\r\n",
        ] {
            let client = try await RawHTTPClient.connect(port: gateway.port)
            try await client.send(raw)
            _ = await client.next()
            await client.close()
        }
        let written = await lines.wait(for: 3)
        for status in [400, 413, 431] {
            #expect(written.contains { $0.contains("status=\(status)") && $0.contains("endpoint=edge") }, "\(written)")
        }
        let scraper = try await RawHTTPClient.connect(port: gateway.port)
        let scrape = try #require(try await scraper.request("GET", "/metrics"))
        let metrics = try Exposition(scrape.text)
        for status in ["400", "413", "431"] {
            #expect(metrics.sum("flashgate_requests_total", ["endpoint": "edge", "status": status]) == 1)
        }
        await scraper.close()
        await gateway.stop()
    }

    @Test func theDialectFollowsThePathEvenBeforeTheHeadParses() {
        #expect(Endpoint.dialect(ofPath: "/v1beta/models/m:generateContent") == .google)
        #expect(Endpoint.dialect(ofPath: "/v1/models/m:streamGenerateContent") == .google)
        #expect(Endpoint.dialect(ofPath: "/v1/chat/completions") == .openAI)
        #expect(Endpoint.dialect(ofPath: "/healthz") == .openAI)
        #expect(Endpoint.dialect(ofPath: nil) == .openAI)
        #expect(
            ByteActivityHandler.path(in: ByteBuffer(string: "POST /v1beta/models/m:x HTTP/1.1\r\n"))
                == "/v1beta/models/m:x")
        #expect(ByteActivityHandler.path(in: ByteBuffer(string: "GARBAGE\r\n\r\n")) == nil)
        #expect(ByteActivityHandler.path(in: ByteBuffer(string: "GET ")) == nil)
    }
}
