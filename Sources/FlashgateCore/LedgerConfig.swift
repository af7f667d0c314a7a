/// `ledger:` — how long the usage ledger keeps request rows and their hourly rollups, and how big
/// its store may grow. Rows older than `rowsRetention` are folded into hourly rollups (per team,
/// key, model, route, tier, cache status and outcome) by the ledger's writer, in small batches
/// every `retentionInterval`; rollups older than `rollupsRetention` are deleted. Budget running
/// totals are kept apart from rows and are never changed by retention.
///
/// Invariant: `rowsRetention <= rollupsRetention` (validated), so usage older than the rows is
/// always still in rollups until the rollups themselves expire.
///
/// `ledger.durability` says how money is made durable:
/// - `lease` (default): admission debits an in-memory budget lease that was made durable ahead
///   of need; settlement rows are group-committed behind the answer through a bounded queue.
///   They are committed at most `commitInterval` after the previous commit, many to a commit
///   (an urgent write — a lease grant a call waits for, a report's flush — goes at once). A
///   kill -9 loses at most the per-request detail of the last commit interval, never money: an
///   open lease's unsettled remainder counts as spent at the next start.
/// - `per_request`: every paid call's reservation is durable before it goes upstream and its
///   settlement row is durable before its answer ends.
package struct LedgerConfig: Sendable, Equatable {
    package enum Durability: String, Sendable { case lease, perRequest = "per_request" }

    package var durability: Durability = .lease
    /// Ledger writes waiting for the writer thread before new paid calls wait, then are refused.
    package var queueCapacity = 4096
    /// How long a new paid call waits for room in a full writer queue before its 503.
    package var queueWait: Duration = .milliseconds(100)
    /// A lease nobody used for this long is handed back to its budget.
    package var leaseIdle: Duration = .seconds(30)
    /// `ledger.commit_interval`: how long writes nobody waits for (settlement rows behind their
    /// answers, refusal and cache-hit counts) may wait to share a commit; zero commits whatever
    /// is queued at once (one fdatasync per trickle of writes).
    package var commitInterval: Duration = .milliseconds(10)
    /// The longest `commit_interval` accepted: what a kill -9 may lose of per-request detail.
    package static let longestCommitInterval: Duration = .seconds(1)

    /// Used share of the map at which Flashgate warns (log and metric).
    package static let warnPercent = 80
    /// Used share of the map from which new paid calls are refused, keeping the rest for
    /// settlements of calls already answered and for recovery at the next start.
    package static let refusePercent = 90

    /// `ledger.retention.rows`: per-request detail is kept this long.
    package var rowsRetention: Duration = .seconds(3 * 86_400)
    /// `ledger.retention.rollups`: hourly rollups are kept this long (13 months).
    package var rollupsRetention: Duration = .seconds(396 * 86_400)
    /// `ledger.retention.interval`: how often retention runs on a serving Flashgate.
    package var retentionInterval: Duration = .seconds(600)
    /// `ledger.max_size`: the ledger's map size; nil uses `store.max_size`.
    package var maxSizeBytes: Int?

    package init() {}

    /// The shortest retention accepted: an hour, the rollups' granularity.
    package static let shortestRetention: Duration = .seconds(3600)

    package static func load(_ map: ConfigMap) throws(ConfigError) -> LedgerConfig {
        var map = map
        var config = LedgerConfig()
        if let size = try map.bytes("max_size", in: (1 << 20)...(1 << 42)) { config.maxSizeBytes = size }
        if let text = try map.string("durability") {
            guard let value = Durability(rawValue: text) else {
                throw ConfigError(path: map.child("durability"), reason: "expected lease or per_request")
            }
            config.durability = value
        }
        if let v = try map.int("queue_capacity", in: 16...1_048_576) { config.queueCapacity = v }
        if let v = try map.duration("queue_wait") { config.queueWait = v }
        if let v = try map.duration("lease_idle") { config.leaseIdle = v }
        if let v = try map.duration("commit_interval") {
            guard v <= longestCommitInterval else {
                throw ConfigError(path: map.child("commit_interval"), reason: "expected at most 1s")
            }
            config.commitInterval = v
        }
        if var retention = try map.map("retention") {
            if let v = try Self.days(&retention, "rows") { config.rowsRetention = v }
            if let v = try Self.days(&retention, "rollups") { config.rollupsRetention = v }
            if let v = try retention.duration("interval") {
                guard v >= .seconds(1) else {
                    throw ConfigError(path: retention.child("interval"), reason: "expected at least 1s")
                }
                config.retentionInterval = v
            }
            if config.rowsRetention > config.rollupsRetention {
                throw ConfigError(
                    path: retention.child("rows"), reason: "rows cannot be kept longer than their rollups")
            }
            try retention.finish()
        }
        try map.finish()
        return config
    }

    /// A retention such as `7d`, `36h` or `90m`: at least an hour.
    private static func days(_ map: inout ConfigMap, _ key: String) throws(ConfigError) -> Duration? {
        guard let text = try map.string(key) else { return nil }
        var value: Duration?
        if text.hasSuffix("d"), let days = Int(text.dropLast()), days >= 0 {
            // Past a hundred years it is refused, as any other duration is (no overflow).
            value = days <= 36_600 ? .seconds(Int64(days) * 86_400) : nil
        } else {
            value = ConfigMap.parseDuration(text)
        }
        guard let value, value >= shortestRetention else {
            throw ConfigError(
                path: map.child(key), reason: "expected a duration of at least 1h such as 7d or 36h, got '\(text)'")
        }
        return value
    }
}

extension FlashgateConfig {
    /// The ledger's map size: `ledger.max_size`, else `store.max_size`.
    package var ledgerMaxSizeBytes: Int { ledger.maxSizeBytes ?? store.maxSizeBytes }
}
