import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire

/// OpenAI `POST /v1/chat/completions`: decoded and routed on the event loop, then one
/// generation (`Generation.run`) rendered back in OpenAI's shape.
///
/// Invariant: what fails before the call is admitted is thrown — noted as a refusal of whoever
/// the caller turned out to be — and rendered once by `Gateway.handle`; media named by URL is
/// fetched before the upstream call, and such requests neither use nor fill the cache.
struct ChatCompletions: Sendable {
    let accountant: Accountant
    let routes: RouteTable
    let generation: Generation
    let signatures: any SignatureStore
    let tiers: ServiceTiers
    let cacheRules: CacheRules
    let media: MediaFill
    /// Unix seconds, injected so rendered answers are reproducible in tests.
    let now: @Sendable () -> Int

    func callAsFunction(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        var chat: ChatRequest
        let plan: RoutePlan
        let caller: Caller
        let identified = accountant.caller(request)
        do throws(FlashgateError) {
            caller = try identified.get()
            chat = try ChatRequest.translate(try request.jsonBody())
            // Logged as sent (escaped and capped) even when it is refused as malformed.
            request.record?.update { [model = chat.model] in $0.model = model }
            guard let found = try routes.resolve(model: chat.model) else {
                throw FlashgateError(
                    .notFound, "the model '\(chat.model)' does not exist or is not configured", param: "model")
            }
            plan = found
        } catch {
            throw request.refused(error, caller: try? identified.get())
        }
        request.record?.identify(caller, model: chat.model)
        if chat.gemini["serviceTier"] == nil, let tier = tiers.defaultTier(caller, model: chat.model) {
            chat.gemini["serviceTier"] = .string(tier.rawValue)
        }
        let method: NativeMethod = chat.stream ? .streamGenerateContent : .generateContent
        let mode = AnswerMode.openAI(chat, id: "chatcmpl-" + request.requestID, created: now())
        let primary = chatBody(chat, for: plan.primary, team: caller.team)
        var call = cacheRules.call(
            request, caller: caller, model: chat.model, body: primary.gemini,
            upstream: UpstreamCall(
                plan: plan, method: method, sse: true, start: .firstEvent,
                body: chatBodies(chat, primary: primary.bytes, plan: plan, team: caller.team)),
            mode: mode)
        guard !chat.pendingMedia.isEmpty else { return try generation.run(call) }
        // Media named by URL is fetched first. What a URL holds can change, so such requests
        // neither use nor fill the cache.
        call.policy = CachePolicy(headers: request.headers, enabled: false)
        return .deferred { [self, chat, call] writer in
            guard let filled = await media.fill(chat, writer: writer) else { return }
            var fetched = call
            let primary = chatBody(filled, for: plan.primary, team: caller.team)
            fetched.upstream.body = chatBodies(filled, primary: primary.bytes, plan: plan, team: caller.team)
            await generation.run(fetched, writer: writer)
        }
    }

    /// The Gemini body of a chat request for one route: thinking set for that route's model, and
    /// each stored thought signature put back only where that route issued it.
    private func chatBody(
        _ chat: ChatRequest, for target: ResolvedRoute, team: String
    ) -> (gemini: JSONValue, bytes: [UInt8]) {
        var chat = chat
        chat.applyThinking(upstreamModel: target.upstreamModel)
        chat.attachSignatures(route: target.route.name, upstreamModel: target.upstreamModel) { [signatures] id in
            signatures.lookup(team: team, toolCallID: id)
        }
        let gemini = JSONValue.object(chat.gemini)
        return (gemini, JSONWriter.encode(gemini))
    }

    /// Bodies per route for the retry owner: the primary's as already built, others on demand.
    private func chatBodies(
        _ chat: ChatRequest, primary: [UInt8], plan: RoutePlan, team: String
    )
        -> @Sendable (ResolvedRoute) -> [UInt8]
    {
        let first = plan.primary
        return { [self] target in
            if target.route.name == first.route.name && target.upstreamModel == first.upstreamModel { return primary }
            return chatBody(chat, for: target, team: team).bytes
        }
    }
}
