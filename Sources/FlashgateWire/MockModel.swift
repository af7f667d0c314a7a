import FlashgateCore

/// The offline deterministic model behind `mock` routes. It echoes the last user message,
/// honours `maxOutputTokens` (a token is a whitespace-separated word) and stop sequences, reports
/// realistic `usageMetadata`, and streams in several chunks. Same input, same output. It also
/// plays the parts of Gemini that clients depend on (see MockModel+Features): function calls
/// with Gemini 3 thought signatures and their validation, JSON answers that fit a schema,
/// thought summaries and logprobs.
package enum MockModel {
    package static let models = ["gemini-3.5-flash", "gemini-3.1-pro", "gemini-2.5-flash", "gemini-2.5-pro"]

    /// The responses of one generation: several for a stream, one otherwise.
    package static func generate(model: String, request: JSONValue, stream: Bool) throws(FlashgateError) -> [JSONValue] {
        guard let contents = request["contents"]?.arrayValue, !contents.isEmpty else {
            throw FlashgateError(.upstreamStatus, "contents is not specified", upstreamStatus: 400)
        }
        try checkSignatures(model: model, contents: contents)
        let prompt = lastUserText(contents)
        let config = request["generationConfig"]
        let calls = functionCalls(request, contents: contents, model: model)
        var text = calls.isEmpty ? answerText(request, contents: contents, prompt: prompt) : ""
        var finish = "STOP"
        for stop in config?["stopSequences"]?.arrayValue?.compactMap(\.stringValue) ?? [] where !stop.isEmpty {
            if let range = text.range(of: stop) { text = String(text[..<range.lowerBound]) }
        }
        var tokens = words(text)
        if let limit = config?["maxOutputTokens"]?.intValue, tokens.count > limit {
            tokens = Array(tokens.prefix(max(limit, 0)))
            finish = "MAX_TOKENS"
        }
        let thought: String? =
            config?["thinkingConfig"]?["includeThoughts"]?.boolValue == true
            ? "Thinking about: " + String(prompt.prefix(40)) : nil
        let thoughtTokens = thought.map { words($0).count } ?? 0
        // As Gemini, at most eight candidates and twenty alternatives a token; other values are
        // refused, never generated (a client may write any integer).
        // An integer field may come as a string (proto3 JSON); anything else is no count.
        let candidateCount = config?["candidateCount"].flatMap { $0.isNull ? nil : ($0.protoIntValue ?? 0) } ?? 1
        guard (1...8).contains(candidateCount) else {
            throw FlashgateError(.upstreamStatus, "candidateCount must be between 1 and 8", upstreamStatus: 400)
        }
        let alternatives = config?["logprobs"].flatMap { $0.isNull ? nil : ($0.protoIntValue ?? -1) } ?? 0
        guard (0...20).contains(alternatives) else {
            throw FlashgateError(.upstreamStatus, "logprobs must be between 0 and 20", upstreamStatus: 400)
        }
        let promptTokens = max(1, (promptCharacters(request) + 3) / 4)
        let outputTokens = tokens.count + calls.count * 4
        var usage: JSONObject = [
            "promptTokenCount": JSONValue(promptTokens), "candidatesTokenCount": JSONValue(outputTokens),
            "totalTokenCount": JSONValue(promptTokens + outputTokens + thoughtTokens),
            "promptTokensDetails": [["modality": "TEXT", "tokenCount": JSONValue(promptTokens)]],
        ]
        if thoughtTokens > 0 { usage["thoughtsTokenCount"] = JSONValue(thoughtTokens) }
        let responseID = "mock-" + String(stableHash(prompt), radix: 16)

        // Each piece is the parts of one event: thoughts first, then text pieces or the calls.
        var pieces: [[JSONValue]] = []
        if let thought { pieces.append([["text": .string(thought), "thought": true]]) }
        if !calls.isEmpty {
            pieces.append(calls)
        } else {
            let texts = stream ? split(tokens, into: 4) : [tokens.joined()]
            pieces += texts.map { [["text": .string($0)]] }
        }
        if !stream { pieces = [pieces.flatMap { $0 }] }
        let logprobs: JSONValue? = config?["responseLogprobs"]?.boolValue == true
            ? logprobsResult(tokens, top: alternatives) : nil
        return pieces.enumerated().map { offset, parts in
            let last = offset == pieces.count - 1
            let candidates: [JSONValue] = (0..<candidateCount).map { index in
                var candidate: JSONObject = ["content": ["role": "model", "parts": .array(parts)], "index": JSONValue(index)]
                if last {
                    candidate["finishReason"] = .string(finish)
                    if let logprobs { candidate["logprobsResult"] = logprobs }
                }
                return .object(candidate)
            }
            var body: JSONObject = ["candidates": .array(candidates)]
            body["usageMetadata"] =
                last ? .object(usage) : ["promptTokenCount": JSONValue(promptTokens), "totalTokenCount": JSONValue(promptTokens)]
            body["modelVersion"] = .string(model)
            body["responseId"] = .string(responseID)
            return .object(body)
        }
    }

    package static func countTokens(request: JSONValue) -> JSONValue {
        ["totalTokens": JSONValue(max(1, (promptCharacters(request) + 3) / 4))]
    }

    /// `GET /v1beta/models` as Gemini answers it.
    package static func listModels() -> JSONValue {
        let items: [JSONValue] = models.map { id in
            [
                "name": .string("models/\(id)"), "displayName": .string(id), "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536, "supportedGenerationMethods": ["generateContent", "countTokens"],
            ]
        }
        return ["models": .array(items)]
    }

    static func lastUserText(_ contents: [JSONValue]) -> String {
        for content in contents.reversed() where (content["role"]?.stringValue ?? "user") == "user" {
            let texts = (content["parts"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
            if !texts.isEmpty { return texts.joined(separator: "\n") }
        }
        return ""
    }

    static func promptCharacters(_ request: JSONValue) -> Int {
        var count = 0
        func visit(_ value: JSONValue) {
            switch value {
            case .string(let s): count += s.utf8.count
            case .array(let items): items.forEach(visit)
            case .object(let o): o.fields.forEach { visit($0.value) }
            default: break
            }
        }
        visit(request["contents"] ?? .null)
        visit(request["systemInstruction"] ?? .null)
        return count
    }

    /// Words with their leading whitespace, so joining them restores the text exactly.
    static func words(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var inWord = false
        for ch in text {
            if ch.isWhitespace {
                if inWord {
                    result.append(current)
                    current = ""
                    inWord = false
                }
                current.append(ch)
            } else {
                current.append(ch)
                inWord = true
            }
        }
        if inWord {
            result.append(current)
        } else if !current.isEmpty {
            if result.isEmpty { result.append(current) } else { result[result.count - 1] += current }
        }
        return result
    }

    static func split(_ tokens: [String], into parts: Int) -> [String] {
        guard tokens.count > 1 else { return [tokens.joined()] }
        let size = max(1, (tokens.count + parts - 1) / parts)
        return stride(from: 0, to: tokens.count, by: size).map { tokens[$0..<min($0 + size, tokens.count)].joined() }
    }

    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
