import FlashgateCore

/// Merges the events of a streamed Gemini answer (each a `GenerateContentResponse` holding only
/// the new parts) into one complete response, the form the cache stores and every renderer reads.
/// Consecutive text parts of one kind (thought or not) join; function calls and other parts
/// keep their order and their `thoughtSignature`s; a signature that arrives on an empty text part
/// is kept on that part. The last event's finish reason, usage and metadata win.
package struct GeminiAnswerAssembler: Sendable {
    private var candidates: [Int: JSONObject] = [:]
    private var order: [Int] = []
    private var top = JSONObject()
    private var sawError = false

    package init() {}

    package mutating func add(_ event: JSONValue) {
        guard let object = event.objectValue else { return }
        if object["error"] != nil { sawError = true }
        for field in object.fields where field.key != "candidates" {
            top[field.key] = field.value
        }
        for (position, candidate) in (object["candidates"]?.arrayValue ?? []).enumerated() {
            let index = candidate["index"]?.intValue ?? position
            merge(candidate.objectValue ?? JSONObject(), into: index)
        }
    }

    private mutating func merge(_ candidate: JSONObject, into index: Int) {
        if candidates[index] == nil {
            candidates[index] = ["index": JSONValue(index)]
            order.append(index)
        }
        var merged = candidates[index]!
        for field in candidate.fields {
            switch field.key {
            case "content":
                var content = merged["content"]?.objectValue ?? ["role": "model"]
                if let role = field.value["role"] { content["role"] = role }
                var parts = content["parts"]?.arrayValue ?? []
                for part in field.value["parts"]?.arrayValue ?? [] { Self.append(part, to: &parts) }
                content["parts"] = .array(parts)
                merged["content"] = .object(content)
            case "logprobsResult":
                merged["logprobsResult"] = Self.mergeLogprobs(merged["logprobsResult"], field.value)
            case "index":
                continue
            default:
                merged[field.key] = field.value
            }
        }
        candidates[index] = merged
    }

    /// Joins a text part onto the previous one of the same kind; anything else is appended.
    private static func append(_ part: JSONValue, to parts: inout [JSONValue]) {
        guard let text = part["text"]?.stringValue, case .object(let incoming) = part,
            let last = parts.last, case .object(var previous) = last, let previousText = previous["text"]?.stringValue,
            (previous["thought"]?.boolValue ?? false) == (incoming["thought"]?.boolValue ?? false),
            previous["thoughtSignature"] == nil, incoming.keys.allSatisfy({ ["text", "thought", "thoughtSignature"].contains($0) })
        else {
            parts.append(part)
            return
        }
        previous["text"] = .string(previousText + text)
        if let signature = incoming["thoughtSignature"] { previous["thoughtSignature"] = signature }
        parts[parts.count - 1] = .object(previous)
    }

    private static func mergeLogprobs(_ old: JSONValue?, _ new: JSONValue) -> JSONValue {
        guard let old else { return new }
        var merged = JSONObject()
        for key in ["chosenCandidates", "topCandidates"] {
            merged[key] = .array((old[key]?.arrayValue ?? []) + (new[key]?.arrayValue ?? []))
        }
        if let sum = new["logProbabilitySum"] { merged["logProbabilitySum"] = sum }
        return .object(merged)
    }

    /// The complete answer as one `GenerateContentResponse`.
    package var response: JSONValue {
        var result = JSONObject()
        if !order.isEmpty { result["candidates"] = .array(order.map { .object(candidates[$0]!) }) }
        for field in top.fields { result[field.key] = field.value }
        return .object(result)
    }

    /// Whether the answer may be cached: no error, no blocked prompt, and every candidate finished
    /// with STOP or MAX_TOKENS (a length-limited answer is the complete answer to what was asked).
    package var isCompleteSuccess: Bool {
        guard !sawError, !order.isEmpty, top["promptFeedback"]?["blockReason"] == nil else { return false }
        return order.allSatisfy { index in
            let reason = candidates[index]?["finishReason"]?.stringValue
            return reason == "STOP" || reason == "MAX_TOKENS"
        }
    }
}

/// Turns one stored complete answer back into a stream of events, so streaming clients of a
/// cache hit see deltas: long text parts in up to eight pieces (at word boundaries), other parts
/// one per event, the finish reason and usage on the last. Joining the pieces gives back exactly
/// the stored text.
package enum GeminiAnswerRenderer {
    package static func events(_ response: JSONValue) -> [JSONValue] {
        guard let object = response.objectValue, let candidates = object["candidates"]?.arrayValue, !candidates.isEmpty else {
            return [response]
        }
        let metadata = object.fields.filter { $0.key != "candidates" && $0.key != "usageMetadata" }
        var events: [JSONValue] = []
        for (position, candidate) in candidates.enumerated() {
            let parts = (candidate["content"]?["parts"]?.arrayValue ?? []).flatMap(pieces)
            let role = candidate["content"]?["role"] ?? "model"
            let index = candidate["index"] ?? JSONValue(position)
            for (i, part) in parts.enumerated() where i < parts.count - 1 {
                var event = JSONObject(metadata)
                event["candidates"] = [["content": ["role": role, "parts": [part]], "index": index]]
                events.append(.object(event))
            }
            var last = candidate.objectValue ?? JSONObject()
            last["content"] = ["role": role, "parts": .array(parts.last.map { [$0] } ?? [])]
            var event = JSONObject(metadata)
            event["candidates"] = [.object(last)]
            if position == candidates.count - 1, let usage = object["usageMetadata"] { event["usageMetadata"] = usage }
            events.append(.object(event))
        }
        return events
    }
}

extension GeminiAnswerRenderer {
    /// A plain text part split at word boundaries; the signature, if any, stays on the last piece.
    static func pieces(_ part: JSONValue) -> [JSONValue] {
        guard case .object(let object) = part, let text = object["text"]?.stringValue,
            object.keys.allSatisfy({ ["text", "thought", "thoughtSignature"].contains($0) })
        else { return [part] }
        var words: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index].isWhitespace, next < text.endIndex, !text[next].isWhitespace, index > start {
                words.append(text[start..<index])
                start = index
            }
            index = next
        }
        words.append(text[start...])
        guard words.count > 1 else { return [part] }
        let size = (words.count + 7) / 8
        let chunks = stride(from: 0, to: words.count, by: size).map { words[$0..<min($0 + size, words.count)].joined() }
        return chunks.enumerated().map { i, chunk in
            var piece = object
            piece["text"] = .string(chunk)
            if i < chunks.count - 1 { piece["thoughtSignature"] = nil }
            return .object(piece)
        }
    }
}
