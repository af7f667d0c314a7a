import FlashgateCore
import Synchronization

/// A call's use of a live context cache: on the cache's route, the body goes out on the cache
/// (`ContextPrefix.rewrite`) with the key that created it; on any other route, in full.
///
/// Invariant: once the cache is found gone (Gemini answered 400/403/404 naming it), `forget`
/// turns the rewrite off for the rest of the call — the retry owner then sends the full body,
/// once, inside its own attempt budget — and tells the owner of the cache, exactly once.
package final class ContextCacheUse: Sendable {
    package let name: String
    package let route: String
    package let keyIndex: Int
    package let prefix: ContextPrefix
    private let gone = Mutex(false)
    private let onGone: @Sendable () -> Void

    package init(
        name: String, route: String, keyIndex: Int, prefix: ContextPrefix, onGone: @escaping @Sendable () -> Void
    ) {
        self.name = name
        self.route = route
        self.keyIndex = keyIndex
        self.prefix = prefix
        self.onGone = onGone
    }

    /// Whether an attempt on `target` goes out on the cache.
    package func applies(to target: ResolvedRoute) -> Bool {
        target.route.name == route && !gone.withLock { $0 }
    }

    /// The key an attempt on `target` must use: the cache's own on its route.
    package func key(for target: ResolvedRoute) -> Int? { applies(to: target) ? keyIndex : nil }

    /// The body of an attempt on `target`: on the cache when it applies, else `full` as it is.
    package func body(_ full: [UInt8], for target: ResolvedRoute) -> [UInt8] {
        guard applies(to: target) else { return full }
        return prefix.rewrite(full, cacheName: name) ?? full
    }

    /// Whether a failed attempt on `route` says the cache is unknown to Gemini (deleted, expired,
    /// or not this key's): 400, 403 or 404 whose message names the cache.
    package func isGone(_ error: FlashgateError, route: String) -> Bool {
        guard route == self.route, !gone.withLock({ $0 }), let status = error.upstreamStatus,
            [400, 403, 404].contains(status)
        else { return false }
        let message = error.message.lowercased()
        return message.contains(name.lowercased()) || message.contains("cachedcontent")
            || message.contains("cached content") || message.contains("cache content")
    }

    /// Turns the rewrite off and tells the cache's owner, once.
    package func forget() {
        let first = gone.withLock { gone in
            defer { gone = true }
            return !gone
        }
        if first { onGone() }
    }
}
