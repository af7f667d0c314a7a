import FlashgateCore

/// Renders a Gemini `GenerateContentResponse` as an OpenAI `chat.completion`.
package enum ChatResponse {
    /// - Parameters:
    ///   - id: the completion id (`chatcmpl-…`).
    ///   - created: Unix seconds.
    package static func render(
        _ response: JSONValue, model: String, id: String, created: Int
    ) -> (body: JSONValue, usage: TokenUsage?) {
        var choices: [JSONValue] = []
        let candidates = response["candidates"]?.arrayValue ?? []
        for (position, candidate) in candidates.enumerated() {
            let index = candidate["index"]?.intValue ?? position
            let split = CandidateParts(candidate["content"]?["parts"])
            var message: JSONObject = ["role": "assistant"]
            message["content"] = split.text.map { .string($0) } ?? .null
            if let reasoning = split.reasoning { message["reasoning_content"] = .string(reasoning) }
            message["refusal"] = .null
            let reason = candidate["finishReason"]?.stringValue.map { FinishReason.openAI($0) } ?? "stop"
            if reason == "content_filter" && split.text == nil { message["content"] = .null }
            choices.append([
                "index": JSONValue(index), "message": .object(message), "logprobs": .null,
                "finish_reason": .string(reason),
            ])
        }
        if choices.isEmpty {
            // A blocked prompt has no candidates: one filtered choice with no content, never an error.
            let blocked = response["promptFeedback"]?["blockReason"] != nil
            choices.append([
                "index": 0, "message": ["role": "assistant", "content": .null, "refusal": .null], "logprobs": .null,
                "finish_reason": .string(blocked ? "content_filter" : "stop"),
            ])
        }
        let usage = TokenUsage(usageMetadata: response["usageMetadata"])
        var body: JSONObject = [
            "id": .string(id), "object": "chat.completion", "created": JSONValue(created), "model": .string(model),
            "choices": .array(choices),
        ]
        body["usage"] = (usage ?? TokenUsage()).openAI
        return (.object(body), usage)
    }
}

/// The text and thought text of one candidate's parts. Thought parts never leak into content.
struct CandidateParts {
    var text: String?
    var reasoning: String?

    init(_ parts: JSONValue?) {
        for part in parts?.arrayValue ?? [] {
            guard let text = part["text"]?.stringValue else { continue }
            if part["thought"]?.boolValue == true {
                reasoning = (reasoning ?? "") + text
            } else {
                self.text = (self.text ?? "") + text
            }
        }
    }
}
