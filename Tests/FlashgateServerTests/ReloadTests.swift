import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Synchronization
import Testing

@testable import FlashgateServer

/// Config reload (what SIGHUP does) from a YAML file on disk: the new config serves new requests,
/// requests in flight finish on the old one, and state survives; a bad file changes nothing.
@Suite struct ReloadTests {
    static let ciKey = "fg-reload-ci-0123456789"
    static let opsKey = "fg-reload-ops-0123456789"
    static let environment = ["FAKE_GEMINI_KEY": "k"]

    /// A config file: a route to FakeGemini, the given models, team `search` with key `ci`, and
    /// `extra` appended verbatim (more teams and keys, or junk).
    static func yaml(
        fake: String, models: [String], rpm: Int? = nil, budget: String = "1.00", teams: String = "", keys: String = "",
        extra: String = ""
    ) -> String {
        """
        listen: { host: 127.0.0.1, port: 0 }
        routes:
          - { name: studio, kind: gemini, base_url: "\(fake)", api_key_env: FAKE_GEMINI_KEY }
        models:
        \(models.map { "  - { id: \($0), route: studio, upstream_model: gemini-3.5-flash }" }.joined(separator: "\n"))
        teams:
          - id: search
            limits: \(rpm.map { "{ rpm: \($0) }" } ?? "{}")
            budgets: [ { period: day, limit_usd: "\(budget)" } ]
        \(teams)
        keys:
          - { name: ci, team: search, hash: "sha256:\(VirtualKey.hashHex(ciKey))" }
        \(keys)
        \(extra)
        """
    }

