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
        let mixed = BillableUsage(promptTokens: 2_000, outputTokens: 0, media: MediaTokens(audio: 1_000))
        // 2,000 × $0.30/M = 600 µ$; 1,000 × 0.30 + 1,000 × 1.00 = 1,300 µ$.
        #expect(prices.cost(text, model: "gemini-2.5-flash") == MicroUSD(600))
        #expect(prices.cost(mixed, model: "gemini-2.5-flash") == MicroUSD(1_300))
        #expect(prices.cost(mixed, model: "gemini-2.5-flash-lite") == MicroUSD(100 + 300))
        // Priority scales it as it scales the rest (1.8×).
        #expect(prices.cost(mixed, model: "gemini-2.5-flash", tier: .priority) == MicroUSD(540 + 1_800))
        // A model without an audio price bills audio as input; cached audio stays at the cached rate.
        #expect(prices.cost(mixed, model: "gemini-3.5-flash") == MicroUSD(3_000))
        let cached = BillableUsage(promptTokens: 2_000, cachedTokens: 1_500, outputTokens: 0, media: MediaTokens(audio: 1_000))
        #expect(prices.cost(cached, model: "gemini-2.5-flash") == MicroUSD((500 * 1_000_000 + 1_500 * 30_000 + 999_999) / 1_000_000))
    }

    /// `gemini-embedding-2` prices images, audio and video apart from text (0.45 / 6.50 / 12.00
    /// against 0.20). Before, all of it was billed as text: a video embedding at a sixtieth.
    @Test func embeddingMediaCostsItsModalitysPrice() throws {
        let prices = PriceTable()
        func cost(_ usage: BillableUsage) -> MicroUSD? { prices.cost(usage, model: "gemini-embedding-2") }
        #expect(cost(BillableUsage(promptTokens: 10_000)) == MicroUSD(2_000))
        #expect(cost(BillableUsage(promptTokens: 10_000, media: MediaTokens(image: 10_000))) == MicroUSD(4_500))
        #expect(cost(BillableUsage(promptTokens: 10_000, media: MediaTokens(audio: 10_000))) == MicroUSD(65_000))
        #expect(cost(BillableUsage(promptTokens: 10_000, media: MediaTokens(video: 10_000))) == MicroUSD(120_000))
        #expect(cost(BillableUsage(promptTokens: 10_000, media: MediaTokens(any: 10_000))) == MicroUSD(120_000))
        // Counts past the prompt are clamped, dearest first.
        #expect(cost(BillableUsage(promptTokens: 10_000, media: MediaTokens(image: 10_000, video: 10_000))) == MicroUSD(120_000))
        // A native embedding of an image is reserved, and so charged, at the image price.
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        png += [0, 0, 0x01, 0, 0, 0, 0x01, 0] + [UInt8](repeating: 0, count: 40)
        let body = try JSONParser.parse(
            #"{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"\#(Data(png).base64EncodedString())"}}]}}"#)
        let estimate = RequestCostEstimate.worstCase(embeddings: body, model: "gemini-embedding-2")
        #expect(estimate.media.image > 0)
        let priced = try #require(estimate.cost(prices, model: "gemini-embedding-2"))
        let asText = try #require(
            RequestCostEstimate(inputTokens: estimate.inputTokens, outputTokens: 0, searchQueries: 0, isUpperBound: true)
                .cost(prices, model: "gemini-embedding-2"))
        #expect(priced.value > asText.value * 2)
    }

    @Test func usageReadsUncachedImageAndVideoToo() throws {
        let usage = try #require(
            TokenUsage(
                usageMetadata: try JSONParser.parse(
                    #"{"promptTokenCount":900,"promptTokensDetails":[{"modality":"IMAGE","tokenCount":258},{"modality":"VIDEO","tokenCount":600},{"modality":"TEXT","tokenCount":42}]}"#
                )))
        #expect(usage.billable.media.image == 258 && usage.billable.media.video == 600 && usage.billable.media.audio == 0)
    }

    @Test func usageReadsUncachedAudioFromTheModalityDetails() throws {
        let usage = try #require(
            TokenUsage(
                usageMetadata: try JSONParser.parse(
                    #"{"promptTokenCount":1210,"candidatesTokenCount":5,"totalTokenCount":1215,"cachedContentTokenCount":200,"promptTokensDetails":[{"modality":"TEXT","tokenCount":10},{"modality":"AUDIO","tokenCount":1200}],"cacheTokensDetails":[{"modality":"AUDIO","tokenCount":200}]}"#
                )))
        #expect(usage.promptMedia.audio == 1_000)
        #expect(usage.billable.media.audio == 1_000)
        #expect(TokenUsage(usageMetadata: ["promptTokenCount": 5])?.promptMedia.audio == 0)
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
        #expect(worst.media.audio == 2_048)
        let asText = RequestCostEstimate(
            inputTokens: worst.inputTokens, outputTokens: worst.outputTokens, searchQueries: 0, isUpperBound: true)
        let priced = try #require(worst.cost(PriceTable(), model: "gemini-2.5-flash"))
        let textPriced = try #require(asText.cost(PriceTable(), model: "gemini-2.5-flash"))
        // 2,048 tokens × ($1.00 − $0.30)/M ≈ 1,434 µ$ more, within a micro-dollar of rounding.
        #expect(abs(priced.value - textPriced.value - 2_048 * 700_000 / 1_000_000) <= 1)
        // A fileData of unknown type may be any media: the whole window at the dearest price.
        let file = try JSONParser.parse(#"{"contents":[{"parts":[{"fileData":{"fileUri":"gs://b/x"}}]}]}"#)
        #expect(RequestCostEstimate.worstCase(body: file, model: "gemini-2.5-flash", teamOutputCap: nil).media.any
            == RequestCostEstimate.contextWindowTokens)
        let pdf = try JSONParser.parse(#"{"contents":[{"parts":[{"fileData":{"fileUri":"gs://b/x.pdf","mimeType":"application/pdf"}}]}]}"#)
        #expect(RequestCostEstimate.worstCase(body: pdf, model: "gemini-2.5-flash", teamOutputCap: nil).media == .init())
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
