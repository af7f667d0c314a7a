import FlashgateCore
import FlashgateStorage
import Foundation
import Testing

@testable import FlashgateAccounting

/// The dashboard over rows and hourly rollups: a rollup stands for its requests, an hour that
/// overlaps the window counts whole, and top requests are rows only.
@Suite struct DashboardRollupTests {
    static let now = DashboardReportTests.now

    /// Rows folded into rollups give the same dashboard figures as the rows themselves.
    @Test func rollupsWeighTheirRequests() {
        let rows = [
            DashboardReportTests.row(90, cost: 100), DashboardReportTests.row(80, cost: 300, attempts: ["a", "b"]),
            DashboardReportTests.row(70, cost: 0, cache: "hit"), DashboardReportTests.row(65, cost: 0, cache: "hit"),
            DashboardReportTests.row(62, cost: 50, outcome: "timeout"), DashboardReportTests.row(5, cost: 7),
        ]
        var folded: [LedgerRollup.Key: LedgerRollup.Counts] = [:]
        for row in rows.dropLast() { folded[LedgerRollup.Key(row), default: .init()] += LedgerRollup.Counts(row) }
        let mixed = folded.map { LedgerRollup(key: $0.key, counts: $0.value).record } + [rows.last!]
        let prices = PriceTable()
        let fromRows = DashboardReport.make(rows: rows, budgets: [], nowMs: Self.now, hours: 3, prices: prices)
        let fromRollups = DashboardReport.make(rows: mixed, budgets: [], nowMs: Self.now, hours: 3, prices: prices)
        #expect(fromRollups["totals"] == fromRows["totals"])
        #expect(fromRollups["totals"]?["requests"]?.intValue == 6)
        // Hits saved is priced from summed tokens: rounded once per rollup, not once per hit.
        for field in ["hits", "misses", "joined", "lookups", "hit_ratio", "unpriced_hits"] {
            #expect(fromRollups["cache"]?[field] == fromRows["cache"]?[field], "\(field)")
        }
        let saved = [fromRollups, fromRows].map {
            MicroUSD(dollars: $0["cache"]?["saved_usd"]?.stringValue ?? "")?.value ?? -1
        }
        #expect(saved[0] >= saved[1] - 2 && saved[0] <= saved[1], "\(saved)")
        #expect(fromRollups["errors"] == fromRows["errors"])
        #expect(fromRollups["errors"]?["retried"]?.intValue == 1)
        #expect(fromRollups["models"] == fromRows["models"])
        #expect(
            fromRollups["spend_series"]?["teams"]?[0]?["cost_usd"]
                == fromRows["spend_series"]?["teams"]?[0]?["cost_usd"])
        #expect(fromRollups["top_requests"]?.arrayValue?.count == 1, "rows only")
    }
}
