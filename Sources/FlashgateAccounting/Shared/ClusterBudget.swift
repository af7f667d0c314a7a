import FlashgateCore

/// One budget period across every host sharing it, as Redis last answered: settled spend, open
/// leases of live hosts, leases of hosts that went silent (burned: counted as spent until they
/// reconcile) and how many hosts hold a live lease.
package struct ClusterBudget: Sendable, Equatable {
    package var key: String
    package var settled: MicroUSD
    package var leased: MicroUSD
    package var burned: MicroUSD
    package var hosts: Int
    package var asOfMs: Int64
}
