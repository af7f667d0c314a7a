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
