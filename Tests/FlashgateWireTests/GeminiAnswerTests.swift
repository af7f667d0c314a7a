import FlashgateCore
import Testing

@testable import FlashgateWire

@Suite struct GeminiAnswerTests {
    func assemble(_ events: [JSONValue]) -> GeminiAnswerAssembler {
        var assembler = GeminiAnswerAssembler()
        events.forEach { assembler.add($0) }
        return assembler
    }

    /// Order-insensitive comparison form.
    func sorted(_ value: JSONValue) -> String { JSONWriter.string(CanonicalJSON.canonical(value, endpoint: .embed)) }

    func request(_ json: String) throws -> JSONValue { try JSONParser.parse(json) }

    @Test func assembledMockStreamEqualsTheNonStreamAnswer() throws {
        for body in [
            #"{"contents":[{"role":"user","parts":[{"text":"one two three four five six seven eight nine"}]}]}"#,
            #"{"contents":[{"role":"user","parts":[{"text":"a b c d e f"}]}],"generationConfig":{"maxOutputTokens":3,"candidateCount":2,"thinkingConfig":{"includeThoughts":true},"responseLogprobs":true,"logprobs":2}}"#,
        ] {
            let req = try request(body)
            let events = try MockModel.generate(model: "gemini-2.5-flash", request: req, stream: true)
            #expect(events.count > 2)
            let whole = try MockModel.generate(model: "gemini-2.5-flash", request: req, stream: false)
            let assembler = assemble(events)
            #expect(sorted(assembler.response) == sorted(whole[0]), "\(events.map { JSONWriter.string($0) })")
            #expect(assembler.isCompleteSuccess)
            #expect(assemble(whole).isCompleteSuccess)
        }
    }

