import FlashgateAccounting
import FlashgateCore
import FlashgateStorage
import Foundation

/// `flashgate usage --budgets`: each budget's current period, this host's settled spend from its
/// ledger, and — with `shared:` configured — every host's share from Redis (settled, leased, or
/// burned when the host went silent), so an operator sees the cluster beside this host.
extension Usage {
    static func budgets(config: FlashgateConfig, ledger: Ledger) throws -> String {
        let budgets = Budgets(config: config)
        budgets.load(settledTotals: ledger.totals(prefix: ""))
        let statuses = budgets.all(now: Date())
        var shares: [String: [ClusterView.HostShare]] = [:]
        var note = ""
        if let shared = config.shared {
            do {
                shares = try ClusterView.read(config: shared, keys: statuses.map(\.key))
            } catch {
                note = "\nredis at \(shared.address) unreachable (\(error.message)): this host's figures only"
            }
        }
        var cells = [
            ["BUDGET", "PERIOD", "MODE", "LIMIT_USD", "HOST_SETTLED", "CLUSTER_SETTLED", "LEASED", "BURNED", "HOSTS"]
        ]
        for status in statuses {
            let hosts = shares[status.key] ?? []
            let settled = hosts.reduce(MicroUSD.zero) { $0 + $1.settled }
            let leased = hosts.filter(\.live).reduce(MicroUSD.zero) { $0 + max(.zero, $1.cap - $1.settled) }
            let burned = hosts.filter { !$0.live }.reduce(MicroUSD.zero) { $0 + max(.zero, $1.cap - $1.settled) }
            let shared = config.shared != nil && note.isEmpty
            cells.append([
                status.name, status.key, status.mode.rawValue, status.limit.dollars, status.settled.dollars,
                shared ? settled.dollars : "-", shared ? leased.dollars : "-", shared ? burned.dollars : "-",
                shared ? "\(hosts.filter(\.live).count)/\(hosts.count)" : "-",
            ])
        }
        let widths = cells[0].indices.map { i in cells.map { $0[i].count }.max() ?? 0 }
        let table = cells.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i < 3 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
        return table + note
    }
}
