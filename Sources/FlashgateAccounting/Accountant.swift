import FlashgateCore
import FlashgateStorage
import FlashgateWire
import Foundation
import Logging

/// Who pays, whether they may, and what they paid: identity, rate limits, budgets and the ledger
/// for the request path. Every admitted call holds an `Admission` that `settle` closes exactly
/// once — with the real cost from usage, the reservation when the answer's cost is unknown (a
/// dropped stream, a client gone), or $0 when the upstream refused before generating.
package final class Accountant: Sendable {
    package let config: FlashgateConfig
    let identity: Identity
    /// No teams or keys configured: every caller is the default team, unlimited (but recorded).
    let open: Bool
    let limiter: RateLimiter<Tick>
    /// The monotonic clock the rate limiter refills on: the retry loop's, injected, so tests move
    /// buckets and backoff together on a manual clock and never sleep.
    let clock: any RetryClock
    package let budgets: Budgets
    package let ledger: Ledger?
    package let prices: PriceTable
    let logger: Logger
    let nowMilliseconds: @Sendable () -> Int64
    /// Hands idle leases back (`Accountant+Leases`).
    let sweeper: LeaseSweeper
    /// Budgets shared across hosts through Redis (`shared:`), and their heartbeat.
    package let shared: SharedBudgets?
    let heartbeat: LeaseSweeper

    package init(
        config: FlashgateConfig, ledger: Ledger?, logger: Logger, nowMilliseconds: @escaping @Sendable () -> Int64,
        clock: any RetryClock = SystemRetryClock(), redisClockOffsetMs: @escaping @Sendable () -> Int64 = { 0 }
    ) {
        self.config = config
        identity = Identity(config: config)
        open = config.teams.isEmpty && config.keys.isEmpty
        self.clock = clock
        limiter = RateLimiter(teams: config.teams, keys: config.keys, origin: clock.now())
        let budgets = Budgets(config: config)
        self.budgets = budgets
        self.ledger = ledger
        prices = config.prices
        self.logger = logger
        self.nowMilliseconds = nowMilliseconds
        sweeper = LeaseSweeper()
        heartbeat = LeaseSweeper()
        shared = config.shared.map {
            SharedBudgets(
                config: $0, budgets: budgets, clock: clock, logger: logger, redisClockOffsetMs: redisClockOffsetMs)
        }
        shared?.shareRateLimits(limiter, teams: config.teams, keys: config.keys)
        shared?.onLeaseCut { [weak self] changes in self?.apply(changes) }
    }

    /// The accountant for a reloaded config: identity, prices and the open/closed choice come from
    /// `config`; the rate limiter, the budgets and the ledger are this one's, updated in place, so
    /// token buckets, settled totals and open reservations carry over. Admissions made by this
    /// accountant still settle through it, against the same limiter and budgets, exactly once.
    /// The new one is never `start`ed: recovery runs once per process.
    /// `accounting.mode` and `accounting.time_zone` need a restart (see `Reload`).
    package func reloaded(config: FlashgateConfig) -> Accountant {
        if let shared {
            shared.shareRateLimits(limiter, teams: config.teams, keys: config.keys)
        } else {
            limiter.update(teams: config.teams, keys: config.keys)
        }
        budgets.update(teams: config.teams, keys: config.keys)
        // Leases were granted against the limits as they were. What they hold unused goes back
        // now, and what is spent next is granted against the new limits: a shared budget's hosts
        // each see only their own spend, so a lowered limit would hold only once their leases ran
        // out; on one host, calls met a lease above the new limit and were told it was spent.
        if leased { apply(budgets.releaseLeasesForNewLimits(now: now)) }
        return Accountant(config: config, previous: self)
    }

    private init(config: FlashgateConfig, previous: Accountant) {
        self.config = config
        identity = Identity(config: config)
        open = config.teams.isEmpty && config.keys.isEmpty
        limiter = previous.limiter
        clock = previous.clock
        budgets = previous.budgets
        ledger = previous.ledger
        prices = config.prices
        logger = previous.logger
        nowMilliseconds = previous.nowMilliseconds
        sweeper = previous.sweeper
        shared = previous.shared
        heartbeat = previous.heartbeat
        shared?.onLeaseCut { [weak self] changes in self?.apply(changes) }
    }

    /// Charges the leases and reservations a crash left open as spent, and loads the settled
    /// totals into the budgets. What a full ledger cannot settle still counts as spent in memory:
    /// Flashgate starts anyway (and refuses paid calls until the ledger has room).
    package func start() throws {
        guard let ledger else { return }
        let recovery = try ledger.recoverAtStart(nowMs: nowMilliseconds())
        var totals = ledger.totals(prefix: "")
        for (key, amount) in recovery.stillOpen { totals[key, default: .zero] += amount }
        budgets.load(settledTotals: totals)
        if let shared { heartbeat.replace(shared.start(statuses: budgets.all(now: now))) }
    }

    package var now: Date { Date(timeIntervalSince1970: Double(nowMilliseconds()) / 1000) }

    /// The caller presenting `bearer` (the `Authorization` credential), `googKey`
    /// (`x-goog-api-key` or `?key=`) or the Unix `peer`, else the default team. Unknown or missing
    /// identity is a 401. The edge extracts these values; accounting never sees a request.
    package func caller(
        bearer: String?, googKey: String?, peer: (uid: UInt32, gid: UInt32)?
    ) -> Result<Caller, FlashgateError> {
        if open { return .success(Caller(team: Caller.defaultTeam)) }
        return identity.resolve(bearer: bearer, googKey: googKey, peer: peer)
    }

    package func team(_ caller: Caller) -> TeamConfig? { config.teams.first { $0.id == caller.team } }
}
