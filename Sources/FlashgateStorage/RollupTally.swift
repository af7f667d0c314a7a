import Synchronization

/// $0 events (cache hits, joined followers) counted in memory until the ledger's writer adds them
/// to their hourly rollups in its next group commit. Counting never waits and at most one write
/// for them is queued at a time, so a burst of hits costs a handful of counter updates per commit
/// instead of a row (and a queue slot) each.
///
/// Invariant: every increment is in exactly one place — `counts` (not yet taken), `committing`
/// (taken by the writer, its transaction not yet over), or the ledger. A failed transaction puts
/// what it took back. A kill -9 loses at most the increments not yet committed (those of the last
/// commit interval): they are counters of requests that cost nothing, never money.
final class RollupTally: Sendable {
    private struct State {
        var counts: [LedgerRollup.Key: LedgerRollup.Counts] = [:]
        var queued = false
        var committing = false
    }

    private let state = Mutex(State())

    /// Adds `counts` to `key`; true when the caller must queue a flush (none is queued yet).
    func add(_ key: LedgerRollup.Key, _ counts: LedgerRollup.Counts) -> Bool {
        state.withLock { state in
            state.counts[key, default: LedgerRollup.Counts()] += counts
            defer { state.queued = true }
            return !state.queued
        }
    }

    /// The writer takes everything counted so far, for the transaction it is building.
    func take() -> [LedgerRollup.Key: LedgerRollup.Counts] {
        state.withLock { state in
            defer {
                state.counts = [:]
                state.queued = false
                state.committing = true
            }
            return state.counts
        }
    }

    /// The writer's transaction ended; when it failed, what it took is counted again.
    func ended(putBack: [LedgerRollup.Key: LedgerRollup.Counts]) {
        state.withLock { state in
            state.committing = false
            for (key, counts) in putBack { state.counts[key, default: LedgerRollup.Counts()] += counts }
        }
    }

    /// Whether every increment so far is in the ledger.
    var isSettled: Bool { state.withLock { $0.counts.isEmpty && !$0.committing } }
}
