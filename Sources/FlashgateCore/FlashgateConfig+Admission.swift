import Foundation

extension FlashgateConfig {
    /// Reads `teams`, `keys`, `accounting` and `prices`. Cross-references are checked here, once:
    /// a key's team must exist, ids and names are unique, hashes are well formed, and no Unix
    /// uid or gid maps to two teams.
    static func loadAdmission(
        _ top: inout ConfigMap, into config: inout FlashgateConfig, environment: [String: String]
    ) throws(ConfigError) {
        if let items = try top.list("teams") {
            var uids: [UInt32: String] = [:]
            var gids: [UInt32: String] = [:]
            for (i, item) in items.enumerated() {
                let team = try loadTeam(item, path: "teams[\(i)]")
                if config.teams.contains(where: { $0.id == team.id }) {
                    throw ConfigError(path: "teams[\(i)].id", reason: "team '\(team.id)' is defined twice")
                }
                for uid in team.unixUIDs {
                    if let other = uids.updateValue(team.id, forKey: uid) {
                        throw ConfigError(path: "teams[\(i)].unix_uids", reason: "uid \(uid) already belongs to team '\(other)'")
                    }
                }
                for gid in team.unixGIDs {
                    if let other = gids.updateValue(team.id, forKey: gid) {
                        throw ConfigError(path: "teams[\(i)].unix_gids", reason: "gid \(gid) already belongs to team '\(other)'")
                    }
                }
                config.teams.append(team)
            }
        }
        if let items = try top.list("keys") {
            for (i, item) in items.enumerated() {
                let key = try loadKey(item, path: "keys[\(i)]", teams: config.teams)
                if config.keys.contains(where: { $0.name == key.name }) {
                    throw ConfigError(path: "keys[\(i)].name", reason: "key '\(key.name)' is defined twice")
                }
                if let other = config.keys.first(where: { $0.hashHex == key.hashHex }) {
                    throw ConfigError(path: "keys[\(i)].hash", reason: "the same hash as key '\(other.name)'")
                }
                config.keys.append(key)
            }
        }
        if var map = try top.map("accounting") {
            config.accounting = try loadAccounting(&map, teams: config.teams, environment: environment)
        }
        if var map = try top.map("prices") {
            config.prices = try loadPrices(&map, base: config.prices)
        }
    }

    private static func loadTeam(_ node: ConfigNode, path: String) throws(ConfigError) -> TeamConfig {
        var map = try ConfigMap(node, path: path)
        var team = TeamConfig(id: try identifier(&map, "id", what: "a team"))
        team.unixUIDs = try ids(&map, "unix_uids")
        team.unixGIDs = try ids(&map, "unix_gids")
        team.maxOutputTokens = try map.int("max_output_tokens", in: 1...1_048_576)
        team.cache = try map.bool("cache") ?? true
        team.cacheTTL = try map.duration("cache_ttl")
        team.contextCache = try map.bool("context_cache") ?? true
        team.serviceTier = try serviceTier(&map)
        if var limits = try map.map("limits") { team.limits = try loadLimits(&limits) }
        if var models = try map.map("model_limits") {
            for model in models.keys {
                guard var limits = try models.map(model) else { continue }
                // Keyed as the rate limiter is asked: a call's model id as routing sees it, so
                // `models/gemini-2.5-flash` and `gemini-2.5-flash` are one limit.
                let id = try canonicalModelID(model, path: models.child(model))
                if team.modelLimits[id] != nil {
                    throw ConfigError(path: models.child(model), reason: "another entry already limits model '\(id)'")
                }
                team.modelLimits[id] = try loadLimits(&limits)
            }
            try models.finish()
        }
        team.budgets = try loadBudgets(&map)
        try map.finish()
        return team
    }

