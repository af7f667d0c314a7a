import Foundation

/// Flashgate's whole configuration, validated once at start into immutable values. Secrets are
/// resolved here from the environment variables or files the config names; the config text
/// itself never holds a secret.
package struct FlashgateConfig: Sendable {
    package var listen: ListenConfig
    package var limits: LimitsConfig
    package var store: StoreConfig
    package var upstreamTimeouts: UpstreamTimeouts
    /// Timeouts of calls at a tier other than standard (`upstream.tiers.<tier>`); a tier not
    /// listed uses `upstreamTimeouts`.
    package var tierTimeouts: [ServiceTier: UpstreamTimeouts] = [.flex: .flex]

    /// The timeouts of one upstream call at `tier`.
    package func upstreamTimeouts(for tier: ServiceTier) -> UpstreamTimeouts {
        tier == .standard ? upstreamTimeouts : tierTimeouts[tier] ?? upstreamTimeouts
    }
    /// `upstream.max_connections`: upstream connections open at once, and idle ones kept for
    /// reuse, across all routes (a call beyond it waits for a free one).
    package var upstreamMaxConnections = FlashgateConfig.defaultUpstreamMaxConnections
    /// Enough for 256 concurrent calls to one HTTP/1.1 upstream to keep their connections.
    package static let defaultUpstreamMaxConnections = 512
    package var routes: [RouteConfig]
    package var models: [ModelConfig]
    package var log: LogConfig
    /// `GET /metrics` (Prometheus text format).
    package var metrics = MetricsConfig()
    /// `process.scheduling`: the Linux scheduling policy of Flashgate's threads.
    package var scheduling: ThreadScheduling.Policy = .normal
    package var cache = CacheConfig()
    /// Automatic Gemini context caching (`context_cache:`).
    package var contextCache = ContextCacheConfig()
    /// How the usage ledger makes money durable, its retention and its bounds (`ledger:`).
    package var ledger = LedgerConfig()
    /// Budgets shared across hosts through Redis (`shared:`); nil: this host alone.
    package var shared: SharedConfig?
    /// Stored OpenAI Responses conversations (`responses.ttl`).
    package var responses = ResponsesConfig()
    /// Limits for media Flashgate fetches on a client's behalf.
    package var media = MediaConfig()
    /// Teams, virtual keys and how spend is accounted (issue 5).
    package var teams: [TeamConfig] = []
    package var keys: [KeyConfig] = []
    package var accounting = AccountingConfig()
    /// The built-in price table with the config's `prices` rows laid over it.
    package var prices = PriceTable()
    /// The one retry loop's limits: attempts per request across all routes, backoff, deadline.
    package var retry = RetryPolicy.standard
    /// When a route's circuit breaker opens and how it recovers.
    package var breaker = CircuitBreakerConfig()

    package init(
        listen: ListenConfig = ListenConfig(), limits: LimitsConfig = LimitsConfig(), store: StoreConfig = StoreConfig(),
        upstreamTimeouts: UpstreamTimeouts = .standard, routes: [RouteConfig], models: [ModelConfig] = [],
        log: LogConfig = LogConfig()
    ) {
        self.listen = listen
        self.limits = limits
        self.store = store
        self.upstreamTimeouts = upstreamTimeouts
        self.routes = routes
        self.models = models
        self.log = log
    }

    /// The built-in routes: Google AI Studio when `GEMINI_API_KEY` is set, the offline mock
    /// model otherwise. Both pass any model id through.
    package static func defaultRoutes(environment: [String: String]) -> [RouteConfig] {
        if let key = environment["GEMINI_API_KEY"], !key.isEmpty {
            return [
                RouteConfig(
                    name: "gemini", kind: .gemini, baseURL: RouteConfig.googleBaseURL, apiKey: Secret(key), passthrough: true)
            ]
        }
        return [RouteConfig(name: "mock", kind: .mock, baseURL: "", apiKey: nil, passthrough: true)]
    }

    /// Embedded defaults: TCP on 127.0.0.1:8088, store in `./.flashgate`, default routes.
    package static func embeddedDefaults(environment: [String: String]) -> FlashgateConfig {
        FlashgateConfig(routes: defaultRoutes(environment: environment))
    }

    package func route(named name: String) -> RouteConfig? { routes.first { $0.name == name } }

    package var passthroughRoute: RouteConfig? { routes.first { $0.passthrough } }

    /// The configured model a client id (or alias) names.
    package func model(answering clientID: String) -> ModelConfig? { models.first { $0.answers(to: clientID) } }
}

