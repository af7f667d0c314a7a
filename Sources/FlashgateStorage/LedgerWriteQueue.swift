import Foundation

/// One ledger write waiting for the group commit, with the callback that hands its outcome back
/// (`true` when it changed the ledger, `false` for a settlement already made).
struct LedgerPendingWrite: Sendable {
    enum Operation: Sendable {
        case reserve(ReservationRecord)
        case settle(SettlementRecord)
        /// Adds the refusals counted so far (`RefusalTally`) to their counters.
        case refusals
        /// Adds the $0 events counted so far (`RollupTally`) to their hourly rollups.
        case counters
        /// One small batch of retention (`Ledger+Retention`); succeeds with whether more is left.
        case retention(LedgerRetentionStep)
    }

    let operation: Operation
    let done: @Sendable (Result<Bool, any Error>) -> Void
}

/// The hand-off between callers and the ledger's writer thread: a queue under a condition
/// variable. Callers append and signal; the writer sleeps until there is work, then takes up to a
/// batch's worth at once, so everything that arrived during the previous commit's flush rides the
/// next one. After `stop()` nothing new is accepted and the writer drains what is left.
final class LedgerWriteQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [LedgerPendingWrite] = []
    private var stopping = false
    private var finished = false
    private var commits = 0
    private var committedWrites = 0

    /// Queues `write`; false (and nothing queued) once the ledger is closing.
    func submit(_ write: LedgerPendingWrite) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        pending.append(write)
        condition.signal()
        return true
    }

    /// Blocks until there is work and returns at most `limit` writes in arrival order; nil when
    /// stopping with nothing left.
    func take(limit: Int) -> [LedgerPendingWrite]? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !stopping { condition.wait() }
        if pending.isEmpty { return nil }
        let count = min(limit, pending.count)
        let batch = Array(pending[..<count])
        pending.removeFirst(count)
        return batch
    }

    func recordCommit(writes: Int) {
        condition.lock()
        commits += 1
        committedWrites += writes
        condition.unlock()
    }

    /// Commit transactions so far and the writes they carried.
    var counts: (commits: Int, writes: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (commits, committedWrites)
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    func markFinished() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    func waitFinished() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
