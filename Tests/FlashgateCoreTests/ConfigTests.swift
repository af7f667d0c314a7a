import Testing

@testable import FlashgateCore

@Suite struct ConfigTests {
    func map(_ entries: [(String, ConfigNode)]) -> ConfigNode { .map(entries.map { (key: $0.0, value: $0.1) }) }

    @Test func defaultsUseMockWithoutKeyAndGeminiWithKey() {
        let offline = FlashgateConfig.embeddedDefaults(environment: [:])
        #expect(offline.routes.map(\.kind) == [.mock])
        #expect(offline.listen.host == "127.0.0.1" && offline.listen.port == 8088)
        #expect(offline.limits.maxBodyBytes == 64 << 20)
        let online = FlashgateConfig.embeddedDefaults(environment: ["GEMINI_API_KEY": "k"])
        #expect(online.routes.map(\.kind) == [.gemini])
        #expect(online.routes[0].apiKey?.value == "k")
        #expect("\(online.routes[0].apiKey!)" == "<redacted>")
    }

    @Test func fullConfigLoads() throws {
        let root = map([
            ("listen", map([("port", .scalar("9000")), ("socket", .scalar("/tmp/s.sock")), ("socket_mode", .scalar("0600"))])),
            ("limits", map([("max_body_bytes", .scalar("8MiB")), ("header_timeout", .scalar("250ms"))])),
            (
                "routes",
                .list([
                    map([("name", .scalar("studio")), ("kind", .scalar("gemini")), ("api_key_env", .scalar("K"))]),
                    map([("name", .scalar("offline")), ("kind", .scalar("mock")), ("passthrough", .scalar("true"))]),
                ])
            ),
            ("models", .list([map([("id", .scalar("fast")), ("route", .scalar("studio")), ("upstream_model", .scalar("gemini-3.5-flash"))])])),
            ("log", map([("format", .scalar("json"))])),
        ])
        let config = try FlashgateConfig.load(root, environment: ["K": "secret"])
        #expect(config.listen.port == 9000)
        #expect(config.listen.socketMode == 0o600)
        #expect(config.limits.maxBodyBytes == 8 << 20)
        #expect(config.limits.headerTimeout == .milliseconds(250))
        #expect(config.routes[0].baseURL == RouteConfig.googleBaseURL)
        #expect(config.routes[0].apiKey?.value == "secret")
        #expect(config.passthroughRoute?.name == "offline")
        #expect(config.models[0].upstreamModel == "gemini-3.5-flash")
        #expect(config.log.format == .json)
    }

    @Test(arguments: [
        ("listen.port", "listen", "port", "70000"),
        ("limits.max_body_bytes", "limits", "max_body_bytes", "lots"),
        ("limits.idle_timeout", "limits", "idle_timeout", "5 minutes"),
        ("listen.bogus", "listen", "bogus", "1"),
    ])
    func errorsNameTheKeyPath(_ expected: String, _ section: String, _ key: String, _ value: String) {
        let root = map([(section, map([(key, .scalar(value))]))])
        #expect {
            try FlashgateConfig.load(root, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.path == expected
        }
    }

    @Test func secretsNeverComeFromConfigText() {
        let root = map([("routes", .list([map([("name", .scalar("r")), ("kind", .scalar("gemini")), ("api_key", .scalar("x"))])]))])
        #expect {
            try FlashgateConfig.load(root, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.path == "routes[0].api_key"
        }
    }

    @Test func missingEnvironmentVariableIsAnError() {
        let root = map([("routes", .list([map([("name", .scalar("r")), ("kind", .scalar("gemini")), ("api_key_env", .scalar("NOPE"))])]))])
        #expect {
            try FlashgateConfig.load(root, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.description == "routes[0].api_key_env: environment variable NOPE is not set"
        }
    }

    @Test func modelMustNameAnExistingRoute() {
        let root = map([("models", .list([map([("id", .scalar("m")), ("route", .scalar("ghost"))])]))])
        #expect {
            try FlashgateConfig.load(root, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.path == "models[0].route"
        }
    }

