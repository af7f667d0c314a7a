import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire
import NIOCore

/// Gemini's native API, `POST /v1beta/models/{model}:{method}` (and `/v1/…`): generations go
/// through the cache and coalescing (`Generation.run`); token counts and embeddings are not
/// cached, but metered like generations (`Generation.metered`).
///
/// Invariant: the body goes upstream as sent (a default tier and signatures from other routes
/// aside) and the client's key is never forwarded; what fails before admission is thrown, noted
/// as a refusal, and rendered by `Gateway.handle` in Google's envelope.
struct NativeCalls: Sendable {
    let accountant: Accountant
    let routes: RouteTable
    let generation: Generation
    let signatures: any SignatureStore
    let tiers: ServiceTiers
    let cacheRules: CacheRules

    func callAsFunction(
        _ request: GatewayRequest, model: String, method: NativeMethod
    ) throws(FlashgateError)
        -> GatewayResult
    {
        let plan: RoutePlan
        let parsed: JSONValue
        let caller: Caller
        let identified = accountant.caller(request)
        do throws(FlashgateError) {
            parsed = try request.jsonBody()
            guard parsed.objectValue != nil else {
                throw FlashgateError.invalid("the request body must be a JSON object")
            }
            try ServiceTiers.checkNative(parsed)
            guard let found = try routes.resolve(model: model) else {
                throw FlashgateError(.notFound, "models/\(model) is not found or is not configured")
            }
            plan = found
            caller = try identified.get()
        } catch {
            throw request.refused(error, caller: try? identified.get())
        }
        let clientModel = plan.model
        request.record?.identify(caller, model: clientModel)
        // The body goes upstream as sent (signatures from other routes aside); the client's key
        // is never forwarded.
        var sent = Array(buffer: request.body)
        let sse = request.queryItem("alt") == "sse"
        if method == .generateContent || method == .streamGenerateContent {
            var parsed = parsed
            if let tiered = tiers.nativeBody(parsed, caller: caller, model: clientModel) {
                parsed = tiered
                sent = JSONWriter.encode(tiered)
            }
            if let cap = accountant.team(caller)?.maxOutputTokens, case .object(var object) = parsed,
                OutputCap.apply(cap, to: &object)
            {
                parsed = .object(object)
                sent = JSONWriter.encode(parsed)
            }
            // Generations go through the cache and coalescing; streams are read as SSE upstream
            // whatever form the client asked for, so every form renders from the same events.
            let mode: AnswerMode = method == .generateContent ? .nativeJSON : (sse ? .nativeSSE : .nativeArray)
            let upstream = UpstreamCall(
                plan: plan, method: method, sse: true, start: .firstEvent, body: nativeBodies(sent, team: caller.team))
            return try generation.run(
                cacheRules.call(
                    request, caller: caller, model: clientModel, body: parsed, upstream: upstream, mode: mode))
        }
        // Token counts and embeddings are not cached, but metered like generations.
        var transform: (@Sendable ([UInt8], ResolvedRoute) -> [UInt8])?
        if method == .batchEmbedContents {
            transform = { sent, target in
                Embeddings.nativeBatchEmbedBody(sent, clientModel: model, upstreamModel: target.upstreamModel)
            }
        }
        let upstream = UpstreamCall(
            plan: plan, method: method, sse: sse, start: .head,
            body: nativeBodies(sent, team: caller.team, transform: transform))
        let call = MeteredCall(
            kind: method == .countTokens ? .count : .embed, caller: caller, clientModel: clientModel, dialect: .google,
            record: request.record, upstream: upstream)
        return try generation.metered(call, body: parsed) { answer, _, _ in Generation.forwarded(answer) }
    }

    /// A native body for one route: as sent, except that thought signatures another route issued
    /// are replaced by the skip value.
    private func nativeBodies(
        _ sent: [UInt8], team: String, transform: (@Sendable ([UInt8], ResolvedRoute) -> [UInt8])? = nil
    )
        -> @Sendable (ResolvedRoute) -> [UInt8]
    {
        { [signatures] target in
            let body = transform?(sent, target) ?? sent
            return SignatureOrigins.rewrite(body) { signature in
                guard let stored = signatures.lookup(team: team, toolCallID: SignatureOrigins.key(signature)) else {
                    return false
                }
                return !SignatureOrigins.matches(stored.route, route: target.route.name, model: target.upstreamModel)
            }
        }
    }
}
