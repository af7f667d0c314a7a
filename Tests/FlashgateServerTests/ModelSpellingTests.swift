import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Testing

@testable import FlashgateServer

/// `models/gemini-3.5-flash` and `gemini-3.5-flash` are one model id, and an alias is another
/// name of its model: routing has always read them so, and now so do a team's per-model rate
/// limits, the ledger's rows and per-model config. Before, an OpenAI call spelled with `models/`,
/// or any call through an alias, counted against no `model_limits` entry of the model (a team
/// held to 2 requests a minute on a model made as many as it liked), and its rows went into a
/// usage line of their own.
extension AccountingTests {
    static func chat(model: String) -> String {
        #"{"model":"\#(model)","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#
    }

    static func limitingFlash(_ config: inout FlashgateConfig) {
        config.teams[0].modelLimits = ["gemini-3.5-flash": RateLimits(requestsPerMinute: 2)]
    }

    @Test func aTeamsModelLimitCountsTheModelHoweverTheCallSpellsIt() async throws {
        let h = try await Harness.start(configure: Self.limitingFlash)
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let first = try await client.request("POST", "/v1/chat/completions", body: Self.chat(model: "gemini-3.5-flash"), headers: Self.auth)
        #expect(first?.status == 200)
        let second = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat(model: "models/gemini-3.5-flash"), headers: Self.auth)
        #expect(second?.status == 200)
        // The answer echoes the spelling the client sent.
        #expect(second?.json?["model"]?.stringValue == "models/gemini-3.5-flash")
        for model in ["models/gemini-3.5-flash", "gemini-3.5-flash"] {
            let refused = try await client.request("POST", "/v1/chat/completions", body: Self.chat(model: model), headers: Self.auth)
            #expect(refused?.status == 429, "\(model)")
            #expect(refused?.text.contains("team:search:model:gemini-3.5-flash") == true, "\(model)")
        }
        let responses = try await client.request(
            "POST", "/v1/responses", body: #"{"model":"models/gemini-3.5-flash","input":"hi"}"#, headers: Self.auth)
        #expect(responses?.status == 429)
        #expect(h.fake.requestCount == 2)
        await client.close()
        try await h.stop()
    }

    @Test func ledgerRowsNameTheModelAsRoutingSeesIt() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        #expect(
            try await client.request(
                "POST", "/v1/chat/completions", body: Self.chat(model: "models/gemini-3.5-flash"), headers: Self.auth)?
                .status == 200)
        let responses = try await client.request(
            "POST", "/v1/responses", body: #"{"model":"models/gemini-3.5-flash","input":"hi"}"#, headers: Self.auth)
        #expect(responses?.status == 200)
        #expect(responses?.json?["model"]?.stringValue == "models/gemini-3.5-flash")
        let embedded = try await client.request(
            "POST", "/v1/embeddings", body: #"{"model":"models/gemini-embedding-001","input":"hi"}"#, headers: Self.auth)
        #expect(embedded?.status == 200)
        let native = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
            body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#, headers: [("x-goog-api-key", Self.key), ("cache-control", "no-store")])
        #expect(native?.status == 200)
        let rows = try await h.rows(atLeast: 4)
        #expect(rows.map(\.model).sorted() == ["gemini-3.5-flash", "gemini-3.5-flash", "gemini-3.5-flash", "gemini-embedding-001"])
        await client.close()
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
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        for (model, status) in [("quick", 200), ("fast", 200), ("models/quick", 429)] {
            let response = try await client.request("POST", "/v1/chat/completions", body: Self.chat(model: model), headers: Self.auth)
            #expect(response?.status == status, "\(model)")
        }
        let rows = try await h.rows(atLeast: 2)
        #expect(rows.map(\.model) == ["fast", "fast"])
        await client.close()
        try await h.stop()
    }
}
