import FlashgateCore
import FlashgateRouting
import FlashgateWire

/// The Gemini body of a chat-shaped request (OpenAI chat, Responses) for each route it may go to.
///
/// Invariant: thinking is set for that route's model, and a stored thought signature is put back
/// only where the route that issued it is called; the primary's body is built once, the others on
/// demand when the retry owner fails over to them.
extension ChatRequest {
    /// The body for one route; `signature` finds the signature of a tool call by its id.
    func geminiBody(
        for target: ResolvedRoute, signature: (String) -> StoredSignature?
    ) -> (gemini: JSONValue, bytes: [UInt8]) {
        var chat = self
        chat.applyThinking(upstreamModel: target.upstreamModel)
        chat.attachSignatures(route: target.route.name, upstreamModel: target.upstreamModel, lookup: signature)
        let gemini = JSONValue.object(chat.gemini)
        return (gemini, JSONWriter.encode(gemini))
    }

    /// Bodies per route for the retry owner: the primary's as already built, others on demand.
    func geminiBodies(
        primary: [UInt8], plan: RoutePlan, signature: @escaping @Sendable (String) -> StoredSignature?
    ) -> @Sendable (ResolvedRoute) -> [UInt8] {
        let first = plan.primary
        return { [self] target in
            if target.route.name == first.route.name && target.upstreamModel == first.upstreamModel { return primary }
            return geminiBody(for: target, signature: signature).bytes
        }
    }
}
