import FlashgateCore
import FlashgateServer
import FlashgateStorage
import FlashgateTesting
import Foundation
import Testing

/// Cache hits and joined followers cost nothing: they are counted in hourly rollups, not written
/// as a row each (rows of $0 events were lost by the thousand over kill -9s, and filled the disk).
@Suite(.timeLimit(.minutes(1)))
struct LedgerCountersTests {
    @Test func cacheHitsAreCountersInUsageNotRows() async throws {
        let h = try await AccountingTests.Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let auth = [("authorization", "Bearer \(AccountingTests.key)")]
        #expect(
            try await client.request("POST", "/v1/chat/completions", body: AccountingTests.chat("same"), headers: auth)?
                .status == 200)
        for _ in 0..<5 {
            let hit = try await client.request(
                "POST", "/v1/chat/completions", body: AccountingTests.chat("same"), headers: auth)
            #expect(hit?.header("x-flashgate-cache") == "hit")
        }
        _ = try await h.requests(atLeast: 6)
        let rows = try h.ledger.requestRows()
        #expect(rows.count == 1, "one row, for the paid miss: \(rows.map(\.cacheStatus))")
        #expect(rows.first?.cacheStatus == "miss")
        let hits = try h.ledger.rollups().filter { $0.key.cacheStatus == "hit" }
        #expect(hits.count == 1 && hits.first?.counts.requests == 5 && hits.first?.counts.cost == .zero)

        let usage = try await client.request("GET", "/admin/usage", headers: [("authorization", "Bearer admin-secret")])
        #expect(usage?.json?["data"]?[0]?["requests"]?.intValue == 6)
        #expect(usage?.json?["data"]?[0]?["cache_hits"]?.intValue == 5)
        #expect(usage?.json?["data"]?[0]?["cost_usd"] == .number("0.000035"))
        await client.close()
        try await h.stop()
    }
}

/// The ledger's rows and rollups are gauges at `/metrics`, next to its bytes: an operator sees
/// retention at work (rows held steady, rollups growing by the hour) without `ledger stats`.
@Suite(.timeLimit(.minutes(1)))
struct LedgerRowMetricsTests {
    @Test func rowsAndRollupsAreGauges() async throws {
        let h = try await AccountingTests.Harness.start()
        let client = try await RawHTTPClient.connect(port: h.gateway.port)
        let auth = [("authorization", "Bearer \(AccountingTests.key)")]
        for i in 0..<3 {
            let miss = try await client.request(
                "POST", "/v1/chat/completions", body: AccountingTests.chat("paid \(i)"), headers: auth)
            #expect(miss?.status == 200)
        }
        for _ in 0..<2 {
            let hit = try await client.request(
                "POST", "/v1/chat/completions", body: AccountingTests.chat("paid 0"), headers: auth)
            #expect(hit?.header("x-flashgate-cache") == "hit")
        }
        _ = try await h.requests(atLeast: 5)
        let metrics = try #require(try await client.request("GET", "/metrics"))
        let m = try Exposition(metrics.text)
        #expect(m.value("flashgate_ledger_rows", [:]) == 3, "one row per paid miss")
        #expect(m.value("flashgate_ledger_rollups", [:]) == 1, "the two hits, counted in their hour")
        #expect(m.types["flashgate_ledger_rows"] == "gauge")
        await client.close()
        try await h.stop()
    }
}
