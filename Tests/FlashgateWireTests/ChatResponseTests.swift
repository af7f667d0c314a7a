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

    /// The whole body of a non-stream answer, byte for byte, as the tree-and-encode renderer wrote
    /// it before the body was written in one pass: key order, `null`s, tool calls, annotations,
    /// usage with the cost last and the served tier after it.
    @Test func nonStreamBodyIsPinnedByteForByte() throws {
        let gemini = try JSONParser.parse(
            """
            {"candidates":[{"content":{"role":"model","parts":[{"text":"why","thought":true},{"text":"Sun \\"hot\\"\\n"},
              {"functionCall":{"name":"look","args":{"q":"x"}},"thoughtSignature":"c2ln"}]},"finishReason":"STOP","index":0,
              "groundingMetadata":{"groundingChunks":[{"web":{"uri":"https://a.example","title":"A"}}],
              "groundingSupports":[{"segment":{"startIndex":0,"endIndex":3},"groundingChunkIndices":[0]}]}},
             {"content":{"parts":[]},"index":1}],
             "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":7,"totalTokenCount":22},
             "modelVersion":"gemini-2.5-flash"}
            """)
        let chat = ChatRequest(model: "m", stream: false, includeUsage: false, candidateCount: 2, gemini: JSONObject())
        var rendering = AnswerRendering(.openAI(chat, id: "chatcmpl-abcdef", created: 1_700_000_000))
        _ = rendering.render(gemini)
        let body = String(decoding: rendering.finish(cost: MicroUSD(1_234), tier: .flex), as: UTF8.self)
        let expected =
            #"{"id":"chatcmpl-abcdef","object":"chat.completion","created":1700000000,"model":"m","choices":["#
            + #"{"index":0,"message":{"role":"assistant","content":"Sun \"hot\"\n","reasoning_content":"why","#
            + #""tool_calls":[{"id":"call_abcdef_0_0","type":"function","function":{"name":"look","arguments":"{\"q\":\"x\"}"},"#
            + #""extra_content":{"google":{"thought_signature":"c2ln"}}}],"annotations":[{"type":"url_citation","#
            + #""url_citation":{"url":"https://a.example","title":"A","start_index":0,"end_index":3}}],"refusal":null},"#
            + #""logprobs":null,"finish_reason":"tool_calls"},"#
            + #"{"index":1,"message":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"#
            + #""usage":{"prompt_tokens":10,"completion_tokens":12,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":0},"#
            + #""completion_tokens_details":{"reasoning_tokens":7},"cost":0.001234},"service_tier":"flex"}"#
        #expect(body == expected)
        #expect(rendering.signatures.map(\.signature) == ["c2ln"])
    }

    /// A stream's closing usage chunk, byte for byte, with the cost and without it.
    @Test func streamUsageChunkIsPinnedByteForByte() throws {
        for (cost, costText) in [(MicroUSD?.some(MicroUSD(1_234)), #","cost":0.001234"#), (nil, "")] {
            var translator = ChatStreamTranslator(model: "m", id: "chatcmpl-9", created: 7, includeUsage: true)
            _ = translator.translate(
                event: try JSONParser.parse(
                    #"{"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"thoughtsTokenCount":1,"cachedContentTokenCount":1,"totalTokenCount":6}}"#
                ))
            let closing = String(decoding: translator.finish(cost: cost), as: UTF8.self)
            #expect(
                closing
                    == #"data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"m","choices":[],"#
                    + #""usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6,"prompt_tokens_details":{"cached_tokens":1},"#
                    + #""completion_tokens_details":{"reasoning_tokens":1}"# + costText + "}}\n\ndata: [DONE]\n\n")
        }
    }

    @Test func blockedBodyIsPinnedByteForByte() throws {
        let gemini = try JSONParser.parse(#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}"#)
        let chat = ChatRequest(model: "m", stream: false, includeUsage: false, candidateCount: 1, gemini: JSONObject())
        var rendering = AnswerRendering(.openAI(chat, id: "chatcmpl-1", created: 0))
        _ = rendering.render(gemini)
        let body = String(decoding: rendering.finish(), as: UTF8.self)
        #expect(
            body
                == #"{"id":"chatcmpl-1","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"#
                + #""message":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":"content_filter"}],"#
                + #""usage":{"prompt_tokens":3,"completion_tokens":0,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0},"#
                + #""completion_tokens_details":{"reasoning_tokens":0},"cost":0.000000}}"#)
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
