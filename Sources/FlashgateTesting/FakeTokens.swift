import FlashgateCore

/// FakeGemini's deterministic token counter: a token per four UTF-8 bytes (rounded up) of every
/// text part, and of the compact JSON of tools and tool config. Not Gemini's tokenizer — only
/// stable, so a test can compute what a prompt "costs" and what a cache holds.
package enum FakeTokens {
    /// Tokens of a request's (or a cache's) prompt parts: system instruction, contents, tools.
    package static func count(_ body: JSONValue) -> Int {
        var bytes = 0
        if let system = body["systemInstruction"] { bytes += textBytes(system) }
        for content in body["contents"]?.arrayValue ?? [] { bytes += textBytes(content) }
        if let tools = body["tools"] { bytes += JSONWriter.encode(tools).count }
        if let toolConfig = body["toolConfig"] { bytes += JSONWriter.encode(toolConfig).count }
        return (bytes + 3) / 4
    }

    /// Tokens of one plain text, as `count` reckons a text part.
    package static func count(text: String) -> Int { (text.utf8.count + 3) / 4 }

    private static func textBytes(_ value: JSONValue) -> Int {
        switch value {
        case .object(let object):
            var total = 0
            for field in object.fields {
                if field.key == "text", case .string(let text) = field.value {
                    total += text.utf8.count
                } else {
                    total += textBytes(field.value)
                }
            }
            return total
        case .array(let items): return items.reduce(0) { $0 + textBytes($1) }
        default: return 0
        }
    }
}
