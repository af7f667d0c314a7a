/// Per-minute rate limits for one key, team or team×model. `nil` means unlimited, so a limit
/// only exists where an operator wrote one.
package struct RateLimits: Sendable, Equatable {
    package var requestsPerMinute: Int?
    package var tokensPerMinute: Int?
    package var concurrent: Int?

    package init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, concurrent: Int? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.concurrent = concurrent
    }

    package var isEmpty: Bool { requestsPerMinute == nil && tokensPerMinute == nil && concurrent == nil }
}

/// One dollar budget: a limit in exact micro-dollars over a calendar period. A hard budget
/// rejects a request whose reservation would not fit; a soft one admits and flags.
package struct BudgetConfig: Sendable, Equatable {
    package enum Mode: String, Sendable, CaseIterable { case hard, soft }

    package var period: BudgetPeriod
    package var limit: MicroUSD
    package var mode: Mode

    package init(period: BudgetPeriod, limit: MicroUSD, mode: Mode = .hard) {
        self.period = period
        self.limit = limit
        self.mode = mode
    }
}

/// A team: who belongs to it (by virtual key, or by Unix peer uid/gid), its limits and budgets.
package struct TeamConfig: Sendable, Equatable {
    package var id: String
    package var unixUIDs: [UInt32] = []
    package var unixGIDs: [UInt32] = []
    /// The most output tokens one request may reserve, below the model's own maximum.
    package var maxOutputTokens: Int?
    /// Whether this team's requests use the response cache.
    package var cache: Bool = true
    /// How long this team's answers stay cached, unless its model or route says otherwise.
    package var cacheTTL: Duration?
    /// Whether Flashgate may create context caches for this team's prefixes (`context_cache`).
    package var contextCache: Bool = true
    package var limits = RateLimits()
    /// Limits per client-facing model id, on top of `limits`.
    package var modelLimits: [String: RateLimits] = [:]
    package var budgets: [BudgetConfig] = []
    /// The service tier of this team's requests that name none (before the model's default).
    package var serviceTier: ServiceTier?

    package init(id: String) { self.id = id }
}

/// A virtual key: only its SHA-256 hash is configured, so the config never holds a secret.
package struct KeyConfig: Sendable, Equatable {
    package var name: String
    package var team: String
    /// Lowercase hex SHA-256 of the key text (without the `sha256:` prefix).
    package var hashHex: String
    package var limits = RateLimits()
    package var budgets: [BudgetConfig] = []

    package init(name: String, team: String, hashHex: String) {
        self.name = name
        self.team = team
        self.hashHex = hashHex
    }
}

/// How spend is accounted: `strict` reserves the worst case so a hard budget is never overspent;
/// `estimate` reserves the expected cost and reports overshoot.
package struct AccountingConfig: Sendable, Equatable {
    package enum Mode: String, Sendable, CaseIterable { case strict, estimate }

    package var mode: Mode = .strict
    /// The IANA zone whose calendar days, ISO weeks and months budgets follow.
    package var timeZoneID: String = "UTC"
    /// Callers without a key or mapped uid/gid belong here; `nil` answers them 401.
    package var defaultTeam: String?
    /// The admin API key, read from the environment variable `admin_key_env` names.
    package var adminKey: Secret?

    package init() {}
}