/// Where Flashgate listens: a TCP address, a Unix socket, or both.
package struct ListenConfig: Sendable, Equatable {
    /// `nil` turns TCP off.
    package var host: String?
    package var port: Int
    package var socketPath: String?
    package var socketMode: UInt32

    package init(host: String? = "127.0.0.1", port: Int = 8088, socketPath: String? = nil, socketMode: UInt32 = 0o660) {
        self.host = host
        self.port = port
        self.socketPath = socketPath
        self.socketMode = socketMode
    }
}

/// Edge limits that keep one client from exhausting the host.
package struct LimitsConfig: Sendable, Equatable {
    package var maxBodyBytes: Int = 64 << 20
    package var maxHeaderBytes: Int = 64 << 10
    /// From a request's first byte until its head is complete.
    package var headerTimeout: Duration = .seconds(10)
    /// From a request's head until its body is complete.
    package var bodyTimeout: Duration = .seconds(120)
    /// A keep-alive connection with no request in progress is closed after this long.
    package var idleTimeout: Duration = .seconds(75)
    /// At SIGTERM, in-flight requests get this long to finish.
    package var shutdownGrace: Duration = .seconds(30)

    package init() {}
}

package struct StoreConfig: Sendable, Equatable {
    package var path: String = ".flashgate"
    package var maxSizeBytes: Int = 8 << 30

    package init() {}
}

package struct LogConfig: Sendable, Equatable {
    package enum Format: String, Sendable { case logfmt, json }
    package var level: String = "info"
    package var format: Format = .logfmt
    /// One line per request (`flashgate.access`): ids, labels, tokens, cost, durations; never
    /// prompts, answers or keys.
    package var access = true

    package init() {}
}

/// `GET /metrics`: Prometheus counters, histograms and gauges. Unauthenticated, like
/// `/healthz`: Flashgate listens on loopback or a Unix socket, and no label holds a secret.
package struct MetricsConfig: Sendable, Equatable {
    package var enabled = true

    package init() {}
}

/// A secret value that never prints itself.
package struct Secret: Sendable, Equatable, CustomStringConvertible {
    package let value: String
    package init(_ value: String) { self.value = value }
    package var description: String { "<redacted>" }
}

/// One upstream route.
package struct RouteConfig: Sendable, Equatable {
    package enum Kind: String, Sendable, CaseIterable {
        /// Google AI Studio (the Gemini Developer API), one or more API keys.
        case gemini
        /// Vertex AI: a project and location, OAuth (service account or token) or an express key.
        case vertex
        /// Any OpenAI-compatible chat completions upstream (Google's `/v1beta/openai/`, another gateway).
        case openai
        /// The built-in offline model.
        case mock
    }

    package static let googleBaseURL = "https://generativelanguage.googleapis.com"

    package var name: String
    package var kind: Kind
    /// `gemini`: scheme, host and optional port (and path prefix) of the Gemini API, without
    /// `/v1beta`. `vertex`: the host, derived from the location unless set. `openai`: the base
    /// URL the OpenAI SDK would be given (ends before `/chat/completions`).
    package var baseURL: String
    /// `gemini` and `openai`: the keys, used in turn; a key answered with 429, 401 or 403 is
    /// set aside and the next one is used. `vertex`: the express-mode key, if that is the credential.
    package var apiKeys: [Secret]
    /// The first key, for callers that use one.
    package var apiKey: Secret? { apiKeys.first }
    /// The API version path used for upstream calls (`v1beta` for AI Studio, `v1beta1` for Vertex).
    package var apiVersion: String = "v1beta"
    /// Vertex AI settings; set exactly when `kind == .vertex`.
    package var vertex: VertexRouteConfig?
    /// How long answers from this route stay cached (overrides `cache.ttl`).
    package var cacheTTL: Duration?
    /// Model ids that are not configured go to the first passthrough route, unchanged.
    package var passthrough: Bool

    package init(
        name: String, kind: Kind, baseURL: String, apiKey: Secret?, apiVersion: String = "v1beta", passthrough: Bool
    ) {
        self.init(
            name: name, kind: kind, baseURL: baseURL, apiKeys: apiKey.map { [$0] } ?? [], apiVersion: apiVersion,
            passthrough: passthrough)
    }

    package init(
        name: String, kind: Kind, baseURL: String, apiKeys: [Secret], apiVersion: String = "v1beta",
        vertex: VertexRouteConfig? = nil, passthrough: Bool
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKeys = apiKeys
        self.apiVersion = apiVersion
        self.vertex = vertex
        self.passthrough = passthrough
    }
}

