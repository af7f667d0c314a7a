import FlashgateCore

/// Turns a Gemini SSE stream into OpenAI `chat.completion.chunk` frames, event by event.
/// Invariant: a stream that did not end with a finish reason for every candidate is reported
/// to the client as an error event, never as a silent, truncated success.
package struct ChatStreamTranslator: Sendable {
    let model: String
    let id: String
    let created: Int
    let includeUsage: Bool
    private var startedChoices: Set<Int> = []
    private var finishedChoices: Set<Int> = []
    /// Tool calls sent so far per choice, so indices and ids continue across events.
    private var callCounts: [Int: Int] = [:]
    private var blocked = false
    package private(set) var usage: TokenUsage?
    package private(set) var searchQueries = 0
    /// Thought signatures that came with tool calls, for Flashgate to keep.
    package private(set) var signatures: [(toolCallID: String, signature: String)] = []

    package init(model: String, id: String, created: Int, includeUsage: Bool) {
        self.model = model
        self.id = id
        self.created = created
        self.includeUsage = includeUsage
    }

    /// Translates one Gemini stream event (a `GenerateContentResponse`) into zero or more frames.
    package mutating func translate(event: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        if let usage = TokenUsage(usageMetadata: event["usageMetadata"]) { self.usage = usage }
        let candidates = event["candidates"]?.arrayValue ?? []
        searchQueries = max(searchQueries, Grounding.searchQueryCount(candidates))
        usage?.searchQueries = searchQueries
        for (position, candidate) in candidates.enumerated() {
            let index = candidate["index"]?.intValue ?? position
            let split = CandidateParts(candidate["content"]?["parts"])
            var delta = JSONObject()
            if !startedChoices.contains(index) {
                startedChoices.insert(index)
                delta["role"] = "assistant"
                delta["content"] = .string("")
            }
            if let reasoning = split.reasoning { delta["reasoning_content"] = .string(reasoning) }
            if let text = split.text { delta["content"] = .string(text) }
            let sent = callCounts[index, default: 0]
            let calls = split.toolCalls(idPrefix: "call_\(id.dropFirst(9))_\(index)", firstIndex: sent, withIndex: true)
            if !calls.rendered.isEmpty {
                delta["tool_calls"] = .array(calls.rendered)
                callCounts[index] = sent + calls.rendered.count
                signatures += calls.signatures
            }
            let annotations = Grounding.annotations(candidate["groundingMetadata"])
            if !annotations.isEmpty { delta["annotations"] = .array(annotations) }
            let reason = candidate["finishReason"]?.stringValue.map {
                FinishReason.openAI($0, hasToolCalls: callCounts[index, default: 0] > 0)
            }
            if reason != nil { finishedChoices.insert(index) }
            let logprobs = Logprobs.openAI(candidate["logprobsResult"])
            // A chunk with only log-probabilities still carries them.
            if delta.isEmpty && reason == nil && logprobs == .null { continue }
            out += SSEEncoder.frame(chunk(index: index, delta: delta, finishReason: reason, logprobs: logprobs))
        }
        if candidates.isEmpty, event["promptFeedback"]?["blockReason"] != nil, !blocked {
            blocked = true
            finishedChoices.insert(0)
            out += SSEEncoder.frame(
                chunk(index: 0, delta: ["role": "assistant", "content": .null], finishReason: "content_filter"))
        }
        return out
    }

    /// Whether every started choice received its finish reason.
    package var isComplete: Bool {
        blocked || (!startedChoices.isEmpty && startedChoices.isSubset(of: finishedChoices))
    }

    /// The closing frames for a stream that ended normally: the usage chunk if asked, then `[DONE]`.
    /// For an incomplete stream, an error event instead.
    package func finish(cost: MicroUSD? = nil) -> [UInt8] {
        guard isComplete else {
            return Self.errorFrame(FlashgateError(.upstreamProtocol, "the upstream stream ended before it finished"))
        }
        var out: [UInt8] = []
        if includeUsage {
            var writer = JSONWriter(reservingCapacity: 320)
            writer.append(#"{"id":"#)
            writer.writeString(id)
            writer.append(#","object":"chat.completion.chunk","created":"#)
            writer.appendInteger(created)
            writer.append(#","model":"#)
            writer.writeString(model)
            writer.append(#","choices":[],"usage":"#)
            (usage ?? TokenUsage()).writeOpenAI(to: &writer, cost: cost)
            writer.append("}")
            out += SSEEncoder.frame(writer.bytes)
        }
        out += SSEEncoder.done
        return out
    }

    /// An error event the openai SDK raises as `APIError`.
    package static func errorFrame(_ error: FlashgateError) -> [UInt8] {
        SSEEncoder.frame(error.openAIBody())
    }

    private func chunk(index: Int, delta: JSONObject, finishReason: String?, logprobs: JSONValue = .null) -> JSONValue {
        [
            "id": .string(id), "object": "chat.completion.chunk", "created": JSONValue(created), "model": .string(model),
            "choices": [
                [
                    "index": JSONValue(index), "delta": .object(delta), "logprobs": logprobs,
                    "finish_reason": finishReason.map { .string($0) } ?? .null,
                ]
            ],
        ]
    }
}
