import Crypto
import Foundation

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

    /// Lowercase hex SHA-256 of the key's UTF-8 text (also the store key of thought signatures),
    /// written straight into one buffer: no string per byte.
    package static func hashHex(_ key: String) -> String {
        var text = key
        let digest = text.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return String(unsafeUninitializedCapacity: SHA256.byteCount * 2) { out in
            var index = 0
            for byte in digest {
                out[index] = hexDigits[Int(byte >> 4)]
                out[index + 1] = hexDigits[Int(byte & 0xF)]
                index += 2
            }
            return index
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

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
