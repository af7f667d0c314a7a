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
    /// `responses.max_team_bytes`.
    let maxTeamBytes: Int
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
            // Refused before anything is spent, so the caller knows: a `store: true` answer that
            // then could not be stored would be a 404 later with nothing said.
            if responses.store {
                let stored = conversations.storedBytes(team: caller.team)
                guard stored < maxTeamBytes else {
                    throw FlashgateError.invalid(
                        "the team's stored responses take \(stored >> 20) MiB, its limit (responses.max_team_bytes) "
                            + "is \(maxTeamBytes >> 20) MiB: delete some (DELETE /v1/responses/{id}), wait for them "
                            + "to expire, or send store: false", param: "store")
                }
            }
            plan = try routes.plan(model: responses.chat.model)
        } catch {
            throw request.refused(error, caller: try? identified.get())
        }
        // Limits, the ledger and per-model config see the id as routing does; the answer echoes
        // the client's spelling.
        let model = plan.model
        request.record?.identify(caller, model: model)
        tiers.applyDefault(to: &responses.chat.gemini, caller: caller, model: model)
        if let cap = accountant.team(caller)?.maxOutputTokens { OutputCap.apply(cap, to: &responses.chat.gemini) }
        let team = caller.team
        // Sealed under the route that issued the signature (kept by the pipeline as the answer
        // arrives: after a failover or a hedge that is not the primary), the primary when unknown.
        let issuedPrimary = plan.primary
        let answer = ResponsesAnswer(
            id: "resp_" + RequestID.next(), created: now(), model: responses.chat.model, stream: responses.stream,
            echo: responses.echo,
            includeEncrypted: responses.includeEncrypted,
            seal: { [seal, signatures] signature in
                let issuer =
                    signatures.lookup(team: team, toolCallID: SignatureOrigins.key(signature))?.route
                    ?? SignatureOrigins.origin(route: issuedPrimary.route.name, model: issuedPrimary.upstreamModel)
                return seal.seal(signature, route: issuer, team: team)
            })
        let signature = self.signature(responses, team: team)
        let primary = responses.chat.geminiBody(for: plan.primary, signature: signature)
        var call = cacheRules.call(
            request, caller: caller, model: model, body: primary,
            upstream: UpstreamCall(
                plan: plan, method: responses.stream ? .streamGenerateContent : .generateContent, sse: true,
                start: .firstEvent,
                body: responses.chat.geminiBodies(primary: primary, plan: plan, signature: signature)),
            mode: .responses(answer))
        if responses.store { call.completed = keep(responses.items, id: answer.id, team: team) }
        guard !responses.chat.pendingMedia.isEmpty else { return try generation.run(call) }
        // Media named by URL is fetched first; such requests neither use nor fill the cache.
        call.policy = CachePolicy(headers: request.headers, enabled: false)
        return .deferred { [self, responses, call] writer in
            guard let filled = await media.fill(responses.chat, writer: writer, rename: responses.paramNames.renamed)
            else { return }
            var fetched = call
            let primary = filled.geminiBody(for: plan.primary, signature: signature)
            fetched.upstream.body = filled.geminiBodies(primary: primary, plan: plan, signature: signature)
            // Reserved on what Gemini will read, the fetched bytes inline, not on the placeholder.
            fetched.body = primary
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
                    response: outcome.response, items: input + outcome.items, expiresAtMs: ttl.expiry(after: now)),
                nowMs: now)
        }
    }

    /// A tool call's thought signature: the sealed one the request carried back first, else the
    /// vault's for the caller's team.
    private func signature(_ responses: ResponsesRequest, team: String) -> @Sendable (String) -> StoredSignature? {
        { [signatures, sealed = responses.sealedSignatures] id in
            sealed[id] ?? signatures.lookup(team: team, toolCallID: id)
        }
    }
}
