import FlashgateCore
import Foundation

/// An access token kept fresh by something else (a metadata-server sidecar, a cron job running
/// `gcloud auth print-access-token`), read from a file.
///
/// Invariants: the file is read on every `token()`, so a rewritten file takes effect at once and
/// nothing is cached; surrounding whitespace and newlines are trimmed; a missing, unreadable or
/// empty file is an error (503) naming the path, never the contents.
package struct VertexTokenFile: AccessTokenSource {
    package let path: String
    private let read: @Sendable (String) throws -> String

    /// `read` returns a file's text; injectable for tests.
    package init(path: String, read: @escaping @Sendable (String) throws -> String = VertexAuth.readTextFile) {
        self.path = path
        self.read = read
    }

    package func token() async throws -> String {
        let text: String
        do {
            text = try read(path)
        } catch {
            throw FlashgateError(.unavailable, "Vertex credentials: the token file \(path) could not be read")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw FlashgateError(.unavailable, "Vertex credentials: the token file \(path) is empty")
        }
        return token
    }

    /// Nothing to forget: the next `token()` reads the file again anyway.
    package func invalidate() async {}
}

/// A fixed access token (from the environment, read once at start). It cannot be refreshed, so
/// once it expires every call fails with the upstream's 401 until Flashgate is given a new one.
package struct VertexStaticToken: AccessTokenSource {
    private let secret: Secret

    package init(_ token: Secret) {
        secret = token
    }

    /// The token, trimmed; an empty one is an error rather than an empty `Bearer` header.
    package func token() async throws -> String {
        let token = secret.value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw FlashgateError(.unavailable, "Vertex credentials: the access token is empty")
        }
        return token
    }

    package func invalidate() async {}
}

/// Builds the token source for a Vertex route's credentials.
package enum VertexAuth {
    /// The access-token source for `credentials`, or nil for `.expressKey` (express mode sends an
    /// API key header, not a bearer token). A service-account file is read and its key parsed
    /// now, so a broken file fails at start; a token file is read at each use.
    ///
    /// `tokenURL` is where service-account JWTs are exchanged (also their `aud`); `now` is unix
    /// seconds; `readFile` returns a file's text (injectable for tests).
    package static func source(
        for credentials: VertexRouteConfig.Credentials, tokenURL: String, transport: any UpstreamTransport,
        now: @escaping @Sendable () -> Int64 = VertexAuth.unixNow,
        readFile: @escaping @Sendable (String) throws -> String = VertexAuth.readTextFile
    ) throws -> (any AccessTokenSource)? {
        switch credentials {
        case .serviceAccountFile(let path):
            let text: String
            do {
                text = try readFile(path)
            } catch {
                throw FlashgateError(
                    .unavailable, "Vertex credentials: the service account file \(path) could not be read")
            }
            let account = try VertexServiceAccount.parse(Array(text.utf8), source: "the service account file \(path)")
            return VertexServiceAccountTokens(account: account, tokenURL: tokenURL, transport: transport, now: now)
        case .tokenFile(let path):
            return VertexTokenFile(path: path, read: readFile)
        case .token(let secret):
            return VertexStaticToken(secret)
        case .expressKey:
            return nil
        }
    }

    /// The wall clock in unix seconds.
    @Sendable package static func unixNow() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }

    /// Reads a UTF-8 text file.
    @Sendable package static func readTextFile(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }
}
