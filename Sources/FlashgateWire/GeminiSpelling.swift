import FlashgateCore

/// Gemini's REST API reads a request field in its JSON name or its proto name
/// (`systemInstruction` or `system_instruction`), so whatever Flashgate reads from a native body
/// for money or ownership reads both. Callers on the request path name both spellings as
/// constants; `snake` is for the rare field looked up by one name.
package enum GeminiSpelling {
    /// The proto (snake case) name of an ASCII JSON (camel case) field name: `cachedContent` →
    /// `cached_content`.
    package static func snake(_ camel: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(camel.utf8.count + 4)
        for byte in camel.utf8 {
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
                bytes.append(UInt8(ascii: "_"))
                bytes.append(byte + 32)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Calls `body` with each non-null value `object` holds under `camel` or `snake`, in that order.
    @inline(__always)
    package static func each(_ object: JSONValue?, _ camel: String, _ snake: String, _ body: (JSONValue) -> Void) {
        guard let object else { return }
        if let value = object[camel], !value.isNull { body(value) }
        if let value = object[snake], !value.isNull { body(value) }
    }

    /// Whether `object` holds a non-null value under `camel` or `snake`.
    package static func has(_ object: JSONValue?, _ camel: String, _ snake: String) -> Bool {
        var found = false
        each(object, camel, snake) { _ in found = true }
        return found
    }
}
