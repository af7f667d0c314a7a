import FlashgateCore
import Testing

@testable import FlashgateWire

/// Gemini events → Responses stream events and the final response object.
@Suite struct ResponsesStreamTests {
    func answer(stream: Bool = true, include: Bool = true) -> ResponsesAnswer {
        ResponsesAnswer(
            id: "resp_abc", created: 7, model: "gemini-3.5-flash", stream: stream, echo: ["store": false],
            includeEncrypted: include, seal: { "sealed(\($0))" })
    }

    /// The `data` objects of the SSE frames, checking each `event:` line names the same type.
    func events(_ bytes: [UInt8]) -> [JSONValue] {
        var decoder = SSEDecoder()
        let text = String(decoding: bytes, as: UTF8.self)
        let names = text.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
        let payloads = decoder.feed(bytes).compactMap { try? JSONParser.parse($0) }
        #expect(names == payloads.map { $0["type"]?.stringValue ?? "" })
        return payloads
    }

    func run(
        _ jsonEvents: [String], answer: ResponsesAnswer
    ) throws -> (events: [JSONValue], outcome: ResponsesOutcome, translator: ResponsesStreamTranslator) {
        var translator = ResponsesStreamTranslator(answer)
        var bytes: [UInt8] = []
        for event in jsonEvents { bytes += translator.translate(event: try JSONParser.parse(event)) }
        let (tail, outcome) = translator.finish(cost: MicroUSD(1500), tier: .standard)
        return (events(bytes + tail), outcome, translator)
    }

