import ArgumentParser
import FlashgateCore
import FlashgateStorage
import Foundation
import Logging

/// `flashgate ledger-torture`: a hidden command for the crash test. Concurrent workers reserve and
/// settle in a loop and print each settled id on stdout only after `settle` returned (durable),
/// so a test can SIGKILL the process at any moment and demand every printed id from the ledger.
struct LedgerTorture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-torture", abstract: "Reserve and settle in a loop (crash testing).", shouldDisplay: false)

    @Option(name: .long, help: "Store directory; the ledger is <store>/ledger.") var store: String
    @Option(name: .long, help: "Settlements to make in all.") var count: Int = 10_000
    @Option(name: .long, help: "Concurrent workers.") var workers: Int = 8

    func run() async throws {
        let ledger = try Ledger.open(directory: store + "/ledger", maxSizeBytes: 1 << 30, logger: Logger(label: "flashgate"))
        let perWorker = max(1, count / max(1, workers))
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
                                reservationID: id, timeMs: now, team: "torture", key: "w\(worker)", model: "m", route: "r",
                                promptTokens: 10, outputTokens: 5, cost: MicroUSD(amount.value / 2), cacheStatus: "miss",
                                outcome: "ok", budgetKeys: keys))
                        FileHandle.standardOutput.write(Data("\(id)\n".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        ledger.close()
    }
}
