import FlashgateCore
import FlashgateStorage

/// Lease changes under shared budgets: a grant is escrowed in Redis first, then made durable in
/// the ledger for what Redis granted; a return is made durable in the ledger first, then handed
/// back to Redis. So this host never holds money Redis has not counted for it. A report tells Redis
/// this host's settled spend and bound on unreported spend for calls that wait until it covers them.
extension Accountant {
    func applyShared(_ change: LeaseChange, shared: SharedBudgets, ledger: Ledger) {
        let budgets = budgets
        switch change.kind {
        case .grant:
            shared.acquire(change) { grant in
                let granted = {
                    var granted = change
                    granted.amount = grant.amount
                    return granted
                }()
                let covered = budgets.shrinkGrant(change, to: grant.amount)
                // Redis granted something (at least the need of the call that asked), but less
                // than the calls that reserved against this grant while it was in flight: they
                // reserve again once it is on disk, instead of all being refused together.
                let refusal: LeaseRefusal? = covered ? nil : grant.amount > .zero ? .cut : grant.refusal ?? .unavailable
                guard grant.amount > .zero else {
                    budgets.leaseChangeFinished(granted, durable: true)
                    self.apply(budgets.takeLandedReleases())
                    change.latch.finish(durable: covered, refusal: refusal)
                    return
                }
                ledger.grantLease(
                    LeaseRecord(
                        group: change.group, team: change.team, key: change.key, budgetKeys: change.budgetKeys,
                        amount: grant.amount)
                ) { durable in
                    budgets.leaseChangeFinished(granted, durable: durable)
                    // A grant asked for under limits a reload lowered hands its remainder back.
                    self.apply(budgets.takeLandedReleases())
                    // Not on disk, so not usable: what Redis granted goes back, and the calls on
                    // it fail as on any ledger failure (reserving again would ask again).
                    if !durable { shared.release(granted) }
                    // Cut: the reservations on it are given back together before any of their
                    // calls wakes to reserve again.
                    if durable && refusal == .cut { budgets.releaseReservations(drawingOn: change) }
                    change.latch.finish(durable: durable && covered, refusal: !durable && refusal == .cut ? nil : refusal)
                }
            }
        case .release:
            ledger.releaseLease(group: change.group, amount: change.amount) { durable in
                budgets.leaseChangeFinished(change, durable: durable)
                // A cut of an expired lease: Redis took the money back already.
                if durable && !change.redisKnows { shared.release(change) }
                change.latch.finish(durable: durable)
            }
        case .report:
            shared.reportNow(change.lines)
            change.latch.finish(durable: true)
        }
    }
}
