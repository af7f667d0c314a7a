import Dispatch
import FlashgateCore

/// Hourly rollups in the ledger (`LedgerRollup`): $0 events counted as they happen, and request
/// rows folded in by retention. Reads here are snapshots, like every ledger read.
extension Ledger {
    /// Counts a $0 event (a cache hit, a joined follower) in its hourly rollup instead of writing
    /// a row. Never waits: the counts of `counterDelay` (a second by default) go to the disk in one
    /// commit — not a transaction and a disk flush per hit — so a kill -9 loses at most the events
    /// of the last second and the commit interval (never money: they cost nothing); a clean stop
    /// and every report (`flushCounters`) take them in at once.
    package func countFree(_ row: SettlementRecord) {
        guard rollupTally.add(LedgerRollup.Key(row), LedgerRollup.Counts(row)) else { return }
        let logger = logger
        let queue = writer.queue
        let submit: @Sendable () -> Void = {
            let write = LedgerPendingWrite(operation: .counters, urgent: false) { result in
                if case .failure(let error) = result {
                    logger.warning("cache hit counts not recorded yet", metadata: ["error": "\(error)"])
                }
            }
            _ = queue.submit(write)
        }
        let nanos = counterDelay.components.seconds * 1_000_000_000 + counterDelay.components.attoseconds / 1_000_000_000
        guard nanos > 0 else { return submit() }
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanos)), execute: submit)
    }

    /// Returns once every $0 event counted so far, and every write queued before the call (rows
    /// of answered calls waiting for a paced commit), is committed. Does nothing when nothing is
    /// pending.
    package func flushCounters() async {
        guard !rollupTally.isSettled || writer.queue.depth > 0 else { return }
        _ = try? await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            let write = LedgerPendingWrite(operation: .counters) { continuation.resume(with: $0) }
            if !writer.queue.submit(write) {
                continuation.resume(throwing: LedgerError(.closed, "the ledger is closed"))
            }
        }
    }

    /// Rollups of the hours that start in `fromMs..<toMs`, `fromMs` rounded down to its hour (an
    /// hour is counted whole, as refusals are), filtered by team, key and model; oldest first.
    package func rollups(
        from fromMs: Int64? = nil, to toMs: Int64? = nil, team: String? = nil, key: String? = nil,
        model: String? = nil
    ) throws -> [LedgerRollup] {
        var out: [LedgerRollup] = []
        try forEachRollup(from: fromMs, to: toMs) { rollup in
            if let team, rollup.key.team != team { return }
            if let key, rollup.key.key != key { return }
            if let model, rollup.key.model != model { return }
            out.append(rollup)
        }
        return out
    }

    /// Request rows and rollups of `fromMs..<toMs` as records, oldest first: a rollup stands for
    /// its `requests` at the start of its hour. What reports read, so they see usage whether its
    /// rows are still there or already folded.
    package func usageRecords(from fromMs: Int64? = nil, to toMs: Int64? = nil) throws -> [SettlementRecord] {
        var out = try rollups(from: fromMs, to: toMs).map(\.record)
        out += try requestRows(from: fromMs, to: toMs)
        return out.sorted { $0.timeMs < $1.timeMs }
    }

    func forEachRollup(from fromMs: Int64?, to toMs: Int64?, _ body: (LedgerRollup) throws -> Void) throws {
        let from = fromMs.map(LedgerRollup.hour(of:))
        struct Past: Error {}
        do {
            try env.read { txn in
                try txn.forEach(dbs.rollups) { k, value in
                    let hour = try LedgerCodec.rollupHour(k)
                    if let from, hour < from { return }
                    if let toMs, hour >= toMs { throw Past() }
                    try body(
                        LedgerRollup(
                            key: try LedgerCodec.decodeRollupKey(k), counts: try LedgerCodec.decodeRollupCounts(value)))
                }
            }
        } catch is Past {}
    }
}
