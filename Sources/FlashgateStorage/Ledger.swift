import FlashgateCore
import Foundation
import Logging
import Synchronization

/// The durable usage ledger: reservations, one row per settled request, and running totals per
/// budget period, in an LMDB environment of its own with every commit flushed to disk.
///
/// Invariants: `reserve` and `settle` return only after their transaction is durable, so kill -9
/// loses nothing a caller was told is recorded; a settlement removes its reservation, appends its
/// row and adds its cost to every budget key in ONE transaction, and a reservation id settles at
/// most once; a settlement drawn from a budget lease (`settleLeased`) is queued, not awaited, and
/// takes what it charged from its lease in the same transaction as its row, so money is always in
/// exactly one of a lease or the totals. All writes run on one dedicated writer thread that groups
/// whatever is queued into a single commit, through a bounded queue (`LedgerWriteQueue`). Reads
/// are synchronous snapshots on the caller's thread (about a microsecond).
package final class Ledger: Sendable {
    let env: StoreEnvironment
    let dbs: LedgerDatabases
    let writer: LedgerWriter
    let logger: Logger
    /// Refusals counted, not yet committed (`Ledger+Refusals`).
    let refusalTally = RefusalTally()
    /// How full the store is, and whether paid calls must be refused (`LedgerHealth`).
    package let health: LedgerHealth
    /// Cache hits and joined followers counted, not yet committed (`Ledger+Rollups`).
    let rollupTally = RollupTally()
    private let leaseWaitCount = Atomic(0)
    /// `Options.counterDelay`.
    let counterDelay: Duration
    private let closed = Atomic<Bool>(false)

    /// What a ledger is opened with besides its place and size.
    package struct Options: Sendable {
        /// Writes queued before new paid calls wait (`ledger.queue_capacity`).
        package var queueCapacity = 4096
        /// Runs on the writer thread before each transaction (a test's stalled disk).
        package var beforeCommit: (@Sendable () -> Void)?
        package var warnPercent = LedgerConfig.warnPercent
        package var refusePercent = LedgerConfig.refusePercent
        /// How long $0 events (cache hits, joined followers) are counted in memory before their
        /// counts are committed; zero commits them with the writer's next transaction at once.
        package var counterDelay: Duration = .seconds(1)
        /// How long writes nobody waits for (settlements behind their answers, counts) may wait
        /// to share a commit (`ledger.commit_interval`); zero commits whatever is queued at once.
        package var commitInterval: Duration = .zero

        package init(
            queueCapacity: Int = 4096, beforeCommit: (@Sendable () -> Void)? = nil, counterDelay: Duration = .seconds(1),
            commitInterval: Duration = .zero
        ) {
            self.queueCapacity = queueCapacity
            self.beforeCommit = beforeCommit
            self.counterDelay = counterDelay
            self.commitInterval = commitInterval
        }
    }

    private init(env: StoreEnvironment, dbs: LedgerDatabases, ids: LedgerIDs, options: Options, logger: Logger) {
        self.env = env
        self.dbs = dbs
        self.logger = logger
        counterDelay = options.counterDelay
        health = LedgerHealth(warnPercent: options.warnPercent, refusePercent: options.refusePercent)
        self.writer = LedgerWriter(
            env: env, dbs: dbs, ids: ids, refusals: refusalTally, rollups: rollupTally, health: health,
            queue: LedgerWriteQueue(
                capacity: options.queueCapacity, commitInterval: options.commitInterval,
                batchLimit: LedgerWriter.writesPerTransaction),
            beforeCommit: options.beforeCommit, logger: logger)
        if let usage = try? env.usage() { health.measured(usage, committed: false, logger) }
        writer.start()
    }

    deinit { close() }

    /// Opens (creating if needed) the ledger in `directory`, normally `<store>/ledger`. Throws a
    /// `LedgerError(.open)` that names the path when it cannot: the caller refuses to start,
    /// because requests must never run unrecorded.
    package static func open(
        directory: String, maxSizeBytes: Int, options: Options = Options(),
        logger: Logger = Logger(label: "flashgate.ledger")
    ) throws -> Ledger {
        let env: StoreEnvironment
        do {
            env = try StoreEnvironment.open(directory: directory, maxSizeBytes: maxSizeBytes, maxDatabases: 16, durable: true)
        } catch {
            throw LedgerError(.open, "cannot open the ledger at \(directory): \(error)")
        }
        do {
            let dbs = try LedgerDatabases(env)
            let next = try env.read { txn in
                try txn.withValue(dbs.meta, key: LedgerDatabases.nextIDKey) { try LedgerCodec.decodeInt64($0) }
            }
            return Ledger(
                env: env, dbs: dbs, ids: LedgerIDs(next: next.map { UInt64(bitPattern: $0) } ?? 1), options: options,
                logger: logger)
        } catch {
            env.close()
            throw LedgerError(.open, "cannot read the ledger at \(directory): \(error)")
        }
    }

    /// A fresh reservation id: unique, and larger than every id this ledger ever recorded.
    package func nextReservationID() -> UInt64 { writer.ids.take() }

    /// Records an open reservation; returns once it is durable.
    package func reserve(_ r: ReservationRecord) async throws {
        _ = try await submit(.reserve(r))
    }

    /// Settles durably: removes the open reservation (if any), appends the request row and adds
    /// `cost` to every budget key, in one transaction. Returns false, changing nothing, when the
    /// reservation id was already settled. Not cancellable: once called it completes.
    @discardableResult
    package func settle(_ s: SettlementRecord) async throws -> Bool {
        try await submit(.settle(s))
    }

    /// Queues a settlement without waiting for it: for $0 rows, which hold no money and must not
    /// slow the answer (cache hits and joined followers are counted instead: `countFree`).
    /// Failures are logged by the caller's `failed` handler.
    package func settleLater(_ s: SettlementRecord, failed: @escaping @Sendable (any Error) -> Void = { _ in }) {
        let write = LedgerPendingWrite(operation: .settle(s), urgent: false) { result in
            if case .failure(let error) = result { failed(error) }
        }
        if !writer.queue.submit(write) { failed(LedgerError(.closed, "the ledger is closed")) }
    }

    /// At start: settles every reservation a crash left open at its reserved amount (outcome
    /// `recovered`), durably, and returns the settlements it made. A second call finds none.
    package func recoverOpenReservations(nowMs: Int64) throws -> [SettlementRecord] {
        let open = try openReservations()
        guard !open.isEmpty else { return [] }
        let settlements = open.map { SettlementRecord.recovered($0, nowMs: nowMs) }
        let results = try submitAndWait(settlements.map { .settle($0) })
        var made: [SettlementRecord] = []
        for (s, result) in zip(settlements, results) {
            if try result.get() { made.append(s) }
        }
        if !made.isEmpty {
            logger.warning(
                "settled reservations left open by an unclean stop at their reserved amount",
                metadata: ["count": "\(made.count)", "amount_usd": "\(made.reduce(MicroUSD.zero) { $0 + $1.cost }.dollars)"])
        }
        return made
    }

    /// Commit transactions so far and the writes they carried: how well group commit batches.
    package var commitCounts: (commits: Int, writes: Int) { writer.queue.counts }

    /// The writer thread's kernel id once it runs (0 before): for tests and diagnostics.
    package var writerThreadID: Int32 { writer.threadID.load(ordering: .acquiring) }

    /// Paid calls that waited for a budget lease's grant to be committed before going upstream
    /// (`noteLeaseWait`): in steady traffic grants come ahead of need and this stays still.
    package var leaseWaits: Int { leaseWaitCount.load(ordering: .relaxed) }

    package func noteLeaseWait() { leaseWaitCount.add(1, ordering: .relaxed) }

    /// Waits for the writer to finish what is queued, then closes the store. Later writes throw.
    package func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // $0 events still counted in memory go in with the last writes: a clean stop loses none.
        if !rollupTally.isSettled { _ = writer.queue.submit(LedgerPendingWrite(operation: .counters) { _ in }) }
        writer.queue.stop()
        writer.queue.waitFinished()
        env.close()
    }

    func submit(_ operation: LedgerPendingWrite.Operation) async throws -> Bool {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            let write = LedgerPendingWrite(operation: operation) { continuation.resume(with: $0) }
            if !writer.queue.submit(write) {
                continuation.resume(throwing: LedgerError(.closed, "the ledger is closed"))
            }
        }
    }

    /// For synchronous callers at start-up (never an event loop): queues all, waits for all.
    func submitAndWait(_ operations: [LedgerPendingWrite.Operation]) throws -> [Result<Bool, any Error>] {
        let results = Mutex<[Result<Bool, any Error>?]>(Array(repeating: nil, count: operations.count))
        let group = DispatchGroup()
        for (index, operation) in operations.enumerated() {
            group.enter()
            let write = LedgerPendingWrite(operation: operation) { result in
                results.withLock { $0[index] = result }
                group.leave()
            }
            if !writer.queue.submit(write) {
                group.leave()
                throw LedgerError(.closed, "the ledger is closed")
            }
        }
        group.wait()
        return results.withLock { $0.map { $0! } }
    }
}
