/// Makes any string safe to put in one log line: control characters (C0, DEL, C1, and the Unicode
/// line, paragraph and bidirectional-override marks) are written as visible escapes (`\r`, `\n`,
/// `\t`, `\x1b`, `\u{85}`), a backslash as `\\` so an escape is never ambiguous, and the result is
/// capped at a byte length with a note of how much was cut.
///
/// Why: strings a client wrote (a model id, a method, a path) end up in log lines; raw, a CR or
/// ESC forges or repaints lines in a terminal, a NUL cuts them for C tools, and a 100 KB value
/// makes a 100 KB line. Invariant: the result never holds a control character and is at most
/// `limit` UTF-8 bytes plus a short `…(+N bytes)` suffix; a plain printable ASCII string within
/// the limit and without a backslash comes back unchanged (the fast path the access log takes on
/// every request).
package enum LogText {
    /// The cap for a request-derived field of the access log (a model id, a method).
    package static let fieldLimit = 256
    /// The cap for any one value or message of any log line, whatever its origin.
    package static let valueLimit = 2048

    package static func safe(_ value: String, limit: Int = valueLimit) -> String {
        let bytes = value.utf8
        if bytes.count <= limit, isPlain(bytes) { return value }
        var out = ""
        out.reserveCapacity(min(bytes.count, limit) + 16)
        var written = 0
        var consumed = 0
        for scalar in value.unicodeScalars {
            let piece = escape(scalar) ?? String(scalar)
            let size = piece.utf8.count
            if written + size > limit { break }
            out += piece
            written += size
            consumed += scalar.utf8.count
        }
        if consumed < bytes.count { out += "…(+\(bytes.count - consumed) bytes)" }
        return out
    }

    /// True when every byte is printable ASCII other than a backslash: nothing to escape. Scans
    /// the string's own storage (native strings are contiguous) rather than through its UTF-8
    /// view's iterator, about five times fewer instructions for the short values of a log line.
    @inline(__always)
    static func isPlain(_ bytes: String.UTF8View) -> Bool {
        if let plain = bytes.withContiguousStorageIfAvailable({ buffer -> Bool in
            for byte in buffer where byte < 0x20 || byte >= 0x7F || byte == 0x5C { return false }
            return true
        }) {
            return plain
        }
        return !bytes.contains(where: { $0 < 0x20 || $0 >= 0x7F || $0 == 0x5C })
    }

    /// `value` cut to at most `limit` UTF-8 bytes (on a scalar boundary) with a note of how much
    /// was cut, not escaped: for a field that the log handler escapes when it writes the line.
    package static func capped(_ value: String, limit: Int = fieldLimit) -> String {
        let bytes = value.utf8
        guard bytes.count > limit else { return value }
        var kept = 0
        var end = value.unicodeScalars.startIndex
        for index in value.unicodeScalars.indices {
            let size = value.unicodeScalars[index].utf8.count
            if kept + size > limit { break }
            kept += size
            end = value.unicodeScalars.index(after: index)
        }
        return String(value.unicodeScalars[..<end]) + "…(+\(bytes.count - kept) bytes)"
    }

    /// The visible form of a control scalar; nil for everything else.
    private static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x5C: return "\\\\"
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x00..<0x20, 0x7F:
            let hex = String(scalar.value, radix: 16)
            return "\\x" + (hex.count < 2 ? "0" : "") + hex
        case 0x80..<0xA0, 0x2028, 0x2029, 0x202A..<0x202F, 0x2066..<0x206A:
            return "\\u{" + String(scalar.value, radix: 16) + "}"
        default:
            return nil
        }
    }
}
