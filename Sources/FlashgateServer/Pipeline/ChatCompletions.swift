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
    /// Requests already translated, by bytes and caller (this gateway's config only).
    let memo = ChatTranslationMemo()

    func callAsFunction(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        var chat: ChatRequest
        let plan: RoutePlan
        let caller: Caller
        let identified = accountant.caller(request)
        let policy: CachePolicy
        let memoKey: ChatTranslationMemo.Key?
        var remembered: ChatTranslationMemo.Entry?
        do throws(FlashgateError) {
            caller = try identified.get()
            // Only a call the response cache serves takes part in the memo.
            policy = cacheRules.policy(request, caller: caller)
            memoKey = policy.bypass ? nil : memo.key(request.body, caller: caller)
            if let memoKey, let entry = memo.entry(memoKey) {
                remembered = entry
                chat = entry.chat
            } else {
                chat = try ChatRequest.translate(try request.jsonBody())
            }
            // Logged as sent (escaped and capped) even when it is refused as malformed.
            request.record?.update { [model = chat.model] in $0.model = model }
            plan = try routes.plan(model: chat.model)
        } catch {
            throw request.refused(error, caller: try? identified.get())
        }
        // Limits, the ledger and per-model config see the id as routing does; the answer echoes
        // the client's spelling.
        let model = plan.model
        request.record?.identify(caller, model: model)
        tiers.applyDefault(to: &chat.gemini, caller: caller, model: model)
        if let cap = accountant.team(caller)?.maxOutputTokens { OutputCap.apply(cap, to: &chat.gemini) }
        let method: NativeMethod = chat.stream ? .streamGenerateContent : .generateContent
        let mode = AnswerMode.openAI(chat, id: "chatcmpl-" + request.requestID, created: now())
        let signature = vault(team: caller.team)
        // The remembered body and key hold while the plan's primary is the one they were made for.
        let first = plan.primary
        let reused = remembered.flatMap {
            $0.route == first.route.name && $0.upstreamModel == first.upstreamModel ? $0 : nil
        }
        let primary = reused?.primary ?? chat.geminiBody(for: first, signature: signature)
        var call = cacheRules.call(
            request, caller: caller, model: model, body: primary,
            upstream: UpstreamCall(
                plan: plan, method: method, sse: true, start: .firstEvent,
                body: chat.geminiBodies(primary: primary, plan: plan, signature: signature)),
            mode: mode, knownKey: reused?.key, policy: policy)
        if let memoKey, reused == nil || (reused?.key == nil && call.key != nil) {
            memo.remember(
                memoKey,
                .init(
                    chat: chat, route: first.route.name, upstreamModel: first.upstreamModel, primary: primary,
                    key: call.key))
        }
        guard !chat.pendingMedia.isEmpty else { return try generation.run(call) }
        // Media named by URL is fetched first. What a URL holds can change, so such requests
        // neither use nor fill the cache.
        call.policy = CachePolicy(headers: request.headers, enabled: false)
        return .deferred { [self, chat, call] writer in
            guard let filled = await media.fill(chat, writer: writer) else { return }
            var fetched = call
            let primary = filled.geminiBody(for: plan.primary, signature: signature)
            fetched.upstream.body = filled.geminiBodies(primary: primary, plan: plan, signature: signature)
            // Reserved on what Gemini will read, the fetched bytes inline, not on the placeholder.
            fetched.body = primary
            await generation.run(fetched, writer: writer)
        }
    }

    /// Thought signatures the vault kept for the caller's team, by tool call id.
    private func vault(team: String) -> @Sendable (String) -> StoredSignature? {
        { [signatures] id in signatures.lookup(team: team, toolCallID: id) }
    }
}
