import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Logging
import Testing

@testable import FlashgateAccounting

/// A reload that lowers a hard budget on one host, with budget leases: what the leases hold
/// unused goes back, and a call the budget has room for is admitted. It had been refused as
/// "budget spent" with `x-should-retry: false` until the period's end, because a lease granted
/// under the old limit held more than the new limit.
@Suite(.timeLimit(.minutes(1)))
struct LeaseReloadTests {
    static func config(limit: String) -> FlashgateConfig {
        var config = FlashgateConfig(routes: [])
        var team = TeamConfig(id: "a")
        team.budgets = [BudgetConfig(period: .day, limit: MicroUSD(dollars: limit)!, mode: .hard)]
        config.teams = [team]
        return config
    }

    static func call(_ accountant: Accountant, _ amount: MicroUSD) async -> Bool {
        guard
            case .admit(var admission) = accountant.admit(
                caller: Caller(team: "a"), clientModel: "m", upstreamModel: "m", route: "r", amount: amount, tokens: 10)
        else { return false }
        do {
            try await accountant.persist(&admission)
        } catch {
            accountant.release(admission)
            return false
        }
        await accountant.settle(admission, usage: nil, ending: .incomplete, cacheStatus: "miss")
        return true
    }

    @Test func aLoweredBudgetAdmitsWhatItHasRoomForAfterAReload() async throws {
        try await TempDirectory.with(prefix: "fgreload") { directory in
            var logger = Logger(label: "lease-reload-test")
            logger.logLevel = .critical
            let ledger = try Ledger.open(directory: directory.path, maxSizeBytes: 64 << 20)
            defer { ledger.close() }
            let first = Accountant(
                config: Self.config(limit: "1.00"), ledger: ledger, logger: logger, nowMilliseconds: { 1_795_000_000_000 },
                clock: ManualRetryClock())
            try first.start()
            let amount = MicroUSD(dollars: "0.001")!
            for _ in 0..<5 { #expect(await Self.call(first, amount)) }
            let key = first.budgets.all(now: first.now)[0].key
            #expect((first.budgets.leasedByKey[key] ?? .zero) > MicroUSD(dollars: "0.02")!, "a lease well past $0.02")
            let reloaded = first.reloaded(config: Self.config(limit: "0.02"))
            // $0.005 spent of $0.02: the next calls fit, and the budget still holds at its limit.
            var admitted = 0
            for _ in 0..<30 where await Self.call(reloaded, amount) { admitted += 1 }
            #expect(admitted == 15, "$0.015 of room at $0.001 a call")
            await ledger.flushCounters()
            #expect(reloaded.budgets.settled([key])[0] == MicroUSD(dollars: "0.02")!)
        }
    }
}
