import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// `GET /metrics` after scripted traffic through a whole Flashgate: two FakeGemini routes, real
/// libcurl, the real LMDB cache and ledger in a temp directory, a manual clock for the breakers.
@Suite struct MetricsTests {
    static let key = "fg-metrics-key-0123456789"
    static let auth = [("authorization", "Bearer \(key)")]
    static let answer =
        #"{"candidates":[{"content":{"role":"model","parts":[{"text":"fine"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"thoughtsTokenCount":2,"totalTokenCount":6}}"#

    static func chat(_ text: String, maxTokens: Int = 16) -> String {
        #"{"model":"flash","max_tokens":\#(maxTokens),"messages":[{"role":"user","content":"\#(text)"}]}"#
    }

    struct Harness {
        let fakes: [FakeGemini]
        let curl: CurlTransport
        let gateway: TestGateway
        let directory: TempDirectory
        let clock: ManualRetryClock
        let client: RawHTTPClient

        static func start(configure: (inout FlashgateConfig) -> Void = { _ in }) async throws -> Harness {
            let fakes = [try await FakeGemini.start(), try await FakeGemini.start()]
            let routes = fakes.enumerated().map { index, fake in
                RouteConfig(
                    name: "r\(index)", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k\(index)"),
                    passthrough: false)
            }
            var config = FlashgateConfig(
                routes: routes,
                models: [
                    ModelConfig(
                        id: "flash",
                        routes: [
                            ModelRoute(route: "r0", upstreamModel: "gemini-3.5-flash"),
                            ModelRoute(route: "r1", upstreamModel: "gemini-3.5-flash"),
                        ])
                ])
            var team = TeamConfig(id: "search")
            team.budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "0.01")!)]
            config.teams = [team]
            var key = KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex(MetricsTests.key))
            key.budgets = [BudgetConfig(period: .month, limit: MicroUSD(dollars: "5")!)]
            config.keys = [key]
            config.cache.ttl = .seconds(60)
            config.retry = RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
            config.breaker = CircuitBreakerConfig(
                consecutiveFailures: 1, window: 20, failureRatePercent: 100, coolDown: .seconds(30))
            configure(&config)
            let directory = try TempDirectory()
            let curl = try CurlTransport()
            let clock = ManualRetryClock()
            let gateway = try await TestGateway.start(
                config: config, http: curl, storeDirectory: directory.path,
                nowMilliseconds: { Int64(Date().timeIntervalSince1970 * 1000) }, clock: clock)
            return Harness(
                fakes: fakes, curl: curl, gateway: gateway, directory: directory, clock: clock,
                client: try await RawHTTPClient.connect(port: gateway.port))
        }

        func scrape() async throws -> Exposition {
            let response = try #require(try await client.request("GET", "/metrics"))
            #expect(response.status == 200)
            #expect(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
            return try Exposition(response.text)
        }

        func stop() async throws {
            await client.close()
            await gateway.stop()
            curl.shutdown()
            for fake in fakes { try await fake.shutdown() }
            directory.remove()
        }
    }

    @Test func scriptedTrafficShowsUpAsExactSamples() async throws {
        let h = try await Harness.start()
        // 1. A miss, answered by r0.
        h.fakes[0].enqueue(.json(Self.answer))
        let miss = try #require(
            try await h.client.request("POST", "/v1/chat/completions", body: Self.chat("hello"), headers: Self.auth))
        #expect(miss.status == 200)
        #expect(miss.header("x-flashgate-cache") == "miss")
        let missCost = try #require(miss.header("x-flashgate-cost-usd").flatMap(Double.init))
        #expect(missCost > 0)
        h.gateway.running.gateway.cache?.flush()

        // 2. The same prompt again: a hit, free, saving what the miss cost.
        let hit = try #require(
            try await h.client.request("POST", "/v1/chat/completions", body: Self.chat("hello"), headers: Self.auth))
        #expect(hit.header("x-flashgate-cache") == "hit")
        let saved = try #require(hit.header("x-flashgate-cost-saved-usd").flatMap(Double.init))
        #expect(saved == missCost)

        // 3. A worst case far over the team's $0.01 day budget: refused with 429, never sent upstream.
        let rejected = try await h.client.request(
            "POST", "/v1/chat/completions", body: Self.chat("big", maxTokens: 60000), headers: Self.auth)
        #expect(rejected?.status == 429)

        // 4. r0 fails with 503 (its breaker opens at once), r1 answers: one retry.
        h.fakes[0].enqueue(.googleError(status: 503, message: "down", googleStatus: "UNAVAILABLE"))
        h.fakes[1].enqueue(.json(Self.answer))
        let retried = try #require(
            try await h.client.request(
                "POST", "/v1/chat/completions", body: Self.chat("again"),
                headers: Self.auth + [("cache-control", "no-store")]))
        #expect(retried.status == 200)
        let retriedCost = try #require(retried.header("x-flashgate-cost-usd").flatMap(Double.init))
        #expect(h.fakes[0].requestCount == 2 && h.fakes[1].requestCount == 1)

        let m = try await h.scrape()
        let chat = ["endpoint": "chat", "model": "flash", "team": "search"]
        #expect(
            m.value("flashgate_requests_total", chat.merging(["route": "r0", "status": "200", "cache": "miss"])) == 1)
        #expect(
            m.value("flashgate_requests_total", chat.merging(["route": "r0", "status": "200", "cache": "hit"])) == 1)
        #expect(
            m.value("flashgate_requests_total", chat.merging(["route": "r1", "status": "200", "cache": "bypass"])) == 1)
        #expect(m.sum("flashgate_requests_total", ["status": "429"]) == 1)
        #expect(m.sum("flashgate_requests_total") == 4)

        let spend = ["team": "search", "model": "flash"]
        #expect(m.value("flashgate_tokens_total", spend.merging(["kind": "prompt"])) == 6)
        #expect(m.value("flashgate_tokens_total", spend.merging(["kind": "output"])) == 2)
        #expect(m.value("flashgate_tokens_total", spend.merging(["kind": "thoughts"])) == 4)
        #expect(m.value("flashgate_tokens_total", spend.merging(["kind": "cached"])) == nil)
        #expect(approx(m.value("flashgate_cost_usd_total", spend), missCost + retriedCost))
        #expect(approx(m.value("flashgate_cache_saved_usd_total", spend), saved))
        #expect(m.value("flashgate_rate_limit_rejections_total", ["team": "search", "limit": "budget"]) == 1)
        #expect(m.value("flashgate_rate_limit_rejections_total", ["team": "search", "limit": "rate_limit"]) == nil)
        #expect(m.value("flashgate_refusals_total", ["reason": "budget", "team": "search"]) == 1)
        #expect(m.sum("flashgate_refusals_total") == 1)

        #expect(m.value("flashgate_upstream_attempts_total", ["route": "r0", "outcome": "ok"]) == 1)
        #expect(m.value("flashgate_upstream_attempts_total", ["route": "r0", "outcome": "503"]) == 1)
        #expect(m.value("flashgate_upstream_attempts_total", ["route": "r1", "outcome": "ok"]) == 1)
        #expect(m.sum("flashgate_upstream_attempts_total") == 3)
        #expect(m.value("flashgate_upstream_retries_total", ["route": "r1"]) == 1)
        #expect(m.sum("flashgate_upstream_retries_total") == 1)

        #expect(m.value("flashgate_breaker_state", ["route": "r0"]) == 2)
        #expect(m.value("flashgate_breaker_state", ["route": "r1"]) == 0)
        #expect(
            approx(
                m.value("flashgate_budget_remaining_usd", ["team": "search", "budget": "day"]),
                0.01 - missCost - retriedCost))
        #expect(
            approx(
                m.value("flashgate_budget_remaining_usd", ["team": "search", "budget": "key:ci:month"]),
                5 - missCost - retriedCost))
        #expect(m.value("flashgate_cache_entries", [:]) == 1)
        #expect((m.value("flashgate_cache_bytes", [:]) ?? 0) > 0)
        #expect(m.value("flashgate_requests_in_flight", [:]) == 0)

        // Histograms: every request counted once; upstream time only where something went upstream.
        #expect(m.value("flashgate_request_duration_seconds_count", ["endpoint": "chat"]) == 4)
        #expect(m.value("flashgate_request_duration_seconds_bucket", ["endpoint": "chat", "le": "+Inf"]) == 4)
        #expect(m.value("flashgate_time_to_first_byte_seconds_count", ["endpoint": "chat"]) == 4)
        #expect(m.value("flashgate_upstream_duration_seconds_count", ["route": "r0"]) == 1)
        #expect(m.value("flashgate_upstream_duration_seconds_count", ["route": "r1"]) == 1)
        #expect(m.value("flashgate_overhead_seconds_count", ["endpoint": "chat"]) == 2)
        #expect(m.help["flashgate_requests_total"] != nil)
        #expect(m.types["flashgate_request_duration_seconds"] == "histogram")
        #expect(m.types["flashgate_cost_usd_total"] == "counter")

        // The scrape itself is counted once it is over.
        let again = try await h.scrape()
        #expect(again.sum("flashgate_requests_total", ["endpoint": "metrics", "status": "200"]) == 1)
        try await h.stop()
    }

    /// Regression: a lease was topped up only when it ran dry, so the call that found it dry
    /// waited for the grant's commit (3 of these 1,500 calls did: a lease sized by worst cases
    /// lasts ~500 calls that cost less). Now the next grant is asked for with half a lease left,
    /// and only the very first call (nothing leased yet) may wait.
    @Test func onlyTheFirstOfManyCallsWaitsForALeaseGrant() async throws {
        let h = try await Harness.start { config in
            config.teams[0].budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "100")!)]
        }
        for i in 0..<1_500 {
            let response = try await h.client.request(
                "POST", "/v1/chat/completions", body: Self.chat("call \(i)"),
                headers: Self.auth + [("cache-control", "no-store")])
            #expect(response?.status == 200)
        }
        let m = try await h.scrape()
        #expect((m.value("flashgate_ledger_lease_waits_total", [:]) ?? 99) <= 1,
            "the first call, unless its grant was durable before it looked")
        #expect(m.types["flashgate_ledger_lease_waits_total"] == "counter")
        try await h.stop()
    }

    @Test func labelsNeverCarryPathsKeysOrUnknownModels() async throws {
        let h = try await Harness.start()
        _ = try await h.client.request("GET", "/v1beta/models/secret-path-xyz/evil")
        _ = try await h.client.request(
            "POST", "/v1/chat/completions",
            body: #"{"model":"made-up-model-abc","messages":[{"role":"user","content":"x"}]}"#,
            headers: Self.auth)
        _ = try await h.client.request(
            "POST", "/v1/chat/completions", body: Self.chat("x"),
            headers: [("authorization", "Bearer fg-leaked-key-zzz")])
        let response = try #require(try await h.client.request("GET", "/metrics"))
        #expect(!response.text.contains("secret-path-xyz"))
        #expect(!response.text.contains("made-up-model-abc"))
        #expect(!response.text.contains("fg-leaked-key-zzz"))
        #expect(!response.text.contains(Self.key))
        let m = try Exposition(response.text)
        #expect(m.sum("flashgate_requests_total", ["endpoint": "other", "status": "404"]) == 1)
        #expect(m.sum("flashgate_requests_total", ["endpoint": "chat", "status": "401", "team": "none"]) == 1)
        #expect(m.sum("flashgate_requests_total", ["endpoint": "chat", "status": "404", "model": "other"]) == 1)
        #expect(m.value("flashgate_refusals_total", ["reason": "auth", "team": "none"]) == 1)
        #expect(m.value("flashgate_refusals_total", ["reason": "bad_input", "team": "search"]) == 1)
        // An unknown path is not a refusal of a model call.
        #expect(m.sum("flashgate_refusals_total") == 2)
        try await h.stop()
    }

    @Test func eachFlashgateHasItsOwnRegistryAndMetricsCanBeTurnedOff() async throws {
        let a = try await TestGateway.start(config: TestGateway.mockConfig())
        var off = TestGateway.mockConfig()
        off.metrics.enabled = false
        let b = try await TestGateway.start(config: off)
        let c = try await TestGateway.start(config: TestGateway.mockConfig())
        let clientA = try await RawHTTPClient.connect(port: a.port)
        let clientB = try await RawHTTPClient.connect(port: b.port)
        let clientC = try await RawHTTPClient.connect(port: c.port)
        for _ in 0..<3 { _ = try await clientA.request("GET", "/healthz") }
        _ = try await clientC.request("GET", "/healthz")
        let ma = try Exposition(try #require(try await clientA.request("GET", "/metrics")).text)
        let mc = try Exposition(try #require(try await clientC.request("GET", "/metrics")).text)
        #expect(ma.sum("flashgate_requests_total", ["endpoint": "health"]) == 3)
        #expect(mc.sum("flashgate_requests_total", ["endpoint": "health"]) == 1)
        #expect(try await clientB.request("GET", "/metrics")?.status == 404)
        #expect(try await clientA.request("POST", "/metrics")?.status == 405)
        for client in [clientA, clientB, clientC] { await client.close() }
        for gateway in [a, b, c] { await gateway.stop() }
    }

    @Test func theMetricsSectionLoads() throws {
        #expect(try ConfigFile.parse("", environment: [:]).metrics.enabled)
        #expect(try ConfigFile.parse("metrics:\n  enabled: false\n", environment: [:]).metrics.enabled == false)
        #expect(throws: ConfigError.self) { try ConfigFile.parse("metrics:\n  enabled: maybe\n", environment: [:]) }
        #expect(throws: ConfigError.self) { try ConfigFile.parse("metrics:\n  path: /m\n", environment: [:]) }
    }

    @Test func theParserReadsTheTextFormat() throws {
        let m = try Exposition(
            """
            # HELP x_total Things.
            # TYPE x_total counter
            x_total{a="1",b="q\\"uote\\\\"} 2
            x_total 3.5e-1
            y +Inf

            """)
        #expect(m.value("x_total", ["a": "1", "b": #"q"uote\"#]) == 2)
        #expect(m.value("x_total", [:]) == 0.35)
        #expect(m.value("y", [:]) == .infinity)
        #expect(m.help["x_total"] == "Things.")
        #expect(throws: Exposition.ParseError.self) { try Exposition("x{a=\"1\" 2") }
    }
}

func approx(_ value: Double?, _ expected: Double) -> Bool {
    guard let value else { return false }
    return abs(value - expected) < 1e-9
}

extension Dictionary where Key == String, Value == String {
    func merging(_ other: [String: String]) -> [String: String] { merging(other) { _, new in new } }
}

/// A parsed Prometheus text exposition (format 0.0.4): samples with their labels, and the
/// `# HELP` and `# TYPE` lines.
struct Exposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: String
        var description: String { "cannot parse the exposition line '\(line)'" }
    }

    var samples: [Sample] = []
    var help: [String: String] = [:]
    var types: [String: String] = [:]

    init(_ text: String) throws {
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { throw ParseError(line: line) }
                if line.hasPrefix("# HELP ") {
                    help[String(parts[0])] = String(parts[1])
                } else {
                    types[String(parts[0])] = String(parts[1])
                }
                continue
            }
            if line.hasPrefix("#") { continue }
            samples.append(try Self.sample(line))
        }
    }

    private static func sample(_ line: String) throws -> Sample {
        var chars = Substring(line)
        let name = String(chars.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
        guard !name.isEmpty else { throw ParseError(line: line) }
        chars = chars.dropFirst(name.count)
        var labels: [String: String] = [:]
        if chars.first == "{" {
            chars = chars.dropFirst()
            while chars.first != "}" {
                let label = String(chars.prefix { $0 != "=" })
                chars = chars.dropFirst(label.count)
                guard chars.hasPrefix("=\"") else { throw ParseError(line: line) }
                chars = chars.dropFirst(2)
                var value = ""
                var closed = false
                while let c = chars.first {
                    chars = chars.dropFirst()
                    if c == "\\" {
                        guard let next = chars.first else { throw ParseError(line: line) }
                        chars = chars.dropFirst()
                        value.append(next == "n" ? "\n" : next)
                    } else if c == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(c)
                    }
                }
                guard closed else { throw ParseError(line: line) }
                labels[label] = value
                if chars.first == "," { chars = chars.dropFirst() }
                guard !chars.isEmpty else { throw ParseError(line: line) }
            }
            chars = chars.dropFirst()
        }
        let fields = chars.split(separator: " ")
        guard let first = fields.first else { throw ParseError(line: line) }
        let value: Double? =
            switch first {
            case "+Inf": .infinity
            case "-Inf": -.infinity
            case "NaN": .nan
            default: Double(first)
            }
        guard let value else { throw ParseError(line: line) }
        return Sample(name: name, labels: labels, value: value)
    }

    /// The one sample with exactly these labels, or nil.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        let found = samples.filter { $0.name == name && $0.labels == labels }
        return found.count == 1 ? found[0].value : nil
    }

    /// The sum over every sample of `name` whose labels include `matching`.
    func sum(_ name: String, _ matching: [String: String] = [:]) -> Double {
        samples.filter { sample in
            sample.name == name && matching.allSatisfy { sample.labels[$0.key] == $0.value }
        }.reduce(0) { $0 + $1.value }
    }
}
