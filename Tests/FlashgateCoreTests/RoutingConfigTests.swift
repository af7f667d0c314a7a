import Foundation
import Testing

@testable import FlashgateCore

private func map(_ entries: [(String, ConfigNode)]) -> ConfigNode { .map(entries.map { (key: $0.0, value: $0.1) }) }
private func s(_ text: String) -> ConfigNode { .scalar(text) }
private func list(_ items: [String]) -> ConfigNode { .list(items.map(ConfigNode.scalar)) }
private func routes(_ items: ConfigNode...) -> (String, ConfigNode) { ("routes", .list(items)) }
private func models(_ items: ConfigNode...) -> (String, ConfigNode) { ("models", .list(items)) }
private func mock(_ name: String) -> ConfigNode { map([("name", s(name)), ("kind", s("mock"))]) }

private let environment = [
    "K1": "key-one", "K2": "key-two", "K3": "key-three", "SAME_AS_K1": "key-one", "TOKEN": "ya29.token",
]
private let files = ["/keys/a": "key-file-a\n", "/keys/b": "  key-file-b  ", "/keys/empty": "\n", "/sa.json": "{}"]

private func load(_ entries: [(String, ConfigNode)]) throws -> FlashgateConfig {
    try FlashgateConfig.load(map(entries), environment: environment) { path in
        guard let text = files[path] else { throw CocoaError(.fileReadNoSuchFile) }
        return text
    }
}

@Suite struct RoutingConfigTests {
    // MARK: Routes

    @Test func geminiRouteCollectsEveryKeyInDocumentOrder() throws {
        let config = try load([
            routes(
                map([
                    ("name", s("studio")), ("kind", s("gemini")), ("api_keys_env", list(["K2", "K3"])),
                    ("api_key_env", s("K1")), ("api_key_files", list(["/keys/a", "/keys/b"])),
                ]))
        ])
        let route = try #require(config.route(named: "studio"))
        #expect(route.apiKeys.map(\.value) == ["key-two", "key-three", "key-one", "key-file-a", "key-file-b"])
        #expect(route.apiKey?.value == "key-two")
        #expect(route.baseURL == RouteConfig.googleBaseURL)
        #expect(route.apiVersion == "v1beta")
        #expect(route.vertex == nil)
    }

    @Test func geminiRouteKeepsItsSingleKeyForms() throws {
        let config = try load([
            routes(
                map([
                    ("name", s("a")), ("kind", s("gemini")), ("api_key_file", s("/keys/a")),
                    ("base_url", s("http://127.0.0.1:9/")),
                ]),
                map([("name", s("b")), ("kind", s("gemini")), ("api_key_env", s("K1")), ("cache_ttl", s("5m"))]))
        ])
        #expect(config.routes[0].apiKeys == [Secret("key-file-a")])
        #expect(config.routes[0].baseURL == "http://127.0.0.1:9")
        #expect(config.routes[1].apiKeys == [Secret("key-one")])
        #expect(config.routes[1].cacheTTL == .seconds(300))
    }

    @Test func openaiRouteNeedsABaseURLAndMayHaveNoKey() throws {
        let config = try load([
            routes(
                map([
                    ("name", s("google-openai")), ("kind", s("openai")),
                    ("base_url", s("https://generativelanguage.googleapis.com/v1beta/openai/")),
                    ("api_keys_env", list(["K1", "K2"])),
                ]),
                map([
                    ("name", s("local")), ("kind", s("openai")), ("base_url", s("http://127.0.0.1:4000/v1")),
                    ("passthrough", s("true")),
                ]))
        ])
        #expect(config.routes[0].kind == .openai)
        #expect(config.routes[0].baseURL == "https://generativelanguage.googleapis.com/v1beta/openai")
        #expect(config.routes[0].apiKeys.map(\.value) == ["key-one", "key-two"])
        #expect(config.routes[1].apiKeys.isEmpty)
        #expect(config.passthroughRoute?.name == "local")
    }

