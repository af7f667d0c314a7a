import Logging
import Synchronization

/// How full the ledger is, as its writer last measured it, and whether new paid calls must be
/// refused: from `refusePercent` of the map, or after a write found the map full, until a
/// later measurement shows room again. Read on every admission, so it is a few atomics.
///
/// Invariant: the refusal starts while headroom remains, so the writes of calls already
/// answered (and recovery at the next start) still fit.
package final class LedgerHealth: Sendable {
    private let used = Atomic<Int>(0)
    private let mapSize = Atomic<Int>(0)
    private let mapFull = Atomic<Bool>(false)
    /// 0: fine, 1: warned, 2: refusing — logged once per rise.
    private let level = Atomic<Int>(0)
    private let droppedFree = Atomic<Int>(0)
    let warnPercent: Int
    let refusePercent: Int

    init(warnPercent: Int, refusePercent: Int) {
        self.warnPercent = warnPercent
        self.refusePercent = refusePercent
    }

    /// The last measurement.
    package var usage: StoreUsage {
        StoreUsage(usedBytes: used.load(ordering: .relaxed), mapSizeBytes: mapSize.load(ordering: .relaxed))
    }

    /// New paid calls are refused (`ledger_full`).
    package var refusesPaidCalls: Bool {
        mapFull.load(ordering: .relaxed) || usage.percent >= refusePercent
    }

    /// At or past the warning threshold.
    package var isNearlyFull: Bool { usage.percent >= warnPercent || refusesPaidCalls }

    /// Rows holding no money that were not written because the ledger was full.
    package var droppedFreeRows: Int { droppedFree.load(ordering: .relaxed) }

    func droppedFreeRow() { droppedFree.add(1, ordering: .relaxed) }

    /// A write failed with the map full.
    func hitMapFull(_ logger: Logger) {
        if !mapFull.exchange(true, ordering: .relaxed) {
            logger.error(
                "the usage ledger is full: new paid calls are refused with 503 ledger_full; run `flashgate ledger compact` or raise ledger.max_size and restart"
            )
        }
    }

    /// A new measurement; logs once when the ledger crosses the warning or refusal line.
    func measured(_ usage: StoreUsage, committed: Bool, _ logger: Logger) {
        used.store(usage.usedBytes, ordering: .relaxed)
        mapSize.store(usage.mapSizeBytes, ordering: .relaxed)
        if committed && usage.percent < refusePercent { mapFull.store(false, ordering: .relaxed) }
        let now = usage.percent >= refusePercent ? 2 : usage.percent >= warnPercent ? 1 : 0
        let before = level.exchange(now, ordering: .relaxed)
        guard now > before else { return }
        let metadata: Logger.Metadata = [
            "used_percent": "\(usage.percent)", "used_bytes": "\(usage.usedBytes)",
            "map_bytes": "\(usage.mapSizeBytes)",
        ]
        if now == 2 {
            logger.error(
                "the usage ledger is nearly full: new paid calls are refused with 503 ledger_full; run `flashgate ledger compact` or raise ledger.max_size and restart",
                metadata: metadata)
        } else {
            logger.warning(
                "the usage ledger is filling up; paid calls will be refused at \(refusePercent) %: run `flashgate ledger compact` or raise ledger.max_size",
                metadata: metadata)
        }
    }
}
