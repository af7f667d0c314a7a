import Synchronization

/// The durability of one lease change (a grant or a return): resolved once, by the ledger's
/// writer, with whether the change reached the disk. Admissions that draw on a grant still in
/// flight wait on it before their call goes upstream, so no paid call leaves uncovered.
/// Invariant: it resolves at most once, and every waiter (early or late) sees that one result.
package final class LeaseLatch: Sendable {
    private struct State {
        var result: Bool?
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }

    private let state = Mutex(State())

    package init() {}

    /// Resolves the latch; later calls are ignored. Waiters resume after the lock is released.
    package func finish(durable: Bool) {
        let waiters: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            guard state.result == nil else { return [] }
            state.result = durable
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
}

/// A lease change to make durable: a block of budget granted to a lease group, or an unused
/// remainder handed back. The budgets decide it under their lock; the accountant writes it to
/// the ledger afterwards and reports the outcome back (`Budgets.leaseChangeFinished`).
package struct LeaseChange: Sendable {
    package enum Kind: Sendable { case grant, release }

    package var kind: Kind
    /// The lease group: the budget-period keys it covers, joined, or `caller:<team>:<key>`.
    package var group: String
    package var team: String
    package var key: String
    package var budgetKeys: [String]
    package var amount: MicroUSD
    package var latch: LeaseLatch
}
