import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Foundation
import Testing

@testable import FlashgateAccounting

/// Two grants of one lease in flight at once, the first cut by Redis: calls waiting on it must not
/// go upstream on the strength of the second grant, which Redis may cut too. Through a real
/// `redis-server`, with the host's Redis queue held until both grants are asked for.
@Suite(.serialized) struct SharedGrantOrderTests {
    /// Host 1 holds 850k of a 1M budget. Host 0 holds a 100k lease (a call that took it and left).
    /// Then call A (200k) asks for the 100k it lacks (grant 1, need 100k) and call C (10k) for a
    /// new grant while grant 1 is in flight (grant 2: 112.5k asked, need 10k). Redis has 50k left
    /// for host 0: grant 1 gets nothing, grant 2 gets 12.5k. A's 200k is then covered by 112.5k,
    /// so A must be refused; before, it went upstream and was charged (cluster 1.05M of 1M)
    /// because grant 2, still in flight when grant 1 was cut, counted as cover.
    @Test func aCallIsNotCoveredByAnotherGrantStillInFlight() async throws {
        let limit = MicroUSD(1_000_000)
        let cluster = try await SharedCluster(hosts: 2, limit: limit) {
            $0.leaseCalls = 1
            $0.prefetchPercent = 0
        }
        let (host0, host1) = (cluster.hosts[0], cluster.hosts[1])
        #expect(await SharedCluster.call(host1, amount: MicroUSD(850_000)) == .charged(MicroUSD(850_000)))

        // Host 0 takes a 100k lease with a call that then leaves without spending.
        guard case .admit(var first) = Self.admit(host0, 100_000) else {
            Issue.record("the first call was refused")
            return await cluster.close()
        }
        try await host0.accountant.persist(&first)
        host0.accountant.release(first)
        #expect(host0.accountant.budgets.leaseTotals.amount == MicroUSD(100_000))

        // Both grants are asked for before Redis answers either.
        let shared = try #require(host0.accountant.shared)
        let waitsBefore = host0.ledger.leaseWaits
        let gate = DispatchSemaphore(value: 0)
        shared.client.onQueue { _ in gate.wait() }
        guard case .admit(let a) = Self.admit(host0, 200_000), case .admit(let c) = Self.admit(host0, 10_000) else {
            gate.signal()
            Issue.record("refused before Redis was asked")
            return await cluster.close()
        }
        gate.signal()
        async let outcomeA = SharedCluster.complete(host0, a, amount: MicroUSD(200_000))
        async let outcomeC = SharedCluster.complete(host0, c, amount: MicroUSD(10_000))
        let outcomes = await [outcomeA, outcomeC]
        await host0.accountant.shared?.drain()

        let settled = cluster.settledPerHost()
        let total = settled.reduce(MicroUSD.zero, +)
        #expect(total <= limit, "over by \((total - limit).value) µ$: \(outcomes)")
        let cap = try cluster.redisFields()["c:host-0"] ?? 0
        #expect(settled[0].value <= cap, "host 0 spent \(settled[0].value) µ$ with a cap of \(cap) in Redis")
        #expect(outcomes[0] == .refused(.budget), "A's 200k was not covered: \(outcomes[0])")
        // A waits for its own grant, C for A's and then asks again: at most one wait each, counted
        // when the grant was still unanswered as the call got to it (on a loaded machine Redis may
        // have answered both before either call did).
        #expect((0...2).contains(host0.ledger.leaseWaits - waitsBefore))
        await cluster.close()
    }

    static func admit(_ host: SharedCluster.Host, _ amount: Int64) -> Accountant.AdmissionDecision {
        host.accountant.admit(
            caller: SharedCluster.caller, clientModel: "m", upstreamModel: "m", route: "r", amount: MicroUSD(amount),
            tokens: 10)
    }
}
