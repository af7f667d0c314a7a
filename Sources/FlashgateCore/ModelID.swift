/// A model id that is safe to put into an upstream URL: every client-supplied model name is parsed
/// into one before it can reach a route, and upstream paths are built only from its parts.
///
/// The grammar is what Gemini and Vertex AI ids really look like, and nothing more:
///
/// - a base model: `[models/]name`, where `name` is 1–128 characters of lowercase letters, digits,
///   `-` and `.`, starting and ending with a letter or digit, with no two separators in a row
///   (`gemini-2.5-flash`, `gemini-3.1-pro-preview`, `gemini-2.5-flash-preview-09-2025`,
///   `text-embedding-004`, `gemini-embedding-001`); it may end in one Vertex version suffix
///   `@` + letters and digits (`textembedding-gecko@003`);
/// - a tuned model: `tunedModels/name`, where `name` is Google's tuned-model id: 1–40 lowercase
///   letters, digits and `-`, starting with a letter and not ending with `-`.
///
/// Invariant: `name` never holds `/`, `?`, `#`, `%`, `:`, whitespace, uppercase letters, a
/// dot-segment or anything outside ASCII, so no client string can change the path, query or
/// fragment of an upstream URL; `path(method:)` percent-encodes it all the same.
package struct ModelID: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: Sendable, Hashable {
        /// `models/{name}`: a Gemini or Vertex base model.
        case base
        /// `tunedModels/{name}`: an AI Studio tuned model.
        case tuned
    }

    package let kind: Kind
    /// The id without its collection: `gemini-2.5-flash`, or `my-model` of `tunedModels/my-model`.
    package let name: String

    package static let maxBaseLength = 128
    package static let maxTunedLength = 40

    /// Parses a model id as a client or the config names it.
    /// - Throws: a 400 (`param: "model"`) that says what is wrong with the id.
    package init(validating text: String) throws(FlashgateError) {
        if text.hasPrefix("tunedModels/") {
            let name = String(text.dropFirst("tunedModels/".count))
            if let problem = Self.tunedProblem(name) { throw Self.invalid(text, problem) }
            self.kind = .tuned
            self.name = name
            return
        }
        let name = Self.bare(text)
        if let problem = Self.baseProblem(name) { throw Self.invalid(text, problem) }
        self.kind = .base
        self.name = name
    }

    /// Whether `text` is a valid model id.
    package static func isValid(_ text: String) -> Bool { (try? ModelID(validating: text)) != nil }

    /// `models/gemini-2.5-flash` or `tunedModels/my-model`.
    package var resourceName: String { collection + "/" + name }

    /// The id as routing, prices and answers see it: the bare base name, or `tunedModels/{name}`.
    package var description: String { kind == .base ? name : resourceName }

    private var collection: String { kind == .base ? "models" : "tunedModels" }

    /// `models/gemini-2.5-flash:generateContent`: the model's resource path and a method, each part
    /// percent-encoded, to be appended to a base URL and an API version.
    package func path(method: String) -> String {
        collection + "/" + Self.percentEncoded(name) + ":" + Self.percentEncoded(method)
    }

    /// Percent-encodes one path segment: everything but RFC 3986 unreserved characters and `@`
    /// (a `pchar`) becomes `%XX`, so the result can never add a segment, a query or a fragment.
    package static func percentEncoded(_ segment: String) -> String {
        // The usual segment (a model name, a method, an API version) needs no escape at all.
        var segment = segment
        if segment.withUTF8({ $0.allSatisfy(isUnreserved) }) { return segment }
        var out: [UInt8] = []
        out.reserveCapacity(segment.utf8.count)
        for byte in segment.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// RFC 3986 unreserved characters, and `@`: the bytes `percentEncoded` keeps as they are.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "@"):
            true
        default: false
        }
    }

    // MARK: Grammar

    private static func isLower(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isAlnum(_ byte: UInt8) -> Bool { isLower(byte) || isDigit(byte) }

    /// Why `name` is not a base model name, or nil when it is one.
    private static func baseProblem(_ name: String) -> String? {
        isPlainBase(name) ? nil : fullBaseProblem(name)
    }

    /// `baseProblem` without the one-pass shortcut: every check, and what is wrong.
    package static func fullBaseProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return "it names no model" }
        guard bytes.count <= maxBaseLength else { return "it is longer than \(maxBaseLength) characters" }
        if let bad = firstForeign(
            bytes,
            allowed: { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "@") })
        {
            return bad
        }
        let at = bytes.firstIndex(of: UInt8(ascii: "@"))
        let stem = bytes[..<(at ?? bytes.endIndex)]
        if let at {
            let version = bytes[(at + 1)...]
            guard !version.isEmpty, version.allSatisfy(isAlnum) else {
                return "a version suffix is '@' and letters or digits only, once (textembedding-gecko@003)"
            }
        }
        guard let first = stem.first, let last = stem.last, isAlnum(first), isAlnum(last) else {
            return "it must start and end with a lowercase letter or digit"
        }
        var previousSeparator = false
        for byte in stem {
            let separator = !isAlnum(byte)
            if separator && previousSeparator { return "it has two separators in a row" }
            previousSeparator = separator
        }
        return nil
    }

    /// The usual valid base name, in one pass over its bytes with no copy: lowercase letters,
    /// digits, `-` and `.`, no version suffix, starting and ending with a letter or digit, no two
    /// separators in a row. False sends the name through `baseProblem`'s full checks, which also
    /// say what is wrong; true only where those would find nothing.
    package static func isPlainBase(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= maxBaseLength else { return false }
        var previousSeparator = true  // so the first byte must be a letter or digit
        for byte in utf8 {
            if isAlnum(byte) {
                previousSeparator = false
            } else if byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") {
                if previousSeparator { return false }
                previousSeparator = true
            } else {
                return false
            }
        }
        return !previousSeparator
    }

    /// Why `name` is not a tuned-model id, or nil when it is one.
    private static func tunedProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return "it names no tuned model" }
        guard bytes.count <= maxTunedLength else { return "a tuned model id is at most \(maxTunedLength) characters" }
        if let bad = firstForeign(bytes, allowed: { isAlnum($0) || $0 == UInt8(ascii: "-") }) { return bad }
        guard isLower(bytes[0]), bytes.last != UInt8(ascii: "-") else {
            return "a tuned model id starts with a letter and does not end with '-'"
        }
        return nil
    }

    /// A description of the first byte `allowed` refuses, or nil when it takes them all.
    private static func firstForeign(_ bytes: [UInt8], allowed: (UInt8) -> Bool) -> String? {
        guard let bad = bytes.first(where: { !allowed($0) }) else { return nil }
        if bad >= 0x21 && bad < 0x7F {
            let character = Character(Unicode.Scalar(bad))
            if character.isUppercase { return "model ids are lowercase" }
            return "it contains '\(character)', which no model id holds"
        }
        return bad < 0x80 ? "it contains a space or control character" : "it contains a non-ASCII character"
    }

    private static func invalid(_ text: String, _ problem: String) -> FlashgateError {
        let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return .invalid(
            "the model id '\(shown)' is not valid: \(problem); ids look like gemini-2.5-flash, "
                + "models/gemini-2.5-flash or tunedModels/my-model",
            param: "model")
    }
}
