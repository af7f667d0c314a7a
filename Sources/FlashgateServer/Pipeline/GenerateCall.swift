import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire

/// One generation on its way: where it goes, how it is cached, and how the client wants it.
struct GenerateCall: Sendable {
    /// Nil exactly when the policy bypasses the cache (`no-store`, the cache off for the call):
    /// such a call neither reads, stores nor joins, so its request is not hashed.
    var key: CacheKey?
    var policy: CachePolicy
    var ttl: Duration
    /// The retry owner's call: the routes, the method and the body for each route.
    var upstream: UpstreamCall
    var mode: AnswerMode
    var clientModel: String
    var caller: Caller
    /// The canonical Gemini request, for the cost estimate.
    var body: JSONValue
    /// The leader's request record (the one that makes the upstream call).
    var record: RequestRecord?
    /// Called with a finished Responses answer (live, joined or a hit), to store it.
    var completed: (@Sendable (ResponsesOutcome) -> Void)?
    /// Whether automatic context caching may use or learn from this call
    /// (`x-flashgate-context-cache: off` turns it off).
    var contextCache = true
    /// The team a stored answer is filed under: the caller's, or "" under a shared cache scope
    /// (what `flashgate cache purge --team ""` selects).
    var cacheTeam = ""

    var team: String { caller.team }
    /// Where the call goes first; its price is reserved and its name is on hits and joins.
    var primary: ResolvedRoute { upstream.plan.primary }
}
