import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// Embeddings and token counts are upstream calls like generations: admitted against rate limits
/// and budgets, priced (no price, no call), settled exactly once and written to the ledger. Real
/// ledger, real libcurl, FakeGemini.
@Suite struct MeteredCallsTests {
    typealias Harness = AccountingTests.Harness
    static let auth = AccountingTests.auth
    static let nativeAuth = [("x-goog-api-key", AccountingTests.key)]
    static let embed = "/v1beta/models/gemini-embedding-001:embedContent"
    static let batch = "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    static let count = "/v1beta/models/gemini-3.5-flash:countTokens"
    static let one = #"{"content":{"parts":[{"text":"x"}]}}"#
    static let batchOne = #"{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"x"}]}}]}"#
    static let contents = #"{"contents":[{"parts":[{"text":"how many?"}]}]}"#

    static func openAI(_ input: String, model: String = "gemini-embedding-001") -> String {
        #"{"model":"\#(model)","input":\#(input)}"#
    }

    @Test func aSpentBudgetRefusesEmbeddingsInBothDialectsWithoutAnUpstreamCall() async throws {
        let h = try await Harness.start(budgetUSD: "0.000001")
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let openAI = try await client.request(
            "POST", "/v1/embeddings", body: Self.openAI(#""hello""#), headers: Self.auth)
        try #require(openAI?.status == 429)
        #expect(openAI?.json?["error"]?["code"]?.stringValue == "insufficient_quota")
        #expect(openAI?.header("x-should-retry") == "false")
        for path in [Self.embed, Self.batch] {
            let native = try await client.request(
                "POST", path, body: path == Self.embed ? Self.one : Self.batchOne, headers: Self.nativeAuth)
            #expect(native?.status == 429)
            #expect(native?.json?["error"]?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
            #expect(
                native?.json?["error"]?["details"]?[0]?["violations"]?[0]?["subject"]?.stringValue == "team:search:day")
        }
        #expect(h.fake.requestCount == 0)
        await client.close()
        try await h.stop()
    }

    /// The `per_request` contract: each row is durable before its answer ends.
    @Test func embeddingsAreChargedAndRecordedInTheLedger() async throws {
        let h = try await Harness.start { $0.ledger.durability = .perRequest }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        // No usage in the answer: charged the reservation, the strict bound of 21 + 22 tokens
        // (bytes, the "text" key, 8 per content and 4 per part) × $0.15/M = 6.45 µ$ → 7.
        let reserved = try await client.request(
            "POST", "/v1/embeddings", body: Self.openAI(#"["first","second"]"#), headers: Self.auth)
        try #require(reserved?.status == 200)
        try #require(reserved?.header("x-flashgate-cost-usd") == "0.000007")
        #expect(reserved?.json?["usage"]?["prompt_tokens"]?.intValue == 43)
        #expect(reserved?.json?["usage"]?["total_tokens"]?.intValue == 43)
        #expect(reserved?.header("x-flashgate-budget-remaining-usd") != nil)

        // Usage in the answer: charged from it, and prompt_tokens says so.
        let embedding = #"{"values":[0.5]}"#
        h.fake.enqueue(
            .json(#"{"embeddings":[\#(embedding),\#(embedding)],"usageMetadata":{"promptTokenCount":1000}}"#))
        let counted = try await client.request(
            "POST", "/v1/embeddings", body: Self.openAI(#"["first","second"]"#), headers: Self.auth)
        #expect(counted?.json?["usage"]?["prompt_tokens"]?.intValue == 1000)
        #expect(counted?.header("x-flashgate-cost-usd") == "0.000150")

        let single = try await client.request("POST", Self.embed, body: Self.one, headers: Self.nativeAuth)
        #expect(single?.status == 200)
        #expect(single?.json?["embedding"]?["values"]?.arrayValue?.count == 4)
        #expect(single?.header("x-flashgate-cost-usd") == "0.000003")
        h.fake.enqueue(.json(#"{"embeddings":[\#(embedding)],"usageMetadata":{"promptTokenCount":2000}}"#))
        let batch = try await client.request("POST", Self.batch, body: Self.batchOne, headers: Self.nativeAuth)
        #expect(batch?.header("x-flashgate-cost-usd") == "0.000300")
        #expect(batch?.json?["usageMetadata"]?["promptTokenCount"]?.intValue == 2000)

        // Settled durably before the answer is written: no need to wait for the rows.
        let rows = try h.ledger.requestRows()
        #expect(rows.map(\.cost) == [MicroUSD(7), MicroUSD(150), MicroUSD(3), MicroUSD(300)])
        #expect(rows.map(\.promptTokens) == [43, 1000, 17, 2000])
        #expect(
            rows.allSatisfy { $0.model == "gemini-embedding-001" && $0.cacheStatus == "embed" && $0.outcome == "ok" })
        #expect(rows.allSatisfy { $0.team == "search" && $0.key == "ci" && $0.reservationID != nil })
        #expect(h.ledger.totals(prefix: "team:search").values.contains(MicroUSD(460)))
        let usage = try await client.request("GET", "/admin/usage", headers: [("authorization", "Bearer admin-secret")])
        #expect(usage?.json?["data"]?[0]?["model"]?.stringValue == "gemini-embedding-001")
        #expect(usage?.json?["data"]?[0]?["requests"]?.intValue == 4)
        #expect(usage?.json?["data"]?[0]?["cost_usd"] == .number("0.000460"))
        await client.close()
        try await h.stop()
    }

    /// An embedding's audio is charged at the audio rate its usage reports ($6.50 per million on
    /// gemini-embedding-2, text $0.20): settlement had kept only the prompt count and charged
    /// every token as text, 32 times too little. An answer without usage is charged the
    /// reserved tokens, media at their rates.
    @Test func anEmbeddingsMediaIsChargedAtItsOwnRate() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let audio = Data(repeating: 7, count: 100_000).base64EncodedString()
        let body = #"{"content":{"parts":[{"inlineData":{"mimeType":"audio/wav","data":"\#(audio)"}}]}}"#
        let path = "/v1beta/models/gemini-embedding-2:embedContent"
        h.fake.enqueue(
            .json(
                #"{"embedding":{"values":[0.1]},"usageMetadata":{"promptTokenCount":10000,"promptTokensDetails":[{"modality":"AUDIO","tokenCount":10000}]}}"#
            ))
        let reported = try await client.request("POST", path, body: body, headers: Self.nativeAuth)
        #expect(reported?.status == 200)
        #expect(reported?.header("x-flashgate-cost-usd") == "0.065000")
        h.fake.enqueue(.json(#"{"embedding":{"values":[0.1]}}"#))
        let unreported = try await client.request("POST", path, body: body, headers: Self.nativeAuth)
        #expect(unreported?.status == 200)
        // 3,200 audio tokens for 100 KB at $6.50 per million, and a few of text.
        let charged = try #require(unreported?.header("x-flashgate-cost-usd").flatMap { MicroUSD(dollars: $0) })
        #expect(charged >= MicroUSD(20_800) && charged < MicroUSD(21_000), "\(charged.dollars)")
        await client.close()
        try await h.stop()
    }

    @Test func estimateModeReservesAndChargesTheExpectedTokens() async throws {
        let h = try await Harness.start { config in config.accounting.mode = .estimate }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        // Four bytes a token: (8 + 4 + ceil(9 / 4)) + (8 + 4 + ceil(10 / 4)) = 30 tokens → 4.5 µ$ → 5.
        let response = try await client.request(
            "POST", "/v1/embeddings", body: Self.openAI(#"["first","second"]"#), headers: Self.auth)
        #expect(response?.json?["usage"]?["prompt_tokens"]?.intValue == 30)
        #expect(response?.header("x-flashgate-cost-usd") == "0.000005")
        await client.close()
        try await h.stop()
    }

    @Test func anEmbeddingModelWithoutAPriceIsRefused() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let openAI = try await client.request(
            "POST", "/v1/embeddings", body: Self.openAI(#""x""#, model: "text-embedding-004"), headers: Self.auth)
        try #require(openAI?.status == 400)
        #expect(openAI?.json?["error"]?["param"]?.stringValue == "model")
        #expect(openAI?.json?["error"]?["message"]?.stringValue?.contains("prices.text-embedding-004") == true)
        let native = try await client.request(
            "POST", "/v1beta/models/text-embedding-004:embedContent", body: Self.one, headers: Self.nativeAuth)
        #expect(native?.status == 400)
        #expect(native?.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        #expect(h.fake.requestCount == 0)
        #expect(try h.ledger.requestRows().isEmpty)
        await client.close()
        try await h.stop()
    }

    @Test func countTokensTakesARequestFromTheRateLimitAndWritesAFreeRow() async throws {
        let h = try await Harness.start { config in config.teams[0].limits.requestsPerMinute = 1 }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let first = try await client.request("POST", Self.count, body: Self.contents, headers: Self.nativeAuth)
        #expect(first?.status == 200)
        #expect(first?.json?["totalTokens"]?.intValue == 5)
        #expect(first?.header("x-flashgate-cost-usd") == "0.000000")
        let second = try await client.request("POST", Self.count, body: Self.contents, headers: Self.nativeAuth)
        try #require(second?.status == 429)
        #expect(
            second?.json?["error"]?["details"]?[0]?["@type"]?.stringValue == "type.googleapis.com/google.rpc.RetryInfo")
        #expect(Int(second?.header("retry-after") ?? "") ?? 0 >= 1)
        #expect(h.fake.requestCount == 1)
        let rows = try h.ledger.requestRows()
        try #require(rows.count == 1)
        #expect(rows[0].cost == .zero && rows[0].cacheStatus == "count" && rows[0].outcome == "ok")
        #expect(rows[0].model == "gemini-3.5-flash" && rows[0].team == "search" && rows[0].reservationID == nil)
        await client.close()
        try await h.stop()
    }

    @Test func countTokensNeverTouchesBudgets() async throws {
        let h = try await Harness.start(budgetUSD: "0.000001") { $0.ledger.durability = .perRequest }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let spent = try await client.request("POST", "/v1/embeddings", body: Self.openAI(#""x""#), headers: Self.auth)
        try #require(spent?.status == 429)
        let count = try await client.request("POST", Self.count, body: Self.contents, headers: Self.nativeAuth)
        #expect(count?.status == 200)
        let rows = try h.ledger.requestRows()
        #expect(rows.map(\.cacheStatus) == ["count"])
        let budgets = h.gateway.running.gateway.accountant.budgets.all(now: Date())
        #expect(budgets.allSatisfy { $0.settled == .zero && $0.reserved == .zero })
        await client.close()
        try await h.stop()
    }

    @Test func upstreamErrorsCostNothingAndDisconnectsCostTheReservationOnce() async throws {
        let h = try await Harness.start { $0.ledger.durability = .perRequest }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        h.fake.enqueue(.googleError(status: 500, message: "boom", googleStatus: "INTERNAL"))
        let failed = try await client.request("POST", "/v1/embeddings", body: Self.openAI(#""a""#), headers: Self.auth)
        try #require(failed?.status == 500)
        let first = try h.ledger.requestRows()
        try #require(first.count == 1)
        #expect(first[0].cost == .zero && first[0].outcome == "upstream_error" && first[0].cacheStatus == "embed")

        let gate = FakeGate()
        var held = FakeReply.json(#"{"embeddings":[{"values":[0.5]}]}"#)
        held.gate = gate
        h.fake.enqueue(held)
        let leaving = try await RawHTTPClient.connect(port: h.gateway.port)
        try await leaving.send(
            RawHTTPClient.encode("POST", "/v1/embeddings", body: Self.openAI(#""b""#), headers: Self.auth))
        await h.fake.waitForRequests(2)
        await leaving.close()
        let rows = try await h.rows(atLeast: 2)
        let cut = try #require(rows.first { $0.outcome == "incomplete" })
        // The reservation: 17 tokens × $0.15/M = 2.55 µ$ → 3.
        #expect(cut.cost == MicroUSD(3) && cut.cacheStatus == "embed")
        gate.open()

        let after = try await client.request("POST", Self.embed, body: Self.one, headers: Self.nativeAuth)
        #expect(after?.status == 200)
        #expect(try h.ledger.requestRows().count == 3)
        #expect(try h.ledger.openReservations().isEmpty)
        let budgets = h.gateway.running.gateway.accountant.budgets.all(now: Date())
        #expect(budgets.allSatisfy { $0.reserved == .zero && $0.settled == MicroUSD(6) })
        await client.close()
        try await h.stop()
    }

    @Test func theAccessLogShowsWhoPaidWhatForEmbeddingsAndCounts() async throws {
        let lines = AccessLogTests.Lines()
        let fake = try await FakeGemini.start()
        var config = FlashgateConfig(routes: [
            RouteConfig(name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
        ])
        config.teams = [TeamConfig(id: "search")]
        config.keys = [KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex(AccountingTests.key))]
        let curl = try CurlTransport()
        let gateway = try await TestGateway.start(
            config: config, http: curl, accessLog: { lines.add($0) }, priceMadeUpModels: false)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let embedded = try await client.request(
            "POST", "/v1/embeddings", body: Self.openAI(#"["first","second"]"#), headers: Self.auth)
        #expect(embedded?.status == 200)
        let counted = try await client.request("POST", Self.count, body: Self.contents, headers: Self.nativeAuth)
        #expect(counted?.status == 200)
        let written = await lines.wait(for: 2)
        let embedLine = try #require(written.first { $0.contains("endpoint=embeddings") })
        for fact in ["team=search", "key=ci", "model=gemini-embedding-001", "cost_usd=0.000007", "prompt_tokens=43"] {
            #expect(embedLine.contains(fact), "missing \(fact) in \(embedLine)")
        }
        let countLine = try #require(written.first { $0.contains("endpoint=count_tokens") })
        for fact in ["team=search", "key=ci", "model=gemini-3.5-flash", "status=200"] {
            #expect(countLine.contains(fact), "missing \(fact) in \(countLine)")
        }
        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
    }
}
