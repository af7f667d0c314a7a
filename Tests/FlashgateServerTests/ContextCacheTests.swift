import FlashgateAccounting
import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Synchronization
import Testing

@testable import FlashgateServer

/// Automatic context caching end to end: real ledger, real libcurl, FakeGemini's cachedContents,
/// an injected wall clock for the hours a cache lives (no sleeping).
@Suite struct ContextCacheTests {
    static let key = "fg-test-key-0123456789"
    static let otherKey = "fg-other-key-9876543210"
    static let start: Int64 = 1_800_000_000_000

    /// A 10k-token system prompt (FakeTokens: four bytes a token) and one tool.
    static let system = String(repeating: "rule ", count: 8_000)
    static let tools: JSONValue = [
        [
            "functionDeclarations": [
                [
                    "name": "lookup", "description": "Look a document up",
                    "parameters": ["type": "OBJECT", "properties": ["q": ["type": "STRING"]]],
                ]
            ]
        ]
    ]

    /// A second AI Studio route, `backup`, that the model fails over to after `studio`.
    static func addBackupRoute(_ config: inout FlashgateConfig) {
        config.routes.append(
            RouteConfig(
                name: "backup", kind: .gemini, baseURL: config.routes[0].baseURL, apiKey: Secret("k2"),
                passthrough: false))
        config.models = [
            ModelConfig(
                id: "gemini-3.5-flash",
                routes: [
                    ModelRoute(route: "studio", upstreamModel: "gemini-3.5-flash"),
                    ModelRoute(route: "backup", upstreamModel: "gemini-3.5-flash"),
                ])
        ]
    }

    static func body(_ question: String, system: String = Self.system, tier: String? = nil) -> String {
        var body: JSONValue = [
            "systemInstruction": ["parts": [["text": .string(system)]]], "tools": tools,
            "contents": [["role": "user", "parts": [["text": .string(question)]]]],
        ]
        if let tier, case .object(var object) = body {
            object["serviceTier"] = .string(tier)
            body = .object(object)
        }
        return JSONWriter.string(body)
    }

    final class Clock: Sendable {
        let ms = Mutex(ContextCacheTests.start)
        func now() -> Int64 { ms.withLock { $0 } }
        func advance(seconds: Int64) { ms.withLock { $0 += seconds * 1000 } }
    }

    struct Harness {
        let fake: FakeGemini
        let curl: CurlTransport
        let gateway: TestGateway
        let directory: TempDirectory
        let clock: Clock
        let config: FlashgateConfig

        var ledger: Ledger { gateway.running.gateway.accountant.ledger! }
        var book: ContextCacheBook { gateway.running.gateway.contextCacheBook }

        static func start(configure: (inout FlashgateConfig) -> Void = { _ in }) async throws -> Harness {
            let fake = try await FakeGemini.start()
            let clock = Clock()
            fake.cachedContents.setNow(milliseconds: clock.now())
            fake.cachedContents.setCountsTokens(true)
            var config = FlashgateConfig(routes: [
                RouteConfig(
                    name: "studio", kind: .gemini, baseURL: fake.baseURL, apiKey: Secret("k"), passthrough: true)
            ])
            var search = TeamConfig(id: "search")
            search.maxOutputTokens = 64
            search.budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "10.00")!)]
            config.teams = [search, TeamConfig(id: "other")]
            config.keys = [
                KeyConfig(name: "ci", team: "search", hashHex: VirtualKey.hashHex(ContextCacheTests.key)),
                KeyConfig(name: "other", team: "other", hashHex: VirtualKey.hashHex(ContextCacheTests.otherKey)),
            ]
            config.accounting.adminKey = Secret("admin-secret")
            config.retry = RetryPolicy(maxAttempts: 3, baseDelay: .zero, maxDelay: .zero, deadline: .seconds(60))
            configure(&config)
            let directory = try TempDirectory()
            let curl = try CurlTransport()
            let gateway = try await TestGateway.start(
                config: config, http: curl, storeDirectory: directory.path, nowMilliseconds: { clock.now() },
                priceMadeUpModels: false)
            return Harness(fake: fake, curl: curl, gateway: gateway, directory: directory, clock: clock, config: config)
        }

        /// This gateway stopped and a new one started on the same store, upstream and clock.
        func restarted() async throws -> Harness {
            await gateway.stop()
            let next = try await TestGateway.start(
                config: config, http: curl, storeDirectory: directory.path, nowMilliseconds: { [clock] in clock.now() },
                priceMadeUpModels: false)
            return Harness(fake: fake, curl: curl, gateway: next, directory: directory, clock: clock, config: config)
        }

        func advance(seconds: Int64) {
            clock.advance(seconds: seconds)
            fake.cachedContents.setNow(milliseconds: clock.now())
        }

        func stop() async throws {
            await gateway.stop()
            curl.shutdown()
            try await fake.shutdown()
            directory.remove()
        }

        /// One native generation; a different question each time, so the response cache never answers.
        func generate(
            _ question: String, model: String = "gemini-3.5-flash", key: String = ContextCacheTests.key,
            system: String = ContextCacheTests.system, tier: String? = nil, headers: [(String, String)] = []
        ) async throws -> RawHTTPClient.Response {
            let client = try await RawHTTPClient.connect(port: gateway.port)
            defer { Task { await client.close() } }
            let response = try await client.request(
                "POST", "/v1beta/models/\(model):generateContent",
                body: ContextCacheTests.body(question, system: system, tier: tier),
                headers: [("x-goog-api-key", key)] + headers)
            return try #require(response)
        }

        /// Waits (yielding, never sleeping) until `count` caches are live in Flashgate's book; a
        /// bounded number of yields, so a cache that never comes fails the test instead of hanging it.
        func waitForLive(_ count: Int, sourceLocation: SourceLocation = #_sourceLocation) async {
            for _ in 0..<2_000_000 {
                if book.snapshot.live == count { return }
                await Task.yield()
            }
            Issue.record("\(count) live context caches never appeared", sourceLocation: sourceLocation)
        }

        func generations() -> [FakeRequest] { fake.received.filter { $0.path.hasSuffix(":generateContent") } }
        func creates() -> [FakeRequest] {
            fake.received.filter { $0.method == "POST" && $0.path.hasSuffix("/cachedContents") }
        }

        func rows(_ status: String, atLeast count: Int) async throws -> [SettlementRecord] {
            for _ in 0..<200_000 {
                let rows = try ledger.requestRows().filter { $0.cacheStatus == status }
                if rows.count >= count { return rows }
                await Task.yield()
            }
            Issue.record("no \(count) \(status) rows in the ledger")
            return []
        }
    }
}
