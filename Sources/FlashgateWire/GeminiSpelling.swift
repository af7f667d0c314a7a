import FlashgateCore

/// Gemini's REST API reads a request field in its JSON name or its proto name
/// (`systemInstruction` or `system_instruction`), so whatever Flashgate reads from a native body
/// for money or ownership reads both.
package enum GeminiSpelling {
    /// The proto (snake case) name of a JSON (camel case) field name: `cachedContent` →
    /// `cached_content`.
    package static func snake(_ camel: String) -> String {
        var out = ""
        out.reserveCapacity(camel.utf8.count + 4)
        for character in camel {
            if character.isUppercase {
                out.append("_")
                out.append(contentsOf: character.lowercased())
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// The values `object` holds for the field `camel` under either name, camel case first.
    package static func values(_ object: JSONValue?, _ camel: String) -> [JSONValue] {
        guard let object else { return [] }
        let snake = snake(camel)
        return [object[camel], snake == camel ? nil : object[snake]].compactMap { value in
            guard let value, !value.isNull else { return nil }
            return value
        }
    }
}
