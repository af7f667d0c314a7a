import FlashgateCore
import FlashgateRouting
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// Client → Flashgate → real libcurl → FakeGemini: what goes upstream and what comes back.
@Suite struct UpstreamPathTests {
    struct Harness {
        let fake: FakeGemini
        let curl: CurlTransport
        let gateway: TestGateway
        let client: RawHTTPClient

        static func start(configure: (inout FlashgateConfig) -> Void = { _ in }) async throws -> Harness {
            let fake = try await FakeGemini.start()
            var config = FlashgateConfig(routes: [
                RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("route-key"), passthrough: true)
            ])
            // One attempt: these tests show what a single upstream answer does; retries have their own suite.
            config.retry = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
            configure(&config)
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(config: config, http: curl)
            let client = try await RawHTTPClient.connect(port: gateway.port)
            return Harness(fake: fake, curl: curl, gateway: gateway, client: client)
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
        }
    }

    @Test func chatGoesUpstreamTranslatedWithTheRouteKey() async throws {
        let h = try await Harness.start()
        let body = #"{"model":"gemini-3.5-flash","messages":[{"role":"system","content":"S"},{"role":"user","content":"Q"}],"max_tokens":7,"user":"dropped"}"#
        let response = try await h.client.request("POST", "/v1/chat/completions", body: body, headers: [("authorization", "Bearer client-key")])
        #expect(response?.status == 200)
        #expect(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "Hello from FakeGemini")
        #expect(response?.json?["usage"]?["total_tokens"]?.intValue == 8)
        let sent = try #require(h.fake.received.first)
        #expect(sent.path == "/v1beta/models/gemini-3.5-flash:generateContent")
        #expect(sent.header("x-goog-api-key") == "route-key")
        #expect(sent.header("authorization") == nil)
        #expect(sent.bodyJSON?["systemInstruction"]?["parts"]?[0]?["text"]?.stringValue == "S")
        #expect(sent.bodyJSON?["generationConfig"]?["maxOutputTokens"]?.intValue == 7)
        #expect(sent.bodyJSON?["user"] == nil)
        try await h.stop()
    }

    @Test func chatStreamUsesSSEUpstream() async throws {
        let h = try await Harness.start()
        let body = #"{"model":"m","stream":true,"messages":[{"role":"user","content":"Q"}]}"#
        let response = try await h.client.request("POST", "/v1/chat/completions", body: body)
        #expect(response?.status == 200)
        #expect(h.fake.received.first?.queryItem("alt") == "sse")
        #expect(response?.text.contains("FakeGemini") == true)
        #expect(response?.text.hasSuffix("data: [DONE]\n\n") == true)
        try await h.stop()
    }

    @Test func nativeBodyPassesThroughUnchangedAndKeyIsReplaced() async throws {
        let h = try await Harness.start { config in
            config.models = [ModelConfig(id: "alias", route: "studio", upstreamModel: "gemini-real")]
        }
        let body = #"{"contents":[{"parts":[{"text":"x"}]}],"unknownField":{"keep":[1,2.50]}}"#
        let response = try await h.client.request(
            "POST", "/v1beta/models/alias:streamGenerateContent?alt=sse&key=client-key", body: body,
            headers: [("x-goog-api-key", "client-key")])
        #expect(response?.status == 200)
        #expect(response?.header("content-type") == "text/event-stream")
        let sent = try #require(h.fake.received.first)
        #expect(sent.path == "/v1beta/models/gemini-real:streamGenerateContent")
        #expect(sent.query == "alt=sse")
        #expect(sent.header("x-goog-api-key") == "route-key")
        #expect(sent.bodyText == body)
        try await h.stop()
    }

    @Test func upstreamErrorsPassThroughInBothDialects() async throws {
        let h = try await Harness.start()
        let details = #"[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}]"#
        h.fake.enqueue(.googleError(status: 429, message: "Quota exceeded", googleStatus: "RESOURCE_EXHAUSTED", details: details))
        h.fake.enqueue(.googleError(status: 429, message: "Quota exceeded", googleStatus: "RESOURCE_EXHAUSTED", details: details))
        let chat = try await h.client.request("POST", "/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"x"}]}"#)
        #expect(chat?.status == 429)
        #expect(chat?.json?["error"]?["type"]?.stringValue == "rate_limit_error")
        #expect(chat?.json?["error"]?["message"]?.stringValue == "Quota exceeded")
        let native = try await h.client.request("POST", "/v1beta/models/m:generateContent", body: #"{"contents":[]}"#)
        #expect(native?.status == 429)
        #expect(native?.json?["error"]?["details"]?[0]?["retryDelay"]?.stringValue == "3s")
        try await h.stop()
    }

    @Test func droppedUpstreamStreamEndsWithAnErrorEventNotSuccess() async throws {
        let h = try await Harness.start()
        var reply = FakeReply.sse([#"{"candidates":[{"content":{"parts":[{"text":"partial"}]}}]}"#, #"{"candidates":[]}"#])
        reply.dropAfterChunks = 1
        h.fake.enqueue(reply)
        let body = #"{"model":"m","stream":true,"messages":[{"role":"user","content":"Q"}]}"#
        let response = try await h.client.request("POST", "/v1/chat/completions", body: body)
        let text = response?.text ?? ""
        #expect(text.contains("partial"))
        #expect(text.contains(#""error""#))
        #expect(!text.contains("[DONE]"))
        try await h.stop()
    }

    @Test func unreachableUpstreamIs502InTheCallersDialect() async throws {
        let h = try await Harness.start { config in
            config.routes[0].baseURL = "http://127.0.0.1:1"
        }
        let chat = try await h.client.request("POST", "/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"x"}]}"#)
        #expect(chat?.status == 502)
        #expect(chat?.json?["error"]?["code"]?.stringValue == "upstream_unreachable")
        let native = try await h.client.request("POST", "/v1/models/m:generateContent", body: "{}")
        #expect(native?.json?["error"]?["status"]?.stringValue == "UNAVAILABLE")
        try await h.stop()
    }

    @Test func clientDisconnectAbortsTheUpstreamTransfer() async throws {
        let h = try await Harness.start()
        let gate = FakeGate()
        var reply = FakeReply.sse(FakeReply.defaultStreamEvents())
        reply.gate = gate
        h.fake.enqueue(reply)
        try await h.client.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: #"{"model":"m","stream":true,"messages":[{"role":"user","content":"Q"}]}"#))
        await h.fake.waitForRequests(1)
        await h.client.close()
        await h.fake.waitForClosedConnections(1)  // libcurl dropped the upstream connection: no timeout involved
        #expect(h.fake.closedConnectionCount >= 1)
        gate.open()
        await h.gateway.stop()
        h.curl.shutdown()
        try await h.fake.shutdown()
    }

    @Test func shutdownLetsInFlightRequestsFinish() async throws {
        let h = try await Harness.start()
        let gate = FakeGate()
        var reply = FakeReply.json(#"{"candidates":[{"content":{"parts":[{"text":"late"}]},"finishReason":"STOP"}]}"#)
        reply.gate = gate
        h.fake.enqueue(reply)
        try await h.client.send(RawHTTPClient.encode("POST", "/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"Q"}]}"#))
        await h.fake.waitForRequests(1)
        async let stopped: Void = h.gateway.stop()
        // The answer is held upstream while shutdown begins; it must still reach the client.
        gate.open()
        let response = await h.client.next()
        await stopped
        #expect(response?.status == 200)
        #expect(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "late")
        await #expect(throws: (any Error).self) { try await RawHTTPClient.connect(port: h.gateway.port) }
        await h.client.close()
        h.curl.shutdown()
        try await h.fake.shutdown()
    }
}

@Suite struct UpstreamConcurrencyTests {
    @Test func concurrentCallsToOnePlainHTTPUpstreamAreInFlightTogether() async throws {
        let fake = try await FakeGemini.start()
        let curl = try CurlTransport()
        let gates = [FakeGate(), FakeGate(), FakeGate()]
        for gate in gates {
            var reply = FakeReply.json(#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}]}"#)
            reply.gate = gate
            fake.enqueue(reply)
        }
        let request = UpstreamRequest(method: "POST", url: fake.baseURL + "/v1beta/models/m:generateContent", body: Array("{}".utf8))
        let calls = (0..<3).map { _ in Task { try await Collected.collect(curl.send(request)) } }
        // All three reach the upstream while none has been answered: nothing queues behind one connection.
        await fake.waitForRequests(3)
        #expect(fake.connectionCount >= 3)
        for gate in gates { gate.open() }
        for call in calls { #expect(try await call.value.status == 200) }
        curl.shutdown()
        try await fake.shutdown()
    }
}
