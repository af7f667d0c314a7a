import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing
import _CryptoExtras

@testable import FlashgateServer

/// The whole routing story from one YAML file: an AI Studio route with two keys, two Vertex AI
/// regions signing in with a service account at a local token endpoint, and an OpenAI-compatible
/// backup, all for `gemini-3.5-flash` with hedging on. Traffic rides through a rate limit, a 5xx
/// burst, a slow route and a dead region with no client-visible error, and no request makes more
/// upstream calls than the retry budget.
@Suite struct FailoverScenarioTests {
    static let ok = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}"#
    static let completion = #"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#
    static let token = #"{"access_token":"ya29.flashgate-test","expires_in":3600,"token_type":"Bearer"}"#

    @Test func trafficRidesThroughRateLimitsBurstsASlowRouteAndADeadRegion() async throws {
        let studio = try await FakeGemini.start()
        let europe = try await FakeGemini.start()
        let america = try await FakeGemini.start()
        let backup = try await FakeGemini.start()
        let tokens = try await FakeGemini.start()
        let directory = try TempDirectory()
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let account = JSONWriter.string([
            "type": "service_account", "project_id": "proj", "private_key_id": "kid-1",
            "private_key": .string(key.pkcs8PEMRepresentation),
            "client_email": "flashgate@proj.iam.gserviceaccount.com",
        ])
        try account.write(toFile: directory.file("sa.json"), atomically: true, encoding: .utf8)
        let yaml = """
            routes:
              - name: studio
                kind: gemini
                base_url: \(studio.baseURL)
                api_keys_env: [STUDIO_KEY_A, STUDIO_KEY_B]
              - name: vertex-europe
                kind: vertex
                project: proj
                location: europe-west4
                base_url: \(europe.baseURL)
                service_account_file: \(directory.file("sa.json"))
                token_url: \(tokens.baseURL)/token
              - name: vertex-us
                kind: vertex
                project: proj
                location: us-central1
                base_url: \(america.baseURL)
                service_account_file: \(directory.file("sa.json"))
                token_url: \(tokens.baseURL)/token
              - name: backup
                kind: openai
                base_url: \(backup.baseURL)/v1beta/openai
                api_key_env: BACKUP_KEY
            models:
              - id: gemini-3.5-flash
                routes: [studio, vertex-europe, vertex-us, backup]
                hedge: {after: 2s}
            retry:
              max_attempts: 4
            """
        let config = try ConfigFile.parse(
            yaml, environment: ["STUDIO_KEY_A": "key-a", "STUDIO_KEY_B": "key-b", "BACKUP_KEY": "backup-key"])
        let clock = ManualRetryClock()
        let curl = try CurlTransport()
        let gateway = try await TestGateway.start(config: config, http: curl, clock: clock)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let fakes = [studio, europe, america, backup]
        func calls() -> Int { fakes.reduce(0) { $0 + $1.requestCount } }
        func ask(_ text: String) async throws -> (status: Int?, calls: Int) {
            let before = calls()
            let response = try await client.request(
                "POST", "/v1/chat/completions",
                body: #"{"model":"gemini-3.5-flash","messages":[{"role":"user","content":"\#(text)"}]}"#,
                headers: [("cache-control", "no-store")])
            #expect(response?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "ok")
            return (response?.status, calls() - before)
        }
        tokens.enqueue(.json(Self.token))
        tokens.enqueue(.json(Self.token))

        // 1. A rate limit on one key: the other key answers at once.
        studio.enqueue(
            .googleError(
                status: 429, message: "quota", googleStatus: "RESOURCE_EXHAUSTED",
                details: #"[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"20s"}]"#))
        studio.enqueue(.json(Self.ok))
        var result = try await ask("one")
        #expect(result.status == 200 && result.calls == 2)
        #expect(studio.received.map { $0.header("x-goog-api-key") } == ["key-a", "key-b"])

        // 2. A 5xx burst on AI Studio: Vertex in Europe answers, signed in with the service account.
        studio.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        europe.enqueue(.json(Self.ok))
        result = try await ask("two")
        #expect(result.status == 200 && result.calls == 2)
        let vertexCall = try #require(europe.received.first)
        #expect(vertexCall.path == "/v1beta1/projects/proj/locations/europe-west4/publishers/google/models/gemini-3.5-flash:generateContent")
        #expect(vertexCall.header("authorization") == "Bearer ya29.flashgate-test")
        let grant = try #require(tokens.received.first)
        #expect(grant.bodyText.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="))

        // 3. A slow route: after 2 s without a first byte the hedge on Vertex Europe wins.
        let slow = FakeGate()
        var held = FakeReply.json(Self.ok)
        held.gate = slow
        studio.enqueue(held)
        europe.enqueue(.json(Self.ok))
        let pending = Task { try await ask("three") }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(2))
        result = try await pending.value
        #expect(result.status == 200 && result.calls == 2)
        slow.open()

        // 4. A dead region: AI Studio fails, Europe is gone, the US answers.
        try await europe.shutdown()
        studio.enqueue(.googleError(status: 500, message: "internal", googleStatus: "INTERNAL"))
        america.enqueue(.json(Self.ok))
        result = try await ask("four")
        #expect(result.status == 200)
        #expect(america.received.last?.path.contains("/locations/us-central1/") == true)

        // 5. Everything Google is down: the OpenAI-compatible backup answers within the budget.
        studio.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        america.enqueue(.googleError(status: 503, message: "overloaded", googleStatus: "UNAVAILABLE"))
        backup.enqueue(.json(Self.completion))
        result = try await ask("five")
        #expect(result.status == 200)
        #expect(result.calls <= 4)
        #expect(backup.received.last?.header("authorization") == "Bearer backup-key")
        #expect(tokens.requestCount == 2)  // one token per Vertex route, cached after

        await client.close()
        await gateway.stop()
        curl.shutdown()
        for fake in [studio, america, backup, tokens] { try await fake.shutdown() }
        directory.remove()
    }
}
