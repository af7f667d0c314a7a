import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Testing

@testable import FlashgateServer

/// Shutdown waits for in-flight requests at most `limits.shutdown_grace`, then closes them.
@Suite(.timeLimit(.minutes(1))) struct ShutdownGraceTests {
    static let ok = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"late"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}"#

    /// The drain could not be cancelled, so shutdown waited for the last in-flight request
    /// whatever the grace said: an audit saw a 2 s grace take 13 s, and a stream can last
    /// `total_timeout` (15 minutes). Here the upstream never answers: shutdown ends at the grace.
    @Test func shutdownEndsAtTheGraceWhileARequestIsStillInFlight() async throws {
        let fake = try await FakeGemini.start()
        let gate = FakeGate()
        var held = FakeReply.json(Self.ok)
        held.gate = gate
        fake.enqueue(held)
        var config = FlashgateConfig(
            routes: [RouteConfig(name: "r0", kind: .gemini, baseURL: fake.baseURL, apiKeys: [Secret("k")], passthrough: false)],
            models: [ModelConfig(id: "flash", routes: [ModelRoute(route: "r0", upstreamModel: "gemini-3.5-flash")])])
        config.limits.shutdownGrace = .milliseconds(200)
        let curl = try CurlTransport()
        let gateway = try await TestGateway.start(config: config, http: curl)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        try await client.send(
            RawHTTPClient.encode(
                "POST", "/v1/chat/completions", body: #"{"model":"flash","messages":[{"role":"user","content":"wait"}]}"#))
        await fake.waitForRequests(1)
        await gateway.stop()  // before the fix: waited for the answer, which never comes
        await client.waitForClose()
        gate.open()
        await client.close()
        curl.shutdown()
        try await fake.shutdown()
    }
}
