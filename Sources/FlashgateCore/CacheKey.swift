import Crypto

/// Which family of upstream call a cached answer belongs to. `generate` covers
/// `generateContent` and `streamGenerateContent`: a streamed and a plain call share one entry.
package enum CacheEndpoint: String, Sendable {
    case generate
    case countTokens
    case embed
}

/// The one place cache keys are made: SHA-256 over a version tag, the endpoint, the tenant
/// scope, the model id as the client named it, and the canonical upstream request body — each
/// length-prefixed so fields cannot run together. Never built from raw client bytes.
package struct CacheKey: Hashable, Sendable {
    package let digest: [UInt8]

    package var hex: String { digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// - Parameters:
    ///   - scope: `team:<id>`, or `shared` where the config shares the cache across teams.
    ///   - model: the model id as the client named it.
    ///   - body: the canonical Gemini request (after translation, thinking and signatures).
    package static func make(endpoint: CacheEndpoint, model: String, scope: String, body: JSONValue) -> CacheKey {
        var hasher = SHA256()
        for field in [Array("flashgate-cache-v1".utf8), Array(endpoint.rawValue.utf8), Array(scope.utf8), Array(model.utf8)] {
            update(&hasher, field)
        }
        update(&hasher, CanonicalJSON.encode(body))
        return CacheKey(digest: Array(hasher.finalize()))
    }

    private static func update(_ hasher: inout SHA256, _ bytes: [UInt8]) {
        var length = UInt64(bytes.count).bigEndian
        withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
        hasher.update(data: bytes)
    }
}

/// Every stored property of `ChatRequest` and how it enters the cache key. A test compares
/// this list with the type, so a new field cannot be added without a decision here.
package enum CacheKeyDecisions {
    package static let chatRequestFields: [String: String] = [
        "model": "keyed: the client's model id is part of the key",
        "gemini": "keyed: the canonical Gemini body is the key's core",
        "stream": "not keyed: streamed and plain answers share an entry; it only picks the rendering",
        "includeUsage": "not keyed: only decides whether the rendered stream ends with a usage chunk",
        "candidateCount": "keyed through the body (generationConfig.candidateCount)",
        "reasoningEffort": "keyed through the body, once applied as thinkingConfig for the upstream model",
        "signatureSlots": "keyed through the body, once signatures are attached to the history",
    ]
}
