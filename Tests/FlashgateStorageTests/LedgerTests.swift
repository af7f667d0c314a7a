import FlashgateCore
import Foundation
import Testing

@testable import FlashgateStorage

@Suite struct LedgerTests {
    let tmp = TemporaryDirectory("ledger")

    func open() throws -> Ledger { try Ledger.open(directory: tmp.path, maxSizeBytes: 64 << 20) }

    static let day = Int64(1_795_000_000_000)  // 2026-11-18T..Z

    func reservation(_ id: UInt64, _ amount: Int64, team: String = "search", key: String = "ci", timeMs: Int64 = day)
        -> ReservationRecord
    {
        ReservationRecord(
            id: id, timeMs: timeMs, team: team, key: key, model: "gemini-3.5-flash", route: "studio",
            amount: MicroUSD(amount), budgetKeys: ["team:\(team)|total", "key:\(key)|total"])
    }

    func settlement(
        _ id: UInt64?, _ cost: Int64, team: String = "search", key: String = "ci", model: String = "gemini-3.5-flash",
        timeMs: Int64 = day, cacheStatus: String = "miss"
    ) -> SettlementRecord {
        SettlementRecord(
            reservationID: id, timeMs: timeMs, team: team, key: key, model: model, route: "studio", promptTokens: 100,
            cachedTokens: 10, outputTokens: 20, thoughtsTokens: 5, searchQueries: 1, cost: MicroUSD(cost),
            cacheStatus: cacheStatus, outcome: "ok", budgetKeys: ["team:\(team)|total", "key:\(key)|total"])
    }

