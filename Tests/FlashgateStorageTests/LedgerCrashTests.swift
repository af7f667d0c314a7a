import FlashgateCore
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

    /// The blocking pipe reads run on a Dispatch thread, not on the cooperative pool that other
    /// tests share (two threads on this machine).
    private func runAndKillOffThePool(store: String, after: Int) async throws -> Set<UInt64> {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runAndKill(store: store, after: after) })
            }
        }
    }

    /// Runs the torture command, reads ids until at least `after` have been printed, SIGKILLs it
    /// mid-run and returns every id it printed, including those still in the pipe.
    private func runAndKill(store: String, after: Int) throws -> Set<UInt64> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["ledger-torture", "--store", store, "--count", "10000000", "--workers", "16"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = out.fileHandleForReading
        var pending: [UInt8] = []
        var ids = Set<UInt64>()
        func consume(_ data: Data) {
            pending += data
            guard let end = pending.lastIndex(of: UInt8(ascii: "\n")) else { return }
            for line in pending[...end].split(separator: UInt8(ascii: "\n")) {
                if let id = UInt64(String(decoding: line, as: UTF8.self)) { ids.insert(id) }
            }
            pending.removeSubrange(...end)
        }
        while ids.count < after {
            let data = reader.availableData
            if data.isEmpty { break }
            consume(data)
        }
        kill(process.processIdentifier, SIGKILL)
        while true {
            let data = reader.availableData
            if data.isEmpty { break }
            consume(data)
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the torture run ended before it was killed")
        return ids
    }
}
