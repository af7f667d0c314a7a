import FlashgateCore

extension OpenAIUpstream {
    /// An OpenAI `chat.completion` → one Gemini `GenerateContentResponse`.
    ///
    /// Each choice becomes a candidate whose parts are, in order: the reasoning (`reasoning_content`,
    /// or `reasoning` as some gateways call it) as a `thought: true` part, the text, then one
    /// `functionCall` part per tool call with its `id`, its arguments parsed, and the signature
    /// from `extra_content.google` (or `.vertex`) as `thoughtSignature`. Tool-call arguments that
    /// are not a JSON object end the candidate with `MALFORMED_FUNCTION_CALL`, as Gemini reports
    /// a call it could not form.
    package static func response(fromCompletion completion: JSONValue) -> JSONValue {
        var candidates: [JSONValue] = []
        for (position, choice) in (completion["choices"]?.arrayValue ?? []).enumerated() {
            let message = choice["message"]
            var parts: [JSONValue] = []
            if let reasoning = reasoningText(message), !reasoning.isEmpty {
                parts.append(["text": .string(reasoning), "thought": true])
            }
            let calls = message?["tool_calls"]?.arrayValue ?? []
            if let text = contentText(message?["content"]) ?? message?["refusal"]?.stringValue,
                !text.isEmpty || (calls.isEmpty && parts.isEmpty)
            {
                parts.append(["text": .string(text)])
            }
            var malformed: [String] = []
            for call in calls {
                let assembled = ToolCallBuffer(
                    id: call["id"]?.stringValue, name: call["function"]?["name"]?.stringValue ?? "",
                    arguments: call["function"]?["arguments"], signature: signature(call))
                if let part = assembled.part { parts.append(part) } else { malformed.append(assembled.name) }
            }
            candidates.append(
                candidate(
                    index: choice["index"]?.intValue ?? position, parts: parts,
                    finishReason: finishReason(choice["finish_reason"]?.stringValue), malformed: malformed,
                    logprobs: choice["logprobs"]))
        }
        var out = JSONObject()
        out["candidates"] = .array(candidates)
        if let usage = usageMetadata(completion["usage"]) { out["usageMetadata"] = usage }
        if let model = completion["model"]?.stringValue { out["modelVersion"] = .string(model) }
        if let id = completion["id"]?.stringValue { out["responseId"] = .string(id) }
        return .object(out)
    }

    /// One Gemini candidate. A malformed tool call overrides the finish reason.
    static func candidate(
        index: Int, parts: [JSONValue], finishReason: String?, malformed: [String] = [], logprobs: JSONValue? = nil
    ) -> JSONValue {
        var object = JSONObject()
        if !parts.isEmpty { object["content"] = ["role": "model", "parts": .array(parts)] }
        if !malformed.isEmpty {
            object["finishReason"] = "MALFORMED_FUNCTION_CALL"
            object["finishMessage"] = .string(
                "Malformed function call: the arguments of \(malformed.joined(separator: ", ")) are not a JSON object")
        } else if let finishReason {
            object["finishReason"] = .string(finishReason)
        }
        if let result = logprobsResult(logprobs) { object["logprobsResult"] = result }
        object["index"] = JSONValue(index)
        return .object(object)
    }

    // MARK: pieces

    static func reasoningText(_ message: JSONValue?) -> String? {
        message?["reasoning_content"]?.stringValue ?? message?["reasoning"]?.stringValue
    }

    /// `content` as a string, or the text of an array of text parts.
    static func contentText(_ content: JSONValue?) -> String? {
        if let text = content?.stringValue { return text }
        guard let items = content?.arrayValue else { return nil }
        return items.compactMap { $0["text"]?.stringValue }.joined()
    }

    /// The thought signature Google's OpenAI endpoint puts beside a tool call's `function`
    /// (`extra_content.google`; Vertex's endpoint says `extra_content.vertex`).
    static func signature(_ call: JSONValue) -> String? {
        call["extra_content"]?["google"]?["thought_signature"]?.stringValue
            ?? call["extra_content"]?["vertex"]?["thought_signature"]?.stringValue
    }

    /// OpenAI `finish_reason` → Gemini `finishReason`: the inverse of `FinishReason.openAI` on the
    /// values both sides have. `tool_calls` is `STOP`, as Gemini ends a calling turn. An unknown
    /// reason is `OTHER`; a missing one is `FINISH_REASON_UNSPECIFIED` (finished, not cacheable).
    static func finishReason(_ reason: String?) -> String? {
        switch reason {
        case nil: nil
        case "stop", "tool_calls", "function_call": "STOP"
        case "length": "MAX_TOKENS"
        case "content_filter": "SAFETY"
        default: "OTHER"
        }
    }