    static let toolEvents: [String] = [
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Let me ","thought":true}]}}],"modelVersion":"g3"}"#,
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"check.","thought":true},{"text":"Sure: "}]}}],"modelVersion":"g3"}"#,
        #"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2lnLTE="},{"functionCall":{"name":"get_time","args":{"tz":"CET"}}}]}}],"modelVersion":"g3"}"#,
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"done"}]}}],"modelVersion":"g3"}"#,
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"","thoughtSignature":"c2lnLTI="}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":9,"thoughtsTokenCount":2,"totalTokenCount":15},"modelVersion":"g3","responseId":"r1"}"#,
    ]

    @Test func toolCallStreamKeepsSignatures() throws {
        let events = try Self.toolEvents.map { try JSONParser.parse($0) }
        let assembler = assemble(events)
        #expect(assembler.isCompleteSuccess)
        let parts = assembler.response["candidates"]?[0]?["content"]?["parts"]?.arrayValue ?? []
        #expect(parts.count == 6)
        #expect(parts[0] == ["text": "Let me check.", "thought": true])
        #expect(parts[1] == ["text": "Sure: "])
        #expect(parts[2]["thoughtSignature"] == "c2lnLTE=")
        #expect(parts[3]["functionCall"]?["name"] == "get_time")
        #expect(parts[4] == ["text": "done"])
        #expect(parts[5] == ["text": "", "thoughtSignature": "c2lnLTI="])
        #expect(assembler.response["usageMetadata"]?["totalTokenCount"]?.intValue == 15)
        #expect(assembler.response["responseId"] == "r1")
    }

    /// Everything an OpenAI stream client reads, concatenated over the whole stream.
    struct Seen: Equatable {
        var content = "", reasoning = "", calls: [String] = [], finishes: [String] = [], usage: String = ""
    }

    func translate(_ events: [JSONValue]) -> Seen {
        var translator = ChatStreamTranslator(model: "m", id: "chatcmpl-abc", created: 1, includeUsage: true)
        var out: [UInt8] = []
        for event in events { out += translator.translate(event: event) }
        out += translator.finish()
        #expect(translator.isComplete)
        return seen(out)
    }

    /// What an OpenAI SSE body says, chunk by chunk.
    func seen(_ body: [UInt8]) -> Seen {
        var decoder = SSEDecoder()
        var seen = Seen()
        for payload in decoder.feed(body) {
            guard let chunk = try? JSONParser.parse(payload) else { continue }
            if let usage = chunk["usage"] { seen.usage = JSONWriter.string(usage) }
            for choice in chunk["choices"]?.arrayValue ?? [] {
                let delta = choice["delta"]
                seen.content += delta?["content"]?.stringValue ?? ""
                seen.reasoning += delta?["reasoning_content"]?.stringValue ?? ""
                seen.calls += (delta?["tool_calls"]?.arrayValue ?? []).map { JSONWriter.string($0) }
                if let finish = choice["finish_reason"]?.stringValue { seen.finishes.append(finish) }
            }
        }
        return seen
    }

    /// An OpenAI chat mode as the gateway builds it.
    func chat(stream: Bool) -> AnswerMode {
        .openAI(
            ChatRequest(model: "m", stream: stream, includeUsage: true, candidateCount: 1, gemini: JSONObject()),
            id: "chatcmpl-abc", created: 1)
    }

    /// The body and signatures production writes for `events` in `mode`: every event through
    /// `AnswerRendering`, then its closing bytes (a cache hit feeds it the replayed events).
    func rendered(_ events: [JSONValue], _ mode: AnswerMode) -> (body: [UInt8], signatures: [String]) {
        var rendering = AnswerRendering(mode)
        var body: [UInt8] = []
        for event in events { body += rendering.render(event) }
        body += rendering.finish()
        return (body, rendering.signatures.map(\.signature))
    }

    @Test func replayedStreamCarriesTheSameContent() throws {
        let mockEvents = try MockModel.generate(
            model: "gemini-3.5-flash",
            request: request(
                #"{"contents":[{"role":"user","parts":[{"text":"call the tools"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true}},"tools":[{"functionDeclarations":[{"name":"a","parametersJsonSchema":{"type":"object","properties":{"x":{"type":"string"}}}},{"name":"b"}]}]}"#
            ), stream: true)
        let textEvents = try MockModel.generate(
            model: "gemini-2.5-flash", request: request(#"{"contents":[{"parts":[{"text":"one two three four five"}]}]}"#),
            stream: true)
        for events in [try Self.toolEvents.map { try JSONParser.parse($0) }, mockEvents, textEvents] {
            let stored = assemble(events).response
            let replay = GeminiAnswerRenderer.events(stored)
            let original = translate(events)
            #expect(translate(replay) == original)
            #expect(!original.content.isEmpty || !original.calls.isEmpty)
            // OpenAI SSE as production writes it: the replay says what the live answer said.
            #expect(seen(rendered(replay, chat(stream: true)).body) == seen(rendered(events, chat(stream: true)).body))
            // The replay is itself a stream that assembles back into the stored answer.
            #expect(sorted(assemble(replay).response) == sorted(stored))
            var arrayForm = try JSONParser.parse(rendered(replay, .nativeArray).body).arrayValue ?? []
            #expect(arrayForm == replay)
            var decoder = SSEDecoder()
            arrayForm = try decoder.feed(rendered(replay, .nativeSSE).body).map { try JSONParser.parse($0) }
            #expect(arrayForm == replay)
            #expect(try JSONParser.parse(rendered([stored], .nativeJSON).body) == stored)
            #expect(sorted(try JSONParser.parse(rendered(replay, .nativeJSON).body)) == sorted(stored))
        }
        // OpenAI JSON: a hit renders the stored response with `ChatResponse.render`, a live
        // answer through `AnswerRendering`; both return the thought signature.
        let stored = assemble(mockEvents).response
        let hit = ChatResponse.render(stored, model: "m", id: "chatcmpl-abc", created: 1)
        #expect(hit.signatures.map(\.signature) == [MockModel.signature])
        #expect(rendered(mockEvents, chat(stream: false)).signatures == [MockModel.signature])
        #expect(rendered(GeminiAnswerRenderer.events(stored), chat(stream: false)).signatures == [MockModel.signature])
        let seen = translate(mockEvents)
        #expect(seen.calls.first?.contains(MockModel.signature) == true)
        #expect(seen.reasoning.hasPrefix("Thinking about"))
    }

    @Test func incompleteBlockedAndFailedAnswersAreNotCacheable() throws {
        let cases: [[String]] = [
            [#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#],
            [#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"SAFETY"}]}"#],
            [#"{"candidates":[],"promptFeedback":{"blockReason":"SAFETY"}}"#],
            [#"{"promptFeedback":{"blockReason":"OTHER"}}"#],
            [#"{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}"#, #"{"error":{"code":500,"message":"boom","status":"INTERNAL"}}"#],
            [#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP","index":0},{"content":{"parts":[{"text":"y"}]},"index":1}]}"#],
            [#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"RECITATION"}]}"#],
            [#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MALFORMED_FUNCTION_CALL"}]}"#],
            [],
        ]
        for events in cases {
            #expect(!assemble(try events.map { try JSONParser.parse($0) }).isCompleteSuccess, "\(events)")
        }
        let truncated = try JSONParser.parse(#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS"}]}"#)
        #expect(assemble([truncated]).isCompleteSuccess)
    }

    /// Answers that come whole in one event, of every shape the readers care about: split text
    /// and thoughts, signatures and calls, nulls where a field is unset, several candidates out
    /// of order, blocked prompts, errors, logprobs and grounding, and shapes that are not read as
    /// they came (a non-object candidate, a repeated index).
    static let singleEvents = [
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":6,"totalTokenCount":14,"trafficType":"ON_DEMAND"},"modelVersion":"m","responseId":"r"}"#,
        #"{"candidates":[{"content":null,"finishReason":null,"index":null}],"usageMetadata":null,"promptFeedback":null,"error":null}"#,
        #"{"candidates":[{"content":{"parts":[{"text":"a","thought":true},{"text":"b","thought":true},{"text":"c"},{"text":"d","thought":false},{"text":"","thoughtSignature":"sig1"},{"functionCall":{"name":"f","args":{"x":1}},"thoughtSignature":"sig2"},{"text":"e"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"thoughtsTokenCount":5,"totalTokenCount":12}}"#,
        #"{"candidates":[{"content":{"parts":[{"text":"second"}]},"finishReason":"SAFETY","index":1},{"content":{"parts":[{"text":"first"}]},"finishReason":"MAX_TOKENS","index":0}]}"#,
        #"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"},{"content":{"parts":[{"text":"y"}]}}]}"#,
        #"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}"#,
        #"{"promptFeedback":{"blockReason":null},"usageMetadata":{"promptTokenCount":3}}"#,
        #"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"error":{"code":500,"message":"m"}}"#,
        #"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":7}]}"#,
        #"{"candidates":"none","usageMetadata":{"promptTokenCount":1}}"#,
        #"{"usageMetadata":{"promptTokenCount":1,"totalTokenCount":1}}"#,
        #"{"candidates":[]}"#,
        #"{"candidates":[{"content":{"parts":[{"text":"Sun"}]},"finishReason":"STOP","index":0,"logprobsResult":{"chosenCandidates":[{"token":"Sun","logProbability":-0.1}],"topCandidates":[{"candidates":[{"token":"Sun","logProbability":-0.1}]}],"logProbabilitySum":-0.1},"groundingMetadata":{"webSearchQueries":["q"],"groundingChunks":[{"web":{"uri":"https://a.example","title":"A"}}],"groundingSupports":[{"segment":{"startIndex":0,"endIndex":3},"groundingChunkIndices":[0]}]}}]}"#,
        #"{"candidates":[1,{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}]}"#,
        #"{"candidates":[{"content":{"parts":[{"text":"x"}]},"index":0},{"content":{"parts":[{"text":"y"}]},"finishReason":"STOP","index":0}]}"#,
    ]

    /// A whole answer in one event is read as it came (no fold, no assembled tree) and says what
    /// its assembled form says: the same chat body byte for byte, the same usage, signatures,
    /// finish state and stored form as an assembler that folded it (one followed by an empty event).
    @Test(arguments: singleEvents)
    func aWholeAnswerReadAsItCameSaysWhatItsAssembledFormSays(_ json: String) throws {
        let event = try JSONParser.parse(json)
        let single = assemble([event])
        let folded = assemble([event, .object(JSONObject())])
        let render = { (answer: JSONValue) in
            ChatResponse.render(answer, model: "m", id: "chatcmpl-abcdef", created: 1, cost: MicroUSD(5), tier: .flex)
        }
        #expect(render(single.readable).bytes == render(folded.response).bytes)
        #expect(render(single.readable).signatures.map(\.signature) == render(folded.response).signatures.map(\.signature))
        #expect(single.isCompleteSuccess == folded.isCompleteSuccess)
        #expect(single.isFinished == folded.isFinished)
        #expect(SignatureOrigins.signatures(inAnswer: single.readable) == SignatureOrigins.signatures(inAnswer: folded.response))
        #expect(
            TokenUsage(usageMetadata: single.readable["usageMetadata"])
                == TokenUsage(usageMetadata: folded.response["usageMetadata"]))
        #expect(
            single.readable["usageMetadata"]?["trafficType"]?.stringValue
                == folded.response["usageMetadata"]?["trafficType"]?.stringValue)
        #expect(single.response == folded.response)
    }

    /// The readers above see every shape: some of these are complete, some not, some blocked.
    @Test func theSingleEventsCoverEveryFinishState() throws {
        let states = try Self.singleEvents.map { json in
            let answer = assemble([try JSONParser.parse(json)])
            return "\(answer.isCompleteSuccess)/\(answer.isFinished)"
        }
        #expect(Set(states) == ["true/true", "false/true", "false/false"])
    }

}
