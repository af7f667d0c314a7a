/// Bytes matched against a lowercase ASCII literal in any ASCII case (header names, URL schemes,
/// `Cache-Control` directives): byte by byte over the string's own storage, with no lowercased
/// copy. One overload per view rather than a generic, which a caller in another module would run
/// unspecialised.
package enum ASCIICase {
    /// Whether `text` is `lowercase`, in any ASCII case.
    package static func equals(_ text: String.UTF8View, _ lowercase: StaticString) -> Bool {
        text.count == lowercase.utf8CodeUnitCount && hasPrefix(text, lowercase)
    }

    /// Whether `text` is `lowercase`, in any ASCII case.
    package static func equals(_ text: Substring.UTF8View, _ lowercase: StaticString) -> Bool {
        text.count == lowercase.utf8CodeUnitCount
            && (text.withContiguousStorageIfAvailable { starts($0, with: lowercase) }
                ?? starts(Array(text), with: lowercase))
    }

    /// Whether `text` starts with `lowercase`, in any ASCII case.
    package static func hasPrefix(_ text: String.UTF8View, _ lowercase: StaticString) -> Bool {
        text.withContiguousStorageIfAvailable { starts($0, with: lowercase) } ?? starts(Array(text), with: lowercase)
    }

    private static func starts(_ bytes: [UInt8], with lowercase: StaticString) -> Bool {
        bytes.withUnsafeBufferPointer { starts($0, with: lowercase) }
    }

    private static func starts(_ bytes: UnsafeBufferPointer<UInt8>, with lowercase: StaticString) -> Bool {
        lowercase.withUTF8Buffer { wanted in
            guard bytes.count >= wanted.count else { return false }
            for i in 0..<wanted.count where folded(bytes[i]) != wanted[i] { return false }
            return true
        }
    }

    /// `byte` with A–Z lowered; every other byte as it is.
    package static func folded(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
