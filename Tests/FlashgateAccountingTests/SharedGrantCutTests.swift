import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateAccounting

/// Near a shared hard budget's limit. Redis grants less than a lease asked for: calls that had
/// reserved against that grant while it was in flight, more than it brought, reserve again
/// instead of being refused together, and the ones the money covers go ahead. And a grant asked
/// ahead of need no longer makes the budget look spent while it is in flight. Before, under load
/// (64 clients on 3 hosts) the last ~5 % of a budget could go unspent, every call refused.
@Suite(.serialized) struct SharedGrantCutTests {
    /// Host 1 spent 800k of a 1M budget. Host 0, which sees only its own spend, asks for a 250k
    /// grant (a quarter of what it takes for headroom) with six 30k calls admitted on it before
    /// Redis answers; Redis, with 200k left for two hosts, grants 50k. The six (180k) fit in what
    /// is left, and all six are charged; the limit is never passed.
    @Test func callsPiledOnACutGrantReserveAgainInsteadOfAllBeingRefused() async throws {
        let limit = MicroUSD(1_000_000)
        let cluster = try await Self.twoHosts(limit: limit, secondSpent: MicroUSD(800_000))
        let host = cluster.hosts[0]
        let shared = try #require(host.accountant.shared)
        let gate = DispatchSemaphore(value: 0)
        shared.client.onQueue { _ in gate.wait() }
        var admitted: [Accountant.Admission] = []
        for _ in 0..<6 {
            guard case .admit(let admission) = SharedGrantOrderTests.admit(host, 30_000) else {
                gate.signal()
                Issue.record("refused before Redis was asked")
                return await cluster.close()
            }
            admitted.append(admission)
        }
        gate.signal()
        let outcomes = await Self.together(
            admitted.map { admission in { await SharedCluster.complete(host, admission, amount: MicroUSD(30_000)) } })
        await shared.drain()
        let settled = cluster.settledPerHost().reduce(MicroUSD.zero, +)
        #expect(settled <= limit, "over by \((settled - limit).value) µ$")
        #expect(try cluster.redisCapSum() <= limit.value)
        #expect(outcomes.filter { $0 == .charged(MicroUSD(30_000)) }.count == 6, "\(outcomes)")
        #expect(settled == MicroUSD(980_000))
        await cluster.close()
    }

    /// A lease running low asks Redis for its next grant ahead of need (a hundred typical calls),
    /// and what it asks for counts as leased while the answer is on its way. Asked beyond this
    /// host's headroom (3M of a 1M budget), it made the budget look over its limit, and every
    /// call in that window was refused although the lease on disk covered it; now the ask is
    /// capped at the headroom and the call goes ahead on the lease.
    @Test func aCallIsNotRefusedWhileAPrefetchIsInFlight() async throws {
        let limit = MicroUSD(1_000_000)
        let cluster = try await SharedCluster(hosts: 1, limit: limit)
        let host = cluster.hosts[0]
        let shared = try #require(host.accountant.shared)
        #expect(await SharedCluster.call(host, amount: MicroUSD(30_000)) == .charged(MicroUSD(30_000)))
        await shared.drain()
        let gate = DispatchSemaphore(value: 0)
        shared.client.onQueue { _ in gate.wait() }
        // Drawn on the lease on disk; it leaves less than the prefetch margin, so the next grant
        // is asked for now and held in the queue.
        let second = SharedGrantOrderTests.admit(host, 30_000)
        let third = SharedGrantOrderTests.admit(host, 30_000)
        gate.signal()
        guard case .admit(let a) = second, case .admit(let b) = third else {
            Issue.record("refused with the lease on disk covering it: \(second), \(third)")
            return await cluster.close()
        }
        #expect(await SharedCluster.complete(host, a, amount: MicroUSD(30_000)) == .charged(MicroUSD(30_000)))
        #expect(await SharedCluster.complete(host, b, amount: MicroUSD(30_000)) == .charged(MicroUSD(30_000)))
        await shared.drain()
        #expect(try cluster.redisCapSum() <= limit.value)
        await cluster.close()
    }

    /// When Redis grants nothing (the budget is spent across hosts), the calls waiting on the
    /// grant are refused as before, and none loops.
    @Test func callsOnAGrantRedisRefusedAreRefused() async throws {
        let cluster = try await Self.twoHosts(limit: MicroUSD(50_000), secondSpent: MicroUSD(45_000))
        let host = cluster.hosts[0]
        let outcomes = await Self.together(
            (0..<4).map { _ in { await SharedCluster.call(host, amount: MicroUSD(30_000)) } })
        #expect(outcomes.allSatisfy { $0 == .refused(.budget) }, "\(outcomes)")
        let settled = cluster.settledPerHost().reduce(MicroUSD.zero, +)
        #expect(settled == MicroUSD(45_000))
        await cluster.close()
    }

    /// Two hosts of one hard budget, the second having spent `secondSpent` of it (reported to Redis).
    static func twoHosts(limit: MicroUSD, secondSpent: MicroUSD) async throws -> SharedCluster {
        let cluster = try await SharedCluster(hosts: 2, limit: limit)
        #expect(await SharedCluster.call(cluster.hosts[1], amount: secondSpent) == .charged(secondSpent))
        await cluster.hosts[1].accountant.shared?.drain()
        return cluster
    }

    /// Runs the calls concurrently; their outcomes in the order they finished.
    static func together(_ calls: [@Sendable () async -> SharedCluster.Outcome]) async -> [SharedCluster.Outcome] {
        await withTaskGroup(of: SharedCluster.Outcome.self) { group in
            for call in calls { group.addTask { await call() } }
            var all: [SharedCluster.Outcome] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
    }
}
