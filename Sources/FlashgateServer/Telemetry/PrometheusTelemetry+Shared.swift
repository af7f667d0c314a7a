import FlashgateAccounting
import Prometheus

/// Shared budgets' metrics, read at scrape from state already in memory (never from Redis):
/// whether Redis answers, how many round trips this host made, and each budget's spend across
/// the cluster as Redis last reported it.
extension PrometheusTelemetry {
    func scrapeShared(_ accountant: Accountant) {
        guard let shared = accountant.shared else { return }
        let status = shared.client.currentStatus
        registry.makeGauge(descriptor: Family.sharedRedisUp.descriptor).set(to: status.reachable ? 1 : 0)
        let (commands, failures) = sharedSeen.withLock { seen in
            defer { seen = (max(seen.commands, status.commands), max(seen.failures, status.failures)) }
            return (max(0, status.commands - seen.commands), max(0, status.failures - seen.failures))
        }
        registry.makeCounter(descriptor: Family.sharedRedisCommands.descriptor).increment(by: commands)
        registry.makeCounter(descriptor: Family.sharedRedisFailures.descriptor).increment(by: failures)
        for status in accountant.budgets.all(now: accountant.now) {
            guard let labels = budgetLabels(status.name), let view = shared.cluster(status.key) else { continue }
            registry.makeGauge(descriptor: Family.clusterSettled.descriptor, labels: labels)
                .set(to: Self.dollars(view.settled))
            registry.makeGauge(descriptor: Family.clusterBurned.descriptor, labels: labels)
                .set(to: Self.dollars(view.burned))
        }
    }
}
