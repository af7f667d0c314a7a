import FlashgateCore
import FlashgateStorage
import FlashgateTesting
import Foundation
import Logging
import Synchronization

@testable import FlashgateAccounting

/// Several in-process Flashgate hosts for shared-budget tests: each its own accountant and real
/// LMDB ledger, all on one real Redis and one manual clock (heartbeats and reconnect backoff only
/// move when a test advances it).
struct SharedCluster {
    struct Host {
        var id: String
        var accountant: Accountant
        var ledger: Ledger
        var directory: TempDirectory
    }

    static let team = "search"
    static let caller = Caller(team: team)

    /// The hosts' wall clock (Unix ms): it picks budget periods and rate-limit windows, and only
    /// moves when a test moves it.
    final class Wall: Sendable {
        let ms = Atomic<Int64>(1_800_000_000_000)
        func advance(byMs delta: Int64) { ms.add(delta, ordering: .relaxed) }
        var now: Int64 { ms.load(ordering: .relaxed) }
    }

    /// How far the test moved Redis's clock, as every host's lease script sees it (it adds this
    /// to Redis's `TIME`): leases expire when a test says so, not in real time.
    final class RedisClock: Sendable {
        let offsetMs = Atomic<Int64>(0)
        func advance(by duration: Duration) {
            let (seconds, attoseconds) = duration.components
            offsetMs.add(seconds * 1000 + attoseconds / 1_000_000_000_000_000, ordering: .relaxed)
        }
        var offset: Int64 { offsetMs.load(ordering: .relaxed) }
    }

    let redis: RedisServer
    let clock = ManualRetryClock()
    let wall = Wall()
    let redisClock = RedisClock()
    var hosts: [Host] = []

    static func config(
        redis: RedisServer, host: String, limit: MicroUSD, configure: (inout SharedConfig) -> Void = { _ in },
        teams: (inout TeamConfig) -> Void = { _ in }
    ) -> FlashgateConfig {
        var config = FlashgateConfig(routes: [])
        var team = TeamConfig(id: Self.team)
        team.budgets = [BudgetConfig(period: .month, limit: limit, mode: .hard)]
        teams(&team)
        config.teams = [team]
        var shared = SharedConfig(address: redis.address, hostID: host)
        shared.minChunk = MicroUSD(1_000)
        // A loaded test machine must not look like a Redis outage: a round trip that took longer
        // than the default 250 ms once refused a call with `budget_unavailable` mid-test. The
        // outages these tests make are a stopped server, which fails at once.
        shared.connectTimeout = .seconds(5)
        shared.commandTimeout = .seconds(5)
        configure(&shared)
        config.shared = shared
        return config
    }

    init(
        hosts count: Int, limit: MicroUSD, configure: (inout SharedConfig) -> Void = { _ in },
        teams: (inout TeamConfig) -> Void = { _ in }
    ) async throws {
        redis = try await RedisServer.started()
        for i in 0..<count {
            hosts.append(
                try start(
                    "host-\(i)", limit: limit, directory: try TempDirectory(prefix: "fgh"), configure: configure,
                    teams: teams))
        }
    }

    func start(
        _ id: String, limit: MicroUSD, directory: TempDirectory, configure: (inout SharedConfig) -> Void = { _ in },
        teams: (inout TeamConfig) -> Void = { _ in }
    ) throws -> Host {
        var logger = Logger(label: "shared-test")
        logger.logLevel = .critical
        let ledger = try Ledger.open(directory: directory.path, maxSizeBytes: 64 << 20)
        let accountant = Accountant(
            config: Self.config(redis: redis, host: id, limit: limit, configure: configure, teams: teams),
            ledger: ledger,
            logger: logger, nowMilliseconds: { [wall] in wall.now }, clock: clock,
            redisClockOffsetMs: { [redisClock] in redisClock.offset })
        try accountant.start()
        return Host(id: id, accountant: accountant, ledger: ledger, directory: directory)
    }

    /// How one call went.
    enum Outcome: Equatable {
        case charged(MicroUSD)
        case refused(Rejection.Limit)
    }

    /// One paid call on `host` reserving and charged `amount`, the way the pipeline runs it.
    static func call(_ host: Host, amount: MicroUSD, tokens: Int = 10) async -> Outcome {
        let decision = host.accountant.admit(
            caller: caller, clientModel: "m", upstreamModel: "m", route: "r", amount: amount, tokens: tokens)
        guard case .admit(let admission) = decision else {
            if case .reject(let rejection) = decision { return .refused(rejection.limit) }
            return .refused(.budget)
        }
        return await complete(host, admission, amount: amount)
    }

    /// The rest of a paid call admitted on `host`: waits for what admission left pending (lease
    /// and rate grants), then charges `amount`.
    static func complete(_ host: Host, _ admission: Accountant.Admission, amount: MicroUSD) async -> Outcome {
        var admission = admission
        do {
            try await host.accountant.persist(&admission)
        } catch let rejection as Rejection {
            host.accountant.release(admission)
            return .refused(rejection.limit)
        } catch {
            host.accountant.release(admission)
            return .refused(.ledgerBusy)
        }
        await host.accountant.settle(admission, usage: nil, ending: .incomplete, cacheStatus: "miss")
        return .charged(amount)
    }

    /// The budget's Redis hash, field by field.
    func redisFields() throws -> [String: Int64] {
        let key = hosts[0].accountant.budgets.all(now: hosts[0].accountant.now)[0].key
        guard case .array(let items) = try redis.command(["HGETALL", "flashgate:budget:{\(key)}"]) else { return [:] }
        var fields: [String: Int64] = [:]
        for i in stride(from: 0, to: items.count - 1, by: 2) {
            if let name = items[i].text, let value = items[i + 1].integer { fields[name] = value }
        }
        return fields
    }

    /// Σ c over every host in Redis: what the cluster may have spent at most.
    func redisCapSum() throws -> Int64 {
        try redisFields().filter { $0.key.hasPrefix("c:") }.values.reduce(0, +)
    }

    /// Settled spend per host, from each host's budgets (what its ledger is being told).
    func settledPerHost() -> [MicroUSD] {
        hosts.map { host in
            let key = host.accountant.budgets.all(now: host.accountant.now)[0].key
            return host.accountant.budgets.settled([key])[0]
        }
    }

    func close() async {
        for host in hosts {
            await host.accountant.shared?.drain()
            host.accountant.shared?.close()
            host.ledger.close()
            host.directory.remove()
        }
        redis.remove()
    }
}
