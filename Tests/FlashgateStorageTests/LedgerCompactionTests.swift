import FlashgateCore
import Foundation
import Testing

@testable import FlashgateStorage

/// `Ledger.compact`: retention, then LMDB copy-compaction swapped in; the result opens and reads
/// the same, and the file is smaller once retention has freed pages.
@Suite struct LedgerCompactionTests {
    let tmp = TemporaryDirectory("ledger-compaction")

    @Test func compactShrinksAFoldedLedgerAndReadsTheSame() async throws {
        let h0 = LedgerRetentionTests.h0
        let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: 256 << 20)
        let rows = (0..<30_000).map { i in
            SettlementRecord(
                reservationID: UInt64(1_000_000 + i), timeMs: h0 + Int64(i) * 1_000, team: "search", key: "k\(i % 3)",
                model: "flash", route: "studio", promptTokens: 100 + i % 50, outputTokens: 10,
                cost: MicroUSD(Int64(i % 97)),
                cacheStatus: "miss", outcome: "ok", budgetKeys: ["team:search:total"])
        }
        try ledger.appendRows(rows)
        try await ledger.settle(
            SettlementRecord(
                reservationID: ledger.nextReservationID(), timeMs: h0, team: "search", key: "k0", model: "flash",
                route: "studio", cost: MicroUSD(5_000), cacheStatus: "miss", outcome: "ok",
                budgetKeys: ["team:search:total"]))
        let open = ReservationRecord(
            id: ledger.nextReservationID(), timeMs: h0, team: "search", key: "k1", model: "flash", route: "studio",
            amount: MicroUSD(9), budgetKeys: ["team:search:total"])
        try await ledger.reserve(open)
        ledger.close()

        let config = {
            var c = LedgerConfig()
            c.rowsRetention = .seconds(3600)
            return c
        }()
        // Now is 9 h after h0: rows of the first 8 hours fold, the last ~20 minutes stay.
        let report = try Ledger.compact(
            directory: tmp.path, mapSizeBytes: 256 << 20, config: config, nowMs: h0 + 9 * 3_600_000)
        #expect(report.retention.rowsFolded > 28_000)
        #expect(
            report.after.fileBytes < report.before.fileBytes / 2,
            "\(report.before.fileBytes) → \(report.after.fileBytes)")

        let reopened = try Ledger.open(directory: tmp.path, maxSizeBytes: 256 << 20)
        defer { reopened.close() }
        let usage = try reopened.usage(from: nil, to: nil, team: nil, key: nil, model: nil)
        #expect(usage.reduce(0) { $0 + $1.requests } == 30_001)
        #expect(usage.reduce(MicroUSD.zero) { $0 + $1.cost } == rows.reduce(MicroUSD(5_000)) { $0 + $1.cost })
        #expect(reopened.total("team:search:total") == MicroUSD(5_000), "totals copied unchanged")
        #expect(try reopened.openReservations() == [open])
        #expect(try reopened.requestRows().count == report.after.rows)
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/compact.tmp"))
    }
}
