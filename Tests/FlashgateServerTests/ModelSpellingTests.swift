import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// `models/gemini-3.5-flash` and `gemini-3.5-flash` are one model id: routing has always read
/// them so, and now so do a team's per-model rate limits, the ledger's rows and per-model config.
/// Before, an OpenAI call spelled with `models/` counted against no `model_limits` entry (a
/// team held to 2 requests a minute on a model made as many as it liked), and its rows went
/// into a usage line of their own.
@Suite struct ModelSpellingTests {
    static let key = "fg-spelling-key-0123456789"
    static let auth = [("authorization", "Bearer \(key)"), ("cache-control", "no-store")]
    static let native = [("x-goog-api-key", key), ("cache-control", "no-store")]

    struct Harness {
        let fake: FakeGemini
        let curl: CurlTransport
        let gateway: TestGateway
        let directory: TempDirectory
        let client: RawHTTPClient

        var ledger: Ledger { gateway.running.gateway.accountant.ledger! }

        static func start(configure: (inout FlashgateConfig) -> Void = { _ in }) async throws -> Harness {
            let fake = try await FakeGemini.start()
            var config = FlashgateConfig(routes: [
                RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
            ])
            var team = TeamConfig(id: "search")
            team.modelLimits = ["gemini-3.5-flash": RateLimits(requestsPerMinute: 2)]
            config.teams = [team]
            config.keys = [
                KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex(ModelSpellingTests.key))
            ]
            config.retry = RetryPolicy(maxAttempts: 1, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
            configure(&config)
            let directory = try TempDirectory()
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(
                config: config, http: curl, storeDirectory: directory.path, priceMadeUpModels: false)
            let client = try await RawHTTPClient.connect(port: gateway.port)
            return Harness(fake: fake, curl: curl, gateway: gateway, directory: directory, client: client)
        }

        func chat(_ model: String) async throws -> RawHTTPClient.Response? {
            try await client.request(
                "POST", "/v1/chat/completions",
                body: #"{"model":"\#(model)","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#,
                headers: ModelSpellingTests.auth)
        }

        /// Waits (yielding, never sleeping) until the ledger holds `count` request rows.
        func rows(atLeast count: Int) async throws -> [SettlementRecord] {
            while true {
                let rows = try ledger.requestRows()
                if rows.count >= count { return rows }
                await Task.yield()
            }
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
            directory.remove()
        }
    }

    @Test func aTeamsModelLimitCountsTheModelHoweverTheCallSpellsIt() async throws {
        let h = try await Harness.start()
        let first = try await h.chat("gemini-3.5-flash")
        #expect(first?.status == 200)
        let second = try await h.chat("models/gemini-3.5-flash")
        #expect(second?.status == 200)
        // The answer echoes the spelling the client sent.
        #expect(second?.json?["model"]?.stringValue == "models/gemini-3.5-flash")
        for model in ["models/gemini-3.5-flash", "gemini-3.5-flash"] {
            let refused = try await h.chat(model)
            #expect(refused?.status == 429, "\(model)")
            #expect(refused?.text.contains("team:search:model:gemini-3.5-flash") == true, "\(model)")
        }
        let responses = try await h.client.request(
            "POST", "/v1/responses", body: #"{"model":"models/gemini-3.5-flash","input":"hi"}"#, headers: Self.auth)
        #expect(responses?.status == 429)
        #expect(h.fake.requestCount == 2)
        try await h.stop()
    }

    @Test func ledgerRowsNameTheModelAsRoutingSeesIt() async throws {
        let h = try await Harness.start { config in
            config.teams[0].modelLimits = [:]
        }
        #expect(try await h.chat("models/gemini-3.5-flash")?.status == 200)
        let responses = try await h.client.request(
            "POST", "/v1/responses", body: #"{"model":"models/gemini-3.5-flash","input":"hi"}"#, headers: Self.auth)
        #expect(responses?.status == 200)
        #expect(responses?.json?["model"]?.stringValue == "models/gemini-3.5-flash")
        let embedded = try await h.client.request(
            "POST", "/v1/embeddings", body: #"{"model":"models/gemini-embedding-001","input":"hi"}"#,
            headers: Self.auth)
        #expect(embedded?.status == 200)
        let native = try await h.client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#, headers: Self.native)
        #expect(native?.status == 200)
        let rows = try await h.rows(atLeast: 4)
        #expect(rows.map(\.model).sorted() == ["gemini-3.5-flash", "gemini-3.5-flash", "gemini-3.5-flash", "gemini-embedding-001"])
        try await h.stop()
    }

    /// An alias is another name of its model: a team's limit on the model holds its aliases too,
    /// and their rows carry the model's id. Before, each alias was a model of its own there.
    @Test func aTeamsModelLimitHoldsItsAliasesToo() async throws {
        let h = try await Harness.start { config in
            config.models = [
                ModelConfig(
                    id: "fast", routes: [ModelRoute(route: "studio", upstreamModel: "gemini-3.5-flash")],
                    aliases: ["quick"])
            ]
            config.teams[0].modelLimits = ["fast": RateLimits(requestsPerMinute: 2)]
        }
        #expect(try await h.chat("quick")?.status == 200)
        let echoed = try await h.chat("fast")
        #expect(echoed?.status == 200)
        #expect(try await h.chat("models/quick")?.status == 429)
        let rows = try await h.rows(atLeast: 2)
        #expect(rows.map(\.model) == ["fast", "fast"])
        try await h.stop()
    }
}
