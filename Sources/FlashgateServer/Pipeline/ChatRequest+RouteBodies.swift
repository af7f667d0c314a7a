import FlashgateCore
import FlashgateRouting
import FlashgateWire

/// The Gemini body of a chat-shaped request (OpenAI chat, Responses) for each route it may go to.
///
/// Invariant: thinking is set for that route's model, and a stored thought signature is put back
/// only where the route that issued it is called; the primary's body is built once (its bytes
/// only when an attempt sends it, so a cache hit never encodes them), the others on demand when
/// the retry owner fails over to them.
extension ChatRequest {
    /// The body for one route; `signature` finds the signature of a tool call by its id.
    func geminiBody(for target: ResolvedRoute, signature: (String) -> StoredSignature?) -> JSONValue {
        var chat = self
        chat.applyThinking(upstreamModel: target.upstreamModel)
        chat.dropPartResolutions(upstreamModel: target.upstreamModel)
        chat.attachSignatures(route: target.route.name, upstreamModel: target.upstreamModel, lookup: signature)
        return .object(chat.gemini)
    }

    /// Bodies per route for the retry owner: the primary's from the body already built, others
    /// built on demand.
    func geminiBodies(
        primary: JSONValue, plan: RoutePlan, signature: @escaping @Sendable (String) -> StoredSignature?
    ) -> @Sendable (ResolvedRoute) -> [UInt8] {
        let first = plan.primary
        return { [self] target in
            if target.route.name == first.route.name && target.upstreamModel == first.upstreamModel {
                return JSONWriter.encode(primary)
            }
            return JSONWriter.encode(geminiBody(for: target, signature: signature))
        }
    }
}
