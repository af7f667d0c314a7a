import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Foundation
import Synchronization
import Testing

@testable import FlashgateAccounting

/// Budgets shared across hosts through a real `redis-server`: three in-process hosts, each with
/// its own real LMDB ledger, lease chunks of one hard budget from one Redis. Amounts are seeded
/// random; nothing sleeps (heartbeats and backoff run on a manual clock).
@Suite(.serialized) struct SharedBudgetsTests {
    /// Runs `clients` concurrent callers spread over the hosts; each keeps calling with seeded
    /// random amounts until `calls` are done or ten refusals come in a row.
    static func load(
        _ cluster: SharedCluster, clients: Int = 64, calls: Int, amounts: ClosedRange<Int64>, seed: UInt64
    ) async -> [SharedCluster.Outcome] {
        await withTaskGroup(of: [SharedCluster.Outcome].self) { group in
            for client in 0..<clients {
                let host = cluster.hosts[client % cluster.hosts.count]
                group.addTask {
                    var random = SeededRandom(seed: seed &+ UInt64(client))
                    var outcomes: [SharedCluster.Outcome] = []
                    var refusedInARow = 0
                    while outcomes.count < calls && refusedInARow < 10 {
                        let amount = MicroUSD(Int64.random(in: amounts, using: &random))
                        let outcome = await SharedCluster.call(host, amount: amount)
                        outcomes.append(outcome)
                        if case .refused = outcome { refusedInARow += 1 } else { refusedInARow = 0 }
                    }
                    return outcomes
                }
            }
            var all: [SharedCluster.Outcome] = []
            for await outcomes in group { all += outcomes }
            return all
        }
    }

    static func charged(_ outcomes: [SharedCluster.Outcome]) -> Int64 {
        outcomes.reduce(0) { sum, outcome in
            if case .charged(let amount) = outcome { return sum + amount.value }
            return sum
        }
    }

    /// 3 hosts, 64 clients, random sizes, one hard budget: the cluster's settled spend never
    /// passes the limit (0 µ$ over), Redis never escrows more than the limit, every host spent a
    /// share, and the tail is not stranded.
    @Test func threeHostsNeverSpendMoreThanTheHardLimit() async throws {
        let limit = MicroUSD(5_000_000)
        let cluster = try await SharedCluster(hosts: 3, limit: limit)
        var outcomes = await Self.load(cluster, calls: 10_000, amounts: 1_000...60_000, seed: 7)
        await withTaskGroup(of: Void.self) { group in
            for host in cluster.hosts { group.addTask { await host.accountant.shared?.drain() } }
        }
        // On a machine loaded enough to run one host's clients long before another's, a host's
        // clients can give up (ten refusals in a row) while another host holds the tail in its
        // leases (once in a full `swift test`: 3.35 of 5 dollars spent). In service the sweeper
        // hands idle leases back after `ledger.lease_idle`; here the test does, and the clients
        // come back, until the tail is spent or a round adds nothing.
        for round in 1...3 where cluster.settledPerHost().reduce(MicroUSD.zero, +).value < limit.value * 8 / 10 {
            let more = try await Self.handBackAndLoadAgain(cluster, seed: 7 &* 10 &+ UInt64(round))
            outcomes += more
            if Self.charged(more) == 0 { break }
        }
        let perHost = cluster.settledPerHost()
        let settled = perHost.reduce(MicroUSD.zero, +)
        #expect(settled <= limit, "over by \((settled - limit).value) µ$")
        #expect(settled.value == Self.charged(outcomes), "every charged call is in some host's settled spend")
        #expect(try cluster.redisCapSum() <= limit.value, "Redis escrowed more than the limit")
        for (i, spent) in perHost.enumerated() {
            #expect(spent.value >= limit.value / 10, "host \(i) spent only \(spent.value) µ$ of \(limit.value)")
        }
        // What stays unspent is what hosts still hold in leases too small for their callers' next
        // calls when those give up: bounded by chunks that shrank near the limit.
        #expect(settled.value >= limit.value * 8 / 10, "the tail was stranded: \(settled.value) µ$ spent")
        #expect(!outcomes.contains(.refused(.budgetUnavailable)), "Redis was up the whole time")
        await cluster.close()
    }

