import Testing

@testable import FlashgateCore

@Suite struct AdmissionConfigTests {
    func map(_ entries: [(String, ConfigNode)]) -> ConfigNode { .map(entries.map { (key: $0.0, value: $0.1) }) }
    func s(_ text: String) -> ConfigNode { .scalar(text) }
    let hash = "sha256:" + String(repeating: "ab", count: 32)

    func team(_ id: String = "search", _ extra: [(String, ConfigNode)] = []) -> ConfigNode { map([("id", s(id))] + extra) }

    func load(_ entries: [(String, ConfigNode)], env: [String: String] = [:]) throws(ConfigError) -> FlashgateConfig {
        try FlashgateConfig.load(map(entries), environment: env)
    }

    func error(_ entries: [(String, ConfigNode)]) -> ConfigError? {
        do { _ = try load(entries); return nil } catch { return error }
    }

    @Test func moneyParsesExactly() {
        #expect(MicroUSD(dollars: "12.50") == MicroUSD(12_500_000))
        #expect(MicroUSD(dollars: "0.000001") == MicroUSD(1))
        #expect(MicroUSD(dollars: "3") == MicroUSD(3_000_000))
        #expect(MicroUSD(dollars: ".5") == MicroUSD(500_000))
        for bad in ["", ".", "-1", "1e3", "0.0000001", "1.2.3", "abc", "99999999999999999"] {
            #expect(MicroUSD(dollars: bad) == nil, "\(bad)")
        }
    }

    @Test func fullAdmissionConfigLoads() throws {
        let config = try load(
            [
                (
                    "teams",
                    .list([
                        team(
                            "search",
                            [
                                ("unix_uids", .list([s("1000")])), ("unix_gids", .list([s("20")])), ("max_output_tokens", s("8192")),
                                ("cache", s("false")),
                                ("limits", map([("rpm", s("600")), ("tpm", s("1_000_000")), ("concurrent", s("16"))])),
                                ("model_limits", map([("smart", map([("rpm", s("60"))]))])),
                                ("budgets", .list([map([("period", s("month")), ("limit_usd", s("12.50"))]), map([("period", s("day")), ("limit_usd", s("1")), ("mode", s("soft"))])])),
                            ]),
                        team("ops"),
                    ])
                ),
                ("keys", .list([map([("name", s("ci")), ("team", s("ops")), ("hash", s(hash)), ("limits", map([("rpm", s("5"))]))])])),
                ("accounting", map([("mode", s("estimate")), ("time_zone", s("America/New_York")), ("default_team", s("ops")), ("admin_key_env", s("ADMIN"))])),
                ("prices", map([("gemini-3.5-flash", map([("input", s("3.00")), ("priority", map([("output", s("20"))]))])), ("my-model", map([("input", s("1")), ("output", s("2"))])), ("*", map([("input", s("4")), ("output", s("8"))]))])),
            ], env: ["ADMIN": "admin-secret"])
        let search = config.teams[0]
        #expect(search.unixUIDs == [1000] && search.unixGIDs == [20] && search.maxOutputTokens == 8192 && !search.cache)
        #expect(search.limits == RateLimits(requestsPerMinute: 600, tokensPerMinute: 1_000_000, concurrent: 16))
        #expect(search.modelLimits["smart"] == RateLimits(requestsPerMinute: 60))
        #expect(search.budgets == [BudgetConfig(period: .month, limit: MicroUSD(12_500_000)), BudgetConfig(period: .day, limit: MicroUSD(1_000_000), mode: .soft)])
        #expect(config.teams[1].cache)
        #expect(config.keys[0].hashHex == String(repeating: "ab", count: 32) && config.keys[0].limits.requestsPerMinute == 5)
        #expect(config.accounting.mode == .estimate && config.accounting.timeZoneID == "America/New_York")
        #expect(config.accounting.defaultTeam == "ops" && config.accounting.adminKey?.value == "admin-secret")
        #expect(config.prices.price(for: "gemini-3.5-flash")?.inputPerMillion == 3_000_000)
        #expect(config.prices.price(for: "gemini-3.5-flash")?.outputPerMillion == 9_000_000)
        #expect(config.prices.price(for: "gemini-3.5-flash", tier: .priority)?.outputPerMillion == 20_000_000)
        #expect(config.prices.price(for: "gemini-3.5-flash", tier: .priority)?.inputPerMillion == 2_700_000)
        #expect(config.prices.price(for: "my-model-v2")?.outputPerMillion == 2_000_000)
        #expect(config.prices.price(for: "gemini-9")?.inputPerMillion == 4_000_000)
    }

