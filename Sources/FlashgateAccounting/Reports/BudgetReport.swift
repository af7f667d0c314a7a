import FlashgateCore
import Foundation

/// `GET /admin/budgets`: every budget's limit, settled, reserved and remaining in its current
/// period. Pure: a function of the budgets' statuses at one instant, which the caller takes.
/// Under shared budgets each also carries `cluster` (spend across every host, as Redis last
/// answered) beside this host's own figures, and the report names this host and Redis's state.
package enum BudgetReport {
    package static func make(
        statuses: [BudgetStatus], shared: SharedBudgets? = nil
    ) -> JSONValue {
        let items: [JSONValue] = statuses.map { status in
            var item: JSONObject = [
                "budget": .string(status.name), "period": .string(status.key), "mode": .string(status.mode.rawValue),
                "limit_usd": .number(status.limit.dollars), "settled_usd": .number(status.settled.dollars),
                "reserved_usd": .number(status.reserved.dollars), "remaining_usd": .number(status.remaining.dollars),
                "over_limit": .bool(status.settled > status.limit),
            ]
            if let end = status.periodEnd { item["period_end"] = .string(ISO8601DateFormatter().string(from: end)) }
            if let view = shared?.cluster(status.key) { item["cluster"] = clusterJSON(view) }
            return .object(item)
        }
        var report: JSONObject = ["object": "list", "data": .array(items)]
        if let shared { report["shared"] = sharedJSON(shared) }
        return .object(report)
    }

    /// One budget across the cluster.
    package static func clusterJSON(_ view: ClusterBudget) -> JSONValue {
        [
            "settled_usd": .number(view.settled.dollars), "leased_usd": .number(view.leased.dollars),
            "burned_usd": .number(view.burned.dollars), "hosts": JSONValue(view.hosts),
            "as_of": .string(
                ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(view.asOfMs) / 1000))),
        ]
    }

    /// This host's name in Redis and whether Redis answers.
    package static func sharedJSON(_ shared: SharedBudgets) -> JSONValue {
        let status = shared.client.currentStatus
        var object: JSONObject = [
            "host_id": .string(shared.config.hostID), "redis": .string(status.reachable ? "reachable" : "unreachable"),
            "outage_policy": .string(shared.config.outage.rawValue),
        ]
        if let error = status.lastError { object["last_error"] = .string(error) }
        return .object(object)
    }
}
