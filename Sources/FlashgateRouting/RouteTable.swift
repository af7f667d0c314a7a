import FlashgateCore
import FlashgateUpstream
import FlashgateWire
import Synchronization

/// Resolves model ids to route plans and builds the upstream request of each attempt: the URL,
/// the credentials and, for OpenAI-compatible routes, the translated body. Configured model ids
/// (and their aliases) win; anything else goes to the first passthrough route unchanged.
///
/// Invariant: a model id reaches a route only as a valid `ModelID`, and a Google URL is built only
/// from a `ModelID` and percent-encoded config parts, so no client string changes its path,
/// query or fragment.
package final class RouteTable: Sendable {
    let config: FlashgateConfig
    private let http: any UpstreamTransport
    /// The transport of real (non-mock) routes, for calls outside the retry owner (context caches).
    package var httpTransport: any UpstreamTransport { http }
    private let mock: any UpstreamTransport
    /// Access tokens of Vertex routes that use OAuth, by route name.
    private let tokens: [String: any AccessTokenSource]
    /// Each route's keys and which of them are set aside.
    private let keyRings: [String: KeyRing]
    /// Orders weighted routes; injected so tests get a fixed order.
    private let random: Mutex<any RandomNumberGenerator & Sendable>
    /// AI Studio URLs already built, by route, upstream model and method: building one validates
    /// the model and percent-encodes its parts (~6k instructions a call). Only a model that
    /// validated gets an entry, so a hit is a URL the same checks built. Bounded: emptied when full
    /// (passthrough routes take any valid model id a client names).
    private let studioURLs = Mutex<[StudioURLKey: String]>([:])
    static let studioURLLimit = 256

    struct StudioURLKey: Hashable {
        let route: String
        let model: String
        let method: NativeMethod
    }

    package init(
        config: FlashgateConfig, http: any UpstreamTransport, mock: any UpstreamTransport = MockTransport(),
        tokens: [String: any AccessTokenSource] = [:],
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) {
        self.config = config
        self.http = http
        self.mock = mock
        self.tokens = tokens
        self.random = Mutex(random)
        var rings: [String: KeyRing] = [:]
        for route in config.routes where route.apiKeys.count > 0 { rings[route.name] = KeyRing(count: route.apiKeys.count) }
        self.keyRings = rings
    }

    package var configuredModelIDs: [String] { config.models.flatMap { [$0.id] + $0.aliases } }

    package var passthroughRoute: ResolvedRoute? {
        config.passthroughRoute.map { ResolvedRoute(route: $0, upstreamModel: "", transport: transport(for: $0)) }
    }

    /// The plan for `model`, or a 404 naming it when no configured route answers it.
    package func plan(model: String) throws(FlashgateError) -> RoutePlan {
        guard let plan = try resolve(model: model) else {
            throw FlashgateError(.notFound, "the model '\(model)' does not exist or is not configured", param: "model")
        }
        return plan
    }

    /// The routes of a client's model id, or nil when no route serves it.
    /// - Throws: a 400 naming the problem when the id is not a valid model id (see `ModelID`), so
    ///   no malformed id reaches a passthrough route's URL.
    package func resolve(model: String) throws(FlashgateError) -> RoutePlan? {
        let id = try ModelID(validating: model).description
        if let configured = config.model(answering: id) {
            let ordered = order(configured.routes)
            let targets = ordered.compactMap { entry in
                config.route(named: entry.route).map {
                    ResolvedRoute(route: $0, upstreamModel: entry.upstreamModel, transport: transport(for: $0))
                }
            }
            guard !targets.isEmpty else { return nil }
            // An alias is another name of its model: limits and the ledger see the model's id.
            return RoutePlan(targets: targets, hedge: configured.hedge, model: configured.id)
        }
        guard let route = config.passthroughRoute else { return nil }
        return RoutePlan(
            targets: [ResolvedRoute(route: route, upstreamModel: id, transport: transport(for: route))], model: id)
    }

    /// The AI Studio URL of `method` on `model` through `route`, from the memo when it was built
    /// before. Throws as `ModelID(validating:)` does for an invalid id (which is never kept).
    func studioURL(_ route: RouteConfig, model: String, method: NativeMethod) throws(FlashgateError) -> String {
        let key = StudioURLKey(route: route.name, model: model, method: method)
        if let url = studioURLs.withLock({ $0[key] }) { return url }
        let id = try ModelID(validating: model)
        let url = "\(route.baseURL)/\(ModelID.percentEncoded(route.apiVersion))/\(id.path(method: method.rawValue))"
        studioURLs.withLock { urls in
            if urls.count >= Self.studioURLLimit { urls.removeAll(keepingCapacity: true) }
            urls[key] = url
        }
        return url
    }

    var studioURLCount: Int { studioURLs.withLock { $0.count } }

    /// The list order, except that consecutive weighted entries are shuffled by weight (a weighted
    /// draw without replacement), so equals share the load and each still backs up the others.
    func order(_ entries: [ModelRoute]) -> [ModelRoute] {
        var result: [ModelRoute] = []
        var index = 0
        while index < entries.count {
            guard entries[index].weight != nil else {
                result.append(entries[index])
                index += 1
                continue
            }
            var group: [ModelRoute] = []
            while index < entries.count, entries[index].weight != nil {
                group.append(entries[index])
                index += 1
            }
            random.withLock { random in
                while !group.isEmpty {
                    let total = group.reduce(0) { $0 + max(1, $1.weight ?? 1) }
                    var pick = Int.random(in: 0..<total, using: &random)
                    let chosen = group.firstIndex { entry in
                        pick -= max(1, entry.weight ?? 1)
                        return pick < 0
                    } ?? 0
                    result.append(group.remove(at: chosen))
                }
            }
        }
        return result
    }

    private func transport(for route: RouteConfig) -> any UpstreamTransport {
        route.kind == .mock ? mock : http
    }

    /// The key ring of a route with several keys (nil when it has none).
    func keys(_ route: String) -> KeyRing? { keyRings[route] }

    /// The token source of a Vertex OAuth route.
    func tokenSource(_ route: String) -> (any AccessTokenSource)? { tokens[route] }

    /// How `request(…)` frames its answer.
    package func framing(_ target: ResolvedRoute, method: NativeMethod, sse: Bool) -> AnswerFraming {
        let streaming = method == .streamGenerateContent && sse
        if target.route.kind == .openai { return streaming ? .openAISSE : .openAIJSON }
        return streaming ? .geminiSSE : .geminiJSON
    }

    /// The upstream call of one attempt of a native method on one route. `keyIndex` picks the
    /// route's key (see `KeyRing`); Vertex OAuth routes fetch a token (cached) first.
    package func request(
        _ target: ResolvedRoute, method: NativeMethod, sse: Bool, body: [UInt8], keyIndex: Int = 0
    ) async throws(FlashgateError) -> UpstreamRequest {
        let route = target.route
        let streaming = method == .streamGenerateContent && sse
        var headers: [(name: String, value: String)] = [("content-type", "application/json")]
        let key = route.apiKeys.isEmpty ? nil : route.apiKeys[min(keyIndex, route.apiKeys.count - 1)]
        var url: String
        var payload = body
        let tier = Self.requestedTier(body)
        let timeouts = config.upstreamTimeouts(for: tier.tier)
        // Every part of a Google URL is a validated or percent-encoded segment: no model name can
        // change the path, query or fragment.
        let encode: (String) -> String = { ModelID.percentEncoded($0) }
        switch route.kind {
        case .mock:
            url = "mock:///v1beta/" + (try ModelID(validating: target.upstreamModel)).path(method: method.rawValue)
        case .gemini:
            url = try studioURL(route, model: target.upstreamModel, method: method)
            if let key { headers.append(("x-goog-api-key", key.value)) }
        case .vertex:
            guard let vertex = route.vertex else { throw FlashgateError(.internal, "route '\(route.name)' has no Vertex settings") }
            let id = try ModelID(validating: target.upstreamModel)
            guard id.kind == .base else {
                throw FlashgateError.invalid(
                    "tuned models (\(id)) are served by AI Studio routes, not the Vertex AI route '\(route.name)'",
                    param: "model")
            }
            let model = "publishers/google/\(id.path(method: method.rawValue))"
            // Vertex refuses `serviceTier` in the body (400); it takes the tier as a header.
            if let parsed = tier.body {
                payload = JSONWriter.encode(Self.withoutServiceTier(parsed))
                if tier.tier != .standard { headers.append(("x-vertex-ai-llm-shared-request-type", tier.tier.rawValue)) }
            }
            if case .expressKey(let secret) = vertex.credentials {
                url = "\(route.baseURL)/\(encode(route.apiVersion))/\(model)"
                headers.append(("x-goog-api-key", secret.value))
            } else {
                url =
                    "\(route.baseURL)/\(encode(route.apiVersion))/projects/\(encode(vertex.project))"
                    + "/locations/\(encode(vertex.location))/\(model)"
                guard let source = tokens[route.name] else {
                    throw FlashgateError(.internal, "route '\(route.name)' has no access-token source")
                }
                do {
                    headers.append(("authorization", "Bearer " + (try await source.token())))
                } catch let error as FlashgateError {
                    throw error
                } catch {
                    throw FlashgateError(.upstreamUnreachable, "route '\(route.name)' could not get a Vertex access token")
                }
            }
        case .openai:
            guard method == .generateContent || method == .streamGenerateContent else {
                throw FlashgateError.invalid("\(method.rawValue) is not available on the OpenAI-compatible route '\(route.name)'")
            }
            url = "\(route.baseURL)/chat/completions"
            if let key { headers.append(("authorization", "Bearer " + key.value)) }
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(body) } catch { throw FlashgateError.invalid("the request body is not valid JSON") }
            var translated = try OpenAIUpstream.request(
                fromGemini: parsed, model: target.upstreamModel, stream: method == .streamGenerateContent)
            if tier.tier != .standard, case .object(var object) = translated {
                object["service_tier"] = .string(tier.tier.openAIName)
                translated = .object(object)
            }
            payload = JSONWriter.encode(translated)
            return UpstreamRequest(method: "POST", url: url, headers: headers, body: payload, timeouts: timeouts)
        }
        if streaming { url += "?alt=sse" }
        return UpstreamRequest(method: "POST", url: url, headers: headers, body: payload, timeouts: timeouts)
    }

    /// `GET …/models` on an AI Studio (or mock) route; nil for kinds without a Gemini model list.
    package func listRequest(_ route: RouteConfig) -> UpstreamRequest? {
        let base: String
        switch route.kind {
        case .mock: base = "mock:///v1beta"
        case .gemini: base = "\(route.baseURL)/\(route.apiVersion)"
        case .vertex, .openai: return nil
        }
        var headers: [(name: String, value: String)] = []
        if let key = route.apiKeys.first { headers.append(("x-goog-api-key", key.value)) }
        return UpstreamRequest(
            method: "GET", url: "\(base)/models?pageSize=1000", headers: headers, timeouts: config.upstreamTimeouts)
    }
}
