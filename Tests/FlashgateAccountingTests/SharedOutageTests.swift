import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateAccounting

/// Redis going away and coming back, and a host dying with a lease: held leases keep serving,
/// then the outage policy holds (refuse, or a per-host share), every call returns, and service
/// recovers once Redis is back and the backoff (on the manual clock) has passed. A dead host's
/// lease returns after it expires, all but its bound on unreported spend, which stays counted
/// until that host reconciles from its ledger. Redis's clock moves only when a test moves it
/// (the lease script adds the test's offset to Redis's `TIME`).
@Suite(.serialized) struct SharedOutageTests {
    static func fast(_ shared: inout SharedConfig) {
        shared.reconnectMin = .milliseconds(100)
        shared.reconnectMax = .seconds(1)
    }

    /// Calls of `amount` on `host` until one is refused (at most `limit` calls).
    static func callUntilRefused(
        _ host: SharedCluster.Host, amount: MicroUSD, limit: Int = 10_000
    ) async -> (charged: Int, refusal: SharedCluster.Outcome?) {
        var charged = 0
        for _ in 0..<limit {
            let outcome = await SharedCluster.call(host, amount: amount)
            guard case .charged = outcome else { return (charged, outcome) }
            charged += 1
        }
        return (charged, nil)
    }

    @Test func aRedisOutageServesHeldLeasesThenRefusesAndRecovers() async throws {
        let cluster = try await SharedCluster(hosts: 2, limit: MicroUSD(1_000_000_000)) {
            Self.fast(&$0)
            // Leases of a few calls: what a host still holds when Redis is back is used up in a
            // few calls, inside the learning window (which ends when the test moves Redis's clock).
            $0.leaseCalls = 3
        }
        let amount = MicroUSD(10_000)
        for host in cluster.hosts { #expect(await SharedCluster.call(host, amount: amount) == .charged(amount)) }
        cluster.redis.stop()
        for host in cluster.hosts {
            let (charged, refusal) = await Self.callUntilRefused(host, amount: amount)
            #expect(charged > 0, "\(host.id) served from the lease it held")
            #expect(refusal == .refused(.budgetUnavailable), "\(host.id): \(String(describing: refusal))")
        }
        // Still down: refused at once, from the backoff, without touching Redis.
        #expect(await SharedCluster.call(cluster.hosts[0], amount: amount) == .refused(.budgetUnavailable))
        #expect(cluster.hosts[0].accountant.shared?.client.currentStatus.reachable == false)

        // Back, but empty (no persistence): it relearns what the hosts hold for one lease TTL
        // before it grants again, so no host's spend is forgotten.
        let settled = cluster.settledPerHost()
        try await cluster.redis.start()
        cluster.clock.advance(by: .seconds(2))
        // The first host to find its share gone starts the window on Redis's clock; its own call
        // falls inside it. (Whether the other's does depends on real time: not asserted.)
        // (What it still holds of its lease may serve first: its report is not a grant.)
        let (_, learning) = await Self.callUntilRefused(cluster.hosts[0], amount: amount, limit: 1_000)
        #expect(learning == .refused(.budgetUnavailable))
        _ = await SharedCluster.call(cluster.hosts[1], amount: amount)
        #expect(cluster.hosts[0].accountant.shared?.client.currentStatus.reachable == true)
        let learnUntil = try cluster.redisFields()["learn"] ?? 0
        #expect(learnUntil > 0)
        #expect(learnUntil > (try Self.redisNowMs(cluster)), "still learning")
        cluster.redisClock.advance(by: .seconds(31))  // past the learning window (lease_ttl, 30 s)
        for host in cluster.hosts { #expect(await SharedCluster.call(host, amount: amount) == .charged(amount)) }
        let fields = try cluster.redisFields()
        for (i, spent) in settled.enumerated() {
            #expect((fields["c:host-\(i)"] ?? 0) >= spent.value, "host-\(i)'s spend was re-reported")
        }
        #expect(try cluster.redisCapSum() <= 1_000_000_000)
        await cluster.close()
    }

    /// Redis answering the lease script with an error (here the script commands are forbidden to
    /// the user, as an ACL change or `-OOM` would) is an outage like a lost connection: counted,
    /// logged and shown unreachable in the status. It had been counted as a successful command,
    /// so health said reachable while every call was refused with nothing logged.
    @Test func anErrorReplyIsAnOutageTheStatusShows() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: MicroUSD(1_000_000_000)) { Self.fast(&$0) }
        let host = cluster.hosts[0]
        let amount = MicroUSD(10_000)
        #expect(await SharedCluster.call(host, amount: amount) == .charged(amount))
        _ = try cluster.redis.command(["ACL", "SETUSER", "default", "-eval", "-evalsha"])
        let (_, refusal) = await Self.callUntilRefused(host, amount: amount)
        #expect(refusal == .refused(.budgetUnavailable))
        let status = try #require(host.accountant.shared?.client.currentStatus)
        #expect(status.reachable == false)
        #expect(status.failures > 0)
        #expect(status.lastError?.contains("NOPERM") == true, "\(status.lastError ?? "")")
        _ = try cluster.redis.command(["ACL", "SETUSER", "default", "+eval", "+evalsha"])
        cluster.clock.advance(by: .seconds(2))
        #expect(await SharedCluster.call(host, amount: amount) == .charged(amount))
        #expect(host.accountant.shared?.client.currentStatus.reachable == true)
        await cluster.close()
    }