    @Test func reserveThenSettle() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let id = ledger.nextReservationID()
        let r = reservation(id, 5_000)
        try await ledger.reserve(r)
        #expect(try ledger.openReservations() == [r])
        let applied = try await ledger.settle(settlement(id, 1_234))
        #expect(applied)
        #expect(try ledger.openReservations().isEmpty)
        #expect(try ledger.isSettled(id))
        #expect(try ledger.requestRows() == [settlement(id, 1_234)])
        #expect(ledger.total("team:search|total") == MicroUSD(1_234))
        #expect(ledger.total("key:ci|total") == MicroUSD(1_234))
        #expect(ledger.total("team:other|total") == .zero)
    }

    @Test func totalsPerBudgetKey() async throws {
        let ledger = try open()
        defer { ledger.close() }
        try await ledger.settle(settlement(ledger.nextReservationID(), 100, team: "a", key: "k1"))
        try await ledger.settle(settlement(ledger.nextReservationID(), 200, team: "a", key: "k2"))
        try await ledger.settle(settlement(ledger.nextReservationID(), 400, team: "b", key: "k1"))
        #expect(ledger.totals(prefix: "team:") == ["team:a|total": MicroUSD(300), "team:b|total": MicroUSD(400)])
        #expect(ledger.totals(prefix: "key:k1") == ["key:k1|total": MicroUSD(500)])
        #expect(ledger.totals(prefix: "").count == 4)
    }

    @Test func settlingTwiceIsANoOp() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let id = ledger.nextReservationID()
        try await ledger.reserve(reservation(id, 5_000))
        let first = try await ledger.settle(settlement(id, 700))
        let second = try await ledger.settle(settlement(id, 900))
        #expect(first && !second)
        #expect(try ledger.requestRows().count == 1)
        #expect(ledger.total("team:search|total") == MicroUSD(700))
        // Nor may a settled id be reserved again.
        await #expect(throws: LedgerError.self) { try await ledger.reserve(reservation(id, 1)) }
        #expect(try ledger.openReservations().isEmpty)
    }

    @Test func settlingTwiceInOneBatchIsANoOp() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let id = ledger.nextReservationID()
        try await ledger.reserve(reservation(id, 5_000))
        let applied = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 { group.addTask { try await ledger.settle(settlement(id, 700)) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(applied == 1)
        #expect(ledger.total("team:search|total") == MicroUSD(700))
    }

    @Test func cacheHitSettlesWithoutReservation() async throws {
        let ledger = try open()
        defer { ledger.close() }
        try await ledger.settle(settlement(nil, 0, cacheStatus: "hit"))
        try await ledger.settle(settlement(nil, 0, cacheStatus: "hit"))
        let rows = try ledger.requestRows()
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0.reservationID == nil && $0.cost == .zero })
        #expect(ledger.total("team:search|total") == .zero)
        let usage = try ledger.usage(from: nil, to: nil, team: nil, key: nil, model: nil)
        #expect(usage.count == 1 && usage[0].cacheHits == 2 && usage[0].requests == 2)
    }

    @Test func openReservationsSurviveReopenAndRecoverOnce() async throws {
        var ids: [UInt64] = []
        do {
            let ledger = try open()
            for amount in [1_000, 2_000, 3_000] as [Int64] {
                let id = ledger.nextReservationID()
                ids.append(id)
                try await ledger.reserve(reservation(id, amount))
            }
            try await ledger.settle(settlement(ids[0], 400))
            ledger.close()
        }
        let ledger = try open()
        defer { ledger.close() }
        #expect(try ledger.openReservations().map(\.id) == [ids[1], ids[2]])
        let recovered = try ledger.recoverOpenReservations(nowMs: Self.day + 1)
        #expect(recovered.map(\.reservationID) == [ids[1], ids[2]])
        #expect(recovered.map(\.cost) == [MicroUSD(2_000), MicroUSD(3_000)])
        #expect(recovered.allSatisfy { $0.outcome == "recovered" })
        #expect(try ledger.openReservations().isEmpty)
        #expect(try ledger.recoverOpenReservations(nowMs: Self.day + 2).isEmpty)
        #expect(ledger.total("team:search|total") == MicroUSD(5_400))
        #expect(try ledger.requestRows().count == 3)
        // A late settlement of a recovered reservation changes nothing.
        let late = try await ledger.settle(settlement(ids[1], 1))
        #expect(!late)
        #expect(ledger.total("team:search|total") == MicroUSD(5_400))
    }

    @Test func idsStayUniqueAcrossReopen() async throws {
        var seen = Set<UInt64>()
        for round in 0..<3 {
            let ledger = try open()
            for i in 0..<5 {
                let id = ledger.nextReservationID()
                #expect(seen.insert(id).inserted)
                if i == 0 { try await ledger.reserve(reservation(id, 1)) }
            }
            if round == 1 {
                // Ids handed out but never written are not reused either after a clean close.
                _ = ledger.nextReservationID()
            }
            ledger.close()
        }
        let ledger = try open()
        defer { ledger.close() }
        #expect(ledger.nextReservationID() > seen.max()!)
    }

    @Test func usageAggregatesByTeamKeyModelAndDay() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let dayMs: Int64 = 86_400_000
        let d0 = (Self.day / dayMs) * dayMs
        try await ledger.settle(settlement(ledger.nextReservationID(), 100, team: "a", key: "k1", timeMs: d0 + 5))
        try await ledger.settle(settlement(ledger.nextReservationID(), 200, team: "a", key: "k1", timeMs: d0 + dayMs - 1))
        try await ledger.settle(settlement(ledger.nextReservationID(), 300, team: "a", key: "k1", timeMs: d0 + dayMs))
        try await ledger.settle(
            settlement(ledger.nextReservationID(), 400, team: "a", key: "k1", model: "pro", timeMs: d0 + 10))
        try await ledger.settle(settlement(ledger.nextReservationID(), 500, team: "b", key: "k2", timeMs: d0 + 20))
        try await ledger.settle(settlement(nil, 0, team: "a", key: "k1", timeMs: d0 + 30, cacheStatus: "hit"))

        let all = try ledger.usage(from: nil, to: nil, team: nil, key: nil, model: nil)
        let day0 = Ledger.utcDay(d0)
        let day1 = Ledger.utcDay(d0 + dayMs)
        #expect(day0 == "2026-11-18" && day1 == "2026-11-19")
        #expect(all.map { "\($0.day) \($0.team) \($0.key) \($0.model)" } == [
            "\(day0) a k1 gemini-3.5-flash", "\(day0) a k1 pro", "\(day0) b k2 gemini-3.5-flash",
            "\(day1) a k1 gemini-3.5-flash",
        ])
        let first = all[0]
        #expect(first.requests == 3 && first.cost == MicroUSD(300) && first.cacheHits == 1)
        #expect(first.promptTokens == 300 && first.cachedTokens == 30 && first.outputTokens == 60)
        #expect(first.thoughtsTokens == 15 && first.searchQueries == 3)

        let teamB = try ledger.usage(from: nil, to: nil, team: "b", key: nil, model: nil)
        #expect(teamB.map(\.cost) == [MicroUSD(500)])
        let pro = try ledger.usage(from: nil, to: nil, team: nil, key: "k1", model: "pro")
        #expect(pro.map(\.cost) == [MicroUSD(400)])
        let secondDay = try ledger.usage(from: d0 + dayMs, to: nil, team: nil, key: nil, model: nil)
        #expect(secondDay.map(\.cost) == [MicroUSD(300)])
        let firstDay = try ledger.usage(from: d0, to: d0 + dayMs, team: "a", key: nil, model: nil)
        #expect(firstDay.map(\.cost) == [MicroUSD(300), MicroUSD(400)])
    }

    @Test func utcDays() {
        #expect(Ledger.utcDay(0) == "1970-01-01")
        #expect(Ledger.utcDay(-1) == "1969-12-31")
        #expect(Ledger.utcDay(951_782_400_000) == "2000-02-29")
        #expect(Ledger.utcDay(1_795_996_800_000 - 1) == "2026-11-29")
    }

    @Test func concurrentReserveAndSettle() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let costs = try await withThrowingTaskGroup(of: (UInt64, Int64).self) { group in
            for i in 0..<64 {
                group.addTask {
                    let id = ledger.nextReservationID()
                    try await ledger.reserve(reservation(id, 10_000, key: "k\(i % 4)"))
                    let cost = Int64(100 + i * 7)
                    try await ledger.settle(settlement(id, cost, key: "k\(i % 4)"))
                    return (id, cost)
                }
            }
            return try await group.reduce(into: [UInt64: Int64]()) { $0[$1.0] = $1.1 }
        }
        #expect(costs.count == 64)
        #expect(ledger.total("team:search|total") == MicroUSD(costs.values.reduce(0, +)))
        let perKey = ledger.totals(prefix: "key:")
        #expect(perKey.values.reduce(.zero, +) == MicroUSD(costs.values.reduce(0, +)))
        let rows = try ledger.requestRows()
        #expect(Dictionary(uniqueKeysWithValues: rows.map { ($0.reservationID!, $0.cost.value) }) == costs)
        #expect(try ledger.openReservations().isEmpty)
    }

    /// 200 concurrent settles share commits; the same 200 awaited one by one take one commit
    /// each. Prints both rates, measured in this one run.
    @Test func groupCommitBatches() async throws {
        let ledger = try open()
        defer { ledger.close() }
        let n = 200
        let before = ledger.commitCounts.commits
        let clock = ContinuousClock()
        let concurrent = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<n {
                    group.addTask { try await ledger.settle(settlement(ledger.nextReservationID(), 1)) }
                }
                try await group.waitForAll()
            }
        }
        let batchedCommits = ledger.commitCounts.commits - before
        let mid = ledger.commitCounts.commits
        let sequential = try await clock.measure {
            for _ in 0..<n { try await ledger.settle(settlement(ledger.nextReservationID(), 1)) }
        }
        let sequentialCommits = ledger.commitCounts.commits - mid
        #expect(batchedCommits < n / 4, "group commit used \(batchedCommits) commits for \(n) settles")
        #expect(sequentialCommits == n)
        #expect(ledger.total("team:search|total") == MicroUSD(Int64(2 * n)))
        func rate(_ d: Duration) -> Double { Double(n) / (Double(d.components.attoseconds) / 1e18 + Double(d.components.seconds)) }
        print(
            "ledger group commit: \(n) concurrent settles in \(batchedCommits) commits, \(Int(rate(concurrent)))/s; "
                + "one commit each: \(Int(rate(sequential)))/s; ratio \(String(format: "%.1f", rate(concurrent) / rate(sequential)))x"
        )
    }

    @Test func closedLedgerRefusesWrites() async throws {
        let ledger = try open()
        ledger.close()
        ledger.close()
        await #expect(throws: LedgerError.self) { try await ledger.settle(settlement(nil, 1)) }
    }

    @Test func openFailureNamesThePath() throws {
        let file = tmp.path + "-file"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect {
            try Ledger.open(directory: file, maxSizeBytes: 1 << 20)
        } throws: { error in
            (error as? LedgerError)?.reason == .open && "\(error)".contains(file)
        }
    }

    @Test func attemptsAndTierRoundTripAndOlderRowsStillDecode() throws {
        var row = settlement(7, 900)
        row.attempts = ["r0:503:12ms", "r1:ok:340ms:hedge"]
        row.serviceTier = "flex"
        let encoded = LedgerCodec.encode(row)
        #expect(encoded.first == 3)
        let decoded = try encoded.withUnsafeBytes { try LedgerCodec.decodeSettlement($0) }
        #expect(decoded == row)
        // A version-2 row (written before tiers existed): the same fields without the tier.
        var two = LedgerCodec.encode(settlement(7, 900))
        two[0] = 2
        two.removeLast(8)  // the empty tier string's length
        let beforeTiers = try two.withUnsafeBytes { try LedgerCodec.decodeSettlement($0) }
        #expect(beforeTiers == settlement(7, 900) && beforeTiers.serviceTier.isEmpty)
        // A version-1 row (written before attempts existed): the same fields without the list.
        var old = LedgerCodec.encode(settlement(7, 900))
        old[0] = 1
        old.removeLast(16)  // the empty tier's length and the empty attempts list's count
        let legacy = try old.withUnsafeBytes { try LedgerCodec.decodeSettlement($0) }
        #expect(legacy == settlement(7, 900))
        #expect(legacy.attempts.isEmpty)
    }

}
