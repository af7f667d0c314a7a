/// The cacheable prefix of a canonical Gemini request: its system instruction, tools and tool
/// config — what a `cachedContents` resource holds and what a request that uses one must not
/// send again. Leading `contents` are left to Gemini's implicit cache (a conversation's turns
/// change with every call, so they make no stable boundary).
///
/// Invariant: `key` names the same prefix for the same owner scope, model and route only, and
/// is made through `CacheKey` from canonical JSON, so two bodies that differ only in key order
/// or number spelling share it; a request that already names a `cachedContent` has no prefix.
package struct ContextPrefix: Sendable {
    /// The members a cache holds; a request on a cache sends none of them.
    package static let members = ["systemInstruction", "tools", "toolConfig"]

    /// Who owns caches of this prefix, its model and its route, plus the prefix's content.
    package var key: CacheKey
    /// The prefix's content alone (scope-free), to check a route's body before rewriting it.
    package var content: CacheKey
    /// The prefix as a JSON object (the three members present), for the create call.
    package var parts: JSONObject
    /// Compact JSON bytes of the prefix and of the whole body, to apportion usage's prompt tokens.
    package var prefixBytes: Int
    package var bodyBytes: Int

    /// The prefix of `body`, or nil when it has none or the client manages its own cache.
    /// - Parameter scope: `team:<id>` or `shared` (`ContextCacheConfig.scope`).
    package init?(body: JSONValue, scope: String, model: String, route: String) {
        guard body["cachedContent"] == nil, let parts = Self.parts(body) else { return nil }
        self.parts = parts
        // One canonical pass, two keys: the content alone, and the content for its owner.
        let canonical = CacheKey.canonicalBytes(.object(parts), endpoint: .generate)
        content = CacheKey.make(endpoint: .generate, model: "", scope: "context", canonical: canonical)
        key = CacheKey.make(
            endpoint: .generate, model: model, scope: "context:\(scope):route:\(route)", canonical: canonical)
        prefixBytes = JSONWriter.encode(.object(parts)).count
        bodyBytes = JSONWriter.encode(body).count
    }

    /// The three members of `body` that are present, or nil when none is.
    static func parts(_ body: JSONValue) -> JSONObject? {
        var parts = JSONObject()
        for member in members { if let value = body[member] { parts[member] = value } }
        return parts.isEmpty ? nil : parts
    }

    /// The share of `promptTokens` the prefix accounts for (by its share of the body's bytes).
    package func tokens(ofPrompt promptTokens: Int) -> Int {
        guard bodyBytes > 0 else { return 0 }
        return Int(Int64(promptTokens) * Int64(min(prefixBytes, bodyBytes)) / Int64(bodyBytes))
    }

    /// `body` on the cache `name`: without the members the cache holds, with `cachedContent`.
    /// Nil when `body` is not JSON or its prefix is not this one (the route's body differs), so
    /// the caller sends the full body instead.
    package func rewrite(_ body: [UInt8], cacheName: String) -> [UInt8]? {
        guard case .object(var object)? = try? JSONParser.parse(body), let parts = Self.parts(.object(object)),
            CacheKey.make(endpoint: .generate, model: "", scope: "context", body: .object(parts)) == content
        else { return nil }
        for member in Self.members { object[member] = nil }
        object["cachedContent"] = .string(cacheName)
        return JSONWriter.encode(.object(object))
    }
}
