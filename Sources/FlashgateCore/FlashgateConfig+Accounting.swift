import Foundation

extension FlashgateConfig {
    static func loadAccounting(
        _ map: inout ConfigMap, teams: [TeamConfig], environment: [String: String]
    ) throws(ConfigError) -> AccountingConfig {
        var accounting = AccountingConfig()
        if let text = try map.string("mode") {
            guard let mode = AccountingConfig.Mode(rawValue: text) else {
                throw ConfigError(path: map.child("mode"), reason: "expected strict or estimate")
            }
            accounting.mode = mode
        }
        if let zone = try map.string("time_zone") {
            guard TimeZone(identifier: zone) != nil else {
                throw ConfigError(path: map.child("time_zone"), reason: "unknown IANA time zone '\(zone)'")
            }
            accounting.timeZoneID = zone
        }
        if let team = try map.string("default_team") {
            guard teams.contains(where: { $0.id == team }) else {
                throw ConfigError(path: map.child("default_team"), reason: "no team has the id '\(team)'")
            }
            accounting.defaultTeam = team
        }
        if let variable = try map.string("admin_key_env") {
            guard let value = environment[variable], !value.isEmpty else {
                throw ConfigError(path: map.child("admin_key_env"), reason: "environment variable \(variable) is not set")
            }
            accounting.adminKey = Secret(value)
        }
        try map.finish()
        return accounting
    }

    /// `prices: {<model prefix>: {input, output, cached_input, cache_storage, search_per_1000,
    /// flex: {…}, batch: {…}, priority: {…}}}`, USD strings per million tokens (search: per 1,000
    /// queries). A row for a known prefix overrides only the fields given; a new prefix needs at
    /// least input and output. A tier's map overrides that tier's row (derived from the standard
    /// row when it has none). The prefix `"*"` is the explicit fallback for every other model;
    /// without it, a model no row matches is refused ("no price, no call").
    static func loadPrices(_ map: inout ConfigMap, base: PriceTable) throws(ConfigError) -> PriceTable {
        var table = base
        for prefix in map.keys {
            guard var row = try map.map(prefix) else { continue }
            let known = table.prefix(for: prefix) == prefix ? table.price(for: prefix) : nil
            let standard = try priceFields(&row, base: known, needsInputAndOutput: known == nil)
            table.set(standard, prefix: prefix)
            for tier in ServiceTier.allCases where tier != .standard {
                guard var tierRow = try row.map(tier.rawValue) else { continue }
                let tierBase = table.price(for: prefix, tier: tier)
                table.set(try priceFields(&tierRow, base: tierBase, needsInputAndOutput: false), prefix: prefix, tier: tier)
                try tierRow.finish()
            }
            try row.finish()
        }
        try map.finish()
        return table
    }

    private static func priceFields(
        _ row: inout ConfigMap, base: ModelPrice?, needsInputAndOutput: Bool
    ) throws(ConfigError) -> ModelPrice {
        let input = try money(&row, "input")
        let output = try money(&row, "output")
        guard !needsInputAndOutput || (input != nil && output != nil) else {
            throw ConfigError(path: row.path, reason: "a model not in the built-in table needs input and output prices")
        }
        var price = base ?? ModelPrice(input: 0, output: 0, cachedInput: 0)
        if let input {
            price.inputPerMillion = input
            if base == nil { price.cachedInputPerMillion = input }
        }
        if let output { price.outputPerMillion = output }
        if let v = try money(&row, "cached_input") { price.cachedInputPerMillion = v }
        if let v = try money(&row, "cache_storage") { price.cacheStoragePerMillionHour = v }
        if let v = try money(&row, "search_per_1000") { price.searchPerThousand = v }
        if let v = try money(&row, "audio_input") { price.audioInputPerMillion = v }
        if let v = try money(&row, "image_input") { price.imageInputPerMillion = v }
        if let v = try money(&row, "video_input") { price.videoInputPerMillion = v }
        return price
    }

    private static func money(_ map: inout ConfigMap, _ key: String) throws(ConfigError) -> Int64? {
        guard let text = try map.string(key) else { return nil }
        guard let value = MicroUSD(dollars: text) else {
            throw ConfigError(path: map.child(key), reason: "expected dollars with at most 6 decimals, such as \"2.70\", got '\(text)'")
        }
        return value.value
    }
}
