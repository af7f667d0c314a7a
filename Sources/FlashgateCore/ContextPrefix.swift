/// A cacheable prefix of a canonical Gemini request — what a `cachedContents` resource holds and
/// what a request that uses one must not send again. A request has up to two candidates
/// (`ContextPrefixes`):
/// - the **base** prefix: its system instruction, tools and tool config;
/// - the **extended** prefix: the base members plus the leading `contents` through the first
///   user turn (`leadingBoundary`), e.g. a long document or a task brief that opens the
///   conversation. A conversation's first turn never changes as it grows, so every later turn of
///   it names the same extended prefix, and conversations that open with the same message share
///   it; it ends on a user turn, as Gemini requires of cached contents.
///
/// Invariant: `key` names the same prefix for the same owner scope, model and route only, and
/// is made through `CacheKey` from canonical JSON, so two bodies that differ only in key order
/// or number spelling share it; a request that already names a `cachedContent` has no prefix;
/// an extended prefix always leaves at least one content of its request outside the cache.
package struct ContextPrefix: Sendable {
    /// The members a cache holds; a request on a cache sends none of them.
    package static let members = ["systemInstruction", "tools", "toolConfig"]
    /// The proto spellings of `cachedContent` and the members, which Gemini reads too.
    static let protoSpelled = ["cached_content", "system_instruction", "tool_config"]

    /// Who owns caches of this prefix, its model and its route, plus the prefix's content.
    package var key: CacheKey
    /// The prefix's content alone (scope-free), to check a route's body before rewriting it.
    package var content: CacheKey
    /// The prefix as a JSON object (the members present, and `contents` holding the leading
    /// run for an extended prefix), for the create call.
    package var parts: JSONObject
    /// How many leading `contents` the prefix holds: 0 for the base prefix.
    package var leading: Int
    /// Compact JSON bytes of the prefix and of the whole body, to apportion usage's prompt tokens.
    package var prefixBytes: Int
    package var bodyBytes: Int

    /// The base prefix of `body`, or nil when it has none or the client manages its own cache.
    /// - Parameter scope: `team:<id>` or `shared` (`ContextCacheConfig.scope`).
    package init?(body: JSONValue, scope: String, model: String, route: String) {
        self.init(body: body, scope: scope, model: model, route: route, leading: 0)
    }

    /// The prefix of `body` holding its first `leading` contents besides the base members, or nil
    /// when there is no such prefix (nothing to cache, or no content would follow it).
    /// - Parameter bodyBytes: the size of `body`'s compact JSON when the caller has it already.
    package init?(
        body: JSONValue, scope: String, model: String, route: String, leading: Int, bodyBytes: Int? = nil
    ) {
        // A body naming a cache, or spelling a member the proto way (`system_instruction`), is
        // left as sent: a rewrite could leave it both a cache and a member Gemini refuses with one.
        guard body["cachedContent"] == nil, Self.protoSpelled.allSatisfy({ body[$0] == nil }),
            let parts = Self.parts(body, leading: leading)
        else { return nil }
        self.parts = parts
        self.leading = leading
        // One canonical pass, two keys: the content alone, and the content for its owner.
        let canonical = CacheKey.canonicalBytes(.object(parts), endpoint: .generate)
        content = CacheKey.make(endpoint: .generate, model: "", scope: "context", canonical: canonical)
        key = CacheKey.make(
            endpoint: .generate, model: model, scope: "context:\(scope):route:\(route)", canonical: canonical)
        prefixBytes = JSONWriter.encode(.object(parts)).count
        self.bodyBytes = bodyBytes ?? JSONWriter.encode(body).count
    }

    /// How many leading contents the extended prefix of `contents` holds: every content through
    /// the first user turn (a content whose role is `user` or absent), or nil when there is no
    /// user turn or nothing would follow it (a request on a cache must still send a content).
    package static func leadingBoundary(_ contents: [JSONValue]) -> Int? {
        guard
            let first = contents.firstIndex(where: { content in
                let role = content["role"]?.stringValue
                return role == nil || role == "user"
            }), first + 1 < contents.count
        else { return nil }
        return first + 1
    }

    /// The members of `body` that are present, with its first `leading` contents when `leading`
    /// is above zero; nil when there is nothing to cache or `leading` leaves no content after it.
    static func parts(_ body: JSONValue, leading: Int) -> JSONObject? {
        var parts = JSONObject()
        for member in members { if let value = body[member] { parts[member] = value } }
        if leading > 0 {
            guard let contents = body["contents"]?.arrayValue, contents.count > leading else { return nil }
            parts["contents"] = .array(Array(contents.prefix(leading)))
        }
        return parts.isEmpty ? nil : parts
    }

    /// The share of `promptTokens` the prefix accounts for (by its share of the body's bytes).
    package func tokens(ofPrompt promptTokens: Int) -> Int {
        guard bodyBytes > 0 else { return 0 }
        return Int(Int64(promptTokens) * Int64(min(prefixBytes, bodyBytes)) / Int64(bodyBytes))
    }

    /// `body` on the cache `name`: without the members the cache holds and without the leading
    /// contents it holds, with `cachedContent`. Nil when `body` is not JSON or its prefix is not
    /// this one (the route's body differs, e.g. in a thought signature), so the caller sends the
    /// full body instead.
    package func rewrite(_ body: [UInt8], cacheName: String) -> [UInt8]? {
        guard case .object(var object)? = try? JSONParser.parse(body),
            let parts = Self.parts(.object(object), leading: leading),
            CacheKey.make(endpoint: .generate, model: "", scope: "context", body: .object(parts)) == content
        else { return nil }
        for member in Self.members { object[member] = nil }
        if leading > 0, let contents = object["contents"]?.arrayValue {
            object["contents"] = .array(Array(contents.dropFirst(leading)))
        }
        object["cachedContent"] = .string(cacheName)
        return JSONWriter.encode(.object(object))
    }
}

/// The candidate prefixes of one request, shortest first: the base prefix and the extended one
/// (base plus the leading contents through the first user turn). Either may be missing.
package struct ContextPrefixes: Sendable {
    package var base: ContextPrefix?
    package var extended: ContextPrefix?

    /// The candidates of `body`, or nil when it has none.
    package init?(body: JSONValue, scope: String, model: String, route: String) {
        base = ContextPrefix(body: body, scope: scope, model: model, route: route)
        if let contents = body["contents"]?.arrayValue, let leading = ContextPrefix.leadingBoundary(contents) {
            extended = ContextPrefix(
                body: body, scope: scope, model: model, route: route, leading: leading, bodyBytes: base?.bodyBytes)
        }
        if base == nil && extended == nil { return nil }
    }

    /// Every candidate, shortest first.
    package var all: [ContextPrefix] { [base, extended].compactMap { $0 } }
}
