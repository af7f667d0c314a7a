/// Rate limits under shared budgets: RPM and TPM are leased across hosts by demand
/// (`RateLeases`), so the local limiter keeps only concurrency, of which every live host enforces
/// an equal share, recomputed when the number of live hosts changes. Invariant: the shares of
/// `hosts` hosts add up to at most the limit plus one per host (a share is rounded up so that a
/// limit below the host count still admits something).
extension RateLimits {
    package func share(of hosts: Int) -> RateLimits {
        let concurrent = hosts > 1 ? concurrent.map { max(1, ($0 + hosts - 1) / hosts) } : concurrent
        return RateLimits(requestsPerMinute: nil, tokensPerMinute: nil, concurrent: concurrent)
    }

    /// Each team's and key's limits (and per-model limits) as one of `hosts` live hosts enforces
    /// them in its local limiter: its share of concurrency, no RPM or TPM (those are leased).
    package static func shares(teams: [TeamConfig], keys: [KeyConfig], hosts: Int) -> ([TeamConfig], [KeyConfig]) {
        let teams = teams.map { team in
            var team = team
            team.limits = team.limits.share(of: hosts)
            team.modelLimits = team.modelLimits.mapValues { $0.share(of: hosts) }
            return team
        }
        let keys = keys.map { key in
            var key = key
            key.limits = key.limits.share(of: hosts)
            return key
        }
        return (teams, keys)
    }
}
