import FlashgateCore

/// Gemini's `cachedContents` calls for automatic context caching — create, keep alive (PATCH its
/// ttl), delete — on the route and with the key that own a cache. One attempt each: a failed
/// create just leaves the prefix uncached, so nothing here retries.
package struct ContextCacheClient: Sendable {
    package let routes: RouteTable

    package init(routes: RouteTable) { self.routes = routes }

    /// A cache Gemini created: its name and its size in tokens (`usageMetadata.totalTokenCount`).
    package struct Created: Sendable, Equatable {
        package var name: String
        /// Gemini's count of the cache's tokens, within 0...`BillableUsage.maxTokens`; nil when the
        /// answer has none.
        package var tokens: Int?
    }

    /// Creates a cache of `prefix` for `target`'s model, living `ttl`.
    package func create(
        _ prefix: ContextPrefix, on target: ResolvedRoute, keyIndex: Int, ttl: Duration
    ) async throws(FlashgateError) -> Created {
        var object = prefix.parts
        object["model"] = .string("models/" + ModelID.bare(target.upstreamModel))
        object["ttl"] = .string("\(ttl.milliseconds / 1000)s")
        object["displayName"] = .string("flashgate:" + String(prefix.key.hex.prefix(16)))
        let answer = try await send(
            routes.cachedContentsRequest(
                target.route, method: "POST", name: nil, body: JSONWriter.encode(.object(object)), keyIndex: keyIndex))
        guard let name = answer["name"]?.stringValue, name.hasPrefix("cachedContents/") else {
            throw FlashgateError(.upstreamProtocol, "the cachedContents create answer has no name")
        }
        return Created(name: name, tokens: Self.tokenCount(answer["usageMetadata"]?["totalTokenCount"]))
    }

    /// A token count an upstream reported, within what a call can bill (past it, or not a whole
    /// number: the most); nil when there is none.
    package static func tokenCount(_ value: JSONValue?) -> Int? {
        guard let value, !value.isNull else { return nil }
        guard let count = value.intValue else { return BillableUsage.maxTokens }
        return min(max(0, count), BillableUsage.maxTokens)
    }

    /// Extends a cache to live `ttl` from now.
    package func extend(
        _ name: String, on route: RouteConfig, keyIndex: Int, ttl: Duration
    ) async throws(FlashgateError) {
        let body: JSONValue = ["ttl": .string("\(ttl.milliseconds / 1000)s")]
        _ = try await send(
            routes.cachedContentsRequest(
                route, method: "PATCH", name: name, body: JSONWriter.encode(body), keyIndex: keyIndex))
    }

    /// Deletes a cache (its rent stops).
    package func delete(_ name: String, on route: RouteConfig, keyIndex: Int) async throws(FlashgateError) {
        _ = try await send(routes.cachedContentsRequest(route, method: "DELETE", name: name, keyIndex: keyIndex))
    }

    /// A client's own `cachedContents` call, passed through on `route` with its key: the answer
    /// as Gemini gave it, whatever its status.
    package func forward(
        _ route: RouteConfig, method: String, name: String?, body: [UInt8], keyIndex: Int, query: String? = nil
    ) async throws(FlashgateError) -> Collected {
        let request = try routes.cachedContentsRequest(
            route, method: method, name: name, body: body, keyIndex: keyIndex, query: query)
        do {
            return try await Collected.collect(routes.httpTransport.send(request))
        } catch let error as FlashgateError {
            throw error
        } catch {
            throw FlashgateError(wrapping: error)
        }
    }

    private func send(_ request: UpstreamRequest) async throws(FlashgateError) -> JSONValue {
        let transport = routes.httpTransport
        let collected: Collected
        do {
            collected = try await Collected.collect(transport.send(request))
        } catch let error as FlashgateError {
            throw error
        } catch {
            throw FlashgateError(wrapping: error)
        }
        guard collected.isSuccess else { throw .fromUpstream(status: collected.status, body: collected.body) }
        guard let answer = try? JSONParser.parse(collected.body) else {
            throw FlashgateError(.upstreamProtocol, "the upstream answered with invalid JSON")
        }
        return answer
    }
}
