/// The canonical form of a Gemini request body: the bytes the cache key hashes. Two bodies that
/// Gemini reads as the same request get the same canonical bytes; any difference Gemini could
/// answer differently gets different bytes.
///
/// Invariant: the transformation only ever merges spellings the Gemini API itself treats as equal
/// (proto3 JSON). When in doubt a spelling is kept, so the worst a doubt costs is a cache miss,
/// never a wrong hit.
///
/// | rule | where | why |
/// |---|---|---|
/// | object keys sorted by UTF-8 bytes | everywhere, user data included | Gemini decodes objects into proto messages and `Struct` maps; member order carries no meaning |
/// | `snake_case` key → `lowerCamelCase` | Gemini fields only | proto3 JSON accepts both spellings of a field name (the SDK sends `thinking_level`) |
/// | keys verbatim | inside `args`, `response`, `parameters`, `parametersJsonSchema`, `responseSchema`, `responseJsonSchema`, `labels`, `partMetadata` | those keys are the user's own names (argument names, schema properties) |
/// | numbers → one spelling | everywhere | `1`, `1.0`, `1e0`, `10E-1` are one value; exact decimal arithmetic, so integers beyond 2^53 stay exact; `-0` → `0` |
/// | `null` member dropped | Gemini fields only | proto3 JSON reads `null` as "not set"; in user data `null` is a value and stays |
/// | `generationConfig.candidateCount: 1` dropped | generate | documented default |
/// | `generationConfig.stopSequences: []` dropped | generate | an empty repeated field is the unset field |
/// | `generationConfig.thinkingConfig.includeThoughts: false` dropped | generate | documented default |
/// | `toolConfig.functionCallingConfig.mode: "AUTO"` dropped | generate | documented default |
/// | empty `generationConfig`, `thinkingConfig`, `toolConfig`, `functionCallingConfig` objects dropped | generate | an empty config message sets nothing |
/// | `tools: []`, `safetySettings: []` dropped | generate | an empty repeated field is the unset field |
/// | `systemInstruction.role` dropped | generate | Gemini ignores the role of the system instruction |
/// | `contents[].role` missing is **kept** distinct from `"user"` | generate | the default is only documented for single-turn requests; not certain, so no merge |
/// | empty tool objects (`googleSearch: {}`) **kept** | generate | their presence is the setting |
/// | `labels` excluded | top level | see `CacheKey.excludedFields` |
///
/// Known merges and misses, accepted: a `responseJsonSchema` whose properties differ only in
/// order shares an entry (the answer is the same JSON object, its members possibly in the other
/// order); enum values are not case-folded (`"low"` vs `"LOW"`) and strings are not Unicode-
/// normalised, so those spellings only cost a miss.
///
/// `countTokens` bodies apply the generate rules inside `generateContentRequest`; `embed` bodies
/// get only the general rules (sorting, spelling, numbers, nulls).
package enum CanonicalJSON {
    /// Member names whose value is free-form user data: keys verbatim, nulls kept.
    package static let userDataFields: Set<String> = [
        "args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema", "labels",
        "partMetadata",
    ]

    /// The canonical value of a request body for `endpoint`, with `excluded` top-level members removed.
    package static func canonical(_ body: JSONValue, endpoint: CacheEndpoint, excluded: Set<String> = []) -> JSONValue {
        var root = canonical(body, userData: false, place: endpoint == .generate ? .root : .untracked)
        if case .object(var object) = root {
            for key in excluded { object[key] = nil }
            if endpoint == .countTokens, let inner = object["generateContentRequest"] {
                object["generateContentRequest"] = canonical(inner, userData: false, place: .root)
            }
            root = .object(object)
        }
        return root
    }

    /// Canonical bytes: the canonical value written compactly.
    package static func bytes(_ body: JSONValue, endpoint: CacheEndpoint, excluded: Set<String> = []) -> [UInt8] {
        JSONWriter.encode(canonical(body, endpoint: endpoint, excluded: excluded))
    }

    /// Where a value sits relative to a generate request's root, as far as the elided defaults of
    /// the table above care (array positions do not count): the request root, one of the config
    /// messages that hold a default, anywhere else (`other`), or outside any generate request
    /// (`untracked`: the defaults do not apply).
    enum Place {
        case untracked, other, root, generationConfig, thinkingConfig, toolConfig, functionCallingConfig
        case systemInstruction

        /// The place of member `key` of an object at this place.
        func member(_ key: String) -> Place {
            switch (self, key) {
            case (.untracked, _): return .untracked
            case (.root, "generationConfig"): return .generationConfig
            case (.root, "toolConfig"): return .toolConfig
            case (.root, "systemInstruction"): return .systemInstruction
            case (.generationConfig, "thinkingConfig"): return .thinkingConfig
            case (.toolConfig, "functionCallingConfig"): return .functionCallingConfig
            default: return .other
            }
        }

        /// Whether member `key` of an object at this place, with canonical value `value`, is a
        /// documented default that sets nothing (the table above).
        func elides(_ key: String, _ value: JSONValue) -> Bool {
            switch (self, key) {
            case (.generationConfig, "candidateCount"): return value.intValue == 1
            case (.generationConfig, "stopSequences"), (.root, "tools"), (.root, "safetySettings"):
                return value.arrayValue?.isEmpty == true
            case (.thinkingConfig, "includeThoughts"): return value.boolValue == false
            case (.functionCallingConfig, "mode"): return value.stringValue == "AUTO"
            case (.root, "generationConfig"), (.generationConfig, "thinkingConfig"), (.root, "toolConfig"),
                (.toolConfig, "functionCallingConfig"):
                return value.objectValue?.isEmpty == true
            case (.systemInstruction, "role"): return true
            default: return false
            }
        }
    }

    private static func canonical(_ value: JSONValue, userData: Bool, place: Place) -> JSONValue {
        switch value {
        case .null, .bool, .string: return value
        case .number(let text): return .number(CanonicalNumber.spelling(text))
        case .array(let items):
            return .array(items.map { canonical($0, userData: userData, place: place) })
        case .object(let object):
            var fields: [JSONField] = []
            fields.reserveCapacity(object.fields.count)
            for field in object.fields {
                let key = userData ? field.key : lowerCamelCase(field.key)
                if !userData && field.value.isNull { continue }
                let inner = userData || userDataFields.contains(key)
                let child = canonical(field.value, userData: inner, place: userData ? place : place.member(key))
                if !userData && place.elides(key, child) { continue }
                if let existing = fields.firstIndex(where: { $0.key == key }) {
                    fields[existing].value = child
                } else {
                    fields.append(JSONField(key, child))
                }
            }
            fields.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            return .object(JSONObject(fields))
        }
    }

    /// `thinking_level` → `thinkingLevel`, as proto3 JSON names are derived; camelCase is unchanged.
    package static func lowerCamelCase(_ key: String) -> String {
        guard key.utf8.contains(UInt8(ascii: "_")) else { return key }
        var result = ""
        var upperNext = false
        for ch in key {
            if ch == "_" {
                upperNext = true
            } else if upperNext {
                result += ch.uppercased()
                upperNext = false
            } else {
                result.append(ch)
            }
        }
        if upperNext { result.append("_") }
        return result
    }
}
