import FlashgateCore

/// Renders a Gemini `GenerateContentResponse` as an OpenAI `chat.completion`.
///
/// The body is written as bytes in one pass, with no tree of its own: on a miss this ran
/// once per call (a tree, then its encoding, then a copy to add the cost), ~35k instructions
/// of a ~640k miss. Key order is fixed (`id`, `object`, `created`, `model`, `choices`, `usage`,
/// then `service_tier` when given); `ChatResponseTests` pins two bodies byte for byte.
package enum ChatResponse {
    /// What rendering learned besides the body: usage, and the thought signatures that came
    /// with tool calls (for Flashgate to keep).
    package struct Rendered: Sendable {
        package var bytes: [UInt8]
        package var usage: TokenUsage?
        package var signatures: [(toolCallID: String, signature: String)]

        /// The body parsed back into a tree, for tests.
        package var body: JSONValue { (try? JSONParser.parse(bytes)) ?? .null }
    }

    /// - Parameters:
    ///   - id: the completion id (`chatcmpl-…`); tool-call ids derive from it, so they are unique
    ///     across turns.
    ///   - created: Unix seconds.
    ///   - cost: what the client paid, as `usage.cost` in dollars; nil leaves it out.
    ///   - tier: the service tier that served, as `service_tier`; nil leaves it out.
    package static func render(
        _ response: JSONValue, model: String, id: String, created: Int, cost: MicroUSD? = nil,
        tier: ServiceTier? = nil
    ) -> Rendered {
        var writer = JSONWriter(reservingCapacity: 512)
        var signatures: [(String, String)] = []
        let candidates = response["candidates"]?.arrayValue ?? []
        writer.append(#"{"id":"#)
        writer.writeString(id)
        writer.append(#","object":"chat.completion","created":"#)
        writer.appendInteger(created)
        writer.append(#","model":"#)
        writer.writeString(model)
        writer.append(#","choices":["#)
        for (position, candidate) in candidates.enumerated() {
            if position > 0 { writer.append(",") }
            let index = candidate["index"]?.intValue ?? position
            let parts = CandidateParts(candidate["content"]?["parts"])
            let calls = parts.toolCalls(idPrefix: "call_\(id.dropFirst(9))_\(index)")
            signatures += calls.signatures
            writer.append(#"{"index":"#)
            writer.appendInteger(index)
            writer.append(#","message":{"role":"assistant","content":"#)
            if let text = parts.text { writer.writeString(text) } else { writer.append("null") }
            if let reasoning = parts.reasoning {
                writer.append(#","reasoning_content":"#)
                writer.writeString(reasoning)
            }
            if !calls.rendered.isEmpty {
                writer.append(#","tool_calls":"#)
                writer.write(.array(calls.rendered))
            }
            let annotations = Grounding.annotations(candidate["groundingMetadata"])
            if !annotations.isEmpty {
                writer.append(#","annotations":"#)
                writer.write(.array(annotations))
            }
            writer.append(#","refusal":null},"logprobs":"#)
            writer.write(Logprobs.openAI(candidate["logprobsResult"]))
            let reason = candidate["finishReason"]?.stringValue.map {
                FinishReason.openAI($0, hasToolCalls: !calls.rendered.isEmpty)
            } ?? (calls.rendered.isEmpty ? "stop" : "tool_calls")
            writer.append(#","finish_reason":"#)
            writer.writeString(reason)
            writer.append("}")
        }
        if candidates.isEmpty {
            // A blocked prompt has no candidates: one filtered choice with no content, never an error.
            let blocked = response["promptFeedback"]?["blockReason"] != nil
            writer.append(#"{"index":0,"message":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"#)
            writer.append(blocked ? #""finish_reason":"content_filter"}"# : #""finish_reason":"stop"}"#)
        }
        var usage = TokenUsage(usageMetadata: response["usageMetadata"])
        usage?.searchQueries = Grounding.searchQueryCount(candidates)
        writer.append(#"],"usage":"#)
        (usage ?? TokenUsage()).writeOpenAI(to: &writer, cost: cost)
        if let tier {
            writer.append(#","service_tier":"#)
            writer.writeString(tier.openAIName)
        }
        writer.append("}")
        return Rendered(bytes: writer.bytes, usage: usage, signatures: signatures)
    }
}

/// The text, thought text and function calls of one candidate's parts. Thought text and
/// signatures never leak into content.
struct CandidateParts {
    var text: String?
    var reasoning: String?
    var calls: [(name: String, args: JSONValue, signature: String?)] = []

    init(_ parts: JSONValue?) {
        for part in parts?.arrayValue ?? [] {
            if let call = part["functionCall"] {
                let name = call["name"]?.stringValue ?? ""
                calls.append((name, call["args"] ?? .object(JSONObject()), part["thoughtSignature"]?.stringValue))
                continue
            }
            guard let text = part["text"]?.stringValue else { continue }
            if part["thought"]?.boolValue == true {
                reasoning = (reasoning ?? "") + text
            } else if !text.isEmpty || part["thoughtSignature"] == nil {
                self.text = (self.text ?? "") + text
            }
        }
    }

    /// OpenAI `tool_calls` entries, numbered from `firstIndex` (streams number calls across events).
    /// `idPrefix` is worked out only when there are calls to number.
    func toolCalls(idPrefix: @autoclosure () -> String, firstIndex: Int = 0, withIndex: Bool = false)
        -> (rendered: [JSONValue], signatures: [(String, String)])
    {
        guard !calls.isEmpty else { return ([], []) }
        let idPrefix = idPrefix()
        var rendered: [JSONValue] = []
        var signatures: [(String, String)] = []
        for (offset, call) in calls.enumerated() {
            let number = firstIndex + offset
            let id = "\(idPrefix)_\(number)"
            var entry: JSONObject = [:]
            if withIndex { entry["index"] = JSONValue(number) }
            entry["id"] = .string(id)
            entry["type"] = "function"
            entry["function"] = ["name": .string(call.name), "arguments": .string(JSONWriter.string(call.args))]
            if let signature = call.signature {
                entry["extra_content"] = ["google": ["thought_signature": .string(signature)]]
                signatures.append((id, signature))
            }
            rendered.append(.object(entry))
        }
        return (rendered, signatures)
    }
}

/// Gemini `logprobsResult` → OpenAI `choices[].logprobs`.
enum Logprobs {
    static func openAI(_ result: JSONValue?) -> JSONValue {
        guard let chosen = result?["chosenCandidates"]?.arrayValue else { return .null }
        let top = result?["topCandidates"]?.arrayValue ?? []
        let content: [JSONValue] = chosen.enumerated().map { i, candidate in
            let alternatives: [JSONValue] = (top.indices.contains(i) ? top[i]["candidates"]?.arrayValue ?? [] : []).map {
                ["token": $0["token"] ?? "", "logprob": $0["logProbability"] ?? 0, "bytes": .null]
            }
            return [
                "token": candidate["token"] ?? "", "logprob": candidate["logProbability"] ?? 0, "bytes": .null,
                "top_logprobs": .array(alternatives),
            ]
        }
        return ["content": .array(content), "refusal": .null]
    }
}

/// Search grounding → OpenAI `url_citation` annotations, and the search count billed per query.
enum Grounding {
    static func annotations(_ metadata: JSONValue?) -> [JSONValue] {
        guard let metadata, let chunks = metadata["groundingChunks"]?.arrayValue else { return [] }
        var result: [JSONValue] = []
        for support in metadata["groundingSupports"]?.arrayValue ?? [] {
            let segment = support["segment"]
            for index in support["groundingChunkIndices"]?.arrayValue?.compactMap(\.intValue) ?? []
            where chunks.indices.contains(index) {
                guard let web = chunks[index]["web"], let url = web["uri"]?.stringValue else { continue }
                result.append([
                    "type": "url_citation",
                    "url_citation": [
                        "url": .string(url), "title": web["title"] ?? .string(url),
                        "start_index": segment?["startIndex"] ?? 0, "end_index": segment?["endIndex"] ?? 0,
                    ],
                ])
            }
        }
        if result.isEmpty {
            for chunk in chunks {
                guard let url = chunk["web"]?["uri"]?.stringValue else { continue }
                result.append([
                    "type": "url_citation",
                    "url_citation": ["url": .string(url), "title": chunk["web"]?["title"] ?? .string(url), "start_index": 0, "end_index": 0],
                ])
            }
        }
        return result
    }

    static func searchQueryCount(_ candidates: [JSONValue]) -> Int {
        candidates.reduce(0) { $0 + ($1["groundingMetadata"]?["webSearchQueries"]?.arrayValue?.count ?? 0) }
    }
}
