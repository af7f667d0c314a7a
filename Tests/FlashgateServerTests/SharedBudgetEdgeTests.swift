import FlashgateCore
import FlashgateTesting
import FlashgateUpstream
import Foundation
import Testing

@testable import FlashgateServer

/// Shared budgets seen from a client, on a real redis-server, real libcurl and FakeGemini:
/// `/admin/budgets`, `/readyz`, `/metrics` and the dashboard show the cluster and Redis's state;
/// with Redis gone and the lease used up, a hard-budget call is a 503 `budget_unavailable` in
/// the caller's dialect, answered at once.
@Suite(.serialized) struct SharedBudgetEdgeTests {
    static let admin = [("authorization", "Bearer admin-secret")]

    static func config(_ fake: FakeGemini, redis: RedisServer) -> FlashgateConfig {
        var config = LedgerLimitsTests.config(fake)
        config.store.maxSizeBytes = 64 << 20
        var shared = SharedConfig(address: redis.address, hostID: "edge-1")
        shared.reconnectMin = .seconds(60)
        shared.reconnectMax = .seconds(60)
        // Outages here are a stopped server (refused at once), never a slow one.
        shared.connectTimeout = .seconds(5)
        shared.commandTimeout = .seconds(5)
        config.shared = shared
        return config
    }

    @Test func theAdminViewsShowTheClusterAndAnOutageRefusesInTheCallersDialect() async throws {
        let fake = try await FakeGemini.start()
        let redis = try await RedisServer.started()
        let directory = try TempDirectory()
        defer { directory.remove() }
        let curl = try CurlTransport()
        let clock = ManualRetryClock()
        let gateway = try await TestGateway.start(
            config: Self.config(fake, redis: redis), http: curl, storeDirectory: directory.path,
            nowMilliseconds: { Int64(Date().timeIntervalSince1970 * 1000) }, clock: clock, priceMadeUpModels: false)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let first = try await client.request(
            "POST", "/v1/chat/completions", body: LedgerLimitsTests.chat, headers: LedgerLimitsTests.auth)
        #expect(first?.status == 200)
        await gateway.running.gateway.accountant.shared?.drain()

        let budgets = try #require(try await client.request("GET", "/admin/budgets", headers: Self.admin)?.json)
        #expect(budgets["shared"]?["redis"]?.stringValue == "reachable")
        #expect(budgets["shared"]?["host_id"]?.stringValue == "edge-1")
        let cluster = budgets["data"]?[0]?["cluster"]
        #expect(cluster?["hosts"]?.intValue == 1)
        #expect((cluster?["leased_usd"]?.doubleValue ?? 0) > 0, "this host's lease is counted across the cluster")
        let ready = try await client.request("GET", "/readyz")
        #expect(ready?.status == 200)
        #expect(ready?.json?["shared"]?["redis"]?.stringValue == "reachable")
        let metrics = try await client.request("GET", "/metrics")
        #expect(metrics?.text.contains("flashgate_shared_redis_up 1") == true)
        #expect(metrics?.text.contains("flashgate_budget_cluster_settled_usd{") == true)
        let dashboard = try await client.request("GET", "/admin/dashboard.json", headers: Self.admin)
        #expect(dashboard?.json?["shared"]?["redis"]?.stringValue == "reachable")

        redis.stop()
        var refused: RawHTTPClient.Response?
        for _ in 0..<2_000 {
            let response = try await client.request(
                "POST", "/v1/chat/completions", body: LedgerLimitsTests.chat, headers: LedgerLimitsTests.auth)
            if response?.status != 200 {
                refused = response
                break
            }
        }
        let openAI = try #require(refused, "the lease ran out and calls were still answered without Redis")
        #expect(openAI.status == 503)
        #expect(openAI.json?["error"]?["code"]?.stringValue == "budget_unavailable")
        #expect(openAI.header("retry-after") != nil)
        let native = try await client.request(
            "POST", LedgerLimitsTests.native, body: LedgerLimitsTests.nativeBody,
            headers: [("x-goog-api-key", AccountingTests.key), ("cache-control", "no-store")])
        #expect(native?.status == 503)
        #expect(native?.json?["error"]?["status"]?.stringValue == "UNAVAILABLE")
        #expect(native?.json?["error"]?["details"]?[0]?["reason"]?.stringValue == "BUDGET_UNAVAILABLE")
        let down = try await client.request("GET", "/readyz")
        #expect(down?.status == 200, "held leases and cache hits still serve")
        #expect(down?.json?["shared"]?["redis"]?.stringValue == "unreachable")
        #expect(try await client.request("GET", "/metrics")?.text.contains("flashgate_shared_redis_up 0") == true)

        await client.close()
        await gateway.stop()
        curl.shutdown()
        try await fake.shutdown()
        redis.remove()
    }
}
