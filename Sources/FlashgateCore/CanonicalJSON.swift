/// The canonical form of a Gemini request body, from which cache keys are hashed. Two bodies
/// that mean the same upstream call have the same canonical bytes:
///
/// | difference | rule |
/// |---|---|
/// | object key order | keys sorted by their UTF-8 bytes, at every level |
/// | `snake_case` vs `lowerCamelCase` field names (the API takes both) | converted to lowerCamelCase — except inside user data (below) |
/// | number spelling (`1`, `1.0`, `1e0`, `-0`) | one spelling: integers exactly, others as the shortest round-tripping double |
/// | defaults Gemini applies anyway | elided: `generationConfig.candidateCount: 1`, empty objects and arrays, `null` members |
/// | a content's missing `role` | the API treats it as `user`: written as `user` |
///
/// User data is kept verbatim (keys not converted, nothing elided): function call `args`,
/// function `response`, JSON schemas (`parameters`, `parametersJsonSchema`, `response`,
/// `responseSchema`, `responseJsonSchema`) and `labels`.
package enum CanonicalJSON {
    /// Fields whose contents are user data.
    static let opaqueFields: Set<String> = [
        "args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema", "labels",
        "responseJsonSchema", "structValue",
    ]

    package static func encode(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 512)
        write(normalise(value, path: []), into: &writer)
        return writer.bytes
    }

    /// Converts keys, normalises numbers and elides defaults; keeps user data verbatim.
    static func normalise(_ value: JSONValue, path: [String]) -> JSONValue {
        switch value {
        case .number(let text):
            return .number(number(text))
        case .array(let items):
            return .array(items.map { normalise($0, path: path) })
        case .object(let object):
            var result = JSONObject()
            for field in object.fields {
                let key = camel(field.key)
                if opaqueFields.contains(key) {
                    result[key] = verbatim(field.value)
                    continue
                }
                let child = normalise(field.value, path: path + [key])
                if isDefault(child, key: key, path: path) { continue }
                result[key] = child
            }
            if path.last == "contents" || path.last == "systemInstruction" {
                // A Content without a role is a user turn.
                if path.last == "contents" && result["role"] == nil { result["role"] = "user" }
            }
            return .object(result)
        default:
            return value
        }
    }

    /// User data: only number spelling is normalised.
    static func verbatim(_ value: JSONValue) -> JSONValue {
        switch value {
        case .number(let text): .number(number(text))
        case .array(let items): .array(items.map(verbatim))
        case .object(let object): .object(JSONObject(object.fields.map { JSONField($0.key, verbatim($0.value)) }))
        default: value
        }
    }

    static func isDefault(_ value: JSONValue, key: String, path: [String]) -> Bool {
        switch value {
        case .null: return true
        case .object(let o) where o.isEmpty: return true
        case .array(let a) where a.isEmpty: return true
        default: break
        }
        if key == "candidateCount", path.last == "generationConfig", value.intValue == 1 { return true }
        return false
    }

    static func camel(_ key: String) -> String {
        guard key.contains("_") else { return key }
        var out = ""
        var upper = false
        for ch in key {
            if ch == "_" {
                upper = !out.isEmpty
                if out.isEmpty { out.append(ch) }
            } else if upper {
                out += ch.uppercased()
                upper = false
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// One spelling per numeric value: integral values as integers (exact, however long), the
    /// rest as the shortest double that round-trips.
    static func number(_ text: String) -> String {
        if let int = Int(text) { return String(int) }
        if text.allSatisfy({ $0.isNumber || $0 == "-" }) {
            // An integer too long for Int: keep its digits, without a leading plus or zeros.
            let negative = text.hasPrefix("-")
            let digits = text.drop { $0 == "-" }.drop { $0 == "0" }
            return digits.isEmpty ? "0" : (negative ? "-" : "") + digits
        }
        guard let double = Double(text) else { return text }
        if double == 0 { return "0" }
        if double.rounded() == double, abs(double) < 9.007_199_254_740_992e15 { return String(Int64(double)) }
        return "\(double)"
    }

    static func write(_ value: JSONValue, into writer: inout JSONWriter) {
        switch value {
        case .object(let object):
            writer.append("{")
            let fields = object.fields.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            for (i, field) in fields.enumerated() {
                if i > 0 { writer.append(",") }
                writer.writeString(field.key)
                writer.append(":")
                write(field.value, into: &writer)
            }
            writer.append("}")
        case .array(let items):
            writer.append("[")
            for (i, item) in items.enumerated() {
                if i > 0 { writer.append(",") }
                write(item, into: &writer)
            }
            writer.append("]")
        default:
            writer.write(value)
        }
    }
}
