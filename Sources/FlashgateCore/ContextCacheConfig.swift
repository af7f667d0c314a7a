/// Automatic context caching (`context_cache:`): when Flashgate may turn a long repeated prefix
/// into a Gemini `cachedContents` resource, and the numbers its planner uses.
///
/// Invariant: a cache is never created for a prefix below its model's minimum size (the built-in
/// table, or `min_tokens` here, longest prefix wins) nor before it was seen `min_requests` times.
package struct ContextCacheConfig: Sendable, Equatable {
    /// Who may read a cache: the team that caused it (the default), or every team.
    package enum Scope: String, Sendable { case team, shared }

    package var enabled = true
    package var scope: Scope = .team
    /// How long a created cache lives (its `ttl`), and how long a keep-alive extends it.
    package var ttl: Duration = .seconds(3600)
    /// How far back the planner counts a prefix's reads to forecast the cache's lifetime.
    package var window: Duration = .seconds(3600)
    /// Requests with the same prefix seen in the window before a cache may be created.
    package var minRequests = 2
    /// Minimum cacheable tokens by model-id prefix, over the built-in table.
    package var minTokens: [String: Int] = [:]

    package init() {}

    /// The minimum cacheable size of `model`: the longest matching `min_tokens` row, else the
    /// built-in table (`ContextCacheMinimums`).
    package func minimumTokens(model: String) -> Int {
        let configured = minTokens.filter { model.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }
        return configured?.value ?? ContextCacheMinimums.tokens(model: model)
    }

    static func load(_ map: ConfigMap) throws(ConfigError) -> ContextCacheConfig {
        var map = map
        var config = ContextCacheConfig()
        if let enabled = try map.bool("enabled") { config.enabled = enabled }
        if let scope = try map.string("scope") {
            guard let value = Scope(rawValue: scope) else {
                throw ConfigError(path: map.child("scope"), reason: "expected team or shared")
            }
            config.scope = value
        }
        if let ttl = try map.duration("ttl") {
            guard ttl >= .seconds(60) else { throw ConfigError(path: map.child("ttl"), reason: "must be at least 1m") }
            config.ttl = ttl
        }
        if let window = try map.duration("window") {
            guard window >= .seconds(60) else {
                throw ConfigError(path: map.child("window"), reason: "must be at least 1m")
            }
            config.window = window
        }
        if let count = try map.int("min_requests", in: 1...1_000_000) { config.minRequests = count }
        if var rows = try map.map("min_tokens") {
            for model in rows.keys {
                if let tokens = try rows.int(model, in: 1...10_000_000) { config.minTokens[model] = tokens }
            }
            try rows.finish()
        }
        try map.finish()
        return config
    }
}
