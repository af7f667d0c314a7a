import FlashgateCore

/// Replays one stored complete Gemini answer as the stream events a live answer would have sent,
/// so a cache hit renders through `AnswerRendering` exactly as a live or coalesced answer does.
///
/// Invariant: the events are a replay, not a new answer. Assembling them
/// (`GeminiAnswerAssembler`) gives back the stored response, so text, reasoning, tool calls,
/// thought signatures, finish reasons and usage are the same in every form a client asks for.
package enum GeminiAnswerRenderer {
    /// Candidate members sent once, on the last event, next to the finish reason.
    static let closingMembers: Set<String> = [
        "finishReason", "finishMessage", "safetyRatings", "citationMetadata", "groundingMetadata",
        "urlContextMetadata", "avgLogprobs", "logprobsResult", "tokenCount",
    ]

    /// Top-level members sent once, on the last event. `modelVersion`, `responseId` and the
    /// rest go on every event, as Gemini sends them.
    static let closingTopMembers: Set<String> = ["usageMetadata", "promptFeedback"]

    /// Splits a complete response into stream events: event k carries part k of every candidate
    /// that has one; the last event also carries each candidate's finish reason and metadata, and
    /// the usage. A response without parts (a blocked prompt) is one event.
    package static func events(_ response: JSONValue) -> [JSONValue] {
        guard let object = response.objectValue else { return [response] }
        let candidates = (object["candidates"]?.arrayValue ?? []).compactMap(\.objectValue)
        let partLists = candidates.map { ($0["content"]?["parts"]?.arrayValue ?? []).flatMap(pieces) }
        let count = max(1, partLists.map(\.count).max() ?? 0)
        var events: [JSONValue] = []
        for k in 0..<count {
            let last = k == count - 1
            var eventCandidates: [JSONValue] = []
            for (position, candidate) in candidates.enumerated() {
                var out = JSONObject()
                if partLists[position].indices.contains(k) {
                    out["content"] = ["role": candidate["content"]?["role"] ?? "model", "parts": [partLists[position][k]]]
                }
                if out.isEmpty && !last { continue }
                out["index"] = candidate["index"] ?? JSONValue(position)
                if last {
                    for field in candidate.fields where closingMembers.contains(field.key) { out[field.key] = field.value }
                }
                eventCandidates.append(.object(out))
            }
            var event = JSONObject()
            if !eventCandidates.isEmpty { event["candidates"] = .array(eventCandidates) }
            for field in object.fields where field.key != "candidates" {
                if last || !closingTopMembers.contains(field.key) { event[field.key] = field.value }
            }
            events.append(.object(event))
        }
        return events
    }
}

extension GeminiAnswerRenderer {
    /// A long plain text part in up to eight pieces at word boundaries, so streaming clients of a
    /// cache hit see deltas as from a live answer; joined they give back exactly the stored text.
    /// Parts with a signature or anything besides text stay whole.
    static func pieces(_ part: JSONValue) -> [JSONValue] {
        guard case .object(let object) = part, let text = object["text"]?.stringValue,
            object.keys.allSatisfy({ $0 == "text" || $0 == "thought" })
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
        return stride(from: 0, to: words.count, by: size).map { offset in
            var piece = object
            piece["text"] = .string(words[offset..<min(offset + size, words.count)].joined())
            return .object(piece)
        }
    }
}
