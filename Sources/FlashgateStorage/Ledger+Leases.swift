import FlashgateCore

/// Budget leases in the ledger (`ledger.durability: lease`): grants and returns are tiny writes
/// whose durability the accountant waits for or learns of through a callback; settlements drawn
/// from a lease are queued and group-committed behind the answer. Each settlement takes what it
/// charged from its lease in the same transaction as its row, so settled spend plus open leases
/// never changes by a settlement, and what a crash leaves in a lease is exactly what was granted
/// and never settled on disk.
extension Ledger {
    /// Adds `lease.amount` to the group's open lease; `done(true)` once it is durable.
    package func grantLease(_ lease: LeaseRecord, done: @escaping @Sendable (Bool) -> Void) {
        enqueue(.grantLease(lease), done: done)
    }

    /// Hands `amount` of the group's lease back; `done(true)` once that is durable.
    package func releaseLease(group: String, amount: MicroUSD, done: @escaping @Sendable (Bool) -> Void) {
        enqueue(.releaseLease(group: group, amount: amount), done: done)
    }

    /// Queues a settlement drawn from a lease without waiting: its row, its totals, and `debit`
    /// taken from the group's open lease, in one transaction. What the lease covers is safe
    /// until then; a failure is reported to `failed`.
    package func settleLeased(
        _ s: SettlementRecord, group: String, debit: MicroUSD,
        failed: @escaping @Sendable (any Error) -> Void = { _ in }
    ) {
        let write = LedgerPendingWrite(operation: .settleLeased(s, group: group, debit: debit), urgent: false) {
            result in
            if case .failure(let error) = result { failed(error) }
        }
        if !writer.queue.submit(write) { failed(LedgerError(.closed, "the ledger is closed")) }
    }

    /// True at once when the writer's queue has room for another paid call; otherwise waits up to
    /// `wait` for room, then false (the call is refused with 503 `ledger_busy`).
    package func waitForRoom(_ wait: Duration) async -> Bool { await writer.queue.waitForRoom(wait) }

    /// Writes queued or being committed, and the bound paid calls wait at.
    package var queueDepth: Int { writer.queue.depth }
    package var queueCapacity: Int { writer.queue.capacity }

    /// Open leases on disk.
    package func openLeases() throws -> [LeaseRecord] {
        try env.read { txn in
            var out: [LeaseRecord] = []
            try txn.forEach(dbs.leases) { _, value in out.append(try LedgerCodec.decodeLease(value)) }
            return out
        }
    }

    /// What a start found and did: the settlements it made for leases and reservations a crash
    /// left open, and, per budget key, what it could not settle (the ledger was full) and must
    /// count as spent anyway.
    package struct Recovery: Sendable {
        package var settlements: [SettlementRecord] = []
        package var stillOpen: [String: MicroUSD] = [:]
    }

    /// At start: charges every open lease's remainder and every open reservation as spent, each
    /// in one durable transaction. Never throws for lack of space: what cannot be written stays
    /// open on disk and is reported in `stillOpen`, so the caller still counts it and starts.
    package func recoverAtStart(nowMs: Int64) throws -> Recovery {
        var recovery = Recovery()
        let leases = try openLeases()
        let reservations = try openReservations()
        let operations: [LedgerPendingWrite.Operation] =
            leases.map { .settleLeased($0.recovered(nowMs: nowMs), group: $0.group, debit: $0.amount) }
            + reservations.map { .settle(SettlementRecord.recovered($0, nowMs: nowMs)) }
        guard !operations.isEmpty else { return recovery }
        let results = try submitAndWait(operations)
        let rows =
            leases.map { $0.recovered(nowMs: nowMs) }
            + reservations.map { SettlementRecord.recovered($0, nowMs: nowMs) }
        var failures = 0
        for (row, result) in zip(rows, results) {
            switch result {
            case .success(true): recovery.settlements.append(row)
            case .success(false): break
            case .failure: failures += 1
            }
        }
        if failures > 0 {
            for lease in try openLeases() {
                for key in lease.budgetKeys { recovery.stillOpen[key, default: .zero] += lease.amount }
            }
            for r in try openReservations() {
                for key in r.budgetKeys { recovery.stillOpen[key, default: .zero] += r.amount }
            }
            logger.error(
                "could not settle what a crash left open (the ledger is full); it counts as spent until it can be",
                metadata: ["open": "\(failures)"])
        }
        if !recovery.settlements.isEmpty {
            logger.warning(
                "charged leases and reservations left open by an unclean stop as spent",
                metadata: [
                    "count": "\(recovery.settlements.count)",
                    "amount_usd": "\(recovery.settlements.reduce(MicroUSD.zero) { $0 + $1.cost }.dollars)",
                ])
        }
        return recovery
    }

    private func enqueue(_ operation: LedgerPendingWrite.Operation, done: @escaping @Sendable (Bool) -> Void) {
        let write = LedgerPendingWrite(operation: operation) { result in
            if case .success = result { done(true) } else { done(false) }
        }
        if !writer.queue.submit(write) { done(false) }
    }
}
