import FlashgateCore
import Foundation
import Logging
import Synchronization

/// Budgets shared across hosts (`shared:`): lease grants come from Redis (`LeaseScript`), so
/// every host admits calls locally from chunks the cluster escrowed for it. All Redis work runs in
/// order on the client's queue; the request path only ever waits on a grant's latch, which the
/// command timeout and the reconnect backoff bound.
///
/// Invariant: what this host may hold for a budget key — its settled spend plus its leases —
/// never exceeds `caps[key]`, the value Redis last confirmed (or less, when a call's outcome is
/// unknown). A grant becomes usable only after Redis confirmed it; a return lowers `caps` before
/// Redis hears of it.
package final class SharedBudgets: Sendable {
    package let config: SharedConfig
    package let client: RedisClient
    let budgets: Budgets
    let clock: any RetryClock
    let logger: Logger
    /// RPM and TPM leased from Redis per window (`SharedBudgets+Rates`).
    package let rates: RateLeases
    let state = Mutex(State())

    struct State {
        /// Per budget key: the most this host may have spent, as Redis confirmed it.
        var caps: [String: MicroUSD] = [:]
        /// Per budget key: its limit and mode as last granted under.
        var lines: [String: LeaseLine] = [:]
        var cluster: [String: ClusterBudget] = [:]
        var outageGrants: Int64 = 0
        /// Redis answered that it is relearning what hosts hold (it lost its data).
        var learning = false
        /// Live hosts, as Redis last counted them (1 until it has).
        var hosts = 1
        /// Where rate-limit shares go, and the limits they are shares of.
        var rates: (limiter: RateLimiter<Tick>, teams: [TeamConfig], keys: [KeyConfig])?
        /// Makes durable in the ledger the lease money Redis cut from this host's expired lease.
        var onCut: (@Sendable ([LeaseChange]) -> Void)?
    }

    /// Where the returns go that a cut of this host's expired lease forces (the accountant's ledger).
    package func onLeaseCut(_ apply: @escaping @Sendable ([LeaseChange]) -> Void) {
        state.withLock { $0.onCut = apply }
    }

    /// A grant's outcome: the amount this host may now hold more, and why it is short of what
    /// was asked (a spent budget, or Redis unreachable).
    package struct Grant: Sendable {
        package var amount: MicroUSD
        package var refusal: LeaseRefusal?
    }

    /// Added to Redis's clock in the lease script: 0 in service; tests move it to expire leases.
    let redisClockOffsetMs: @Sendable () -> Int64

    package init(
        config: SharedConfig, budgets: Budgets, clock: any RetryClock, logger: Logger,
        redisClockOffsetMs: @escaping @Sendable () -> Int64 = { 0 }
    ) {
        self.config = config
        self.redisClockOffsetMs = redisClockOffsetMs
        self.budgets = budgets
        self.clock = clock
        self.logger = logger
        client = RedisClient(config: config, clock: clock, logger: logger)
        rates = RateLeases(
            callsPerLease: config.leaseCalls, prefetchPercent: config.prefetchPercent,
            outageSharePercent: config.outage == .localShare ? config.localSharePercent : nil)
        budgets.share(
            callsPerLease: config.leaseCalls, prefetchPercent: config.prefetchPercent,
            unreportedCalls: config.unreportedCalls, minAllowance: config.minChunk,
            outageSharePercent: config.outage == .localShare ? config.localSharePercent : nil)
    }

    func redisKey(_ budgetKey: String) -> String { "\(config.keyPrefix)budget:{\(budgetKey)}" }

    /// The cluster's view of a budget key, as Redis last answered (never asks Redis).
    package func cluster(_ key: String) -> ClusterBudget? { state.withLock { $0.cluster[key] } }

    /// Live hosts sharing Redis, as last counted (1 until Redis answered).
    package var hosts: Int { state.withLock { $0.hosts } }

    /// Leases the RPM and TPM of `teams` and `keys` from Redis (`rates`), and enforces on
    /// `limiter` this host's share of their concurrency, now and whenever the number of live
    /// hosts changes (at a reload, with the new limits).
    package func shareRateLimits(_ limiter: RateLimiter<Tick>, teams: [TeamConfig], keys: [KeyConfig]) {
        rates.update(teams: teams, keys: keys)
        let hosts = state.withLock { s in
            s.rates = (limiter, teams, keys)
            return s.hosts
        }
        let (sharedTeams, sharedKeys) = RateLimits.shares(teams: teams, keys: keys, hosts: hosts)
        limiter.update(teams: sharedTeams, keys: sharedKeys)
    }

    /// Renews this host's membership and applies a changed host count to the rate limits.
    func countHosts(session: RedisClient.Session) {
        let ttl = config.leaseTTL.components
        let ttlMs = ttl.seconds * 1000 + ttl.attoseconds / 1_000_000_000_000_000
        let result = session.evaluate(
            MembershipScript.script, keys: ["\(config.keyPrefix)hosts"], args: [config.hostID, "\(ttlMs)"])
        guard case .success(let reply) = result, let live = reply.integer, live > 0 else { return }
        let changed = state.withLock { s -> (RateLimiter<Tick>, [TeamConfig], [KeyConfig])? in
            guard s.hosts != Int(live) else { return nil }
            s.hosts = Int(live)
            return s.rates
        }
        guard let (limiter, teams, keys) = changed else { return }
        let (sharedTeams, sharedKeys) = RateLimits.shares(teams: teams, keys: keys, hosts: Int(live))
        limiter.update(teams: sharedTeams, keys: sharedKeys)
        logger.info("shared budgets: live hosts changed; concurrency limits are shared", metadata: ["hosts": "\(live)"])
    }

    /// Grants made under the outage policy while Redis was unreachable.
    package var outageGrants: Int64 { state.withLock { $0.outageGrants } }

    /// Asks Redis for `change` (a grant); `done` runs on the Redis queue.
    package func acquire(_ change: LeaseChange, done: @escaping @Sendable (Grant) -> Void) {
        client.onQueue { [self] session in done(self.acquire(change, session: session)) }
    }

    private func acquire(_ change: LeaseChange, session: RedisClient.Session) -> Grant {
        let lines = change.lines
        let bases = bases(lines)
        let (result, answer) = run(lines, bases: bases, want: change.amount, need: change.need, session: session)
        let spent = lines.first(where: \.hard).map {
            LeaseRefusal.spent(budget: $0.name, limit: $0.limit, periodEnd: $0.periodEnd)
        }
        if let answer {
            record(lines, bases: answer.accepted, granted: answer.granted, cluster: answer.cluster, sent: bases)
            let wasLearning = state.withLock { s in
                defer { s.learning = answer.learning }
                return s.learning
            }
            if answer.learning {
                if !wasLearning {
                    logger.warning("shared budgets: redis lost its data; no grants until the hosts have re-reported")
                }
                return outage(change, bases: bases)
            }
            return Grant(amount: answer.granted, refusal: answer.granted < change.amount ? spent : nil)
        }
        if case .success = result {
            logger.error("shared budgets: unexpected reply from the lease script")
        }
        return outage(change, bases: bases)
    }

    /// One script call for `lines`: it reports this host's settled spend and its bounds on
    /// unreported spend (snapshot taken now, on the Redis queue), then wakes the calls that
    /// waited for a report, covered when Redis confirmed it (or under `local_share` anyway).
    private func run(
        _ lines: [LeaseLine], bases: [MicroUSD], want: MicroUSD, need: MicroUSD, session: RedisClient.Session
    ) -> (Result<RedisReply, RedisError>, LeaseScript.Answer?) {
        let (bounds, answers) = budgets.snapshotBounds(lines)
        let result = session.evaluate(
            LeaseScript.script, keys: lines.map { redisKey($0.key) },
            args: arguments(lines, bases: bases, bounds: bounds, want: want, need: need))
        var answer: LeaseScript.Answer?
        if case .success(let reply) = result { answer = LeaseScript.decode(reply, keys: lines.map(\.key), atMs: nowMs) }
        let withinLocalShare = budgets.boundsReported(lines, bounds: bounds, answered: answer != nil)
        let covered = answer != nil || withinLocalShare
        for latch in answers { latch.finish(durable: covered, refusal: covered ? nil : .unavailable) }
        return (result, answer)
    }

    /// Reports `lines` now for calls waiting on their bound, unless a script call since has.
    package func reportNow(_ lines: [LeaseLine]) {
        client.onQueue { [self] session in
            let pending = lines.filter { budgets.reportPending($0.key) }
            guard !pending.isEmpty else { return }
            report(pending, session: session)
        }
    }

    /// Redis unreachable: nothing under `refuse`; under `local_share`, up to that share of each
    /// hard limit, counted on this host alone.
    private func outage(_ change: LeaseChange, bases: [MicroUSD]) -> Grant {
        guard config.outage == .localShare else { return Grant(amount: .zero, refusal: .unavailable) }
        var grant = change.amount
        for (line, base) in zip(change.lines, bases) where line.hard {
            let allowed = MicroUSD(line.limit.value / 100 * Int64(config.localSharePercent)) - base
            grant = min(grant, max(.zero, allowed))
        }
        if grant < change.need { grant = .zero }
        record(change.lines, bases: bases, granted: grant, cluster: [], sent: bases)
        if grant > .zero { state.withLock { $0.outageGrants += 1 } }
        return Grant(amount: grant, refusal: grant < change.amount ? .unavailable : nil)
    }

    /// Hands `change` (a return, already durable in the ledger) back to Redis.
    package func release(_ change: LeaseChange) {
        client.onQueue { [self] session in
            let lines: [LeaseLine] = state.withLock { s in
                for key in change.budgetKeys {
                    if let cap = s.caps[key] { s.caps[key] = max(.zero, cap - change.amount) }
                }
                return change.budgetKeys.compactMap { s.lines[$0] }
            }
            report(lines, session: session)
        }
    }

    /// At start: this host holds nothing yet, so its cap on each line is its settled spend.
    func reconcile(_ lines: [LeaseLine], session: RedisClient.Session) {
        countHosts(session: session)
        report(lines.filter { line in state.withLock { $0.caps[line.key] == nil } }, session: session)
    }

    /// Renews the leases of current periods; periods that ended are forgotten here (their leases
    /// were handed back when they ended), so the state stays one entry per live budget period.
    func heartbeat(session: RedisClient.Session) {
        countHosts(session: session)
        let now = Date()
        let lines: [LeaseLine] = state.withLock { s in
            for (key, line) in s.lines where line.periodEnd.map({ $0 <= now }) ?? false {
                s.lines[key] = nil
                s.caps[key] = nil
                s.cluster[key] = nil
            }
            return s.caps.keys.sorted().compactMap { s.lines[$0] }
        }
        report(lines, session: session)
    }

    /// Tells Redis what this host holds for `lines` (renewing its leases) and reads the cluster view.
    private func report(_ lines: [LeaseLine], session: RedisClient.Session) {
        guard !lines.isEmpty else { return }
        let bases = bases(lines)
        let (_, answer) = run(lines, bases: bases, want: .zero, need: .zero, session: session)
        if let answer {
            record(lines, bases: answer.accepted, granted: .zero, cluster: answer.cluster, sent: bases)
        }
    }

    /// What this host holds per line: the confirmed cap, or at a key's first use in this process
    /// its settled spend (recovery charged what a crash left open, and nothing else is leased yet).
    private func bases(_ lines: [LeaseLine]) -> [MicroUSD] {
        let settled = budgets.settled(lines.map(\.key))
        return state.withLock { s in zip(lines, settled).map { s.caps[$0.key] ?? $1 } }
    }

    /// Redis holds `bases` (+ `granted`) for this host now. Where that is below what was `sent`
    /// (Redis cut this host's lease while it was silent), unused lease money worth the difference
    /// leaves this host's leases too; a first call's difference is only the ledger's recovery
    /// charge, which no lease holds.
    private func record(
        _ lines: [LeaseLine], bases: [MicroUSD], granted: MicroUSD, cluster: [ClusterBudget], sent: [MicroUSD]
    ) {
        let (confirmed, onCut) = state.withLock { s in
            let confirmed = lines.map { s.caps[$0.key] != nil }
            for (line, base) in zip(lines, bases) {
                s.caps[line.key] = base + granted
                s.lines[line.key] = line
            }
            for view in cluster { s.cluster[view.key] = view }
            return (confirmed, s.onCut)
        }
        var cuts: [LeaseChange] = []
        for (i, line) in lines.enumerated() where confirmed[i] && bases[i] < sent[i] {
            logger.warning(
                "shared budgets: this host's lease had expired and was cut; its unused part is given up",
                metadata: ["budget": "\(line.name)", "cut_usd": "\((sent[i] - bases[i]).dollars)"])
            cuts += budgets.cutLeases(key: line.key, amount: sent[i] - bases[i])
        }
        if !cuts.isEmpty { onCut?(cuts) }
    }

    private func arguments(
        _ lines: [LeaseLine], bases: [MicroUSD], bounds: [MicroUSD?], want: MicroUSD, need: MicroUSD
    ) -> [String] {
        let ttl = config.leaseTTL.components
        let ttlMs = ttl.seconds * 1000 + ttl.attoseconds / 1_000_000_000_000_000
        var args = [
            config.hostID, "\(ttlMs)", "\(want.value)", "\(need.value)", "\(config.minChunk.value)",
            "\(redisClockOffsetMs())",
        ]
        let settled = budgets.settled(lines.map(\.key))
        let holdings = budgets.holdings(lines.map(\.key))
        let confirmed = state.withLock { s in lines.map { s.caps[$0.key] != nil } }
        for (i, line) in lines.enumerated() {
            args += [
                "\(line.limit.value)", line.hard ? "1" : "0", "\(bases[i].value)", "\(settled[i].value)",
                confirmed[i] ? "1" : "0", bounds[i].map { "\($0.value)" } ?? "-1", "\(holdings[i].value)",
                "\(Self.expiry(ofPeriodEnding: line.periodEnd))",
            ]
        }
        return args
    }

    private var nowMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// How long a budget period's hash stays in Redis after the period ends: long enough for a
    /// host that was down across the end to report its last spend for it.
    static let periodGrace: TimeInterval = 7 * 24 * 3600

    /// When a period's hash expires (Unix ms), or 0 for a budget without periods (kept).
    static func expiry(ofPeriodEnding end: Date?) -> Int64 {
        guard let end else { return 0 }
        return Int64((end.timeIntervalSince1970 + periodGrace) * 1000)
    }
}
