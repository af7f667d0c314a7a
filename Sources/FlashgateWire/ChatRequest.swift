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
    /// `reasoning_effort`, applied once the upstream model is known (`applyThinking`).
    package var reasoningEffort: String?
    /// Where thought signatures go back into the history (`attachSignatures`).
    package var signatureSlots: [SignatureSlot] = []
    /// Some part carries a per-part `mediaResolution` (from an OpenAI `detail`).
    package var partResolutions = false

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
        "user", "store", "metadata", "logit_bias", "parallel_tool_calls", "prediction",
        "prompt_cache_key", "safety_identifier", "verbosity", "modalities", "audio", "stream_options",
    ]

    /// Fields whose translation is not built yet: refused clearly instead of silently ignored.
    static let unsupportedFields: Set<String> = []

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
        let conversation = try MessageTranslator.translate(messages)
        gemini["contents"] = .array(conversation.contents)
        let partResolutions = conversation.contents.contains { content in
            content["parts"]?.arrayValue?.contains { $0["mediaResolution"] != nil } ?? false
        }
        if let system = conversation.system { gemini["systemInstruction"] = system }

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
        // Gemini's seed is a 32-bit integer: outside it, Flashgate's own 400 naming the field.
        if let v = try reader.integer("seed", min: Int(Int32.min)) {
            guard v <= Int(Int32.max) else {
                throw .invalid("'seed' must be a 32-bit integer (at most \(Int32.max))", param: "seed")
            }
            generation["seed"] = JSONValue(v)
        }
        if let v = try reader.number("presence_penalty", in: -2...2) { generation["presencePenalty"] = v }
        if let v = try reader.number("frequency_penalty", in: -2...2) { generation["frequencyPenalty"] = v }
        if let format = reader.take("response_format"), !format.isNull {
            try ResponseFormat.apply(format, to: &generation)
        }
        if let logprobs = try reader.bool("logprobs"), logprobs { generation["responseLogprobs"] = true }
        if let top = try reader.integer("top_logprobs", min: 0) {
            if top > 20 { throw .invalid("'top_logprobs' must be at most 20", param: "top_logprobs") }
            if generation["responseLogprobs"] == nil {
                throw .invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs")
            }
            generation["logprobs"] = JSONValue(top)
        }

        var tools: [JSONValue] = []
        var declarations: [JSONValue] = []
        if let value = reader.take("tools"), !value.isNull {
            declarations += try ToolDeclarations.declarations(value, param: "tools")
        }
        if let value = reader.take("functions"), !value.isNull {
            declarations += try ToolDeclarations.declarations(value, param: "functions")
        }
        if !declarations.isEmpty { tools.append(["functionDeclarations": .array(declarations)]) }
        if let value = reader.take("web_search_options"), !value.isNull {
            guard value.objectValue != nil else {
                throw .invalid("'web_search_options' must be an object", param: "web_search_options")
            }
            tools.append(["googleSearch": .object(JSONObject())])
        }
        if !tools.isEmpty { gemini["tools"] = .array(tools) }
        for key in ["tool_choice", "function_call"] {
            if let value = reader.take(key), !value.isNull {
                gemini["toolConfig"] = ["functionCallingConfig": try ToolDeclarations.callingConfig(value, param: key)]
            }
        }

        var reasoningEffort: String?
        if let value = reader.take("reasoning_effort"), !value.isNull {
            guard let effort = value.stringValue, ThinkingConfig.efforts.contains(effort) else {
                throw .invalid(
                    "'reasoning_effort' must be one of none, minimal, low, medium, high", param: "reasoning_effort")
            }
            reasoningEffort = effort
        }
        if let value = reader.take("service_tier"), !value.isNull {
            guard let text = value.stringValue, let asked = ServiceTier.openAI(text) else {
                throw .invalid(
                    "'service_tier' must be auto, default, flex or priority (Gemini has no other tier)", param: "service_tier")
            }
            // `auto` leaves the tier to the config's default; the others are sent as Gemini's tier.
            if let tier = asked { gemini["serviceTier"] = .string(tier.rawValue) }
        }
        try GoogleExtensions.apply(
            reader.take("google"), reader.take("extra_body")?["google"], reader.take("safety_settings"),
            to: &gemini, generation: &generation, hasReasoningEffort: reasoningEffort != nil)
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
        var request = ChatRequest(model: model, stream: stream, includeUsage: includeUsage, candidateCount: n, gemini: gemini)
        request.reasoningEffort = reasoningEffort
        request.signatureSlots = conversation.signatureSlots
        request.partResolutions = partResolutions
        return request
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
    /// The keys taken that the object has (a handful: a set cost more to build than it saved).
    private var taken: [String] = []

    init(_ object: JSONObject) { self.object = object }

    var remainingKeys: [String] { object.keys.filter { !taken.contains($0) && !ChatRequest.droppedFields.contains($0) } }

    mutating func take(_ key: String) -> JSONValue? {
        guard let value = object[key] else { return nil }
        taken.append(key)
        return value
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

extension ChatRequest {
    /// Gemini's documented stand-in signature (base64 of `skip_thought_signature_validator`) for
    /// a history whose real signature is unknown or was issued by another route.
    package static let skipSignature = SignatureOrigins.skipSignature

    /// Sets the thinking settings for `reasoning_effort` now that the upstream model is known.
    package mutating func applyThinking(upstreamModel: String) {
        guard let effort = reasoningEffort, let config = ThinkingConfig.config(effort: effort, upstreamModel: upstreamModel)
        else { return }
        var generation = gemini["generationConfig"]?.objectValue ?? JSONObject()
        generation["thinkingConfig"] = config
        gemini["generationConfig"] = .object(generation)
    }

    /// Per-part `mediaResolution` is Gemini 3's (v1beta); a Gemini 2.x or older model gets the
    /// parts without it, keeping its default resolution, instead of a field it refuses or
    /// ignores. Other model ids are left as they are.
    package mutating func dropPartResolutions(upstreamModel: String) {
        guard partResolutions, let range = upstreamModel.lowercased().range(of: "gemini-"),
            let major = Int(upstreamModel.lowercased()[range.upperBound...].prefix { $0.isNumber }), major < 3,
            var contents = gemini["contents"]?.arrayValue
        else { return }
        for c in contents.indices {
            guard case .object(var content) = contents[c], var parts = content["parts"]?.arrayValue else { continue }
            for p in parts.indices {
                guard case .object(var part) = parts[p], part["mediaResolution"] != nil else { continue }
                part["mediaResolution"] = nil
                parts[p] = .object(part)
            }
            content["parts"] = .array(parts)
            contents[c] = .object(content)
        }
        gemini["contents"] = .array(contents)
    }

    /// Puts a thought signature on the first function call of every assistant step. A signature
    /// Flashgate stored goes back only to the route and model that issued it; elsewhere, or when
    /// none is known on a Gemini 3 model, the documented stand-in is sent instead, so the call
    /// succeeds rather than failing with a missing or corrupted signature.
    package mutating func attachSignatures(
        route: String, upstreamModel: String, lookup: (String) -> StoredSignature?
    ) {
        guard !signatureSlots.isEmpty, var contents = gemini["contents"]?.arrayValue else { return }
        let enforced: Bool
        if case .levels = ThinkingConfig.family(upstreamModel) { enforced = true } else { enforced = false }
        for slot in signatureSlots {
            let signature: String?
            if let stored = lookup(slot.toolCallID) {
                signature =
                    SignatureOrigins.matches(stored.route, route: route, model: upstreamModel)
                    ? stored.signature : Self.skipSignature
            } else if let provided = slot.providedSignature {
                signature = provided
            } else {
                signature = enforced ? Self.skipSignature : nil
            }
            guard let signature, case .object(var content) = contents[slot.contentIndex],
                case .array(var parts)? = content["parts"], parts.indices.contains(slot.partIndex),
                case .object(var part) = parts[slot.partIndex]
            else { continue }
            part["thoughtSignature"] = .string(signature)
            parts[slot.partIndex] = .object(part)
            content["parts"] = .array(parts)
            contents[slot.contentIndex] = .object(content)
        }
        gemini["contents"] = .array(contents)
    }
}
