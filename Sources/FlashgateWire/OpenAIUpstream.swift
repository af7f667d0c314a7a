import FlashgateCore

/// The `openai` route kind: Flashgate's canonical Gemini `generateContent` body goes to an
/// OpenAI-compatible chat completions upstream (Google's `/v1beta/openai/`, or another gateway),
/// and the upstream's answers come back as Gemini `GenerateContentResponse` events. This is the
/// reverse of `ChatRequest` / `ChatResponse`, which serve OpenAI clients from Gemini.
///
/// Invariant: nothing is silently turned into a different request. A Gemini field without an
/// OpenAI equivalent is either harmless to drop (sampling or safety preferences the upstream
/// applies its own defaults for, listed in `droppedFields`) or refused with a 400 naming it.
package enum OpenAIUpstream {
    /// Top-level Gemini fields dropped on this route. `safetySettings`: OpenAI has no per-request
    /// safety thresholds; `labels`, `serviceTier`, `store`: billing and storage hints only.
    static let droppedFields: Set<String> = ["safetySettings", "labels", "serviceTier", "store", "model"]

    /// `generationConfig` fields dropped: tuning OpenAI has no parameter for (`topK`,
    /// `mediaResolution`), and `enableEnhancedCivicAnswers`.
    static let droppedGenerationFields: Set<String> = ["topK", "mediaResolution", "enableEnhancedCivicAnswers"]

    /// Tools dropped instead of refused. Google Search grounding has no portable OpenAI form
    /// (`web_search_options` is not served by every compatible upstream), so the request goes
    /// without it rather than failing.
    static let droppedTools: Set<String> = ["googleSearch", "googleSearchRetrieval"]

    /// A Gemini generateContent body → an OpenAI chat completions body.
    ///
    /// - Parameters:
    ///   - body: the Gemini request body (lowerCamelCase; the snake_case proto names are read too).
    ///   - model: the upstream model id. On a Gemini 3 model, a function call step without its
    ///     thought signature gets the documented stand-in (`ChatRequest.skipSignature`), as
    ///     Google's OpenAI endpoint enforces signatures like the native API.
    ///   - stream: adds `stream: true` and asks for the final usage chunk.
    /// - Throws: `FlashgateError.invalid` naming the field for anything that would change the
    ///   meaning of the request if dropped (`cachedContent`, code execution, audio output, …).
    package static func request(
        fromGemini body: JSONValue, model: String, stream: Bool
    ) throws(FlashgateError) -> JSONValue {
        guard let object = body.objectValue else { throw .invalid("the request body must be a JSON object") }
        for key in object.keys {
            let name = GeminiField.camel(key)
            if ["contents", "systemInstruction", "tools", "toolConfig", "generationConfig"].contains(name)
                || droppedFields.contains(name)
            {
                continue
            }
            throw .invalid("'\(key)' is not supported on an OpenAI-compatible route", param: key)
        }

        var messages: [JSONValue] = []
        if let system = GeminiField.value(body, "systemInstruction"), !system.isNull {
            messages.append(try systemMessage(system))
        }
        guard let contents = GeminiField.value(body, "contents")?.arrayValue, !contents.isEmpty else {
            throw .invalid("'contents' is required and must be a non-empty array", param: "contents")
        }
        let enforceSignatures: Bool
        if case .levels = ThinkingConfig.family(model) { enforceSignatures = true } else { enforceSignatures = false }
        var conversation = Conversation(enforceSignatures: enforceSignatures)
        for (index, content) in contents.enumerated() {
            try conversation.add(content, param: "contents[\(index)]")
        }
        messages += conversation.messages

        var out: JSONObject = ["model": .string(model), "messages": .array(messages)]
        let declarations = try tools(GeminiField.value(body, "tools"))
        var tools = declarations
        var choice: JSONValue?
        if let config = GeminiField.value(body, "toolConfig"), !config.isNull {
            choice = try toolChoice(config, tools: &tools)
        }
        if !tools.isEmpty {
            out["tools"] = .array(tools)
            if let choice { out["tool_choice"] = choice }
        }
        if let generation = GeminiField.value(body, "generationConfig"), !generation.isNull {
            try applyGeneration(generation, to: &out)
        }
        if stream {
            out["stream"] = true
            out["stream_options"] = ["include_usage": true]
        }
        return .object(out)
    }

    // MARK: messages

    private static func systemMessage(_ system: JSONValue) throws(FlashgateError) -> JSONValue {
        if let text = system.stringValue { return ["role": "system", "content": .string(text)] }
        var texts: [String] = []
        for (i, part) in (GeminiField.value(system, "parts")?.arrayValue ?? []).enumerated() {
            guard let text = part["text"]?.stringValue else {
                throw .invalid(
                    "'systemInstruction.parts[\(i)]' must be a text part on an OpenAI-compatible route",
                    param: "systemInstruction.parts[\(i)]")
            }
            texts.append(text)
        }
        return ["role": "system", "content": textContent(texts)]
    }

    /// One text → a plain string; several → an array of text parts, so no separator is invented.
    static func textContent(_ texts: [String]) -> JSONValue {
        if texts.count == 1 { return .string(texts[0]) }
        return .array(texts.map { ["type": "text", "text": .string($0)] })
    }

    // MARK: tools

    private static func tools(_ value: JSONValue?) throws(FlashgateError) -> [JSONValue] {
        guard let value, !value.isNull else { return [] }
        guard let items = value.arrayValue else { throw .invalid("'tools' must be an array", param: "tools") }
        var result: [JSONValue] = []
        for (i, tool) in items.enumerated() {
            guard let object = tool.objectValue else {
                throw .invalid("'tools[\(i)]' must be an object", param: "tools[\(i)]")
            }
            for field in object.fields {
                let kind = GeminiField.camel(field.key)
                let param = "tools[\(i)].\(field.key)"
                if droppedTools.contains(kind) { continue }
                guard kind == "functionDeclarations" else {
                    throw .invalid(
                        "'\(param)' is a Gemini-only tool, not supported on an OpenAI-compatible route", param: param)
                }
                guard let declarations = field.value.arrayValue else {
                    throw .invalid("'\(param)' must be an array", param: param)
                }
                for (j, declaration) in declarations.enumerated() {
                    result.append(try function(declaration, param: "\(param)[\(j)]"))
                }
            }
        }
        return result
    }

    private static func function(_ declaration: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
        guard let name = declaration["name"]?.stringValue, !name.isEmpty else {
            throw .invalid("'\(param).name' is required", param: "\(param).name")
        }
        var function: JSONObject = ["name": .string(name)]
        if let description = declaration["description"]?.stringValue { function["description"] = .string(description) }
        if let schema = GeminiField.value(declaration, "parametersJsonSchema"), !schema.isNull {
            function["parameters"] = schema
        } else if let schema = GeminiField.value(declaration, "parameters"), !schema.isNull {
            function["parameters"] = GeminiSchema.jsonSchema(schema)
        }
        return ["type": "function", "function": .object(function)]
    }

    /// `functionCallingConfig` → `tool_choice`. ANY limited to one function names it; limited to
    /// several, the tool list is narrowed to them and the choice is `required`, which means the
    /// same. Returns nil when nothing needs saying (no mode).
    private static func toolChoice(_ config: JSONValue, tools: inout [JSONValue]) throws(FlashgateError) -> JSONValue? {
        for field in config.objectValue?.fields ?? [] {
            let name = GeminiField.camel(field.key)
            if name == "retrievalConfig" { continue }  // Maps/Search grounding location: no tool here to apply it to.
            if name != "functionCallingConfig" {
                throw .invalid(
                    "'toolConfig.\(field.key)' is not supported on an OpenAI-compatible route",
                    param: "toolConfig.\(field.key)")
            }
        }
        guard let calling = GeminiField.value(config, "functionCallingConfig"), !calling.isNull else { return nil }
        let param = "toolConfig.functionCallingConfig"
        let allowed = (GeminiField.value(calling, "allowedFunctionNames")?.arrayValue ?? []).compactMap(\.stringValue)
        let mode = calling["mode"]?.stringValue?.uppercased() ?? "AUTO"
        if !allowed.isEmpty {
            let names = Set(allowed)
            tools = tools.filter { names.contains($0["function"]?["name"]?.stringValue ?? "") }
            if tools.isEmpty {
                throw .invalid(
                    "'\(param).allowedFunctionNames' names no declared function", param: "\(param).allowedFunctionNames"
                )
            }
        }
        switch mode {
        case "AUTO", "MODE_UNSPECIFIED", "VALIDATED": return "auto"
        case "NONE": return "none"
        case "ANY":
            if allowed.count == 1 { return ["type": "function", "function": ["name": .string(allowed[0])]] }
            return "required"
        default:
            throw .invalid("'\(param).mode' must be AUTO, ANY, NONE or VALIDATED", param: "\(param).mode")
        }
    }

    // MARK: generationConfig

    private static func applyGeneration(_ generation: JSONValue, to out: inout JSONObject) throws(FlashgateError) {
        guard let object = generation.objectValue else {
            throw .invalid("'generationConfig' must be an object", param: "generationConfig")
        }
        var mimeType: String?
        var schema: JSONValue?
        var responseLogprobs = false
        var topLogprobs: JSONValue?
        for field in object.fields where !field.value.isNull {
            let key = GeminiField.camel(field.key)
            let param = "generationConfig.\(field.key)"
            switch key {
            case "temperature": out["temperature"] = field.value
            case "topP": out["top_p"] = field.value
            case "maxOutputTokens": out["max_completion_tokens"] = field.value
            case "stopSequences": out["stop"] = field.value
            case "candidateCount": out["n"] = field.value
            case "seed": out["seed"] = field.value
            case "presencePenalty": out["presence_penalty"] = field.value
            case "frequencyPenalty": out["frequency_penalty"] = field.value
            case "responseMimeType": mimeType = field.value.stringValue
            case "responseJsonSchema": schema = field.value
            case "responseSchema": schema = GeminiSchema.jsonSchema(field.value)
            case "responseLogprobs": responseLogprobs = field.value.boolValue ?? false
            case "logprobs": topLogprobs = field.value
            case "thinkingConfig":
                if let effort = try reasoningEffort(field.value, param: param) {
                    out["reasoning_effort"] = .string(effort)
                }
            case "responseModalities":
                let modalities = (field.value.arrayValue ?? []).compactMap { $0.stringValue?.uppercased() }
                if modalities.contains(where: { $0 != "TEXT" }) {
                    throw .invalid(
                        "'\(param)': only TEXT output is supported on an OpenAI-compatible route", param: param)
                }
            default:
                if droppedGenerationFields.contains(key) { continue }
                throw .invalid("'\(param)' is not supported on an OpenAI-compatible route", param: param)
            }
        }
        switch mimeType?.lowercased() {
        case nil, "text/plain":
            if schema != nil {
                throw .invalid(
                    "a response schema needs 'generationConfig.responseMimeType': application/json",
                    param: "generationConfig.responseMimeType")
            }
        case "application/json":
            if let schema {
                out["response_format"] = [
                    "type": "json_schema", "json_schema": ["name": "response", "schema": schema],
                ]
            } else {
                out["response_format"] = ["type": "json_object"]
            }
        default:
            throw .invalid(
                "'generationConfig.responseMimeType' \(mimeType ?? "") is not supported on an OpenAI-compatible route",
                param: "generationConfig.responseMimeType")
        }
        if responseLogprobs {
            out["logprobs"] = true
            if let topLogprobs { out["top_logprobs"] = topLogprobs }
        }
    }

    /// `thinkingConfig` → `reasoning_effort`. A level keeps its name (lowercased). A budget maps
    /// through the inverse of `ThinkingConfig`'s table for Gemini 2.5 Flash (which is also
    /// Google's documented reading of `reasoning_effort`): 0 → `none`, up to the `low` budget →
    /// `low`, up to the `medium` budget → `medium`, more → `high`; -1 (dynamic) says nothing.
    /// `includeThoughts` has no OpenAI field: reasoning comes back when the upstream sends it.
    static func reasoningEffort(_ config: JSONValue, param: String) throws(FlashgateError) -> String? {
        let level = GeminiField.value(config, "thinkingLevel")?.stringValue
        let budget = GeminiField.value(config, "thinkingBudget")?.intValue
        if level != nil && budget != nil {
            throw .invalid("set '\(param).thinkingLevel' or '\(param).thinkingBudget', not both", param: param)
        }
        if let level {
            let effort = level.lowercased()
            guard ThinkingConfig.efforts.contains(effort) else {
                throw .invalid(
                    "'\(param).thinkingLevel' must be MINIMAL, LOW, MEDIUM or HIGH", param: "\(param).thinkingLevel")
            }
            return effort
        }
        guard let budget, budget >= 0 else { return nil }
        if budget == 0 { return "none" }
        for effort in ["low", "medium"] {
            if let limit = ThinkingConfig.config(effort: effort, upstreamModel: "gemini-2.5-flash")?["thinkingBudget"]?
                .intValue,
                budget <= limit
            {
                return effort
            }
        }
        return "high"
    }
}

