import FlashgateCore
import Foundation

/// `GET /admin/budgets`: every budget's limit, settled, reserved and remaining in its current
/// period. Pure: a function of the budgets' statuses at one instant, which the caller takes.
package enum BudgetReport {
    package static func make(statuses: [BudgetStatus]) -> JSONValue {
        let items: [JSONValue] = statuses.map { status in
            var item: JSONObject = [
                "budget": .string(status.name), "period": .string(status.key), "mode": .string(status.mode.rawValue),
                "limit_usd": .number(status.limit.dollars), "settled_usd": .number(status.settled.dollars),
                "reserved_usd": .number(status.reserved.dollars), "remaining_usd": .number(status.remaining.dollars),
                "over_limit": .bool(status.settled > status.limit),
            ]
            if let end = status.periodEnd { item["period_end"] = .string(ISO8601DateFormatter().string(from: end)) }
            return .object(item)
        }
        return ["object": "list", "data": .array(items)]
    }
}