    @Test func vertexRouteWithServiceAccountDerivesHostAndDefaults() throws {
        let config = try load([
            routes(
                map([
                    ("name", s("eu")), ("kind", s("vertex")), ("project", s("my-project")),
                    ("location", s("europe-west4")),
                    ("service_account_file", s("/sa.json")),
                ]),
                map([
                    ("name", s("us")), ("kind", s("vertex")), ("project", s("my-project")), ("location", s("us")),
                    ("token_file", s("/run/token")), ("token_url", s("http://127.0.0.1:8/token")),
                    ("api_version", s("v1")),
                ]),
                map([
                    ("name", s("local")), ("kind", s("vertex")), ("project", s("p")), ("location", s("global")),
                    ("token_env", s("TOKEN")), ("base_url", s("http://127.0.0.1:7/")),
                ]))
        ])
        let eu = try #require(config.routes[0].vertex)
        #expect(
            eu
                == VertexRouteConfig(
                    project: "my-project", location: "europe-west4", credentials: .serviceAccountFile(path: "/sa.json"))
        )
        #expect(eu.tokenURL == VertexRouteConfig.defaultTokenURL)
        #expect(config.routes[0].baseURL == "https://europe-west4-aiplatform.googleapis.com")
        #expect(config.routes[0].apiVersion == "v1beta1")
        #expect(config.routes[0].apiKeys.isEmpty)

        let us = try #require(config.routes[1].vertex)
        #expect(us.credentials == .tokenFile(path: "/run/token"))
        #expect(us.tokenURL == "http://127.0.0.1:8/token")
        #expect(config.routes[1].baseURL == "https://aiplatform.us.rep.googleapis.com")
        #expect(config.routes[1].apiVersion == "v1")

