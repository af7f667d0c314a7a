import FlashgateCore
import FlashgateStorage
import Foundation
import Synchronization

/// Budget leases on the request path (`ledger.durability: lease`): admission draws on a lease in
/// memory; a lease asks for its next grant ahead of need (or, when it runs short, for one the
/// ledger makes durable before the call that needs it goes upstream); unused remainders go back
/// when a lease idles, when its period ends, and at a clean shutdown.
extension Accountant {
    /// Whether admission draws on leases (else each call's reservation is written on its own).
    package var leased: Bool { config.ledger.durability == .lease }

    /// Writes lease changes to the ledger (after the budgets' lock is released) and reports each
    /// outcome back to the budgets, then to whoever waits on it.
    func apply(_ changes: [LeaseChange]) {
        let budgets = budgets
        let nowMilliseconds = nowMilliseconds
        for change in changes {
            // A grant's time in the ledger sizes the next grants: slower commits, earlier and
            // larger ones (`BudgetState.leaseSizing`). Read on the clock the leases' calls are
            // timed on, so the two always agree (a manual clock in tests: no time passes).
            let handedOver = nowMilliseconds()
            let finish: @Sendable (Bool) -> Void = { [self] durable in
                let took = Duration.milliseconds(max(0, nowMilliseconds() - handedOver))
                let covered = budgets.leaseChangeFinished(change, durable: durable, took: took)
                // A grant asked for under limits a reload lowered hands its remainder back.
                if change.kind == .grant { self.apply(budgets.takeLandedReleases()) }
                change.latch.finish(durable: durable && covered)
            }
            guard let ledger else {
                finish(true)
                continue
            }
            if let shared {
                applyShared(change, shared: shared, ledger: ledger)
                continue
            }
            switch change.kind {
            case .grant:
                ledger.grantLease(
                    LeaseRecord(
                        group: change.group, team: change.team, key: change.key, budgetKeys: change.budgetKeys,
                        amount: change.amount), done: finish)
            case .release:
                ledger.releaseLease(group: change.group, amount: change.amount, done: finish)
            case .report:
                finish(true)
            }
        }
    }

    /// Hands back what leases idle for `ledger.lease_idle`, or of periods that ended, hold unused.
    package func returnIdleLeases(now: Date? = nil) {
        apply(budgets.releaseLeases(now: now ?? self.now, idle: config.ledger.leaseIdle))
    }

    /// At a clean shutdown: hands back every lease's unused remainder (the ledger is closed after).
    package func returnAllLeases() {
        apply(budgets.releaseLeases(now: now, idle: .zero, all: true))
    }

    /// Returns idle leases every `interval` until `stopLeaseSweeper`.
    package func startLeaseSweeper(every interval: Duration = .seconds(5)) {
        guard leased, ledger != nil else { return }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                self.returnIdleLeases()
            }
        }
        sweeper.replace(task)
    }

    package func stopLeaseSweeper() {
        sweeper.replace(nil)
        heartbeat.replace(nil)
    }
}

/// The one lease sweeper of a process, shared by a reloaded accountant with its predecessor.
final class LeaseSweeper: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func replace(_ new: Task<Void, Never>?) {
        let old = task.withLock { task in
            defer { task = new }
            return task
        }
        old?.cancel()
    }
}
