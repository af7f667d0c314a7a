extension FlashgateConfig {
    /// What the price table cannot price among the calls this config can make: every upstream
    /// model of every configured model's routes, at its default tier. Such a model's calls are
    /// refused ("no price, no call"), so `flashgate check` reports each with the key to add, and
    /// `serve` logs them at start.
    package func unpricedModels() -> [String] {
        var problems: [String] = []
        for (i, model) in models.enumerated() {
            for (j, route) in model.routes.enumerated() {
                let tier = model.serviceTier ?? .standard
                // The offline mock answers every id for free (its `mock` row).
                let mock = routes.first { $0.name == route.route }?.kind == .mock
                guard !mock, prices.price(for: route.upstreamModel, tier: tier) == nil else { continue }
                problems.append(
                    "models[\(i)].routes[\(j)]: '\(model.id)' goes to '\(route.upstreamModel)' on route '\(route.route)', "
                        + "which has no price, so its calls will be refused: add prices.\(route.upstreamModel) "
                        + "(input and output, USD per million tokens) or an explicit fallback row prices.\"\(PriceTable.fallbackPrefix)\"")
            }
        }
        return problems
    }

    /// How models that no `models:` entry names are priced on the passthrough route, for `check`.
    package var passthroughPricing: String? {
        guard let route = passthroughRoute else { return nil }
        if prices.prefix(for: "any-model-id") == PriceTable.fallbackPrefix {
            return "other model ids go to route '\(route.name)' and are priced by the fallback row prices.\"*\""
        }
        return "other model ids go to route '\(route.name)' and are served only when a price row matches them "
            + "(built-in: \(prices.prefixes.joined(separator: ", "))); add prices.<model> or prices.\"*\" for others"
    }
}
