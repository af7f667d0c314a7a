import FlashgateAccounting
import FlashgateStorage
import Prometheus

/// The ledger's gauges, read at scrape: how full its map is, the budget leases open in memory,
/// the writer's queue and its commits. They tell an operator when to compact or grow the ledger
/// before paid calls are refused, and whether the disk keeps up.
extension PrometheusTelemetry {
    func scrapeLedger(_ accountant: Accountant) {
        guard let ledger = accountant.ledger else { return }
        let usage = ledger.health.usage
        registry.makeGauge(descriptor: Family.ledgerBytes).set(to: Double(usage.usedBytes))
        registry.makeGauge(descriptor: Family.ledgerMapBytes).set(to: Double(usage.mapSizeBytes))
        registry.makeGauge(descriptor: Family.ledgerFull).set(
            to: ledger.health.refusesPaidCalls ? 2 : ledger.health.isNearlyFull ? 1 : 0)
        let leases = accountant.budgets.leaseTotals
        registry.makeGauge(descriptor: Family.leases).set(to: Double(leases.count))
        registry.makeGauge(descriptor: Family.leasedUSD).set(to: Self.dollars(leases.amount))
        registry.makeGauge(descriptor: Family.ledgerQueue).set(to: Double(ledger.queueDepth))
        let commits = ledger.commitCounts.commits
        let delta = ledgerCommitsSeen.withLock { seen in
            defer { seen = max(seen, commits) }
            return max(0, commits - seen)
        }
        registry.makeCounter(descriptor: Family.ledgerCommits).increment(by: Int64(delta))
    }
}

extension PrometheusTelemetry.Family {
    static var ledgerFamilies: [MetricNameDescriptor] {
        [ledgerBytes, ledgerMapBytes, ledgerFull, leases, leasedUSD, ledgerQueue, ledgerCommits]
    }
    static var ledgerBytes: MetricNameDescriptor {
        make("ledger", "bytes", "Bytes the usage ledger uses (pages in use less freed pages).")
    }
    static var ledgerMapBytes: MetricNameDescriptor {
        make("ledger_map", "bytes", "The usage ledger's map size (ledger.max_size): the most it can hold.")
    }
    static var ledgerFull: MetricNameDescriptor {
        make(
            "ledger_full", "state",
            "0 room, 1 over 80 % used (warning), 2 paid calls refused (90 %, or the map was full).")
    }
    static var leases: MetricNameDescriptor {
        make("ledger_leases", "open", "Budget leases open (granted ahead of need, not yet settled or handed back).")
    }
    static var leasedUSD: MetricNameDescriptor {
        make("ledger_leased", "usd", "Dollars held by open budget leases.")
    }
    static var ledgerQueue: MetricNameDescriptor {
        make("ledger_queue", "writes", "Ledger writes queued or being committed by the writer thread.")
    }
    static var ledgerCommits: MetricNameDescriptor {
        make("ledger_commits", "total", "Group-commit transactions the ledger's writer made since start.")
    }
}
