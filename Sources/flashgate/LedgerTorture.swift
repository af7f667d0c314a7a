import ArgumentParser
import FlashgateAccounting
import FlashgateCore
import FlashgateStorage
import Foundation
import Logging

/// `flashgate ledger-torture`: a hidden command for the crash tests. Concurrent workers write to
/// the ledger in a loop and print on stdout only what the ledger's contract promises, so a test
/// can SIGKILL the process at any moment and check the promise after a restart:
/// - by default each worker reserves and settles durably (`per_request`) and prints the settled
///   id once `settle` returned;
/// - with `--leases` each worker is admitted against a hard budget through budget leases, as
///   `serve` does, and prints what its call cost once the call is settled (queued, covered by
///   its durable lease): after a crash the ledger must count at least that much. Its commits
///   are paced as `serve` paces them (`--commit-interval-ms`, `ledger.commit_interval`).
struct LedgerTorture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-torture", abstract: "Write to the ledger in a loop (crash testing).", shouldDisplay: false)

    @Option(name: .long, help: "Store directory; the ledger is <store>/ledger.") var store: String
    @Option(name: .long, help: "Settlements to make in all.") var count: Int = 10_000
    @Option(name: .long, help: "Concurrent workers.") var workers: Int = 8
    @Flag(name: .long, help: "Admit through budget leases and print each call's cost.") var leases = false
    @Option(
        name: .long,
        help: "With --leases: milliseconds settlement rows may wait to share a commit (ledger.commit_interval).")
    var commitIntervalMs = Int(LedgerConfig().commitInterval.milliseconds)

    static let budgetKey = "team:torture:total"

    func run() async throws {
        // Under leases the ledger paces its commits as `serve` does by default.
        let interval: Duration = leases ? .milliseconds(max(0, commitIntervalMs)) : .zero
        let ledger = try Ledger.open(
            directory: store + "/ledger", maxSizeBytes: 1 << 30, options: Ledger.Options(commitInterval: interval),
            logger: Logger(label: "flashgate"))
        let perWorker = max(1, count / max(1, workers))
        if leases {
            try await leased(ledger, perWorker: perWorker)
        } else {
            try await perRequest(ledger, perWorker: perWorker)
        }
        ledger.close()
    }

    private func perRequest(_ ledger: Ledger, perWorker: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<max(1, workers) {
                group.addTask {
                    for i in 0..<perWorker {
                        let id = ledger.nextReservationID()
                        let now = Int64(Date().timeIntervalSince1970 * 1000)
                        let keys = ["team:torture|total", "key:w\(worker)|total"]
                        let amount = MicroUSD(Int64(1_000 + i % 7))
                        try await ledger.reserve(
                            ReservationRecord(
                                id: id, timeMs: now, team: "torture", key: "w\(worker)", model: "m", route: "r",
                                amount: amount, budgetKeys: keys))
                        try await ledger.settle(
                            SettlementRecord(
                                reservationID: id, timeMs: now, team: "torture", key: "w\(worker)", model: "m",
                                route: "r", promptTokens: 10, outputTokens: 5, cost: MicroUSD(amount.value / 2),
                                cacheStatus: "miss", outcome: "ok", budgetKeys: keys))
                        FileHandle.standardOutput.write(Data("\(id)\n".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The torture team's hard total budget, $1,000: far more than a run spends.
    static func leasedConfig() -> FlashgateConfig {
        var config = FlashgateConfig(routes: [])
        var team = TeamConfig(id: "torture")
        team.budgets = [BudgetConfig(period: .total, limit: MicroUSD(1_000_000_000))]
        config.teams = [team]
        return config
    }

    private func leased(_ ledger: Ledger, perWorker: Int) async throws {
        let accountant = Accountant(
            config: Self.leasedConfig(), ledger: ledger, logger: Logger(label: "flashgate"),
            nowMilliseconds: { Int64(Date().timeIntervalSince1970 * 1000) })
        try accountant.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, workers) {
                group.addTask {
                    for i in 0..<perWorker {
                        let decision = accountant.admit(
                            caller: Caller(team: "torture"), clientModel: "m", upstreamModel: "m", route: "r",
                            amount: MicroUSD(Int64(1_000 + i % 7)), tokens: 0)
                        guard case .admit(var admission) = decision else { throw ExitCode.failure }
                        try await accountant.persist(&admission)
                        let cost = await accountant.settle(
                            admission, usage: nil, ending: i % 3 == 0 ? .upstreamError : .incomplete,
                            cacheStatus: "miss")
                        FileHandle.standardOutput.write(Data("\(cost.value)\n".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        accountant.returnAllLeases()
    }
}
