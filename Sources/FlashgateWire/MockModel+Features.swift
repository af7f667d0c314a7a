import FlashgateCore

extension MockModel {
    /// The signature the mock issues on Gemini 3 function calls (base64 of `mock-signature`).
    package static let signature = "bW9jay1zaWduYXR1cmU="

    static func isGemini3(_ model: String) -> Bool {
        if case .levels = ThinkingConfig.family(model) { return true }
        return false
    }

    /// Gemini 3's rule: in the current turn (after the last user message with text), the first
    /// function call of every model step carries the signature it was issued with.
    static func checkSignatures(model: String, contents: [JSONValue]) throws(FlashgateError) {
        guard isGemini3(model) else { return }
        let start = contents.lastIndex { content in
            content["role"]?.stringValue == "user"
                && (content["parts"]?.arrayValue ?? []).contains { $0["text"] != nil }
        } ?? 0
        for (offset, content) in contents[start...].enumerated() where content["role"]?.stringValue == "model" {
            let parts = content["parts"]?.arrayValue ?? []
            guard let first = parts.firstIndex(where: { $0["functionCall"] != nil }) else { continue }
            guard let signature = parts[first]["thoughtSignature"]?.stringValue else {
                let name = parts[first]["functionCall"]?["name"]?.stringValue ?? ""
                throw rejection(
                    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly. Additional data, function call `default_api:\(name)` , position \(start + offset + 1).")
            }
            guard signature == Self.signature || signature == ChatRequest.skipSignature else {
                throw rejection("Corrupted thought signature.")
            }
        }
    }

    private static func rejection(_ message: String) -> FlashgateError {
        let body: JSONValue = ["error": ["code": 400, "message": .string(message), "status": "INVALID_ARGUMENT"]]
        return FlashgateError(.upstreamStatus, message, upstreamStatus: 400, upstreamBody: JSONWriter.encode(body))
    }

    /// Calls every declared function (at most three, or the allowed names) when the turn ends
    /// with a user message and calling is not switched off. Only the first call is signed.
    static func functionCalls(_ request: JSONValue, contents: [JSONValue], model: String) -> [JSONValue] {
        let declarations = (request["tools"]?.arrayValue ?? []).flatMap { $0["functionDeclarations"]?.arrayValue ?? [] }
        let calling = request["toolConfig"]?["functionCallingConfig"]
        guard !declarations.isEmpty, calling?["mode"]?.stringValue != "NONE",
            let last = contents.last, last["role"]?.stringValue != "model",
            (last["parts"]?.arrayValue ?? []).contains(where: { $0["text"] != nil })
        else { return [] }
        let allowed = calling?["allowedFunctionNames"]?.arrayValue?.compactMap(\.stringValue)
        let chosen = declarations.filter { allowed?.contains($0["name"]?.stringValue ?? "") ?? true }.prefix(3)
        return chosen.enumerated().map { index, declaration in
            var part: JSONObject = [
                "functionCall": [
                    "name": declaration["name"] ?? "", "args": SchemaInstance.make(declaration["parametersJsonSchema"]),
                ]
            ]
            if index == 0 && isGemini3(model) { part["thoughtSignature"] = .string(Self.signature) }
            return .object(part)
        }
    }

    /// The answer text: JSON fitting the requested schema, a summary of tool results, or the echo.
    static func answerText(_ request: JSONValue, contents: [JSONValue], prompt: String) -> String {
        let config = request["generationConfig"]
        if config?["responseMimeType"]?.stringValue == "application/json" {
            if let schema = config?["responseJsonSchema"] ?? config?["responseSchema"] {
                return JSONWriter.string(SchemaInstance.make(schema))
            }
            return JSONWriter.string(["echo": .string(prompt)])
        }
        if let last = contents.last, last["role"]?.stringValue != "model" {
            let results = (last["parts"]?.arrayValue ?? []).compactMap { $0["functionResponse"] }
            if !results.isEmpty {
                return "results: " + results.map { JSONWriter.string($0["response"] ?? .null) }.joined(separator: "; ")
            }
        }
        return prompt
    }

    static func logprobsResult(_ tokens: [String], top: Int) -> JSONValue {
        let chosen: [JSONValue] = tokens.enumerated().map { i, token in
            ["token": .string(token), "logProbability": JSONValue(-0.25 * Double(i % 4 + 1))]
        }
        let alternatives: [JSONValue] = tokens.enumerated().map { i, token in
            let candidates: [JSONValue] = (0..<top).map { k in
                ["token": .string(k == 0 ? token : "\(token)~\(k)"), "logProbability": JSONValue(-0.25 * Double(i % 4 + 1) - Double(k))]
            }
            return ["candidates": .array(candidates)]
        }
        return ["chosenCandidates": .array(chosen), "topCandidates": .array(alternatives)]
    }
}

/// A small deterministic instance of a JSON Schema (objects, arrays, scalars, enums, `$ref` into
/// `$defs`/`definitions`, `anyOf`), enough for clients that parse structured output.
enum SchemaInstance {
    static func make(_ schema: JSONValue?) -> JSONValue {
        guard let schema else { return .object(JSONObject()) }
        return make(schema, root: schema, depth: 0)
    }

    private static func make(_ schema: JSONValue, root: JSONValue, depth: Int) -> JSONValue {
        guard depth < 12 else { return .null }
        if let ref = schema["$ref"]?.stringValue {
            let name = String(ref.split(separator: "/").last ?? "")
            if let target = root["$defs"]?[name] ?? root["definitions"]?[name] {
                return make(target, root: root, depth: depth + 1)
            }
            return .null
        }
        if let value = schema["const"] { return value }
        if let first = schema["enum"]?.arrayValue?.first { return first }
        if let options = (schema["anyOf"] ?? schema["oneOf"])?.arrayValue,
            let option = options.first(where: { $0["type"]?.stringValue != "null" }) ?? options.first
        {
            return make(option, root: root, depth: depth + 1)
        }
        let type = schema["type"]?.stringValue ?? schema["type"]?.arrayValue?.compactMap(\.stringValue).first {
            $0 != "null"
        } ?? (schema["properties"] != nil ? "object" : "string")
        switch type.lowercased() {
        case "object":
            var object = JSONObject()
            for field in schema["properties"]?.objectValue?.fields ?? [] {
                object[field.key] = make(field.value, root: root, depth: depth + 1)
            }
            return .object(object)
        case "array":
            return .array([make(schema["items"] ?? ["type": "string"], root: root, depth: depth + 1)])
        case "integer": return 1
        case "number": return .number("1.5")
        case "boolean": return true
        case "null": return .null
        default: return "text"
        }
    }
}