    /// Log lines, captured.
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
        func contains(_ parts: String...) -> Bool { all.contains { line in parts.allSatisfy { line.contains($0) } } }
    }

    struct Harness {
        let fake: FakeGemini
        let curl: CurlTransport
        let gateway: TestGateway
        let directory: TempDirectory
        let file: String
        let log: Lines

        static func start(_ text: (String) -> String) async throws -> Harness {
            let fake = try await FakeGemini.start()
            let directory = try TempDirectory()
            let file = directory.file("flashgate.yaml")
            try text(fake.baseURL).write(toFile: file, atomically: true, encoding: .utf8)
            let log = Lines()
            let curl = try CurlTransport()
            let load: @Sendable () throws -> FlashgateConfig = {
                try ConfigFile.load(path: file, environment: ReloadTests.environment)
            }
            let gateway = try await TestGateway.start(
                config: try load(), http: curl, storeDirectory: directory.path,
                nowMilliseconds: { Int64(Date().timeIntervalSince1970 * 1000) }, reload: load,
                log: { log.append($0) })
            return Harness(fake: fake, curl: curl, gateway: gateway, directory: directory, file: file, log: log)
        }

        func rewrite(_ text: String) throws { try text.write(toFile: file, atomically: true, encoding: .utf8) }

        func stop() async throws {
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
            directory.remove()
        }

        var ledger: Ledger { gateway.running.gateway.accountant.ledger! }

        /// Waits (yielding, never sleeping) until the ledger holds `count` request rows.
        func rows(atLeast count: Int) async throws {
            while try ledger.requestRows().count < count { await Task.yield() }
        }
    }

    static func chat(_ model: String, _ text: String) -> String {
        #"{"model":"\#(model)","max_tokens":16,"messages":[{"role":"user","content":"\#(text)"}]}"#
    }

    static func auth(_ key: String = ciKey, cache: Bool = false) -> [(String, String)] {
        [("authorization", "Bearer \(key)")] + (cache ? [] : [("cache-control", "no-store")])
    }

    @Test func aGoodFileChangesModelsAndTeamsWhileInFlightRequestsAndTheCacheCarryOn() async throws {
        let h = try await Harness.start { Self.yaml(fake: $0, models: ["alpha", "gamma"]) }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        // A cached answer from before the reload.
        let first = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "cached"), headers: Self.auth(cache: true))
        #expect(first?.status == 200 && first?.header("x-flashgate-cache") == "miss")
        h.gateway.running.gateway.cache?.flush()

        // A request held upstream while the config changes under it.
        let gate = FakeGate()
        var held = FakeReply.json(
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"held"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3}}"#)
        held.gate = gate
        h.fake.enqueue(held)
        let slow = try await RawHTTPClient.connect(port: h.gateway.port)
        async let inFlight = slow.request("POST", "/v1/chat/completions", body: Self.chat("gamma", "slow"), headers: Self.auth())
        await h.fake.waitForRequests(2)

        try h.rewrite(
            Self.yaml(
                fake: h.fake.baseURL, models: ["alpha", "beta"], teams: "  - id: ops",
                keys: #"  - { name: ops-key, team: ops, hash: "sha256:\#(VirtualKey.hashHex(Self.opsKey))" }"#,
                extra: "log: { level: debug }"))
        let summary = try h.gateway.running.reload()
        #expect(summary.models == 2 && summary.teams == 2 && summary.keys == 2 && summary.routes == 1)
        #expect(summary.restartNeeded == ["log.level"])
        #expect(h.log.contains("level=info", "configuration reloaded", "models=2", "teams=2", "keys=2"))
        #expect(h.log.contains("level=warning", "needs a restart", "key=log.level"))

        // The held request was admitted on the old config (gamma existed) and finishes normally.
        gate.open()
        let finished = try await inFlight
        #expect(finished?.status == 200)
        #expect(finished?.json?["choices"]?[0]?["message"]?["content"]?.stringValue == "held")

        // New requests see the new config.
        let removed = try await client.request("POST", "/v1/chat/completions", body: Self.chat("gamma", "x"), headers: Self.auth())
        #expect(removed?.status == 404)
        let added = try await client.request("POST", "/v1/chat/completions", body: Self.chat("beta", "x"), headers: Self.auth())
        #expect(added?.status == 200)
        let newTeam = try await client.request(
            "POST", "/v1/chat/completions", body: Self.chat("beta", "ops"), headers: Self.auth(Self.opsKey))
        #expect(newTeam?.status == 200)
        let models = try await client.request("GET", "/v1/models", headers: Self.auth())
        let ids = models?.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        #expect(ids.contains("beta") && !ids.contains("gamma"))

        // The cache survived: the answer from before the reload is still a hit.
        let again = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "cached"), headers: Self.auth(cache: true))
        #expect(again?.header("x-flashgate-cache") == "hit")
        #expect(h.fake.requestCount == 4)  // cached, held, beta, ops
        await slow.close()
        await client.close()
        try await h.stop()
    }

    @Test func rateLimitBucketsAndBudgetSpendSurviveAReload() async throws {
        let h = try await Harness.start { Self.yaml(fake: $0, models: ["alpha"], rpm: 2) }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let first = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "1"), headers: Self.auth())
        #expect(first?.status == 200 && first?.header("x-ratelimit-remaining-requests") == "1")
        try await h.rows(atLeast: 1)
        let caller = Caller(team: "search", key: "ci")
        let spent = try #require(h.gateway.running.gateway.accountant.budgets.remaining(caller: caller, now: Date()).first)
        #expect(spent.settled > .zero)

        // Same limits: the bucket keeps its level; a fresh bucket would admit two more.
        try h.rewrite(Self.yaml(fake: h.fake.baseURL, models: ["alpha"], rpm: 2))
        try h.gateway.running.reload()
        let after = try #require(h.gateway.running.gateway.accountant.budgets.remaining(caller: caller, now: Date()).first)
        #expect(after.settled == spent.settled)
        let second = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "2"), headers: Self.auth())
        #expect(second?.status == 200 && second?.header("x-ratelimit-remaining-requests") == "0")
        let third = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "3"), headers: Self.auth())
        #expect(third?.status == 429)
        #expect(third?.json?["error"]?["message"]?.stringValue?.contains("team:search:rpm") == true)

        // A lower limit caps the level; a higher one does not hand out tokens already spent.
        try h.rewrite(Self.yaml(fake: h.fake.baseURL, models: ["alpha"], rpm: 3))
        try h.gateway.running.reload()
        let raised = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "4"), headers: Self.auth())
        #expect(raised?.status == 429)

        // A tighter budget counts what was spent before the reload.
        try await h.rows(atLeast: 2)
        let total = try #require(h.gateway.running.gateway.accountant.budgets.remaining(caller: caller, now: Date()).first).settled
        try h.rewrite(Self.yaml(fake: h.fake.baseURL, models: ["alpha"], budget: total.dollars))
        try h.gateway.running.reload()
        let budget = try #require(h.gateway.running.gateway.accountant.budgets.remaining(caller: caller, now: Date()).first)
        #expect(budget.settled == total && budget.remaining == .zero)
        let broke = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "5"), headers: Self.auth())
        #expect(broke?.status == 429)
        #expect(broke?.json?["error"]?["message"]?.stringValue?.contains("budget team:search:day") == true)
        await client.close()
        try await h.stop()
    }

    @Test(arguments: ["invalid YAML", "unknown key", "missing env var"])
    func aBadFileIsRefusedAndTheOldConfigKeepsServing(_ kind: String) async throws {
        let h = try await Harness.start { Self.yaml(fake: $0, models: ["alpha"]) }
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let before = h.gateway.running.gateway
        var text = Self.yaml(fake: h.fake.baseURL, models: ["beta"])
        switch kind {
        case "invalid YAML": text += "\nroutes: [ {"
        case "unknown key": text += "\nbogus_section: 1"
        default: text = text.replacingOccurrences(of: "FAKE_GEMINI_KEY", with: "NOT_SET_ANYWHERE")
        }
        try h.rewrite(text)
        #expect(throws: (any Error).self, "\(kind)") { try h.gateway.running.reload() }
        #expect(h.gateway.running.gateway === before)
        #expect(h.log.contains("level=error", "configuration reload refused", "reason="))
        #expect(!h.log.contains("configuration reloaded"))
        let old = try await client.request("POST", "/v1/chat/completions", body: Self.chat("alpha", "x"), headers: Self.auth())
        #expect(old?.status == 200)
        let new = try await client.request("POST", "/v1/chat/completions", body: Self.chat("beta", "x"), headers: Self.auth())
        #expect(new?.status == 404)
        await client.close()
        try await h.stop()
    }

    @Test func withoutAConfigSourceAReloadIsRefused() async throws {
        let gateway = try await TestGateway.start(config: TestGateway.mockConfig())
        #expect(throws: FlashgateError.self) { try gateway.running.reload() }
        await gateway.stop()
    }
}

@Suite struct ReloadStateTests {
    @Test func aResizedBucketKeepsItsLevelUnderTheNewCapacity() {
        var bucket = TokenBucket.perMinute(10)
        bucket.consume(7)
        #expect(bucket.resized(capacity: 20).available == 3)
        #expect(bucket.resized(capacity: 2).available == 2)
        #expect(bucket.resized(capacity: 20).capacity == 20)
    }
}
