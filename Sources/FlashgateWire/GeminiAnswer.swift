import FlashgateCore

/// Assembles the events of a streamed Gemini answer (each a `GenerateContentResponse` holding only
/// the new parts) into the one complete `GenerateContentResponse` a non-streamed call would have
/// returned. A non-stream answer is a single event.
///
/// Invariant: nothing the client could see is lost. Parts keep their order; consecutive text
/// parts of the same kind (thought or not) are concatenated only when neither carries a
/// `thoughtSignature`, so every signature stays on the part it arrived on — including one that
/// arrives later on an empty text part. Per candidate, the last `finishReason` wins, metadata
/// comes from the last event that has it, and `logprobsResult` entries are concatenated.
package struct GeminiAnswerAssembler: Sendable {
    private struct Candidate: Sendable {
        var role: JSONValue?
        var parts: [JSONObject] = []
        /// The last part while it is plain text that later text may still join: its members as
        /// they came, and its text so far, appended in place. (Joined by copying, each event
        /// cost the whole text before it: a 16 MB stream of 1 KB events took 20 to 45 s of the
        /// event loop.)
        var openText: (part: JSONObject, text: String)?

        /// The open text part, closed: it joins `parts`.
        mutating func closeText() {
            guard let open = openText else { return }
            var part = open.part
            part["text"] = .string(open.text)
            parts.append(part)
            openText = nil
        }

        /// Every part, the open text part last.
        var allParts: [JSONObject] {
            guard let open = openText else { return parts }
            var part = open.part
            part["text"] = .string(open.text)
            return parts + [part]
        }
        /// finishReason, safetyRatings, groundingMetadata, … — the last value seen of each.
        var fields = JSONObject()
        var chosen: [JSONValue]?
        var top: [JSONValue]?
        var logProbabilitySum: Double?
        var hasLogprobs = false
    }

    private var candidates: [Int: Candidate] = [:]
    private var order: [Int] = []
    /// usageMetadata, modelVersion, responseId, promptFeedback, createTime, error — last seen.
    private var top = JSONObject()
    /// The first event while it is the only one, not folded in yet, when it is `whole`: a
    /// non-stream answer is one event, and reading it as it came says what its assembled form
    /// says (`readable`), so it is folded only if another event follows or `response` is asked for
    /// (~24k instructions a miss, twice: the leader's and the client's assemblers).
    private var single: JSONValue?
    private var events = 0

    package init() {}

    package mutating func add(_ event: JSONValue) {
        events += 1
        if events == 1, Self.whole(event) {
            single = event
            return
        }
        if let first = single {
            single = nil
            fold(first)
        }
        fold(event)
    }

    /// An event its assembled form reads the same as: an object whose candidates (if any) are
    /// objects with distinct indices. Nulls, part order and text split across parts do not
    /// change what `readable`'s readers take from it (usage, finish reasons, signatures, the
    /// rendered choices); `GeminiAnswerTests` holds them to that.
    private static func whole(_ event: JSONValue) -> Bool {
        guard case .object(let object) = event else { return false }
        guard let list = object["candidates"], !list.isNull else { return true }
        guard case .array(let items) = list else { return true }
        var seen: [Int] = []
        for (position, item) in items.enumerated() {
            guard case .object(let candidate) = item else { return false }
            let index = candidate["index"]?.intValue ?? position
            if seen.contains(index) { return false }
            seen.append(index)
        }
        return true
    }

    private mutating func fold(_ event: JSONValue) {
        guard let object = event.objectValue else { return }
        // A `null` member is an unset one (proto3 JSON): it never overwrites what came before.
        for field in object.fields where field.key != "candidates" && !field.value.isNull { top[field.key] = field.value }
        for (position, value) in (object["candidates"]?.arrayValue ?? []).enumerated() {
            guard let incoming = value.objectValue else { continue }
            let index = incoming["index"]?.intValue ?? position
            if candidates[index] == nil { order.append(index) }
            // Taken out while it changes, so its parts and text are changed in place, not copied.
            var candidate = candidates.removeValue(forKey: index) ?? Candidate()
            for field in incoming.fields where !field.value.isNull {
                switch field.key {
                case "index": continue
                case "content":
                    if let role = field.value["role"] { candidate.role = role }
                    for part in field.value["parts"]?.arrayValue ?? [] {
                        if let part = part.objectValue { Self.append(part, to: &candidate) }
                    }
                case "logprobsResult":
                    candidate.hasLogprobs = true
                    if let chosen = field.value["chosenCandidates"]?.arrayValue {
                        candidate.chosen = candidate.chosen ?? []
                        candidate.chosen?.append(contentsOf: chosen)
                    }
                    if let top = field.value["topCandidates"]?.arrayValue {
                        candidate.top = candidate.top ?? []
                        candidate.top?.append(contentsOf: top)
                    }
                    if let sum = field.value["logProbabilitySum"]?.doubleValue {
                        candidate.logProbabilitySum = (candidate.logProbabilitySum ?? 0) + sum
                    }
                default: candidate.fields[field.key] = field.value
                }
            }
            candidates[index] = candidate
        }
    }

    /// Appends a part, merging it into the previous one when both are unsigned plain text of the same kind.
    private static func append(_ part: JSONObject, to candidate: inout Candidate) {
        guard isPlainText(part), let text = part["text"]?.stringValue else {
            candidate.closeText()
            candidate.parts.append(part)
            return
        }
        // Read without binding the open part: a copy of it would share its text, and the
        // append below would then copy the whole text again.
        if candidate.openText != nil,
            (candidate.openText?.part["thought"]?.boolValue ?? false) == (part["thought"]?.boolValue ?? false)
        {
            candidate.openText?.text.append(text)
            return
        }
        candidate.closeText()
        candidate.openText = (part, text)
    }

    /// A text part with nothing beside it but the `thought` flag: safe to concatenate.
    private static func isPlainText(_ part: JSONObject) -> Bool {
        part.fields.allSatisfy { $0.key == "text" || $0.key == "thought" } && part["text"]?.stringValue != nil
    }

    /// The answer to read usage, finish reasons, signatures and choices from: a whole answer
    /// that came as one event as it came, else the assembled `response`.
    package var readable: JSONValue { single ?? response }

    /// The complete answer: candidates in the order they first appeared, then the top-level fields.
    package var response: JSONValue {
        if let single {
            var folded = GeminiAnswerAssembler()
            folded.fold(single)
            return folded.response
        }
        var body = JSONObject()
        if !order.isEmpty {
            body["candidates"] = .array(order.compactMap { index in candidates[index].map { Self.render($0, index: index) } })
        }
        for field in top.fields { body[field.key] = field.value }
        return .object(body)
    }

    private static func render(_ candidate: Candidate, index: Int) -> JSONValue {
        var object: JSONObject = [
            "content": ["role": candidate.role ?? "model", "parts": .array(candidate.allParts.map { .object($0) })],
            "index": JSONValue(index),
        ]
        for field in candidate.fields.fields { object[field.key] = field.value }
        if candidate.hasLogprobs {
            var result = JSONObject()
            if let chosen = candidate.chosen { result["chosenCandidates"] = .array(chosen) }
            if let top = candidate.top { result["topCandidates"] = .array(top) }
            if let sum = candidate.logProbabilitySum { result["logProbabilitySum"] = JSONValue(sum) }
            object["logprobsResult"] = .object(result)
        }
        return .object(object)
    }

    /// Finish reasons that mean the answer is whole. `MAX_TOKENS` counts: it is the complete answer
    /// to the request as asked (the token limit is part of the key), so repeating the request
    /// upstream would return the same truncation.
    package static let completeFinishReasons: Set<String> = ["STOP", "MAX_TOKENS"]

    /// Whether the answer may be cached: at least one candidate, every candidate finished with
    /// STOP or MAX_TOKENS, no prompt block and no error event.
    package var isCompleteSuccess: Bool {
        if let single {
            guard !Self.present(single["error"]), single["promptFeedback"]?["blockReason"] == nil,
                let list = single["candidates"]?.arrayValue, !list.isEmpty
            else { return false }
            return list.allSatisfy { Self.completeFinishReasons.contains($0["finishReason"]?.stringValue ?? "") }
        }
        guard top["error"] == nil, top["promptFeedback"]?["blockReason"] == nil, !order.isEmpty else { return false }
        return order.allSatisfy { index in
            guard let reason = candidates[index]?.fields["finishReason"]?.stringValue else { return false }
            return Self.completeFinishReasons.contains(reason)
        }
    }

    /// Whether the answer ended as Gemini ends one (every candidate has a finish reason of any
    /// kind, or the prompt was blocked), as opposed to being cut off. Billing reads usage only
    /// from finished answers.
    package var isFinished: Bool {
        if let single {
            guard !Self.present(single["error"]) else { return false }
            if single["promptFeedback"]?["blockReason"] != nil { return true }
            guard let list = single["candidates"]?.arrayValue, !list.isEmpty else { return false }
            return list.allSatisfy { $0["finishReason"]?.stringValue != nil }
        }
        guard top["error"] == nil else { return false }
        if top["promptFeedback"]?["blockReason"] != nil { return true }
        return !order.isEmpty && order.allSatisfy { candidates[$0]?.fields["finishReason"]?.stringValue != nil }
    }

    /// A member set to something: proto3 JSON's `null` is an unset one.
    private static func present(_ value: JSONValue?) -> Bool {
        guard let value else { return false }
        return !value.isNull
    }
}
