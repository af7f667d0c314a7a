import FlashgateCore
import _CryptoExtras

/// A Google Cloud service-account key, as parsed from the JSON file the console downloads
/// (`{"type":"service_account","client_email",…,"private_key":"-----BEGIN PRIVATE KEY-----…"}`).
///
/// Invariants: the private key is parsed once, here, so a bad PEM fails at start and not on the
/// first request; the key material is never part of an error message, `description` or mirror.
package struct VertexServiceAccount: Sendable, CustomStringConvertible, CustomReflectable {
    /// The account's identity; becomes the JWT `iss`.
    package let clientEmail: String
    /// The key's id; becomes the JWT header's `kid` when present.
    package let privateKeyID: String?
    /// The token endpoint the file names (`https://oauth2.googleapis.com/token`). Informational:
    /// Flashgate exchanges JWTs at the route's configured `tokenURL`.
    package let tokenURI: String?
    /// The RSA key (2048 bits or more) that signs the JWTs.
    let privateKey: _RSA.Signing.PrivateKey

    /// Builds an account from its parts; `privateKeyPEM` is PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1.
    /// `source` names where the key came from, for error messages.
    package init(
        clientEmail: String, privateKeyPEM: String, privateKeyID: String? = nil, tokenURI: String? = nil,
        source: String = "the service account key"
    ) throws(FlashgateError) {
        guard !clientEmail.isEmpty else { throw Self.invalid(source, "has an empty client_email") }
        guard privateKeyPEM.contains("-----BEGIN") && privateKeyPEM.contains("PRIVATE KEY-----") else {
            throw Self.invalid(
                source, "has a private_key that is not a PEM private key (expected -----BEGIN PRIVATE KEY-----)")
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            // The underlying error says nothing useful and the PEM must not be echoed.
            throw Self.invalid(source, "has a private_key that is not a readable RSA key of 2048 bits or more")
        }
        self.clientEmail = clientEmail
        self.privateKeyID = privateKeyID
        self.tokenURI = tokenURI
        self.privateKey = key
    }

    /// Parses the service-account JSON. Refuses other Google credential files (such as
    /// `authorized_user`) by their `type`, and names the missing field when one is absent.
    package static func parse(
        _ bytes: some Collection<UInt8>, source: String = "the service account key"
    )
        throws(FlashgateError) -> VertexServiceAccount
    {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw invalid(source, "is not valid JSON (\(error))")
        }
        guard json.objectValue != nil else { throw invalid(source, "is not a JSON object") }
        if let type = json["type"] {
            guard type.stringValue == "service_account" else {
                let shown = type.stringValue.map { "'\($0.prefix(40))'" } ?? "a \(type.typeName)"
                throw invalid(source, "has type \(shown), expected 'service_account'")
            }
        }
        func field(_ name: String, required: Bool) throws(FlashgateError) -> String? {
            guard let value = json[name], !value.isNull else {
                if required { throw invalid(source, "has no '\(name)' field") }
                return nil
            }
            guard let text = value.stringValue else {
                throw invalid(source, "has a '\(name)' that is a \(value.typeName), expected a string")
            }
            return text
        }
        guard let email = try field("client_email", required: true),
            let pem = try field("private_key", required: true)
        else { throw invalid(source, "is incomplete") }
        return try VertexServiceAccount(
            clientEmail: email, privateKeyPEM: pem, privateKeyID: try field("private_key_id", required: false),
            tokenURI: try field("token_uri", required: false), source: source)
    }

    package var description: String { "VertexServiceAccount(\(clientEmail))" }

    package var customMirror: Mirror {
        Mirror(
            self, children: ["clientEmail": clientEmail, "privateKeyID": privateKeyID as Any], displayStyle: .struct)
    }

    /// A configuration problem: the gateway cannot serve the route until the file is fixed.
    private static func invalid(_ source: String, _ problem: String) -> FlashgateError {
        FlashgateError(.unavailable, "Vertex credentials: \(source) \(problem)")
    }
}
