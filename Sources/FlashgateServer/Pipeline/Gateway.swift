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
///
/// Invariant: each endpoint is a small type holding only what it uses, built once here;
/// `handle` dispatches to it, and an error an endpoint throws before answering is rendered in
/// ONE place, in the dialect `Endpoint.dialect(ofPath:)` chooses. Errors after a response is
/// deferred are answered where they occur.
package final class Gateway: Sendable {
    package let routes: RouteTable
    package let readiness: Readiness
    /// The running configuration; a reload compares the new one with it.
    let config: FlashgateConfig
    /// Thought signatures by tool call; a reload hands the same store to the next gateway.
    let signatures: any SignatureStore
    /// Unix seconds, injected so rendered answers are reproducible in tests; kept across reloads.
    let now: @Sendable () -> Int
    /// The response cache; nil when it is off or could not be opened.
    let cache: ResponseCacheStore?
    let flights: FlightTable
    let accountant: Accountant
    /// Automatic context caching; its book of prefixes and live caches outlives a reload.
    let contextCaches: ContextCaches
    let contextCacheBook: ContextCacheBook
    /// Breakers, latencies and recent errors of every route (`/admin/routes`).
    package let health: RouteHealth
    /// Where finished requests are reported (access log, metrics); nil reports nothing.
    package let telemetry: (any TelemetrySink)?
    /// `GET /metrics`; nil when `metrics.enabled` is off.
    package let metrics: PrometheusTelemetry?
    /// The listeners' connections, for the in-flight gauge (nil in tests without a server).
    let connections: ConnectionRegistry?
    let chatCompletions: ChatCompletions
    let responses: Responses
    let nativeCalls: NativeCalls
    let embeddings: Embeddings
    let cachedContents: CachedContents
    let models: Models
    let admin: AdminAPI

    package init(
        config: FlashgateConfig, routes: RouteTable, readiness: Readiness, signatures: any SignatureStore,
        cache: ResponseCacheStore?, accountant: Accountant, logger: Logger,
        now: @escaping @Sendable () -> Int, nowMilliseconds: @escaping @Sendable () -> Int64,
        media: any MediaFetcher = RefusingMediaFetcher(), clock: any RetryClock = SystemRetryClock(),
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        telemetry: (any TelemetrySink)? = nil, flights: FlightTable = FlightTable(), health: RouteHealth? = nil,
        metrics: PrometheusTelemetry? = nil, connections: ConnectionRegistry? = nil,
        conversations: any ConversationStore = MemoryConversationStore(), seal: SignatureSeal = .ephemeral(),
        contextCacheBook: ContextCacheBook = ContextCacheBook()
    ) {
        self.telemetry = telemetry
        self.flights = flights
        self.metrics = metrics
        self.connections = connections
        self.routes = routes
        self.readiness = readiness
        self.config = config
        self.signatures = signatures
        self.now = now
        self.cache = cache
        self.accountant = accountant
        let health = health ?? RouteHealth(breaker: config.breaker, clock: clock, wallMs: nowMilliseconds)
        self.health = health
        let retryOwner = RetryOwner(
            routes: routes, health: health, policy: config.retry, logger: logger, random: random,
            wallSeconds: { nowMilliseconds() / 1000 })
        let contextCaches = ContextCaches(
            config: config.contextCache, book: contextCacheBook, accountant: accountant, routes: routes, clock: clock,
            nowMilliseconds: nowMilliseconds, logger: logger)
        self.contextCaches = contextCaches
        self.contextCacheBook = contextCacheBook
        let generation = Generation(
            cache: cache, flights: flights, accountant: accountant, retryOwner: retryOwner, signatures: signatures,
            logger: logger, nowMilliseconds: nowMilliseconds, contextCaches: contextCaches)
        let tiers = ServiceTiers(config: config)
        let cacheRules = CacheRules(config: config, accountant: accountant, storeOpen: cache != nil)
        chatCompletions = ChatCompletions(
            accountant: accountant, routes: routes, generation: generation, signatures: signatures, tiers: tiers,
            cacheRules: cacheRules, media: MediaFill(media: media), now: now)
        responses = Responses(
            accountant: accountant, routes: routes, generation: generation, signatures: signatures, tiers: tiers,
            cacheRules: cacheRules, media: MediaFill(media: media), conversations: conversations, seal: seal,
            ttl: config.responses.ttl, maxTeamBytes: config.responses.maxTeamBytes, now: now,
            nowMilliseconds: nowMilliseconds)
        nativeCalls = NativeCalls(
            accountant: accountant, routes: routes, generation: generation, signatures: signatures, tiers: tiers,
            cacheRules: cacheRules)
        embeddings = Embeddings(accountant: accountant, routes: routes, generation: generation)
        cachedContents = CachedContents(caches: contextCaches)
        models = Models(routes: routes, logger: logger)
        admin = AdminAPI(
            config: config, accountant: accountant, routes: routes, health: health, prices: config.prices,
            nowMilliseconds: nowMilliseconds)
    }

    package func handle(_ request: GatewayRequest) -> GatewayResult {
        let endpoint = Endpoint.match(method: request.method, path: request.path)
        request.record?.update { $0.endpoint = endpoint.label }
        let dialect = Endpoint.dialect(ofPath: request.path)
        do throws(FlashgateError) {
            return try answer(endpoint, request, dialect: dialect)
        } catch {
            return .immediate(.error(error, dialect: dialect))
        }
    }

    /// The endpoint's answer; what it refuses before answering is thrown to `handle`.
    private func answer(
        _ endpoint: Endpoint, _ request: GatewayRequest, dialect: Dialect
    ) throws(FlashgateError)
        -> GatewayResult
    {
        switch endpoint {
        case .health:
            return .immediate(.json(["status": "ok"]))
        case .ready:
            let ready = readiness.isReady
            var body: JSONObject = ["status": ready ? "ready" : "starting"]
            // Shared budgets: still ready while Redis is away (held leases serve); the state is shown.
            if let shared = accountant.shared { body["shared"] = BudgetReport.sharedJSON(shared) }
            return .immediate(.json(.object(body), status: ready ? .ok : .serviceUnavailable))
        case .adminUsage:
            return try admin.usage(request)
        case .adminBudgets:
            return try admin.budgets(request)
        case .adminRoutes:
            return try admin.routeHealth(request)
        case .adminDashboard:
            return try admin.dashboard(request)
        case .dashboard:
            // The page holds no data; it asks /admin/dashboard.json with the admin key.
            return .immediate(DashboardPage.response)
        case .metrics:
            return try scrapeMetrics()
        case .listModels:
            return models.list()
        case .nativeListModels:
            return try models.nativeList(pageSize: request.queryItem("pageSize"), pageToken: request.queryItem("pageToken"))
        case .model(let id):
            return try models.model(id)
        case .nativeModel(let id):
            return try models.nativeModel(id)
        case .chatCompletions:
            return try chatCompletions(request)
        case .responses:
            return try responses.create(request)
        case .storedResponse(let id):
            return try responses.stored(request, id: id)
        case .embeddings:
            return try embeddings(request)
        case .native(let model, let method):
            return try nativeCalls(request, model: model, method: method)
        case .cachedContents(let id):
            return try cachedContents(request, id: id)
        case .notFound:
            throw FlashgateError(.notFound, "no endpoint \(request.method.rawValue) \(request.path)")
        case .methodNotAllowed(let allowed):
            // The one error with a header of its own: rendered here, in the same dialect.
            var response = GatewayResponse.error(
                FlashgateError(.methodNotAllowed, "\(request.path) accepts \(allowed) only"), dialect: dialect)
            response.headers.append(("allow", allowed))
            return .immediate(response)
        }
    }

    /// `GET /metrics`: gauges refreshed, then every family in the text format. Off the event
    /// loop, since the cache gauges read the store.
    private func scrapeMetrics() throws(FlashgateError) -> GatewayResult {
        guard let metrics else {
            throw FlashgateError(.notFound, "metrics are off (metrics.enabled: false)")
        }
        let sources = PrometheusTelemetry.Sources(
            health: health, accountant: accountant, cache: cache, connections: connections,
            contextCaches: contextCacheBook)
        return .deferred { writer in
            let body = metrics.scrape(sources)
            await writer.respond(
                GatewayResponse(status: .ok, headers: [("content-type", PrometheusTelemetry.contentType)], body: body))
        }
    }
}

/// Whether the listeners and the store are open; `/readyz` reports it.
package final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)

    package init() {}

    package var isReady: Bool { ready.load(ordering: .relaxed) }

    package func set(_ value: Bool) { ready.store(value, ordering: .relaxed) }
}
