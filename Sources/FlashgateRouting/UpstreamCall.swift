import FlashgateCore
import FlashgateWire

/// One call the retry owner makes on a client's behalf: where it may go, which method, and the
/// body for each route (a conversation's thought signatures differ per route).
package struct UpstreamCall: Sendable {
    package enum Start: Sendable {
        /// Started once the first Gemini event is read: generations, served through flights.
        case firstEvent
        /// Started at a 2xx head: answers passed through as bytes (token counts, embeddings).
        case head
    }

    package var plan: RoutePlan
    package var method: NativeMethod
    /// Ask for SSE upstream (streamGenerateContent only).
    package var sse: Bool
    package var start: Start
    package var body: @Sendable (ResolvedRoute) -> [UInt8]
    /// A live context cache this call reads on the cache's route (nil: every route gets `body`).
    package var contextCache: ContextCacheUse?

    package init(
        plan: RoutePlan, method: NativeMethod, sse: Bool, start: Start,
        body: @escaping @Sendable (ResolvedRoute) -> [UInt8]
    ) {
        self.plan = plan
        self.method = method
        self.sse = sse
        self.start = start
        self.body = body
    }
}

extension UpstreamCall {
    /// The body of an attempt on `target`: on the call's context cache where it applies.
    package func bodyOnCache(_ target: ResolvedRoute) -> [UInt8] {
        let full = body(target)
        return contextCache?.body(full, for: target) ?? full
    }
}
