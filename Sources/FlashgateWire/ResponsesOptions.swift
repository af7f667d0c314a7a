import FlashgateCore

/// The Responses request's options → the chat fields that mean the same on Gemini: flat function
/// tools → `tools`, `web_search` → `web_search_options` (Google Search grounding), `text.format`
/// → `response_format`, `reasoning.effort` → `reasoning_effort` (summaries: Gemini's thoughts),
/// `max_output_tokens` → `max_completion_tokens`; `temperature`, `top_p` and `service_tier` as
/// they are. Built-in tools Gemini has no counterpart for are a 400 naming the tool.
enum ResponsesOptions {
    static let webSearchTools: Set<String> = [
        "web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11",
    ]

    static func apply(_ object: JSONObject, to chat: inout JSONObject) throws(FlashgateError) {
        if let tools = object["tools"], !tools.isNull { try applyTools(tools, to: &chat) }
        if let choice = object["tool_choice"], !choice.isNull, let mapped = try toolChoice(choice) {
            chat["tool_choice"] = mapped
        }
        if let text = object["text"], !text.isNull { try applyText(text, to: &chat) }
        if let reasoning = object["reasoning"], !reasoning.isNull { try applyReasoning(reasoning, to: &chat) }
        for (from, to) in [
            ("max_output_tokens", "max_completion_tokens"), ("temperature", "temperature"), ("top_p", "top_p"),
            ("service_tier", "service_tier"),
        ] {
            if let value = object[from], !value.isNull { chat[to] = value }
        }
        if let top = object["top_logprobs"], !top.isNull {
            chat["logprobs"] = true
            chat["top_logprobs"] = top
        }
    }

    private static func applyTools(_ value: JSONValue, to chat: inout JSONObject) throws(FlashgateError) {
        guard let items = value.arrayValue else { throw .invalid("'tools' must be an array", param: "tools") }
        var functions: [JSONValue] = []
        for (i, tool) in items.enumerated() {
            let p = "tools[\(i)]"
            guard let type = tool["type"]?.stringValue else {
                throw .invalid("'\(p).type' is required", param: "\(p).type")
            }
            if webSearchTools.contains(type) {
                chat["web_search_options"] = .object(JSONObject())
                continue
            }
            guard type == "function" else {
                throw .invalid("tool type '\(type)' is not supported by Flashgate on Gemini", param: "\(p).type")
            }
            guard let name = tool["name"]?.stringValue, !name.isEmpty else {
                throw .invalid("'\(p).name' is required", param: "\(p).name")
            }
            var function: JSONObject = ["name": .string(name)]
            if let description = tool["description"], !description.isNull { function["description"] = description }
            if let parameters = tool["parameters"], !parameters.isNull {
                guard parameters.objectValue != nil else {
                    throw .invalid("'\(p).parameters' must be a JSON Schema object", param: "\(p).parameters")
                }
                function["parameters"] = parameters
            }
            functions.append(["type": "function", "function": .object(function)])
        }
        if !functions.isEmpty { chat["tools"] = .array(functions) }
    }

    /// The chat `tool_choice`, or nil for `allowed_tools` (set on the Gemini body by `allowedTools`).
    private static func toolChoice(_ value: JSONValue) throws(FlashgateError) -> JSONValue? {
        if let mode = value.stringValue {
            guard ["none", "auto", "required"].contains(mode) else {
                throw .invalid("'tool_choice' must be none, auto, required or a function", param: "tool_choice")
            }
            return value
        }
        switch value["type"]?.stringValue {
        case "function":
            guard let name = value["name"]?.stringValue, !name.isEmpty else {
                throw .invalid("'tool_choice.name' is required", param: "tool_choice.name")
            }
            return ["type": "function", "function": ["name": .string(name)]]
        case "allowed_tools":
            return nil
        default:
            throw .invalid(
                "'tool_choice' must be none, auto, required, a function or allowed_tools; Gemini cannot force a built-in tool",
                param: "tool_choice")
        }
    }

    /// `tool_choice: {type: allowed_tools, mode, tools}` → Gemini's calling mode with allowed names.
    static func allowedTools(_ value: JSONValue?) throws(FlashgateError) -> JSONValue? {
        guard let value, value["type"]?.stringValue == "allowed_tools" else { return nil }
        let mode = value["mode"]?.stringValue ?? "auto"
        guard mode == "auto" || mode == "required" else {
            throw .invalid("'tool_choice.mode' must be auto or required", param: "tool_choice.mode")
        }
        let names = (value["tools"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        guard !names.isEmpty else {
            throw .invalid("'tool_choice.tools' must name at least one function", param: "tool_choice.tools")
        }
        return [
            "mode": .string(mode == "auto" ? "AUTO" : "ANY"), "allowedFunctionNames": .array(names.map { .string($0) }),
        ]
    }

    private static func applyText(_ value: JSONValue, to chat: inout JSONObject) throws(FlashgateError) {
        guard value.objectValue != nil else { throw .invalid("'text' must be an object", param: "text") }
        if let verbosity = value["verbosity"], !verbosity.isNull,
            !["low", "medium", "high"].contains(verbosity.stringValue ?? "")
        {
            throw .invalid("'text.verbosity' must be low, medium or high", param: "text.verbosity")
        }
        guard let format = value["format"], !format.isNull else { return }
        switch format["type"]?.stringValue {
        case "text": return
        case "json_object": chat["response_format"] = ["type": "json_object"]
        case "json_schema":
            guard let schema = format["schema"], schema.objectValue != nil else {
                throw .invalid("'text.format.schema' must be a JSON Schema object", param: "text.format.schema")
            }
            chat["response_format"] = [
                "type": "json_schema", "json_schema": ["name": format["name"] ?? "response", "schema": schema],
            ]
        default:
            throw .invalid("'text.format.type' must be text, json_object or json_schema", param: "text.format.type")
        }
    }

    static let efforts: Set<String> = ["none", "minimal", "low", "medium", "high", "xhigh", "max"]

    private static func applyReasoning(_ value: JSONValue, to chat: inout JSONObject) throws(FlashgateError) {
        guard value.objectValue != nil else { throw .invalid("'reasoning' must be an object", param: "reasoning") }
        var summary = false
        for key in ["summary", "generate_summary"] {
            guard let asked = value[key], !asked.isNull else { continue }
            guard ["auto", "concise", "detailed"].contains(asked.stringValue ?? "") else {
                throw .invalid("'reasoning.\(key)' must be auto, concise or detailed", param: "reasoning.\(key)")
            }
            summary = true
        }
        if let effort = value["effort"], !effort.isNull {
            guard let level = effort.stringValue, efforts.contains(level) else {
                throw .invalid(
                    "'reasoning.effort' must be one of none, minimal, low, medium, high, xhigh or max",
                    param: "reasoning.effort")
            }
            chat["reasoning_effort"] = .string(level == "max" ? "xhigh" : level)
        } else if summary {
            // Summaries without an effort: the model's own thinking level, with its thoughts shown.
            chat["google"] = ["thinking_config": ["include_thoughts": true]]
        }
    }
}
