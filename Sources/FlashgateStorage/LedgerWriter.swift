import FlashgateCore
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

/// The ledger's one writer: a dedicated OS thread that commits queued writes in durable
/// group-commit transactions, never on the cooperative pool or an event loop. Logical refusals
/// (reserving a settled id) fail only their own write. An LMDB failure aborts the transaction
/// (nothing is ever half-applied); the batch is then retried one write per transaction, so only
/// the write that fails again fails. After each commit the writer measures how full the map is.
final class LedgerWriter: Sendable {
    let env: StoreEnvironment
    let dbs: LedgerDatabases
    let queue: LedgerWriteQueue
    let ids: LedgerIDs
    let refusals: RefusalTally
    let rollups: RollupTally
    let health: LedgerHealth
    let logger: Logger
    /// Runs on the writer thread before each transaction: a test's stalled disk.
    let beforeCommit: (@Sendable () -> Void)?

    /// Writes per transaction: enough to amortise the fdatasync, small enough to bound the
    /// transaction's dirty pages and the wait of the last write in it.
    static let writesPerTransaction = 256

    /// How much lower than the process's priority a paced writer runs: its paced rows have no one
    /// waiting for them, so when the CPU is contended the event loops and the curl thread go first
    /// (on a loaded two-core host a commit of ~75 rows every 10 ms otherwise takes a core from
    /// answers in flight). A writer that commits at once (`per_request`) keeps the process's
    /// priority: answers wait for it.
    static let pacedNice: Int32 = 10

    /// The writer thread's kernel id, once it runs (0 before): for tests and diagnostics.
    let threadID = Atomic<Int32>(0)

    init(
        env: StoreEnvironment, dbs: LedgerDatabases, ids: LedgerIDs, refusals: RefusalTally, rollups: RollupTally,
        health: LedgerHealth, queue: LedgerWriteQueue, beforeCommit: (@Sendable () -> Void)?, logger: Logger
    ) {
        self.env = env
        self.dbs = dbs
        self.ids = ids
        self.refusals = refusals
        self.rollups = rollups
        self.health = health
        self.queue = queue
        self.beforeCommit = beforeCommit
        self.logger = logger
    }

    func start() {
        NamedThread.start("flashgate-ledgr") { [self] in run() }
    }

    private func run() {
        if queue.commitInterval > .zero { ThreadPriority.lowerCurrentThread(by: Self.pacedNice) }
        threadID.store(ThreadPriority.currentThreadID, ordering: .releasing)
        while let batch = queue.take(limit: Self.writesPerTransaction) {
            beforeCommit?()
            let committed = commit(batch)
            queue.batchEnded()
            measure(committed: committed)
        }
        persistIDs()
        queue.markFinished()
    }

    /// Commits `batch` in one transaction; when that fails and the batch has more than one
    /// write, each write is tried again in a transaction of its own. Returns whether anything
    /// was committed.
    @discardableResult
    private func commit(_ batch: [LedgerPendingWrite]) -> Bool {
        let refusing = health.refusesPaidCalls
        var writes: [LedgerPendingWrite] = []
        for write in batch {
            if refusing && write.isFree {
                // Money first: near full, the room left is for rows that hold money.
                health.droppedFreeRow()
                write.done(.failure(LedgerError(.full, "the ledger is full; a $0 row was not written")))
            } else {
                writes.append(write)
            }
        }
        guard !writes.isEmpty else { return false }
        switch transaction(writes) {
        case .success(let results):
            queue.recordCommit(writes: writes.count)
            for (write, result) in zip(writes, results) { write.done(result) }
            return true
        case .failure(let error):
            if let store = error as? StoreError, store.isMapFull { health.hitMapFull(logger) }
            guard writes.count > 1 else {
                logger.error("ledger write failed", metadata: ["error": "\(error)"])
                writes[0].done(.failure(error))
                return false
            }
            logger.warning(
                "ledger group commit failed; retrying its writes one by one",
                metadata: ["writes": "\(writes.count)", "error": "\(error)"])
            var any = false
            for write in writes { any = commit([write]) || any }
            return any
        }
    }

