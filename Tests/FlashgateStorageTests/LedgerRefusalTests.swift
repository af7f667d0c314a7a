import FlashgateCore
import Foundation
import Testing

@testable import FlashgateStorage

/// Refusal counters: by UTC hour, team, key and reason, committed by the ledger's writer without
/// anyone waiting, and in `usage` as rows with an empty model.
@Suite struct LedgerRefusalTests {
    let tmp = TemporaryDirectory("ledger-refusals")

    func open() throws -> Ledger { try Ledger.open(directory: tmp.path, maxSizeBytes: 64 << 20) }

    static let hour: Int64 = 3_600_000
    /// 2026-11-18T07:00:00Z, the start of an hour.
    static let h0 = Int64(1_794_985_200_000)

    @Test func refusalsAreCountersByHourTeamKeyAndReason() async throws {
        let ledger = try open()
        for _ in 0..<3 { ledger.countRefusal(timeMs: Self.h0 + 5, team: "search", key: "ci", reason: .budget) }
        ledger.countRefusal(timeMs: Self.h0 + Self.hour - 1, team: "search", key: "ci", reason: .budget)
        ledger.countRefusal(timeMs: Self.h0 + Self.hour, team: "search", key: "ci", reason: .budget)
        ledger.countRefusal(timeMs: Self.h0 + 7, team: "search", key: "ci", reason: .rateLimit)
        ledger.countRefusal(timeMs: Self.h0 + 9, team: "", key: "", reason: .auth)
        await ledger.flushRefusals()
        let all = try ledger.refusals()
        #expect(all.count == 4, "counters, not rows: \(all)")
        #expect(all.first { $0.hourMs == Self.h0 && $0.reason == "budget" }?.count == 4)
        #expect(all.first { $0.hourMs == Self.h0 + Self.hour && $0.reason == "budget" }?.count == 1)
        #expect(all.first { $0.reason == "rate_limit" }?.count == 1)
        #expect(all.first { $0.team == "" && $0.key == "" }?.reason == "auth")
        #expect(try ledger.refusals(from: Self.h0 + Self.hour).map(\.count) == [1])
        #expect(try ledger.refusals(team: "").map(\.count) == [1])
        ledger.close()

        // Durable once committed: the counters are there after a reopen, and keep adding up.
        let reopened = try open()
        defer { reopened.close() }
        reopened.countRefusal(timeMs: Self.h0 + 1, team: "search", key: "ci", reason: .budget)
        await reopened.flushRefusals()
        #expect(try reopened.refusals(to: Self.h0 + Self.hour).first { $0.reason == "budget" }?.count == 5)
    }

    @Test func usageHasARefusedColumnInRowsWithoutAModel() async throws {
        let ledger = try open()
        defer { ledger.close() }
        try await ledger.settle(
            SettlementRecord(
                reservationID: nil, timeMs: Self.h0, team: "search", key: "ci", model: "flash", route: "r",
                cost: MicroUSD(7),
                cacheStatus: "miss", outcome: "ok", budgetKeys: []))
        ledger.countRefusal(timeMs: Self.h0, team: "search", key: "ci", reason: .budget)
        ledger.countRefusal(timeMs: Self.h0, team: "search", key: "ci", reason: .badInput)
        ledger.countRefusal(timeMs: Self.h0, team: "", key: "", reason: .auth)
        await ledger.flushRefusals()
        let rows = try ledger.usage(from: nil, to: nil, team: nil, key: nil, model: nil)
        #expect(rows.map { "\($0.team)/\($0.key)/\($0.model)" } == ["//", "search/ci/", "search/ci/flash"])
        #expect(rows[0].refused == 1 && rows[0].refusedBy == ["auth": 1] && rows[0].requests == 0)
        #expect(rows[1].refused == 2 && rows[1].refusedBy == ["budget": 1, "bad_input": 1])
        #expect(rows[2].refused == 0 && rows[2].requests == 1)
        #expect(try ledger.usage(from: nil, to: nil, team: "search", key: nil, model: nil).count == 2)
        #expect(try ledger.usage(from: nil, to: nil, team: nil, key: nil, model: "flash").map(\.refused) == [0])
    }

    /// Counting never waits, and a burst of refusals rides a few shared commits instead of one
    /// commit (and one fsync) each.
    @Test func aBurstOfRefusalsTakesFewCommits() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let before = ledger.commitCounts.commits
        let n = 10_000
        for i in 0..<n {
            ledger.countRefusal(timeMs: Self.h0, team: "t\(i % 3)", key: "", reason: .rateLimit)
        }
        await ledger.flushRefusals()
        let commits = ledger.commitCounts.commits - before
        #expect(commits < n / 10, "\(commits) commits for \(n) refusals")
        #expect(try ledger.refusals().reduce(0) { $0 + $1.count } == n)
        #expect(try ledger.refusals().count == 3)
        // Nothing pending: a flush adds no commit.
        let settled = ledger.commitCounts.commits
        await ledger.flushRefusals()
        #expect(ledger.commitCounts.commits == settled)
    }
}
