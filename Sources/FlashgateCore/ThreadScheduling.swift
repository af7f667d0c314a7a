internal import CSpawn
import Foundation
import Synchronization

/// The Linux scheduling policy of Flashgate's own threads (`process.scheduling`): the event
/// loops, the libcurl thread, the ledger writer and the log flusher.
///
/// - `normal` (`SCHED_OTHER`, the default): a woken Flashgate thread may preempt whatever runs
///   on the CPU, so a request waits least behind CPU-bound neighbours.
/// - `batch` (`SCHED_BATCH`, no privilege needed): a woken thread does not preempt; it runs when
///   the CPU's current task blocks or its slice ends. Under request/response load that shares
///   the cores (the services that call Flashgate, the upstream, a load generator) that means
///   fewer context switches and more throughput; next to CPU-bound work, a longer tail.
///
/// Invariant: the policy is chosen once, before Flashgate's threads start, and every one of them
/// applies it to itself as it starts (`NamedThread`) or at once (`applyToCurrentThread` on each
/// event loop).
package enum ThreadScheduling {
    package enum Policy: String, Sendable, CaseIterable {
        case normal, batch
    }

    private static let chosenBatch = Atomic<Bool>(false)

    /// The policy Flashgate's threads apply to themselves from now on.
    package static func choose(_ policy: Policy) {
        chosenBatch.store(policy == .batch, ordering: .releasing)
    }

    package static var chosen: Policy { chosenBatch.load(ordering: .acquiring) ? .batch : .normal }

    /// Applies the chosen policy to the calling thread; false when the kernel refused (the thread
    /// keeps its policy: a seccomp profile may forbid `sched_setscheduler`).
    @discardableResult
    package static func applyToCurrentThread() -> Bool {
        apply(chosen)
    }

    /// Sets the calling thread's policy; false when the kernel refused.
    @discardableResult
    package static func apply(_ policy: Policy) -> Bool {
        cspawn_set_thread_policy(policy == .batch ? 1 : 0) == 0
    }

    /// The calling thread's policy, or nil for any other (a real-time one, say).
    package static var currentThreadPolicy: Policy? {
        switch cspawn_thread_policy() {
        case 0: .normal
        case 1: .batch
        default: nil
        }
    }
}
