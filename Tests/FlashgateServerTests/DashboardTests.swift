import FlashgateCore
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateServer

/// `/admin/dashboard.json` and `/dashboard` on a real gateway with a real ledger and FakeGemini
/// (`DashboardReportTests` covers the report itself on hand-made rows).
@Suite struct DashboardTests {
    /// 2026-11-26T12:00:00Z.
    static let now: Int64 = 1_795_694_400_000

    @Test func routerMatchesTheDashboardEndpoints() {
        #expect(Endpoint.match(method: .GET, path: "/dashboard") == .dashboard)
        #expect(Endpoint.match(method: .GET, path: "/admin/dashboard.json") == .adminDashboard)
        #expect(Endpoint.match(method: .POST, path: "/dashboard") == .methodNotAllowed(allowed: "GET"))
        #expect(Endpoint.dialect(ofPath: "/dashboard") == .openAI)
    }

    // MARK: - On a real gateway

    /// A hit on a mock route is valued at the price its calls are charged at (the `mock` row),
    /// as the metrics and the hit's own header value it; the dashboard had looked the model up
    /// by its upstream name, found no price and counted the hit unpriced.
    @Test func aHitOnAMockRouteIsValuedAtTheMockPrice() async throws {
        var config = TestGateway.mockConfig()
        config.accounting.adminKey = Secret("admin-secret")
        config.prices.set(ModelPrice(input: 1_000_000_000, output: 2_000_000_000, cachedInput: 0), prefix: "mock")
        let directory = try TempDirectory()
        defer { directory.remove() }
        let gateway = try await TestGateway.start(config: config, storeDirectory: directory.path)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let body = #"{"model":"m","messages":[{"role":"user","content":"price me"}]}"#
        #expect(try await client.request("POST", "/v1/chat/completions", body: body)?.status == 200)
        let hit = try await client.request("POST", "/v1/chat/completions", body: body)
        #expect(hit?.header("x-flashgate-cache") == "hit")
        let saved = try #require(hit?.header("x-flashgate-cost-saved-usd"))
        #expect(saved != "0.000000")
        let dashboard = try await client.request(
            "GET", "/admin/dashboard.json?hours=1", headers: [("authorization", "Bearer admin-secret")])
        #expect(dashboard?.json?["cache"]?["saved_usd"]?.stringValue == saved)
        await client.close()
        await gateway.stop()
    }

    @Test func dashboardJSONFromRealTrafficAndTheAdminKey() async throws {
        let h = try await AccountingTests.Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let auth = [("authorization", "Bearer \(AccountingTests.key)")]
        let admin = [("authorization", "Bearer admin-secret")]
        // A miss, then a hit on the same body, then one that bypasses the cache.
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: AccountingTests.chat("dash"), headers: auth)?
                .status == 200)
        let hit = try await client.request(
            "POST", "/v1/chat/completions", body: AccountingTests.chat("dash"), headers: auth)
        #expect(hit?.header("x-flashgate-cache") == "hit")
        _ = try await client.request(
            "POST", "/v1/chat/completions", body: AccountingTests.chat("other"), headers: AccountingTests.auth)
        _ = try await h.requests(atLeast: 3)

        #expect(try await client.request("GET", "/admin/dashboard.json")?.status == 401)
        let wrong = try await client.request("GET", "/admin/dashboard.json", headers: auth)
        #expect(wrong?.status == 401)
        #expect(try await client.request("GET", "/admin/dashboard.json?hours=0", headers: admin)?.status == 400)
        #expect(try await client.request("GET", "/admin/dashboard.json?hours=745", headers: admin)?.status == 400)

        let response = try await client.request("GET", "/admin/dashboard.json?hours=1", headers: admin)
        #expect(response?.status == 200)
        let d = try #require(response?.json)
        #expect(d["window"]?["bucket_seconds"]?.intValue == 300)
        #expect(d["totals"]?["requests"]?.intValue == 3)
        #expect(d["totals"]?["cost_usd"]?.stringValue == "0.000070")
        let team = d["spend_series"]?["teams"]?[0]
        #expect(team?["team"]?.stringValue == "search")
        #expect(team?["cost_usd"]?.stringValue == "0.000070")
        #expect(team?["requests"]?.intValue == 3)
        #expect(d["cache"]?["hits"]?.intValue == 1)
        #expect(d["cache"]?["misses"]?.intValue == 1)
        #expect(d["cache"]?["bypass"]?.intValue == 1)
        #expect(d["cache"]?["hit_ratio"] == .number("0.5000"))
        #expect(d["cache"]?["saved_usd"]?.stringValue == "0.000035")
        let budget = d["budgets"]?[0]
        #expect(budget?["budget"]?.stringValue == "team:search:day")
        #expect(budget?["spent_usd"]?.stringValue == "0.000070")
        #expect(budget?["limit_usd"]?.stringValue == "1.000000")
        #expect(budget?["projected_usd"]?.stringValue != nil)
        #expect(budget?["burn"]?.arrayValue?.last?["spent_usd"]?.stringValue == "0.000070")
        #expect(d["models"]?[0]?["model"]?.stringValue == "gemini-3.5-flash")
        #expect(d["routes"]?[0]?["route"]?.stringValue == "studio")
        #expect(d["errors"]?["by_outcome"]?["ok"]?.intValue == 3)
        // Top requests are request rows: the hit is a count in its hourly rollup, not a row.
        let top = d["top_requests"]?.arrayValue ?? []
        #expect(top.count == 2)
        #expect(top[0]["cost_usd"]?.stringValue == "0.000035")
        #expect(top[0]["key"]?.stringValue == "ci")
        #expect(d["route_health"]?["routes"]?[0]?["name"]?.stringValue == "studio")
        // Names, never secrets.
        #expect(response?.text.contains(AccountingTests.key) == false)
        #expect(response?.text.contains("admin-secret") == false)

        let page = try await client.request("GET", "/dashboard")
        #expect(page?.status == 200)
        #expect(page?.header("content-type") == "text/html; charset=utf-8")
        #expect(page?.header("cache-control") == "no-store")
        #expect(
            page?.header("content-security-policy")?.hasPrefix("default-src 'self'; script-src 'unsafe-inline'") == true
        )
        #expect(page?.text.contains("/admin/dashboard.json") == true)
        // Self-contained: no scripts, styles or fonts from elsewhere.
        #expect(page?.text.contains("https://") == false)
        #expect(page?.text.contains("<script src") == false && page?.text.contains("<link") == false)
        await client.close()
        try await h.stop()
    }
}