        #expect(config.routes[2].vertex?.credentials == .token(Secret("ya29.token")))
        #expect(config.routes[2].baseURL == "http://127.0.0.1:7")
    }

    @Test func vertexExpressKeyImpliesGlobalAndNoProject() throws {
        let config = try load([
            routes(
                map([("name", s("express")), ("kind", s("vertex")), ("api_key_env", s("K1"))]),
                map([
                    ("name", s("express2")), ("kind", s("vertex")), ("api_key_file", s("/keys/a")),
                    ("location", s("global")),
                ]))
        ])
        let route = config.routes[0]
        #expect(
            route.vertex
                == VertexRouteConfig(project: "", location: "global", credentials: .expressKey(Secret("key-one"))))
        #expect(route.apiKeys.isEmpty)
        #expect(route.baseURL == "https://aiplatform.googleapis.com")
        #expect(config.routes[1].vertex?.credentials == .expressKey(Secret("key-file-a")))
    }

    @Test func vertexLocationShape() {
        for good in ["europe-west4", "us-central1", "global", "us", "eu"] { #expect(FlashgateConfig.isLocation(good)) }
        for bad in ["", "Europe-West4", "europe_west4", "europe-west4-", "4us", "us central1", "eu/x"] {
            #expect(!FlashgateConfig.isLocation(bad))
        }
    }

    static let routeErrors: [(String, String, [(String, ConfigNode)])] = [
        (
            "routes[0].api_keys_env[1]", "environment variable NOPE is not set",
            [("name", s("r")), ("kind", s("gemini")), ("api_keys_env", list(["K1", "NOPE"]))]
        ),
        (
            "routes[0].api_key_env", "environment variable NOPE is not set",
            [("name", s("r")), ("kind", s("openai")), ("base_url", s("https://x.example")), ("api_key_env", s("NOPE"))]
        ),
        (
            "routes[0].api_keys_env[1]", "variable K1 is named twice",
            [("name", s("r")), ("kind", s("gemini")), ("api_keys_env", list(["K1", "K1"]))]
        ),
        (
            "routes[0].api_keys_env[0]", "variable SAME_AS_K1 holds the same key as an earlier entry",
            [("name", s("r")), ("kind", s("gemini")), ("api_key_env", s("K1")), ("api_keys_env", list(["SAME_AS_K1"]))]
        ),
        (
            "routes[0].api_key_files[1]", "file /keys/a is named twice",
            [("name", s("r")), ("kind", s("gemini")), ("api_key_files", list(["/keys/a", "/keys/a"]))]
        ),
        (
            "routes[0].api_key_files[0]", "cannot read /nowhere",
            [("name", s("r")), ("kind", s("gemini")), ("api_key_files", list(["/nowhere"]))]
        ),
        (
            "routes[0].api_key_file", "/keys/empty is empty",
            [("name", s("r")), ("kind", s("gemini")), ("api_key_file", s("/keys/empty"))]
        ),
        (
            "routes[0].api_keys_env", "expected at least one entry",
            [("name", s("r")), ("kind", s("gemini")), ("api_keys_env", .list([]))]
        ),
        (
            "routes[0].base_url", "expected an http:// or https:// URL, got 'ftp://x'",
            [("name", s("r")), ("kind", s("gemini")), ("base_url", s("ftp://x"))]
        ),
        (
            "routes[0].project", "only a vertex route has project",
            [("name", s("r")), ("kind", s("gemini")), ("project", s("p"))]
        ),
        // A route name goes whole into ledger rollup keys and CSV exports (it had been any text:
        // a CRLF in it broke the export, and long ones were cut in rollups).
        (
            "routes[0].name", "a route name is at most 128 bytes, without control characters",
            [("name", s("r1\r\nr2")), ("kind", s("gemini"))]
        ),
        (
            "routes[0].name", "a route name is at most 128 bytes, without control characters",
            [("name", s(String(repeating: "r", count: 129))), ("kind", s("gemini"))]
        ),
        (
            "routes[0].kind", "unknown route kind 'bedrock'; expected one of gemini, vertex, openai, mock",
            [("name", s("r")), ("kind", s("bedrock"))]
        ),
        // openai
        (
            "routes[0].base_url",
            "an openai route needs a base_url, such as https://generativelanguage.googleapis.com/v1beta/openai",
            [("name", s("r")), ("kind", s("openai"))]
        ),
        (
            "routes[0].api_version", "an openai route has no api_version; put the whole path in base_url",
            [
                ("name", s("r")), ("kind", s("openai")), ("base_url", s("https://x.example/v1")),
                ("api_version", s("v1")),
            ]
        ),
        // vertex
        (
            "routes[0].token_env", "a vertex route takes one credential; service_account_file is already set",
            [
                ("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("location", s("global")),
                ("service_account_file", s("/sa.json")), ("token_env", s("TOKEN")),
            ]
        ),
        (
            "routes[0].api_key_env", "a vertex route takes one credential; token_file is already set",
            [
                ("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("location", s("global")),
                ("api_key_env", s("K1")), ("token_file", s("/t")),
            ]
        ),
        (
            "routes[0]",
            "a vertex route needs one credential: service_account_file, token_file, token_env, or api_key_env / api_key_file (express mode)",
            [("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("location", s("global"))]
        ),
        (
            "routes[0].location",
            "expected a location such as europe-west4, us-central1, global, us or eu, got 'Europe_West4'",
            [
                ("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("location", s("Europe_West4")),
                ("token_env", s("TOKEN")),
            ]
        ),
        (
            "routes[0].location", "a vertex route needs a location, such as europe-west4 or global",
            [("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("token_env", s("TOKEN"))]
        ),
        (
            "routes[0].project", "a vertex route needs a Google Cloud project",
            [("name", s("r")), ("kind", s("vertex")), ("location", s("global")), ("token_env", s("TOKEN"))]
        ),
        (
            "routes[0].project", "an express-mode route (API key) takes no project",
            [("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("api_key_env", s("K1"))]
        ),
        (
            "routes[0].location", "an express-mode route (API key) always uses global",
            [("name", s("r")), ("kind", s("vertex")), ("location", s("us-central1")), ("api_key_env", s("K1"))]
        ),
        (
            "routes[0].api_keys_env", "a vertex route takes one express key: use api_key_env or api_key_file",
            [("name", s("r")), ("kind", s("vertex")), ("api_keys_env", list(["K1", "K2"]))]
        ),
        (
            "routes[0].service_account_file", "cannot read /missing.json",
            [
                ("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("location", s("global")),
                ("service_account_file", s("/missing.json")),
            ]
        ),
        (
            "routes[0].token_url", "expected an http:// or https:// URL, got 'oauth2.googleapis.com/token'",
            [
                ("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("location", s("global")),
                ("token_env", s("TOKEN")), ("token_url", s("oauth2.googleapis.com/token")),
            ]
        ),
        (
            "routes[0].api_version", "expected v1 or v1beta1, got 'v1beta'",
            [
                ("name", s("r")), ("kind", s("vertex")), ("project", s("p")), ("location", s("global")),
                ("token_env", s("TOKEN")), ("api_version", s("v1beta")),
            ]
        ),
        (
            "routes[0].api_key",
            "keys never go in the config text; use api_key_env, api_keys_env, api_key_file or api_key_files",
            [("name", s("r")), ("kind", s("vertex")), ("api_key", s("x"))]
        ),
    ]

    @Test(arguments: routeErrors)
    func routeErrorsNameTheKeyPath(_ path: String, _ reason: String, _ route: [(String, ConfigNode)]) {
        #expect(throws: ConfigError(path: path, reason: reason)) { try load([routes(map(route))]) }
    }

    // MARK: Models

    /// An id or alias written with its collection is the id routing compares a client's with:
    /// before, `id: models/fast` was kept as written and no call could name it.
    @Test func modelIdsAndAliasesAreKeptAsRoutingSeesThem() throws {
        let config = try load([
            routes(mock("a")),
            models(
                map([("id", s("models/fast")), ("aliases", list(["models/quick"])), ("route", s("a"))]),
                map([("id", s("tunedModels/mine")), ("route", s("a"))])),
        ])
        #expect(config.models.map(\.id) == ["fast", "tunedModels/mine"])
        #expect(config.models.first?.aliases == ["quick"])
        // Routing validates a client's id to the same form: `models/fast` and `fast` are one.
        for client in ["fast", "models/fast", "quick", "models/quick"] {
            let id = try ModelID(validating: client).description
            #expect(config.model(answering: id)?.id == "fast", "\(client)")
        }
        // With no upstream_model the upstream name is the id as written.
        #expect(config.models.first?.routes.first?.upstreamModel == "models/fast")
        // Two spellings of one id are one name taken twice.
        #expect(throws: ConfigError.self) {
            try load([
                routes(mock("a")),
                models(
                    map([("id", s("fast")), ("route", s("a"))]),
                    map([("id", s("models/fast")), ("route", s("a"))])),
            ])
        }
    }

    @Test func modelLongFormLoadsRoutesWeightsAliasesAndHedge() throws {
        let config = try load([
            routes(mock("a"), mock("b"), mock("c")),
            models(
                map([
                    ("id", s("gemini-3.5-flash")), ("aliases", list(["flash", "default"])),
                    (
                        "routes",
                        .list([
                            map([("route", s("a")), ("weight", s("3"))]),
                            map([("route", s("b")), ("upstream_model", s("gemini-3.5-flash-001")), ("weight", s("1"))]),
                            s("c"),
                        ])
                    ),
                    ("hedge", map([("after", s("2s"))])), ("cache_ttl", s("10m")),
                ]),
                map([
                    ("id", s("derived")), ("upstream_model", s("up")), ("routes", list(["c", "a"])),
                    ("hedge", s("true")),
                ]),
                map([("id", s("off")), ("routes", list(["a", "b"])), ("hedge", s("false"))]),
                map([("id", s("short")), ("route", s("b")), ("upstream_model", s("gemini-2.5-pro"))])),
        ])
        let flash = config.models[0]
        #expect(
            flash.routes == [
                ModelRoute(route: "a", upstreamModel: "gemini-3.5-flash", weight: 3),
                ModelRoute(route: "b", upstreamModel: "gemini-3.5-flash-001", weight: 1),
                ModelRoute(route: "c", upstreamModel: "gemini-3.5-flash"),
            ])
        #expect(flash.aliases == ["flash", "default"])
        #expect(flash.hedge == HedgeConfig(after: .seconds(2)))
        #expect(flash.cacheTTL == .seconds(600))
        #expect(config.model(answering: "flash")?.id == "gemini-3.5-flash")

        #expect(
            config.models[1].routes == [
                ModelRoute(route: "c", upstreamModel: "up"), ModelRoute(route: "a", upstreamModel: "up"),
            ])
        #expect(config.models[1].hedge == HedgeConfig(after: nil))
        #expect(config.models[2].hedge == nil)
        #expect(config.models[3] == ModelConfig(id: "short", route: "b", upstreamModel: "gemini-2.5-pro"))
        #expect(config.models[3].hedge == nil && config.models[3].aliases.isEmpty)
    }

    static let modelErrors: [(String, String, [ConfigNode])] = [
        (
            "models[0].routes", "set route or routes, not both",
            [map([("id", s("m")), ("route", s("a")), ("routes", list(["b"]))])]
        ),
        ("models[0].route", "a model needs a route (or a list of routes)", [map([("id", s("m"))])]),
        ("models[0].route", "no route is named 'ghost'", [map([("id", s("m")), ("route", s("ghost"))])]),
        (
            "models[0].routes[1]", "no route is named 'ghost'",
            [map([("id", s("m")), ("routes", list(["a", "ghost"]))])]
        ),
        (
            "models[0].routes[0].route", "no route is named 'ghost'",
            [map([("id", s("m")), ("routes", .list([map([("route", s("ghost"))])]))])]
        ),
        (
            "models[0].routes[1].route", "route 'a' is listed twice for this model",
            [map([("id", s("m")), ("routes", .list([s("a"), map([("route", s("a")), ("weight", s("2"))])]))])]
        ),
        (
            "models[0].routes[0].weight", "expected a whole number from 1 to 1000, got '0'",
            [map([("id", s("m")), ("routes", .list([map([("route", s("a")), ("weight", s("0"))])]))])]
        ),
        (
            "models[0].routes[0].weight", "expected a whole number from 1 to 1000, got '1001'",
            [map([("id", s("m")), ("routes", .list([map([("route", s("a")), ("weight", s("1001"))])]))])]
        ),
        (
            "models[0].routes[0].priority", "unknown key",
            [map([("id", s("m")), ("routes", .list([map([("route", s("a")), ("priority", s("1"))])]))])]
        ),
        ("models[0].routes", "a model needs at least one route", [map([("id", s("m")), ("routes", .list([]))])]),
        (
            "models[1].aliases[0]", "'m' is already the id of a model",
            [
                map([("id", s("m")), ("route", s("a"))]),
                map([("id", s("n")), ("route", s("a")), ("aliases", list(["m"]))]),
            ]
        ),
        (
            "models[1].aliases[1]", "'x' is already an alias of model 'm'",
            [
                map([("id", s("m")), ("route", s("a")), ("aliases", list(["x"]))]),
                map([("id", s("n")), ("route", s("a")), ("aliases", list(["y", "x"]))]),
            ]
        ),
        (
            "models[1].id", "'x' is already an alias of model 'm'",
            [
                map([("id", s("m")), ("route", s("a")), ("aliases", list(["x"]))]),
                map([("id", s("x")), ("route", s("a"))]),
            ]
        ),
        (
            "models[0].aliases[0]", "'m' is already the id of a model",
            [map([("id", s("m")), ("route", s("a")), ("aliases", list(["m"]))])]
        ),
        (
            "models[1].id", "model 'm' is defined twice",
            [map([("id", s("m")), ("route", s("a"))]), map([("id", s("m")), ("route", s("b"))])]
        ),
        (
            "models[0].hedge", "hedging needs at least two routes",
            [map([("id", s("m")), ("route", s("a")), ("hedge", s("true"))])]
        ),
        (
            "models[0].hedge", "expected true or false, got 'soon'",
            [map([("id", s("m")), ("routes", list(["a", "b"])), ("hedge", s("soon"))])]
        ),
        (
            "models[0].hedge.after", "expected a duration such as 2s (or write hedge: true)",
            [map([("id", s("m")), ("routes", list(["a", "b"])), ("hedge", map([]))])]
        ),
        (
            "models[0].hedge.after", "must be more than 0s",
            [map([("id", s("m")), ("routes", list(["a", "b"])), ("hedge", map([("after", s("0s"))]))])]
        ),
    ]

    @Test(arguments: modelErrors)
    func modelErrorsNameTheKeyPath(_ path: String, _ reason: String, _ items: [ConfigNode]) {
        #expect(throws: ConfigError(path: path, reason: reason)) {
            try load([routes(mock("a"), mock("b")), ("models", .list(items))])
        }
    }

    // MARK: Retry and breaker

    @Test func retryAndBreakerDefaultToTheStandardValues() throws {
        let config = try load([])
        #expect(config.retry == .standard)
        #expect(config.breaker == CircuitBreakerConfig())
        let partial = try load([("retry", map([("max_attempts", s("2"))])), ("breaker", map([("window", s("40"))]))])
        #expect(
            partial.retry
                == RetryPolicy(
                    maxAttempts: 2, baseDelay: .milliseconds(500), maxDelay: .seconds(30), deadline: .seconds(120)))
        #expect(partial.breaker == CircuitBreakerConfig(window: 40))
    }

    @Test func retryAndBreakerLoad() throws {
        let config = try load([
            (
                "retry",
                map([
                    ("max_attempts", s("6")), ("base_delay", s("250ms")), ("max_delay", s("10s")),
                    ("deadline", s("1m")),
                ])
            ),
            (
                "breaker",
                map([
                    ("consecutive_failures", s("3")), ("window", s("50")), ("failure_rate_percent", s("25")),
                    ("cool_down", s("45s")), ("half_open_probes", s("2")),
                ])
            ),
        ])
        #expect(
            config.retry
                == RetryPolicy(
                    maxAttempts: 6, baseDelay: .milliseconds(250), maxDelay: .seconds(10), deadline: .seconds(60)))
        #expect(
            config.breaker
                == CircuitBreakerConfig(
                    consecutiveFailures: 3, window: 50, failureRatePercent: 25, coolDown: .seconds(45),
                    halfOpenProbes: 2))
    }

    static let retryErrors: [(String, String, (String, ConfigNode))] = [
        (
            "retry.max_attempts", "expected a whole number from 1 to 10, got '0'",
            ("retry", map([("max_attempts", s("0"))]))
        ),
        (
            "retry.max_attempts", "expected a whole number from 1 to 10, got '11'",
            ("retry", map([("max_attempts", s("11"))]))
        ),
        (
            "retry.base_delay", "must not be longer than max_delay",
            ("retry", map([("base_delay", s("2s")), ("max_delay", s("1s"))]))
        ),
        (
            "retry.max_delay", "must not be shorter than base_delay (default 500ms)",
            ("retry", map([("max_delay", s("100ms"))]))
        ),
        ("retry.deadline", "must be more than 0s", ("retry", map([("deadline", s("0s"))]))),
        ("retry.jitter", "unknown key", ("retry", map([("jitter", s("full"))]))),
        (
            "breaker.failure_rate_percent", "expected a whole number from 0 to 100, got '101'",
            ("breaker", map([("failure_rate_percent", s("101"))]))
        ),
        (
            "breaker.consecutive_failures", "expected a whole number from 1 to 1000, got '0'",
            ("breaker", map([("consecutive_failures", s("0"))]))
        ),
        (
            "breaker.cool_down", "expected a duration up to 100 years such as 250ms, 10s, 5m or 1h, got 'long'",
            ("breaker", map([("cool_down", s("long"))]))
        ),
    ]

    @Test(arguments: retryErrors)
    func retryAndBreakerErrorsNameTheKeyPath(_ path: String, _ reason: String, _ section: (String, ConfigNode)) {
        #expect(throws: ConfigError(path: path, reason: reason)) { try load([section]) }
    }
}
