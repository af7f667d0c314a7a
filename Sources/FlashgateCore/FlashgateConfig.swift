import Foundation

/// Flashgate's whole configuration, validated once at start into immutable values. Secrets are
/// resolved here from the environment variables or files the config names; the config text
/// itself never holds a secret.
package struct FlashgateConfig: Sendable {
    package var listen: ListenConfig
    package var limits: LimitsConfig
    package var store: StoreConfig
    package var upstreamTimeouts: UpstreamTimeouts
    package var routes: [RouteConfig]
    package var models: [ModelConfig]
    package var log: LogConfig
    package var cache = CacheConfig()
    /// Limits for media Flashgate fetches on a client's behalf.
    package var media = MediaConfig()
    /// Teams, virtual keys and how spend is accounted (issue 5).
    package var teams: [TeamConfig] = []
    package var keys: [KeyConfig] = []
    package var accounting = AccountingConfig()
    /// The built-in price table with the config's `prices` rows laid over it.
    package var prices = PriceTable()

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
        case gemini
        case mock
    }

    package static let googleBaseURL = "https://generativelanguage.googleapis.com"

    package var name: String
    package var kind: Kind
    /// Scheme, host and optional port (and path prefix) of the Gemini API, without `/v1beta`.
    package var baseURL: String
    package var apiKey: Secret?
    /// The API version path used for upstream calls (`v1beta`).
    package var apiVersion: String = "v1beta"
    /// How long answers from this route stay cached (overrides `cache.ttl`).
    package var cacheTTL: Duration?
    /// Model ids that are not configured go to the first passthrough route, unchanged.
    package var passthrough: Bool

    package init(
        name: String, kind: Kind, baseURL: String, apiKey: Secret?, apiVersion: String = "v1beta", passthrough: Bool
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.passthrough = passthrough
    }
}

/// A client-facing model id and where it goes.
package struct ModelConfig: Sendable, Equatable {
    package var id: String
    package var route: String
    /// The model name sent upstream (defaults to `id`).
    package var upstreamModel: String
    /// How long answers for this model stay cached (overrides the route's and `cache.ttl`).
    package var cacheTTL: Duration?

    package init(id: String, route: String, upstreamModel: String? = nil) {
        self.id = id
        self.route = route
        self.upstreamModel = upstreamModel ?? id
    }
}
