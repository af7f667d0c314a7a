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

    /// `prices: {<model prefix>: {input, output, cached_input, cache_storage, search_per_1000}}`,
    /// USD strings per million tokens (search: per 1,000 queries). A row for a known prefix
    /// overrides only the fields given; a new prefix needs at least input and output.
    static func loadPrices(_ map: inout ConfigMap, base: PriceTable) throws(ConfigError) -> PriceTable {
        var table = base
        for prefix in map.keys {
            guard var row = try map.map(prefix) else { continue }
            let known = table.prices[prefix]
            let input = try money(&row, "input")
            let output = try money(&row, "output")
            guard known != nil || (input != nil && output != nil) else {
                throw ConfigError(path: row.path, reason: "a model not in the built-in table needs input and output prices")
            }
            var price = known ?? ModelPrice(input: 0, output: 0, cachedInput: 0)
            if let input {
                price.inputPerMillion = input
                if known == nil { price.cachedInputPerMillion = input }
            }
            if let output { price.outputPerMillion = output }
            if let v = try money(&row, "cached_input") { price.cachedInputPerMillion = v }
            if let v = try money(&row, "cache_storage") { price.cacheStoragePerMillionHour = v }
            if let v = try money(&row, "search_per_1000") { price.searchPerThousand = v }
            try row.finish()
            table.prices[prefix] = price
        }
        try map.finish()
        return table
    }

    private static func money(_ map: inout ConfigMap, _ key: String) throws(ConfigError) -> Int64? {
        guard let text = try map.string(key) else { return nil }
        guard let value = MicroUSD(dollars: text) else {
            throw ConfigError(path: map.child(key), reason: "expected dollars with at most 6 decimals, such as \"2.70\", got '\(text)'")
        }
        return value.value
    }
}
