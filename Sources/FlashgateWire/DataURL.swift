import FlashgateCore

/// `data:<mime>[;param…];base64,<data>` as OpenAI clients send media inline. Only the base64
/// form is accepted (Gemini's inlineData is base64), and the MIME type must be present, so a
/// malformed URL is a 400 here instead of an opaque upstream error.
enum DataURL {
    static func parse(_ url: String, param: String) throws(FlashgateError) -> (mimeType: String, data: String) {
        guard url.prefix(5).lowercased() == "data:", let comma = url.firstIndex(of: ",") else {
            throw .invalid("'\(param)' is not a data URL of the form data:<mime>;base64,<data>", param: param)
        }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].split(separator: ";", omittingEmptySubsequences: false)
        let mimeType = String(header.first ?? "").lowercased()
        let slash = mimeType.firstIndex(of: "/")
        guard let slash, slash != mimeType.startIndex, mimeType.index(after: slash) != mimeType.endIndex,
            !mimeType.contains(where: { $0 == " " || $0 == "," })
        else {
            throw .invalid("'\(param)' is a data URL without a MIME type; expected data:<mime>;base64,<data>", param: param)
        }
        guard header.count > 1, header.last?.lowercased() == "base64" else {
            throw .invalid("'\(param)' must be a base64 data URL (data:\(mimeType);base64,…)", param: param)
        }
        let data = String(url[url.index(after: comma)...])
        guard Base64.isValid(data) else { throw .invalid("'\(param)' does not hold valid base64 data", param: param) }
        return (mimeType, data)
    }
}

/// A strict check of standard base64 (RFC 4648 §4) without decoding: the alphabet, `=` only as
/// final padding, and a length that can be whole bytes. Empty data is refused.
enum Base64 {
    static func isValid(_ text: String) -> Bool {
        var length = 0
        var padding = 0
        for byte in text.utf8 {
            length += 1
            if byte == UInt8(ascii: "=") {
                padding += 1
                if padding > 2 { return false }
                continue
            }
            if padding > 0 { return false }
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                continue
            default: return false
            }
        }
        guard length > padding else { return false }
        if padding > 0 { return length % 4 == 0 }
        return length % 4 != 1
    }
}
