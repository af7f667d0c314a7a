import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire

/// OpenAI `POST /v1/responses`, and `GET` / `DELETE /v1/responses/{id}` for stored answers.
/// A Responses request is translated onto the same Gemini body chat builds and runs through the
/// one generation pipeline (`Generation.run`), so cache, coalescing, rate limits, budgets, the
/// ledger, retries and failover hold as they do for chat.
///
/// Invariants: thought signatures go back only to the route that issued them — whether they come
/// from a reasoning item's sealed `encrypted_content` or from the signature vault; a stored
/// answer is read, continued and deleted only by its own team (another team's id is a 404);
/// `store: false` keeps nothing.
struct Responses: Sendable {
    let accountant: Accountant
    let routes: RouteTable
    let generation: Generation
    let signatures: any SignatureStore
    let tiers: ServiceTiers
    let cacheRules: CacheRules
    let media: MediaFill
    let conversations: any ConversationStore
    let seal: SignatureSeal
    /// `responses.ttl`.
    let ttl: Duration
    /// Unix seconds and milliseconds, injected so answers and expiries are reproducible in tests.
    let now: @Sendable () -> Int
    let nowMilliseconds: @Sendable () -> Int64

    func create(_ request: GatewayRequest) throws(FlashgateError) -> GatewayResult {
        var responses: ResponsesRequest
        let plan: RoutePlan
        let caller: Caller
        let identified = accountant.caller(request)
        do throws(FlashgateError) {
            caller = try identified.get()
            let body = try request.jsonBody()
            responses = try ResponsesRequest.translate(body, history: try history(body, team: caller.team)) {
                [seal, team = caller.team] sealed in seal.open(sealed, team: team)
            }
            request.record?.update { [model = responses.chat.model] in $0.model = model }
            guard let found = try routes.resolve(model: responses.chat.model) else {
                throw FlashgateError(
                    .notFound, "the model '\(responses.chat.model)' does not exist or is not configured", param: "model"
                )
            }
            plan = found
        } catch {
            throw request.refused(error, caller: try? identified.get())
        }
        let model = responses.chat.model
        request.record?.identify(caller, model: model)
        if responses.chat.gemini["serviceTier"] == nil, let tier = tiers.defaultTier(caller, model: model) {
            responses.chat.gemini["serviceTier"] = .string(tier.rawValue)
        }
        let team = caller.team
        let issuer = plan.primary.route.name
        let answer = ResponsesAnswer(
            id: "resp_" + RequestID.next(), created: now(), model: model, stream: responses.stream,
            echo: responses.echo,
            includeEncrypted: responses.includeEncrypted,
            seal: { [seal] signature in seal.seal(signature, route: issuer, team: team) })
        let primary = body(responses, for: plan.primary, team: team)
        var call = cacheRules.call(
            request, caller: caller, model: model, body: primary.gemini,
            upstream: UpstreamCall(
                plan: plan, method: responses.stream ? .streamGenerateContent : .generateContent, sse: true,
                start: .firstEvent, body: bodies(responses, primary: primary.bytes, plan: plan, team: team)),
            mode: .responses(answer))
        if responses.store { call.completed = keep(responses.items, id: answer.id, team: team) }
        guard !responses.chat.pendingMedia.isEmpty else { return try generation.run(call) }
        // Media named by URL is fetched first; such requests neither use nor fill the cache.
        call.policy = CachePolicy(headers: request.headers, enabled: false)
        return .deferred { [self, responses, call] writer in
            guard let filled = await media.fill(responses.chat, writer: writer) else { return }
            var fetched = call
            var withMedia = responses
            withMedia.chat = filled
            let primary = body(withMedia, for: plan.primary, team: team)
            fetched.upstream.body = bodies(withMedia, primary: primary.bytes, plan: plan, team: team)
            await generation.run(fetched, writer: writer)
        }
    }

    /// The items of the stored response `previous_response_id` names; a 404 when the caller's team
    /// has none by that id (never stored, expired, deleted, or another team's).
    private func history(_ body: JSONValue, team: String) throws(FlashgateError) -> [JSONValue] {
        guard let id = body["previous_response_id"]?.stringValue else { return [] }
        guard let stored = conversations.load(team: team, id: id, nowMs: nowMilliseconds()) else {
            throw FlashgateError(.notFound, "no stored response with id '\(id)'", param: "previous_response_id")
        }
        return stored.items
    }

    /// Stores a finished answer with the items that led to it; a failed one is not stored.
    private func keep(_ input: [JSONValue], id: String, team: String) -> @Sendable (ResponsesOutcome) -> Void {
        { [conversations, ttl, nowMilliseconds] outcome in
            guard outcome.status != "failed" else { return }
            let now = nowMilliseconds()
            conversations.save(
                team: team, id: id,
                StoredConversation(
                    response: outcome.response, items: input + outcome.items, expiresAtMs: now + ttl.milliseconds),
                nowMs: now)
        }
    }

    /// The Gemini body for one route: thinking for its model, and each signature put back only
    /// where that route issued it — a sealed one from the request first, else the vault's.
    private func body(
        _ responses: ResponsesRequest, for target: ResolvedRoute, team: String
    ) -> (gemini: JSONValue, bytes: [UInt8]) {
        var chat = responses.chat
        chat.applyThinking(upstreamModel: target.upstreamModel)
        chat.attachSignatures(route: target.route.name, upstreamModel: target.upstreamModel) { [signatures] id in
            responses.sealedSignatures[id] ?? signatures.lookup(team: team, toolCallID: id)
        }
        let gemini = JSONValue.object(chat.gemini)
        return (gemini, JSONWriter.encode(gemini))
    }

    private func bodies(
        _ responses: ResponsesRequest, primary: [UInt8], plan: RoutePlan, team: String
    ) -> @Sendable (ResolvedRoute) -> [UInt8] {
        let first = plan.primary
        return { [self] target in
            if target.route.name == first.route.name && target.upstreamModel == first.upstreamModel { return primary }
            return body(responses, for: target, team: team).bytes
        }
    }
}
