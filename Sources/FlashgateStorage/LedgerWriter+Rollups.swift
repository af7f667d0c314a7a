import FlashgateCore
import Synchronization

/// One batch of retention, run by the writer inside one of its group commits: folds at most
/// `limit` request rows older than `rowsBefore` into their hourly rollups (deleting each row and
/// its exactly-once marker), then deletes at most `limit` rollups and refusal counters whose hour
/// starts before `rollupsBefore`. Both cutoffs are hour starts, so an hour is never half folded.
/// Small batches keep every commit short: the writer serves settlements between them.
struct LedgerRetentionStep: Sendable {
    var rowsBefore: Int64
    var rollupsBefore: Int64
    var limit: Int
    /// What the batches of one retention run did, summed.
    let progress: LedgerRetentionProgress
}

/// Counts shared between the writer's batches and the caller of one retention run.
final class LedgerRetentionProgress: Sendable {
    private let counts = Mutex(Ledger.RetentionReport())

    func add(_ body: (inout Ledger.RetentionReport) -> Void) { counts.withLock { body(&$0) } }
    var report: Ledger.RetentionReport { counts.withLock { $0 } }
}

extension LedgerWriter {
    /// Adds `counts` to their rollups in `rollups`.
    func addRollups(_ counts: [LedgerRollup.Key: LedgerRollup.Counts], _ txn: borrowing WriteTransaction) throws {
        for (key, delta) in counts {
            let k = LedgerCodec.rollupKey(key)
            var sum = try txn.withValue(dbs.rollups, key: k) { try LedgerCodec.decodeRollupCounts($0) } ?? .init()
            sum += delta
            try txn.put(dbs.rollups, key: k, value: LedgerCodec.encode(sum))
        }
    }

    /// Runs one retention batch; returns whether anything is left for another.
    func retain(_ step: LedgerRetentionStep, _ txn: borrowing WriteTransaction) throws -> Bool {
        struct Full: Error {}
        // Rows: oldest first, until the cutoff or the batch limit.
        var rowKeys: [[UInt8]] = []
        var folded: [LedgerRollup.Key: LedgerRollup.Counts] = [:]
        var settledKeys: [[UInt8]] = []
        do {
            try txn.forEach(dbs.requests) { key, value in
                guard rowKeys.count < step.limit else { throw Full() }
                let row = try LedgerCodec.decodeRow(key: key, value: value)
                guard row.timeMs < step.rowsBefore else { throw Full() }
                rowKeys.append(Array(key))
                folded[LedgerRollup.Key(row), default: .init()] += LedgerRollup.Counts(row)
                if let id = row.reservationID { settledKeys.append(LedgerCodec.key(id)) }
            }
        } catch is Full {}
        for key in rowKeys { try txn.delete(dbs.requests, key: key) }
        // A settlement is refused twice only within seconds of the first; a row past its
        // retention is days old, so its marker can go with it.
        for key in settledKeys { try txn.delete(dbs.settled, key: key) }
        try addRollups(folded, txn)
        let rowsMore = rowKeys.count == step.limit

        let rollups = try expired(dbs.rollups, before: step.rollupsBefore, limit: step.limit, txn) {
            try LedgerCodec.rollupHour($0)
        }
        let refusals = try expired(dbs.refusals, before: step.rollupsBefore, limit: step.limit, txn) {
            guard $0.count >= 8 else { throw LedgerCodec.Reader.corrupt("short refusal key") }
            var reader = LedgerCodec.Reader($0)
            return Int64(bitPattern: try reader.uint64() ^ (1 << 63))
        }
        step.progress.add {
            $0.rowsFolded += rowKeys.count
            $0.rollupsDeleted += rollups
            $0.refusalCountersDeleted += refusals
            $0.batches += 1
        }
        return rowsMore || rollups == step.limit || refusals == step.limit
    }

    /// Deletes up to `limit` entries of `db` (keyed by hour first) whose hour is before `cutoff`.
    private func expired(
        _ db: StoreDatabase, before cutoff: Int64, limit: Int, _ txn: borrowing WriteTransaction,
        hour: (UnsafeRawBufferPointer) throws -> Int64
    ) throws -> Int {
        struct Done: Error {}
        var keys: [[UInt8]] = []
        do {
            try txn.forEach(db) { key, _ in
                guard keys.count < limit, try hour(key) < cutoff else { throw Done() }
                keys.append(Array(key))
            }
        } catch is Done {}
        for key in keys { try txn.delete(db, key: key) }
        return keys.count
    }
}
