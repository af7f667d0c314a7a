import FlashgateCore
import FlashgateTesting
import FlashgateWire
import Foundation
import Testing

@testable import FlashgateServer

/// Audio input is billed at the model's audio price where Google sets one apart (2.5 Flash:
/// $1.00 per million against $0.30 for text, image and video). Before, every input token was
/// priced as text: an audio prompt was charged under a third of what Google bills for it.
@Suite struct AudioPriceTests {
    @Test func audioTokensCostTheAudioPrice() throws {
        let prices = PriceTable()
        let text = BillableUsage(promptTokens: 2_000, outputTokens: 0)
        let mixed = BillableUsage(promptTokens: 2_000, outputTokens: 0, audioTokens: 1_000)
        // 2,000 × $0.30/M = 600 µ$; 1,000 × 0.30 + 1,000 × 1.00 = 1,300 µ$.
        #expect(prices.cost(text, model: "gemini-2.5-flash") == MicroUSD(600))
        #expect(prices.cost(mixed, model: "gemini-2.5-flash") == MicroUSD(1_300))
        #expect(prices.cost(mixed, model: "gemini-2.5-flash-lite") == MicroUSD(100 + 300))
        // Priority scales it as it scales the rest (1.8×).
        #expect(prices.cost(mixed, model: "gemini-2.5-flash", tier: .priority) == MicroUSD(540 + 1_800))
        // A model without an audio price bills audio as input; cached audio stays at the cached rate.
        #expect(prices.cost(mixed, model: "gemini-3.5-flash") == MicroUSD(3_000))
        let cached = BillableUsage(promptTokens: 2_000, cachedTokens: 1_500, outputTokens: 0, audioTokens: 1_000)
        #expect(prices.cost(cached, model: "gemini-2.5-flash") == MicroUSD((500 * 1_000_000 + 1_500 * 30_000 + 999_999) / 1_000_000))
    }

    @Test func usageReadsUncachedAudioFromTheModalityDetails() throws {
        let usage = try #require(
            TokenUsage(
                usageMetadata: try JSONParser.parse(
                    #"{"promptTokenCount":1210,"candidatesTokenCount":5,"totalTokenCount":1215,"cachedContentTokenCount":200,"promptTokensDetails":[{"modality":"TEXT","tokenCount":10},{"modality":"AUDIO","tokenCount":1200}],"cacheTokensDetails":[{"modality":"AUDIO","tokenCount":200}]}"#
                )))
        #expect(usage.audioPromptTokens == 1_000)
        #expect(usage.billable.audioTokens == 1_000)
        #expect(TokenUsage(usageMetadata: ["promptTokenCount": 5])?.audioPromptTokens == 0)
    }

    @Test func theConfigSetsAnAudioPrice() throws {
        let config = try FlashgateConfig.load(
            .map([(key: "prices", value: .map([(key: "gemini-2.5-flash", value: .map([(key: "audio_input", value: .scalar("2.00"))]))]))]),
            environment: [:])
        #expect(config.prices.price(for: "gemini-2.5-flash")?.audioInputPerMillion == 2_000_000)
    }

    @Test func theWorstCaseReservesAudioAtTheAudioPrice() throws {
        // 64,000 bytes of WAV: 64 × 32 = 2,048 audio tokens.
        let audio = Data(repeating: 1, count: 64_000).base64EncodedString()
        let body = try JSONParser.parse(
            #"{"contents":[{"parts":[{"inlineData":{"mimeType":"audio/wav","data":"\#(audio)"}}]}],"generationConfig":{"maxOutputTokens":1}}"#)
        let worst = RequestCostEstimate.worstCase(body: body, model: "gemini-2.5-flash", teamOutputCap: nil)
        #expect(worst.audioTokens == 2_048)
        let asText = RequestCostEstimate(
            inputTokens: worst.inputTokens, outputTokens: worst.outputTokens, searchQueries: 0, isUpperBound: true)
        let priced = try #require(worst.cost(PriceTable(), model: "gemini-2.5-flash"))
        let textPriced = try #require(asText.cost(PriceTable(), model: "gemini-2.5-flash"))
        // 2,048 tokens × ($1.00 − $0.30)/M ≈ 1,434 µ$ more, within a micro-dollar of rounding.
        #expect(abs(priced.value - textPriced.value - 2_048 * 700_000 / 1_000_000) <= 1)
        // A fileData of unknown type may be audio: the whole window at the audio price.
        let file = try JSONParser.parse(#"{"contents":[{"parts":[{"fileData":{"fileUri":"gs://b/x"}}]}]}"#)
        #expect(RequestCostEstimate.worstCase(body: file, model: "gemini-2.5-flash", teamOutputCap: nil).audioTokens
            == RequestCostEstimate.contextWindowTokens)
        let pdf = try JSONParser.parse(#"{"contents":[{"parts":[{"fileData":{"fileUri":"gs://b/x.pdf","mimeType":"application/pdf"}}]}]}"#)
        #expect(RequestCostEstimate.worstCase(body: pdf, model: "gemini-2.5-flash", teamOutputCap: nil).audioTokens == 0)
    }
}

extension AccountingTests {
    @Test func anAudioPromptIsChargedTheAudioPrice() async throws {
        let h = try await Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        h.fake.enqueue(
            .json(
                #"{"candidates":[{"content":{"role":"model","parts":[{"text":"a bird"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1010,"candidatesTokenCount":2,"totalTokenCount":1012,"promptTokensDetails":[{"modality":"TEXT","tokenCount":10},{"modality":"AUDIO","tokenCount":1000}]}}"#
            ))
        let wav = Data(repeating: 1, count: 4_000).base64EncodedString()
        let response = try await client.request(
            "POST", "/v1/chat/completions",
            body: #"{"model":"gemini-2.5-flash","max_tokens":8,"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"\#(wav)","format":"wav"}}]}]}"#,
            headers: Self.auth)
        #expect(response?.status == 200, "\(response?.text.prefix(300) ?? "")")
        // 10 × $0.30/M + 1,000 × $1.00/M + 2 × $2.50/M = 3 + 1,000 + 5 = 1,008 µ$.
        #expect(response?.header("x-flashgate-cost-usd") == "0.001008")
        let rows = try await h.rows(atLeast: 1)
        #expect(rows.first?.cost == MicroUSD(1_008))
        await client.close()
        try await h.stop()
    }
}