    /// OpenAI `usage` → Gemini `usageMetadata`. OpenAI counts reasoning inside
    /// `completion_tokens`; Gemini counts thoughts apart from `candidatesTokenCount`. An upstream
    /// whose total shows reasoning was *not* included (prompt + completion + reasoning == total,
    /// or reasoning > completion) is read that way instead.
    static func usageMetadata(_ usage: JSONValue?) -> JSONValue? {
        guard let usage, usage.objectValue != nil else { return nil }
        // Each within 0...`BillableUsage.maxTokens`, so the sums below cannot overflow.
        let prompt = TokenUsage.count(usage["prompt_tokens"])
        let completion = TokenUsage.count(usage["completion_tokens"])
        let reasoning = TokenUsage.count(usage["completion_tokens_details"]?["reasoning_tokens"])
        let cached = TokenUsage.count(usage["prompt_tokens_details"]?["cached_tokens"])
        var total = TokenUsage.count(usage["total_tokens"])
        let exclusive = reasoning > completion || (reasoning > 0 && total == prompt + completion + reasoning)
        let candidates = exclusive ? completion : completion - reasoning
        if total == 0 { total = prompt + candidates + reasoning }
        var out: JSONObject = ["promptTokenCount": JSONValue(prompt), "candidatesTokenCount": JSONValue(candidates)]
        if reasoning > 0 { out["thoughtsTokenCount"] = JSONValue(reasoning) }
        if cached > 0 { out["cachedContentTokenCount"] = JSONValue(cached) }
        out["totalTokenCount"] = JSONValue(total)
        return .object(out)
    }

    /// OpenAI `logprobs.content` → Gemini `logprobsResult`, the inverse of `Logprobs.openAI`.
    static func logprobsResult(_ logprobs: JSONValue?) -> JSONValue? {
        guard let content = logprobs?["content"]?.arrayValue else { return nil }
        var chosen: [JSONValue] = []
        var top: [JSONValue] = []
        var hasTop = false
        for entry in content {
            chosen.append(["token": entry["token"] ?? "", "logProbability": entry["logprob"] ?? 0])
            let alternatives = entry["top_logprobs"]?.arrayValue ?? []
            hasTop = hasTop || !alternatives.isEmpty
            top.append([
                "candidates": .array(
                    alternatives.map { ["token": $0["token"] ?? "", "logProbability": $0["logprob"] ?? 0] })
            ])
        }
        var result: JSONObject = ["chosenCandidates": .array(chosen)]
        if hasTop { result["topCandidates"] = .array(top) }
        return .object(result)
    }

    // MARK: errors

    /// An OpenAI-style error body (`{"error":{"message","type","code"}}`) → Google's envelope
    /// `{"error":{"code","message","status"}}`, the status named from the HTTP status the way
    /// `FlashgateError.googleStatus` names it (400 INVALID_ARGUMENT, 429 RESOURCE_EXHAUSTED,
    /// 503 UNAVAILABLE, …). The message is kept; a body without one gets a generic message. A
    /// body that already is Google's envelope (Google's endpoint sometimes answers natively,
    /// possibly wrapped in an array) keeps its own status and details.
    package static func geminiError(status: Int, body: [UInt8]) -> [UInt8] {
        JSONWriter.encode(geminiErrorValue(status: status, body: (try? JSONParser.parse(body)) ?? .null))
    }

    static func geminiErrorValue(status: Int, body: JSONValue) -> JSONValue {
        let error = body["error"] ?? body.arrayValue?.first?["error"]
        let message =
            error?["message"]?.stringValue ?? error?.stringValue ?? body["message"]?.stringValue
            ?? "upstream answered HTTP \(status)"
        var googleStatus = FlashgateError(.upstreamStatus, message, upstreamStatus: status).googleStatus
        var out: JSONObject = ["code": JSONValue(status), "message": .string(message)]
        if let named = error?["status"]?.stringValue, !named.isEmpty, named.allSatisfy({ $0.isUppercase || $0 == "_" })
        {
            googleStatus = named
        }
        out["status"] = .string(googleStatus)
        if let details = error?["details"], details.arrayValue != nil { out["details"] = details }
        return ["error": .object(out)]
    }
}

/// One tool call being put together: whole from a completion, or piece by piece from a stream.
struct ToolCallBuffer: Sendable {
    var id: String?
    var name: String
    var arguments: String = ""
    var signature: String?

    init(id: String?, name: String, arguments: JSONValue? = nil, signature: String? = nil) {
        self.id = id
        self.name = name
        self.signature = signature
        if let arguments { append(arguments) }
    }

    /// Adds an arguments piece: a string fragment, or (from lenient upstreams) an object.
    mutating func append(_ piece: JSONValue) {
        if let text = piece.stringValue {
            arguments += text
        } else if piece.objectValue != nil {
            arguments += JSONWriter.string(piece)
        }
    }

    /// The Gemini `functionCall` part, or nil when the arguments are not a JSON object.
    var part: JSONValue? {
        let args: JSONValue
        if arguments.allSatisfy({ $0.isWhitespace }) {
            args = .object(JSONObject())
        } else {
            guard let parsed = try? JSONParser.parse(arguments), parsed.objectValue != nil else { return nil }
            args = parsed
        }
        var call = JSONObject()
        if let id, !id.isEmpty { call["id"] = .string(id) }
        call["name"] = .string(name)
        call["args"] = args
        var part: JSONObject = ["functionCall": .object(call)]
        if let signature { part["thoughtSignature"] = .string(signature) }
        return .object(part)
    }
}
