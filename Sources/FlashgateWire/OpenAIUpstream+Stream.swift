import FlashgateCore

extension OpenAIUpstream {
    /// Turns an OpenAI `chat.completion.chunk` stream into Gemini stream events, chunk by chunk.
    ///
    /// - Text and reasoning deltas pass straight through as text and `thought: true` parts.
    /// - OpenAI streams a tool call's arguments in pieces; they are kept per choice and per call
    ///   `index` and sent as whole `functionCall` parts with the choice's `finish_reason`, because
    ///   Gemini sends every call whole. A delta without `index` (Google's endpoint sends calls
    ///   whole, often without one) continues the call with the same `id`, else starts a new one;
    ///   a delta with neither (a late signature) belongs to the latest call.
    /// - The usage-only chunk that `include_usage` asks for becomes an event with only
    ///   `usageMetadata`.
    /// - An `{"error": …}` chunk becomes Gemini's error envelope, so the answer is not finished.
    ///
    /// Invariant: a finish reason is only ever the upstream's. A stream cut off before its
    /// `finish_reason` yields, from `finish()`, its pending calls without one, and
    /// `GeminiAnswerAssembler.isFinished` stays false.
    package struct StreamTranslator: Sendable {
        fileprivate struct Choice: Sendable {
            var calls: [Int: ToolCallBuffer] = [:]
            var order: [Int] = []
            var lastKey: Int?
            var finished = false
        }

        fileprivate var choices: [Int: Choice] = [:]
        private var choiceOrder: [Int] = []
        private var modelVersion: String?
        private var responseId: String?

        package init() {}

        /// Translates one parsed chunk into zero or more Gemini events.
        package mutating func feed(_ chunk: JSONValue) -> [JSONValue] {
            if let error = chunk["error"], !error.isNull {
                let status = error["code"]?.intValue ?? 500
                return [
                    OpenAIUpstream.geminiErrorValue(status: (400...599).contains(status) ? status : 500, body: chunk)
                ]
            }
            if let model = chunk["model"]?.stringValue { modelVersion = model }
            if let id = chunk["id"]?.stringValue { responseId = id }
            var candidates: [JSONValue] = []
            for (position, item) in (chunk["choices"]?.arrayValue ?? []).enumerated() {
                let index = item["index"]?.intValue ?? position
                if choices[index] == nil {
                    choices[index] = Choice()
                    choiceOrder.append(index)
                }
                let delta = item["delta"]
                var parts: [JSONValue] = []
                if let reasoning = OpenAIUpstream.reasoningText(delta), !reasoning.isEmpty {
                    parts.append(["text": .string(reasoning), "thought": true])
                }
                if let text = OpenAIUpstream.contentText(delta?["content"]) ?? delta?["refusal"]?.stringValue,
                    !text.isEmpty
                {
                    parts.append(["text": .string(text)])
                }
                for call in delta?["tool_calls"]?.arrayValue ?? [] { choices[index]?.take(call) }
                let reason = item["finish_reason"]?.stringValue
                var malformed: [String] = []
                if reason != nil, choices[index]?.finished == false {
                    let flushed = choices[index]?.flush() ?? (parts: [], malformed: [])
                    parts += flushed.parts
                    malformed = flushed.malformed
                    choices[index]?.finished = true
                }
                let logprobs = item["logprobs"].flatMap { $0.isNull ? nil : $0 }
                guard !parts.isEmpty || reason != nil || logprobs != nil else { continue }
                candidates.append(
                    OpenAIUpstream.candidate(
                        index: index, parts: parts, finishReason: OpenAIUpstream.finishReason(reason),
                        malformed: malformed,
                        logprobs: logprobs))
            }
            let usage = OpenAIUpstream.usageMetadata(chunk["usage"].flatMap { $0.isNull ? nil : $0 })
            guard !candidates.isEmpty || usage != nil else { return [] }
            var event = JSONObject()
            if !candidates.isEmpty { event["candidates"] = .array(candidates) }
            if let usage { event["usageMetadata"] = usage }
            return [self.event(event)]
        }

        /// Translates one SSE `data` payload: `[DONE]` ends the stream (no event), anything else
        /// must be a JSON chunk.
        package mutating func feed(payload: [UInt8]) throws(FlashgateError) -> [JSONValue] {
            if payload.elementsEqual("[DONE]".utf8) { return [] }
            guard let chunk = try? JSONParser.parse(payload) else {
                throw FlashgateError(.upstreamProtocol, "the upstream stream sent an event that is not JSON")
            }
            return feed(chunk)
        }

        /// At the end of the stream: the tool calls (those whose arguments parse) of any choice
        /// that never got its finish reason, still without one — the stream was cut off, and the
        /// assembled answer must say so.
        package mutating func finish() -> [JSONValue] {
            var candidates: [JSONValue] = []
            for index in choiceOrder where choices[index]?.finished == false {
                let flushed = choices[index]?.flush() ?? (parts: [], malformed: [])
                choices[index]?.finished = true
                guard !flushed.parts.isEmpty else { continue }
                candidates.append(OpenAIUpstream.candidate(index: index, parts: flushed.parts, finishReason: nil))
            }
            return candidates.isEmpty ? [] : [event(["candidates": .array(candidates)])]
        }

        /// Every event carries the model and response id, as Gemini's do.
        private func event(_ body: JSONObject) -> JSONValue {
            var out = body
            if let modelVersion { out["modelVersion"] = .string(modelVersion) }
            if let responseId { out["responseId"] = .string(responseId) }
            return .object(out)
        }
    }
}

extension OpenAIUpstream.StreamTranslator.Choice {
    /// Adds one `tool_calls` delta to the call it continues.
    fileprivate mutating func take(_ delta: JSONValue) {
        let id = delta["id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let key: Int
        if let index = delta["index"]?.intValue {
            // Within 0...Int32.max, so numbering a call without an index after it cannot overflow.
            key = Swift.min(Swift.max(index, 0), Int(Int32.max))
        } else if let id, let same = order.first(where: { calls[$0]?.id == id }) {
            key = same
        } else if id == nil, let lastKey {
            key = lastKey
        } else {
            key = (order.max() ?? -1) + 1
        }
        if calls[key] == nil {
            calls[key] = ToolCallBuffer(id: id, name: "")
            order.append(key)
        }
        lastKey = key
        if let id, calls[key]?.id == nil { calls[key]?.id = id }
        if let name = delta["function"]?["name"]?.stringValue, !name.isEmpty, calls[key]?.name.isEmpty == true {
            calls[key]?.name = name
        }
        if let piece = delta["function"]?["arguments"], !piece.isNull { calls[key]?.append(piece) }
        if let signature = OpenAIUpstream.signature(delta) { calls[key]?.signature = signature }
    }

    /// The pending calls as functionCall parts in index order, and the names of malformed ones.
    fileprivate mutating func flush() -> (parts: [JSONValue], malformed: [String]) {
        var parts: [JSONValue] = []
        var malformed: [String] = []
        for key in order.sorted() {
            guard let call = calls[key] else { continue }
            if let part = call.part { parts.append(part) } else { malformed.append(call.name) }
        }
        calls = [:]
        order = []
        lastKey = nil
        return (parts, malformed)
    }
}