    /// `outage: local_share`: past its held leases a host spends up to its share of the limit on
    /// its own, then refuses — never the whole limit per host.
    @Test func theLocalShareBoundsWhatAHostSpendsAlone() async throws {
        let limit = MicroUSD(100_000_000)
        let cluster = try await SharedCluster(hosts: 1, limit: limit) {
            Self.fast(&$0)
            $0.outage = .localShare
            $0.localSharePercent = 10
        }
        let host = cluster.hosts[0]
        let amount = MicroUSD(10_000)
        #expect(await SharedCluster.call(host, amount: amount) == .charged(amount))
        cluster.redis.stop()
        let (_, refusal) = await Self.callUntilRefused(host, amount: amount)
        #expect(refusal == .refused(.budgetUnavailable))
        let spent = cluster.settledPerHost()[0]
        #expect(spent <= MicroUSD(limit.value / 10), "spent \(spent.value) µ$ alone, over its 10 % share")
        #expect(spent > MicroUSD(limit.value / 20), "the share was used: \(spent.value) µ$")
        #expect(host.accountant.shared?.outageGrants ?? 0 > 0)
        await cluster.close()
    }

    /// A host that dies holding a lease, with settled spend Redis never heard of: after the lease
    /// expires, the next script run (by the survivor) cuts it down to the dead host's bound on
    /// unreported spend, so the survivor can spend the rest of the lease while the dead host's
    /// true spend stays counted and settled + leased never passes the limit. When the dead host
    /// comes back on the same ledger it reconciles: nothing stays burned.
    @Test func aDeadHostsLeaseReturnsAfterExpiryButItsUnreportedSpendStaysCounted() async throws {
        let limit = MicroUSD(50_000_000)
        let cluster = try await SharedCluster(hosts: 2, limit: limit)
        let amount = MicroUSD(10_000)
        for host in cluster.hosts { #expect(await SharedCluster.call(host, amount: amount) == .charged(amount)) }
        let dead = cluster.hosts[1]
        await dead.accountant.shared?.drain()
        let key = dead.accountant.budgets.all(now: dead.accountant.now)[0].key
        // Spend within its bound, which needs no word to Redis.
        for _ in 0..<5 {
            let bound = try #require(dead.accountant.budgets.unreportedBound(key))
            guard dead.accountant.budgets.settled([key])[0] + amount <= bound else { break }
            #expect(await SharedCluster.call(dead, amount: amount) == .charged(amount))
        }
        await dead.accountant.shared?.drain()
        // Dies: no lease is handed back, no heartbeat; its ledger keeps the open lease.
        dead.accountant.stopLeaseSweeper()
        let deadSpent = dead.accountant.budgets.settled([key])[0].value
        dead.ledger.close()
        let before = try cluster.redisFields()
        #expect(deadSpent > (before["s:host-1"] ?? 0), "the dead host had settled spend it never reported")
        let bound = try #require(before["t:host-1"])
        #expect(deadSpent <= bound, "its spend is within the bound Redis holds for it")
        #expect((before["c:host-1"] ?? 0) > bound, "its lease holds more than its bound")
        // Its lease expires: the test moves Redis's clock past it (the survivor's lease expires
        // too, but the survivor renews its own with every call).
        let expiry = before["e:host-1"] ?? 0
        cluster.redisClock.advance(by: .seconds(31))
        #expect(try Self.redisNowMs(cluster) > expiry)

        // The survivor keeps serving, to the end of the budget, with what the cut returned.
        let survivor = cluster.hosts[0]
        let (charged, refusal) = await Self.callUntilRefused(survivor, amount: amount)
        #expect(refusal == .refused(.budget))
        await survivor.accountant.shared?.drain()
        let after = try cluster.redisFields()
        #expect(after["c:host-1"] == bound, "the dead host's cap was cut to its bound")
        #expect(after["x:host-1"] == bound)
        let survivorSpent = cluster.settledPerHost()[0].value
        #expect(charged > 0 && survivorSpent > limit.value - (before["c:host-1"] ?? 0), "the returned lease was spent")
        #expect(survivorSpent + deadSpent <= limit.value, "overspent by \(survivorSpent + deadSpent - limit.value) µ$")
        #expect(try cluster.redisCapSum() <= limit.value)
        let view = try #require(survivor.accountant.shared?.cluster(key))
        #expect(view.burned.value == bound - (after["s:host-1"] ?? 0), "only its bound stays burned")

        // Back on the same ledger and host id: recovery charges the open lease, reconciliation
        // caps that at its bound (it cannot have spent more), and nothing is burned any more.
        let back = try cluster.start("host-1", limit: limit, directory: dead.directory)
        await back.accountant.shared?.drain()
        let reconciled = try cluster.redisFields()
        #expect(reconciled["c:host-1"] == reconciled["s:host-1"], "nothing burned")
        #expect((reconciled["c:host-1"] ?? 0) >= deadSpent, "its true spend stays counted")
        #expect((reconciled["c:host-1"] ?? 0) <= bound)
        #expect(reconciled["x:host-1"] == nil)
        #expect(try cluster.redisCapSum() <= limit.value)
        await back.accountant.shared?.drain()
        back.accountant.shared?.close()
        back.ledger.close()
        await cluster.close()
    }

    /// A host that goes silent (no heartbeat: its clock stands still) while alive: once its
    /// lease expired and the other host's script cut it, its next call learns its new cap and
    /// gives up the unused rest of its lease, in its ledger too; it never holds more than Redis
    /// counts for it, and the cluster stays within the limit.
    @Test func aSilentHostWhoseLeaseWasCutGivesUpTheRest() async throws {
        let limit = MicroUSD(50_000_000)
        let cluster = try await SharedCluster(hosts: 2, limit: limit)
        let amount = MicroUSD(10_000)
        for host in cluster.hosts { #expect(await SharedCluster.call(host, amount: amount) == .charged(amount)) }
        let silent = cluster.hosts[1]
        await silent.accountant.shared?.drain()
        let before = try cluster.redisFields()
        cluster.redisClock.advance(by: .seconds(31))
        #expect(try Self.redisNowMs(cluster) > (before["e:host-1"] ?? 0))
        // The other host's next script run (its heartbeat) cuts the expired lease.
        cluster.hosts[0].accountant.shared?.heartbeat()
        await cluster.hosts[0].accountant.shared?.drain()
        let bound = try #require(before["t:host-1"])
        #expect(try cluster.redisFields()["c:host-1"] == bound, "cut to its bound")

        let key = silent.accountant.budgets.all(now: silent.accountant.now)[0].key
        let leasedBefore = silent.accountant.budgets.leasedByKey[key] ?? .zero
        // Its next word to Redis (a heartbeat) learns the cut; the returns go to its ledger.
        silent.accountant.shared?.heartbeat()
        await silent.accountant.shared?.drain()
        // The ledger's writer makes the returns durable on its own thread.
        var leasedAfter = silent.accountant.budgets.leasedByKey[key] ?? .zero
        for _ in 0..<1_000_000 where leasedAfter == leasedBefore {
            await Task.yield()
            leasedAfter = silent.accountant.budgets.leasedByKey[key] ?? .zero
        }
        #expect(leasedAfter < leasedBefore, "it gave up the unused part of its lease")
        let fields = try cluster.redisFields()
        let holds = silent.accountant.budgets.settled([key])[0] + leasedAfter
        #expect(holds.value <= (fields["c:host-1"] ?? 0), "it holds no more than Redis counts for it")
        // The cut stays marked until a call of the host shows it took it in (an answer can be lost).
        #expect(fields["x:host-1"] == bound)
        silent.accountant.shared?.heartbeat()
        await silent.accountant.shared?.drain()
        #expect(try cluster.redisFields()["x:host-1"] == nil, "the cut is acknowledged")
        #expect(await SharedCluster.call(silent, amount: amount) == .charged(amount), "and serves on")
        #expect(try cluster.redisCapSum() <= limit.value)
        await cluster.close()
    }

    /// A cut below what a live host holds in settled and reserved spend (as after spending on its
    /// own under `local_share` while Redis was away and its lease expired) counts that host at
    /// what it holds, not at the cut.
    @Test func aCutNeverCountsALiveHostBelowWhatItHolds() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: MicroUSD(50_000_000))
        let host = cluster.hosts[0]
        for _ in 0..<5 {
            #expect(await SharedCluster.call(host, amount: MicroUSD(10_000)) == .charged(MicroUSD(10_000)))
        }
        await host.accountant.shared?.drain()
        let key = host.accountant.budgets.all(now: host.accountant.now)[0].key
        let spent = host.accountant.budgets.settled([key])[0].value
        try cluster.redis.command(["HSET", "flashgate:budget:{\(key)}", "c:host-0", "1", "x:host-0", "1"])
        host.accountant.shared?.heartbeat()
        await host.accountant.shared?.drain()
        let fields = try cluster.redisFields()
        #expect((fields["c:host-0"] ?? 0) >= spent, "counted at \(fields["c:host-0"] ?? 0) µ$ of its \(spent) µ$")
        await cluster.close()
    }