    /// One transaction over `batch`: every write applied, or (thrown) none.
    private func transaction(_ batch: [LedgerPendingWrite]) -> Result<[Result<Bool, any Error>], any Error> {
        // Refusal counts this transaction took: put back if it fails.
        var counted: [RefusalTally.Key: Int64] = [:]
        var tookRefusals = false
        // $0 event counts this transaction took: put back if it fails.
        var events: [LedgerRollup.Key: LedgerRollup.Counts]?
        do {
            let results = try env.write { txn in
                var deltas: [String: Int64] = [:]
                var leases = LeaseChanges()
                var out: [Result<Bool, any Error>] = []
                out.reserveCapacity(batch.count)
                for write in batch {
                    switch write.operation {
                    case .reserve(let r): out.append(try reserve(r, txn))
                    case .settle(let s): out.append(try settle(s, txn, &deltas))
                    case .settleLeased(let s, let group, let debit):
                        out.append(try settle(s, txn, &deltas))
                        try leases.change(group, by: -debit.value, record: nil, dbs.leases, txn)
                    case .grantLease(let lease):
                        try leases.change(lease.group, by: lease.amount.value, record: lease, dbs.leases, txn)
                        out.append(.success(true))
                    case .releaseLease(let group, let amount):
                        try leases.change(group, by: -amount.value, record: nil, dbs.leases, txn)
                        out.append(.success(true))
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
                try leases.write(dbs.leases, txn)
                try storeNextID(txn)
                return out
            }
            if tookRefusals { refusals.ended(putBack: [:]) }
            if events != nil { rollups.ended(putBack: [:]) }
            return .success(results)
        } catch {
            if tookRefusals { refusals.ended(putBack: counted) }
            if let events { rollups.ended(putBack: events) }
            return .failure(error)
        }
    }

    private func measure(committed: Bool) {
        do {
            health.measured(try env.usage(), committed: committed, logger)
        } catch {
            logger.warning("ledger usage unreadable", metadata: ["error": "\(error)"])
        }
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

/// A transaction's lease changes, applied one by one to a working copy of each lease it touches
/// and written once at its end: a group commit of a hundred settlements reads, decodes, encodes
/// and writes its lease once, not a hundred times. Each change follows the same rule as before:
/// the amount moves by `delta` and never below zero, a lease that reaches zero is removed, and a
/// change to a lease that does not exist creates it only when it brings its record (a grant).
/// Nothing else in the writer's transaction reads the lease table, so the deferred write is
/// what the changes one by one would have left.
struct LeaseChanges {
    private var touched: [String: (existed: Bool, lease: LeaseRecord?)] = [:]

    mutating func change(
        _ group: String, by delta: Int64, record: LeaseRecord?, _ db: StoreDatabase,
        _ txn: borrowing WriteTransaction
    ) throws {
        guard delta != 0 else { return }
        var entry: (existed: Bool, lease: LeaseRecord?)
        if let known = touched[group] {
            entry = known
        } else {
            let stored = try txn.withValue(db, key: LedgerCodec.leaseKey(group)) { try LedgerCodec.decodeLease($0) }
            entry = (stored != nil, stored)
        }
        guard
            var current = entry.lease
                ?? record.map({
                    LeaseRecord(group: $0.group, team: $0.team, key: $0.key, budgetKeys: $0.budgetKeys, amount: .zero)
                })
        else { return }
        current.amount = MicroUSD(max(0, current.amount.value + delta))
        entry.lease = current.amount == .zero ? nil : current
        touched[group] = entry
    }

    /// Writes each touched lease as the changes left it.
    func write(_ db: StoreDatabase, _ txn: borrowing WriteTransaction) throws {
        for (group, entry) in touched {
            let key = LedgerCodec.leaseKey(group)
            if let lease = entry.lease {
                try txn.put(db, key: key, value: LedgerCodec.encode(lease))
            } else if entry.existed {
                _ = try txn.delete(db, key: key)
            }
        }
    }
}
