import FlashgateCore

/// OpenAI `tools` / `tool_choice` (and the legacy `functions` / `function_call`) → Gemini
/// `functionDeclarations` and `functionCallingConfig`. Parameter schemas are kept whole through
/// `parametersJsonSchema`, so `$ref`, `additionalProperties` and friends survive.
enum ToolDeclarations {
    static func declarations(_ value: JSONValue, param: String) throws(FlashgateError) -> [JSONValue] {
        guard let items = value.arrayValue else { throw .invalid("'\(param)' must be an array", param: param) }
        var result: [JSONValue] = []
        for (i, item) in items.enumerated() {
            let p = "\(param)[\(i)]"
            let function: JSONValue?
            if param == "functions" {
                function = item
            } else {
                guard let type = item["type"]?.stringValue, type == "function" else {
                    throw .invalid("'\(p).type' must be 'function'", param: "\(p).type")
                }
                function = item["function"]
            }
            guard let function, function.objectValue != nil else {
                throw .invalid("'\(p).function' must be an object", param: "\(p).function")
            }
            guard let name = function["name"]?.stringValue, !name.isEmpty else {
                throw .invalid("'\(p).function.name' is required", param: "\(p).function.name")
            }
            var declaration: JSONObject = ["name": .string(name)]
            if let description = function["description"]?.stringValue { declaration["description"] = .string(description) }
            if let parameters = function["parameters"], !parameters.isNull {
                guard parameters.objectValue != nil else {
                    throw .invalid("'\(p).function.parameters' must be a JSON Schema object", param: "\(p).function.parameters")
                }
                declaration["parametersJsonSchema"] = parameters
            }
            result.append(.object(declaration))
        }
        return result
    }

    static func callingConfig(_ value: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
        if let mode = value.stringValue {
            switch mode {
            case "none": return ["mode": "NONE"]
            case "auto": return ["mode": "AUTO"]
            case "required", "any": return ["mode": "ANY"]
            default: throw .invalid("'\(param)' must be none, auto, required or a named function", param: param)
            }
        }
        let name = value["function"]?["name"]?.stringValue ?? value["name"]?.stringValue
        guard let name, !name.isEmpty else {
            throw .invalid("'\(param)' must be none, auto, required or a named function", param: param)
        }
        return ["mode": "ANY", "allowedFunctionNames": [.string(name)]]
    }
}
