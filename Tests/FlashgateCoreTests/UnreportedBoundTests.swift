import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateCore

/// Shared budgets' bound on unreported spend as a state machine: a call that would take settled +
/// reserved past the bound waits for a report whose snapshot covers it; the bound Redis confirmed
/// holds, the lower one while an outcome is unknown; a cut Redis made leaves the lease for good.
@Suite struct UnreportedBoundTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)
    static let team = Caller(team: "a")

    func budgets() -> Budgets {
        var t = TeamConfig(id: "a")
        t.budgets = [BudgetConfig(period: .total, limit: MicroUSD(100_000_000))]
        let b = Budgets(teams: [t], keys: [], mode: .strict, timeZone: TimeZone(identifier: "UTC")!)
        b.share(
            callsPerLease: 100, prefetchPercent: 25, unreportedCalls: 10, minAllowance: MicroUSD(1_000),
            outageSharePercent: nil)
        return b
    }

    @Test func aCallPastTheBoundWaitsForAReportThatCoversIt() throws {
        let b = budgets()
        let first = b.reserveLeased(caller: Self.team, amount: MicroUSD(500), now: now)
        // No bound yet: it waits for the first report, which the grant's script call makes.
        #expect(first.reportWaits.count == 1)
        #expect(first.changes.map(\.kind) == [.grant, .report])
        let lines = first.changes[0].lines
        let (bounds, answers) = b.snapshotBounds(lines)
        #expect(answers.map { $0 === first.reportWaits[0] } == [true], "the snapshot answers the waiting call")
        // Holds 500 reserved; allowance at least two calls of 500.
        #expect(bounds == [MicroUSD(1_500)])
        #expect(b.boundsReported(lines, bounds: bounds, answered: true) == false)
        for change in first.changes { b.leaseChangeFinished(change, durable: true) }
        #expect(b.unreportedBound("team:a:total") == MicroUSD(1_500))

        // Within the bound: no wait. Past it: a new report, which a later snapshot answers.
        let second = b.reserveLeased(caller: Self.team, amount: MicroUSD(500), now: now)
        #expect(second.reportWaits.isEmpty)
        let third = b.reserveLeased(caller: Self.team, amount: MicroUSD(600), now: now)
        #expect(third.reportWaits.count == 1 && third.changes.map(\.kind) == [.report])
        let fourth = b.reserveLeased(caller: Self.team, amount: MicroUSD(100), now: now)
        #expect(fourth.reportWaits.first === third.reportWaits.first, "one report for every waiting call")
        let (next, nextAnswers) = b.snapshotBounds(lines)
        #expect(nextAnswers.count == 1)
        // Holds 1 700 now; twice the 1 200 since the last report on top.
        #expect(next == [MicroUSD(1_700 + 2_400)])
        // Unknown outcome: the lower of the two bounds stays.
        _ = b.boundsReported(lines, bounds: next, answered: false)
        #expect(b.unreportedBound("team:a:total") == MicroUSD(1_500))
    }

    @Test func aCutLeavesTheLeaseEvenWhenTheLedgerCannotRecordIt() throws {
        let b = budgets()
        let first = b.reserveLeased(caller: Self.team, amount: MicroUSD(500), now: now)
        for change in first.changes { b.leaseChangeFinished(change, durable: true) }
        let leased = try #require(b.leasedByKey["team:a:total"])
        let cuts = b.cutLeases(key: "team:a:total", amount: MicroUSD(10_000))
        #expect(cuts.map(\.amount) == [MicroUSD(10_000)] && cuts.allSatisfy(\.redisKnows))
        for cut in cuts { b.leaseChangeFinished(cut, durable: false) }
        #expect(b.leasedByKey["team:a:total"] == leased - MicroUSD(10_000))
        // Never more than the unused part: what calls in flight hold stays.
        let rest = b.cutLeases(key: "team:a:total", amount: MicroUSD(1_000_000_000))
        #expect(rest.map(\.amount) == [leased - MicroUSD(10_000) - MicroUSD(500)])
    }
}
