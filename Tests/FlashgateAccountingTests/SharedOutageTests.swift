import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateAccounting

/// Redis going away and coming back, and a host dying with a lease: held leases keep serving,
/// then the outage policy holds (refuse, or a per-host share), every call returns, and service
/// recovers once Redis is back and the backoff (on the manual clock) has passed. A dead host's
/// lease stays counted as spent after it expires, until that host reconciles from its ledger.
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
            $0.leaseTTL = .milliseconds(300)
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
        #expect(await SharedCluster.call(cluster.hosts[0], amount: amount) == .refused(.budgetUnavailable))
        _ = await SharedCluster.call(cluster.hosts[1], amount: amount)
        #expect(cluster.hosts[0].accountant.shared?.client.currentStatus.reachable == true)
        let learnUntil = try cluster.redisFields()["learn"] ?? 0
        #expect(learnUntil > 0)
        while try SharedOutageTests.redisNowMs(cluster.redis) <= learnUntil { await Task.yield() }
        for host in cluster.hosts { #expect(await SharedCluster.call(host, amount: amount) == .charged(amount)) }
        let fields = try cluster.redisFields()
        for (i, spent) in settled.enumerated() {
            #expect((fields["c:host-\(i)"] ?? 0) >= spent.value, "host-\(i)'s spend was re-reported")
        }
        #expect(try cluster.redisCapSum() <= 1_000_000_000)
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

    /// A host that dies holding a lease: after its TTL the lease is no longer live but stays
    /// counted (burned), so the others keep serving and nothing is overspent; when the host comes
    /// back on the same ledger it reconciles, and its lease becomes settled spend.
    @Test func aDeadHostsLeaseIsBurnedUntilItReconciles() async throws {
        let limit = MicroUSD(50_000_000)
        let cluster = try await SharedCluster(hosts: 2, limit: limit) { $0.leaseTTL = .milliseconds(200) }
        let amount = MicroUSD(10_000)
        for host in cluster.hosts { #expect(await SharedCluster.call(host, amount: amount) == .charged(amount)) }
        let dead = cluster.hosts[1]
        await dead.accountant.shared?.drain()
        // Dies: no lease is handed back, no heartbeat; its ledger keeps the open lease.
        dead.accountant.stopLeaseSweeper()
        dead.ledger.close()
        let before = try cluster.redisFields()
        let held = (before["c:host-1"] ?? 0) - (before["s:host-1"] ?? 0)
        #expect(held > 0, "the dead host held a lease")
        // Wait, on Redis's own clock, for that lease to expire.
        let expiry = before["e:host-1"] ?? 0
        while try Self.redisNowMs(cluster.redis) <= expiry { await Task.yield() }

        // The survivor keeps serving; its script run sees the dead lease as burned.
        let (charged, _) = await SharedOutageTests.callUntilRefused(cluster.hosts[0], amount: amount, limit: 300)
        #expect(charged == 300)
        await cluster.hosts[0].accountant.shared?.drain()
        let key = cluster.hosts[0].accountant.budgets.all(now: cluster.hosts[0].accountant.now)[0].key
        let view = try #require(cluster.hosts[0].accountant.shared?.cluster(key))
        #expect(view.burned.value == held)
        #expect(try cluster.redisCapSum() <= limit.value)

        // Back on the same ledger and host id: recovery charges the open lease, reconciliation
        // tells Redis, and nothing is burned any more.
        let back = try cluster.start("host-1", limit: limit, directory: dead.directory)
        await back.accountant.shared?.drain()
        let after = try cluster.redisFields()
        #expect(after["c:host-1"] == after["s:host-1"])
        #expect(after["s:host-1"] == (before["c:host-1"] ?? 0), "its whole lease is settled spend")
        await back.accountant.shared?.drain()
        back.accountant.shared?.close()
        back.ledger.close()
        await cluster.close()
    }

    static func redisNowMs(_ redis: RedisServer) throws -> Int64 {
        guard case .array(let parts) = try redis.command(["TIME"]), parts.count == 2,
            let seconds = parts[0].integer, let micros = parts[1].integer
        else { return 0 }
        return seconds * 1000 + micros / 1000
    }
}
