import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Logging
import Synchronization
import Testing

@testable import FlashgateAccounting

/// The accountant times each grant it hands to the real ledger, on the clock its calls are timed
/// on, and the budgets size the next grants by it (`BudgetState.leaseSizing`, whose rules
/// `BudgetLeasesTests` holds).
@Suite(.timeLimit(.minutes(1)))
struct LeaseSizingTests {
    /// A wall clock that moves 7 ms every time it is read: a grant's commit spans at least one read.
    final class TickingWall: Sendable {
        private let ms = Mutex<Int64>(1_795_000_000_000)
        var now: Int64 { ms.withLock { $0 += 7; return $0 } }
    }

    @Test func aGrantsTimeInTheLedgerReachesTheBudgets() async throws {
        try await TempDirectory.with(prefix: "fgsize") { directory in
            var logger = Logger(label: "lease-sizing-test")
            logger.logLevel = .critical
            var config = FlashgateConfig(routes: [])
            var team = TeamConfig(id: "a")
            team.budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: "100")!)]
            config.teams = [team]
            let ledger = try Ledger.open(directory: directory.path, maxSizeBytes: 64 << 20)
            let wall = TickingWall()
            let accountant = Accountant(
                config: config, ledger: ledger, logger: logger, nowMilliseconds: { wall.now },
                clock: ManualRetryClock())
            try accountant.start()
            #expect(accountant.budgets.grantCommitTime == .zero, "nothing measured yet")
            let decision = accountant.admit(
                caller: Caller(team: "a"), clientModel: "m", upstreamModel: "m", route: "r", amount: MicroUSD(500),
                tokens: 10)
            guard case .admit(var admission) = decision else {
                Issue.record("refused: \(decision)")
                ledger.close()
                return
            }
            try await accountant.persist(&admission)
            await accountant.settle(admission, usage: nil, ending: .incomplete, cacheStatus: "miss")
            #expect(accountant.budgets.grantCommitTime >= .milliseconds(7))
            ledger.close()
        }
    }
}