/// Reads Gemini fields in either spelling: lowerCamelCase, or the snake_case proto name that
/// Google's parser (and the google-genai SDK, inside `thinkingConfig`) also uses.
enum GeminiField {
    static func value(_ object: JSONValue?, _ camel: String) -> JSONValue? {
        object?[camel] ?? object?[snake(camel)]
    }

    static func camel(_ key: String) -> String { CaseConversion.camel(key) }

    static func snake(_ camel: String) -> String { GeminiSpelling.snake(camel) }
}

/// Google's OpenAPI-subset `Schema` (upper-case `type`, `nullable`, `propertyOrdering`) → plain
/// JSON Schema, for `parameters` and `responseSchema`.
enum GeminiSchema {
    static func jsonSchema(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map(jsonSchema))
        case .object(let object):
            var out = JSONObject()
            var nullable = false
            for field in object.fields {
                switch field.key {
                case "nullable": nullable = field.value.boolValue ?? false
                case "propertyOrdering", "property_ordering": continue
                case "type": out["type"] = field.value.stringValue.map { .string($0.lowercased()) } ?? field.value
                case "properties", "$defs", "definitions":
                    // Keys here are property names, not schema keywords.
                    let members = field.value.objectValue?.fields.map { JSONField($0.key, jsonSchema($0.value)) } ?? []
                    out[field.key] = .object(JSONObject(members))
                case "items", "anyOf", "any_of", "oneOf", "allOf", "not", "additionalProperties":
                    out[GeminiField.camel(field.key)] = jsonSchema(field.value)
                default:
                    out[field.key] = field.value
                }
            }
            if nullable, let type = out["type"]?.stringValue { out["type"] = [.string(type), "null"] }
            return .object(out)
        default:
            return value
        }
    }
}
