import FlashgateCore
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
    let flights = FlightTable()
    let prices: PriceTable
    let accountant: Accountant
    let logger: Logger
    /// Unix seconds, injected so rendered answers are reproducible in tests.
    let now: @Sendable () -> Int
    /// Unix milliseconds for cache times, injected for tests on a manual clock.
    let nowMilliseconds: @Sendable () -> Int64
    /// Fetches http(s) media that chat requests name (`Gateway+Media`).
    let media: any MediaFetcher

    package init(
        config: FlashgateConfig, routes: RouteTable, readiness: Readiness, signatures: any SignatureStore,
        cache: ResponseCacheStore?, accountant: Accountant, logger: Logger,
        now: @escaping @Sendable () -> Int, nowMilliseconds: @escaping @Sendable () -> Int64,
        media: any MediaFetcher = RefusingMediaFetcher()
    ) {
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
    }

    package func handle(_ request: GatewayRequest) -> GatewayResult {
        switch Endpoint.match(method: request.method, path: request.path) {
        case .health:
            return .immediate(.json(["status": "ok"]))
        case .ready:
            let ready = readiness.isReady
            return .immediate(.json(["status": ready ? "ready" : "starting"], status: ready ? .ok : .serviceUnavailable))
        case .adminUsage:
            return admin(request) { [self] in try usageReport(request) }
        case .adminBudgets:
            return admin(request) { [self] in budgetReport() }
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
        let resolved: ResolvedRoute
        let caller: Caller
        do throws(FlashgateError) {
            caller = try accountant.caller(request).get()
            chat = try ChatRequest.translate(try Self.parseBody(request))
            guard let route = routes.resolve(model: chat.model) else {
                throw FlashgateError(.notFound, "the model '\(chat.model)' does not exist or is not configured", param: "model")
            }
            resolved = route
        } catch {
            return .immediate(.error(error, dialect: .openAI))
        }
        chat.applyThinking(upstreamModel: resolved.upstreamModel)
        chat.attachSignatures(route: resolved.route.name, upstreamModel: resolved.upstreamModel) { id in
            signatures.lookup(team: caller.team, toolCallID: id)
        }
        let body = JSONWriter.encode(.object(chat.gemini))
        let upstream = routes.request(
            resolved, method: chat.stream ? .streamGenerateContent : .generateContent, sse: true, body: body)
        let mode = AnswerMode.openAI(chat, id: "chatcmpl-" + request.requestID, created: now())
        var call = generateCall(
            request, caller: caller, model: chat.model, body: .object(chat.gemini), upstream: upstream, resolved: resolved,
            mode: mode)
        guard !chat.pendingMedia.isEmpty else { return generate(call) }
        // Media named by URL is fetched first. What a URL holds can change, so such requests
        // neither use nor fill the cache.
        call.policy = CachePolicy(headers: request.headers, enabled: false)
        return .deferred { [self, chat, call] writer in
            guard let filled = await upstreamWithMedia(chat, upstream, writer: writer) else { return }
            var fetched = call
            fetched.upstream = filled
            switch generate(fetched) {
            case .immediate(let response): await writer.respond(response)
            case .deferred(let work): await work(writer)
            }
        }
    }

    /// The cache key, policy and TTL of one generation.
    private func generateCall(
        _ request: GatewayRequest, caller: Caller, model: String, body: JSONValue, upstream: UpstreamRequest,
        resolved: ResolvedRoute, mode: AnswerMode
    ) -> GenerateCall {
        let team = caller.team
        let scope = config.cache.scope == .shared ? "shared" : "team:" + team
        let teamCache = accountant.team(caller)?.cache ?? true
        var ttl = config.cacheTTL(model: model, route: resolved.route, team: team)
        if let header = request.headers.first(name: "x-flashgate-cache-ttl"), let seconds = Int(header), seconds >= 0 {
            ttl = .seconds(seconds)
        }
        return GenerateCall(
            key: CacheKey.make(endpoint: .generate, model: model, scope: scope, body: body),
            policy: CachePolicy(headers: request.headers, enabled: cache != nil && config.cache.enabled && teamCache),
            ttl: ttl, upstream: upstream, resolved: resolved, mode: mode, clientModel: model, caller: caller, body: body)
    }

    private func native(_ request: GatewayRequest, model: String, method: NativeMethod) -> GatewayResult {
        let resolved: ResolvedRoute
        let parsed: JSONValue
        do throws(FlashgateError) {
            parsed = try Self.parseBody(request)
            guard parsed.objectValue != nil else {
                throw FlashgateError.invalid("the request body must be a JSON object")
            }
            guard let route = routes.resolve(model: model) else {
                throw FlashgateError(.notFound, "models/\(model) is not found or is not configured")
            }
            resolved = route
        } catch {
            return .immediate(.error(error, dialect: .google))
        }
        // The body goes upstream exactly as sent; the client's key is never forwarded.
        let body =
            method == .batchEmbedContents
            ? Self.nativeBatchEmbedBody(request, clientModel: model, upstreamModel: resolved.upstreamModel)
            : Array(buffer: request.body)
        let sse = request.queryItem("alt") == "sse"
        if method == .generateContent || method == .streamGenerateContent {
            // Generations go through the cache and coalescing; streams are read as SSE upstream
            // whatever form the client asked for, so every form renders from the same events.
            let mode: AnswerMode = method == .generateContent ? .nativeJSON : (sse ? .nativeSSE : .nativeArray)
            let upstream = routes.request(resolved, method: method, sse: true, body: body)
            let caller: Caller
            switch accountant.caller(request) {
            case .success(let found): caller = found
            case .failure(let error): return .immediate(.error(error, dialect: .google))
            }
            return generate(
                generateCall(
                    request, caller: caller, model: model, body: parsed, upstream: upstream, resolved: resolved, mode: mode))
        }
        // Token counts and embeddings are not cached or charged yet, but they need an identity too.
        if case .failure(let error) = accountant.caller(request) { return .immediate(.error(error, dialect: .google)) }
        let upstream = routes.request(resolved, method: method, sse: sse, body: body)
        return .deferred { [self] writer in
            await passThrough(upstream, transport: resolved.transport, writer: writer)
        }
    }
}

extension Gateway {
    /// Until teams and keys exist, every caller belongs to one team.
    static let defaultTeam = "default"
}

/// Whether the listeners and the store are open; `/readyz` reports it.
package final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)

    package init() {}

    package var isReady: Bool { ready.load(ordering: .relaxed) }

    package func set(_ value: Bool) { ready.store(value, ordering: .relaxed) }
}
