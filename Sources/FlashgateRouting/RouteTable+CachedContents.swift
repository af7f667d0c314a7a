import FlashgateCore

/// Requests for Gemini's `cachedContents` resource on an AI Studio route: the context-cache
/// client's create, keep-alive and delete, and the native passthrough.
///
/// Invariant: only `gemini` routes carry caches (Vertex names them per project and region, an
/// OpenAI-compatible route has none); the path after `cachedContents` is one validated id.
extension RouteTable {
    /// Whether `route` can hold context caches.
    package static func holdsContextCaches(_ route: RouteConfig) -> Bool { route.kind == .gemini }

    /// The key a new cache on `route` is created with (and must be read with).
    package func contextCacheKey(_ route: String, now: Tick) -> Int { keys(route)?.current(now: now) ?? 0 }

    /// How many keys `route` has now (a cache made with a key past them was made before a reload
    /// that took that key away).
    package func keyCount(_ route: String) -> Int { keys(route)?.count ?? 1 }

    /// `method` on `cachedContents` (nil `name`: the collection) with the route's key `keyIndex`.
    /// - Parameter query: raw query (list paging), already validated by the caller.
    package func cachedContentsRequest(
        _ route: RouteConfig, method: String, name: String?, body: [UInt8] = [], keyIndex: Int, query: String? = nil
    ) throws(FlashgateError) -> UpstreamRequest {
        guard Self.holdsContextCaches(route) else {
            throw FlashgateError.invalid("route '\(route.name)' does not support cachedContents")
        }
        var url = "\(route.baseURL)/\(ModelID.percentEncoded(route.apiVersion))/cachedContents"
        if let name {
            let id = name.hasPrefix("cachedContents/") ? String(name.dropFirst("cachedContents/".count)) : name
            guard Self.isCacheID(id) else { throw FlashgateError.invalid("'\(name)' is not a cachedContents name") }
            url += "/" + id
        }
        if let query, !query.isEmpty { url += "?" + query }
        var headers: [(name: String, value: String)] = [("content-type", "application/json")]
        if !route.apiKeys.isEmpty {
            headers.append(("x-goog-api-key", route.apiKeys[min(keyIndex, route.apiKeys.count - 1)].value))
        }
        return UpstreamRequest(
            method: method, url: url, headers: headers, body: body, timeouts: config.upstreamTimeouts)
    }

    /// A cache id: letters, digits, `-` and `_`, 1–128 characters.
    package static func isCacheID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128
            && id.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F
            }
    }
}
