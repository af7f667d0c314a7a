import FlashgateCore
import FlashgateStorage

/// `GET /admin/usage`: the ledger's usage rows (team, key, model, UTC day) as the admin API lists
/// them. Pure: the server reads the rows with the request's filters, this only shapes them, so a
/// test can feed it rows directly. Keys appear by name only.
package enum UsageReport {
    package static func make(rows: [UsageRow], prices: PriceTable = PriceTable()) -> JSONValue {
        let items: [JSONValue] = rows.map { row in
            [
                "context_cache_usd": .number(row.contextCacheCost.dollars),
                "context_saved_usd": .number(contextSaving(row, prices: prices).dollars),
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

    /// What cached reads saved after the context caches' creation and rent: cached tokens at the
    /// input rate minus the cached rate (at the model's standard price; implicit hits included,
    /// as Gemini reports them together), less `contextCacheCost`. Negative when caching lost money.
    package static func contextSaving(_ row: UsageRow, prices: PriceTable) -> MicroUSD {
        guard let price = prices.price(for: row.model) else { return MicroUSD(-row.contextCacheCost.value) }
        let gross = Int64(row.cachedTokens) * max(0, price.inputPerMillion - price.cachedInputPerMillion) / 1_000_000
        return MicroUSD(gross - row.contextCacheCost.value)
    }
}