    private static func loadKey(_ node: ConfigNode, path: String, teams: [TeamConfig]) throws(ConfigError) -> KeyConfig {
        var map = try ConfigMap(node, path: path)
        let name = try identifier(&map, "name", what: "a key")
        guard let team = try map.string("team") else {
            throw ConfigError(path: map.child("team"), reason: "a key needs a team")
        }
        guard teams.contains(where: { $0.id == team }) else {
            throw ConfigError(path: map.child("team"), reason: "no team has the id '\(team)'")
        }
        guard let hash = try map.string("hash") else {
            throw ConfigError(path: map.child("hash"), reason: "a key needs a hash (make one with `flashgate keys new`)")
        }
        guard let hex = VirtualKey.parseHash(hash) else {
            throw ConfigError(path: map.child("hash"), reason: "expected sha256: followed by 64 hex digits")
        }
        var key = KeyConfig(name: name, team: team, hashHex: hex)
        if var limits = try map.map("limits") { key.limits = try loadLimits(&limits) }
        key.budgets = try loadBudgets(&map)
        try map.finish()
        return key
    }

    static func loadLimits(_ map: inout ConfigMap) throws(ConfigError) -> RateLimits {
        let limits = RateLimits(
            requestsPerMinute: try map.int("rpm", in: 1...100_000_000),
            tokensPerMinute: try map.int("tpm", in: 1...100_000_000),
            concurrent: try map.int("concurrent", in: 1...1_000_000))
        try map.finish()
        return limits
    }

    static func loadBudgets(_ map: inout ConfigMap) throws(ConfigError) -> [BudgetConfig] {
        guard let items = try map.list("budgets") else { return [] }
        var budgets: [BudgetConfig] = []
        for (i, item) in items.enumerated() {
            var entry = try ConfigMap(item, path: "\(map.child("budgets"))[\(i)]")
            guard let periodText = try entry.string("period"), let period = BudgetPeriod(rawValue: periodText) else {
                throw ConfigError(path: entry.child("period"), reason: "expected day, week, month or total")
            }
            guard let limitText = try entry.string("limit_usd") else {
                throw ConfigError(path: entry.child("limit_usd"), reason: "a budget needs limit_usd, such as \"12.50\"")
            }
            guard let limit = MicroUSD(dollars: limitText) else {
                throw ConfigError(
                    path: entry.child("limit_usd"), reason: "expected dollars with at most 6 decimals, such as \"12.50\", got '\(limitText)'")
            }
            let modeText = try entry.string("mode") ?? "hard"
            guard let mode = BudgetConfig.Mode(rawValue: modeText) else {
                throw ConfigError(path: entry.child("mode"), reason: "expected hard or soft")
            }
            try entry.finish()
            if budgets.contains(where: { $0.period == period }) {
                throw ConfigError(path: entry.child("period"), reason: "a \(period.rawValue) budget is defined twice")
            }
            budgets.append(BudgetConfig(period: period, limit: limit, mode: mode))
        }
        return budgets
    }

    /// Ids and names end up inside ledger keys (`team:<id>:month:…`), so they are restricted to
    /// letters, digits, `.`, `_` and `-`.
    private static func identifier(_ map: inout ConfigMap, _ key: String, what: String) throws(ConfigError) -> String {
        guard let value = try map.string(key), !value.isEmpty else {
            throw ConfigError(path: map.child(key), reason: "\(what) needs a \(key)")
        }
        guard isIdentifier(value) else {
            throw ConfigError(path: map.child(key), reason: "\(identifierRule), got '\(value)'")
        }
        return value
    }

    /// Whether `value` may be a team id or a key name (`flashgate keys new` checks the same).
    package static func isIdentifier(_ value: String) -> Bool {
        !value.isEmpty && value.count <= 64
            && value.unicodeScalars.allSatisfy {
                ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "." || $0 == "_" || $0 == "-"
            }
    }

    package static let identifierRule = "use up to 64 letters, digits, '.', '_' or '-'"

    private static func ids(_ map: inout ConfigMap, _ key: String) throws(ConfigError) -> [UInt32] {
        guard let items = try map.list(key) else { return [] }
        var result: [UInt32] = []
        for (i, item) in items.enumerated() {
            guard let text = item.scalarValue, let value = UInt32(text) else {
                throw ConfigError(path: "\(map.child(key))[\(i)]", reason: "expected a numeric id")
            }
            result.append(value)
        }
        return result
    }
}
