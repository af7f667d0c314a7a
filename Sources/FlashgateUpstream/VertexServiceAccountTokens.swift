import FlashgateCore

/// Something that hands out OAuth access tokens for `Authorization: Bearer` upstream calls.
///
/// Invariants: `token()` never returns an empty string; errors are `FlashgateError`s whose
/// messages never contain a token, a JWT or key material.
package protocol AccessTokenSource: Sendable {
    /// A token that is valid now (as far as the source knows).
    func token() async throws -> String
    /// The upstream refused the last token (HTTP 401): forget any cached token, so the next
    /// `token()` obtains a fresh one. A no-op for sources that cannot refresh.
    func invalidate() async
}

/// Access tokens minted from a service-account key: a signed JWT is exchanged at the token
/// endpoint (RFC 7523 JWT bearer grant), the answer is cached until `refreshMargin` seconds
/// before it expires, then replaced.
///
/// Invariants:
/// - a cached token is returned only while `now() < expiry - margin`, where `margin` is
///   `refreshMargin` or half the token's lifetime, whichever is less (so a short-lived token is
///   still reused rather than fetched on every call); `expiry` is counted from the moment the
///   request was sent, so it is never later than the endpoint's own;
/// - at most one token request is in flight: callers arriving during a refresh await that same
///   request (single flight), and its outcome, token or error, is what all of them see;
/// - a failed refresh is not cached: the next call tries again;
/// - the refresh runs in its own task, so a cancelled caller does not fail the others.
package actor VertexServiceAccountTokens: AccessTokenSource {
    /// A token and the unix second it stops being valid.
    struct Minted: Sendable {
        var token: String
        var expiry: Int64
        /// The unix second from which the token is replaced rather than handed out.
        var refreshAt: Int64
    }

    package nonisolated let account: VertexServiceAccount
    package nonisolated let tokenURL: String
    package nonisolated let refreshMargin: Int64
    private let transport: any UpstreamTransport
    private let now: @Sendable () -> Int64

    private var cached: Minted?
    private var inFlight: Task<Minted, any Error>?
    /// Token requests sent so far (one per refresh).
    private(set) var refreshCount = 0
    /// Callers that found a refresh in flight and awaited it instead of starting another.
    private(set) var sharedWaits = 0

    /// `now` is unix seconds (injected so tests control time); `refreshMargin` is how long before
    /// expiry a token is replaced, so one handed out is still good for a request's duration.
    package init(
        account: VertexServiceAccount, tokenURL: String, transport: any UpstreamTransport,
        now: @escaping @Sendable () -> Int64, refreshMargin: Int64 = 300
    ) {
        self.account = account
        self.tokenURL = tokenURL
        self.transport = transport
        self.now = now
        self.refreshMargin = refreshMargin
    }

    package func token() async throws -> String {
        if let cached, now() < cached.refreshAt { return cached.token }
        if let inFlight {
            sharedWaits += 1
            return try await inFlight.value.token
        }
        let request = Task { [account, tokenURL, transport, now, refreshMargin] in
            try await Self.mint(
                account: account, tokenURL: tokenURL, transport: transport, now: now, refreshMargin: refreshMargin)
        }
        inFlight = request
        refreshCount += 1
        do {
            let minted = try await request.value
            // `invalidate()` may have dropped this refresh meanwhile; its token is still new.
            if inFlight == request {
                inFlight = nil
                cached = minted
            }
            return minted.token
        } catch {
            if inFlight == request { inFlight = nil }
            throw error
        }
    }

    /// Forgets the cached token. A refresh already in flight is left alone: it mints a token
    /// newer than the one that was refused.
    package func invalidate() {
        cached = nil
    }

    /// One exchange with the token endpoint. Non-isolated so the actor stays free meanwhile.
    private static func mint(
        account: VertexServiceAccount, tokenURL: String, transport: any UpstreamTransport,
        now: @Sendable () -> Int64, refreshMargin: Int64
    ) async throws -> Minted {
        let issuedAt = now()
        let assertion = try VertexJWT.sign(account: account, audience: tokenURL, issuedAt: issuedAt)
        let body =
            "grant_type=" + VertexFormEncoding.escape("urn:ietf:params:oauth:grant-type:jwt-bearer")
            + "&assertion=" + VertexFormEncoding.escape(assertion)
        let request = UpstreamRequest(
            method: "POST", url: tokenURL,
            headers: [
                (name: "Content-Type", value: "application/x-www-form-urlencoded"),
                (name: "Accept", value: "application/json"),
            ],
            body: Array(body.utf8), timeouts: tokenTimeouts)
        let (status, answer) = try await read(transport.send(request), tokenURL: tokenURL)
        guard (200..<300).contains(status) else {
            throw VertexTokenEndpointError.refused(status: status, body: answer, secrets: [assertion])
        }
        let parsed = try VertexTokenEndpointError.parseGrant(answer)
        let expiry = issuedAt + parsed.expiresIn
        return Minted(
            token: parsed.token, expiry: expiry, refreshAt: expiry - min(refreshMargin, parsed.expiresIn / 2))
    }

    /// A token exchange is small and quick; an endpoint that stalls is reported, not waited on.
    static let tokenTimeouts = UpstreamTimeouts(
        connect: .seconds(10), firstByte: .seconds(30), idle: .seconds(30), total: .seconds(60))

    /// Token answers are a few hundred bytes; anything past this is not one.
    static let maxAnswerBytes = 64 * 1024

    private static func read(_ response: UpstreamResponse, tokenURL: String) async throws -> (Int, [UInt8]) {
        var status: Int?
        var body: [UInt8] = []
        do {
            for try await event in response {
                switch event {
                case .head(let code, _):
                    status = code
                case .body(let bytes):
                    body += bytes
                    guard body.count <= maxAnswerBytes else {
                        throw FlashgateError(
                            .upstreamProtocol, "Vertex token endpoint answered with more than \(maxAnswerBytes) bytes")
                    }
                }
            }
        } catch let error as FlashgateError {
            guard error.message.hasPrefix("Vertex ") else {
                var wrapped = error
                // The endpoint's address is for the log (the transport writes it), not for clients.
                wrapped.message = "Vertex token endpoint: \(error.message)"
                throw wrapped
            }
            throw error
        }
        guard let status else {
            throw FlashgateError(.upstreamProtocol, "Vertex token endpoint sent no response head")
        }
        return (status, body)
    }
}

