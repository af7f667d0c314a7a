import Synchronization

/// Refusals counted in memory until the ledger's writer folds them into its next group commit.
/// Counting never waits and at most one write for them is ever queued: however many refusals
/// arrive while a commit is being flushed, they ride the next commit as a handful of counter
/// updates, so a storm of 429s adds no fsync per request and no queue growth.
///
/// Invariant: every count is in exactly one place — `counts` (not yet taken), `committing`
/// (taken by the writer, its transaction not yet over), or the ledger. A failed transaction puts
/// what it took back. Counts not yet committed are lost in a crash: they are counters, not money.
final class RefusalTally: Sendable {
    /// One counter: the UTC hour (Unix ms of its start), team, key name and reason.
    struct Key: Hashable, Sendable {
        var hourMs: Int64
        var team: String
        var key: String
        var reason: String
    }

    private struct State {
        var counts: [Key: Int64] = [:]
        /// A flush write is in the writer's queue.
        var queued = false
        /// The writer took counts whose transaction has not ended yet.
        var committing = false
    }

    private let state = Mutex(State())

    /// Adds one; true when the caller must queue a flush (none is queued yet).
    func add(_ key: Key) -> Bool {
        state.withLock { state in
            state.counts[key, default: 0] += 1
            defer { state.queued = true }
            return !state.queued
        }
    }

    /// The writer takes everything counted so far, for the transaction it is building.
    func take() -> [Key: Int64] {
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
    func ended(putBack: [Key: Int64]) {
        state.withLock { state in
            state.committing = false
            for (key, count) in putBack { state.counts[key, default: 0] += count }
        }
    }

    /// Whether every count so far is in the ledger.
    var isSettled: Bool { state.withLock { $0.counts.isEmpty && !$0.committing } }
}
