import Foundation

/// One budget lease: a block of every budget a set of callers counts against (the same
/// budget-period keys), made durable ahead of need so admission only debits memory.
///
/// Invariant: `reserved` ≤ `durable + pending` while grants succeed; money leaves the lease
/// only as settled spend (`durable` shrinks by what a settlement charged) or as an unused
/// remainder handed back (`returning` until that is durable).
struct LeaseGroup {
    var team: String
    var key: String
    var budgetKeys: [String]
    /// Granted and on disk.
    var durable: MicroUSD = .zero
    /// Granted, not yet on disk.
    var pending: MicroUSD = .zero
    /// Handed back, not yet on disk: still counted against the budgets.
    var returning: MicroUSD = .zero
    /// Held by calls in flight.
    var reserved: MicroUSD = .zero
    /// A running average of reservations, to size the next grant.
    var typical: MicroUSD
    var lastUsed: Date
    /// A running average of the time between its calls, in nanoseconds (nil before a second
    /// call): with the grants' commit time, how many calls one commit must cover.
    var callInterval: Int64?
    /// The earliest end of the periods it covers; past it the lease is handed back.
    var periodEnd: Date?
    /// The newest grant in flight: a call drawing on `pending` waits for it.
    var latestGrant: LeaseLatch?
    /// A grant failed while others were in flight: until none is, a grant that lands covers its
    /// waiters only if the money on disk covers every reservation (see `leaseChangeFinished`).
    var grantFailedInFlight = false
    /// Its limits were lowered while a grant was in flight (a shared budget reloaded): what it
    /// holds unused goes back as soon as that grant lands, before any call can draw on it.
    var releaseWhenGranted = false
    /// The newest hand-back of an unused remainder, until it is durable: a call the budget
    /// refuses only because of money still on its way back waits for it instead.
    var lastRelease: LeaseLatch?

    /// What is leased in all: counted against every budget of `budgetKeys`.
    var leased: MicroUSD { durable + pending + returning }
    var isEmpty: Bool { leased == .zero && reserved == .zero }

    /// The group of a caller's budget lines at an instant (its keys carry the periods).
    static func id(caller: Caller, keys: [String]) -> String {
        keys.isEmpty ? "caller:\(caller.team):\(caller.key)" : keys.joined(separator: ",")
    }
}

extension LeaseGroup {
    /// Hands `amount` of what is on disk back: it is returning (still counted against the
    /// budgets) until the change this returns, written to the ledger, is durable.
    mutating func handBack(_ amount: MicroUSD, id: String) -> LeaseChange {
        durable -= amount
        returning += amount
        let latch = LeaseLatch()
        lastRelease = latch
        return LeaseChange(
            kind: .release, group: id, team: team, key: key, budgetKeys: budgetKeys, amount: amount, latch: latch)
    }
}