    /// Idle leases handed back (as the sweeper does after `ledger.lease_idle`) and the clients
    /// back again, at least four times: the budget's tail is spent and never passed. Before, a call
    /// whose lease had two grants in flight went upstream when the first was cut, counting the
    /// second as cover, and Redis cut that too: 5.29 of 5 dollars spent. Later, about one case in
    /// forty ended between 93.6 % and 96.5 % with every later round refused on the budget: a grant
    /// asked ahead of need counted 3M of a 5M budget as leased while in flight, so the budget
    /// looked spent, and calls piled on a grant Redis cut were all refused together
    /// (`SharedGrantCutTests`). With both fixed, 800 runs of this scenario (400 of them next to two
    /// CPU-bound loops) all ended between 99.2 % and 100 %; the check is 98 %.
    @Test(arguments: [7, 8, 9, 10, 11] as [UInt64])
    func leasesHandedBackAndLoadAgainNeverPassTheLimit(seed: UInt64) async throws {
        let limit = MicroUSD(5_000_000)
        let cluster = try await SharedCluster(hosts: 3, limit: limit)
        var charged = Self.charged(await Self.load(cluster, calls: 10_000, amounts: 1_000...60_000, seed: seed))
        for round in 1...12 {
            let settledBefore = cluster.settledPerHost().reduce(MicroUSD.zero, +).value
            if round > 4 && settledBefore >= limit.value * 98 / 100 { break }
            let more = Self.charged(try await Self.handBackAndLoadAgain(cluster, seed: seed &* 10 &+ UInt64(round)))
            charged += more
            if round >= 4 && more == 0 { break }
        }
        let settled = cluster.settledPerHost().reduce(MicroUSD.zero, +)
        #expect(settled <= limit, "over by \((settled - limit).value) µ$")
        #expect(settled.value == charged, "every charged call is in some host's settled spend")
        #expect(try cluster.redisCapSum() <= limit.value, "Redis escrowed more than the limit")
        #expect(settled.value >= limit.value * 98 / 100, "the tail was stranded: \(settled.value) µ$ spent")
        await cluster.close()
    }

    /// Every host hands back its idle leases, then 64 clients call again (1 000 calls at most).
    static func handBackAndLoadAgain(_ cluster: SharedCluster, seed: UInt64) async throws -> [SharedCluster.Outcome] {
        for host in cluster.hosts {
            host.accountant.returnIdleLeases(now: host.accountant.now.addingTimeInterval(3_600))
            await host.accountant.shared?.drain()
        }
        let outcomes = await load(cluster, calls: 1_000, amounts: 1_000...60_000, seed: seed)
        for host in cluster.hosts { await host.accountant.shared?.drain() }
        return outcomes
    }

    /// At steady load, Redis sees about one round trip (a lease script) per hundred calls: at most
    /// 0.02 client commands per call, counted by Redis itself (`INFO commandstats`) — budget
    /// leases and the team's RPM and TPM chunks together.
    /// A reload that lowers a shared hard limit: every host hands back what its leases hold
    /// unused, so what it spends next is granted by Redis against the new limit. Each host had
    /// kept spending the leases granted under the old one (its own check saw only its own
    /// spend): two hosts spent 1.92 times a limit lowered from $0.10 to $0.02.
    /// Returns once `host`'s queued ledger writes and Redis commands are done.
    static func quiesce(_ host: SharedCluster.Host) async {
        await host.ledger.flushCounters()
        await host.accountant.shared?.drain()
    }

