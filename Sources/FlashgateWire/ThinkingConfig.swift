import FlashgateCore

/// OpenAI `reasoning_effort` → Gemini thinking settings, aware of the model family: Gemini 3
/// and later take `thinkingLevel` (Pro models only low/high), Gemini 2.5 takes
/// `thinkingBudget` (2.5 Pro cannot switch thinking off). Thought summaries are asked for, so
/// they can come back as `reasoning_content`.
package enum ThinkingConfig {
    package static let efforts: Set<String> = ["none", "minimal", "low", "medium", "high", "xhigh"]

    enum Family {
        case levels(pro: Bool)
        case budget(pro: Bool, lite: Bool)
        case none
    }

    static func family(_ model: String) -> Family {
        let id = model.lowercased()
        let pro = id.contains("pro")
        if id.contains("gemini-2.5") { return .budget(pro: pro, lite: id.contains("lite")) }
        if let range = id.range(of: "gemini-"), let major = Int(id[range.upperBound...].prefix { $0.isNumber }), major >= 3 {
            return .levels(pro: pro)
        }
        return .none
    }

    /// The `thinkingConfig` for an effort on the upstream model, or nil where the model has no
    /// thinking controls.
    package static func config(effort: String, upstreamModel: String) -> JSONValue? {
        switch family(upstreamModel) {
        case .levels(let pro):
            let level: String
            switch effort {
            case "none", "minimal": level = pro ? "low" : "minimal"
            case "low": level = "low"
            case "medium": level = pro ? "high" : "medium"
            default: level = "high"
            }
            return ["thinkingLevel": .string(level), "includeThoughts": .bool(effort != "none")]
        case .budget(let pro, let lite):
            let budget: Int
            switch effort {
            case "none": budget = pro ? 128 : 0
            case "minimal": budget = lite ? 512 : 128
            case "low": budget = 1024
            case "medium": budget = 8192
            default: budget = 24576
            }
            return ["thinkingBudget": JSONValue(budget), "includeThoughts": .bool(effort != "none")]
        case .none:
            return nil
        }
    }

    /// Google's `thinking_config` (snake_case, as its OpenAI endpoint takes it) → camelCase.
    static func fromGoogle(_ value: JSONValue, param: String) throws(FlashgateError) -> JSONValue {
        guard let object = value.objectValue else { throw .invalid("'\(param)' must be an object", param: param) }
        var result = JSONObject()
        for field in object.fields {
            result[CaseConversion.camel(field.key)] = field.value
        }
        return .object(result)
    }
}

/// snake_case ⇄ lowerCamelCase for Google field names.
enum CaseConversion {
    static func camel(_ key: String) -> String {
        guard key.contains("_") else { return key }
        var out = ""
        var upper = false
        for ch in key {
            if ch == "_" {
                upper = true
            } else if upper {
                out += ch.uppercased()
                upper = false
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// Converts every object key in a value, recursively.
    static func camelKeys(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(JSONObject(object.fields.map { JSONField(camel($0.key), camelKeys($0.value)) }))
        case .array(let items):
            return .array(items.map(camelKeys))
        default:
            return value
        }
    }
}