/// Where a Vertex AI route sends calls and how it authenticates.
package struct VertexRouteConfig: Sendable, Equatable {
    /// How a Vertex route proves who it is.
    package enum Credentials: Sendable, Equatable {
        /// A service-account JSON key file: a signed JWT (RS256) is exchanged for an OAuth access
        /// token at the token endpoint, cached and refreshed before it expires.
        case serviceAccountFile(path: String)
        /// An access token read from this file at each refresh (kept fresh by something else,
        /// such as a metadata-server sidecar or `gcloud auth print-access-token`).
        case tokenFile(path: String)
        /// An access token from the environment, read once at start.
        case token(Secret)
        /// Express mode: an API key, no project; calls go to the global host.
        case expressKey(Secret)
    }

    package static let defaultTokenURL = "https://oauth2.googleapis.com/token"

    /// The Google Cloud project (not used in express mode).
    package var project: String
    /// `europe-west4`-style region, `global`, or the `us`/`eu` multi-regions.
    package var location: String
    package var credentials: Credentials
    /// Where service-account JWTs are exchanged for access tokens (configurable so tests run it locally).
    package var tokenURL: String

    package init(project: String, location: String, credentials: Credentials, tokenURL: String = Self.defaultTokenURL) {
        self.project = project
        self.location = location
        self.credentials = credentials
        self.tokenURL = tokenURL
    }

    /// The host for a location: `global` → `aiplatform.googleapis.com`, `us`/`eu` →
    /// `aiplatform.{us|eu}.rep.googleapis.com`, a region → `{region}-aiplatform.googleapis.com`.
    package static func defaultBaseURL(location: String) -> String {
        switch location {
        case "global": "https://aiplatform.googleapis.com"
        case "us", "eu": "https://aiplatform.\(location).rep.googleapis.com"
        default: "https://\(location)-aiplatform.googleapis.com"
        }
    }
}

/// One route a model may go to, and the model's name there.
package struct ModelRoute: Sendable, Equatable {
    package var route: String
    /// The model name sent upstream on this route (defaults to the model's id).
    package var upstreamModel: String
    /// Relative share of traffic among routes of equal rank (consecutive entries with weights);
    /// nil means the route is tried strictly in list order.
    package var weight: Int?

    package init(route: String, upstreamModel: String, weight: Int? = nil) {
        self.route = route
        self.upstreamModel = upstreamModel
        self.weight = weight
    }
}

/// Hedging: a second attempt on the next route when the first is slow to start answering.
package struct HedgeConfig: Sendable, Equatable {
    /// Start the hedge after this long without a first byte; nil derives it from the route's
    /// recent p95 time to first byte (and does not hedge until enough calls were seen).
    package var after: Duration?

    package init(after: Duration? = nil) { self.after = after }
}

/// A client-facing model id and where it goes.
package struct ModelConfig: Sendable, Equatable {
    package var id: String
    /// Other ids clients may use for the same model (their answers share the cache key of `id`).
    package var aliases: [String] = []
    /// The routes in order of preference (at least one).
    package var routes: [ModelRoute]
    /// Off unless set.
    package var hedge: HedgeConfig?
    /// How long answers for this model stay cached (overrides the route's and `cache.ttl`).
    package var cacheTTL: Duration?
    /// The service tier of requests for this model that name none (a team's default comes first).
    package var serviceTier: ServiceTier?

    /// The first route's name.
    package var route: String { routes[0].route }
    /// The model name on the first route.
    package var upstreamModel: String { routes[0].upstreamModel }

    package init(id: String, route: String, upstreamModel: String? = nil) {
        self.init(id: id, routes: [ModelRoute(route: route, upstreamModel: upstreamModel ?? id)])
    }

    package init(id: String, routes: [ModelRoute], aliases: [String] = [], hedge: HedgeConfig? = nil) {
        precondition(!routes.isEmpty, "a model needs at least one route")
        self.id = id
        self.routes = routes
        self.aliases = aliases
        self.hedge = hedge
    }

    /// Whether a client's model id names this model.
    package func answers(to clientID: String) -> Bool { clientID == id || aliases.contains(clientID) }
}
