import FlashgateCore
import Foundation
import Synchronization
import Testing

@testable import FlashgateStorage

/// `Ledger.retainPeriodically` on an injected clock and sleep: it applies retention at start and
/// after every interval, at the time the clock says, never sleeping for real.
@Suite(.timeLimit(.minutes(1)))
struct LedgerRetentionLoopTests {
    let tmp = TemporaryDirectory("ledger-retention-loop")

    @Test func retentionRunsAtStartAndAfterEachIntervalOnTheInjectedClock() async throws {
        let h0 = LedgerRetentionTests.h0
        let ledger = try Ledger.open(directory: tmp.path, maxSizeBytes: 64 << 20)
        defer { ledger.close() }
        for i in 0..<10 {
            try await ledger.settle(
                SettlementRecord(
                    reservationID: ledger.nextReservationID(), timeMs: h0 + Int64(i) * 60_000, team: "t", key: "k",
                    model: "m", route: "r", cost: MicroUSD(10), cacheStatus: "miss", outcome: "ok", budgetKeys: []))
        }
        let now = Mutex<Int64>(h0 + 30 * 60_000)
        // Each sleep reports that an iteration ended, then waits for the test to let it go on.
        let (iterations, ended) = AsyncStream.makeStream(of: Duration.self)
        var config = LedgerConfig()
        config.rowsRetention = .seconds(3600)
        config.retentionInterval = .seconds(600)
        let gate = TickGate()
        let task = ledger.retainPeriodically(
            config, nowMs: { now.withLock { $0 } },
            sleep: { interval in
                ended.yield(interval)
                await gate.wait()
                try Task.checkCancellation()
            })
        var seen = iterations.makeAsyncIterator()
        #expect(await seen.next() == .seconds(600), "the first run, at start, then a sleep of the interval")
        #expect(try ledger.requestRows().count == 10, "nothing is an hour old yet")

        now.withLock { $0 = h0 + 3 * 3_600_000 }
        gate.release()
        _ = await seen.next()
        #expect(try ledger.requestRows().isEmpty, "folded once the clock moved past the retention")
        #expect(try ledger.rollups().first?.counts.requests == 10)
        task.cancel()
        gate.release()
        await task.value
    }
}

/// Lets the retention loop's sleeps end one at a time, when the test calls `release()`.
private final class TickGate: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        var released = 0
    }
    private let state = Mutex(State())

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let go = state.withLock { state -> Bool in
                if state.released > 0 {
                    state.released -= 1
                    return true
                }
                state.waiter = continuation
                return false
            }
            if go { continuation.resume() }
        }
    }

    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.released += 1
            return nil
        }
        waiter?.resume()
    }
}
