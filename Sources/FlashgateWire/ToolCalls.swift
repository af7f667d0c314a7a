import FlashgateCore

/// Where a Gemini 3 thought signature belongs in a translated request: the first function call
/// of one assistant step. The signature is the client's own (`extra_content.google`) when it
/// kept it, or one Flashgate stored when it returned the call.
package struct SignatureSlot: Sendable, Equatable {
    package var contentIndex: Int
    package var partIndex: Int
    package var toolCallID: String
    package var providedSignature: String?
}

/// OpenAI tool calls and tool results ⇄ Gemini `functionCall` and `functionResponse` parts.
enum ToolCalls {
    struct Call {
        var id: String
        var name: String
        var part: JSONValue
        var signature: String?
    }

    /// An assistant message's `tool_calls` (and the legacy `function_call`) as functionCall parts.
    static func parseAssistantCalls(_ message: JSONObject, param: String) throws(FlashgateError) -> [Call] {
        var calls: [Call] = []
        if let legacy = message["function_call"], !legacy.isNull {
            let name = try string(legacy["name"], "\(param).function_call.name")
            let args = try arguments(legacy["arguments"], "\(param).function_call.arguments")
            calls.append(Call(id: name, name: name, part: ["functionCall": ["name": .string(name), "args": args]]))
        }
        guard let value = message["tool_calls"], !value.isNull else { return calls }
        guard let items = value.arrayValue else {
            throw .invalid("'\(param).tool_calls' must be an array", param: "\(param).tool_calls")
        }
        for (i, item) in items.enumerated() {
            let p = "\(param).tool_calls[\(i)]"
            guard item.objectValue != nil else { throw .invalid("'\(p)' must be an object", param: p) }
            if let type = item["type"]?.stringValue, type != "function" {
                throw .invalid("'\(p).type' must be 'function'", param: "\(p).type")
            }
            let id = try string(item["id"], "\(p).id")
            let name = try string(item["function"]?["name"], "\(p).function.name")
            let args = try arguments(item["function"]?["arguments"], "\(p).function.arguments")
            let signature = item["extra_content"]?["google"]?["thought_signature"]?.stringValue
            calls.append(
                Call(id: id, name: name, part: ["functionCall": ["name": .string(name), "args": args]], signature: signature))
        }
        return calls
    }

    /// A `tool` (or legacy `function`) message as a functionResponse part. A JSON object result is
    /// kept as the response; anything else is wrapped as `{"result": …}`.
    static func functionResponse(
        _ message: JSONObject, role: String, param: String, callNames: [String: String]
    ) throws(FlashgateError) -> JSONValue {
        let name: String
        if role == "function" {
            name = try string(message["name"], "\(param).name")
        } else {
            let id = try string(message["tool_call_id"], "\(param).tool_call_id")
            guard let found = callNames[id] else {
                throw .invalid(
                    "'\(param).tool_call_id' \(id) does not match a tool call of an earlier assistant message",
                    param: "\(param).tool_call_id")
            }
            name = found
        }
        let text: String
        if let s = message["content"]?.stringValue {
            text = s
        } else if let parts = message["content"]?.arrayValue {
            // Only text parts become the function's response: anything else (an image a tool
            // returned) is refused with its place, not dropped without a word.
            for (index, part) in parts.enumerated() where part["text"]?.stringValue == nil {
                throw .invalid(
                    "a tool result's content parts must be text; part \(index) is \(part["type"]?.stringValue ?? part.typeName)",
                    param: "\(param).content[\(index)]")
            }
            text = parts.compactMap { $0["text"]?.stringValue }.joined()
        } else {
            text = ""
        }
        let response: JSONValue
        if let parsed = try? JSONParser.parse(text), case .object = parsed {
            response = parsed
        } else {
            response = ["result": .string(text)]
        }
        return ["functionResponse": ["name": .string(name), "response": response]]
    }

    private static func string(_ value: JSONValue?, _ param: String) throws(FlashgateError) -> String {
        guard let s = value?.stringValue, !s.isEmpty else {
            throw .invalid("'\(param)' is required and must be a non-empty string", param: param)
        }
        return s
    }

    /// OpenAI sends arguments as a JSON string; Gemini wants the object.
    private static func arguments(_ value: JSONValue?, _ param: String) throws(FlashgateError) -> JSONValue {
        guard let value, !value.isNull else { return .object(JSONObject()) }
        if case .object = value { return value }
        guard let text = value.stringValue else {
            throw .invalid("'\(param)' must be a string of JSON", param: param)
        }
        if text.isEmpty { return .object(JSONObject()) }
        guard let parsed = try? JSONParser.parse(text), case .object = parsed else {
            throw .invalid("'\(param)' is not a JSON object: \(text.prefix(60))", param: param)
        }
        return parsed
    }
}
