import FlashgateCore
import Testing

@testable import FlashgateWire

@Suite struct ChatResponseTests {
    @Test func rendersTextUsageAndFinishReason() throws {
        let gemini = try JSONParser.parse(
            """
            {"candidates":[{"content":{"role":"model","parts":[{"text":"thinking...","thought":true},{"text":"Hel"},{"text":"lo"}]},
              "finishReason":"MAX_TOKENS","index":0}],
             "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":7,"cachedContentTokenCount":4,"totalTokenCount":22}}
            """)
        let rendered = ChatResponse.render(gemini, model: "my-model", id: "chatcmpl-1", created: 1_700_000_000)
        let (body, usage) = (rendered.body, rendered.usage)
        #expect(body["object"]?.stringValue == "chat.completion")
        #expect(body["model"]?.stringValue == "my-model")
        #expect(body["created"]?.intValue == 1_700_000_000)
        let choice = body["choices"]?.arrayValue?.first
        #expect(choice?["message"]?["content"]?.stringValue == "Hello")
        #expect(choice?["message"]?["reasoning_content"]?.stringValue == "thinking...")
        #expect(choice?["finish_reason"]?.stringValue == "length")
        #expect(body["usage"]?["prompt_tokens"]?.intValue == 10)
        #expect(body["usage"]?["completion_tokens"]?.intValue == 12)
        #expect(body["usage"]?["total_tokens"]?.intValue == 22)
        #expect(body["usage"]?["completion_tokens_details"]?["reasoning_tokens"]?.intValue == 7)
        #expect(body["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.intValue == 4)
        #expect(usage?.completionTokens == 12)
    }

    @Test func blockedPromptIsContentFilterNotError() throws {
        let gemini = try JSONParser.parse(#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}"#)
        let body = ChatResponse.render(gemini, model: "m", id: "x", created: 0).body
        let choice = body["choices"]?.arrayValue?.first
        #expect(choice?["finish_reason"]?.stringValue == "content_filter")
        #expect(choice?["message"]?["content"] == .null)
    }

    @Test(arguments: [
        ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"), ("MALFORMED_FUNCTION_CALL", "stop"), ("SOMETHING_NEW", "stop"),
    ])
    func finishReasons(_ gemini: String, _ openAI: String) {
        #expect(FinishReason.openAI(gemini) == openAI)
    }

    @Test func inclusiveThoughtCountingIsNotDoubled() {
        var usage = TokenUsage()
        usage.promptTokens = 10
        usage.candidatesTokens = 12
        usage.thoughtsTokens = 7
        usage.totalTokens = 22
        #expect(usage.completionTokens == 12)
    }
}