    @Test func reasoningTextAndUsageInTheOrderTheSDKChecks() throws {
        let run = try run(
            [
                #"{"candidates":[{"content":{"parts":[{"text":"Think","thought":true}]}}]}"#,
                #"{"candidates":[{"content":{"parts":[{"text":"ing","thought":true}]}}]}"#,
                #"{"candidates":[{"content":{"parts":[{"text":"Hel","thoughtSignature":"U0lH"}]}}]}"#,
                #"{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2,"thoughtsTokenCount":3,"cachedContentTokenCount":4,"totalTokenCount":15}}"#,
            ], answer: answer())
        let types = run.events.map { $0["type"]?.stringValue ?? "" }
        #expect(
            types == [
                "response.created", "response.in_progress", "response.output_item.added",
                "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done", "response.output_item.done", "response.output_item.added",
                "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done",
                "response.completed",
            ])
        #expect(run.events.map { $0["sequence_number"]?.intValue ?? -1 } == Array(0..<types.count))
        let reasoningDone = run.events[8]["item"]
        #expect(reasoningDone?["encrypted_content"]?.stringValue == "sealed(U0lH)")
        #expect(reasoningDone?["summary"]?[0]?["text"]?.stringValue == "Thinking")
        #expect(run.events[11]["output_index"]?.intValue == 1)
        let completed = try #require(run.events.last?["response"])
        #expect(completed["id"]?.stringValue == "resp_abc")
        #expect(completed["status"]?.stringValue == "completed")
        #expect(completed["output"]?[1]?["content"]?[0]?["text"]?.stringValue == "Hello")
        #expect(completed["usage"]?["input_tokens"]?.intValue == 10)
        #expect(completed["usage"]?["input_tokens_details"]?["cached_tokens"]?.intValue == 4)
        #expect(completed["usage"]?["output_tokens"]?.intValue == 5)
        #expect(completed["usage"]?["output_tokens_details"]?["reasoning_tokens"]?.intValue == 3)
        #expect(completed["service_tier"]?.stringValue == "default")
        #expect(completed["store"]?.boolValue == false)
        #expect(run.outcome.status == "completed")
    }

    /// A call with its signature and no thoughts before it: a reasoning item of its own carries
    /// the sealed signature right before the call, and the signature is kept by call id.
    @Test func functionCallsWithTheirSignature() throws {
        let run = try run(
            [
                #"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"lookup","args":{"q":"x"}},"thoughtSignature":"U0lH"},{"functionCall":{"id":"g1","name":"lookup","args":{"q":"y"}}}]},"finishReason":"STOP"}]}"#
            ], answer: answer(include: false))
        let types = run.events.map { $0["type"]?.stringValue ?? "" }
        #expect(
            types == [
                "response.created", "response.in_progress", "response.output_item.added", "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta",
                "response.function_call_arguments.done", "response.output_item.done", "response.output_item.added",
                "response.function_call_arguments.delta", "response.function_call_arguments.done",
                "response.output_item.done", "response.completed",
            ])
        // Not included: the client does not see it, but the stored items keep it.
        #expect(run.events[3]["item"]?["encrypted_content"] == nil)
        #expect(run.outcome.items[0]["encrypted_content"]?.stringValue == "sealed(U0lH)")
        let first = try #require(run.events[7]["item"])
        #expect(first["call_id"]?.stringValue == "call_abc_0")
        #expect(first["arguments"]?.stringValue == #"{"q":"x"}"#)
        #expect(run.events[11]["item"]?["call_id"]?.stringValue == "g1")
        #expect(run.translator.signatures.map(\.toolCallID) == ["call_abc_0"])
    }

    @Test func aStreamThatEndsEarlyFailsAndNeverCompletes() throws {
        let run = try run([#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#], answer: answer())
        let types = run.events.map { $0["type"]?.stringValue ?? "" }
        #expect(!types.contains("response.completed"))
        #expect(types.last == "response.failed")
        #expect(run.events.last?["response"]?["error"]?["code"]?.stringValue == "server_error")
        #expect(run.outcome.status == "failed")
    }

    @Test func maxTokensAndBlocksAreIncomplete() throws {
        let long = try run(
            [#"{"candidates":[{"content":{"parts":[{"text":"a b"}]},"finishReason":"MAX_TOKENS"}]}"#], answer: answer())
        #expect(long.events.last?["type"]?.stringValue == "response.incomplete")
        #expect(long.events.last?["response"]?["incomplete_details"]?["reason"]?.stringValue == "max_output_tokens")
        let blocked = try run([#"{"promptFeedback":{"blockReason":"SAFETY"}}"#], answer: answer(stream: false))
        #expect(blocked.events.isEmpty)
        #expect(blocked.outcome.response["incomplete_details"]?["reason"]?.stringValue == "content_filter")
        // Gemini may also send the blocked prompt's empty candidate list: still a block, not a
        // stream that ended early.
        let emptyList = try run(
            [#"{"candidates":[],"promptFeedback":{"blockReason":"SAFETY"}}"#], answer: answer(stream: false))
        #expect(emptyList.outcome.status == "incomplete")
        #expect(emptyList.outcome.response["incomplete_details"]?["reason"]?.stringValue == "content_filter")
    }

    /// Gemini's tool-use failures end the turn as `failed` with the reason (responses-api.md §9),
    /// not as a `completed` turn with no output an agent would take as done.
    @Test(arguments: [
        "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS", "MISSING_THOUGHT_SIGNATURE",
        "MALFORMED_RESPONSE",
    ])
    func toolUseFailuresAreFailed(reason: String) throws {
        let run = try run([#"{"candidates":[{"finishReason":"\#(reason)","index":0}]}"#], answer: answer())
        #expect(run.events.last?["type"]?.stringValue == "response.failed")
        #expect(run.outcome.status == "failed")
        #expect(run.events.last?["response"]?["error"]?["code"]?.stringValue == "server_error")
        #expect(run.events.last?["response"]?["error"]?["message"]?.stringValue?.contains(reason) == true)
    }

    /// A non-stream answer is the same response object the stream ends with.
    @Test func nonStreamBodyIsTheFinalResponse() throws {
        var translator = ResponsesStreamTranslator(answer(stream: false))
        #expect(
            translator.translate(
                event: try JSONParser.parse(
                    #"{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP"}]}"#)
            ).isEmpty)
        let (body, outcome) = translator.finish(cost: .zero, tier: nil)
        let parsed = try JSONParser.parse(body)
        #expect(parsed == outcome.response)
        #expect(parsed["object"]?.stringValue == "response")
        #expect(parsed["output"]?[0]?["content"]?[0]?["text"]?.stringValue == "Hi")
    }

    /// A broken upstream after the stream started: `response.failed` with the error's message.
    @Test func failureEvent() throws {
        var rendering = AnswerRendering(.responses(answer()))
        _ = rendering.render(try JSONParser.parse(#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#))
        let failed = events(rendering.failure(FlashgateError(.upstreamUnreachable, "connection reset")))
        #expect(failed.last?["type"]?.stringValue == "response.failed")
        #expect(failed.last?["response"]?["error"]?["message"]?.stringValue == "connection reset")
    }
}
