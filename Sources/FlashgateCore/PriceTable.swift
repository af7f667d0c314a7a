/// What one model costs, in micro-dollars per million tokens (so prices with cents per million
/// stay integers), with an optional long-context tier above a prompt-size threshold.
package struct ModelPrice: Sendable, Equatable {
    package var inputPerMillion: Int64
    package var outputPerMillion: Int64
    package var cachedInputPerMillion: Int64
    /// Context-cache storage, per million tokens per hour.
    package var cacheStoragePerMillionHour: Int64
    /// Grounding with Google Search, per 1,000 queries.
    package var searchPerThousand: Int64
    /// Above this many prompt tokens the long-context prices apply.
    package var longContextThreshold: Int?
    package var longInputPerMillion: Int64?
    package var longOutputPerMillion: Int64?
    package var longCachedInputPerMillion: Int64?

    package init(
        input: Int64, output: Int64, cachedInput: Int64, cacheStorage: Int64 = 1_000_000, search: Int64 = 14_000_000,
        longContextThreshold: Int? = nil, longInput: Int64? = nil, longOutput: Int64? = nil, longCachedInput: Int64? = nil
    ) {
        inputPerMillion = input
        outputPerMillion = output
        cachedInputPerMillion = cachedInput
        cacheStoragePerMillionHour = cacheStorage
        searchPerThousand = search
        self.longContextThreshold = longContextThreshold
        longInputPerMillion = longInput
        longOutputPerMillion = longOutput
        longCachedInputPerMillion = longCachedInput
    }
}

/// Token counts that cost money.
package struct BillableUsage: Sendable, Equatable {
    /// All prompt tokens, cached ones included (Gemini's `promptTokenCount` + tool-use prompt).
    package var promptTokens: Int = 0
    /// The part of `promptTokens` served from a context cache, billed at the cached rate.
    package var cachedTokens: Int = 0
    /// Output including thinking: thoughts are billed as output.
    package var outputTokens: Int = 0
    package var searchQueries: Int = 0

    package init(promptTokens: Int = 0, cachedTokens: Int = 0, outputTokens: Int = 0, searchQueries: Int = 0) {
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.outputTokens = outputTokens
        self.searchQueries = searchQueries
    }
}

/// The versioned built-in price table for Gemini models, overridable in config. Lookups match
/// the longest known model-id prefix, so dated or suffixed ids (`-preview-09-2025`) find their row.
package struct PriceTable: Sendable {
    package static let version = "2026-11-01"
    package var prices: [String: ModelPrice]

    package init(prices: [String: ModelPrice] = PriceTable.builtIn) { self.prices = prices }

    /// USD per million tokens, written as micro-dollars per million (2.70 → 2_700_000).
    package static let builtIn: [String: ModelPrice] = [
        "gemini-3.5-flash": ModelPrice(input: 2_700_000, output: 16_200_000, cachedInput: 270_000),
        "gemini-3.1-pro": ModelPrice(
            input: 2_000_000, output: 12_000_000, cachedInput: 200_000, cacheStorage: 4_500_000,
            longContextThreshold: 200_000, longInput: 4_000_000, longOutput: 18_000_000, longCachedInput: 400_000),
        "gemini-3-pro": ModelPrice(
            input: 2_000_000, output: 12_000_000, cachedInput: 200_000, cacheStorage: 4_500_000,
            longContextThreshold: 200_000, longInput: 4_000_000, longOutput: 18_000_000, longCachedInput: 400_000),
        "gemini-3-flash": ModelPrice(input: 500_000, output: 3_000_000, cachedInput: 50_000),
        "gemini-2.5-pro": ModelPrice(
            input: 1_250_000, output: 10_000_000, cachedInput: 125_000, cacheStorage: 4_500_000, search: 35_000_000,
            longContextThreshold: 200_000, longInput: 2_500_000, longOutput: 15_000_000, longCachedInput: 250_000),
        "gemini-2.5-flash": ModelPrice(input: 300_000, output: 2_500_000, cachedInput: 30_000, search: 35_000_000),
        "gemini-2.5-flash-lite": ModelPrice(input: 100_000, output: 400_000, cachedInput: 10_000, search: 35_000_000),
        "gemini-embedding-001": ModelPrice(input: 150_000, output: 0, cachedInput: 150_000, search: 0),
    ]

    package func price(for model: String) -> ModelPrice? {
        let id = model.hasPrefix("models/") ? String(model.dropFirst(7)) : model
        var best: (length: Int, price: ModelPrice)?
        for (prefix, price) in prices where id.hasPrefix(prefix) && prefix.count > (best?.length ?? -1) {
            best = (prefix.count, price)
        }
        return best?.price
    }

    /// The cost of one answer, rounded up to the micro-dollar (never undercharge).
    package func cost(_ usage: BillableUsage, model: String) -> MicroUSD? {
        guard let price = price(for: model) else { return nil }
        let long = price.longContextThreshold.map { usage.promptTokens > $0 } ?? false
        let input = long ? price.longInputPerMillion ?? price.inputPerMillion : price.inputPerMillion
        let output = long ? price.longOutputPerMillion ?? price.outputPerMillion : price.outputPerMillion
        let cached = long ? price.longCachedInputPerMillion ?? price.cachedInputPerMillion : price.cachedInputPerMillion
        let uncached = max(0, usage.promptTokens - usage.cachedTokens)
        // micro-dollars per million tokens × tokens = pico-dollars... / 1e6 → micro-dollars.
        let perMillion =
            Int64(uncached) * input + Int64(min(usage.cachedTokens, usage.promptTokens)) * cached
            + Int64(usage.outputTokens) * output
        let tokens = (perMillion + 999_999) / 1_000_000
        let search = (Int64(usage.searchQueries) * price.searchPerThousand + 999) / 1000
        return MicroUSD(tokens + search)
    }
}
