import Crypto

/// A virtual key: the secret a client presents instead of an upstream credential. Only its
/// SHA-256 digest is ever configured or kept, so neither the config file nor a heap dump of the
/// identity table reveals a usable key.
package enum VirtualKey {
    package static let prefix = "fg-"
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// A new key: `fg-` and 32 base62 characters (about 190 bits), drawn without modulo bias.
    package static func generate<R: RandomNumberGenerator>(using rng: inout R) -> String {
        var text = prefix
        for _ in 0..<32 { text.append(alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))]) }
        return text
    }

    /// Lowercase hex SHA-256 of the key's UTF-8 text.
    package static func hashHex(_ key: String) -> String {
        SHA256.hash(data: Array(key.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The configured form, `sha256:<64 hex>`.
    package static func hashText(_ key: String) -> String { "sha256:" + hashHex(key) }

    /// The hex digest from `sha256:<64 hex>` (either case), or `nil` when malformed.
    package static func parseHash(_ text: String) -> String? {
        guard text.hasPrefix("sha256:") else { return nil }
        let hex = text.dropFirst(7).lowercased()
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        return hex
    }
}
