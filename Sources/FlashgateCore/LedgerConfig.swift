/// How the usage ledger holds money on disk (`ledger:` in the config).
///
/// - `lease` (default): admission debits an in-memory budget lease that was made durable ahead
///   of need; settlement rows are group-committed behind the answer through a bounded queue.
///   A kill -9 loses at most the per-request detail of the last commit interval, never money:
///   an open lease's unsettled remainder counts as spent at the next start.
/// - `per_request`: every paid call's reservation is durable before it goes upstream and its
///   settlement row is durable before its answer ends.
package struct LedgerConfig: Sendable, Equatable {
    package enum Durability: String, Sendable {
        case lease
        case perRequest = "per_request"
    }

    package var durability: Durability = .lease
    /// Ledger writes waiting for the writer thread before new paid calls wait, then are refused.
    package var queueCapacity = 4096
    /// How long a new paid call waits for room in a full writer queue before its 503.
    package var queueWait: Duration = .milliseconds(100)
    /// The ledger's map size; nil means `store.max_size`.
    package var maxSizeBytes: Int?
    /// A lease nobody used for this long is handed back to its budget.
    package var leaseIdle: Duration = .seconds(30)

    /// Used share of the map at which Flashgate warns (log and metric).
    package static let warnPercent = 80
    /// Used share of the map from which new paid calls are refused, keeping the rest for
    /// settlements of calls already answered and for recovery at the next start.
    package static let refusePercent = 90

    package init() {}

    static func load(_ map: ConfigMap) throws(ConfigError) -> LedgerConfig {
        var map = map
        var config = LedgerConfig()
        if let text = try map.string("durability") {
            guard let value = Durability(rawValue: text) else {
                throw ConfigError(path: map.child("durability"), reason: "expected lease or per_request")
            }
            config.durability = value
        }
        if let v = try map.int("queue_capacity", in: 16...1_048_576) { config.queueCapacity = v }
        if let v = try map.duration("queue_wait") { config.queueWait = v }
        if let v = try map.bytes("max_size", in: (1 << 20)...(1 << 40)) { config.maxSizeBytes = v }
        if let v = try map.duration("lease_idle") { config.leaseIdle = v }
        try map.finish()
        return config
    }
}

extension FlashgateConfig {
    /// The ledger's map size: `ledger.max_size`, else `store.max_size`.
    package var ledgerMaxSizeBytes: Int { ledger.maxSizeBytes ?? store.maxSizeBytes }
}