    /// At every step a host's settled spend stays within the bound Redis holds for it (`t:`), so
    /// whatever it dies having spent stays counted after its lease is cut.
    @Test func aHostsSpendNeverPassesTheBoundRedisHoldsForIt() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: MicroUSD(1_000_000_000))
        let host = cluster.hosts[0]
        var random = SeededRandom(seed: 3)
        for _ in 0..<300 {
            let amount = MicroUSD(Int64.random(in: 1_000...60_000, using: &random))
            #expect(await SharedCluster.call(host, amount: amount) == .charged(amount))
            let bound = try cluster.redisFields()["t:host-0"] ?? 0
            let spent = cluster.settledPerHost()[0].value
            #expect(spent <= bound, "spent \(spent) µ$, bound \(bound) µ$")
            if spent > bound { break }
        }
        await cluster.close()
    }

    /// Redis's clock as the hosts' lease scripts see it: its `TIME` plus what the test moved it.
    static func redisNowMs(_ cluster: SharedCluster) throws -> Int64 {
        guard case .array(let parts) = try cluster.redis.command(["TIME"]), parts.count == 2,
            let seconds = parts[0].integer, let micros = parts[1].integer
        else { return 0 }
        return seconds * 1000 + micros / 1000 + cluster.redisClock.offset
    }
}
