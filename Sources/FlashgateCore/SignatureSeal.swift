import Crypto
import Foundation

/// Seals a Gemini thought signature, and the route that issued it, into the opaque
/// `encrypted_content` of a Responses reasoning item, so a client that keeps no server state
/// (`store: false`) can hand it back on the next turn.
///
/// Invariant: only this install opens what it sealed, and only for the team it was sealed for:
/// AES-GCM with a per-install secret, the team as authenticated data. A client cannot forge a
/// signature, read which route issued it, or replay another team's.
package struct SignatureSeal: Sendable {
    private let key: SymmetricKey
    /// The prefix of every sealed value (its format version).
    static let prefix = "fgs1:"

    package init(secret: [UInt8]) { key = SymmetricKey(data: secret) }

    /// A seal with a fresh secret (tests, and an install without a writable store).
    package static func ephemeral() -> SignatureSeal {
        SignatureSeal(secret: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// The install's seal: the 32-byte secret in `directory/responses.secret`, created (mode 0600)
    /// on first use.
    package static func load(directory: String) throws -> SignatureSeal {
        let path = directory + "/responses.secret"
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else {
                throw FlashgateError(
                    .unavailable, "\(path) does not hold a 32-byte secret; remove it to make a new one")
            }
            return SignatureSeal(secret: Array(data))
        }
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: path, contents: secret, attributes: [.posixPermissions: 0o600])
        else { throw FlashgateError(.unavailable, "cannot write \(path)") }
        return SignatureSeal(secret: Array(secret))
    }

    /// `signature` from `route`, sealed for `team`.
    package func seal(_ signature: String, route: String, team: String) -> String {
        let plain = Array("\(route)\n\(signature)".utf8)
        guard let box = try? AES.GCM.seal(plain, using: key, authenticating: Array(team.utf8)),
            let combined = box.combined
        else { return "" }
        return Self.prefix + combined.base64EncodedString()
    }

    /// The signature and its route, or nil when `sealed` was not sealed by this install for `team`.
    package func open(_ sealed: String, team: String) -> StoredSignature? {
        guard sealed.hasPrefix(Self.prefix),
            let data = Data(base64Encoded: String(sealed.dropFirst(Self.prefix.count))),
            let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Array(team.utf8)),
            let newline = plain.firstIndex(of: 0x0A)
        else { return nil }
        return StoredSignature(
            route: String(decoding: plain[..<newline], as: UTF8.self),
            signature: String(decoding: plain[plain.index(after: newline)...], as: UTF8.self))
    }
}
