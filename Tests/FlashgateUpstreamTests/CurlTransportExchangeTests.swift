import FlashgateCore
import FlashgateTesting
import Testing

@testable import FlashgateUpstream

@Suite(.timeLimit(.minutes(1)))
struct CurlTransportExchangeTests {
    @Test func getReturnsStatusHeadersAndBody() async throws {
        try await withTransport { transport, fake in
            let request = UpstreamRequest(
                method: "GET", url: fake.baseURL + "/v1beta/models?pageSize=10",
                headers: [(name: "x-goog-api-key", value: "test-key"), (name: "X-Request-Tag", value: "t1")])
            let response = try await collect(transport.send(request))
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json; charset=UTF-8")
            #expect(response.header("Content-Length") == String(response.body.count))
            let models = try JSONParser.parse(response.body)["models"]?.arrayValue
            #expect(models?.count == 2)
            #expect(models?.first?["name"]?.stringValue == "models/gemini-fake-1")

            let received = try #require(fake.received.first)
            #expect(received.method == "GET")
            #expect(received.path == "/v1beta/models")
            #expect(received.query == "pageSize=10")
            #expect(received.header("x-goog-api-key") == "test-key")
            #expect(received.header("x-request-tag") == "t1")
            #expect(received.body.isEmpty)
        }
    }

    @Test func postSendsTheExactBodyAndReturnsTheReply() async throws {
        try await withTransport { transport, fake in
            let json = #"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#
            let request = UpstreamRequest(
                method: "POST", url: fake.baseURL + "/v1beta/models/gemini-x:generateContent",
                headers: [(name: "Content-Type", value: "application/json")], body: Array(json.utf8))
            let response = try await collect(transport.send(request))
            #expect(response.status == 200)
            let parsed = try JSONParser.parse(response.body)
            #expect(
                parsed["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["text"]?.stringValue
                    == "Hello from FakeGemini")
            #expect(parsed["modelVersion"]?.stringValue == "gemini-x")
            #expect(parsed["usageMetadata"]?["totalTokenCount"]?.intValue == 8)

            let received = try #require(fake.received.first)
            #expect(received.method == "POST")
            #expect(received.bodyText == json)
            #expect(received.header("content-type") == "application/json")
            #expect(received.header("expect") == nil)
        }
    }

    @Test func binaryBodyWithNULBytesArrivesWhole() async throws {
        try await withTransport { transport, fake in
            var body: [UInt8] = [0, 0, 1, 0, 255, 0]
            body += (0..<70_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
            fake.enqueue(.json("{}"))
            let request = UpstreamRequest(
                method: "POST", url: fake.baseURL + "/upload",
                headers: [(name: "Content-Type", value: "application/octet-stream")], body: body)
            let response = try await collect(transport.send(request))
            #expect(response.status == 200)
            #expect(response.text == "{}")
            let received = try #require(fake.received.first)
            #expect(received.header("content-length") == String(body.count))
            #expect(received.body == body)
        }
    }

    @Test func errorStatusAndHeadersPassThroughAsSent() async throws {
        try await withTransport { transport, fake in
            var reply = FakeReply.googleError(
                status: 429, message: "Resource exhausted", googleStatus: "RESOURCE_EXHAUSTED",
                details: #"[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]"#)
            reply.headers.append((name: "X-Custom-Name", value: "  spaced value  "))
            fake.enqueue(reply)
            let response = try await collect(transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/x")))
            #expect(response.status == 429)
            #expect(response.headers.contains(UpstreamHeader("X-Custom-Name", "spaced value")))
            let error = try JSONParser.parse(response.body)["error"]
            #expect(error?["code"]?.intValue == 429)
            #expect(error?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
            #expect(error?["details"]?.arrayValue?.first?["retryDelay"]?.stringValue == "7s")
        }
    }

    @Test func headCarriesTheFinalStatusAfter100Continue() async throws {
        try await withTransport { transport, fake in
            fake.enqueue(FakeReply(status: 201, headers: [(name: "X-Final", value: "yes")], chunks: [Array("ok".utf8)]))
            let request = UpstreamRequest(
                method: "POST", url: fake.baseURL + "/continue",
                headers: [(name: "Expect", value: "100-continue")], body: Array("payload".utf8))
            let response = try await collect(transport.send(request))
            #expect(response.status == 201)
            #expect(response.header("x-final") == "yes")
            #expect(response.headers.count == 2)  // X-Final and Content-Length; nothing from the 100
            #expect(response.text == "ok")
            #expect(fake.received.first?.bodyText == "payload")
        }
    }

    @Test func defaultRepliesCoverTheGeminiEndpoints() async throws {
        try await withTransport { transport, fake in
            let base = fake.baseURL + "/v1beta/models/gemini-fake-2"
            let body = Array("{}".utf8)
            let stream = try await collect(
                transport.send(UpstreamRequest(method: "POST", url: base + ":streamGenerateContent", body: body)))
            let events = try #require(try JSONParser.parse(stream.body).arrayValue)
            #expect(events.count == 3)
            let texts = events.compactMap {
                $0["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["text"]?.stringValue
            }
            #expect(texts.joined() == "Hello from FakeGemini")
            #expect(events.last?["candidates"]?.arrayValue?.first?["finishReason"]?.stringValue == "STOP")
            #expect(events.last?["usageMetadata"]?["candidatesTokenCount"]?.intValue == 3)
            let count = try await collect(
                transport.send(UpstreamRequest(method: "POST", url: base + ":countTokens", body: body)))
            #expect(try JSONParser.parse(count.body)["totalTokens"]?.intValue == 5)
        }
    }

    @Test func unknownPathGets404GoogleError() async throws {
        try await withTransport { transport, fake in
            let response = try await collect(
                transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/nope")))
            #expect(response.status == 404)
            #expect(try JSONParser.parse(response.body)["error"]?["status"]?.stringValue == "NOT_FOUND")
        }
    }

    @Test func gzipReplyIsDecoded() async throws {
        try await withTransport { transport, fake in
            let gzipped: [UInt8] = [
                0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x49, 0xad, 0x28, 0x51,
                0xb2, 0x52, 0x4a, 0xaf, 0xca, 0x2c, 0x50, 0x48, 0x49, 0x4d, 0xce, 0x4f, 0x49, 0x4d, 0x51, 0x18, 0xe5,
                0x8c, 0x72, 0x06, 0x8c, 0xa3, 0x54, 0x0b, 0x00, 0xda, 0x83, 0x3b, 0xa0, 0x95, 0x02, 0x00, 0x00,
            ]
            fake.enqueue(
                FakeReply(
                    headers: [
                        (name: "Content-Type", value: "application/json"), (name: "Content-Encoding", value: "gzip"),
                    ],
                    chunks: [gzipped]))
            let response = try await collect(transport.send(UpstreamRequest(method: "GET", url: fake.baseURL + "/gz")))
            let expected = #"{"text":""# + String(repeating: "gzip decoded ", count: 50) + #""}"#
            #expect(response.text == expected)
            #expect(fake.received.first?.header("accept-encoding")?.contains("gzip") == true)
        }
    }
}
