import FlashgateCore

/// An OpenAI chat-completions request after validation and translation: the canonical Gemini
/// `generateContent` body plus what the response renderer needs to know.
package struct ChatRequest: Sendable {
    /// The model id as the client named it; answers carry it back unchanged.
    package var model: String
    package var stream: Bool
    package var includeUsage: Bool
    package var candidateCount: Int
    /// The Gemini `generateContent` body.
    package var gemini: JSONObject

    package init(model: String, stream: Bool, includeUsage: Bool, candidateCount: Int, gemini: JSONObject) {
        self.model = model
        self.stream = stream
        self.includeUsage = includeUsage
        self.candidateCount = candidateCount
        self.gemini = gemini
    }
}

extension ChatRequest {
    /// OpenAI fields Gemini has no use for; they are accepted and dropped, never forwarded.
    static let droppedFields: Set<String> = [
        "user", "store", "metadata", "logit_bias", "parallel_tool_calls", "service_tier", "prediction",
        "prompt_cache_key", "safety_identifier", "verbosity", "modalities", "audio", "stream_options",
    ]

    /// Fields whose translation is not built yet: refused clearly instead of silently ignored.
    static let unsupportedFields: Set<String> = [
        "tools", "tool_choice", "functions", "function_call", "reasoning_effort", "logprobs", "top_logprobs",
        "web_search_options", "extra_body",
    ]

    /// Parses and translates an OpenAI chat-completions body.
    package static func translate(_ body: JSONValue) throws(FlashgateError) -> ChatRequest {
        guard let object = body.objectValue else { throw .invalid("the request body must be a JSON object") }
        var reader = FieldReader(object)

        guard let modelValue = reader.take("model") else { throw .invalid("'model' is required", param: "model") }
        guard let model = modelValue.stringValue, !model.isEmpty else {
            throw .invalid("'model' must be a non-empty string", param: "model")
        }
        guard let messagesValue = reader.take("messages") else {
            throw .invalid("'messages' is required", param: "messages")
        }
        guard let messages = messagesValue.arrayValue else {
            throw .invalid("'messages' must be an array of messages, got \(messagesValue.typeName)", param: "messages")
        }
        guard !messages.isEmpty else { throw .invalid("'messages' must not be empty", param: "messages") }

        var gemini = JSONObject()
        let (system, contents) = try MessageTranslator.translate(messages)
        gemini["contents"] = .array(contents)
        if let system { gemini["systemInstruction"] = system }

        var generation = JSONObject()
        if let v = try reader.number("temperature", in: 0...2) { generation["temperature"] = v }
        if let v = try reader.number("top_p", in: 0...1) { generation["topP"] = v }
        let maxCompletion = try reader.integer("max_completion_tokens", min: 1)
        let maxTokens = try reader.integer("max_tokens", min: 1)
        if let v = maxCompletion ?? maxTokens { generation["maxOutputTokens"] = JSONValue(v) }
        if let stop = reader.take("stop"), !stop.isNull {
            generation["stopSequences"] = .array(try stopSequences(stop).map { .string($0) })
        }
        let n = try reader.integer("n", min: 1) ?? 1
        if n > 8 { throw .invalid("'n' must be at most 8", param: "n") }
        if n != 1 { generation["candidateCount"] = JSONValue(n) }
        if let v = try reader.integer("seed", min: Int.min) { generation["seed"] = JSONValue(v) }
        if let v = try reader.number("presence_penalty", in: -2...2) { generation["presencePenalty"] = v }
        if let v = try reader.number("frequency_penalty", in: -2...2) { generation["frequencyPenalty"] = v }
        if let format = reader.take("response_format"), !format.isNull {
            try ResponseFormat.apply(format, to: &generation)
        }
        if !generation.isEmpty { gemini["generationConfig"] = .object(generation) }

        let stream = try reader.bool("stream") ?? false
        var includeUsage = false
        if let options = object["stream_options"], !options.isNull {
            guard let optionsObject = options.objectValue else {
                throw .invalid("'stream_options' must be an object", param: "stream_options")
            }
            if let flag = optionsObject["include_usage"], !flag.isNull {
                guard let value = flag.boolValue else {
                    throw .invalid("'stream_options.include_usage' must be a boolean", param: "stream_options.include_usage")
                }
                includeUsage = value
            }
        }

        for key in reader.remainingKeys {
            if unsupportedFields.contains(key) {
                throw .invalid("'\(key)' is not supported by this Flashgate version yet", param: key)
            }
            // Anything else is an OpenAI-only field (known or future): dropped, never forwarded.
        }
        return ChatRequest(model: model, stream: stream, includeUsage: includeUsage, candidateCount: n, gemini: gemini)
    }

    private static func stopSequences(_ value: JSONValue) throws(FlashgateError) -> [String] {
        if let s = value.stringValue { return [s] }
        guard let items = value.arrayValue else {
            throw .invalid("'stop' must be a string or an array of strings", param: "stop")
        }
        var result: [String] = []
        for item in items {
            guard let s = item.stringValue else { throw .invalid("'stop' must contain only strings", param: "stop") }
            result.append(s)
        }
        if result.count > 5 { throw .invalid("'stop' takes at most 5 sequences", param: "stop") }
        return result
    }
}

/// Takes typed fields out of a request object, each with a 400 naming the field on a type error,
/// and remembers which keys were consumed.
struct FieldReader {
    private let object: JSONObject
    private var taken: Set<String> = []

    init(_ object: JSONObject) { self.object = object }

    var remainingKeys: [String] { object.keys.filter { !taken.contains($0) && !ChatRequest.droppedFields.contains($0) } }

    mutating func take(_ key: String) -> JSONValue? {
        taken.insert(key)
        return object[key]
    }

    mutating func number(_ key: String, in range: ClosedRange<Double>) throws(FlashgateError) -> JSONValue? {
        guard let value = take(key), !value.isNull else { return nil }
        guard let d = value.doubleValue else { throw .invalid("'\(key)' must be a number, got \(value.typeName)", param: key) }
        guard range.contains(d) else {
            throw .invalid("'\(key)' must be between \(range.lowerBound) and \(range.upperBound)", param: key)
        }
        return value
    }

    mutating func integer(_ key: String, min: Int) throws(FlashgateError) -> Int? {
        guard let value = take(key), !value.isNull else { return nil }
        guard let i = value.intValue else { throw .invalid("'\(key)' must be an integer, got \(value.typeName)", param: key) }
        guard i >= min else { throw .invalid("'\(key)' must be at least \(min)", param: key) }
        return i
    }

    mutating func bool(_ key: String) throws(FlashgateError) -> Bool? {
        guard let value = take(key), !value.isNull else { return nil }
        guard let b = value.boolValue else { throw .invalid("'\(key)' must be a boolean, got \(value.typeName)", param: key) }
        return b
    }
}
