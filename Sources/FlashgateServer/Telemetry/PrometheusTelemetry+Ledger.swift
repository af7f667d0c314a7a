import FlashgateAccounting
import FlashgateCore
import FlashgateStorage
import Prometheus
import Synchronization

/// The ledger's gauges, read at scrape: how full its map is, the budget leases open in memory,
/// the writer's queue and its commits. They tell an operator when to compact or grow the ledger
/// before paid calls are refused, and whether the disk keeps up.
extension PrometheusTelemetry {
    func scrapeLedger(_ accountant: Accountant) {
        guard let ledger = accountant.ledger else { return }
        let usage = ledger.health.usage
        registry.makeGauge(descriptor: Family.ledgerBytes.descriptor).set(to: Double(usage.usedBytes))
        registry.makeGauge(descriptor: Family.ledgerMapBytes.descriptor).set(to: Double(usage.mapSizeBytes))
        registry.makeGauge(descriptor: Family.ledgerFull.descriptor).set(
            to: ledger.health.refusesPaidCalls ? 2 : ledger.health.isNearlyFull ? 1 : 0)
        let leases = accountant.budgets.leaseTotals
        registry.makeGauge(descriptor: Family.leases.descriptor).set(to: Double(leases.count))
        registry.makeGauge(descriptor: Family.leasedUSD.descriptor).set(to: Self.dollars(leases.amount))
        registry.makeGauge(descriptor: Family.ledgerQueue.descriptor).set(to: Double(ledger.queueDepth))
        if let counts = try? ledger.rowCounts() {
            registry.makeGauge(descriptor: Family.ledgerRows.descriptor).set(to: Double(counts.rows))
            registry.makeGauge(descriptor: Family.ledgerRollups.descriptor).set(to: Double(counts.rollups))
        }
        advance(Family.ledgerCommits, to: ledger.commitCounts.commits, seen: ledgerCommitsSeen)
        advance(Family.leaseWaits, to: ledger.leaseWaits, seen: leaseWaitsSeen)
    }

    /// A counter kept elsewhere as a running total: adds what it grew since the last scrape.
    private func advance(_ family: MetricFamily, to total: Int, seen: borrowing Mutex<Int>) {
        let delta = seen.withLock { seen in
            defer { seen = max(seen, total) }
            return max(0, total - seen)
        }
        registry.makeCounter(descriptor: family.descriptor).increment(by: Int64(delta))
    }
}
