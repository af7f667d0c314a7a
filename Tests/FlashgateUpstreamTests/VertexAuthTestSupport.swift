import Crypto
import FlashgateCore
import FlashgateTesting
import Foundation
import Synchronization
import Testing
import _CryptoExtras

@testable import FlashgateUpstream

/// One RSA key for the whole test run: generating 2048-bit keys is slow in debug builds.
let vertexTestKey: _RSA.Signing.PrivateKey = {
    do { return try _RSA.Signing.PrivateKey(keySize: .bits2048) } catch {
        fatalError("RSA key generation failed: \(error)")
    }
}()

let vertexTestEmail = "flashgate-test@example-project.iam.gserviceaccount.com"
let vertexTestKeyID = "0123456789abcdef0123456789abcdef01234567"

/// A service-account JSON file as the Cloud console writes it, with the PKCS#8 key it uses.
func serviceAccountJSON(
    email: String = vertexTestEmail, keyID: String = vertexTestKeyID,
    pem: String = vertexTestKey.pkcs8PEMRepresentation, type: String = "service_account"
) -> [UInt8] {
    JSONWriter.encode([
        "type": .string(type),
        "project_id": "example-project",
        "private_key_id": .string(keyID),
        "private_key": .string(pem),
        "client_email": .string(email),
        "client_id": "123456789012345678901",
        "token_uri": "https://oauth2.googleapis.com/token",
    ])
}

func testServiceAccount() throws -> VertexServiceAccount {
    try VertexServiceAccount.parse(serviceAccountJSON())
}

/// A compact JWT taken apart: decoded header and claims, the signed text and the signature.
struct DecodedJWT {
    var header: JSONValue
    var claims: JSONValue
    var signingInput: String
    var signature: [UInt8]

    init(_ jwt: String) throws {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3)
        for part in parts { #expect(!part.contains("="), "base64url without padding") }
        header = try JSONParser.parse(try #require(VertexBase64URL.decode(parts[0])))
        claims = try JSONParser.parse(try #require(VertexBase64URL.decode(parts[1])))
        signingInput = "\(parts[0]).\(parts[1])"
        signature = try #require(VertexBase64URL.decode(parts[2]))
    }

    /// Whether the signature is RS256 by `key` over `header.claims`.
    func verifies(with key: _RSA.Signing.PublicKey) -> Bool {
        key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: Array(signingInput.utf8)),
            padding: .insecurePKCS1v1_5)
    }
}

/// Unix seconds the test moves by hand.
final class ManualUnixClock: Sendable {
    private let seconds: Mutex<Int64>

    init(_ start: Int64) { seconds = Mutex(start) }

    var now: Int64 { seconds.withLock { $0 } }

    func set(_ value: Int64) { seconds.withLock { $0 = value } }

    /// The closure to inject.
    var reader: @Sendable () -> Int64 { { self.now } }
}

/// An `application/x-www-form-urlencoded` body as name → decoded value.
func formFields(_ body: String) -> [String: String] {
    var fields: [String: String] = [:]
    for pair in body.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let value = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
        fields[String(parts[0])] = value.removingPercentEncoding
    }
    return fields
}

/// A token endpoint answer in Google's shape.
func grantReply(_ token: String, expiresIn: Int = 3599) -> FakeReply {
    .json(#"{"access_token":"\#(token)","expires_in":\#(expiresIn),"token_type":"Bearer"}"#)
}

/// A transport that answers every request with `status` and a body built from the request, for
/// endpoints that echo what they were sent.
struct EchoingTransport: UpstreamTransport {
    var status: Int
    var body: @Sendable (UpstreamRequest) -> [UInt8]

    func send(_ request: UpstreamRequest) -> UpstreamResponse {
        let (stream, continuation) = AsyncThrowingStream<UpstreamEvent, any Error>.makeStream()
        continuation.yield(.head(status: status, headers: []))
        continuation.yield(.body(body(request)))
        continuation.finish()
        return UpstreamResponse(stream)
    }
}

/// The FlashgateError `body` throws, or nil when it throws none (or another type).
func flashgateError(_ body: () async throws -> Void) async -> FlashgateError? {
    do {
        try await body()
        return nil
    } catch let error as FlashgateError {
        return error
    } catch {
        Issue.record("unexpected error type \(type(of: error)): \(error)")
        return nil
    }
}
