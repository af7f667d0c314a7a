import Foundation
import Synchronization

/// The durability of one lease change (a grant or a return): resolved once, by the ledger's
/// writer, with whether the change reached the disk. Admissions that draw on a grant still in
/// flight wait on it before their call goes upstream, so no paid call leaves uncovered.
/// Invariant: it resolves at most once, and every waiter (early or late) sees that one result.
package final class LeaseLatch: Sendable {
    private struct State {
        var result: Bool?
        var refusal: LeaseRefusal?
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }

    private let state = Mutex(State())
    private static let issued = Atomic<UInt64>(0)
    /// Unique in the process (an address could be reused once a latch is gone).
    package let id: UInt64

    package init() {
        id = Self.issued.add(1, ordering: .relaxed).newValue
    }

    /// Resolves the latch; later calls are ignored. Waiters resume after the lock is released.
    package func finish(durable: Bool, refusal: LeaseRefusal? = nil) {
        let waiters: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            guard state.result == nil else { return [] }
            state.result = durable
            state.refusal = durable ? nil : refusal
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: durable) }
    }

    /// Whether the change is durable, once the writer has tried it.
    package func wait() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let known: Bool? = state.withLock { state in
                if let result = state.result { return result }
                state.waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// The result, if the writer has tried the change.
    package var result: Bool? { state.withLock { $0.result } }

    /// Why a failed grant failed, when it was refused rather than lost (shared budgets).
    package var refusal: LeaseRefusal? { state.withLock { $0.refusal } }
}

/// Why a shared lease grant left its waiters uncovered: the budget is spent across all hosts,
/// Redis is unreachable and the outage policy refuses, or Redis granted less than the calls that
/// reserved against the grant while it was in flight (`cut`): the grant is on disk, and each of
/// them reserves again, so the ones it covers go ahead and the rest ask for their own grants.
package enum LeaseRefusal: Sendable, Equatable {
    case spent(budget: String, limit: MicroUSD, periodEnd: Date?)
    case unavailable
    case cut
}

/// One budget line a lease group covers, as a grant needs it across hosts.
package struct LeaseLine: Sendable, Equatable {
    package var key: String
    package var name: String
    package var limit: MicroUSD
    package var hard: Bool
    package var periodEnd: Date?

    package init(key: String, name: String, limit: MicroUSD, hard: Bool, periodEnd: Date?) {
        self.key = key
        self.name = name
        self.limit = limit
        self.hard = hard
        self.periodEnd = periodEnd
    }
}

/// A lease change to make durable: a block of budget granted to a lease group, or an unused
/// remainder handed back. The budgets decide it under their lock; the accountant writes it to
/// the ledger afterwards and reports the outcome back (`Budgets.leaseChangeFinished`).
package struct LeaseChange: Sendable {
    /// `report`: shared budgets only — tell Redis this host's settled spend and its bound on
    /// unreported spend now, for calls that wait until that bound covers them.
    package enum Kind: Sendable { case grant, release, report }

    package var kind: Kind
    /// The lease group: the budget-period keys it covers, joined, or `caller:<team>:<key>`.
    package var group: String
    package var team: String
    package var key: String
    package var budgetKeys: [String]
    package var amount: MicroUSD
    package var latch: LeaseLatch
    /// A grant's lines (shared budgets size it across hosts from them).
    package var lines: [LeaseLine] = []
    /// The part of a grant calls already wait for (0 for a grant fetched ahead of need).
    package var need: MicroUSD = .zero
    /// A return Redis has already taken back (it cut an expired lease): made durable in the
    /// ledger only.
    package var redisKnows = false
}
