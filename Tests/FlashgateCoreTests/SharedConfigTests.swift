import Testing

@testable import FlashgateCore

/// `shared:`: addresses (TCP, Unix), the password from an env var or file (never printed), the
/// outage policy and lease knobs, and the refusals that keep a config honest.
@Suite struct SharedConfigTests {
    func map(_ entries: [(String, ConfigNode)]) -> ConfigNode { .map(entries.map { (key: $0.0, value: $0.1) }) }

    func load(
        _ entries: [(String, ConfigNode)], environment: [String: String] = [:], extra: [(String, ConfigNode)] = []
    )
        throws(ConfigError) -> FlashgateConfig
    {
        try FlashgateConfig.load(
            map([("shared", map(entries))] + extra), environment: environment,
            readFile: { path in
                guard path == "/run/secrets/redis" else { throw ConfigError(path: path, reason: "missing") }
                return "from-file\n"
            })
    }

    @Test func withoutASharedSectionEveryHostIsAlone() throws {
        #expect(try FlashgateConfig.load(map([]), environment: [:]).shared == nil)
    }

    @Test func theSectionLoads() throws {
        let shared = try #require(
            try load(
                [
                    ("address", .scalar("redis.internal:6380")), ("database", .scalar("2")),
                    ("key_prefix", .scalar("fg:prod:")), ("host_id", .scalar("web-7")),
                    ("password_env", .scalar("REDIS_PASSWORD")), ("command_timeout", .scalar("50ms")),
                    ("lease_ttl", .scalar("20s")), ("lease_calls", .scalar("200")), ("min_chunk", .scalar("0.05")),
                    ("unreported_calls", .scalar("50")),
                    ("outage", .scalar("local_share")), ("local_share_percent", .scalar("20")),
                ], environment: ["REDIS_PASSWORD": "hunter2"]
            ).shared)
        #expect(shared.address == .tcp(host: "redis.internal", port: 6380))
        #expect(shared.database == 2 && shared.keyPrefix == "fg:prod:" && shared.hostID == "web-7")
        #expect(shared.password?.value == "hunter2")
        #expect(!"\(shared)".contains("hunter2"), "the password never prints")
        #expect(shared.commandTimeout == .milliseconds(50) && shared.leaseTTL == .seconds(20))
        #expect(shared.leaseCalls == 200 && shared.minChunk == MicroUSD(50_000) && shared.unreportedCalls == 50)
        #expect(shared.outage == .localShare && shared.localSharePercent == 20)
    }

    @Test func aUnixSocketAndAPasswordFile() throws {
        let shared = try #require(
            try load([("address", .scalar("/run/redis/redis.sock")), ("password_file", .scalar("/run/secrets/redis"))])
                .shared)
        #expect(shared.address == .unix(path: "/run/redis/redis.sock"))
        #expect(shared.password?.value == "from-file")
        #expect(shared.outage == .refuse, "hard budgets refuse during an outage by default")
    }

    @Test func badValuesAreRefusedWithTheirPath() {
        #expect(throws: ConfigError.self) { try load([("address", .scalar("redis"))]) }
        #expect(throws: ConfigError.self) { try load([]) }
        #expect(throws: ConfigError.self) {
            try load([("address", .scalar("r:6379")), ("password_env", .scalar("UNSET_VARIABLE"))])
        }
        #expect(throws: ConfigError.self) { try load([("address", .scalar("r:6379")), ("outage", .scalar("open"))]) }
        #expect(throws: ConfigError.self) {
            try load([("address", .scalar("r:6379")), ("outage", .scalar("local_share"))])
        }
        #expect(throws: ConfigError.self) {
            try load(
                [("address", .scalar("r:6379"))],
                extra: [("ledger", map([("durability", .scalar("per_request"))]))])
        }
    }
}
