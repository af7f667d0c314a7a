import Crypto
import FlashgateCore
import _CryptoExtras

/// The self-signed JWT a service account presents to Google's token endpoint (RFC 7523 §2.1).
///
/// Invariants: the header is `{"alg":"RS256","typ":"JWT"[,"kid"]}`, the claims are
/// `{"iss","scope","aud","iat","exp"}` with `exp = iat + lifetime`; both parts are base64url
/// without padding and the signature is RSASSA-PKCS1-v1_5 over SHA-256 of `header.claims`
/// (swift-crypto calls that padding `insecurePKCS1v1_5`; it is what RS256 means).
package enum VertexJWT {
    /// The scope Vertex AI calls need.
    package static let cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

    /// Google accepts assertions valid for at most an hour.
    package static let maxLifetime: Int64 = 3600

    /// Returns the signed compact JWT `header.claims.signature`. `audience` is the token
    /// endpoint the JWT will be posted to; `issuedAt` is unix seconds.
    package static func sign(
        account: VertexServiceAccount, scope: String = cloudPlatformScope, audience: String, issuedAt: Int64,
        lifetime: Int64 = maxLifetime
    ) throws -> String {
        var header: JSONObject = ["alg": "RS256", "typ": "JWT"]
        if let kid = account.privateKeyID { header["kid"] = .string(kid) }
        let claims: JSONValue = [
            "iss": .string(account.clientEmail),
            "scope": .string(scope),
            "aud": .string(audience),
            "iat": .number(String(issuedAt)),
            "exp": .number(String(issuedAt + lifetime)),
        ]
        let signingInput =
            VertexBase64URL.encode(JSONWriter.encode(.object(header))) + "."
            + VertexBase64URL.encode(JSONWriter.encode(claims))
        let signature: _RSA.Signing.RSASignature
        do {
            signature = try account.privateKey.signature(
                for: SHA256.hash(data: Array(signingInput.utf8)), padding: .insecurePKCS1v1_5)
        } catch {
            throw FlashgateError(.internal, "Vertex credentials: signing the JWT for \(account.clientEmail) failed")
        }
        return signingInput + "." + VertexBase64URL.encode(Array(signature.rawRepresentation))
    }
}

/// Base64url (RFC 4648 §5) without padding, as JWTs use it.
package enum VertexBase64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    package static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let chunk = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            if second != nil { out.append(alphabet[Int(chunk >> 6 & 63)]) }
            if third != nil { out.append(alphabet[Int(chunk & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes unpadded (or padded) base64url; nil on a character outside the alphabet or an
    /// impossible length.
    package static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var values: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "_"): values.append(63)
            case UInt8(ascii: "="): continue
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index < values.count {
            let group = values[index..<min(index + 4, values.count)]
            var chunk: UInt32 = 0
            for (offset, value) in group.enumerated() { chunk |= UInt32(value) << (18 - 6 * offset) }
            out.append(UInt8(chunk >> 16 & 0xFF))
            if group.count > 2 { out.append(UInt8(chunk >> 8 & 0xFF)) }
            if group.count > 3 { out.append(UInt8(chunk & 0xFF)) }
            index += 4
        }
        return out
    }
}
