import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import FlashgateWire
import Foundation
import Testing

@testable import FlashgateAccounting

/// Rate limits across hosts through a real `redis-server`: RPM and TPM are leased per window in
/// chunks sized by each host's demand, so a busy host may use most of a window while the
/// cluster's total per window never passes the limit. The window is a minute of the hosts' wall
/// clock, which only the test moves; nothing sleeps.
@Suite(.serialized) struct SharedRateLimitTests {
    static let budget = MicroUSD(1_000_000_000_000)
    static let amount = MicroUSD(1_000)

    /// Calls on `host` (by `clients` concurrent callers) until each caller is refused, or
    /// `calls` are done in all; the outcomes.
    static func calls(
        _ host: SharedCluster.Host, _ calls: Int, clients: Int = 1, tokens: Int = 10
    ) async -> [SharedCluster.Outcome] {
        await withTaskGroup(of: [SharedCluster.Outcome].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var outcomes: [SharedCluster.Outcome] = []
                    for _ in stride(from: client, to: calls, by: clients) {
                        let outcome = await SharedCluster.call(host, amount: amount, tokens: tokens)
                        outcomes.append(outcome)
                        if case .refused = outcome { break }
                    }
                    return outcomes
                }
            }
            var all: [SharedCluster.Outcome] = []
            for await outcomes in group { all += outcomes }
            return all
        }
    }

    static func admitted(_ outcomes: [SharedCluster.Outcome]) -> Int {
        outcomes.filter { if case .charged = $0 { true } else { false } }.count
    }

    /// Σ of every host's chunk of one bucket's window in Redis.
    static func redisGranted(_ cluster: SharedCluster, bucket: String) throws -> Int64 {
        let window = cluster.wall.now / RateLeases.windowMs
        guard case .array(let items) = try cluster.redis.command(["HGETALL", "flashgate:rate:{\(bucket)}:\(window)"])
        else { return 0 }
        return stride(from: 1, to: items.count, by: 2).compactMap { items[$0].integer }.reduce(0, +)
    }

    /// Three hosts, a team RPM of 300, uneven demand: two light hosts take what they need, the
    /// busy one gets the rest of the window — far more than a third — and the three together
    /// never pass 300 in the window (nor does Redis grant more). The next window starts afresh.
    @Test func aBusyHostUsesMoreThanAThirdOfTheRequestsPerMinuteAndTheClusterNeverPassesIt() async throws {
        let cluster = try await SharedCluster(hosts: 3, limit: Self.budget) { _ in
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 300)
        }
        let light = [
            Self.admitted(await Self.calls(cluster.hosts[1], 30)),
            Self.admitted(await Self.calls(cluster.hosts[2], 10)),
        ]
        #expect(light == [30, 10], "the light hosts got what they asked for")
        let busy = Self.admitted(await Self.calls(cluster.hosts[0], 1_000, clients: 16))
        let total = busy + light.reduce(0, +)
        #expect(total <= 300, "the cluster admitted \(total) in one window")
        #expect(busy > 100, "the busy host admitted only \(busy) of 300")
        // Only what the light hosts hold unused stays stranded: chunks sized by their demand.
        #expect(total >= 250, "the tail was stranded: \(total) admitted")
        #expect(try Self.redisGranted(cluster, bucket: "team:search:rpm") <= 300)
        // A chunk asked for ahead of need may land after the last client was refused: later
        // calls take what is left, then are refused, and the cluster still never passes 300.
        var extra = 0
        var after = await SharedCluster.call(cluster.hosts[0], amount: Self.amount)
        while after != .refused(.rateLimit), extra < 300 {
            if case .charged = after { extra += 1 }
            after = await SharedCluster.call(cluster.hosts[0], amount: Self.amount)
        }
        #expect(after == .refused(.rateLimit), "the window is spent: \(after)")
        #expect(total + extra <= 300, "the cluster admitted \(total) + \(extra) in one window")
        #expect(try Self.redisGranted(cluster, bucket: "team:search:rpm") <= 300)
        // The window's hash lapses on Redis's clock, two windows after its last grant.
        let window = cluster.wall.now / RateLeases.windowMs
        let ttl = try cluster.redis.command(["PTTL", "flashgate:rate:{team:search:rpm}:\(window)"]).integer ?? -1
        #expect(ttl > 0 && ttl <= 2 * RateLeases.windowMs)

        // The next minute is a new window: unused chunks lapsed, the limit is there again.
        cluster.wall.advance(byMs: RateLeases.windowMs)
        let next = Self.admitted(await Self.calls(cluster.hosts[0], 1_000, clients: 16))
        #expect(next > 100 && next <= 300, "\(next) admitted in the next window")
        #expect(try Self.redisGranted(cluster, bucket: "team:search:rpm") <= 300)
        await cluster.close()
    }

    /// The same for tokens: a TPM of 30 000 with calls of 100 tokens (their estimate stands when
    /// the call ends without usage).
    @Test func aBusyHostUsesMoreThanAThirdOfTheTokensPerMinuteAndTheClusterNeverPassesIt() async throws {
        let cluster = try await SharedCluster(hosts: 3, limit: Self.budget) { _ in
        } teams: {
            $0.limits = RateLimits(tokensPerMinute: 30_000)
        }
        let light = [
            Self.admitted(await Self.calls(cluster.hosts[1], 30, tokens: 100)),
            Self.admitted(await Self.calls(cluster.hosts[2], 10, tokens: 100)),
        ]
        #expect(light == [30, 10])
        let busy = Self.admitted(await Self.calls(cluster.hosts[0], 1_000, clients: 16, tokens: 100))
        let tokens = (busy + light.reduce(0, +)) * 100
        #expect(tokens <= 30_000, "the cluster admitted \(tokens) tokens in one window")
        #expect(busy * 100 > 10_000, "the busy host admitted only \(busy * 100) tokens of 30 000")
        #expect(tokens >= 25_000, "the tail was stranded: \(tokens) tokens admitted")
        #expect(try Self.redisGranted(cluster, bucket: "team:search:tpm") <= 30_000)
        await cluster.close()
    }

    /// A call waiting for a grant is not refused while the window has room, however many grant
    /// rounds other waiters win first. Twenty calls queue behind one grant; chunks are two calls
    /// and none is asked ahead, so each round serves two and the last waiters need ten rounds.
    /// All twenty are served (a call that lost eight rounds in a row was refused with a 429), and
    /// the host holds no more of the window than it took.
    @Test func waitersAreServedWhileTheWindowHasRoomHoweverManyRoundsTheyLose() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: Self.budget) {
            $0.leaseCalls = 1
            $0.prefetchPercent = 0
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 100)
        }
        let host = cluster.hosts[0]
        let shared = try #require(host.accountant.shared)
        // The Redis queue is held until all twenty wait for the same first grant.
        let gate = DispatchSemaphore(value: 0)
        shared.client.onQueue { _ in gate.wait() }
        var admissions: [Accountant.Admission] = []
        for _ in 0..<20 {
            let decision = host.accountant.admit(
                caller: SharedCluster.caller, clientModel: "m", upstreamModel: "m", route: "r", amount: Self.amount,
                tokens: 10)
            guard case .admit(let admission) = decision else {
                Issue.record("refused before any grant was asked for: \(decision)")
                gate.signal()
                await cluster.close()
                return
            }
            admissions.append(admission)
        }
        gate.signal()
        let outcomes = await withTaskGroup(of: SharedCluster.Outcome.self) { group in
            for admission in admissions {
                group.addTask { await SharedCluster.complete(host, admission, amount: Self.amount) }
            }
            var all: [SharedCluster.Outcome] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let refused = outcomes.filter { $0 != .charged(Self.amount) }
        #expect(refused.isEmpty, "\(refused.count) of 20 refused with room in the window: \(refused)")
        #expect(shared.rates.holding("team:search:rpm")?.taken == 20)
        #expect(try Self.redisGranted(cluster, bucket: "team:search:rpm") <= 22)
        await cluster.close()
    }

    /// Two hosts, an RPM of 10 and a manual clock that stands still: exactly 10 across both.
    @Test func aSmallLimitIsSharedToTheLastRequest() async throws {
        let cluster = try await SharedCluster(hosts: 2, limit: Self.budget) { _ in
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 10)
        }
        var admitted = 0
        for _ in 0..<20 {
            for host in cluster.hosts {
                if case .charged = await SharedCluster.call(host, amount: Self.amount) { admitted += 1 }
            }
        }
        #expect(admitted == 10)
        await cluster.close()
    }

    /// A call's TPM is its estimate until it settles with usage, then the tokens it used; the
    /// headers speak of the leased limit.
    @Test func aSettledCallsTokensReplaceItsEstimate() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: Self.budget) { _ in
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 300, tokensPerMinute: 10_000)
        }
        let host = cluster.hosts[0]
        let decision = host.accountant.admit(
            caller: SharedCluster.caller, clientModel: "m", upstreamModel: "m", route: "r", amount: Self.amount,
            tokens: 100)
        guard case .admit(var admission) = decision else {
            Issue.record("refused")
            return
        }
        try await host.accountant.persist(&admission)
        #expect(host.accountant.shared?.rates.holding("team:search:tpm")?.taken == 100)
        let headers = Dictionary(host.accountant.headers(admission), uniquingKeysWith: { a, _ in a })
        #expect(headers["x-ratelimit-limit-requests"] == "300" && headers["x-ratelimit-limit-tokens"] == "10000")
        var usage = TokenUsage()
        usage.promptTokens = 30
        usage.candidatesTokens = 12
        await host.accountant.settle(admission, usage: usage, ending: .ok, cacheStatus: "miss")
        #expect(host.accountant.shared?.rates.holding("team:search:tpm")?.taken == 42)
        await cluster.close()
    }

    /// A free token count never waits for a chunk: with none held it is refused for a second
    /// while the chunk is fetched, and admitted once it is there.
    @Test func aTokenCountIsRefusedForASecondWhileItsChunkIsFetched() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: Self.budget) { _ in
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 300)
        }
        let host = cluster.hosts[0]
        func count() -> Accountant.AdmissionDecision {
            host.accountant.admitFree(caller: SharedCluster.caller, clientModel: "m", upstreamModel: "m", route: "r")
        }
        guard case .reject(let rejection) = count() else {
            Issue.record("admitted without a chunk")
            return
        }
        #expect(rejection.limit == .rateLimit && rejection.retryAfter == .seconds(1))
        await host.accountant.shared?.drain()
        guard case .admit = count() else {
            Issue.record("refused with a chunk held")
            return
        }
        await cluster.close()
    }

    /// Concurrency stays a per-host share: two live hosts and a team limit of 4 in flight give
    /// each host 2.
    @Test func concurrencyIsAnEqualShareOfTheLiveHosts() async throws {
        let cluster = try await SharedCluster(hosts: 2, limit: Self.budget) { _ in
        } teams: {
            $0.limits = RateLimits(concurrent: 4)
        }
        for host in cluster.hosts { await host.accountant.shared?.drain() }
        for host in cluster.hosts { host.accountant.shared?.heartbeat() }
        for host in cluster.hosts { await host.accountant.shared?.drain() }
        #expect(cluster.hosts.map { $0.accountant.shared?.hosts } == [2, 2])
        let host = cluster.hosts[0]
        var held: [Accountant.Admission] = []
        for _ in 0..<3 {
            let decision = host.accountant.admit(
                caller: SharedCluster.caller, clientModel: "m", upstreamModel: "m", route: "r", amount: Self.amount,
                tokens: 10)
            if case .admit(let admission) = decision { held.append(admission) }
        }
        #expect(held.count == 2)
        for admission in held { host.accountant.release(admission) }
        await cluster.close()
    }

    /// `outage: refuse`: while Redis is away a host serves from the chunk it holds for the window,
    /// then refuses with 503 `budget_unavailable`.
    @Test func aRedisOutageServesTheHeldChunkThenRefuses() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: Self.budget) {
            SharedOutageTests.fast(&$0)
            // Room for a hundred calls of unreported spend: the rate chunk runs out first.
            $0.minChunk = MicroUSD(100_000)
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 1_000)
        }
        let host = cluster.hosts[0]
        #expect(await SharedCluster.call(host, amount: Self.amount) == .charged(Self.amount))
        await host.accountant.shared?.drain()
        let holding = try #require(host.accountant.shared?.rates.holding("team:search:rpm"))
        cluster.redis.stop()
        let (charged, refusal) = await SharedOutageTests.callUntilRefused(host, amount: Self.amount)
        #expect(Int64(charged) == holding.granted - holding.taken, "served exactly the held chunk")
        #expect(refusal == .refused(.budgetUnavailable))
        await cluster.close()
    }

    /// `outage: local_share`: past the held chunk a host admits up to its share of the limit per
    /// window on its own, then refuses.
    @Test func aRedisOutageUnderLocalShareAdmitsTheShareOfTheWindow() async throws {
        let cluster = try await SharedCluster(hosts: 1, limit: Self.budget) {
            SharedOutageTests.fast(&$0)
            $0.outage = .localShare
            $0.localSharePercent = 10
        } teams: {
            $0.limits = RateLimits(requestsPerMinute: 1_000)
        }
        let host = cluster.hosts[0]
        #expect(await SharedCluster.call(host, amount: Self.amount) == .charged(Self.amount))
        await host.accountant.shared?.drain()
        cluster.redis.stop()
        let (charged, refusal) = await SharedOutageTests.callUntilRefused(host, amount: Self.amount)
        #expect(charged + 1 == 100, "10 % of 1 000 in the window: \(charged + 1)")
        #expect(refusal == .refused(.rateLimit))
        await cluster.close()
    }
}
