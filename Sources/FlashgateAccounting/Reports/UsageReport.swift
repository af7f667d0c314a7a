import FlashgateCore
import FlashgateStorage

/// `GET /admin/usage`: the ledger's usage rows (team, key, model, UTC day) as the admin API lists
/// them. Pure: the server reads the rows with the request's filters, this only shapes them, so a
/// test can feed it rows directly. Keys appear by name only.
package enum UsageReport {
    package static func make(rows: [UsageRow]) -> JSONValue {
        let items: [JSONValue] = rows.map { row in
            [
                "day": .string(row.day), "team": .string(row.team), "key": .string(row.key),
                "model": .string(row.model),
                "requests": JSONValue(row.requests), "prompt_tokens": JSONValue(row.promptTokens),
                "cached_tokens": JSONValue(row.cachedTokens), "output_tokens": JSONValue(row.outputTokens),
                "thoughts_tokens": JSONValue(row.thoughtsTokens), "cache_hits": JSONValue(row.cacheHits),
                "cost_usd": .number(row.cost.dollars), "refused": JSONValue(row.refused),
                "refused_by": DashboardReport.refusedBy(row.refusedBy),
            ]
        }
        return ["object": "list", "data": .array(items)]
    }
}
