import Crypto

/// The kind of upstream call a cache entry answers. `generate` covers `generateContent` and
/// `streamGenerateContent` alike: a streamed and a non-streamed call share one entry, since the
/// answer is stored whole and rendered in either form.
package enum CacheEndpoint: String, Sendable, CaseIterable {
    case generate
    case countTokens
    case embed
}

/// The response-cache key: SHA-256 over the canonical upstream request and the tenant scope.
///
/// Invariant: this is the only place a key is made, and it is made from the canonical Gemini
/// request (`CanonicalJSON`), never from the client's bytes. Every field of that request is
/// keyed unless it is listed in `excludedFields` with its reason; OpenAI-side fields outside the
/// Gemini body are decided in `CacheKeyDecisions`.
package struct CacheKey: Hashable, Sendable {
    package let digest: [UInt8]

    package init(digest: [UInt8]) { self.digest = digest }

    package var hex: String { Hex.encode(digest) }
}

extension CacheKey {
    /// Bumped whenever the canonical form changes, so old entries can never be read as new ones.
    package static let version = "flashgate-cache-v1"

    /// Top-level request members that never change the key, each with its reason.
    package static let excludedFields: Set<String> = [
        // Billing tags (Vertex): they label the upstream charge and do not reach the model. A hit
        // has no upstream charge to label.
        "labels",
        // The service tier (either spelling): it sets price, latency and reliability, not the
        // answer. A hit costs $0 at every tier.
        "serviceTier", "service_tier",
    ]

    /// The key of one call as the gateway makes it: every input besides the body is decided here.
    /// - Parameters:
    ///   - model: the model id as the client named it; aliases of a configured model fold into its
    ///     id, so they share its answers (`keyModel`).
    ///   - team: the caller's team; the scope is that team's, or `shared` where sharing is
    ///     configured (`scope`).
    ///   - body: the final upstream request body (after thinking settings and signatures are applied).
    package static func make(
        endpoint: CacheEndpoint, model: String, team: String, config: FlashgateConfig, body: JSONValue
    ) -> CacheKey {
        let scope = Self.scope(team: team, cache: config.cache)
        return make(endpoint: endpoint, model: Self.keyModel(model, config: config), scope: scope, body: body)
    }

    /// Who may see an entry: `shared` where sharing is configured, else `team:<id>`.
    package static func scope(team: String, cache: CacheConfig) -> String {
        cache.scope == .shared ? "shared" : "team:" + team
    }

    /// The model id a key names: the configured model the client's id (or alias) answers to, else
    /// the id as the client named it.
    package static func keyModel(_ model: String, config: FlashgateConfig) -> String {
        config.model(answering: ModelID.bare(model))?.id ?? model
    }

    /// The key from inputs already decided; `make(endpoint:model:team:config:body:)` decides them.
    /// - Parameters:
    ///   - scope: `team:<id>`, or `shared` where sharing is configured.
    ///   - model: the model id (a `models/` prefix is dropped: the same model).
    ///   - body: the final upstream request body (after thinking settings and signatures are applied).
    package static func make(endpoint: CacheEndpoint, model: String, scope: String, body: JSONValue) -> CacheKey {
        make(endpoint: endpoint, model: model, scope: scope, canonical: canonicalBytes(body, endpoint: endpoint))
    }

    /// The canonical bytes a key of `body` hashes, for a caller that keys one body under several
    /// scopes (`make(endpoint:model:scope:canonical:)`) without canonicalising it again.
    package static func canonicalBytes(_ body: JSONValue, endpoint: CacheEndpoint) -> [UInt8] {
        CanonicalJSON.bytes(body, endpoint: endpoint, excluded: excludedFields)
    }

    /// The key from canonical bytes `canonicalBytes` made.
    package static func make(endpoint: CacheEndpoint, model: String, scope: String, canonical: [UInt8]) -> CacheKey {
        let modelID = ModelID.bare(model)
        // Each field length-prefixed (8 bytes, big-endian), so adjacent fields can never run
        // together; the whole message is laid out first and hashed in one update.
        var message: [UInt8] = []
        message.reserveCapacity(
            5 * 8 + version.utf8.count + scope.utf8.count + modelID.utf8.count + 16 + canonical.count)
        func append(_ field: some Collection<UInt8>) {
            let length = UInt64(field.count)
            for shift in stride(from: 56, through: 0, by: -8) {
                message.append(UInt8(truncatingIfNeeded: length >> shift))
            }
            message.append(contentsOf: field)
        }
        append(version.utf8)
        append(endpoint.rawValue.utf8)
        append(scope.utf8)
        append(modelID.utf8)
        append(canonical)
        return CacheKey(digest: Array(SHA256.hash(data: message)))
    }
}

/// The cache-key decision for every stored property of the OpenAI `ChatRequest`. A test compares
/// this list with the properties `ChatRequest` really has, so adding a property fails the build's
/// tests until someone decides how it enters the key and writes it here.
package enum CacheKeyDecisions {
    package static let chatRequestFields: Set<String> = [
        // Keyed as the configured model the client's id names, else that id (`CacheKey.keyModel`).
        "model",
        // Not keyed: rendering only. A stream and a non-stream call share one entry.
        "stream",
        // Not keyed: rendering only (whether the stream ends with a usage chunk).
        "includeUsage",
        // Keyed through the body: `generationConfig.candidateCount` (1 is the elided default).
        "candidateCount",
        // Keyed: the Gemini body is the canonical request itself.
        "gemini",
        // Keyed through the body after `applyThinking` writes `generationConfig.thinkingConfig`;
        // the key is made from the body after it is applied for the resolved upstream model.
        "reasoningEffort",
        // Keyed through the body after `attachSignatures` puts the signatures into `contents`.
        "signatureSlots",
        // Keyed through the body: the parts' `mediaResolution`, after `dropPartResolutions`
        // removes it for a Gemini 2.x model (this flag only says whether there is any).
        "partResolutions",
    ]

    /// The same decision for every stored property of the OpenAI `ResponsesRequest`. Its Gemini
    /// body is a `ChatRequest`'s, so a Responses request and a chat request share an entry exactly
    /// when their canonical Gemini requests are the same; the answer is stored whole and rendered
    /// in each client's form.
    package static let responsesRequestFields: Set<String> = [
        // Keyed as decided for each of its own fields (`chatRequestFields`).
        "chat",
        // Not keyed: rendering only. A stream and a non-stream call share one entry.
        "stream",
        // Not keyed: whether the answer is also kept as a conversation, after it is rendered.
        "store",
        // Keyed through the body: the stored items it names become `contents`.
        "previousResponseID",
        // Not keyed: rendering only (whether reasoning items show their sealed signature).
        "includeEncrypted",
        // Not keyed: rendering only; each echoed field that changes the answer (instructions, tools,
        // text format, reasoning, limits) is keyed through the body it was translated into.
        "echo",
        // Keyed through the body: the items are translated into `contents`.
        "items",
        // Keyed through the body after `attachSignatures` puts the opened signatures into `contents`.
        "sealedSignatures",
        // Not keyed: how error messages name fields (`input[…]`); it follows from the items.
        "paramNames",
    ]
}
