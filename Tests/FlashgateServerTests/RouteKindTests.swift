import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// What each route kind sends upstream, and that answers from every kind reach clients alike.
@Suite struct RouteKindTests {
    static let chat = #"{"model":"flash","messages":[{"role":"user","content":"hello"}]}"#
    static let completion = #"{"id":"chatcmpl-up","object":"chat.completion","created":1,"model":"gemini-3.5-flash","choices":[{"index":0,"message":{"role":"assistant","content":"from the backup"},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}"#

    /// Flashgate with a failing AI Studio route first and an OpenAI-compatible backup second.
    struct Harness {
        let studio: FakeGemini
        let backup: FakeGemini
        let gateway: TestGateway
        let client: RawHTTPClient
        let curl: CurlTransport

        static func start() async throws -> Harness {
            let studio = try await FakeGemini.start()
            let backup = try await FakeGemini.start()
            let config = FlashgateConfig(
                routes: [
                    RouteConfig(name: "studio", kind: .gemini, baseURL: studio.baseURL, apiKey: Secret("studio-key"), passthrough: false),
                    RouteConfig(
                        name: "backup", kind: .openai, baseURL: backup.baseURL + "/v1beta/openai", apiKey: Secret("backup-key"),
                        passthrough: false),
                ],
                models: [
                    ModelConfig(
                        id: "flash",
                        routes: [
                            ModelRoute(route: "studio", upstreamModel: "gemini-3.5-flash"),
                            ModelRoute(route: "backup", upstreamModel: "gemini-3.5-flash-backup"),
                        ])
                ])
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(config: config, http: curl, clock: ManualRetryClock())
            return Harness(
                studio: studio, backup: backup, gateway: gateway, client: try await RawHTTPClient.connect(port: gateway.port),
                curl: curl)
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            try await studio.shutdown()
            try await backup.shutdown()
        }
    }

    @Test func anOpenAICompatibleBackupAnswersWhenTheStudioRouteFails() async throws {
        let h = try await Harness.start()
        h.studio.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        h.backup.enqueue(.json(Self.completion))
        let response = try await h.client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(response?.status == 200)
        #expect(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "from the backup")
        #expect(response?.json?["usage"]?["total_tokens"]?.intValue == 7)
        let sent = try #require(h.backup.received.first)
        #expect(sent.path == "/v1beta/openai/chat/completions")
        #expect(sent.header("authorization") == "Bearer backup-key")
        #expect(sent.bodyJSON?["model"]?.stringValue == "gemini-3.5-flash-backup")
        #expect(sent.bodyJSON?["messages"]?[0]?["content"]?.stringValue == "hello")
        try await h.stop()
    }

    @Test func aNativeStreamIsServedFromAnOpenAIStream() async throws {
        let h = try await Harness.start()
        h.studio.enqueue(.googleError(status: 500, message: "oops", googleStatus: "INTERNAL"))
        h.backup.enqueue(
            FakeReply(
                headers: [("Content-Type", "text/event-stream")],
                chunks: [
                    #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"}}]}"#,
                    #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
                    #"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}"#,
                    "[DONE]",
                ].map { Array("data: \($0)\n\n".utf8) }))
        let response = try await h.client.request(
            "POST", "/v1beta/models/flash:streamGenerateContent?alt=sse",
            body: #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#)
        #expect(response?.status == 200)
        let text = response?.text ?? ""
        #expect(text.contains("\"hel\"") && text.contains("\"lo\""))
        #expect(text.contains("\"totalTokenCount\":4"))
        #expect(h.backup.received.first?.bodyJSON?["stream"]?.boolValue == true)
        try await h.stop()
    }

    @Test func anOpenAIErrorComesBackInTheCallersDialect() async throws {
        let h = try await Harness.start()
        h.studio.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        h.backup.enqueue(.json(#"{"error":{"message":"model not found here","type":"invalid_request_error","code":"model_not_found"}}"#, status: 404))
        let response = try await h.client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(response?.status == 404)
        #expect(response?.json?["error"]?["message"]?.stringValue == "model not found here")
        try await h.stop()
    }

    /// An upstream that reports absurd usage (counts past anything a model can bill, negative
    /// ones) does not bring Flashgate down: the counts are read as the most a call can bill, or
    /// none, and the money arithmetic saturates instead of trapping. The call is charged the
    /// most it could be, and the gateway goes on answering.
    @Test(arguments: [
        #"{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807,"completion_tokens_details":{"reasoning_tokens":-9223372036854775807},"total_tokens":9223372036854775807}"#,
        #"{"prompt_tokens":-5,"completion_tokens":4611686018427387904,"total_tokens":1}"#,
        #"{"prompt_tokens":-1e300,"completion_tokens":1e300,"completion_tokens_details":{"reasoning_tokens":2.5},"total_tokens":-0.5}"#,
    ])
    func absurdUsageFromAnUpstreamIsChargedInFullWithoutACrash(_ usage: String) async throws {
        let h = try await Harness.start()
        let studioAnswer =
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"x"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9223372036854775807,"candidatesTokenCount":9223372036854775807,"thoughtsTokenCount":9223372036854775807,"toolUsePromptTokenCount":9223372036854775807,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":9223372036854775807},{"modality":"AUDIO","tokenCount":9223372036854775807}],"totalTokenCount":-1}}"#
        h.studio.enqueue(.json(studioAnswer))
        let first = try await h.client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(first?.status == 200)
        let cost = try #require(first?.header("x-flashgate-cost-usd").flatMap(Double.init))
        #expect(cost > 10_000, "charged the most it could be, got \(cost)")
        h.studio.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        let completion = Self.completion.replacingOccurrences(
            of: #"{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}"#, with: usage)
        h.backup.enqueue(.json(completion))
        let second = try await h.client.request("POST", "/v1/chat/completions", body: Self.chat)
        #expect(second?.status == 200)
        #expect(second?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "from the backup")
        let after = try await h.client.request("GET", "/healthz")
        #expect(after?.status == 200)
        try await h.stop()
    }

    @Test func tokenCountsAreRefusedOnAnOpenAIRouteAlone() async throws {
        let backup = try await FakeGemini.start()
        let config = FlashgateConfig(
            routes: [RouteConfig(name: "backup", kind: .openai, baseURL: backup.baseURL, apiKey: nil, passthrough: false)],
            models: [ModelConfig(id: "flash", route: "backup")])
        let curl = try CurlTransport()
        let gateway = try await TestGateway.start(config: config, http: curl)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request(
            "POST", "/v1beta/models/flash:countTokens", body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#)
        #expect(response?.status == 400)
        #expect(response?.text.contains("countTokens") == true)
        #expect(backup.requestCount == 0)
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await backup.shutdown()
    }
}