    @Test func defaults() throws {
        let config = try load([])
        #expect(config.teams.isEmpty && config.keys.isEmpty)
        #expect(config.accounting.mode == .strict && config.accounting.timeZoneID == "UTC" && config.accounting.defaultTeam == nil)
    }

    /// A `model_limits` entry is keyed by the model id as routing and the rate limiter see it:
    /// written `models/gemini-2.5-flash`, it had limited no call at all.
    @Test func modelLimitsAreKeyedByTheModelIdAsRoutingSeesIt() throws {
        let config = try load([
            ("teams", .list([team("a", [("model_limits", map([("models/gemini-2.5-flash", map([("rpm", s("5"))]))]))])]))
        ])
        #expect(config.teams.first?.modelLimits == ["gemini-2.5-flash": RateLimits(requestsPerMinute: 5)])
        let twice = error([
            (
                "teams",
                .list([
                    team(
                        "a",
                        [
                            (
                                "model_limits",
                                map([
                                    ("gemini-2.5-flash", map([("rpm", s("5"))])),
                                    ("models/gemini-2.5-flash", map([("rpm", s("9"))])),
                                ])
                            )
                        ])
                ])
            )
        ])
        #expect(twice?.path == "teams[0].model_limits.models/gemini-2.5-flash")
        let invalid = error([
            ("teams", .list([team("a", [("model_limits", map([("Gemini Flash", map([("rpm", s("5"))]))]))])]))
        ])
        #expect(invalid?.path == "teams[0].model_limits.Gemini Flash")
    }

    @Test func errorsNameTheirKeyPath() {
        let key = { (team: String, hash: String) in map([("name", s("k")), ("team", s(team)), ("hash", s(hash))]) }
        let cases: [([(String, ConfigNode)], String)] = [
            ([("teams", .list([team()])), ("keys", .list([key("nope", hash)]))], "keys[0].team"),
            ([("teams", .list([team()])), ("keys", .list([key("search", "sha256:xyz")]))], "keys[0].hash"),
            ([("teams", .list([team()])), ("keys", .list([key("search", hash), key("search", hash)]))], "keys[1].name"),
            ([("teams", .list([team(), team()]))], "teams[1].id"),
            ([("teams", .list([team("bad id")]))], "teams[0].id"),
            ([("teams", .list([team("a", [("unix_uids", .list([s("5")]))]), team("b", [("unix_uids", .list([s("5")]))])]))], "teams[1].unix_uids"),
            ([("teams", .list([team("a", [("budgets", .list([map([("period", s("month")), ("limit_usd", s("12.5000001"))])]))])]))], "teams[0].budgets[0].limit_usd"),
            ([("teams", .list([team("a", [("budgets", .list([map([("period", s("year")), ("limit_usd", s("1"))])]))])]))], "teams[0].budgets[0].period"),
            ([("teams", .list([team("a", [("limits", map([("rps", s("1"))]))])]))], "teams[0].limits.rps"),
            ([("teams", .list([team("a", [("model_limits", map([("pro", map([("tpm", s("0"))]))]))])]))], "teams[0].model_limits.pro.tpm"),
            ([("accounting", map([("time_zone", s("Mars/Olympus"))]))], "accounting.time_zone"),
            ([("accounting", map([("default_team", s("ghost"))]))], "accounting.default_team"),
            ([("accounting", map([("admin_key_env", s("UNSET_VAR"))]))], "accounting.admin_key_env"),
            ([("accounting", map([("mode", s("lenient"))]))], "accounting.mode"),
            ([("prices", map([("new-model", map([("input", s("1"))]))]))], "prices.new-model"),
            ([("prices", map([("gemini-3-flash", map([("output", s("-1"))]))]))], "prices.gemini-3-flash.output"),
        ]
        for (entries, path) in cases {
            #expect(error(entries)?.path == path, "expected an error at \(path), got \(String(describing: error(entries)))")
        }
    }
}
