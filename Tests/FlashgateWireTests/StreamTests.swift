import FlashgateCore
import Testing

@testable import FlashgateWire

@Suite struct StreamTests {
    @Test func sseDecoderHandlesSplitsAndLineEndings() {
        var decoder = SSEDecoder()
        let stream = Array("data: {\"a\":1}\r\n\r\ndata: {\"b\":\n\ndata:x\ndata: y\n\n: comment\n\ndata: last".utf8)
        var events: [String] = []
        for byte in stream {  // worst case: one byte at a time
            events += decoder.feed([byte]).map { String(decoding: $0, as: UTF8.self) }
        }
        if let last = decoder.finish() { events.append(String(decoding: last, as: UTF8.self)) }
        #expect(events == ["{\"a\":1}", "{\"b\":", "x\ny", "last"])
    }

    func frames(_ bytes: [UInt8]) -> [JSONValue?] {
        var decoder = SSEDecoder()
        return decoder.feed(bytes).map { payload in
            String(decoding: payload, as: UTF8.self) == "[DONE]" ? nil : try? JSONParser.parse(payload)
        }
    }

    @Test func translatesDeltasFinishAndUsage() throws {
        var translator = ChatStreamTranslator(model: "m", id: "chatcmpl-1", created: 5, includeUsage: true)
        var out: [UInt8] = []
        out += translator.translate(event: try JSONParser.parse(#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#))
        out += translator.translate(
            event: try JSONParser.parse(
                #"{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3}}"#
            ))
        #expect(translator.isComplete)
        out += translator.finish()
        let chunks = frames(out)
        #expect(chunks.count == 4)
        #expect(chunks[0]?["choices"]?[0]?["delta"]?["role"]?.stringValue == "assistant")
        #expect(chunks[0]?["choices"]?[0]?["delta"]?["content"]?.stringValue == "Hel")
        #expect(chunks[1]?["choices"]?[0]?["delta"]?["content"]?.stringValue == "lo")
        #expect(chunks[1]?["choices"]?[0]?["finish_reason"]?.stringValue == "stop")
        #expect(chunks[2]?["choices"]?.arrayValue?.isEmpty == true)
        #expect(chunks[2]?["usage"]?["total_tokens"]?.intValue == 3)
        #expect(chunks[3] == nil)  // [DONE]
    }

    /// An event whose first candidate brings only log-probabilities (the text came before) still
    /// reaches the client; such chunks had been dropped as empty.
    @Test func aChunkWithOnlyLogprobsIsSent() throws {
        var translator = ChatStreamTranslator(model: "m", id: "chatcmpl-1", created: 5, includeUsage: false)
        var out = translator.translate(event: try JSONParser.parse(#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]}"#))
        out += translator.translate(
            event: try JSONParser.parse(
                #"{"candidates":[{"logprobsResult":{"chosenCandidates":[{"token":"Hi","logProbability":-0.5}]}}]}"#))
        let chunks = frames(out)
        #expect(chunks.count == 2)
        #expect(chunks[1]?["choices"]?[0]?["logprobs"]?["content"]?[0]?["token"]?.stringValue == "Hi")
    }

    @Test func truncatedStreamEndsWithErrorEvent() throws {
        var translator = ChatStreamTranslator(model: "m", id: "x", created: 0, includeUsage: false)
        _ = translator.translate(event: try JSONParser.parse(#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#))
        let tail = frames(translator.finish())
        #expect(tail.count == 1)
        #expect(tail[0]?["error"]?["message"] != nil)
    }

    @Test func blockedPromptInStream() throws {
        var translator = ChatStreamTranslator(model: "m", id: "x", created: 0, includeUsage: false)
        let out = translator.translate(event: try JSONParser.parse(#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}"#))
        #expect(frames(out).first??["choices"]?[0]?["finish_reason"]?.stringValue == "content_filter")
        #expect(translator.isComplete)
    }
}

@Suite struct MockModelTests {
    func request(_ text: String, _ config: String = "{}") throws -> JSONValue {
        try JSONParser.parse(
            #"{"contents":[{"role":"user","parts":[{"text":"ignored"}]},{"role":"model","parts":[{"text":"x"}]},{"role":"user","parts":[{"text":"\#(text)"}]}],"generationConfig":\#(config)}"#
        )
    }

    @Test func echoesLastUserMessage() throws {
        let responses = try MockModel.generate(model: "g", request: try request("one two three"), stream: false)
        #expect(responses.count == 1)
        #expect(responses[0]["candidates"]?[0]?["content"]?["parts"]?[0]?["text"]?.stringValue == "one two three")
        #expect(responses[0]["candidates"]?[0]?["finishReason"]?.stringValue == "STOP")
        let usage = TokenUsage(usageMetadata: responses[0]["usageMetadata"])
        #expect(usage?.candidatesTokens == 3)
        #expect(usage.map { $0.promptTokens + $0.candidatesTokens == $0.totalTokens } == true)
    }

    @Test func streamsInSeveralChunksThatJoinToTheWhole() throws {
        let responses = try MockModel.generate(model: "g", request: try request("a b c d e f g h"), stream: true)
        #expect(responses.count > 1)
        let text = responses.compactMap { $0["candidates"]?[0]?["content"]?["parts"]?[0]?["text"]?.stringValue }.joined()
        #expect(text == "a b c d e f g h")
        #expect(responses.last?["candidates"]?[0]?["finishReason"]?.stringValue == "STOP")
    }

    @Test func honoursMaxOutputTokensAndStopSequences() throws {
        let short = try MockModel.generate(model: "g", request: try request("a b c d", #"{"maxOutputTokens":2}"#), stream: false)
        #expect(short[0]["candidates"]?[0]?["content"]?["parts"]?[0]?["text"]?.stringValue == "a b")
        #expect(short[0]["candidates"]?[0]?["finishReason"]?.stringValue == "MAX_TOKENS")
        let stopped = try MockModel.generate(model: "g", request: try request("a b STOP c", #"{"stopSequences":["STOP"]}"#), stream: false)
        #expect(stopped[0]["candidates"]?[0]?["content"]?["parts"]?[0]?["text"]?.stringValue == "a b ")
        #expect(stopped[0]["candidates"]?[0]?["finishReason"]?.stringValue == "STOP")
    }
}
