import FlashgateCore

/// The request fields a Responses `response` object repeats back, with the API's defaults for
/// those the request left out, so a client reads the same shape whatever it sent.
enum ResponsesEcho {
    static func make(_ object: JSONObject) throws(FlashgateError) -> JSONObject {
        func value(_ key: String, _ fallback: JSONValue) -> JSONValue {
            guard let value = object[key], !value.isNull else { return fallback }
            return value
        }
        if let metadata = object["metadata"], !metadata.isNull, metadata.objectValue == nil {
            throw .invalid("'metadata' must be an object of strings", param: "metadata")
        }
        var reasoning: JSONObject = ["effort": .null, "summary": .null]
        if let asked = object["reasoning"]?.objectValue {
            reasoning["effort"] = asked["effort"] ?? .null
            reasoning["summary"] = asked["summary"] ?? asked["generate_summary"] ?? .null
        }
        return [
            "instructions": value("instructions", .null), "max_output_tokens": value("max_output_tokens", .null),
            "metadata": value("metadata", .object(JSONObject())),
            "parallel_tool_calls": value("parallel_tool_calls", true),
            "previous_response_id": value("previous_response_id", .null), "reasoning": .object(reasoning),
            "store": value("store", true), "temperature": value("temperature", .null),
            "text": value("text", ["format": ["type": "text"]]), "tool_choice": value("tool_choice", "auto"),
            "tools": value("tools", []), "top_p": value("top_p", .null), "truncation": value("truncation", "disabled"),
            "user": value("user", .null),
        ]
    }
}
