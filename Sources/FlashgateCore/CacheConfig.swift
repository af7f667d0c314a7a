/// The response cache's settings.
package struct CacheConfig: Sendable, Equatable {
    /// Who may see an entry: each team only its own (the default), or every team.
    package enum Scope: String, Sendable { case team, shared }

    package var enabled = true
    /// How long an answer stays cached unless a route, model or request says otherwise.
    package var ttl: Duration = .seconds(3600)
    /// The most the cache may hold (compressed); the oldest entries go first beyond it.
    package var maxSizeBytes: Int = 1 << 30
    package var scope: Scope = .team
    /// How often expired entries are swept and the size limit enforced.
    package var sweepInterval: Duration = .seconds(60)

    package init() {}

    static func load(_ map: ConfigMap) throws(ConfigError) -> CacheConfig {
        var map = map
        var config = CacheConfig()
        if let enabled = try map.bool("enabled") { config.enabled = enabled }
        if let ttl = try map.duration("ttl") { config.ttl = ttl }
        if let size = try map.bytes("max_size", in: (1 << 20)...(1 << 40)) { config.maxSizeBytes = size }
        if let scope = try map.string("scope") {
            guard let value = Scope(rawValue: scope) else {
                throw ConfigError(path: map.child("scope"), reason: "expected team or shared")
            }
            config.scope = value
        }
        if let interval = try map.duration("sweep_interval") { config.sweepInterval = interval }
        try map.finish()
        return config
    }
}

extension FlashgateConfig {
    /// The TTL for an answer from a model on a route for a team: the model's, else the route's,
    /// else the team's, else the default.
    package func cacheTTL(model: String, route: RouteConfig, team: String? = nil) -> Duration {
        self.model(answering: model)?.cacheTTL ?? route.cacheTTL
            ?? teams.first { $0.id == team }?.cacheTTL ?? cache.ttl
    }
}
