import FlashgateCore

/// OpenAI `response_format` → Gemini structured output settings.
enum ResponseFormat {
    static func apply(_ format: JSONValue, to generation: inout JSONObject) throws(FlashgateError) {
        guard let type = format["type"]?.stringValue else {
            throw .invalid("'response_format.type' must be text, json_object or json_schema", param: "response_format.type")
        }
        switch type {
        case "text":
            return
        case "json_object":
            generation["responseMimeType"] = "application/json"
        case "json_schema":
            guard let schema = format["json_schema"]?["schema"], schema.objectValue != nil else {
                throw .invalid(
                    "'response_format.json_schema.schema' must be a JSON Schema object",
                    param: "response_format.json_schema.schema")
            }
            generation["responseMimeType"] = "application/json"
            generation["responseJsonSchema"] = schema
        default:
            throw .invalid("'response_format.type' must be text, json_object or json_schema", param: "response_format.type")
        }
    }
}