/// How the token endpoint's answers become tokens or errors.
///
/// Invariants: error kinds map to 502/503 at the edge: 5xx and 429 are `.upstreamUnreachable`
/// (retryable: the endpoint may recover), other refusals `.unavailable` (the credentials need
/// fixing; retrying cannot help), a malformed grant `.upstreamProtocol`. Messages carry the
/// endpoint's `error`/`error_description` codes only, never the body as a whole, and any
/// `secrets` (the assertion) are cut out should an endpoint echo them.
enum VertexTokenEndpointError {
    static func refused(status: Int, body: [UInt8], secrets: [String]) -> FlashgateError {
        var message = "Vertex token endpoint answered \(status)"
        if let json = try? JSONParser.parse(body) {
            let code = json["error"]?.stringValue ?? json["error"]?["status"]?.stringValue
            let text = json["error_description"]?.stringValue ?? json["error"]?["message"]?.stringValue
            let detail = [code, text].compactMap { $0 }.joined(separator: ": ")
            if !detail.isEmpty {
                var shown = detail
                for secret in secrets where !secret.isEmpty { shown = shown.replacing(secret, with: "<redacted>") }
                message += " (\(shown.prefix(300)))"
            }
        }
        let kind: FlashgateError.Kind = status >= 500 || status == 429 ? .upstreamUnreachable : .unavailable
        return FlashgateError(kind, message)
    }

    /// `{"access_token","expires_in","token_type"}`; `expires_in` defaults to an hour when absent,
    /// `token_type`, when present, must be `Bearer`.
    static func parseGrant(_ body: [UInt8]) throws(FlashgateError) -> (token: String, expiresIn: Int64) {
        guard let json = try? JSONParser.parse(body), json.objectValue != nil else {
            throw FlashgateError(
                .upstreamProtocol, "Vertex token endpoint answered 2xx with a body that is not a JSON object")
        }
        guard let token = json["access_token"]?.stringValue, !token.isEmpty else {
            throw FlashgateError(.upstreamProtocol, "Vertex token endpoint answered without an access_token")
        }
        if let type = json["token_type"], type.stringValue?.lowercased() != "bearer" {
            throw FlashgateError(.upstreamProtocol, "Vertex token endpoint answered a token_type other than Bearer")
        }
        var expiresIn: Int64 = 3600
        if let value = json["expires_in"] {
            guard let seconds = value.intValue, seconds > 0 else {
                throw FlashgateError(
                    .upstreamProtocol, "Vertex token endpoint answered an expires_in that is not a positive integer")
            }
            expiresIn = Int64(seconds)
        }
        return (token, expiresIn)
    }
}

/// `application/x-www-form-urlencoded` values: everything but `A-Z a-z 0-9 - . _ ~` is %XX.
enum VertexFormEncoding {
    static func escape(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
