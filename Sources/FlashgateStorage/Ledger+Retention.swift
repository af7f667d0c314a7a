import FlashgateCore
import Foundation
import Synchronization

/// Retention: request rows older than the rows' retention are folded into hourly rollups, and
/// rollups (and refusal counters) older than theirs are deleted — by the ledger's one writer, in
/// batches of `retentionBatch` rows per commit, so settlements keep flowing between batches and
/// the disk a ledger uses stays bounded. The clock is the caller's: tests pass a manual time.
///
/// Invariant: usage totals over any range whose ends are whole hours are the same before and
/// after retention (rows become rollups of the same sums); budget running totals never change.
extension Ledger {
    /// Rows per retention commit: large enough to keep up with 100 requests a second many times
    /// over, small enough that a batch holds the writer for milliseconds.
    package static let retentionBatch = 2_000

    /// What one retention run did.
    package struct RetentionReport: Sendable, Equatable {
        package var rowsFolded = 0
        package var rollupsDeleted = 0
        package var refusalCountersDeleted = 0
        /// Writer commits it took.
        package var batches = 0

        package init() {}
    }

    /// Folds rows older than `rows` before `nowMs` (whole hours only: the cutoff is rounded down to
    /// its hour) and deletes rollups older than `rollups`, batch after batch until nothing is left.
    @discardableResult
    package func applyRetention(
        nowMs: Int64, rows: Duration, rollups: Duration, batch: Int = Ledger.retentionBatch
    ) async throws -> RetentionReport {
        let step = retentionStep(nowMs: nowMs, rows: rows, rollups: rollups, batch: batch)
        while try await submitRetention(step) {}
        return step.progress.report
    }

    /// The same for synchronous callers (the CLI; never an event loop or the cooperative pool).
    @discardableResult
    package func applyRetentionAndWait(
        nowMs: Int64, rows: Duration, rollups: Duration, batch: Int = Ledger.retentionBatch
    ) throws -> RetentionReport {
        let step = retentionStep(nowMs: nowMs, rows: rows, rollups: rollups, batch: batch)
        while true {
            let semaphore = DispatchSemaphore(value: 0)
            let outcome = LockedResult()
            let write = LedgerPendingWrite(operation: .retention(step)) { result in
                outcome.set(result)
                semaphore.signal()
            }
            guard writer.queue.submit(write) else { throw LedgerError(.closed, "the ledger is closed") }
            semaphore.wait()
            guard try outcome.get() else { break }
        }
        return step.progress.report
    }

    /// Runs retention every `config.retentionInterval` until the task is cancelled, reading the
    /// time from `nowMs` and waiting with `sleep` (both injected, so tests drive it by hand).
    package func retainPeriodically(
        _ config: LedgerConfig, nowMs: @escaping @Sendable () -> Int64,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
                do {
                    let report = try await applyRetention(
                        nowMs: nowMs(), rows: config.rowsRetention, rollups: config.rollupsRetention)
                    if report.rowsFolded + report.rollupsDeleted + report.refusalCountersDeleted > 0 {
                        logger.info(
                            "ledger retention",
                            metadata: [
                                "rows_folded": "\(report.rowsFolded)", "rollups_deleted": "\(report.rollupsDeleted)",
                                "batches": "\(report.batches)",
                            ])
                    }
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("ledger retention failed; it runs again later", metadata: ["error": "\(error)"])
                }
                do { try await sleep(config.retentionInterval) } catch { return }
            }
        }
    }

    private func retentionStep(nowMs: Int64, rows: Duration, rollups: Duration, batch: Int) -> LedgerRetentionStep {
        LedgerRetentionStep(
            rowsBefore: LedgerRollup.hour(of: nowMs - rows.milliseconds),
            rollupsBefore: LedgerRollup.hour(of: nowMs - rollups.milliseconds), limit: max(1, batch),
            progress: LedgerRetentionProgress())
    }

    private func submitRetention(_ step: LedgerRetentionStep) async throws -> Bool {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            let write = LedgerPendingWrite(operation: .retention(step)) { continuation.resume(with: $0) }
            if !writer.queue.submit(write) {
                continuation.resume(throwing: LedgerError(.closed, "the ledger is closed"))
            }
        }
    }
}

/// A result handed from the writer thread to a waiting synchronous caller.
private final class LockedResult: Sendable {
    private let result = Mutex<Result<Bool, any Error>>(.success(false))

    func set(_ value: Result<Bool, any Error>) { result.withLock { $0 = value } }
    func get() throws -> Bool { try result.withLock { $0 }.get() }
}