    @Test func aLoweredLimitHoldsAcrossHostsAfterAReload() async throws {
        var cluster = try await SharedCluster(hosts: 2, limit: MicroUSD(100_000))
        let amount = MicroUSD(1_000)
        for host in cluster.hosts {
            for _ in 0..<3 { #expect(await SharedCluster.call(host, amount: amount) == .charged(amount)) }
        }
        let lowered = MicroUSD(20_000)
        for i in cluster.hosts.indices {
            let config = SharedCluster.config(redis: cluster.redis, host: cluster.hosts[i].id, limit: lowered)
            cluster.hosts[i].accountant = cluster.hosts[i].accountant.reloaded(config: config)
            await Self.quiesce(cluster.hosts[i])
        }
        // A host is done after three refusals in a row (the first may only hand back a lease).
        var refusals = Array(repeating: 0, count: cluster.hosts.count)
        var open = Set(cluster.hosts.indices)
        var calls = 0
        while !open.isEmpty, calls < 1_000 {
            for i in open.sorted() {
                calls += 1
                if case .refused = await SharedCluster.call(cluster.hosts[i], amount: amount) {
                    // What the refusal handed back reaches the ledger and Redis before the next call.
                    await Self.quiesce(cluster.hosts[i])
                    refusals[i] += 1
                    if refusals[i] == 3 { open.remove(i) }
                } else {
                    refusals[i] = 0
                }
            }
        }
        #expect(open.isEmpty)
        let spent = cluster.settledPerHost().reduce(MicroUSD.zero, +)
        #expect(spent <= lowered, "\(spent.dollars) spent against a limit of \(lowered.dollars)")
        #expect(spent >= lowered - amount.times(2), "the hosts still spent up to the new limit")
        await cluster.close()
    }

    @Test func steadyLoadTakesAtMostOneRedisRoundTripPerFiftyCalls() async throws {
        let cluster = try await SharedCluster(hosts: 3, limit: MicroUSD(1_000_000_000_000)) { _ in
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 10_000_000, tokensPerMinute: 1_000_000_000, concurrent: 1_000)
        }
        _ = await Self.load(cluster, calls: 10, amounts: 1_000...60_000, seed: 1)
        try cluster.redis.command(["CONFIG", "RESETSTAT"])
        let outcomes = await Self.load(cluster, calls: 60, amounts: 1_000...60_000, seed: 2)
        let stats = try cluster.redis.commandCalls()
        // Only what a host sends counts: the script's own HGETALL/HSET/TIME are inside one trip.
        let trips = ["evalsha", "eval", "ping", "auth", "select"].reduce(0) { $0 + (stats[$1] ?? 0) }
        let ratio = Double(trips) / Double(outcomes.count)
        #expect(outcomes.allSatisfy { if case .charged = $0 { true } else { false } })
        #expect(ratio <= 0.02, "\(trips) Redis round trips for \(outcomes.count) calls: \(ratio) per call")
        #expect(trips > 0, "leases were fetched from Redis")
        let rateKeys = try cluster.redis.command(["KEYS", "flashgate:rate:*"]).array?.count ?? 0
        #expect(rateKeys == 2, "the team's RPM and TPM windows were leased from Redis")
        print("shared steady load: \(trips) Redis round trips for \(outcomes.count) calls = \(ratio) per call")
        await cluster.close()
    }

    /// A budget period's hash leaves Redis a week after the period ends, so a year of daily or
    /// monthly periods does not pile up; it is set on every call, the first one included.
    @Test func aPeriodsHashExpiresAWeekAfterThePeriodEnds() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: MicroUSD(1_000_000))
        #expect(await SharedCluster.call(cluster.hosts[0], amount: MicroUSD(10_000)) == .charged(MicroUSD(10_000)))
        let host = cluster.hosts[0].accountant
        let status = host.budgets.all(now: host.now)[0]
        let end = try #require(status.periodEnd)
        let expireAt = try cluster.redis.command(["PEXPIRETIME", "flashgate:budget:{\(status.key)}"]).integer
        #expect(expireAt == Int64((end.timeIntervalSince1970 + 7 * 24 * 3600) * 1000))
        #expect(SharedBudgets.expiry(ofPeriodEnding: nil) == 0, "a budget without periods is kept")
        await cluster.close()
    }

    /// After `SCRIPT FLUSH` (as after a Redis restart or failover) `EVALSHA` answers NOSCRIPT and
    /// the host falls back to `EVAL` instead of losing the grant.
    @Test func aFlushedScriptCacheFallsBackToEval() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: MicroUSD(1_000_000))
        #expect(await SharedCluster.call(cluster.hosts[0], amount: MicroUSD(10_000)) == .charged(MicroUSD(10_000)))
        try cluster.redis.command(["SCRIPT", "FLUSH"])
        try cluster.redis.command(["CONFIG", "RESETSTAT"])
        // Larger than any lease held: this call needs a new grant now.
        #expect(await SharedCluster.call(cluster.hosts[0], amount: MicroUSD(900_000)) == .charged(MicroUSD(900_000)))
        let stats = try cluster.redis.commandCalls()
        #expect(stats["eval"] == 1)
        #expect(stats["evalsha"] == 1)
        await cluster.close()
    }
}