    @Test func upstreamPoolSize() throws {
        #expect(FlashgateConfig.embeddedDefaults(environment: [:]).upstreamMaxConnections >= 256)
        let root = map([("upstream", map([("max_connections", .scalar("1024"))]))])
        #expect(try FlashgateConfig.load(root, environment: [:]).upstreamMaxConnections == 1024)
        for bad in ["0", "many", "100000"] {
            #expect {
                try FlashgateConfig.load(map([("upstream", map([("max_connections", .scalar(bad))]))]), environment: [:])
            } throws: { error in
                (error as? ConfigError)?.path == "upstream.max_connections"
            }
        }
    }

    @Test func responsesTTL() throws {
        #expect(FlashgateConfig.embeddedDefaults(environment: [:]).responses.ttl == .seconds(30 * 24 * 3600))
        let root = map([("responses", map([("ttl", .scalar("48h"))]))])
        #expect(try FlashgateConfig.load(root, environment: [:]).responses.ttl == .seconds(48 * 3600))
        for (key, value) in [("ttl", "0s"), ("ttl", "soon"), ("size", "1")] {
            #expect {
                try FlashgateConfig.load(map([("responses", map([(key, .scalar(value))]))]), environment: [:])
            } throws: { error in
                (error as? ConfigError)?.path == "responses.\(key)"
            }
        }
    }

    @Test func durationsAndSizes() {
        #expect(ConfigMap.parseDuration("1.5s") == .milliseconds(1500))
        #expect(ConfigMap.parseDuration("2m") == .seconds(120))
        #expect(ConfigMap.parseDuration("10") == nil)
        #expect(ConfigMap.parseBytes("64MiB") == 64 << 20)
        #expect(ConfigMap.parseBytes("1000") == 1000)
        #expect(ConfigMap.parseBytes("x") == nil)
        // The README gives sizes up to 4TiB (ledger.max_size, store.max_size): TiB and TB had no unit.
        #expect(ConfigMap.parseBytes("4TiB") == 4 << 40)
        #expect(ConfigMap.parseBytes("2TB") == 2_000_000_000_000)
    }

    @Test func cacheTTLPrecedence() {
        var config = FlashgateConfig.embeddedDefaults(environment: [:])
        var team = TeamConfig(id: "t")
        team.cacheTTL = .seconds(30)
        config.teams = [team]
        var model = ModelConfig(id: "m", route: "mock")
        model.cacheTTL = .seconds(10)
        config.models = [model]
        let route = config.routes[0]
        #expect(config.cacheTTL(model: "m", route: route, team: "t") == .seconds(10))
        #expect(config.cacheTTL(model: "other", route: route, team: "t") == .seconds(30))
        #expect(config.cacheTTL(model: "other", route: route, team: "u") == config.cache.ttl)
    }

    @Test func ledgerRetentionKeys() throws {
        func load(_ ledger: ConfigNode) throws -> LedgerConfig {
            try FlashgateConfig.load(map([("ledger", ledger)]), environment: [:]).ledger
        }
        let defaults = FlashgateConfig.embeddedDefaults(environment: [:]).ledger
        #expect(defaults.rowsRetention == .seconds(3 * 86_400) && defaults.rollupsRetention == .seconds(396 * 86_400))
        #expect(defaults.maxSizeBytes == nil)
        let set = try load(
            map([
                ("max_size", .scalar("16GiB")),
                ("retention", map([("rows", .scalar("7d")), ("rollups", .scalar("30d")), ("interval", .scalar("5m"))])),
            ]))
        #expect(set.rowsRetention == .seconds(7 * 86_400) && set.rollupsRetention == .seconds(30 * 86_400))
        #expect(set.retentionInterval == .seconds(300) && set.maxSizeBytes == 16 << 30)
        #expect(try load(map([("retention", map([("rows", .scalar("36h"))]))])).rowsRetention == .seconds(36 * 3600))
        for (bad, path) in [
            (map([("retention", map([("rows", .scalar("10m"))]))]), "ledger.retention.rows"),
            (map([("retention", map([("rows", .scalar("soon"))]))]), "ledger.retention.rows"),
            (map([("retention", map([("rows", .scalar("30d")), ("rollups", .scalar("7d"))]))]), "ledger.retention.rows"),
            (map([("retention", map([("keep", .scalar("1d"))]))]), "ledger.retention.keep"),
        ] {
            #expect { try load(bad) } throws: { ($0 as? ConfigError)?.path == path }
        }
    }

    @Test func ledgerCommitInterval() throws {
        func load(_ value: String) throws -> LedgerConfig {
            try FlashgateConfig.load(map([("ledger", map([("commit_interval", .scalar(value))]))]), environment: [:]).ledger
        }
        #expect(FlashgateConfig.embeddedDefaults(environment: [:]).ledger.commitInterval == .milliseconds(10))
        #expect(try load("0ms").commitInterval == .zero)
        #expect(try load("250ms").commitInterval == .milliseconds(250))
        for bad in ["2s", "soon"] {
            #expect { try load(bad) } throws: { ($0 as? ConfigError)?.path == "ledger.commit_interval" }
        }
    }
}
