import FlashgateCore

/// A read-only look at shared budgets in Redis, for `flashgate usage --budgets`: per budget
/// period, every host's settled spend and lease, without writing anything or holding a lease.
/// Runs synchronously on the caller's thread (a CLI, never an event loop).
package enum ClusterView {
    /// Per host of one budget period: its settled spend, the most it may have spent, and whether
    /// its lease is live on Redis's clock.
    package struct HostShare: Sendable, Equatable {
        package var host: String
        package var settled: MicroUSD
        package var cap: MicroUSD
        package var live: Bool
    }

    package static func read(config: SharedConfig, keys: [String]) throws(RedisError) -> [String: [HostShare]] {
        let connection = try RedisConnection(
            address: config.address, connectTimeout: config.connectTimeout, commandTimeout: config.commandTimeout)
        if let password = config.password, case .error(let m) = try connection.command(["AUTH", password.value]) {
            throw RedisError(.server, "AUTH refused: \(m)")
        }
        if config.database != 0, case .error(let m) = try connection.command(["SELECT", "\(config.database)"]) {
            throw RedisError(.server, "SELECT refused: \(m)")
        }
        guard case .array(let time) = try connection.command(["TIME"]), time.count == 2,
            let seconds = time[0].integer, let micros = time[1].integer
        else { throw RedisError(.server, "TIME gave no time") }
        let nowMs = seconds * 1000 + micros / 1000
        var out: [String: [HostShare]] = [:]
        for key in keys {
            guard case .array(let items) = try connection.command(["HGETALL", "\(config.keyPrefix)budget:{\(key)}"])
            else { continue }
            var caps: [String: Int64] = [:]
            var settled: [String: Int64] = [:]
            var expires: [String: Int64] = [:]
            for i in stride(from: 0, to: items.count - 1, by: 2) {
                guard let field = items[i].text, let value = items[i + 1].integer else { continue }
                let host = String(field.dropFirst(2))
                if field.hasPrefix("c:") { caps[host] = value }
                if field.hasPrefix("s:") { settled[host] = value }
                if field.hasPrefix("e:") { expires[host] = value }
            }
            out[key] = caps.keys.sorted().map { host in
                HostShare(
                    host: host, settled: MicroUSD(settled[host] ?? 0), cap: MicroUSD(caps[host] ?? 0),
                    live: (expires[host] ?? 0) > nowMs)
            }
        }
        return out
    }
}
