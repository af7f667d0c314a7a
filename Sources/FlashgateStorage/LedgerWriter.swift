import Foundation
import Logging
import Synchronization

/// Hands out ids. The next unused id lives in memory; every commit persists it (never lowering the
/// stored value), so an id that reached the disk is never handed out again after a restart.
final class LedgerIDs: Sendable {
    private let next: Atomic<UInt64>

    init(next: UInt64) { self.next = Atomic(max(next, 1)) }

    func take() -> UInt64 { next.add(1, ordering: .relaxed).oldValue }
    var peek: UInt64 { next.load(ordering: .relaxed) }
}

/// The ledger's one writer: a dedicated OS thread that commits queued reservations and
/// settlements in durable group-commit transactions, never on the cooperative pool or an event
/// loop. Logical refusals (reserving a settled id) fail only their own write; an LMDB failure
/// aborts the transaction and fails every write in it, so nothing is ever half-applied.
final class LedgerWriter: Sendable {
    let env: StoreEnvironment
    let dbs: LedgerDatabases
    let queue = LedgerWriteQueue()
    let ids: LedgerIDs
    let refusals: RefusalTally
    let rollups: RollupTally
    let logger: Logger

    /// Writes per transaction: enough to amortise the fdatasync, small enough to bound the
    /// transaction's dirty pages and the wait of the last write in it.
    static let writesPerTransaction = 256

    init(
        env: StoreEnvironment, dbs: LedgerDatabases, ids: LedgerIDs, refusals: RefusalTally, rollups: RollupTally,
        logger: Logger
    ) {
        self.env = env
        self.dbs = dbs
        self.ids = ids
        self.refusals = refusals
        self.rollups = rollups
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "flashgate.ledger.writer"
        thread.start()
    }

    private func run() {
        while let batch = queue.take(limit: Self.writesPerTransaction) {
            commit(batch)
        }
        persistIDs()
        queue.markFinished()
    }

    private func commit(_ batch: [LedgerPendingWrite]) {
        let results: [Result<Bool, any Error>]
        // Refusal counts this transaction took: put back if it fails.
        var counted: [RefusalTally.Key: Int64] = [:]
        var tookRefusals = false
        // $0 event counts this transaction took: put back if it fails.
        var events: [LedgerRollup.Key: LedgerRollup.Counts]?
        do {
            results = try env.write { txn in
                var deltas: [String: Int64] = [:]
                var out: [Result<Bool, any Error>] = []
                out.reserveCapacity(batch.count)
                for write in batch {
                    switch write.operation {
                    case .reserve(let r): out.append(try reserve(r, txn))
                    case .settle(let s): out.append(try settle(s, txn, &deltas))
                    case .refusals:
                        if !tookRefusals {
                            tookRefusals = true
                            counted = refusals.take()
                            try addRefusals(counted, txn)
                        }
                        out.append(.success(true))
                    case .counters:
                        if events == nil {
                            events = rollups.take()
                            try addRollups(events ?? [:], txn)
                        }
                        out.append(.success(true))
                    case .retention(let step): out.append(.success(try retain(step, txn)))
                    }
                }
                for (key, delta) in deltas where delta != 0 {
                    let k = Array(key.utf8)
                    let current = try txn.withValue(dbs.totals, key: k) { try LedgerCodec.decodeInt64($0) } ?? 0
                    try txn.put(dbs.totals, key: k, value: LedgerCodec.key(UInt64(bitPattern: current &+ delta)))
                }
                try storeNextID(txn)
                return out
            }
            queue.recordCommit(writes: batch.count)
            if tookRefusals { refusals.ended(putBack: [:]) }
            if events != nil { rollups.ended(putBack: [:]) }
        } catch {
            logger.error("ledger commit failed", metadata: ["writes": "\(batch.count)", "error": "\(error)"])
            results = Array(repeating: .failure(error), count: batch.count)
            if tookRefusals { refusals.ended(putBack: counted) }
            if let events { rollups.ended(putBack: events) }
        }
        for (write, result) in zip(batch, results) { write.done(result) }
    }

    private func reserve(_ r: ReservationRecord, _ txn: borrowing WriteTransaction) throws -> Result<Bool, any Error> {
        let id = LedgerCodec.key(r.id)
        if try txn.get(dbs.settled, key: id) != nil {
            return .failure(LedgerError(.alreadySettled, "reservation \(r.id) is already settled"))
        }
        try txn.put(dbs.reservations, key: id, value: LedgerCodec.encode(r))
        return .success(true)
    }

    private func settle(
        _ s: SettlementRecord, _ txn: borrowing WriteTransaction, _ deltas: inout [String: Int64]
    ) throws -> Result<Bool, any Error> {
        let rowID: UInt64
        if let reservationID = s.reservationID {
            let id = LedgerCodec.key(reservationID)
            if try txn.get(dbs.settled, key: id) != nil { return .success(false) }
            try txn.delete(dbs.reservations, key: id)
            rowID = reservationID
        } else {
            rowID = ids.take()
        }
        let rowKey = LedgerCodec.requestKey(timeMs: s.timeMs, rowID: rowID)
        if let reservationID = s.reservationID {
            try txn.put(dbs.settled, key: LedgerCodec.key(reservationID), value: rowKey)
        }
        try txn.put(dbs.requests, key: rowKey, value: LedgerCodec.encodeCompact(s))
        for key in Set(s.budgetKeys) { deltas[key, default: 0] &+= s.cost.value }
        return .success(true)
    }

    /// Adds refusal counts to their counters in `refusals`.
    private func addRefusals(_ counts: [RefusalTally.Key: Int64], _ txn: borrowing WriteTransaction) throws {
        for (key, count) in counts {
            let k = LedgerCodec.refusalKey(key)
            let current = try txn.withValue(dbs.refusals, key: k) { try LedgerCodec.decodeInt64($0) } ?? 0
            try txn.put(dbs.refusals, key: k, value: LedgerCodec.key(UInt64(bitPattern: current &+ count)))
        }
    }

    private func storeNextID(_ txn: borrowing WriteTransaction) throws {
        let stored = try txn.withValue(dbs.meta, key: LedgerDatabases.nextIDKey) { try LedgerCodec.decodeInt64($0) }
        let next = ids.peek
        if let stored, UInt64(bitPattern: stored) >= next { return }
        try txn.put(dbs.meta, key: LedgerDatabases.nextIDKey, value: LedgerCodec.key(next))
    }

    /// On close: ids handed out since the last commit are never reused either.
    private func persistIDs() {
        do {
            try env.write { txn in try storeNextID(txn) }
        } catch {
            logger.warning("ledger id counter not saved", metadata: ["error": "\(error)"])
        }
    }
}
