import FlashgateCore

/// How a Responses answer closes: the final response object with its status, output and usage,
/// as the last stream event or as the whole non-stream body.
extension ResponsesStreamTranslator {
    /// The closing bytes: open items done, then `response.completed` (or `.incomplete` /
    /// `.failed`) for a stream, or the response JSON. Also returns the outcome to store.
    mutating func finish(cost: MicroUSD, tier: ServiceTier?) -> (bytes: [UInt8], outcome: ResponsesOutcome) {
        var out = startIfNeeded()
        out += closeReasoning()
        out += closeMessage()
        var status = "completed"
        var incomplete: JSONValue = .null
        var error: JSONValue = .null
        if blocked {
            status = "incomplete"
            incomplete = ["reason": "content_filter"]
        } else if let finishReason, FinishReason.failedToolUse.contains(finishReason) {
            // Gemini could not produce the call it meant to (responses-api.md §9): an agent must
            // see a failure it can retry, not a finished turn with nothing in it.
            status = "failed"
            error = ["code": "server_error", "message": .string("Gemini ended the answer with \(finishReason)")]
        } else if let finishReason {
            switch FinishReason.openAI(finishReason) {
            case "length":
                status = "incomplete"
                incomplete = ["reason": "max_output_tokens"]
            case "content_filter":
                status = "incomplete"
                incomplete = ["reason": "content_filter"]
            default: break
            }
        } else {
            status = "failed"
            error = ["code": "server_error", "message": "the upstream stream ended before it finished"]
        }
        var body = response(status: status, output: items.map { .object(shown($0)) }, cost: cost, tier: tier)
        body["incomplete_details"] = incomplete
        body["error"] = error
        let final = JSONValue.object(body)
        out += emit(status == "completed" ? "response.completed" : "response.\(status)", ["response": final])
        let outcome = ResponsesOutcome(response: final, items: items.map { .object($0) }, status: status)
        return (answer.stream ? out : JSONWriter.encode(final), outcome)
    }

    /// `response.failed` for a stream the upstream broke after it started.
    mutating func failure(_ failure: FlashgateError) -> [UInt8] {
        var out = startIfNeeded()
        let code: String
        switch failure.kind {
        case .rateLimited: code = "rate_limit_exceeded"
        case .quotaExhausted: code = "insufficient_quota"
        default: code = "server_error"
        }
        var body = response(status: "failed", output: items.map { .object(shown($0)) })
        body["error"] = ["code": .string(code), "message": .string(failure.message)]
        out += emit("response.failed", ["response": .object(body)])
        return out
    }

    /// The response object: what the request echoes, then this answer's id, status and output.
    func response(status: String, output: [JSONValue], cost: MicroUSD? = nil, tier: ServiceTier? = nil) -> JSONObject {
        var body: JSONObject = [
            "id": .string(answer.id), "object": "response", "created_at": JSONValue(answer.created),
            "status": .string(status), "background": false, "error": .null, "incomplete_details": .null,
            "model": .string(answer.model), "output": .array(output),
        ]
        for field in answer.echo.fields { body[field.key] = field.value }
        body["service_tier"] = tier.map { .string($0.openAIName) } ?? .null
        if status != "in_progress" { body["usage"] = Self.usage(usage ?? TokenUsage(), cost: cost) }
        return body
    }

    /// Gemini usage as Responses usage: reasoning tokens are part of the output tokens, cached
    /// tokens part of the input tokens. `cost` is what this client paid, in dollars.
    static func usage(_ usage: TokenUsage, cost: MicroUSD?) -> JSONValue {
        let input = usage.promptTokens + usage.toolUsePromptTokens
        let total = usage.totalTokens > 0 ? usage.totalTokens : input + usage.completionTokens
        var body: JSONObject = [
            "input_tokens": JSONValue(input), "input_tokens_details": ["cached_tokens": JSONValue(usage.cachedTokens)],
            "output_tokens": JSONValue(usage.completionTokens),
            "output_tokens_details": ["reasoning_tokens": JSONValue(usage.thoughtsTokens)],
            "total_tokens": JSONValue(total),
        ]
        if let cost { body["cost"] = .number(cost.dollars) }
        return .object(body)
    }
}

/// Search grounding → Responses `url_citation` annotations (flat, unlike chat's nested form).
enum ResponsesGrounding {
    static func annotations(_ metadata: JSONValue?) -> [JSONValue] {
        Grounding.annotations(metadata).compactMap { annotation in
            guard let citation = annotation["url_citation"] else { return nil }
            return [
                "type": "url_citation", "url": citation["url"] ?? "", "title": citation["title"] ?? "",
                "start_index": citation["start_index"] ?? 0, "end_index": citation["end_index"] ?? 0,
            ]
        }
    }
}
