import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// Prices, tiers and refusals on the request path: no call without a price, a spent budget
/// answered so SDKs stop at once, and every call charged at the tier that served it. Real
/// ledger, real libcurl, FakeGemini.
@Suite struct MoneyPathTests {
    typealias Harness = AccountingTests.Harness
    static let auth = AccountingTests.auth
    static let nativeAuth = [("x-goog-api-key", AccountingTests.key)]

    static func chat(_ model: String, extra: String = "") -> String {
        #"{"model":"\#(model)","max_tokens":16,"messages":[{"role":"user","content":"hi"}]\#(extra)}"#
    }

    @Test func aModelWithoutAPriceIsRefusedNotServedForFree() async throws {
        // Spent: even the smallest call does not fit.
        let h = try await Harness.start(budgetUSD: "0.000001")
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let priced = try await client.request("POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash"), headers: Self.auth)
        #expect(priced?.status == 429)
        for model in ["gemini-3.5-pro", "gemini-2.0-flash", "gemini-9"] {
            let response = try await client.request("POST", "/v1/chat/completions", body: Self.chat(model), headers: Self.auth)
            #expect(response?.status == 400, "\(model) was answered \(response?.status ?? 0)")
            let message = response?.json?["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains(model) && message.contains("prices.\(model)"))
            #expect(response?.json?["error"]?["param"]?.stringValue == "model")
            let native = try await client.request(
                "POST", "/v1beta/models/\(model):generateContent", body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
                headers: Self.nativeAuth + [("cache-control", "no-store")])
            #expect(native?.status == 400)
            #expect(native?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        }
        #expect(h.fake.requestCount == 0)
        #expect(try h.ledger.requestRows().allSatisfy { $0.cost == .zero })
        await client.close()
        try await h.stop()
    }

    @Test func anExplicitFallbackRowPricesUnknownModelsAndTheBudgetHolds() async throws {
        let h = try await Harness.start(budgetUSD: "0.000001") { config in
            config.prices.set(ModelPrice(input: 1_000_000, output: 1_000_000, cachedInput: 0), prefix: PriceTable.fallbackPrefix)
        }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let response = try await client.request("POST", "/v1/chat/completions", body: Self.chat("gemini-9"), headers: Self.auth)
        #expect(response?.status == 429)
        #expect(response?.json?["error"]?["code"]?.stringValue == "insufficient_quota")
        #expect(h.fake.requestCount == 0)
        await client.close()
        try await h.stop()
    }

    @Test func aSpentBudgetIsFinalInBothDialects() async throws {
        let h = try await Harness.start(budgetUSD: "0.000001")
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let openAI = try await client.request("POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash"), headers: Self.auth)
        #expect(openAI?.status == 429)
        // The openai SDKs retry a 429 unless told not to; insufficient_quota + x-should-retry: false stop them.
        #expect(openAI?.header("x-should-retry") == "false")
        #expect(openAI?.json?["error"]?["type"]?.stringValue == "insufficient_quota")
        #expect(openAI?.json?["error"]?["code"]?.stringValue == "insufficient_quota")
        let message = openAI?.json?["error"]?["message"]?.stringValue ?? ""
        #expect(message.contains("team:search:day") && message.contains("resets at "))
        #expect(openAI?.header("x-flashgate-budget-reset")?.hasSuffix("T00:00:00Z") == true)
        #expect(Int(openAI?.header("retry-after") ?? "") ?? 0 > 0)

        let native = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
            headers: Self.nativeAuth + [("cache-control", "no-store")])
        #expect(native?.status == 429)
        let error = native?.json?["error"]
        #expect(error?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
        #expect(error?["details"]?[0]?["@type"]?.stringValue == "type.googleapis.com/google.rpc.QuotaFailure")
        #expect(error?["details"]?[0]?["violations"]?[0]?["subject"]?.stringValue == "team:search:day")
        #expect(h.fake.requestCount == 0)
        await client.close()
        try await h.stop()
    }

    @Test func aRateLimitSaysWhenTheBucketRefills() async throws {
        let h = try await Harness.start { config in config.teams[0].limits.requestsPerMinute = 1 }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let first = try await client.request("POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash"), headers: Self.auth)
        #expect(first?.status == 200)
        let second = try await client.request("POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash"), headers: Self.auth)
        #expect(second?.status == 429)
        #expect(second?.json?["error"]?["type"]?.stringValue == "rate_limit_error")
        #expect(second?.header("x-should-retry") == nil)
        // One request a minute: the bucket refills within 60 s, and says so.
        let wait = Int(second?.header("retry-after") ?? "") ?? 0
        #expect(wait >= 1 && wait <= 60)
        let native = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: #"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
            headers: Self.nativeAuth + [("cache-control", "no-store")])
        #expect(native?.json?["error"]?["details"]?[0]?["@type"]?.stringValue == "type.googleapis.com/google.rpc.RetryInfo")
        await client.close()
        try await h.stop()
    }

    @Test func aRequestedTierGoesUpstreamAndIsCharged() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let flex = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash", extra: #","service_tier":"flex""#),
            headers: Self.auth)
        #expect(flex?.status == 200)
        #expect(h.fake.received.last.flatMap { try? JSONParser.parse($0.body) }?["serviceTier"]?.stringValue == "flex")
        // 5 prompt and 3 output tokens at flex (half of 1.50 and 9.00): 3.75 + 13.5 = 17.25 µ$ → 18.
        #expect(flex?.header("x-flashgate-cost-usd") == "0.000018")
        #expect(flex?.header("x-flashgate-service-tier") == "flex")
        #expect(flex?.json?["service_tier"]?.stringValue == "flex")
        let rows = try await h.rows(atLeast: 1)
        #expect(rows.last?.serviceTier == "flex" && rows.last?.cost == MicroUSD(18))
        await client.close()
        try await h.stop()
    }

    /// Grounding's searches are billed on top of the tokens (Gemini 3: $14 per 1,000 search
    /// requests, each of the answer's `webSearchQueries`): the usage metadata does not count them,
    /// so settlement must read them from the candidates, whole or streamed. They were reserved
    /// for but never charged.
    @Test func groundingSearchesAreCharged() async throws {
        let h = try await Harness.start()
        let grounded =
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP","groundingMetadata":{"webSearchQueries":["a","b","c"]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#
        h.fake.enqueue(.json(grounded))
        h.fake.enqueue(
            .sse([
                #"{"candidates":[{"content":{"role":"model","parts":[{"text":"o"}]}}]}"#,
                #"{"candidates":[{"content":{"role":"model","parts":[{"text":"k"}]},"finishReason":"STOP","groundingMetadata":{"webSearchQueries":["a","b","c"]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#,
            ]))
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        // 5 prompt and 3 output tokens (34.5 µ$) and three searches (42,000 µ$).
        let whole = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash", extra: #","web_search_options":{}"#),
            headers: Self.auth + [("cache-control", "no-store")])
        #expect(whole?.status == 200)
        #expect(whole?.header("x-flashgate-cost-usd") == "0.042035")
        let streamed = try await client.request(
            "POST", "/v1/chat/completions",
            body: Self.chat("gemini-3.5-flash", extra: #","web_search_options":{},"stream":true"#),
            headers: Self.auth + [("cache-control", "no-store")])
        #expect(streamed?.status == 200)
        let rows = try await h.rows(atLeast: 2)
        #expect(rows.suffix(2).map(\.cost) == [MicroUSD(42_035), MicroUSD(42_035)])
        #expect(rows.suffix(2).map(\.searchQueries) == [3, 3])
        await client.close()
        try await h.stop()
    }

    @Test func aPriorityCallDowngradedByGoogleIsChargedAtStandard() async throws {
        let h = try await Harness.start()
        h.fake.enqueue(
            FakeReply(
                headers: [("Content-Type", "application/json"), ("x-gemini-service-tier", "standard")],
                chunks: [
                    Array(
                        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"totalTokenCount":8}}"#
                            .utf8)
                ]))
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let response = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash", extra: #","service_tier":"priority""#),
            headers: Self.auth)
        #expect(response?.status == 200)
        #expect(h.fake.received.last.flatMap { try? JSONParser.parse($0.body) }?["serviceTier"]?.stringValue == "priority")
        #expect(response?.header("x-flashgate-service-tier") == "standard")
        #expect(response?.header("x-flashgate-cost-usd") == "0.000035")
        #expect(response?.json?["service_tier"]?.stringValue == "default")
        let rows = try await h.rows(atLeast: 1)
        #expect(rows.last?.serviceTier == "standard")
        await client.close()
        try await h.stop()
    }

    @Test func tiersGeminiDoesNotHaveAreRefused() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        for tier in ["scale", "ultrafast", "batch", "turbo"] {
            let response = try await client.request(
                "POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash", extra: #","service_tier":"\#(tier)""#),
                headers: Self.auth)
            #expect(response?.status == 400)
            #expect(response?.json?["error"]?["param"]?.stringValue == "service_tier")
        }
        for tier in ["batch", "SERVICE_TIER_TURBO", "7"] {
            let native = try await client.request(
                "POST", "/v1beta/models/gemini-3.5-flash:generateContent",
                body: #"{"contents":[{"parts":[{"text":"hi"}]}],"serviceTier":"\#(tier)"}"#, headers: Self.nativeAuth)
            #expect(native?.status == 400)
        }
        #expect(h.fake.requestCount == 0)
        await client.close()
        try await h.stop()
    }

    @Test func aTeamsDefaultTierAppliesWhenTheRequestNamesNone() async throws {
        let h = try await Harness.start { config in config.teams[0].serviceTier = .flex }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        for extra in ["", #","service_tier":"auto""#] {
            let response = try await client.request(
                "POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash", extra: extra), headers: Self.auth)
            #expect(response?.header("x-flashgate-service-tier") == "flex")
            #expect(h.fake.received.last.flatMap { try? JSONParser.parse($0.body) }?["serviceTier"]?.stringValue == "flex")
        }
        // An explicit tier wins over the default.
        let standard = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat("gemini-3.5-flash", extra: #","service_tier":"default""#),
            headers: Self.auth)
        #expect(standard?.header("x-flashgate-service-tier") == "standard")
        let native = try await client.request(
            "POST", "/v1beta/models/gemini-3.5-flash:generateContent", body: #"{"contents":[{"parts":[{"text":"n"}]}]}"#,
            headers: Self.nativeAuth + [("cache-control", "no-store")])
        #expect(native?.header("x-flashgate-service-tier") == "flex")
        #expect(h.fake.received.last.flatMap { try? JSONParser.parse($0.body) }?["serviceTier"]?.stringValue == "flex")
        await client.close()
        try await h.stop()
    }

    @Test func theOfflineMockAnswersAnyModelIdForFree() async throws {
        // The mock route calls nothing upstream: it is priced by its own $0 row, not refused.
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig(), priceMadeUpModels: false)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let response = try await client.request("POST", "/v1/chat/completions", body: Self.chat("made-up-model"))
        #expect(response?.status == 200)
        #expect(response?.header("x-flashgate-cost-usd") == "0.000000")
        await client.close()
        await gateway.stop()
    }
}
