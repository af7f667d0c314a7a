import FlashgateCore
import Testing

@testable import FlashgateWire

/// The reservation of an embedding call: input only, bounded by the bytes of its texts.
@Suite struct EmbeddingsCostEstimateTests {
    static func batch(_ texts: [String], title: String? = nil) -> JSONValue {
        .array(
            texts.map { text in
                var request: JSONObject = [
                    "model": "models/gemini-embedding-001", "content": ["parts": [["text": .string(text)]]],
                ]
                if let title { request["title"] = .string(title) }
                return .object(request)
            })
    }

    @Test func everyTextOfABatchIsBoundedByItsBytesPlusMarkers() {
        let texts = ["héllo wörld", String(repeating: "ß", count: 300), "x"]
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        let body: JSONValue = ["requests": Self.batch(texts)]
        let worst = RequestCostEstimate.worstCase(embeddings: body, model: "gemini-embedding-001")
        // Per request: 8 per content, 4 per part and the "text" key (4 bytes).
        #expect(worst.inputTokens == bytes + texts.count * (8 + 4 + 4))
        #expect(worst.outputTokens == 0 && worst.searchQueries == 0 && worst.isUpperBound)
        let expected = RequestCostEstimate.expected(embeddings: body, model: "gemini-embedding-001")
        #expect(expected.inputTokens < worst.inputTokens / 2)
        #expect(expected.inputTokens > 0)
    }

    @Test func aSingleEmbedContentAndItsTitleCount() {
        let body: JSONValue = [
            "content": ["parts": [["text": "query"]]], "title": "A title", "taskType": "RETRIEVAL_DOCUMENT",
        ]
        let worst = RequestCostEstimate.worstCase(embeddings: body, model: "gemini-embedding-001")
        #expect(worst.inputTokens == 5 + 7 + 8 + 4 + 4)
    }

    @Test func theOpenAIBodyIsEstimatedAsTheGeminiBodyItBecomes() {
        let request = EmbeddingsRequest(model: "embed", inputs: ["first", "second"])
        let body = JSONValue.object(request.gemini(upstreamModel: "gemini-embedding-001"))
        let worst = RequestCostEstimate.worstCase(embeddings: body, model: "gemini-embedding-001")
        #expect(worst.inputTokens == 11 + 2 * 16)
    }

    @Test func mediaWithoutABoundReservesTheContextWindow() {
        let body: JSONValue = [
            "content": ["parts": [["fileData": ["fileUri": "gs://b/v.mp4", "mimeType": "video/mp4"]]]]
        ]
        let worst = RequestCostEstimate.worstCase(embeddings: body, model: "gemini-embedding-2")
        #expect(worst.inputTokens >= RequestCostEstimate.contextWindowTokens)
    }

    @Test func embeddingPricesComeFromTheirRows() {
        let million = RequestCostEstimate(inputTokens: 1_000_000, outputTokens: 0, searchQueries: 0, isUpperBound: true)
        #expect(million.cost(PriceTable(), model: "gemini-embedding-001") == MicroUSD(150_000))
        #expect(million.cost(PriceTable(), model: "gemini-embedding-2") == MicroUSD(200_000))
        #expect(million.cost(PriceTable(), model: "text-embedding-004") == nil)
    }
}
