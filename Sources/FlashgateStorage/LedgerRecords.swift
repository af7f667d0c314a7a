import FlashgateCore

/// An open reservation: the worst-case cost held against a request's budgets until it settles.
/// It lives in the ledger's `reservations` database from `reserve` until exactly one `settle`
/// (or crash recovery) removes it.
package struct ReservationRecord: Sendable, Equatable {
    /// Unique and monotonic across restarts (`Ledger.nextReservationID()`).
    package var id: UInt64
    package var timeMs: Int64
    package var team: String
    package var key: String
    package var model: String
    package var route: String
    /// The worst case reserved.
    package var amount: MicroUSD
    /// The budget-period buckets it counts against, e.g. "team:search|day:2026-11-25".
    package var budgetKeys: [String]

    package init(
        id: UInt64, timeMs: Int64, team: String, key: String, model: String, route: String, amount: MicroUSD,
        budgetKeys: [String]
    ) {
        self.id = id
        self.timeMs = timeMs
        self.team = team
        self.key = key
        self.model = model
        self.route = route
        self.amount = amount
        self.budgetKeys = budgetKeys
    }
}

/// What a request finally cost: one row of the `requests` database, and the amount added to each
/// of its budget keys' running totals in the same transaction.
package struct SettlementRecord: Sendable, Equatable {
    /// nil for requests that reserved nothing (cache hits: $0).
    package var reservationID: UInt64?
    package var timeMs: Int64
    package var team: String
    package var key: String
    package var model: String
    package var route: String
    package var promptTokens: Int
    package var cachedTokens: Int
    package var outputTokens: Int
    package var thoughtsTokens: Int
    package var searchQueries: Int
    package var cost: MicroUSD
    /// hit | miss | joined | bypass; embed | count for embeddings and token counts (never cached)
    package var cacheStatus: String
    /// ok | upstream_error | disconnected | timeout | recovered
    package var outcome: String
    package var budgetKeys: [String]
    /// Every upstream attempt, `route:status:duration` (`r0:503:12ms`, `r1:ok:340ms`); empty for
    /// calls that made one attempt or none, and for rows written before attempts were recorded.
    package var attempts: [String] = []
    /// The service tier that served and was charged (`standard`, `flex`, `priority`); empty for
    /// rows that paid nothing upstream (hits, joins) and for rows written before tiers existed.
    package var serviceTier: String = ""
    /// How many requests this record stands for: 1 for a request row; the count of an hourly
    /// rollup read back as one record (`LedgerRollup.record`, timed at its hour's start). Not stored.
    package var requests: Int = 1
    /// For a rollup read back as a record: how many of its requests were retried. Not stored.
    package var retriedRequests: Int?

    /// Whether this record is an hourly rollup read back as one record, not a request row.
    package var isRollup: Bool { retriedRequests != nil }

    /// How many of the requests this record stands for made more than one upstream attempt.
    package var retried: Int { retriedRequests ?? (attempts.count > 1 ? 1 : 0) }

    package init(
        reservationID: UInt64?, timeMs: Int64, team: String, key: String, model: String, route: String,
        promptTokens: Int = 0, cachedTokens: Int = 0, outputTokens: Int = 0, thoughtsTokens: Int = 0,
        searchQueries: Int = 0, cost: MicroUSD, cacheStatus: String, outcome: String, budgetKeys: [String]
    ) {
        self.reservationID = reservationID
        self.timeMs = timeMs
        self.team = team
        self.key = key
        self.model = model
        self.route = route
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.outputTokens = outputTokens
        self.thoughtsTokens = thoughtsTokens
        self.searchQueries = searchQueries
        self.cost = cost
        self.cacheStatus = cacheStatus
        self.outcome = outcome
        self.budgetKeys = budgetKeys
    }

    /// The settlement of a reservation a crash left open: charged its reserved amount, never $0.
    package static func recovered(_ r: ReservationRecord, nowMs: Int64) -> SettlementRecord {
        SettlementRecord(
            reservationID: r.id, timeMs: nowMs, team: r.team, key: r.key, model: r.model, route: r.route,
            cost: r.amount, cacheStatus: "miss", outcome: "recovered", budgetKeys: r.budgetKeys)
    }
}

/// Usage aggregated by team, key, model and UTC day, as `flashgate usage` and the admin API show it.
/// Refusals have no model: they are counted in rows whose model is empty.
package struct UsageRow: Sendable, Equatable {
    package var team: String
    package var key: String
    package var model: String
    /// "YYYY-MM-DD" in UTC.
    package var day: String
    package var requests: Int = 0
    package var promptTokens: Int = 0
    package var cachedTokens: Int = 0
    package var outputTokens: Int = 0
    package var thoughtsTokens: Int = 0
    package var searchQueries: Int = 0
    package var cost: MicroUSD = .zero
    package var cacheHits: Int = 0
    /// The part of `cost` that created context caches and paid their rent (`context_*` rows).
    package var contextCacheCost: MicroUSD = .zero
    /// Requests Flashgate refused itself; they have rows of their own, with an empty model.
    package var refused: Int = 0
    /// `refused` by `RefusalReason` raw value.
    package var refusedBy: [String: Int] = [:]

    package init(team: String, key: String, model: String, day: String) {
        self.team = team
        self.key = key
        self.model = model
        self.day = day
    }
}
