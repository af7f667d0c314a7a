/// `ledger:` — how long the usage ledger keeps request rows and their hourly rollups, and how big
/// its store may grow. Rows older than `rowsRetention` are folded into hourly rollups (per team,
/// key, model, route, tier, cache status and outcome) by the ledger's writer, in small batches
/// every `retentionInterval`; rollups older than `rollupsRetention` are deleted. Budget running
/// totals are kept apart from rows and are never changed by retention.
///
/// Invariant: `rowsRetention <= rollupsRetention` (validated), so usage older than the rows is
/// always still in rollups until the rollups themselves expire.
package struct LedgerConfig: Sendable, Equatable {
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
            value = .seconds(Int64(days) * 86_400)
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
