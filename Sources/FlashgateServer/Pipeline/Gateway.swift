import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateStorage
import FlashgateWire
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The request pipeline. `handle` decides on the event loop: health, listings, bad input and
/// unknown models are answered at once; calls that need the upstream become async work.
/// Only decoding and rendering know the client's dialect.
package final class Gateway: Sendable {
    package let routes: RouteTable
    package let readiness: Readiness
    let config: FlashgateConfig
    let signatures: any SignatureStore
    /// The response cache; nil when it is off or could not be opened.
    let cache: ResponseCacheStore?
    let flights: FlightTable
    let prices: PriceTable
    let accountant: Accountant
    let logger: Logger
    /// Unix seconds, injected so rendered answers are reproducible in tests.
    let now: @Sendable () -> Int
    /// Unix milliseconds for cache times, injected for tests on a manual clock.
    let nowMilliseconds: @Sendable () -> Int64
    /// Fetches http(s) media that chat requests name (`Gateway+Media`).
    let media: any MediaFetcher
    /// Breakers, latencies and recent errors of every route (`/admin/routes`).
    package let health: RouteHealth
    /// The one road of every paid upstream call: it holds the accountant and the one retry owner.
    let generation: Generation
    /// Where finished requests are reported (access log, metrics); nil reports nothing.
    package let telemetry: (any TelemetrySink)?
    /// `GET /metrics`; nil when `metrics.enabled` is off.
    package let metrics: PrometheusTelemetry?
    /// The listeners' connections, for the in-flight gauge (nil in tests without a server).
    let connections: ConnectionRegistry?
    /// Whether any team or model sets a default service tier (most configs: no lookups per request).
    let hasTierDefaults: Bool

    package init(
        config: FlashgateConfig, routes: RouteTable, readiness: Readiness, signatures: any SignatureStore,
        cache: ResponseCacheStore?, accountant: Accountant, logger: Logger,
        now: @escaping @Sendable () -> Int, nowMilliseconds: @escaping @Sendable () -> Int64,
        media: any MediaFetcher = RefusingMediaFetcher(), clock: any RetryClock = SystemRetryClock(),
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        telemetry: (any TelemetrySink)? = nil, flights: FlightTable = FlightTable(), health: RouteHealth? = nil,
        metrics: PrometheusTelemetry? = nil, connections: ConnectionRegistry? = nil
    ) {
        self.telemetry = telemetry
        self.flights = flights
        self.metrics = metrics
        self.connections = connections
        hasTierDefaults = config.teams.contains { $0.serviceTier != nil } || config.models.contains { $0.serviceTier != nil }
        self.config = config
        self.routes = routes
        self.readiness = readiness
        self.signatures = signatures
        self.cache = cache
        self.prices = config.prices
        self.accountant = accountant
        self.logger = logger
        self.now = now
        self.nowMilliseconds = nowMilliseconds
        self.media = media
        let health = health ?? RouteHealth(breaker: config.breaker, clock: clock, wallMs: nowMilliseconds)
        self.health = health
        let retryOwner = RetryOwner(
            routes: routes, health: health, policy: config.retry, logger: logger, random: random,
            wallSeconds: { nowMilliseconds() / 1000 })
        generation = Generation(
            cache: cache, flights: flights, accountant: accountant, retryOwner: retryOwner, signatures: signatures,
            logger: logger, nowMilliseconds: nowMilliseconds)
    }

    package func handle(_ request: GatewayRequest) -> GatewayResult {
        let endpoint = Endpoint.match(method: request.method, path: request.path)
        request.record?.update { $0.endpoint = endpoint.label }
        switch endpoint {
        case .health:
            return .immediate(.json(["status": "ok"]))
        case .ready:
            let ready = readiness.isReady
            return .immediate(.json(["status": ready ? "ready" : "starting"], status: ready ? .ok : .serviceUnavailable))
        case .adminUsage:
            return admin(request) { [self] in try usageReport(request) }
        case .adminBudgets:
            return admin(request) { [self] in budgetReport() }
        case .adminRoutes:
            return admin(request) { [self] in health.report(routes: config.routes) }
        case .adminDashboard:
            return admin(request) { [self] in try dashboardReport(request) }
        case .dashboard:
            // The page holds no data; it asks /admin/dashboard.json with the admin key.
            return .immediate(DashboardPage.response)
        case .metrics:
            return scrapeMetrics()
        case .listModels:
            return listModels()
        case .nativeListModels:
            return nativeListModels()
        case .model(let id):
            return model(id)
        case .chatCompletions:
            return chatCompletions(request)
        case .embeddings:
            return embeddings(request)
        case .native(let model, let method):
            return native(request, model: model, method: method)
        case .notFound(let dialect):
            return .immediate(
                .error(FlashgateError(.notFound, "no endpoint \(request.method.rawValue) \(request.path)"), dialect: dialect))
        case .methodNotAllowed(let dialect, let allowed):
            var response = GatewayResponse.error(
                FlashgateError(.methodNotAllowed, "\(request.path) accepts \(allowed) only"), dialect: dialect)
            response.headers.append(("allow", allowed))
            return .immediate(response)
        }
    }

    /// `GET /metrics`: gauges refreshed, then every family in the text format. Off the event
    /// loop, since the cache gauges read the store.
    private func scrapeMetrics() -> GatewayResult {
        guard let metrics else {
            return .immediate(.error(FlashgateError(.notFound, "metrics are off (metrics.enabled: false)"), dialect: .openAI))
        }
        let sources = PrometheusTelemetry.Sources(health: health, accountant: accountant, cache: cache, connections: connections)
        return .deferred { writer in
            let body = metrics.scrape(sources)
            await writer.respond(GatewayResponse(status: .ok, headers: [("content-type", PrometheusTelemetry.contentType)], body: body))
        }
    }

    /// Parses a JSON body, or explains in a 400 why it is not JSON.
    static func parseBody(_ request: GatewayRequest) throws(FlashgateError) -> JSONValue {
        guard request.body.readableBytes > 0 else { throw .invalid("the request body is empty; expected a JSON object") }
        do throws(JSONParseError) {
            return try request.body.withUnsafeReadableBytes { buffer throws(JSONParseError) in
                try JSONParser.parse(buffer)
            }
        } catch {
            throw .invalid("the request body is not valid JSON: \(error)")
        }
    }

    private func chatCompletions(_ request: GatewayRequest) -> GatewayResult {
        var chat: ChatRequest
        let plan: RoutePlan
        let caller: Caller
        let identified = accountant.caller(request)
        do throws(FlashgateError) {
            caller = try identified.get()
            chat = try ChatRequest.translate(try Self.parseBody(request))
            // Logged as sent (escaped and capped) even when it is refused as malformed.
            request.record?.update { [model = chat.model] in $0.model = model }
            guard let found = try routes.resolve(model: chat.model) else {
                throw FlashgateError(.notFound, "the model '\(chat.model)' does not exist or is not configured", param: "model")
            }
            plan = found
        } catch {
            return refuse(error, request, caller: try? identified.get(), dialect: .openAI)
        }
        request.record?.update { record in
            record.team = caller.team
            record.key = caller.key
            record.model = chat.model
        }
        if chat.gemini["serviceTier"] == nil, let tier = defaultTier(caller, model: chat.model) {
            chat.gemini["serviceTier"] = .string(tier.rawValue)
        }
        let method: NativeMethod = chat.stream ? .streamGenerateContent : .generateContent
        let mode = AnswerMode.openAI(chat, id: "chatcmpl-" + request.requestID, created: now())
        let primary = chatBody(chat, for: plan.primary, team: caller.team)
        var call = generateCall(
            request, caller: caller, model: chat.model, body: primary.gemini,
            upstream: UpstreamCall(
                plan: plan, method: method, sse: true, start: .firstEvent,
                body: chatBodies(chat, primary: primary.bytes, plan: plan, team: caller.team)),
            mode: mode)
        guard !chat.pendingMedia.isEmpty else { return generation.run(call) }
        // Media named by URL is fetched first. What a URL holds can change, so such requests
        // neither use nor fill the cache.
        call.policy = CachePolicy(headers: request.headers, enabled: false)
        return .deferred { [self, chat, call] writer in
            guard let filled = await chatWithMedia(chat, writer: writer) else { return }
            var fetched = call
            let primary = chatBody(filled, for: plan.primary, team: caller.team)
            fetched.upstream.body = chatBodies(filled, primary: primary.bytes, plan: plan, team: caller.team)
            switch generation.run(fetched) {
            case .immediate(let response): await writer.respond(response)
            case .deferred(let work): await work(writer)
            }
        }
    }

    /// The Gemini body of a chat request for one route: thinking set for that route's model, and
    /// each stored thought signature put back only where that route issued it.
    private func chatBody(_ chat: ChatRequest, for target: ResolvedRoute, team: String) -> (gemini: JSONValue, bytes: [UInt8]) {
        var chat = chat
        chat.applyThinking(upstreamModel: target.upstreamModel)
        chat.attachSignatures(route: target.route.name, upstreamModel: target.upstreamModel) { [signatures] id in
            signatures.lookup(team: team, toolCallID: id)
        }
        let gemini = JSONValue.object(chat.gemini)
        return (gemini, JSONWriter.encode(gemini))
    }

    /// Bodies per route for the retry owner: the primary's as already built, others on demand.
    private func chatBodies(_ chat: ChatRequest, primary: [UInt8], plan: RoutePlan, team: String)
        -> @Sendable (ResolvedRoute) -> [UInt8]
    {
        let first = plan.primary
        return { [self] target in
            if target.route.name == first.route.name && target.upstreamModel == first.upstreamModel { return primary }
            return chatBody(chat, for: target, team: team).bytes
        }
    }

    /// A native body for one route: as sent, except that thought signatures another route issued
    /// are replaced by the skip value.
    private func nativeBodies(_ sent: [UInt8], team: String, transform: (@Sendable ([UInt8], ResolvedRoute) -> [UInt8])? = nil)
        -> @Sendable (ResolvedRoute) -> [UInt8]
    {
        { [signatures] target in
            let body = transform?(sent, target) ?? sent
            return SignatureOrigins.rewrite(body) { signature in
                guard let stored = signatures.lookup(team: team, toolCallID: SignatureOrigins.key(signature)) else {
                    return false
                }
                return stored.route != target.route.name
            }
        }
    }

    /// The cache key, policy and TTL of one generation.
    private func generateCall(
        _ request: GatewayRequest, caller: Caller, model: String, body: JSONValue, upstream: UpstreamCall,
        mode: AnswerMode
    ) -> GenerateCall {
        let team = caller.team
        let teamCache = accountant.team(caller)?.cache ?? true
        var ttl = config.cacheTTL(model: model, route: upstream.plan.route, team: team)
        if let header = request.headers.first(name: "x-flashgate-cache-ttl"), let seconds = Int(header), seconds >= 0 {
            ttl = .seconds(seconds)
        }
        return GenerateCall(
            key: CacheKey.make(endpoint: .generate, model: model, team: team, config: config, body: body),
            policy: CachePolicy(headers: request.headers, enabled: cache != nil && config.cache.enabled && teamCache),
            ttl: ttl, upstream: upstream, mode: mode, clientModel: model, caller: caller, body: body, record: request.record)
    }

    private func native(_ request: GatewayRequest, model: String, method: NativeMethod) -> GatewayResult {
        let plan: RoutePlan
        let parsed: JSONValue
        let caller: Caller
        let identified = accountant.caller(request)
        do throws(FlashgateError) {
            parsed = try Self.parseBody(request)
            guard parsed.objectValue != nil else {
                throw FlashgateError.invalid("the request body must be a JSON object")
            }
            try Self.checkNativeTier(parsed)
            guard let found = try routes.resolve(model: model) else {
                throw FlashgateError(.notFound, "models/\(model) is not found or is not configured")
            }
            plan = found
            caller = try identified.get()
        } catch {
            return refuse(error, request, caller: try? identified.get(), dialect: .google)
        }
        request.record?.update { record in
            record.team = caller.team
            record.key = caller.key
            record.model = model
        }
        // The body goes upstream as sent (signatures from other routes aside); the client's key
        // is never forwarded.
        var sent = Array(buffer: request.body)
        let sse = request.queryItem("alt") == "sse"
        if method == .generateContent || method == .streamGenerateContent {
            var parsed = parsed
            if let tiered = nativeBodyWithDefaultTier(parsed, caller: caller, model: model) {
                parsed = tiered
                sent = JSONWriter.encode(tiered)
            }
            // Generations go through the cache and coalescing; streams are read as SSE upstream
            // whatever form the client asked for, so every form renders from the same events.
            let mode: AnswerMode = method == .generateContent ? .nativeJSON : (sse ? .nativeSSE : .nativeArray)
            let upstream = UpstreamCall(
                plan: plan, method: method, sse: true, start: .firstEvent, body: nativeBodies(sent, team: caller.team))
            return generation.run(generateCall(request, caller: caller, model: model, body: parsed, upstream: upstream, mode: mode))
        }
        // Token counts and embeddings are not cached, but metered like generations.
        var transform: (@Sendable ([UInt8], ResolvedRoute) -> [UInt8])?
        if method == .batchEmbedContents {
            transform = { sent, target in
                Self.nativeBatchEmbedBody(sent, clientModel: model, upstreamModel: target.upstreamModel)
            }
        }
        let upstream = UpstreamCall(
            plan: plan, method: method, sse: sse, start: .head, body: nativeBodies(sent, team: caller.team, transform: transform))
        let call = MeteredCall(
            kind: method == .countTokens ? .count : .embed, caller: caller, clientModel: model, dialect: .google,
            record: request.record, upstream: upstream)
        return generation.metered(call, body: parsed) { answer, _, _ in Generation.forwarded(answer) }
    }
}

/// Whether the listeners and the store are open; `/readyz` reports it.
package final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)

    package init() {}

    package var isReady: Bool { ready.load(ordering: .relaxed) }

    package func set(_ value: Bool) { ready.store(value, ordering: .relaxed) }
}
