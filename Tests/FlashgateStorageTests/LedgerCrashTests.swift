import FlashgateCore
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateStorage

/// kill -9 against a real process: `flashgate ledger-torture` prints each id only after its
/// settlement is durable; every printed id must be in the ledger after a SIGKILL, the store must
/// open cleanly, and the reservations left open must recover exactly once.
@Suite struct LedgerCrashTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let binary = packageRoot + "/.build/debug/flashgate"

    @Test func sigkillLosesNoSettledSpend() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            print("skipping the ledger crash test: \(Self.binary) is not built (run `swift build` or `make test`)")
            return
        }
        let tmp = TemporaryDirectory("ledger-crash")
        var everyPrinted = Set<UInt64>()
        var recoveredTotal = 0
        for killAfter in [300, 1_500, 4_000] {
            let printed = try await runAndKillOffThePool(store: tmp.path, after: killAfter)
            #expect(printed.count >= killAfter)
            #expect(everyPrinted.isDisjoint(with: printed), "an id was handed out twice across a crash")
            everyPrinted.formUnion(printed)

            let ledger = try Ledger.open(directory: tmp.path + "/ledger", maxSizeBytes: 1 << 30)
            defer { ledger.close() }
            let settledRows = try ledger.requestRows()
            let rowIDs = Set(settledRows.compactMap(\.reservationID))
            let missing = printed.subtracting(rowIDs)
            #expect(missing.isEmpty, "\(missing.count) printed ids are missing from the ledger")
            for id in printed.prefix(50) { #expect(try ledger.isSettled(id)) }

            let open = try ledger.openReservations()
            #expect(Set(open.map(\.id)).isDisjoint(with: printed))
            let recovered = try ledger.recoverOpenReservations(nowMs: 1)
            #expect(recovered.map(\.reservationID) == open.map(\.id))
            recoveredTotal += recovered.count
            #expect(try ledger.recoverOpenReservations(nowMs: 2).isEmpty)
            #expect(try ledger.openReservations().isEmpty)

            let rows = try ledger.requestRows()
            #expect(rows.count == settledRows.count + recovered.count)
            #expect(Set(rows.compactMap(\.reservationID)).count == rows.count, "a reservation settled twice")
            #expect(ledger.total("team:torture|total") == rows.reduce(MicroUSD.zero) { $0 + $1.cost })
        }
        print("ledger crash test: \(everyPrinted.count) acknowledged settlements survived 3 SIGKILLs; \(recoveredTotal) open reservations recovered")
    }

    /// Under budget leases, kill -9 at 20 random moments: whatever the moment, the ledger opens,
    /// recovery charges every open lease's remainder, and the budget's settled total is never
    /// below what the answered calls cost (nor over the budget). The ledger paces its commits as
    /// `serve` does by default (`ledger.commit_interval`), so rows held for a commit die with it.
    @Test func sigkillAtRandomMomentsNeverUndercountsLeasedMoney() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            print("skipping the leased ledger crash test: \(Self.binary) is not built")
            return
        }
        let tmp = TemporaryDirectory("ledger-lease-crash")
        var random = SeededRandom(seed: 2026)
        var answered = MicroUSD.zero
        var overcount = MicroUSD.zero
        for round in 0..<20 {
            let after = Int.random(in: 1...400, using: &random)
            let printed = try await runAndKillOffThePool(store: tmp.path, after: after, leases: true)
            #expect(printed.count >= after, "round \(round)")
            answered += MicroUSD(printed.reduce(0) { $0 + Int64($1) })

            let ledger = try Ledger.open(directory: tmp.path + "/ledger", maxSizeBytes: 1 << 30)
            defer { ledger.close() }
            let recovery = try ledger.recoverAtStart(nowMs: Int64(round))
            #expect(recovery.stillOpen.isEmpty)
            #expect(try ledger.openLeases().isEmpty)
            let total = ledger.total("team:torture:total")
            #expect(total >= answered, "round \(round): the ledger counts \(total), calls answered cost \(answered)")
            #expect(total <= MicroUSD(1_000_000_000))
            let rows = try ledger.requestRows()
            #expect(rows.reduce(MicroUSD.zero) { $0 + $1.cost } == total, "rows and totals disagree")
            overcount = total - answered
        }
        print("leased ledger crash test: 20 SIGKILLs, \(answered) answered, counted \(overcount) more (open leases charged as spent)")
    }

    /// The blocking pipe reads run on a Dispatch thread, not on the cooperative pool that other
    /// tests share (two threads on this machine).
    private func runAndKillOffThePool(store: String, after: Int) async throws -> Set<UInt64> {
        Set(try await runAndKillOffThePool(store: store, after: after, leases: false).map { UInt64($0) })
    }

    private func runAndKillOffThePool(store: String, after: Int, leases: Bool) async throws -> [Int] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runAndKill(store: store, after: after, leases: leases) })
            }
        }
    }

    /// Runs the torture command, reads lines until at least `after` have been printed, SIGKILLs it
    /// mid-run and returns every number it printed, including those still in the pipe.
    private func runAndKill(store: String, after: Int, leases: Bool) throws -> [Int] {
        let process = try ChildProcess(
            path: Self.binary,
            arguments: ["ledger-torture", "--store", store, "--count", "10000000", "--workers", "16"]
                + (leases ? ["--leases"] : []))
        var pending: [UInt8] = []
        var ids: [Int] = []
        func consume(_ data: [UInt8]) {
            pending += data
            guard let end = pending.lastIndex(of: UInt8(ascii: "\n")) else { return }
            for line in pending[...end].split(separator: UInt8(ascii: "\n")) {
                if let value = Int(String(decoding: line, as: UTF8.self)) { ids.append(value) }
            }
            pending.removeSubrange(...end)
        }
        while ids.count < after {
            guard let data = process.read() else { break }
            consume(data)
        }
        process.signal(SIGKILL)
        while let data = process.read() { consume(data) }
        #expect(process.wait() == .signalled(SIGKILL), "the torture run ended before it was killed")
        return ids
    }
}
