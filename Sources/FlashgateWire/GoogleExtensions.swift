import FlashgateCore

/// Gemini-only options an OpenAI client can send: `extra_body={"google": {...}}` (which the
/// openai SDK merges into the body as `google`), Google's documented double-nested
/// `extra_body.google`, and a top-level `safety_settings` as LiteLLM accepts it.
enum GoogleExtensions {
    static func apply(
        _ google: JSONValue?, _ nested: JSONValue?, _ safety: JSONValue?, to gemini: inout JSONObject,
        generation: inout JSONObject, hasReasoningEffort: Bool
    ) throws(FlashgateError) {
        for (options, param) in [(google, "google"), (nested, "extra_body.google")] {
            guard let options, !options.isNull else { continue }
            guard let object = options.objectValue else { throw .invalid("'\(param)' must be an object", param: param) }
            for field in object.fields {
                let p = "\(param).\(field.key)"
                switch field.key {
                case "thinking_config", "thinkingConfig":
                    if hasReasoningEffort {
                        throw .invalid("set 'reasoning_effort' or '\(p)', not both", param: p)
                    }
                    generation["thinkingConfig"] = try ThinkingConfig.fromGoogle(field.value, param: p)
                case "safety_settings", "safetySettings":
                    gemini["safetySettings"] = try safetySettings(field.value, param: p)
                case "cached_content", "cachedContent":
                    guard let name = field.value.stringValue else { throw .invalid("'\(p)' must be a string", param: p) }
                    gemini["cachedContent"] = .string(name)
                case "labels":
                    gemini["labels"] = field.value
                case "response_modalities", "responseModalities", "media_resolution", "mediaResolution", "top_k", "topK",
                    "speech_config", "speechConfig", "image_config", "imageConfig":
                    generation[CaseConversion.camel(field.key)] = CaseConversion.camelKeys(field.value)
                default:
                    throw .invalid("'\(p)' is not a Gemini option Flashgate knows", param: p)
                }
            }
        }
        if let safety, !safety.isNull { gemini["safetySettings"] = try safetySettings(safety, param: "safety_settings") }
    }

    private static func safetySettings(_ value: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
        guard let items = value.arrayValue, items.allSatisfy({ $0.objectValue != nil }) else {
            throw .invalid("'\(param)' must be an array of {category, threshold} objects", param: param)
        }
        return CaseConversion.camelKeys(value)
    }
}
